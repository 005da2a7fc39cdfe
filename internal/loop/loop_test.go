package loop

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// The first call comes after first, the next ones every d, each d after
// the start of the previous one.
func TestEveryKeepsTheSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		t0 := time.Now()
		var at []time.Duration
		done := make(chan struct{})
		go func() {
			Every(ctx, time.Minute, time.Hour, func(context.Context) {
				at = append(at, time.Since(t0))
				time.Sleep(10 * time.Minute) // work does not shift the schedule
			})
			close(done)
		}()
		time.Sleep(3*time.Hour + 2*time.Minute)
		cancel()
		<-done
		want := []time.Duration{time.Minute, time.Hour + time.Minute, 2*time.Hour + time.Minute, 3*time.Hour + time.Minute}
		if len(at) != len(want) {
			t.Fatalf("calls at %v; want %v", at, want)
		}
		for i := range want {
			if at[i] != want[i] {
				t.Fatalf("calls at %v; want %v", at, want)
			}
		}
	})
}

// first 0 calls at once.
func TestEveryFirstZeroCallsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		called := make(chan time.Time, 10)
		t0 := time.Now()
		go Every(ctx, 0, time.Second, func(context.Context) { called <- time.Now() })
		synctest.Wait()
		if len(called) != 1 || !(<-called).Equal(t0) {
			t.Fatal("f was not called at once")
		}
	})
}

// A call longer than d is followed at once by the next; the periods it
// overran are not caught up.
func TestEveryOverrunDropsMissedPeriods(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		t0 := time.Now()
		var at []time.Duration
		done := make(chan struct{})
		go func() {
			Every(ctx, 0, time.Second, func(context.Context) {
				at = append(at, time.Since(t0))
				if len(at) == 1 {
					time.Sleep(3500 * time.Millisecond)
				}
			})
			close(done)
		}()
		time.Sleep(5*time.Second + 100*time.Millisecond)
		cancel()
		<-done
		want := []time.Duration{0, 3500 * time.Millisecond, 4500 * time.Millisecond}
		if len(at) != len(want) || at[0] != want[0] || at[1] != want[1] || at[2] != want[2] {
			t.Fatalf("calls at %v; want %v", at, want)
		}
	})
}

// Every returns once ctx is done, without waiting for the next period, and
// a call in progress finishes first (it sees the cancelled ctx).
func TestEveryStopsWhenCtxIsDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		calls := 0
		sawCancel := false
		done := make(chan struct{})
		go func() {
			Every(ctx, 0, time.Hour, func(ctx context.Context) {
				calls++
				<-ctx.Done() // a job that runs until told to stop
				sawCancel = true
			})
			close(done)
		}()
		synctest.Wait()
		t0 := time.Now()
		cancel()
		<-done
		if calls != 1 || !sawCancel || time.Since(t0) != 0 {
			t.Fatalf("calls %d, saw cancel %v, returned after %v", calls, sawCancel, time.Since(t0))
		}
	})
}

// A ctx already done: f is never called.
func TestEveryDoneCtxNeverCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		Every(ctx, 0, time.Second, func(context.Context) { t.Fatal("f called after ctx was done") })
	})
}
