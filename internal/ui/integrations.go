package ui

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/insightpulseai/ipai/internal/api"
	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/boardsync"
	"github.com/insightpulseai/ipai/internal/chatops"
	"github.com/insightpulseai/ipai/internal/chatops/n8nflow"
	"github.com/insightpulseai/ipai/internal/embed"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/store"
)

// Sync links: conflicts first, then pending, error and synced.

var syncOrder = []string{store.SyncConflict, store.SyncPending, store.SyncError, store.SyncSynced}

func (s *Server) syncList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	counts, err := s.DB.SyncLinkCounts(ctx)
	if err != nil {
		return err
	}
	total := 0
	for _, st := range syncOrder {
		total += counts[st]
	}
	from, to, pg := paginate(total, pageParam(r))
	// Walk the states in order, reading only the rows of this page.
	skip, need := from, to-from
	links := make([]store.SyncLink, 0, need)
	for _, st := range syncOrder {
		n := counts[st]
		if need == 0 {
			break
		}
		if skip >= n {
			skip -= n
			continue
		}
		take := min(n-skip, need)
		ls, err := s.DB.ListSyncLinks(ctx, store.SyncLinkFilter{State: st, Limit: take, Offset: skip})
		if err != nil {
			return err
		}
		links = append(links, ls...)
		need -= take
		skip = 0
	}
	cursors, err := s.DB.SyncCursors(ctx)
	if err != nil {
		return err
	}
	s.render(w, c, http.StatusOK, "sync", map[string]any{"Title": "Sync links", "Items": links, "Pager": pg,
		"Counts": counts, "Order": syncOrder, "Cursors": cursors, "Live": s.Sync != nil})
	return nil
}

func (s *Server) syncService() (*boardsync.Service, error) {
	if s.Sync == nil {
		return nil, problem.NotFound("no board links are configured: add sync.boards to ipai.yaml")
	}
	return s.Sync, nil
}

// syncDone answers a resolve or re-sync: refusals the API answers with 404
// or 409 become a flash, other failures (the ERP or the board) too, audited
// as the API would.
func (s *Server) syncDone(w http.ResponseWriter, r *http.Request, action, id, okMsg string, l store.SyncLink, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return problem.NotFound("no sync link %q", id)
	case errors.Is(err, boardsync.ErrNotConflict):
		s.audit(r, action, id, "refused: the link is not in conflict", nil, audit.Warning)
		return s.redirect(w, r, "/ui/sync", "Sync link "+id+" is not in conflict; nothing to resolve.")
	case err != nil:
		s.audit(r, action, id, "failed: "+err.Error(), nil, audit.Error)
		return s.redirect(w, r, "/ui/sync", "Sync link "+id+": "+err.Error())
	}
	s.audit(r, action, id, okMsg, nil, audit.Info)
	return s.redirect(w, r, "/ui/sync", okMsg+" (link "+id+" is now "+l.State+").")
}

func (s *Server) syncResolve(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	svc, err := s.syncService()
	if err != nil {
		return err
	}
	keep := r.PostFormValue("keep")
	if keep != boardsync.KeepOdoo && keep != boardsync.KeepBoard {
		return problem.Invalid("keep", "%q: expected \"odoo\" or \"board\" (the side whose values win)", keep)
	}
	id := r.PathValue("id")
	l, err := svc.Resolve(r.Context(), id, keep)
	return s.syncDone(w, r, "sync.resolve", id, "sync conflict resolved keeping "+keep, l, err)
}

func (s *Server) syncResync(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	svc, err := s.syncService()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	l, err := svc.Resync(r.Context(), id)
	return s.syncDone(w, r, "sync.resync", id, "sync link re-synced", l, err)
}

// Bots & commands (read-only; views never carry tokens).

type botRow struct {
	chatops.BotView
	Commands []chatops.CommandView
}

func (s *Server) chat() (*chatops.Service, error) { return api.NeedChatOps(s.ChatOps) }

func (s *Server) botList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	co, err := s.chat()
	if err != nil {
		return err
	}
	bots, err := s.DB.Bots(r.Context())
	if err != nil {
		return err
	}
	from, to, pg := paginate(len(bots), pageParam(r))
	rows := make([]botRow, 0, to-from)
	for _, b := range bots[from:to] {
		cs, err := s.DB.Commands(r.Context(), b.Username)
		if err != nil {
			return err
		}
		row := botRow{BotView: chatops.ViewBot(b)}
		for _, x := range cs {
			row.Commands = append(row.Commands, co.ViewCommand(x))
		}
		rows = append(rows, row)
	}
	s.render(w, c, http.StatusOK, "bots", map[string]any{"Title": "Bots & commands", "Items": rows, "Pager": pg})
	return nil
}

// n8n workflows & executions.

type workflowRow struct {
	store.N8NWorkflow
	TagList []string
}

func (s *Server) flows() (*n8nflow.Service, error) { return api.NeedFlows(s.Flows) }

func (s *Server) n8nPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	f, err := s.flows()
	if err != nil {
		return err
	}
	wfs, err := s.DB.N8NWorkflows(r.Context(), f.Cfg.Connector)
	if err != nil {
		return err
	}
	from, to, pg := paginate(len(wfs), pageParam(r))
	rows := make([]workflowRow, 0, to-from)
	names := map[string]string{}
	for _, x := range wfs {
		names[x.ID] = x.Name
	}
	for _, x := range wfs[from:to] {
		row := workflowRow{N8NWorkflow: x}
		_ = json.Unmarshal([]byte(x.Tags), &row.TagList)
		rows = append(rows, row)
	}
	wf := r.URL.Query().Get("workflow")
	execs, err := s.DB.N8NExecutions(r.Context(), wf, pageSize)
	if err != nil {
		return err
	}
	s.render(w, c, http.StatusOK, "n8n", map[string]any{"Title": "n8n", "Items": rows, "Pager": pg, "Execs": execs,
		"Names": names, "Workflow": wf, "Connector": f.Cfg.Connector})
	return nil
}

func (s *Server) n8nSync(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	f, err := s.flows()
	if err != nil {
		return err
	}
	target := "n8n:" + f.Cfg.Connector
	n, err := f.Sync(r.Context())
	switch {
	case errors.Is(err, n8nflow.ErrNotConfigured):
		s.audit(r, "n8n.sync", target, "refused: "+err.Error(), nil, audit.Warning)
		return s.redirect(w, r, "/ui/n8n", err.Error())
	case err != nil:
		s.audit(r, "n8n.sync", target, "failed: "+err.Error(), nil, audit.Error)
		return s.redirect(w, r, "/ui/n8n", "n8n sync failed: "+err.Error())
	}
	s.audit(r, "n8n.sync", target, "workflows synced", map[string]any{"n": n}, audit.Info)
	return s.redirect(w, r, "/ui/n8n", strconv.Itoa(n)+" workflows synced.")
}

// Superset dashboards the caller may see.

func (s *Server) supersetPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if s.Embed == nil {
		return problem.NotFound("no Superset dashboards are configured: add superset.dashboards to ipai.yaml")
	}
	// The caller as viewer, as the API's listDashboards sees them.
	v := embed.Viewer{UserID: c.P.ID, Login: c.P.Name, Role: string(c.P.Role)}
	ds := s.Embed.Visible(v)
	from, to, pg := paginate(len(ds), pageParam(r))
	s.render(w, c, http.StatusOK, "superset", map[string]any{"Title": "Superset dashboards", "Items": ds[from:to], "Pager": pg})
	return nil
}
