package keycloak

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// OIDC is a fake of Keycloak's OpenID Connect provider side for a browser
// sign-in (shared/reference/apis.md §6): realm discovery, the authorization
// endpoint with Keycloak's login form and its SSO session (a second sign-in
// passes without the form until RP-initiated logout ends the session), the token endpoint for the
// authorization_code grant (PKCE S256 required, as on a client with "Proof
// Key for Code Exchange" set), and the JWKS with the RS256 signing key.
// ID tokens carry iss, sub, aud, azp, exp, iat, auth_time, nonce,
// sid, preferred_username, email, name, and realm_access.roles only for a
// client with RealmRolesInIDToken (the access token always has them).
type OIDC struct {
	*httptest.Server

	key    *rsa.PrivateKey
	encKey *rsa.PrivateKey
	kid    string

	mu       sync.Mutex
	clients  map[string]OIDCClient
	users    map[string]OIDCUser
	codes    map[string]codeGrant
	sessions map[string]string // SSO session id (KEYCLOAK_SESSION cookie) → username
	// NonceOverride, when set, is put in ID tokens instead of the nonce the
	// client sent (to test that clients check it).
	NonceOverride string
	// Issued counts the ID tokens issued.
	Issued int
}

// OIDCClient is a registered confidential client.
type OIDCClient struct {
	Secret       string
	RedirectURIs []string
	// PostLogoutRedirectURIs are the "Valid post logout redirect URIs"
	// (attribute post.logout.redirect.uris).
	PostLogoutRedirectURIs []string
	// RealmRolesInIDToken puts realm_access.roles in the ID token, as the
	// "realm roles in ID token" mapper of the realm `ipai stack init` writes
	// does. Without it, as on the real Keycloak 26.7 whose built-in "roles"
	// scope maps realm roles into the access token only, the ID token has
	// no realm_access.
	RealmRolesInIDToken bool
}

// OIDCUser is a realm user.
type OIDCUser struct {
	Username, Password, Email, Name string
	Subject                         string // default: a UUID-like id from the username
	RealmRoles                      []string
}

type codeGrant struct {
	client, redirect, nonce, challenge, session string
	user                                        OIDCUser
	exp                                         time.Time
}

// NewOIDC starts the provider with realm "ipai" and no clients or users.
func NewOIDC() *OIDC {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	encKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	o := &OIDC{key: key, encKey: encKey, kid: hex.EncodeToString(b), clients: map[string]OIDCClient{}, users: map[string]OIDCUser{}, codes: map[string]codeGrant{}, sessions: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /realms/{realm}/.well-known/openid-configuration", o.discovery)
	mux.HandleFunc("GET /realms/{realm}/protocol/openid-connect/auth", o.authorize)
	mux.HandleFunc("POST /realms/{realm}/protocol/openid-connect/auth", o.authorize)
	mux.HandleFunc("POST /realms/{realm}/protocol/openid-connect/token", o.token)
	mux.HandleFunc("GET /realms/{realm}/protocol/openid-connect/certs", o.certs)
	mux.HandleFunc("GET /realms/{realm}/protocol/openid-connect/logout", o.logout)
	o.Server = httptest.NewServer(mux)
	return o
}

// Issuer is the realm's issuer URL.
func (o *OIDC) Issuer() string { return o.URL + "/realms/" + Realm }

// AddClient registers a confidential client.
func (o *OIDC) AddClient(id string, c OIDCClient) { o.mu.Lock(); o.clients[id] = c; o.mu.Unlock() }

// AddUser adds a realm user.
func (o *OIDC) AddUser(u OIDCUser) {
	if u.Subject == "" {
		sum := sha256.Sum256([]byte(u.Username))
		h := hex.EncodeToString(sum[:16])
		u.Subject = h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	}
	o.mu.Lock()
	o.users[u.Username] = u
	o.mu.Unlock()
}

func (o *OIDC) realmOK(w http.ResponseWriter, r *http.Request) bool {
	if r.PathValue("realm") != Realm {
		writeJSON(w, 404, map[string]string{"error": "Realm does not exist"})
		return false
	}
	return true
}

func (o *OIDC) discovery(w http.ResponseWriter, r *http.Request) {
	if !o.realmOK(w, r) {
		return
	}
	writeJSON(w, 200, discoveryFor(o.URL, Realm))
}

var loginForm = template.Must(template.New("login").Parse(`<!doctype html><html><head><title>Sign in to ipai</title></head>
<body><div id="kc-form"><h1 id="kc-page-title">Sign in to your account</h1>
{{with .Error}}<span id="input-error" class="kc-feedback-text">{{.}}</span>{{end}}
<form id="kc-form-login" method="post" action="">
{{range $k, $v := .Hidden}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
<label for="username">Username or email</label><input id="username" name="username" type="text" autofocus>
<label for="password">Password</label><input id="password" name="password" type="password">
<input id="kc-login" name="login" type="submit" value="Sign In"></form></div></body></html>`))

// authorize shows the login form (GET) and, on valid credentials (POST),
// redirects back with a one-time code.
func (o *OIDC) authorize(w http.ResponseWriter, r *http.Request) {
	if !o.realmOK(w, r) {
		return
	}
	_ = r.ParseForm()
	q := r.Form
	o.mu.Lock()
	c, ok := o.clients[q.Get("client_id")]
	o.mu.Unlock()
	if !ok {
		http.Error(w, "Client not found.", http.StatusBadRequest)
		return
	}
	redirect := q.Get("redirect_uri")
	okRedirect := false
	for _, u := range c.RedirectURIs {
		okRedirect = okRedirect || u == redirect
	}
	if !okRedirect {
		http.Error(w, "Invalid parameter: redirect_uri", http.StatusBadRequest)
		return
	}
	back := func(params url.Values) {
		params.Set("iss", o.Issuer())
		if s := q.Get("state"); s != "" {
			params.Set("state", s)
		}
		http.Redirect(w, r, redirect+"?"+params.Encode(), http.StatusFound)
	}
	if q.Get("response_type") != "code" {
		back(url.Values{"error": {"unsupported_response_type"}})
		return
	}
	if !strings.Contains(" "+q.Get("scope")+" ", " openid ") {
		back(url.Values{"error": {"invalid_scope"}, "error_description": {"openid scope is required"}})
		return
	}
	if q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256" {
		back(url.Values{"error": {"invalid_request"}, "error_description": {"Missing parameter: code_challenge_method"}})
		return
	}
	hidden := map[string]string{}
	for _, k := range []string{"client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge", "code_challenge_method"} {
		hidden[k] = q.Get(k)
	}
	issue := func(u OIDCUser, session string) {
		code := random(24)
		o.mu.Lock()
		o.codes[code] = codeGrant{client: q.Get("client_id"), redirect: redirect, nonce: q.Get("nonce"),
			challenge: q.Get("code_challenge"), session: session, user: u, exp: time.Now().Add(time.Minute)}
		o.mu.Unlock()
		back(url.Values{"code": {code}, "session_state": {session}})
	}
	if r.Method == http.MethodGet {
		// A live SSO session signs in without the form, as Keycloak does.
		if ck, err := r.Cookie(sessionCookie); err == nil {
			o.mu.Lock()
			name, live := o.sessions[ck.Value]
			u := o.users[name]
			o.mu.Unlock()
			if live {
				issue(u, ck.Value)
				return
			}
		}
		w.Header().Set("Content-Type", "text/html;charset=utf-8")
		_ = loginForm.Execute(w, map[string]any{"Hidden": hidden})
		return
	}
	o.mu.Lock()
	u, known := o.users[r.PostForm.Get("username")]
	o.mu.Unlock()
	if !known || u.Password != r.PostForm.Get("password") {
		w.Header().Set("Content-Type", "text/html;charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_ = loginForm.Execute(w, map[string]any{"Hidden": hidden, "Error": "Invalid username or password."})
		return
	}
	session := random(16)
	o.mu.Lock()
	o.sessions[session] = u.Username
	o.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: session, Path: "/realms/" + Realm + "/", HttpOnly: true})
	issue(u, session)
}

// sessionCookie is Keycloak's SSO session cookie.
const sessionCookie = "KEYCLOAK_SESSION"

// Sessions counts the live SSO sessions.
func (o *OIDC) Sessions() int { o.mu.Lock(); defer o.mu.Unlock(); return len(o.sessions) }

// logout is RP-initiated logout: with a valid id_token_hint (and a
// post_logout_redirect_uri the client lists) it ends the token's SSO
// session and redirects; without an id_token_hint Keycloak asks the user to
// confirm, which this fake shows as a page and does nothing.
func (o *OIDC) logout(w http.ResponseWriter, r *http.Request) {
	if !o.realmOK(w, r) {
		return
	}
	q := r.URL.Query()
	hint := q.Get("id_token_hint")
	if hint == "" {
		w.Header().Set("Content-Type", "text/html;charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html><body><h1 id="kc-page-title">Logging out</h1><p>Do you want to log out?</p></body></html>`))
		return
	}
	var claims struct {
		Azp string `json:"azp"`
		Sid string `json:"sid"`
	}
	jws, err := jose.ParseSigned(hint, []jose.SignatureAlgorithm{jose.RS256})
	if err == nil {
		var payload []byte
		if payload, err = jws.Verify(&o.key.PublicKey); err == nil {
			err = json.Unmarshal(payload, &claims)
		}
	}
	if err != nil {
		http.Error(w, "Invalid parameter: id_token_hint", http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	c := o.clients[claims.Azp]
	delete(o.sessions, claims.Sid)
	o.mu.Unlock()
	if to := q.Get("post_logout_redirect_uri"); to != "" {
		ok := false
		for _, u := range c.PostLogoutRedirectURIs {
			ok = ok || u == to
		}
		if !ok {
			http.Error(w, "Invalid redirect uri", http.StatusBadRequest)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/realms/" + Realm + "/", MaxAge: -1})
		http.Redirect(w, r, to, http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "text/html;charset=utf-8")
	_, _ = w.Write([]byte(`<!doctype html><html><body><h1 id="kc-page-title">You are logged out</h1></body></html>`))
}

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (o *OIDC) token(w http.ResponseWriter, r *http.Request) {
	if !o.realmOK(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, map[string]string{"error": "invalid_request"})
		return
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	o.mu.Lock()
	c, known := o.clients[id]
	o.mu.Unlock()
	if !known || c.Secret != secret {
		writeJSON(w, 401, map[string]string{"error": "unauthorized_client", "error_description": "Invalid client or Invalid client credentials"})
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		writeJSON(w, 400, map[string]string{"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"})
		return
	}
	code := r.PostForm.Get("code")
	o.mu.Lock()
	g, ok := o.codes[code]
	delete(o.codes, code) // one use only
	o.mu.Unlock()
	if !ok || g.client != id || time.Now().After(g.exp) {
		writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "Code not valid"})
		return
	}
	if r.PostForm.Get("redirect_uri") != g.redirect {
		writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "Incorrect redirect_uri"})
		return
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "PKCE verification failed: Invalid code verifier"})
		return
	}
	now := time.Now()
	nonce := g.nonce
	o.mu.Lock()
	if o.NonceOverride != "" {
		nonce = o.NonceOverride
	}
	o.Issued++
	o.mu.Unlock()
	claims := map[string]any{"iss": o.Issuer(), "sub": g.user.Subject, "aud": id, "azp": id, "exp": now.Add(5 * time.Minute).Unix(),
		"iat": now.Unix(), "auth_time": now.Unix(), "jti": random(12), "typ": "ID", "nonce": nonce, "sid": g.session,
		"preferred_username": g.user.Username, "email": g.user.Email, "name": g.user.Name, "email_verified": true}
	if c.RealmRolesInIDToken {
		claims["realm_access"] = map[string]any{"roles": g.user.RealmRoles}
	}
	idToken, err := o.sign(claims)
	if err != nil {
		writeJSON(w, 500, map[string]string{"error": "server_error"})
		return
	}
	access := map[string]any{}
	for k, v := range claims {
		access[k] = v
	}
	access["typ"], access["aud"], access["scope"] = "Bearer", "account", "openid profile email"
	access["realm_access"] = map[string]any{"roles": g.user.RealmRoles}
	delete(access, "nonce")
	accessToken, _ := o.sign(access)
	writeJSON(w, 200, map[string]any{"access_token": accessToken, "expires_in": 300, "refresh_expires_in": 1800,
		"refresh_token": random(32), "token_type": "Bearer", "id_token": idToken, "not-before-policy": 0,
		"session_state": random(16), "scope": "openid profile email"})
}

func (o *OIDC) sign(claims map[string]any) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: o.key, KeyID: o.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

func (o *OIDC) certs(w http.ResponseWriter, r *http.Request) {
	if !o.realmOK(w, r) {
		return
	}
	// As Keycloak's: the RS256 signing key and the RSA-OAEP encryption key,
	// each with its self-signed certificate (x5c) and thumbprints.
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{o.jwk(o.key, o.kid, "RS256", "sig"), o.jwk(o.encKey, o.kid+"-enc", "RSA-OAEP", "enc")}}
	writeJSON(w, 200, set)
}

func (o *OIDC) jwk(key *rsa.PrivateKey, kid, alg, use string) jose.JSONWebKey {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: Realm},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().AddDate(10, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, _ := x509.ParseCertificate(der)
	s1, s256 := sha1.Sum(der), sha256.Sum256(der)
	return jose.JSONWebKey{Key: &key.PublicKey, KeyID: kid, Algorithm: alg, Use: use, Certificates: []*x509.Certificate{cert},
		CertificateThumbprintSHA1: s1[:], CertificateThumbprintSHA256: s256[:]}
}
