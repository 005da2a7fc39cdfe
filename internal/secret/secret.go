// Package secret seals connector secrets at rest with AES-256-GCM under a
// master key. The key comes from IPAI_MASTER_KEY (32 bytes, base64 or hex)
// or from a key file created (mode 0600) in the data directory on first
// start; a key file readable by group or others is refused.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// EnvKey names the environment variable holding the master key.
const EnvKey = "IPAI_MASTER_KEY"

// KeyFile is the key file's name inside the data directory.
const KeyFile = "master.key"

// prefix marks sealed values (version 1: AES-256-GCM, 12-byte nonce).
const prefix = "v1:"

// ErrOpen is returned when a sealed value cannot be opened (wrong key or
// tampered data).
var ErrOpen = errors.New("cannot open sealed secret: wrong master key or corrupted value")

// Box seals and opens secrets with one master key.
type Box struct{ aead cipher.AEAD }

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("master key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// ParseKey reads a 32-byte key written as hex (64 digits) or base64
// (standard or URL alphabet, padded or not).
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 64 {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("master key must be 32 bytes written as 64 hex digits or base64 (e.g. from: openssl rand -base64 32)")
}

// ErrKeyMissing is returned when the key file is missing while data sealed
// with a master key exists: a new key could not open it.
var ErrKeyMissing = errors.New("master key missing")

// LoadFor is Load for a hub whose store may already hold sealed data:
// sealed describes it ("" for none). When neither IPAI_MASTER_KEY nor the
// key file is there and sealed data exists, no key is created (it could
// not open that data) and the error says what to do.
func LoadFor(dataDir string, sealed func() (string, error)) (*Box, error) {
	if os.Getenv(EnvKey) == "" && sealed != nil {
		path := filepath.Join(dataDir, KeyFile)
		if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
			what, err := sealed()
			if err != nil {
				return nil, fmt.Errorf("master key file %s is missing and the database could not be checked for sealed data: %w", path, err)
			}
			if what != "" {
				return nil, fmt.Errorf("%w: %s does not exist, but the database holds data sealed with a master key (%s); "+
					"a new key could not open it, so none was created. Restore master.key from a backup into %s (mode 0600) "+
					"or set %s to the key; only if the old key is lost for good, delete or re-enter those secrets and start again",
					ErrKeyMissing, path, what, dataDir, EnvKey)
			}
		}
	}
	return Load(dataDir)
}

// Load returns the master key: IPAI_MASTER_KEY when set, else the key
// file in dataDir, created with 32 random bytes on first use. A key file
// whose mode lets group or others read it is refused. A hub with a store
// uses LoadFor, which refuses to create a key when sealed data exists.
func Load(dataDir string) (*Box, error) {
	if v := os.Getenv(EnvKey); v != "" {
		key, err := ParseKey(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvKey, err)
		}
		return New(key)
	}
	path := filepath.Join(dataDir, KeyFile)
	key, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return create(path)
	}
	if err != nil {
		return nil, err
	}
	return New(key)
}

func readKeyFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key file %s has mode %04o: it must be readable by its owner only (run: chmod 600 %s)", path, st.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return key, nil
}

func create(path string) (*Box, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process won the race
		k, err := readKeyFile(path)
		if err != nil {
			return nil, err
		}
		return New(k)
	}
	if err != nil {
		return nil, fmt.Errorf("create master key file: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return New(key)
}

// Seal encrypts plaintext; aad binds the value to its place (e.g. the
// connector code and secret name) so it cannot be moved to another row.
func (b *Box) Seal(plaintext, aad string) string {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("secret: no randomness: " + err.Error())
	}
	ct := b.aead.Seal(nonce, nonce, []byte(plaintext), []byte(aad))
	return prefix + base64.RawStdEncoding.EncodeToString(ct)
}

// Open decrypts a value made by Seal with the same aad.
func (b *Box) Open(sealed, aad string) (string, error) {
	if !strings.HasPrefix(sealed, prefix) {
		return "", ErrOpen
	}
	raw, err := base64.RawStdEncoding.DecodeString(sealed[len(prefix):])
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", ErrOpen
	}
	n := b.aead.NonceSize()
	pt, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(aad))
	if err != nil {
		return "", ErrOpen
	}
	return string(pt), nil
}
