package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzLoad: the decoder never panics, and a config that loads, written out
// as YAML, loads again to the same settings.
func FuzzLoad(f *testing.F) {
	for k := range Env {
		f.Setenv(k, "")
	}
	f.Setenv("IPAI_FUZZ_TOKEN", "tok-0123456789abcdef")
	for _, seed := range []string{
		"",
		"listen: 0.0.0.0:9000\npublic_url: https://hub.example.com\nlog: {level: debug, format: json}\n",
		"delivery:\n  workers: 8\n  poll: 100ms\n  lease: 2m\n  heartbeat: 2s\n  retention_days: ${DAYS:-30}\n",
		"webhooks:\n  - {name: shop, direction: incoming, scheme: standard, secret: \"${IPAI_FUZZ_TOKEN}\", dedupe_window: 1h}\n" +
			"  - name: out\n    direction: outgoing\n    target_url: https://example.com/x\n    secret: 0123456789abcdef\n" +
			"    retry_schedule: [0s, 5s]\n    rate_limit: 2.5\n    headers: {Authorization: \"Bearer $${not-a-var}\"}\n",
		"sync:\n  boards:\n    - {name: b, odoo: erp, focalboard: fb, project: 3, board: b1, users: {ana: ana.s}}\n",
		"rules:\n  - name: r\n    match: {type: shop.*}\n    actions:\n      - {kind: webhook, endpoint: ep_1}\n",
		"ui:\n  oidc: {issuer: https://auth.example.com/realms/x, client_id: ipai, roles: {admin: admin}}\n",
		"audit: {retention_days: 7}\naudit: {retention_days: 8}\n",
		"listen: &a 127.0.0.1:1\ndata_dir: *a\n",
	} {
		f.Add([]byte(seed))
	}
	examples, _ := filepath.Glob("../../examples/*.yaml")
	for _, p := range examples {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := load(data, "fuzz.yaml")
		if err != nil {
			return
		}
		out := marshal(t, cfg)
		back, err := load(out, "fuzz.yaml")
		if err != nil {
			t.Fatalf("loaded, written out, does not load again: %v\ninput:\n%s\nwritten:\n%s", err, data, out)
		}
		if again := marshal(t, back); !bytes.Equal(out, again) {
			t.Fatalf("loaded again to other settings:\ninput:\n%s\nfirst:\n%s\nsecond:\n%s", data, out, again)
		}
	})
}

// marshal writes cfg as ipai.yaml text: every "${" of a setting the decoder
// expands is written "$${".
func marshal(t *testing.T, cfg Config) []byte {
	t.Helper()
	escapeRefs(reflect.ValueOf(&cfg).Elem())
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

func escapeRefs(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(strings.ReplaceAll(v.String(), "${", "$${"))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			escapeRefs(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				escapeRefs(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			escapeRefs(v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			escapeRefs(e)
			v.SetMapIndex(k, e)
		}
	}
}
