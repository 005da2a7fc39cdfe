// Package audit is ipai's append-only, hash-chained audit log. Each entry
// stores a SHA-256 over its canonical content and the previous entry's hash,
// so an edited or deleted row is found by Verify. Writers are group-committed:
// concurrent Write calls share one transaction, so the chain never forks and
// many entries cost one commit. Across processes writers take the store's
// chain lock; a writer appends after the head it wrote last without reading
// it again, and the seq primary key refuses the batch if another process
// appended meanwhile (then the head is read under the lock).
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/insightpulseai/ipai/internal/store"
)

// Levels of entries.
const (
	Debug   = "debug"
	Info    = "info"
	Warning = "warning"
	Error   = "error"
)

// ValidLevel reports whether l is one of the four levels.
func ValidLevel(l string) bool {
	return l == Debug || l == Info || l == Warning || l == Error
}

// maxText bounds the message, the URL and each string in Fields that an
// entry keeps; longer ones are cut.
const maxText = 4 << 10

// Entry is what callers write.
type Entry struct {
	At         time.Time // defaults to now
	Actor      string    // token id, user id or "system"
	IP         string
	Action     string // e.g. "token.create", "connector.test"
	Level      string // debug|info|warning|error; default info
	Target     string // e.g. a connector code
	Message    string
	Method     string
	URL        string
	Status     int
	DurationMS int64
	// Fields holds extra structured detail. Never put secrets or whole
	// bodies here; values over 4 KiB are cut.
	Fields map[string]any
}

// Log writes entries to the store.
type Log struct {
	db    *store.DB
	now   func() time.Time
	reqs  chan *request
	done  chan struct{}
	close sync.Once
	wg    sync.WaitGroup
	head  *store.AuditRow // the newest entry this writer knows of (nil: read it)
}

type request struct {
	rows []*store.AuditRow
	err  chan error
}

// New starts a log writing to db. Close it to stop its writer.
func New(db *store.DB) *Log {
	l := &Log{db: db, now: time.Now, reqs: make(chan *request, 1024), done: make(chan struct{})}
	l.wg.Add(1)
	go l.run()
	return l
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("audit log closed")

// Write appends e and returns once it is committed.
func (l *Log) Write(ctx context.Context, e Entry) error {
	row, err := l.row(e)
	if err != nil {
		return err
	}
	return l.enqueue(ctx, &request{rows: []*store.AuditRow{row}, err: make(chan error, 1)})
}

// WriteAll appends the entries, in order, in one transaction and returns
// once they are committed.
func (l *Log) WriteAll(ctx context.Context, es []Entry) error {
	if len(es) == 0 {
		return nil
	}
	rows := make([]*store.AuditRow, 0, len(es))
	for _, e := range es {
		row, err := l.row(e)
		if err != nil {
			return err
		}
		rows = append(rows, row)
	}
	return l.enqueue(ctx, &request{rows: rows, err: make(chan error, 1)})
}

func (l *Log) enqueue(ctx context.Context, r *request) error {
	select {
	case l.reqs <- r:
	case <-l.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.err:
		return err
	case <-ctx.Done():
		// The entry may still be committed; the caller stops waiting.
		return ctx.Err()
	}
}

func (l *Log) row(e Entry) (*store.AuditRow, error) {
	if e.Action == "" {
		return nil, errors.New("audit: entry without action")
	}
	if e.Level == "" {
		e.Level = Info
	}
	if !ValidLevel(e.Level) {
		return nil, fmt.Errorf("audit: level %q; expected debug, info, warning or error", e.Level)
	}
	if e.At.IsZero() {
		e.At = l.now()
	}
	fields := ""
	if len(e.Fields) > 0 {
		for k, v := range e.Fields {
			if s, ok := v.(string); ok && len(s) > maxText {
				e.Fields[k] = s[:maxText] + "…(cut)"
			}
		}
		b, err := json.Marshal(e.Fields)
		if err != nil {
			return nil, fmt.Errorf("audit: fields: %w", err)
		}
		fields = string(b)
	}
	// The chain hashes the row as stored: text as the store keeps it.
	t := store.Text
	return &store.AuditRow{
		At: e.At, Actor: t(Clip(e.Actor, maxName)), ActorIP: t(Clip(e.IP, maxName)), Action: t(e.Action), Level: e.Level, Target: t(Clip(e.Target, maxName)),
		Message: t(cut(e.Message)), Method: t(e.Method), URL: t(cut(e.URL)), Status: e.Status, DurationMS: e.DurationMS, Fields: fields,
	}, nil
}

func cut(s string) string { return Clip(s, maxText) }

// maxName bounds an entry's actor, IP and target.
const maxName = 512

// Close stops the writer after the entries already queued are written.
func (l *Log) Close() {
	l.close.Do(func() { close(l.done) })
	l.wg.Wait()
}

// run is the single writer: it takes every request waiting and commits them
// in one transaction (group commit).
func (l *Log) run() {
	defer l.wg.Done()
	const maxBatch = 512
	for {
		var first *request
		select {
		case first = <-l.reqs:
		case <-l.done:
			// Drain what is queued, then stop.
			for {
				select {
				case r := <-l.reqs:
					l.commit([]*request{r})
				default:
					return
				}
			}
		}
		batch := []*request{first}
	more:
		for len(batch) < maxBatch {
			select {
			case r := <-l.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		l.commit(batch)
	}
}

func (l *Log) commit(batch []*request) {
	var rows []*store.AuditRow
	for _, r := range batch {
		rows = append(rows, r.rows...)
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if l.head != nil {
			// The head this writer wrote last: no need to read it. If
			// another process appended since, the seq key refuses the batch.
			err = l.db.AppendAuditAfter(ctx, *l.head, rows, Seal)
		} else {
			// Read the head under the chain lock: cannot conflict.
			err = l.db.AppendAudit(ctx, rows, Seal)
		}
		cancel()
		if err == nil {
			last := *rows[len(rows)-1]
			l.head = &last
			break
		}
		l.head = nil
		if !store.IsConflict(err) {
			break
		}
	}
	if err != nil && !store.IsConflict(err) && store.Refused(err) && len(batch) > 1 {
		// An entry the database refuses must not fail the other writers'
		// entries that shared its batch: append each writer's alone.
		for _, r := range batch {
			l.commit([]*request{r})
		}
		return
	}
	for _, r := range batch {
		r.err <- err
	}
}

// canonical is the hashed form of an entry: fixed field order, times in
// Unix microseconds.
type canonical struct {
	Seq        int64  `json:"seq"`
	At         int64  `json:"at"`
	Actor      string `json:"actor"`
	IP         string `json:"ip"`
	Action     string `json:"action"`
	Level      string `json:"level"`
	Target     string `json:"target"`
	Message    string `json:"message"`
	Method     string `json:"method"`
	URL        string `json:"url"`
	Status     int    `json:"status"`
	DurationMS int64  `json:"duration_ms"`
	Fields     string `json:"fields"`
	PrevHash   string `json:"prev_hash"`
}

// Hash computes an entry's hash from its content and PrevHash.
func Hash(r *store.AuditRow) string {
	b, _ := json.Marshal(canonical{r.Seq, store.Micros(r.At), r.Actor, r.ActorIP, r.Action, r.Level, r.Target,
		r.Message, r.Method, r.URL, r.Status, r.DurationMS, r.Fields, r.PrevHash})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Seal sets r.Hash.
func Seal(r *store.AuditRow) { r.Hash = Hash(r) }
