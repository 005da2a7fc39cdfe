package odoo

// EnableAPIKeys adds the way Odoo's web client makes an API key
// (odoo/addons/base/models/res_users.py): res.users.apikeys.description is
// the wizard (create {name, duration}); its make_key is @check_identity, so
// without a recent identity check it creates a res.users.identitycheck and
// answers the window action of that wizard; run_check checks the password
// — on 18 the one written on the identity check, on 19 the one in the
// call's context — and answers make_key's action, whose context.default_key
// is the key. The answers are those of a real Odoo 18.0-20250421 and 19.0
// (internal/stack/testdata/odoo18_apikey.json, odoo19_apikey.json, replayed
// by TestConnectReplays). The fake answers its one admin API key, APIKey.
func (s *Server) EnableAPIKeys() {
	s.SetMethod("res.users.identitycheck", "run_check", func(recs map[int]Record, args []any, kw map[string]any) (any, *Error) {
		ids, e := toIDs(firstArg(args))
		if e != nil || len(ids) != 1 || recs[ids[0]] == nil {
			return nil, &Error{Name: "odoo.exceptions.MissingError", Message: "Record does not exist or has been deleted."}
		}
		pw := recs[ids[0]]["password"] // 18: written on the wizard
		if s.major() >= 19 {
			ctx, _ := kw["context"].(map[string]any)
			pw = ctx["password"] // 19: a field it does not store; the web client puts it in the context
		}
		if pw != Password {
			return nil, &Error{Name: "odoo.exceptions.UserError", Message: "Incorrect Password, try again or click on Forgot Password to reset your password."}
		}
		recs[ids[0]]["password"] = false
		return map[string]any{"type": "ir.actions.act_window", "res_model": "res.users.apikeys.show", "name": "API Key Ready",
			"views": []any{[]any{false, "form"}}, "target": "new", "context": map[string]any{"default_key": APIKey}}, nil
	})
	s.SetMethod("res.users.apikeys.description", "make_key", func(recs map[int]Record, args []any, _ map[string]any) (any, *Error) {
		ids, e := toIDs(firstArg(args))
		if e != nil || len(ids) != 1 || recs[ids[0]] == nil {
			return nil, &Error{Name: "odoo.exceptions.MissingError", Message: "Record does not exist or has been deleted."}
		}
		// Called under the server's lock: the identity check is another model.
		id := s.nextID["res.users.identitycheck"]
		s.nextID["res.users.identitycheck"] = id + 1
		s.models["res.users.identitycheck"][id] = Record{"id": id}
		action := map[string]any{"type": "ir.actions.act_window", "res_model": "res.users.identitycheck", "res_id": id,
			"name": "Security Control", "target": "new", "views": []any{[]any{false, "form"}}}
		if s.major() >= 19 {
			action["name"], action["context"] = "Access Control", map[string]any{"dialog_size": "medium"}
		}
		return action, nil
	})
}

func firstArg(args []any) any {
	if len(args) == 0 {
		return nil
	}
	return args[0]
}
