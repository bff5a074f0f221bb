-- Version 2 drops the secondary indexes of audit_events on SQLite only (see
-- ../sqlite/0002_audit_append_cost.sql): PostgreSQL plans each `audit query` for its bound
-- values and can use them, and its appends are not on a single writer's critical path in the
-- same way. Kept as a no-op so both dialects share version numbers.
SELECT 1;
