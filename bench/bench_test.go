// Package bench measures the hub's headline numbers: audit append rate,
// signed ingest throughput and latency against plain INSERT commits,
// delivery throughput, and end-to-end latency, with durable commits:
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/
//
// (the test PostgreSQL runs with fsync, synchronous_commit and
// full_page_writes on — TestMain sets IPAI_TESTPG_DURABLE=1; SQLite always
// runs WAL with synchronous=FULL.)
package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/insightpulseai/ipai/internal/app"
	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/testpg"
	"github.com/insightpulseai/ipai/internal/webhooksig"
)

// TestMain runs the test PostgreSQL with durable commits (fsync,
// synchronous_commit and full_page_writes on): these are the numbers of a
// hub that loses nothing it acknowledged.
func TestMain(m *testing.M) {
	os.Setenv("IPAI_TESTPG_DURABLE", "1")
	app.TuneGC() // the in-process hub runs with the collector setting of ipai serve
	code := testpg.Run(m)
	removeBinaries()
	os.Exit(code)
}

func dbURL(b testing.TB, kind string) string {
	if kind == store.Postgres {
		return testpg.URL(b)
	}
	return filepath.Join(b.TempDir(), "ipai.db")
}

var kinds = []string{store.SQLite, store.Postgres}

// BenchmarkAuditAppend: 8 concurrent writers.
func BenchmarkAuditAppend(b *testing.B) {
	for _, kind := range kinds {
		b.Run(kind, func(b *testing.B) {
			db, err := store.Open(context.Background(), dbURL(b, kind))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.Migrate(context.Background())
			l := audit.New(db)
			defer l.Close()
			const writers, per = 8, 2000
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				var wg sync.WaitGroup
				for w := 0; w < writers; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for k := 0; k < per; k++ {
							if err := l.Write(context.Background(), audit.Entry{Actor: "bench", Action: "bench.write", Message: "x"}); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(writers*per)/time.Since(start).Seconds(), "entries/s")
			}
		})
	}
}

func startHub(b testing.TB, url string, serve bool) (*app.App, string, func()) {
	return startHubIn(b, b.TempDir(), url, serve)
}

// startHubIn starts a hub whose data dir (and so master key) is dir.
func startHubIn(b testing.TB, dir, url string, serve bool) (*app.App, string, func()) {
	cfg := config.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.Database.URL = url
	cfg.Log.Level = "error"
	cfg.Log.Format = "json"
	cfg.Outbound.Allow = []string{"127.0.0.1/32"}
	a, err := app.New(context.Background(), cfg, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	if !serve {
		return a, "", a.Close
	}
	addr, err := a.Listen()
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return a, "http://" + addr, func() { cancel(); <-done; a.Close() }
}

func percentile(d []time.Duration, p float64) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[int(float64(len(d)-1)*p)]
}

// BenchmarkIngest: 32 concurrent senders of signed events over HTTP, next
// to 32 concurrent single-row INSERT commits on the same database, with
// durable commits on both sides (checked: PostgreSQL fsync,
// synchronous_commit and full_page_writes on; SQLite WAL, synchronous=FULL).
//
// The plain INSERTs go into a table as wide as events (its columns, a
// primary key, a body of the same size), one row per transaction, over a
// pool of 32 connections of their own on PostgreSQL (pgx, prepared
// statement) — the hub's pool would hold them to its 20 — and over the
// hub's connection on SQLite (one writer). The two loads run in interleaved
// rounds, alternating which goes first, so that load from elsewhere on the
// machine falls on both: ratio is events/s ÷ plain-inserts/s of one run.
//
// The senders sign their requests before the clock starts and are measured
// as raw HTTP/1.1 keep-alive connections (events/s, p50, p99 at saturation)
// — standing for webhook senders on other machines, whose CPU is not the
// hub's — and through Go's net/http client (nethttp-events/s), whose two
// goroutines per connection cost about as much CPU per request as the hub's
// own handling and here share the same 2 cores with the hub and the
// database. Then at a fixed 500 events/s over the same 32 connections
// (p50/p99-ms-at-500/s: ack latency from the moment each request was due,
// so a sender held up by a slow ack counts the wait).
//
// IPAI_BENCH_PG_CPU=N pins the test PostgreSQL (postmaster and every
// backend) to CPU N and this process to the other CPUs, with taskset.
func BenchmarkIngest(b *testing.B) {
	const senders, per, rounds = 32, 1000, 4
	for _, kind := range kinds {
		b.Run(kind, func(b *testing.B) {
			ctx := context.Background()
			a, base, stop := startHub(b, dbURL(b, kind), true)
			defer stop()
			checkDurable(b, a.DB)
			if kind == store.Postgres {
				if cpu := os.Getenv("IPAI_BENCH_PG_CPU"); cpu != "" {
					defer pinPostgres(b, a.DB, cpu)()
				}
			}
			plain := newPlain(b, a.DB)
			defer plain.close()
			c, err := a.Hooks.Create(ctx, "bench", "", event.HookSpec{Scheme: webhooksig.SchemeStandard}, "", false)
			if err != nil {
				b.Fatal(err)
			}
			path := "/hooks/" + c.Hook.ID
			raw := func() poster { return dialRaw(b, base) }
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var events, inserts int
				var ingestTime, plainTime time.Duration
				var sat []time.Duration
				for r := 0; r < rounds; r++ {
					reqs := signedRequests(c.Secret, fmt.Sprint(i, "r", r), senders, per/rounds)
					ingest := func() {
						lat := sendAll(b, reqs, raw, path)
						events, ingestTime, sat = events+len(lat.d), ingestTime+lat.elapsed, append(sat, lat.d...)
					}
					insert := func() {
						n, d := plain.run(b, fmt.Sprint(i, "p", r), senders, per/rounds)
						inserts, plainTime = inserts+n, plainTime+d
					}
					if r%2 == 0 {
						ingest()
						insert()
					} else {
						insert()
						ingest()
					}
				}
				evs, ins := float64(events)/ingestTime.Seconds(), float64(inserts)/plainTime.Seconds()
				b.ReportMetric(evs, "events/s")
				b.ReportMetric(ins, "plain-inserts/s")
				b.ReportMetric(evs/ins, "ratio")
				b.ReportMetric(float64(percentile(sat, 0.5).Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(percentile(sat, 0.99).Microseconds())/1000, "p99-ms")

				reqs := signedRequests(c.Secret, fmt.Sprint(i, "n"), senders, per/rounds)
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders}}
				lat := sendAll(b, reqs, func() poster { return netHTTP{client, base} }, path)
				b.ReportMetric(float64(len(lat.d))/lat.elapsed.Seconds(), "nethttp-events/s")

				const rate, seconds = 500, 4
				d := sendAtRate(b, signedRequests(c.Secret, fmt.Sprint(i, "f"), senders, rate*seconds/senders), raw, path, rate)
				b.ReportMetric(float64(percentile(d, 0.5).Microseconds())/1000, "p50-ms-at-500/s")
				b.ReportMetric(float64(percentile(d, 0.99).Microseconds())/1000, "p99-ms-at-500/s")
			}
		})
	}
}

// checkDurable fails the benchmark unless a commit is durable on db.
func checkDurable(b testing.TB, db *store.DB) {
	ctx := context.Background()
	if db.Kind() == store.Postgres {
		var fsync, syncCommit, fpw string
		if err := db.QueryRow(ctx, "SELECT current_setting('fsync'), current_setting('synchronous_commit'), current_setting('full_page_writes')").
			Scan(&fsync, &syncCommit, &fpw); err != nil {
			b.Fatal(err)
		}
		if fsync != "on" || syncCommit != "on" || fpw != "on" {
			b.Fatalf("PostgreSQL runs with fsync=%s synchronous_commit=%s full_page_writes=%s: the benchmark measures durable commits; "+
				"run it on the test cluster (IPAI_TESTPG_DURABLE=1, set by this package) or a server with all three on", fsync, syncCommit, fpw)
		}
		return
	}
	var mode string
	var sync int
	if err := db.QueryRow(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		b.Fatal(err)
	}
	if err := db.QueryRow(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		b.Fatal(err)
	}
	if mode != "wal" || sync != 2 {
		b.Fatalf("SQLite runs with journal_mode=%s synchronous=%d: the benchmark measures WAL with synchronous=FULL (2)", mode, sync)
	}
}

// plainLoad commits single-row INSERTs into bench_plain, a table with
// the columns of events.
type plainLoad struct {
	db   *store.DB
	pool *pgxpool.Pool // PostgreSQL: a pool of its own, one connection per sender
}

const plainInsert = "INSERT INTO bench_plain (id, source, type, hook_id, received_at, idempotency_key, payload) VALUES "

func newPlain(b testing.TB, db *store.DB) *plainLoad {
	ctx := context.Background()
	if _, err := db.Exec(ctx, `CREATE TABLE bench_plain (id TEXT PRIMARY KEY, source TEXT NOT NULL, type TEXT NOT NULL,
		hook_id TEXT NOT NULL DEFAULT '', received_at BIGINT NOT NULL, idempotency_key TEXT NOT NULL, payload TEXT NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	p := &plainLoad{db: db}
	if db.Kind() != store.Postgres {
		return p
	}
	cfg := db.Pool().Config().Copy()
	cfg.MaxConns, cfg.MinConns = 32, 32
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	p.pool = pool
	var fsync, syncCommit string
	if err := pool.QueryRow(ctx, "SELECT current_setting('fsync'), current_setting('synchronous_commit')").Scan(&fsync, &syncCommit); err != nil {
		b.Fatal(err)
	}
	if fsync != "on" || syncCommit != "on" {
		b.Fatalf("plain INSERTs: fsync=%s synchronous_commit=%s, want on", fsync, syncCommit)
	}
	return p
}

func (p *plainLoad) close() {
	if p.pool != nil {
		p.pool.Close()
	}
}

// run commits per rows from each of senders concurrently and returns the
// rows committed and the wall time.
func (p *plainLoad) run(b testing.TB, run string, senders, per int) (int, time.Duration) {
	ctx := context.Background()
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			for k := 0; k < per; k++ {
				id, key := event.NewEventID(), fmt.Sprintf("p_%s_%d_%d", run, s, k)
				body := fmt.Sprintf(`{"run":%q,"s":%d,"k":%d}`, run, s, k)
				now := time.Now().UnixMicro()
				var err error
				if p.pool != nil {
					_, err = p.pool.Exec(ctx, plainInsert+"($1, $2, $3, $4, $5, $6, $7)", id, "hook_bench", "webhook.received", "hook_bench", now, key, body)
				} else {
					_, err = p.db.Exec(ctx, plainInsert+"(?, ?, ?, ?, ?, ?, ?)", id, "hook_bench", "webhook.received", "hook_bench", now, key, body)
				}
				if err != nil {
					b.Error(err)
					return
				}
				n.Add(1)
			}
		}(s)
	}
	wg.Wait()
	return int(n.Load()), time.Since(start)
}

// pinPostgres pins the PostgreSQL server behind db (postmaster, so every
// backend it forks from now on, and the processes it runs now) to cpu and
// this process to the other CPUs; the returned func unpins this process.
func pinPostgres(b *testing.B, db *store.DB, cpu string) func() {
	n, err := strconv.Atoi(cpu)
	if err != nil || n < 0 || n >= runtime.NumCPU() {
		b.Fatalf("IPAI_BENCH_PG_CPU=%q: want a CPU number from 0 to %d", cpu, runtime.NumCPU()-1)
	}
	var backend int
	if err := db.QueryRow(context.Background(), "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		b.Fatal(err)
	}
	postmaster := ppid(backend)
	if postmaster <= 1 {
		b.Fatalf("pin: no postmaster above backend %d (is the server on another machine?)", backend)
	}
	taskset := func(args ...string) {
		if out, err := exec.Command("taskset", args...).CombinedOutput(); err != nil {
			b.Fatalf("taskset %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	taskset("-a", "-p", "-c", cpu, strconv.Itoa(postmaster))
	procs, _ := os.ReadDir("/proc")
	for _, e := range procs {
		if pid, err := strconv.Atoi(e.Name()); err == nil && ppid(pid) == postmaster {
			taskset("-a", "-p", "-c", cpu, e.Name())
		}
	}
	var others []string
	for c := 0; c < runtime.NumCPU(); c++ {
		if c != n {
			others = append(others, strconv.Itoa(c))
		}
	}
	if len(others) > 0 {
		taskset("-a", "-p", "-c", strings.Join(others, ","), strconv.Itoa(os.Getpid()))
	}
	b.Logf("PostgreSQL (postmaster %d) on CPU %s, the benchmark on CPU %s", postmaster, cpu, strings.Join(others, ","))
	return func() {
		taskset("-a", "-p", "-c", fmt.Sprintf("0-%d", runtime.NumCPU()-1), strconv.Itoa(os.Getpid()))
	}
}

// ppid returns the parent of process pid (0 when unknown).
func ppid(pid int) int {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(f) < 2 {
		return 0
	}
	p, _ := strconv.Atoi(f[1])
	return p
}

// sendAtRate sends the requests at rate per second over one poster per
// sender (request k of all is due at k/rate s and goes out on poster k mod
// senders) and returns each ack's latency from the moment it was due.
func sendAtRate(b *testing.B, reqs [][]signedRequest, dial func() poster, path string, rate int) []time.Duration {
	posters := make([]poster, len(reqs))
	for s := range posters {
		posters[s] = dial()
		defer posters[s].close()
	}
	var mu sync.Mutex
	var out []time.Duration
	var wg sync.WaitGroup
	start := time.Now().Add(10 * time.Millisecond)
	for s := range reqs {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			mine := make([]time.Duration, 0, len(reqs[s]))
			for j, r := range reqs[s] {
				due := start.Add(time.Duration(j*len(reqs)+s) * time.Second / time.Duration(rate))
				time.Sleep(time.Until(due))
				status, err := posters[s].post(path, r)
				if err != nil || status != 200 {
					b.Errorf("ingest: status %d, %v", status, err)
					return
				}
				mine = append(mine, time.Since(due))
			}
			mu.Lock()
			out = append(out, mine...)
			mu.Unlock()
		}(s)
	}
	wg.Wait()
	return out
}

// ingestRaw sends senders×per signed events (ids unique under run) over raw
// HTTP/1.1 keep-alive connections, one per sender, and returns their
// latencies.
func ingestRaw(b testing.TB, base, path, secret, run string, senders, per int) latencies {
	reqs := signedRequests(secret, run, senders, per)
	return sendAll(b, reqs, func() poster { return dialRaw(b, base) }, path)
}

// signedRequest is one Standard Webhooks request, signed in advance.
type signedRequest struct {
	id, ts, sig string
	body        []byte
}

// signedRequests returns per requests for each of senders, with ids unique
// under run.
func signedRequests(secret, run string, senders, per int) [][]signedRequest {
	ts := time.Now().Unix()
	out := make([][]signedRequest, senders)
	for s := range out {
		for k := 0; k < per; k++ {
			body := []byte(fmt.Sprintf(`{"run":%q,"s":%d,"k":%d}`, run, s, k))
			id := fmt.Sprintf("m_%s_%d_%d", run, s, k)
			out[s] = append(out[s], signedRequest{id, fmt.Sprint(ts), webhooksig.SignStandard(secret, id, ts, body), body})
		}
	}
	return out
}

// poster sends one request and returns the response status.
type poster interface {
	post(path string, r signedRequest) (int, error)
	close()
}

// latencies are the durations of successful requests and the wall time of
// the whole load.
type latencies struct {
	d       []time.Duration
	elapsed time.Duration
}

// sendAll sends every sender's requests over its own poster, concurrently,
// and fails the benchmark on anything but 200.
func sendAll(b testing.TB, reqs [][]signedRequest, dial func() poster, path string) latencies {
	var mu sync.Mutex
	var lat latencies
	var wg sync.WaitGroup
	posters := make([]poster, len(reqs))
	for s := range posters {
		posters[s] = dial()
		defer posters[s].close()
	}
	start := time.Now()
	for s := range reqs {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			mine := make([]time.Duration, 0, len(reqs[s]))
			for _, r := range reqs[s] {
				t0 := time.Now()
				status, err := posters[s].post(path, r)
				if err != nil || status != 200 {
					b.Errorf("ingest: status %d, %v", status, err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat.d = append(lat.d, mine...)
			mu.Unlock()
		}(s)
	}
	wg.Wait()
	lat.elapsed = time.Since(start)
	return lat
}

// rawConn is a minimal HTTP/1.1 keep-alive client on one connection: it
// writes each request with one syscall and reads only the status line, the
// Content-Length and the body of the answer — the least a sender on
// another machine spends of the CPU this benchmark shares with the hub.
type rawConn struct {
	host string
	c    net.Conn
	r    *bufio.Reader
	buf  []byte
}

func dialRaw(b testing.TB, base string) poster {
	host := strings.TrimPrefix(base, "http://")
	c, err := net.Dial("tcp", host)
	if err != nil {
		b.Fatal(err)
	}
	return &rawConn{host: host, c: c, r: bufio.NewReader(c)}
}

func (rc *rawConn) post(path string, r signedRequest) (int, error) {
	b := append(rc.buf[:0], "POST "...)
	b = append(append(append(b, path...), " HTTP/1.1\r\nHost: "...), rc.host...)
	b = append(b, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(r.body)), 10)
	b = append(append(b, "\r\nwebhook-id: "...), r.id...)
	b = append(append(b, "\r\nwebhook-timestamp: "...), r.ts...)
	b = append(append(b, "\r\nwebhook-signature: "...), r.sig...)
	b = append(append(b, "\r\n\r\n"...), r.body...)
	rc.buf = b
	if _, err := rc.c.Write(b); err != nil {
		return 0, err
	}
	return readResponse(rc.r)
}

// readResponse reads one HTTP/1.1 response with a Content-Length body and
// returns its status.
func readResponse(r *bufio.Reader) (int, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, fmt.Errorf("not an HTTP/1.x status line: %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("status line %q: %v", line, err)
	}
	length := -1
	for {
		h, err := r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if ok && bytes.EqualFold(name, []byte("Content-Length")) {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(value))); err != nil {
				return 0, fmt.Errorf("Content-Length %q: %v", value, err)
			}
		}
	}
	if length < 0 {
		return 0, errors.New("response without Content-Length: this client reads only sized bodies")
	}
	_, err = r.Discard(length)
	return status, err
}

func (rc *rawConn) close() { rc.c.Close() }

// netHTTP posts through a net/http client.
type netHTTP struct {
	client *http.Client
	base   string
}

func (n netHTTP) post(path string, r signedRequest) (int, error) {
	req, _ := http.NewRequest("POST", n.base+path, bytes.NewReader(r.body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", r.id)
	req.Header.Set("webhook-timestamp", r.ts)
	req.Header.Set("webhook-signature", r.sig)
	resp, err := n.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

func (n netHTTP) close() { n.client.CloseIdleConnections() }

// BenchmarkDeliver: deliveries/s to a local receiver answering 200, from a
// backlog of 10,000.
func BenchmarkDeliver(b *testing.B) {
	for _, kind := range kinds {
		b.Run(kind, func(b *testing.B) {
			rc := newCounter()
			defer rc.Close()
			url, dir := dbURL(b, kind), b.TempDir()
			for i := 0; i < b.N; i++ {
				rate, err := deliverRound(b, dir, url, rc, fmt.Sprint(i), 10000, i == 0)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(rate, "deliveries/s")
			}
		})
	}
}

// counter is a local receiver answering 200 and counting requests.
type counter struct {
	*httptest.Server
	got atomic.Int64
}

func newCounter() *counter {
	c := &counter{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		c.got.Add(1)
		w.WriteHeader(200)
	}))
	return c
}

// deliverRound stores a backlog of n events for an endpoint to rc with the
// hub of dir and url not serving, then serves and returns the rate at which
// the dispatcher drains the backlog into rc (deliveries/s). The first round
// creates the endpoint; run keeps the events of successive rounds apart.
func deliverRound(b testing.TB, dir, url string, rc *counter, run string, n int, first bool) (float64, error) {
	rc.got.Store(0)
	a, _, stop := startHubIn(b, dir, url, false)
	if first {
		if _, _, err := a.Endpoints.Create(context.Background(), "sink", delivery.EndpointSpec{TargetURL: rc.URL, EventTypes: []string{"*"}}, false); err != nil {
			b.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for s := 0; s < 16; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			for k := s; k < n; k += 16 {
				if _, err := a.Ingester.Ingest(context.Background(), event.Request{Source: "bench", Type: "b.x", IdemKey: fmt.Sprintf("%s-%d", run, k), Payload: []byte(`{"k":1}`)}); err != nil {
					b.Error(err)
					return
				}
			}
		}(s)
	}
	wg.Wait()
	stop()
	// Now serve: the dispatcher drains the backlog.
	_, _, stop = startHubIn(b, dir, url, true)
	defer stop()
	start := time.Now()
	for rc.got.Load() < int64(n) {
		if time.Since(start) > 2*time.Minute {
			return 0, fmt.Errorf("only %d of %d delivered in 2 minutes", rc.got.Load(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// BenchmarkEndToEnd: events sent at 500/s; latency from send to arrival at
// the receiver.
func BenchmarkEndToEnd(b *testing.B) {
	for _, kind := range kinds {
		b.Run(kind, func(b *testing.B) {
			rx := newLatencyReceiver()
			defer rx.Close()
			a, base, stop := startHub(b, dbURL(b, kind), true)
			defer stop()
			c, _ := a.Hooks.Create(context.Background(), "e2e", "", event.HookSpec{Scheme: webhooksig.SchemeStandard}, "", false)
			a.Endpoints.Create(context.Background(), "sink", delivery.EndpointSpec{TargetURL: rx.URL, EventTypes: []string{"*"}}, false)
			const rate, seconds = 500, 6
			for i := 0; i < b.N; i++ {
				r := endToEnd(rx, fmt.Sprint(i), rate, seconds, signedSender(base+"/hooks/"+c.Hook.ID, c.Secret))
				b.ReportMetric(r.p50, "p50-ms")
				b.ReportMetric(r.p99, "p99-ms")
				b.ReportMetric(float64(r.delivered), "delivered")
			}
		})
	}
}

// latencyReceiver is a local receiver answering 200 that records, per run,
// the time from each event's send ("t", Unix ns, in the body or in the
// envelope's "data") to its arrival.
type latencyReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	lat map[string][]time.Duration
}

func newLatencyReceiver() *latencyReceiver {
	rx := &latencyReceiver{lat: map[string][]time.Duration{}}
	rx.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		type mark struct {
			T   int64
			Run string
		}
		var env struct {
			mark
			Data mark
		}
		body, _ := io.ReadAll(r.Body)
		if err := jsonUnmarshal(body, &env); err == nil {
			m := env.mark
			if m.T == 0 {
				m = env.Data
			}
			rx.mu.Lock()
			rx.lat[m.Run] = append(rx.lat[m.Run], time.Since(time.Unix(0, m.T)))
			rx.mu.Unlock()
		}
		w.WriteHeader(200)
	}))
	return rx
}

func (rx *latencyReceiver) got(run string) []time.Duration {
	rx.mu.Lock()
	defer rx.mu.Unlock()
	return append([]time.Duration(nil), rx.lat[run]...)
}

// sender posts one event body and returns the response status.
type sender func(client *http.Client, id string, body []byte) (int, error)

// signedSender posts Standard Webhooks signed events to an ipai hook URL.
func signedSender(url, secret string) sender {
	return func(client *http.Client, id string, body []byte) (int, error) {
		ts := time.Now().Unix()
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", fmt.Sprint(ts))
		req.Header.Set("webhook-signature", webhooksig.SignStandard(secret, id, ts, body))
		return post(client, req)
	}
}

func post(client *http.Client, req *http.Request) (int, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// e2eResult is one end-to-end run: latency percentiles in ms over every
// event sent (an event not delivered counts as slower than any delivered;
// then the percentile is -1 when it falls on one), how many of how many sent
// events arrived, and how many sends failed (the first error in firstErr).
type e2eResult struct {
	p50, p99              float64
	sent, delivered, errs int
	firstErr              string
}

// endToEnd sends rate events/s for seconds through send, each carrying its
// send time and run, and waits (up to 30 s after the last send) until the
// receiver has them all.
func endToEnd(rx *latencyReceiver, run string, rate, seconds int, send sender) e2eResult {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	var errs atomic.Int64
	var firstErr atomic.Value
	n := rate * seconds
	tick := time.NewTicker(time.Second / time.Duration(rate))
	var wg sync.WaitGroup
	for k := 0; k < n; k++ {
		<-tick.C
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			body := []byte(fmt.Sprintf(`{"t":%d,"run":%q,"k":%d}`, time.Now().UnixNano(), run, k))
			status, err := send(client, fmt.Sprintf("e_%s_%d", run, k), body)
			if err == nil && status >= 300 {
				err = fmt.Errorf("status %d", status)
			}
			if err != nil {
				errs.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			}
		}(k)
	}
	tick.Stop()
	wg.Wait()
	want := n - int(errs.Load())
	deadline := time.Now().Add(30 * time.Second)
	for len(rx.got(run)) < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	lat := rx.got(run)
	r := e2eResult{sent: n, delivered: len(lat), errs: int(errs.Load())}
	if e, ok := firstErr.Load().(string); ok {
		r.firstErr = e
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	at := func(p float64) float64 {
		i := int(float64(n-1) * p)
		if i >= len(lat) {
			return -1
		}
		return float64(lat[i].Microseconds()) / 1000
	}
	r.p50, r.p99 = at(0.5), at(0.99)
	return r
}

// sustained sends n events from senders concurrent senders, each as soon as
// its previous one is acknowledged, and returns the rate (events/s) at
// which they arrive at the receiver: n over the time from the first send to
// the last arrival (or, after limit, what arrived over limit, and an error).
func sustained(rx *latencyReceiver, run string, n, senders int, limit time.Duration, send sender) (float64, error) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: senders}}
	defer client.CloseIdleConnections()
	next := make(chan int)
	go func() {
		for k := 0; k < n; k++ {
			next <- k
		}
		close(next)
	}()
	var errs atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				body := []byte(fmt.Sprintf(`{"t":%d,"run":%q,"k":%d}`, time.Now().UnixNano(), run, k))
				status, err := send(client, fmt.Sprintf("s_%s_%d", run, k), body)
				if err == nil && status >= 300 {
					err = fmt.Errorf("status %d", status)
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	wg.Wait()
	for len(rx.got(run)) < n && time.Since(start) < limit {
		time.Sleep(2 * time.Millisecond)
	}
	got := len(rx.got(run))
	elapsed := time.Since(start)
	if got < n {
		err := fmt.Errorf("only %d of %d events delivered in %v (%d sends failed", got, n, limit, errs.Load())
		if e, ok := firstErr.Load().(string); ok {
			err = fmt.Errorf("%v, first: %s)", err, e)
		} else {
			err = fmt.Errorf("%v)", err)
		}
		return float64(got) / elapsed.Seconds(), err
	}
	return float64(n) / elapsed.Seconds(), nil
}

// settle waits until the receiver has had nothing new for quiet (a system
// still working off an earlier load would slow the next measurement), for
// at most limit.
func (rx *latencyReceiver) settle(quiet, limit time.Duration) {
	deadline := time.Now().Add(limit)
	last, since := rx.total(), time.Now()
	for time.Now().Before(deadline) && time.Since(since) < quiet {
		time.Sleep(50 * time.Millisecond)
		if n := rx.total(); n != last {
			last, since = n, time.Now()
		}
	}
}

func (rx *latencyReceiver) total() int {
	rx.mu.Lock()
	defer rx.mu.Unlock()
	n := 0
	for _, l := range rx.lat {
		n += len(l)
	}
	return n
}
