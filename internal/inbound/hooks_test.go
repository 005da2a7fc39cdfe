package inbound

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/secret"
	"github.com/insightpulseai/ipai/internal/storetest"
	"github.com/insightpulseai/ipai/internal/webhooksig"
)

func newHooks(t *testing.T) *Hooks {
	t.Helper()
	db := storetest.Open(t, filepath.Join(t.TempDir(), "ipai.db"))
	box, err := secret.Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return NewHooks(db, box, nil, nil, nil)
}

// Only a hook that is not there (or not incoming) is a 404 on rotate; a
// store that fails is an error that keeps its cause (the API's 500).
func TestRotateTellsMissingFromFailing(t *testing.T) {
	ctx := context.Background()
	h := newHooks(t)
	c, err := h.Create(ctx, "shop", "", event.HookSpec{Scheme: webhooksig.SchemeStandard}, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Rotate(ctx, c.Hook.ID); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if p, ok := problem.As(func() error { _, err := h.Rotate(ctx, "hook_missing"); return err }()); !ok || p.Status != http.StatusNotFound {
		t.Fatalf("rotate of a missing hook = %v; want a 404", p)
	}
	h.DB.Close()
	_, err = h.Rotate(ctx, c.Hook.ID)
	if p, ok := problem.As(err); ok || err == nil {
		t.Fatalf("rotate with a closed store = %v (%v); want the store's error, not a problem", p, err)
	}
	if !errors.Is(err, sql.ErrConnDone) && !strings.Contains(err.Error(), "closed") {
		t.Fatalf("rotate error does not say the store is closed: %v", err)
	}
}
