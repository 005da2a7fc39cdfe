package boardsync

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/insightpulseai/ipai/internal/connector/focalboard"
)

// BoardUsers is implemented by Focalboard clients that can list a team's
// members (*focalboard.Client). Without it assignees are not synced.
type BoardUsers interface {
	TeamUsers(ctx context.Context, teamID string) ([]focalboard.User, error)
}

var _ BoardUsers = (*focalboard.Client)(nil)

// users matches Odoo users and Focalboard users by name: an Odoo login and
// a Focalboard username match when the pair's Users maps the one to the
// other, or else when they are equal (case-insensitive). Focalboard never
// sends users' emails, so they cannot be matched by email. Assignees with
// no match on the other side are left out of sync: they are kept where
// they are and named in the link's note.
type users struct {
	odooLogin map[int]string    // res.users id → login (lower case)
	odooID    map[string]int    // login → res.users id
	fbName    map[string]string // Focalboard user id → username (lower case)
	fbID      map[string]string // username → Focalboard user id
	toFB      map[string]string // login → username, from Pair.Users
	toOdoo    map[string]string // username → login, from Pair.Users
}

func normName(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func (p *Pair) loadUsers(ctx context.Context, pr *props) (*users, error) {
	bu, ok := p.Board.(BoardUsers)
	if !ok || pr.assignees == nil || (pr.assignees.Type != "multiPerson" && pr.assignees.Type != "person") {
		return nil, nil
	}
	team := cmp.Or(pr.board.TeamID, "0")
	fus, err := bu.TeamUsers(ctx, team)
	if err != nil {
		return nil, fmt.Errorf("list users of team %s: %w", team, err)
	}
	var recs []map[string]any
	if err := p.Odoo.SearchRead(ctx, "res.users", []any{}, map[string]any{"fields": []string{"login"}, "order": "id asc"}, &recs); err != nil {
		return nil, fmt.Errorf("read Odoo users: %w", err)
	}
	u := &users{odooLogin: map[int]string{}, odooID: map[string]int{}, fbName: map[string]string{}, fbID: map[string]string{},
		toFB: map[string]string{}, toOdoo: map[string]string{}}
	for login, name := range p.Users {
		if l, n := normName(login), normName(name); l != "" && n != "" {
			u.toFB[l], u.toOdoo[n] = n, l
		}
	}
	for _, r := range recs {
		id, _ := intOf(r["id"])
		login, _ := r["login"].(string)
		if l := normName(login); l != "" {
			u.odooLogin[int(id)] = l
			if _, dup := u.odooID[l]; !dup {
				u.odooID[l] = int(id)
			}
		}
	}
	for _, f := range fus {
		if n := normName(f.Username); n != "" {
			u.fbName[f.ID] = n
			if _, dup := u.fbID[n]; !dup {
				u.fbID[n] = f.ID
			}
		}
	}
	return u, nil
}

// username is the Focalboard username an Odoo login maps to: the mapped
// one, else the same name unless that username is mapped to another login.
func (u *users) username(login string) string {
	if n, ok := u.toFB[login]; ok {
		return n
	}
	if _, taken := u.toOdoo[login]; taken {
		return ""
	}
	return login
}

// login is the Odoo login a Focalboard username maps to (the reverse).
func (u *users) login(username string) string {
	if l, ok := u.toOdoo[username]; ok {
		return l
	}
	if _, taken := u.toFB[username]; taken {
		return ""
	}
	return username
}

// taskAssignees splits a task's users into the logins that have a
// Focalboard user, the user ids that do not, and those users' names.
func (u *users) taskAssignees(ids []int) (logins []string, unmatched []int, names []string) {
	for _, id := range ids {
		l := u.odooLogin[id]
		if _, ok := u.fbID[u.username(l)]; l != "" && ok {
			logins = append(logins, l)
			continue
		}
		unmatched = append(unmatched, id)
		names = append(names, cmp.Or(l, fmt.Sprintf("#%d", id)))
	}
	return logins, unmatched, names
}

// cardAssignees does the same for a card's Focalboard user ids: the Odoo
// logins matched, the ids not matched.
func (u *users) cardAssignees(ids []string) (logins []string, unmatched []string) {
	for _, id := range ids {
		n := u.fbName[id]
		l := u.login(n)
		if _, ok := u.odooID[l]; n != "" && l != "" && ok {
			logins = append(logins, l)
		} else {
			unmatched = append(unmatched, id)
		}
	}
	return logins, unmatched
}

// fbNames names Focalboard user ids by username (the id when unknown).
func (u *users) fbNames(ids []string) []string {
	if u == nil {
		return nil
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, cmp.Or(u.fbName[id], id))
	}
	return out
}

// joinNames is the Fields form of a set of logins: sorted, unique, comma-separated.
func joinNames(names []string) string {
	sort.Strings(names)
	out := names[:0:0]
	for i, e := range names {
		if i == 0 || e != names[i-1] {
			out = append(out, e)
		}
	}
	return strings.Join(out, ",")
}

func splitNames(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// personIDs reads a person or multi-person property value.
func personIDs(v any) []string {
	switch x := v.(type) {
	case string:
		if x != "" {
			return []string{x}
		}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return x
	}
	return nil
}

// taskUserIDs reads a task's user_ids (a list of ids).
func taskUserIDs(v any) []int {
	l, _ := v.([]any)
	var out []int
	for _, e := range l {
		if n, ok := intOf(e); ok && n > 0 {
			out = append(out, int(n))
		}
	}
	return out
}

// fillTaskAssignees sets the tasks' Fields.Assignees.
func (u *users) fillTaskAssignees(tasks map[int]task) {
	if u == nil {
		return
	}
	for id, t := range tasks {
		logins, unmatched, names := u.taskAssignees(t.UserIDs)
		t.Fields.Assignees, t.unmatched, t.unmatchedNames = joinNames(logins), unmatched, names
		tasks[id] = t
	}
}

// assigneeValue is the property value for the given Odoo logins plus the
// card's unmatched users (kept as they are); nil when there are none.
func (pr *props) assigneeValue(logins []string, keep []string) any {
	var ids []string
	for _, l := range logins {
		if id := pr.users.fbID[pr.users.username(l)]; id != "" {
			ids = append(ids, id)
		}
	}
	ids = append(ids, keep...)
	if len(ids) == 0 {
		return nil
	}
	if pr.assignees.Type == "person" {
		return ids[0]
	}
	return ids
}

// odooUserIDs maps logins to res.users ids and adds the task's unmatched users.
func (u *users) odooUserIDs(logins []string, keep []int) []any {
	out := []any{}
	seen := map[int]bool{}
	for _, l := range logins {
		if id, ok := u.odooID[l]; ok && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, id := range keep {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// assigneeNote names the assignees left out of sync ("" when none): the
// task's by Odoo login, the card's by Focalboard username.
func assigneeNote(onTask, onCard []string) string {
	if len(onTask) == 0 && len(onCard) == 0 {
		return ""
	}
	list := func(names []string) string {
		if len(names) == 0 {
			return "none"
		}
		s := append([]string(nil), names...)
		sort.Strings(s)
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("note: assignees not synced (no user of the same name on the other side; map Odoo logins to Focalboard usernames in the board link's users): on the task %s; on the card %s",
		list(onTask), list(onCard))
}
