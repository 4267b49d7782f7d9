-- Accounts, wall display tokens and the audit log (issue 8). Passwords and tokens are kept only as hashes.
-- A username is stored lower-cased (the store lowers it), so UNIQUE is case-insensitive. session_version grows
-- whenever a password, role or disabled flag changes: a session carrying an older number is no longer valid.
-- Disabled users and revoked tokens stay, for the audit.
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('wall', 'operator', 'planner', 'admin')),
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    disabled_at INTEGER,
    session_version INTEGER NOT NULL DEFAULT 1
);
-- A wall display signs in with a long random token; only its SHA-256 (hex) is kept, as for API keys.
CREATE TABLE display_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    last_seen_at INTEGER
);
-- One row per state change: who (actor), what (action), which (target), when (at, Unix s UTC) and a few facts
-- (detail, JSON with sorted keys: counts and ids, never a caller's number or free text from a call).
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_action ON audit_log (action, at)
