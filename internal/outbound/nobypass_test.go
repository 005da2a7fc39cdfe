package outbound

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Files allowed to build HTTP clients, transports or dialers themselves.
var bypassAllowed = map[string]string{
	"internal/outbound/outbound.go": "the guard itself",
}

// Test-helper packages: code that only tests import (checked below), which
// talks to fakes and test containers on loopback.
var testOnlyPackages = []string{
	"internal/fake/",                    // fakes of the services (tests only, by the project's rules)
	"internal/connector/connectortest/", // the connector contract suite, run by tests against fakes
	"internal/connector/n8n/n8ntest/",   // starts an n8n test container on loopback
	"internal/testkc/",                  // starts a real Keycloak on loopback for tests
	"internal/testsuperset/",            // starts a real Superset on loopback for tests
	"e2e/",                              // e2e/hubproc runs ipai serve and talks to it on loopback
}

// banned are the package-level names that make an unguarded client, dial
// directly, or carry one (import path → names; "*" in composite literals).
var banned = map[string]map[string]string{
	"net/http": {
		"DefaultClient": "http.DefaultClient", "DefaultTransport": "http.DefaultTransport",
		"Get": "http.Get", "Post": "http.Post", "Head": "http.Head", "PostForm": "http.PostForm",
	},
	"net":                                   {"Dial": "net.Dial", "DialTimeout": "net.DialTimeout", "DialTCP": "net.DialTCP"},
	"crypto/tls":                            {"Dial": "tls.Dial", "DialWithDialer": "tls.DialWithDialer"},
	"github.com/digitalocean/godo":          {"NewFromToken": "godo.NewFromToken (uses http.DefaultTransport)"},
	"github.com/hashicorp/go-cleanhttp":     {"*": "cleanhttp (unguarded clients)"},
	"github.com/hashicorp/go-retryablehttp": {"NewClient": "retryablehttp.NewClient (unguarded client)"},
}

// bannedTypes may not be built (composite literal, new(), or a variable of
// the type, whose zero value uses the default transport).
var bannedTypes = map[string]map[string]bool{
	"net/http":   {"Client": true, "Transport": true},
	"net":        {"Dialer": true},
	"crypto/tls": {"Dialer": true},
}

func moduleRoot(t *testing.T) string {
	dir, _ := filepath.Abs(".")
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// TestNoClientBypassesTheGuard fails when non-test code builds an HTTP
// client, transport or dialer (or uses net/http's defaults) anywhere but
// the guard: every outbound call goes through outbound.Guard.Client.
func TestNoClientBypassesTheGuard(t *testing.T) {
	root := moduleRoot(t)
	modPath := "github.com/insightpulseai/ipai/"
	var hits []string
	importers := map[string][]string{} // test-only package → non-test files importing it
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "vendor" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		testOnly := false
		for _, p := range testOnlyPackages {
			testOnly = testOnly || strings.HasPrefix(rel, p)
		}
		names := map[string]string{} // local name → import path
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			name := pkgName(p)
			if im.Name != nil {
				name = im.Name.Name
			}
			names[name] = p
			for _, tp := range testOnlyPackages {
				if strings.HasPrefix(p+"/", modPath+tp) && !testOnly {
					importers[tp] = append(importers[tp], rel)
				}
			}
		}
		if _, ok := bypassAllowed[rel]; ok || testOnly {
			return nil
		}
		fset := token.NewFileSet()
		f, _ = parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		pkgSel := func(e ast.Expr) (string, string, bool) {
			if st, ok := e.(*ast.StarExpr); ok {
				e = st.X
			}
			sel, ok := e.(*ast.SelectorExpr)
			if !ok {
				return "", "", false
			}
			id, ok := sel.X.(*ast.Ident)
			if !ok {
				return "", "", false
			}
			p, ok := names[id.Name]
			return p, sel.Sel.Name, ok
		}
		flag := func(n ast.Node, what string) {
			hits = append(hits, fset.Position(n.Pos()).String()[len(root)+1:]+": "+what)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				if p, name, ok := pkgSel(n.Type); ok && bannedTypes[p][name] {
					flag(n, "builds a "+p+"."+name)
				}
				if p, name, ok := pkgSel(n.Type); ok && p == "github.com/getsentry/sentry-go" && name == "ClientOptions" && !hasKey(n, "HTTPClient") {
					flag(n, "sentry.ClientOptions without HTTPClient (sentry would use its own transport)")
				}
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "new" && len(n.Args) == 1 {
					if p, name, ok := pkgSel(n.Args[0]); ok && bannedTypes[p][name] {
						flag(n, "new("+p+"."+name+")")
					}
				}
			case *ast.ValueSpec:
				if p, name, ok := pkgSel(n.Type); ok && bannedTypes[p][name] {
					if _, star := n.Type.(*ast.StarExpr); !star {
						flag(n, "a variable of type "+p+"."+name)
					}
				}
			case *ast.SelectorExpr:
				if p, name, ok := pkgSel(n); ok {
					if what, bad := banned[p][name]; bad {
						flag(n, "uses "+what)
					} else if what, bad := banned[p]["*"]; bad {
						flag(n, "uses "+what)
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for tp, files := range importers {
		sort.Strings(files)
		t.Errorf("%s is allowed to build its own clients because only tests use it, but non-test code imports it: %s", tp, strings.Join(files, ", "))
	}
	sort.Strings(hits)
	for _, h := range hits {
		t.Errorf("%s — build clients with outbound.Guard.Client (or outbound.ClientFor) instead", h)
	}
}

func hasKey(c *ast.CompositeLit, key string) bool {
	for _, e := range c.Elts {
		if kv, ok := e.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok && id.Name == key {
				return true
			}
		}
	}
	return false
}

// pkgName guesses an import's package name from its path the way these
// modules name themselves: github.com/getsentry/sentry-go → sentry,
// github.com/hashicorp/go-cleanhttp → cleanhttp, …/pgx/v5 → pgx.
func pkgName(path string) string {
	parts := strings.Split(path, "/")
	name := parts[len(parts)-1]
	if len(parts) > 1 && len(name) > 1 && name[0] == 'v' && strings.Trim(name[1:], "0123456789") == "" {
		name = parts[len(parts)-2]
	}
	name = strings.TrimSuffix(strings.TrimPrefix(name, "go-"), "-go")
	return strings.ReplaceAll(name, "-", "")
}
