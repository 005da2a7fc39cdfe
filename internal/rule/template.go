package rule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/expr-lang/expr"

	"github.com/insightpulseai/ipai/internal/store"
)

// Funcs are the functions templates may call besides text/template's own
// (index, printf, len, and, or, eq …). A missing map key is an error; use
// `index .data "key"` with default for optional fields.
var Funcs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"default": func(def, v any) any {
		if empty(v) {
			return def
		}
		return v
	},
	"upper": func(v any) string { return strings.ToUpper(str(v)) },
	"lower": func(v any) string { return strings.ToLower(str(v)) },
	"title": func(v any) string {
		s := str(v)
		words := strings.Fields(s)
		for i, w := range words {
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
		return strings.Join(words, " ")
	},
	"trim":     func(v any) string { return strings.TrimSpace(str(v)) },
	"money":    money,
	"truncate": func(n int, v any) string { return truncate(str(v), n) },
	"join": func(sep string, v any) string {
		xs, _ := v.([]any)
		parts := make([]string, len(xs))
		for i, x := range xs {
			parts[i] = str(x)
		}
		return strings.Join(parts, sep)
	},
	// m2o gives the display name of an Odoo many2one value ([id, "name"]),
	// or the value itself; false (Odoo's empty) becomes "".
	"m2o": func(v any) any {
		if xs, ok := v.([]any); ok && len(xs) == 2 {
			return xs[1]
		}
		if b, ok := v.(bool); ok && !b {
			return ""
		}
		return v
	},
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x // Odoo sends false for empty fields
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if n < 1 || len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// money formats a number with thousands separators and two decimals
// (12345.5 → "12,345.50"); non-numbers are printed as they are.
func money(v any) string {
	f, ok := toFloat(v)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return str(v)
	}
	s := strconv.FormatFloat(math.Abs(f), 'f', 2, 64)
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if f < 0 {
		b.WriteByte('-')
	}
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String() + "." + frac
}

var templates sync.Map // source -> *template.Template

// parseTemplate parses (and caches) a template.
func parseTemplate(src string) (*template.Template, error) {
	if t, ok := templates.Load(src); ok {
		return t.(*template.Template), nil
	}
	t, err := template.New("t").Funcs(Funcs).Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, cleanTemplateErr(err)
	}
	templates.Store(src, t)
	return t, nil
}

func cleanTemplateErr(err error) error {
	return errors.New(strings.TrimPrefix(strings.TrimPrefix(err.Error(), "template: "), "t:"))
}

func renderString(src string, data map[string]any) (string, error) {
	if !strings.Contains(src, "{{") {
		return src, nil
	}
	t, err := parseTemplate(src)
	if err != nil {
		return "", err
	}
	out, err := Execute(t, data)
	if err != nil {
		return "", cleanTemplateErr(err)
	}
	return string(out), nil
}

// Limits of one template rendering: its output, and how long it may run
// (checked as it writes).
const (
	MaxRenderBytes = 1 << 20
	MaxRenderTime  = 2 * time.Second
)

// ErrRenderLimit marks a template stopped for its size or time.
var ErrRenderLimit = errors.New("template output limit")

// capWriter stops a template that writes too much or for too long.
type capWriter struct {
	buf      bytes.Buffer
	deadline time.Time
}

func (w *capWriter) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > MaxRenderBytes {
		return 0, fmt.Errorf("%w: the rendered text exceeds %d bytes (%d MiB); render less (e.g. fewer nested range loops)", ErrRenderLimit, MaxRenderBytes, MaxRenderBytes>>20)
	}
	if time.Now().After(w.deadline) {
		return 0, fmt.Errorf("%w: rendering took longer than %s; render less (e.g. fewer nested range loops)", ErrRenderLimit, MaxRenderTime)
	}
	return w.buf.Write(p)
}

// Execute renders t over data within MaxRenderBytes and MaxRenderTime.
// Rule actions and endpoint body templates are rendered with it.
func Execute(t *template.Template, data any) ([]byte, error) {
	w := &capWriter{deadline: time.Now().Add(MaxRenderTime)}
	if err := t.Execute(w, data); err != nil {
		return nil, err
	}
	return w.buf.Bytes(), nil
}

// walk applies f to every string inside v (maps, lists), returning a copy;
// path names the place for errors.
func walk(v any, path string, f func(s, path string) (any, error)) (any, error) {
	switch x := v.(type) {
	case string:
		return f(x, path)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make(map[string]any, len(x))
		for _, k := range keys {
			r, err := walk(x[k], path+"."+k, f)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := walk(e, fmt.Sprintf("%s[%d]", path, i), f)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

// renderValue renders a structured value: every string inside is a
// template. A value that is a single string must render JSON.
func renderValue(v any, path string, data map[string]any) (any, error) {
	if s, ok := v.(string); ok {
		out, err := renderString(s, data)
		if err != nil {
			return nil, &FieldError{path, err.Error()}
		}
		var j any
		if err := json.Unmarshal([]byte(out), &j); err != nil {
			return nil, &FieldError{path, fmt.Sprintf("rendered text is not JSON (%v): %s", err, truncate(out, 200))}
		}
		return j, nil
	}
	return walk(v, path, func(s, p string) (any, error) {
		out, err := renderString(s, data)
		if err != nil {
			return nil, &FieldError{p, err.Error()}
		}
		return out, nil
	})
}

// checkTemplates parses every template of a value.
func checkTemplates(v any, path string) *FieldError {
	_, err := walk(v, path, func(s, p string) (any, error) {
		if _, err := parseTemplate(s); err != nil {
			return nil, &FieldError{p, "template: " + err.Error()}
		}
		return s, nil
	})
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe
	}
	return nil
}

// Rendered is an action with its templates filled in from one event.
type Rendered struct {
	Kind        string         `json:"kind"`
	Endpoint    string         `json:"endpoint,omitempty"`
	Connector   string         `json:"connector,omitempty"`
	Mention     string         `json:"mention,omitempty"`
	Channel     string         `json:"channel,omitempty"`
	Text        string         `json:"text,omitempty"`
	Attachments any            `json:"attachments,omitempty"`
	Path        string         `json:"path,omitempty"`
	Body        any            `json:"body,omitempty"`
	Model       string         `json:"model,omitempty"`
	Method      string         `json:"method,omitempty"`
	Args        []any          `json:"args,omitempty"`
	Kwargs      map[string]any `json:"kwargs,omitempty"`
	Table       string         `json:"table,omitempty"`
	Row         any            `json:"row,omitempty"`
	Board       string         `json:"board,omitempty"`
	Title       string         `json:"title,omitempty"`
	WorkItem    *WorkItem      `json:"work_item,omitempty"`
}

// ChooseMention evaluates a Mention against an event's environment.
func ChooseMention(m *Mention, env map[string]any) (string, error) {
	if m == nil {
		return "", nil
	}
	p, err := compileExpr(m.Amount, false)
	if err != nil {
		return "", fmt.Errorf("mention.amount: %v", err)
	}
	out, err := expr.Run(p, env)
	if err != nil {
		return "", fmt.Errorf("mention.amount: %v", err)
	}
	amount, ok := toFloat(out)
	if !ok {
		if out == nil || out == false { // Odoo's empty
			return m.Default, nil
		}
		return "", fmt.Errorf("mention.amount: %q gave %v, not a number", m.Amount, out)
	}
	ts := append([]Threshold(nil), m.Thresholds...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Over > ts[j].Over })
	for _, t := range ts {
		if amount > t.Over {
			return t.Mention, nil
		}
	}
	return m.Default, nil
}

// Render fills in an action's templates from an event. Errors are
// *FieldError naming the action field whose template failed.
func Render(a Action, ev *store.Event) (Rendered, error) {
	env := Env(ev)
	mention, err := ChooseMention(a.Mention, env)
	if err != nil {
		return Rendered{}, &FieldError{"mention", err.Error()}
	}
	env["mention"] = mention
	r := Rendered{Kind: a.Kind, Endpoint: a.Endpoint, Connector: a.Connector, Mention: mention, Model: a.Model, Method: a.Method}
	for _, f := range []struct {
		name string
		src  string
		dst  *string
	}{{"channel", a.Channel, &r.Channel}, {"text", a.Text, &r.Text}, {"path", a.Path, &r.Path},
		{"table", a.Table, &r.Table}, {"board", a.Board, &r.Board}, {"title", a.Title, &r.Title}} {
		if *f.dst, err = renderString(f.src, env); err != nil {
			return Rendered{}, &FieldError{f.name, err.Error()}
		}
	}
	if a.Attachments != nil {
		if r.Attachments, err = renderValue(a.Attachments, "attachments", env); err != nil {
			return Rendered{}, err
		}
	}
	if a.Body != nil {
		if r.Body, err = renderValue(a.Body, "body", env); err != nil {
			return Rendered{}, err
		}
	}
	if a.Row != nil {
		if r.Row, err = renderValue(a.Row, "row", env); err != nil {
			return Rendered{}, err
		}
	}
	if a.Args != nil {
		v, err := renderValue(a.Args, "args", env)
		if err != nil {
			return Rendered{}, err
		}
		list, ok := v.([]any)
		if !ok {
			return Rendered{}, &FieldError{"args", "must be a list (the positional arguments)"}
		}
		r.Args = list
	}
	if a.Kind == KindWorkItem {
		if r.WorkItem, err = renderWorkItem(a, ev, env, r.Title); err != nil {
			return Rendered{}, err
		}
	}
	if a.Kwargs != nil {
		v, err := renderValue(a.Kwargs, "kwargs", env)
		if err != nil {
			return Rendered{}, err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return Rendered{}, &FieldError{"kwargs", "must be a mapping (the keyword arguments)"}
		}
		r.Kwargs = m
	}
	return r, nil
}
