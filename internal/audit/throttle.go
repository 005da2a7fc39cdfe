package audit

import (
	"strconv"
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
	keys map[string]*throttled
}

// throttled is one key's state: its last entry and the refusals held back
// since.
type throttled struct {
	last time.Time
	held int
}

// Allow counts one refusal for key at now and reports whether an entry may
// be written, and how many refusals it stands for (this one and those held
// back since the last entry).
func (t *Throttle) Allow(key string, now time.Time) (int, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.keys == nil {
		t.keys = map[string]*throttled{}
	}
	k, known := t.keys[key]
	if !known && len(t.keys) >= maxThrottleKeys {
		for old, o := range t.keys {
			if now.Sub(o.last) >= ThrottleEvery {
				delete(t.keys, old)
			}
		}
		if len(t.keys) >= maxThrottleKeys { // still full: new keys share one
			key = "\x00other"
			k, known = t.keys[key]
		}
	}
	if !known {
		k = &throttled{}
		t.keys[key] = k
	}
	k.held++
	if known && now.Sub(k.last) < ThrottleEvery {
		return 0, false
	}
	n := k.held
	k.held, k.last = 0, now
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
	return s[:cut] + "…(" + strconv.Itoa(len(s)-cut) + " bytes cut)"
}
