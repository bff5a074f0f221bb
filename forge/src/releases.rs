//! Releases: a tag with a title, notes and flags, in GitHub's shapes (REST and the GraphQL
//! `releases` connection `gh release list` reads). Creating one for a tag that does not exist
//! yet creates the tag at `target_commitish`, as GitHub does.

use rusqlite::{OptionalExtension, params};

use crate::store::{Repo, Result, Store, Time, User};

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS releases (
  id INTEGER PRIMARY KEY, repo_id INTEGER NOT NULL REFERENCES repos(id), tag_name TEXT NOT NULL,
  target_commitish TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL, draft INTEGER NOT NULL,
  prerelease INTEGER NOT NULL, author_id INTEGER NOT NULL REFERENCES users(id),
  created_at INTEGER NOT NULL, published_at INTEGER, UNIQUE(repo_id, tag_name));
"#;

/// A release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub id: i64,
    pub tag_name: String,
    pub target_commitish: String,
    pub name: String,
    pub body: String,
    pub draft: bool,
    pub prerelease: bool,
    pub author_id: i64,
    pub created_at: Time,
    pub published_at: Option<Time>,
}

/// What a new release says.
#[derive(Debug, Clone, Default)]
pub struct NewRelease {
    pub tag_name: String,
    pub target_commitish: String,
    pub name: String,
    pub body: String,
    pub draft: bool,
    pub prerelease: bool,
}

const COLS: &str = "id, tag_name, target_commitish, name, body, draft, prerelease, author_id, \
                    created_at, published_at";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Release> {
    Ok(Release {
        id: r.get(0)?,
        tag_name: r.get(1)?,
        target_commitish: r.get(2)?,
        name: r.get(3)?,
        body: r.get(4)?,
        draft: r.get(5)?,
        prerelease: r.get(6)?,
        author_id: r.get(7)?,
        created_at: r.get(8)?,
        published_at: r.get(9)?,
    })
}

/// Records a release by `author` at `at` (published then unless a draft).
pub fn create(
    store: &Store,
    repo: &Repo,
    author: &User,
    new: &NewRelease,
    at: Time,
) -> Result<Release> {
    store.conn().execute(
        "INSERT INTO releases (repo_id, tag_name, target_commitish, name, body, draft, prerelease, \
         author_id, created_at, published_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            repo.id,
            new.tag_name,
            new.target_commitish,
            new.name,
            new.body,
            new.draft,
            new.prerelease,
            author.id,
            at,
            (!new.draft).then_some(at)
        ],
    )?;
    let id = store.conn().last_insert_rowid();
    by_id(store, repo, id)?.ok_or_else(|| crate::store::Error::Vanished(format!("release {id}")))
}

/// The releases of `repo`, newest first.
pub fn list(store: &Store, repo: &Repo) -> Result<Vec<Release>> {
    let mut stmt = store.conn().prepare(&format!(
        "SELECT {COLS} FROM releases WHERE repo_id = ?1 ORDER BY created_at DESC, id DESC"
    ))?;
    let rows = stmt.query_map([repo.id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One release by id.
pub fn by_id(store: &Store, repo: &Repo, id: i64) -> Result<Option<Release>> {
    Ok(store
        .conn()
        .query_row(
            &format!("SELECT {COLS} FROM releases WHERE repo_id = ?1 AND id = ?2"),
            params![repo.id, id],
            from_row,
        )
        .optional()?)
}

/// One release by tag.
pub fn by_tag(store: &Store, repo: &Repo, tag: &str) -> Result<Option<Release>> {
    Ok(store
        .conn()
        .query_row(
            &format!("SELECT {COLS} FROM releases WHERE repo_id = ?1 AND tag_name = ?2"),
            params![repo.id, tag],
            from_row,
        )
        .optional()?)
}

/// The latest published, non-prerelease release (GitHub's "latest").
pub fn latest(store: &Store, repo: &Repo) -> Result<Option<Release>> {
    Ok(list(store, repo)?
        .into_iter()
        .find(|r| !r.draft && !r.prerelease))
}
