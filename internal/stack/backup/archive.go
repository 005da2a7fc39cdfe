package backup

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// maxManifest bounds the manifest read before it is checked.
const maxManifest = 64 << 20

// VerifyArchive reads the whole archive and checks every member against the
// manifest (size and sha256), that none is missing and none is unknown.
func VerifyArchive(path string) (*Manifest, error) {
	m, _, err := readArchive(path, "", nil)
	return m, err
}

// readArchive verifies path and, when dir is set, writes the members keep
// selects into dir (same relative names). It returns the manifest and the
// offset of every member's data in the file. On any error the caller must not
// use what was written.
func readArchive(path, dir string, keep func(name string) bool) (*Manifest, map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	// tar.Reader reads headers in whole blocks and data on demand, so the
	// count after Next is where the member's data starts.
	cr := &offsetReader{r: f}
	tr := tar.NewReader(cr)
	offsets := map[string]int64{}
	hdr, err := tr.Next()
	if err != nil {
		return nil, nil, fmt.Errorf("%s is not a backup archive (cannot read its first member: %v)", path, err)
	}
	if hdr.Name != ManifestName || hdr.Size > maxManifest {
		return nil, nil, fmt.Errorf("%s is not a backup archive: first member is %q, want %s", path, hdr.Name, ManifestName)
	}
	mb, err := io.ReadAll(tr)
	if err != nil {
		return nil, nil, fmt.Errorf("read manifest: %w (the archive is truncated or corrupt)", err)
	}
	var m Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return nil, nil, fmt.Errorf("manifest is corrupt: %w", err)
	}
	if err := m.validate(); err != nil {
		return nil, nil, err
	}
	want := map[string]FileEntry{}
	for _, fe := range m.Files {
		want[fe.Name] = fe
	}
	seen := map[string]bool{}
	var problems []string
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("archive is truncated or corrupt after %d members: %w", len(seen), err)
		}
		fe, ok := want[hdr.Name]
		if !ok || seen[hdr.Name] || hdr.Typeflag != tar.TypeReg {
			problems = append(problems, fmt.Sprintf("unexpected member %q", hdr.Name))
			continue
		}
		seen[hdr.Name] = true
		offsets[hdr.Name] = cr.n
		var w io.Writer = io.Discard
		var out *os.File
		if dir != "" && keep != nil && keep(hdr.Name) {
			p := filepath.Join(dir, filepath.FromSlash(hdr.Name))
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return nil, nil, err
			}
			if out, err = os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600); err != nil {
				return nil, nil, err
			}
			w = out
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(w, h), tr)
		if out != nil {
			if cerr := out.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w (the archive is truncated or corrupt)", hdr.Name, err)
		}
		if n != fe.Size {
			problems = append(problems, fmt.Sprintf("%s: size %d, manifest says %d", hdr.Name, n, fe.Size))
		} else if sum := hex.EncodeToString(h.Sum(nil)); sum != fe.SHA256 {
			problems = append(problems, fmt.Sprintf("%s: sha256 %s, manifest says %s", hdr.Name, sum[:12], fe.SHA256[:12]))
		}
	}
	for _, fe := range m.Files {
		if !seen[fe.Name] {
			problems = append(problems, fmt.Sprintf("%s: missing from the archive", fe.Name))
		}
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("archive %s failed verification, nothing was restored: %s", path, strings.Join(problems, "; "))
	}
	return &m, offsets, nil
}

// untar extracts a tar file into dir, refusing names that escape it.
func untar(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(filepath.FromSlash(hdr.Name))
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) {
			return fmt.Errorf("%s: member %q escapes the target directory", file, hdr.Name)
		}
		p := filepath.Join(dir, name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, os.FileMode(hdr.Mode).Perm()|0o700); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(hdr.Linkname, p); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			out, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, os.FileMode(hdr.Mode).Perm())
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}

type offsetReader struct {
	r io.Reader
	n int64
}

func (o *offsetReader) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	o.n += int64(n)
	return n, err
}
