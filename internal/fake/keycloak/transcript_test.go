package keycloak_test

import (
	"net/http"
	"testing"

	"github.com/insightpulseai/ipai/internal/fake/keycloak"
	"github.com/insightpulseai/ipai/internal/fake/transcript"
)

// The fake answers what the real Keycloak 26.7.3 answered (recorded by
// internal/ui TestKeycloakTranscript with IPAI_TEST_RECORD=1).

func TestFakeAnswersAsKeycloakToTheConnector(t *testing.T) {
	s := keycloak.New()
	defer s.Close()
	s.AddClient("ipai-sa", "sa-secret", true)
	s.AddClient("ipai-web", "web-secret", false)
	transcript.Replay(t, "testdata/keycloak-26.7-connector.json", s.URL, transcript.Vars{
		"base_url": s.URL, "client_id": "ipai-sa", "client_secret": "sa-secret",
		"standard_client_id": "ipai-web", "standard_client_secret": "web-secret"}, http.DefaultClient)
}

func TestFakeAnswersAsKeycloakToTheSignIn(t *testing.T) {
	o := keycloak.NewOIDC()
	defer o.Close()
	transcript.Replay(t, "testdata/keycloak-26.7-oidc.json", o.URL, transcript.Vars{"base_url": o.URL}, http.DefaultClient)
}
