//! `gitgate users ...`: add, list, issue tokens, revoke, set a user's GitHub token.
//!
//! Results go to stdout (a new token is the only thing `users token` prints there, so scripts can
//! capture it); notes and progress go to stderr.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal};

use anyhow::{Context, Result, bail};
use clap::{ArgGroup, Args, Subcommand};
use gitgate::policy::{self, Grants, Scope};
use gitgate::secrets::{self, SecretKey};
use gitgate::settings::StateConfig;
use gitgate::store::{GitIdentity, Store, TokenRecord, UserRecord};
use serde::Serialize;

/// The `users` subcommands.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user with scopes and repository grants (then issue a token with `users token`).
    ///
    /// Example:
    ///   gitgate users add alice --scopes "git:read git:write" --repos "app,acme/*"
    #[command(verbatim_doc_comment)]
    Add(AddArgs),
    /// List users: scopes, repository grants, active tokens, GitHub token, status.
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Issue a new API token for a user and print it on stdout, alone on one line.
    ///
    /// The token is shown only this once (only its SHA-256 is stored); capture it, e.g.
    /// `TOKEN=$(gitgate users token alice)`. A user may hold several tokens.
    Token {
        /// The user.
        name: String,
    },
    /// Revoke a user and all their tokens, or (with --token) a single token.
    ///
    /// Takes effect on the next call, on every server sharing the store.
    #[command(group(ArgGroup::new("what").required(true).args(["name", "token"])))]
    Revoke {
        /// The user to revoke (with every token they hold).
        name: Option<String>,
        /// Revoke only this token: its id, its displayed prefix (`ggt_` + 8), or the token.
        #[arg(long, value_name = "ID_OR_PREFIX")]
        token: Option<String>,
    },
    /// List API tokens (id, prefix, user, created, revoked) of one user or of everyone.
    Tokens {
        /// Only this user's tokens.
        name: Option<String>,
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Store a user's own GitHub token, encrypted with the secret key (AES-256-GCM).
    ///
    /// The token is read from stdin (one line, surrounding whitespace trimmed) or, with
    /// --from-env, from an environment variable; it is never taken as an argument, which would
    /// leave it in the shell history and the process list. Needs --secret-key-file or
    /// GITGATE_SECRET_KEY (make a key with `gitgate keygen`); every user's token must be
    /// encrypted with the same key, the one the server is given.
    ///
    /// Example:
    ///   gh auth token | gitgate users set-github-token alice --secret-key-file /etc/gitgate/secret.key
    #[command(verbatim_doc_comment)]
    SetGithubToken {
        /// The user.
        name: String,
        /// Read the GitHub token from this environment variable instead of stdin.
        #[arg(long, value_name = "VAR")]
        from_env: Option<String>,
    },
    /// Remove a user's stored GitHub token.
    ClearGithubToken {
        /// The user.
        name: String,
    },
    /// Change a user: each option given replaces that setting; the others are kept.
    Set(SetArgs),
}

/// `users add`.
#[derive(Debug, Args)]
#[command(next_help_heading = "User")]
pub struct AddArgs {
    /// The user name: 1-64 letters, digits and . _ - @ (not starting with -).
    pub name: String,
    /// Scopes, separated by spaces or commas: git:read, git:write, git:push, git:force,
    /// github:read, github:write, github:merge, admin (admin implies all others; nothing else
    /// implies anything).
    #[arg(long, value_name = "SCOPES")]
    pub scopes: String,
    /// Repository grants, separated by commas or spaces: globs over local repository names and
    /// GitHub `owner/name` (`app`, `acme/*`, `acme/{api,web}`). At least one is required; grant
    /// every repository explicitly with --repos '**'.
    #[arg(long, value_name = "GLOBS")]
    pub repos: String,
    /// Author name for the user's commits (with --git-email).
    #[arg(long, value_name = "NAME", requires = "git_email")]
    pub git_name: Option<String>,
    /// Author email for the user's commits (with --git-name).
    #[arg(long, value_name = "EMAIL", requires = "git_name")]
    pub git_email: Option<String>,
    /// The JWT `sub` claim that identifies this user when the server accepts JWTs.
    #[arg(long, value_name = "SUB")]
    pub jwt_subject: Option<String>,
    /// Most tool calls per minute for this user (default: the server's limit).
    #[arg(long, value_name = "PER_MINUTE")]
    pub rate_limit: Option<u32>,
}

/// `users set`.
#[derive(Debug, Args)]
#[command(
    group(ArgGroup::new("change").required(true).multiple(true)),
    next_help_heading = "Changes"
)]
pub struct SetArgs {
    /// The user.
    pub name: String,
    /// Replace the scopes (same syntax as `users add --scopes`).
    #[arg(long, value_name = "SCOPES", group = "change")]
    pub scopes: Option<String>,
    /// Replace the repository grants (same syntax as `users add --repos`).
    #[arg(long, value_name = "GLOBS", group = "change")]
    pub repos: Option<String>,
    /// Set the commit author name (with --git-email).
    #[arg(long, value_name = "NAME", requires = "git_email", group = "change")]
    pub git_name: Option<String>,
    /// Set the commit author email (with --git-name).
    #[arg(long, value_name = "EMAIL", requires = "git_name", group = "change")]
    pub git_email: Option<String>,
    /// Remove the commit identity (the server's default applies).
    #[arg(long, conflicts_with = "git_name", group = "change")]
    pub no_git_identity: bool,
    /// Map this JWT `sub` claim to the user.
    #[arg(long, value_name = "SUB", group = "change")]
    pub jwt_subject: Option<String>,
    /// Remove the user's JWT subject.
    #[arg(long, conflicts_with = "jwt_subject", group = "change")]
    pub no_jwt_subject: bool,
    /// Set the user's limit in tool calls per minute.
    #[arg(long, value_name = "PER_MINUTE", group = "change")]
    pub rate_limit: Option<u32>,
    /// Remove the user's own limit (the server's default applies).
    #[arg(long, conflicts_with = "rate_limit", group = "change")]
    pub no_rate_limit: bool,
}

pub async fn run(state: &StateConfig, command: UsersCommand) -> Result<()> {
    let store = state.open_store().await.context("opening the store")?;
    let result = match command {
        UsersCommand::Add(args) => add(&store, args).await,
        UsersCommand::List { json } => list(&store, json).await,
        UsersCommand::Token { name } => token(&store, &name).await,
        UsersCommand::Revoke { name, token } => match (name, token) {
            (_, Some(token)) => revoke_token(&store, &token).await,
            (Some(name), None) => revoke_user(&store, &name).await,
            (None, None) => unreachable!("clap requires a name or --token"),
        },
        UsersCommand::Tokens { name, json } => tokens(&store, name.as_deref(), json).await,
        UsersCommand::SetGithubToken { name, from_env } => {
            set_github_token(state, &store, &name, from_env.as_deref()).await
        }
        UsersCommand::ClearGithubToken { name } => {
            store
                .clear_github_token(&name)
                .await
                .with_context(|| format!("clearing the GitHub token of {name:?}"))?;
            println!("removed the GitHub token of {name}");
            Ok(())
        }
        UsersCommand::Set(args) => set(&store, args).await,
    };
    store.close().await;
    result
}

async fn add(store: &Store, args: AddArgs) -> Result<()> {
    // Validate everything before writing anything: the store has no multi-field transaction.
    let scopes = parse_scopes(&args.scopes)?;
    let repos = parse_repos(&args.repos)?;
    if let Some(subject) = &args.jwt_subject {
        ensure_subject_free(store, subject, &args.name).await?;
    }
    let git = git_identity(args.git_name, args.git_email);
    let user = store
        .add_user(&args.name, &scopes, &repos, git.as_ref())
        .await
        .with_context(|| format!("adding user {:?}", args.name))?;
    let name = &user.name;
    let then = |what: &str| {
        format!(
            "user {name} was added, but {what} failed; retry with `gitgate users set {name} ...`"
        )
    };
    if let Some(subject) = &args.jwt_subject {
        store
            .set_jwt_subject(name, Some(subject))
            .await
            .with_context(|| then("setting the JWT subject"))?;
    }
    if let Some(limit) = args.rate_limit {
        store
            .set_rate_limit(name, Some(limit))
            .await
            .with_context(|| then("setting the rate limit"))?;
    }
    println!(
        "added user {name} (scopes: {}; repos: {})",
        scopes.join(" "),
        repos.join(",")
    );
    eprintln!("next: issue an API token with `gitgate users token {name}`");
    Ok(())
}

async fn set(store: &Store, args: SetArgs) -> Result<()> {
    let name = &args.name;
    let user = existing_user(store, name).await?;
    let scopes = args.scopes.as_deref().map(parse_scopes).transpose()?;
    let repos = args.repos.as_deref().map(parse_repos).transpose()?;
    if let Some(subject) = &args.jwt_subject {
        ensure_subject_free(store, subject, name).await?;
    }
    let mut changed = Vec::new();
    if let Some(scopes) = scopes {
        store
            .set_scopes(name, &scopes)
            .await
            .with_context(|| format!("setting the scopes of {name:?}"))?;
        changed.push(format!("scopes: {}", scopes.join(" ")));
    }
    if let Some(repos) = repos {
        store
            .set_repos(name, &repos)
            .await
            .with_context(|| format!("setting the repository grants of {name:?}"))?;
        changed.push(format!("repos: {}", repos.join(",")));
    }
    let git = git_identity(args.git_name, args.git_email);
    if git.is_some() || args.no_git_identity {
        store
            .set_git_identity(name, git.as_ref())
            .await
            .with_context(|| format!("setting the git identity of {name:?}"))?;
        changed.push(match git {
            Some(g) => format!("git identity: {} <{}>", g.name, g.email),
            None => "git identity: default".to_owned(),
        });
    }
    if args.jwt_subject.is_some() || args.no_jwt_subject {
        store
            .set_jwt_subject(name, args.jwt_subject.as_deref())
            .await
            .with_context(|| format!("setting the JWT subject of {name:?}"))?;
        changed.push(format!(
            "JWT subject: {}",
            args.jwt_subject.as_deref().unwrap_or("none")
        ));
    }
    if args.rate_limit.is_some() || args.no_rate_limit {
        store
            .set_rate_limit(name, args.rate_limit)
            .await
            .with_context(|| format!("setting the rate limit of {name:?}"))?;
        changed.push(match args.rate_limit {
            Some(n) => format!("rate limit: {n}/min"),
            None => "rate limit: default".to_owned(),
        });
    }
    println!("updated user {name} ({})", changed.join("; "));
    if user.is_revoked() {
        eprintln!("note: {name} is revoked; the changes apply to the record only");
    }
    Ok(())
}

/// A user's row in `users list --json`.
#[derive(Serialize)]
struct ListedUser<'a> {
    #[serde(flatten)]
    user: &'a UserRecord,
    active_tokens: usize,
}

async fn list(store: &Store, json: bool) -> Result<()> {
    let users = store.list_users().await.context("listing users")?;
    let tokens = store.list_tokens(None).await.context("listing tokens")?;
    let mut active: HashMap<&str, usize> = HashMap::new();
    for t in tokens.iter().filter(|t| t.revoked_at.is_none()) {
        *active.entry(t.user.as_str()).or_default() += 1;
    }
    let active_of = |u: &UserRecord| active.get(u.name.as_str()).copied().unwrap_or(0);
    if json {
        let listed: Vec<ListedUser<'_>> = users
            .iter()
            .map(|user| ListedUser {
                user,
                active_tokens: active_of(user),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&listed)?);
        return Ok(());
    }
    if users.is_empty() {
        eprintln!("no users yet; add one with `gitgate users add NAME --scopes .. --repos ..`");
        return Ok(());
    }
    let mut table = Table::new(["NAME", "SCOPES", "REPOS", "TOKENS", "GITHUB", "STATUS"]);
    for u in &users {
        let status = match &u.revoked_at {
            Some(at) => format!("revoked {at}"),
            None => "active".to_owned(),
        };
        table.row([
            u.name.clone(),
            u.scopes.join(" "),
            u.repos.join(","),
            active_of(u).to_string(),
            if u.has_github_token { "yes" } else { "no" }.to_owned(),
            status,
        ]);
    }
    table.print();
    Ok(())
}

async fn token(store: &Store, name: &str) -> Result<()> {
    let (id, plaintext) = store
        .issue_token(name)
        .await
        .with_context(|| format!("issuing a token for {name:?}"))?;
    println!("{plaintext}");
    eprintln!(
        "issued token {id} for {name}; it is shown only this once (revoke it with \
         `gitgate users revoke --token {id}`)"
    );
    Ok(())
}

async fn revoke_user(store: &Store, name: &str) -> Result<()> {
    let active = store
        .list_tokens(Some(name))
        .await
        .context("listing tokens")?
        .iter()
        .filter(|t| t.revoked_at.is_none())
        .count();
    let changed = store
        .revoke_user(name)
        .await
        .with_context(|| format!("revoking user {name:?}"))?;
    if changed {
        println!("revoked user {name} and {active} active token(s)");
    } else {
        println!("user {name} was already revoked");
    }
    Ok(())
}

async fn revoke_token(store: &Store, token: &str) -> Result<()> {
    let record = store.revoke_token(token).await.context(
        "revoking the token (list tokens with `gitgate users tokens [NAME]` to find its id)",
    )?;
    println!(
        "revoked token {} ({}) of {}",
        record.id, record.prefix, record.user
    );
    Ok(())
}

async fn tokens(store: &Store, name: Option<&str>, json: bool) -> Result<()> {
    if let Some(name) = name {
        existing_user(store, name).await?;
    }
    let tokens = store.list_tokens(name).await.context("listing tokens")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&tokens)?);
        return Ok(());
    }
    if tokens.is_empty() {
        eprintln!("no tokens; issue one with `gitgate users token NAME`");
        return Ok(());
    }
    let mut table = Table::new(["ID", "PREFIX", "USER", "CREATED", "REVOKED"]);
    for TokenRecord {
        id,
        user,
        prefix,
        created_at,
        revoked_at,
    } in tokens
    {
        let revoked = revoked_at.unwrap_or_else(|| "-".to_owned());
        table.row([id, prefix, user, created_at, revoked]);
    }
    table.print();
    Ok(())
}

async fn set_github_token(
    state: &StateConfig,
    store: &Store,
    name: &str,
    from_env: Option<&str>,
) -> Result<()> {
    let key = state
        .secret_key()
        .context("loading the secret key")?
        .context(
            "no secret key to encrypt the GitHub token with: pass --secret-key-file FILE or set \
             GITGATE_SECRET_KEY (make a key with `gitgate keygen > FILE`; the server needs the \
             same key)",
        )?;
    existing_user(store, name).await?;
    ensure_key_matches(store, &key, name).await?;
    let github_token = match from_env {
        Some(var) => std::env::var(var)
            .with_context(|| format!("reading the GitHub token from ${var}: it is not set"))?,
        None => read_stdin_line()?,
    };
    let github_token = github_token.trim();
    if github_token.is_empty() {
        bail!(
            "the GitHub token is empty; pipe it in, e.g. `gh auth token | gitgate users set-github-token {name}`"
        );
    }
    if github_token
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        bail!("the GitHub token contains whitespace; give the token alone on one line");
    }
    store
        .set_github_token(
            name,
            secrets::encrypt_for_user(&key, name, github_token.as_bytes()),
        )
        .await
        .with_context(|| format!("storing the GitHub token of {name:?}"))?;
    println!(
        "stored the GitHub token of {name} (encrypted with key {})",
        key.key_id()
    );
    Ok(())
}

/// Reads one line from stdin, prompting on stderr when stdin is a terminal.
fn read_stdin_line() -> Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("GitHub token (one line): ");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the GitHub token from stdin")?;
    Ok(line)
}

/// Refuses a key other than the one the stored GitHub tokens were encrypted with: the server
/// holds one key, so a token encrypted with another would be unreadable.
async fn ensure_key_matches(store: &Store, key: &SecretKey, name: &str) -> Result<()> {
    let users = store.list_users().await.context("listing users")?;
    let Some(other) = users.iter().find(|u| u.has_github_token && u.name != name) else {
        return Ok(());
    };
    let blob = store
        .github_token(&other.name)
        .await
        .with_context(|| format!("reading the GitHub token of {:?}", other.name))?;
    if let Some(blob) = blob
        && secrets::decrypt_for_user(key, &other.name, &blob).is_err()
    {
        bail!(
            "the secret key (id {}) does not decrypt the GitHub token already stored for {:?}; \
             every user's token must use the server's one key: pass that key, or clear the \
             other tokens first",
            key.key_id(),
            other.name
        );
    }
    Ok(())
}

async fn existing_user(store: &Store, name: &str) -> Result<UserRecord> {
    store
        .get_user(name)
        .await
        .with_context(|| format!("looking up user {name:?}"))?
        .with_context(|| format!("no user {name:?}; list them with `gitgate users list`"))
}

/// Refuses a JWT subject already mapped to another user, before anything is written.
async fn ensure_subject_free(store: &Store, subject: &str, name: &str) -> Result<()> {
    let users = store.list_users().await.context("listing users")?;
    if let Some(holder) = users
        .iter()
        .find(|u| u.jwt_subject.as_deref() == Some(subject) && u.name != name)
    {
        bail!(
            "JWT subject {subject:?} already belongs to {:?}; remove it there first with \
             `gitgate users set {} --no-jwt-subject`",
            holder.name,
            holder.name
        );
    }
    Ok(())
}

fn git_identity(name: Option<String>, email: Option<String>) -> Option<GitIdentity> {
    // clap makes each of the two flags require the other.
    Some(GitIdentity {
        name: name?,
        email: email?,
    })
}

/// Validates a scope list (spaces or commas) and returns it in canonical order.
fn parse_scopes(list: &str) -> Result<Vec<String>> {
    let scopes = policy::parse_scopes(list).context("bad --scopes")?;
    if scopes.is_empty() {
        bail!(
            "--scopes is empty; give at least one of: {}",
            Scope::ALL.map(Scope::as_str).join(", ")
        );
    }
    Ok(scopes.iter().map(|s| s.as_str().to_owned()).collect())
}

/// Validates repository grants (commas or spaces; commas inside `{..}` belong to the glob).
fn parse_repos(list: &str) -> Result<Vec<String>> {
    let repos = split_grants(list);
    if repos.is_empty() {
        bail!(
            "--repos is empty; give at least one grant such as `app` or `acme/*`, or --repos '**' \
             for every repository"
        );
    }
    Grants::new(&repos).context("bad --repos")?;
    Ok(repos)
}

fn split_grants(list: &str) -> Vec<String> {
    let mut grants = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    for c in list.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth == 0 && (c == ',' || c.is_whitespace()) {
            grants.extend((!current.is_empty()).then(|| std::mem::take(&mut current)));
        } else {
            current.push(c);
        }
    }
    grants.extend((!current.is_empty()).then_some(current));
    grants
}

/// A plain left-aligned text table for stdout (shared with `audit query`).
pub(super) struct Table<const N: usize> {
    header: [&'static str; N],
    rows: Vec<[String; N]>,
}

impl<const N: usize> Table<N> {
    pub(super) fn new(header: [&'static str; N]) -> Self {
        Self {
            header,
            rows: Vec::new(),
        }
    }

    pub(super) fn row(&mut self, cells: [String; N]) {
        self.rows.push(cells);
    }

    pub(super) fn print(&self) {
        let mut widths = self.header.map(|h| h.chars().count());
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut out = String::new();
            for (i, (cell, w)) in cells.zip(widths).enumerate() {
                if i + 1 == N {
                    out.push_str(cell);
                } else {
                    out.push_str(&format!("{cell:<w$}  "));
                }
            }
            println!("{}", out.trim_end());
        };
        line(&mut self.header.iter().copied());
        for row in &self.rows {
            line(&mut row.iter().map(String::as_str));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_split_on_commas_and_spaces_but_not_inside_braces() {
        let check = |input: &str, expected: &[&str]| assert_eq!(split_grants(input), expected);
        check("app,acme/*", &["app", "acme/*"]);
        check(" app  acme/* ,, x ", &["app", "acme/*", "x"]);
        check("acme/{api,web},app", &["acme/{api,web}", "app"]);
        check("", &[]);
    }

    #[test]
    fn scopes_are_validated_and_canonical() {
        assert_eq!(
            parse_scopes("git:write, git:read").expect("valid"),
            ["git:read", "git:write"]
        );
        let err = format!("{:#}", parse_scopes("git:read gti:write").expect_err("bad"));
        assert!(
            err.contains("gti:write") && err.contains("github:merge"),
            "{err}"
        );
        assert!(parse_scopes(" , ").is_err());
    }
}
