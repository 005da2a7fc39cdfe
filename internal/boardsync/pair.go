package boardsync

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/connector/focalboard"
	"github.com/insightpulseai/ipai/internal/store"
)

// Directions of a pair.
const (
	OdooToBoard = "odoo_to_board"
	BoardToOdoo = "board_to_odoo"
	Both        = "both"
)

// Board is what a pair needs of a Focalboard client (*focalboard.Client).
type Board interface {
	Board(ctx context.Context, id string) (focalboard.Board, error)
	PatchBoard(ctx context.Context, boardID string, p focalboard.BoardPatch) (focalboard.Board, error)
	AllCards(ctx context.Context, boardID string) ([]focalboard.Card, error)
	CreateCard(ctx context.Context, boardID string, card focalboard.Card) (focalboard.Card, error)
	PatchCard(ctx context.Context, cardID string, p focalboard.CardPatch) (focalboard.Card, error)
	DeleteCard(ctx context.Context, boardID, cardID string) error
	Blocks(ctx context.Context, boardID, parentID, typ string) ([]focalboard.Block, error)
	ChangeCard(ctx context.Context, cardID string, ch focalboard.CardChange) (focalboard.Card, error)
	InsertBlocks(ctx context.Context, boardID string, blocks []focalboard.Block) ([]focalboard.Block, error)
	PatchBlock(ctx context.Context, boardID, blockID string, p focalboard.BlockPatch) error
	DeleteBlock(ctx context.Context, boardID, blockID string) error
}

var _ Board = (*focalboard.Client)(nil)

// Pair keeps the tasks of one Odoo project and the cards of one Focalboard
// board in step. Mapped: title ↔ name, a select property ↔ stage_id (by
// name; options are created when missing), a select property ↔ priority
// ("0" Normal, "1" High), a date property ↔ date_deadline, the card's text
// content ↔ description (see content.go), and deletion or archiving. A
// side whose mapped fields differ from the snapshot of the last sync has
// changed; when both have (differently) the link becomes a conflict and
// neither side is written until it is resolved.
type Pair struct {
	Name      string
	DB        *store.DB
	Odoo      Odoo
	Board     Board
	ProjectID int
	BoardID   string
	Direction string // default Both
	// Property names on the board (defaults "Status", "Priority", "Deadline",
	// "Assignees"; the last a multi-person property matched to the tasks'
	// user_ids by name — see assignees.go).
	StageProperty, PriorityProperty, DeadlineProperty, AssigneesProperty string
	// Users maps Odoo logins to Focalboard usernames for assignees whose
	// names differ (equal names match without it).
	Users map[string]string
	// FullSweepEvery is how many rounds apart every link is compared; in
	// the rounds between, only cards updated since the board's cursor and
	// tasks whose write_date moved are (see poll.go). Default 10.
	FullSweepEvery int
	Audit          *audit.Log
	// Notify, when set, is told about conflicts (e.g. a Mattermost post).
	Notify func(ctx context.Context, text string) error
	Now    func() time.Time

	rounds   atomic.Int64 // rounds run, for the full sweep
	examined atomic.Int64 // links compared in the last round (tests)
}

// Fields are the mapped values of a task or a card.
type Fields struct {
	Title    string `json:"title"`
	Stage    string `json:"stage,omitempty"`
	Priority string `json:"priority,omitempty"` // "0" or "1"
	Deadline string `json:"deadline,omitempty"` // YYYY-MM-DD
	// Description is plain text: the card's text blocks, the task's HTML
	// description without markup.
	Description string `json:"description,omitempty"`
	// Assignees are the Odoo logins (lower case, sorted, comma-separated)
	// of the assignees that have a user on both sides.
	Assignees string `json:"assignees,omitempty"`
}

// Report says what one round did.
type Report struct {
	CardsCreated, TasksCreated, CardsUpdated, TasksUpdated int
	CardsDeleted, TasksArchived, Conflicts, Errors         int
}

func (p *Pair) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}

func (p *Pair) dir() string {
	if p.Direction == "" {
		return Both
	}
	return p.Direction
}

func (p *Pair) toBoard() bool { return p.dir() != BoardToOdoo }
func (p *Pair) toOdoo() bool  { return p.dir() != OdooToBoard }

type task struct {
	ID       int
	Active   bool
	Version  string
	Fields   Fields
	StageIDs map[string]int
	UserIDs  []int
	// unmatched are the user_ids with no matching Focalboard user, and
	// unmatchedNames their logins.
	unmatched      []int
	unmatchedNames []string
}

// props holds the board's property ids and select options.
type props struct {
	board                     focalboard.Board
	stage, priority, deadline *focalboard.CardProperty
	assignees                 *focalboard.CardProperty
	texts                     map[string][]focalboard.Block // text blocks by card id
	users                     *users                        // nil: assignees are not synced
}

func (p *Pair) loadBoard(ctx context.Context) (*props, error) { return p.loadBoardOnce(ctx, true) }

// loadBoardOnce reads the board; when mapped properties are missing it adds
// them and reads the board again (once: a board that does not keep them is
// an error, not a loop).
func (p *Pair) loadBoardOnce(ctx context.Context, patch bool) (*props, error) {
	b, err := p.Board.Board(ctx, p.BoardID)
	if err != nil {
		return nil, fmt.Errorf("board %s: %w", p.BoardID, err)
	}
	pr := &props{board: b}
	want := []struct {
		name, typ string
		dst       **focalboard.CardProperty
	}{{cmp.Or(p.StageProperty, "Status"), "select", &pr.stage}, {cmp.Or(p.PriorityProperty, "Priority"), "select", &pr.priority},
		{cmp.Or(p.DeadlineProperty, "Deadline"), "date", &pr.deadline}}
	if _, ok := p.Board.(BoardUsers); ok { // assignees need the board's users
		want = append(want, struct {
			name, typ string
			dst       **focalboard.CardProperty
		}{cmp.Or(p.AssigneesProperty, "Assignees"), "multiPerson", &pr.assignees})
	}
	var add []focalboard.CardProperty
	for _, w := range want {
		for i := range b.CardProperties {
			if strings.EqualFold(b.CardProperties[i].Name, w.name) {
				*w.dst = &b.CardProperties[i]
			}
		}
		if *w.dst == nil {
			cp := focalboard.CardProperty{ID: "ipai-" + strings.ToLower(w.name), Name: w.name, Type: w.typ}
			add = append(add, cp)
		}
	}
	if len(add) > 0 {
		if !patch {
			return nil, fmt.Errorf("board %s did not keep the card properties ipai added (%s)", p.BoardID, add[0].Name)
		}
		if _, err := p.Board.PatchBoard(ctx, p.BoardID, focalboard.BoardPatch{UpdatedCardProperties: add}); err != nil {
			return nil, fmt.Errorf("add properties to board %s: %w", p.BoardID, err)
		}
		return p.loadBoardOnce(ctx, false)
	}
	if pr.texts, err = p.loadTexts(ctx); err != nil {
		return nil, err
	}
	if pr.users, err = p.loadUsers(ctx, pr); err != nil {
		return nil, err
	}
	return pr, nil
}

// option returns the id of a select option by name, adding it when missing.
func (p *Pair) option(ctx context.Context, pr *props, cp *focalboard.CardProperty, value string) (string, error) {
	for _, o := range cp.Options {
		if strings.EqualFold(o.Value, value) {
			return o.ID, nil
		}
	}
	o := focalboard.PropertyOpt{ID: "ipai-" + uuid.NewString()[:8], Value: value, Color: "propColorDefault"}
	cp.Options = append(cp.Options, o)
	if _, err := p.Board.PatchBoard(ctx, p.BoardID, focalboard.BoardPatch{UpdatedCardProperties: []focalboard.CardProperty{*cp}}); err != nil {
		return "", fmt.Errorf("add option %q to %s: %w", value, cp.Name, err)
	}
	return o.ID, nil
}

func optionName(cp *focalboard.CardProperty, id any) string {
	s, _ := id.(string)
	for _, o := range cp.Options {
		if o.ID == s {
			return o.Value
		}
	}
	return ""
}

var priorityNames = map[string]string{"0": "Normal", "1": "High"}

func cardFields(pr *props, c focalboard.Card) Fields {
	f := Fields{Title: c.Title, Stage: optionName(pr.stage, c.Properties[pr.stage.ID]), Description: cardText(c, pr.texts[c.ID])}
	switch strings.ToLower(optionName(pr.priority, c.Properties[pr.priority.ID])) {
	case "high":
		f.Priority = "1"
	default:
		f.Priority = "0"
	}
	if s, ok := c.Properties[pr.deadline.ID].(string); ok && s != "" {
		var d struct {
			From int64 `json:"from"`
		}
		if json.Unmarshal([]byte(s), &d) == nil && d.From > 0 {
			f.Deadline = time.UnixMilli(d.From).UTC().Format(time.DateOnly)
		}
	}
	if pr.users != nil {
		logins, _ := pr.users.cardAssignees(personIDs(c.Properties[pr.assignees.ID]))
		f.Assignees = joinNames(logins)
	}
	return f
}

// cardUnmatched returns a card's assignees with no matching Odoo user.
func cardUnmatched(pr *props, c focalboard.Card) []string {
	if pr.users == nil {
		return nil
	}
	_, un := pr.users.cardAssignees(personIDs(c.Properties[pr.assignees.ID]))
	return un
}

// cardProps returns the card properties to set and delete for f; keep are
// the card's assignees that are not synced (see cardUnmatched).
func (p *Pair) cardProps(ctx context.Context, pr *props, f Fields, keep []string) (map[string]any, []string, error) {
	set := map[string]any{}
	var del []string
	if f.Stage != "" {
		id, err := p.option(ctx, pr, pr.stage, f.Stage)
		if err != nil {
			return nil, nil, err
		}
		set[pr.stage.ID] = id
	} else {
		del = append(del, pr.stage.ID)
	}
	if name := priorityNames[f.Priority]; name != "" {
		id, err := p.option(ctx, pr, pr.priority, name)
		if err != nil {
			return nil, nil, err
		}
		set[pr.priority.ID] = id
	} else {
		del = append(del, pr.priority.ID)
	}
	if t, err := time.Parse(time.DateOnly, f.Deadline); err == nil {
		set[pr.deadline.ID] = fmt.Sprintf(`{"from":%d}`, t.UnixMilli())
	} else {
		del = append(del, pr.deadline.ID)
	}
	if pr.users != nil {
		if v := pr.assigneeValue(splitNames(f.Assignees), keep); v != nil {
			set[pr.assignees.ID] = v
		} else {
			del = append(del, pr.assignees.ID)
		}
	}
	return set, del, nil
}

var taskFieldNames = []string{"name", "stage_id", "priority", "date_deadline", "description", "active", "write_date", "user_ids"}

func (p *Pair) loadTasks(ctx context.Context) (map[int]task, error) {
	var recs []map[string]any
	dom := []any{"&", []any{"project_id", "=", p.ProjectID}, []any{"active", "in", []any{true, false}}}
	if err := p.Odoo.SearchRead(ctx, "project.task", dom, map[string]any{"fields": taskFieldNames, "order": "id asc"}, &recs); err != nil {
		return nil, fmt.Errorf("read tasks of project %d: %w", p.ProjectID, err)
	}
	out := make(map[int]task, len(recs))
	for _, r := range recs {
		id, _ := intOf(r["id"])
		t := task{ID: int(id), Active: r["active"] != false}
		t.Version, _ = r["write_date"].(string)
		t.UserIDs = taskUserIDs(r["user_ids"])
		t.Fields.Title, _ = r["name"].(string)
		if m2o, ok := r["stage_id"].([]any); ok && len(m2o) == 2 {
			t.Fields.Stage, _ = m2o[1].(string)
		}
		t.Fields.Priority, _ = r["priority"].(string)
		if t.Fields.Priority != "1" {
			t.Fields.Priority = "0"
		}
		t.Fields.Description = htmlText(r["description"])
		if d, ok := r["date_deadline"].(string); ok && len(d) >= 10 {
			t.Fields.Deadline = d[:10]
		}
		if n, ok := intOf(r["stage_id"]); ok && n > 0 {
			t.StageIDs = map[string]int{"": int(n)} // a bare id: named below
		}
		out[t.ID] = t
	}
	return out, p.nameStages(ctx, out)
}

// nameStages fills the stage names of tasks whose stage_id came back as a
// bare id (Odoo sends [id, name]; some proxies and fakes do not).
func (p *Pair) nameStages(ctx context.Context, tasks map[int]task) error {
	var ids []int
	for _, t := range tasks {
		if t.StageIDs != nil {
			ids = append(ids, t.StageIDs[""])
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var recs []map[string]any
	if err := p.Odoo.SearchRead(ctx, "project.task.type", []any{[]any{"id", "in", ids}}, map[string]any{"fields": []string{"name"}}, &recs); err != nil {
		return fmt.Errorf("read stages: %w", err)
	}
	names := map[int]string{}
	for _, r := range recs {
		id, _ := intOf(r["id"])
		names[int(id)], _ = r["name"].(string)
	}
	for id, t := range tasks {
		if t.StageIDs != nil {
			t.Fields.Stage = names[t.StageIDs[""]]
			t.StageIDs = nil
			tasks[id] = t
		}
	}
	return nil
}

func (p *Pair) stageID(ctx context.Context, name string) (any, error) {
	if name == "" {
		return false, nil
	}
	var recs []map[string]any
	if err := p.Odoo.SearchRead(ctx, "project.task.type", []any{[]any{"name", "=", name}}, map[string]any{"fields": []string{"name"}, "limit": 1}, &recs); err != nil {
		return nil, fmt.Errorf("find stage %q: %w", name, err)
	}
	if len(recs) == 1 {
		id, _ := intOf(recs[0]["id"])
		return id, nil
	}
	id, err := p.Odoo.Create(ctx, "project.task.type", map[string]any{"name": name, "project_ids": []any{[]any{4, p.ProjectID}}})
	if err != nil {
		return nil, fmt.Errorf("create stage %q: %w", name, err)
	}
	return id, nil
}

// taskVals returns the task values for f; keep are the task's users that
// are not synced (task.unmatched).
func (p *Pair) taskVals(ctx context.Context, pr *props, f Fields, keep []int) (map[string]any, error) {
	stage, err := p.stageID(ctx, f.Stage)
	if err != nil {
		return nil, err
	}
	vals := map[string]any{"name": f.Title, "stage_id": stage, "priority": cmp.Or(f.Priority, "0"), "date_deadline": false,
		"description": textHTML(f.Description)}
	if f.Deadline != "" {
		vals["date_deadline"] = f.Deadline + " 00:00:00"
	}
	if pr.users != nil {
		vals["user_ids"] = []any{[]any{6, 0, pr.users.odooUserIDs(splitNames(f.Assignees), keep)}}
	}
	return vals, nil
}

func snapshot(f Fields) string { b, _ := json.Marshal(f); return string(b) }

func parseSnapshot(s string) (Fields, bool) {
	var f Fields
	return f, s != "" && json.Unmarshal([]byte(s), &f) == nil
}

// SyncOnce runs one round: links, creations, deletions, conflicts.
func (p *Pair) SyncOnce(ctx context.Context) (Report, error) {
	var rep Report
	cursor, full, err := p.roundCursor(ctx)
	if err != nil {
		return rep, err
	}
	pr, err := p.loadBoard(ctx)
	if err != nil {
		return rep, err
	}
	tasks, err := p.loadTasks(ctx)
	if err != nil {
		return rep, err
	}
	pr.users.fillTaskAssignees(tasks)
	cardList, err := p.Board.AllCards(ctx, p.BoardID)
	if err != nil {
		return rep, fmt.Errorf("list cards of board %s: %w", p.BoardID, err)
	}
	cards := map[string]focalboard.Card{}
	for _, c := range cardList {
		if c.DeleteAt == 0 && !c.IsTemplate {
			cards[c.ID] = c
		}
	}
	links, err := p.DB.ListSyncLinks(ctx, store.SyncLinkFilter{Pair: p.Name})
	if err != nil {
		return rep, err
	}
	linkedTask, linkedCard := map[int]bool{}, map[string]bool{}
	p.examined.Store(0)
	for _, l := range links {
		tid, _ := strconv.Atoi(l.LocalID)
		linkedTask[tid], linkedCard[l.RemoteID] = true, true
		t, tok := tasks[tid]
		c, cok := cards[l.RemoteID]
		if !full && unchanged(pr, l, cursor, t, tok && t.Active, c, cok) {
			continue
		}
		p.examined.Add(1)
		if err := p.syncLink(ctx, pr, l, t, tok && t.Active, c, cok, &rep); err != nil {
			rep.Errors++
			l.State, l.LastError, l.UpdatedAt = store.SyncError, err.Error(), p.now()
			_ = p.DB.UpdateSyncLink(ctx, l)
		}
	}
	// New tasks → cards.
	if p.toBoard() {
		ids := make([]int, 0, len(tasks))
		for id, t := range tasks {
			if !linkedTask[id] && t.Active {
				ids = append(ids, id)
			}
		}
		sort.Ints(ids)
		for _, id := range ids {
			t := tasks[id]
			set, _, err := p.cardProps(ctx, pr, t.Fields, nil)
			if err != nil {
				return rep, err
			}
			c, err := p.Board.CreateCard(ctx, p.BoardID, focalboard.Card{Title: t.Fields.Title, Properties: set})
			if err != nil {
				return rep, fmt.Errorf("create card for task %d: %w", id, err)
			}
			// Link at once, with the fields the card has so far: whatever
			// fails after this is retried on the link, never by a new card.
			made := t.Fields
			made.Description = ""
			l, err := p.link(ctx, t, c, made, assigneeNote(t.unmatchedNames, nil))
			if err != nil {
				return rep, err
			}
			rep.CardsCreated++
			if t.Fields.Description == "" {
				continue
			}
			if err := p.setCardText(ctx, pr, c, t.Fields.Description); err != nil {
				rep.Errors++
				l.State, l.LastError, l.UpdatedAt = store.SyncError, err.Error(), p.now()
			} else {
				l.Snapshot, l.UpdatedAt = snapshot(t.Fields), p.now()
			}
			if err := p.DB.UpdateSyncLink(ctx, l); err != nil {
				return rep, err
			}
		}
	}
	// New cards → tasks.
	if p.toOdoo() {
		var ids []string
		for id := range cards {
			if !linkedCard[id] {
				ids = append(ids, id)
			}
		}
		sort.Strings(ids)
		for _, id := range ids {
			c := cards[id]
			f := cardFields(pr, c)
			vals, err := p.taskVals(ctx, pr, f, nil)
			if err != nil {
				return rep, err
			}
			vals["project_id"], vals["active"] = p.ProjectID, true
			tid, err := p.Odoo.Create(ctx, "project.task", vals)
			if err != nil {
				return rep, fmt.Errorf("create task for card %s: %w", id, err)
			}
			if _, err := p.link(ctx, task{ID: tid}, c, f, assigneeNote(nil, pr.users.fbNames(cardUnmatched(pr, c)))); err != nil {
				return rep, err
			}
			rep.TasksCreated++
		}
	}
	return rep, p.saveCursor(ctx, cursor, boardMax(pr, cardList))
}

func (p *Pair) link(ctx context.Context, t task, c focalboard.Card, f Fields, note string) (store.SyncLink, error) {
	now := p.now()
	l := store.SyncLink{ID: "sl_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", ""), Pair: p.Name,
		LocalSystem: "odoo", LocalModel: "project.task", LocalID: strconv.Itoa(t.ID),
		RemoteSystem: "focalboard", RemoteType: "card", RemoteID: c.ID, State: store.SyncSynced, Direction: p.dir(),
		LastSyncedAt: now, LocalVersion: t.Version, RemoteVersion: strconv.FormatInt(c.UpdateAt, 10),
		Snapshot: snapshot(f), LastError: note, CreatedAt: now, UpdatedAt: now}
	if err := p.DB.CreateSyncLink(ctx, l); err != nil {
		return l, fmt.Errorf("link task %d and card %s: %w", t.ID, c.ID, err)
	}
	return l, nil
}

func (p *Pair) syncLink(ctx context.Context, pr *props, l store.SyncLink, t task, tok bool, c focalboard.Card, cok bool, rep *Report) error {
	now := p.now()
	switch {
	case !tok && !cok:
		return p.DB.DeleteSyncLink(ctx, l.ID)
	case !tok: // task deleted or archived
		if p.toBoard() {
			if err := p.Board.DeleteCard(ctx, p.BoardID, c.ID); err != nil {
				return fmt.Errorf("delete card %s: %w", c.ID, err)
			}
			rep.CardsDeleted++
		}
		return p.DB.DeleteSyncLink(ctx, l.ID)
	case !cok: // card deleted
		if p.toOdoo() {
			if err := p.Odoo.Write(ctx, "project.task", []int{t.ID}, map[string]any{"active": false}); err != nil {
				return fmt.Errorf("archive task %d: %w", t.ID, err)
			}
			rep.TasksArchived++
		}
		return p.DB.DeleteSyncLink(ctx, l.ID)
	}
	if l.State == store.SyncConflict {
		return nil // waits for a resolution
	}
	lf, rf := t.Fields, cardFields(pr, c)
	note := assigneeNote(t.unmatchedNames, pr.users.fbNames(cardUnmatched(pr, c)))
	snap, _ := parseSnapshot(l.Snapshot)
	lch, rch := lf != snap, rf != snap
	switch p.dir() {
	case OdooToBoard: // Odoo is the source: a differing card is repaired
		lch, rch = lf != rf, false
	case BoardToOdoo:
		lch, rch = false, lf != rf
	}
	switch {
	case lf == rf:
		if l.State == store.SyncSynced && snap == lf {
			rv := strconv.FormatInt(c.UpdateAt, 10)
			if l.LastError == note && l.LocalVersion == t.Version && l.RemoteVersion == rv {
				return nil
			}
			// Only our record of the link is stale (note or versions, e.g.
			// after our own write): refresh it so the next rounds skip it.
			l.LastError, l.LocalVersion, l.RemoteVersion, l.UpdatedAt = note, t.Version, rv, now
			return p.DB.UpdateSyncLink(ctx, l)
		}
	case lch && rch:
		rep.Conflicts++
		l.State, l.LastError, l.UpdatedAt = store.SyncConflict, "both sides changed since the last sync: "+diff(snap, lf, rf), now
		l.LocalVersion, l.RemoteVersion = t.Version, strconv.FormatInt(c.UpdateAt, 10)
		if err := p.DB.UpdateSyncLink(ctx, l); err != nil {
			return err
		}
		p.conflict(ctx, l)
		return nil
	case lch:
		if err := p.pushCard(ctx, pr, c, lf); err != nil {
			return err
		}
		rep.CardsUpdated++
	case rch:
		if err := p.pushTask(ctx, pr, t, rf); err != nil {
			return err
		}
		rep.TasksUpdated++
		lf = rf
	}
	l.State, l.LastError, l.LastSyncedAt, l.UpdatedAt, l.Snapshot = store.SyncSynced, note, now, now, snapshot(lf)
	l.LocalVersion, l.RemoteVersion = t.Version, strconv.FormatInt(c.UpdateAt, 10)
	return p.DB.UpdateSyncLink(ctx, l)
}

func (p *Pair) pushCard(ctx context.Context, pr *props, c focalboard.Card, f Fields) error {
	set, del, err := p.cardProps(ctx, pr, f, cardUnmatched(pr, c))
	if err != nil {
		return err
	}
	// Focalboard replaces a card's whole properties map: ChangeCard keeps
	// the properties ipai does not map, and does not write over a change
	// made since the card was listed (the next round compares it again).
	title := f.Title
	if _, err := p.Board.ChangeCard(ctx, c.ID, focalboard.CardChange{Title: &title, Set: set, Delete: del, IfUpdateAt: c.UpdateAt}); err != nil {
		return fmt.Errorf("update card %s: %w", c.ID, err)
	}
	if cardText(c, pr.texts[c.ID]) != f.Description {
		return p.setCardText(ctx, pr, c, f.Description)
	}
	return nil
}

func (p *Pair) pushTask(ctx context.Context, pr *props, t task, f Fields) error {
	vals, err := p.taskVals(ctx, pr, f, t.unmatched)
	if err != nil {
		return err
	}
	if err := p.Odoo.Write(ctx, "project.task", []int{t.ID}, vals); err != nil {
		return fmt.Errorf("update task %d: %w", t.ID, err)
	}
	return nil
}

func diff(snap, a, b Fields) string {
	var out []string
	for _, f := range []struct{ name, s, a, b string }{{"title", snap.Title, a.Title, b.Title}, {"stage", snap.Stage, a.Stage, b.Stage},
		{"priority", snap.Priority, a.Priority, b.Priority}, {"deadline", snap.Deadline, a.Deadline, b.Deadline},
		{"description", snap.Description, a.Description, b.Description}, {"assignees", snap.Assignees, a.Assignees, b.Assignees}} {
		if f.a != f.s || f.b != f.s {
			out = append(out, fmt.Sprintf("%s (Odoo %q, board %q)", f.name, short(f.a), short(f.b)))
		}
	}
	return strings.Join(out, ", ")
}

func (p *Pair) conflict(ctx context.Context, l store.SyncLink) {
	msg := fmt.Sprintf("sync conflict on %s: task %s and card %s — %s. Resolve it: POST /api/v1/sync/links/%s/resolve with {\"keep\":\"odoo\"} or {\"keep\":\"board\"}.",
		p.Name, l.LocalID, l.RemoteID, l.LastError, l.ID)
	if p.Audit != nil {
		_ = p.Audit.Write(ctx, audit.Entry{Actor: "system", Action: "sync.conflict", Level: audit.Warning, Target: l.ID, Message: msg,
			Fields: map[string]any{"pair": p.Name, "task": l.LocalID, "card": l.RemoteID}})
	}
	if p.Notify != nil {
		_ = p.Notify(ctx, ":warning: "+msg)
	}
}

// Sides a conflict resolution keeps.
const (
	KeepOdoo  = "odoo"
	KeepBoard = "board"
)

// ErrNotConflict is returned when resolving a link that is not in conflict.
var ErrNotConflict = errors.New("the link is not in conflict")

// Resolve settles a conflict by writing the kept side's values onto the other.
func (p *Pair) Resolve(ctx context.Context, l store.SyncLink, keep string) (store.SyncLink, error) {
	if l.State != store.SyncConflict {
		return l, ErrNotConflict
	}
	pr, err := p.loadBoard(ctx)
	if err != nil {
		return l, err
	}
	tasks, err := p.loadTasks(ctx)
	if err != nil {
		return l, err
	}
	pr.users.fillTaskAssignees(tasks)
	tid, _ := strconv.Atoi(l.LocalID)
	t, ok := tasks[tid]
	if !ok {
		return l, fmt.Errorf("task %d no longer exists; delete the link", tid)
	}
	cards, err := p.Board.AllCards(ctx, p.BoardID)
	if err != nil {
		return l, err
	}
	var card *focalboard.Card
	for i := range cards {
		if cards[i].ID == l.RemoteID {
			card = &cards[i]
		}
	}
	if card == nil {
		return l, fmt.Errorf("card %s no longer exists; delete the link", l.RemoteID)
	}
	var f Fields
	switch keep {
	case KeepOdoo:
		f = t.Fields
		err = p.pushCard(ctx, pr, *card, f)
	case KeepBoard:
		f = cardFields(pr, *card)
		err = p.pushTask(ctx, pr, t, f)
	default:
		return l, fmt.Errorf("keep %q: use %q or %q", keep, KeepOdoo, KeepBoard)
	}
	if err != nil {
		return l, err
	}
	now := p.now()
	l.State, l.LastError, l.LastSyncedAt, l.UpdatedAt, l.Snapshot = store.SyncSynced, "", now, now, snapshot(f)
	if err := p.DB.UpdateSyncLink(ctx, l); err != nil {
		return l, err
	}
	if p.Audit != nil {
		_ = p.Audit.Write(ctx, audit.Entry{Actor: "system", Action: "sync.resolve", Target: l.ID,
			Message: "sync conflict resolved keeping " + keep, Fields: map[string]any{"pair": p.Name}})
	}
	return l, nil
}

// short cuts a value for messages.
func short(s string) string {
	if r := []rune(s); len(r) > 60 {
		return string(r[:59]) + "…"
	}
	return s
}
