// Package testpg gives tests a real PostgreSQL: a throwaway cluster started
// once per test binary (initdb + pg_ctl in a temp dir, on a free port), or the
// server named by IPAI_TEST_DATABASE_URL. Every caller of URL gets its own
// fresh database. Tests never skip for want of PostgreSQL: they fail and say
// how to install it.
//
// A package that uses it calls testpg.Main from its TestMain so the cluster
// is stopped when the tests end:
//
//	func TestMain(m *testing.M) { testpg.Main(m) }
package testpg

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/insightpulseai/ipai/internal/testproc"
)

// Cluster is a running PostgreSQL server tests may use.
type Cluster struct {
	// AdminURL connects as a superuser to the "postgres" database.
	AdminURL string
	// BinDir holds initdb, pg_ctl, pg_dump, pg_restore of the server's version
	// (empty when the server came from IPAI_TEST_DATABASE_URL and no local
	// binaries were found).
	BinDir string

	dir    string // data directory of a cluster we started; empty otherwise
	port   int
	runAs  []string
	stopMu sync.Mutex
}

var (
	once    sync.Once
	shared  *Cluster
	initErr error
	dbSeq   atomic.Int64
)

// Main runs the tests and stops the cluster afterwards, if one was started.
func Main(m *testing.M) { os.Exit(Run(m)) }

// MainNoLeaks is Main that also fails the package when a goroutine
// outlives its tests (go.uber.org/goleak, checked after the cluster
// stopped). opts are goleak's, e.g. an IgnoreTopFunction for a known
// background goroutine of a third-party library.
func MainNoLeaks(m *testing.M, opts ...goleak.Option) { os.Exit(NoLeaks(Run(m), opts...)) }

// NoLeaks returns code, or 1 (and says which goroutines) when code is 0
// but goroutines other than the ones opts ignore are still running.
func NoLeaks(code int, opts ...goleak.Option) int {
	if code != 0 {
		return code
	}
	if err := goleak.Find(opts...); err != nil {
		fmt.Fprintf(os.Stderr, "goleak: goroutines outlived the tests: %v\n", err)
		return 1
	}
	return 0
}

// Run is Main without the exit, for a TestMain with its own cleanup.
func Run(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	return code
}

// Get returns the shared cluster, starting it on first use. It fails the test
// (never skips) when PostgreSQL cannot be had.
func Get(t testing.TB) *Cluster {
	t.Helper()
	once.Do(func() { shared, initErr = start() })
	if initErr != nil {
		t.Fatalf("testpg: %v", initErr)
	}
	return shared
}

// URL creates a fresh, empty database on the shared cluster and returns its
// connection URL. The database is dropped when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	c := Get(t)
	name := fmt.Sprintf("ipai_test_%d_%d", os.Getpid(), dbSeq.Add(1))
	if err := c.exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("testpg: create database: %v", err)
	}
	t.Cleanup(func() {
		_ = c.exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	return c.DatabaseURL(name)
}

// DatabaseURL returns the URL of database name on this cluster.
func (c *Cluster) DatabaseURL(name string) string {
	u, _ := url.Parse(c.AdminURL)
	u.Path = "/" + name
	return u.String()
}

// Exec runs one SQL statement as the superuser on the "postgres" database.
func (c *Cluster) Exec(sql string) error { return c.exec(sql) }

func (c *Cluster) exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.AdminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// Restart stops and starts a cluster this package started (for fault tests).
func (c *Cluster) Restart() error {
	if c.dir == "" {
		return errors.New("testpg: cannot restart a server given by IPAI_TEST_DATABASE_URL")
	}
	c.stopMu.Lock()
	defer c.stopMu.Unlock()
	return c.pgctl("restart", "-m", "fast")
}

// Stop stops a cluster this package started and removes its files.
func (c *Cluster) Stop() {
	if c.dir == "" {
		return
	}
	c.stopMu.Lock()
	defer c.stopMu.Unlock()
	_ = c.pgctl("stop", "-m", "immediate")
	_ = os.RemoveAll(c.dir)
}

func (c *Cluster) pgctl(args ...string) error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200", c.port, c.dir)
	if os.Getenv("IPAI_TESTPG_DURABLE") == "" {
		// Tests need no durability; benchmarks of durability set IPAI_TESTPG_DURABLE=1.
		opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	}
	full := append([]string{"-D", filepath.Join(c.dir, "data"), "-w", "-t", "60", "-l", filepath.Join(c.dir, "log"), "-o", opts}, args...)
	return c.run(filepath.Join(c.BinDir, "pg_ctl"), full...)
}

func (c *Cluster) run(bin string, args ...string) error {
	cmdArgs := append(append([]string{}, c.runAs...), bin)
	cmdArgs = append(cmdArgs, args...)
	cmd := exec.Command(cmdArgs[0], cmdArgs[1:]...)
	cmd.Dir = c.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", filepath.Base(bin), strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func start() (*Cluster, error) {
	bin := FindBinDir()
	if u := os.Getenv("IPAI_TEST_DATABASE_URL"); u != "" {
		return &Cluster{AdminURL: u, BinDir: bin}, nil
	}
	if bin == "" {
		return nil, errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found: install them " +
			"(Debian: apt-get install -y postgresql) or set IPAI_TEST_DATABASE_URL to a server where the user may create databases")
	}
	dir, err := os.MkdirTemp("", "ipai-testpg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{BinDir: bin, dir: dir}
	if os.Geteuid() == 0 {
		// initdb refuses to run as root: run the server as the postgres user.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs a 'postgres' system user to run the test cluster: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
		_ = os.Chmod(dir, 0o700)
		c.runAs = []string{"setpriv", "--reuid=" + u.Uid, "--regid=" + u.Gid, "--init-groups"}
	}
	if err := c.run(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if c.port, err = testproc.FreePort(); err != nil {
		return nil, err
	}
	c.AdminURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
	if err := c.pgctl("start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%v\n%s", err, log)
	}
	return c, nil
}

// FindBinDir returns the directory holding initdb and pg_ctl, or "".
func FindBinDir() string {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			if _, err := os.Stat(filepath.Join(filepath.Dir(real), "initdb")); err == nil {
				return filepath.Dir(real)
			}
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1])
	}
	return ""
}
