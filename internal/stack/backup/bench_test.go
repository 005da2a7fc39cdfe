package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/insightpulseai/ipai/internal/testpg"
)

// Benchmarks (not run by `go test`; run with
//   go test -run '^$' -bench . -benchtime 1x ./internal/stack/backup/
// ): 4 databases of IPAI_BENCH_DB_MB MiB each (default 256, 1 GiB in all).
// The throwaway cluster runs with fsync off; both sides pay the same.

var (
	benchOnce sync.Once
	benchDBs  []string
	benchErr  error
)

func benchSetup(b *testing.B) (*Direct, []string) {
	b.Helper()
	d := target(b)
	benchOnce.Do(func() {
		mb := 256
		if v, err := strconv.Atoi(os.Getenv("IPAI_BENCH_DB_MB")); err == nil && v > 0 {
			mb = v
		}
		rows := mb * 1024 * 1024 / 160 // ~160 bytes per row on disk
		c := testpg.Get(b)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range 4 {
			name := fmt.Sprintf("ipai_bench_%d_%d", os.Getpid(), i)
			benchDBs = append(benchDBs, name)
			wg.Add(1)
			go func() {
				defer wg.Done()
				if errs[i] = c.Exec("CREATE DATABASE " + name); errs[i] != nil {
					return
				}
				conn, err := pgx.Connect(context.Background(), c.DatabaseURL(name))
				if err != nil {
					errs[i] = err
					return
				}
				defer conn.Close(context.Background())
				_, errs[i] = conn.Exec(context.Background(), fmt.Sprintf(`
CREATE TABLE account_move_line (id bigint PRIMARY KEY, move_id int, name text, ref text, debit numeric(14,2), credit numeric(14,2), date date, partner_id int);
INSERT INTO account_move_line SELECT g, g / 7, 'Line ' || md5(g::text), md5((g * 31)::text), (g %% 1000) * 1.25, (g %% 777) * 0.5,
  date '2024-01-01' + (g %% 700), g %% 5000 FROM generate_series(1, %d) g;
CREATE TABLE res_partner AS SELECT g AS id, 'Partner ' || g AS name, md5(g::text) || '@example.com' AS email FROM generate_series(1, %d) g;`, rows, rows/20))
			}()
		}
		wg.Wait()
		for _, e := range errs {
			if e != nil {
				benchErr = e
			}
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return d, benchDBs
}

func totalSize(b *testing.B, d *Direct, dbs []string) int64 {
	conn, err := pgx.Connect(context.Background(), d.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int64
	for _, db := range dbs {
		var s int64
		if err := conn.QueryRow(context.Background(), "SELECT pg_database_size($1)", db).Scan(&s); err != nil {
			b.Fatal(err)
		}
		n += s
	}
	return n
}

func BenchmarkBackupParallel(b *testing.B) {
	d, dbs := benchSetup(b)
	size := totalSize(b, d, dbs)
	out := b.TempDir()
	b.ResetTimer()
	for range b.N {
		res, err := Backup(context.Background(), Options{Target: d, Databases: dbs, OutDir: out, Jobs: runtime.NumCPU()})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.Remove(res.Path)
		b.StartTimer()
	}
	b.SetBytes(size)
}

func BenchmarkBackupParallelZ1(b *testing.B) {
	d, dbs := benchSetup(b)
	size := totalSize(b, d, dbs)
	out := b.TempDir()
	one := 1
	b.ResetTimer()
	for range b.N {
		res, err := Backup(context.Background(), Options{Target: d, Databases: dbs, OutDir: out, Jobs: runtime.NumCPU(), Compress: &one})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.Remove(res.Path)
		b.StartTimer()
	}
	b.SetBytes(size)
}

func BenchmarkPgDumpSerial(b *testing.B) {
	d, dbs := benchSetup(b)
	size := totalSize(b, d, dbs)
	out := b.TempDir()
	b.ResetTimer()
	for range b.N {
		for _, db := range dbs {
			f := filepath.Join(out, db+".dump")
			if o, err := exec.Command(d.bin("pg_dump"), "-Fc", "-f", f, "--dbname="+d.dbURL(db)).CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, o)
			}
		}
	}
	b.SetBytes(size)
}

// benchBackup makes an archive of dbs and plain pg_dump files of them, outside the timer.
func benchBackup(b *testing.B, d *Direct, dbs []string) (string, string) {
	b.Helper()
	dir := b.TempDir()
	res, err := Backup(context.Background(), Options{Target: d, Databases: dbs, OutDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	for _, db := range dbs {
		f := filepath.Join(dir, db+".dump")
		if o, err := exec.Command(d.bin("pg_dump"), "-Fc", "-f", f, "--dbname="+d.dbURL(db)).CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, o)
		}
	}
	return res.Path, dir
}

// BenchmarkRestoreParallel restores the 4 databases (verify checksums,
// pg_restore in parallel, compare row counts, swap, drop the old copies).
func BenchmarkRestoreParallel(b *testing.B) {
	d, dbs := benchSetup(b)
	archive, _ := benchBackup(b, d, dbs)
	b.ResetTimer()
	for range b.N {
		if _, err := Restore(context.Background(), RestoreOptions{Target: d, Archive: archive, DropOld: true, Jobs: runtime.NumCPU()}); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(totalSize(b, d, dbs))
}

// BenchmarkPgRestoreSerial: createdb + pg_restore of each dump, one after another.
func BenchmarkPgRestoreSerial(b *testing.B) {
	d, dbs := benchSetup(b)
	_, dir := benchBackup(b, d, dbs)
	c := testpg.Get(b)
	b.ResetTimer()
	for i := range b.N {
		for _, db := range dbs {
			name := fmt.Sprintf("%s_plain_%d", db, i)
			if err := c.Exec("CREATE DATABASE " + name); err != nil {
				b.Fatal(err)
			}
			if o, err := exec.Command(d.bin("pg_restore"), "--exit-on-error", "--dbname="+d.dbURL(name), filepath.Join(dir, db+".dump")).CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, o)
			}
			b.StopTimer()
			_ = c.Exec("DROP DATABASE " + name)
			b.StartTimer()
		}
	}
	b.SetBytes(totalSize(b, d, dbs))
}

// BenchmarkCheckFilesTree: the check restore runs on every files/*.tar, on
// a filestore-like tree of 100,000 small files in 256 directories.
func BenchmarkCheckFilesTree(b *testing.B) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755})
	for i := range 256 {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("./filestore/odoo_core/%02x/", i), Typeflag: tar.TypeDir, Mode: 0o755})
	}
	body := bytes.Repeat([]byte("x"), 200)
	for i := range 100000 {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("./filestore/odoo_core/%02x/%040x", i%256, i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
		tw.Write(body)
	}
	tw.Close()
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if err := checkTarStream(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}
