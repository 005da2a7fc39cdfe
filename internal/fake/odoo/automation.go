package odoo

import "sort"

// EnableAutomation adds what automation rules need, as Odoo 17/18 has it
// with base_automation installed: the models given (with their field
// names) next to the seeded ones, ir.model and ir.model.fields records
// describing every model, and empty base.automation and ir.actions.server
// models. Records created in those keep their values as sent (x2many
// commands included), so tests can check what a client installed.
func (s *Server) EnableAutomation(models map[string][]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for m := range models {
		if s.models[m] == nil {
			s.models[m] = map[int]Record{}
			s.nextID[m] = 1
		}
	}
	for _, m := range []string{"ir.model", "ir.model.fields", "base.automation", "ir.actions.server"} {
		if s.models[m] == nil {
			s.models[m] = map[int]Record{}
			s.nextID[m] = 1
		}
	}
	names := make([]string, 0, len(s.models))
	for m := range s.models {
		names = append(names, m)
	}
	sort.Strings(names)
	for _, m := range names {
		if m == "ir.model" || m == "ir.model.fields" {
			continue
		}
		fields := map[string]bool{"id": true, "display_name": true, "create_date": true, "write_date": true, "name": true}
		for _, f := range models[m] {
			fields[f] = true
		}
		for _, r := range s.models[m] {
			for k := range r {
				fields[k] = true
			}
		}
		mid := s.create("ir.model", Record{"model": m, "name": m})
		fnames := make([]string, 0, len(fields))
		for f := range fields {
			fnames = append(fnames, f)
		}
		sort.Strings(fnames)
		for _, f := range fnames {
			s.create("ir.model.fields", Record{"name": f, "model": m, "model_id": []any{mid, m}})
		}
	}
}
