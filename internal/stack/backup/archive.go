package backup

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxManifest bounds the manifest read before it is checked.
const maxManifest = 64 << 20

// VerifyArchive reads the whole archive and checks every member against the
// manifest (size and sha256), that none is missing and none is unknown, and
// that every files/*.tar member would extract inside its target. It does not
// check the manifest's signature.
func VerifyArchive(path string) (*Manifest, error) {
	a, err := readArchive(path, readOptions{allowUnsigned: true})
	if err != nil {
		return nil, err
	}
	return a.manifest, nil
}

// readOptions say what readArchive extracts and how it checks the signature.
type readOptions struct {
	dir           string                 // extract into dir the members keep selects (same relative names)
	keep          func(name string) bool // nil extracts nothing
	key           *Key                   // nil: the signature is not checked
	allowUnsigned bool                   // a missing or bad signature is a warning, not an error
}

// readResult is a verified archive.
type readResult struct {
	manifest  *Manifest
	offsets   map[string]int64 // where each member's data starts in the file
	signature string           // what the signature check found
	warning   string           // a signature problem let through, or "" when none
}

// readArchive verifies path: the manifest (and its signature against
// o.key), every member's size and sha256, and every entry of every
// files/*.tar (names, types, link targets); it writes the members o.keep
// selects into o.dir. On any error the caller must not use what was written.
func readArchive(path string, o readOptions) (*readResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// tar.Reader reads headers in whole blocks and data on demand, so the
	// count after Next is where the member's data starts.
	cr := &offsetReader{r: f}
	tr := tar.NewReader(cr)
	offsets := map[string]int64{}
	hdr, err := tr.Next()
	if err != nil {
		return nil, fmt.Errorf("%s is not a backup archive (cannot read its first member: %v)", path, err)
	}
	if hdr.Name != ManifestName || hdr.Typeflag != tar.TypeReg || hdr.Size > maxManifest {
		return nil, fmt.Errorf("%s is not a backup archive: first member is %q, want %s", path, printable(hdr.Name), ManifestName)
	}
	mb, err := io.ReadAll(tr)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w (the archive is truncated or corrupt)", err)
	}
	res := &readResult{offsets: offsets}
	// The signature is checked on the manifest's exact bytes before they are parsed.
	if res.signature, res.warning, err = checkSignature(path, hdr, mb, o.key, o.allowUnsigned); err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return nil, fmt.Errorf("manifest is corrupt: %w", err)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	res.manifest = &m
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
			return nil, fmt.Errorf("archive is truncated or corrupt after %d members: %w", len(seen), err)
		}
		fe, ok := want[hdr.Name]
		if !ok || seen[hdr.Name] || hdr.Typeflag != tar.TypeReg {
			problems = append(problems, fmt.Sprintf("unexpected member %q", printable(hdr.Name)))
			if len(problems) > 100 {
				break
			}
			continue
		}
		seen[hdr.Name] = true
		offsets[hdr.Name] = cr.n
		var w io.Writer = io.Discard
		var out *os.File
		if o.dir != "" && o.keep != nil && o.keep(hdr.Name) {
			p := filepath.Join(o.dir, filepath.FromSlash(hdr.Name))
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return nil, err
			}
			if out, err = os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err != nil {
				return nil, err
			}
			w = out
		}
		h := sha256.New()
		var n int64
		var bad error
		if strings.HasPrefix(hdr.Name, "files/") {
			// Check the inner tar on the way: it is read once, like the rest.
			cw := &countWriter{}
			tee := io.TeeReader(tr, io.MultiWriter(w, h, cw))
			if bad = checkTarStream(tee); bad != nil {
				bad = fmt.Errorf("%s: %w", hdr.Name, bad)
			}
			_, err = io.Copy(io.Discard, tee)
			n = cw.total
		} else {
			n, err = io.Copy(io.MultiWriter(w, h), tr)
		}
		if out != nil {
			if cerr := out.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w (the archive is truncated or corrupt)", hdr.Name, err)
		}
		if n != fe.Size {
			problems = append(problems, fmt.Sprintf("%s: size %d, manifest says %d", hdr.Name, n, fe.Size))
		} else if sum := hex.EncodeToString(h.Sum(nil)); sum != fe.SHA256 {
			problems = append(problems, fmt.Sprintf("%s: sha256 %s, manifest says %s", hdr.Name, sum[:12], printable(fe.SHA256[:12])))
		} else if bad != nil {
			problems = append(problems, bad.Error())
		}
	}
	for _, fe := range m.Files {
		if !seen[fe.Name] {
			problems = append(problems, fmt.Sprintf("%s: missing from the archive", fe.Name))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("archive %s failed verification, nothing was restored: %s", path, strings.Join(problems, "; "))
	}
	return res, nil
}

// maxLinkDepth bounds the symlinks followed while resolving one link target
// (Linux gives up after 40 too).
const maxLinkDepth = 40

// implicitDir marks a directory only implied by a deeper member's name.
const implicitDir = 'i'

// tarCheck models the tree a files/*.tar would create, member by member,
// and refuses what would leave the directory it is extracted into:
// absolute names, "..", members under a symlink or a file, duplicates, hard
// links to anything but an earlier regular file, symlinks whose target (at
// the end, through every other link) resolves outside, and unknown types.
// It keeps one byte per path (filestores hold many files).
type tarCheck struct {
	types    map[string]byte   // clean path → tar type, or implicitDir
	links    map[string]string // symlink → target as written
	symlinks []string          // in archive order
	rootMode int64             // mode of the "." entry, -1 when none
}

func newTarCheck() *tarCheck {
	return &tarCheck{types: map[string]byte{}, links: map[string]string{}, rootMode: -1}
}

func isDir(typ byte) bool { return typ == tar.TypeDir || typ == implicitDir }

// cleanMember turns a member or hard link name into a clean relative
// slash path ("." for the root), refusing absolute names and "..".
func cleanMember(name string) (string, error) {
	switch {
	case name == "":
		return "", errors.New("empty name")
	case strings.ContainsRune(name, 0):
		return "", fmt.Errorf("%q: NUL in the name", printable(name))
	case strings.HasPrefix(name, "/"):
		return "", fmt.Errorf("%q: absolute path", printable(name))
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("%q: \"..\" in the path", printable(name))
		}
	}
	return path.Clean(name), nil
}

// add checks one header; the caller applies it only when add returns nil.
// skip is true for members that are not created (devices, fifos, global headers).
func (c *tarCheck) add(hdr *tar.Header) (name string, skip bool, err error) {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return "", true, nil
	}
	if name, err = cleanMember(hdr.Name); err != nil {
		return "", false, err
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		return "", false, fmt.Errorf("%q: unsupported member type %q", printable(hdr.Name), hdr.Typeflag)
	}
	if name == "." {
		if hdr.Typeflag != tar.TypeDir {
			return "", false, fmt.Errorf("%q: the top directory itself must be a directory", printable(hdr.Name))
		}
		c.rootMode = hdr.Mode
		return name, false, nil
	}
	// Every parent must be a directory (never a symlink: nothing is opened through a link).
	for i := 0; i < len(name); i++ {
		if name[i] != '/' {
			continue
		}
		p := name[:i]
		typ, ok := c.types[p]
		switch {
		case !ok:
			c.types[p] = implicitDir
		case typ == tar.TypeSymlink:
			return "", false, fmt.Errorf("%q lies under the symlink %q", printable(hdr.Name), printable(p))
		case !isDir(typ):
			return "", false, fmt.Errorf("%q lies under %q, which is not a directory", printable(hdr.Name), printable(p))
		}
	}
	if typ, ok := c.types[name]; ok {
		if hdr.Typeflag == tar.TypeDir && isDir(typ) {
			c.types[name] = tar.TypeDir
			return name, false, nil
		}
		return "", false, fmt.Errorf("%q appears twice (or a member lies under it)", printable(hdr.Name))
	}
	switch hdr.Typeflag {
	case tar.TypeSymlink:
		if hdr.Linkname == "" || strings.ContainsRune(hdr.Linkname, 0) {
			return "", false, fmt.Errorf("symlink %q has no valid target", printable(hdr.Name))
		}
		if strings.HasPrefix(hdr.Linkname, "/") {
			return "", false, fmt.Errorf("symlink %q points to the absolute path %q, outside the restored directory", printable(hdr.Name), printable(hdr.Linkname))
		}
		c.links[name] = hdr.Linkname
		c.symlinks = append(c.symlinks, name)
	case tar.TypeLink:
		target, err := cleanMember(hdr.Linkname)
		if err != nil {
			return "", false, fmt.Errorf("hard link %q: target %w", printable(hdr.Name), err)
		}
		if c.types[target] != tar.TypeReg {
			return "", false, fmt.Errorf("hard link %q: target %q is not a file earlier in the archive", printable(hdr.Name), printable(hdr.Linkname))
		}
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		skip = true
	}
	c.types[name] = hdr.Typeflag
	return name, skip, nil
}

// finish checks every symlink's target against the complete tree.
func (c *tarCheck) finish() error {
	for _, name := range c.symlinks {
		if err := c.resolve(name); err != nil {
			return fmt.Errorf("symlink %q -> %q: %w", printable(name), printable(c.links[name]), err)
		}
	}
	return nil
}

// resolve follows the symlink name as the kernel would, through every other
// symlink of the tree, and fails when the path leaves the root.
func (c *tarCheck) resolve(name string) error {
	cur := strings.Split(path.Dir(name), "/")
	if cur[0] == "." {
		cur = nil
	}
	todo := strings.Split(c.links[name], "/")
	depth := 0
	for len(todo) > 0 {
		comp := todo[0]
		todo = todo[1:]
		switch comp {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return errors.New("leaves the restored directory")
			}
			cur = cur[:len(cur)-1]
			continue
		}
		p := strings.Join(append(cur, comp), "/")
		if link, ok := c.links[p]; ok {
			if depth++; depth > maxLinkDepth {
				return errors.New("too many levels of symlinks (a loop?)")
			}
			if strings.HasPrefix(link, "/") {
				return errors.New("goes through a symlink to an absolute path")
			}
			todo = append(strings.Split(link, "/"), todo...)
			continue
		}
		cur = append(cur, comp)
	}
	return nil
}

// checkTarStream reads a whole tar stream and checks it.
func checkTarStream(r io.Reader) error {
	c := newTarCheck()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return c.finish()
		}
		if err != nil {
			return fmt.Errorf("not a valid tar file: %w", err)
		}
		if _, _, err := c.add(hdr); err != nil {
			return err
		}
	}
}

// untar extracts the tar file into the directory root, which must be new
// and empty. It checks every member again as it goes and creates everything
// through the directory handle (os.Root), which never leaves the directory;
// symlinks are created last, after every target was checked, so nothing is
// ever written through one.
func untar(file string, root *os.Root) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	c := newTarCheck()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		name, skip, err := c.add(hdr)
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(file), err)
		}
		if skip || name == "." {
			continue
		}
		if dir := path.Dir(name); dir != "." {
			if err := root.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
		perm := os.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.Mkdir(name, perm|0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		case tar.TypeLink:
			if err := root.Link(path.Clean(hdr.Linkname), name); err != nil {
				return err
			}
		case tar.TypeReg:
			out, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
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
	if err := c.finish(); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(file), err)
	}
	for _, name := range c.symlinks {
		if err := root.Symlink(c.links[name], name); err != nil {
			return err
		}
	}
	if c.rootMode >= 0 {
		return root.Chmod(".", os.FileMode(c.rootMode).Perm()|0o700)
	}
	return nil
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
