package api

import (
	"errors"
	"html/template"
	"net/http"
	"os"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/embed"
	"github.com/insightpulseai/ipai/internal/problem"
)

func init() {
	route("GET", "/api/v1/superset/dashboards", auth.RoleUser, "", (*Server).listDashboards)
	// The page and its guest-token fetch also work with the UI's session.
	routeSession("POST", "/api/v1/superset/guest-token/{dashboard}", auth.RoleUser, "", (*Server).guestToken)
	routeSession("GET", "/embed/dashboards/{id}", auth.RoleUser, "", (*Server).embedPage)
	route("GET", "/embed/sdk.js", auth.RolePublic, "", (*Server).embedSDK)
}

func (s *Server) embedService() (*embed.Service, error) {
	if s.Embed == nil {
		return nil, problem.NotFound("no Superset dashboards are configured: add superset.dashboards to ipai.yaml")
	}
	return s.Embed, nil
}

// viewer is the caller as a dashboard viewer. Managers and admins (trusted
// ERP callers such as Odoo's integration token) may name the viewer in the
// body; everyone else is the viewer themself.
func viewer(r *http.Request, given *embed.Viewer) (embed.Viewer, error) {
	p, _ := auth.FromContext(r.Context())
	v := embed.Viewer{UserID: p.ID, Login: p.Name, Role: string(p.Role)}
	if given == nil {
		return v, nil
	}
	if !p.Role.Allows(auth.RoleManager) {
		return v, problem.Forbidden("only manager or admin callers (a trusted ERP) may name the viewer; leave \"user\" out")
	}
	if given.Login == "" {
		return v, problem.Invalid("user.login", "is required when naming the viewer")
	}
	g := *given
	g.Role = string(auth.RoleUser) // the named viewer has no ipai role of their own
	return g, nil
}

func (s *Server) listDashboards(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.embedService()
	if err != nil {
		return err
	}
	v, _ := viewer(r, nil)
	writeJSON(w, http.StatusOK, map[string]any{"dashboards": svc.Visible(v)})
	return nil
}

func (s *Server) guestToken(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.embedService()
	if err != nil {
		return err
	}
	var in struct {
		User *embed.Viewer `json:"user"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
	}
	v, err := viewer(r, in.User)
	if err != nil {
		return err
	}
	id := r.PathValue("dashboard")
	tok, err := svc.GuestToken(r.Context(), id, v)
	switch {
	case errors.Is(err, embed.ErrNotFound):
		return problem.NotFound("no dashboard %q in superset.dashboards", id)
	case errors.Is(err, embed.ErrForbidden):
		return problem.Forbidden("%s may not view dashboard %q: %v", v.Login, id, err)
	case err != nil:
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, tok)
	return nil
}

// SDKFile is where the embedded SDK bundle is looked for, under the data
// dir: ipai ships no copy and loads nothing from a CDN.
const SDKFile = "superset-embedded-sdk.js"

func (s *Server) embedSDK(w http.ResponseWriter, r *http.Request) error {
	if s.EmbedSDKPath == "" {
		return problem.NotFound("no embedded SDK: copy @superset-ui/embedded-sdk's bundle.js to <data_dir>/%s", SDKFile)
	}
	b, err := os.ReadFile(s.EmbedSDKPath)
	if errors.Is(err, os.ErrNotExist) {
		return problem.NotFound("no embedded SDK: copy @superset-ui/embedded-sdk's bundle.js to %s", s.EmbedSDKPath)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	_, _ = w.Write(b)
	return nil
}

var embedPage = template.Must(template.New("embed").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.D.Name}}</title>
<style>html,body,#dash{margin:0;height:100%;width:100%}#dash iframe{border:0;width:100%;height:100%}#msg{font:14px sans-serif;padding:1em}</style>
</head><body><div id="msg"></div><div id="dash"></div>
<script src="/embed/sdk.js" onerror="document.getElementById('msg').textContent='The Superset embedded SDK is not installed: copy @superset-ui/embedded-sdk bundle.js to the data dir as {{.SDK}}.'"></script>
<script>
(function () {
  if (!window.supersetEmbeddedSdk) return;
  var id = {{.D.ID}};
  var opts = {method: "POST", credentials: "same-origin", headers: {"X-CSRF-Token": {{.CSRF}}}};
  function fetchGuestToken() {
    return fetch("/api/v1/superset/guest-token/" + encodeURIComponent(id), opts)
      .then(function (r) { if (!r.ok) throw new Error("guest token: HTTP " + r.status); return r.json(); })
      .then(function (j) { return j.token; });
  }
  fetch("/api/v1/superset/guest-token/" + encodeURIComponent(id), opts)
    .then(function (r) { return r.json(); })
    .then(function (j) {
      if (!j.token) { document.getElementById("msg").textContent = (j.error && j.error.message) || "no token"; return; }
      // The SDK calls fetchGuestToken again before the token expires.
      window.supersetEmbeddedSdk.embedDashboard({
        id: j.dashboard_id, supersetDomain: j.superset_url, mountPoint: document.getElementById("dash"),
        fetchGuestToken: fetchGuestToken,
        dashboardUiConfig: {hideTitle: {{.D.HideTitle}}, hideChartControls: {{.D.HideChartControls}},
          filters: {visible: {{not .D.HideFilters}}, expanded: false}}
      });
    })
    .catch(function (e) { document.getElementById("msg").textContent = String(e); });
})();
</script></body></html>`))

func (s *Server) embedPage(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.embedService()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	d, err := svc.Dashboard(id)
	if err != nil {
		return problem.NotFound("no dashboard %q in superset.dashboards", id)
	}
	if v, _ := viewer(r, nil); !d.Allows(v) {
		return problem.Forbidden("you may not view dashboard %q", id)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	return embedPage.Execute(w, map[string]any{"D": d, "SDK": SDKFile, "CSRF": sessionCSRF(r.Context())})
}
