// Package backup backs up and restores an ipai stack: every database with
// pg_dump -Fc in parallel, files (Odoo filestores, n8n data, config) as tar
// files, all in one archive backup-YYYYmmdd-HHMMSS.tar whose manifest.json
// holds the sha256 and size of every member and the row count of every table.
// Restore verifies every checksum before it touches anything, restores into
// fresh databases and swaps them in by rename only when pg_restore succeeded
// and the row counts match the manifest.
package backup

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// ManifestName is the first member of every archive.
const ManifestName = "manifest.json"

// FormatVersion is the version of the archive layout.
const FormatVersion = 1

// Manifest describes one backup archive.
type Manifest struct {
	Format        int             `json:"format"`
	CreatedAt     time.Time       `json:"created_at"`
	ToolVersion   string          `json:"tool_version"`
	PgDumpVersion string          `json:"pg_dump_version"`
	ServerVersion string          `json:"server_version"`
	Mode          string          `json:"mode"` // direct or compose
	DurationMS    int64           `json:"duration_ms"`
	Databases     []DatabaseEntry `json:"databases"`
	Files         []FileEntry     `json:"files"`
	Warnings      []string        `json:"warnings,omitempty"`
}

// FileEntry is one member of the archive.
type FileEntry struct {
	Name     string `json:"name"` // path inside the archive
	Kind     string `json:"kind"` // database, files or globals
	Database string `json:"database,omitempty"`
	Source   string `json:"source,omitempty"` // directory the files came from
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
}

// DatabaseEntry is one dumped database.
type DatabaseEntry struct {
	Name       string           `json:"name"`
	File       string           `json:"file"`
	Owner      string           `json:"owner"`
	Encoding   string           `json:"encoding,omitempty"`
	Collate    string           `json:"collate,omitempty"`
	Ctype      string           `json:"ctype,omitempty"`
	DurationMS int64            `json:"duration_ms"`
	Tables     map[string]int64 `json:"tables"` // schema.table → rows, in the dump's snapshot
	// ExactCounts is true when the counts come from the same snapshot as the dump.
	ExactCounts bool `json:"exact_counts"`
}

// Database returns the entry of database name.
func (m *Manifest) Database(name string) (DatabaseEntry, bool) {
	for _, d := range m.Databases {
		if d.Name == name {
			return d, true
		}
	}
	return DatabaseEntry{}, false
}

var memberRe = regexp.MustCompile(`^(databases/[A-Za-z0-9_.-]+\.dump|files/[A-Za-z0-9_.-]+\.tar|globals/roles\.sql)$`)

func (m *Manifest) validate() error {
	if m.Format != FormatVersion {
		return fmt.Errorf("manifest format %d: this ipai reads format %d; use the ipai version that wrote it (%s)", m.Format, FormatVersion, m.ToolVersion)
	}
	seen := map[string]bool{}
	for _, f := range m.Files {
		if !memberRe.MatchString(f.Name) || seen[f.Name] {
			return fmt.Errorf("manifest lists an invalid or repeated member %q", f.Name)
		}
		if len(f.SHA256) != 64 || f.Size < 0 {
			return fmt.Errorf("manifest entry %q has no valid checksum", f.Name)
		}
		if kind := kindOf(f.Name); f.Kind != kind {
			return fmt.Errorf("manifest entry %q has kind %q, want %q", f.Name, f.Kind, kind)
		}
		seen[f.Name] = true
	}
	for _, d := range m.Databases {
		if !seen[d.File] {
			return fmt.Errorf("manifest database %q refers to missing member %q", d.Name, d.File)
		}
		if d.File != "databases/"+d.Name+".dump" || d.Name == "template0" || d.Name == "template1" {
			return fmt.Errorf("manifest database %q cannot be restored from member %q", d.Name, d.File)
		}
	}
	return nil
}

// kindOf is the kind of a member by its name.
func kindOf(name string) string {
	switch {
	case strings.HasPrefix(name, "databases/"):
		return "database"
	case strings.HasPrefix(name, "files/"):
		return "files"
	default:
		return "globals"
	}
}

func (m *Manifest) marshal() ([]byte, error) { return json.MarshalIndent(m, "", "  ") }
