package testproc

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestFreePort(t *testing.T) {
	p, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		t.Fatalf("port %d not free: %v", p, err)
	}
	l.Close()
}

func TestStopGroup(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		ignoresTerm  bool
	}{
		// Each script says "ready" once its trap is set and its child runs.
		{"term", "sleep 60 & echo ready; wait", false},
		{"kill after grace", "trap '' TERM; sleep 60 & echo ready; wait; wait", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command("sh", "-c", tc.script)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if line, err := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
				t.Fatalf("script said %q, %v; want ready", line, err)
			}
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			const grace = 2 * time.Second
			began := time.Now()
			StopGroup(cmd.Process.Pid, done, grace)
			select {
			case <-done:
			default:
				t.Fatal("StopGroup returned before the leader ended")
			}
			if took := time.Since(began); (took >= grace) != tc.ignoresTerm {
				t.Fatalf("took %s (grace %s, ignores SIGTERM: %v)", took, grace, tc.ignoresTerm)
			}
		})
	}
}

func TestVmRSS(t *testing.T) {
	if kb := VmRSS(os.Getpid()); kb <= 0 {
		t.Fatalf("VmRSS(self) = %d", kb)
	}
	if kb := VmRSS(-1); kb != 0 {
		t.Fatalf("VmRSS(-1) = %d", kb)
	}
}

type fakeServer struct{ stops *int }

func (f *fakeServer) Stop() { *f.stops++ }

// A shared server starts once however many tests ask for it, a failed
// start is reported to every later caller without a second try, and Stop
// stops only what was started.
func TestShared(t *testing.T) {
	var s Shared[*fakeServer]
	starts, stops := 0, 0
	start := func() (*fakeServer, error) { starts++; return &fakeServer{&stops}, nil }
	a, _ := s.Get(start)
	b, _ := s.Get(start)
	if starts != 1 || a != b {
		t.Fatalf("starts = %d, same instance %v; want one start", starts, a == b)
	}
	s.Stop()
	if stops != 1 {
		t.Fatalf("stops = %d; want 1", stops)
	}

	var failed Shared[*fakeServer]
	tries := 0
	fail := func() (*fakeServer, error) { tries++; return nil, os.ErrNotExist }
	for range 2 {
		if _, err := failed.Get(fail); err != os.ErrNotExist {
			t.Fatalf("err = %v; want the first start's", err)
		}
	}
	failed.Stop() // nothing started: must not call Stop on a nil server
	if tries != 1 {
		t.Fatalf("tries = %d; want 1", tries)
	}
}
