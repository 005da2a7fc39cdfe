package secret

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	b, err := New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	s := b.Seal("tok-123", "connector:mm:token")
	if strings.Contains(s, "tok-123") || !strings.HasPrefix(s, "v1:") {
		t.Fatalf("sealed = %q", s)
	}
	if s2 := b.Seal("tok-123", "connector:mm:token"); s2 == s {
		t.Fatal("two seals of the same value are equal (nonce reuse)")
	}
	got, err := b.Open(s, "connector:mm:token")
	if err != nil || got != "tok-123" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := b.Open(s, "connector:other:token"); !errors.Is(err, ErrOpen) {
		t.Fatalf("open with another aad: %v", err)
	}
	other, _ := New([]byte(strings.Repeat("k", 32)))
	if _, err := other.Open(s, "connector:mm:token"); !errors.Is(err, ErrOpen) {
		t.Fatalf("open with another key: %v", err)
	}
	tampered := s[:len(s)-2] + "AA"
	if _, err := b.Open(tampered, "connector:mm:token"); !errors.Is(err, ErrOpen) {
		t.Fatalf("open tampered: %v", err)
	}
}

func TestParseKey(t *testing.T) {
	k := []byte("0123456789abcdef0123456789abcdef")
	for _, s := range []string{hex.EncodeToString(k), base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k)} {
		got, err := ParseKey(s)
		if err != nil || string(got) != string(k) {
			t.Errorf("ParseKey(%q) = %q, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "short", base64.StdEncoding.EncodeToString(k[:16])} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) accepted", s)
		}
	}
}

func TestLoadKeyFile(t *testing.T) {
	t.Setenv(EnvKey, "")
	dir := t.TempDir()
	b1, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v", st.Mode(), err)
	}
	sealed := b1.Seal("x", "a")
	b2, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := b2.Open(sealed, "a"); err != nil || v != "x" {
		t.Fatalf("reloaded key cannot open: %q %v", v, err)
	}
	if err := os.Chmod(filepath.Join(dir, KeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("wide key file accepted: %v", err)
	}
}

func TestLoadEnv(t *testing.T) {
	k := strings.Repeat("ab", 32)
	t.Setenv(EnvKey, k)
	dir := t.TempDir()
	if _, err := Load(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); !os.IsNotExist(err) {
		t.Fatal("a key file was created although IPAI_MASTER_KEY is set")
	}
	t.Setenv(EnvKey, "nope")
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), EnvKey) {
		t.Fatalf("bad env key: %v", err)
	}
}
