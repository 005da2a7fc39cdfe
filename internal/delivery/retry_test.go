package delivery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/store"
)

func TestParseSchedule(t *testing.T) {
	got, err := ParseSchedule([]string{"0s", "5s", "1m30s", "168h"})
	want := []time.Duration{0, 5 * time.Second, 90 * time.Second, 168 * time.Hour}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ParseSchedule = %v, %v; want %v", got, err, want)
	}
	if got, err := ParseSchedule(nil); err != nil || fmt.Sprint(got) != fmt.Sprint(DefaultSchedule) {
		t.Fatalf("empty schedule = %v, %v; want the default %v", got, err, DefaultSchedule)
	}
	// The default schedule is not the caller's to change.
	got, _ = ParseSchedule(nil)
	got[1] = time.Hour
	if DefaultSchedule[1] != 5*time.Second {
		t.Fatalf("changing a parsed empty schedule changed DefaultSchedule: %v", DefaultSchedule)
	}
}

// A bad schedule is refused with an error that names the entry as the user
// counts it (from 1), its value and what is accepted.
func TestParseScheduleErrors(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []string
	}{
		{[]string{"5x"}, []string{"entry 1", `"5x"`, "0s to 168h"}},
		{[]string{"0s", "5s", "-1s"}, []string{"entry 3", `"-1s"`, "0s to 168h"}},
		{[]string{"0s", "169h"}, []string{"entry 2", `"169h"`, "0s to 168h"}},
		{[]string{"0s", ""}, []string{"entry 2", `""`}},
		{[]string{"5"}, []string{"entry 1", `"5"`}}, // a unit is required
		{make([]string, 51), []string{"at most 50", "51"}},
	} {
		got, err := ParseSchedule(tc.in)
		if err == nil {
			t.Errorf("ParseSchedule(%q) = %v; want an error", tc.in, got)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParseSchedule(%q) error %q does not say %s", tc.in, err, w)
			}
		}
	}
}

func FuzzParseSchedule(f *testing.F) {
	f.Add("0s", "5s", "5m")
	f.Add("1h", "-1s", "x")
	f.Add("168h", "168h0m1s", "9223372036854775807ns")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		in := []string{a, b, c}
		got, err := ParseSchedule(in)
		if err != nil {
			if !strings.Contains(err.Error(), "entry ") {
				t.Fatalf("error %q does not name the entry", err)
			}
			return
		}
		if len(got) != len(in) {
			t.Fatalf("%d delays for %d entries", len(got), len(in))
		}
		for i, d := range got {
			if d < 0 || d > 168*time.Hour {
				t.Fatalf("entry %q accepted as %v, outside 0s..168h", in[i], d)
			}
			if p, _ := time.ParseDuration(in[i]); p != d {
				t.Fatalf("entry %q parsed as %v; Go reads it as %v", in[i], d, p)
			}
		}
	})
}

// The delay after attempt n is schedule[n] with at most ±Jitter, decided by
// the random source; there is none after the last entry.
func TestNextDelay(t *testing.T) {
	s := []time.Duration{0, 10 * time.Second, time.Hour}
	for _, tc := range []struct {
		n    int
		r    float64
		want time.Duration
		ok   bool
	}{
		{1, 0.5, 10 * time.Second, true},
		{1, 0, 8 * time.Second, true},
		{2, 0, 48 * time.Minute, true},
		{2, 0.75, 66 * time.Minute, true},
		{0, 0.9, 0, true},
		{3, 0.5, 0, false},
		{10, 0.5, 0, false},
	} {
		got, ok := nextDelay(s, tc.n, func() float64 { return tc.r })
		if got != tc.want || ok != tc.ok {
			t.Errorf("nextDelay(n=%d, rnd=%v) = %v, %v; want %v, %v", tc.n, tc.r, got, ok, tc.want, tc.ok)
		}
	}
	// The largest value the random source gives stays within +Jitter.
	got, _ := nextDelay(s, 2, func() float64 { return 1 - 1.0/(1<<53) })
	if got > 72*time.Minute || got < time.Hour {
		t.Fatalf("delay at the top of the random range = %v; want in [1h, 1h12m]", got)
	}
	// The default source gives delays within the bounds.
	for range 1000 {
		d, _ := nextDelay(s, 1, jitterRand)
		if d < 8*time.Second || d > 12*time.Second {
			t.Fatalf("jittered delay %v outside [8s, 12s]", d)
		}
	}
}

func FuzzNextDelay(f *testing.F) {
	f.Add(uint64(5*time.Second), uint64(1)<<52)
	f.Add(uint64(0), uint64(0))
	f.Add(uint64(168*time.Hour), uint64(1)<<53-1)
	f.Fuzz(func(t *testing.T, ns, bits uint64) {
		// Any delay ParseSchedule accepts, any value rand.Float64 returns.
		d := time.Duration(ns % uint64(168*time.Hour+1))
		r := float64(bits%(1<<53)) / (1 << 53)
		got, ok := nextDelay([]time.Duration{0, d}, 1, func() float64 { return r })
		lo, hi := time.Duration(float64(d)*(1-Jitter)), time.Duration(float64(d)*(1+Jitter))
		if !ok || got < 0 || got < lo || got > hi {
			t.Fatalf("delay %v with rnd %v = %v, %v; want within [%v, %v]", d, r, got, ok, lo, hi)
		}
	})
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    string
		want time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{" 30 ", 30 * time.Second},
		{"0", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(time.Hour).Format(time.RFC850), time.Hour},               // obsolete forms are still HTTP dates
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},                  // in the past: no wait
		{now.Add(48 * time.Hour).Format(http.TimeFormat), 24 * time.Hour}, // capped
		{"-5", 0},
		{"soon", 0},
		{"1.5", 0},
		{"12abc", 0},
		{"86400", 24 * time.Hour},
		{"86401", 24 * time.Hour},
		// Huge values are capped, not read as garbage or overflowed into
		// negative or short delays.
		{"9999999999", 24 * time.Hour},
		{"9223372036854775807", 24 * time.Hour},
		{"99999999999999999999999", 24 * time.Hour},
		{"-9999999999", 0},
		{"-99999999999999999999999", 0},
	} {
		if got := RetryAfter(tc.h, now); got != tc.want {
			t.Errorf("RetryAfter(%q) = %v; want %v", tc.h, got, tc.want)
		}
	}
}

func FuzzRetryAfter(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"", "120", "-1", "9999999999", "Sun, 01 Mar 2026 12:01:00 GMT", "garbage"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		got := RetryAfter(h, now)
		if got < 0 || got > MaxRetryAfter {
			t.Fatalf("RetryAfter(%q) = %v; want within [0, %v]", h, got, MaxRetryAfter)
		}
		s := strings.TrimSpace(h)
		if strings.HasPrefix(s, "-") && strings.Trim(s[1:], "0123456789") == "" && got != 0 {
			t.Fatalf("RetryAfter(%q) = %v; a negative wait is no wait", h, got)
		}
		if s != "" && strings.Trim(s, "0123456789") == "" {
			// Plain seconds: exactly that many, up to the cap.
			want := MaxRetryAfter
			if n, err := strconv.ParseInt(s, 10, 64); err == nil && n < int64(MaxRetryAfter/time.Second) {
				want = time.Duration(n) * time.Second
			}
			if got != want {
				t.Fatalf("RetryAfter(%q) = %v; want %v", h, got, want)
			}
		}
	})
}

// An attempt's outcome with a fixed clock and random source: a failure is
// retried after the schedule's jittered delay or the receiver's
// Retry-After, whichever is longer; counted from the last replay; dead when
// the schedule is exhausted or retrying cannot help.
func TestAttemptSchedulesTheRetry(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	schedule := []time.Duration{0, 10 * time.Second, time.Hour}
	fail := errors.New("the receiver answered 503")
	for _, tc := range []struct {
		name            string
		attempts, round int
		res             Result
		state           string
		next            time.Duration // after now
	}{
		{"first failure", 1, 0, Result{Err: fail}, store.DeliveryFailed, 8 * time.Second},
		{"second failure", 2, 0, Result{Err: fail}, store.DeliveryFailed, 48 * time.Minute},
		{"Retry-After longer than the schedule", 1, 0, Result{Err: fail, RetryAfter: 2 * time.Minute}, store.DeliveryFailed, 2 * time.Minute},
		{"Retry-After shorter than the schedule", 2, 0, Result{Err: fail, RetryAfter: time.Minute}, store.DeliveryFailed, 48 * time.Minute},
		{"schedule exhausted", 3, 0, Result{Err: fail, RetryAfter: time.Minute}, store.DeliveryDead, 0},
		{"replayed: the schedule starts again", 4, 3, Result{Err: fail}, store.DeliveryFailed, 8 * time.Second},
		{"permanent", 1, 0, Result{Err: fail, Permanent: true}, store.DeliveryDead, 0},
		{"success", 1, 0, Result{Status: 200}, store.DeliverySucceeded, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDispatcher(nil, nil, nil, nil, Options{Schedule: schedule})
			d.now = func() time.Time { return now }
			d.rnd = func() float64 { return 0 } // the shortest delay: -Jitter
			d.Register("k", ExecutorFunc(func(context.Context, *store.Claimed) Result { return tc.res }))
			d.slots = make(chan struct{}, 1)
			d.slots <- struct{}{}
			d.attempt(store.Claimed{Delivery: store.Delivery{ID: "d", Kind: "k", Attempts: tc.attempts, RoundBase: tc.round}})
			o := (<-d.outcomes).o
			var next time.Time
			if tc.next > 0 {
				next = now.Add(tc.next)
			}
			if o.State != tc.state || !o.Next.Equal(next) {
				t.Fatalf("outcome %s, next %s; want %s, next %s", o.State, o.Next, tc.state, next)
			}
		})
	}
}
