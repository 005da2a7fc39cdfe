package testkc

import (
	"strings"
	"testing"
)

// Without the install, tests fail (never skip) and say how to install it.
func TestDistMissingSaysHowToInstall(t *testing.T) {
	t.Setenv("IPAI_KEYCLOAK_HOME", t.TempDir())
	_, err := Dist()
	if err == nil || !strings.Contains(err.Error(), "scripts/test.d/keycloak.sh") || !strings.Contains(err.Error(), Version) {
		t.Fatalf("Dist() = %v", err)
	}
	if _, err := start(Options{}); err == nil || !strings.Contains(err.Error(), "scripts/test.d/keycloak.sh") {
		t.Fatalf("start() = %v", err)
	}
}
