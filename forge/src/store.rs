//! The forge's state in one SQLite file: users, tokens, repositories, labels, issues and pull
//! requests, comments, reviews and the logical clock. Git objects live in the bare repositories.
//!
//! One connection behind a `std::sync::Mutex`: every write is a short serialised section, so
//! concurrent clients lose no write, and a fixture never needs more throughput than that.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Row, params};

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored git id or object could not be read.
    #[error("git: {0}")]
    Git(String),
    /// A row just written could not be read back.
    #[error("store: {0} was written but cannot be read back")]
    Vanished(String),
}

/// Result alias for store operations.
pub type Result<T> = std::result::Result<T, Error>;

/// Seconds since the Unix epoch; all forge timestamps are logical and deterministic.
pub type Time = i64;

/// The first instant of the logical clock (2024-01-01T00:00:00Z).
pub const EPOCH: Time = 1_704_067_200;

const SCHEMA: &str = r#"
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY, login TEXT NOT NULL UNIQUE, name TEXT NOT NULL, email TEXT NOT NULL,
  kind TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
  token TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, user_id INTEGER NOT NULL REFERENCES users(id));
CREATE TABLE IF NOT EXISTS repos (
  id INTEGER PRIMARY KEY, owner_id INTEGER NOT NULL REFERENCES users(id), name TEXT NOT NULL,
  description TEXT NOT NULL, default_branch TEXT NOT NULL, created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL, UNIQUE(owner_id, name));
CREATE TABLE IF NOT EXISTS labels (
  id INTEGER PRIMARY KEY, repo_id INTEGER NOT NULL REFERENCES repos(id), name TEXT NOT NULL,
  color TEXT NOT NULL, description TEXT NOT NULL, UNIQUE(repo_id, name));
CREATE TABLE IF NOT EXISTS issues (
  id INTEGER PRIMARY KEY, repo_id INTEGER NOT NULL REFERENCES repos(id), number INTEGER NOT NULL,
  title TEXT NOT NULL, body TEXT NOT NULL, state TEXT NOT NULL, state_reason TEXT,
  user_id INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  closed_at INTEGER, closed_by INTEGER, locked INTEGER NOT NULL DEFAULT 0,
  is_pull INTEGER NOT NULL DEFAULT 0, head_ref TEXT, base_ref TEXT, head_sha TEXT, base_sha TEXT,
  merged_at INTEGER, merged_by INTEGER, merge_commit_sha TEXT, draft INTEGER NOT NULL DEFAULT 0,
  UNIQUE(repo_id, number));
CREATE TABLE IF NOT EXISTS issue_labels (
  issue_id INTEGER NOT NULL, label_id INTEGER NOT NULL, PRIMARY KEY(issue_id, label_id));
CREATE TABLE IF NOT EXISTS issue_assignees (
  issue_id INTEGER NOT NULL, user_id INTEGER NOT NULL, PRIMARY KEY(issue_id, user_id));
CREATE TABLE IF NOT EXISTS comments (
  id INTEGER PRIMARY KEY, issue_id INTEGER NOT NULL REFERENCES issues(id), user_id INTEGER NOT NULL,
  body TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS reviews (
  id INTEGER PRIMARY KEY, issue_id INTEGER NOT NULL REFERENCES issues(id), user_id INTEGER NOT NULL,
  body TEXT NOT NULL, state TEXT NOT NULL, commit_id TEXT NOT NULL, submitted_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS pushes (
  id INTEGER PRIMARY KEY, repo_id INTEGER NOT NULL REFERENCES repos(id),
  actor_id INTEGER NOT NULL REFERENCES users(id), ref TEXT NOT NULL, before TEXT NOT NULL,
  head TEXT NOT NULL, created_at INTEGER NOT NULL);
"#;

/// One reference update a push made, and who made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    pub id: i64,
    pub actor: User,
    pub refname: String,
    pub before: String,
    pub head: String,
    pub created_at: Time,
}

/// A user or an organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Numeric id.
    pub id: i64,
    /// Login name.
    pub login: String,
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// "User" or "Organization".
    pub kind: String,
    /// Creation time.
    pub created_at: Time,
}

/// A repository row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    /// Numeric id.
    pub id: i64,
    /// The owner.
    pub owner: User,
    /// Repository name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Default branch name.
    pub default_branch: String,
    /// Creation time.
    pub created_at: Time,
    /// Last update time.
    pub updated_at: Time,
}

impl Repo {
    /// `owner/name`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner.login, self.name)
    }
}

/// A label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Numeric id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Colour as six hex digits.
    pub color: String,
    /// Description.
    pub description: String,
}

/// An issue or a pull request (GitHub numbers them in one sequence per repository).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Numeric id.
    pub id: i64,
    /// Repository id.
    pub repo_id: i64,
    /// Number within the repository.
    pub number: i64,
    /// Title.
    pub title: String,
    /// Body (Markdown).
    pub body: String,
    /// "open" or "closed".
    pub state: String,
    /// "completed", "not_planned", "reopened" or none.
    pub state_reason: Option<String>,
    /// Author.
    pub user: User,
    /// Creation time.
    pub created_at: Time,
    /// Last update time.
    pub updated_at: Time,
    /// Closing time.
    pub closed_at: Option<Time>,
    /// Whether conversation is locked.
    pub locked: bool,
    /// Labels, by name.
    pub labels: Vec<Label>,
    /// Assignees, by login.
    pub assignees: Vec<User>,
    /// Number of comments.
    pub comments: i64,
    /// Who closed it.
    pub closed_by: Option<User>,
    /// Pull request part, when this is one.
    pub pull: Option<Pull>,
}

/// The pull-request part of an issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    /// Head branch.
    pub head_ref: String,
    /// Base branch.
    pub base_ref: String,
    /// Head commit recorded when the pull request was closed or merged.
    pub head_sha: Option<String>,
    /// Base commit recorded when the pull request was closed or merged.
    pub base_sha: Option<String>,
    /// Merge time.
    pub merged_at: Option<Time>,
    /// Who merged.
    pub merged_by: Option<User>,
    /// The commit the merge produced.
    pub merge_commit_sha: Option<String>,
    /// Draft flag.
    pub draft: bool,
}

/// An issue comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// Numeric id.
    pub id: i64,
    /// Issue number.
    pub issue_number: i64,
    /// Author.
    pub user: User,
    /// Body.
    pub body: String,
    /// Creation time.
    pub created_at: Time,
    /// Update time.
    pub updated_at: Time,
}

/// A pull-request review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// Numeric id.
    pub id: i64,
    /// Pull request number.
    pub number: i64,
    /// Author.
    pub user: User,
    /// Body.
    pub body: String,
    /// APPROVED, CHANGES_REQUESTED or COMMENTED.
    pub state: String,
    /// Commit reviewed.
    pub commit_id: String,
    /// Submission time.
    pub submitted_at: Time,
}

/// A new issue or pull request.
#[derive(Debug, Clone, Default)]
pub struct NewIssue {
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Label names (created on the fly like GitHub does when they are missing).
    pub labels: Vec<String>,
    /// Assignee logins.
    pub assignees: Vec<String>,
    /// `(head, base, draft)` for a pull request.
    pub pull: Option<(String, String, bool)>,
}

/// A partial update of an issue.
#[derive(Debug, Clone, Default)]
pub struct IssuePatch {
    /// New title.
    pub title: Option<String>,
    /// New body.
    pub body: Option<String>,
    /// New state.
    pub state: Option<String>,
    /// New state reason.
    pub state_reason: Option<String>,
    /// Replacement label set.
    pub labels: Option<Vec<String>>,
    /// Replacement assignee set.
    pub assignees: Option<Vec<String>>,
    /// New base branch (pull requests).
    pub base: Option<String>,
}

/// The store: one SQLite connection.
pub struct Store {
    conn: Connection,
}

fn user_from(row: &Row<'_>, at: usize) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(at)?,
        login: row.get(at + 1)?,
        name: row.get(at + 2)?,
        email: row.get(at + 3)?,
        kind: row.get(at + 4)?,
        created_at: row.get(at + 5)?,
    })
}

const USER_COLS: &str = "u.id, u.login, u.name, u.email, u.kind, u.created_at";

impl Store {
    /// Opens (creating if needed) the SQLite file at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(crate::ci::SCHEMA)?;
        conn.execute_batch(crate::releases::SCHEMA)?;
        conn.execute_batch(crate::review_comments::SCHEMA)?;
        Ok(Self { conn })
    }

    /// The connection, for the stores of other modules (CI runs).
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Runs `f` in one transaction; any error rolls it back.
    pub fn transaction<T, E: From<Error>>(
        &mut self,
        f: impl FnOnce(&Store) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(Error::from)?;
        match f(self) {
            Ok(v) => {
                self.conn.execute_batch("COMMIT").map_err(Error::from)?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Reads a meta value.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Writes a meta value.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Advances the logical clock by one minute and returns the new instant.
    ///
    /// Writes get deterministic timestamps so the same sequence of requests against the same seed
    /// yields byte-identical answers (and identical merge commit ids).
    pub fn tick(&self) -> Result<Time> {
        let now = self.now()? + 60;
        self.set_meta("clock", &now.to_string())?;
        Ok(now)
    }

    /// The logical clock's current instant.
    pub fn now(&self) -> Result<Time> {
        Ok(self
            .meta("clock")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(EPOCH))
    }

    /// Moves the clock forward to at least `t` (used by the seed).
    pub fn advance_to(&self, t: Time) -> Result<()> {
        if t > self.now()? {
            self.set_meta("clock", &t.to_string())?;
        }
        Ok(())
    }

    /// Creates a user or organisation.
    pub fn add_user(
        &self,
        login: &str,
        name: &str,
        email: &str,
        kind: &str,
        at: Time,
    ) -> Result<User> {
        self.conn.execute(
            "INSERT INTO users(login, name, email, kind, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![login, name, email, kind, at],
        )?;
        Ok(User {
            id: self.conn.last_insert_rowid(),
            login: login.into(),
            name: name.into(),
            email: email.into(),
            kind: kind.into(),
            created_at: at,
        })
    }

    /// Gives `user` a token called `name`.
    pub fn add_token(&self, user: &User, name: &str, token: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO tokens(token, name, user_id) VALUES (?1, ?2, ?3)",
            params![token, name, user.id],
        )?;
        Ok(())
    }

    /// Deletes the token called `name`, as revoking it on GitHub does; false when none has
    /// that name. Requests carrying it get 401 from then on.
    pub fn revoke_token(&self, name: &str) -> Result<bool> {
        let n = self
            .conn
            .execute("DELETE FROM tokens WHERE name = ?1", [name])?;
        Ok(n > 0)
    }

    /// The user and token name behind `token`.
    pub fn user_by_token(&self, token: &str) -> Result<Option<(User, String)>> {
        let sql = format!(
            "SELECT {USER_COLS}, t.name FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token = ?1"
        );
        Ok(self
            .conn
            .query_row(&sql, [token], |r| Ok((user_from(r, 0)?, r.get(6)?)))
            .optional()?)
    }

    /// A user by login.
    pub fn user(&self, login: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users u WHERE u.login = ?1 COLLATE NOCASE");
        Ok(self
            .conn
            .query_row(&sql, [login], |r| user_from(r, 0))
            .optional()?)
    }

    /// Every user and organisation, by id.
    pub fn users(&self) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users u ORDER BY u.id");
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map([], |r| user_from(r, 0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn user_by_id(&self, id: i64) -> Result<User> {
        let sql = format!("SELECT {USER_COLS} FROM users u WHERE u.id = ?1");
        Ok(self.conn.query_row(&sql, [id], |r| user_from(r, 0))?)
    }

    /// Creates a repository row.
    pub fn add_repo(&self, owner: &User, name: &str, description: &str, at: Time) -> Result<Repo> {
        self.conn.execute(
            "INSERT INTO repos(owner_id, name, description, default_branch, created_at, updated_at) VALUES (?1, ?2, ?3, 'main', ?4, ?4)",
            params![owner.id, name, description, at],
        )?;
        Ok(Repo {
            id: self.conn.last_insert_rowid(),
            owner: owner.clone(),
            name: name.into(),
            description: description.into(),
            default_branch: "main".into(),
            created_at: at,
            updated_at: at,
        })
    }

    /// A repository by owner and name (case-insensitive like GitHub).
    pub fn repo(&self, owner: &str, name: &str) -> Result<Option<Repo>> {
        let sql = format!(
            "SELECT r.id, r.name, r.description, r.default_branch, r.created_at, r.updated_at, {USER_COLS}
             FROM repos r JOIN users u ON u.id = r.owner_id
             WHERE u.login = ?1 COLLATE NOCASE AND r.name = ?2 COLLATE NOCASE"
        );
        Ok(self
            .conn
            .query_row(&sql, [owner, name], |r| {
                Ok(Repo {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    description: r.get(2)?,
                    default_branch: r.get(3)?,
                    created_at: r.get(4)?,
                    updated_at: r.get(5)?,
                    owner: user_from(r, 6)?,
                })
            })
            .optional()?)
    }

    /// Repositories owned by `owner`.
    pub fn repos_of(&self, owner: &User) -> Result<Vec<Repo>> {
        let names: Vec<String> = {
            let mut st = self
                .conn
                .prepare("SELECT name FROM repos WHERE owner_id = ?1 ORDER BY name")?;
            let rows = st.query_map([owner.id], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut out = Vec::new();
        for n in names {
            out.extend(self.repo(&owner.login, &n)?);
        }
        Ok(out)
    }

    /// Marks a repository updated.
    pub fn touch_repo(&self, repo: &Repo, at: Time) -> Result<()> {
        self.conn.execute(
            "UPDATE repos SET updated_at = ?2 WHERE id = ?1",
            params![repo.id, at],
        )?;
        Ok(())
    }

    /// Creates a label.
    pub fn add_label(
        &self,
        repo: &Repo,
        name: &str,
        color: &str,
        description: &str,
    ) -> Result<Label> {
        self.conn.execute(
            "INSERT INTO labels(repo_id, name, color, description) VALUES (?1, ?2, ?3, ?4)",
            params![repo.id, name, color, description],
        )?;
        Ok(Label {
            id: self.conn.last_insert_rowid(),
            name: name.into(),
            color: color.into(),
            description: description.into(),
        })
    }

    /// All labels of a repository, by name.
    pub fn labels(&self, repo: &Repo) -> Result<Vec<Label>> {
        let mut st = self.conn.prepare(
            "SELECT id, name, color, description FROM labels WHERE repo_id = ?1 ORDER BY name COLLATE NOCASE",
        )?;
        let rows = st.query_map([repo.id], label_from)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One label by name.
    pub fn label(&self, repo: &Repo, name: &str) -> Result<Option<Label>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, name, color, description FROM labels WHERE repo_id = ?1 AND name = ?2 COLLATE NOCASE",
                params![repo.id, name],
                label_from,
            )
            .optional()?)
    }

    fn ensure_label(&self, repo: &Repo, name: &str) -> Result<Label> {
        match self.label(repo, name)? {
            Some(l) => Ok(l),
            None => self.add_label(repo, name, "ededed", ""),
        }
    }

    /// Creates an issue or pull request, attributed to `user`, at `at`.
    pub fn create_issue(
        &self,
        repo: &Repo,
        user: &User,
        new: &NewIssue,
        at: Time,
    ) -> Result<Issue> {
        // Numbers are never reused, even after a deletion.
        let key = format!("last_number:{}", repo.id);
        let highest: i64 = self.conn.query_row(
            "SELECT COALESCE(MAX(number), 0) FROM issues WHERE repo_id = ?1",
            [repo.id],
            |r| r.get(0),
        )?;
        let recorded = self.meta(&key)?.and_then(|v| v.parse().ok()).unwrap_or(0);
        let number = highest.max(recorded) + 1;
        self.set_meta(&key, &number.to_string())?;
        let (head, base, draft) = match &new.pull {
            Some((h, b, d)) => (Some(h.as_str()), Some(b.as_str()), *d),
            None => (None, None, false),
        };
        self.conn.execute(
            "INSERT INTO issues(repo_id, number, title, body, state, user_id, created_at, updated_at, is_pull, head_ref, base_ref, draft)
             VALUES (?1, ?2, ?3, ?4, 'open', ?5, ?6, ?6, ?7, ?8, ?9, ?10)",
            params![repo.id, number, new.title, new.body, user.id, at, new.pull.is_some(), head, base, draft],
        )?;
        let id = self.conn.last_insert_rowid();
        self.set_labels(repo, id, &new.labels)?;
        self.set_assignees(id, &new.assignees)?;
        self.touch_repo(repo, at)?;
        self.issue_by_id(id)
    }

    fn set_labels(&self, repo: &Repo, issue_id: i64, names: &[String]) -> Result<()> {
        self.conn
            .execute("DELETE FROM issue_labels WHERE issue_id = ?1", [issue_id])?;
        for name in names {
            let label = self.ensure_label(repo, name)?;
            self.conn.execute(
                "INSERT OR IGNORE INTO issue_labels(issue_id, label_id) VALUES (?1, ?2)",
                params![issue_id, label.id],
            )?;
        }
        Ok(())
    }

    fn set_assignees(&self, issue_id: i64, logins: &[String]) -> Result<()> {
        self.conn.execute(
            "DELETE FROM issue_assignees WHERE issue_id = ?1",
            [issue_id],
        )?;
        for login in logins {
            // GitHub silently drops assignees it cannot assign.
            if let Some(u) = self.user(login)? {
                self.conn.execute(
                    "INSERT OR IGNORE INTO issue_assignees(issue_id, user_id) VALUES (?1, ?2)",
                    params![issue_id, u.id],
                )?;
            }
        }
        Ok(())
    }

    /// Applies `patch` to issue `number`, attributed to `user` at `at`.
    pub fn update_issue(
        &self,
        repo: &Repo,
        number: i64,
        user: &User,
        patch: &IssuePatch,
        at: Time,
    ) -> Result<Option<Issue>> {
        let Some(old) = self.issue(repo, number)? else {
            return Ok(None);
        };
        if let Some(t) = &patch.title {
            self.conn.execute(
                "UPDATE issues SET title = ?2 WHERE id = ?1",
                params![old.id, t],
            )?;
        }
        if let Some(b) = &patch.body {
            self.conn.execute(
                "UPDATE issues SET body = ?2 WHERE id = ?1",
                params![old.id, b],
            )?;
        }
        if let Some(b) = &patch.base {
            self.conn.execute(
                "UPDATE issues SET base_ref = ?2 WHERE id = ?1",
                params![old.id, b],
            )?;
        }
        if let Some(state) = &patch.state {
            if state != &old.state {
                if state == "closed" {
                    let reason = patch
                        .state_reason
                        .clone()
                        .unwrap_or_else(|| "completed".into());
                    self.conn.execute(
                        "UPDATE issues SET state = 'closed', state_reason = ?2, closed_at = ?3, closed_by = ?4 WHERE id = ?1",
                        params![old.id, reason, at, user.id],
                    )?;
                } else {
                    self.conn.execute(
                        "UPDATE issues SET state = 'open', state_reason = 'reopened', closed_at = NULL, closed_by = NULL WHERE id = ?1",
                        params![old.id],
                    )?;
                }
            } else if let Some(r) = &patch.state_reason {
                self.conn.execute(
                    "UPDATE issues SET state_reason = ?2 WHERE id = ?1",
                    params![old.id, r],
                )?;
            }
        } else if let Some(r) = &patch.state_reason {
            self.conn.execute(
                "UPDATE issues SET state_reason = ?2 WHERE id = ?1",
                params![old.id, r],
            )?;
        }
        if let Some(l) = &patch.labels {
            self.set_labels(repo, old.id, l)?;
        }
        if let Some(a) = &patch.assignees {
            self.set_assignees(old.id, a)?;
        }
        self.conn.execute(
            "UPDATE issues SET updated_at = ?2 WHERE id = ?1",
            params![old.id, at],
        )?;
        self.touch_repo(repo, at)?;
        Ok(Some(self.issue_by_id(old.id)?))
    }

    /// Adds labels to an issue (keeping existing ones).
    pub fn add_labels(
        &self,
        repo: &Repo,
        number: i64,
        names: &[String],
        at: Time,
    ) -> Result<Option<Issue>> {
        let Some(old) = self.issue(repo, number)? else {
            return Ok(None);
        };
        let mut all: Vec<String> = old.labels.iter().map(|l| l.name.clone()).collect();
        all.extend(names.iter().cloned());
        self.set_labels(repo, old.id, &all)?;
        self.conn.execute(
            "UPDATE issues SET updated_at = ?2 WHERE id = ?1",
            params![old.id, at],
        )?;
        Ok(Some(self.issue_by_id(old.id)?))
    }

    /// Records a merge (or a close) of a pull request.
    pub fn record_pull_end(
        &self,
        issue: &Issue,
        user: &User,
        head_sha: &str,
        base_sha: &str,
        merge_commit: Option<&str>,
        at: Time,
    ) -> Result<Issue> {
        self.conn.execute(
            "UPDATE issues SET state = 'closed', closed_at = ?2, closed_by = ?3, updated_at = ?2,
               head_sha = ?4, base_sha = ?5, merge_commit_sha = ?6,
               merged_at = CASE WHEN ?6 IS NULL THEN NULL ELSE ?2 END,
               merged_by = CASE WHEN ?6 IS NULL THEN NULL ELSE ?3 END
             WHERE id = ?1",
            params![issue.id, at, user.id, head_sha, base_sha, merge_commit],
        )?;
        self.issue_by_id(issue.id)
    }

    /// Reopens a closed pull request (forgets the recorded shas).
    pub fn reopen_pull(&self, issue: &Issue, at: Time) -> Result<Issue> {
        self.conn.execute(
            "UPDATE issues SET state = 'open', state_reason = 'reopened', closed_at = NULL, closed_by = NULL,
             head_sha = NULL, base_sha = NULL, updated_at = ?2 WHERE id = ?1",
            params![issue.id, at],
        )?;
        self.issue_by_id(issue.id)
    }

    fn issue_by_id(&self, id: i64) -> Result<Issue> {
        let mut v = self.issues_where("i.id = ?1", &[&id])?;
        Ok(v.remove(0))
    }

    /// An issue or pull request by its id.
    pub fn find_issue(&self, id: i64) -> Result<Option<Issue>> {
        let mut v = self.issues_where("i.id = ?1", &[&id])?;
        Ok(if v.is_empty() {
            None
        } else {
            Some(v.remove(0))
        })
    }

    /// A repository by id.
    pub fn repo_by_id(&self, id: i64) -> Result<Option<Repo>> {
        let found: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT u.login, r.name FROM repos r JOIN users u ON u.id = r.owner_id WHERE r.id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match found {
            Some((o, n)) => self.repo(&o, &n),
            None => Ok(None),
        }
    }

    /// A label by id.
    pub fn label_by_id(&self, id: i64) -> Result<Option<Label>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, name, color, description FROM labels WHERE id = ?1",
                [id],
                label_from,
            )
            .optional()?)
    }

    /// A user by id.
    /// Records that `actor` moved `refname` from `before` to `head` (zero ids: created,
    /// deleted).
    pub fn record_push(
        &self,
        repo: &Repo,
        actor: &User,
        refname: &str,
        before: &str,
        head: &str,
        at: Time,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO pushes (repo_id, actor_id, ref, before, head, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![repo.id, actor.id, refname, before, head, at],
        )?;
        Ok(())
    }

    /// The pushes to `repo`, newest first.
    pub fn pushes(&self, repo: &Repo) -> Result<Vec<Push>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT p.id, p.ref, p.before, p.head, p.created_at, {USER_COLS} FROM pushes p \
             JOIN users u ON u.id = p.actor_id WHERE p.repo_id = ?1 ORDER BY p.id DESC"
        ))?;
        let rows = stmt.query_map([repo.id], |row| {
            Ok(Push {
                id: row.get(0)?,
                refname: row.get(1)?,
                before: row.get(2)?,
                head: row.get(3)?,
                created_at: row.get(4)?,
                actor: user_from(row, 5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn find_user(&self, id: i64) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users u WHERE u.id = ?1");
        Ok(self
            .conn
            .query_row(&sql, [id], |r| user_from(r, 0))
            .optional()?)
    }

    /// Issue or pull request `number`.
    pub fn issue(&self, repo: &Repo, number: i64) -> Result<Option<Issue>> {
        let mut v = self.issues_where("i.repo_id = ?1 AND i.number = ?2", &[&repo.id, &number])?;
        Ok(if v.is_empty() {
            None
        } else {
            Some(v.remove(0))
        })
    }

    /// Every issue and pull request of a repository, by number.
    pub fn issues(&self, repo: &Repo) -> Result<Vec<Issue>> {
        self.issues_where("i.repo_id = ?1", &[&repo.id])
    }

    /// Every issue and pull request in the forge (for search).
    pub fn all_issues(&self) -> Result<Vec<Issue>> {
        self.issues_where("1 = 1", &[])
    }

    fn issues_where(&self, cond: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<Issue>> {
        let sql = format!(
            "SELECT i.id, i.repo_id, i.number, i.title, i.body, i.state, i.state_reason, i.created_at,
                    i.updated_at, i.closed_at, i.locked, i.is_pull, i.head_ref, i.base_ref, i.head_sha,
                    i.base_sha, i.merged_at, i.merged_by, i.merge_commit_sha, i.draft,
                    (SELECT COUNT(*) FROM comments c WHERE c.issue_id = i.id), {USER_COLS}, i.closed_by
             FROM issues i JOIN users u ON u.id = i.user_id WHERE {cond} ORDER BY i.repo_id, i.number"
        );
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(args, |r| {
            let is_pull: bool = r.get(11)?;
            let merged_by: Option<i64> = r.get(17)?;
            let closed_by: Option<i64> = r.get(27)?;
            Ok((
                Issue {
                    id: r.get(0)?,
                    repo_id: r.get(1)?,
                    number: r.get(2)?,
                    title: r.get(3)?,
                    body: r.get(4)?,
                    state: r.get(5)?,
                    state_reason: r.get(6)?,
                    created_at: r.get(7)?,
                    updated_at: r.get(8)?,
                    closed_at: r.get(9)?,
                    locked: r.get(10)?,
                    comments: r.get(20)?,
                    user: user_from(r, 21)?,
                    closed_by: None,
                    labels: Vec::new(),
                    assignees: Vec::new(),
                    pull: if is_pull {
                        Some(Pull {
                            head_ref: r.get(12)?,
                            base_ref: r.get(13)?,
                            head_sha: r.get(14)?,
                            base_sha: r.get(15)?,
                            merged_at: r.get(16)?,
                            merged_by: None,
                            merge_commit_sha: r.get(18)?,
                            draft: r.get(19)?,
                        })
                    } else {
                        None
                    },
                },
                merged_by,
                closed_by,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (mut issue, merged_by, closed_by) = row?;
            if let Some(c) = closed_by {
                issue.closed_by = Some(self.user_by_id(c)?);
            }
            issue.labels = self.issue_labels(issue.id)?;
            issue.assignees = self.issue_assignees(issue.id)?;
            if let (Some(p), Some(m)) = (issue.pull.as_mut(), merged_by) {
                p.merged_by = Some(self.user_by_id(m)?);
            }
            out.push(issue);
        }
        Ok(out)
    }

    fn issue_labels(&self, issue_id: i64) -> Result<Vec<Label>> {
        let mut st = self.conn.prepare_cached(
            "SELECT l.id, l.name, l.color, l.description FROM issue_labels il JOIN labels l ON l.id = il.label_id
             WHERE il.issue_id = ?1 ORDER BY l.name COLLATE NOCASE",
        )?;
        let rows = st.query_map([issue_id], label_from)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn issue_assignees(&self, issue_id: i64) -> Result<Vec<User>> {
        let sql = format!(
            "SELECT {USER_COLS} FROM issue_assignees a JOIN users u ON u.id = a.user_id WHERE a.issue_id = ?1 ORDER BY u.login"
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map([issue_id], |r| user_from(r, 0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Deletes an issue with its comments, labels and assignees (GitHub keeps the number used).
    pub fn delete_issue(&self, issue: &Issue) -> Result<()> {
        for sql in [
            "DELETE FROM comments WHERE issue_id = ?1",
            "DELETE FROM issue_labels WHERE issue_id = ?1",
            "DELETE FROM issue_assignees WHERE issue_id = ?1",
            "DELETE FROM issues WHERE id = ?1",
        ] {
            self.conn.execute(sql, [issue.id])?;
        }
        Ok(())
    }

    /// Adds a comment to issue `number`.
    pub fn add_comment(
        &self,
        repo: &Repo,
        number: i64,
        user: &User,
        body: &str,
        at: Time,
    ) -> Result<Option<Comment>> {
        let Some(issue) = self.issue(repo, number)? else {
            return Ok(None);
        };
        self.conn.execute(
            "INSERT INTO comments(issue_id, user_id, body, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            params![issue.id, user.id, body, at],
        )?;
        self.conn.execute(
            "UPDATE issues SET updated_at = ?2 WHERE id = ?1",
            params![issue.id, at],
        )?;
        Ok(Some(Comment {
            id: self.conn.last_insert_rowid(),
            issue_number: number,
            user: user.clone(),
            body: body.into(),
            created_at: at,
            updated_at: at,
        }))
    }

    /// Comments of issue `number` (or of every issue when `None`), oldest first.
    pub fn comments(&self, repo: &Repo, number: Option<i64>) -> Result<Vec<Comment>> {
        let sql = format!(
            "SELECT c.id, i.number, c.body, c.created_at, c.updated_at, {USER_COLS}
             FROM comments c JOIN issues i ON i.id = c.issue_id JOIN users u ON u.id = c.user_id
             WHERE i.repo_id = ?1 AND (?2 IS NULL OR i.number = ?2) ORDER BY c.id"
        );
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(params![repo.id, number], |r| {
            Ok(Comment {
                id: r.get(0)?,
                issue_number: r.get(1)?,
                body: r.get(2)?,
                created_at: r.get(3)?,
                updated_at: r.get(4)?,
                user: user_from(r, 5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Adds a review to pull request `number`.
    pub fn add_review(
        &self,
        issue: &Issue,
        user: &User,
        body: &str,
        state: &str,
        commit_id: &str,
        at: Time,
    ) -> Result<Review> {
        self.conn.execute(
            "INSERT INTO reviews(issue_id, user_id, body, state, commit_id, submitted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![issue.id, user.id, body, state, commit_id, at],
        )?;
        Ok(Review {
            id: self.conn.last_insert_rowid(),
            number: issue.number,
            user: user.clone(),
            body: body.into(),
            state: state.into(),
            commit_id: commit_id.into(),
            submitted_at: at,
        })
    }

    /// Reviews of a pull request, oldest first.
    pub fn reviews(&self, issue: &Issue) -> Result<Vec<Review>> {
        let sql = format!(
            "SELECT r.id, r.body, r.state, r.commit_id, r.submitted_at, {USER_COLS}
             FROM reviews r JOIN users u ON u.id = r.user_id WHERE r.issue_id = ?1 ORDER BY r.id"
        );
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map([issue.id], |r| {
            Ok(Review {
                id: r.get(0)?,
                number: issue.number,
                body: r.get(1)?,
                state: r.get(2)?,
                commit_id: r.get(3)?,
                submitted_at: r.get(4)?,
                user: user_from(r, 5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

fn label_from(r: &Row<'_>) -> rusqlite::Result<Label> {
    Ok(Label {
        id: r.get(0)?,
        name: r.get(1)?,
        color: r.get(2)?,
        description: r.get(3)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_number_in_one_sequence_and_clock_ticks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("forge.db")).expect("open");
        let u = store
            .add_user("alice", "Alice", "a@x", "User", EPOCH)
            .expect("user");
        let repo = store.add_repo(&u, "r", "", EPOCH).expect("repo");
        let t1 = store.tick().expect("tick");
        let t2 = store.tick().expect("tick");
        assert_eq!(t2 - t1, 60);
        let i = store
            .create_issue(
                &repo,
                &u,
                &NewIssue {
                    title: "a".into(),
                    labels: vec!["bug".into()],
                    ..Default::default()
                },
                t1,
            )
            .expect("issue");
        let p = store
            .create_issue(
                &repo,
                &u,
                &NewIssue {
                    title: "b".into(),
                    pull: Some(("f".into(), "main".into(), false)),
                    ..Default::default()
                },
                t2,
            )
            .expect("pull");
        assert_eq!((i.number, p.number), (1, 2));
        assert_eq!(i.labels[0].name, "bug");
        assert!(p.pull.is_some());
    }
}
