-- Channel setup (SQLite twin of postgres/0005): secrets sealed at rest, secret rotation, the
-- connect wizard's server-side state, and the audit log of settings changes.

-- Secrets are stored sealed (`key_version ‖ nonce ‖ ciphertext`, XChaCha20-Poly1305); the
-- server seals and opens them, the database never sees them in clear. The clear columns of
-- 0001 stay (SQLite cannot drop a NOT NULL column cheaply) but are blanked: the server moves
-- any value left in them into the sealed columns when it starts.
ALTER TABLE line_channels ADD COLUMN secret_sealed BLOB;
ALTER TABLE line_channels ADD COLUMN previous_secret_sealed BLOB;
ALTER TABLE line_channels ADD COLUMN access_token_sealed BLOB;
ALTER TABLE line_channels ADD COLUMN secret_rotated_ms BIGINT;

-- A wizard in progress: one row per started "Add channel", so a reload resumes it. `state`
-- is the JSON of the steps done so far (no secret: that is in `secret_sealed`).
CREATE TABLE channel_wizards (
    id             BLOB PRIMARY KEY,
    brand_id       BLOB NOT NULL REFERENCES brands(id),
    operator_id    BLOB REFERENCES operators(id),
    -- The webhook key the channel will have: LINE's webhook test reaches it before the
    -- channel is live, and the desk answers it with the wizard's secret.
    channel_key    TEXT NOT NULL UNIQUE,
    step           TEXT NOT NULL,
    state          TEXT NOT NULL,
    secret_sealed  BLOB,
    token_sealed   BLOB,
    channel_id     BLOB REFERENCES line_channels(id),
    created_ms     BIGINT NOT NULL,
    updated_ms     BIGINT NOT NULL
);
CREATE INDEX channel_wizards_brand ON channel_wizards (brand_id, updated_ms);

-- Who changed which setting, when. `actor_id` is NULL for the command line and the system.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    brand_id    BLOB REFERENCES brands(id),
    actor_id    BLOB,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    created_ms  BIGINT NOT NULL
);
CREATE INDEX audit_log_brand ON audit_log (brand_id, id);
