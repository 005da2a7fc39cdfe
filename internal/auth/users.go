package auth

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/store"
)

// User sources.
const (
	SourceLocal = "local"
	SourceOIDC  = "oidc"
)

// ErrBadLogin is the one answer to a failed sign-in, whatever was wrong.
var ErrBadLogin = errors.New("the user name or password is wrong, or the user is disabled")

// NamePattern is what a user's login name looks like.
var NamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// Users manages the people who sign in to the admin UI.
type Users struct {
	db  *store.DB
	Now func() time.Time

	// dummy is checked when the user is unknown, so timing does not tell;
	// made on first use (argon2id costs 64 MiB and tens of ms, which start-up
	// should not pay).
	dummyOnce sync.Once
	dummy     string
}

// NewUsers returns a user service on db.
func NewUsers(db *store.DB) *Users {
	return &Users{db: db, Now: time.Now}
}

func (u *Users) dummyHash() string {
	u.dummyOnce.Do(func() { u.dummy, _ = HashPassword("not a password of anyone") })
	return u.dummy
}

// NewUser describes a local user to create.
type NewUser struct {
	Name, DisplayName, Email string
	Role                     Role
	Password                 string
}

// CheckPasswordRule validates a new password; the error names the field.
func CheckPasswordRule(pw string) error {
	if len(pw) < MinPassword {
		return problem.Invalid("password", "is %d characters long; use at least %d", len(pw), MinPassword)
	}
	if len(pw) > 1024 {
		return problem.Invalid("password", "is longer than 1024 characters")
	}
	return nil
}

// Create adds a local user with a password. Errors are *problem.Error
// naming the field at fault.
func (u *Users) Create(ctx context.Context, in NewUser) (store.User, error) {
	in.Name = strings.ToLower(strings.TrimSpace(in.Name))
	if !NamePattern.MatchString(in.Name) {
		return store.User{}, problem.Invalid("name", "%q is not a user name; use 1 to 64 lower-case letters, digits, '.', '_', '@' or '-'", in.Name)
	}
	if in.Role.rank() == 0 {
		return store.User{}, problem.Invalid("role", "%q is not known; expected user, manager or admin", in.Role)
	}
	if err := CheckPasswordRule(in.Password); err != nil {
		return store.User{}, err
	}
	h, err := HashPassword(in.Password)
	if err != nil {
		return store.User{}, err
	}
	now := u.Now().UTC()
	rec := store.User{ID: uuid.Must(uuid.NewV7()).String(), Name: in.Name, DisplayName: strings.TrimSpace(in.DisplayName),
		Email: strings.TrimSpace(in.Email), Role: string(in.Role), Source: SourceLocal, PasswordHash: h, CreatedAt: now, UpdatedAt: now}
	if err := u.db.CreateUser(ctx, rec); err != nil {
		if store.IsConflict(err) {
			return rec, problem.Invalid("name", "a user named %q already exists", in.Name)
		}
		return rec, err
	}
	return rec, nil
}

// Authenticate checks a local user's password.
func (u *Users) Authenticate(ctx context.Context, name, password string) (store.User, error) {
	rec, err := u.db.UserByName(ctx, strings.ToLower(strings.TrimSpace(name)))
	if errors.Is(err, store.ErrNotFound) || (err == nil && rec.PasswordHash == "") {
		_, _ = CheckPassword(u.dummyHash(), password)
		return store.User{}, ErrBadLogin
	}
	if err != nil {
		return store.User{}, err
	}
	ok, err := CheckPassword(rec.PasswordHash, password)
	if err != nil {
		return store.User{}, err
	}
	if !ok || rec.Disabled {
		return store.User{}, ErrBadLogin
	}
	_ = u.db.TouchUserLogin(ctx, rec.ID, u.Now())
	return rec, nil
}

// SetRole changes a user's role; it applies to the user's next request.
func (u *Users) SetRole(ctx context.Context, id string, role Role) (store.User, error) {
	if role.rank() == 0 {
		return store.User{}, problem.Invalid("role", "%q is not known; expected user, manager or admin", role)
	}
	rec, err := u.get(ctx, id)
	if err != nil {
		return rec, err
	}
	rec.Role, rec.UpdatedAt = string(role), u.Now().UTC()
	return rec, u.db.UpdateUser(ctx, rec)
}

// SetPassword replaces a local user's password and signs them out everywhere.
func (u *Users) SetPassword(ctx context.Context, id, password string) error {
	if err := CheckPasswordRule(password); err != nil {
		return err
	}
	rec, err := u.get(ctx, id)
	if err != nil {
		return err
	}
	if rec.PasswordHash, err = HashPassword(password); err != nil {
		return err
	}
	rec.UpdatedAt = u.Now().UTC()
	if err := u.db.UpdateUser(ctx, rec); err != nil {
		return err
	}
	_, err = u.db.DeleteUserSessions(ctx, id)
	return err
}

// SetDisabled disables (and signs out) or enables a user.
func (u *Users) SetDisabled(ctx context.Context, id string, disabled bool) (store.User, error) {
	rec, err := u.get(ctx, id)
	if err != nil {
		return rec, err
	}
	rec.Disabled, rec.UpdatedAt = disabled, u.Now().UTC()
	if err := u.db.UpdateUser(ctx, rec); err != nil {
		return rec, err
	}
	if disabled {
		_, err = u.db.DeleteUserSessions(ctx, id)
	}
	return rec, err
}

func (u *Users) get(ctx context.Context, id string) (store.User, error) {
	rec, err := u.db.User(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return rec, problem.NotFound("no user with id %q", id)
	}
	return rec, err
}

// Identity is who an OIDC provider says signed in, with the mapped role.
type Identity struct {
	Issuer, Subject          string
	Name, Email, DisplayName string
	Role                     Role
	Roles                    []string // the provider's roles, from the role claim
	// RawIDToken is the ID token of the sign-in (kept by the browser for
	// logout's id_token_hint; never stored).
	RawIDToken string
}

// UpsertOIDC returns the user of an OIDC identity, creating it on the first
// sign-in. The role is the provider's (mapped) role at every sign-in, so a
// role change in Keycloak applies at the next sign-in. A disabled user
// stays disabled: ErrBadLogin.
func (u *Users) UpsertOIDC(ctx context.Context, id Identity) (store.User, error) {
	now := u.Now().UTC()
	rec, err := u.db.UserByOIDC(ctx, id.Issuer, id.Subject)
	switch {
	case err == nil:
		if rec.Disabled {
			return rec, ErrBadLogin
		}
		rec.Role, rec.Email, rec.DisplayName, rec.UpdatedAt = string(id.Role), id.Email, id.DisplayName, now
		if err := u.db.UpdateUser(ctx, rec); err != nil {
			return rec, err
		}
	case errors.Is(err, store.ErrNotFound):
		name := strings.ToLower(id.Name)
		if !NamePattern.MatchString(name) {
			name = "oidc-" + shortHash(id.Issuer+"|"+id.Subject)
		}
		rec = store.User{ID: uuid.Must(uuid.NewV7()).String(), Name: name, DisplayName: id.DisplayName, Email: id.Email,
			Role: string(id.Role), Source: SourceOIDC, OIDCIssuer: id.Issuer, OIDCSubject: id.Subject, CreatedAt: now, UpdatedAt: now}
		err = u.db.CreateUser(ctx, rec)
		if store.IsConflict(err) { // a local user has that name: keep both apart
			rec.Name = name + "-" + shortHash(id.Issuer + "|" + id.Subject)[:6]
			err = u.db.CreateUser(ctx, rec)
		}
		if err != nil {
			return rec, err
		}
	default:
		return rec, err
	}
	_ = u.db.TouchUserLogin(ctx, rec.ID, now)
	return rec, nil
}

func shortHash(s string) string { return HashToken(s)[:12] }
