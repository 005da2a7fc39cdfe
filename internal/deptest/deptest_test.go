package deptest

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/insightpulseai/ipai/"

// The layers, lowest first. A package may import its own layer and those
// below it, never one above.
const (
	base     = iota // clients of other systems, the store, small shared pieces
	core            // the event core, signing, rules, audit, auth
	worker          // services and background workers; config knows their settings
	edge            // HTTP and MCP handlers
	wiring          // builds the hub from its configuration
	command         // the CLI
	testOnly        // imported by tests alone
)

var layerNames = []string{"clients and store", "core", "workers", "HTTP edges", "wiring", "commands", "test-only"}

// layers gives each package (path below the module, or a prefix ending in
// "/" for a subtree) its layer.
var layers = map[string]int{
	"internal/store":          base,
	"internal/secret":         base,
	"internal/outbound":       base,
	"internal/problem":        base,
	"internal/ttlcache":       base,
	"internal/buildinfo":      base,
	"internal/connector":      base,
	"internal/connector/":     base,
	"internal/stack/template": base,
	"internal/loop":           base,

	"internal/audit":      core,
	"internal/auth":       core,
	"internal/rule":       core,
	"internal/event":      core,
	"internal/webhooksig": core,

	"internal/delivery":        worker,
	"internal/boardsync":       worker,
	"internal/chatops":         worker,
	"internal/chatops/n8nflow": worker,
	"internal/rule/action":     worker,
	"internal/integration":     worker,
	"internal/health":          worker,
	"internal/embed":           worker,
	"internal/odoosource":      worker,
	"internal/config":          worker,
	"internal/stack":           worker,
	"internal/stack/backup":    worker,
	"internal/stack/probe":     worker,

	"internal/inbound":   edge,
	"internal/api":       edge,
	"internal/ui":        edge,
	"internal/mcpserver": edge,

	"internal/app": wiring,

	"cmd/ipai": command,

	"internal/fake/":                   testOnly,
	"internal/testpg":                  testOnly,
	"internal/testproc":                testOnly,
	"internal/testkc":                  testOnly,
	"internal/testsuperset":            testOnly,
	"internal/storetest":               testOnly,
	"internal/connector/connectortest": testOnly,
	"internal/connector/n8n/n8ntest":   testOnly,
	"internal/deptest":                 testOnly,
	"bench":                            testOnly,
	"e2e":                              testOnly,
	"e2e/hubproc":                      testOnly,
}

// layerOf finds a package's layer: its own entry, else the longest subtree
// prefix that holds it.
func layerOf(rel string) (int, bool) {
	if l, ok := layers[rel]; ok {
		return l, true
	}
	best, found := -1, false
	bestLen := 0
	for k, l := range layers {
		if strings.HasSuffix(k, "/") && strings.HasPrefix(rel, k) && len(k) > bestLen {
			best, bestLen, found = l, len(k), true
		}
	}
	return best, found
}

type pkg struct {
	rel     string
	imports []string // the module's packages its non-test files import
}

// modulePackages reads every package of the module from its source, with
// go/build: what its non-test files import.
func modulePackages(t *testing.T) []pkg {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	var out []pkg
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules") {
			return filepath.SkipDir
		}
		bp, err := build.ImportDir(path, 0)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(root, path)
		p := pkg{rel: filepath.ToSlash(rel)}
		for _, imp := range bp.Imports {
			if strings.HasPrefix(imp, module) {
				p.imports = append(p.imports, strings.TrimPrefix(imp, module))
			}
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rel < out[j].rel })
	return out
}

// No package imports one of a layer above its own, and nothing but tests
// imports a test-only package.
func TestImportsRunOneWay(t *testing.T) {
	pkgs := modulePackages(t)
	if len(pkgs) < 40 {
		t.Fatalf("found only %d packages: is the walk broken?", len(pkgs))
	}
	for _, p := range pkgs {
		from, ok := layerOf(p.rel)
		if !ok {
			t.Errorf("%s has no layer: add it to the layers table in internal/deptest", p.rel)
			continue
		}
		for _, imp := range p.imports {
			to, ok := layerOf(imp)
			if !ok {
				continue // reported as a package of its own
			}
			switch {
			case to == testOnly && from != testOnly:
				t.Errorf("%s imports the test-only package %s outside its tests", p.rel, imp)
			case to > from:
				t.Errorf("%s (%s) imports %s (%s), a layer above it", p.rel, layerNames[from], imp, layerNames[to])
			}
		}
	}
}

// The check catches what it is for: an import upward and a fake in
// production code are reported, an import downward is not.
func TestLayerOf(t *testing.T) {
	for rel, want := range map[string]int{
		"internal/connector/odoo":        base,
		"internal/connector/n8n/n8ntest": testOnly,
		"internal/fake/odoo":             testOnly,
		"internal/boardsync":             worker,
		"internal/app":                   wiring,
	} {
		if got, ok := layerOf(rel); !ok || got != want {
			t.Errorf("layerOf(%s) = %d, %v; want %d", rel, got, ok, want)
		}
	}
	if _, ok := layerOf("internal/nosuch"); ok {
		t.Error("an unknown package got a layer")
	}
}
