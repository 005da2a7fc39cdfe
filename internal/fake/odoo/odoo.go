// Package odoo is a faithful in-memory fake of Odoo's external API
// (shared/reference/apis.md §1): POST /jsonrpc (common.version, login,
// authenticate; object.execute_kw / execute), the session flow
// (/web/session/authenticate, /web/dataset/call_kw), the Odoo 19 JSON-2 API
// and /web/health. Errors come back as HTTP 200 JSON-RPC envelopes with the
// exception's dotted name. Models are seeded with records carrying
// write_date, so sync engines can be tested against it.
package odoo

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/insightpulseai/ipai/internal/fake/knob"
)

// Seeded credentials.
const (
	DB       = "odoo"
	Login    = "admin"
	Password = "admin"
	APIKey   = "0123456789abcdef0123456789abcdef01234567"
	AdminUID = 2
)

// seedImage is a partner's image_1920 as read() returns it: base64 (a
// 1×1 PNG here; real avatars run to tens of kilobytes each).
const seedImage = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="

// Record is one record's field values ("id" included).
type Record = map[string]any

// Server is a running fake Odoo.
type Server struct {
	*httptest.Server
	knob.Knobs

	mu       sync.Mutex
	serie    string // "18.0"
	models   map[string]map[int]Record
	nextID   map[string]int
	sessions map[string]int
	now      func() time.Time
	methods  map[string]Method // "model method" → custom ORM method (methods.go)
	auto     automationState   // webhook automation engine (automation.go)
	schemas  map[string]map[string]FieldDef
}

// New starts a fake Odoo 18.0 with database "odoo", user admin (password
// "admin" or APIKey, uid 2) and seeded res.partner, project.project,
// project.task and account.move records.
func New() *Server {
	s := &Server{serie: "18.0", models: map[string]map[int]Record{}, nextID: map[string]int{},
		sessions: map[string]int{}, now: time.Now, schemas: map[string]map[string]FieldDef{}}
	for m, f := range seedSchemas {
		s.schemas[m] = f
	}
	for _, m := range []string{"res.partner", "res.users", "project.project", "project.task", "account.move", "crm.lead", "hr.expense"} {
		s.models[m] = map[int]Record{}
		s.nextID[m] = 1
	}
	// Id 1 is the superuser, OdooBot (login __system__, archived); the
	// user ipai logs in as is 2, as the admin is in a fresh Odoo database,
	// but in no group unless a test puts it in some (res.users has_group).
	s.Add("res.users", Record{"name": "OdooBot", "login": "__system__", "active": false})
	s.Add("res.users", Record{"name": "Administrator", "login": Login})
	s.Add("res.partner", Record{"name": "Deco Addict", "is_company": true, "email": "deco@example.com", "customer_rank": 1, "image_1920": seedImage})
	s.Add("res.partner", Record{"name": "Azure Interior", "is_company": true, "email": "azure@example.com", "customer_rank": 1, "image_1920": seedImage})
	proj := s.Add("project.project", Record{"name": "Month-end close", "active": true})
	s.Add("project.task", Record{"name": "Reconcile bank", "project_id": []any{proj, "Month-end close"}, "priority": "0", "active": true})
	s.Add("account.move", Record{"name": "INV/2026/00001", "move_type": "out_invoice", "state": "posted",
		"payment_state": "not_paid", "amount_total": 1150.0, "partner_id": []any{1, "Deco Addict"}})
	s.Server = httptest.NewServer(s.Wrap(s.routes()))
	return s
}

// SetSerie changes the reported series ("16.0", "19.0", "saas~18.1" …).
func (s *Server) SetSerie(serie string) { s.mu.Lock(); s.serie = serie; s.mu.Unlock() }

// SetClock replaces the clock used for create_date / write_date.
func (s *Server) SetClock(now func() time.Time) { s.mu.Lock(); s.now = now; s.mu.Unlock() }

// Add stores a record (filling id, create_date, write_date) and returns its id.
func (s *Server) Add(model string, vals Record) int {
	defer s.flushWebhooks() // after the unlock
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.create(model, vals)
}

// Records returns a copy of a model's records sorted by id.
func (s *Server) Records(model string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	for _, id := range s.sortedIDs(model) {
		out = append(out, copyRec(s.models[model][id]))
	}
	return out
}

func (s *Server) create(model string, vals Record) int {
	if s.models[model] == nil {
		s.models[model] = map[int]Record{}
		s.nextID[model] = 1
	}
	id := s.nextID[model]
	s.nextID[model]++
	r := copyRec(vals)
	for k, d := range s.fieldDefs(model) { // create applies the fields' defaults, as default_get answers them
		if _, given := r[k]; !given && d.Default != nil {
			r[k] = d.Default
		}
	}
	for k, v := range r {
		r[k] = x2many(nil, v)
	}
	r["id"] = id
	now := s.now()
	ts := now.UTC().Format("2006-01-02 15:04:05")
	r["create_date"], r["write_date"] = ts, ts
	if _, ok := r["display_name"]; !ok {
		r["display_name"] = r["name"]
	}
	s.models[model][id] = r
	s.stamp(model, id, now, true)
	s.fire(model, id, "create", vals, nil)
	return id
}

func (s *Server) sortedIDs(model string) []int {
	ids := make([]int, 0, len(s.models[model]))
	for id := range s.models[model] {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /jsonrpc", s.rpc(s.jsonrpc))
	mux.HandleFunc("POST /web/session/authenticate", s.rpc(s.sessionAuthenticate))
	mux.HandleFunc("POST /web/dataset/call_kw", s.rpc(s.callKW))
	mux.HandleFunc("POST /web/dataset/call_kw/", s.rpc(s.callKW))
	mux.HandleFunc("POST /json/2/{model}/{method}", s.json2)
	mux.HandleFunc("GET /web/version", s.webVersion)
	mux.HandleFunc("GET /web/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"status": "pass"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { notFoundHTML(w, notFoundPage) })
	return mux
}

// Error is an Odoo exception: Name is "<module>.<ClassName>".
type Error struct {
	Name, Message string
	Code          int
	Top           string
}

func (e *Error) Error() string { return e.Message }

func accessDenied() *Error {
	return &Error{Name: "odoo.exceptions.AccessDenied", Message: "Access Denied"}
}

type rpcHandler func(r *http.Request, params map[string]any) (any, *Error)

func (s *Server) rpc(h rpcHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var env struct {
			ID     any            `json:"id"`
			Params map[string]any `json:"params"`
		}
		if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
			writeRPC(w, nil, nil, &Error{Name: "werkzeug.exceptions.BadRequest", Message: "400 Bad Request: Invalid JSON data"})
			return
		}
		res, e := h(r.WithContext(r.Context()), env.Params)
		if sid, ok := res.(sessionResult); ok {
			http.SetCookie(w, &http.Cookie{Name: "session_id", Value: sid.sid, Path: "/", HttpOnly: true})
			res = sid.info
		}
		writeRPC(w, env.ID, res, e)
	}
}

func writeRPC(w http.ResponseWriter, id, result any, e *Error) {
	out := map[string]any{"jsonrpc": "2.0", "id": id}
	if e != nil {
		code, top := e.Code, e.Top
		if code == 0 {
			code = 200
		}
		if top == "" {
			top = "Odoo Server Error"
		}
		out["error"] = map[string]any{"code": code, "message": top, "data": map[string]any{
			"name": e.Name, "message": e.Message, "arguments": []any{e.Message}, "context": map[string]any{},
			"debug": "Traceback (most recent call last):\n  File \"odoo/http.py\", line 1\n" + e.Name + ": " + e.Message}}
	} else if result != nil {
		// odoo/http.py JsonRPCDispatcher._response writes "result" only
		// when it is not None: a method returning None answers without it.
		out["result"] = result
	}
	writeJSON(w, 200, out)
}

func (s *Server) versionInfo() map[string]any {
	s.mu.Lock()
	serie := s.serie
	s.mu.Unlock()
	info := []any{serie, 0, 0, "final", 0, ""}
	var maj, min int
	if _, err := fmt.Sscanf(strings.TrimPrefix(serie, "saas~"), "%d.%d", &maj, &min); err == nil {
		info[0], info[1] = maj, min
		if strings.HasPrefix(serie, "saas~") {
			info[0] = fmt.Sprintf("saas~%d", maj)
		}
	}
	return map[string]any{"server_version": serie, "server_version_info": info, "server_serie": serie, "protocol_version": 1}
}

func (s *Server) checkPassword(db, login, pw string) int {
	if db == DB && login == Login && (pw == Password || pw == APIKey) {
		return AdminUID
	}
	return 0
}

func (s *Server) jsonrpc(r *http.Request, p map[string]any) (any, *Error) {
	service, _ := p["service"].(string)
	method, _ := p["method"].(string)
	args, _ := p["args"].([]any)
	str := func(i int) string {
		if i < len(args) {
			v, _ := args[i].(string)
			return v
		}
		return ""
	}
	switch service {
	case "common":
		switch method {
		case "version":
			return s.versionInfo(), nil
		case "about":
			return "See http://openerp.com", nil
		case "login", "authenticate":
			if db := str(0); db != DB {
				return nil, noDatabase(db)
			}
			if uid := s.checkPassword(str(0), str(1), str(2)); uid != 0 {
				return uid, nil
			}
			return false, nil
		}
		return nil, &Error{Name: "builtins.NameError", Message: "Method not found: " + method}
	case "object":
		if method != "execute_kw" && method != "execute" {
			return nil, &Error{Name: "builtins.NameError", Message: "Method not found: " + method}
		}
		if len(args) < 5 {
			return nil, &Error{Name: "builtins.TypeError", Message: "execute_kw() missing required positional arguments"}
		}
		if db := str(0); db != DB {
			return nil, noDatabase(db)
		}
		uid, _ := args[1].(float64)
		if int(uid) != AdminUID || s.checkPassword(str(0), Login, str(2)) == 0 {
			return nil, accessDenied()
		}
		var margs []any
		kwargs := map[string]any{}
		if method == "execute_kw" {
			if len(args) > 5 {
				margs, _ = args[5].([]any)
			}
			if len(args) > 6 {
				if kw, ok := args[6].(map[string]any); ok {
					kwargs = kw
				}
			}
		} else {
			margs = args[5:]
		}
		return s.execute(str(3), str(4), margs, kwargs)
	case "db":
		if method == "list" {
			return []string{DB}, nil
		}
	}
	return nil, &Error{Name: "builtins.KeyError", Message: fmt.Sprintf("'%s'", service)}
}

// noDatabase is what Odoo 18 answers on /jsonrpc for a database it does
// not have (recorded: the PostgreSQL connection error, as an "Odoo Server
// Error" envelope).
func noDatabase(db string) *Error {
	return &Error{Name: "psycopg2.OperationalError", Message: fmt.Sprintf("connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  database \"%s\" does not exist\n", db)}
}

type sessionResult struct {
	sid  string
	info any
}

func (s *Server) sessionAuthenticate(r *http.Request, p map[string]any) (any, *Error) {
	db, _ := p["db"].(string)
	login, _ := p["login"].(string)
	pw, _ := p["password"].(string)
	if db != DB {
		return nil, &Error{Name: "odoo.exceptions.AccessError", Message: "Database not found."}
	}
	if pw == APIKey { // API keys cannot log into the web UI
		return nil, accessDenied()
	}
	uid := s.checkPassword(db, login, pw)
	if uid == 0 {
		return nil, accessDenied()
	}
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	sid := hex.EncodeToString(b)
	s.mu.Lock()
	s.sessions[sid] = uid
	s.mu.Unlock()
	v := s.versionInfo()
	return sessionResult{sid: sid, info: map[string]any{"uid": uid, "is_system": true, "is_admin": true, "db": db,
		"name": "Administrator", "username": login, "partner_id": 3, "server_version": v["server_version"],
		"server_version_info": v["server_version_info"], "user_context": map[string]any{"lang": "en_US", "tz": "UTC", "uid": uid},
		"user_companies": map[string]any{"current_company": 1, "allowed_companies": map[string]any{"1": map[string]any{"id": 1, "name": "My Company"}}},
		"web.base.url":   "http://" + r.Host}}, nil
}

func (s *Server) callKW(r *http.Request, p map[string]any) (any, *Error) {
	c, err := r.Cookie("session_id")
	s.mu.Lock()
	uid := 0
	if err == nil {
		uid = s.sessions[c.Value]
	}
	s.mu.Unlock()
	if uid == 0 {
		return nil, &Error{Name: "odoo.http.SessionExpiredException", Message: "Session expired", Code: 100, Top: "Odoo Session Expired"}
	}
	model, _ := p["model"].(string)
	method, _ := p["method"].(string)
	args, _ := p["args"].([]any)
	kwargs, _ := p["kwargs"].(map[string]any)
	if kwargs == nil {
		kwargs = map[string]any{}
	}
	return s.execute(model, method, args, kwargs)
}

// notFoundNoDB is the page Odoo 19 serves (odoo/http.py NOT_FOUND_NODB)
// when a request names a database it does not have (X-Odoo-Database) and
// the path is not one of the database-free routes, as /json/2 is not.
const notFoundNoDB = `<!DOCTYPE html>
<title>404 Not Found</title>
<h1>Not Found</h1>
<p>No database is selected and the requested URL was not found in the server-wide controllers.</p>
<p>Please verify the hostname, <a href=/web/login>login</a> and try again.</p>

<!-- Alternatively, use the X-Odoo-Database header. -->
`

func (s *Server) json2API() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.major() >= 19
}

func notFoundHTML(w http.ResponseWriter, page string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(404)
	_, _ = w.Write([]byte(page))
}

const notFoundPage = "<!DOCTYPE html><html><body><h1>404: Not Found</h1></body></html>"

// webVersion serves GET /web/version as Odoo 19's rpc module does
// ({"version_info": […], "version": "19.0"}); Odoo 17 and 18 have no such
// route (404 page).
func (s *Server) webVersion(w http.ResponseWriter, r *http.Request) {
	if !s.json2API() {
		notFoundHTML(w, notFoundPage)
		return
	}
	v := s.versionInfo()
	writeJSON(w, 200, map[string]any{"version_info": v["server_version_info"], "version": v["server_version"]})
}

// json2 serves POST /json/2/<model>/<method> as Odoo 19's addons/rpc
// json2.py with odoo/http.py's Json2Dispatcher: named parameters only
// (ids for record methods), errors as {"name", "message", "arguments",
// "context", "debug"} with the exception's HTTP status (UserError 422,
// AccessError/AccessDenied 403, MissingError 404, werkzeug NotFound 404 and
// UnprocessableEntity 422, anything else 500), a recordset result as its
// ids and None as null.
func (s *Server) json2(w http.ResponseWriter, r *http.Request) {
	if !s.json2API() {
		notFoundHTML(w, notFoundPage)
		return
	}
	if db := r.Header.Get("X-Odoo-Database"); db != "" && db != DB {
		notFoundHTML(w, notFoundNoDB)
		return
	}
	j2err := func(status int, name, msg string, args []any) {
		if args == nil {
			args = []any{msg}
		}
		writeJSON(w, status, map[string]any{"name": name, "message": msg, "arguments": args, "context": map[string]any{},
			"debug": "Traceback (most recent call last):\n  File \"odoo/http.py\", line 1\n" + name + ": " + msg})
	}
	httpErr := func(status int, name, msg string) { j2err(status, name, msg, []any{msg, status}) }
	h := r.Header.Get("Authorization")
	if !strings.EqualFold(strings.SplitN(h, " ", 2)[0], "bearer") || !strings.HasSuffix(h, " "+APIKey) {
		httpErr(401, "werkzeug.exceptions.Unauthorized", "Invalid apikey")
		return
	}
	params := map[string]any{}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(r.Body).Decode(&params); err != nil {
			httpErr(400, "werkzeug.exceptions.BadRequest", "could not parse the body as json: "+err.Error())
			return
		}
	}
	model, method := r.PathValue("model"), r.PathValue("method")
	if model == "res.users" && method == "context_get" {
		writeJSON(w, 200, map[string]any{"lang": "en_US", "tz": "UTC", "uid": AdminUID})
		return
	}
	s.mu.Lock()
	_, haveModel := s.models[model]
	custom := s.methods[model+" "+method] != nil
	s.mu.Unlock()
	if !haveModel {
		httpErr(404, "werkzeug.exceptions.NotFound", fmt.Sprintf("the model %s does not exist", pyRepr(model)))
		return
	}
	sg, known := sigs[method]
	if !known && !custom {
		httpErr(404, "werkzeug.exceptions.NotFound", fmt.Sprintf("The method '%s.%s' does not exist", model, method))
		return
	}
	s.mu.Lock()
	priv := s.private(model, method)
	s.mu.Unlock()
	if priv != nil {
		j2err(403, priv.Name, priv.Message, nil)
		return
	}
	ids, hasIDs := params["ids"]
	delete(params, "ids")
	delete(params, "context")
	if l, ok := ids.([]any); hasIDs && ok && len(l) == 0 {
		hasIDs = false
	}
	if known && sg.model && hasIDs {
		httpErr(422, "werkzeug.exceptions.UnprocessableEntity", fmt.Sprintf("cannot call %s.%s with ids", model, method))
		return
	}
	if known {
		if _, e := bind(method, sg, nil, params); e != nil {
			msg := strings.TrimPrefix(e.Message, "BaseModel."+method+"() ")
			if strings.HasPrefix(msg, "missing 1 required positional argument: ") {
				msg = "missing a required argument: " + strings.TrimPrefix(msg, "missing 1 required positional argument: ")
			}
			httpErr(422, "werkzeug.exceptions.UnprocessableEntity", msg)
			return
		}
	}
	var args []any
	if !(known && sg.model) {
		if ids == nil {
			ids = []any{}
		}
		args = []any{ids}
	}
	res, e := s.execute(model, method, args, params)
	if e != nil && e.Name == "builtins.TypeError" {
		// a missing or unexpected argument: json2.py's signature.bind
		// refuses it before the call
		httpErr(422, "werkzeug.exceptions.UnprocessableEntity", e.Message)
		return
	}
	if e != nil {
		status := 500
		switch e.Name {
		case "odoo.exceptions.UserError", "odoo.exceptions.ValidationError":
			status = 422
		case "odoo.exceptions.AccessDenied", "odoo.exceptions.AccessError":
			status = 403
		case "odoo.exceptions.MissingError":
			status = 404
		}
		j2err(status, e.Name, e.Message, nil)
		return
	}
	switch method {
	case "create", "copy", "message_post": // recordsets: their ids
		if id, ok := res.(int); ok {
			res = []int{id}
		}
	}
	writeJSON(w, 200, res)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func copyRec(r Record) Record {
	out := make(Record, len(r))
	for k, v := range r {
		out[k] = v
	}
	return out
}
