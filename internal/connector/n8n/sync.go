package n8n

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Exported is one workflow written by Export.
type Exported struct {
	ID, Name, File string
}

// Export writes every workflow as pretty JSON into dir, one file per
// workflow named after it (<name>.json, with the id added when two share a
// name). It returns what it wrote.
func Export(ctx context.Context, c *Client, dir string) ([]Exported, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	all, err := c.AllWorkflows(ctx)
	if err != nil {
		return nil, fmt.Errorf("list workflows: %w", err)
	}
	seen := map[string]int{}
	for _, w := range all {
		seen[fileName(w.Name)]++
	}
	var out []Exported
	for _, w := range all {
		raw, err := c.GetWorkflowRaw(ctx, w.ID)
		if err != nil {
			return out, fmt.Errorf("get workflow %s (%s): %w", w.ID, w.Name, err)
		}
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return out, fmt.Errorf("workflow %s: %w", w.ID, err)
		}
		buf.WriteByte('\n')
		name := fileName(w.Name)
		if seen[name] > 1 {
			name += "-" + w.ID
		}
		path := filepath.Join(dir, name+".json")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			return out, err
		}
		out = append(out, Exported{ID: w.ID, Name: w.Name, File: path})
	}
	return out, nil
}

func fileName(name string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "workflow"
	}
	return b.String()
}

// ImportOptions tune Import.
type ImportOptions struct {
	// Activate activates every imported workflow.
	Activate bool
}

// Imported is the outcome for one file.
type Imported struct {
	File, Name, ID string
	// Action is "created" or "updated".
	Action    string
	Activated bool
}

// Import reads every *.json workflow in dir and creates it in n8n, or
// replaces the existing workflow of the same name; read-only fields are
// stripped. Files are processed in name order; the first error stops it.
func Import(ctx context.Context, c *Client, dir string, o ImportOptions) ([]Imported, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.json workflow files in %s", dir)
	}
	sort.Strings(files)
	existing, err := c.AllWorkflows(ctx)
	if err != nil {
		return nil, fmt.Errorf("list workflows: %w", err)
	}
	byName := map[string]string{}
	for _, w := range existing {
		if !w.IsArchived {
			byName[w.Name] = w.ID
		}
	}
	var out []Imported
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return out, err
		}
		body, err := Writable(b)
		if err != nil {
			return out, fmt.Errorf("%s: %w", f, err)
		}
		name := body["name"].(string)
		res := Imported{File: f, Name: name}
		var w Workflow
		if id, ok := byName[name]; ok {
			w, err = c.UpdateWorkflow(ctx, id, body)
			res.Action = "updated"
		} else {
			w, err = c.CreateWorkflow(ctx, body)
			res.Action = "created"
		}
		if err != nil {
			return out, fmt.Errorf("%s (%s): %w", f, name, err)
		}
		res.ID = w.ID
		byName[name] = w.ID
		if o.Activate {
			if _, err := c.Activate(ctx, w.ID); err != nil {
				return out, fmt.Errorf("activate %s (%s): %w", name, w.ID, err)
			}
			res.Activated = true
		}
		out = append(out, res)
	}
	return out, nil
}
