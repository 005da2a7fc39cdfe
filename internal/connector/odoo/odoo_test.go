package odoo_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/connector/connectortest"
	"github.com/insightpulseai/ipai/internal/connector/odoo"
	fake "github.com/insightpulseai/ipai/internal/fake/odoo"
)

func start(t *testing.T) connectortest.Fake {
	s := fake.New()
	t.Cleanup(s.Close)
	return connectortest.Fake{
		Config: connector.Config{Type: "odoo", BaseURL: s.URL,
			Settings: map[string]string{"database": fake.DB, "login": fake.Login},
			Secrets:  map[string]string{"api_key": fake.APIKey}},
		Knobs:          &s.Knobs,
		WrongVersion:   func() { s.SetSerie("16.0") },
		BadCredentials: connectortest.WithSecret("api_key", "wrong"),
		ErrorBody:      "Service Unavailable",
	}
}

func TestConnection(t *testing.T) { connectortest.Run(t, start) }

func TestConnectionJSON2(t *testing.T) {
	s := fake.New()
	defer s.Close()
	s.SetSerie("19.0")
	cfg := connector.Config{Type: "odoo", BaseURL: s.URL,
		Settings: map[string]string{"database": fake.DB, "login": fake.Login}, Secrets: map[string]string{"api_key": fake.APIKey}}
	c, _ := connector.New(cfg, nil)
	r := connector.Test(context.Background(), c, 0)
	if !r.OK || r.Version != "19.0" {
		t.Fatalf("Odoo 19 test = %+v", r)
	}
	cfg.Secrets["api_key"] = "bad"
	c, _ = connector.New(cfg, nil)
	r = connector.Test(context.Background(), c, 0)
	var se *connector.ServiceError
	if r.OK || !errors.As(r.Err, &se) || se.Status != 401 || se.Message != "Invalid apikey" {
		t.Fatalf("Odoo 19 bad key = %+v (%v)", r, r.Err)
	}
}

func TestAuthenticateFalseIsAuthError(t *testing.T) {
	s := fake.New()
	defer s.Close()
	c := odoo.New(s.URL, fake.DB, fake.Login, "wrong", nil)
	_, err := c.Authenticate(context.Background())
	if !errors.Is(err, connector.ErrAuth) || errors.Is(err, connector.ErrMalformed) {
		t.Fatalf("Authenticate with a bad key: %v", err)
	}
}

func TestClient(t *testing.T) {
	s := fake.New()
	defer s.Close()
	ctx := context.Background()
	c := odoo.New(s.URL, fake.DB, fake.Login, fake.Password, nil)
	v, err := c.Version(ctx)
	if err != nil || v.ServerSerie != "18.0" || v.ProtocolVersion != 1 {
		t.Fatalf("Version = %+v, %v", v, err)
	}
	var partners []struct {
		ID        int    `json:"id"`
		Name      string `json:"name"`
		WriteDate string `json:"write_date"`
	}
	err = c.SearchRead(ctx, "res.partner", []any{[]any{"is_company", "=", true}}, map[string]any{"fields": []string{"name", "write_date"}, "order": "name asc"}, &partners)
	if err != nil || len(partners) != 2 || partners[0].Name != "Azure Interior" || partners[0].WriteDate == "" {
		t.Fatalf("SearchRead = %+v, %v", partners, err)
	}
	id, err := c.Create(ctx, "res.partner", map[string]any{"name": "New Co", "is_company": true})
	if err != nil || id == 0 {
		t.Fatalf("Create = %d, %v", id, err)
	}
	if err := c.Write(ctx, "res.partner", []int{id}, map[string]any{"email": "new@example.com"}); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := c.Read(ctx, "res.partner", []int{id}, []string{"email", "phone"}, &rows); err != nil || rows[0]["email"] != "new@example.com" || rows[0]["phone"] != false {
		t.Fatalf("Read = %v, %v", rows, err)
	}
	n, err := c.SearchCount(ctx, "res.partner", []any{"|", []any{"name", "ilike", "new"}, []any{"name", "ilike", "deco"}})
	if err != nil || n != 2 {
		t.Fatalf("SearchCount with | = %d, %v", n, err)
	}
	fields, err := c.FieldsGet(ctx, "res.partner")
	if err != nil || fields["name"].Type != "char" {
		t.Fatalf("FieldsGet = %v, %v", fields, err)
	}
	err = c.Write(ctx, "res.partner", []int{999}, map[string]any{"name": "x"})
	var se *connector.ServiceError
	if !errors.As(err, &se) || se.Code != "odoo.exceptions.MissingError" || se.Status != 200 {
		t.Fatalf("write of a missing record: %v", err)
	}
	_, err = c.Search(ctx, "no.such.model", nil, nil)
	if !errors.As(err, &se) || se.Code != "odoo.exceptions.UserError" || !odoo.IsUnknownModel(err) {
		t.Fatalf("unknown model: %v", err)
	}
}

func TestClientJSON2(t *testing.T) {
	s := fake.New()
	defer s.Close()
	s.SetSerie("19.0")
	ctx := context.Background()
	c := odoo.New(s.URL, fake.DB, fake.Login, fake.APIKey, nil)
	if _, err := c.Version(ctx); err != nil {
		t.Fatal(err)
	}
	id, err := c.Create(ctx, "res.partner", map[string]any{"name": "J2"})
	if err != nil || id == 0 {
		t.Fatalf("JSON-2 create = %d, %v", id, err)
	}
	var rows []map[string]any
	if err := c.SearchRead(ctx, "res.partner", []any{[]any{"name", "=", "J2"}}, map[string]any{"fields": []string{"name"}}, &rows); err != nil || len(rows) != 1 {
		t.Fatalf("JSON-2 search_read = %v, %v", rows, err)
	}
}

// pathLog counts the paths a client requests.
type pathLog struct {
	mu    sync.Mutex
	paths []string
}

func (l *pathLog) RoundTrip(r *http.Request) (*http.Response, error) {
	l.mu.Lock()
	l.paths = append(l.paths, r.Method+" "+r.URL.Path)
	l.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (l *pathLog) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, p := range l.paths {
		if strings.HasPrefix(p, prefix) {
			n++
		}
	}
	return n
}

// A method returning None (action_archive, button_cancel) is a success:
// Odoo's JSON-RPC answer then has neither "result" nor "error".
func TestNoneResultIsSuccess(t *testing.T) {
	s := fake.New()
	defer s.Close()
	ctx := context.Background()
	c := odoo.New(s.URL, fake.DB, fake.Login, fake.APIKey, nil)
	id, err := c.Create(ctx, "res.partner", map[string]any{"name": "To archive", "active": true})
	if err != nil {
		t.Fatal(err)
	}
	// The fake answers as Odoo 18 does: no "result" key at all.
	body := `{"jsonrpc":"2.0","method":"call","id":7,"params":{"service":"object","method":"execute_kw","args":["odoo",2,"` +
		fake.APIKey + `","res.partner","action_archive",[[` + strconv.Itoa(id) + `]],{}]}}`
	resp, err := http.Post(s.URL+"/jsonrpc", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&raw)
	resp.Body.Close()
	if _, has := raw["result"]; has || raw["error"] != nil {
		t.Fatalf("fake answered %v, Odoo 18 omits result for None", raw)
	}
	var res any = "unset"
	if err := c.ExecuteKW(ctx, "res.partner", "action_unarchive", []any{[]int{id}}, nil, &res); err != nil || res != nil {
		t.Fatalf("action_unarchive (returns None) = %v, %v; want nil result, no error", res, err)
	}
	if err := c.ExecuteKW(ctx, "res.partner", "action_archive", []any{[]int{id}}, nil, nil); err != nil {
		t.Fatalf("action_archive: %v", err)
	}
	if recs := s.Records("res.partner"); recs[len(recs)-1]["active"] != false {
		t.Fatalf("record not archived: %v", recs[len(recs)-1])
	}
}

func newJSON2(t *testing.T) (*fake.Server, *odoo.Client, *pathLog) {
	s := fake.New()
	t.Cleanup(s.Close)
	s.SetSerie("19.0")
	log := &pathLog{}
	c := odoo.New(s.URL, fake.DB, fake.Login, fake.APIKey, &http.Client{Transport: log})
	if _, err := c.Version(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, c, log
}

// On JSON-2 every positional argument reaches Odoo under its parameter's
// name, or the call is refused; none is dropped.
func TestJSON2PositionalArgs(t *testing.T) {
	s, c, log := newJSON2(t)
	ctx := context.Background()
	id, err := c.Create(ctx, "res.partner", map[string]any{"name": "Acme Source", "email": "src@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := c.ExecuteKW(ctx, "res.partner", "read", []any{[]int{id}, []string{"name"}}, nil, &rows); err != nil ||
		len(rows) != 1 || len(rows[0]) != 2 || rows[0]["name"] != "Acme Source" {
		t.Fatalf("read [[id],[name]] = %v, %v; want only id and name", rows, err)
	}
	var cp any
	if err := c.ExecuteKW(ctx, "res.partner", "copy", []any{[]int{id}, map[string]any{"name": "Acme Copy"}}, nil, &cp); err != nil {
		t.Fatal(err)
	}
	recs := s.Records("res.partner")
	if last := recs[len(recs)-1]; last["name"] != "Acme Copy" || last["email"] != "src@example.com" {
		t.Fatalf("copy with a positional default made %v", last)
	}
	var found [][]any
	if err := c.ExecuteKW(ctx, "res.partner", "name_search", []any{"Acme"}, map[string]any{"limit": 5}, &found); err != nil || len(found) != 2 {
		t.Fatalf("name_search [Acme] (an @api.model method) = %v, %v", found, err)
	}
	var created []any
	if err := c.ExecuteKW(ctx, "res.partner", "name_create", []any{"Made By Name"}, nil, &created); err != nil || len(created) != 2 || created[1] != "Made By Name" {
		t.Fatalf("name_create = %v, %v", created, err)
	}
	var defaults map[string]any
	if err := c.ExecuteKW(ctx, "res.partner", "default_get", []any{[]string{"name"}}, nil, &defaults); err != nil {
		t.Fatalf("default_get [[name]]: %v", err)
	}
	// res.users.has_group(group_ext_id), as chatops approvals call it.
	s.EnablePurchase()
	uid := s.Add("res.users", fake.Record{"name": "Approver", "login": "approver", "groups": []any{"purchase.group_purchase_manager"}})
	var ok bool
	if err := c.ExecuteKW(ctx, "res.users", "has_group", []any{[]any{uid}, "purchase.group_purchase_manager"}, nil, &ok); err != nil || !ok {
		t.Fatalf("has_group [[uid], group] = %v, %v", ok, err)
	}
	// ids given twice, or an argument ipai cannot name: refused before
	// anything is sent.
	before := log.count("POST /json/2/")
	err = c.ExecuteKW(ctx, "res.partner", "read", []any{[]int{id}}, map[string]any{"ids": []int{1}}, nil)
	if !errors.Is(err, odoo.ErrPositional) {
		t.Fatalf("ids twice: %v", err)
	}
	err = c.ExecuteKW(ctx, "res.partner", "read", []any{[]int{id}, []string{"name"}}, map[string]any{"fields": []string{"email"}}, nil)
	if !errors.Is(err, odoo.ErrPositional) || !strings.Contains(err.Error(), `"fields"`) {
		t.Fatalf("fields twice: %v", err)
	}
	err = c.ExecuteKW(ctx, "res.partner", "action_custom", []any{[]int{id}, "extra"}, nil, nil)
	if !errors.Is(err, odoo.ErrPositional) || !strings.Contains(err.Error(), "kwargs") || !strings.Contains(err.Error(), `"extra"`) {
		t.Fatalf("unknown method with a second positional argument: %v", err)
	}
	err = c.ExecuteKW(ctx, "res.partner", "message_post", []any{[]int{id}, "hello"}, nil, nil)
	if !errors.Is(err, odoo.ErrPositional) {
		t.Fatalf("message_post takes keyword-only arguments: %v", err)
	}
	if n := log.count("POST /json/2/"); n != before {
		t.Fatalf("%d refused calls reached Odoo", n-before)
	}
}

// message_post answers the new message's ids on JSON-2 ([57]) and its id on
// JSON-RPC (57): both are the message id.
func TestMessagePost(t *testing.T) {
	for _, serie := range []string{"18.0", "19.0"} {
		s := fake.New()
		s.SetSerie(serie)
		c := odoo.New(s.URL, fake.DB, fake.Login, fake.APIKey, nil)
		ctx := context.Background()
		if _, err := c.Version(ctx); err != nil {
			t.Fatal(err)
		}
		id, err := c.MessagePost(ctx, "res.partner", 1, map[string]any{"body": "note", "message_type": "comment"})
		msgs := s.Records("mail.message")
		if err != nil || len(msgs) != 1 || id != msgs[0]["id"] {
			t.Fatalf("%s: message_post = %d, %v (messages %v)", serie, id, err, msgs)
		}
		s.Close()
	}
}

// Odoo 19 answers GET /web/version; the client learns the series there and
// never calls /jsonrpc (deprecated in 19, removed in 20). Odoo 18 has no
// /web/version: the client falls back to common.version.
func TestVersionWithoutJSONRPC(t *testing.T) {
	_, c, log := newJSON2(t)
	if log.count("POST /jsonrpc") != 0 || log.count("GET /web/version") != 1 {
		t.Fatalf("Odoo 19 version check requested %v", log.paths)
	}
	p := &connector.Probe{}
	c.Test(context.Background(), p)
	if log.count("POST /jsonrpc") != 0 {
		t.Fatalf("Odoo 19 connection test used /jsonrpc: %v", log.paths)
	}
	// A client used without calling Version (rule actions, approvals)
	// learns the series on its first call and goes JSON-2 too.
	s19 := fake.New()
	defer s19.Close()
	s19.SetSerie("19.0")
	log19 := &pathLog{}
	fresh := odoo.New(s19.URL, fake.DB, fake.Login, fake.APIKey, &http.Client{Transport: log19})
	if n, err := fresh.SearchCount(context.Background(), "res.partner", nil); err != nil || n != 2 {
		t.Fatalf("search_count = %d, %v", n, err)
	}
	if log19.count("POST /jsonrpc") != 0 || log19.count("POST /json/2/res.partner/search_count") != 1 {
		t.Fatalf("a fresh client on Odoo 19 requested %v", log19.paths)
	}
	s18 := fake.New()
	defer s18.Close()
	c18 := odoo.New(s18.URL, fake.DB, fake.Login, fake.APIKey, nil)
	v, err := c18.Version(context.Background())
	if err != nil || v.ServerSerie != "18.0" {
		t.Fatalf("Odoo 18 version = %+v, %v", v, err)
	}
}

// A wrong database name on JSON-2 is said to be one (Odoo answers its
// "No database is selected" 404 page).
func TestJSON2WrongDatabase(t *testing.T) {
	s := fake.New()
	defer s.Close()
	s.SetSerie("19.0")
	cfg := connector.Config{Type: "odoo", BaseURL: s.URL,
		Settings: map[string]string{"database": "nope", "login": fake.Login}, Secrets: map[string]string{"api_key": fake.APIKey}}
	cn, _ := connector.New(cfg, nil)
	r := connector.Test(context.Background(), cn, 0)
	if r.OK || !strings.Contains(r.Error(), `database "nope" was not found`) {
		t.Fatalf("wrong database: %+v (%s)", r, r.Error())
	}
}

// An unknown model is recognised on both APIs.
func TestUnknownModel(t *testing.T) {
	_, c, _ := newJSON2(t)
	_, err := c.Search(context.Background(), "no.such.model", nil, nil)
	var se *connector.ServiceError
	if !errors.As(err, &se) || se.Status != 404 || !odoo.IsUnknownModel(err) {
		t.Fatalf("JSON-2 unknown model: %v", err)
	}
}
