package api

import (
	"errors"
	"net/http"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/boardsync"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/store"
)

func init() {
	route("GET", "/api/v1/sync/links", auth.RoleUser, "", (*Server).listSyncLinks)
	route("GET", "/api/v1/sync/status", auth.RoleUser, "", (*Server).syncStatus)
	route("POST", "/api/v1/sync/links/{id}/resolve", auth.RoleManager, "sync.resolve", (*Server).resolveSyncLink)
	route("POST", "/api/v1/sync/links/{id}/resync", auth.RoleManager, "sync.resync", (*Server).resyncSyncLink)
}

var syncStates = map[string]bool{store.SyncSynced: true, store.SyncPending: true, store.SyncConflict: true, store.SyncError: true}

func (s *Server) listSyncLinks(w http.ResponseWriter, r *http.Request) error {
	f := store.SyncLinkFilter{State: r.URL.Query().Get("state"), Pair: r.URL.Query().Get("pair"), Limit: 500}
	if f.State != "" && !syncStates[f.State] {
		return problem.Invalid("state", "%q: expected synced, pending, conflict or error", f.State)
	}
	links, err := s.DB.ListSyncLinks(r.Context(), f)
	if err != nil {
		return err
	}
	if links == nil {
		links = []store.SyncLink{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"links": links})
	return nil
}

func (s *Server) syncStatus(w http.ResponseWriter, r *http.Request) error {
	counts, err := s.DB.SyncLinkCounts(r.Context())
	if err != nil {
		return err
	}
	cursors, err := s.DB.SyncCursors(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"links": counts, "cursors": cursors})
	return nil
}

func (s *Server) syncService() (*boardsync.Service, error) {
	if s.Sync == nil {
		return nil, problem.NotFound("no board links are configured: add sync.boards to ipai.yaml")
	}
	return s.Sync, nil
}

func syncErr(err error, id string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return problem.NotFound("no sync link %q", id)
	case errors.Is(err, boardsync.ErrNotConflict):
		return problem.Conflict("sync link %q is not in conflict; nothing to resolve", id)
	}
	return err
}

func (s *Server) resolveSyncLink(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.syncService()
	if err != nil {
		return err
	}
	var in struct {
		Keep string `json:"keep"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if in.Keep != boardsync.KeepOdoo && in.Keep != boardsync.KeepBoard {
		return problem.Invalid("keep", "%q: expected \"odoo\" or \"board\" (the side whose values win)", in.Keep)
	}
	id := r.PathValue("id")
	l, err := svc.Resolve(r.Context(), id, in.Keep)
	if err != nil {
		return syncErr(err, id)
	}
	Note(r, id, "sync conflict resolved keeping "+in.Keep, nil)
	writeJSON(w, http.StatusOK, l)
	return nil
}

func (s *Server) resyncSyncLink(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.syncService()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	l, err := svc.Resync(r.Context(), id)
	if err != nil {
		return syncErr(err, id)
	}
	Note(r, id, "sync link re-synced", nil)
	writeJSON(w, http.StatusOK, l)
	return nil
}
