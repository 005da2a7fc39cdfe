-- People who sign in to the admin UI: local users (argon2id password hash)
-- and users created on their first OIDC sign-in (issuer + subject).
CREATE TABLE users (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	display_name TEXT NOT NULL DEFAULT '',
	email TEXT NOT NULL DEFAULT '',
	role TEXT NOT NULL,
	source TEXT NOT NULL,
	password_hash TEXT NOT NULL DEFAULT '',
	oidc_issuer TEXT NOT NULL DEFAULT '',
	oidc_subject TEXT NOT NULL DEFAULT '',
	disabled BOOLEAN NOT NULL DEFAULT FALSE,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	last_login_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX users_oidc ON users (oidc_issuer, oidc_subject);

-- Browser sessions, stored server-side: the cookie holds a random token,
-- the table its SHA-256. Deleting a row signs the session out at once; the
-- role is read from users on every request.
CREATE TABLE ui_sessions (
	hash TEXT PRIMARY KEY,
	user_id TEXT NOT NULL,
	csrf TEXT NOT NULL,
	ip TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	last_seen_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX ui_sessions_user ON ui_sessions (user_id);
CREATE INDEX ui_sessions_expires ON ui_sessions (expires_at);
