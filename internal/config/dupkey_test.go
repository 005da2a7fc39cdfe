package config

import (
	"strings"
	"testing"
)

// A key given twice is an error naming the key and both lines, never
// "last one wins".
func TestDuplicateKeysAreErrors(t *testing.T) {
	t.Setenv("IPAI_DATABASE_URL", "")
	cases := []struct{ body, want string }{
		{"listen: 127.0.0.1:8080\nlisten: 0.0.0.0:80\n", `line 2: duplicate key "listen" (first given at line 1)`},
		{"log:\n  level: info\n  format: json\n  level: debug\n", `line 4: duplicate key "log.level" (first given at line 2)`},
		{"webhooks:\n  - name: a\n    direction: outgoing\n    target_url: https://a.example.com/x\n    secret: 0123456789abcdef\n    target_url: https://b.example.com/x\n",
			`line 6: duplicate key "webhooks[0].target_url" (first given at line 4)`},
	}
	for _, c := range cases {
		_, err := Load(write(t, c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("config %q: err = %v; want it to contain %q", c.body, err, c.want)
		}
	}
}
