// Package template holds the files `ipai stack init` writes for a deployment
// (compose file, Caddyfile, PostgreSQL init script, Superset config, Keycloak
// realm, docs), embedded in the binary and rendered with text/template.
package template

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"text/template"
)

//go:embed files/*.tmpl
var files embed.FS

// Images are the pinned container images of a deployment.
type Images struct {
	Postgres, Redis, Caddy, Mattermost, Focalboard, N8N, Superset, Keycloak, Odoo, Hub string
}

// Database is one database of the shared PostgreSQL, owned by a role of the
// same name whose password is the .env variable PasswordVar.
type Database struct {
	Name        string
	PasswordVar string
}

// Edition is one Odoo edition (its own container, database and volume).
type Edition struct {
	Key             string // core, marketing, accounting
	Service         string // compose service name, e.g. odoo-core
	DB              string // database name, e.g. odoo_core
	Volume          string // data volume (filestore, sessions)
	PasswordVar     string
	APIKeyVar       string // .env variable of the hub's API key (filled by `ipai stack connect`)
	Host            string // public host name
	Port            int    // historical host port of the edition (documentation only)
	InitModules     string // comma-separated modules of the init profile
	ExtendedModules string // comma-separated modules of the extended-init profile
}

// Site is one public name Caddy serves.
type Site struct {
	Name       string // service (for docs)
	Host       string
	Upstream   string // host:port inside the compose network
	HealthURI  string
	HealthPort int // 0: same as the upstream
}

// Data is everything the templates need.
type Data struct {
	Domain         string
	TZ             string
	Email          string
	Images         Images
	Databases      []Database
	Editions       []Edition
	Sites          []Site
	FrameAncestors []string
	// HubBuild is the build context of the hub's image (a checkout of ipai
	// with its Dockerfile), relative to the compose file's folder; "" runs
	// the published Images.Hub instead.
	HubBuild string
	// FocalboardBuild is the build context (a git URL at a tag) of Focalboard.
	FocalboardBuild string
}

// File is one rendered file, its path relative to the deployment directory.
type File struct {
	Path    string
	Mode    fs.FileMode
	Content []byte
}

// outputs maps each template to the file it renders (relative path, mode).
var outputs = []struct {
	tmpl string
	path string
	mode fs.FileMode
}{
	{"docker-compose.yml.tmpl", "docker/docker-compose.yml", 0o644},
	{"Caddyfile.tmpl", "caddy/Caddyfile", 0o644},
	{"init-databases.sh.tmpl", "postgres/init/10-databases.sh", 0o755},
	{"superset_config.py.tmpl", "superset/superset_config.py", 0o644},
	{"realm-ipai.json.tmpl", "keycloak/import/realm-ipai.json", 0o644},
	{"gitignore.tmpl", ".gitignore", 0o644},
	{"QUICKSTART.md.tmpl", "docs/QUICKSTART.md", 0o644},
	{"odoo.conf.tmpl", "odoo/odoo.conf", 0o644},
	{"hub-ipai.yaml.tmpl", "hub/ipai.yaml", 0o644},
}

// Render renders every template with d.
func Render(d Data) ([]File, error) {
	t, err := template.New("").Option("missingkey=error").ParseFS(files, "files/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("parse templates: %w", err)
	}
	out := make([]File, 0, len(outputs))
	for _, o := range outputs {
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, o.tmpl, d); err != nil {
			return nil, fmt.Errorf("render %s: %w", o.path, err)
		}
		out = append(out, File{Path: o.path, Mode: o.mode, Content: buf.Bytes()})
	}
	return out, nil
}
