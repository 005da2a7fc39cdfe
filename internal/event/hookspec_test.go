package event

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/webhooksig"
)

// A hook's durations are parsed once, by Validate: the hook receiver and
// Rotate use the parsed values, while the spec keeps (and stores) the text.
func TestHookSpecDurationsParsedOnce(t *testing.T) {
	s := HookSpec{Scheme: webhooksig.SchemeStandard, DedupeWindow: "90m"}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.dedupe != 90*time.Minute || s.grace != 24*time.Hour {
		t.Fatalf("parsed dedupe %v, grace %v; want 1h30m0s, 24h0m0s", s.dedupe, s.grace)
	}
	b, _ := json.Marshal(s)
	if !strings.Contains(string(b), `"dedupe_window":"90m"`) || !strings.Contains(string(b), `"rotation_grace":"24h"`) {
		t.Fatalf("stored spec %s; want the durations as text (90m, 24h)", b)
	}
	var back HookSpec
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := back.Validate(); err != nil || back != s {
		t.Fatalf("stored and loaded: %+v, %v; want %+v", back, err, s)
	}
	for _, c := range []struct {
		spec  HookSpec
		field string
	}{
		{HookSpec{Scheme: webhooksig.SchemeStandard, DedupeWindow: "90"}, "dedupe_window"},
		{HookSpec{Scheme: webhooksig.SchemeStandard, RotationGrace: "-1h"}, "rotation_grace"},
	} {
		err := c.spec.Validate()
		if p, ok := problem.As(err); !ok || p.Field != c.field {
			t.Errorf("%+v: err = %v; want a problem with field %s", c.spec, err, c.field)
		}
	}
}
