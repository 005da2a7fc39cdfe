package main

import (
	"fmt"
	"io"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/insightpulseai/ipai/internal/config"
)

func init() { register(newConfigCmd) }

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with ipai.yaml"}
	var show bool
	check := &cobra.Command{
		Use:   "check [FILE]",
		Short: "Validate a config file; exits non-zero on errors (--show: then print the effective settings, secrets masked)",
		Example: `  ipai config check ipai.yaml
  ipai config check --show --config /etc/ipai/ipai.yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfigArg(args)
			if err != nil {
				return err
			}
			src := cfg.Path
			if src == "" {
				src = "(no file: defaults and environment)"
			}
			cmd.Printf("%s: ok\n", src)
			if show {
				showSettings(cmd.OutOrStdout(), "", reflect.ValueOf(cfg))
			}
			return nil
		},
	}
	check.Flags().BoolVar(&show, "show", false, "also print the effective settings as `ipai config show` does (secrets as (set))")
	cmd.AddCommand(check)
	cmd.AddCommand(&cobra.Command{
		Use:   "show [FILE]",
		Short: "Print the settings ipai would run with (file, environment and defaults merged); secrets show as (set)",
		Example: `  ipai config show
  IPAI_CONFIG=/etc/ipai/ipai.yaml ipai config show`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfigArg(args)
			if err != nil {
				return err
			}
			showSettings(cmd.OutOrStdout(), "", reflect.ValueOf(cfg))
			return nil
		},
	})
	return cmd
}

// loadConfigArg loads the file named as the argument, else --config or
// IPAI_CONFIG.
func loadConfigArg(args []string) (config.Config, error) {
	path := global.config
	if len(args) == 1 {
		path = args[0]
	}
	return config.Load(path)
}

// showSettings prints v as "key.path: value" lines in the names of
// ipai.yaml. Secrets (any key naming a secret, password, token or DSN, and
// every value under a secrets or headers map) print as (set); a URL's
// password is masked.
func showSettings(w io.Writer, path string, v reflect.Value) {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch v.Kind() {
	case reflect.Struct:
		if d, ok := v.Interface().(time.Duration); ok {
			fmt.Fprintf(w, "%s: %s\n", path, d)
			return
		}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			name, opts, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			if !t.Field(i).IsExported() {
				continue
			}
			if name == "" && strings.Contains(opts, "inline") { // a webhook's spec
				showSettings(w, path, v.Field(i))
				continue
			}
			if name == "" || name == "-" {
				continue
			}
			showSettings(w, join(name), v.Field(i))
		}
	case reflect.Slice:
		if v.Len() == 0 {
			fmt.Fprintf(w, "%s: []\n", path)
		}
		for i := 0; i < v.Len(); i++ {
			showSettings(w, fmt.Sprintf("%s[%d]", path, i), v.Index(i))
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			p := join(fmt.Sprint(k))
			if strings.HasSuffix(path, "secrets") || strings.HasSuffix(path, "headers") {
				fmt.Fprintf(w, "%s: %s\n", p, masked(fmt.Sprint(v.MapIndex(k))))
				continue
			}
			showSettings(w, p, v.MapIndex(k))
		}
	case reflect.Interface, reflect.Pointer:
		if !v.IsNil() {
			showSettings(w, path, v.Elem())
		}
	default:
		val := fmt.Sprint(v.Interface())
		last := path[strings.LastIndex(path, ".")+1:]
		switch {
		case strings.Contains(last, "secret") || strings.Contains(last, "password") ||
			strings.Contains(last, "token") || last == "dsn":
			val = masked(val)
		case strings.Contains(val, "://"):
			if u, err := url.Parse(val); err == nil && u.User != nil {
				val = u.Redacted()
			}
		}
		fmt.Fprintf(w, "%s: %s\n", path, val)
	}
}

func masked(v string) string {
	if v == "" {
		return ""
	}
	return "(set)"
}
