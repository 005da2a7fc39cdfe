package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/e2e/hubproc"
	"github.com/insightpulseai/ipai/internal/testproc"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// removeBinaries removes what binary and hubBinary built.
func removeBinaries() {
	for _, b := range []string{binPath, hubBin} {
		if b != "" {
			os.RemoveAll(filepath.Dir(b))
		}
	}
}

// binary builds ipai as released (trimmed, stripped) once per test binary.
func binary(b testing.TB) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ipai-bench-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "ipai")
		out, err := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", binPath, "../cmd/ipai").CombinedOutput()
		if err != nil {
			buildErr = err
			b.Logf("%s", out)
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return binPath
}

// BenchmarkServeStartup: time from exec to /readyz 200 on a fresh SQLite
// database, idle RSS two seconds later, and the binary's size.
func BenchmarkServeStartup(b *testing.B) {
	bin := binary(b)
	if st, err := os.Stat(bin); err == nil {
		b.ReportMetric(float64(st.Size())/(1<<20), "binary-MiB")
	}
	for i := 0; i < b.N; i++ {
		ready, rss := serveStartup(b, bin, "", 2*time.Second)
		b.ReportMetric(float64(ready.Microseconds())/1000, "start-to-ready-ms")
		b.ReportMetric(rss, "idle-RSS-MiB")
	}
}

// serveStartup starts `ipai serve` on a fresh data dir and database (dbURL;
// "" for SQLite in the data dir) and returns the time from exec to /readyz
// 200 and the resident memory (MiB) after idle more.
func serveStartup(b testing.TB, bin, dbURL string, idle time.Duration) (time.Duration, float64) {
	env := hubproc.Env(b, dbURL, "log:\n  format: json\n  level: warn\n")
	p := hubproc.Start(b, bin, env, hubproc.FreeAddr(b))
	defer p.Kill()
	time.Sleep(idle)
	return p.Ready, float64(testproc.VmRSS(p.Cmd.Process.Pid)) / 1024
}
