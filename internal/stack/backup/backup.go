package backup

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// Source is a set of files to include: a local directory (Dir) or a command
// writing a tar stream to stdout (Cmd, e.g. `docker compose exec -T odoo-core
// tar -C /var/lib/odoo -cf - .`). Name becomes files/<Name>.tar.
type Source struct {
	Name string
	Dir  string
	Skip []string // paths relative to Dir left out (e.g. the backups folder inside a deployment)
	Cmd  func(ctx context.Context) *exec.Cmd
}

// Options control a backup.
type Options struct {
	Target    Target
	Databases []string // nil: every non-template database on the server
	Sources   []Source
	OutDir    string
	Jobs      int  // databases dumped at once; default the number of CPUs
	Keep      int  // keep the newest N backups in OutDir (0 keeps all)
	Verify    bool // restore into scratch databases and compare row counts before counting the backup
	Roles     bool // include the cluster's roles (pg_dumpall --roles-only)
	// Compress is pg_dump's gzip level, 0-9; nil means pg_dump's default (6).
	Compress    *int
	ToolVersion string
	// Key signs the manifest (HMAC-SHA256); nil writes an unsigned archive.
	Key      *Key
	Progress io.Writer // per-database progress; nil for none
	Now      func() time.Time
}

// Result is a finished backup.
type Result struct {
	Path     string
	Manifest *Manifest
	Pruned   []string
}

const stamp = "20060102-150405"

var archiveRe = regexp.MustCompile(`^backup-\d{8}-\d{6}\.tar$`)

// scratchRe matches the transient databases restore creates.
var scratchRe = regexp.MustCompile(`_(restore|verify)_\d{8}_?\d{6}$`)

func isScratch(name string) bool { return scratchRe.MatchString(name) }

// Backup writes one complete archive to opts.OutDir. The archive appears under
// its final name only once it is complete (and, with Verify, verified); a
// cancelled or failed backup leaves no file named like a backup.
func Backup(ctx context.Context, opts Options) (*Result, error) {
	start := time.Now()
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if opts.Jobs <= 0 {
		opts.Jobs = runtime.NumCPU()
	}
	if opts.OutDir == "" {
		return nil, errors.New("no output directory: pass --out DIR")
	}
	if err := os.MkdirAll(opts.OutDir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", opts.OutDir, err)
	}
	created := now().UTC()
	final := filepath.Join(opts.OutDir, "backup-"+created.Format(stamp)+".tar")
	if _, err := os.Stat(final); err == nil {
		return nil, fmt.Errorf("%s already exists: wait a second and run again", final)
	}
	t := opts.Target
	m := &Manifest{Format: FormatVersion, CreatedAt: created, ToolVersion: opts.ToolVersion, Mode: t.Mode()}
	var err error
	if m.ServerVersion, err = t.ServerVersion(ctx); err != nil {
		return nil, fmt.Errorf("reach PostgreSQL: %w", err)
	}
	if m.PgDumpVersion, err = t.ToolVersion(ctx); err != nil {
		return nil, fmt.Errorf("run pg_dump --version: %w", err)
	}
	dbs := opts.Databases
	if len(dbs) == 0 {
		if dbs, err = t.Databases(ctx); err != nil {
			return nil, fmt.Errorf("list databases: %w", err)
		}
	}
	if len(dbs) == 0 && len(opts.Sources) == 0 {
		return nil, errors.New("nothing to back up: the server has no databases besides postgres and no files were given")
	}

	staging, err := os.MkdirTemp(opts.OutDir, ".backup-"+created.Format(stamp)+"-*.partial")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(staging)
	for _, d := range []string{"databases", "files", "globals"} {
		if err := os.Mkdir(filepath.Join(staging, d), 0o700); err != nil {
			return nil, err
		}
	}

	compress := -1
	if opts.Compress != nil {
		if *opts.Compress < 0 || *opts.Compress > 9 {
			return nil, fmt.Errorf("compression level %d: use 0 (none) to 9 (smallest)", *opts.Compress)
		}
		compress = *opts.Compress
	}
	prog := newProgress(opts.Progress)
	defer prog.stop()
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Jobs)
	for _, db := range dbs {
		g.Go(func() error {
			de, fe, err := dumpDatabase(gctx, t, db, staging, compress, prog)
			if err != nil {
				return fmt.Errorf("back up database %s: %w", db, err)
			}
			mu.Lock()
			m.Databases = append(m.Databases, de)
			m.Files = append(m.Files, fe)
			mu.Unlock()
			return nil
		})
	}
	for _, src := range opts.Sources {
		g.Go(func() error {
			fe, warnings, err := collectFiles(gctx, src, staging, prog)
			if err != nil {
				return fmt.Errorf("back up files %s: %w", src.Name, err)
			}
			mu.Lock()
			m.Files = append(m.Files, fe)
			m.Warnings = append(m.Warnings, warnings...)
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if opts.Roles {
		fe, err := runToFile(ctx, t.Roles(ctx), filepath.Join(staging, "globals", "roles.sql"), "globals/roles.sql", nil)
		if err != nil {
			m.Warnings = append(m.Warnings, "roles not included (restore needs the roles to exist or --no-owner): "+err.Error())
		} else {
			fe.Kind = "globals"
			m.Files = append(m.Files, fe)
		}
	}
	prog.stop()
	sort.Slice(m.Databases, func(i, j int) bool { return m.Databases[i].Name < m.Databases[j].Name })
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Name < m.Files[j].Name })
	sort.Strings(m.Warnings)
	m.DurationMS = time.Since(start).Milliseconds()

	partial := filepath.Join(opts.OutDir, ".backup-"+created.Format(stamp)+".tar.partial")
	defer os.Remove(partial)
	if err := writeArchive(ctx, partial, staging, m, opts.Key); err != nil {
		return nil, fmt.Errorf("write archive: %w", err)
	}
	// Read it back: a backup counts only when every checksum matches (and
	// the signature, when signed).
	if _, err := readArchive(partial, readOptions{key: opts.Key}); err != nil {
		return nil, fmt.Errorf("written archive does not verify: %w", err)
	}
	if opts.Verify {
		rep, err := Restore(ctx, RestoreOptions{Target: t, Archive: partial, VerifyOnly: true, Jobs: opts.Jobs, Progress: opts.Progress, Now: opts.Now, Key: opts.Key, AllowUnsigned: opts.Key == nil})
		if err != nil {
			return nil, fmt.Errorf("verify backup: %w", err)
		}
		if err := rep.Err(); err != nil {
			return nil, fmt.Errorf("verify backup: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.Rename(partial, final); err != nil {
		return nil, err
	}
	syncDir(opts.OutDir)
	res := &Result{Path: final, Manifest: m}
	if opts.Keep > 0 {
		res.Pruned, err = prune(opts.OutDir, opts.Keep, filepath.Base(final))
		if err != nil {
			return res, fmt.Errorf("backup written to %s, but pruning old backups failed: %w", final, err)
		}
	}
	return res, nil
}

func dumpDatabase(ctx context.Context, t Target, db, staging string, compress int, prog *progress) (DatabaseEntry, FileEntry, error) {
	start := time.Now()
	snap, release, err := t.Begin(ctx, db)
	if err != nil {
		return DatabaseEntry{}, FileEntry{}, err
	}
	defer release()
	name := "databases/" + db + ".dump"
	if !memberRe.MatchString(name) {
		return DatabaseEntry{}, FileEntry{}, fmt.Errorf("database name %q has characters the archive does not support", db)
	}
	fe, err := runToFile(ctx, t.Dump(ctx, db, snap.ID, compress), filepath.Join(staging, filepath.FromSlash(name)), name, prog.track(db))
	if err != nil {
		return DatabaseEntry{}, FileEntry{}, err
	}
	prog.finish(db)
	fe.Kind, fe.Database = "database", db
	de := DatabaseEntry{Name: db, File: name, Owner: snap.Owner, Encoding: snap.Encoding, Collate: snap.Collate, Ctype: snap.Ctype, Tables: snap.Tables, ExactCounts: snap.Exact,
		DurationMS: time.Since(start).Milliseconds()}
	return de, fe, nil
}

// runToFile runs cmd with stdout into path, hashing as it goes.
func runToFile(ctx context.Context, cmd *exec.Cmd, path, name string, counter *atomic.Int64) (FileEntry, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return FileEntry{}, err
	}
	defer f.Close()
	h := sha256.New()
	cw := &countWriter{n: counter}
	var stderr strings.Builder
	cmd.Stdout = io.MultiWriter(f, h, cw)
	cmd.Stderr = &limitWriter{w: &stderr, n: 4096}
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return FileEntry{}, ctx.Err()
		}
		return FileEntry{}, fmt.Errorf("%s: %w: %s", filepath.Base(cmd.Path), err, strings.TrimSpace(stderr.String()))
	}
	if err := f.Close(); err != nil {
		return FileEntry{}, err
	}
	return FileEntry{Name: name, Size: cw.total, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// collectFiles writes the files of src into files/<name>.tar. The warnings
// name what was left out.
func collectFiles(ctx context.Context, src Source, staging string, prog *progress) (FileEntry, []string, error) {
	name := "files/" + src.Name + ".tar"
	if !memberRe.MatchString(name) {
		return FileEntry{}, nil, fmt.Errorf("name %q: use letters, digits, '.', '_' or '-'", src.Name)
	}
	path := filepath.Join(staging, filepath.FromSlash(name))
	if src.Cmd != nil {
		fe, err := runToFile(ctx, src.Cmd(ctx), path, name, prog.track(src.Name))
		prog.finish(src.Name)
		fe.Kind = "files"
		return fe, nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return FileEntry{}, nil, err
	}
	defer f.Close()
	h := sha256.New()
	cw := &countWriter{n: prog.track(src.Name)}
	var warnings []string
	warn := func(s string) { warnings = append(warnings, src.Name+": "+s) }
	if err := tarDir(ctx, io.MultiWriter(f, h, cw), src.Dir, src.Skip, warn); err != nil {
		return FileEntry{}, nil, err
	}
	if err := f.Close(); err != nil {
		return FileEntry{}, nil, err
	}
	prog.finish(src.Name)
	return FileEntry{Name: name, Kind: "files", Source: src.Dir, Size: cw.total, SHA256: hex.EncodeToString(h.Sum(nil))}, warnings, nil
}

// tarDir writes dir as a tar stream (regular files, directories, symlinks).
// Symlinks pointing outside dir are left out (restore refuses them), each
// with a warning.
func tarDir(ctx context.Context, w io.Writer, dir string, skip []string, warn func(string)) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	tw := tar.NewWriter(w)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		for _, s := range skip {
			if rel == filepath.Clean(s) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
			if t := filepath.Join(filepath.Dir(rel), link); filepath.IsAbs(link) || t == ".." || strings.HasPrefix(t, ".."+string(filepath.Separator)) {
				warn(fmt.Sprintf("symlink %s -> %s not archived: it points outside %s, and restore refuses such links; copy the file in instead", rel, link, dir))
				return nil
			}
		} else if !info.Mode().IsRegular() && !info.IsDir() {
			return nil // sockets, devices: not data
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// writeArchive writes manifest.json and then every member into path.
// A key signs the manifest (nil: unsigned).
func writeArchive(ctx context.Context, path, staging string, m *Manifest, key *Key) error {
	mb, err := m.marshal()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	mod := m.CreatedAt
	mh := &tar.Header{Name: ManifestName, Mode: 0o600, Size: int64(len(mb)), ModTime: mod, Typeflag: tar.TypeReg}
	if key != nil {
		key.sign(mh, mb)
	}
	if err := tw.WriteHeader(mh); err != nil {
		return err
	}
	if _, err := tw.Write(mb); err != nil {
		return err
	}
	for _, fe := range m.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		src, err := os.Open(filepath.Join(staging, filepath.FromSlash(fe.Name)))
		if err != nil {
			return err
		}
		err = tw.WriteHeader(&tar.Header{Name: fe.Name, Mode: 0o600, Size: fe.Size, ModTime: mod, Typeflag: tar.TypeReg})
		if err == nil {
			_, err = io.Copy(tw, src)
		}
		src.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// prune removes all but the newest keep archives (never the one just written).
func prune(dir string, keep int, current string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && archiveRe.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	var removed []string
	for i, n := range names {
		if i < keep || n == current {
			continue
		}
		if err := os.Remove(filepath.Join(dir, n)); err != nil {
			return removed, err
		}
		removed = append(removed, n)
	}
	return removed, nil
}

// List returns the backup archives in dir, newest first.
func List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && archiveRe.MatchString(e.Name()) {
			names = append(names, filepath.Join(dir, e.Name()))
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	return names, nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

type countWriter struct {
	n     *atomic.Int64
	total int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.total += int64(len(p))
	if c.n != nil {
		c.n.Add(int64(len(p)))
	}
	return len(p), nil
}

type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		q := p
		if len(q) > l.n {
			q = q[:l.n]
		}
		l.n -= len(q)
		_, _ = l.w.Write(q)
	}
	return len(p), nil
}
