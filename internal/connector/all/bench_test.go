package all_test

import (
	"context"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/connector"
	_ "github.com/insightpulseai/ipai/internal/connector/all"
	"github.com/insightpulseai/ipai/internal/fake/focalboard"
	"github.com/insightpulseai/ipai/internal/fake/keycloak"
	"github.com/insightpulseai/ipai/internal/fake/mattermost"
	"github.com/insightpulseai/ipai/internal/fake/odoo"
	"github.com/insightpulseai/ipai/internal/fake/supabase"
	"github.com/insightpulseai/ipai/internal/fake/superset"
)

type latencyFake interface {
	SetLatency(time.Duration)
	Close()
}

// eight starts one fake per type (two Odoo) with injected latency per
// request and returns their connectors.
func eight(tb testing.TB) ([]connector.Connector, time.Duration) {
	mm, fb, od, od2, ss, kc, sb := mattermost.New(), focalboard.New(), odoo.New(), odoo.New(), superset.New(), keycloak.New(), supabase.New()
	hc := http.NewServeMux()
	// A slow peer: every request is answered after 40 ms.
	hc.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { time.Sleep(40 * time.Millisecond) })
	hsrv := newServer(hc)
	fakes := []latencyFake{mm, fb, od, od2, ss, kc, sb}
	lat := []time.Duration{20, 30, 40, 50, 25, 35, 45}
	for i, f := range fakes {
		f.SetLatency(lat[i] * time.Millisecond)
		tb.Cleanup(f.Close)
	}
	tb.Cleanup(hsrv.Close)
	cfgs := []connector.Config{
		{Type: "mattermost", BaseURL: mm.URL, Secrets: map[string]string{"token": mattermost.AdminToken}},
		{Type: "focalboard", BaseURL: fb.URL, Secrets: map[string]string{"token": focalboard.Token}},
		{Type: "odoo", BaseURL: od.URL, Settings: map[string]string{"database": odoo.DB, "login": odoo.Login}, Secrets: map[string]string{"api_key": odoo.APIKey}},
		{Type: "odoo", BaseURL: od2.URL, Settings: map[string]string{"database": odoo.DB, "login": odoo.Login}, Secrets: map[string]string{"api_key": odoo.APIKey}},
		{Type: "superset", BaseURL: ss.URL, Settings: map[string]string{"username": superset.Username}, Secrets: map[string]string{"password": superset.Password}},
		{Type: "keycloak", BaseURL: kc.URL, Settings: map[string]string{"realm": keycloak.Realm, "client_id": keycloak.ClientID}, Secrets: map[string]string{"client_secret": keycloak.ClientSecret}},
		{Type: "supabase", BaseURL: sb.URL, Secrets: map[string]string{"api_key": supabase.ServiceKey}},
		{Type: "http", BaseURL: hsrv.URL},
	}
	var cs []connector.Connector
	for _, cfg := range cfgs {
		c, err := connector.New(cfg, &http.Client{})
		if err != nil {
			tb.Fatal(err)
		}
		cs = append(cs, c)
	}
	return cs, 0
}

// BenchmarkTestEight compares Test Connection of 8 connectors at once with
// the slowest one alone. Reported metrics: concurrent-ms, slowest-ms and
// overhead-ms (concurrent − slowest); the goal is overhead ≤ 50 ms.
func BenchmarkTestEight(b *testing.B) {
	cs, _ := eight(b)
	ctx := context.Background()
	// Warm up connections.
	connector.TestMany(ctx, cs, 0, 0)
	var conc, slow []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		reps := connector.TestMany(ctx, cs, 0, 0)
		conc = append(conc, ms(time.Since(start)))
		for _, r := range reps {
			if !r.OK {
				b.Fatalf("report not ok: %+v", r)
			}
		}
		b.StopTimer()
		var worst float64
		for _, c := range cs {
			s := time.Now()
			connector.Test(ctx, c, 0)
			if d := ms(time.Since(s)); d > worst {
				worst = d
			}
		}
		slow = append(slow, worst)
		b.StartTimer()
	}
	mc, ms_ := median(conc), median(slow)
	b.ReportMetric(mc, "concurrent-ms")
	b.ReportMetric(ms_, "slowest-ms")
	b.ReportMetric(mc-ms_, "overhead-ms")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func TestEightConcurrently(t *testing.T) {
	cs, _ := eight(t)
	for i, r := range connector.TestMany(context.Background(), cs, 0, 3) {
		if !r.OK {
			t.Errorf("connector %d: %+v", i, r)
		}
	}
}
