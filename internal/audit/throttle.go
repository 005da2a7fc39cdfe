package audit

import (
	"sync"
	"time"
	"unicode/utf8"
)

// ThrottleEvery is how often a Throttle lets an entry through per key.
const ThrottleEvery = 10 * time.Second

// maxThrottleKeys bounds a Throttle's memory; older keys are dropped first.
const maxThrottleKeys = 4096

// Throttle limits the audit entries written for requests nobody
// authenticated (forged hook calls, clicks, tokens): at most one entry per
// key every ThrottleEvery, standing for the requests held back since the
// last. The zero value is ready to use. Keys must not be chosen freely by
// the caller being refused (use the action, a hook id that exists, …).
type Throttle struct {
	mu   sync.Mutex
	last map[string]time.Time
	held map[string]int
}

// Allow counts one refusal for key at now and reports whether an entry may
// be written, and how many refusals it stands for (this one and those held
// back since the last entry).
func (t *Throttle) Allow(key string, now time.Time) (int, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		t.last, t.held = map[string]time.Time{}, map[string]int{}
	}
	if _, known := t.last[key]; !known && len(t.last) >= maxThrottleKeys {
		for k, at := range t.last {
			if now.Sub(at) >= ThrottleEvery {
				delete(t.last, k)
				delete(t.held, k)
			}
		}
		if len(t.last) >= maxThrottleKeys { // still full: new keys share one
			key = "\x00other"
		}
	}
	t.held[key]++
	if last, ok := t.last[key]; ok && now.Sub(last) < ThrottleEvery {
		return 0, false
	}
	n := t.held[key]
	t.held[key], t.last[key] = 0, now
	return n, true
}

// Clip cuts s to at most n bytes (on a character boundary) and marks the
// cut with how much was dropped. Use it on anything an unauthenticated
// caller puts into an entry.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(" + itoa(len(s)-cut) + " bytes cut)"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
