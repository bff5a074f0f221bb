-- Version 3: how far each process's audit spool file has been chained (see server/src/store/spool.rs).
--
-- A server appends each call's event to a spool file of its own with one write and chains it into
-- audit_events right after. The row of a spool advances in the same transaction as the events it
-- chains, so after a crash no spooled line is chained twice or skipped.
CREATE TABLE audit_spools (
    name TEXT PRIMARY KEY,
    lines BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);
