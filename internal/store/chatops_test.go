package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestChatOpsStore(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		b := Bot{Username: "ipai-bot", DisplayName: "IPAI", Connector: "chat", Permissions: `["post"]`, State: BotActive, CreatedAt: now, UpdatedAt: now}
		if err := db.UpsertBot(ctx, b); err != nil {
			t.Fatal(err)
		}
		c := BotCommand{Bot: b.Username, Command: "ipai", ResponseType: "ephemeral", Handler: "ipai", Method: "P", Allow: "{}",
			TokenSealed: "sealed-1", Active: true, CreatedAt: now, UpdatedAt: now}
		if err := db.UpsertCommand(ctx, c); err != nil {
			t.Fatal(err)
		}
		// A re-apply without a token keeps the registered one.
		c.TokenSealed, c.Description = "", "changed"
		if err := db.UpsertCommand(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := db.Command(ctx, "ipai-bot", "ipai")
		if err != nil || got.TokenSealed != "sealed-1" || got.Description != "changed" || !got.Active {
			t.Fatalf("command = %+v, %v", got, err)
		}
		if err := db.SetCommandRegistration(ctx, "ipai-bot", "ipai", "mmid", "sealed-2", now); err != nil {
			t.Fatal(err)
		}
		if cs, err := db.Commands(ctx, "ipai-bot"); err != nil || len(cs) != 1 || cs[0].MMCommandID != "mmid" || cs[0].TokenSealed != "sealed-2" {
			t.Fatalf("commands = %+v, %v", cs, err)
		}
		if err := db.DeleteBot(ctx, "ipai-bot"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Command(ctx, "ipai-bot", "ipai"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("command after bot delete: %v", err)
		}
		k1, err := db.ChatOpsKey(ctx, "approval", "first", now)
		k2, err2 := db.ChatOpsKey(ctx, "approval", "second", now)
		if err != nil || err2 != nil || k1 != "first" || k2 != "first" {
			t.Fatalf("keys %q %q %v %v", k1, k2, err, err2)
		}
		if err := db.SyncN8NWorkflows(ctx, "flows", []N8NWorkflow{{ID: "w1", Name: "Opex", Active: true, Tags: "[]", TriggerType: "webhook", WebhookPath: "opex", LastSync: now}}); err != nil {
			t.Fatal(err)
		}
		if ws, err := db.N8NWorkflows(ctx, ""); err != nil || len(ws) != 1 || ws[0].WebhookPath != "opex" || !ws[0].Active {
			t.Fatalf("workflows = %+v, %v", ws, err)
		}
		e := N8NExecution{ID: "x1", Connector: "flows", WorkflowID: "w1", Source: "mattermost", Status: ExecRunning, StartedAt: now, Input: "{}"}
		if err := db.InsertN8NExecution(ctx, e); err != nil {
			t.Fatal(err)
		}
		if ok, err := db.FinishN8NExecution(ctx, "", "77", ExecSuccess, `{"ok":true}`, "", now); err != nil || ok {
			t.Fatalf("finish unknown n8n id = %v %v", ok, err)
		}
		if ok, err := db.FinishN8NExecution(ctx, "x1", "77", ExecSuccess, `{"ok":true}`, "", now.Add(time.Second)); err != nil || !ok {
			t.Fatalf("finish = %v %v", ok, err)
		}
		es, err := db.N8NExecutions(ctx, "w1", 10)
		if err != nil || len(es) != 1 || es[0].Status != ExecSuccess || es[0].N8NExecutionID != "77" || es[0].Duration() != time.Second {
			t.Fatalf("executions = %+v, %v", es, err)
		}
	})
}
