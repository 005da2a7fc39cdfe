package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/connector/n8n"
	"github.com/insightpulseai/ipai/internal/connector/n8n/n8ntest"
)

// TestN8NExportImportRealN8N runs `ipai n8n import|export` against a real n8n.
func TestN8NExportImportRealN8N(t *testing.T) {
	in := n8ntest.StartOwn(t)
	src := t.TempDir()
	wf := map[string]any{"name": "cli roundtrip", "active": true, "id": "x", "versionId": "v",
		"nodes": []any{map[string]any{"id": "b1b1b1b1-0000-4000-8000-000000000001", "name": "Webhook",
			"type": "n8n-nodes-base.webhook", "typeVersion": 2, "position": []int{0, 0},
			"webhookId":  "b1b1b1b1-0000-4000-8000-000000000002",
			"parameters": map[string]any{"httpMethod": "POST", "path": "cli-roundtrip"}}},
		"connections": map[string]any{}, "settings": map[string]any{"executionOrder": "v1", "unknownKey": 1}}
	b, _ := json.Marshal(wf)
	if err := os.WriteFile(filepath.Join(src, "cli.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, "n8n", "import", "--url", in.URL, "--api-key", in.APIKey, "--dir", src, "--activate")
	if err != nil || !strings.Contains(out, "created cli roundtrip") || !strings.Contains(out, "activated") {
		t.Fatalf("import: %q %v", out, err)
	}
	dst := t.TempDir()
	out, _, err = run(t, "n8n", "export", "--url", in.URL, "--api-key", in.APIKey, "--dir", dst)
	if err != nil || !strings.Contains(out, "1 workflows exported") {
		t.Fatalf("export: %q %v", out, err)
	}
	got, err := os.ReadFile(filepath.Join(dst, "cli_roundtrip.json"))
	if err != nil {
		t.Fatal(err)
	}
	var w n8n.Workflow
	if err := json.Unmarshal(got, &w); err != nil || !w.Active || w.WebhookPaths()[0] != "cli-roundtrip" {
		t.Fatalf("exported %s (%v)", got, err)
	}
	out, _, err = run(t, "n8n", "import", "--url", in.URL, "--api-key", in.APIKey, "--dir", dst)
	if err != nil || !strings.Contains(out, "updated cli roundtrip") {
		t.Fatalf("re-import: %q %v", out, err)
	}
	c := n8n.New(in.URL, in.APIKey, nil)
	all, err := c.AllWorkflows(context.Background())
	if err != nil || len(all) != 1 {
		t.Fatalf("workflows after round trip: %+v %v", all, err)
	}
	if _, _, err := run(t, "n8n", "export", "--dir", dst, "--url", "", "--api-key", ""); err == nil {
		t.Fatal("export without URL succeeded")
	}
}
