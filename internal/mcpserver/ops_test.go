package mcpserver

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/digitalocean/godo"

	fakedo "github.com/insightpulseai/ipai/internal/fake/digitalocean"
	"github.com/insightpulseai/ipai/internal/stack/probe"
)

type fakeDeliveries struct{ ds map[string]Delivery }

func (f *fakeDeliveries) List(_ context.Context, state string, limit int) ([]Delivery, error) {
	var out []Delivery
	for _, d := range f.ds {
		if d.State == state {
			out = append(out, d)
		}
	}
	return out, nil
}

func (f *fakeDeliveries) Get(_ context.Context, id string) (Delivery, error) {
	d, ok := f.ds[id]
	if !ok {
		return Delivery{}, errors.New("not found")
	}
	return d, nil
}

func (f *fakeDeliveries) Replay(_ context.Context, id string) (Delivery, error) {
	d := f.ds[id]
	d.State = "pending"
	f.ds[id] = d
	return d, nil
}

func doClient(t *testing.T, url, token string) *godo.Client {
	t.Helper()
	c, err := godo.New(godo.NewFromToken(token).HTTPClient, godo.SetBaseURL(url+"/"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOpsDigitalOcean(t *testing.T) {
	f := fakedo.New()
	defer f.Close()
	rec := &recorder{}
	deps := OpsDeps{DO: doClient(t, f.URL, fakedo.Token)}
	cs := connect(t, NewOps(&Env{Audit: rec, Local: principal("ops", "mcp:ops:read")}, deps))

	var ds dropletsOut
	mustOK(t, cs, "do_list_droplets", map[string]any{"tag": "ipai"}, &ds)
	if len(ds.Droplets) != 2 || ds.Droplets[0].PublicIP != "203.0.113.10" || ds.Droplets[0].Region != "sgp1" {
		t.Fatalf("droplets by tag = %+v", ds)
	}
	mustOK(t, cs, "do_list_droplets", nil, &ds)
	if len(ds.Droplets) != 3 {
		t.Fatalf("all droplets = %+v", ds)
	}
	var d droplet
	mustOK(t, cs, "do_get_droplet", map[string]any{"droplet_id": 3164446}, &d)
	if d.Name != "scratch" || d.Status != "off" {
		t.Fatalf("droplet = %+v", d)
	}
	mustFail(t, cs, "do_get_droplet", map[string]any{"droplet_id": 1}, "could not be found")
	var apps appsOut
	mustOK(t, cs, "do_list_apps", nil, &apps)
	if len(apps.Apps) != 1 || apps.Apps[0].Name != "ipai-hub" || apps.Apps[0].Deployment != "dep-1" {
		t.Fatalf("apps = %+v", apps)
	}
	var logs appLogsOut
	mustOK(t, cs, "do_get_app_logs", map[string]any{"app_id": apps.Apps[0].ID, "type": "build"}, &logs)
	if !strings.HasSuffix(logs.LiveURL, "type=BUILD") || len(logs.HistoricURLs) != 1 {
		t.Fatalf("logs = %+v", logs)
	}
	var dbs databasesOut
	mustOK(t, cs, "do_list_databases", nil, &dbs)
	if len(dbs.Databases) != 1 || dbs.Databases[0].Engine != "pg" {
		t.Fatalf("databases = %+v", dbs)
	}

	// Reboot: dry run, refusal, success.
	var rb rebootOut
	mustOK(t, cs, "do_reboot_droplet", map[string]any{"droplet_id": 3164444, "dry_run": true}, &rb)
	if !rb.DryRun || rb.Droplet.Name != "ipai-stack-1" || len(f.Actions()) != 0 {
		t.Fatalf("reboot dry run = %+v, actions %v", rb, f.Actions())
	}
	mustFail(t, cs, "do_reboot_droplet", map[string]any{"droplet_id": 3164444}, "mcp:ops:write")
	if len(f.Actions()) != 0 {
		t.Fatal("refused reboot reached DigitalOcean")
	}
	ws := connect(t, NewOps(&Env{Audit: rec, Local: principal("ops", "mcp:ops:write")}, deps))
	mustOK(t, ws, "do_reboot_droplet", map[string]any{"droplet_id": 3164444}, &rb)
	if a := f.Actions(); len(a) != 1 || a[0].Type != "reboot" || a[0].DropletID != 3164444 || rb.ActionID == 0 {
		t.Fatalf("reboot = %+v, actions %v", rb, a)
	}

	bad := connect(t, NewOps(&Env{Local: principal("ops", "mcp:ops:read")}, OpsDeps{DO: doClient(t, f.URL, "dop_v1_wrong")}))
	mustFail(t, bad, "do_list_droplets", nil, "DIGITALOCEAN_TOKEN")
	none := connect(t, NewOps(&Env{Local: principal("ops", "mcp:ops:read")}, OpsDeps{}))
	mustFail(t, none, "do_list_droplets", nil, "set DIGITALOCEAN_TOKEN")
	mustFail(t, none, "ops_list_backups", nil, "not configured")
}

func TestOpsHealthAndDeliveries(t *testing.T) {
	fd := &fakeDeliveries{ds: map[string]Delivery{
		"d1": {ID: "d1", State: "dead", Target: "mattermost:ops", Attempts: 8, LastError: "503"},
		"d2": {ID: "d2", State: "delivered", Target: "n8n"}}}
	deps := OpsDeps{Deliveries: fd, BackupDir: t.TempDir(), Health: func(context.Context) ([]probe.Result, error) {
		return []probe.Result{{Service: "odoo-core", Up: true, HTTPCode: 200}, {Service: "n8n", Up: false, HTTPCode: 503}}, nil
	}}
	rec := &recorder{}
	cs := connect(t, NewOps(&Env{Audit: rec, Local: principal("ops", "mcp:ops:read")}, deps))
	var h healthOut
	mustOK(t, cs, "ops_stack_health", nil, &h)
	if h.AllUp || len(h.Results) != 2 {
		t.Fatalf("health = %+v", h)
	}
	var b backupsOut
	mustOK(t, cs, "ops_list_backups", nil, &b)
	if len(b.Archives) != 0 {
		t.Fatalf("backups = %+v", b)
	}
	mustFail(t, cs, "ops_latest_backup", nil, "ipai stack backup")
	var dl deliveriesOut
	mustOK(t, cs, "ops_list_deliveries", nil, &dl)
	if len(dl.Deliveries) != 1 || dl.Deliveries[0].ID != "d1" {
		t.Fatalf("dead deliveries = %+v", dl)
	}
	var rp replayOut
	mustOK(t, cs, "ops_replay_delivery", map[string]any{"id": "d1", "dry_run": true}, &rp)
	if rp.Applied || fd.ds["d1"].State != "dead" {
		t.Fatalf("replay dry run = %+v", rp)
	}
	mustFail(t, cs, "ops_replay_delivery", map[string]any{"id": "d1"}, "mcp:ops:write")
	ws := connect(t, NewOps(&Env{Audit: rec, Local: principal("ops", "mcp:ops:write")}, deps))
	mustFail(t, ws, "ops_replay_delivery", map[string]any{"id": "d2"}, "only failed or dead")
	mustOK(t, ws, "ops_replay_delivery", map[string]any{"id": "d1"}, &rp)
	if !rp.Applied || fd.ds["d1"].State != "pending" {
		t.Fatalf("replay = %+v, state %s", rp, fd.ds["d1"].State)
	}
}
