package ttlcache

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// Many callers finding a key missing share one load, and all get its value.
func TestConcurrentMissesShareOneLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New[int]()
		now := time.Now()
		var loads atomic.Int32
		release := make(chan struct{})
		var wg sync.WaitGroup
		got := make([]int, 64)
		for i := range got {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				v, err := c.Get("k", now, func(int, bool) (int, time.Time, error) {
					loads.Add(1)
					<-release
					return 42, now.Add(time.Second), nil
				})
				if err != nil {
					t.Error(err)
				}
				got[i] = v
			}(i)
		}
		// Every caller is now blocked: one in the load, the others waiting
		// for it, none loading on its own.
		synctest.Wait()
		if n := loads.Load(); n != 1 {
			t.Fatalf("%d loads under way for 64 concurrent misses; want 1", n)
		}
		close(release)
		wg.Wait()
		if n := loads.Load(); n != 1 {
			t.Fatalf("%d loads for 64 concurrent misses; want 1", n)
		}
		for i, v := range got {
			if v != 42 {
				t.Fatalf("caller %d got %d", i, v)
			}
		}
	})
}

// A value is served until it expires; then it is reloaded, with the old
// value handed to the loader; a failed load is not cached.
func TestExpiryReloadAndErrors(t *testing.T) {
	c := New[string]()
	now := time.Now()
	load := func(v string, err error) Loader[string] {
		return func(old string, had bool) (string, time.Time, error) {
			if err != nil {
				return "", now, err
			}
			return v + "<" + old + map[bool]string{true: "+", false: "-"}[had], now.Add(time.Second), nil
		}
	}
	if v, _ := c.Get("k", now, load("a", nil)); v != "a<-" {
		t.Fatalf("first load: %q", v)
	}
	if v, _ := c.Get("k", now.Add(500*time.Millisecond), load("b", nil)); v != "a<-" {
		t.Fatalf("within the time to live: %q; want the cached a", v)
	}
	if v, _ := c.Get("k", now.Add(2*time.Second), load("b", nil)); v != "b<a<-+" {
		t.Fatalf("after expiry: %q; want b loaded with the old value", v)
	}
	boom := errors.New("boom")
	if _, err := c.Get("x", now, load("", boom)); !errors.Is(err, boom) {
		t.Fatalf("error: %v", err)
	}
	if v, err := c.Get("x", now, load("c", nil)); err != nil || v != "c<-" {
		t.Fatalf("after a failed load: %q %v; want a fresh load", v, err)
	}
}

// Forget drops a key at once, and a load that began before it does not put
// the value it read back into the cache.
func TestForgetBeatsLoadInFlight(t *testing.T) {
	c := New[string]()
	now := time.Now()
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan string)
	go func() {
		v, _ := c.Get("k", now, func(string, bool) (string, time.Time, error) {
			close(started)
			<-release
			return "stale", now.Add(time.Hour), nil
		})
		done <- v
	}()
	<-started
	c.Forget("k")
	close(release)
	if v := <-done; v != "stale" {
		t.Fatalf("the caller of the load got %q", v)
	}
	v, _ := c.Get("k", now, func(string, bool) (string, time.Time, error) { return "fresh", now.Add(time.Hour), nil })
	if v != "fresh" {
		t.Fatalf("after Forget: %q; the load begun before it was kept", v)
	}
}
