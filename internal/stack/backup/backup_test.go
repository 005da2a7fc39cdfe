package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/insightpulseai/ipai/internal/testpg"
)

func TestMain(m *testing.M) { testpg.MainNoLeaks(m) }

func target(t testing.TB) *Direct {
	t.Helper()
	c := testpg.Get(t)
	if _, err := exec.LookPath(filepath.Join(c.BinDir, "pg_dump")); err != nil {
		t.Fatalf("pg_dump not found in %s: install the PostgreSQL client (apt-get install -y postgresql-client)", c.BinDir)
	}
	d, err := NewDirect(c.AdminURL, c.BinDir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func dbName(t *testing.T, url string) string {
	t.Helper()
	i := strings.LastIndex(url, "/")
	name := url[i+1:]
	if j := strings.Index(name, "?"); j >= 0 {
		name = name[:j]
	}
	t.Cleanup(func() {
		// restore keeps the replaced database as NAME_before_<ts>.
		c := testpg.Get(t)
		conn, err := pgx.Connect(context.Background(), c.AdminURL)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		rows, _ := conn.Query(context.Background(), "SELECT datname FROM pg_database WHERE datname LIKE $1", name+"\\_%")
		names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, n := range names {
			_, _ = conn.Exec(context.Background(), "DROP DATABASE "+quoteIdent(n)+" WITH (FORCE)")
		}
	})
	return name
}

func exec1(t *testing.T, url, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// fingerprint is the md5 of every row of every table, in order.
func fingerprint(t *testing.T, url string) string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tables, err := counts(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(tables)) {
		var h string
		if err := conn.QueryRow(context.Background(), fmt.Sprintf("SELECT coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM %s x", name)).Scan(&h); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, name+"="+h)
	}
	return strings.Join(parts, ";")
}

// seed creates n databases with a few tables and rows.
func seed(t *testing.T, n int) (urls, names []string) {
	t.Helper()
	for i := range n {
		u := testpg.URL(t)
		exec1(t, u, fmt.Sprintf(`
CREATE SCHEMA app;
CREATE TABLE app.partner (id serial PRIMARY KEY, name text NOT NULL, meta jsonb);
CREATE TABLE public."Order Lines" (id bigint PRIMARY KEY, partner int REFERENCES app.partner, amount numeric(12,2));
CREATE TABLE public.empty (x int);
INSERT INTO app.partner (name, meta) SELECT 'p' || g, jsonb_build_object('g', g) FROM generate_series(1, %d) g;
INSERT INTO public."Order Lines" SELECT g, 1 + g %% %d, g * 1.5 FROM generate_series(1, %d) g;
CREATE VIEW app.big_orders AS SELECT * FROM public."Order Lines" WHERE amount > 100;`, 50+i*10, 50+i*10, 1000*(i+1)))
		urls = append(urls, u)
		names = append(names, dbName(t, u))
	}
	return urls, names
}

func listBackups(t *testing.T, dir string) []string {
	t.Helper()
	l, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestBackupDropRestoreGivesSameContents(t *testing.T) {
	ctx := context.Background()
	d := target(t)
	urls, names := seed(t, 3)
	files := t.TempDir()
	os.MkdirAll(filepath.Join(files, "filestore", "odoo_core", "ab"), 0o755)
	os.WriteFile(filepath.Join(files, "filestore", "odoo_core", "ab", "abcdef"), []byte("attachment bytes"), 0o640)
	os.Symlink("ab/abcdef", filepath.Join(files, "filestore", "odoo_core", "link"))

	before := make([]string, len(urls))
	for i, u := range urls {
		before[i] = fingerprint(t, u)
	}
	out := t.TempDir()
	var progress bytes.Buffer
	res, err := Backup(ctx, Options{Target: d, Databases: names, OutDir: out, Jobs: 2, ToolVersion: "test",
		Sources: []Source{{Name: "odoo-data", Dir: files}}, Progress: &progress, Roles: true})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if got := listBackups(t, out); len(got) != 1 || got[0] != res.Path {
		t.Fatalf("backups in %s = %v, want just %s", out, got, res.Path)
	}
	for _, n := range names {
		if !strings.Contains(progress.String(), n) {
			t.Errorf("no progress line for %s:\n%s", n, progress.String())
		}
	}
	m := res.Manifest
	if m.ServerVersion == "" || !strings.Contains(m.PgDumpVersion, "pg_dump") || m.ToolVersion != "test" || len(m.Databases) != 3 {
		t.Errorf("manifest incomplete: %+v", m)
	}
	de, _ := m.Database(names[1])
	if de.Tables["public.\"Order Lines\""] != 2000 || de.Tables["app.partner"] != 60 || de.Tables["public.empty"] != 0 || !de.ExactCounts {
		t.Errorf("row counts of %s = %v", names[1], de.Tables)
	}

	// Drop one database, change another after the backup, leave the third.
	if err := testpg.Get(t).Exec("DROP DATABASE " + names[0] + " WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}
	exec1(t, urls[1], `DELETE FROM public."Order Lines" WHERE id > 10; INSERT INTO app.partner (name) VALUES ('after backup')`)
	changed := fingerprint(t, urls[1])

	restoredFiles := t.TempDir()
	rep, err := Restore(ctx, RestoreOptions{Target: d, Archive: res.Path, Databases: names, FilesTo: restoredFiles})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	for i, u := range urls {
		if got := fingerprint(t, u); got != before[i] {
			t.Errorf("%s after restore differs from before the backup", names[i])
		}
	}
	var old string
	for _, r := range rep.Databases {
		if r.Name == names[1] {
			old = r.OldKeptAs
		}
		if r.Name == names[0] && r.OldKeptAs != "" {
			t.Errorf("dropped database reported an old copy %s", r.OldKeptAs)
		}
	}
	if !strings.HasPrefix(old, names[1]+"_before_") {
		t.Fatalf("old copy of %s not reported: %+v", names[1], rep.Databases)
	}
	if got := fingerprint(t, testpg.Get(t).DatabaseURL(old)); got != changed {
		t.Errorf("%s does not hold the contents from before the restore", old)
	}
	b, err := os.ReadFile(filepath.Join(restoredFiles, "odoo-data", "filestore", "odoo_core", "link"))
	if err != nil || string(b) != "attachment bytes" {
		t.Errorf("restored files: %q, %v", b, err)
	}
}

func TestRestoreDropOldRemovesPreviousDatabase(t *testing.T) {
	ctx := context.Background()
	d := target(t)
	urls, names := seed(t, 1)
	res, err := Backup(ctx, Options{Target: d, Databases: names, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Restore(ctx, RestoreOptions{Target: d, Archive: res.Path, DropOld: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Databases[0].OldKeptAs != "" {
		t.Errorf("--drop-old kept %s", rep.Databases[0].OldKeptAs)
	}
	if n := countDBs(t, names[0]+"\\_%"); n != 0 {
		t.Errorf("%d leftover databases beside %s", n, names[0])
	}
	_ = fingerprint(t, urls[0])
}

func countDBs(t *testing.T, like string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), testpg.Get(t).AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname LIKE $1", like).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRestoreRefusesCorruptOrTruncatedArchive(t *testing.T) {
	ctx := context.Background()
	d := target(t)
	urls, names := seed(t, 2)
	res, err := Backup(ctx, Options{Target: d, Databases: names, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	exec1(t, urls[0], `INSERT INTO app.partner (name) VALUES ('written after the backup')`)
	want := []string{fingerprint(t, urls[0]), fingerprint(t, urls[1])}
	raw, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}

	// Offset of the second database dump's data inside the tar.
	var size int64
	for _, f := range res.Manifest.Files {
		if f.Name == res.Manifest.Databases[1].File {
			size = f.Size
		}
	}
	corrupt := bytes.Clone(raw)
	corrupt[memberOffset(t, raw, res.Manifest.Databases[1].File)+int(size/2)] ^= 0x01
	cases := map[string]struct {
		data []byte
		msg  string
	}{
		"one flipped byte":    {corrupt, "sha256"},
		"truncated":           {raw[:len(raw)/2], "truncated"},
		"cut in the manifest": {raw[:1024], "truncated or corrupt"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "backup-20260101-000000.tar")
			if err := os.WriteFile(p, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := VerifyArchive(p); err == nil {
				t.Errorf("VerifyArchive accepted a %s archive", name)
			}
			_, err := Restore(ctx, RestoreOptions{Target: d, Archive: p})
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("restore of a %s archive: %v, want an error about %q", name, err, tc.msg)
			}
			for i, u := range urls {
				if got := fingerprint(t, u); got != want[i] {
					t.Errorf("%s changed by a refused restore", names[i])
				}
			}
			if n := countDBs(t, "%\\_restore\\_%"); n != 0 {
				t.Errorf("refused restore created %d databases", n)
			}
		})
	}
}

func memberOffset(t *testing.T, raw []byte, name string) int {
	t.Helper()
	r := &countingReader{r: bytes.NewReader(raw)}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("member %s not found: %v", name, err)
		}
		if hdr.Name == name {
			return int(r.n) // tar.Reader reads exactly the header blocks: this is where the data starts
		}
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestVerifyOnlyComparesRowCountsAndLeavesNothing(t *testing.T) {
	ctx := context.Background()
	d := target(t)
	urls, names := seed(t, 2)
	out := t.TempDir()
	res, err := Backup(ctx, Options{Target: d, Databases: names, OutDir: out, Verify: true})
	if err != nil {
		t.Fatalf("backup --verify: %v", err)
	}
	rep, err := Restore(ctx, RestoreOptions{Target: d, Archive: res.Path, VerifyOnly: true})
	if err != nil || rep.Err() != nil {
		t.Fatalf("verify-only: %v %v", err, rep.Err())
	}
	if rep.Databases[0].Tables != 3 || rep.Databases[0].Rows == 0 {
		t.Errorf("report = %+v", rep.Databases[0])
	}
	if n := countDBs(t, "%\\_verify\\_%"); n != 0 {
		t.Errorf("verify-only left %d scratch databases", n)
	}

	// An archive whose manifest disagrees with its dump is caught, and a real
	// restore of it changes nothing.
	tampered := rewriteManifest(t, res.Path, func(m *Manifest) { m.Databases[0].Tables["app.partner"]++ })
	rep, err = Restore(ctx, RestoreOptions{Target: d, Archive: tampered, VerifyOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Err() == nil || !strings.Contains(rep.Err().Error(), "app.partner") {
		t.Errorf("verify-only missed a row count mismatch: %v", rep.Err())
	}
	exec1(t, urls[0], `INSERT INTO app.partner (name) VALUES ('new')`)
	want := fingerprint(t, urls[0])
	if _, err := Restore(ctx, RestoreOptions{Target: d, Archive: tampered}); err == nil {
		t.Fatalf("restore with mismatching row counts succeeded")
	}
	if fingerprint(t, urls[0]) != want || countDBs(t, "%\\_restore\\_%")+countDBs(t, names[0]+"\\_before\\_%") != 0 {
		t.Errorf("failed restore changed the server")
	}
}

// rewriteManifest writes a copy of the archive with a modified manifest (checksums stay valid).
func rewriteManifest(t *testing.T, path string, edit func(*Manifest)) string {
	t.Helper()
	dir := t.TempDir()
	a, err := readArchive(path, readOptions{dir: dir, keep: func(string) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	m := a.manifest
	edit(m)
	out := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := writeArchive(context.Background(), out, dir, m, nil); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCancelledBackupLeavesNoArchive(t *testing.T) {
	d := target(t)
	_, names := seed(t, 2)
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	var once sync.Once
	slow := Source{Name: "n8n-data", Cmd: func(ctx context.Context) *exec.Cmd {
		once.Do(func() { close(started) })
		// Writes some bytes, then hangs like a stuck tar until killed.
		return exec.CommandContext(ctx, "sh", "-c", "head -c 100000 /dev/zero; exec sleep 60")
	}}
	go func() {
		<-started
		// Cancel once the source has written its bytes and hangs: the
		// staging directory then holds a partial file to clean up.
		defer cancel()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			fs, _ := filepath.Glob(filepath.Join(out, ".backup-*.partial", "files", "n8n-data.tar"))
			if len(fs) == 1 {
				if fi, err := os.Stat(fs[0]); err == nil && fi.Size() >= 100000 {
					return
				}
			}
		}
		t.Error("the source's output never reached 100000 bytes in the staging directory")
	}()
	startT := time.Now()
	_, err := Backup(ctx, Options{Target: d, Databases: names, OutDir: out, Sources: []Source{slow}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled backup returned %v, want context.Canceled", err)
	}
	if time.Since(startT) > 30*time.Second {
		t.Errorf("cancel did not stop the subprocess")
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		t.Errorf("cancelled backup left %s", e.Name())
	}

	// A subprocess that dies mid-way fails the backup the same way.
	dying := Source{Name: "odoo-data", Cmd: func(ctx context.Context) *exec.Cmd {
		return exec.CommandContext(ctx, "sh", "-c", "head -c 100000 /dev/zero; kill -9 $$")
	}}
	if _, err := Backup(context.Background(), Options{Target: d, Databases: names, OutDir: out, Sources: []Source{dying}}); err == nil {
		t.Fatalf("backup with a killed subprocess succeeded")
	}
	if l := listBackups(t, out); len(l) != 0 {
		t.Errorf("failed backup left %v", l)
	}
	entries, _ = os.ReadDir(out)
	for _, e := range entries {
		t.Errorf("failed backup left %s", e.Name())
	}
}

func TestKeepPrunesOnlyOlderBackups(t *testing.T) {
	ctx := context.Background()
	d := target(t)
	_, names := seed(t, 1)
	out := t.TempDir()
	other := filepath.Join(out, "notes.txt")
	os.WriteFile(other, []byte("mine"), 0o600)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var paths []string
	for i := range 4 {
		now := base.Add(time.Duration(i) * time.Hour)
		res, err := Backup(ctx, Options{Target: d, Databases: names, OutDir: out, Keep: 2, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, res.Path)
	}
	got := listBackups(t, out)
	if len(got) != 2 || got[0] != paths[3] || got[1] != paths[2] {
		t.Errorf("after 4 backups with --keep 2: %v", got)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("prune removed a file that is not a backup")
	}
	// A failing backup prunes nothing.
	now := base.Add(10 * time.Hour)
	if _, err := Backup(ctx, Options{Target: d, Databases: []string{"no_such_db"}, OutDir: out, Keep: 1, Now: func() time.Time { return now }}); err == nil {
		t.Fatal("backup of a missing database succeeded")
	}
	if len(listBackups(t, out)) != 2 {
		t.Errorf("failed backup pruned good ones")
	}
}

func TestManifestRecordsChecksums(t *testing.T) {
	d := target(t)
	_, names := seed(t, 1)
	res, err := Backup(context.Background(), Options{Target: d, Databases: names, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(res.Path)
	defer f.Close()
	tr := tar.NewReader(f)
	hdr, _ := tr.Next()
	var m Manifest
	if err := json.NewDecoder(tr).Decode(&m); err != nil || hdr.Name != ManifestName {
		t.Fatalf("first member %s: %v", hdr.Name, err)
	}
	if len(m.Files) != 1 || len(m.Files[0].SHA256) != 64 || m.Files[0].Size == 0 || m.Files[0].Database != names[0] {
		t.Errorf("manifest files = %+v", m.Files)
	}
}

func TestComposeTargetBuildsDockerCommands(t *testing.T) {
	c := &Compose{Docker: "docker", ProjectDir: "/srv/ipai/docker", EnvFile: "/srv/ipai/docker/.env"}
	prefix := "docker compose --project-directory /srv/ipai/docker --env-file /srv/ipai/docker/.env exec -T postgres "
	for _, tc := range []struct {
		cmd  *exec.Cmd
		want string
	}{
		{c.Dump(context.Background(), "odoo_core", "", -1), prefix + "pg_dump -U postgres -Fc -d odoo_core"},
		{c.Restore(context.Background(), "odoo_core_restore_x", false), prefix + "pg_restore -U postgres --exit-on-error -d odoo_core_restore_x"},
		{c.Roles(context.Background()), prefix + "pg_dumpall -U postgres --roles-only"},
	} {
		if got := strings.Join(tc.cmd.Args, " "); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

func TestRestoreKeepsEncodingAndOwner(t *testing.T) {
	ctx := context.Background()
	d := target(t)
	c := testpg.Get(t)
	name := fmt.Sprintf("ipai_enc_%d", os.Getpid())
	role := name + "_owner"
	_ = c.Exec("DROP ROLE IF EXISTS " + role)
	if err := c.Exec("CREATE ROLE " + role); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Exec("DROP ROLE IF EXISTS " + role) })
	if err := c.Exec("CREATE DATABASE " + name + " OWNER " + role + " ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"); err != nil {
		t.Fatal(err)
	}
	dbName(t, c.DatabaseURL(name))
	t.Cleanup(func() { _ = c.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })
	exec1(t, c.DatabaseURL(name), "CREATE TABLE t (s text); INSERT INTO t VALUES ('café')")
	res, err := Backup(ctx, Options{Target: d, Databases: []string{name}, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(ctx, RestoreOptions{Target: d, Archive: res.Path, DropOld: true}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, c.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var enc, owner string
	if err := conn.QueryRow(ctx, "SELECT pg_encoding_to_char(encoding), pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", name).Scan(&enc, &owner); err != nil {
		t.Fatal(err)
	}
	if enc != "LATIN1" || owner != role {
		t.Errorf("restored database: encoding %s owner %s, want LATIN1 %s", enc, owner, role)
	}
}
