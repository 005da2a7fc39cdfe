package odoo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
)

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

// The automation engine: base.automation rules with "Send Webhook
// Notification" server actions really post, as Odoo 18's base_automation
// and ir.actions.server do (recorded in
// internal/connector/odoo/testdata/odoo18_webhooks.json):
//   - the server action of a rule is renamed "Send Webhook Notification"
//     whatever name it was created with (Odoo 18; Odoo 19 keeps the name,
//     testdata/odoo19_webhooks.json); the URL is kept as given;
//   - the body is json.dumps(vals, sort_keys=True, default=str): "_action"
//     "<name>(#<action id>)", "_id", "_model" and the selected fields read
//     with load=None (many2one as a bare id, id included), datetimes as
//     str(datetime) — microseconds unless they are zero;
//   - on_create and on_create_or_write fire on create; on_write,
//     on_create_or_write, on_archive (active became false) and on_unarchive
//     on write; on_unlink before the record is deleted. An archive fires
//     on_write and on_create_or_write too. Each RPC call is one
//     transaction: its write_date is the call's clock reading;
//   - the POST has a 1 s timeout, no retry, and its failure does not fail
//     the change (fire and forget).

// WebhookPost is one notification the engine sent.
type WebhookPost struct {
	URL     string
	Headers http.Header
	Body    []byte
	Err     error // the send failed (as Odoo, the change still succeeded)
}

type automationState struct {
	relations map[string]map[string]string    // model → many2one field → related model
	stamps    map[string]map[int][2]time.Time // model → id → create, write times
	outbox    []WebhookPost
	sent      []WebhookPost
	client    *http.Client
	sending   sync.Mutex
}

// SetRelation declares a many2one field and its related model: fields_get
// then reports it with "type": "many2one" and "relation", as Odoo does.
func (s *Server) SetRelation(model, field, comodel string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.auto.relations == nil {
		s.auto.relations = map[string]map[string]string{}
	}
	if s.auto.relations[model] == nil {
		s.auto.relations[model] = map[string]string{}
	}
	s.auto.relations[model][field] = comodel
}

// WebhookPosts returns the notifications sent so far.
func (s *Server) WebhookPosts() []WebhookPost {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]WebhookPost(nil), s.auto.sent...)
}

// SetWebhookClient sets the HTTP client the engine posts with (default: a
// client with Odoo's 1 s timeout).
func (s *Server) SetWebhookClient(c *http.Client) { s.mu.Lock(); s.auto.client = c; s.mu.Unlock() }

// stamp records a record's create/write time to the microsecond (Odoo's
// columns keep microseconds; search_read shows seconds).
func (s *Server) stamp(model string, id int, t time.Time, created bool) {
	if s.auto.stamps == nil {
		s.auto.stamps = map[string]map[int][2]time.Time{}
	}
	m := s.auto.stamps[model]
	if m == nil {
		m = map[int][2]time.Time{}
		s.auto.stamps[model] = m
	}
	st := m[id]
	if created {
		st[0] = t
	}
	st[1] = t
	m[id] = st
}

// pyTime is Python's str(datetime) of a naive UTC datetime.
func pyTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02 15:04:05")
	}
	return t.Format("2006-01-02 15:04:05.000000")
}

// createAutomation turns a new base.automation's [0, 0, vals] server
// action commands into ir.actions.server records, renamed as Odoo 18's
// _compute_name does.
func (s *Server) createAutomation(id int) {
	r := s.models["base.automation"][id]
	cmds, _ := r["action_server_ids"].([]any)
	var ids []any
	for _, c := range cmds {
		l, ok := c.([]any)
		if !ok || len(l) < 3 || num(l[0]) != 0 {
			continue
		}
		vals, _ := l[2].(map[string]any)
		a := copyRec(vals)
		if a["state"] == "webhook" && s.renamesWebhooks() {
			a["name"] = "Send Webhook Notification"
		}
		a["base_automation_id"] = id
		if f, ok := a["webhook_field_ids"]; ok {
			a["webhook_field_ids"] = x2many(nil, f)
		}
		if s.models["ir.actions.server"] == nil {
			s.models["ir.actions.server"] = map[int]Record{}
			s.nextID["ir.actions.server"] = 1
		}
		ids = append(ids, float64(s.create("ir.actions.server", a)))
	}
	if ids != nil {
		r["action_server_ids"] = ids
	}
}

// renamesWebhooks says whether the series renames a rule's webhook actions
// (Odoo 17.2+ and 18 do; Odoo 19 keeps the given name, as recorded).
func (s *Server) renamesWebhooks() bool { return s.major() < 19 }

// major is the serie's major version: 18 for "18.0" and "saas~18.3"
// (lock held).
func (s *Server) major() int {
	m, _ := strconv.Atoi(strings.TrimPrefix(strings.SplitN(s.serie, ".", 2)[0], "saas~"))
	return m
}

// noIDs is what execute_kw answers when a record method gets no ids
// (odoo/api.py call_kw indexing its args): a tuple on Odoo 18, a list on
// 19, as the real ones answer (lock held).
func (s *Server) noIDs() *Error {
	seq := "list"
	if s.major() < 19 {
		seq = "tuple"
	}
	return &Error{Name: "builtins.IndexError", Message: seq + " index out of range"}
}

// fire queues the posts of the rules a change triggers (caller holds s.mu).
// verb is create, write or unlink; vals and old the written values and the
// record's values before the write.
func (s *Server) fire(model string, id int, verb string, vals, old Record) {
	if model == "base.automation" && verb == "create" {
		s.createAutomation(id)
		return
	}
	if model == "base.automation" && verb == "unlink" { // ondelete cascade
		for aid, a := range s.models["ir.actions.server"] {
			if a["base_automation_id"] == id {
				delete(s.models["ir.actions.server"], aid)
			}
		}
		return
	}
	autos := s.models["base.automation"]
	if len(autos) == 0 {
		return
	}
	rec := s.models[model][id]
	if rec == nil {
		return
	}
	for _, aid := range s.sortedIDs("base.automation") {
		a := autos[aid]
		if a["model_name"] != model && !s.automationOn(a, model) || a["active"] == false {
			continue
		}
		trig, _ := a["trigger"].(string)
		ok := false
		switch trig {
		case "on_create":
			ok = verb == "create"
		case "on_create_or_write":
			// With a filter domain, Odoo makes its fields the rule's
			// trigger fields: a write fires it only when one changed.
			ok = verb == "create" || verb == "write" && s.domainFieldChanged(a, vals, old, rec)
		case "on_write":
			ok = verb == "write"
		case "on_unlink":
			ok = verb == "unlink"
		case "on_archive", "on_unarchive":
			// The trigger field is active; the filter domain Odoo computes
			// is [("active", "=", False)] (True for on_unarchive) unless
			// one was given, which replaces it.
			_, touched := vals["active"]
			ok = verb == "write" && touched && old["active"] != rec["active"]
			if fd, _ := a["filter_domain"].(string); strings.TrimSpace(fd) == "" {
				ok = ok && rec["active"] == (trig == "on_unarchive")
			}
		}
		if !ok || !s.matchesFilter(a, rec) {
			continue
		}
		acts, _ := a["action_server_ids"].([]any)
		for _, x := range acts {
			act := s.models["ir.actions.server"][int(num(x))]
			if act == nil || act["state"] != "webhook" {
				continue
			}
			s.queueWebhook(model, id, int(num(x)), act)
		}
	}
}

var domainFieldRe = regexp.MustCompile(`[(\[]\s*["'](\w+)["']`)

func (s *Server) domainFieldChanged(a Record, vals, old, rec Record) bool {
	fd, _ := a["filter_domain"].(string)
	if strings.TrimSpace(fd) == "" {
		return true
	}
	for _, m := range domainFieldRe.FindAllStringSubmatch(fd, -1) {
		if _, written := vals[m[1]]; written && fmt.Sprint(old[m[1]]) != fmt.Sprint(rec[m[1]]) {
			return true
		}
	}
	return false
}

func (s *Server) automationOn(a Record, model string) bool {
	mid := a["model_id"]
	if !isNum(mid) {
		return false
	}
	m := s.models["ir.model"][int(num(mid))]
	return m != nil && m["model"] == model
}

// matchesFilter evaluates a rule's filter_domain (Python literal syntax).
func (s *Server) matchesFilter(a Record, rec Record) bool {
	fd, _ := a["filter_domain"].(string)
	if strings.TrimSpace(fd) == "" {
		return true
	}
	js := strings.NewReplacer("(", "[", ")", "]", "'", `"`, "True", "true", "False", "false", "None", "null").Replace(fd)
	var dom []any
	if json.Unmarshal([]byte(js), &dom) != nil {
		return false
	}
	ok, _, e := evalDomain(dom, rec)
	return e == nil && ok
}

func (s *Server) queueWebhook(model string, id, actID int, act Record) {
	rec := s.models[model][id]
	vals := map[string]any{"_model": model, "_id": id, "_action": fmt.Sprintf("%v(#%d)", act["name"], actID)}
	fields, _ := act["webhook_field_ids"].([]any)
	if len(fields) > 0 {
		vals["id"] = id
	}
	st := s.auto.stamps[model][id]
	for _, f := range fields {
		fr := s.models["ir.model.fields"][int(num(f))]
		if fr == nil {
			continue
		}
		name, _ := fr["name"].(string)
		v, ok := rec[name]
		switch {
		case name == "create_date" && !st[0].IsZero():
			v = pyTime(st[0])
		case name == "write_date" && !st[1].IsZero():
			v = pyTime(st[1])
		case !ok:
			v = false
		default:
			if l, isList := v.([]any); isList && len(l) == 2 && isNum(l[0]) {
				if _, named := l[1].(string); named {
					v = int(num(l[0])) // load=None: many2one as a bare id
				}
			} else if _, rel := s.auto.relations[model][name]; isNum(v) && (rel || strings.HasSuffix(name, "_id")) {
				v = int(num(v)) // an id written over JSON-RPC: Python prints an int
			}
		}
		vals[name] = v
	}
	url, _ := act["webhook_url"].(string)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "python-requests/2.28.1")
	h.Set("Accept", "*/*")
	h.Set("Accept-Encoding", "gzip, deflate")
	h.Set("Connection", "keep-alive")
	s.auto.outbox = append(s.auto.outbox, WebhookPost{URL: url, Headers: h, Body: pyJSON(vals)})
}

// flushWebhooks sends the queued notifications, after the server's lock is
// released (a receiver may call back, as a hub reading display names does)
// and before the RPC answers, as Odoo posts inside the request.
func (s *Server) flushWebhooks() {
	s.mu.Lock()
	out := s.auto.outbox
	s.auto.outbox = nil
	c := s.auto.client
	s.mu.Unlock()
	if len(out) == 0 {
		return
	}
	if c == nil {
		c = &http.Client{Timeout: time.Second}
	}
	s.auto.sending.Lock()
	defer s.auto.sending.Unlock()
	for i, p := range out {
		req, err := http.NewRequest("POST", p.URL, bytes.NewReader(p.Body))
		if err == nil {
			req.Header = p.Headers.Clone()
			var resp *http.Response
			resp, err = c.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 400 {
					err = fmt.Errorf("%s", resp.Status)
				}
			}
		}
		out[i].Err = err
	}
	s.mu.Lock()
	s.auto.sent = append(s.auto.sent, out...)
	s.mu.Unlock()
}

// pyJSON encodes like Python's json.dumps(v, sort_keys=True, default=str):
// ", " and ": " separators, ASCII only, floats with a decimal point.
func pyJSON(v any) []byte {
	var b bytes.Buffer
	sep := func(i int) { // json.dumps' item separator
		if i > 0 {
			b.WriteString(", ")
		}
	}
	var enc func(v any)
	enc = func(v any) {
		switch x := v.(type) {
		case nil:
			b.WriteString("null")
		case bool:
			if x {
				b.WriteString("true")
			} else {
				b.WriteString("false")
			}
		case int:
			b.WriteString(strconv.Itoa(x))
		case float64:
			if x == float64(int64(x)) && x < 1e16 && x > -1e16 {
				b.WriteString(strconv.FormatInt(int64(x), 10) + ".0")
			} else {
				b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
			}
		case string:
			b.WriteByte('"')
			for _, r := range x {
				switch {
				case r == '"':
					b.WriteString(`\"`)
				case r == '\\':
					b.WriteString(`\\`)
				case r == '\n':
					b.WriteString(`\n`)
				case r == '\r':
					b.WriteString(`\r`)
				case r == '\t':
					b.WriteString(`\t`)
				case r < 0x20 || r > 0x7e:
					for _, u := range utf16.Encode([]rune{r}) {
						fmt.Fprintf(&b, `\u%04x`, u)
					}
				default:
					b.WriteRune(r)
				}
			}
			b.WriteByte('"')
		case []any:
			b.WriteByte('[')
			for i, e := range x {
				sep(i)
				enc(e)
			}
			b.WriteByte(']')
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			b.WriteByte('{')
			for i, k := range keys {
				sep(i)
				enc(k)
				b.WriteString(": ")
				enc(x[k])
			}
			b.WriteByte('}')
		default:
			enc(fmt.Sprint(x))
		}
	}
	enc(v)
	return b.Bytes()
}
