package backup

import (
	"archive/tar"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/insightpulseai/ipai/internal/stack"
)

// The manifest's signature travels in PAX records of the manifest.json
// header: HMAC-SHA256 of the manifest's exact bytes under the stack's backup
// key, and an id of that key (so a restore can tell "another stack's key"
// from "changed after the backup"). The key itself is never in the archive.
const (
	paxMAC   = "IPAI.manifest-hmac-sha256"
	paxKeyID = "IPAI.backup-key-id"
)

// KeyEnv is the environment variable that holds a backup key (hex); it
// overrides the deployment's key file.
const KeyEnv = "IPAI_BACKUP_KEY"

// Key is the secret that signs and checks manifests.
type Key struct {
	secret []byte
	Source string // where it came from: IPAI_BACKUP_KEY or the key file's path
	// Created is true when LoadKey generated the key file just now.
	Created bool
}

// NewKey wraps a secret of at least 32 bytes.
func NewKey(secret []byte, source string) (*Key, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("backup key from %s has %d bytes, want at least 32: make one with `openssl rand -hex 32`", source, len(secret))
	}
	return &Key{secret: secret, Source: source}, nil
}

// ID is a public fingerprint of the key (it does not reveal the key).
func (k *Key) ID() string {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte("ipai backup key id"))
	return hex.EncodeToString(m.Sum(nil))[:16]
}

func (k *Key) mac(manifest []byte) []byte {
	m := hmac.New(sha256.New, k.secret)
	m.Write(manifest)
	return m.Sum(nil)
}

// sign adds the signature records of manifest to hdr.
func (k *Key) sign(hdr *tar.Header, manifest []byte) {
	if hdr.PAXRecords == nil {
		hdr.PAXRecords = map[string]string{}
	}
	hdr.PAXRecords[paxMAC] = hex.EncodeToString(k.mac(manifest))
	hdr.PAXRecords[paxKeyID] = k.ID()
	hdr.Format = tar.FormatPAX
}

// KeyPath is where a deployment keeps its backup key: beside docker/.env,
// mode 0600, never included in a backup.
func KeyPath(dir string) string { return filepath.Join(dir, "docker", "backup.key") }

// keyRel is KeyPath relative to the deployment directory (left out of backups).
const keyRel = "docker/backup.key"

// LoadKey returns the backup key: env (the value of IPAI_BACKUP_KEY, hex)
// when set, else the key file of the deployment in dir. With create, a
// missing key file of an existing deployment is generated (32 random bytes,
// mode 0600). It returns nil, nil when there is no key (no env, and dir is
// not a deployment or, without create, has no key file).
func LoadKey(dir, env string, create bool) (*Key, error) {
	if env = strings.TrimSpace(env); env != "" {
		b, err := hex.DecodeString(env)
		if err != nil {
			return nil, fmt.Errorf("%s is not hex: set it to 64 hex characters (`openssl rand -hex 32`) or unset it to use %s", KeyEnv, KeyPath(dir))
		}
		return NewKey(b, KeyEnv)
	}
	if dir == "" {
		return nil, nil
	}
	if _, err := stack.LoadDeployment(dir); err != nil {
		return nil, nil
	}
	p := KeyPath(dir)
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		if !create {
			return nil, nil
		}
		return createKey(p)
	}
	if err != nil {
		return nil, fmt.Errorf("read backup key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read backup key: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("backup key %s must be a regular file only its owner can read (it is %s): chmod 600 %s", p, fi.Mode(), p)
	}
	buf := make([]byte, 1024)
	n, _ := f.Read(buf)
	b, err := hex.DecodeString(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		return nil, fmt.Errorf("backup key %s is not hex: restore it from your copy, or move it away to have the next backup create a new one (older archives then need --allow-unsigned)", p)
	}
	return NewKey(b, p)
}

func createKey(p string) (*Key, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create backup key: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(secret) + "\n"); err != nil {
		f.Close()
		os.Remove(p)
		return nil, fmt.Errorf("create backup key: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(p)
		return nil, fmt.Errorf("create backup key: %w", err)
	}
	k, err := NewKey(secret, p)
	if k != nil {
		k.Created = true
	}
	return k, err
}

// checkSignature checks the manifest's signature records against key. It
// returns a description of what was checked, or an error saying what is
// wrong and what to do. allowUnsigned turns the refusals into warnings.
func checkSignature(archive string, hdr *tar.Header, manifest []byte, key *Key, allowUnsigned bool) (status string, warn string, err error) {
	macHex, signed := hdr.PAXRecords[paxMAC]
	keyID := hdr.PAXRecords[paxKeyID]
	if key == nil {
		// The caller says so (the command prints that no key was found).
		if signed {
			return "signed (key " + printable(keyID) + "), not checked: no backup key", "", nil
		}
		return "unsigned, not checked: no backup key", "", nil
	}
	var problem string
	switch {
	case !signed:
		problem = fmt.Sprintf("archive %s is not signed, and this stack has a backup key (%s): an unsigned archive may have been made or changed by anyone who could write the file. "+
			"Restore it only if you know where it came from, with --allow-unsigned", archive, key.Source)
	case keyID != key.ID():
		problem = fmt.Sprintf("archive %s was signed with another backup key (id %s; the key from %s has id %s): set %s to the key of the stack that made the archive (its docker/backup.key), "+
			"or pass --allow-unsigned if you know where the file came from", archive, printable(keyID), key.Source, key.ID(), KeyEnv)
	default:
		got, err := hex.DecodeString(macHex)
		if err != nil || !hmac.Equal(got, key.mac(manifest)) {
			problem = fmt.Sprintf("archive %s: its manifest does not match its signature (key %s), so it was changed after the backup was made; nothing was restored. "+
				"Use another backup (pass --allow-unsigned only if you changed the archive yourself)", archive, key.ID())
		}
	}
	if problem == "" {
		return "signed with key " + key.ID() + ", signature valid", "", nil
	}
	if !allowUnsigned {
		return "", "", errors.New(problem)
	}
	return "signature not valid, restored anyway (--allow-unsigned)", "--allow-unsigned: " + problem, nil
}

// printable cuts and cleans a value from the archive before it goes into a message.
func printable(s string) string {
	if len(s) > 32 {
		s = s[:32]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}
