// Package testproc holds what the packages that start a real server for
// tests (testpg, testkc, testsuperset, n8ntest) share: a free loopback port
// stopping a server's process group and its memory use.
package testproc

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StopGroup sends SIGTERM to the process group led by pid (started with
// Setpgid) and waits for done (closed when the leader has been waited for);
// after grace it sends SIGKILL and waits for done again.
func StopGroup(pid int, done <-chan struct{}, grace time.Duration) {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
}

// VmRSS is the resident memory of process pid in KiB, read from
// /proc/<pid>/status (Linux); 0 when it cannot be read.
func VmRSS(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb
		}
	}
	return 0
}

// Buffer collects what a process or a logger writes while a test reads it:
// a bytes.Buffer safe for one writer and concurrent readers.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is what was written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// CacheDir is where an install script keeps a tool the tests run: the
// directory in environment variable env when set, else ~/.cache/ipai/name
// (the cache .ci/run keeps between runs).
func CacheDir(env, name string) string {
	if d := os.Getenv(env); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "ipai", name)
}

// Shared is the one instance of a server that a test binary starts on first
// use and stops when its tests end (a real n8n, Keycloak or Superset).
type Shared[T interface{ Stop() }] struct {
	once    sync.Once
	v       T
	err     error
	started bool
}

// Get starts the instance with start the first time it is called and
// returns it — or the first start's error — every time.
func (s *Shared[T]) Get(start func() (T, error)) (T, error) {
	s.once.Do(func() { s.v, s.err = start(); s.started = s.err == nil })
	return s.v, s.err
}

// Stop stops the instance if Get started one.
func (s *Shared[T]) Stop() {
	if s.started {
		s.v.Stop()
	}
}
