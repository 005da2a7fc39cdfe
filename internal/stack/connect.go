package stack

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/outbound"
)

// ConnectOptions are the inputs of Connect.
type ConnectOptions struct {
	Dir string
	// URLs replaces the base URL of a service (mattermost, focalboard, n8n,
	// odoo-<edition>); default: its public name, as Caddy serves it.
	URLs map[string]string
	// HTTP is the client to use (nil: one through the outbound guard,
	// allowed exactly the services' URLs).
	HTTP *http.Client
}

// ConnectResult says what Connect did for one secret. It never holds the
// secret's value.
type ConnectResult struct {
	Service string
	Key     string // the docker/.env variable
	Action  string // created, kept (already set), ok (nothing to store), failed
	Detail  string
}

// Connect creates the secrets a stack's services make only once they run
// (Mattermost bot token, n8n API key, each Odoo edition's API key; and the
// Focalboard user the hub logs in as), through the services' APIs, and
// writes them into docker/.env (mode 0600). Secrets already set are kept.
// A failure of one service does not stop the others.
func Connect(ctx context.Context, opts ConnectOptions) ([]ConnectResult, error) {
	if opts.Dir == "" {
		return nil, errors.New("--dir is required: the directory of the deployment")
	}
	d, err := LoadDeployment(opts.Dir)
	if err != nil {
		return nil, err
	}
	data, err := d.Data()
	if err != nil {
		return nil, err
	}
	env, err := ReadEnv(opts.Dir)
	if err != nil {
		return nil, err
	}
	urls := map[string]string{}
	for _, s := range data.Sites {
		urls[s.Name] = "https://" + s.Host
	}
	for k, u := range opts.URLs {
		if _, ok := urls[k]; !ok || k == "hub" || k == "superset" || k == "keycloak" {
			return nil, fmt.Errorf("--url %s=…: not a service connect talks to; use mattermost, focalboard, n8n or odoo-<edition>", k)
		}
		urls[k] = strings.TrimRight(u, "/")
	}
	hc := opts.HTTP
	if hc == nil {
		var all []string
		for _, u := range urls {
			all = append(all, u)
		}
		hc = outbound.ClientFor(nil, outbound.Options{Timeout: time.Minute}, all...)
	}
	c := connector{hc: hc}
	var out []ConnectResult
	step := func(service, key string, make func() (string, error)) {
		r := ConnectResult{Service: service, Key: key}
		switch {
		case key != "" && env[key] != "":
			r.Action, r.Detail = "kept", "already set in "+EnvFile
		default:
			v, err := make()
			switch {
			case err != nil:
				r.Action, r.Detail = "failed", err.Error()
			case key == "":
				r.Action, r.Detail = "ok", "user ready"
			default:
				if err := SetEnv(opts.Dir, key, v); err != nil {
					r.Action, r.Detail = "failed", err.Error()
				} else {
					env[key] = v
					r.Action = "created"
				}
			}
		}
		out = append(out, r)
	}
	step("focalboard", "", func() (string, error) {
		return "", c.focalboardUser(ctx, urls["focalboard"], env["FOCALBOARD_USER"], env["FOCALBOARD_PASSWORD"], "ipai@"+d.Domain)
	})
	step("mattermost", "MATTERMOST_BOT_TOKEN", func() (string, error) {
		return c.mattermostBotToken(ctx, urls["mattermost"], env["MATTERMOST_ADMIN_USER"], env["MATTERMOST_ADMIN_PASSWORD"], "admin@"+d.Domain)
	})
	step("n8n", "N8N_API_KEY", func() (string, error) {
		return c.n8nAPIKey(ctx, urls["n8n"], env["N8N_OWNER_EMAIL"], env["N8N_OWNER_PASSWORD"])
	})
	for _, e := range data.Editions {
		pw := env[strings.ToUpper(e.DB)+"_ADMIN_PASSWORD"]
		if pw == "" {
			pw = "admin" // a fresh database's admin password
		}
		step(e.Service, e.APIKeyVar, func() (string, error) {
			return c.odooAPIKey(ctx, urls[e.Service], e.DB, "admin", pw)
		})
	}
	return out, nil
}

// SetEnv sets key to value in the deployment's docker/.env, keeping every
// other line and the file private (0600).
func SetEnv(dir, key, value string) error {
	path := Abs(dir, EnvFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	done := false
	for i, l := range lines {
		if strings.HasPrefix(l, key+"=") {
			lines[i], done = key+"="+value, true
		}
	}
	if !done {
		lines = append(lines, key+"="+value)
	}
	return writeAtomic(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
}

type connector struct{ hc *http.Client }

// call sends a JSON request and decodes a JSON answer into out (nil: any);
// it returns the status and headers. Non-2xx answers are errors that carry
// the service's message, never a secret of the request.
func (c connector) call(ctx context.Context, hc *http.Client, method, url string, hdr map[string]string, in, out any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		msg := strings.TrimSpace(string(b))
		var e struct{ Message, Error string }
		if json.Unmarshal(b, &e) == nil && e.Message+e.Error != "" {
			msg = strings.TrimSpace(e.Message + " " + e.Error)
		}
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return resp, &statusError{status: resp.StatusCode, msg: fmt.Sprintf("%s %s: %d %s", method, req.URL.Path, resp.StatusCode, msg)}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp, fmt.Errorf("%s %s: answer is not the expected JSON: %w", method, req.URL.Path, err)
		}
	}
	return resp, nil
}

type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string { return e.msg }

func status(err error) int {
	var se *statusError
	if errors.As(err, &se) {
		return se.status
	}
	return 0
}

// withJar returns a client like c's that keeps cookies (a session).
func (c connector) withJar() *http.Client {
	jar, _ := cookiejar.New(nil)
	hc := *c.hc
	hc.Jar = jar
	return &hc
}

// focalboardUser makes sure the hub's Focalboard user exists: it logs in,
// and registers the user when the login is refused (a standalone server
// lets its first user register without a sign-up token).
func (c connector) focalboardUser(ctx context.Context, base, user, pw, email string) error {
	if user == "" || pw == "" {
		return errors.New("FOCALBOARD_USER and FOCALBOARD_PASSWORD must be set in " + EnvFile + " (run `ipai stack init`)")
	}
	h := map[string]string{"X-Requested-With": "XMLHttpRequest"}
	login := map[string]string{"type": "normal", "username": user, "password": pw}
	if _, err := c.call(ctx, c.hc, "POST", base+"/api/v2/login", h, login, nil); err == nil {
		return nil
	} else if status(err) != http.StatusUnauthorized {
		return err
	}
	if _, err := c.call(ctx, c.hc, "POST", base+"/api/v2/register", h,
		map[string]string{"username": user, "email": email, "password": pw}, nil); err != nil {
		return fmt.Errorf("register Focalboard user %s: %w (if other users exist, register it with a sign-up link, or set FOCALBOARD_USER/FOCALBOARD_PASSWORD to an existing user)", user, err)
	}
	if _, err := c.call(ctx, c.hc, "POST", base+"/api/v2/login", h, login, nil); err != nil {
		return fmt.Errorf("log in as the new Focalboard user %s: %w", user, err)
	}
	return nil
}

// mattermostBotToken logs in as the stack's admin (creating it as the
// server's first user, who becomes system admin, when it does not exist),
// makes the bot "ipai" (or finds it) and creates a personal access token
// for it.
func (c connector) mattermostBotToken(ctx context.Context, base, admin, pw, email string) (string, error) {
	if admin == "" || pw == "" {
		return "", errors.New("MATTERMOST_ADMIN_USER and MATTERMOST_ADMIN_PASSWORD must be set in " + EnvFile + " (run `ipai stack init`)")
	}
	login := func() (string, error) {
		resp, err := c.call(ctx, c.hc, "POST", base+"/api/v4/users/login", nil, map[string]string{"login_id": admin, "password": pw}, nil)
		if err != nil {
			return "", err
		}
		if t := resp.Header.Get("Token"); t != "" {
			return t, nil
		}
		return "", errors.New("mattermost login answered without a Token header")
	}
	tok, err := login()
	if status(err) == http.StatusUnauthorized {
		if _, err := c.call(ctx, c.hc, "POST", base+"/api/v4/users", nil,
			map[string]string{"username": admin, "email": email, "password": pw}, nil); err != nil {
			return "", fmt.Errorf("create Mattermost admin %s: %w", admin, err)
		}
		tok, err = login()
	}
	if err != nil {
		return "", fmt.Errorf("log in to Mattermost as %s: %w", admin, err)
	}
	auth := map[string]string{"Authorization": "Bearer " + tok}
	var bot struct {
		UserID string `json:"user_id"`
	}
	_, err = c.call(ctx, c.hc, "POST", base+"/api/v4/bots", auth,
		map[string]string{"username": "ipai", "display_name": "ipai", "description": "The ipai hub"}, &bot)
	if status(err) == http.StatusBadRequest { // the name is taken: the bot of an earlier run
		var u struct {
			ID string `json:"id"`
		}
		if _, err2 := c.call(ctx, c.hc, "GET", base+"/api/v4/users/username/ipai", auth, nil, &u); err2 != nil {
			return "", fmt.Errorf("create the Mattermost bot ipai: %w", err)
		}
		bot.UserID, err = u.ID, nil
	}
	if err != nil {
		return "", fmt.Errorf("create the Mattermost bot ipai (needs ServiceSettings.EnableBotAccountCreation): %w", err)
	}
	var pat struct {
		Token string `json:"token"`
	}
	if _, err := c.call(ctx, c.hc, "POST", base+"/api/v4/users/"+bot.UserID+"/tokens", auth,
		map[string]string{"description": "ipai hub"}, &pat); err != nil {
		return "", fmt.Errorf("create the bot's access token (needs ServiceSettings.EnableUserAccessTokens): %w", err)
	}
	if pat.Token == "" {
		return "", errors.New("mattermost answered the token request without a token")
	}
	return pat.Token, nil
}

// n8nAPIKey sets up n8n's owner (once), logs in as the owner and creates an
// API key with every scope the server offers.
func (c connector) n8nAPIKey(ctx context.Context, base, email, pw string) (string, error) {
	if email == "" || pw == "" {
		return "", errors.New("N8N_OWNER_EMAIL and N8N_OWNER_PASSWORD must be set in " + EnvFile + " (run `ipai stack init`)")
	}
	hc := c.withJar()
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := map[string]string{"browser-id": hex.EncodeToString(b)}
	_, err := c.call(ctx, hc, "POST", base+"/rest/owner/setup", h,
		map[string]string{"email": email, "firstName": "ipai", "lastName": "Admin", "password": pw}, nil)
	if err != nil && status(err) != http.StatusBadRequest { // 400: the owner exists
		return "", fmt.Errorf("set up the n8n owner: %w", err)
	}
	if _, err := c.call(ctx, hc, "POST", base+"/rest/login", h,
		map[string]string{"emailOrLdapLoginId": email, "password": pw}, nil); err != nil {
		return "", fmt.Errorf("log in to n8n as %s: %w", email, err)
	}
	var scopes struct {
		Data []string `json:"data"`
	}
	if _, err := c.call(ctx, hc, "GET", base+"/rest/api-keys/scopes", h, nil, &scopes); err != nil {
		return "", err
	}
	var key struct {
		Data struct {
			RawAPIKey string `json:"rawApiKey"`
		} `json:"data"`
	}
	if _, err := c.call(ctx, hc, "POST", base+"/rest/api-keys", h,
		map[string]any{"label": "ipai hub " + time.Now().UTC().Format("2006-01-02 15:04"), "scopes": scopes.Data, "expiresAt": nil}, &key); err != nil {
		return "", err
	}
	if key.Data.RawAPIKey == "" {
		return "", errors.New("n8n answered without data.rawApiKey")
	}
	return key.Data.RawAPIKey, nil
}

// odooAPIKey creates a persistent API key for login on database db as
// Odoo's web client does: a session, the key wizard
// (res.users.apikeys.description), whose make_key asks for the password
// again (res.users.identitycheck), and run_check, which answers the key.
// Odoo 18 checks the password written on the identity check, Odoo 19 the
// one in run_check's context (recorded: testdata/odoo18_apikey.json,
// odoo19_apikey.json); both are given.
func (c connector) odooAPIKey(ctx context.Context, base, db, login, pw string) (string, error) {
	hc := c.withJar()
	rpc := func(path string, params map[string]any, out any) error {
		var ans struct {
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
				Data    struct {
					Name    string `json:"name"`
					Message string `json:"message"`
				} `json:"data"`
			} `json:"error"`
		}
		if _, err := c.call(ctx, hc, "POST", base+path, nil, map[string]any{"jsonrpc": "2.0", "method": "call", "params": params}, &ans); err != nil {
			return err
		}
		if ans.Error != nil {
			return fmt.Errorf("%s: %s: %s", path, ans.Error.Data.Name, cmp.Or(ans.Error.Data.Message, ans.Error.Message))
		}
		if out != nil {
			return json.Unmarshal(ans.Result, out)
		}
		return nil
	}
	kw := func(model, method string, args ...any) map[string]any {
		return map[string]any{"model": model, "method": method, "args": args, "kwargs": map[string]any{}}
	}
	var sess struct {
		UID int `json:"uid"`
	}
	err := rpc("/web/session/authenticate", map[string]any{"db": db, "login": login, "password": pw}, &sess)
	if err == nil && sess.UID == 0 {
		err = errors.New("login refused")
	}
	if err != nil {
		return "", fmt.Errorf("log in to Odoo database %s as %s (set %s_ADMIN_PASSWORD in %s if you changed it): %v",
			db, login, strings.ToUpper(db), EnvFile, err)
	}
	var wiz int
	if err := rpc("/web/dataset/call_kw", kw("res.users.apikeys.description", "create",
		map[string]any{"name": "ipai hub", "duration": "0"}), &wiz); err != nil {
		return "", err
	}
	var check struct {
		ResModel string `json:"res_model"`
		ResID    int    `json:"res_id"`
	}
	if err := rpc("/web/dataset/call_kw", kw("res.users.apikeys.description", "make_key", []int{wiz}), &check); err != nil {
		return "", err
	}
	if check.ResModel != "res.users.identitycheck" || check.ResID == 0 {
		return "", fmt.Errorf("odoo's make_key answered %q, not the identity check", check.ResModel)
	}
	if err := rpc("/web/dataset/call_kw", kw("res.users.identitycheck", "write", []int{check.ResID}, map[string]any{"password": pw}), nil); err != nil {
		return "", err
	}
	var shown struct {
		Context struct {
			DefaultKey string `json:"default_key"`
		} `json:"context"`
	}
	runCheck := kw("res.users.identitycheck", "run_check", []int{check.ResID})
	runCheck["kwargs"] = map[string]any{"context": map[string]any{"password": pw}} // where Odoo 19 reads it
	if err := rpc("/web/dataset/call_kw", runCheck, &shown); err != nil {
		return "", err
	}
	if shown.Context.DefaultKey == "" {
		return "", errors.New("odoo's identity check answered no key")
	}
	return shown.Context.DefaultKey, nil
}
