package rule

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/store"
)

// A template whose output grows with the cube of the payload is stopped at
// 1 MiB with a clear error instead of rendering 27 MB.
func TestRenderOutputIsCapped(t *testing.T) {
	items := make([]int, 300)
	payload, _ := json.Marshal(map[string]any{"items": items})
	// 300×300 iterations of a 1 KiB literal would be 90 MiB; the cap stops it
	// after about a thousand (a one-byte body made a million iterations,
	// which under the race detector on a loaded machine outran the time limit).
	huge := `{{range .data.items}}{{range $.data.items}}` + strings.Repeat("x", 1024) + `{{end}}{{end}}`
	start := time.Now()
	_, err := Render(Action{Kind: KindWebhook, Text: huge}, &store.Event{Type: "t", Payload: string(payload)})
	if err == nil || !strings.Contains(err.Error(), "1 MiB") || !strings.Contains(err.Error(), "text") {
		t.Fatalf("huge template: err = %v; want the 1 MiB limit named, for field text", err)
	}
	if d := time.Since(start); d > MaxRenderTime+time.Second {
		t.Fatalf("took %s", d)
	}
	// Ordinary templates render.
	if r, err := Render(Action{Kind: KindWebhook, Text: "{{len .data.items}} items"}, &store.Event{Type: "t", Payload: string(payload)}); err != nil || r.Text != "300 items" {
		t.Fatalf("ordinary template: %q %v", r.Text, err)
	}
}
