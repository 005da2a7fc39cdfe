package odoo

import (
	"fmt"
	"strings"
)

// FieldDef declares one field of a model as fields_get describes it.
type FieldDef struct {
	Type     string // char, html, binary, many2one, one2many, many2many, …
	Relation string // comodel of relational fields
	Store    bool   // false for non-stored computed fields
	String   string // the label ("" = one made from the name)
	Default  any    // what default_get answers for it (nil = no default)
	Until    int    // the last major version that has it (0 = every one)
}

// Seeded schemas: the res.partner fields of a real Odoo 18 and 19 with
// the mail and account apps, their labels, types, relations and defaults as
// fields_get and default_get answered (testdata/odoo18.json, odoo19.json
// of internal/connector/odoo: "fields_get positional", "default_get
// positional"); none is required. Odoo 19 has no mobile. A model with a
// schema refuses unknown field names as the real one does (ValueError
// "Invalid field 'x' on model 'y'"); models without one accept any name and
// read it as false.
var seedSchemas = map[string]map[string]FieldDef{
	"res.partner": {
		"name":          {Type: "char", Store: true, String: "Name"},
		"display_name":  {Type: "char", String: "Display Name"},
		"email":         {Type: "char", Store: true, String: "Email"},
		"phone":         {Type: "char", Store: true, String: "Phone"},
		"mobile":        {Type: "char", Store: true, String: "Mobile", Until: 18},
		"is_company":    {Type: "boolean", Store: true, String: "Is a Company", Default: false},
		"customer_rank": {Type: "integer", Store: true, String: "Customer Rank", Default: 0},
		"supplier_rank": {Type: "integer", Store: true, String: "Supplier Rank", Default: 0},
		"active":        {Type: "boolean", Store: true, String: "Active", Default: true},
		"street":        {Type: "char", Store: true, String: "Street"},
		"city":          {Type: "char", Store: true, String: "City"},
		"zip":           {Type: "char", Store: true, String: "Zip"},
		"vat":           {Type: "char", Store: true, String: "Tax ID"},
		"website":       {Type: "char", Store: true, String: "Website Link"},
		"ref":           {Type: "char", Store: true, String: "Reference"},
		"lang":          {Type: "selection", Store: true, String: "Language", Default: "en_US"},
		"function":      {Type: "char", Store: true, String: "Job Position"},
		"company_type":  {Type: "selection", String: "Company Type"},
		"type":          {Type: "selection", Store: true, String: "Address Type", Default: "contact"},
		"country_id":    {Type: "many2one", Relation: "res.country", Store: true, String: "Country"},
		"parent_id":     {Type: "many2one", Relation: "res.partner", Store: true, String: "Related Company"},
		"user_id":       {Type: "many2one", Relation: "res.users", Store: true, String: "Salesperson"},
		"company_id":    {Type: "many2one", Relation: "res.company", Store: true, String: "Company"},
		"child_ids":     {Type: "one2many", Relation: "res.partner", Store: true, String: "Contact"},
		"category_id":   {Type: "many2many", Relation: "res.partner.category", Store: true, String: "Tags", Default: []any{[]any{6, 0, []any{}}}},
		"message_ids":   {Type: "one2many", Relation: "mail.message", Store: true, String: "Messages"},
		"comment":       {Type: "html", Store: true, String: "Notes"},
		"image_1920":    {Type: "binary", Store: true, String: "Image"},
		"image_128":     {Type: "binary", Store: true, String: "Image 128"},
		"avatar_128":    {Type: "binary", String: "Avatar 128"},
		"create_date":   {Type: "datetime", Store: true, String: "Created on"},
		"write_date":    {Type: "datetime", Store: true, String: "Last Updated on"},
	},
}

// SetSchema declares a model's fields (creating the model); from then on
// unknown field names are refused on it.
func (s *Server) SetSchema(model string, fields map[string]FieldDef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.models[model] == nil {
		s.models[model] = map[int]Record{}
		s.nextID[model] = 1
	}
	s.schemas[model] = fields
}

// fieldDefs returns a model's fields: the declared ones and those its
// records hold (lock held).
func (s *Server) fieldDefs(model string) map[string]FieldDef {
	out := map[string]FieldDef{"id": {Type: "integer", Store: true}, "display_name": {Type: "char"}}
	for _, r := range s.models[model] {
		for k, v := range r {
			if _, ok := out[k]; !ok || k == "display_name" {
				out[k] = FieldDef{Type: fieldType(k, v), Store: k != "display_name"}
			}
		}
	}
	for f, rel := range s.auto.relations[model] {
		out[f] = FieldDef{Type: "many2one", Relation: rel, Store: true}
	}
	for k, d := range s.schemas[model] {
		if d.Until != 0 && s.major() > d.Until {
			delete(out, k)
			continue
		}
		out[k] = d
	}
	return out
}

// checkFields refuses names a model with a schema does not have, as
// models.py's _determine_fields_to_fetch / write do (lock held).
func (s *Server) checkFields(model string, fields any) *Error {
	if s.schemas[model] == nil {
		return nil
	}
	list, _ := fields.([]any)
	if l, ok := fields.([]string); ok {
		for _, f := range l {
			list = append(list, f)
		}
	}
	defs := s.fieldDefs(model)
	for _, f := range list {
		name, _ := f.(string)
		if _, ok := defs[name]; !ok {
			// Odoo 18: "Invalid field 'x' on model 'y'"; 19: "… on 'y'" (recorded)
			on := "on model"
			if s.major() >= 19 {
				on = "on"
			}
			return &Error{Name: "builtins.ValueError", Message: fmt.Sprintf("Invalid field %s %s %s", pyRepr(name), on, pyRepr(model))}
		}
	}
	return nil
}

func pyRepr(s string) string { return "'" + strings.ReplaceAll(s, "'", "\\'") + "'" }

// fieldsGet answers fields_get(allfields, attributes) (lock held).
func (s *Server) fieldsGet(model string, allfields, attributes any) map[string]any {
	want := map[string]bool{}
	if l, ok := allfields.([]any); ok {
		for _, f := range l {
			if n, ok := f.(string); ok {
				want[n] = true
			}
		}
	}
	var attrs []string
	if l, ok := attributes.([]any); ok {
		for _, a := range l {
			if n, ok := a.(string); ok {
				attrs = append(attrs, n)
			}
		}
	}
	out := map[string]any{}
	for name, d := range s.fieldDefs(model) {
		if len(want) > 0 && !want[name] {
			continue
		}
		label := d.String
		if label == "" {
			label = fieldLabel(name)
		}
		all := map[string]any{"string": label, "type": d.Type, "required": false,
			"readonly": !d.Store || name == "id", "store": d.Store, "sortable": d.Store, "searchable": true}
		if d.Relation != "" {
			all["relation"] = d.Relation
		}
		if len(attrs) == 0 {
			out[name] = all
			continue
		}
		sel := map[string]any{}
		for _, a := range attrs {
			if v, ok := all[a]; ok {
				sel[a] = v
			}
		}
		out[name] = sel
	}
	return out
}

func fieldLabel(name string) string {
	if name == "id" {
		return "ID"
	}
	w := strings.Split(strings.TrimSuffix(strings.TrimSuffix(name, "_ids"), "_id"), "_")
	if len(w[0]) > 0 {
		w[0] = strings.ToUpper(w[0][:1]) + w[0][1:]
	}
	return strings.Join(w, " ")
}

// m2o formats a stored many2one value as read() does: [id, display_name]
// of the related record, or false (lock held).
func (s *Server) m2o(model, field string, v any) any {
	d, ok := s.schemas[model][field]
	if !ok || d.Type != "many2one" {
		return v
	}
	var id int
	switch x := v.(type) {
	case float64:
		id = int(x)
	case int:
		id = x
	default:
		return v
	}
	if id == 0 {
		return false
	}
	name := fmt.Sprintf("%s,%d", d.Relation, id)
	if r := s.models[d.Relation][id]; r != nil {
		name = fmt.Sprint(r["display_name"])
	}
	return []any{id, name}
}

// defaultGet answers default_get(fields): the requested fields that have a
// default (lock held).
func (s *Server) defaultGet(model string, fields any) map[string]any {
	out := map[string]any{}
	defs := s.fieldDefs(model)
	list, _ := fields.([]any)
	for _, f := range list {
		name, _ := f.(string)
		if d, ok := defs[name]; ok && d.Default != nil {
			out[name] = d.Default
		}
	}
	return out
}
