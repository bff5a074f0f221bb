-- Drop the secondary indexes of audit_events on SQLite (they stay on PostgreSQL).
--
-- SQLite's planner never uses them for `audit query`'s `($1 IS NULL OR col = $1)` filters: it
-- walks the primary key newest-first either way (EXPLAIN QUERY PLAN: `SEARCH audit_events USING
-- INTEGER PRIMARY KEY (rowid>?)`). Yet each index costs one more B-tree page written to the WAL
-- on every append: with all four, an append took about 24 us, without them about 10 us.
DROP INDEX audit_events_time;
DROP INDEX audit_events_user_name;
DROP INDEX audit_events_tool;
DROP INDEX audit_events_repo;
