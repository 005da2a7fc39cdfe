package mcpserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/digitalocean/godo"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/insightpulseai/ipai/internal/stack/backup"
	"github.com/insightpulseai/ipai/internal/stack/probe"
)

// Delivery is an outbound delivery as the ops tools show it.
type Delivery struct {
	ID        string    `json:"id"`
	State     string    `json:"state"`
	Target    string    `json:"target"`
	Event     string    `json:"event,omitempty"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// DeliveryService is what the ops server needs of internal/delivery.
type DeliveryService interface {
	List(ctx context.Context, state string, limit int) ([]Delivery, error)
	Get(ctx context.Context, id string) (Delivery, error)
	Replay(ctx context.Context, id string) (Delivery, error)
}

// ConnectorInfo is a configured connector.
type ConnectorInfo struct {
	Code    string `json:"code"`
	Type    string `json:"type"`
	BaseURL string `json:"base_url"`
}

// ConnectorService lists and tests the hub's connectors.
type ConnectorService interface {
	List(ctx context.Context) ([]ConnectorInfo, error)
	Test(ctx context.Context, code string) (any, error)
}

// OpsDeps are the parts the ops server uses; nil parts answer "not configured".
type OpsDeps struct {
	// Health runs the stack health checks (as `ipai stack healthcheck`).
	Health     func(ctx context.Context) ([]probe.Result, error)
	BackupDir  string
	Deliveries DeliveryService
	Connectors ConnectorService
	DO         *godo.Client
}

type opsServer struct{ d OpsDeps }

// NewOps returns the ops server.
func NewOps(e *Env, d OpsDeps) *mcp.Server {
	o := &opsServer{d: d}
	s := e.newServer(Ops, "Operate the InsightPulse stack: health, backups, failed deliveries (replay needs mcp:ops:write), connectors, and DigitalOcean droplets/apps/databases.")
	addTool(e, s, Ops, false, &mcp.Tool{Name: "ops_stack_health", Description: "Run the stack health checks (same as ipai stack healthcheck)."}, o.health)
	addTool(e, s, Ops, false, &mcp.Tool{Name: "ops_list_backups", Description: "List backup archives, newest first."}, o.listBackups)
	addTool(e, s, Ops, false, &mcp.Tool{Name: "ops_latest_backup", Description: "The newest backup archive and its manifest (verified)."}, o.latestBackup)
	addTool(e, s, Ops, false, &mcp.Tool{Name: "ops_verify_backup", Description: "Verify a backup archive against its manifest (sizes and sha256 of every member)."}, o.verifyBackup)
	addTool(e, s, Ops, false, &mcp.Tool{Name: "ops_list_deliveries", Description: "List outbound deliveries in a state (failed or dead by default: dead)."}, o.listDeliveries)
	addTool(e, s, Ops, true, &mcp.Tool{Name: "ops_replay_delivery", Description: "Replay a failed or dead delivery."}, o.replay)
	addTool(e, s, Ops, false, &mcp.Tool{Name: "ops_list_connectors", Description: "List the hub's connectors."}, o.listConnectors)
	addTool(e, s, Ops, false, &mcp.Tool{Name: "ops_test_connector", Description: "Test a connector: reachable, credentials accepted, supported version."}, o.testConnector)
	o.addDO(e, s)
	return s
}

var errNotConfigured = errors.New("not configured")

func notConfigured(what, how string) error {
	return fmt.Errorf("%s is %w on this hub: %s", what, errNotConfigured, how)
}

type healthOut struct {
	AllUp   bool           `json:"all_up"`
	Results []probe.Result `json:"results"`
}

func (o *opsServer) health(ctx context.Context, c *Call, _ struct{}) (healthOut, error) {
	if o.d.Health == nil {
		return healthOut{}, notConfigured("the stack health check", "run the hub with a stack directory (ipai stack init)")
	}
	rs, err := o.d.Health(ctx)
	if err != nil {
		return healthOut{}, err
	}
	return healthOut{AllUp: probe.AllUp(rs), Results: rs}, nil
}

type backupsOut struct {
	Dir      string   `json:"dir"`
	Archives []string `json:"archives"`
}

func (o *opsServer) backups() ([]string, error) {
	if o.d.BackupDir == "" {
		return nil, notConfigured("the backup folder", "set the stack's backup directory")
	}
	return backup.List(o.d.BackupDir)
}

func (o *opsServer) listBackups(ctx context.Context, c *Call, _ struct{}) (backupsOut, error) {
	list, err := o.backups()
	if err != nil {
		return backupsOut{}, err
	}
	return backupsOut{Dir: o.d.BackupDir, Archives: mapSlice(list, filepath.Base)}, nil
}

type verifyOut struct {
	Archive  string           `json:"archive"`
	OK       bool             `json:"ok"`
	Error    string           `json:"error,omitempty"`
	Manifest *backup.Manifest `json:"manifest,omitempty"`
}

func (o *opsServer) latestBackup(ctx context.Context, c *Call, _ struct{}) (verifyOut, error) {
	list, err := o.backups()
	if err != nil {
		return verifyOut{}, err
	}
	if len(list) == 0 {
		return verifyOut{}, fmt.Errorf("no backup archives in %s; run ipai stack backup", o.d.BackupDir)
	}
	return verify(list[0]), nil
}

func verify(p string) verifyOut {
	m, err := backup.VerifyArchive(p)
	out := verifyOut{Archive: filepath.Base(p), OK: err == nil, Manifest: m}
	if err != nil {
		out.Error = err.Error()
	}
	return out
}

type archiveIn struct {
	Archive string `json:"archive" jsonschema:"archive file name as listed by ops_list_backups"`
}

func (o *opsServer) verifyBackup(ctx context.Context, c *Call, in archiveIn) (verifyOut, error) {
	list, err := o.backups()
	if err != nil {
		return verifyOut{}, err
	}
	for _, p := range list {
		if filepath.Base(p) == in.Archive {
			return verify(p), nil
		}
	}
	return verifyOut{}, fmt.Errorf("no backup archive %q in %s; see ops_list_backups", in.Archive, o.d.BackupDir)
}

type deliveriesIn struct {
	State string `json:"state,omitempty" jsonschema:"failed or dead (default dead)"`
	Limit int    `json:"limit,omitempty" jsonschema:"default 50"`
}

type deliveriesOut struct {
	Deliveries []Delivery `json:"deliveries"`
}

func (o *opsServer) listDeliveries(ctx context.Context, c *Call, in deliveriesIn) (deliveriesOut, error) {
	if o.d.Deliveries == nil {
		return deliveriesOut{}, notConfigured("delivery tracking", "run the ops server inside ipai serve")
	}
	st := cmp.Or(in.State, "dead")
	if st != "failed" && st != "dead" {
		return deliveriesOut{}, fmt.Errorf("state %q: use failed or dead", st)
	}
	ds, err := o.d.Deliveries.List(ctx, st, clampN(in.Limit, 50))
	if err != nil {
		return deliveriesOut{}, err
	}
	return deliveriesOut{Deliveries: nonNil(ds)}, nil
}

type replayIn struct {
	ID     string `json:"id" jsonschema:"delivery id"`
	DryRun bool   `json:"dry_run,omitempty" jsonschema:"when true, show the delivery that would be replayed"`
}

type replayOut struct {
	DryRun   bool     `json:"dry_run"`
	Applied  bool     `json:"applied"`
	Delivery Delivery `json:"delivery"`
}

func (o *opsServer) replay(ctx context.Context, c *Call, in replayIn) (replayOut, error) {
	if o.d.Deliveries == nil {
		return replayOut{}, notConfigured("delivery tracking", "run the ops server inside ipai serve")
	}
	c.Target("delivery:" + in.ID)
	d, err := o.d.Deliveries.Get(ctx, in.ID)
	if err != nil {
		return replayOut{}, fmt.Errorf("delivery %s: %w", in.ID, err)
	}
	if d.State != "failed" && d.State != "dead" {
		return replayOut{}, fmt.Errorf("delivery %s is %s; only failed or dead deliveries can be replayed", in.ID, d.State)
	}
	if c.DryRun {
		return replayOut{DryRun: true, Delivery: d}, nil
	}
	d, err = o.d.Deliveries.Replay(ctx, in.ID)
	if err != nil {
		return replayOut{}, err
	}
	return replayOut{Applied: true, Delivery: d}, nil
}

type connectorsOut struct {
	Connectors []ConnectorInfo `json:"connectors"`
}

func (o *opsServer) listConnectors(ctx context.Context, c *Call, _ struct{}) (connectorsOut, error) {
	if o.d.Connectors == nil {
		return connectorsOut{}, notConfigured("the connector registry", "run the ops server inside ipai serve")
	}
	cs, err := o.d.Connectors.List(ctx)
	return connectorsOut{Connectors: nonNil(cs)}, err
}

type codeIn struct {
	Code string `json:"code" jsonschema:"connector code"`
}

type testOut struct {
	Report any `json:"report"`
}

func (o *opsServer) testConnector(ctx context.Context, c *Call, in codeIn) (testOut, error) {
	if o.d.Connectors == nil {
		return testOut{}, notConfigured("the connector registry", "run the ops server inside ipai serve")
	}
	c.Target("connector:" + in.Code)
	r, err := o.d.Connectors.Test(ctx, in.Code)
	return testOut{Report: r}, err
}

// DigitalOcean tools (godo).
func (o *opsServer) addDO(e *Env, s *mcp.Server) {
	addTool(e, s, Ops, false, &mcp.Tool{Name: "do_list_droplets", Description: "List DigitalOcean droplets, optionally by tag."}, o.listDroplets)
	addTool(e, s, Ops, false, &mcp.Tool{Name: "do_get_droplet", Description: "Get one droplet."}, o.getDroplet)
	addTool(e, s, Ops, true, &mcp.Tool{Name: "do_reboot_droplet", Description: "Reboot a droplet (graceful)."}, o.rebootDroplet)
	addTool(e, s, Ops, false, &mcp.Tool{Name: "do_list_apps", Description: "List App Platform apps."}, o.listApps)
	addTool(e, s, Ops, false, &mcp.Tool{Name: "do_get_app_logs", Description: "Get the URLs of an app's logs (run, build or deploy)."}, o.appLogs)
	addTool(e, s, Ops, false, &mcp.Tool{Name: "do_list_databases", Description: "List managed database clusters (without credentials)."}, o.listDatabases)
}

func (o *opsServer) do() (*godo.Client, error) {
	if o.d.DO == nil {
		return nil, notConfigured("DigitalOcean", "set DIGITALOCEAN_TOKEN")
	}
	return o.d.DO, nil
}

func doErr(err error) error {
	var er *godo.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == 401 {
		return fmt.Errorf("digitalocean refused the token (%s); check DIGITALOCEAN_TOKEN", er.Message)
	}
	return fmt.Errorf("digitalocean: %w", err)
}

type droplet struct {
	ID       int      `json:"id"`
	Name     string   `json:"name"`
	Status   string   `json:"status"`
	Region   string   `json:"region"`
	Size     string   `json:"size"`
	PublicIP string   `json:"public_ip,omitempty"`
	Tags     []string `json:"tags"`
}

func toDroplet(d godo.Droplet) droplet {
	ip, _ := d.PublicIPv4()
	out := droplet{ID: d.ID, Name: d.Name, Status: d.Status, Size: d.SizeSlug, PublicIP: ip, Tags: nonNil(d.Tags)}
	if d.Region != nil {
		out.Region = d.Region.Slug
	}
	return out
}

type dropletsIn struct {
	Tag string `json:"tag,omitempty"`
}

type dropletsOut struct {
	Droplets []droplet `json:"droplets"`
}

func (o *opsServer) listDroplets(ctx context.Context, c *Call, in dropletsIn) (dropletsOut, error) {
	cl, err := o.do()
	if err != nil {
		return dropletsOut{}, err
	}
	out := dropletsOut{Droplets: []droplet{}}
	opt := &godo.ListOptions{Page: 1, PerPage: 100}
	for page := 0; page < 20; page++ {
		var ds []godo.Droplet
		var resp *godo.Response
		if in.Tag != "" {
			ds, resp, err = cl.Droplets.ListByTag(ctx, in.Tag, opt)
		} else {
			ds, resp, err = cl.Droplets.List(ctx, opt)
		}
		if err != nil {
			return dropletsOut{}, doErr(err)
		}
		for _, d := range ds {
			out.Droplets = append(out.Droplets, toDroplet(d))
		}
		if resp.Links == nil || resp.Links.IsLastPage() {
			break
		}
		cur, err := resp.Links.CurrentPage()
		if err != nil {
			break
		}
		opt.Page = cur + 1
	}
	return out, nil
}

type dropletIn struct {
	DropletID int `json:"droplet_id"`
}

func (o *opsServer) getDroplet(ctx context.Context, c *Call, in dropletIn) (droplet, error) {
	cl, err := o.do()
	if err != nil {
		return droplet{}, err
	}
	d, _, err := cl.Droplets.Get(ctx, in.DropletID)
	if err != nil {
		return droplet{}, doErr(err)
	}
	return toDroplet(*d), nil
}

type rebootIn struct {
	DropletID int  `json:"droplet_id"`
	DryRun    bool `json:"dry_run,omitempty" jsonschema:"when true, show the droplet that would be rebooted"`
}

type rebootOut struct {
	DryRun   bool    `json:"dry_run"`
	Droplet  droplet `json:"droplet"`
	ActionID int     `json:"action_id,omitempty"`
	Status   string  `json:"status,omitempty"`
}

func (o *opsServer) rebootDroplet(ctx context.Context, c *Call, in rebootIn) (rebootOut, error) {
	cl, err := o.do()
	if err != nil {
		return rebootOut{}, err
	}
	c.Target(fmt.Sprintf("droplet:%d", in.DropletID))
	d, _, err := cl.Droplets.Get(ctx, in.DropletID)
	if err != nil {
		return rebootOut{}, doErr(err)
	}
	out := rebootOut{DryRun: c.DryRun, Droplet: toDroplet(*d)}
	if c.DryRun {
		return out, nil
	}
	a, _, err := cl.DropletActions.Reboot(ctx, in.DropletID)
	if err != nil {
		return rebootOut{}, doErr(err)
	}
	out.ActionID, out.Status = a.ID, a.Status
	return out, nil
}

type app struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	LiveURL    string `json:"live_url,omitempty"`
	Region     string `json:"region,omitempty"`
	Deployment string `json:"active_deployment_id,omitempty"`
}

type appsOut struct {
	Apps []app `json:"apps"`
}

func (o *opsServer) listApps(ctx context.Context, c *Call, _ struct{}) (appsOut, error) {
	cl, err := o.do()
	if err != nil {
		return appsOut{}, err
	}
	as, _, err := cl.Apps.List(ctx, &godo.ListOptions{Page: 1, PerPage: 100})
	if err != nil {
		return appsOut{}, doErr(err)
	}
	out := appsOut{Apps: []app{}}
	for _, a := range as {
		x := app{ID: a.ID, LiveURL: a.LiveURL}
		if a.Spec != nil {
			x.Name = a.Spec.Name
		}
		if a.Region != nil {
			x.Region = a.Region.Slug
		}
		if a.ActiveDeployment != nil {
			x.Deployment = a.ActiveDeployment.ID
		}
		out.Apps = append(out.Apps, x)
	}
	return out, nil
}

type appLogsIn struct {
	AppID        string `json:"app_id"`
	DeploymentID string `json:"deployment_id,omitempty" jsonschema:"default: the active deployment"`
	Component    string `json:"component,omitempty"`
	Type         string `json:"type,omitempty" jsonschema:"RUN (default), BUILD or DEPLOY"`
	Lines        int    `json:"lines,omitempty" jsonschema:"tail lines (default 100)"`
}

type appLogsOut struct {
	LiveURL      string   `json:"live_url,omitempty"`
	HistoricURLs []string `json:"historic_urls"`
}

func (o *opsServer) appLogs(ctx context.Context, c *Call, in appLogsIn) (appLogsOut, error) {
	cl, err := o.do()
	if err != nil {
		return appLogsOut{}, err
	}
	typ := godo.AppLogType(strings.ToUpper(in.Type))
	if typ == "" {
		typ = godo.AppLogTypeRun
	}
	if typ != godo.AppLogTypeRun && typ != godo.AppLogTypeBuild && typ != godo.AppLogTypeDeploy {
		return appLogsOut{}, fmt.Errorf("type %q: use RUN, BUILD or DEPLOY", in.Type)
	}
	l, _, err := cl.Apps.GetLogs(ctx, in.AppID, in.DeploymentID, in.Component, typ, false, clampN(in.Lines, 100))
	if err != nil {
		return appLogsOut{}, doErr(err)
	}
	return appLogsOut{LiveURL: l.LiveURL, HistoricURLs: nonNil(l.HistoricURLs)}, nil
}

type database struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Engine  string `json:"engine"`
	Version string `json:"version"`
	Status  string `json:"status"`
	Region  string `json:"region"`
	Nodes   int    `json:"nodes"`
}

type databasesOut struct {
	Databases []database `json:"databases"`
}

func (o *opsServer) listDatabases(ctx context.Context, c *Call, _ struct{}) (databasesOut, error) {
	cl, err := o.do()
	if err != nil {
		return databasesOut{}, err
	}
	ds, _, err := cl.Databases.List(ctx, &godo.ListOptions{Page: 1, PerPage: 100})
	if err != nil {
		return databasesOut{}, doErr(err)
	}
	out := databasesOut{Databases: []database{}}
	for _, d := range ds {
		out.Databases = append(out.Databases, database{ID: d.ID, Name: d.Name, Engine: d.EngineSlug, Version: d.VersionSlug,
			Status: d.Status, Region: d.RegionSlug, Nodes: d.NumNodes})
	}
	return out, nil
}
