-- Users, API tokens, and the hash-chained audit log. Mirror of ../sqlite/0001_init.sql.

CREATE TABLE users (
    name                  TEXT PRIMARY KEY NOT NULL,
    scopes                TEXT NOT NULL,            -- space-separated
    repos                 TEXT NOT NULL,            -- repository grant globs, newline-separated
    git_name              TEXT,
    git_email             TEXT,
    jwt_subject           TEXT UNIQUE,
    rate_limit_per_minute BIGINT,
    github_token          BYTEA,                    -- ciphertext, opaque to the store
    created_at            TEXT NOT NULL,
    revoked_at            TEXT
);

CREATE TABLE tokens (
    id         TEXT PRIMARY KEY NOT NULL,
    user_name  TEXT NOT NULL REFERENCES users (name),
    token_hash TEXT NOT NULL UNIQUE,                -- hex SHA-256 of the plaintext token
    prefix     TEXT NOT NULL,                       -- non-secret start of the token, for display
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX tokens_user_name ON tokens (user_name);
CREATE INDEX tokens_prefix ON tokens (prefix);

-- `event` is the canonical JSON that `hash` covers; the other columns copy fields of it so that
-- queries can use indexes (verify checks that they agree with `event`).
CREATE TABLE audit_events (
    seq       BIGINT PRIMARY KEY NOT NULL,          -- 1, 2, 3, ... without gaps
    id        TEXT NOT NULL,
    time      TEXT NOT NULL,
    user_name TEXT NOT NULL,
    tool      TEXT NOT NULL,
    repo      TEXT,
    allowed   BOOLEAN NOT NULL,
    ok        BOOLEAN NOT NULL,
    event     TEXT NOT NULL,                        -- TEXT, not JSONB: the exact hashed bytes
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_events_time ON audit_events (time);
CREATE INDEX audit_events_user_name ON audit_events (user_name);
CREATE INDEX audit_events_tool ON audit_events (tool);
CREATE INDEX audit_events_repo ON audit_events (repo);

-- The end of the chain: one row, advanced by the trigger below in the inserting transaction.
-- Writers lock it (SELECT ... FOR UPDATE) to append in order; verify compares it with the last
-- event (truncation).
CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE FUNCTION audit_events_advance_head() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_events_advance_head AFTER INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_advance_head();

-- The log is append-only; changing it takes dropping these triggers first, which verify detects
-- through the chain anyway.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- Checkpoints (seq, hash) taken with `Store::save_checkpoint`; verify checks each of them.
CREATE TABLE audit_checkpoints (
    seq        BIGINT PRIMARY KEY NOT NULL,
    hash       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
