package delivery

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/problem"
)

// An endpoint's durations are parsed once (by Validate, or when a stored
// spec is loaded); the spec keeps, and stores, their text.
func TestEndpointSpecDurationsParsedOnce(t *testing.T) {
	s := EndpointSpec{TargetURL: "https://example.com/hook", Timeout: "2s", Retry: []string{"0s", "1m"}}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.timeout != 2*time.Second || s.disable != 120*time.Hour || !slices.Equal(s.schedule, []time.Duration{0, time.Minute}) {
		t.Fatalf("parsed timeout %v, disable %v, schedule %v", s.timeout, s.disable, s.schedule)
	}
	b, _ := json.Marshal(s)
	if !strings.Contains(string(b), `"timeout":"2s"`) || !strings.Contains(string(b), `"disable_after":"120h"`) ||
		!strings.Contains(string(b), `"retry_schedule":["0s","1m"]`) {
		t.Fatalf("stored spec %s; want the durations as text", b)
	}

	// A stored spec is loaded with the limits it was stored under: a
	// timeout over 60s (refused to new specs) is kept, an unparsable one is
	// an error naming the field.
	var stored EndpointSpec
	_ = json.Unmarshal([]byte(`{"target_url":"https://example.com/hook","timeout":"90s"}`), &stored)
	if err := stored.parseDurations(); err != nil || stored.timeout != 90*time.Second || len(stored.schedule) != len(DefaultSchedule) {
		t.Fatalf("stored 90s timeout: %v, %v, %v", err, stored.timeout, stored.schedule)
	}
	if err := stored.Validate(); err == nil {
		t.Fatal("Validate accepted a 90s timeout; want at most 60s")
	}
	for field, js := range map[string]string{
		"timeout":        `{"timeout":"90"}`,
		"disable_after":  `{"disable_after":"-1h"}`,
		"retry_schedule": `{"retry_schedule":["5"]}`,
	} {
		var s EndpointSpec
		_ = json.Unmarshal([]byte(js), &s)
		var p *problem.Error
		if err := s.parseDurations(); !errors.As(err, &p) || p.Field != field {
			t.Errorf("%s: err = %v; want a problem with field %s", js, err, field)
		}
	}
}
