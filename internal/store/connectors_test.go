package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestConnectors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		c := Connector{Code: "mm", Name: "Chat", Type: "mattermost", BaseURL: "https://chat.example.com",
			Settings: map[string]string{"team": "ipai"}, Secrets: map[string]string{"token": "v1:sealed"},
			State: "draft", Managed: true, CreatedAt: now, UpdatedAt: now}
		if err := db.CreateConnector(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateConnector(ctx, c); !IsConflict(err) {
			t.Fatalf("duplicate code: err = %v; want conflict", err)
		}
		got, err := db.Connector(ctx, "mm")
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Fatalf("Connector = %+v, %v; want %+v", got, err, c)
		}
		if _, err := db.Connector(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown code: %v; want ErrNotFound", err)
		}

		// Activation only from the named state; the error names the current one.
		if err := db.TransitionConnector(ctx, "mm", "testing", "active", now); !IsConflict(err) {
			t.Fatalf("activate from draft: %v; want conflict", err)
		}
		if err := db.TransitionConnector(ctx, "nope", "testing", "active", now); !errors.Is(err, ErrNotFound) {
			t.Fatalf("transition unknown: %v; want ErrNotFound", err)
		}
		later := now.Add(time.Second)
		if err := db.RecordConnectorTest(ctx, "mm", "testing", later, "", 12, "9.11.1"); err != nil {
			t.Fatal(err)
		}
		if err := db.TransitionConnector(ctx, "mm", "testing", "active", later); err != nil {
			t.Fatal(err)
		}
		// A failing test keeps the last known version.
		if err := db.RecordConnectorTest(ctx, "mm", "error", later, "auth: denied", 5, ""); err != nil {
			t.Fatal(err)
		}
		got, _ = db.Connector(ctx, "mm")
		if got.State != "error" || got.Version != "9.11.1" || got.LastError != "auth: denied" || got.LastLatencyMS != 5 || !got.LastPing.Equal(later) {
			t.Fatalf("after tests: %+v", got)
		}

		got.Name, got.Settings, got.Secrets, got.Managed = "Chat 2", map[string]string{}, map[string]string{}, false
		if err := db.UpdateConnector(ctx, got); err != nil {
			t.Fatal(err)
		}
		if u, _ := db.Connector(ctx, "mm"); u.Name != "Chat 2" || len(u.Secrets) != 0 || u.Managed {
			t.Fatalf("after update: %+v", u)
		}
		if err := db.CreateConnector(ctx, Connector{Code: "od", Name: "ERP", Type: "odoo", BaseURL: "https://erp", State: "active", CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if list, err := db.ListConnectors(ctx, "active"); err != nil || len(list) != 1 || list[0].Code != "od" {
			t.Fatalf("active list = %+v, %v", list, err)
		}
		if list, _ := db.ListConnectors(ctx, ""); len(list) != 2 || list[0].Code != "mm" {
			t.Fatalf("full list = %+v", list)
		}

		// The history keeps the newest results and updates the last ping.
		for i := 0; i < 7; i++ {
			err := db.AddConnectorCheck(ctx, ConnectorCheck{Code: "od", At: now.Add(time.Duration(i) * time.Second), OK: i%2 == 0,
				LatencyMS: int64(i), Error: map[bool]string{true: "", false: "down"}[i%2 == 0]}, 5)
			if err != nil {
				t.Fatal(err)
			}
		}
		hist, err := db.ConnectorChecks(ctx, "od", 100)
		if err != nil || len(hist) != 5 || hist[0].LatencyMS != 2 || hist[4].LatencyMS != 6 || !hist[4].OK {
			t.Fatalf("history = %+v, %v; want the newest 5, oldest first", hist, err)
		}
		if od, _ := db.Connector(ctx, "od"); od.LastLatencyMS != 6 || od.State != "active" || !od.LastPing.Equal(now.Add(6*time.Second)) {
			t.Fatalf("check did not update last ping: %+v", od)
		}

		if err := db.DeleteConnector(ctx, "od"); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteConnector(ctx, "od"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if hist, _ := db.ConnectorChecks(ctx, "od", 100); len(hist) != 0 {
			t.Fatalf("history survives delete: %+v", hist)
		}
	})
}
