//! Users, their API tokens (stored as SHA-256), JWT subjects and encrypted GitHub tokens.

use rand::TryRng;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Error, Store, now, on_backend};

/// A user as stored. `scopes` and `repos` are what policy interprets; the store only keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRecord {
    pub name: String,
    /// `git:read`, `github:write`, ... (kept in the order given).
    pub scopes: Vec<String>,
    /// Repository grant globs over `owner/name` and local repository names.
    pub repos: Vec<String>,
    pub git_name: Option<String>,
    pub git_email: Option<String>,
    /// The JWT `sub` claim that identifies this user, if JWTs are accepted.
    pub jwt_subject: Option<String>,
    pub rate_limit_per_minute: Option<u32>,
    /// Whether an encrypted GitHub token is stored ([`Store::github_token`] returns it).
    pub has_github_token: bool,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC; a revoked user authenticates no more.
    pub revoked_at: Option<String>,
}

impl UserRecord {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// The author and committer identity for a user's commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitIdentity {
    pub name: String,
    pub email: String,
}

/// An API token's public facts (the token itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    /// Stable id, 16 hex characters, for `users revoke --token ID`.
    pub id: String,
    pub user: String,
    /// The first 12 characters of the token (`ggt_` and 8 more), safe to display.
    pub prefix: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// What every API token starts with.
pub const TOKEN_PREFIX: &str = "ggt_";
/// Random characters after [`TOKEN_PREFIX`] (base62: about 238 bits).
const TOKEN_RANDOM_CHARS: usize = 40;
/// Characters of the token kept in clear for display.
const DISPLAY_PREFIX_LEN: usize = 12;

#[derive(sqlx::FromRow)]
struct UserRow {
    name: String,
    scopes: String,
    repos: String,
    git_name: Option<String>,
    git_email: Option<String>,
    jwt_subject: Option<String>,
    rate_limit_per_minute: Option<i64>,
    has_github_token: bool,
    created_at: String,
    revoked_at: Option<String>,
}

impl From<UserRow> for UserRecord {
    fn from(row: UserRow) -> Self {
        Self {
            name: row.name,
            scopes: row.scopes.split_whitespace().map(str::to_owned).collect(),
            repos: row
                .repos
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
            git_name: row.git_name,
            git_email: row.git_email,
            jwt_subject: row.jwt_subject,
            rate_limit_per_minute: row
                .rate_limit_per_minute
                .and_then(|n| u32::try_from(n).ok()),
            has_github_token: row.has_github_token,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: String,
    user_name: String,
    prefix: String,
    created_at: String,
    revoked_at: Option<String>,
}

impl From<TokenRow> for TokenRecord {
    fn from(row: TokenRow) -> Self {
        Self {
            id: row.id,
            user: row.user_name,
            prefix: row.prefix,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        }
    }
}

macro_rules! user_columns {
    () => {
        "u.name, u.scopes, u.repos, u.git_name, u.git_email, u.jwt_subject, \
         u.rate_limit_per_minute, (u.github_token IS NOT NULL) AS has_github_token, \
         u.created_at, u.revoked_at"
    };
}

const INSERT_USER: &str = "INSERT INTO users (name, scopes, repos, git_name, git_email, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6)";
const SELECT_USER: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users u WHERE u.name = $1"
);
const SELECT_USERS: &str = concat!("SELECT ", user_columns!(), " FROM users u ORDER BY u.name");
const SELECT_USER_BY_SUBJECT: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users u WHERE u.jwt_subject = $1 AND u.revoked_at IS NULL"
);
/// The per-request lookup: one indexed probe of `tokens.token_hash`, then the user by key.
const AUTHENTICATE: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM tokens t JOIN users u ON u.name = t.user_name \
     WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.revoked_at IS NULL"
);
const INSERT_TOKEN: &str = "INSERT INTO tokens (id, user_name, token_hash, prefix, created_at) \
     SELECT $1, name, $2, $3, $4 FROM users WHERE name = $5 AND revoked_at IS NULL";
const FIND_TOKENS: &str = "SELECT id, user_name, prefix, created_at, revoked_at FROM tokens \
     WHERE id = $1 OR prefix = $1 OR token_hash = $2";
const LIST_TOKENS: &str = "SELECT id, user_name, prefix, created_at, revoked_at FROM tokens \
     WHERE ($1 IS NULL OR user_name = $1) ORDER BY user_name, created_at, id";

impl Store {
    /// Adds a user. Fails with [`Error::DuplicateUser`] if the name exists (revoked or not).
    pub async fn add_user(
        &self,
        name: &str,
        scopes: &[String],
        repos: &[String],
        git: Option<&GitIdentity>,
    ) -> Result<UserRecord, Error> {
        validate_name(name)?;
        let scopes = join_scopes(scopes)?;
        let repos = join_repos(repos)?;
        let (git_name, git_email) = git.map(|g| (&g.name, &g.email)).unzip();
        let created_at = now();
        let inserted = on_backend!(self, pool => sqlx::query(INSERT_USER)
            .bind(name)
            .bind(&scopes)
            .bind(&repos)
            .bind(git_name)
            .bind(git_email)
            .bind(&created_at)
            .execute(pool)
            .await
            .map(drop));
        match inserted {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(Error::DuplicateUser {
                    name: name.to_owned(),
                });
            }
            other => other?,
        }
        self.user(name).await
    }

    /// All users, revoked ones included, by name.
    pub async fn list_users(&self) -> Result<Vec<UserRecord>, Error> {
        let rows: Vec<UserRow> =
            on_backend!(self, pool => sqlx::query_as(SELECT_USERS).fetch_all(pool).await?);
        Ok(rows.into_iter().map(UserRecord::from).collect())
    }

    /// The user called `name`, revoked or not; `None` if there is none.
    pub async fn get_user(&self, name: &str) -> Result<Option<UserRecord>, Error> {
        let row: Option<UserRow> = on_backend!(self, pool =>
            sqlx::query_as(SELECT_USER).bind(name).fetch_optional(pool).await?);
        Ok(row.map(UserRecord::from))
    }

    async fn user(&self, name: &str) -> Result<UserRecord, Error> {
        self.get_user(name)
            .await?
            .ok_or_else(|| Error::UnknownUser {
                name: name.to_owned(),
            })
    }

    /// Replaces the user's scopes.
    pub async fn set_scopes(&self, name: &str, scopes: &[String]) -> Result<(), Error> {
        let scopes = join_scopes(scopes)?;
        self.update_user(
            name,
            "UPDATE users SET scopes = $2 WHERE name = $1",
            Some(scopes),
        )
        .await
    }

    /// Replaces the user's repository grants.
    pub async fn set_repos(&self, name: &str, repos: &[String]) -> Result<(), Error> {
        let repos = join_repos(repos)?;
        self.update_user(
            name,
            "UPDATE users SET repos = $2 WHERE name = $1",
            Some(repos),
        )
        .await
    }

    /// Sets or clears the identity of the user's commits.
    pub async fn set_git_identity(
        &self,
        name: &str,
        git: Option<&GitIdentity>,
    ) -> Result<(), Error> {
        let (git_name, git_email) = git.map(|g| (&g.name, &g.email)).unzip();
        let done = on_backend!(self, pool =>
            sqlx::query("UPDATE users SET git_name = $2, git_email = $3 WHERE name = $1")
                .bind(name)
                .bind(git_name)
                .bind(git_email)
                .execute(pool)
                .await?
                .rows_affected());
        expect_user(done, name)
    }

    /// Maps a JWT `sub` claim to the user (or removes the mapping with `None`).
    pub async fn set_jwt_subject(&self, name: &str, subject: Option<&str>) -> Result<(), Error> {
        if subject.is_some_and(str::is_empty) {
            return Err(invalid("JWT subject", "", "must not be empty"));
        }
        let updated = on_backend!(self, pool =>
            sqlx::query("UPDATE users SET jwt_subject = $2 WHERE name = $1")
                .bind(name)
                .bind(subject)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()));
        match updated {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(Error::DuplicateJwtSubject {
                    subject: subject.unwrap_or_default().to_owned(),
                })
            }
            other => expect_user(other?, name),
        }
    }

    /// Sets or clears the user's rate limit (calls per minute).
    pub async fn set_rate_limit(&self, name: &str, per_minute: Option<u32>) -> Result<(), Error> {
        let done = on_backend!(self, pool =>
            sqlx::query("UPDATE users SET rate_limit_per_minute = $2 WHERE name = $1")
                .bind(name)
                .bind(per_minute.map(i64::from))
                .execute(pool)
                .await?
                .rows_affected());
        expect_user(done, name)
    }

    /// The active (not revoked) user whose JWT subject is `subject`.
    pub async fn user_by_jwt_subject(&self, subject: &str) -> Result<Option<UserRecord>, Error> {
        let row: Option<UserRow> = on_backend!(self, pool =>
            sqlx::query_as(SELECT_USER_BY_SUBJECT).bind(subject).fetch_optional(pool).await?);
        Ok(row.map(UserRecord::from))
    }

    /// Revokes the user and all their tokens. Returns `false` if they were already revoked.
    pub async fn revoke_user(&self, name: &str) -> Result<bool, Error> {
        let revoked_at = now();
        let changed = on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(
                "UPDATE users SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
            )
            .bind(name)
            .bind(&revoked_at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            // Authentication already refuses every token of a revoked user; marking the tokens
            // too keeps `list_tokens` honest.
            sqlx::query("UPDATE tokens SET revoked_at = $2 WHERE user_name = $1 AND revoked_at IS NULL")
                .bind(name)
                .bind(&revoked_at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            changed
        });
        if changed == 0 {
            self.user(name).await?;
        }
        Ok(changed > 0)
    }

    /// Issues a new API token for an active user: returns `(token id, plaintext)`. The plaintext
    /// (`ggt_` + 40 base62 characters from the OS RNG) is shown once; only its SHA-256 is kept.
    pub async fn issue_token(&self, user: &str) -> Result<(String, String), Error> {
        let plaintext = new_token()?;
        let id = hex::encode(rand::random::<[u8; 8]>());
        let prefix = &plaintext[..DISPLAY_PREFIX_LEN];
        let inserted = on_backend!(self, pool => sqlx::query(INSERT_TOKEN)
            .bind(&id)
            .bind(token_hash(&plaintext))
            .bind(prefix)
            .bind(now())
            .bind(user)
            .execute(pool)
            .await?
            .rows_affected());
        if inserted == 0 {
            let record = self.user(user).await?;
            return Err(Error::RevokedUser { name: record.name });
        }
        Ok((id, plaintext))
    }

    /// The active user holding the active token `plaintext`, or `None` (unknown token, revoked
    /// token, revoked user). One indexed query; runs on every request.
    pub async fn authenticate_token(&self, plaintext: &str) -> Result<Option<UserRecord>, Error> {
        // Anything not shaped like our tokens cannot match: skip the round trip.
        if !plaintext.starts_with(TOKEN_PREFIX)
            || plaintext.len() != TOKEN_PREFIX.len() + TOKEN_RANDOM_CHARS
        {
            return Ok(None);
        }
        let hash = token_hash(plaintext);
        if let Some(row) = self.read_blocking(|conn| authenticate_blocking(conn, &hash)) {
            return Ok(row?.map(UserRecord::from));
        }
        let row: Option<UserRow> = on_backend!(self, pool =>
            sqlx::query_as(AUTHENTICATE).bind(&hash).fetch_optional(pool).await?);
        Ok(row.map(UserRecord::from))
    }

    /// The name of the user `plaintext` was issued to, whether or not the token or the user is
    /// revoked; `None` for a token never issued. Only for attributing a refused request (an
    /// attempt with a revoked token is that user's attempt), never for authenticating one.
    pub async fn token_owner(&self, plaintext: &str) -> Result<Option<String>, Error> {
        if !plaintext.starts_with(TOKEN_PREFIX)
            || plaintext.len() != TOKEN_PREFIX.len() + TOKEN_RANDOM_CHARS
        {
            return Ok(None);
        }
        let row: Option<(String,)> = on_backend!(self, pool =>
            sqlx::query_as("SELECT user_name FROM tokens WHERE token_hash = $1")
                .bind(token_hash(plaintext))
                .fetch_optional(pool)
                .await?);
        Ok(row.map(|(name,)| name))
    }

    /// The name of the user whose JWT subject is `subject`, revoked or not (see
    /// [`Store::token_owner`]: attribution of refusals only).
    pub async fn jwt_subject_owner(&self, subject: &str) -> Result<Option<String>, Error> {
        let row: Option<(String,)> = on_backend!(self, pool =>
            sqlx::query_as("SELECT name FROM users WHERE jwt_subject = $1")
                .bind(subject)
                .fetch_optional(pool)
                .await?);
        Ok(row.map(|(name,)| name))
    }

    /// Revokes one token, named by its id, its display prefix, or the token itself. Returns the
    /// token's record (revoking an already revoked token changes nothing).
    pub async fn revoke_token(&self, token: &str) -> Result<TokenRecord, Error> {
        let rows: Vec<TokenRow> = on_backend!(self, pool => sqlx::query_as(FIND_TOKENS)
            .bind(token)
            .bind(token_hash(token))
            .fetch_all(pool)
            .await?);
        // Never echo a whole token into an error message.
        let shown: String = token.chars().take(DISPLAY_PREFIX_LEN).collect();
        let mut record = match <[TokenRow; 1]>::try_from(rows) {
            Ok([row]) => TokenRecord::from(row),
            Err(rows) if rows.is_empty() => return Err(Error::UnknownToken { token: shown }),
            Err(rows) => {
                return Err(Error::AmbiguousToken {
                    prefix: shown,
                    count: rows.len(),
                });
            }
        };
        if record.revoked_at.is_none() {
            let revoked_at = now();
            on_backend!(self, pool =>
                sqlx::query("UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                    .bind(&record.id)
                    .bind(&revoked_at)
                    .execute(pool)
                    .await
                    .map(drop)?);
            record.revoked_at = Some(revoked_at);
        }
        Ok(record)
    }

    /// Tokens of `user`, or of everyone with `None`, revoked ones included.
    pub async fn list_tokens(&self, user: Option<&str>) -> Result<Vec<TokenRecord>, Error> {
        let rows: Vec<TokenRow> = on_backend!(self, pool =>
            sqlx::query_as(LIST_TOKENS).bind(user).fetch_all(pool).await?);
        Ok(rows.into_iter().map(TokenRecord::from).collect())
    }

    /// Stores the user's GitHub token, already encrypted by the caller (the bytes are opaque).
    pub async fn set_github_token(&self, name: &str, ciphertext: Vec<u8>) -> Result<(), Error> {
        let done = on_backend!(self, pool =>
            sqlx::query("UPDATE users SET github_token = $2 WHERE name = $1")
                .bind(name)
                .bind(&ciphertext)
                .execute(pool)
                .await?
                .rows_affected());
        expect_user(done, name)
    }

    /// Removes the user's stored GitHub token.
    pub async fn clear_github_token(&self, name: &str) -> Result<(), Error> {
        let done = on_backend!(self, pool =>
            sqlx::query("UPDATE users SET github_token = NULL WHERE name = $1")
                .bind(name)
                .execute(pool)
                .await?
                .rows_affected());
        expect_user(done, name)
    }

    /// The user's encrypted GitHub token, if one is stored.
    pub async fn github_token(&self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        let row: Option<(Option<Vec<u8>>,)> = on_backend!(self, pool =>
            sqlx::query_as("SELECT github_token FROM users WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?);
        match row {
            Some((token,)) => Ok(token),
            None => Err(Error::UnknownUser {
                name: name.to_owned(),
            }),
        }
    }

    /// How many users have a stored GitHub token (the server needs the encryption key if any).
    pub async fn count_users_with_github_tokens(&self) -> Result<u64, Error> {
        let (n,): (i64,) = on_backend!(self, pool =>
            sqlx::query_as("SELECT COUNT(*) FROM users WHERE github_token IS NOT NULL")
                .fetch_one(pool)
                .await?);
        Ok(super::to_u64(n))
    }

    async fn update_user(
        &self,
        name: &str,
        sql: &'static str,
        value: Option<String>,
    ) -> Result<(), Error> {
        let done = on_backend!(self, pool =>
            sqlx::query(sql).bind(name).bind(&value).execute(pool).await?.rows_affected());
        expect_user(done, name)
    }
}

/// [`AUTHENTICATE`] on a rusqlite connection (see `sync_read`): the same statement, prepared once
/// per connection.
fn authenticate_blocking(
    conn: &rusqlite::Connection,
    hash: &str,
) -> rusqlite::Result<Option<UserRow>> {
    use rusqlite::OptionalExtension;
    let mut stmt = conn.prepare_cached(AUTHENTICATE)?;
    stmt.query_row([hash], |r| {
        Ok(UserRow {
            name: r.get(0)?,
            scopes: r.get(1)?,
            repos: r.get(2)?,
            git_name: r.get(3)?,
            git_email: r.get(4)?,
            jwt_subject: r.get(5)?,
            rate_limit_per_minute: r.get(6)?,
            has_github_token: r.get(7)?,
            created_at: r.get(8)?,
            revoked_at: r.get(9)?,
        })
    })
    .optional()
}

fn expect_user(rows_affected: u64, name: &str) -> Result<(), Error> {
    if rows_affected == 0 {
        return Err(Error::UnknownUser {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// A fresh token: `ggt_` and 40 base62 characters drawn from the OS RNG by rejection sampling
/// (bytes >= 248 are dropped, so every character is equally likely).
fn new_token() -> Result<String, Error> {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut token = String::with_capacity(TOKEN_PREFIX.len() + TOKEN_RANDOM_CHARS);
    token.push_str(TOKEN_PREFIX);
    let mut buf = [0u8; 64];
    while token.len() < TOKEN_PREFIX.len() + TOKEN_RANDOM_CHARS {
        rand::rngs::SysRng
            .try_fill_bytes(&mut buf)
            .map_err(Error::Rng)?;
        for &b in buf.iter().filter(|&&b| b < 248) {
            if token.len() == TOKEN_PREFIX.len() + TOKEN_RANDOM_CHARS {
                break;
            }
            token.push(char::from(ALPHABET[usize::from(b % 62)]));
        }
    }
    Ok(token)
}

/// Lowercase hex SHA-256 of a token: what the store keeps and looks up.
pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn invalid(field: &'static str, value: &str, reason: &'static str) -> Error {
    Error::Invalid {
        field,
        value: value.to_owned(),
        reason,
    }
}

fn validate_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.len() > 64 {
        return Err(invalid("user name", name, "must be 1 to 64 characters"));
    }
    if name.starts_with('-') {
        return Err(invalid("user name", name, "must not start with '-'"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
    {
        return Err(invalid(
            "user name",
            name,
            "may hold only letters, digits and . _ - @",
        ));
    }
    Ok(())
}

fn join_scopes(scopes: &[String]) -> Result<String, Error> {
    for scope in scopes {
        if scope.is_empty() || scope.chars().any(char::is_whitespace) {
            return Err(invalid("scope", scope, "must be one word"));
        }
    }
    Ok(scopes.join(" "))
}

fn join_repos(repos: &[String]) -> Result<String, Error> {
    for repo in repos {
        if repo.trim().is_empty() || repo.contains(['\n', '\r']) {
            return Err(invalid(
                "repository grant",
                repo,
                "must be one non-empty line",
            ));
        }
    }
    Ok(repos.join("\n"))
}
