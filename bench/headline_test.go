package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/insightpulseai/ipai/e2e/hubproc"
	"github.com/insightpulseai/ipai/internal/app"
	"github.com/insightpulseai/ipai/internal/connector/n8n/n8ntest"
	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/testpg"
	"github.com/insightpulseai/ipai/internal/webhooksig"
)

// Flags of TestHeadline, set by scripts/bench.
var (
	flagTable  = flag.Bool("headline.table", false, "measure every figure on SQLite and PostgreSQL (durable), and n8n when installed, as scripts/bench does")
	flagRounds = flag.Int("headline.rounds", 3, "interleaved rounds; each figure is the median over them")
	flagQuick  = flag.Bool("headline.quick", false, "short loads (a smoke test)")
	flagOnly   = flag.String("headline.only", "", "measure only this group of rows: "+strings.Join(groups, ", "))
	flagOut    = flag.String("headline.out", "", "write the table to this file instead of standard output")
)

// Row groups, in the order they are measured within a round.
var groups = []string{"ingest", "deliver", "latency", "recovery", "startup", "n8n"}

// hlOptions choose what a headline run measures.
type hlOptions struct {
	Rounds  int
	Quick   bool
	Only    string   // one of groups, or "" for all
	Kinds   []string // databases to measure on
	N8NHome string   // where n8n is installed
	Log     io.Writer
}

// hlSizes are the loads of one round.
type hlSizes struct {
	senders, perSender  int // ingest and plain INSERTs
	backlog             int // deliveries/s
	rate, seconds       int // ingest→delivered
	recoverN, recoverAt int // events sent through the crash; kill after this many acks
	sustainN            int // events of the sustained ipai/n8n comparison
	idle                time.Duration
}

func sizes(quick bool) hlSizes {
	if quick {
		return hlSizes{senders: 32, perSender: 10, backlog: 300, rate: 500, seconds: 1, recoverN: 100, recoverAt: 25, sustainN: 100, idle: time.Second}
	}
	return hlSizes{senders: 32, perSender: 500, backlog: 10000, rate: 500, seconds: 6, recoverN: 2000, recoverAt: 500, sustainN: 300, idle: 2 * time.Second}
}

// row is one line of the table: a figure and its median, or why it has none.
type row struct {
	group, label string
	value        string // median, formatted with its unit; "" when reason
	reason       string
}

// hlRun collects the samples of a headline run.
type hlRun struct {
	opts    hlOptions
	sz      hlSizes
	mu      sync.Mutex
	samples map[string][]float64
	reasons map[string]string // measurement key → why it has no value
}

func (h *hlRun) add(key string, v float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.samples[key] = append(h.samples[key], v)
}

func (h *hlRun) fail(key string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.reasons[key]; !ok {
		h.reasons[key] = err.Error()
	}
}

func (h *hlRun) logf(format string, args ...any) {
	if h.opts.Log != nil {
		fmt.Fprintf(h.opts.Log, "bench: "+format+"\n", args...)
	}
}

func (h *hlRun) wants(group string) bool { return h.opts.Only == "" || h.opts.Only == group }

func (h *hlRun) has(kind string) bool {
	for _, k := range h.opts.Kinds {
		if k == kind {
			return true
		}
	}
	return false
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// n8nInstalled says whether the n8n of scripts/n8n-install.sh is in home,
// or why not.
func n8nInstalled(home string) (bool, string) {
	marker := filepath.Join(home, ".installed-n8n-"+n8ntest.N8NVersion+"-node-"+n8ntest.NodeVersion)
	if _, err := os.Stat(marker); err != nil {
		return false, "n8n not installed (run scripts/n8n-install.sh)"
	}
	if os.Getenv("IPAI_SKIP_N8N") == "1" {
		return false, "n8n skipped (IPAI_SKIP_N8N=1)"
	}
	return true, ""
}

// headline measures every figure of the table in opts.Rounds interleaved
// rounds (each round measures each figure once, in the same order; the
// compared figures of a row right after one another) and returns the rows
// with the medians.
func headline(t testing.TB, opts hlOptions) []row {
	h := &hlRun{opts: opts, sz: sizes(opts.Quick), samples: map[string][]float64{}, reasons: map[string]string{}}
	ctx := context.Background()
	lat := newLatencyReceiver()
	t.Cleanup(lat.Close)
	cnt := newCounter()
	t.Cleanup(cnt.Close)

	// Fixtures that live through the rounds.
	type ingestFix struct {
		a            *hubApp
		path, secret string
		plain        *plainLoad
	}
	ingest := map[string]*ingestFix{}
	type deliverFix struct{ dir, url string }
	deliver := map[string]*deliverFix{}
	type latencyFix struct {
		a           *hubApp
		url, secret string
	}
	latency := map[string]*latencyFix{}
	var bin string
	if h.wants("recovery") || h.wants("startup") {
		bin = hubBinary(t)
	}
	for _, kind := range opts.Kinds {
		if h.wants("ingest") {
			a := startHubApp(t, dbURL(t, kind))
			c, err := a.Hooks.Create(ctx, "bench", "", event.HookSpec{Scheme: webhooksig.SchemeStandard}, "", false)
			if err != nil {
				t.Fatal(err)
			}
			checkDurable(t, a.DB)
			plain := newPlain(t, a.DB)
			t.Cleanup(plain.close)
			ingest[kind] = &ingestFix{a, "/hooks/" + c.Hook.ID, c.Secret, plain}
		}
		if h.wants("deliver") {
			deliver[kind] = &deliverFix{t.TempDir(), dbURL(t, kind)}
		}
		if h.wants("latency") || (h.wants("n8n") && kind == store.SQLite) {
			a := startHubApp(t, dbURL(t, kind))
			c, err := a.Hooks.Create(ctx, "e2e", "", event.HookSpec{Scheme: webhooksig.SchemeStandard}, "", false)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := a.Endpoints.Create(ctx, "sink", delivery.EndpointSpec{TargetURL: lat.URL, EventTypes: []string{"*"}}, false); err != nil {
				t.Fatal(err)
			}
			latency[kind] = &latencyFix{a, a.base + "/hooks/" + c.Hook.ID, c.Secret}
		}
	}
	withN8N, n8nReason := false, ""
	if h.wants("n8n") {
		if !h.has(store.SQLite) {
			n8nReason = "not measured: compared with ipai on SQLite, which this run leaves out"
		} else {
			withN8N, n8nReason = n8nInstalled(opts.N8NHome)
		}
	}

	sz := h.sz
	for r := 0; r < opts.Rounds; r++ {
		run := fmt.Sprint("r", r)
		for _, kind := range opts.Kinds {
			if f := ingest[kind]; f != nil {
				l := ingestRaw(t, f.a.base, f.path, f.secret, run, sz.senders, sz.perSender)
				ev := float64(len(l.d)) / l.elapsed.Seconds()
				n, d := f.plain.run(t, run, sz.senders, sz.perSender)
				pl := float64(n) / d.Seconds()
				h.add("ingest/"+kind, ev)
				h.add("plain/"+kind, pl)
				h.add("ingest-ratio/"+kind, ev/pl)
				h.logf("round %d %s: ingest %.0f events/s, plain INSERT %.0f/s", r+1, kind, ev, pl)
			}
		}
		for _, kind := range opts.Kinds {
			if f := deliver[kind]; f != nil {
				v, err := deliverRound(t, f.dir, f.url, cnt, run, sz.backlog, r == 0)
				if err != nil {
					h.fail("deliver/"+kind, err)
				} else {
					h.add("deliver/"+kind, v)
				}
				h.logf("round %d %s: %.0f deliveries/s %v", r+1, kind, v, errText(err))
			}
		}
		for _, kind := range opts.Kinds {
			if f := latency[kind]; f != nil && h.wants("latency") {
				h.e2e("latency/"+kind, endToEnd(lat, run+kind, sz.rate, sz.seconds, signedSender(f.url, f.secret)))
			}
		}
		if h.wants("recovery") {
			for _, kind := range opts.Kinds {
				rec, ready, err := recoveryRound(t, bin, dbURL(t, kind), sz.recoverN, sz.recoverAt)
				if err != nil {
					h.fail("recovery/"+kind, err)
				} else {
					h.add("recovery/"+kind, rec.Seconds())
					h.add("recovery-ready/"+kind, float64(ready.Microseconds())/1000)
				}
				h.logf("round %d %s: restart → all acknowledged delivered %v %v", r+1, kind, rec.Round(time.Millisecond), errText(err))
			}
		}
		if h.wants("startup") {
			for _, kind := range opts.Kinds {
				url := ""
				if kind == store.Postgres {
					url = testpg.URL(t)
				}
				ready, rss := serveStartup(t, bin, url, sz.idle)
				h.add("ready/"+kind, float64(ready.Microseconds())/1000)
				h.add("rss/"+kind, rss)
				h.logf("round %d %s: start-to-ready %v, idle RSS %.1f MiB", r+1, kind, ready.Round(time.Millisecond), rss)
			}
		}
		if withN8N {
			f := latency[store.SQLite]
			h.n8nRound(t, lat, run, signedSender(f.url, f.secret))
		}
	}
	return h.rows(n8nReason)
}

// n8nRound starts a fresh n8n with the workflow, measures ipai (ipai, on
// SQLite) and n8n right after one another on the same receiver — sustained
// throughput, then latency at the fixed rate — and stops n8n (with whatever
// backlog it still has). Each load starts once the receiver has been quiet
// for a second.
func (h *hlRun) n8nRound(t testing.TB, lat *latencyReceiver, run string, ipai sender) {
	sz := h.sz
	h.logf("starting n8n %s", n8ntest.N8NVersion)
	in := n8ntest.StartOwn(t)
	defer in.Stop()
	n8n := plainSender(n8nWorkflow(t, in, lat.URL))
	const limit = 2 * time.Minute
	lat.settle(time.Second, limit)
	is, err := sustained(lat, run+"ipai-s", sz.sustainN, sz.senders, limit, ipai)
	h.logf("ipai sustained: %.0f events/s %s", is, errText(err))
	if err != nil {
		h.fail("sus-ipai", err)
	}
	h.add("sus-ipai", is)
	lat.settle(time.Second, limit)
	ns, err := sustained(lat, run+"n8n-s", sz.sustainN, sz.senders, limit, n8n)
	h.logf("n8n sustained: %.0f events/s %s", ns, errText(err))
	if err != nil {
		// The rate over the limit stands; the row says not all arrived.
		h.add("sus-n8n-incomplete", 1)
	}
	h.add("sus-n8n", ns)
	if ns > 0 {
		h.add("sus-ratio", is/ns)
	}
	lat.settle(time.Second, limit)
	ip := endToEnd(lat, run+"ipai", sz.rate, sz.seconds, ipai)
	h.e2e("n8n-ipai", ip)
	lat.settle(time.Second, limit)
	nr := endToEnd(lat, run+"n8n", sz.rate, sz.seconds, n8n)
	h.logf("n8n: p50 %.1f ms, p99 %.1f ms, %d of %d delivered, %d refused %s", nr.p50, nr.p99, nr.delivered, nr.sent, nr.errs, nr.firstErr)
	h.add("n8n/p50", inf(nr.p50))
	h.add("n8n/p99", inf(nr.p99))
	h.add("n8n/delivered", float64(nr.delivered))
	h.add("n8n/refused", float64(nr.errs))
	if ip.delivered == ip.sent {
		// An event not delivered 30 s after the last send took more than
		// 30 s: the ratio is then a lower bound.
		h.add("n8n-ratio50", atLeast30s(nr.p50)/ip.p50)
		h.add("n8n-ratio99", atLeast30s(nr.p99)/ip.p99)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return "(" + err.Error() + ")"
}

// e2e records one end-to-end result under key.
func (h *hlRun) e2e(key string, r e2eResult) {
	h.logf("%s: p50 %.1f ms, p99 %.1f ms, %d of %d delivered, %d refused", key, r.p50, r.p99, r.delivered, r.sent, r.errs)
	if r.delivered < r.sent {
		h.fail(key, fmt.Errorf("only %d of %d events delivered within 30 s of the last send (%d refused)", r.delivered, r.sent, r.errs))
		return
	}
	h.add(key+"/p50", r.p50)
	h.add(key+"/p99", r.p99)
}

var kindName = map[string]string{store.SQLite: "SQLite", store.Postgres: "PostgreSQL"}

// rows formats the medians (or the reasons) of every row of the table.
func (h *hlRun) rows(n8nReason string) []row {
	var out []row
	cell := func(group, label, reasonKey string, format func(m func(string) float64) string, keys ...string) {
		rw := row{group: group, label: label}
		switch {
		case !h.wants(group):
			rw.reason = "not measured (--only " + h.opts.Only + ")"
		case h.reasons[reasonKey] != "":
			rw.reason = h.reasons[reasonKey]
		default:
			for _, k := range keys {
				if len(h.samples[k]) == 0 {
					rw.reason = "no sample"
				}
			}
			if rw.reason == "" {
				rw.value = format(func(k string) float64 { return median(h.samples[k]) })
			}
		}
		out = append(out, rw)
	}
	skipped := func(group, label, why string) {
		out = append(out, row{group: group, label: label, reason: why})
	}
	sz := h.sz
	for _, kind := range []string{store.SQLite, store.Postgres} {
		name := kindName[kind]
		labels := []struct{ group, label string }{
			{"ingest", fmt.Sprintf("%s: signed ingest over HTTP, %d senders", name, sz.senders)},
			{"ingest", fmt.Sprintf("%s: plain single-row INSERT commits, %d senders", name, sz.senders)},
			{"ingest", fmt.Sprintf("%s: ingest / plain INSERT", name)},
			{"deliver", fmt.Sprintf("%s: deliveries/s, hub → local receiver (backlog of %d)", name, sz.backlog)},
			{"latency", fmt.Sprintf("%s: ingest → delivered at %d events/s, p50 / p99", name, sz.rate)},
			{"recovery", fmt.Sprintf("%s: kill -9 mid-load, restart → every acknowledged event delivered", name)},
			{"startup", fmt.Sprintf("%s: `ipai serve` start-to-ready (fresh database)", name)},
			{"startup", fmt.Sprintf("%s: `ipai serve` idle RSS, %v after ready", name, sz.idle)},
		}
		if !h.has(kind) {
			for _, l := range labels {
				skipped(l.group, l.label, "not measured: "+name+" left out of this run")
			}
			continue
		}
		cell("ingest", labels[0].label, "", func(m func(string) float64) string { return rate(m("ingest/"+kind), "events/s") }, "ingest/"+kind)
		cell("ingest", labels[1].label, "", func(m func(string) float64) string { return rate(m("plain/"+kind), "commits/s") }, "plain/"+kind)
		cell("ingest", labels[2].label, "", func(m func(string) float64) string { return fmt.Sprintf("%.2f×", m("ingest-ratio/"+kind)) }, "ingest-ratio/"+kind)
		cell("deliver", labels[3].label, "deliver/"+kind, func(m func(string) float64) string { return rate(m("deliver/"+kind), "deliveries/s") }, "deliver/"+kind)
		cell("latency", labels[4].label, "latency/"+kind, func(m func(string) float64) string {
			return msPair(m("latency/"+kind+"/p50"), m("latency/"+kind+"/p99"))
		}, "latency/"+kind+"/p50")
		cell("recovery", labels[5].label, "recovery/"+kind, func(m func(string) float64) string {
			return fmt.Sprintf("%.2f s (restart → ready %s ms)", m("recovery/"+kind), ms(m("recovery-ready/"+kind)))
		}, "recovery/"+kind)
		cell("startup", labels[6].label, "", func(m func(string) float64) string { return ms(m("ready/"+kind)) + " ms" }, "ready/"+kind)
		cell("startup", labels[7].label, "", func(m func(string) float64) string { return fmt.Sprintf("%.1f MiB", m("rss/"+kind)) }, "rss/"+kind)
	}
	n8nRows := []string{
		fmt.Sprintf("n8n %s (Webhook → HTTP Request to the same receiver): same load at %d events/s, p50 / p99", n8ntest.N8NVersion, sz.rate),
		"ipai (SQLite) measured right before it, p50 / p99",
		"n8n / ipai latency, p50 / p99",
		fmt.Sprintf("n8n: sustained ingest → delivered, %d senders, %d events", sz.senders, sz.sustainN),
		"ipai (SQLite): the same, measured right before it",
		"ipai / n8n sustained throughput",
	}
	if n8nReason != "" && h.wants("n8n") {
		for _, l := range n8nRows {
			skipped("n8n", l, n8nReason)
		}
		return out
	}
	sent := sz.rate * sz.seconds
	cell("n8n", n8nRows[0], "", func(m func(string) float64) string {
		v := msPair(m("n8n/p50"), m("n8n/p99"))
		if d := m("n8n/delivered"); d < float64(sent) {
			v += fmt.Sprintf(" (%.0f of %d delivered within 30 s of the last send; %.0f sends refused or timed out)", d, sent, m("n8n/refused"))
		}
		return v
	}, "n8n/p50")
	cell("n8n", n8nRows[1], "n8n-ipai", func(m func(string) float64) string {
		return msPair(m("n8n-ipai/p50"), m("n8n-ipai/p99"))
	}, "n8n-ipai/p50")
	cell("n8n", n8nRows[2], "n8n-ipai", func(m func(string) float64) string {
		return times(m("n8n-ratio50"), math.IsInf(m("n8n/p50"), 1)) + " / " + times(m("n8n-ratio99"), math.IsInf(m("n8n/p99"), 1))
	}, "n8n-ratio50")
	cell("n8n", n8nRows[3], "", func(m func(string) float64) string {
		v := rate(m("sus-n8n"), "events/s")
		if len(h.samples["sus-n8n-incomplete"]) > 0 {
			v += fmt.Sprintf(" (in %d of %d rounds not all arrived within 2 min: the rate over those 2 min)", len(h.samples["sus-n8n-incomplete"]), h.opts.Rounds)
		}
		return v
	}, "sus-n8n")
	cell("n8n", n8nRows[4], "sus-ipai", func(m func(string) float64) string { return rate(m("sus-ipai"), "events/s") }, "sus-ipai")
	cell("n8n", n8nRows[5], "sus-ipai", func(m func(string) float64) string { return times(m("sus-ratio"), false) }, "sus-ratio")
	return out
}

// inf is a latency percentile with "not delivered" (-1) as +Inf.
func inf(v float64) float64 {
	if v < 0 {
		return math.Inf(1)
	}
	return v
}

// atLeast30s is a latency percentile with "not delivered" (-1) as 30 s.
func atLeast30s(v float64) float64 {
	if v < 0 {
		return 30000
	}
	return v
}

// times formats a ratio; a lower bound gets "> ".
func times(v float64, lowerBound bool) string {
	if lowerBound {
		return fmt.Sprintf("> %.0f×", v)
	}
	return fmt.Sprintf("%.1f×", v)
}

// rate formats a per-second figure with thousands separators.
func rate(v float64, unit string) string {
	s := fmt.Sprintf("%.0f", v)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s + " " + unit
}

// msPair formats a p50 and a p99 in ms; +Inf is "> 30 s" (not delivered
// within 30 s of the last send).
func msPair(p50, p99 float64) string {
	f := func(v float64) string {
		if math.IsInf(v, 1) {
			return "> 30 s"
		}
		return ms(v) + " ms"
	}
	return f(p50) + " / " + f(p99)
}

func ms(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// table renders rows as a Markdown table headed by how it was measured.
func table(rows []row, opts hlOptions) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| Figure | Median of %d interleaved rounds |\n|---|---|\n", opts.Rounds)
	for _, r := range rows {
		v := r.value
		if v == "" {
			v = "— " + r.reason
		}
		fmt.Fprintf(&b, "| %s | %s |\n", r.label, strings.ReplaceAll(v, "|", "/"))
	}
	return b.String()
}

// machine describes where the run happened: CPU, cores, memory, OS, Go,
// date and load averages before and after.
func machine(loadBefore string) string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(strings.Split(string(b), "\n")[0], "MemTotal:")), "%d", &kb)
		mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
	}
	osName := runtime.GOOS
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				osName = strings.Trim(v, `"`)
			}
		}
	}
	return fmt.Sprintf("Machine: %s, %d cores%s, %s, %s; %s; load average before %s, after %s",
		cpu, runtime.NumCPU(), mem, osName, runtime.Version(), time.Now().UTC().Format("2006-01-02 15:04 UTC"), loadBefore, loadAvg())
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

var (
	hubOnce sync.Once
	hubBin  string
	hubErr  error
)

// hubBinary builds ipai once per test binary as e2e/ does (same flags, so
// the build cache serves both).
func hubBinary(t testing.TB) string {
	hubOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ipai-headline-")
		if err != nil {
			hubErr = err
			return
		}
		hubBin = filepath.Join(dir, "ipai")
		hubErr = hubproc.Build(hubBin)
	})
	if hubErr != nil {
		t.Fatal(hubErr)
	}
	return hubBin
}

// hubApp is an in-process hub serving on base.
type hubApp struct {
	*app.App
	base string
}

func startHubApp(t testing.TB, url string) *hubApp {
	a, base, stop := startHub(t, url, true)
	t.Cleanup(stop)
	return &hubApp{a, base}
}

// plainSender posts unsigned JSON events to url (an n8n webhook).
func plainSender(url string) sender {
	return func(client *http.Client, id string, body []byte) (int, error) {
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		return post(client, req)
	}
}

// n8nWorkflow creates and activates, in the n8n instance, a workflow of a
// Webhook trigger (answering at once) and an HTTP Request node posting the
// received JSON body to target, and returns the webhook's URL once it
// answers.
func n8nWorkflow(t testing.TB, in *n8ntest.Instance, target string) string {
	path := "ipai-bench-" + uuid.NewString()[:8]
	wf := map[string]any{
		"name":     "ipai bench " + path,
		"settings": map[string]any{"executionOrder": "v1"},
		"nodes": []any{
			map[string]any{"id": uuid.NewString(), "name": "Webhook", "type": "n8n-nodes-base.webhook", "typeVersion": 2,
				"position": []int{0, 0}, "webhookId": uuid.NewString(),
				"parameters": map[string]any{"httpMethod": "POST", "path": path, "responseMode": "onReceived", "options": map[string]any{}}},
			map[string]any{"id": uuid.NewString(), "name": "HTTP Request", "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2,
				"position": []int{220, 0},
				"parameters": map[string]any{"method": "POST", "url": target, "sendBody": true, "specifyBody": "json",
					"jsonBody": "={{ JSON.stringify($json.body) }}", "options": map[string]any{}}},
		},
		"connections": map[string]any{"Webhook": map[string]any{"main": []any{[]any{map[string]any{"node": "HTTP Request", "type": "main", "index": 0}}}}},
	}
	var created struct{ ID string }
	n8nAPI(t, in, "POST", "/api/v1/workflows", wf, &created)
	n8nAPI(t, in, "POST", "/api/v1/workflows/"+created.ID+"/activate", nil, nil)
	url := in.URL + "/webhook/" + path
	// Activation registers the webhook a moment later.
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: 10 * time.Second}
	for {
		status, err := plainSender(url)(client, "", []byte(`{"run":"warm-up"}`))
		if err == nil && status == 200 {
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("n8n webhook %s: status %d, %v", url, status, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func n8nAPI(t testing.TB, in *n8ntest.Instance, method, path string, body, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, in.URL+path, rd)
	req.Header.Set("X-N8N-API-KEY", in.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("n8n %s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("n8n %s %s: %v", method, path, err)
		}
	}
}

// recoveryRound runs `ipai serve` (default settings) on dbURL with an
// endpoint to a local receiver answering after 10 ms, sends n signed events
// from 16 senders that retry until acknowledged, kills the hub (SIGKILL)
// once at acknowledgements are in, restarts it at once, and returns the time
// from the restart until every event acknowledged before the kill has
// reached the receiver, and the restart's start-to-ready time.
func recoveryRound(t testing.TB, bin, dbURL string, n, at int) (time.Duration, time.Duration, error) {
	env := hubproc.Env(t, dbURL, "log:\n  format: json\n  level: warn\n")
	token := hubproc.CLI(t, bin, env, "token", "create", "--name", "bench", "--role", "admin")
	var mu sync.Mutex
	received := map[int]bool{}
	rc := newRecoverySink(func(i int) { mu.Lock(); received[i] = true; mu.Unlock() })
	defer rc.Close()
	addr := hubproc.FreeAddr(t)
	p := hubproc.Start(t, bin, env, addr)
	base := "http://" + addr
	in := hubproc.API(t, base, token, "POST", "/api/v1/webhooks", map[string]any{"direction": "incoming", "name": "load", "scheme": "standard", "event_type": "load.event"})
	hubproc.API(t, base, token, "POST", "/api/v1/webhooks", map[string]any{"direction": "outgoing", "name": "sink", "target_url": rc.URL, "event_types": []string{"*"}})
	hookID, secret := in["item"].(map[string]any)["id"].(string), in["secret"].(string)

	acked := map[int]bool{}
	reached := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		hubproc.Load(func() []string { return []string{addr} }, hookID, secret, n, 16, func(i int) {
			mu.Lock()
			acked[i] = true
			if len(acked) == at {
				close(reached)
			}
			mu.Unlock()
		})
	}()
	defer func() { <-done }()
	select {
	case <-reached:
	case <-done:
		return 0, 0, fmt.Errorf("the load ended before %d acknowledgements", at)
	}
	mu.Lock()
	p.Kill()
	before := make([]int, 0, len(acked))
	for i := range acked {
		before = append(before, i)
	}
	mu.Unlock()
	restart := time.Now()
	p = hubproc.Start(t, bin, env, addr)
	deadline := restart.Add(2 * time.Minute)
	for {
		mu.Lock()
		missing := 0
		for _, i := range before {
			if !received[i] {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			return time.Since(restart), p.Ready, nil
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("%d of %d events acknowledged before the kill not delivered 2 minutes after the restart", missing, len(before))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newRecoverySink is a receiver that answers 200 after 10 ms (so that
// deliveries are in flight when the hub is killed) and reports each event's
// "n".
func newRecoverySink(got func(n int)) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct{ Data struct{ N int } }
		body, _ := io.ReadAll(r.Body)
		if json.Unmarshal(body, &env) != nil {
			w.WriteHeader(400)
			return
		}
		select {
		case <-time.After(10 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		got(env.Data.N)
		w.WriteHeader(200)
	}))
}

// TestHeadline runs the headline benchmark. By default (go test, CI) it is
// a quick run on SQLite only without n8n, and checks that the table has
// every row, each with a number or the reason it has none. scripts/bench
// sets -headline.table (and -headline.rounds, -headline.quick,
// -headline.only) to measure everything and print the table.
func TestHeadline(t *testing.T) {
	opts := hlOptions{Rounds: 1, Quick: true, Kinds: []string{store.SQLite}, N8NHome: t.TempDir(), Log: testLog{t}}
	if *flagTable {
		if *flagRounds < 1 {
			t.Fatalf("--rounds %d: expected 1 or more", *flagRounds)
		}
		if *flagOnly != "" && !contains(groups, *flagOnly) {
			t.Fatalf("--only %q: expected one of %s", *flagOnly, strings.Join(groups, ", "))
		}
		os.Setenv("IPAI_TESTPG_DURABLE", "1") // fsync, synchronous_commit, full_page_writes on
		opts = hlOptions{Rounds: *flagRounds, Quick: *flagQuick, Only: *flagOnly, Kinds: []string{store.SQLite, store.Postgres},
			N8NHome: n8ntest.Home(), Log: os.Stderr}
	}
	load := loadAvg()
	rows := headline(t, opts)
	out := table(rows, opts) + "\n" + machine(load) + "\n"
	if *flagTable {
		if *flagOut == "" {
			fmt.Print(out)
		} else if err := os.WriteFile(*flagOut, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		checkRows(t, rows)
		return
	}
	t.Logf("\n%s", out)
	checkRows(t, rows)
	// The quick run measures every SQLite figure, says why PostgreSQL and
	// n8n are not measured.
	for _, r := range rows {
		switch {
		case strings.HasPrefix(r.label, "SQLite:"):
			if r.value == "" {
				t.Errorf("row %q: no value (%s)", r.label, r.reason)
			}
		case strings.HasPrefix(r.label, "PostgreSQL:"):
			if r.reason != "not measured: PostgreSQL left out of this run" {
				t.Errorf("row %q: %q %q; want the reason PostgreSQL is not measured", r.label, r.value, r.reason)
			}
		default:
			if r.reason != "n8n not installed (run scripts/n8n-install.sh)" {
				t.Errorf("row %q: %q %q; want the reason n8n is not measured", r.label, r.value, r.reason)
			}
		}
	}
}

// checkRows fails t unless the table has every row once, in order, and each
// row measured in this run has a number (or, for a figure that may be
// missing on a slow machine, a reason), and each other row says why not.
func checkRows(t *testing.T, rows []row) {
	want := (8 * 2) + 6
	if len(rows) != want {
		t.Fatalf("the table has %d rows; want %d", len(rows), want)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.label] {
			t.Errorf("row %q appears twice", r.label)
		}
		seen[r.label] = true
		if (r.value == "") == (r.reason == "") {
			t.Errorf("row %q: value %q, reason %q; want exactly one", r.label, r.value, r.reason)
		}
		if r.value != "" && !strings.ContainsAny(r.value, "0123456789") {
			t.Errorf("row %q: value %q has no number", r.label, r.value)
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// testLog writes progress lines to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
