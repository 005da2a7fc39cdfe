package audit

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestThrottleBoundsEntriesAndMemory(t *testing.T) {
	var th Throttle
	now := time.Unix(1e9, 0)
	written := 0
	for i := range 100000 {
		if _, ok := th.Allow(fmt.Sprintf("key-%d", i), now); ok {
			written++
		}
	}
	if written > maxThrottleKeys+1 || len(th.keys) > maxThrottleKeys+1 {
		t.Fatalf("100,000 distinct keys in one window: %d entries, %d keys kept", written, len(th.keys))
	}
}

func TestClip(t *testing.T) {
	s := strings.Repeat("é", 1000) // 2 bytes each
	c := Clip(s, 101)
	if !utf8.ValidString(c) || !strings.HasSuffix(c, "…(1900 bytes cut)") || len(c) > 101+len("…(1900 bytes cut)") {
		t.Fatalf("Clip = %q", c)
	}
	if Clip("short", 10) != "short" {
		t.Fatal("short strings are kept")
	}
}
