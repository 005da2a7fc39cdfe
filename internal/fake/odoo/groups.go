package odoo

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// SetGroups puts a user in groups, given by xml id (replacing the ones it
// was in), for res.users has_group and has_groups.
func (s *Server) SetGroups(uid int, groups ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.models["res.users"][uid]; u != nil {
		u["groups"] = toAny(groups)
	}
}

// inGroup reports whether a res.users record is in a group, by xml id (the
// fake keeps a user's groups as the list of xml ids in its "groups").
func inGroup(user Record, group string) bool {
	groups, _ := user["groups"].([]any)
	return slices.Contains(groups, any(group))
}

// hasGroups is res.users.has_groups(group_spec): comma-separated xml ids,
// "!" before those the user must not be in; true when the user is in none
// of those and in one of the others (or there are no others).
func hasGroups(user Record, spec string) bool {
	if spec == "." {
		return false
	}
	var positives []string
	for _, g := range strings.Split(spec, ",") {
		g = strings.TrimSpace(g)
		if neg, ok := strings.CutPrefix(g, "!"); ok {
			if inGroup(user, neg) {
				return false
			}
			continue
		}
		positives = append(positives, g)
	}
	for _, g := range positives {
		if inGroup(user, g) {
			return true
		}
	}
	return len(positives) == 0
}

// pyIDs writes record ids as a recordset's repr does: (), (2,), (2, 3).
func pyIDs(ids []int) string {
	if len(ids) == 1 {
		return fmt.Sprintf("(%d,)", ids[0])
	}
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprint(id)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// metadata answers get_metadata: who made and last changed each record,
// and when (lock held). Every record of the fake was made by the admin.
func (s *Server) metadata(model string, ids []int) []any {
	admin := []any{AdminUID, s.models["res.users"][AdminUID]["name"]}
	out := []any{}
	for _, id := range ids {
		r := s.models[model][id]
		if r == nil {
			continue
		}
		out = append(out, map[string]any{"id": id, "create_uid": admin, "create_date": r["create_date"], "write_uid": admin,
			"write_date": r["write_date"], "xmlid": false, "noupdate": false, "xmlids": []any{}})
	}
	return out
}

// readGroup answers read_group(domain, fields, groupby, offset, limit,
// orderby, lazy) as Odoo 18 and 19 did (recorded in internal/connector/
// odoo/testdata: by a boolean, by a many2one, by two fields not lazily,
// summing an integer, a page of groups): one row per value of the first
// groupby field (lazy, the default) or of all of them, holding the value (a
// many2one as [id, name]), the count ("<field>_count" lazily, else
// "__count"), the sums of the numeric fields asked for, and "__domain": the
// call's domain and'ed with the group's condition. Groups come in the order
// of their values, an empty one last (lock held).
func (s *Server) readGroup(model string, p map[string]any) (any, *Error) {
	var groupby []string
	switch g := p["groupby"].(type) {
	case string:
		groupby = []string{g}
	case []any:
		for _, x := range g {
			if f, ok := x.(string); ok {
				groupby = append(groupby, f)
			}
		}
	}
	if len(groupby) == 0 {
		return nil, &Error{Name: "builtins.ValueError", Message: "read_group() needs at least one groupby field"}
	}
	lazy := p["lazy"] != false
	if lazy {
		groupby = groupby[:1]
	}
	if e := s.checkFields(model, toAny(groupby)); e != nil {
		return nil, e
	}
	found, e := s.search(model, p["domain"], map[string]any{})
	if e != nil {
		return nil, e
	}
	defs := s.fieldDefs(model)
	var sums []string
	if fl, ok := p["fields"].([]any); ok {
		for _, x := range fl {
			f, _ := x.(string)
			f, _, _ = strings.Cut(f, ":")
			if d := defs[f]; (d.Type == "integer" || d.Type == "float" || d.Type == "monetary") && !slices.Contains(groupby, f) {
				sums = append(sums, f)
			}
		}
	}
	type group struct {
		raw  []any // the groupby fields' stored values
		rows []Record
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, id := range found {
		r := s.models[model][id]
		raw := make([]any, len(groupby))
		for i, f := range groupby {
			raw[i] = r[f]
			if raw[i] == nil {
				raw[i] = false
			}
		}
		k := fmt.Sprint(raw...)
		if byKey[k] == nil {
			byKey[k] = &group{raw: raw}
			groups = append(groups, byKey[k])
		}
		byKey[k].rows = append(byKey[k].rows, r)
	}
	sort.SliceStable(groups, func(i, j int) bool {
		return fmt.Sprint(groups[i].raw...) < fmt.Sprint(groups[j].raw...)
	})
	out := []any{}
	for _, g := range groups {
		row := map[string]any{}
		var conds []any
		for i, f := range groupby {
			row[f] = g.raw[i]
			cond := g.raw[i]
			if m2o, ok := g.raw[i].([]any); ok && len(m2o) == 2 { // stored as [id, name]
				cond = m2o[0]
			} else if defs[f].Type == "many2one" && g.raw[i] != false {
				row[f] = s.m2o(model, f, g.raw[i])
			}
			conds = append(conds, []any{f, "=", cond})
		}
		if lazy {
			row[groupby[0]+"_count"] = len(g.rows)
		} else {
			row["__count"] = len(g.rows)
		}
		for _, f := range sums {
			var total float64
			for _, r := range g.rows {
				switch v := r[f].(type) {
				case float64:
					total += v
				case int:
					total += float64(v)
				}
			}
			row[f] = total
		}
		dom, _ := p["domain"].([]any)
		row["__domain"] = andDomains(dom, conds)
		out = append(out, row)
	}
	if off, ok := p["offset"].(float64); ok && int(off) < len(out) {
		out = out[int(off):]
	}
	if lim, ok := p["limit"].(float64); ok && lim > 0 && int(lim) < len(out) {
		out = out[:int(lim)]
	}
	return out, nil
}

// andDomains and's a domain with leaves as Odoo's expression.AND does:
// each operand normalized (implicit "&" made explicit), an empty domain
// left out, one "&" for each operand past the first.
func andDomains(domain []any, leaves []any) []any {
	var operands [][]any
	if len(domain) > 0 {
		operands = append(operands, normalizeDomain(domain))
	}
	for _, l := range leaves {
		operands = append(operands, []any{l})
	}
	var out []any
	for i := 1; i < len(operands); i++ {
		out = append(out, "&")
	}
	for _, o := range operands {
		out = append(out, o...)
	}
	return out
}

// normalizeDomain makes a domain's implicit "&" between terms explicit.
func normalizeDomain(domain []any) []any {
	var out []any
	expected := 1
	for _, t := range domain {
		if expected == 0 {
			out = append([]any{"&"}, out...)
			expected = 1
		}
		switch t {
		case "&", "|":
			expected++
		case "!":
		default:
			expected--
		}
		out = append(out, t)
	}
	return out
}

func toAny(l []string) []any {
	out := make([]any, len(l))
	for i, x := range l {
		out[i] = x
	}
	return out
}
