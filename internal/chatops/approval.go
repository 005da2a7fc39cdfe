package chatops

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/connector/mattermost"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/store"
)

func auditEntry(actor, action, target, msg string) audit.Entry {
	return audit.Entry{Actor: actor, Action: action, Target: target, Message: msg}
}

// ApprovalContext is the context of an Approve/Reject button. Sig is the
// HMAC-SHA256 (hub key) of the JSON of the other fields, so a click cannot
// change the record, the method or the decision.
type ApprovalContext struct {
	Op     string `json:"op"` // approve | reject
	Model  string `json:"model"`
	Method string `json:"method"`
	ID     int64  `json:"id"`
	// State is the record's state when the buttons were posted; a click
	// acts only while the record is still in it (empty on buttons posted
	// before ipai recorded it: then only the once-only rule applies).
	State   string `json:"state,omitempty"`
	Odoo    string `json:"odoo"`
	MM      string `json:"mm"`
	Title   string `json:"title"`
	Expires int64  `json:"exp"`
	Nonce   string `json:"nonce"`
	Sig     string `json:"sig,omitempty"`
}

func (s *Service) sign(c ApprovalContext) string {
	c.Sig = ""
	b, _ := json.Marshal(c)
	m := hmac.New(sha256.New, s.approvalKey)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil))
}

// verify checks the signature (constant time) and the expiry.
func (s *Service) verify(c ApprovalContext) error {
	got, err := hex.DecodeString(c.Sig)
	want, _ := hex.DecodeString(s.sign(c))
	if err != nil || len(s.approvalKey) == 0 || !hmac.Equal(got, want) {
		return errors.New("the button's signature does not match")
	}
	if s.now().Unix() > c.Expires {
		return errors.New("the approval request has expired")
	}
	return nil
}

// ApprovalTTL is how long approval buttons work.
const ApprovalTTL = 30 * 24 * time.Hour

// ExecuteApproval is the executor of rule actions of kind
// mattermost.approval: it posts the request with signed buttons.
func (s *Service) ExecuteApproval(ctx context.Context, cl *store.Claimed) (string, error, bool) {
	var a rule.Action
	if err := json.Unmarshal([]byte(cl.Action), &a); err != nil {
		return "", fmt.Errorf("the delivery's action is not valid JSON: %v", err), true
	}
	r, err := rule.Render(a, &cl.Event)
	if err != nil {
		return "", fmt.Errorf("template: %w (fix the rule, then replay)", err), true
	}
	id, err := recordID(r.Args)
	if err != nil {
		return "", err, true
	}
	mention := r.Mention
	ap := s.Cfg.Approvals
	if a.Mention == nil && len(ap.Thresholds)+len(ap.Default) > 0 {
		m := &rule.Mention{Amount: ap.Amount, Default: ap.Default}
		if m.Amount == "" {
			m.Amount = "data.amount_total"
		}
		for _, t := range ap.Thresholds {
			m.Thresholds = append(m.Thresholds, rule.Threshold{Over: t.Over, Mention: t.Mention})
		}
		if mention, err = rule.ChooseMention(m, rule.Env(&cl.Event)); err != nil {
			return "", err, true
		}
	}
	if ap.Odoo == "" {
		return "", errors.New("no Odoo connector for approvals; set chatops.approvals.odoo"), true
	}
	method := r.Method
	if method == "" {
		method = "button_approve"
	}
	reject := ap.RejectMethod
	if reject == "" {
		reject = "button_cancel"
	}
	title := r.Title
	if title == "" {
		title = fmt.Sprintf("Approval needed: %s #%d", r.Model, id)
	}
	state, err := s.recordState(ctx, ap.Odoo, r.Model, id)
	if err != nil {
		return "", err, errors.Is(err, errNoRecord)
	}
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	base := ApprovalContext{Model: r.Model, ID: id, State: state, Odoo: ap.Odoo, MM: r.Connector, Title: title,
		Expires: s.now().Add(ApprovalTTL).Unix(), Nonce: hex.EncodeToString(nonce)}
	button := func(op, name, meth, style string) Button {
		c := base
		c.Op, c.Method = op, meth
		c.Sig = s.sign(c)
		var ctxMap map[string]any
		b, _ := json.Marshal(c)
		_ = json.Unmarshal(b, &ctxMap)
		return Button{ID: op, Name: name, Type: "button", Style: style,
			Integration: map[string]any{"url": strings.TrimSuffix(s.BaseURL, "/") + "/integrations/mattermost/actions", "context": ctxMap}}
	}
	text := strings.TrimSpace(mention + " " + r.Text)
	att := Attachment{Fallback: title, Color: "#f2c744", Title: title, Text: r.Text,
		Fields: []Field{{Title: "Record", Value: fmt.Sprintf("%s #%d", r.Model, id), Short: true},
			{Title: "State", Value: state, Short: true}},
		Actions: []Button{button("approve", "Approve", method, "good"), button("reject", "Reject", reject, "danger")}}
	if mention != "" {
		att.Fields = append(att.Fields, Field{Title: "Approver", Value: mention, Short: true})
	}
	mm, cfg, err := s.Clients.Mattermost(ctx, r.Connector)
	if err != nil {
		return "", err, false
	}
	channelID, err := channelByName(ctx, mm, cfg.Setting("team"), r.Channel)
	if err != nil {
		return "", err, false
	}
	var props map[string]any
	b, _ := json.Marshal(map[string]any{"attachments": []Attachment{att}})
	_ = json.Unmarshal(b, &props)
	props["from_ipai"] = "true"
	p, err := mm.CreatePost(ctx, mattermost.Post{ChannelID: channelID, Message: text, Props: props})
	if err != nil {
		return "", err, false
	}
	return `{"post_id":"` + p.ID + `"}`, nil, false
}

func recordID(args []any) (int64, error) {
	if len(args) == 0 {
		return 0, errors.New("args must give the record id, e.g. args: [\"{{.data.id}}\"]")
	}
	v := args[0]
	if l, ok := v.([]any); ok && len(l) == 1 {
		v = l[0]
	}
	switch x := v.(type) {
	case float64:
		return int64(x), nil
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err == nil && n > 0 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("args[0] = %v is not a record id", v)
}

func channelByName(ctx context.Context, mm *mattermost.Client, team, ch string) (string, error) {
	if len(ch) == 26 && !strings.ContainsAny(ch, "/-_~") {
		return ch, nil
	}
	name := strings.TrimPrefix(ch, "~")
	if t, n, ok := strings.Cut(name, "/"); ok {
		team, name = t, n
	}
	if team == "" {
		return "", fmt.Errorf("channel %q is a name but the connector has no team setting; set it or write team/channel", ch)
	}
	c, err := mm.ChannelByName(ctx, team, name)
	if err != nil {
		return "", fmt.Errorf("find channel %s/%s: %w", team, name, err)
	}
	return c.ID, nil
}

// ActionRequest is what Mattermost POSTs when a button is clicked.
type ActionRequest struct {
	UserID      string          `json:"user_id"`
	UserName    string          `json:"user_name"`
	ChannelID   string          `json:"channel_id"`
	ChannelName string          `json:"channel_name"`
	TeamID      string          `json:"team_id"`
	TeamDomain  string          `json:"team_domain"`
	PostID      string          `json:"post_id"`
	TriggerID   string          `json:"trigger_id"`
	Type        string          `json:"type"`
	DataSource  string          `json:"data_source"`
	Context     json.RawMessage `json:"context"`
}

// ActionResponse is the answer to a click.
type ActionResponse struct {
	Update        *PostUpdate `json:"update,omitempty"`
	EphemeralText string      `json:"ephemeral_text,omitempty"`
}

// PostUpdate replaces the clicked post's message and props.
type PostUpdate struct {
	Message string         `json:"message"`
	Props   map[string]any `json:"props"`
}

// ParseAction reads a click (JSON) and its approval context.
func ParseAction(body []byte) (ActionRequest, ApprovalContext, error) {
	var r ActionRequest
	var c ApprovalContext
	if err := json.Unmarshal(body, &r); err != nil {
		return r, c, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if r.UserID == "" || len(r.Context) == 0 {
		return r, c, fmt.Errorf("%w: user_id and context are required", ErrBadRequest)
	}
	if err := json.Unmarshal(r.Context, &c); err != nil {
		return r, c, fmt.Errorf("%w: context: %v", ErrBadRequest, err)
	}
	return r, c, nil
}

// ErrForbidden marks refused clicks (forged context, no right).
var ErrForbidden = errors.New("forbidden")

// errNoRecord: the approval's record does not exist (a permanent failure).
var errNoRecord = errors.New("no such record")

// claimTimeout is how long a click's claim on an approval request holds
// before another click may take it over (the hub died mid-call; the state
// check keeps the method from running twice).
const claimTimeout = 2 * time.Minute

// recordState reads the record's state from Odoo ("" when the record has
// no state value).
func (s *Service) recordState(ctx context.Context, odooCode, model string, id int64) (string, error) {
	od, err := s.Clients.Odoo(ctx, odooCode)
	if err != nil {
		return "", err
	}
	var rows []map[string]any
	// search_read, not read: a deleted record is an empty answer, not a
	// MissingError.
	dom := []any{[]any{"id", "=", id}}
	if err := od.SearchRead(ctx, model, dom, map[string]any{"fields": []string{"state"}, "limit": 1}, &rows); err != nil {
		return "", fmt.Errorf("read the state of %s #%d: %w", model, id, err)
	}
	if len(rows) == 0 {
		return "", fmt.Errorf("%w: %s #%d does not exist in Odoo", errNoRecord, model, id)
	}
	st, _ := rows[0]["state"].(string)
	return st, nil
}

// Act handles a click: signature, whether the request was already used,
// the clicking user's right (Mattermost user → Odoo user by email,
// optionally in the approver group), a claim so the request is used once,
// a re-read of the record (it must still be in the state the buttons were
// posted for), the Odoo call, the post update (buttons removed, who
// decided) and the audit entry. Problems the user can act on are answered
// with an ephemeral message (HTTP 200) rather than an error.
func (s *Service) Act(ctx context.Context, r ActionRequest, c ApprovalContext) (ActionResponse, error) {
	target := fmt.Sprintf("%s/%d", c.Model, c.ID)
	if err := s.verify(c); err != nil {
		s.auditRefused(ctx, audit.Entry{Actor: "mattermost:" + r.UserID, Action: "chatops.approval.refused", Level: audit.Warning,
			Target: target, Message: err.Error()})
		return ActionResponse{EphemeralText: "This button is not valid (" + err.Error() + "); ask for a new approval message."},
			fmt.Errorf("%w: %v", ErrForbidden, err)
	}
	oops := func(format string, args ...any) (ActionResponse, error) {
		msg := fmt.Sprintf(format, args...)
		s.Log.Warn("approval click", "target", target, "err", msg)
		return ActionResponse{EphemeralText: "⚠️ " + msg + " Nothing was done; try again in a moment."}, nil
	}
	mm, _, err := s.Clients.Mattermost(ctx, c.MM)
	if err != nil {
		return oops("ipai cannot use Mattermost connector %s: %v.", c.MM, err)
	}
	u, err := mm.UserByID(ctx, r.UserID)
	if err != nil {
		return oops("ipai could not look up your Mattermost user: %v.", err)
	}
	// Used already: say by whom, and take the stale buttons away.
	if use, err := s.DB.ApprovalUse(ctx, c.Nonce); err == nil {
		if use.State != store.ApprovalDeciding || use.ClaimedAt.After(s.now().Add(-claimTimeout)) {
			return s.used(ctx, mm, r, c, use), nil
		}
		// A claim left by a hub that died mid-call: ClaimApproval takes it over.
	} else if !errors.Is(err, store.ErrNotFound) {
		return oops("ipai could not check this request: %v.", err)
	}
	od, err := s.Clients.Odoo(ctx, c.Odoo)
	if err != nil {
		return oops("ipai cannot use Odoo connector %s: %v.", c.Odoo, err)
	}
	var users []struct {
		ID    int64  `json:"id"`
		Name  string `json:"name"`
		Login string `json:"login"`
	}
	if u.Email != "" {
		dom := []any{"|", []any{"email", "=ilike", u.Email}, []any{"login", "=ilike", u.Email}}
		if err := od.SearchRead(ctx, "res.users", dom, map[string]any{"fields": []string{"name", "login"}, "limit": 2}, &users); err != nil {
			return oops("ipai could not find your Odoo user (%s): %v.", u.Email, err)
		}
	}
	deny := func(why string) (ActionResponse, error) {
		s.audit(ctx, audit.Entry{Actor: "mattermost:" + u.Username, Action: "chatops.approval.denied", Level: audit.Warning,
			Target: target, Message: why})
		return ActionResponse{EphemeralText: why}, nil
	}
	if len(users) != 1 {
		return deny(fmt.Sprintf("Your Mattermost email (%s) matches no single Odoo user, so you cannot decide this; ask an admin to set it in Odoo.", u.Email))
	}
	if g := s.Cfg.Approvals.Group; g != "" {
		var ok bool
		if err := od.ExecuteKW(ctx, "res.users", "has_group", []any{[]any{users[0].ID}, g}, nil, &ok); err != nil {
			return oops("ipai could not check group %s: %v.", g, err)
		}
		if !ok {
			return deny(fmt.Sprintf("You (Odoo user %s) are not in %s, so you cannot decide this.", users[0].Login, g))
		}
	}
	// Claim the request: of concurrent clicks one goes on.
	now := s.now()
	won, use, err := s.DB.ClaimApproval(ctx, store.ApprovalUse{Nonce: c.Nonce, PostID: r.PostID, Model: c.Model, RecordID: c.ID,
		Op: c.Op, Actor: u.Username, OdooUser: users[0].Login, ClaimedAt: now}, now.Add(-claimTimeout))
	if err != nil {
		return oops("ipai could not record your click: %v.", err)
	}
	if !won {
		return s.used(ctx, mm, r, c, use), nil
	}
	release := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := s.DB.ReleaseApproval(ctx, c.Nonce); err != nil {
			s.Log.Error("release approval claim", "target", target, "err", err)
		}
	}
	// The record must still be in the state the buttons were posted for:
	// Odoo's button_approve, for one, approves a cancelled order.
	if c.State != "" {
		cur, err := s.recordState(ctx, c.Odoo, c.Model, c.ID)
		if err != nil && !errors.Is(err, errNoRecord) {
			release()
			return oops("ipai could not re-read %s #%d: %v.", c.Model, c.ID, err)
		}
		if err != nil || cur != c.State {
			now := "deleted"
			if err == nil {
				now = "in state `" + cur + "`"
			}
			why := fmt.Sprintf("%s #%d is now %s, not `%s` as when this request was posted", c.Model, c.ID, now, c.State)
			_ = s.DB.FinishApproval(context.WithoutCancel(ctx), c.Nonce, store.ApprovalStale, why, s.now())
			s.audit(ctx, audit.Entry{Actor: "mattermost:" + u.Username, Action: "chatops.approval.stale", Level: audit.Warning,
				Target: target, Message: why + "; " + c.Method + " was not called"})
			return s.staleAnswer(ctx, mm, r, c, why), nil
		}
	}
	var res any
	kw := map[string]any{"context": map[string]any{"ipai_decided_by": users[0].Login}}
	if err := od.ExecuteKW(ctx, c.Model, c.Method, []any{[]any{c.ID}}, kw, &res); err != nil {
		s.audit(ctx, audit.Entry{Actor: "mattermost:" + u.Username, Action: "chatops.approval." + c.Op, Level: audit.Error,
			Target: target, Message: err.Error()})
		// An error does not prove nothing happened (a lost answer, a
		// method whose answer the client misread): if the record left the
		// posted state, the request is used up and the buttons go.
		if c.State != "" {
			if cur, rerr := s.recordState(ctx, c.Odoo, c.Model, c.ID); rerr == nil && cur != c.State {
				why := fmt.Sprintf("%s #%d is now in state `%s` after %s by @%s, although Odoo answered with an error (%v)",
					c.Model, c.ID, cur, c.Method, u.Username, err)
				_ = s.DB.FinishApproval(context.WithoutCancel(ctx), c.Nonce, store.ApprovalStale, why, s.now())
				msg := fmt.Sprintf("⚠️ %s — no longer awaiting a decision: %s.", c.Title, why)
				return ActionResponse{Update: s.decidedPost(ctx, mm, r.PostID, c, msg, "#8f8f8f", why+"; check the record in Odoo."),
					EphemeralText: "Odoo answered with an error, but " + why + "; check the record in Odoo."}, nil
			}
		}
		release()
		return ActionResponse{EphemeralText: "Odoo refused: " + err.Error()}, nil
	}
	verb, color, icon := "Approved", "#2eb886", "✅"
	if c.Op == "reject" {
		verb, color, icon = "Rejected", "#d24b4e", "❌"
	}
	at := s.now().UTC().Format("2006-01-02 15:04 UTC")
	decision := fmt.Sprintf("%s by @%s (Odoo: %s) at %s", verb, u.Username, users[0].Name, at)
	if err := s.DB.FinishApproval(context.WithoutCancel(ctx), c.Nonce, store.ApprovalDecided, decision, s.now()); err != nil {
		s.Log.Error("record approval decision", "target", target, "err", err)
	}
	s.audit(ctx, audit.Entry{Actor: "mattermost:" + u.Username, Action: "chatops.approval." + c.Op, Target: target,
		Message: fmt.Sprintf("%s by %s (Odoo %s) via %s", verb, u.Username, users[0].Login, c.Method),
		Fields:  map[string]any{"odoo_user": users[0].Login, "post_id": r.PostID, "method": c.Method}})
	msg := fmt.Sprintf("%s %s — %s by @%s at %s", icon, c.Title, strings.ToLower(verb), u.Username, at)
	return ActionResponse{Update: s.decidedPost(ctx, mm, r.PostID, c, msg, color, decision), EphemeralText: verb + "."}, nil
}

// used answers a click on a request already used: who decided (or why it
// went stale), and the post again without buttons.
func (s *Service) used(ctx context.Context, mm *mattermost.Client, r ActionRequest, c ApprovalContext, use store.ApprovalUse) ActionResponse {
	switch use.State {
	case store.ApprovalDeciding:
		return ActionResponse{EphemeralText: fmt.Sprintf("@%s is deciding this right now (%s); nothing else was done.", use.Actor, use.Op)}
	case store.ApprovalStale:
		return s.staleAnswer(ctx, mm, r, c, use.Message)
	}
	icon, color := "✅", "#2eb886"
	if use.Op == "reject" {
		icon, color = "❌", "#d24b4e"
	}
	said := use.Message
	if said == "" {
		said = use.Op + " by @" + use.Actor
	}
	msg := fmt.Sprintf("%s %s — %s", icon, c.Title, strings.ToLower(said[:1])+said[1:])
	return ActionResponse{Update: s.decidedPost(ctx, mm, r.PostID, c, msg, color, use.Message),
		EphemeralText: "Already decided: " + said + "; nothing else was done."}
}

// staleAnswer answers a click on a request whose record left the posted
// state (why): nothing was done, and the post loses its buttons.
func (s *Service) staleAnswer(ctx context.Context, mm *mattermost.Client, r ActionRequest, c ApprovalContext, why string) ActionResponse {
	msg := fmt.Sprintf("⚠️ %s — no longer awaiting a decision: %s.", c.Title, why)
	return ActionResponse{Update: s.decidedPost(ctx, mm, r.PostID, c, msg, "#8f8f8f", why+"; nothing was done."),
		EphemeralText: "Nothing was done: " + why + "."}
}

// decidedPost is the update of an approval post after its use: the post's
// attachments as Mattermost returns them, without their buttons, with a
// Decision field and the decision's color (rebuilt from the context when
// the post cannot be read).
func (s *Service) decidedPost(ctx context.Context, mm *mattermost.Client, postID string, c ApprovalContext, msg, color, decision string) *PostUpdate {
	var atts []any
	if postID != "" {
		if p, err := mm.GetPost(ctx, postID); err == nil {
			atts, _ = p.Props["attachments"].([]any)
		} else {
			s.Log.Warn("read approval post", "post_id", postID, "err", err)
		}
	}
	if len(atts) == 0 {
		atts = []any{map[string]any{"fallback": c.Title, "title": c.Title,
			"fields": []any{map[string]any{"title": "Record", "value": fmt.Sprintf("%s #%d", c.Model, c.ID), "short": true}}}}
	}
	out := make([]any, 0, len(atts))
	for i, a := range atts {
		m, ok := a.(map[string]any)
		if !ok {
			continue
		}
		n := make(map[string]any, len(m))
		for k, v := range m {
			if k != "actions" {
				n[k] = v
			}
		}
		if i == 0 {
			n["color"] = color
			fields, _ := n["fields"].([]any)
			n["fields"] = append(append([]any(nil), fields...), map[string]any{"title": "Decision", "value": decision, "short": false})
		}
		out = append(out, n)
	}
	return &PostUpdate{Message: msg, Props: map[string]any{"attachments": out, "from_ipai": "true"}}
}
