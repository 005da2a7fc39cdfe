package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/stack"
)

// member is one entry of a tar built by a test.
type member struct {
	name, link string
	typ        byte
	body       string
}

func buildTar(t testing.TB, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range members {
		h := &tar.Header{Name: m.name, Linkname: m.link, Typeflag: m.typ, Mode: 0o644, ModTime: time.Unix(1700000000, 0)}
		switch m.typ {
		case tar.TypeReg:
			h.Size = int64(len(m.body))
		case tar.TypeDir:
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if m.typ == tar.TypeReg {
			if _, err := tw.Write([]byte(m.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func file(name, body string) member   { return member{name: name, typ: tar.TypeReg, body: body} }
func dir(name string) member          { return member{name: name, typ: tar.TypeDir} }
func symlink(name, to string) member  { return member{name: name, typ: tar.TypeSymlink, link: to} }
func hardlink(name, to string) member { return member{name: name, typ: tar.TypeLink, link: to} }

// withFiles copies the archive at base (nil: an empty one) adding
// files/<name>.tar members with the given contents, with valid checksums,
// and signs it with key (nil: unsigned).
func withFiles(t testing.TB, base string, key *Key, trees map[string][]byte) string {
	t.Helper()
	stagingDir := t.TempDir()
	m := &Manifest{Format: FormatVersion, CreatedAt: time.Unix(1700000000, 0).UTC(), ToolVersion: "test"}
	if base != "" {
		a, err := readArchive(base, readOptions{dir: stagingDir, keep: func(string) bool { return true }})
		if err != nil {
			t.Fatal(err)
		}
		m = a.manifest
	}
	if err := os.MkdirAll(filepath.Join(stagingDir, "files"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, data := range trees {
		fe := FileEntry{Name: "files/" + name + ".tar", Kind: "files", Size: int64(len(data))}
		sum := sha256.Sum256(data)
		fe.SHA256 = hex.EncodeToString(sum[:])
		if err := os.WriteFile(filepath.Join(stagingDir, "files", name+".tar"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		m.Files = append(m.Files, fe)
	}
	out := filepath.Join(t.TempDir(), "backup-20260101-000000.tar")
	if err := writeArchive(context.Background(), out, stagingDir, m, key); err != nil {
		t.Fatal(err)
	}
	return out
}

// listTree lists every path under dir (relative), "" when empty or missing.
func listTree(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return strings.Join(out, ",")
}

// A hostile files/*.tar is refused before anything is touched: nothing is
// written outside (or inside) the target, and no database changes, although
// the archive's databases are fine and come first.
func TestRestoreRefusesHostileFileTrees(t *testing.T) {
	ctx := context.Background()
	d := target(t)
	urls, names := seed(t, 1)
	res, err := Backup(ctx, Options{Target: d, Databases: names, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	exec1(t, urls[0], `INSERT INTO app.partner (name) VALUES ('written after the backup')`)
	want := fingerprint(t, urls[0])

	outside := t.TempDir() // what an attacker wants to write into
	cases := []struct {
		name    string
		members []member
		msg     string
	}{
		{"symlink then a file through it", []member{symlink("lnk", outside), file("lnk/x", "pwned")}, "absolute path"},
		{"relative symlink then a file through it", []member{dir("a"), symlink("a/lnk", "../../../../../../../.."+outside), file("a/lnk/x", "pwned")}, `lies under the symlink "a/lnk"`},
		{"symlink through an inside link", []member{dir("a"), symlink("a/up", ".."), file("a/up/x", "ok?")}, `lies under the symlink "a/up"`},
		{"symlink to an absolute path", []member{symlink("etc", "/etc")}, "absolute path"},
		{"symlink escaping with ..", []member{symlink("lnk", "../x")}, "leaves the restored directory"},
		{"hard link to an absolute path", []member{hardlink("h", filepath.Join(outside, "secret"))}, "absolute path"},
		{"hard link escaping with ..", []member{hardlink("h", "../secret")}, `".." in the path`},
		{"hard link to a symlink", []member{symlink("s", "x"), hardlink("h", "s")}, "not a file earlier"},
		{"absolute member name", []member{file(filepath.Join(outside, "x"), "pwned")}, "absolute path"},
		{".. member name", []member{file("a/../../x", "pwned")}, `".." in the path`},
		{"link chain escaping", []member{dir("d"), symlink("d/a", ".."), symlink("b", "d/a/../x")}, "leaves the restored directory"},
		{"link chain escaping, links in reverse order", []member{symlink("b", "d/a/../x"), dir("d"), symlink("d/a", "..")}, "leaves the restored directory"},
		{"link loop", []member{symlink("a", "b"), symlink("b", "a")}, "too many levels"},
		{"valid first member, bad later member", []member{file("ok", "fine"), dir("sub"), file("sub/ok", "fine"), symlink("z", "/")}, "absolute path"},
		{"duplicate: file then symlink", []member{file("x", "fine"), symlink("x", "y")}, `"x" appears twice`},
		{"member under a file", []member{file("x", "fine"), file("x/y", "no")}, "not a directory"},
		{"device", []member{{name: "dev", typ: 'Z'}}, "unsupported member type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Each case starts from the same outside directory.
			os.RemoveAll(outside)
			os.Mkdir(outside, 0o700)
			os.WriteFile(filepath.Join(outside, "secret"), []byte("keep"), 0o600)
			archive := withFiles(t, res.Path, nil, map[string][]byte{"odoo-data": buildTar(t, tc.members...)})
			filesTo := t.TempDir()
			_, err := Restore(ctx, RestoreOptions{Target: d, Archive: archive, FilesTo: filesTo})
			if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "nothing was restored") {
				t.Errorf("restore: %v\nwant an error about %q saying nothing was restored", err, tc.msg)
			}
			if got := listTree(t, outside); got != "secret" {
				t.Errorf("outside the target now holds: %s", got)
			}
			if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "keep" {
				t.Errorf("file outside the target changed: %q", b)
			}
			if got := listTree(t, filesTo); got != "" {
				t.Errorf("refused restore left files in the target: %s", got)
			}
			if got := fingerprint(t, urls[0]); got != want {
				t.Errorf("refused restore changed database %s", names[0])
			}
			if n := countDBs(t, "%\\_restore\\_%") + countDBs(t, names[0]+"\\_before\\_%"); n != 0 {
				t.Errorf("refused restore left %d databases", n)
			}
			if _, err := VerifyArchive(archive); err == nil {
				t.Errorf("VerifyArchive accepted the archive")
			}
		})
	}
}

// The files restore only once the databases were swapped; an existing
// destination is reported before any database is touched.
func TestRestoreRefusesExistingFilesDestinationBeforeTouchingDatabases(t *testing.T) {
	ctx := context.Background()
	d := target(t)
	urls, names := seed(t, 1)
	res, err := Backup(ctx, Options{Target: d, Databases: names, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	exec1(t, urls[0], `INSERT INTO app.partner (name) VALUES ('written after the backup')`)
	want := fingerprint(t, urls[0])
	archive := withFiles(t, res.Path, nil, map[string][]byte{"n8n-data": buildTar(t, file("config", "x"))})
	filesTo := t.TempDir()
	os.Mkdir(filepath.Join(filesTo, "n8n-data"), 0o755)
	_, err = Restore(ctx, RestoreOptions{Target: d, Archive: archive, FilesTo: filesTo})
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("restore over existing files: %v", err)
	}
	if fingerprint(t, urls[0]) != want {
		t.Errorf("database changed although the files could not be restored")
	}
	if got := listTree(t, filesTo); got != "n8n-data" {
		t.Errorf("files target now holds %s", got)
	}
}

// What GNU tar writes (as `tar -C DIR -cf - .` in the containers does):
// "./" names, a hard link, symlinks inside the tree; all restored.
func TestRestoreExtractsGNUTarTree(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "filestore", "db", "ab"), 0o750)
	os.WriteFile(filepath.Join(src, "filestore", "db", "ab", "f1"), []byte("attachment"), 0o640)
	os.Link(filepath.Join(src, "filestore", "db", "ab", "f1"), filepath.Join(src, "filestore", "db", "ab", "f2"))
	os.Symlink("ab/f1", filepath.Join(src, "filestore", "db", "cur"))
	os.Symlink("../db/ab", filepath.Join(src, "filestore", "db", "dirlink"))
	os.Symlink("missing", filepath.Join(src, "dangling"))
	raw, err := exec.Command("tar", "-C", src, "-cf", "-", ".").Output()
	if err != nil {
		t.Fatalf("tar: %v", err)
	}
	archive := withFiles(t, "", nil, map[string][]byte{"odoo_core-data": raw})
	filesTo := t.TempDir()
	rep, err := Restore(context.Background(), RestoreOptions{Archive: archive, FilesTo: filesTo})
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(filesTo, "odoo_core-data")
	if len(rep.FilesTo) != 1 || rep.FilesTo[0] != root {
		t.Errorf("FilesTo = %v", rep.FilesTo)
	}
	for _, p := range []string{"filestore/db/ab/f1", "filestore/db/ab/f2", "filestore/db/cur", "filestore/db/dirlink/f1"} {
		if b, err := os.ReadFile(filepath.Join(root, p)); err != nil || string(b) != "attachment" {
			t.Errorf("%s: %q %v", p, b, err)
		}
	}
	a, _ := os.Stat(filepath.Join(root, "filestore/db/ab/f1"))
	b, _ := os.Stat(filepath.Join(root, "filestore/db/ab/f2"))
	if !os.SameFile(a, b) {
		t.Errorf("hard link restored as a copy")
	}
	if l, err := os.Readlink(filepath.Join(root, "dangling")); err != nil || l != "missing" {
		t.Errorf("dangling symlink: %q %v", l, err)
	}
	if fi, err := os.Stat(root); err != nil || fi.Mode().Perm()&0o077 == 0 {
		t.Errorf("restored top directory: %v %v (the tar's mode, not the staging directory's 0700)", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(filesTo)
	if len(entries) != 1 {
		t.Errorf("restore left staging directories: %v", entries)
	}
}

func testKey(t testing.TB, b byte) *Key {
	k, err := NewKey(bytes.Repeat([]byte{b}, 32), "test")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// rewriteRaw writes a copy of archive whose manifest is edited, keeping the
// member data, with the signature records pax (nil: unsigned).
func rewriteRaw(t *testing.T, archive string, edit func(*Manifest), pax map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	a, err := readArchive(archive, readOptions{dir: dir, keep: func(string) bool { return true }, allowUnsigned: true})
	if err != nil {
		t.Fatal(err)
	}
	edit(a.manifest)
	out := filepath.Join(t.TempDir(), filepath.Base(archive))
	if err := writeArchive(context.Background(), out, dir, a.manifest, nil); err != nil {
		t.Fatal(err)
	}
	if pax == nil {
		return out
	}
	// Put the given records on the manifest header.
	raw, _ := os.ReadFile(out)
	tr := tar.NewReader(bytes.NewReader(raw))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if h.Name == ManifestName {
			h.PAXRecords, h.Format = pax, tar.FormatPAX
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := copyN(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	os.WriteFile(out, buf.Bytes(), 0o600)
	return out
}

func copyN(w *tar.Writer, r *tar.Reader) (int64, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(r)
	if err != nil {
		return n, err
	}
	_, err = w.Write(buf.Bytes())
	return n, err
}

func paxOf(t *testing.T, archive string) map[string]string {
	t.Helper()
	f, _ := os.Open(archive)
	defer f.Close()
	h, err := tar.NewReader(f).Next()
	if err != nil {
		t.Fatal(err)
	}
	return h.PAXRecords
}

// A signed archive restores; a changed, stripped or foreign-signed one is
// refused when the restoring side has the key, before anything is touched.
func TestRestoreChecksManifestSignature(t *testing.T) {
	ctx := context.Background()
	d := target(t)
	urls, names := seed(t, 1)
	key := testKey(t, 1)
	res, err := Backup(ctx, Options{Target: d, Databases: names, OutDir: t.TempDir(), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	signed := paxOf(t, res.Path)
	if signed[paxMAC] == "" || signed[paxKeyID] != key.ID() {
		t.Fatalf("backup with a key wrote no signature: %v", signed)
	}
	exec1(t, urls[0], `INSERT INTO app.partner (name) VALUES ('written after the backup')`)
	want := fingerprint(t, urls[0])

	other := testKey(t, 2)
	edit := func(m *Manifest) { m.Databases[0].Tables["app.partner"] = 1 } // pg_restore --exit-on-error would not notice
	foreign := rewriteRaw(t, res.Path, edit, nil)
	{
		// signed by someone else's key
		dir := t.TempDir()
		a, _ := readArchive(foreign, readOptions{dir: dir, keep: func(string) bool { return true }})
		foreign = filepath.Join(t.TempDir(), "backup-20260101-000000.tar")
		writeArchive(ctx, foreign, dir, a.manifest, other)
	}
	cases := []struct {
		name, archive string
		key           *Key
		msg           string
	}{
		{"tampered, old signature kept", rewriteRaw(t, res.Path, edit, signed), key, "changed after the backup"},
		{"tampered, signature stripped", rewriteRaw(t, res.Path, edit, nil), key, "is not signed"},
		{"tampered, signed with another key", foreign, key, "another backup key"},
		{"honest archive, restoring side has another key", res.Path, other, "another backup key"},
		{"tampered, garbage signature", rewriteRaw(t, res.Path, edit, map[string]string{paxMAC: "zz", paxKeyID: key.ID()}), key, "changed after the backup"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			filesTo := t.TempDir()
			_, err := Restore(ctx, RestoreOptions{Target: d, Archive: tc.archive, Key: tc.key, FilesTo: filesTo})
			if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "--allow-unsigned") {
				t.Fatalf("restore: %v\nwant an error about %q naming --allow-unsigned", err, tc.msg)
			}
			if fingerprint(t, urls[0]) != want || countDBs(t, "%\\_restore\\_%")+countDBs(t, names[0]+"\\_before\\_%") != 0 {
				t.Errorf("refused restore changed the server")
			}
		})
	}

	// --allow-unsigned lets an unsigned archive through, saying so.
	unsigned := rewriteRaw(t, res.Path, func(*Manifest) {}, nil)
	rep, err := Restore(ctx, RestoreOptions{Target: d, Archive: unsigned, Key: key, AllowUnsigned: true, VerifyOnly: true})
	if err != nil || rep.Err() != nil {
		t.Fatalf("--allow-unsigned: %v %v", err, rep.Err())
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "not signed") {
		t.Errorf("--allow-unsigned gave no warning: %v", rep.Warnings)
	}
	// Without a key the signature cannot be checked, and old archives restore.
	rep, err = Restore(ctx, RestoreOptions{Target: d, Archive: unsigned, VerifyOnly: true})
	if err != nil || rep.Err() != nil || !strings.Contains(rep.Signature, "not checked") {
		t.Fatalf("restore without a key: %v %v %q", err, rep.Err(), rep.Signature)
	}
	// The honest signed archive restores.
	rep, err = Restore(ctx, RestoreOptions{Target: d, Archive: res.Path, Key: key, DropOld: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.Signature, "signature valid") {
		t.Errorf("signature status %q", rep.Signature)
	}
	if fingerprint(t, urls[0]) == want {
		t.Errorf("signed archive was not restored")
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	if k, err := LoadKey(dir, "", true); k != nil || err != nil {
		t.Fatalf("no deployment: %v %v", k, err)
	}
	if _, err := stack.Init(stack.InitOptions{Dir: dir, Domain: "example.com"}); err != nil {
		t.Fatal(err)
	}
	if k, err := LoadKey(dir, "", false); k != nil || err != nil {
		t.Fatalf("restore side must not create a key: %v %v", k, err)
	}
	k, err := LoadKey(dir, "", true)
	if err != nil || k == nil || !k.Created || k.Source != KeyPath(dir) {
		t.Fatalf("create: %+v %v", k, err)
	}
	fi, err := os.Stat(KeyPath(dir))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "docker", ".env")); err != nil {
		t.Errorf("key not beside docker/.env: %v", err)
	}
	k2, err := LoadKey(dir, "", true)
	if err != nil || k2.Created || k2.ID() != k.ID() {
		t.Fatalf("second load: %+v %v", k2, err)
	}
	env := strings.Repeat("ab", 32)
	if k3, err := LoadKey(dir, env, false); err != nil || k3.Source != KeyEnv || k3.ID() == k.ID() {
		t.Fatalf("env key: %+v %v", k3, err)
	}
	for _, bad := range []string{"not hex", "abcd"} {
		if _, err := LoadKey(dir, bad, false); err == nil || !strings.Contains(err.Error(), "openssl rand -hex 32") {
			t.Errorf("env %q: %v", bad, err)
		}
	}
	os.Chmod(KeyPath(dir), 0o644)
	if _, err := LoadKey(dir, "", false); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("group-readable key accepted: %v", err)
	}
	os.Chmod(KeyPath(dir), 0o600)

	// The deployment's files go into backups, the key never does.
	srcs := DirectForDeployment(dir, filepath.Join(dir, "backups"))
	var buf bytes.Buffer
	if err := tarDir(context.Background(), &buf, dir, srcs[0].Skip, func(string) {}); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	sawEnv := false
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if strings.Contains(h.Name, "backup.key") {
			t.Errorf("backup of the deployment holds %s", h.Name)
		}
		sawEnv = sawEnv || h.Name == "docker/.env"
	}
	if !sawEnv {
		t.Errorf("deployment tar does not hold docker/.env: the test checks the wrong thing")
	}
}

// A symlink leaving a backed-up directory is left out with a warning
// instead of producing an archive restore refuses.
func TestBackupLeavesOutEscapingSymlinks(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a"), []byte("x"), 0o600)
	os.Symlink("/etc/passwd", filepath.Join(src, "abs"))
	os.Symlink("../elsewhere", filepath.Join(src, "up"))
	os.Symlink("a", filepath.Join(src, "fine"))
	var warnings []string
	var buf bytes.Buffer
	if err := tarDir(context.Background(), &buf, src, nil, func(s string) { warnings = append(warnings, s) }); err != nil {
		t.Fatal(err)
	}
	if err := checkTarStream(bytes.NewReader(buf.Bytes())); err != nil {
		t.Errorf("backup tar would be refused: %v", err)
	}
	if len(warnings) != 2 || !strings.Contains(strings.Join(warnings, "\n"), "abs -> /etc/passwd not archived") {
		t.Errorf("warnings: %q", warnings)
	}
}
