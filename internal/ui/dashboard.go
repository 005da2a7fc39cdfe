package ui

import (
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/insightpulseai/ipai/internal/health"
	"github.com/insightpulseai/ipai/internal/store"
)

type healthRow struct {
	health.Status
	Bars []bar
}

type bar struct {
	X      int
	OK     bool
	Title  string
	Height int
}

type chartBar struct {
	X                   int
	Label               string
	Succ, Fail, Dead    int64
	YSucc, YFail, YDead int
	HSucc, HFail, HDead int
	Tick                bool
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	data := map[string]any{"Title": "Dashboard"}
	if s.Connectors != nil {
		hv, err := s.Connectors.Health(ctx, s.Health)
		if err != nil {
			return err
		}
		rows := make([]healthRow, 0, len(hv.Connectors))
		for _, st := range hv.Connectors {
			row := healthRow{Status: st}
			var hist []health.Result
			if s.Health != nil {
				hist = s.Health.History(st.Code)
			}
			if len(hist) > 60 {
				hist = hist[len(hist)-60:]
			}
			for i, h := range hist {
				title := fmt.Sprintf("%s: up, %d ms", h.At.UTC().Format("15:04:05"), h.LatencyMS)
				if !h.OK {
					title = h.At.UTC().Format("15:04:05") + ": down: " + h.Error
				}
				row.Bars = append(row.Bars, bar{X: i * 5, OK: h.OK, Title: title, Height: 20})
			}
			rows = append(rows, row)
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i].Code < rows[j].Code })
		data["Health"], data["HealthOK"] = rows, hv.OK
		all, err := s.Connectors.List(ctx, "")
		if err != nil {
			return err
		}
		data["ConnectorCount"] = len(all)
	}
	now := s.now().UTC()
	since := now.Truncate(time.Hour).Add(-23 * time.Hour)
	buckets, err := s.DB.DeliveryBuckets(ctx, since, time.Hour, 24)
	if err != nil {
		return err
	}
	var max int64 = 1
	var tot [3]int64
	for _, b := range buckets {
		if n := b.States[store.DeliverySucceeded] + b.States[store.DeliveryFailed] + b.States[store.DeliveryDead]; n > max {
			max = n
		}
	}
	const chartH = 100
	scale := func(n int64) int {
		h := int(n * chartH / max)
		if n > 0 && h == 0 {
			h = 1
		}
		return h
	}
	bars := make([]chartBar, 0, len(buckets))
	for i, b := range buckets {
		cb := chartBar{X: i * 20, Label: b.Start.Format("15:00"), Succ: b.States[store.DeliverySucceeded],
			Fail: b.States[store.DeliveryFailed], Dead: b.States[store.DeliveryDead], Tick: i%6 == 0}
		tot[0], tot[1], tot[2] = tot[0]+cb.Succ, tot[1]+cb.Fail, tot[2]+cb.Dead
		cb.HSucc, cb.HFail, cb.HDead = scale(cb.Succ), scale(cb.Fail), scale(cb.Dead)
		cb.YSucc = chartH - cb.HSucc
		cb.YFail = cb.YSucc - cb.HFail
		cb.YDead = cb.YFail - cb.HDead
		bars = append(bars, cb)
	}
	data["Chart"], data["ChartMax"] = bars, max
	data["Totals"] = map[string]int64{"succeeded": tot[0], "failed": tot[1], "dead": tot[2]}
	if c.Can("GET", "/api/v1/audit") {
		warn, err := s.DB.ListAudit(ctx, store.AuditFilter{Level: "warning", Limit: 8})
		if err != nil {
			return err
		}
		errs, err := s.DB.ListAudit(ctx, store.AuditFilter{Level: "error", Limit: 8})
		if err != nil {
			return err
		}
		all := append(warn, errs...)
		sort.Slice(all, func(i, j int) bool { return all[i].Seq > all[j].Seq })
		if len(all) > 8 {
			all = all[:8]
		}
		data["Warnings"] = all
	}
	s.render(w, c, http.StatusOK, "dashboard", data)
	return nil
}
