-- Version 3: how far each process's audit spool file has been chained (see server/src/store/spool.rs).
--
-- Only SQLite file stores spool (on PostgreSQL every event is committed before the reply, and
-- replicas may run on other machines than any file); the table exists here too so both dialects
-- keep the same schema.
CREATE TABLE audit_spools (
    name TEXT PRIMARY KEY,
    lines BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);
