package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/integration"
	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/secret"
)

func init() {
	register(newConnectorCmd)
	register(newHealthCmd)
}

// connectorEnv is the connector service on the configured store, for
// commands that work without a running server.
type connectorEnv struct {
	svc   *integration.Service
	audit *audit.Log
	cfg   config.Config
	close func()
}

// openConnectors opens the store and applies the connectors declared in
// ipai.yaml, as `ipai serve` does at start (so a declared connector can be
// listed, tested and activated before the server has ever run); withKey
// also loads the master key (needed to open secrets: test, health, n8n
// --connector), as does a file that declares connectors (to seal theirs).
// A file that declares no connectors leaves the store as it is.
func openConnectors(ctx context.Context, withKey bool) (*connectorEnv, error) {
	db, cfg, err := openStore(ctx)
	if err != nil {
		return nil, err
	}
	var box *secret.Box
	if withKey || len(cfg.Connectors) > 0 {
		if box, err = secret.LoadFor(cfg.DataDir, func() (string, error) { return db.SealedData(ctx) }); err != nil {
			db.Close()
			return nil, fmt.Errorf("master key: %w", err)
		}
	}
	guard, err := outbound.New(cfg.Outbound.Allow)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("outbound.allow: %w", err)
	}
	al := audit.New(db)
	svc := integration.New(db, box, guard, cfg.Health.Timeout)
	svc.Audit = al
	if len(cfg.Connectors) > 0 {
		if _, err := svc.Apply(ctx, cfg.Connectors); err != nil {
			al.Close()
			db.Close()
			return nil, fmt.Errorf("applying the connectors declared in %s: %w (fix the file; `ipai config check` validates it)", cfgName(cfg), err)
		}
	}
	return &connectorEnv{svc: svc, audit: al, cfg: cfg, close: func() { al.Close(); db.Close() }}, nil
}

// withConnectors runs f on the connector environment and closes it afterwards.
func withConnectors(ctx context.Context, withKey bool, f func(env *connectorEnv) error) error {
	env, err := openConnectors(ctx, withKey)
	if err != nil {
		return err
	}
	defer env.close()
	return f(env)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table is an aligned terminal table. Every table the CLI prints goes
// through Row, which escapes control characters in the values, so text
// from the database (audit entries written by anyone who could reach the
// hub) cannot break a row, paint a fake one or send terminal escapes.
type table struct{ tw *tabwriter.Writer }

// newTable returns an aligned table, its header line written.
func newTable(w io.Writer, header string) *table {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	return &table{tw: tw}
}

// Row writes one row: format's cells are separated by tabs, without the
// trailing newline; string, error and fmt.Stringer values are escaped.
func (t *table) Row(format string, args ...any) {
	for i, a := range args {
		switch v := a.(type) {
		case string:
			args[i] = escapeCell(v)
		case error:
			args[i] = escapeCell(v.Error())
		case fmt.Stringer:
			args[i] = escapeCell(v.String())
		}
	}
	fmt.Fprintf(t.tw, format+"\n", args...)
}

// Flush writes the aligned table out.
func (t *table) Flush() error { return t.tw.Flush() }

// escapeCell writes control and bidirectional-override characters (and
// invalid UTF-8) as Go escapes (\n, \x1b, \u202e).
func escapeCell(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				fmt.Fprintf(&b, `\x%02x`, s[i])
				continue
			}
			b.WriteRune(r)
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func ago(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newConnectorCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "connector",
		Short: "List, show, test and activate connectors (on the store directly)",
	}
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON")
	list := &cobra.Command{
		Use:     "list",
		Short:   "List connectors",
		Example: "  ipai connector list\n  ipai connector list --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withConnectors(cmd.Context(), false, func(env *connectorEnv) error {
				cs, err := env.svc.List(cmd.Context(), "")
				if err != nil {
					return err
				}
				views := make([]integration.View, 0, len(cs))
				for _, c := range cs {
					views = append(views, integration.ViewOf(c))
				}
				if asJSON {
					return printJSON(cmd.OutOrStdout(), views)
				}
				tw := newTable(cmd.OutOrStdout(), "CODE\tTYPE\tSTATE\tMANAGED\tVERSION\tLAST PING\tLATENCY\tLAST ERROR")
				for _, v := range views {
					tw.Row("%s\t%s\t%s\t%v\t%s\t%s\t%d ms\t%s", v.Code, v.Type, v.State, v.Managed, dash(v.Version),
						ago(v.LastPing), v.LastLatencyMS, dash(v.LastError))
				}
				return tw.Flush()
			})
		},
	}
	show := &cobra.Command{
		Use:     "show CODE",
		Short:   "Show one connector (secrets only as set or not)",
		Example: "  ipai connector show chat",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withConnectors(cmd.Context(), false, func(env *connectorEnv) error {
				c, err := env.svc.Get(cmd.Context(), args[0])
				if err != nil {
					return &exitError{code: 1, msg: err.Error()}
				}
				v := integration.ViewOf(c)
				if asJSON {
					return printJSON(cmd.OutOrStdout(), v)
				}
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "code:         %s\nname:         %s\ntype:         %s\nbase_url:     %s\napi_version:  %s\nauth_type:    %s\n",
					v.Code, v.Name, v.Type, v.BaseURL, dash(v.APIVersion), v.AuthType)
				for k, val := range v.Settings {
					fmt.Fprintf(w, "setting:      %s = %s\n", k, val)
				}
				fmt.Fprintf(w, "secrets set:  %s\nstate:        %s\nmanaged:      %v\nversion:      %s\nlast ping:    %s\nlatency:      %d ms\nlast error:   %s\n",
					dash(strings.Join(v.SecretNames(), ", ")), v.State, v.Managed, dash(v.Version), ago(v.LastPing), v.LastLatencyMS, dash(v.LastError))
				return nil
			})
		},
	}
	test := &cobra.Command{
		Use:     "test CODE",
		Short:   "Run Test Connection and save the outcome (exit 1 when it fails)",
		Example: "  ipai connector test chat\n  ipai connector test erp --json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withConnectors(cmd.Context(), true, func(env *connectorEnv) error {
				code := args[0]
				rep, err := env.svc.Test(cmd.Context(), code)
				if err != nil {
					return &exitError{code: 1, msg: err.Error()}
				}
				level := audit.Info
				if !rep.OK {
					level = audit.Warning
				}
				if err := env.audit.Write(cmd.Context(), audit.Entry{Actor: "cli", Action: "connector.test", Level: level, Target: code,
					Message: integration.ReportMessage(code, rep), Fields: integration.ReportFields(rep)}); err != nil {
					return fmt.Errorf("audit: %w", err)
				}
				if asJSON {
					if err := printJSON(cmd.OutOrStdout(), rep); err != nil {
						return err
					}
				} else {
					w := cmd.OutOrStdout()
					for _, c := range rep.Checks {
						mark := "ok  "
						if !c.OK {
							mark = "FAIL"
						}
						fmt.Fprintf(w, "%s %-9s %s\n", mark, c.Name, c.Detail)
					}
					fmt.Fprintf(w, "%s: state %s, version %s, %d ms\n", code, rep.State, dash(rep.Version), rep.LatencyMS)
				}
				if !rep.OK {
					return &exitError{code: 1, msg: integration.ReportMessage(code, rep)}
				}
				return nil
			})
		},
	}
	activate := &cobra.Command{
		Use:     "activate CODE",
		Short:   "Activate a connector that passed Test Connection (state testing)",
		Example: "  ipai connector test chat && ipai connector activate chat",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withConnectors(cmd.Context(), false, func(env *connectorEnv) error {
				c, err := env.svc.Activate(cmd.Context(), args[0])
				if err != nil {
					return &exitError{code: 1, msg: err.Error()}
				}
				if err := env.audit.Write(cmd.Context(), audit.Entry{Actor: "cli", Action: "connector.activate", Target: c.Code,
					Message: "connector " + c.Code + " activated"}); err != nil {
					return fmt.Errorf("audit: %w", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s is active\n", c.Code)
				return nil
			})
		},
	}
	cmd.AddCommand(list, show, test, activate)
	return cmd
}

func newHealthCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check every active connector once and print their health (exit 1 when any is down)",
		Long: `Runs one round of health checks against the active connectors in the store,
adds the results to the stored history (the same one ipai serve keeps), and
prints each connector's state, latency, uptime over the history and last error.`,
		Example: "  ipai health\n  ipai health --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withConnectors(cmd.Context(), true, func(env *connectorEnv) error {
				r, err := env.svc.NewRunner(cmd.Context(), env.cfg.Health)
				if err != nil {
					return err
				}
				if err := r.RunOnce(cmd.Context()); err != nil {
					return err
				}
				v, err := env.svc.Health(cmd.Context(), r)
				if err != nil {
					return err
				}
				if asJSON {
					if err := printJSON(cmd.OutOrStdout(), v); err != nil {
						return err
					}
				} else {
					tw := newTable(cmd.OutOrStdout(), "CODE\tTYPE\tSTATE\tLATENCY\tUPTIME\tCHECKS\tVERSION\tLAST ERROR")
					for _, s := range v.Connectors {
						tw.Row("%s\t%s\t%s\t%d ms\t%.1f%%\t%d\t%s\t%s", s.Code, s.Type, s.State, s.LatencyMS, s.Uptime*100,
							s.Checks, dash(s.Version), dash(s.LastError))
					}
					if err := tw.Flush(); err != nil {
						return err
					}
					if len(v.Connectors) == 0 {
						fmt.Fprintln(cmd.OutOrStdout(), "no active connectors")
					}
				}
				if !v.OK {
					return &exitError{code: 1, msg: "at least one active connector is down"}
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// cfgName names where cfg came from, for messages.
func cfgName(cfg config.Config) string {
	if cfg.Path == "" {
		return "the configuration"
	}
	return cfg.Path
}
