package mcpserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Spec bundles live in <repo>/spec/<slug>/ with these four files.
var specFiles = []string{"constitution.md", "prd.md", "plan.md", "tasks.md"}

var slugRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// A task line: "- [ ] T001 text", "- [x] …", "- [~] …" (in progress), "- [!] …" (blocked).
var taskRe = regexp.MustCompile(`^(\s*[-*]\s+)\[([ xX~!])\]\s+(\S+)(.*)$`)

// A list item under a tasks heading without a checkbox has no status.
var bulletRe = regexp.MustCompile(`^\s*[-*]\s+(\S.*)$`)

var statusMark = map[string]string{"todo": " ", "in_progress": "~", "done": "x", "blocked": "!"}

func markStatus(m string) string {
	switch m {
	case "x", "X":
		return "done"
	case "~":
		return "in_progress"
	case "!":
		return "blocked"
	}
	return "todo"
}

type speckit struct{ repo string }

// NewSpeckit returns the speckit server over the repository folder repo.
func NewSpeckit(e *Env, repo string) *mcp.Server {
	k := &speckit{repo: repo}
	s := e.newServer(Speckit, "Spec bundles spec/<slug>/ (constitution.md, prd.md, plan.md, tasks.md) of a repository: list, read, validate, create missing files, update task status.")
	addTool(e, s, Speckit, false, &mcp.Tool{Name: "list_spec_bundles", Description: "List spec bundles with their files and task progress."}, k.list)
	addTool(e, s, Speckit, false, &mcp.Tool{Name: "get_spec_bundle", Description: "Read a bundle's files (or one of them)."}, k.get)
	addTool(e, s, Speckit, false, &mcp.Tool{Name: "validate_spec_bundle", Description: "Check a bundle: missing files, empty sections, tasks without status."}, k.validate)
	addTool(e, s, Speckit, true, &mcp.Tool{Name: "ensure_spec_bundle", Description: "Create a bundle's missing files from templates (existing files are kept)."}, k.ensure)
	addTool(e, s, Speckit, true, &mcp.Tool{Name: "update_task_status", Description: "Set a task's status in tasks.md (todo, in_progress, done, blocked)."}, k.updateTask)
	addTool(e, s, Speckit, false, &mcp.Tool{Name: "spec_coverage_report", Description: "Which modules have a spec bundle, and task completion per bundle."}, k.coverage)
	return s
}

func (k *speckit) specDir() string { return filepath.Join(k.repo, "spec") }

func (k *speckit) bundleDir(slug string) (string, error) {
	if !slugRe.MatchString(slug) || strings.Contains(slug, "..") {
		return "", fmt.Errorf("slug %q: use lowercase letters, digits, '.', '-' or '_' (e.g. expense-approval)", slug)
	}
	return filepath.Join(k.specDir(), slug), nil
}

func (k *speckit) slugs() ([]string, error) {
	ents, err := os.ReadDir(k.specDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && slugRe.MatchString(e.Name()) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

type task struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Text   string `json:"text"`
	Line   int    `json:"line"`
}

func parseTasks(text string) []task {
	var out []task
	for i, l := range strings.Split(text, "\n") {
		if m := taskRe.FindStringSubmatch(l); m != nil {
			out = append(out, task{ID: strings.TrimSuffix(m[3], ":"), Status: markStatus(m[2]), Text: strings.TrimSpace(m[4]), Line: i + 1})
		}
	}
	return out
}

type bundleInfo struct {
	Slug    string   `json:"slug"`
	Files   []string `json:"files"`
	Missing []string `json:"missing"`
	Tasks   int      `json:"tasks"`
	Done    int      `json:"done"`
}

func (k *speckit) info(slug string) bundleInfo {
	dir := filepath.Join(k.specDir(), slug)
	b := bundleInfo{Slug: slug, Files: []string{}, Missing: []string{}}
	for _, f := range specFiles {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			b.Missing = append(b.Missing, f)
			continue
		}
		b.Files = append(b.Files, f)
		if f == "tasks.md" {
			for _, t := range parseTasks(string(data)) {
				b.Tasks++
				if t.Status == "done" {
					b.Done++
				}
			}
		}
	}
	return b
}

type bundlesOut struct {
	Bundles []bundleInfo `json:"bundles"`
}

func (k *speckit) list(ctx context.Context, c *Call, _ struct{}) (bundlesOut, error) {
	slugs, err := k.slugs()
	if err != nil {
		return bundlesOut{}, err
	}
	return bundlesOut{Bundles: mapSlice(slugs, k.info)}, nil
}

type slugIn struct {
	Slug string `json:"slug" jsonschema:"bundle name: the folder under spec/"`
	File string `json:"file,omitempty" jsonschema:"only this file: constitution.md, prd.md, plan.md or tasks.md"`
}

type bundleOut struct {
	Slug  string            `json:"slug"`
	Files map[string]string `json:"files"`
	Tasks []task            `json:"tasks"`
}

func (k *speckit) get(ctx context.Context, c *Call, in slugIn) (bundleOut, error) {
	dir, err := k.bundleDir(in.Slug)
	if err != nil {
		return bundleOut{}, err
	}
	if _, err := os.Stat(dir); err != nil {
		return bundleOut{}, fmt.Errorf("no spec bundle %q under %s; create it with ensure_spec_bundle", in.Slug, k.specDir())
	}
	files := specFiles
	if in.File != "" {
		if !slices.Contains(specFiles, in.File) {
			return bundleOut{}, fmt.Errorf("file %q: choose one of %s", in.File, strings.Join(specFiles, ", "))
		}
		files = []string{in.File}
	}
	out := bundleOut{Slug: in.Slug, Files: map[string]string{}, Tasks: []task{}}
	for _, f := range files {
		if data, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
			out.Files[f] = string(data)
			if f == "tasks.md" {
				out.Tasks = append(out.Tasks, parseTasks(string(data))...)
			}
		}
	}
	return out, nil
}

type problemOut struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Problem string `json:"problem"`
}

type validateOut struct {
	Slug     string       `json:"slug"`
	Valid    bool         `json:"valid"`
	Problems []problemOut `json:"problems"`
}

func (k *speckit) validate(ctx context.Context, c *Call, in slugIn) (validateOut, error) {
	dir, err := k.bundleDir(in.Slug)
	if err != nil {
		return validateOut{}, err
	}
	out := validateOut{Slug: in.Slug, Problems: []problemOut{}}
	for _, f := range specFiles {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			out.Problems = append(out.Problems, problemOut{File: f, Problem: "missing (ensure_spec_bundle creates it from a template)"})
			continue
		}
		out.Problems = append(out.Problems, checkMarkdown(f, string(data))...)
	}
	out.Valid = len(out.Problems) == 0
	return out, nil
}

// checkMarkdown finds empty sections and, in tasks.md, list items under a
// heading that have no [ ] / [x] status.
func checkMarkdown(file, text string) []problemOut {
	var out []problemOut
	lines := strings.Split(text, "\n")
	if strings.TrimSpace(text) == "" {
		return []problemOut{{File: file, Problem: "file is empty"}}
	}
	heading, headingLine, body := "", 0, false
	flush := func() {
		if heading != "" && !body {
			out = append(out, problemOut{File: file, Line: headingLine, Problem: fmt.Sprintf("section %q is empty", heading)})
		}
	}
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "#") {
			flush()
			heading, headingLine, body = strings.TrimSpace(strings.TrimLeft(t, "#")), i+1, false
			continue
		}
		if t != "" && !strings.HasPrefix(t, "<!--") {
			body = true
		}
		if file == "tasks.md" && taskRe.FindStringSubmatch(l) == nil {
			if m := bulletRe.FindStringSubmatch(l); m != nil {
				out = append(out, problemOut{File: file, Line: i + 1, Problem: fmt.Sprintf("task %q has no status: write it as - [ ] ID text", m[1])})
			}
		}
	}
	flush()
	return out
}

var specTemplates = map[string]string{
	"constitution.md": "# Constitution: {{title}}\n\n## Principles\n\n- What must always hold for this feature.\n\n## Constraints\n\n- Technical and business limits.\n",
	"prd.md":          "# PRD: {{title}}\n\n## Problem\n\nWho has which problem today.\n\n## Goals\n\n- Measurable outcomes.\n\n## Requirements\n\n- What the feature does.\n",
	"plan.md":         "# Plan: {{title}}\n\n## Approach\n\nHow it will be built.\n\n## Milestones\n\n- First deliverable.\n",
	"tasks.md":        "# Tasks: {{title}}\n\n## Tasks\n\n- [ ] T001 Write the PRD\n- [ ] T002 Write the plan\n",
}

type ensureIn struct {
	Slug   string `json:"slug" jsonschema:"bundle name: the folder under spec/"`
	Title  string `json:"title,omitempty" jsonschema:"human title used in the templates"`
	DryRun bool   `json:"dry_run,omitempty" jsonschema:"when true, list the files that would be created and create nothing"`
}

type ensureOut struct {
	Slug    string   `json:"slug"`
	DryRun  bool     `json:"dry_run"`
	Created []string `json:"created"`
	Kept    []string `json:"kept"`
}

func (k *speckit) ensure(ctx context.Context, c *Call, in ensureIn) (ensureOut, error) {
	dir, err := k.bundleDir(in.Slug)
	if err != nil {
		return ensureOut{}, err
	}
	title := cmp.Or(in.Title, in.Slug)
	c.Target("speckit:" + in.Slug)
	out := ensureOut{Slug: in.Slug, DryRun: c.DryRun, Created: []string{}, Kept: []string{}}
	if !c.DryRun {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return ensureOut{}, err
		}
	}
	for _, f := range specFiles {
		p := filepath.Join(dir, f)
		if _, err := os.Stat(p); err == nil {
			out.Kept = append(out.Kept, f)
			continue
		}
		out.Created = append(out.Created, f)
		if c.DryRun {
			continue
		}
		body := strings.ReplaceAll(specTemplates[f], "{{title}}", title)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return ensureOut{}, err
		}
	}
	return out, nil
}

type taskStatusIn struct {
	Slug   string `json:"slug"`
	TaskID string `json:"task_id" jsonschema:"task id as written in tasks.md, e.g. T001"`
	Status string `json:"status" jsonschema:"todo, in_progress, done or blocked"`
	DryRun bool   `json:"dry_run,omitempty" jsonschema:"when true, show the line change and write nothing"`
}

type taskStatusOut struct {
	DryRun bool   `json:"dry_run"`
	Line   int    `json:"line"`
	Before string `json:"before"`
	After  string `json:"after"`
}

func (k *speckit) updateTask(ctx context.Context, c *Call, in taskStatusIn) (taskStatusOut, error) {
	dir, err := k.bundleDir(in.Slug)
	if err != nil {
		return taskStatusOut{}, err
	}
	mark, ok := statusMark[in.Status]
	if !ok {
		return taskStatusOut{}, fmt.Errorf("status %q: use todo, in_progress, done or blocked", in.Status)
	}
	p := filepath.Join(dir, "tasks.md")
	data, err := os.ReadFile(p)
	if err != nil {
		return taskStatusOut{}, fmt.Errorf("bundle %q has no tasks.md; create it with ensure_spec_bundle", in.Slug)
	}
	c.Target("speckit:" + in.Slug + "/" + in.TaskID)
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		m := taskRe.FindStringSubmatch(l)
		if m == nil || strings.TrimSuffix(m[3], ":") != in.TaskID {
			continue
		}
		after := m[1] + "[" + mark + "] " + m[3] + m[4]
		out := taskStatusOut{DryRun: c.DryRun, Line: i + 1, Before: l, After: after}
		if c.DryRun {
			return out, nil
		}
		lines[i] = after
		if err := writeFileAtomic(p, []byte(strings.Join(lines, "\n"))); err != nil {
			return taskStatusOut{}, err
		}
		return out, nil
	}
	var ids []string
	for _, t := range parseTasks(string(data)) {
		ids = append(ids, t.ID)
	}
	return taskStatusOut{}, fmt.Errorf("no task %q in %s/tasks.md (tasks: %s)", in.TaskID, in.Slug, strings.Join(ids, ", "))
}

// writeFileAtomic replaces p through a temporary file and a rename.
func writeFileAtomic(p string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tasks-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if fi, err := os.Stat(p); err == nil {
		_ = os.Chmod(tmp.Name(), fi.Mode())
	}
	return os.Rename(tmp.Name(), p)
}

type coverageIn struct {
	ScanPaths []string `json:"scan_paths,omitempty" jsonschema:"folders whose subfolders are modules that need a bundle (default addons/ipai)"`
}

type coverageOut struct {
	Modules     int          `json:"modules"`
	WithSpec    int          `json:"with_spec"`
	Missing     []string     `json:"missing_specs"`
	Bundles     []bundleInfo `json:"bundles"`
	TasksTotal  int          `json:"tasks_total"`
	TasksDone   int          `json:"tasks_done"`
	PercentDone float64      `json:"percent_done"`
}

func (k *speckit) coverage(ctx context.Context, c *Call, in coverageIn) (coverageOut, error) {
	scan := in.ScanPaths
	if len(scan) == 0 {
		scan = []string{"addons/ipai"}
	}
	slugs, err := k.slugs()
	if err != nil {
		return coverageOut{}, err
	}
	out := coverageOut{Missing: []string{}, Bundles: []bundleInfo{}}
	for _, s := range slugs {
		b := k.info(s)
		out.Bundles = append(out.Bundles, b)
		out.TasksTotal += b.Tasks
		out.TasksDone += b.Done
	}
	for _, sp := range scan {
		if filepath.IsAbs(sp) || strings.Contains(sp, "..") {
			return coverageOut{}, fmt.Errorf("scan path %q must be relative to the repository, without ..", sp)
		}
		ents, err := os.ReadDir(filepath.Join(k.repo, sp))
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			out.Modules++
			// ipai_expense_flow matches a bundle ipai_expense_flow, ipai-expense-flow,
			// expense_flow or expense-flow.
			short := strings.TrimPrefix(e.Name(), "ipai_")
			if slices.Contains(slugs, e.Name()) || slices.Contains(slugs, strings.ReplaceAll(e.Name(), "_", "-")) ||
				slices.Contains(slugs, short) || slices.Contains(slugs, strings.ReplaceAll(short, "_", "-")) {
				out.WithSpec++
			} else {
				out.Missing = append(out.Missing, filepath.ToSlash(filepath.Join(sp, e.Name())))
			}
		}
	}
	if out.TasksTotal > 0 {
		out.PercentDone = float64(out.TasksDone*1000/out.TasksTotal) / 10
	}
	return out, nil
}
