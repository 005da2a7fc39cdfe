package odoo

import (
	"fmt"
	"sort"
	"strings"
)

// execute runs an ORM method on the in-memory models (caller holds no lock).
func (s *Server) execute(model, method string, args []any, kw map[string]any) (any, *Error) {
	defer s.flushWebhooks() // after the unlock, before the answer: Odoo posts inside the request
	s.mu.Lock()
	defer s.mu.Unlock()
	recs, ok := s.models[model]
	if !ok {
		return nil, &Error{Name: "builtins.KeyError", Message: fmt.Sprintf("'%s'", model)}
	}
	arg := func(i int) any {
		if i < len(args) {
			return args[i]
		}
		return nil
	}
	switch method {
	case "search", "search_read", "search_count":
		dom := arg(0)
		if d, ok := kw["domain"]; ok {
			dom = d
		}
		ids, e := s.search(model, dom, kw)
		if e != nil {
			return nil, e
		}
		switch method {
		case "search":
			return ids, nil
		case "search_count":
			return len(ids), nil
		}
		return s.read(model, ids, kw["fields"])
	case "read":
		ids, e := toIDs(arg(0))
		if e != nil {
			return nil, e
		}
		return s.read(model, ids, kw["fields"])
	case "create":
		switch v := arg(0).(type) {
		case map[string]any:
			return s.create(model, v), nil
		case []any:
			var ids []int
			for _, x := range v {
				m, ok := x.(map[string]any)
				if !ok {
					return nil, &Error{Name: "builtins.ValueError", Message: "create() expects dicts of values"}
				}
				ids = append(ids, s.create(model, m))
			}
			return ids, nil
		}
		return nil, &Error{Name: "builtins.ValueError", Message: "create() expects a dict of values"}
	case "write", "unlink":
		ids, e := toIDs(arg(0))
		if e != nil {
			return nil, e
		}
		for _, id := range ids {
			if recs[id] == nil {
				return nil, &Error{Name: "odoo.exceptions.MissingError", Message: "Record does not exist or has been deleted.\n(Record: " + model + fmt.Sprintf("(%d,), User: 2)", id)}
			}
		}
		vals, _ := arg(1).(map[string]any)
		if method == "write" && vals == nil {
			return nil, &Error{Name: "builtins.ValueError", Message: "write() expects a dict of values"}
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
		return true, nil
	case "fields_get":
		out := map[string]any{"id": map[string]any{"string": "ID", "type": "integer", "required": false}}
		for _, r := range recs {
			for k, v := range r {
				out[k] = map[string]any{"string": strings.ReplaceAll(k, "_", " "), "type": fieldType(k, v), "required": k == "name"}
			}
		}
		s.addRelations(model, out)
		return out, nil
	case "name_search":
		var out []any
		for _, id := range s.sortedIDs(model) {
			name, _ := recs[id]["name"].(string)
			q, _ := kw["name"].(string)
			if q == "" {
				q, _ = arg(0).(string)
			}
			if strings.Contains(strings.ToLower(name), strings.ToLower(q)) {
				out = append(out, []any{id, name})
			}
		}
		return out, nil
	}
	if m := s.methods[model+" "+method]; m != nil {
		return m(recs, args, kw)
	}
	return nil, &Error{Name: "builtins.AttributeError", Message: fmt.Sprintf("The method '%s' does not exist on the model '%s'", method, model)}
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
			out = append(out, copyRec(r))
			continue
		}
		row := Record{"id": id}
		for _, f := range want {
			v, ok := r[f]
			if !ok {
				v = false // Odoo returns False for empty fields
			}
			row[f] = v
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
