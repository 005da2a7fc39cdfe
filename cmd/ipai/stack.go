package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/insightpulseai/ipai/internal/stack"
	"github.com/insightpulseai/ipai/internal/stack/backup"
	"github.com/insightpulseai/ipai/internal/stack/probe"
)

func init() { register(newStackCmd) }

func newStackCmd() *cobra.Command {
	var dir, docker string
	cmd := &cobra.Command{
		Use:   "stack",
		Short: "Deploy and operate the ops stack: init, up, down, logs, ps, healthcheck, backup, restore",
		Long: `ipai stack writes a docker compose deployment of the whole platform (PostgreSQL, Caddy,
Mattermost, Focalboard, n8n, Superset, Keycloak, the Odoo editions and the ipai hub),
runs it, checks it, backs it up and restores it.`,
		Example: "  ipai stack init --dir /srv/ipai --domain example.com --editions core,accounting\n" +
			"  ipai stack up --dir /srv/ipai\n  ipai stack healthcheck --dir /srv/ipai --notify\n" +
			"  ipai stack backup --dir /srv/ipai --keep 7 --verify",
	}
	cmd.PersistentFlags().StringVar(&dir, "dir", cmp.Or(os.Getenv("IPAI_STACK_DIR"), "."), "deployment directory (env IPAI_STACK_DIR)")
	cmd.PersistentFlags().StringVar(&docker, "docker", "docker", "docker binary")
	cmd.AddCommand(stackInitCmd(&dir))
	cmd.AddCommand(stackComposeCmds(&dir, &docker)...)
	cmd.AddCommand(stackLogsCmd(&dir, &docker), stackHealthCmd(&dir, &docker),
		stackBackupCmd(&dir, &docker), stackRestoreCmd(&dir, &docker), stackProbeCmd(), stackDoctorCmd(&dir), stackConnectCmd(&dir))
	return cmd
}

func stackDoctorCmd(dir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check a deployment folder offline and print what to fix; exit 1 when anything is wrong",
		Long: `doctor checks, without Docker: the compose file loads; every image is pinned by tag or
digest (or built); docker/.env has every key, non-empty, and mode 0600; every ${VAR} of the
compose file and hub/ipai.yaml is defined; the Caddyfile serves each service's name under the
domain from a service that exists; the hub is given only variables ipai reads, and its settings
load as the hub would load them.`,
		Example: "  ipai stack doctor --dir /srv/ipai",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			findings, err := stack.Doctor(cmd.Context(), stack.DoctorOptions{Dir: *dir})
			if err != nil {
				return err
			}
			for _, f := range findings {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n    fix: %s\n", f.File, f.What, f.Fix)
			}
			if len(findings) > 0 {
				return &exitError{code: 1, msg: fmt.Sprintf("%d problem(s) in %s", len(findings), *dir)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", *dir)
			return nil
		},
	}
}

func stackConnectCmd(dir *string) *cobra.Command {
	var urls []string
	c := &cobra.Command{
		Use:   "connect",
		Short: "Create the secrets services make once they run (bot token, API keys) and write them into docker/.env",
		Long: `connect runs once the stack is up. Through each service's API it creates what only a running
service can make: the Mattermost bot "ipai" and its access token (logging in as
MATTERMOST_ADMIN_USER, created as Mattermost's first user — a system admin — when it does not
exist), the n8n owner and an API key, each Odoo edition's API key for admin (password "admin" of a
fresh database, or ODOO_<EDITION>_ADMIN_PASSWORD from docker/.env), and the Focalboard user
FOCALBOARD_USER (registered as the server's first user). It writes the secrets into docker/.env
(mode 0600; never printed); secrets already set are kept. Restart the hub afterwards so its
connectors pick them up: docker compose up -d hub.
--url SERVICE=URL reaches a service elsewhere than its public name (e.g. a published port).`,
		Example: "  ipai stack connect --dir /srv/ipai\n" +
			"  ipai stack connect --dir /srv/ipai --url mattermost=http://127.0.0.1:8065",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := stack.ConnectOptions{Dir: *dir, URLs: map[string]string{}}
			for _, f := range urls {
				k, v, ok := strings.Cut(f, "=")
				if !ok || k == "" || v == "" {
					return fmt.Errorf("--url %q: want SERVICE=URL, e.g. --url mattermost=http://127.0.0.1:8065", f)
				}
				o.URLs[k] = v
			}
			res, err := stack.Connect(cmd.Context(), o)
			if err != nil {
				return err
			}
			failed, created := 0, 0
			for _, r := range res {
				line := fmt.Sprintf("%-8s %-16s %s", r.Action, r.Service, r.Key)
				if r.Detail != "" {
					line += "  (" + r.Detail + ")"
				}
				fmt.Fprintln(cmd.OutOrStdout(), strings.TrimRight(line, " "))
				switch r.Action {
				case "failed":
					failed++
				case "created":
					created++
				}
			}
			if created > 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "restart the hub so its connectors use them: docker compose --project-directory "+
					filepath.Join(*dir, "docker")+" up -d hub")
			}
			if failed > 0 {
				return &exitError{code: 1, msg: fmt.Sprintf("%d secret(s) not created: fix what is named and run connect again", failed)}
			}
			return nil
		},
	}
	c.Flags().StringArrayVar(&urls, "url", nil, "SERVICE=URL: reach SERVICE (mattermost, focalboard, n8n, odoo-<edition>) at URL (repeatable)")
	return c
}

func toolVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return "ipai " + bi.Main.Version
	}
	return "ipai (devel)"
}

func stackInitCmd(dir *string) *cobra.Command {
	var o stack.InitOptions
	var editions string
	c := &cobra.Command{
		Use:   "init",
		Short: "Write a complete deployment (compose, Caddyfile, secrets, configs) into --dir",
		Long: `init writes docker/docker-compose.yml, docker/.env (generated secrets, mode 0600),
docker/.env.example, hub/ipai.yaml (the hub's settings), postgres/init, caddy/Caddyfile,
superset/superset_config.py, keycloak/import, odoo/odoo.conf, n8n/workflows/ and docs/.
The hub's image is built by compose from the ipai checkout's Dockerfile, or is the
published image given with --hub-image. Re-running never changes
a secret or a file you edited; --force regenerates files still as init wrote them.`,
		Example: "  ipai stack init --dir /srv/ipai --domain example.com\n" +
			"  ipai stack init --dir /srv/ipai --domain example.com --editions core,marketing,accounting --tz Asia/Manila\n" +
			"  ipai stack init --dir /srv/ipai --force   # after upgrading ipai",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Dir = *dir
			if editions != "" {
				var err error
				if o.Editions, err = stack.ParseEditions(editions); err != nil {
					return err
				}
			}
			res, err := stack.Init(o)
			for _, r := range res {
				line := fmt.Sprintf("%-12s %s", r.Action, r.Path)
				if r.Detail != "" {
					line += "  (" + r.Detail + ")"
				}
				fmt.Fprintln(cmd.OutOrStdout(), line)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deployment ready in %s: next, `ipai stack up --dir %s`\n", o.Dir, o.Dir)
			return nil
		},
	}
	c.Flags().StringVar(&o.Domain, "domain", "", "DNS domain the services live under (chat.DOMAIN, erp.DOMAIN, …)")
	c.Flags().StringVar(&editions, "editions", "", "Odoo editions: core, marketing, accounting (comma-separated; default core)")
	c.Flags().StringVar(&o.TZ, "tz", "", "time zone of the services (default Asia/Manila)")
	c.Flags().StringVar(&o.Email, "email", "", "ACME account e-mail for certificates (default admin@DOMAIN)")
	c.Flags().BoolVar(&o.Force, "force", false, "regenerate files unchanged since init wrote them (never secrets or edited files)")
	c.Flags().StringVar(&o.HubImage, "hub-image", "", "run this published, pinned image of the hub (default: build it from the ipai checkout)")
	c.Flags().StringVar(&o.HubSource, "hub-source", "", "the ipai checkout compose builds the hub from (default: the one around the working directory)")
	return c
}

func composeErr(err error) error {
	var ee *stack.ExitError
	if errors.As(err, &ee) {
		return &exitError{code: ee.Code, msg: ee.Error()}
	}
	return err
}

func stackComposeCmds(dir, docker *string) []*cobra.Command {
	var wait int
	var timeout time.Duration
	up := &cobra.Command{
		Use:     "up",
		Short:   "Start the stack, wait until every container is healthy, then run the health check",
		Example: "  ipai stack up --dir /srv/ipai\n  ipai stack up --dir /srv/ipai --wait 900",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := stack.Runner{Dir: *dir, Docker: *docker, Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()}
			if err := r.Run(cmd.Context(), stack.UpArgs(wait)...); err != nil {
				return composeErr(err)
			}
			return runHealth(cmd, *dir, *docker, nil, timeout, false, false, "", "")
		},
	}
	up.Flags().IntVar(&wait, "wait", 600, "seconds to wait for every container to be healthy")
	up.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "timeout of each health check")
	down := &cobra.Command{
		Use:     "down",
		Short:   "Stop and remove the stack's containers (volumes are kept)",
		Example: "  ipai stack down --dir /srv/ipai",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := stack.Runner{Dir: *dir, Docker: *docker, Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()}
			return composeErr(r.Run(cmd.Context(), "down"))
		},
	}
	ps := &cobra.Command{
		Use:     "ps",
		Short:   "List the stack's containers and their health",
		Example: "  ipai stack ps --dir /srv/ipai",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := stack.Runner{Dir: *dir, Docker: *docker, Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()}
			return composeErr(r.Run(cmd.Context(), "ps"))
		},
	}
	return []*cobra.Command{up, down, ps}
}

func stackLogsCmd(dir, docker *string) *cobra.Command {
	var follow bool
	var tail int
	c := &cobra.Command{
		Use:     "logs [service]",
		Short:   "Show (and follow) the logs of one service or all",
		Example: "  ipai stack logs --dir /srv/ipai n8n\n  ipai stack logs --dir /srv/ipai --follow=false --tail 500",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			service := ""
			if len(args) == 1 {
				service = args[0]
			}
			r := stack.Runner{Dir: *dir, Docker: *docker, Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()}
			return composeErr(r.Run(cmd.Context(), stack.LogsArgs(service, follow, tail)...))
		},
	}
	c.Flags().BoolVarP(&follow, "follow", "f", true, "keep following new lines")
	c.Flags().IntVar(&tail, "tail", 100, "lines of history per container")
	return c
}

func stackHealthCmd(dir, docker *string) *cobra.Command {
	var urls []string
	var timeout time.Duration
	var asJSON, notify bool
	var mm, n8n string
	c := &cobra.Command{
		Use:   "healthcheck",
		Short: "Check every service concurrently; exit 1 when any is down",
		Long: `healthcheck asks every service its real health endpoint through the deployment's
public names (Mattermost ping with server status, Focalboard /ping, n8n readiness,
Superset /health, Keycloak realm discovery, Odoo /web/health per edition, the hub's
/readyz, Caddy on port 80) and PostgreSQL with pg_isready in its container.
--url SERVICE=URL points one check elsewhere (a postgres:// URL checks PostgreSQL directly).`,
		Example: "  ipai stack healthcheck --dir /srv/ipai\n" +
			"  ipai stack healthcheck --dir /srv/ipai --json\n" +
			"  ipai stack healthcheck --dir /srv/ipai --notify --mattermost-webhook https://chat.example.com/hooks/xxx\n" +
			"  ipai stack healthcheck --url postgres=postgres://postgres:pw@127.0.0.1:5432/postgres --url hub=http://127.0.0.1:8080/readyz",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runHealth(cmd, *dir, *docker, urls, timeout, asJSON, notify, mm, n8n)
		},
	}
	c.Flags().StringArrayVar(&urls, "url", nil, "SERVICE=URL: check SERVICE at URL instead (repeatable)")
	c.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "timeout of each check")
	c.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON")
	c.Flags().BoolVar(&notify, "notify", false, "post the results to the Mattermost and/or n8n webhook")
	c.Flags().StringVar(&mm, "mattermost-webhook", os.Getenv("MM_WEBHOOK_URL"), "Mattermost incoming webhook URL (env MM_WEBHOOK_URL)")
	c.Flags().StringVar(&n8n, "n8n-webhook", os.Getenv("N8N_WEBHOOK_URL"), "n8n webhook URL (env N8N_WEBHOOK_URL)")
	return c
}

func runHealth(cmd *cobra.Command, dir, docker string, urlFlags []string, timeout time.Duration, asJSON, notify bool, mm, n8n string) error {
	overrides := map[string]string{}
	for _, f := range urlFlags {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" || v == "" {
			return fmt.Errorf("--url %q: want SERVICE=URL, e.g. --url hub=http://127.0.0.1:8080/readyz", f)
		}
		overrides[k] = v
	}
	if notify && mm == "" && n8n == "" {
		return errors.New("--notify needs --mattermost-webhook or --n8n-webhook (or MM_WEBHOOK_URL / N8N_WEBHOOK_URL)")
	}
	d, err := stack.LoadDeployment(dir)
	if err != nil {
		if len(overrides) == 0 {
			return err
		}
		d = stack.Deployment{} // only the --url checks
	}
	var checks []probe.Check
	if d.Domain != "" {
		r := stack.Runner{Dir: dir, Docker: docker}
		checks = probe.Checks(d.Domain, d.Editions, nil)
		checks = append(checks, probe.Check{Name: "postgres", Kind: probe.Postgres, Cmd: func(ctx context.Context) *exec.Cmd {
			return r.Command(ctx, stack.ExecArgs("postgres", "pg_isready", "-U", "postgres")...)
		}})
	} else {
		for name := range overrides {
			checks = append(checks, probe.Check{Name: name, Kind: name})
		}
	}
	if checks, err = probe.Override(checks, overrides); err != nil {
		return err
	}
	rs := probe.Run(cmd.Context(), nil, checks, timeout)
	if asJSON {
		if err := printJSON(cmd.OutOrStdout(), rs); err != nil {
			return err
		}
	} else if err := probe.WriteTable(cmd.OutOrStdout(), rs); err != nil {
		return err
	}
	if notify {
		if err := probe.Notify(cmd.Context(), nil, mm, n8n, rs); err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), "ipai: notify:", err)
		}
	}
	if !probe.AllUp(rs) {
		return &exitError{code: 1}
	}
	return nil
}

func stackBackupCmd(dir, docker *string) *cobra.Command {
	var o backup.Options
	var pgURL, pgBin string
	var dbs, paths []string
	var compress int
	c := &cobra.Command{
		Use:   "backup",
		Short: "Back up every database (pg_dump -Fc, in parallel) and the stack's files into one archive",
		Long: `backup writes OUT/backup-YYYYmmdd-HHMMSS.tar holding manifest.json (sha256 and size of
every member, server and pg_dump versions, row count of every table), one custom-format
dump per database, the Odoo filestores, n8n's data and the deployment's files. The archive
appears under that name only once complete (and verified, with --verify); --keep prunes
older archives only after that.

The manifest is signed (HMAC-SHA256) with the backup key: env IPAI_BACKUP_KEY (hex), else
DIR/docker/backup.key, created (mode 0600) by the first backup of a deployment. The key is
never put into an archive: keep a copy of it off the machine.

Without --pg-url it goes through ` + "`docker compose exec`" + ` into the deployment in --dir;
with --pg-url it reaches PostgreSQL directly (all databases but postgres and templates,
or --db) and includes the files of --path NAME=DIR.`,
		Example: "  ipai stack backup --dir /srv/ipai --keep 7 --verify\n" +
			"  ipai stack backup --pg-url postgres://postgres:pw@127.0.0.1:5432/postgres --out /var/backups/ipai --db odoo_core,n8n\n" +
			"  ipai stack backup --pg-url $PG --path odoo-filestore=/var/lib/odoo/filestore --out /var/backups/ipai",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.OutDir == "" {
				o.OutDir = filepath.Join(*dir, "backups")
			}
			extra, err := backup.ParseSources(paths)
			if err != nil {
				return err
			}
			if pgURL != "" {
				if o.Target, err = backup.NewDirect(pgURL, pgBin); err != nil {
					return err
				}
				o.Sources = append(backup.DirectForDeployment(*dir, o.OutDir), extra...)
			} else {
				t, src, err := backup.ForDeployment(*dir, *docker, o.OutDir)
				if err != nil {
					return fmt.Errorf("%w (or use --pg-url to reach PostgreSQL directly)", err)
				}
				o.Target, o.Sources = t, append(src, extra...)
			}
			o.Databases, o.ToolVersion, o.Progress, o.Roles = splitList(dbs), toolVersion(), cmd.ErrOrStderr(), true
			if o.Key, err = backup.LoadKey(*dir, os.Getenv(backup.KeyEnv), true); err != nil {
				return err
			}
			switch {
			case o.Key == nil:
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: the archive will not be signed: no backup key (%s is not a deployment and %s is not set; e.g. export %s=$(openssl rand -hex 32) and keep a copy)\n",
					*dir, backup.KeyEnv, backup.KeyEnv)
			case o.Key.Created:
				fmt.Fprintf(cmd.ErrOrStderr(), "created the backup key %s (id %s): archives are signed with it and restores check it; keep a copy off this machine, a restore elsewhere needs it\n",
					o.Key.Source, o.Key.ID())
			}
			if cmd.Flags().Changed("compress") {
				o.Compress = &compress
			}
			res, err := backup.Backup(cmd.Context(), o)
			if err != nil {
				return err
			}
			var size int64
			for _, f := range res.Manifest.Files {
				size += f.Size
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backup %s: %d databases, %d files, %d bytes in %s%s\n", res.Path, len(res.Manifest.Databases),
				len(res.Manifest.Files), size, time.Duration(res.Manifest.DurationMS)*time.Millisecond, map[bool]string{true: ", verified"}[o.Verify])
			for _, w := range res.Manifest.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			for _, p := range res.Pruned {
				fmt.Fprintln(cmd.OutOrStdout(), "pruned", p)
			}
			return nil
		},
	}
	c.Flags().StringVar(&o.OutDir, "out", "", "directory of the archives (default DIR/backups)")
	c.Flags().IntVar(&o.Keep, "keep", 0, "keep only the newest N archives (0 keeps all)")
	c.Flags().BoolVar(&o.Verify, "verify", false, "restore into scratch databases and compare row counts before counting the backup")
	c.Flags().IntVar(&o.Jobs, "jobs", runtime.NumCPU(), "databases dumped at once")
	c.Flags().StringVar(&pgURL, "pg-url", os.Getenv("IPAI_STACK_PG_URL"), "reach PostgreSQL directly at this URL (env IPAI_STACK_PG_URL)")
	c.Flags().StringVar(&pgBin, "pg-bin", "", "directory of pg_dump/pg_restore (default: PATH)")
	c.Flags().StringSliceVar(&dbs, "db", nil, "databases to back up (default: all)")
	c.Flags().StringArrayVar(&paths, "path", nil, "NAME=DIR: also archive the files of DIR (repeatable)")
	c.Flags().IntVar(&compress, "compress", 6, "pg_dump compression level 0-9 (1 is much faster on few cores, a little larger)")
	return c
}

func splitList(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func stackRestoreCmd(dir, docker *string) *cobra.Command {
	var o backup.RestoreOptions
	var pgURL, pgBin string
	var dbs []string
	c := &cobra.Command{
		Use:   "restore ARCHIVE",
		Short: "Verify an archive, restore its databases into fresh ones and swap them in",
		Long: `restore first checks the sha256 and size of every member: a corrupt or truncated
archive is refused before anything is touched. Each database is restored into
NAME_restore_<ts>; only when every pg_restore succeeded and every table's row count
matches the manifest are they swapped in by rename, the old one kept as NAME_before_<ts>
(unless --drop-old). --verify-only restores into scratch databases, compares row counts
with the manifest and drops them.

With a backup key (env IPAI_BACKUP_KEY, else DIR/docker/backup.key) the manifest's
signature must be valid: an unsigned archive, or one signed with another key or changed
after the backup, is refused unless --allow-unsigned. Every entry of the archived file
trees is checked before anything is touched: absolute names, "..", links leaving the
target and anything under a symlink are refused.`,
		Example: "  ipai stack restore backups/backup-20260101-020000.tar --dir /srv/ipai\n" +
			"  ipai stack restore backup.tar --pg-url postgres://postgres:pw@127.0.0.1:5432/postgres --db odoo_core\n" +
			"  ipai stack restore backup.tar --pg-url $PG --verify-only",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Archive, o.Databases, o.Progress = args[0], splitList(dbs), cmd.ErrOrStderr()
			var err error
			if o.Key, err = backup.LoadKey(*dir, os.Getenv(backup.KeyEnv), false); err != nil {
				return err
			}
			if o.Key == nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: the archive's signature is not checked: no backup key (%s has no docker/backup.key and %s is not set)\n", *dir, backup.KeyEnv)
			}
			if pgURL != "" {
				if o.Target, err = backup.NewDirect(pgURL, pgBin); err != nil {
					return err
				}
			} else {
				t, _, err := backup.ForDeployment(*dir, *docker, "")
				if err != nil {
					return fmt.Errorf("%w (or use --pg-url to reach PostgreSQL directly)", err)
				}
				o.Target = t
			}
			rep, err := backup.Restore(cmd.Context(), o)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, "archive:", rep.Signature)
			for _, d := range rep.Databases {
				switch {
				case o.VerifyOnly && d.Err == nil && len(d.Mismatches) == 0:
					fmt.Fprintf(out, "verified %s: %d tables, %d rows match the manifest\n", d.Name, d.Tables, d.Rows)
				case o.VerifyOnly:
					fmt.Fprintf(out, "FAILED %s\n", d.Name)
				case d.OldKeptAs != "":
					fmt.Fprintf(out, "restored %s (%d tables, %d rows); previous database kept as %s\n", d.Name, d.Tables, d.Rows, d.OldKeptAs)
				default:
					fmt.Fprintf(out, "restored %s (%d tables, %d rows)\n", d.Name, d.Tables, d.Rows)
				}
			}
			for _, p := range rep.FilesTo {
				fmt.Fprintln(out, "files extracted to", p)
			}
			if err := rep.Err(); err != nil {
				return &exitError{code: 1, msg: "verification failed: " + err.Error()}
			}
			return nil
		},
	}
	c.Flags().StringVar(&pgURL, "pg-url", os.Getenv("IPAI_STACK_PG_URL"), "reach PostgreSQL directly at this URL (env IPAI_STACK_PG_URL)")
	c.Flags().StringVar(&pgBin, "pg-bin", "", "directory of pg_dump/pg_restore (default: PATH)")
	c.Flags().StringSliceVar(&dbs, "db", nil, "databases to restore (default: all in the archive)")
	c.Flags().BoolVar(&o.VerifyOnly, "verify-only", false, "restore into scratch databases, compare row counts, drop them")
	c.Flags().BoolVar(&o.DropOld, "drop-old", false, "drop the previous databases instead of keeping NAME_before_<ts>")
	c.Flags().BoolVar(&o.NoOwner, "no-owner", false, "do not restore ownership and grants (when the roles do not exist)")
	c.Flags().BoolVar(&o.AllowUnsigned, "allow-unsigned", false, "restore an archive that is unsigned or whose signature does not match the backup key (only if you know where it came from)")
	c.Flags().StringVar(&o.FilesTo, "files-to", "", "also extract the archived files (filestores, n8n data, config) under this directory")
	c.Flags().IntVar(&o.Jobs, "jobs", runtime.NumCPU(), "databases restored at once")
	return c
}

func stackProbeCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "probe URL",
		Short:   "GET URL and exit 0 only on a 2xx answer (container healthchecks)",
		Example: "  ipai stack probe http://127.0.0.1:8080/readyz",
		Args:    cobra.ExactArgs(1),
		Hidden:  true,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			return probe.Probe(ctx, args[0])
		},
	}
}
