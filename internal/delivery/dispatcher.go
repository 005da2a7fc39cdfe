package delivery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/loop"
	"github.com/insightpulseai/ipai/internal/store"
)

// Options tune a Dispatcher.
type Options struct {
	Workers    int           // concurrent attempts; default 64
	ClaimBatch int           // deliveries claimed per query; default 100
	Poll       time.Duration // how often to look for due work without a wake-up; default 250ms
	Lease      time.Duration // how long a claim lasts before another process may take it; default 90s
	// Heartbeat is how often the hub records that it is alive, takes back
	// the claims of dead hubs and extends the leases of its long attempts;
	// default 1s. A hub is dead once its heartbeat is DeadAfter old
	// (default 5 heartbeats).
	Heartbeat time.Duration
	DeadAfter time.Duration
	// Schedule is the retry schedule of deliveries without an endpoint
	// (webhooks and work items use their endpoint's).
	Schedule []time.Duration
}

// Dispatcher delivers due deliveries. Run it in each hub process.
type Dispatcher struct {
	db        *store.DB
	endpoints *Endpoints
	audit     *audit.Log
	log       *slog.Logger
	o         Options
	now       func() time.Time
	rnd       func() float64

	execs    map[string]Executor
	wake     chan struct{}
	outcomes chan outcome
	slots    chan struct{}

	hub      store.Hub            // this process's identity, random per start
	mu       sync.Mutex           // guards inflight
	inflight map[string]time.Time // claims not yet recorded → their lease's end

	attempts *prometheus.CounterVec
	latency  prometheus.Histogram
}

type outcome struct {
	o          store.Outcome
	endpointID string
	failed     bool
}

// NewDispatcher returns a dispatcher with the webhook executor registered.
func NewDispatcher(db *store.DB, eps *Endpoints, al *audit.Log, log *slog.Logger, o Options) *Dispatcher {
	if o.Workers <= 0 {
		o.Workers = 64
	}
	if o.ClaimBatch <= 0 {
		o.ClaimBatch = 100
	}
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	if o.Lease <= 0 {
		o.Lease = 90 * time.Second
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = time.Second
	}
	if o.DeadAfter <= 0 {
		o.DeadAfter = 5 * o.Heartbeat
	}
	if len(o.Schedule) == 0 {
		o.Schedule = DefaultSchedule
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Dispatcher{db: db, endpoints: eps, audit: al, log: log, o: o, now: time.Now, rnd: jitterRand,
		execs: map[string]Executor{}, inflight: map[string]time.Time{}, wake: make(chan struct{}, 1), outcomes: make(chan outcome, 1024),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ipai_delivery_attempts_total",
			Help: "Delivery attempts by kind and result (succeeded, failed, dead)."}, []string{"kind", "result"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ipai_delivery_attempt_seconds",
			Help: "Duration of delivery attempts.", Buckets: prometheus.ExponentialBuckets(0.001, 3, 10)}),
	}
	if eps != nil {
		d.execs["webhook"] = eps
	}
	host, _ := os.Hostname()
	if ns, err := os.Readlink("/proc/self/ns/pid"); err == nil {
		// Process ids compare only within one pid namespace (containers
		// sharing a hostname each have their own).
		host += " " + ns
	}
	id := make([]byte, 8)
	rand.Read(id)
	d.hub = store.Hub{ID: hex.EncodeToString(id), Host: host, PID: os.Getpid()}
	return d
}

// HubID is this process's identity in the hubs table (random per start).
func (d *Dispatcher) HubID() string { return d.hub.ID }

// processStart tells this process's hub rows from those of an earlier
// process that had the same id in the same pid namespace.
var processStart = time.Now()

// earlierProcess says whether a hub row of this host belongs to a process
// that no longer runs: this very hub before a restart.
func earlierProcess(h store.Hub) bool {
	if h.PID == os.Getpid() {
		return h.StartedAt.Before(processStart)
	}
	return !pidAlive(h.PID)
}

// register records this hub as alive, removing the rows of its earlier
// processes on this host, and takes back the claims of dead hubs at once.
// It retries until it succeeds or ctx ends: claims must name a live hub.
func (d *Dispatcher) register(ctx context.Context) bool {
	for {
		now := d.now()
		d.hub.StartedAt, d.hub.HeartbeatAt = now, now
		n, err := d.db.RegisterHub(context.WithoutCancel(ctx), d.hub, earlierProcess)
		if err == nil {
			if n > 0 {
				d.log.Info("took back the claims of this hub's earlier process", "deliveries", n, "hub", d.hub.ID)
			}
			d.releaseDead(ctx, now)
			return true
		}
		d.log.Warn("register hub; retrying", "hub", d.hub.ID, "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d.o.Heartbeat):
		}
	}
}

func (d *Dispatcher) releaseDead(ctx context.Context, now time.Time) {
	n, err := d.db.ReleaseDeadHubs(context.WithoutCancel(ctx), now, now.Add(-d.o.DeadAfter))
	if err != nil {
		d.log.Warn("take back claims of dead hubs", "err", err)
		return
	}
	if n > 0 {
		d.log.Info("took back the claims of dead hubs", "deliveries", n, "hub", d.hub.ID)
		d.Wake()
	}
}

// heartbeat runs until ctx ends: it records that this hub is alive, takes
// back the claims of dead hubs and extends the leases of this hub's claims
// in flight before they run out.
func (d *Dispatcher) heartbeat(ctx context.Context) {
	loop.Every(ctx, d.o.Heartbeat, d.o.Heartbeat, d.beat)
}

func (d *Dispatcher) beat(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(d.o.Heartbeat, time.Second))
	defer cancel()
	now := d.now()
	ok, err := d.db.HubHeartbeat(ctx, d.hub.ID, now)
	if err != nil {
		d.log.Warn("hub heartbeat", "hub", d.hub.ID, "err", err)
		return
	}
	if !ok {
		// We missed our heartbeats (paused?): another hub took us for dead
		// and took back our claims; outcomes of those will be fenced.
		d.log.Warn("this hub was taken for dead by another (missed heartbeats); its claims were taken back, registering again", "hub", d.hub.ID)
		h := d.hub
		h.HeartbeatAt = now
		if _, err := d.db.RegisterHub(ctx, h, nil); err != nil {
			d.log.Warn("register hub", "hub", d.hub.ID, "err", err)
			return
		}
	}
	d.releaseDead(ctx, now)
	// Extend the leases that are past their half.
	until := now.Add(d.o.Lease)
	var ids []string
	d.mu.Lock()
	for id, end := range d.inflight {
		if end.Sub(now) < d.o.Lease/2 {
			ids = append(ids, id)
		}
	}
	d.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	if err := d.db.ExtendLeases(ctx, d.hub.ID, ids, until); err != nil {
		d.log.Warn("extend leases", "n", len(ids), "err", err)
		return
	}
	d.mu.Lock()
	for _, id := range ids {
		if _, ok := d.inflight[id]; ok {
			d.inflight[id] = until
		}
	}
	d.mu.Unlock()
}

// Register adds the executor of a delivery kind (e.g. "mattermost.post").
func (d *Dispatcher) Register(kind string, e Executor) { d.execs[kind] = e }

// Collectors returns the dispatcher's metrics, with the queue's state.
func (d *Dispatcher) Collectors() []prometheus.Collector {
	return []prometheus.Collector{d.attempts, d.latency, queueCollector{d.db, func() time.Time { return d.now() }}}
}

// Wake tells the dispatcher new work may be due (e.g. after an ingest commit).
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then lets attempts in flight finish and
// records them before returning.
func (d *Dispatcher) Run(ctx context.Context) {
	if !d.register(ctx) {
		return
	}
	beatCtx, stopBeat := context.WithCancel(context.WithoutCancel(ctx))
	beatDone := make(chan struct{})
	go func() { d.heartbeat(beatCtx); close(beatDone) }()
	defer func() {
		stopBeat()
		<-beatDone
		// Whatever is still ours (outcomes we could not record) is due again
		// at once.
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := d.db.RemoveHub(rctx, d.hub.ID, d.now()); err != nil {
			d.log.Warn("remove hub row", "hub", d.hub.ID, "err", err)
		}
	}()
	work := make(chan store.Claimed, d.o.Workers)
	var workers sync.WaitGroup
	for i := 0; i < d.o.Workers; i++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for c := range work {
				d.attempt(c)
			}
		}()
	}
	inflight := make(chan struct{}, d.o.Workers) // a token per claimed delivery whose attempt is not done
	d.slots = inflight
	completerDone := make(chan struct{})
	go func() { d.complete(); close(completerDone) }()
	d.claimLoop(ctx, work, inflight)
	close(work)
	workers.Wait()
	close(d.outcomes)
	<-completerDone
}

// claimLoop claims while workers have room.
func (d *Dispatcher) claimLoop(ctx context.Context, work chan<- store.Claimed, inflight chan struct{}) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.wake:
		}
		for ctx.Err() == nil {
			free := cap(inflight) - len(inflight)
			if free == 0 {
				// Wait for a slot; completions make room.
				select {
				case <-ctx.Done():
					return
				case inflight <- struct{}{}:
					<-inflight
				}
				continue
			}
			now := d.now()
			cs, err := d.db.ClaimDeliveriesFor(context.WithoutCancel(ctx), d.hub.ID, now, d.o.Lease, min(free, d.o.ClaimBatch))
			if err != nil {
				d.log.Warn("claim deliveries", "err", err)
				break
			}
			if len(cs) > 0 {
				d.mu.Lock()
				for _, c := range cs {
					d.inflight[c.ID] = now.Add(d.o.Lease)
				}
				d.mu.Unlock()
			}
			for _, c := range cs {
				inflight <- struct{}{}
				work <- c
			}
			if len(cs) < min(free, d.o.ClaimBatch) {
				break // nothing more due now
			}
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(d.o.Poll)
	}
}

func (d *Dispatcher) attempt(c store.Claimed) {
	start := d.now()
	ex := d.execs[c.Kind]
	var r Result
	if ex == nil {
		r = Result{Err: fmt.Errorf("no executor for delivery kind %q in this hub", c.Kind)}
	} else {
		// No attempt may outlive its lease, or another process could start the
		// same delivery while this one still runs.
		ctx, cancel := context.WithTimeout(context.Background(), d.o.Lease*4/5)
		r = ex.Execute(ctx, &c)
		cancel()
	}
	end := d.now()
	d.latency.Observe(end.Sub(start).Seconds())
	a := store.Attempt{DeliveryID: c.ID, N: c.Attempts, At: start, Status: r.Status, DurationMS: end.Sub(start).Milliseconds(), Response: cut(r.Response)}
	o := store.Outcome{Attempt: a, State: store.DeliverySucceeded}
	if r.Err != nil {
		a.Error = cut(r.Err.Error())
		o.Attempt, o.LastError = a, a.Error
		schedule := d.o.Schedule
		if c.EndpointID != "" && d.endpoints != nil { // webhooks and work items: the endpoint's schedule
			schedule, _ = d.endpoints.scheduleFor(context.Background(), c.EndpointID)
		}
		delay, ok := nextDelay(schedule, c.Attempts-c.RoundBase, d.rnd)
		switch {
		case r.Permanent || !ok:
			o.State = store.DeliveryDead
		default:
			o.State = store.DeliveryFailed
			o.Next = end.Add(max(delay, r.RetryAfter))
		}
	}
	d.attempts.WithLabelValues(c.Kind, o.State).Inc()
	// The slot is free as soon as the attempt is done: claiming goes on
	// while outcomes are recorded in batches (the lease keeps the delivery
	// ours until then; a full outcomes channel holds the workers back).
	<-d.slots
	d.outcomes <- outcome{o: o, endpointID: c.EndpointID, failed: r.Err != nil}
}

func cut(s string) string {
	if len(s) > maxSnippet {
		return s[:maxSnippet]
	}
	return s
}

// complete records outcomes in batches (one transaction per batch).
func (d *Dispatcher) complete() {
	for first := range d.outcomes {
		batch := []outcome{first}
	more:
		for len(batch) < 500 {
			select {
			case o, ok := <-d.outcomes:
				if !ok {
					break more
				}
				batch = append(batch, o)
			default:
				break more
			}
		}
		d.record(batch)
	}
}

func (d *Dispatcher) record(batch []outcome) {
	outs := make([]store.Outcome, len(batch))
	for i, b := range batch {
		outs[i] = b.o
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	var fenced []string
	defer func() {
		d.mu.Lock()
		for _, o := range outs {
			delete(d.inflight, o.Attempt.DeliveryID)
		}
		d.mu.Unlock()
	}()
	for try := 0; try < 10; try++ {
		if fenced, err = d.db.CompleteDeliveriesFor(ctx, d.hub.ID, d.now(), outs); err == nil || store.Refused(err) {
			break
		}
		// The database may be restarting: the lease keeps the deliveries
		// ours meanwhile; if we never manage, they are retried after it.
		time.Sleep(time.Duration(try+1) * 200 * time.Millisecond)
	}
	if store.Refused(err) && len(batch) > 1 {
		// One outcome the database refuses must not leave the others of the
		// batch unrecorded (and so sent again after their lease).
		for _, b := range batch {
			d.record([]outcome{b})
		}
		return
	}
	if err != nil {
		d.log.Error("record delivery outcomes; they will be retried when their lease ends", "n", len(outs), "err", err)
		return
	}
	if len(fenced) > 0 {
		skip := map[string]bool{}
		for _, id := range fenced {
			skip[id] = true
			d.log.Warn("delivery outcome dropped: the claim was taken over (lease ran out or this hub was taken for dead); the attempt is kept in its history",
				"delivery", id, "hub", d.hub.ID)
		}
		kept := batch[:0:0]
		for _, b := range batch {
			if !skip[b.o.Attempt.DeliveryID] {
				kept = append(kept, b)
			}
		}
		batch = kept
	}
	d.endpointHealth(ctx, batch)
	for _, b := range batch {
		if b.o.State == store.DeliveryDead && d.audit != nil {
			_ = d.audit.Write(ctx, audit.Entry{Actor: "system", Action: "delivery.dead", Level: audit.Warning, Target: b.o.Attempt.DeliveryID,
				Message: "delivery moved to dead letter after attempt " + fmt.Sprint(b.o.Attempt.N) + ": " + b.o.LastError,
				Fields:  map[string]any{"endpoint": b.endpointID}})
		}
	}
}

// endpointHealth tracks failing streaks of webhook endpoints and disables an
// endpoint that has failed continuously for its disable_after.
func (d *Dispatcher) endpointHealth(ctx context.Context, batch []outcome) {
	if d.endpoints == nil {
		return
	}
	ok, bad := map[string]bool{}, map[string]bool{}
	for _, b := range batch {
		if b.endpointID == "" {
			continue
		}
		if b.failed {
			bad[b.endpointID] = true
		} else {
			ok[b.endpointID] = true
		}
	}
	for id := range ok {
		if c, err := d.endpoints.get(ctx, id); err == nil && !c.hook.FailingSince.IsZero() {
			_ = d.db.MarkEndpointHealthy(ctx, id)
			d.endpoints.forget(id)
		}
	}
	for id := range bad {
		if ok[id] {
			continue
		}
		since, err := d.db.MarkEndpointFailing(ctx, id, d.now())
		if err != nil {
			continue
		}
		d.endpoints.forget(id)
		_, disableAfter := d.endpoints.scheduleFor(ctx, id)
		if d.now().Sub(since) < disableAfter {
			continue
		}
		reason := fmt.Sprintf("failing continuously since %s", since.Format(time.RFC3339))
		if changed, err := d.endpoints.SetState(ctx, id, store.WebhookDisabled, reason); err == nil && changed {
			n, _ := d.db.KillEndpointDeliveries(ctx, id, "endpoint disabled: "+reason, d.now())
			if d.audit != nil {
				_ = d.audit.Write(ctx, audit.Entry{Actor: "system", Action: "webhook.disabled", Level: audit.Warning, Target: id,
					Message: fmt.Sprintf("endpoint disabled after failing for %s; %d waiting deliveries moved to dead letter", disableAfter, n)})
			}
		}
	}
}
