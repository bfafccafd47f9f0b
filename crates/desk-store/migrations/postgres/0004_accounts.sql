-- Accounts (Postgres twin of sqlite/0004): console sessions, login rate limiting, one-time
-- setup and invite links, and each operator's language, time zone and deactivation.
-- Tokens (session, setup, invite) are stored only as SHA-256 hashes: a leaked database
-- gives no way in.

-- NULL locale: follow the browser's Accept-Language. NULL time zone: the browser's.
ALTER TABLE operators ADD COLUMN locale TEXT CHECK (locale IN ('en', 'ja'));
ALTER TABLE operators ADD COLUMN time_zone TEXT;
-- A deactivated operator cannot log in or use API tokens; the row stays for history.
ALTER TABLE operators ADD COLUMN deactivated_ms BIGINT;
-- Logins look e-mails up case-insensitively.
CREATE INDEX operators_email_lower ON operators (lower(email));

CREATE TABLE sessions (
    token_hash    BYTEA PRIMARY KEY,
    operator_id   UUID NOT NULL REFERENCES operators(id),
    csrf_token    TEXT NOT NULL,
    user_agent    TEXT,
    created_ms    BIGINT NOT NULL,
    last_seen_ms  BIGINT NOT NULL,
    -- Absolute end; the idle end is last_seen_ms + the idle timeout.
    expires_ms    BIGINT NOT NULL
);
CREATE INDEX sessions_operator ON sessions (operator_id);
CREATE INDEX sessions_expires ON sessions (expires_ms);

-- Failed logins only (a success clears nothing: the window simply moves on).
CREATE TABLE login_failures (
    id        BIGSERIAL PRIMARY KEY,
    email     TEXT NOT NULL,
    ip        TEXT NOT NULL,
    at_ms     BIGINT NOT NULL
);
CREATE INDEX login_failures_email ON login_failures (email, at_ms);
CREATE INDEX login_failures_ip ON login_failures (ip, at_ms);

-- One-time links: `setup` creates the first admin (operator_id NULL); `invite` lets the
-- invited operator choose a password.
CREATE TABLE account_links (
    token_hash   BYTEA PRIMARY KEY,
    purpose      TEXT NOT NULL CHECK (purpose IN ('setup', 'invite')),
    operator_id  UUID REFERENCES operators(id),
    created_by   UUID REFERENCES operators(id),
    created_ms   BIGINT NOT NULL,
    expires_ms   BIGINT NOT NULL,
    used_ms      BIGINT,
    CHECK ((purpose = 'invite') = (operator_id IS NOT NULL))
);
CREATE INDEX account_links_operator ON account_links (operator_id);
