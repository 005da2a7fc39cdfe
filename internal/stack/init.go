package stack

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/dotenv"

	"github.com/insightpulseai/ipai/internal/stack/template"
)

// InitOptions are the inputs of Init.
type InitOptions struct {
	Dir      string
	Domain   string   // required unless a previous init recorded one
	Editions []string // nil: those recorded by a previous init, else core
	TZ       string   // default Asia/Manila
	Email    string   // ACME e-mail; default admin@<domain>
	Force    bool     // regenerate files that are unchanged since they were generated
	// HubImage runs a published image of the hub (e.g. registry/ipai:1.2.0);
	// otherwise compose builds it from HubSource, a checkout of ipai with its
	// Dockerfile (default: the one a previous init recorded, else the checkout
	// around the working directory).
	HubImage  string
	HubSource string
}

// Action says what Init did with one file.
type Action string

const (
	Written       Action = "written"     // did not exist
	Unchanged     Action = "unchanged"   // already has the generated content
	Regenerated   Action = "regenerated" // unchanged since generated, rewritten (--force)
	SkippedStale  Action = "skipped"     // unchanged since generated but differs now; needs --force
	SkippedEdited Action = "kept"        // edited by the user: never overwritten
	EnvUpdated    Action = "updated"     // .env: missing keys appended, existing values kept
)

// FileResult reports the outcome for one file.
type FileResult struct {
	Path   string
	Action Action
	Detail string
}

// state is what init remembers between runs (in .ipai-stack.json).
type state struct {
	Version   int               `json:"version"`
	Domain    string            `json:"domain"`
	TZ        string            `json:"tz"`
	Email     string            `json:"email"`
	Editions  []string          `json:"editions"`
	HubImage  string            `json:"hub_image,omitempty"`
	HubSource string            `json:"hub_source,omitempty"`
	Files     map[string]string `json:"files"` // path → sha256 of the content as generated
	Updated   time.Time         `json:"updated"`
}

func readState(dir string) (*state, error) {
	b, err := os.ReadFile(Abs(dir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return &state{Version: 1, Files: map[string]string{}}, nil
	}
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("read %s: %w (delete it to start over; your files are kept)", StateFile, err)
	}
	if s.Files == nil {
		s.Files = map[string]string{}
	}
	return &s, nil
}

// Init writes (or updates) a deployment in opts.Dir. Files the user edited
// and existing secrets are never overwritten.
func Init(opts InitOptions) ([]FileResult, error) {
	if opts.Dir == "" {
		return nil, errors.New("--dir is required: the directory of the deployment")
	}
	st, err := readState(opts.Dir)
	if err != nil {
		return nil, err
	}
	d := Deployment{Domain: opts.Domain, TZ: opts.TZ, Email: opts.Email, Editions: opts.Editions}
	if d.Domain == "" {
		d.Domain = st.Domain
	}
	if err := ValidateDomain(d.Domain); err != nil {
		return nil, err
	}
	if d.TZ == "" {
		d.TZ = cmp.Or(st.TZ, "Asia/Manila")
	}
	if _, err := time.LoadLocation(d.TZ); err != nil {
		return nil, fmt.Errorf("--tz %q is not a time zone name like Asia/Manila: %w", d.TZ, err)
	}
	if d.Email == "" {
		d.Email = cmp.Or(st.Email, "admin@"+d.Domain)
	}
	if len(d.Editions) == 0 {
		d.Editions = st.Editions
	}
	if len(d.Editions) == 0 {
		d.Editions = []string{"core"}
	}
	data, err := d.Data()
	if err != nil {
		return nil, err
	}
	if err := hub(&opts, st, &data); err != nil {
		return nil, err
	}
	files, err := template.Render(data)
	if err != nil {
		return nil, err
	}
	files = append(files, template.File{Path: EnvExample, Mode: 0o644, Content: envExample(data)},
		template.File{Path: "n8n/workflows/.gitkeep", Mode: 0o644},
		template.File{Path: "addons/ipai/.gitkeep", Mode: 0o644},
		template.File{Path: "addons/oca/.gitkeep", Mode: 0o644})

	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", opts.Dir, err)
	}
	var results []FileResult
	envRes, err := writeEnv(opts.Dir, data)
	if err != nil {
		return nil, err
	}
	results = append(results, envRes)
	for _, f := range files {
		r, err := writeGenerated(opts.Dir, f, st, opts.Force)
		if err != nil {
			return results, err
		}
		results = append(results, r)
	}
	st.Version, st.Domain, st.TZ, st.Email, st.Editions, st.Updated = 1, d.Domain, d.TZ, d.Email, d.Editions, time.Now().UTC()
	st.HubImage, st.HubSource = opts.HubImage, opts.HubSource
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := writeAtomic(Abs(opts.Dir, StateFile), append(b, '\n'), 0o644); err != nil {
		return results, err
	}
	return results, nil
}

// hub decides where the hub's image comes from: a published image, or a
// build from a checkout of ipai.
func hub(opts *InitOptions, st *state, data *template.Data) error {
	if opts.HubImage != "" && opts.HubSource != "" {
		return errors.New("--hub-image and --hub-source exclude each other: run a published image, or build one from a checkout")
	}
	if opts.HubImage == "" && opts.HubSource == "" {
		opts.HubImage, opts.HubSource = st.HubImage, st.HubSource
	}
	if opts.HubImage != "" {
		if strings.ContainsAny(opts.HubImage, " \t\n") || !strings.Contains(opts.HubImage, ":") && !strings.Contains(opts.HubImage, "@") {
			return fmt.Errorf("--hub-image %q: give a pinned reference, e.g. registry.example.com/ipai:1.2.0 or …@sha256:…", opts.HubImage)
		}
		data.Images.Hub = opts.HubImage
		return nil
	}
	if opts.HubSource == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		if opts.HubSource = FindHubSource(wd); opts.HubSource == "" {
			return errors.New("no image for the hub: pass --hub-image REF (a published ipai image) or --hub-source DIR " +
				"(a checkout of ipai, whose Dockerfile compose builds), or run init from inside a checkout")
		}
	}
	src, err := filepath.Abs(opts.HubSource)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(src, "Dockerfile")); err != nil {
		return fmt.Errorf("--hub-source %s has no Dockerfile: give the root of an ipai checkout", src)
	}
	opts.HubSource = src
	ctx := src
	if proj, err := filepath.Abs(Abs(opts.Dir, ProjectDir)); err == nil {
		if rel, err := filepath.Rel(proj, src); err == nil {
			ctx = rel
		}
	}
	data.HubBuild = filepath.ToSlash(ctx)
	return nil
}

// FindHubSource returns the root of the ipai checkout holding dir (a folder
// with go.mod of module github.com/insightpulseai/ipai and a Dockerfile), or "".
func FindHubSource(dir string) string {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for {
		mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(mod, []byte("module github.com/insightpulseai/ipai\n")) {
			if _, err := os.Stat(filepath.Join(dir, "Dockerfile")); err == nil {
				return dir
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func writeGenerated(dir string, f template.File, st *state, force bool) (FileResult, error) {
	path := Abs(dir, f.Path)
	newSum := sum(f.Content)
	res := FileResult{Path: f.Path}
	cur, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		res.Action = Written
	case err != nil:
		return res, fmt.Errorf("read %s: %w", path, err)
	case bytes.Equal(cur, f.Content):
		st.Files[f.Path] = newSum
		res.Action = Unchanged
		return res, nil
	case st.Files[f.Path] == sum(cur):
		if !force {
			res.Action, res.Detail = SkippedStale, "differs from what init would write now; unchanged since generated, so --force regenerates it"
			return res, nil
		}
		res.Action = Regenerated
	default:
		res.Action, res.Detail = SkippedEdited, "edited since generated (or not written by init): left as is, even with --force"
		return res, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return res, err
	}
	if err := writeAtomic(path, f.Content, f.Mode); err != nil {
		return res, err
	}
	st.Files[f.Path] = newSum
	return res, nil
}

// envEntries returns the .env variables of a deployment in order,
// each with a generator; the rest of the .env is plain settings.
func envEntries(data template.Data) []envEntry {
	e := []envEntry{
		{Key: "DOMAIN", Value: data.Domain},
		{Key: "TZ", Value: data.TZ},
		{Key: "POSTGRES_PASSWORD", Secret: hexSecret},
	}
	for _, db := range data.Databases {
		e = append(e, envEntry{Key: db.PasswordVar, Secret: hexSecret})
	}
	e = append(e,
		envEntry{Key: "N8N_ENCRYPTION_KEY", Secret: b64Secret},
		envEntry{Key: "SUPERSET_SECRET_KEY", Secret: b64Secret},
		envEntry{Key: "SUPERSET_GUEST_TOKEN_SECRET", Secret: b64Secret},
		envEntry{Key: "SUPERSET_ADMIN_USER", Value: "admin"},
		envEntry{Key: "SUPERSET_ADMIN_EMAIL", Value: "admin@" + data.Domain},
		envEntry{Key: "SUPERSET_ADMIN_PASSWORD", Secret: hexSecret},
		envEntry{Key: "KEYCLOAK_ADMIN", Value: "admin"},
		envEntry{Key: "KEYCLOAK_ADMIN_PASSWORD", Secret: hexSecret},
		envEntry{Key: "IPAI_OIDC_CLIENT_SECRET", Secret: hexSecret},
		envEntry{Key: "IPAI_MASTER_KEY", Secret: b64Secret},
		// The hub's connectors (hub/ipai.yaml).
		envEntry{Key: "KEYCLOAK_CONNECTOR_SECRET", Secret: hexSecret},
		envEntry{Key: "FOCALBOARD_USER", Value: "ipai"},
		envEntry{Key: "FOCALBOARD_PASSWORD", Secret: hexSecret},
		envEntry{Key: "MATTERMOST_ADMIN_USER", Value: "ipai-admin"},
		envEntry{Key: "MATTERMOST_ADMIN_PASSWORD", Secret: hexSecret},
		envEntry{Key: "N8N_OWNER_EMAIL", Value: "admin@" + data.Domain},
		envEntry{Key: "N8N_OWNER_PASSWORD", Secret: n8nPassword},
	)
	// Created by the services on first start: `ipai stack connect` fills them.
	e = append(e, envEntry{Key: "MATTERMOST_BOT_TOKEN", Later: true}, envEntry{Key: "N8N_API_KEY", Later: true})
	for _, ed := range data.Editions {
		e = append(e, envEntry{Key: ed.APIKeyVar, Later: true})
	}
	return e
}

// n8nPassword meets n8n's password rule (8–64 characters, a digit and an
// upper-case letter).
func n8nPassword() (string, error) {
	s, err := hexSecret()
	return "N8n-" + s, err
}

type envEntry struct {
	Key    string
	Value  string
	Secret func() (string, error)
	// Later: a secret a service creates once it runs; empty until `ipai
	// stack connect` fills it.
	Later bool
}

// hexSecret is a password safe in URLs, DSNs and shell: 24 random bytes as hex.
func hexSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// b64Secret is a 256-bit key, standard base64.
func b64Secret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// writeEnv creates docker/.env (0600) with generated secrets, or appends the
// keys an existing one lacks. Existing values are never changed.
func writeEnv(dir string, data template.Data) (FileResult, error) {
	path := Abs(dir, EnvFile)
	res := FileResult{Path: EnvFile}
	existing := map[string]string{}
	cur, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		cur = []byte("# Generated by `ipai stack init`. Secrets: keep this file private (mode 0600), never commit it.\n")
		res.Action = Written
	case err != nil:
		return res, fmt.Errorf("read %s: %w", path, err)
	default:
		existing, err = dotenv.ParseWithLookup(bytes.NewReader(cur), func(string) (string, bool) { return "", false })
		if err != nil {
			return res, fmt.Errorf("parse %s: %w: fix the line or move the file away to regenerate it", path, err)
		}
		res.Action = Unchanged
	}
	var added []string
	var buf bytes.Buffer
	buf.Write(cur)
	if len(cur) > 0 && cur[len(cur)-1] != '\n' {
		buf.WriteByte('\n')
	}
	for _, e := range envEntries(data) {
		if _, ok := existing[e.Key]; ok {
			continue
		}
		v := e.Value
		if e.Secret != nil {
			if v, err = e.Secret(); err != nil {
				return res, fmt.Errorf("generate %s: %w", e.Key, err)
			}
		}
		fmt.Fprintf(&buf, "%s=%s\n", e.Key, v)
		added = append(added, e.Key)
	}
	if res.Action == Unchanged && len(added) > 0 {
		res.Action, res.Detail = EnvUpdated, "added "+strings.Join(added, ", ")+"; existing values kept"
		for _, k := range added {
			if strings.HasSuffix(k, "_DB_PASSWORD") {
				res.Detail += "; a running stack needs the new databases: `ipai stack up`, then " +
					"`docker compose exec postgres bash /docker-entrypoint-initdb.d/10-databases.sh` (safe to re-run)"
				break
			}
		}
	}
	if res.Action == Unchanged {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(path, 0o600); err != nil {
				return res, err
			}
			res.Detail = "mode tightened to 0600"
		}
		return res, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return res, err
	}
	return res, writeAtomic(path, buf.Bytes(), 0o600)
}

func envExample(data template.Data) []byte {
	var b strings.Builder
	b.WriteString("# Variables of docker/.env. `ipai stack init` generates the real file with random secrets.\n")
	for _, e := range envEntries(data) {
		v := e.Value
		if e.Secret != nil {
			v = ""
		}
		fmt.Fprintf(&b, "%s=%s\n", e.Key, v)
	}
	return []byte(b.String())
}

// ReadEnv reads a deployment's docker/.env.
func ReadEnv(dir string) (map[string]string, error) {
	f, err := os.Open(Abs(dir, EnvFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s not found: run `ipai stack init --dir %s --domain …` first", Abs(dir, EnvFile), dir)
		}
		return nil, err
	}
	defer f.Close()
	env, err := dotenv.ParseWithLookup(f, func(string) (string, bool) { return "", false })
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", Abs(dir, EnvFile), err)
	}
	return env, nil
}

// writeAtomic writes b to path through a temporary file and a rename.
func writeAtomic(path string, b []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// SortResults orders results by path (for stable output).
func SortResults(r []FileResult) { sort.Slice(r, func(i, j int) bool { return r[i].Path < r[j].Path }) }
