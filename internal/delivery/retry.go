// Package delivery runs durable outbound jobs: it claims due deliveries from
// the store (SKIP LOCKED on PostgreSQL, so several hub processes never claim
// one twice), runs each attempt through the executor of its kind (outgoing
// webhooks are built in), records every attempt, retries on a schedule with
// jitter, honours Retry-After, and moves exhausted deliveries to dead letter.
package delivery

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultSchedule is the delay before each attempt: immediately, then 5 s,
// 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts over about 27.6 hours).
var DefaultSchedule = []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// Jitter is the ± fraction applied to every retry delay.
const Jitter = 0.2

// ParseSchedule reads a schedule written as Go durations ("0s", "5s", "5m" …).
// Errors count entries from 1, as people do.
func ParseSchedule(s []string) ([]time.Duration, error) {
	if len(s) == 0 {
		return slices.Clone(DefaultSchedule), nil
	}
	if len(s) > 50 {
		return nil, fmt.Errorf("at most 50 attempts, got %d", len(s))
	}
	out := make([]time.Duration, len(s))
	for i, v := range s {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > 7*24*time.Hour {
			return nil, fmt.Errorf("entry %d (%q): expected a duration from 0s to 168h, such as \"30s\" or \"5m\"", i+1, v)
		}
		out[i] = d
	}
	return out, nil
}

// nextDelay returns the delay before attempt n+1 after attempt n (1-based,
// counted from the last replay) failed, and false when attempts are exhausted.
func nextDelay(schedule []time.Duration, n int, rnd func() float64) (time.Duration, bool) {
	if n >= len(schedule) {
		return 0, false
	}
	d := schedule[n]
	j := 1 + Jitter*(2*rnd()-1)
	return time.Duration(float64(d) * j), true
}

func jitterRand() float64 { return rand.Float64() }

// MaxRetryAfter caps how long a Retry-After header can postpone a delivery.
const MaxRetryAfter = 24 * time.Hour

// RetryAfter parses a Retry-After header (seconds or an HTTP date). What it
// cannot read is no request to wait (0); a wait is at most MaxRetryAfter.
func RetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		// Out of range, ParseInt gives the largest number of that sign;
		// bounded before multiplying so that nothing overflows.
		d = time.Duration(min(max(secs, 0), int64(MaxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	if d < 0 {
		return 0
	}
	return min(d, MaxRetryAfter)
}
