package backup

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Target is a PostgreSQL server backups come from and restores go to: either
// reached directly (Direct, --pg-url) or through `docker compose exec` into
// the stack's postgres container (Compose).
type Target interface {
	Mode() string
	// ServerVersion is the server's version string.
	ServerVersion(ctx context.Context) (string, error)
	// ToolVersion is the version of pg_dump that will run.
	ToolVersion(ctx context.Context) (string, error)
	// Databases lists the non-template databases that hold data.
	Databases(ctx context.Context) ([]string, error)
	// Begin opens a read-only snapshot of db: the row counts of its tables and
	// a snapshot id pg_dump can share ("" when the target cannot share one).
	// release ends the snapshot.
	Begin(ctx context.Context, db string) (snap Snapshot, release func(), err error)
	// Dump returns the command writing a custom-format dump of db to stdout,
	// compressed at level compress (0-9; -1 for pg_dump's default).
	Dump(ctx context.Context, db, snapshot string, compress int) *exec.Cmd
	// Restore returns the command restoring a dump (read from stdin) into db.
	Restore(ctx context.Context, db string, noOwner bool) *exec.Cmd
	// Roles returns the command writing the cluster's roles as SQL to stdout.
	Roles(ctx context.Context) *exec.Cmd
	// Exec runs statements on the maintenance database.
	Exec(ctx context.Context, sql string) error
	// Counts returns the row counts of db's tables.
	Counts(ctx context.Context, db string) (map[string]int64, error)
	// Exists reports whether database (or role, when role is true) name exists.
	Exists(ctx context.Context, name string, role bool) (bool, error)
}

// Snapshot is what Begin returns.
type Snapshot struct {
	ID    string
	Owner string
	// Encoding, Collate and Ctype of the database, recreated on restore.
	Encoding, Collate, Ctype string
	Tables                   map[string]int64
	Exact                    bool
}

// tablesSQL lists every user table (extension tables excluded); countSQL
// then counts their own rows only, as pg_dump dumps them.
const tablesSQL = `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND c.relpersistence <> 't'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1`

const dbInfoCols = "pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate, datctype"

func countSQL(tables []string) string {
	parts := make([]string, len(tables))
	for i, t := range tables {
		parts[i] = fmt.Sprintf("SELECT %s::text, count(*) FROM ONLY %s", quoteLiteral(t), t)
	}
	return strings.Join(parts, " UNION ALL ")
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Direct reaches PostgreSQL at a URL and runs pg_dump / pg_restore locally.
type Direct struct {
	URL    string // any database on the server; a superuser (or owner of every database) is needed
	BinDir string // where pg_dump, pg_restore, pg_dumpall are; "" searches PATH
}

var _ Target = (*Direct)(nil)

// NewDirect checks the URL and finds the client binaries.
func NewDirect(pgURL, binDir string) (*Direct, error) {
	u, err := url.Parse(pgURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("--pg-url %q is not a postgres:// URL like postgres://postgres:PASSWORD@127.0.0.1:5432/postgres", redact(pgURL))
	}
	d := &Direct{URL: pgURL, BinDir: binDir}
	for _, b := range []string{"pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(d.bin(b)); err != nil {
			return nil, fmt.Errorf("%s not found: install the PostgreSQL client of the server's major version (Debian: apt-get install -y postgresql-client) or pass its directory", b)
		}
	}
	return d, nil
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func (d *Direct) bin(name string) string {
	if d.BinDir != "" {
		return filepath.Join(d.BinDir, name)
	}
	return name
}

// dbURL is the URL of database db on the same server.
func (d *Direct) dbURL(db string) string {
	u, _ := url.Parse(d.URL)
	u.Path = "/" + db
	u.RawPath = ""
	return u.String()
}

// MaintenanceDB is the database of the URL, used for CREATE/ALTER/DROP DATABASE.
func (d *Direct) MaintenanceDB() string {
	u, _ := url.Parse(d.URL)
	if p := strings.TrimPrefix(u.Path, "/"); p != "" {
		return p
	}
	return "postgres"
}

func (d *Direct) Mode() string { return "direct" }

func (d *Direct) connect(ctx context.Context, db string) (*pgx.Conn, error) {
	url := d.URL
	if db != "" {
		url = d.dbURL(db)
	}
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redact(url), err)
	}
	return c, nil
}

func (d *Direct) ServerVersion(ctx context.Context) (string, error) {
	c, err := d.connect(ctx, "")
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	var v string
	err = c.QueryRow(ctx, "SHOW server_version").Scan(&v)
	return v, err
}

func (d *Direct) ToolVersion(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, d.bin("pg_dump"), "--version").Output()
	return strings.TrimSpace(string(out)), err
}

func (d *Direct) Databases(ctx context.Context) ([]string, error) {
	c, err := d.connect(ctx, "")
	if err != nil {
		return nil, err
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT datname FROM pg_database WHERE NOT datistemplate AND datallowconn AND datname <> 'postgres' ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := names[:0]
	for _, n := range names {
		if !isScratch(n) {
			out = append(out, n)
		}
	}
	return out, nil
}

func (d *Direct) Begin(ctx context.Context, db string) (Snapshot, func(), error) {
	c, err := d.connect(ctx, db)
	if err != nil {
		return Snapshot{}, nil, err
	}
	release := func() { _ = c.Close(context.Background()) }
	tx, err := c.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		release()
		return Snapshot{}, nil, err
	}
	s := Snapshot{Exact: true}
	if err := tx.QueryRow(ctx, "SELECT pg_export_snapshot(), "+dbInfoCols+" FROM pg_database WHERE datname = current_database()").Scan(&s.ID, &s.Owner, &s.Encoding, &s.Collate, &s.Ctype); err != nil {
		release()
		return s, nil, fmt.Errorf("export snapshot of %s: %w", db, err)
	}
	if s.Tables, err = counts(ctx, tx); err != nil {
		release()
		return s, nil, fmt.Errorf("count rows of %s: %w", db, err)
	}
	return s, release, nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func counts(ctx context.Context, q querier) (map[string]int64, error) {
	rows, err := q.Query(ctx, tablesSQL)
	if err != nil {
		return nil, err
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(tables))
	if len(tables) == 0 {
		return out, nil
	}
	rows, err = q.Query(ctx, countSQL(tables))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var t string
		var n int64
		if err := rows.Scan(&t, &n); err != nil {
			return nil, err
		}
		out[t] = n
	}
	return out, rows.Err()
}

func (d *Direct) Counts(ctx context.Context, db string) (map[string]int64, error) {
	c, err := d.connect(ctx, db)
	if err != nil {
		return nil, err
	}
	defer c.Close(ctx)
	return counts(ctx, c)
}

func (d *Direct) Dump(ctx context.Context, db, snapshot string, compress int) *exec.Cmd {
	args := []string{"-Fc", "--dbname=" + d.dbURL(db)}
	if compress >= 0 {
		args = append(args, "--compress="+strconv.Itoa(compress))
	}
	if snapshot != "" {
		args = append(args, "--snapshot="+snapshot)
	}
	return exec.CommandContext(ctx, d.bin("pg_dump"), args...)
}

func (d *Direct) Restore(ctx context.Context, db string, noOwner bool) *exec.Cmd {
	args := []string{"--exit-on-error", "--dbname=" + d.dbURL(db)}
	if noOwner {
		args = append(args, "--no-owner", "--no-acl")
	}
	return exec.CommandContext(ctx, d.bin("pg_restore"), args...)
}

func (d *Direct) Roles(ctx context.Context) *exec.Cmd {
	return exec.CommandContext(ctx, d.bin("pg_dumpall"), "--roles-only", "--dbname="+d.URL)
}

func (d *Direct) Exec(ctx context.Context, sql string) error {
	c, err := d.connect(ctx, "")
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, sql)
	return err
}

func (d *Direct) Exists(ctx context.Context, name string, role bool) (bool, error) {
	c, err := d.connect(ctx, "")
	if err != nil {
		return false, err
	}
	defer c.Close(ctx)
	q := "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)"
	if role {
		q = "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)"
	}
	var ok bool
	err = c.QueryRow(ctx, q, name).Scan(&ok)
	return ok, err
}

// Compose reaches the stack's postgres service with `docker compose exec`.
// Row counts are taken in their own session (pg_dump cannot share it), so
// they are exact only when nothing writes during the backup.
type Compose struct {
	Docker     string // docker binary; "" means "docker"
	ProjectDir string // the deployment's docker/ directory
	EnvFile    string
	Service    string // default postgres
	User       string // default postgres
	extra      []string
}

var _ Target = (*Compose)(nil)

func (c *Compose) Mode() string { return "compose" }

// Command builds `docker compose --project-directory … --env-file … exec -T postgres ARGS…`.
func (c *Compose) Command(ctx context.Context, args ...string) *exec.Cmd {
	docker := c.Docker
	if docker == "" {
		docker = "docker"
	}
	full := append([]string{"compose", "--project-directory", c.ProjectDir, "--env-file", c.EnvFile}, c.extra...)
	full = append(full, "exec", "-T")
	service := c.Service
	if service == "" {
		service = "postgres"
	}
	return exec.CommandContext(ctx, docker, append(append(full, service), args...)...)
}

func (c *Compose) user() string {
	if c.User == "" {
		return "postgres"
	}
	return c.User
}

func (c *Compose) psql(ctx context.Context, db, sql string) (string, error) {
	cmd := c.Command(ctx, "psql", "-U", c.user(), "-d", db, "-v", "ON_ERROR_STOP=1", "-X", "-A", "-t", "-F", "\t", "-c", sql)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("psql in the %s container: %w: %s", c.Service, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimRight(string(out), "\n"), nil
}

func (c *Compose) ServerVersion(ctx context.Context) (string, error) {
	return c.psql(ctx, "postgres", "SHOW server_version")
}

func (c *Compose) ToolVersion(ctx context.Context) (string, error) {
	out, err := c.Command(ctx, "pg_dump", "--version").Output()
	return strings.TrimSpace(string(out)), err
}

func (c *Compose) Databases(ctx context.Context) ([]string, error) {
	out, err := c.psql(ctx, "postgres", `SELECT datname FROM pg_database WHERE NOT datistemplate AND datallowconn AND datname <> 'postgres' ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	var dbs []string
	for _, l := range strings.Split(out, "\n") {
		if l != "" && !isScratch(l) {
			dbs = append(dbs, l)
		}
	}
	return dbs, nil
}

func (c *Compose) Begin(ctx context.Context, db string) (Snapshot, func(), error) {
	info, err := c.psql(ctx, db, "SELECT "+dbInfoCols+" FROM pg_database WHERE datname = current_database()")
	if err != nil {
		return Snapshot{}, nil, err
	}
	var s Snapshot
	if f := strings.Split(info, "\t"); len(f) == 4 {
		s.Owner, s.Encoding, s.Collate, s.Ctype = f[0], f[1], f[2], f[3]
	}
	s.Tables, err = c.Counts(ctx, db)
	return s, func() {}, err
}

func (c *Compose) Counts(ctx context.Context, db string) (map[string]int64, error) {
	out, err := c.psql(ctx, db, tablesSQL)
	if err != nil {
		return nil, err
	}
	res := map[string]int64{}
	var tables []string
	for _, l := range strings.Split(out, "\n") {
		if l != "" {
			tables = append(tables, l)
		}
	}
	if len(tables) == 0 {
		return res, nil
	}
	if out, err = c.psql(ctx, db, countSQL(tables)); err != nil {
		return nil, err
	}
	for _, l := range strings.Split(out, "\n") {
		name, n, ok := strings.Cut(l, "\t")
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("row count of %s: %q", name, n)
		}
		res[name] = v
	}
	return res, nil
}

func (c *Compose) Dump(ctx context.Context, db, snapshot string, compress int) *exec.Cmd {
	args := []string{"pg_dump", "-U", c.user(), "-Fc", "-d", db}
	if compress >= 0 {
		args = append(args, "--compress="+strconv.Itoa(compress))
	}
	return c.Command(ctx, args...)
}

func (c *Compose) Restore(ctx context.Context, db string, noOwner bool) *exec.Cmd {
	args := []string{"pg_restore", "-U", c.user(), "--exit-on-error", "-d", db}
	if noOwner {
		args = append(args, "--no-owner", "--no-acl")
	}
	return c.Command(ctx, args...)
}

func (c *Compose) Roles(ctx context.Context) *exec.Cmd {
	return c.Command(ctx, "pg_dumpall", "-U", c.user(), "--roles-only")
}

func (c *Compose) Exec(ctx context.Context, sql string) error {
	_, err := c.psql(ctx, "postgres", sql)
	return err
}

func (c *Compose) Exists(ctx context.Context, name string, role bool) (bool, error) {
	q := "SELECT count(*) FROM pg_database WHERE datname = " + quoteLiteral(name)
	if role {
		q = "SELECT count(*) FROM pg_roles WHERE rolname = " + quoteLiteral(name)
	}
	out, err := c.psql(ctx, "postgres", q)
	return out == "1", err
}
