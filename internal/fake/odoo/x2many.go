package odoo

// x2many applies Odoo's x2many write commands — [6, 0, ids] set,
// [4, id] link, [3, id] unlink, [5] clear — to a field's old value (a list
// of ids) and returns the new list. Values that are not such command lists
// (including ones with [0, 0, vals] create commands) are returned unchanged.
func x2many(old, v any) any {
	cmds, ok := v.([]any)
	if !ok || len(cmds) == 0 {
		return v
	}
	for _, c := range cmds {
		l, ok := c.([]any)
		if !ok || len(l) == 0 || !isNum(l[0]) {
			return v
		}
		if op := num(l[0]); op != 3 && op != 4 && op != 5 && op != 6 {
			return v // create/update/delete commands are kept as sent
		}
	}
	var ids []float64
	if l, ok := old.([]any); ok {
		for _, e := range l {
			if isNum(e) {
				ids = append(ids, num(e))
			}
		}
	}
	has := func(id float64) bool {
		for _, x := range ids {
			if x == id {
				return true
			}
		}
		return false
	}
	for _, c := range cmds {
		l := c.([]any)
		switch num(l[0]) {
		case 6:
			ids = nil
			if len(l) > 2 {
				if set, ok := l[2].([]any); ok {
					for _, e := range set {
						if isNum(e) && !has(num(e)) {
							ids = append(ids, num(e))
						}
					}
				}
			}
		case 4:
			if len(l) > 1 && isNum(l[1]) && !has(num(l[1])) {
				ids = append(ids, num(l[1]))
			}
		case 3:
			if len(l) > 1 && isNum(l[1]) {
				out := ids[:0]
				for _, x := range ids {
					if x != num(l[1]) {
						out = append(out, x)
					}
				}
				ids = out
			}
		case 5:
			ids = nil
		}
	}
	out := make([]any, len(ids))
	for i, x := range ids {
		out[i] = x
	}
	return out
}

func isNum(v any) bool {
	switch v.(type) {
	case float64, int:
		return true
	}
	return false
}

func num(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int:
		return float64(x)
	}
	return 0
}
