package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
)

// WriteTable prints results as a table and a summary line.
func WriteTable(w io.Writer, rs []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tSTATUS\tLATENCY\tVERSION\tDETAIL")
	up := 0
	for _, r := range rs {
		status := "down"
		if r.Up {
			status, up = "up", up+1
		}
		fmt.Fprintf(tw, "%s\t%s\t%dms\t%s\t%s\n", r.Service, status, r.LatencyMS, dash(r.Version), dash(r.Detail))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d/%d services up\n", up, len(rs))
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Notify posts the results to a Mattermost incoming webhook (one message)
// and/or an n8n webhook (one JSON object per service, as the original cron
// did). Empty URLs are skipped.
func Notify(ctx context.Context, client *http.Client, mattermostURL, n8nURL string, rs []Result) error {
	if client == nil {
		client = NewClient(mattermostURL, n8nURL)
	}
	var errs []error
	if mattermostURL != "" {
		var b strings.Builder
		down := 0
		for _, r := range rs {
			if !r.Up {
				down++
			}
		}
		if down == 0 {
			fmt.Fprintf(&b, "#### :white_check_mark: ipai stack: all %d services up\n", len(rs))
		} else {
			fmt.Fprintf(&b, "#### :x: ipai stack: %d of %d services down\n", down, len(rs))
		}
		b.WriteString("| service | status | latency | detail |\n|---|---|---|---|\n")
		for _, r := range rs {
			mark := ":white_check_mark:"
			if !r.Up {
				mark = ":x:"
			}
			fmt.Fprintf(&b, "| %s | %s | %d ms | %s |\n", r.Service, mark, r.LatencyMS, strings.ReplaceAll(r.Detail, "|", "/"))
		}
		if err := post(ctx, client, mattermostURL, map[string]string{"text": b.String(), "username": "ipai"}); err != nil {
			errs = append(errs, fmt.Errorf("mattermost webhook: %w", err))
		}
	}
	if n8nURL != "" {
		for _, r := range rs {
			body := struct {
				Result
				Source string `json:"source"`
			}{r, "ipai stack healthcheck"}
			if err := post(ctx, client, n8nURL, body); err != nil {
				errs = append(errs, fmt.Errorf("n8n webhook (%s): %w", r.Service, err))
				break
			}
		}
	}
	return errors.Join(errs...)
}

func post(ctx context.Context, client *http.Client, url string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	return nil
}

// Probe GETs url once and fails unless it answers 2xx (used as the hub
// container's healthcheck, which has no curl).
func Probe(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("probe %s: %w", url, err)
	}
	resp, err := NewClient(url).Do(req)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("probe %s: HTTP %d", url, resp.StatusCode)
	}
	return nil
}
