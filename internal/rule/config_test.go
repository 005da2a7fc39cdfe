package rule_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/config"
)

func TestConfigRulesErrorsNameTheKey(t *testing.T) {
	t.Setenv("IPAI_CONFIG", "")
	p := filepath.Join(t.TempDir(), "ipai.yaml")
	yaml := `rules:
  - name: a
    match: {type: "odoo.*"}
    condition: data.amount >
    actions: [{kind: webhook, endpoint: e}]
  - name: b
    actions:
      - {kind: mattermost.post, connector: mm, text: hi}
  - name: a
    actions: [{kind: webhook, endpoint: e}]
`
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(p)
	if err == nil {
		t.Fatal("bad rules accepted")
	}
	for _, want := range []string{"rules[0].condition: invalid expression", "rules[1].actions[0].channel: is required",
		`rules[2].name: "a" is also the name of rules[0]`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestConfigRulesUnknownKey(t *testing.T) {
	t.Setenv("IPAI_CONFIG", "")
	p := filepath.Join(t.TempDir(), "ipai.yaml")
	if err := os.WriteFile(p, []byte("rules:\n  - name: c\n    actions: [{kind: webhook, endpoint: e, colour: red}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(p); err == nil || !strings.Contains(err.Error(), `unknown key "rules[0].actions[0].colour"`) {
		t.Fatalf("err = %v", err)
	}
}
