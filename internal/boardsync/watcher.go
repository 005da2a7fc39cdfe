package boardsync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/insightpulseai/ipai/internal/connector/odoo"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/store"
)

// Odoo is what the sync engines need of an Odoo client (*odoo.Client).
type Odoo interface {
	SearchRead(ctx context.Context, model string, domain []any, opts map[string]any, out any) error
	Search(ctx context.Context, model string, domain []any, opts map[string]any) ([]int, error)
	FieldsGet(ctx context.Context, model string) (map[string]odoo.Field, error)
	Create(ctx context.Context, model string, vals map[string]any) (int, error)
	Write(ctx context.Context, model string, ids []int, vals map[string]any) error
	ExecuteKW(ctx context.Context, model, method string, args []any, kwargs map[string]any, out any) error
}

var _ Odoo = (*odoo.Client)(nil)

// Start modes of a watcher without a cursor.
const (
	StartNow = "now" // remember the existing records, report only later changes
	StartAll = "all" // report every existing record once
)

// Watcher captures the changes of one Odoo model into events.
type Watcher struct {
	DB     *store.DB
	Router *rule.Router
	Odoo   Odoo
	// Source is the Odoo connector's code: the events' source, the same
	// the webhook receiver uses.
	Source string
	Model  string
	// Fields to read into the event payload (write_date and create_date are
	// always read); nil reads all fields.
	Fields []string
	// Batch is the records per page and per transaction (default 500).
	Batch int
	// Overlap re-reads this much before the cursor on every poll: Odoo's
	// write_date is its transaction's start time, so a long transaction can
	// commit records dated before the cursor. Re-read changes dedupe.
	Overlap time.Duration
	// Start applies when there is no cursor yet: StartNow (default) or StartAll.
	Start string
	// OnCommit is called with the deliveries a committed page enqueued.
	OnCommit func(n int)
	Now      func() time.Time

	// beforeCommit, when set, runs inside each page's transaction just
	// before the commit; an error rolls the page back (tests simulate a
	// crash with it).
	beforeCommit func() error
	hasActive    *bool

	// reported holds, per record changed within the last Overlap (+ a
	// second) before the cursor, the keys this watcher stored for it: a
	// record set back, within one second, to values it had earlier in that
	// second gets that earlier change's key again, though it is a new change
	// (seen with a real Odoo 18 and 19: archived and unarchived in one
	// second). Kept in memory: after a restart such a revert in the
	// cursor's second passes for the re-read it resembles.
	mu       sync.Mutex
	reported map[int64]*reportedKeys
}

// reportedKeys are what a watcher stored for a record's changes in the
// second of the last one: the keys of their values (ChangeKey), the last
// of them apart, and the key the last change is stored under (another one
// for a change back).
type reportedKeys struct {
	last, stored string
	second       string // the last change's write_date, to the second
	all          map[string]bool
}

// Cursor is a watcher's position: the last change it committed, and for a
// watcher that started "now", where it started (Floor*): nothing at or
// before that is read again, overlap or not.
type Cursor struct {
	WriteDate      string `json:"write_date"`
	ID             int64  `json:"id"`
	FloorWriteDate string `json:"floor_write_date,omitempty"`
	FloorID        int64  `json:"floor_id,omitempty"`
}

func (c Cursor) floor() (Cursor, bool) {
	return Cursor{WriteDate: c.FloorWriteDate, ID: c.FloorID}, c.FloorWriteDate != ""
}

// Name is the watcher's cursor name.
func (w *Watcher) Name() string { return "odoo:" + w.Source + ":" + w.Model }

func (w *Watcher) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Watcher) batch() int {
	if w.Batch <= 0 {
		return 500
	}
	return w.Batch
}

// PollResult says what one poll did.
type PollResult struct {
	Records    int // records read
	Events     int // new events committed
	Duplicates int // changes already stored (e.g. by the webhook)
	Pages      int
	Cursor     Cursor
}

func (w *Watcher) cursor(ctx context.Context) (Cursor, bool, error) {
	v, err := w.DB.SyncCursor(ctx, w.Name())
	if err != nil || v == "" {
		return Cursor{}, false, err
	}
	var c Cursor
	if err := json.Unmarshal([]byte(v), &c); err != nil {
		return Cursor{}, false, fmt.Errorf("cursor %s: %w", w.Name(), err)
	}
	return c, true, nil
}

func after(c Cursor) []any {
	if c.WriteDate == "" {
		return []any{}
	}
	return []any{"|", []any{"write_date", ">", c.WriteDate}, "&", []any{"write_date", "=", c.WriteDate}, []any{"id", ">", c.ID}}
}

func less(a, b Cursor) bool {
	return a.WriteDate < b.WriteDate || (a.WriteDate == b.WriteDate && a.ID < b.ID)
}

// Poll reads every change past the cursor, page by page; each page's
// events, seen ids and cursor commit in one transaction.
func (w *Watcher) Poll(ctx context.Context) (PollResult, error) {
	var res PollResult
	cur, ok, err := w.cursor(ctx)
	if err != nil {
		return res, err
	}
	if !ok && w.Start != StartAll {
		return w.startNow(ctx)
	}
	res.Cursor = cur
	// The first page starts at the cursor's second, inclusive (Odoo's
	// write_date has seconds: a record changed again within the cursor's
	// second is read again and, its values differing, reported), or
	// Overlap earlier; never before where a "now" watcher started.
	lo := Cursor{WriteDate: cur.WriteDate}
	if w.Overlap > 0 && cur.WriteDate != "" {
		if t, err := time.Parse(time.DateTime, cur.WriteDate); err == nil {
			lo = Cursor{WriteDate: t.Add(-w.Overlap).Format(time.DateTime)}
		}
	}
	dom := []any{}
	if lo.WriteDate != "" {
		dom = []any{[]any{"write_date", ">=", lo.WriteDate}}
	}
	if fl, ok := cur.floor(); ok && !less(fl, lo) {
		// Nothing of the start's second: Odoo stores write_date with
		// microseconds, so "write_date > <second>" would still match the
		// records changed within it (seen on Odoo 18).
		dom = []any{[]any{"write_date", ">=", nextSecond(fl.WriteDate)}}
	}
	fields := w.Fields
	if fields != nil {
		fields = append(append([]string{}, fields...), "write_date", "create_date")
	}
	for {
		var recs []map[string]any
		opts := map[string]any{"order": "write_date asc, id asc", "limit": w.batch()}
		if fields != nil {
			opts["fields"] = fields
		}
		if err := w.Odoo.SearchRead(ctx, w.Model, w.activeDomain(ctx, dom), opts, &recs); err != nil {
			return res, fmt.Errorf("poll %s: %w", w.Model, err)
		}
		if len(recs) == 0 {
			return res, nil
		}
		page, last, err := w.commit(ctx, recs, res.Cursor)
		if err != nil {
			return res, err
		}
		res.Pages++
		res.Records += len(recs)
		res.Events += page.Events
		res.Duplicates += page.Duplicates
		if less(res.Cursor, last) {
			res.Cursor = last
		}
		dom = after(last)
		if len(recs) < w.batch() {
			return res, nil
		}
	}
}

// nextSecond is the second after an Odoo datetime "YYYY-MM-DD HH:MM:SS".
func nextSecond(s string) string {
	t, err := time.Parse(time.DateTime, s)
	if err != nil {
		return s
	}
	return t.Add(time.Second).Format(time.DateTime)
}

// commit stores one page of records as events with the cursor.
func (w *Watcher) commit(ctx context.Context, recs []map[string]any, cur Cursor) (PollResult, Cursor, error) {
	var res PollResult
	reqs := make([]event.Request, 0, len(recs))
	ids := make([]int64, 0, len(recs))
	var last Cursor
	for _, r := range recs {
		id, ok := intOf(r["id"])
		if !ok {
			return res, last, fmt.Errorf("poll %s: a record without an id", w.Model)
		}
		wd, _ := r["write_date"].(string)
		cd, _ := r["create_date"].(string)
		verb := "write"
		if cd != "" && cd == wd {
			verb = "create"
		}
		r["_model"], r["_id"], r["_via"] = w.Model, id, "poll"
		body, err := json.Marshal(r)
		if err != nil {
			return res, last, err
		}
		reqs = append(reqs, event.Request{Source: w.Source, Type: "odoo." + w.Model + "." + verb,
			IdemKey: odoo.ChangeKey(w.Model, id, verb, wd, r), Payload: body})
		ids = append(ids, id)
		last = Cursor{WriteDate: odoo.NormalizeDatetime(wd), ID: id}
	}
	next := cur
	if less(next, last) {
		next = last
		next.FloorWriteDate, next.FloorID = cur.FloorWriteDate, cur.FloorID
	}
	cv, _ := json.Marshal(next)
	var ndel int
	now := w.now()
	keys := make([]string, len(reqs)) // the keys the changes are stored under
	err := w.DB.InTx(ctx, func(tx *store.Tx) error {
		// A record this watcher has seen was not created now, though its
		// create_date may equal its write_date to the second (edited in the
		// second it was made: search_read has whole seconds).
		seen, err := tx.SeenAmong(ctx, w.Name(), ids)
		if err != nil {
			return err
		}
		for i := range reqs {
			if seen[ids[i]] {
				reqs[i].Type = "odoo." + w.Model + ".write"
			}
		}
		out, n, err := event.IngestTx(ctx, tx, w.Router, now, reqs)
		if err != nil {
			return err
		}
		ndel = n
		// A duplicate of a key this watcher stored for the record, but not
		// of the last one, is a change back to values the record had
		// earlier in the same second (a re-read of the cursor's second
		// gives the last key; a change the webhook stored first, a key this
		// watcher never stored): a new change, stored under its key and
		// the previous one's.
		var again []event.Request
		var at []int
		for i, o := range out {
			keys[i] = reqs[i].IdemKey
			if last, ok := w.revertOf(ids[i], reqs[i].IdemKey); ok && o.Duplicate {
				r := reqs[i]
				r.IdemKey = revertKey(r.IdemKey, last)
				again, at = append(again, r), append(at, i)
			}
		}
		if len(again) > 0 {
			out2, n2, err := event.IngestTx(ctx, tx, w.Router, now, again)
			if err != nil {
				return err
			}
			ndel += n2
			for j, i := range at {
				out[i], keys[i] = out2[j], again[j].IdemKey
			}
		}
		res.Events, res.Duplicates = 0, 0
		for _, o := range out {
			if o.Duplicate {
				res.Duplicates++
			} else {
				res.Events++
			}
		}
		if err := tx.AddSeen(ctx, w.Name(), ids); err != nil {
			return err
		}
		if err := tx.SetSyncCursor(ctx, w.Name(), string(cv), now); err != nil {
			return err
		}
		if w.beforeCommit != nil {
			return w.beforeCommit()
		}
		return nil
	})
	if err != nil {
		return res, last, fmt.Errorf("commit %s changes: %w", w.Model, err)
	}
	w.remember(ids, reqs, keys, recs, next)
	if ndel > 0 && w.OnCommit != nil {
		w.OnCommit(ndel)
	}
	return res, last, nil
}

// startNow records the existing ids and the newest change as the cursor
// without events.
func (w *Watcher) startNow(ctx context.Context) (PollResult, error) {
	var res PollResult
	ids, err := w.allIDs(ctx)
	if err != nil {
		return res, err
	}
	var newest []map[string]any
	err = w.Odoo.SearchRead(ctx, w.Model, w.activeDomain(ctx, []any{}), map[string]any{"fields": []string{"write_date"},
		"order": "write_date desc, id desc", "limit": 1}, &newest)
	if err != nil {
		return res, fmt.Errorf("poll %s: %w", w.Model, err)
	}
	if len(newest) == 1 {
		// The highest id among the records of that instant.
		wd, _ := newest[0]["write_date"].(string)
		same, err := w.Odoo.Search(ctx, w.Model, w.activeDomain(ctx, []any{[]any{"write_date", "=", wd}}), nil)
		if err != nil {
			return res, fmt.Errorf("poll %s: %w", w.Model, err)
		}
		res.Cursor = Cursor{WriteDate: odoo.NormalizeDatetime(wd)}
		for _, id := range same {
			res.Cursor.ID = max(res.Cursor.ID, int64(id))
		}
		res.Cursor.FloorWriteDate, res.Cursor.FloorID = res.Cursor.WriteDate, res.Cursor.ID
	}
	cv, _ := json.Marshal(res.Cursor)
	err = w.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.AddSeen(ctx, w.Name(), ids); err != nil {
			return err
		}
		return tx.SetSyncCursor(ctx, w.Name(), string(cv), w.now())
	})
	return res, err
}

// activeDomain adds "archived too" to a domain for models with an active field.
func (w *Watcher) activeDomain(ctx context.Context, dom []any) []any {
	if w.hasActive == nil {
		fields, err := w.Odoo.FieldsGet(ctx, w.Model)
		if err != nil {
			return dom
		}
		_, ok := fields["active"]
		w.hasActive = &ok
	}
	if !*w.hasActive {
		return dom
	}
	return append([]any{"&", []any{"active", "in", []any{true, false}}}, wrap(dom)...)
}

// wrap makes a domain a single term for prefixing with "&".
func wrap(dom []any) []any {
	switch len(dom) {
	case 0:
		return []any{[]any{"id", "!=", 0}}
	case 1:
		return dom
	}
	if s, ok := dom[0].(string); ok && (s == "|" || s == "&" || s == "!") {
		return dom // already one prefix term
	}
	out := make([]any, 0, len(dom)+len(dom)-1)
	for i := 0; i < len(dom)-1; i++ {
		out = append(out, "&")
	}
	return append(out, dom...)
}

func (w *Watcher) allIDs(ctx context.Context) ([]int64, error) {
	raw, err := w.Odoo.Search(ctx, w.Model, w.activeDomain(ctx, []any{}), nil)
	if err != nil {
		return nil, fmt.Errorf("list %s ids: %w", w.Model, err)
	}
	ids := make([]int64, len(raw))
	for i, id := range raw {
		ids[i] = int64(id)
	}
	return ids, nil
}

// Sweep compares the ids the watcher has seen with those Odoo still has
// and commits an odoo.<model>.unlink event for each one gone.
func (w *Watcher) Sweep(ctx context.Context) (int, error) {
	seen, err := w.DB.Seen(ctx, w.Name())
	if err != nil {
		return 0, err
	}
	if len(seen) == 0 {
		return 0, nil
	}
	have, err := w.allIDs(ctx)
	if err != nil {
		return 0, err
	}
	present := make(map[int64]bool, len(have))
	for _, id := range have {
		present[id] = true
	}
	var gone []int64
	var reqs []event.Request
	for _, id := range seen {
		if !present[id] {
			gone = append(gone, id)
			body, _ := json.Marshal(map[string]any{"_model": w.Model, "_id": id, "_via": "sweep"})
			reqs = append(reqs, event.Request{Source: w.Source, Type: "odoo." + w.Model + ".unlink",
				IdemKey: odoo.UnlinkKey(w.Model, id), Payload: body})
		}
	}
	if len(gone) == 0 {
		return 0, nil
	}
	var ndel int
	err = w.DB.InTx(ctx, func(tx *store.Tx) error {
		_, n, err := event.IngestTx(ctx, tx, w.Router, w.now(), reqs)
		if err != nil {
			return err
		}
		ndel = n
		return tx.RemoveSeen(ctx, w.Name(), gone)
	})
	if err != nil {
		return 0, fmt.Errorf("commit %s deletions: %w", w.Model, err)
	}
	if ndel > 0 && w.OnCommit != nil {
		w.OnCommit(ndel)
	}
	return len(gone), nil
}

func intOf(v any) (int64, bool) {
	switch x := v.(type) {
	case float64:
		return int64(x), true
	case int:
		return int64(x), true
	case int64:
		return x, true
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	}
	return 0, false
}

// errStop is returned by tests' beforeCommit to simulate a crash.
var errStop = errors.New("simulated crash before commit")

// revertKey is the key of a change back to the values of an earlier change
// of the same second: that change's key, after the record's last one.
func revertKey(key, last string) string {
	h := sha256.Sum256([]byte(last))
	return key + ":after:" + hex.EncodeToString(h[:6])
}

// revertOf returns the key the record's last change is stored under when
// key is that of another change this watcher stored for it in that second.
func (w *Watcher) revertOf(id int64, key string) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.reported[id]
	if r == nil || r.last == key || !r.all[key] {
		return "", false
	}
	return r.stored, true
}

// remember records what a committed page stored (reqs: the changes and
// their keys; stored: the keys they are stored under) and forgets the
// records whose last change is older than the overlap before the cursor.
func (w *Watcher) remember(ids []int64, reqs []event.Request, stored []string, recs []map[string]any, cur Cursor) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.reported == nil {
		w.reported = map[int64]*reportedKeys{}
	}
	for i, id := range ids {
		wd, _ := recs[i]["write_date"].(string)
		second := odoo.NormalizeDatetime(wd)
		r := w.reported[id]
		if r == nil || r.second != second { // keys hold their second: older ones never match
			r = &reportedKeys{second: second, all: map[string]bool{}}
			w.reported[id] = r
		}
		r.last, r.stored, r.all[reqs[i].IdemKey] = reqs[i].IdemKey, stored[i], true
	}
	t, err := time.Parse(time.DateTime, cur.WriteDate)
	if err != nil {
		return
	}
	cutoff := t.Add(-w.Overlap - time.Second).Format(time.DateTime)
	for id, r := range w.reported {
		if r.second < cutoff {
			delete(w.reported, id)
		}
	}
}
