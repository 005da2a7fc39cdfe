package superset

import (
	"fmt"
	"strconv"
	"strings"
)

// parseRison parses a Rison value (https://github.com/Nanonid/rison), the
// encoding of Superset's ?q= list queries: (k:v,…) objects, !(…) arrays,
// 'quoted' strings with ! escapes, bare words, numbers, !t !f !n.
func parseRison(s string) (any, error) {
	p := &risonParser{s: s}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	if p.i != len(p.s) {
		return nil, fmt.Errorf("rison: unexpected %q at %d", p.s[p.i:], p.i)
	}
	return v, nil
}

type risonParser struct {
	s string
	i int
}

const risonIDChars = "-_./~"

func isIDChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(risonIDChars, c) >= 0
}

func (p *risonParser) value() (any, error) {
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("rison: unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '(':
		p.i++
		obj := map[string]any{}
		for p.i < len(p.s) && p.s[p.i] != ')' {
			if len(obj) > 0 {
				if p.s[p.i] != ',' {
					return nil, fmt.Errorf("rison: want , at %d", p.i)
				}
				p.i++
			}
			k, err := p.value()
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok || p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, fmt.Errorf("rison: want key: at %d", p.i)
			}
			p.i++
			if obj[ks], err = p.value(); err != nil {
				return nil, err
			}
		}
		if p.i >= len(p.s) {
			return nil, fmt.Errorf("rison: unclosed (")
		}
		p.i++
		return obj, nil
	case c == '!':
		if p.i+1 >= len(p.s) {
			return nil, fmt.Errorf("rison: lone !")
		}
		p.i += 2
		switch p.s[p.i-1] {
		case 't':
			return true, nil
		case 'f':
			return false, nil
		case 'n':
			return nil, nil
		case '(':
			arr := []any{}
			for p.i < len(p.s) && p.s[p.i] != ')' {
				if len(arr) > 0 {
					if p.s[p.i] != ',' {
						return nil, fmt.Errorf("rison: want , at %d", p.i)
					}
					p.i++
				}
				v, err := p.value()
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if p.i >= len(p.s) {
				return nil, fmt.Errorf("rison: unclosed !(")
			}
			p.i++
			return arr, nil
		}
		return nil, fmt.Errorf("rison: unknown !%c", p.s[p.i-1])
	case c == '\'':
		p.i++
		var b strings.Builder
		for p.i < len(p.s) && p.s[p.i] != '\'' {
			if p.s[p.i] == '!' {
				p.i++
				if p.i >= len(p.s) || (p.s[p.i] != '!' && p.s[p.i] != '\'') {
					return nil, fmt.Errorf("rison: bad escape in string")
				}
			}
			b.WriteByte(p.s[p.i])
			p.i++
		}
		if p.i >= len(p.s) {
			return nil, fmt.Errorf("rison: unclosed string")
		}
		p.i++
		return b.String(), nil
	case c == '-' || c >= '0' && c <= '9':
		j := p.i + 1
		for j < len(p.s) && strings.IndexByte("0123456789.eE-+", p.s[j]) >= 0 {
			j++
		}
		if n, err := strconv.ParseFloat(p.s[p.i:j], 64); err == nil {
			p.i = j
			return n, nil
		}
		fallthrough
	default:
		j := p.i
		for j < len(p.s) && isIDChar(p.s[j]) {
			j++
		}
		if j == p.i {
			return nil, fmt.Errorf("rison: unexpected %q at %d", c, p.i)
		}
		w := p.s[p.i:j]
		p.i = j
		return w, nil
	}
}
