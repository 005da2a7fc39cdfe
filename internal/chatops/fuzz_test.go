package chatops_test

import (
	"testing"

	"github.com/insightpulseai/ipai/internal/chatops"
)

// The parsers of what Mattermost (or anyone) sends must never panic, and
// what they accept must be usable.

func FuzzParseSlash(f *testing.F) {
	f.Add("POST", "application/x-www-form-urlencoded", "", []byte("token=abc&user_id=u&channel_id=c&command=%2Fipai&text=help"), "")
	f.Add("POST", "application/json", "", []byte(`{"token":"t","user_id":"u","channel_id":"c","text":"odoo res.partner x"}`), "Token t")
	f.Add("GET", "", "token=t&user_id=u&channel_id=c&text=status", []byte(nil), "")
	f.Fuzz(func(t *testing.T, method, ct, query string, body []byte, header string) {
		r, err := chatops.ParseSlash(method, ct, query, body, header)
		if err == nil && (r.Token == "" || r.UserID == "" || r.ChannelID == "") {
			t.Fatalf("accepted without token, user or channel: %+v", r)
		}
	})
}

func FuzzParseOutgoing(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", []byte("token=t&timestamp=1700000000&text=%40agent+hi&trigger_word=%40agent"))
	f.Add("application/json", []byte(`{"token":"t","timestamp":1700000000000,"text":"@agent hi","file_ids":["a","b"]}`))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		r, err := chatops.ParseOutgoing(ct, body)
		if err == nil && r.Token == "" {
			t.Fatalf("accepted without token: %+v", r)
		}
	})
}

func FuzzParseAction(f *testing.F) {
	f.Add([]byte(`{"user_id":"u","post_id":"p","context":{"op":"approve","model":"purchase.order","method":"button_approve","id":7,"sig":"00"}}`))
	f.Add([]byte(`{"user_id":"u","context":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, _, err := chatops.ParseAction(body)
		if err == nil && (r.UserID == "" || len(r.Context) == 0) {
			t.Fatalf("accepted without user or context: %+v", r)
		}
	})
}
