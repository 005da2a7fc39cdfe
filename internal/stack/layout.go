package stack

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/insightpulseai/ipai/internal/stack/template"
)

// Paths of a deployment, relative to its directory.
const (
	ComposeFile = "docker/docker-compose.yml"
	EnvFile     = "docker/.env"
	EnvExample  = "docker/.env.example"
	StateFile   = ".ipai-stack.json"
	ProjectDir  = "docker"
)

// Pinned images: the versions the project's tests ran against (README, "Tested
// versions"). Bump deliberately, one at a time, after the tests ran on the new one.
var DefaultImages = template.Images{
	Postgres:   "postgres:15.13-alpine",
	Redis:      "redis:7.4.2-alpine",
	Caddy:      "caddy:2.10.0-alpine",
	Mattermost: "mattermost/mattermost-team-edition:10.5.2",
	// No published image of Focalboard 8.0.0 (the release the client was
	// checked against) is known: compose builds it from the tag with the
	// repository's own docker/Dockerfile (see FocalboardBuild).
	Focalboard: "ipai-focalboard:8.0.0",
	N8N:        "n8nio/n8n:2.41.1",
	Superset:   "apache/superset:6.1.0",
	Keycloak:   "quay.io/keycloak/keycloak:26.7.3",
	Odoo:       "odoo:18.0",
	Hub:        "ghcr.io/insightpulseai/ipai:0.1.0",
}

// FocalboardBuild is the build context of Focalboard: release v8.0.0 of its
// repository (a tag), built with its docker/Dockerfile.
const FocalboardBuild = "https://github.com/mattermost/focalboard.git#v8.0.0"

// Edition keys accepted by --editions.
var AllEditions = []string{"core", "marketing", "accounting"}

const ceBase = "base,web,mail,contacts,calendar,board"

var editionDefs = map[string]template.Edition{
	"core": {Key: "core", Port: 8069, Host: "erp",
		InitModules:     ceBase + ",crm,sale_management,account,purchase,stock,mrp,project,hr,hr_expense,hr_timesheet,website,point_of_sale",
		ExtendedModules: "ipai_dev_studio_base,ipai_workspace_core,ipai_ce_branding"},
	"marketing": {Key: "marketing", Port: 8070, Host: "marketing",
		InitModules:     ceBase + ",crm,sale_management,project,website,mass_mailing,survey,event",
		ExtendedModules: "ipai_dev_studio_base,ipai_workspace_core,ipai_ce_branding,ipai_industry_marketing_agency"},
	"accounting": {Key: "accounting", Port: 8071, Host: "accounting",
		InitModules:     ceBase + ",account,sale_management,purchase,project,hr_expense,hr_timesheet",
		ExtendedModules: "ipai_dev_studio_base,ipai_workspace_core,ipai_ce_branding,ipai_industry_accounting_firm"},
}

// ServiceDatabases are the databases of the shared PostgreSQL besides the Odoo editions.
var ServiceDatabases = []string{"mattermost", "focalboard", "n8n", "superset", "keycloak", "ipai"}

// Edition returns the full description of an edition for domain.
func Edition(key, domain string) (template.Edition, error) {
	e, ok := editionDefs[key]
	if !ok {
		return e, fmt.Errorf("unknown edition %q: choose from %s", key, strings.Join(AllEditions, ", "))
	}
	e.Service = "odoo-" + key
	e.DB = "odoo_" + key
	e.Volume = "odoo_" + key + "_data"
	e.PasswordVar = passwordVar(e.DB)
	e.APIKeyVar = strings.ToUpper(e.DB) + "_API_KEY"
	e.Host = e.Host + "." + domain
	return e, nil
}

// ParseEditions parses a comma-separated edition list ("" means core only).
func ParseEditions(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return []string{"core"}, nil
	}
	seen := map[string]bool{}
	var out []string
	for _, k := range strings.Split(s, ",") {
		k = strings.ToLower(strings.TrimSpace(k))
		if k == "" || seen[k] {
			continue
		}
		if _, ok := editionDefs[k]; !ok {
			return nil, fmt.Errorf("unknown edition %q in --editions: choose from %s", k, strings.Join(AllEditions, ", "))
		}
		seen[k] = true
		out = append(out, k)
	}
	return out, nil
}

func passwordVar(db string) string { return strings.ToUpper(db) + "_DB_PASSWORD" }

var domainRe = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)

// ValidateDomain checks that d is a DNS name services can live under.
func ValidateDomain(d string) error {
	if d == "" {
		return fmt.Errorf("--domain is required: the DNS domain the services live under, e.g. --domain example.com")
	}
	if !domainRe.MatchString(d) {
		return fmt.Errorf("--domain %q is not a DNS name like example.com (lowercase letters, digits, dots, hyphens)", d)
	}
	return nil
}

// Deployment describes what init generates for a domain and editions.
type Deployment struct {
	Domain   string
	TZ       string
	Email    string
	Editions []string
}

// Data builds the template data of d.
func (d Deployment) Data() (template.Data, error) {
	data := template.Data{Domain: d.Domain, TZ: d.TZ, Email: d.Email, Images: DefaultImages, FocalboardBuild: FocalboardBuild}
	for _, db := range ServiceDatabases {
		data.Databases = append(data.Databases, template.Database{Name: db, PasswordVar: passwordVar(db)})
	}
	for _, k := range d.Editions {
		e, err := Edition(k, d.Domain)
		if err != nil {
			return data, err
		}
		data.Editions = append(data.Editions, e)
		data.Databases = append(data.Databases, template.Database{Name: e.DB, PasswordVar: e.PasswordVar})
	}
	data.Sites = Sites(d.Domain, data.Editions)
	for _, e := range data.Editions {
		data.FrameAncestors = append(data.FrameAncestors, e.Host)
	}
	data.FrameAncestors = append(data.FrameAncestors, "ipai."+d.Domain)
	return data, nil
}

// Sites are the public names Caddy serves, one per web service.
func Sites(domain string, editions []template.Edition) []template.Site {
	s := []template.Site{
		{Name: "mattermost", Host: "chat." + domain, Upstream: "mattermost:8065", HealthURI: "/api/v4/system/ping"},
		{Name: "focalboard", Host: "boards." + domain, Upstream: "focalboard:8000", HealthURI: "/ping"},
		{Name: "n8n", Host: "n8n." + domain, Upstream: "n8n:5678", HealthURI: "/healthz"},
		{Name: "superset", Host: "superset." + domain, Upstream: "superset:8088", HealthURI: "/health"},
		{Name: "keycloak", Host: "auth." + domain, Upstream: "keycloak:8080", HealthURI: "/health/ready", HealthPort: 9000},
	}
	for _, e := range editions {
		s = append(s, template.Site{Name: e.Service, Host: e.Host, Upstream: e.Service + ":8069", HealthURI: "/web/health"})
	}
	return append(s, template.Site{Name: "hub", Host: "ipai." + domain, Upstream: "hub:8080", HealthURI: "/readyz"})
}

// Abs returns the absolute path of rel inside the deployment directory dir.
func Abs(dir, rel string) string { return filepath.Join(dir, filepath.FromSlash(rel)) }
