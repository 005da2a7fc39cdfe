package odoo

import (
	"fmt"
	"sort"
	"strings"
)

// sig is a method's Python signature as the fake knows it: @api.model
// methods take no ids; record methods take the ids as their first
// execute_kw argument. params name the positional parameters after self
// (Odoo 19 odoo/orm/models.py; 18 has the same order).
type sig struct {
	model    bool
	params   []string
	kwOnly   bool // keyword-only parameters (message_post)
	required int  // how many of params have no default
}

var sigs = map[string]sig{
	"search":           {model: true, params: []string{"domain", "offset", "limit", "order"}, required: 1},
	"search_read":      {model: true, params: []string{"domain", "fields", "offset", "limit", "order"}},
	"search_count":     {model: true, params: []string{"domain", "limit"}, required: 1},
	"name_search":      {model: true, params: []string{"name", "domain", "operator", "limit"}},
	"name_create":      {model: true, params: []string{"name"}, required: 1},
	"default_get":      {model: true, params: []string{"fields"}, required: 1},
	"fields_get":       {model: true, params: []string{"allfields", "attributes"}},
	"create":           {model: true, params: []string{"vals_list"}, required: 1},
	"read":             {params: []string{"fields", "load"}},
	"write":            {params: []string{"vals"}, required: 1},
	"copy":             {params: []string{"default"}},
	"unlink":           {},
	"action_archive":   {},
	"action_unarchive": {},
	"message_post":     {kwOnly: true},
	// access and group checks (res.users has_group, has_groups)
	"check_access_rights": {model: true, params: []string{"operation", "raise_exception"}, required: 1},
	"has_access":          {params: []string{"operation"}, required: 1},
	"check_access":        {params: []string{"operation"}, required: 1},
	"has_group":           {params: []string{"group_ext_id"}, required: 1},
	"has_groups":          {params: []string{"group_spec"}, required: 1},
	"read_group":          {model: true, params: []string{"domain", "fields", "groupby", "offset", "limit", "orderby", "lazy"}, required: 3},
	"search_fetch":        {model: true, params: []string{"domain", "field_names", "offset", "limit", "order"}, required: 2},
	"get_metadata":        {},
}

// privateSince are the methods a major version made private (@api.private):
// from then on an RPC call of them is an AccessError (recorded on Odoo 19:
// check_access and search_fetch; 18 runs them).
var privateSince = map[string]int{"check_access": 19, "search_fetch": 19}

// private refuses a call of a private method as Odoo does (lock held).
func (s *Server) private(model, method string) *Error {
	if v, ok := privateSince[method]; ok && s.major() >= v {
		return &Error{Name: "odoo.exceptions.AccessError", Message: fmt.Sprintf("Private methods (such as '%s.%s') cannot be called remotely.", model, method)}
	}
	return nil
}

// bind does what Python's call does with execute_kw's args and kwargs:
// positional arguments fill the named parameters in order; too many, or
// one given twice, is a TypeError.
func bind(method string, sg sig, args []any, kw map[string]any) (map[string]any, *Error) {
	out := make(map[string]any, len(kw)+len(args))
	for k, v := range kw {
		out[k] = v
	}
	if len(args) > len(sg.params) {
		return nil, &Error{Name: "builtins.TypeError", Message: fmt.Sprintf("BaseModel.%s() takes %d positional arguments but %d were given", method, len(sg.params)+1, len(args)+1)}
	}
	for i, v := range args {
		if _, dup := out[sg.params[i]]; dup {
			return nil, &Error{Name: "builtins.TypeError", Message: fmt.Sprintf("BaseModel.%s() got multiple values for argument '%s'", method, sg.params[i])}
		}
		out[sg.params[i]] = v
	}
	for _, p := range sg.params[:sg.required] {
		if _, ok := out[p]; !ok {
			// Python's call (JSON-RPC); JSON-2's signature.bind says
			// "missing a required argument: 'x'" (the handler's 422)
			return nil, &Error{Name: "builtins.TypeError", Message: fmt.Sprintf("BaseModel.%s() missing 1 required positional argument: '%s'", method, p)}
		}
	}
	for k := range out {
		if k == "context" {
			continue
		}
		known := sg.kwOnly
		for _, p := range sg.params {
			known = known || p == k
		}
		if !known && !(method == "search_read" || method == "read") { // **read_kwargs
			return nil, &Error{Name: "builtins.TypeError", Message: fmt.Sprintf("BaseModel.%s() got an unexpected keyword argument '%s'", method, k)}
		}
	}
	return out, nil
}

// execute runs an ORM method on the in-memory models (caller holds no
// lock): execute_kw's convention, args[0] being the ids of a record method.
func (s *Server) execute(model, method string, args []any, kw map[string]any) (any, *Error) {
	defer s.flushWebhooks() // after the unlock, before the answer: Odoo posts inside the request
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.models[model]; !ok {
		// odoo/service/model.py execute_cr: env.get(obj) is None
		return nil, &Error{Name: "odoo.exceptions.UserError", Message: fmt.Sprintf("Object %s doesn't exist", model), Top: "Odoo Server Error"}
	}
	if m := s.methods[model+" "+method]; m != nil {
		return m(s.models[model], args, kw)
	}
	if e := s.private(model, method); e != nil {
		return nil, e
	}
	sg, known := sigs[method]
	if !known {
		return nil, &Error{Name: "builtins.AttributeError", Message: fmt.Sprintf("The method '%s.%s' does not exist", model, method)}
	}
	var ids []int
	if !sg.model {
		if len(args) == 0 {
			return nil, s.noIDs()
		}
		var e *Error
		if ids, e = toIDs(args[0]); e != nil {
			return nil, e
		}
		args = args[1:]
	}
	p, e := bind(method, sg, args, kw)
	if e != nil {
		return nil, e
	}
	return s.run(model, method, ids, p)
}

// run executes a known method with named parameters (lock held).
func (s *Server) run(model, method string, ids []int, p map[string]any) (any, *Error) {
	recs := s.models[model]
	switch method {
	case "search", "search_read", "search_count":
		if e := s.checkFields(model, p["fields"]); e != nil {
			return nil, e
		}
		found, e := s.search(model, p["domain"], p)
		if e != nil {
			return nil, e
		}
		switch method {
		case "search":
			return found, nil
		case "search_count":
			return len(found), nil
		}
		return s.read(model, found, p["fields"])
	case "read":
		if e := s.checkFields(model, p["fields"]); e != nil {
			return nil, e
		}
		return s.read(model, ids, p["fields"])
	case "create":
		switch v := p["vals_list"].(type) {
		case map[string]any:
			return s.create(model, v), nil
		case []any:
			var out []int
			for _, x := range v {
				m, ok := x.(map[string]any)
				if !ok {
					return nil, &Error{Name: "builtins.ValueError", Message: "create() expects dicts of values"}
				}
				out = append(out, s.create(model, m))
			}
			return out, nil
		}
		return nil, &Error{Name: "builtins.ValueError", Message: "create() expects a dict of values"}
	case "copy":
		if len(ids) != 1 || recs[ids[0]] == nil {
			return nil, &Error{Name: "builtins.ValueError", Message: fmt.Sprintf("Expected singleton: %s%v", model, ids)}
		}
		vals := copyRec(recs[ids[0]])
		for _, k := range []string{"id", "create_date", "write_date", "display_name"} {
			delete(vals, k)
		}
		if n, ok := vals["name"].(string); ok {
			vals["name"] = n + " (copy)"
		}
		def, _ := p["default"].(map[string]any)
		for k, v := range def {
			vals[k] = v
		}
		return []int{s.create(model, vals)}, nil // Odoo 18 answers [id] too
	case "write", "unlink", "action_archive", "action_unarchive":
		for _, id := range ids {
			if recs[id] == nil {
				return nil, &Error{Name: "odoo.exceptions.MissingError", Message: "Record does not exist or has been deleted.\n(Record: " + model + fmt.Sprintf("(%d,), User: 2)", id)}
			}
		}
		vals, _ := p["vals"].(map[string]any)
		switch method {
		case "write":
			if vals == nil {
				return nil, &Error{Name: "builtins.ValueError", Message: "write() expects a dict of values"}
			}
			if e := s.checkFields(model, keysOf(vals)); e != nil {
				return nil, e
			}
		case "action_archive", "action_unarchive":
			vals = map[string]any{"active": method == "action_unarchive"}
		}
		now := s.now()
		ts := now.UTC().Format("2006-01-02 15:04:05")
		for _, id := range ids {
			if method == "unlink" {
				s.fire(model, id, "unlink", nil, nil)
				delete(recs, id)
				continue
			}
			old := copyRec(recs[id])
			for k, v := range vals {
				recs[id][k] = x2many(recs[id][k], v)
			}
			recs[id]["write_date"] = ts
			s.stamp(model, id, now, false)
			s.fire(model, id, "write", vals, old)
		}
		if method == "action_archive" || method == "action_unarchive" {
			return nil, nil // these return None: no "result" in the answer
		}
		return true, nil
	case "fields_get":
		return s.fieldsGet(model, p["allfields"], p["attributes"]), nil
	case "name_search":
		q, _ := p["name"].(string)
		var out []any
		for _, id := range s.sortedIDs(model) {
			name, _ := recs[id]["name"].(string)
			if strings.Contains(strings.ToLower(name), strings.ToLower(q)) {
				out = append(out, []any{id, name})
			}
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	case "name_create":
		name, _ := p["name"].(string)
		id := s.create(model, Record{"name": name})
		return []any{id, name}, nil
	case "default_get":
		return s.defaultGet(model, p["fields"]), nil
	case "check_access_rights", "has_access":
		return true, nil // the fake's user may do everything
	case "check_access":
		return nil, nil // None: it raises when access is denied
	case "has_group", "has_groups":
		if model != "res.users" {
			break
		}
		if len(ids) != 1 || recs[ids[0]] == nil {
			return nil, &Error{Name: "builtins.ValueError", Message: fmt.Sprintf("Expected singleton: res.users%s", pyIDs(ids))}
		}
		if method == "has_group" {
			g, _ := p["group_ext_id"].(string)
			return inGroup(recs[ids[0]], g), nil
		}
		spec, _ := p["group_spec"].(string)
		return hasGroups(recs[ids[0]], spec), nil
	case "search_fetch":
		return s.search(model, p["domain"], p) // the recordset, as its ids
	case "get_metadata":
		return s.metadata(model, ids), nil
	case "read_group":
		return s.readGroup(model, p)
	case "message_post":
		if len(ids) != 1 || recs[ids[0]] == nil {
			return nil, &Error{Name: "builtins.ValueError", Message: fmt.Sprintf("Expected singleton: %s%v", model, ids)}
		}
		if s.models["mail.message"] == nil {
			s.models["mail.message"] = map[int]Record{}
			s.nextID["mail.message"] = 1
		}
		body, _ := p["body"].(string)
		return s.create("mail.message", Record{"model": model, "res_id": ids[0], "body": body,
			"message_type": p["message_type"], "subtype_xmlid": p["subtype_xmlid"]}), nil
	}
	return nil, &Error{Name: "builtins.AttributeError", Message: fmt.Sprintf("The method '%s.%s' does not exist", model, method)}
}

func keysOf(m map[string]any) []any {
	out := make([]any, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func fieldType(k string, v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case float64:
		return "float"
	case int:
		return "integer"
	case []any:
		if strings.HasSuffix(k, "_id") {
			return "many2one"
		}
		return "many2many"
	}
	if strings.HasSuffix(k, "_date") {
		return "datetime"
	}
	return "char"
}

func toIDs(v any) ([]int, *Error) {
	switch x := v.(type) {
	case float64:
		return []int{int(x)}, nil
	case int:
		return []int{x}, nil
	case []int:
		return x, nil
	case []any:
		ids := make([]int, 0, len(x))
		for _, e := range x {
			f, ok := e.(float64)
			if !ok {
				return nil, &Error{Name: "builtins.ValueError", Message: fmt.Sprintf("invalid id %v", e)}
			}
			ids = append(ids, int(f))
		}
		return ids, nil
	}
	return nil, &Error{Name: "builtins.ValueError", Message: fmt.Sprintf("invalid ids %v", v)}
}

func (s *Server) read(model string, ids []int, fields any) (any, *Error) {
	var want []string
	if fl, ok := fields.([]any); ok {
		for _, f := range fl {
			if s, ok := f.(string); ok {
				want = append(want, s)
			}
		}
	}
	out := []any{}
	for _, id := range ids {
		r := s.models[model][id]
		if r == nil {
			return nil, &Error{Name: "odoo.exceptions.MissingError", Message: "Record does not exist or has been deleted."}
		}
		if want == nil {
			row := copyRec(r)
			for k, v := range row {
				row[k] = s.m2o(model, k, v)
			}
			out = append(out, row)
			continue
		}
		row := Record{"id": id}
		for _, f := range want {
			v, ok := r[f]
			if !ok {
				v = false // Odoo returns False for empty fields
			}
			row[f] = s.m2o(model, f, v) // many2one as [id, display_name]
		}
		out = append(out, row)
	}
	return out, nil
}

func (s *Server) search(model string, domain any, kw map[string]any) ([]int, *Error) {
	dom, _ := domain.([]any)
	var ids []int
	for _, id := range s.sortedIDs(model) {
		r := s.models[model][id]
		if act, ok := r["active"].(bool); ok && !act && !mentions(dom, "active") {
			continue
		}
		ok, rest, e := evalDomain(dom, r)
		if e != nil {
			return nil, e
		}
		_ = rest
		if ok {
			ids = append(ids, id)
		}
	}
	if order, _ := kw["order"].(string); order != "" {
		parts := strings.Fields(strings.Split(order, ",")[0])
		field, desc := parts[0], len(parts) > 1 && strings.EqualFold(parts[1], "desc")
		recs := s.models[model]
		sort.SliceStable(ids, func(i, j int) bool {
			a, b := fmt.Sprint(recs[ids[i]][field]), fmt.Sprint(recs[ids[j]][field])
			if fa, ok := recs[ids[i]][field].(float64); ok {
				fb, _ := recs[ids[j]][field].(float64)
				if desc {
					return fa > fb
				}
				return fa < fb
			}
			if field == "id" {
				if desc {
					return ids[i] > ids[j]
				}
				return ids[i] < ids[j]
			}
			if desc {
				return a > b
			}
			return a < b
		})
	}
	if off, ok := kw["offset"].(float64); ok && int(off) < len(ids) {
		ids = ids[int(off):]
	} else if ok {
		ids = nil
	}
	if lim, ok := kw["limit"].(float64); ok && lim > 0 && int(lim) < len(ids) {
		ids = ids[:int(lim)]
	}
	if ids == nil {
		ids = []int{}
	}
	return ids, nil
}

func mentions(dom []any, field string) bool {
	for _, t := range dom {
		if l, ok := t.([]any); ok && len(l) == 3 && l[0] == field {
			return true
		}
	}
	return false
}

// evalDomain evaluates a prefix-notation domain (implicit "&" between terms).
func evalDomain(dom []any, r Record) (bool, []any, *Error) {
	if len(dom) == 0 {
		return true, nil, nil
	}
	result := true
	for len(dom) > 0 {
		var ok bool
		var e *Error
		ok, dom, e = evalTerm(dom, r)
		if e != nil {
			return false, nil, e
		}
		result = result && ok
	}
	return result, nil, nil
}

func evalTerm(dom []any, r Record) (bool, []any, *Error) {
	switch t := dom[0].(type) {
	case string:
		switch t {
		case "&", "|":
			if len(dom) < 3 {
				return false, nil, &Error{Name: "builtins.ValueError", Message: "Invalid domain: missing operands for " + t}
			}
			a, rest, e := evalTerm(dom[1:], r)
			if e != nil {
				return false, nil, e
			}
			b, rest, e := evalTerm(rest, r)
			if e != nil {
				return false, nil, e
			}
			if t == "&" {
				return a && b, rest, nil
			}
			return a || b, rest, nil
		case "!":
			a, rest, e := evalTerm(dom[1:], r)
			return !a, rest, e
		}
	case []any:
		if len(t) == 3 {
			f, _ := t[0].(string)
			op, _ := t[1].(string)
			ok, e := compare(r, f, op, t[2])
			return ok, dom[1:], e
		}
	}
	return false, nil, &Error{Name: "builtins.ValueError", Message: fmt.Sprintf("Invalid leaf %v", dom[0])}
}

func compare(r Record, field, op string, want any) (bool, *Error) {
	got, present := r[field]
	if !present {
		got = false
	}
	if l, ok := got.([]any); ok && len(l) == 2 { // many2one [id, name]
		if _, isNum := want.(float64); isNum {
			got = l[0]
		}
	}
	if i, ok := got.(int); ok {
		got = float64(i)
	}
	switch op {
	case "=", "==":
		return fmt.Sprint(got) == fmt.Sprint(want), nil
	case "!=", "<>":
		return fmt.Sprint(got) != fmt.Sprint(want), nil
	case ">", ">=", "<", "<=":
		var c int
		if gf, ok := got.(float64); ok {
			wf, _ := want.(float64)
			switch {
			case gf < wf:
				c = -1
			case gf > wf:
				c = 1
			}
		} else {
			c = strings.Compare(fmt.Sprint(got), fmt.Sprint(want))
		}
		switch op {
		case ">":
			return c > 0, nil
		case ">=":
			return c >= 0, nil
		case "<":
			return c < 0, nil
		}
		return c <= 0, nil
	case "in", "not in":
		list, _ := want.([]any)
		in := false
		for _, w := range list {
			if fmt.Sprint(got) == fmt.Sprint(w) {
				in = true
			}
		}
		return in == (op == "in"), nil
	case "like", "ilike", "not ilike", "=like", "=ilike":
		g, w := fmt.Sprint(got), fmt.Sprint(want)
		if strings.Contains(op, "ilike") {
			g, w = strings.ToLower(g), strings.ToLower(w)
		}
		m := strings.Contains(g, strings.Trim(w, "%"))
		if op == "not ilike" {
			return !m, nil
		}
		return m, nil
	}
	return false, &Error{Name: "builtins.ValueError", Message: fmt.Sprintf("Invalid domain operator %q", op)}
}
