package chatops_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/chatops"
)

// BenchmarkSlashAt200rps sends b.N slash commands (/bench help: parse the
// form, open the sealed token, compare it, check permissions, answer the
// CommandResponse) at 200 requests per second over HTTP and reports the
// p50 and p99 latency. Run it with -benchtime=2000x (10 s).
func BenchmarkSlashAt200rps(b *testing.B) {
	h := newHub(b)
	ctx := context.Background()
	const tok = "bench0token0aaaaaaaaaaaaaa"
	if _, err := h.co.PutCommand(ctx, "ipai-bot", chatops.CommandInput{Trigger: "bench", Handler: "ipai", Token: tok}, false); err != nil {
		b.Fatal(err)
	}
	body := url.Values{"token": {tok}, "team_id": {"t"}, "team_domain": {"ipai"}, "channel_id": {h.town}, "channel_name": {"town-square"},
		"user_id": {"u1"}, "user_name": {"alice"}, "command": {"/bench"}, "text": {"help"}, "trigger_id": {"x"},
		"response_url": {h.mm.URL + "/hooks/commands/x"}}.Encode()
	target := h.srv.URL + "/integrations/slash/ipai-bot/bench"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	var failed sync.Map
	tick := time.NewTicker(5 * time.Millisecond) // 200/s
	defer tick.Stop()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		<-tick.C
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			start := time.Now()
			req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Accept", "application/json")
			req.Header.Set("Authorization", "Token "+tok)
			resp, err := hc.Do(req)
			if err != nil {
				failed.Store(i, err)
				return
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			lat[i] = time.Since(start)
			if resp.StatusCode != 200 || !strings.Contains(string(raw), "/bench status") {
				failed.Store(i, string(raw))
			}
		}(i)
	}
	wg.Wait()
	b.StopTimer()
	failed.Range(func(k, v any) bool { b.Fatalf("request %v failed: %v", k, v); return false })
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}
