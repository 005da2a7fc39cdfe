package mcpserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSpeckit(t *testing.T) {
	repo := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(repo, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("spec/expense/constitution.md", "# Constitution\n\n## Principles\n\n- Money is exact.\n")
	write("spec/expense/prd.md", "# PRD\n\n## Problem\n\n## Goals\n\n- Faster approvals.\n")
	write("spec/expense/tasks.md", "# Tasks\n\n## Tasks\n\n- [x] T001 Model\n- [ ] T002 Approval flow\n- T003 Reports\n")
	write("addons/ipai/ipai_expense/__manifest__.py", "{}")
	write("addons/ipai/ipai_bir/__manifest__.py", "{}")
	write("addons/ipai/ipai_payroll/__manifest__.py", "{}")
	rec := &recorder{}
	env := &Env{Audit: rec, Local: principal("dev", "mcp:speckit:read")}
	cs := connect(t, NewSpeckit(env, repo))

	var list bundlesOut
	mustOK(t, cs, "list_spec_bundles", nil, &list)
	if len(list.Bundles) != 1 || list.Bundles[0].Tasks != 2 || list.Bundles[0].Done != 1 || strings.Join(list.Bundles[0].Missing, ",") != "plan.md" {
		t.Fatalf("list = %+v", list)
	}
	var b bundleOut
	mustOK(t, cs, "get_spec_bundle", map[string]any{"slug": "expense", "file": "tasks.md"}, &b)
	if len(b.Tasks) != 2 || b.Tasks[1].ID != "T002" || b.Tasks[1].Status != "todo" {
		t.Fatalf("get = %+v", b)
	}
	mustFail(t, cs, "get_spec_bundle", map[string]any{"slug": "../etc"}, "slug")

	var v validateOut
	mustOK(t, cs, "validate_spec_bundle", map[string]any{"slug": "expense"}, &v)
	probs := ""
	for _, p := range v.Problems {
		probs += p.File + ": " + p.Problem + "\n"
	}
	for _, want := range []string{"plan.md: missing", `prd.md: section "Problem" is empty`, `tasks.md: task "T003 Reports" has no status`} {
		if !strings.Contains(probs, want) {
			t.Fatalf("validate problems:\n%s\nwant %q", probs, want)
		}
	}
	if v.Valid {
		t.Fatal("invalid bundle reported valid")
	}

	// Writes: dry run needs only read; the real thing needs write.
	var ens ensureOut
	mustOK(t, cs, "ensure_spec_bundle", map[string]any{"slug": "bir", "title": "BIR filings", "dry_run": true}, &ens)
	if len(ens.Created) != 4 {
		t.Fatalf("ensure dry run = %+v", ens)
	}
	if _, err := os.Stat(filepath.Join(repo, "spec/bir")); err == nil {
		t.Fatal("dry run created the bundle")
	}
	mustFail(t, cs, "ensure_spec_bundle", map[string]any{"slug": "bir"}, "mcp:speckit:write")
	mustFail(t, cs, "update_task_status", map[string]any{"slug": "expense", "task_id": "T002", "status": "done"}, "mcp:speckit:write")

	env2 := &Env{Audit: rec, Local: principal("dev", "mcp:speckit:write")}
	ws := connect(t, NewSpeckit(env2, repo))
	mustOK(t, ws, "ensure_spec_bundle", map[string]any{"slug": "bir", "title": "BIR filings"}, &ens)
	data, err := os.ReadFile(filepath.Join(repo, "spec/bir/prd.md"))
	if err != nil || !strings.Contains(string(data), "BIR filings") {
		t.Fatalf("ensure created prd.md = %q, %v", data, err)
	}
	mustOK(t, ws, "ensure_spec_bundle", map[string]any{"slug": "expense"}, &ens)
	if strings.Join(ens.Created, ",") != "plan.md" || len(ens.Kept) != 3 {
		t.Fatalf("ensure on existing bundle = %+v", ens)
	}
	var ts taskStatusOut
	mustOK(t, ws, "update_task_status", map[string]any{"slug": "expense", "task_id": "T002", "status": "done", "dry_run": true}, &ts)
	if ts.After != "- [x] T002 Approval flow" {
		t.Fatalf("dry run = %+v", ts)
	}
	if data, _ := os.ReadFile(filepath.Join(repo, "spec/expense/tasks.md")); !strings.Contains(string(data), "- [ ] T002") {
		t.Fatal("dry run rewrote tasks.md")
	}
	mustOK(t, ws, "update_task_status", map[string]any{"slug": "expense", "task_id": "T002", "status": "in_progress"}, &ts)
	data, _ = os.ReadFile(filepath.Join(repo, "spec/expense/tasks.md"))
	if !strings.Contains(string(data), "- [~] T002 Approval flow") || !strings.Contains(string(data), "- [x] T001 Model") {
		t.Fatalf("tasks.md after update:\n%s", data)
	}
	mustFail(t, ws, "update_task_status", map[string]any{"slug": "expense", "task_id": "T999", "status": "done"}, "T001, T002")
	mustFail(t, ws, "update_task_status", map[string]any{"slug": "expense", "task_id": "T001", "status": "finished"}, "todo, in_progress, done or blocked")

	var cov coverageOut
	mustOK(t, cs, "spec_coverage_report", nil, &cov)
	if cov.Modules != 3 || cov.WithSpec != 2 || strings.Join(cov.Missing, ",") != "addons/ipai/ipai_payroll" || cov.TasksTotal != 4 {
		t.Fatalf("coverage = %+v", cov)
	}
}
