package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/store"
)

func init() { register(newUserCmd) }

func newUserCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage the admin UI's local users (works on the database directly)"}

	var name, role, password, email, display string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a local user; the password is read from stdin unless --password is given",
		Example: `  ipai user create --name alice --role admin          # then type the password and Enter
  printf '%s\n' "$PW" | ipai user create --name ops --role manager`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := auth.ParseRole(role)
			if err != nil {
				return fmt.Errorf("--role: %v", err)
			}
			if password == "" {
				cmd.PrintErrf("password for %s (at least %d characters), then Enter: ", name, auth.MinPassword)
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && line == "" {
					return errors.New("no password on stdin: pipe it in or pass --password")
				}
				password = strings.TrimRight(line, "\r\n")
				cmd.PrintErrln()
			}
			return withStore(cmd.Context(), func(db *store.DB, _ config.Config) error {
				u, err := auth.NewUsers(db).Create(cmd.Context(), auth.NewUser{Name: name, Role: r, Password: password, Email: email, DisplayName: display})
				if err != nil {
					if p, ok := problem.As(err); ok && p.Field != "" {
						return fmt.Errorf("--%s: %s", p.Field, p.Message)
					}
					return err
				}
				if err := writeAudit(cmd.Context(), db, audit.Entry{Action: "user.create", Target: u.ID,
					Message: "user " + u.Name + " created with role " + u.Role}); err != nil {
					return err
				}
				cmd.Printf("user %s (id %s, role %s) created; sign in at /login\n", u.Name, u.ID, u.Role)
				return nil
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "login name (required)")
	create.Flags().StringVar(&role, "role", "user", "user, manager or admin")
	create.Flags().StringVar(&password, "password", "", "the password (visible in the process list: prefer stdin)")
	create.Flags().StringVar(&email, "email", "", "email address")
	create.Flags().StringVar(&display, "display-name", "", "full name")
	_ = create.MarkFlagRequired("name")

	list := &cobra.Command{
		Use: "list", Short: "List users", Args: cobra.NoArgs, Example: "  ipai user list",
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), func(db *store.DB, _ config.Config) error {
				tw := newTable(cmd.OutOrStdout(), "NAME\tROLE\tSOURCE\tSTATE\tID")
				after := ""
				for {
					us, err := db.ListUsers(cmd.Context(), after, 500)
					if err != nil {
						return err
					}
					for _, u := range us {
						tw.Row("%s\t%s\t%s\t%s\t%s", u.Name, u.Role, u.Source, state(u), u.ID)
					}
					if len(us) < 500 {
						break
					}
					after = us[len(us)-1].Name
				}
				return tw.Flush()
			})
		},
	}

	setRole := &cobra.Command{
		Use: "set-role NAME ROLE", Short: "Change a user's role (applies to their next request)", Args: cobra.ExactArgs(2),
		Example: "  ipai user set-role ana manager",
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := auth.ParseRole(args[1])
			if err != nil {
				return err
			}
			return withStore(cmd.Context(), func(db *store.DB, _ config.Config) error {
				u, err := db.UserByName(cmd.Context(), strings.ToLower(args[0]))
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no user named %q (see `ipai user list`)", args[0])
				}
				if err != nil {
					return err
				}
				if _, err := auth.NewUsers(db).SetRole(cmd.Context(), u.ID, r); err != nil {
					return err
				}
				_ = writeAudit(cmd.Context(), db, audit.Entry{Action: "user.role", Target: u.ID, Message: "role of " + u.Name + " set to " + string(r)})
				cmd.Printf("user %s now has role %s\n", u.Name, r)
				return nil
			})
		},
	}
	cmd.AddCommand(create, list, setRole)
	return cmd
}

func state(u store.User) string {
	if u.Disabled {
		return "disabled"
	}
	return "active"
}
