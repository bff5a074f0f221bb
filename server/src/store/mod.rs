//! Persistent state shared by replicas: users, tokens, grants, audit events (sqlx; SQLite or PostgreSQL).
