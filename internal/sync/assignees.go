package sync

import (
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

// users matches Odoo users and Focalboard users by email (case-insensitive;
// an Odoo user's login counts as an email too). Assignees whose email has
// no match on the other side are left out of sync: they are kept where they
// are and counted in the link's notes.
type users struct {
	odooEmail map[int]string    // res.users id → email
	odooID    map[string]int    // email or login → res.users id
	fbEmail   map[string]string // Focalboard user id → email
	fbID      map[string]string // email → Focalboard user id
}

func normEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func (p *Pair) loadUsers(ctx context.Context, pr *props) (*users, error) {
	bu, ok := p.Board.(BoardUsers)
	if !ok || pr.assignees == nil || (pr.assignees.Type != "multiPerson" && pr.assignees.Type != "person") {
		return nil, nil
	}
	team := orDefault(pr.board.TeamID, "0")
	fus, err := bu.TeamUsers(ctx, team)
	if err != nil {
		return nil, fmt.Errorf("list users of team %s: %w", team, err)
	}
	var recs []map[string]any
	if err := p.Odoo.SearchRead(ctx, "res.users", []any{}, map[string]any{"fields": []string{"login", "email"}, "order": "id asc"}, &recs); err != nil {
		return nil, fmt.Errorf("read Odoo users: %w", err)
	}
	u := &users{odooEmail: map[int]string{}, odooID: map[string]int{}, fbEmail: map[string]string{}, fbID: map[string]string{}}
	for _, r := range recs {
		id, _ := intOf(r["id"])
		email, _ := r["email"].(string)
		login, _ := r["login"].(string)
		if normEmail(email) == "" {
			email = login
		}
		if e := normEmail(email); e != "" {
			u.odooEmail[int(id)] = e
		}
		for _, k := range []string{normEmail(email), normEmail(login)} {
			if _, dup := u.odooID[k]; k != "" && !dup {
				u.odooID[k] = int(id)
			}
		}
	}
	for _, f := range fus {
		if e := normEmail(f.Email); e != "" {
			u.fbEmail[f.ID] = e
			if _, dup := u.fbID[e]; !dup {
				u.fbID[e] = f.ID
			}
		}
	}
	return u, nil
}

// taskAssignees splits a task's users into the emails that also have a
// Focalboard user and the user ids that do not.
func (u *users) taskAssignees(ids []int) (emails []string, unmatched []int) {
	for _, id := range ids {
		e := u.odooEmail[id]
		if _, ok := u.fbID[e]; e != "" && ok {
			emails = append(emails, e)
		} else {
			unmatched = append(unmatched, id)
		}
	}
	return emails, unmatched
}

// cardAssignees does the same for a card's Focalboard user ids.
func (u *users) cardAssignees(ids []string) (emails []string, unmatched []string) {
	for _, id := range ids {
		e := u.fbEmail[id]
		if _, ok := u.odooID[e]; e != "" && ok {
			emails = append(emails, e)
		} else {
			unmatched = append(unmatched, id)
		}
	}
	return emails, unmatched
}

// joinEmails is the Fields form of a set of emails: sorted, unique, comma-separated.
func joinEmails(emails []string) string {
	sort.Strings(emails)
	out := emails[:0:0]
	for i, e := range emails {
		if i == 0 || e != emails[i-1] {
			out = append(out, e)
		}
	}
	return strings.Join(out, ",")
}

func splitEmails(s string) []string {
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
		emails, unmatched := u.taskAssignees(t.UserIDs)
		t.Fields.Assignees, t.unmatched = joinEmails(emails), unmatched
		tasks[id] = t
	}
}

// assigneeValue is the property value for the given emails plus the card's
// unmatched users (kept as they are); nil when there are none.
func (pr *props) assigneeValue(emails []string, keep []string) any {
	var ids []string
	for _, e := range emails {
		if id := pr.users.fbID[e]; id != "" {
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

// odooUserIDs maps emails to res.users ids and adds the task's unmatched users.
func (u *users) odooUserIDs(emails []string, keep []int) []any {
	out := []any{}
	seen := map[int]bool{}
	for _, e := range emails {
		if id, ok := u.odooID[e]; ok && !seen[id] {
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

// assigneeNote says how many assignees were left out of sync ("" when none).
func assigneeNote(onTask, onCard int) string {
	if onTask == 0 && onCard == 0 {
		return ""
	}
	return fmt.Sprintf("note: assignees left out (no user with the same email on the other side): %d on the task, %d on the card", onTask, onCard)
}
