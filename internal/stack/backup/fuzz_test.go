package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Fuzz targets of the archive reader. `go test` runs their seeds; run the
// fuzzer with
//   go test -run '^$' -fuzz FuzzFilesTree -fuzztime 3m ./internal/stack/backup/
//   go test -run '^$' -fuzz FuzzArchive -fuzztime 3m ./internal/stack/backup/

func fuzzSeeds(f *testing.F) [][]byte {
	return [][]byte{
		buildTar(f, dir("./"), dir("./a/"), file("./a/f", "data"), hardlink("./a/h", "./a/f"), symlink("./a/s", "f"), symlink("./up", "a/../a/s")),
		buildTar(f, symlink("lnk", "/tmp"), file("lnk/x", "pwned")),
		buildTar(f, dir("d"), symlink("d/a", ".."), symlink("b", "d/a/../x")),
		buildTar(f, symlink("a", "b"), symlink("b", "a")),
		buildTar(f, file("../x", "pwned"), hardlink("h", "../x")),
		buildTar(f, file("x", "1"), file("x/y", "2"), symlink("z", "x/../..")),
		{},
	}
}

// FuzzFilesTree: any tar the checker accepts extracts without writing
// outside its directory, and every symlink it made resolves inside.
func FuzzFilesTree(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { extractChecked(t, data) })
}

// FuzzFilesTreeEntries is FuzzFilesTree on well-formed tars: each line of
// the input is one entry, "TYPE NAME" or "TYPE NAME -> LINK" (TYPE: 0 file,
// 5 directory, 2 symlink, 1 hard link), so the fuzzer explores trees rather
// than tar header checksums.
func FuzzFilesTreeEntries(f *testing.F) {
	for _, s := range []string{
		"5 ./\n5 ./a/\n0 ./a/f\n1 ./a/h -> ./a/f\n2 ./a/s -> f\n2 ./up -> a/../a/s",
		"2 lnk -> /tmp\n0 lnk/x",
		"5 d\n2 d/a -> ..\n2 b -> d/a/../x",
		"2 b -> d/a/../x\n2 d/a -> ..",
		"2 a -> b\n2 b -> a",
		"2 a -> .\n2 b -> a/a/a/../../..",
		"0 x\n1 y -> x\n2 z -> y/..",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, line := range strings.Split(spec, "\n") {
			if len(line) < 3 || line[1] != ' ' {
				continue
			}
			name, link, _ := strings.Cut(line[2:], " -> ")
			h := &tar.Header{Typeflag: line[0], Name: name, Linkname: link, Mode: 0o644}
			if h.Typeflag == tar.TypeReg {
				h.Size = 1
			}
			if tw.WriteHeader(h) != nil {
				return
			}
			if h.Size == 1 {
				tw.Write([]byte("x"))
			}
		}
		if tw.Close() != nil {
			return
		}
		extractChecked(t, buf.Bytes())
	})
}

// extractChecked extracts data when the checker accepts it and fails the
// test if anything was written outside or a symlink resolves outside.
func extractChecked(t *testing.T, data []byte) {
	{
		if checkTarStream(bytes.NewReader(data)) != nil {
			return
		}
		base := t.TempDir()
		in := filepath.Join(base, "in")
		tarFile := filepath.Join(base, "t.tar")
		if err := os.Mkdir(in, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(tarFile, data, 0o600); err != nil {
			t.Fatal(err)
		}
		root, err := os.OpenRoot(in)
		if err != nil {
			t.Fatal(err)
		}
		err = untar(tarFile, root)
		root.Close()
		if err != nil && !errors.Is(err, syscall.ENAMETOOLONG) {
			t.Fatalf("the checker accepted a tree that does not extract: %v", err)
		}
		entries, _ := os.ReadDir(base)
		for _, e := range entries {
			if e.Name() != "in" && e.Name() != "t.tar" {
				t.Fatalf("extraction wrote %s outside its directory", e.Name())
			}
		}
		realIn, _ := filepath.EvalSymlinks(in)
		_ = filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink == 0 {
				return nil
			}
			r, err := filepath.EvalSymlinks(p)
			if err != nil {
				// Dangling: its lexical target must still be inside.
				l, _ := os.Readlink(p)
				r = filepath.Join(filepath.Dir(p), l)
				if rel, _ := filepath.Rel(in, r); filepath.IsAbs(l) || rel == ".." || strings.HasPrefix(rel, "../") {
					t.Fatalf("symlink %s -> %s leaves the directory", p, l)
				}
				return nil
			}
			if r != realIn && !strings.HasPrefix(r, realIn+"/") {
				t.Fatalf("symlink %s resolves to %s, outside %s", p, r, realIn)
			}
			return nil
		})
	}
}

// FuzzArchive: the archive reader never panics, and what it accepts has a
// valid manifest whose every member was seen; fed whole archives built
// around fuzzed file trees, it accepts only trees the checker accepts.
func FuzzArchive(f *testing.F) {
	key := testKey(f, 7)
	for i, s := range fuzzSeeds(f) {
		var k *Key
		if i%2 == 0 {
			k = key
		}
		raw, err := os.ReadFile(withFiles(f, "", k, map[string][]byte{"odoo-data": s}))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, wrap bool) {
		dir := t.TempDir()
		p := filepath.Join(dir, "backup-20260101-000000.tar")
		if wrap {
			// data is a file tree: put it into a well-formed archive.
			var err error
			if data, err = os.ReadFile(withFiles(t, "", key, map[string][]byte{"odoo-data": data})); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		a, err := readArchive(p, readOptions{key: key, dir: dir, keep: func(string) bool { return true }})
		if err != nil {
			return
		}
		if err := a.manifest.validate(); err != nil {
			t.Fatalf("accepted an invalid manifest: %v", err)
		}
		for _, fe := range a.manifest.Files {
			if _, ok := a.offsets[fe.Name]; !ok {
				t.Fatalf("accepted an archive without %s", fe.Name)
			}
			if strings.HasPrefix(fe.Name, "files/") {
				raw, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(fe.Name)))
				if err != nil {
					t.Fatal(err)
				}
				if err := checkTarStream(bytes.NewReader(raw)); err != nil {
					t.Fatalf("accepted %s, which the checker refuses: %v", fe.Name, err)
				}
			}
		}
		if !strings.Contains(a.signature, "signature valid") {
			t.Fatalf("accepted an archive whose signature is %q", a.signature)
		}
		// Restore (files only: the fuzzed archive holds no databases it could restore).
		if len(a.manifest.Databases) == 0 {
			rep, err := Restore(context.Background(), RestoreOptions{Archive: p, Key: key, FilesTo: filepath.Join(dir, "out"), TempDir: dir})
			if err == nil && len(rep.FilesTo) != countFiles(a.manifest) {
				t.Fatalf("restored %v", rep.FilesTo)
			}
		}
	})
}

func countFiles(m *Manifest) int {
	n := 0
	for _, fe := range m.Files {
		if strings.HasPrefix(fe.Name, "files/") {
			n++
		}
	}
	return n
}
