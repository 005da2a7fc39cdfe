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

// EnablePurchase adds purchase.order with Odoo 18's approval methods, as
// the real ones behave (purchase/models/purchase_order.py): button_approve
// moves the orders to "purchase" whatever their state (it has no state
// guard) and returns {}; button_cancel moves them to "cancel" and returns
// None (no "result" in the JSON-RPC answer, null on JSON-2) — as a real
// Odoo 18 and 19 did (internal/connector/odoo/testdata, "button_approve on
// a cancelled order").
func (s *Server) EnablePurchase() {
	transition := func(to string, result any) Method {
		return func(recs map[int]Record, args []any, _ map[string]any) (any, *Error) {
			if len(args) == 0 {
				return nil, s.noIDs()
			}
			ids, e := toIDs(args[0])
			if e != nil {
				return nil, e
			}
			for _, id := range ids {
				if recs[id] == nil {
					return nil, &Error{Name: "odoo.exceptions.MissingError", Message: fmt.Sprintf("Record does not exist or has been deleted.\n(Record: purchase.order(%d,), User: 2)", id)}
				}
			}
			for _, id := range ids {
				recs[id]["state"] = to
			}
			return result, nil
		}
	}
	s.SetMethod("purchase.order", "button_approve", transition("purchase", map[string]any{}))
	s.SetMethod("purchase.order", "button_cancel", transition("cancel", nil))
}
