package odoo

import "fmt"

// Method is a custom ORM method of the fake: it gets the model's records
// (under the server's lock), the positional and keyword arguments.
type Method func(recs map[int]Record, args []any, kw map[string]any) (any, *Error)

// SetMethod installs a custom method on a model (creating the model).
func (s *Server) SetMethod(model, name string, m Method) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.models[model] == nil {
		s.models[model] = map[int]Record{}
		s.nextID[model] = 1
	}
	if s.methods == nil {
		s.methods = map[string]Method{}
	}
	s.methods[model+" "+name] = m
}

// EnablePurchase adds purchase.order with Odoo's approval methods
// (button_approve: any state → "purchase"; button_cancel → "cancel") and
// res.users.has_group(group) backed by each user's "groups" list of xml ids.
func (s *Server) EnablePurchase() {
	transition := func(to string, from ...string) Method {
		return func(recs map[int]Record, args []any, _ map[string]any) (any, *Error) {
			if len(args) == 0 {
				return nil, &Error{Name: "builtins.TypeError", Message: "missing ids"}
			}
			ids, e := toIDs(args[0])
			if e != nil {
				return nil, e
			}
			for _, id := range ids {
				r := recs[id]
				if r == nil {
					return nil, &Error{Name: "odoo.exceptions.MissingError", Message: fmt.Sprintf("Record does not exist or has been deleted.\n(Record: purchase.order(%d,), User: 2)", id)}
				}
				ok := len(from) == 0
				for _, f := range from {
					ok = ok || r["state"] == f
				}
				if !ok {
					return nil, &Error{Name: "odoo.exceptions.UserError", Message: fmt.Sprintf("Order %v is in state %v and cannot be changed that way.", r["name"], r["state"])}
				}
				r["state"] = to
			}
			return true, nil
		}
	}
	// Odoo 18's button_approve and button_cancel check no state: approve
	// moves even a cancelled order to purchase (purchase_order.py).
	s.SetMethod("purchase.order", "button_approve", transition("purchase"))
	s.SetMethod("purchase.order", "button_cancel", transition("cancel"))
	s.SetMethod("res.users", "has_group", func(recs map[int]Record, args []any, _ map[string]any) (any, *Error) {
		if len(args) < 2 {
			return nil, &Error{Name: "builtins.TypeError", Message: "has_group() missing 1 required positional argument: 'group_ext_id'"}
		}
		ids, e := toIDs(args[0])
		if e != nil || len(ids) != 1 || recs[ids[0]] == nil {
			return nil, &Error{Name: "builtins.ValueError", Message: "Expected singleton: res.users()"}
		}
		groups, _ := recs[ids[0]]["groups"].([]any)
		for _, g := range groups {
			if g == args[1] {
				return true, nil
			}
		}
		return false, nil
	})
}
