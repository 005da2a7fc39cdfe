// Package bench measures the hub's headline numbers: audit append rate,
// signed ingest throughput and latency against plain INSERT commits,
// delivery throughput, and end-to-end latency. Run with durable settings:
//
//	IPAI_TESTPG_DURABLE=1 go test -run '^$' -bench . -benchtime 1x ./bench/
//
// (PostgreSQL then runs with fsync, synchronous_commit and full_page_writes
// on; SQLite always runs WAL with synchronous=FULL.)
package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/app"
	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/testpg"
	"github.com/insightpulseai/ipai/internal/webhooksig"
)

func TestMain(m *testing.M) { testpg.Main(m) }

func dbURL(b *testing.B, kind string) string {
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

func startHub(b *testing.B, url string, serve bool) (*app.App, string, func()) {
	return startHubIn(b, b.TempDir(), url, serve)
}

// startHubIn starts a hub whose data dir (and so master key) is dir.
func startHubIn(b *testing.B, dir, url string, serve bool) (*app.App, string, func()) {
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
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ready) }()
	return a, "http://" + <-ready, func() { cancel(); <-done; a.Close() }
}

func percentile(d []time.Duration, p float64) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[int(float64(len(d)-1)*p)]
}

// BenchmarkIngest: 32 concurrent senders of signed events over HTTP, next
// to 32 concurrent single-row INSERT commits on the same database.
//
// The senders sign their requests before the clock starts and are measured
// twice: as raw HTTP/1.1 keep-alive connections (events/s, p50, p99) —
// standing for webhook senders on other machines, whose CPU is not the
// hub's — and through Go's net/http client (nethttp-events/s), whose two
// goroutines per connection cost about as much CPU per request as the hub's
// own handling and here share the same 2 cores with the hub and the database.
func BenchmarkIngest(b *testing.B) {
	const senders, per = 32, 1000
	for _, kind := range kinds {
		b.Run(kind, func(b *testing.B) {
			a, base, stop := startHub(b, dbURL(b, kind), true)
			defer stop()
			c, err := a.Hooks.Create(context.Background(), "bench", "", event.HookSpec{Scheme: webhooksig.SchemeStandard}, "", false)
			if err != nil {
				b.Fatal(err)
			}
			path := "/hooks/" + c.Hook.ID
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				reqs := signedRequests(c.Secret, fmt.Sprint(i, "r"), senders, per)
				lat := sendAll(b, reqs, func() poster { return dialRaw(b, base) }, path)
				b.ReportMetric(float64(len(lat.d))/lat.elapsed.Seconds(), "events/s")
				b.ReportMetric(float64(percentile(lat.d, 0.5).Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(percentile(lat.d, 0.99).Microseconds())/1000, "p99-ms")
				reqs = signedRequests(c.Secret, fmt.Sprint(i, "n"), senders, per)
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders}}
				lat = sendAll(b, reqs, func() poster { return netHTTP{client, base} }, path)
				b.ReportMetric(float64(len(lat.d))/lat.elapsed.Seconds(), "nethttp-events/s")
			}
			b.StopTimer()
			// Baseline: plain single-row INSERT commits at the same concurrency.
			ctx := context.Background()
			if _, err := a.DB.Exec(ctx, "CREATE TABLE bench_plain (id TEXT PRIMARY KEY, body TEXT NOT NULL)"); err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			start := time.Now()
			var wg sync.WaitGroup
			for s := 0; s < senders; s++ {
				wg.Add(1)
				go func(s int) {
					defer wg.Done()
					for k := 0; k < per; k++ {
						if _, err := a.DB.Exec(ctx, "INSERT INTO bench_plain (id, body) VALUES (?, ?)", fmt.Sprintf("%d_%d", s, k), `{"x":1}`); err != nil {
							b.Error(err)
							return
						}
						n.Add(1)
					}
				}(s)
			}
			wg.Wait()
			b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "plain-inserts/s")
		})
	}
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
func sendAll(b *testing.B, reqs [][]signedRequest, dial func() poster, path string) latencies {
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

// rawConn is a minimal HTTP/1.1 keep-alive client on one connection.
type rawConn struct {
	host string
	c    net.Conn
	r    *bufio.Reader
	buf  bytes.Buffer
}

func dialRaw(b *testing.B, base string) poster {
	host := strings.TrimPrefix(base, "http://")
	c, err := net.Dial("tcp", host)
	if err != nil {
		b.Fatal(err)
	}
	return &rawConn{host: host, c: c, r: bufio.NewReader(c)}
}

func (rc *rawConn) post(path string, r signedRequest) (int, error) {
	rc.buf.Reset()
	fmt.Fprintf(&rc.buf, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"+
		"webhook-id: %s\r\nwebhook-timestamp: %s\r\nwebhook-signature: %s\r\n\r\n", path, rc.host, len(r.body), r.id, r.ts, r.sig)
	rc.buf.Write(r.body)
	if _, err := rc.c.Write(rc.buf.Bytes()); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(rc.r, nil)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
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
			var got atomic.Int64
			rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				got.Add(1)
				w.WriteHeader(200)
			}))
			defer rc.Close()
			url, dir := dbURL(b, kind), b.TempDir()
			for i := 0; i < b.N; i++ {
				got.Store(0)
				a, _, stop := startHubIn(b, dir, url, false)
				if _, _, err := a.Endpoints.Create(context.Background(), "sink", delivery.EndpointSpec{TargetURL: rc.URL, EventTypes: []string{"*"}}, false); err != nil {
					b.Fatal(err)
				}
				const n = 10000
				var wg sync.WaitGroup
				for s := 0; s < 16; s++ {
					wg.Add(1)
					go func(s int) {
						defer wg.Done()
						for k := s; k < n; k += 16 {
							if _, err := a.Ingester.Ingest(context.Background(), event.Request{Source: "bench", Type: "b.x", IdemKey: fmt.Sprintf("%d-%d", i, k), Payload: []byte(`{"k":1}`)}); err != nil {
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
				start := time.Now()
				for got.Load() < n {
					if time.Since(start) > 2*time.Minute {
						b.Fatalf("only %d of %d delivered", got.Load(), n)
					}
					time.Sleep(2 * time.Millisecond)
				}
				b.ReportMetric(float64(n)/time.Since(start).Seconds(), "deliveries/s")
				stop()
			}
		})
	}
}

// BenchmarkEndToEnd: events sent at 500/s; latency from send to arrival at
// the receiver.
func BenchmarkEndToEnd(b *testing.B) {
	for _, kind := range kinds {
		b.Run(kind, func(b *testing.B) {
			var mu sync.Mutex
			var lat []time.Duration
			rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var env struct{ Data struct{ T int64 } }
				body, _ := io.ReadAll(r.Body)
				if err := jsonUnmarshal(body, &env); err == nil {
					mu.Lock()
					lat = append(lat, time.Since(time.Unix(0, env.Data.T)))
					mu.Unlock()
				}
				w.WriteHeader(200)
			}))
			defer rc.Close()
			a, base, stop := startHub(b, dbURL(b, kind), true)
			defer stop()
			c, _ := a.Hooks.Create(context.Background(), "e2e", "", event.HookSpec{Scheme: webhooksig.SchemeStandard}, "", false)
			a.Endpoints.Create(context.Background(), "sink", delivery.EndpointSpec{TargetURL: rc.URL, EventTypes: []string{"*"}}, false)
			const rate, seconds = 500, 6
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			for i := 0; i < b.N; i++ {
				mu.Lock()
				lat = lat[:0]
				mu.Unlock()
				tick := time.NewTicker(time.Second / rate)
				var wg sync.WaitGroup
				for k := 0; k < rate*seconds; k++ {
					<-tick.C
					wg.Add(1)
					go func(k int) {
						defer wg.Done()
						body := []byte(fmt.Sprintf(`{"t":%d,"k":%d}`, time.Now().UnixNano(), k))
						id := fmt.Sprintf("e_%d_%d", i, k)
						ts := time.Now().Unix()
						req, _ := http.NewRequest("POST", base+"/hooks/"+c.Hook.ID, bytes.NewReader(body))
						req.Header.Set("Content-Type", "application/json")
						req.Header.Set("webhook-id", id)
						req.Header.Set("webhook-timestamp", fmt.Sprint(ts))
						req.Header.Set("webhook-signature", webhooksig.SignStandard(c.Secret, id, ts, body))
						resp, err := client.Do(req)
						if err == nil {
							io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
						}
					}(k)
				}
				tick.Stop()
				wg.Wait()
				deadline := time.Now().Add(30 * time.Second)
				for {
					mu.Lock()
					n := len(lat)
					mu.Unlock()
					if n >= rate*seconds || time.Now().After(deadline) {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				mu.Lock()
				b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(len(lat)), "delivered")
				mu.Unlock()
			}
		})
	}
}
