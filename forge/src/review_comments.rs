//! Pull request review comments: a remark on one line of one file of a pull request's diff,
//! or a reply in such a thread (GitHub keeps replies as comments with `in_reply_to_id`; a
//! reply takes its thread's path and line).

use rusqlite::{OptionalExtension, params};

use crate::store::{Issue, Result, Store, Time, User};

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS review_comments (
  id INTEGER PRIMARY KEY, issue_id INTEGER NOT NULL REFERENCES issues(id),
  user_id INTEGER NOT NULL REFERENCES users(id), body TEXT NOT NULL, path TEXT NOT NULL,
  line INTEGER NOT NULL, side TEXT NOT NULL, commit_id TEXT NOT NULL, in_reply_to_id INTEGER,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
"#;

/// A review comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewComment {
    pub id: i64,
    pub user_id: i64,
    pub body: String,
    pub path: String,
    pub line: i64,
    pub side: String,
    pub commit_id: String,
    pub in_reply_to_id: Option<i64>,
    pub created_at: Time,
    pub updated_at: Time,
}

/// Where a new comment goes: a line of a file at a commit, or a reply to a comment.
#[derive(Debug, Clone)]
pub enum Anchor {
    Line {
        path: String,
        line: i64,
        side: String,
        commit_id: String,
    },
    Reply(ReviewComment),
}

const COLS: &str =
    "id, user_id, body, path, line, side, commit_id, in_reply_to_id, created_at, updated_at";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReviewComment> {
    Ok(ReviewComment {
        id: r.get(0)?,
        user_id: r.get(1)?,
        body: r.get(2)?,
        path: r.get(3)?,
        line: r.get(4)?,
        side: r.get(5)?,
        commit_id: r.get(6)?,
        in_reply_to_id: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

/// Records `body` by `author` at `anchor` on pull request `pull`.
pub fn create(
    store: &Store,
    pull: &Issue,
    author: &User,
    body: &str,
    anchor: &Anchor,
    at: Time,
) -> Result<ReviewComment> {
    let (path, line, side, commit_id, reply_to) = match anchor {
        Anchor::Line {
            path,
            line,
            side,
            commit_id,
        } => (path.clone(), *line, side.clone(), commit_id.clone(), None),
        // A reply joins its thread: the root's id, path and line.
        Anchor::Reply(to) => (
            to.path.clone(),
            to.line,
            to.side.clone(),
            to.commit_id.clone(),
            Some(to.in_reply_to_id.unwrap_or(to.id)),
        ),
    };
    store.conn().execute(
        "INSERT INTO review_comments (issue_id, user_id, body, path, line, side, commit_id, \
         in_reply_to_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
        params![
            pull.id, author.id, body, path, line, side, commit_id, reply_to, at
        ],
    )?;
    let id = store.conn().last_insert_rowid();
    Ok(ReviewComment {
        id,
        user_id: author.id,
        body: body.to_owned(),
        path,
        line,
        side,
        commit_id,
        in_reply_to_id: reply_to,
        created_at: at,
        updated_at: at,
    })
}

/// The review comments of pull request `pull`, oldest first.
pub fn list(store: &Store, pull: &Issue) -> Result<Vec<ReviewComment>> {
    let mut stmt = store.conn().prepare(&format!(
        "SELECT {COLS} FROM review_comments WHERE issue_id = ?1 ORDER BY created_at, id"
    ))?;
    let rows = stmt.query_map([pull.id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One review comment of pull request `pull` by id.
pub fn by_id(store: &Store, pull: &Issue, id: i64) -> Result<Option<ReviewComment>> {
    Ok(store
        .conn()
        .query_row(
            &format!("SELECT {COLS} FROM review_comments WHERE issue_id = ?1 AND id = ?2"),
            params![pull.id, id],
            from_row,
        )
        .optional()?)
}
