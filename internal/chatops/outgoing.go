package chatops

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/event"
)

// OutgoingRequest is a Mattermost outgoing webhook call. Timestamp is in
// milliseconds whatever the encoding (form sends seconds).
type OutgoingRequest struct {
	Token       string `json:"token,omitempty"`
	TeamID      string `json:"team_id"`
	TeamDomain  string `json:"team_domain"`
	ChannelID   string `json:"channel_id"`
	ChannelName string `json:"channel_name"`
	Timestamp   int64  `json:"timestamp"`
	UserID      string `json:"user_id"`
	UserName    string `json:"user_name"`
	PostID      string `json:"post_id"`
	Text        string `json:"text"`
	TriggerWord string `json:"trigger_word"`
	FileIDs     string `json:"file_ids"`
}

// OutgoingResponse is the reply format of outgoing webhooks.
type OutgoingResponse struct {
	Text         string `json:"text,omitempty"`
	Username     string `json:"username,omitempty"`
	ResponseType string `json:"response_type,omitempty"` // "comment" = in the thread
}

// ParseOutgoing reads an outgoing webhook body, form-encoded or JSON.
func ParseOutgoing(contentType string, body []byte) (OutgoingRequest, error) {
	var r OutgoingRequest
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "application/json":
		var raw struct {
			OutgoingRequest
			Timestamp json.Number `json:"timestamp"`
			FileIDs   any         `json:"file_ids"`
		}
		if err := json.Unmarshal(body, &raw); err != nil {
			return r, fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
		r = raw.OutgoingRequest
		if raw.Timestamp != "" {
			n, err := raw.Timestamp.Int64()
			if err != nil {
				return r, fmt.Errorf("%w: timestamp %q is not milliseconds", ErrBadRequest, raw.Timestamp)
			}
			r.Timestamp = n
		}
		switch f := raw.FileIDs.(type) {
		case string:
			r.FileIDs = f
		case []any:
			var ids []string
			for _, x := range f {
				ids = append(ids, fmt.Sprint(x))
			}
			r.FileIDs = strings.Join(ids, ",")
		}
	case "application/x-www-form-urlencoded", "":
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return r, fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
		r = OutgoingRequest{Token: v.Get("token"), TeamID: v.Get("team_id"), TeamDomain: v.Get("team_domain"),
			ChannelID: v.Get("channel_id"), ChannelName: v.Get("channel_name"), UserID: v.Get("user_id"),
			UserName: v.Get("user_name"), PostID: v.Get("post_id"), Text: v.Get("text"), TriggerWord: v.Get("trigger_word"),
			FileIDs: v.Get("file_ids")}
		if ts := v.Get("timestamp"); ts != "" {
			n, err := strconv.ParseInt(ts, 10, 64)
			if err != nil {
				return r, fmt.Errorf("%w: timestamp %q is not seconds", ErrBadRequest, ts)
			}
			r.Timestamp = n * 1000
		}
	default:
		return r, fmt.Errorf("%w: Content-Type %q; Mattermost sends form-encoded or JSON", ErrBadRequest, contentType)
	}
	if r.Token == "" {
		return r, fmt.Errorf("%w: no token", ErrBadRequest)
	}
	return r, nil
}

var triggerClean = regexp.MustCompile(`[^a-z0-9_-]+`)

// ErrUnverified marks requests whose token matches nothing.
var ErrUnverified = errors.New("unverified")

// Outgoing checks the token against the configured outgoing webhooks
// (constant time), commits the post as event mattermost.outgoing.<trigger>
// (source mattermost.outgoing:<name>), and returns the configured reply.
func (s *Service) Outgoing(ctx context.Context, ingest func(context.Context, event.Request) (event.Result, error), r OutgoingRequest) (OutgoingResponse, event.Result, error) {
	var match = -1
	for i, o := range s.Cfg.Outgoing {
		if subtle.ConstantTimeCompare([]byte(o.Token), []byte(r.Token)) == 1 {
			match = i
		}
	}
	if match < 0 {
		s.auditRefused(ctx, audit.Entry{Actor: "mattermost:" + r.UserID, Action: "chatops.outgoing.refused", Level: audit.Warning,
			Message: "token matches no chatops.outgoing entry"})
		return OutgoingResponse{}, event.Result{}, ErrUnverified
	}
	o := s.Cfg.Outgoing[match]
	name := o.Name
	if name == "" {
		name = strconv.Itoa(match)
	}
	r.Token = ""
	payload, _ := json.Marshal(r)
	trig := triggerClean.ReplaceAllString(strings.ToLower(strings.TrimPrefix(r.TriggerWord, "@")), "")
	if trig == "" {
		trig = "message"
	}
	key := ""
	if r.PostID != "" {
		key = "post:" + r.PostID
	}
	res, err := ingest(ctx, event.Request{Source: "mattermost.outgoing:" + name, Type: "mattermost.outgoing." + trig,
		IdemKey: key, Payload: payload})
	if err != nil {
		return OutgoingResponse{}, res, err
	}
	out := OutgoingResponse{}
	if o.Reply != "" {
		out = OutgoingResponse{Text: strings.ReplaceAll(o.Reply, "{{event_id}}", res.EventID), ResponseType: "comment"}
	}
	return out, res, nil
}
