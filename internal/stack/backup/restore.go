package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// RestoreOptions control a restore.
type RestoreOptions struct {
	Target     Target
	Archive    string
	Databases  []string // nil: every database in the archive
	VerifyOnly bool     // restore into scratch databases, compare row counts, drop them
	DropOld    bool     // drop NAME_before_<ts> after the swap
	NoOwner    bool     // pg_restore --no-owner --no-acl (when the roles do not exist)
	FilesTo    string   // extract files/<name>.tar into FilesTo/<name>/ ("" skips files)
	Jobs       int
	TempDir    string // where archived files are extracted before FilesTo; default next to the archive
	// Key checks the manifest's signature (nil: not checked). With a key, an
	// unsigned or badly signed archive is refused unless AllowUnsigned.
	Key           *Key
	AllowUnsigned bool
	Progress      io.Writer
	Now           func() time.Time
}

// DBReport is the outcome for one database.
type DBReport struct {
	Name       string
	RestoredAs string // scratch database the dump went into
	OldKeptAs  string // previous database, renamed ("" if none or dropped)
	Tables     int
	Rows       int64
	Mismatches []string
	Err        error
	Duration   time.Duration
}

// Report is the outcome of a restore or a verification.
type Report struct {
	Manifest  *Manifest
	Databases []DBReport
	FilesTo   []string
	Signature string // what the signature check found
	Warnings  []string
}

// Err is the first failure in the report, if any.
func (r *Report) Err() error {
	var errs []error
	for _, d := range r.Databases {
		if d.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.Name, d.Err))
		} else if len(d.Mismatches) > 0 {
			errs = append(errs, fmt.Errorf("%s: row counts differ from the manifest: %s", d.Name, strings.Join(d.Mismatches, ", ")))
		}
	}
	return errors.Join(errs...)
}

// Restore verifies the archive completely, then restores its databases into
// fresh databases and, unless VerifyOnly, swaps each in by rename. Nothing on
// the server changes unless every selected database restored and matched the
// manifest's row counts.
func Restore(ctx context.Context, opts RestoreOptions) (*Report, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if opts.Jobs <= 0 {
		opts.Jobs = runtime.NumCPU()
	}
	tmpParent := opts.TempDir
	if tmpParent == "" {
		tmpParent = filepath.Dir(opts.Archive)
	}
	tmp, err := os.MkdirTemp(tmpParent, ".restore-*")
	if err != nil {
		return nil, fmt.Errorf("create a temporary directory in %s: %w", tmpParent, err)
	}
	defer os.RemoveAll(tmp)

	// One pass: verify every checksum (extracting files only when asked);
	// dumps are later streamed from the archive into pg_restore and hashed
	// again on the way.
	var selected map[string]bool
	if len(opts.Databases) > 0 {
		selected = map[string]bool{}
		for _, d := range opts.Databases {
			selected[d] = true
		}
	}
	ra, err := readArchive(opts.Archive, readOptions{dir: tmp, key: opts.Key, allowUnsigned: opts.AllowUnsigned, keep: func(name string) bool {
		return strings.HasPrefix(name, "files/") && opts.FilesTo != "" && !opts.VerifyOnly
	}})
	if err != nil {
		return nil, err
	}
	m, offsets := ra.manifest, ra.offsets
	if ra.warning != "" && opts.Progress != nil {
		fmt.Fprintln(opts.Progress, "warning:", ra.warning)
	}
	rep := &Report{Manifest: m, Signature: ra.signature}
	if ra.warning != "" {
		rep.Warnings = append(rep.Warnings, ra.warning)
	}
	var dbs []DatabaseEntry
	for _, d := range m.Databases {
		if selected == nil || selected[d.Name] {
			dbs = append(dbs, d)
		}
	}
	for name := range selected {
		if _, ok := m.Database(name); !ok {
			var have []string
			for _, d := range m.Databases {
				have = append(have, d.Name)
			}
			return nil, fmt.Errorf("database %q is not in the archive (it has: %s)", name, strings.Join(have, ", "))
		}
	}
	if d, ok := opts.Target.(*Direct); ok && !opts.VerifyOnly {
		for _, db := range dbs {
			if db.Name == d.MaintenanceDB() {
				return nil, fmt.Errorf("cannot swap database %s while connected to it: point --pg-url at another database (e.g. /postgres)", db.Name)
			}
		}
	}

	// Files are extracted into hidden directories beside their destinations
	// before any database is touched, and renamed into place only after the
	// databases were swapped in.
	var staged []stagedFiles
	defer func() {
		for _, sf := range staged {
			if sf.tmp != "" {
				_ = os.RemoveAll(sf.tmp)
			}
		}
	}()
	if opts.FilesTo != "" && !opts.VerifyOnly {
		if staged, err = stageFiles(m, tmp, opts.FilesTo); err != nil {
			return nil, err
		}
	}

	ts := now().UTC().Format("20060102_150405")
	suffix := "_restore_" + ts
	if opts.VerifyOnly {
		suffix = "_verify_" + ts
	}
	for _, d := range dbs {
		if len(d.Name+"_before_"+ts) > 63 || len(d.Name+suffix) > 63 {
			return nil, fmt.Errorf("database name %q is too long to restore beside the original (PostgreSQL allows 63 bytes); rename it first", d.Name)
		}
	}

	t := opts.Target
	reports := make([]DBReport, len(dbs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Jobs)
	var created sync.Map
	for i, d := range dbs {
		g.Go(func() error {
			member := m.file(d.File)
			member.offset = offsets[d.File]
			r := restoreOne(gctx, t, d, opts.Archive, member, d.Name+suffix, opts.NoOwner, &created)
			reports[i] = r
			if opts.Progress != nil {
				status := "ok"
				if r.Err != nil {
					status = "failed: " + r.Err.Error()
				} else if len(r.Mismatches) > 0 {
					status = "row counts differ"
				}
				fmt.Fprintf(opts.Progress, "restore: %-24s %d tables, %d rows, %s  %s\n", d.Name, r.Tables, r.Rows, r.Duration.Round(100*time.Millisecond), status)
			}
			return nil // keep restoring the others: the report shows every failure
		})
	}
	_ = g.Wait()
	rep.Databases = reports
	dropCreated := func() {
		created.Range(func(k, _ any) bool {
			_ = t.Exec(context.Background(), "DROP DATABASE IF EXISTS "+quoteIdent(k.(string))+" WITH (FORCE)")
			return true
		})
	}
	if err := ctx.Err(); err != nil {
		dropCreated()
		return rep, err
	}
	if opts.VerifyOnly {
		dropCreated()
		return rep, nil
	}
	if err := rep.Err(); err != nil {
		dropCreated()
		return rep, fmt.Errorf("restore failed, no database was changed: %w", err)
	}
	for i := range rep.Databases {
		r := &rep.Databases[i]
		if err := swap(ctx, t, r.Name, r.RestoredAs, r.Name+"_before_"+ts, opts.DropOld, r); err != nil {
			// Databases swapped before this one stay restored; the rest keep their old contents.
			for _, rest := range rep.Databases[i:] {
				_ = t.Exec(context.Background(), "DROP DATABASE IF EXISTS "+quoteIdent(rest.RestoredAs)+" WITH (FORCE)")
			}
			return rep, fmt.Errorf("swap in %s: %w", r.Name, err)
		}
	}
	for i := range staged {
		sf := &staged[i]
		if err := os.Rename(sf.tmp, sf.dest); err != nil {
			return rep, fmt.Errorf("databases restored, but moving the files to %s failed: %w (they are in %s)", sf.dest, err, sf.tmp)
		}
		sf.tmp = ""
		rep.FilesTo = append(rep.FilesTo, sf.dest)
	}
	return rep, nil
}

func restoreOne(ctx context.Context, t Target, d DatabaseEntry, archive string, member memberRef, scratch string, noOwner bool, created *sync.Map) (r DBReport) {
	start := time.Now()
	r = DBReport{Name: d.Name, RestoredAs: scratch}
	defer func() { r.Duration = time.Since(start) }()
	if ok, err := t.Exists(ctx, scratch, false); err != nil || ok {
		r.Err = fmt.Errorf("scratch database %s already exists (or cannot check: %v): drop it or wait a second", scratch, err)
		return r
	}
	create := "CREATE DATABASE " + quoteIdent(scratch) + " TEMPLATE template0"
	if d.Encoding != "" {
		create += " ENCODING " + quoteLiteral(d.Encoding) + " LC_COLLATE " + quoteLiteral(d.Collate) + " LC_CTYPE " + quoteLiteral(d.Ctype)
	}
	if !noOwner && d.Owner != "" {
		ok, err := t.Exists(ctx, d.Owner, true)
		if err != nil {
			r.Err = err
			return r
		}
		if !ok {
			r.Err = fmt.Errorf("role %s (owner of %s) does not exist on this server: create the roles first (the archive's globals/roles.sql) or pass --no-owner", d.Owner, d.Name)
			return r
		}
		create += " OWNER " + quoteIdent(d.Owner)
	}
	if err := t.Exec(ctx, create); err != nil {
		r.Err = fmt.Errorf("create %s: %w", scratch, err)
		return r
	}
	created.Store(scratch, true)
	f, err := os.Open(archive)
	if err != nil {
		r.Err = err
		return r
	}
	defer f.Close()
	h := sha256.New()
	cmd := t.Restore(ctx, scratch, noOwner)
	cmd.Stdin = io.TeeReader(io.NewSectionReader(f, member.offset, member.Size), h)
	var stderr strings.Builder
	cmd.Stderr = &limitWriter{w: &stderr, n: 4096}
	if err := cmd.Run(); err != nil {
		r.Err = fmt.Errorf("pg_restore into %s: %w: %s", scratch, err, strings.TrimSpace(stderr.String()))
		return r
	}
	// The archive was verified before; check the bytes pg_restore read too.
	if sum := hex.EncodeToString(h.Sum(nil)); sum != member.SHA256 {
		r.Err = fmt.Errorf("%s changed while it was restored (sha256 %s, manifest %s)", member.Name, sum[:12], member.SHA256[:12])
		return r
	}
	got, err := t.Counts(ctx, scratch)
	if err != nil {
		r.Err = fmt.Errorf("count rows in %s: %w", scratch, err)
		return r
	}
	r.Mismatches = compareCounts(d.Tables, got)
	r.Tables = len(got)
	for _, n := range got {
		r.Rows += n
	}
	return r
}

func compareCounts(want, got map[string]int64) []string {
	var out []string
	for t, n := range want {
		g, ok := got[t]
		switch {
		case !ok:
			out = append(out, t+" missing")
		case g != n:
			out = append(out, fmt.Sprintf("%s has %d rows, manifest %d", t, g, n))
		}
	}
	for t := range got {
		if _, ok := want[t]; !ok {
			out = append(out, t+" not in manifest")
		}
	}
	sort.Strings(out)
	return out
}

// swap renames name to old (if it exists) and scratch to name.
func swap(ctx context.Context, t Target, name, scratch, old string, dropOld bool, r *DBReport) error {
	exists, err := t.Exists(ctx, name, false)
	if err != nil {
		return err
	}
	if !exists {
		return t.Exec(ctx, "ALTER DATABASE "+quoteIdent(scratch)+" RENAME TO "+quoteIdent(name))
	}
	qn, qo := quoteIdent(name), quoteIdent(old)
	if err := t.Exec(ctx, "ALTER DATABASE "+qn+" WITH ALLOW_CONNECTIONS false"); err != nil {
		return err
	}
	stmt := "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = " + quoteLiteral(name) + " AND pid <> pg_backend_pid(); " +
		"ALTER DATABASE " + qn + " RENAME TO " + qo + "; ALTER DATABASE " + quoteIdent(scratch) + " RENAME TO " + qn
	for attempt := 0; ; attempt++ {
		if err = t.Exec(ctx, stmt); err == nil {
			break
		}
		if attempt == 4 || ctx.Err() != nil {
			_ = t.Exec(context.Background(), "ALTER DATABASE "+qn+" WITH ALLOW_CONNECTIONS true")
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
	if dropOld {
		if err := t.Exec(ctx, "DROP DATABASE "+qo+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("%s restored; dropping the old copy %s failed: %w", name, old, err)
		}
		return nil
	}
	r.OldKeptAs = old
	return t.Exec(ctx, "ALTER DATABASE "+qo+" WITH ALLOW_CONNECTIONS true")
}

// memberRef locates a member's data inside the archive file.
type memberRef struct {
	FileEntry
	offset int64
}

func (m *Manifest) file(name string) memberRef {
	for _, f := range m.Files {
		if f.Name == name {
			return memberRef{FileEntry: f}
		}
	}
	return memberRef{}
}

// stagedFiles is one files/*.tar extracted next to where it goes.
type stagedFiles struct{ tmp, dest string }

// stageFiles extracts every files/*.tar of m (already written into tmp and
// checked by readArchive) into a new hidden directory beside its
// destination FilesTo/<name>, which must not exist.
func stageFiles(m *Manifest, tmp, filesTo string) ([]stagedFiles, error) {
	var out []stagedFiles
	fail := func(err error) ([]stagedFiles, error) {
		for _, sf := range out {
			_ = os.RemoveAll(sf.tmp)
		}
		return nil, err
	}
	for _, fe := range m.Files {
		if !strings.HasPrefix(fe.Name, "files/") {
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(fe.Name, "files/"), ".tar")
		dest := filepath.Join(filesTo, name)
		if _, err := os.Lstat(dest); err == nil {
			return fail(fmt.Errorf("%s already exists: move it away (or choose another --files-to); nothing was restored", dest))
		}
		if err := os.MkdirAll(filesTo, 0o755); err != nil {
			return fail(err)
		}
		dir, err := os.MkdirTemp(filesTo, "."+name+".restoring-*")
		if err != nil {
			return fail(err)
		}
		out = append(out, stagedFiles{tmp: dir, dest: dest})
		if err := os.Chmod(dir, 0o755); err != nil {
			return fail(err)
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			return fail(err)
		}
		err = untar(filepath.Join(tmp, filepath.FromSlash(fe.Name)), root)
		root.Close()
		if err != nil {
			return fail(fmt.Errorf("extract %s: %w; nothing was restored", fe.Name, err))
		}
	}
	return out, nil
}
