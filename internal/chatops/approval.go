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
	Op      string `json:"op"` // approve | reject
	Model   string `json:"model"`
	Method  string `json:"method"`
	ID      int64  `json:"id"`
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
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	base := ApprovalContext{Model: r.Model, ID: id, Odoo: ap.Odoo, MM: r.Connector, Title: title,
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
		Fields:  []Field{{Title: "Record", Value: fmt.Sprintf("%s #%d", r.Model, id), Short: true}},
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

// Act handles a click: signature, the clicking user's right (Mattermost
// user → Odoo user by email, optionally in the approver group), the Odoo
// call, the post update and the audit entry.
func (s *Service) Act(ctx context.Context, r ActionRequest, c ApprovalContext) (ActionResponse, error) {
	target := fmt.Sprintf("%s/%d", c.Model, c.ID)
	if err := s.verify(c); err != nil {
		s.auditRefused(ctx, audit.Entry{Actor: "mattermost:" + r.UserID, Action: "chatops.approval.refused", Level: audit.Warning,
			Target: target, Message: err.Error()})
		return ActionResponse{EphemeralText: "This button is not valid (" + err.Error() + "); ask for a new approval message."},
			fmt.Errorf("%w: %v", ErrForbidden, err)
	}
	mm, _, err := s.Clients.Mattermost(ctx, c.MM)
	if err != nil {
		return ActionResponse{}, err
	}
	u, err := mm.UserByID(ctx, r.UserID)
	if err != nil {
		return ActionResponse{}, fmt.Errorf("look up Mattermost user %s: %w", r.UserID, err)
	}
	od, err := s.Clients.Odoo(ctx, c.Odoo)
	if err != nil {
		return ActionResponse{}, err
	}
	var users []struct {
		ID    int64  `json:"id"`
		Name  string `json:"name"`
		Login string `json:"login"`
	}
	if u.Email != "" {
		dom := []any{"|", []any{"email", "=ilike", u.Email}, []any{"login", "=ilike", u.Email}}
		if err := od.SearchRead(ctx, "res.users", dom, map[string]any{"fields": []string{"name", "login"}, "limit": 2}, &users); err != nil {
			return ActionResponse{}, fmt.Errorf("find the Odoo user of %s: %w", u.Email, err)
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
			return ActionResponse{}, fmt.Errorf("check group %s: %w", g, err)
		}
		if !ok {
			return deny(fmt.Sprintf("You (Odoo user %s) are not in %s, so you cannot decide this.", users[0].Login, g))
		}
	}
	var res any
	kw := map[string]any{"context": map[string]any{"ipai_decided_by": users[0].Login}}
	if err := od.ExecuteKW(ctx, c.Model, c.Method, []any{[]any{c.ID}}, kw, &res); err != nil {
		s.audit(ctx, audit.Entry{Actor: "mattermost:" + u.Username, Action: "chatops.approval." + c.Op, Level: audit.Error,
			Target: target, Message: err.Error()})
		return ActionResponse{EphemeralText: "Odoo refused: " + err.Error()}, nil
	}
	verb, color, icon := "Approved", "#2eb886", "✅"
	if c.Op == "reject" {
		verb, color, icon = "Rejected", "#d24b4e", "❌"
	}
	at := s.now().UTC().Format("2006-01-02 15:04 UTC")
	s.audit(ctx, audit.Entry{Actor: "mattermost:" + u.Username, Action: "chatops.approval." + c.Op, Target: target,
		Message: fmt.Sprintf("%s by %s (Odoo %s) via %s", verb, u.Username, users[0].Login, c.Method),
		Fields:  map[string]any{"odoo_user": users[0].Login, "post_id": r.PostID, "method": c.Method}})
	msg := fmt.Sprintf("%s %s — %s by @%s at %s", icon, c.Title, strings.ToLower(verb), u.Username, at)
	att := map[string]any{"fallback": msg, "color": color, "title": c.Title, "text": fmt.Sprintf("%s by @%s (Odoo: %s) at %s", verb, u.Username, users[0].Name, at)}
	return ActionResponse{Update: &PostUpdate{Message: msg, Props: map[string]any{"attachments": []any{att}, "from_ipai": "true"}},
		EphemeralText: verb + "."}, nil
}
