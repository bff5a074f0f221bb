//! Authorization: scopes, repository grants, per-user rate limits, the read-only switch.
//!
//! Domain code: it knows users, scopes and repository names, never MCP types. The transport and
//! tools layers classify each tool with a [`ToolClass`], build a [`Principal`] from the identity
//! store, and ask [`Policy::decide`] before running anything. The [`Decision`] carries a short
//! machine-readable rule for the audit event and, through [`Decision::message`], the one line the
//! agent sees.
//!
//! Rules, in the order they are checked (the first failing one is reported):
//! 1. the server-wide read-only switch denies every Write and Merge, whatever the scopes;
//! 2. the principal must hold the scope the tool class requires (`admin` implies every scope);
//! 3. when the call targets a repository, one of the principal's grant globs must match its name;
//! 4. the per-user rate limit (last, so denied calls do not drain the budget of an agent that is
//!    merely making mistakes: they do no backend work).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// Errors from parsing scopes and grants (configuration or store input, never agent input).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A scope string is not one of the known scopes.
    #[error("unknown scope {scope:?}; valid scopes: {valid}", valid = Scope::valid_list())]
    UnknownScope {
        /// The offending scope as written (truncated if very long).
        scope: String,
    },
    /// A repository grant pattern is not a usable glob.
    #[error(
        "invalid repository grant {pattern:?}: {reason}; grants look like `app`, `acme/*`, `acme/widgets` or `**`"
    )]
    InvalidGrant {
        /// The pattern as written.
        pattern: String,
        /// Why it was refused.
        reason: String,
    },
}

/// A permission a user holds. `admin` implies every other scope.
///
/// No other implication exists on purpose (`git:write` does not imply `git:read`, `github:merge`
/// does not imply `github:write`): what an administrator granted is exactly what is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `git:read`: read local repositories (log, diff, blame, show...).
    GitRead,
    /// `git:write`: change local repositories (commit, branch, tag...).
    GitWrite,
    /// `github:read`: read issues, pull requests, contents on the forge.
    GithubRead,
    /// `github:write`: create or edit issues, comments, pull requests.
    GithubWrite,
    /// `github:merge`: merge pull requests.
    GithubMerge,
    /// `admin`: every scope above.
    Admin,
}

impl Scope {
    /// Every scope, in display order.
    pub const ALL: [Scope; 6] = [
        Scope::GitRead,
        Scope::GitWrite,
        Scope::GithubRead,
        Scope::GithubWrite,
        Scope::GithubMerge,
        Scope::Admin,
    ];

    /// The wire name (`git:read`, ..., `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::GitRead => "git:read",
            Scope::GitWrite => "git:write",
            Scope::GithubRead => "github:read",
            Scope::GithubWrite => "github:write",
            Scope::GithubMerge => "github:merge",
            Scope::Admin => "admin",
        }
    }

    /// Whether holding `self` is enough for something that requires `required`.
    pub fn implies(self, required: Scope) -> bool {
        self == required || self == Scope::Admin
    }

    fn valid_list() -> String {
        Scope::ALL.map(Scope::as_str).join(", ")
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| Error::UnknownScope {
                scope: truncate(s, 64),
            })
    }
}

/// Parses a scope list separated by spaces and/or commas (`"git:read, github:read"`).
///
/// Strict: an unknown scope is an error naming the valid ones. An empty string is an empty set.
pub fn parse_scopes(list: &str) -> Result<BTreeSet<Scope>, Error> {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|item| !item.is_empty())
        .map(Scope::from_str)
        .collect()
}

/// Keeps the scopes gitgate knows from a token's claims and drops the rest.
///
/// Lenient on purpose: identity providers put unrelated scopes (`openid`, `profile`) in the same
/// claim, and refusing the token for those would make JWT login unusable.
pub fn known_scopes<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<Scope> {
    items
        .into_iter()
        .filter_map(|item| item.parse().ok())
        .collect()
}

/// What a tool touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Domain {
    /// Local git repositories.
    Git,
    /// The GitHub (or GHE, or forge) API.
    Github,
    /// Catalogue and pipeline helpers: they need no scope of their own (a pipeline's inner calls
    /// are each decided on their own class).
    Meta,
}

/// What a tool does to its domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Reads only.
    Read,
    /// Changes state.
    Write,
    /// Merges (a pull request); kept apart from Write because it is usually granted to fewer people.
    Merge,
}

/// The class of a tool, which is all the policy needs to know about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ToolClass {
    /// What it touches.
    pub domain: Domain,
    /// What it does.
    pub effect: Effect,
}

impl ToolClass {
    /// `git_log`, `git_diff`, ...
    pub const GIT_READ: ToolClass = ToolClass::new(Domain::Git, Effect::Read);
    /// `git_commit`, `git_branch_create`, ...
    pub const GIT_WRITE: ToolClass = ToolClass::new(Domain::Git, Effect::Write);
    /// `gh_issue_list`, `gh_pr_view`, ...
    pub const GITHUB_READ: ToolClass = ToolClass::new(Domain::Github, Effect::Read);
    /// `gh_issue_create`, `gh_pr_comment`, ...
    pub const GITHUB_WRITE: ToolClass = ToolClass::new(Domain::Github, Effect::Write);
    /// `gh_pr_merge`.
    pub const GITHUB_MERGE: ToolClass = ToolClass::new(Domain::Github, Effect::Merge);
    /// Catalogue and pipeline helpers.
    pub const META_READ: ToolClass = ToolClass::new(Domain::Meta, Effect::Read);

    /// A class from its parts.
    pub const fn new(domain: Domain, effect: Effect) -> ToolClass {
        ToolClass { domain, effect }
    }

    /// Whether the read-only switch blocks this class.
    pub fn writes(self) -> bool {
        self.effect != Effect::Read
    }
}

/// The scope a tool class requires, or `None` for Meta tools.
///
/// Git has no merge scope: a local merge is a write to the repository, so Git+Merge needs
/// `git:write`.
pub fn required_scope(class: ToolClass) -> Option<Scope> {
    match (class.domain, class.effect) {
        (Domain::Git, Effect::Read) => Some(Scope::GitRead),
        (Domain::Git, Effect::Write | Effect::Merge) => Some(Scope::GitWrite),
        (Domain::Github, Effect::Read) => Some(Scope::GithubRead),
        (Domain::Github, Effect::Write) => Some(Scope::GithubWrite),
        (Domain::Github, Effect::Merge) => Some(Scope::GithubMerge),
        (Domain::Meta, _) => None,
    }
}

/// Repository grants: globs over repository names (`owner/name` for GitHub, a bare name for
/// local repositories).
///
/// Semantics (path-like, as in `.gitignore`):
/// - a glob matches the whole name, never a prefix: `acme/widgets` does not match
///   `acme/widgets-private`;
/// - `*` and `?` never match `/`: `acme/*` matches `acme/widgets` but not `acme/x/y`, and `*` matches
///   every local name (`app`) but no `owner/name`;
/// - `**` crosses `/`: `**` matches everything, `acme/**` everything under `acme/`;
/// - `{a,b}` alternates and `[abc]` classes work as in globset;
/// - matching is case-sensitive (fail closed: local repository names are case-sensitive
///   directory names). Callers should pass GitHub names as the user wrote them in the grant.
///
/// Admin does not bypass grants: `admin` implies every scope, but repository access is always
/// what the grants say (give an administrator `**`).
#[derive(Clone, Default)]
pub struct Grants {
    patterns: Vec<String>,
    /// Shared so that a [`GrantsCache`] hit is a cheap clone.
    set: std::sync::Arc<GlobSet>,
}

impl Grants {
    /// No repository at all.
    pub fn none() -> Grants {
        Grants::default()
    }

    /// Every repository (`**`).
    pub fn all() -> Grants {
        Grants::new(["**"]).expect("`**` is a valid glob")
    }

    /// Builds grants from patterns; each must be a valid glob with no leading or trailing `/`.
    pub fn new<I, S>(patterns: I) -> Result<Grants, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut builder = GlobSetBuilder::new();
        let mut kept = Vec::new();
        for pattern in patterns {
            let pattern = pattern.as_ref().trim();
            let invalid = |reason: &str| Error::InvalidGrant {
                pattern: truncate(pattern, 200),
                reason: reason.to_owned(),
            };
            if pattern.is_empty() {
                return Err(invalid("empty pattern"));
            }
            if pattern.starts_with('/') || pattern.ends_with('/') {
                return Err(invalid("must not start or end with `/`"));
            }
            if pattern.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid("must not contain whitespace"));
            }
            let glob = GlobBuilder::new(pattern)
                .literal_separator(true)
                // `\` escapes on every platform, so a grant means the same on Windows.
                .backslash_escape(true)
                .build()
                .map_err(|e| invalid(&e.kind().to_string()))?;
            builder.add(glob);
            kept.push(pattern.to_owned());
        }
        let set = builder.build().map_err(|e| Error::InvalidGrant {
            pattern: kept.join(" "),
            reason: e.to_string(),
        })?;
        Ok(Grants {
            patterns: kept,
            set: std::sync::Arc::new(set),
        })
    }

    /// Whether every repository is granted (`**`), so a call may span repositories.
    pub fn unrestricted(&self) -> bool {
        self.patterns.iter().any(|p| p == "**")
    }

    /// The patterns, in the order given.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether no repository is granted.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The first pattern (in the order given) that grants `repo`, if any.
    ///
    /// A name that is not a well-formed repository name (see [`is_valid_repo_name`]) is never
    /// granted, whatever the patterns: `**` must not let `../etc` through to a backend that has
    /// not validated it yet.
    pub fn matching(&self, repo: &str) -> Option<&str> {
        if !is_valid_repo_name(repo) {
            return None;
        }
        // `matches` returns indices in ascending order, so the first is the earliest pattern.
        let index = *self.set.matches(repo).first()?;
        self.patterns.get(index).map(String::as_str)
    }

    /// Whether `repo` is granted.
    pub fn allows(&self, repo: &str) -> bool {
        self.matching(repo).is_some()
    }
}

/// Compiled [`Grants`] by their pattern text, so an authenticated request does not build the
/// same glob set again (a third of a token check's cost). Only the compilation is remembered, a
/// pure function of the text: the text itself is read from the store on every request, so a
/// changed or revoked grant applies on the next call.
#[derive(Debug, Default)]
pub struct GrantsCache {
    compiled: Mutex<HashMap<Vec<String>, Grants>>,
}

/// Distinct grant lists kept; past this the cache starts afresh (it is only a shortcut).
const GRANTS_CACHE_MAX: usize = 1024;

impl GrantsCache {
    /// `Grants::new(patterns)`, or no repository at all when a stored pattern no longer
    /// parses (fail closed).
    pub fn get(&self, patterns: &[String]) -> Grants {
        if let Some(grants) = self.lock().get(patterns) {
            return grants.clone();
        }
        let grants = Grants::new(patterns).unwrap_or_else(|_| Grants::none());
        let mut compiled = self.lock();
        if compiled.len() >= GRANTS_CACHE_MAX {
            compiled.clear();
        }
        compiled.insert(patterns.to_vec(), grants.clone());
        grants
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<String>, Grants>> {
        // Entries are immutable once inserted: nothing is half-done if a holder panicked.
        self.compiled.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl FromStr for Grants {
    type Err = Error;

    /// Parses patterns separated by whitespace or commas; commas inside `{...}` alternates belong
    /// to the glob (`acme/{api,web}`).
    fn from_str(s: &str) -> Result<Grants, Error> {
        let mut items = Vec::new();
        let mut current = String::new();
        let mut depth = 0usize;
        for c in s.chars() {
            match c {
                '{' => {
                    depth += 1;
                    current.push(c);
                }
                '}' => {
                    depth = depth.saturating_sub(1);
                    current.push(c);
                }
                ',' if depth == 0 => items.push(std::mem::take(&mut current)),
                c if c.is_whitespace() => items.push(std::mem::take(&mut current)),
                c => current.push(c),
            }
        }
        items.push(current);
        Grants::new(items.iter().filter(|item| !item.is_empty()))
    }
}

impl fmt::Debug for Grants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Grants").field(&self.patterns).finish()
    }
}

impl PartialEq for Grants {
    fn eq(&self, other: &Grants) -> bool {
        self.patterns == other.patterns
    }
}

impl Eq for Grants {}

/// Whether `name` is a repository name policy will consider: one or more `/`-separated segments
/// of ASCII letters, digits, `.`, `-` and `_` (GitHub's alphabet), none empty, `.` or `..`, at most
/// 256 bytes.
///
/// Policy runs before the tool layer validates its arguments, so it must not trust the name.
pub fn is_valid_repo_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        })
}

/// Who is calling, as policy sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user name (also the rate-limit key).
    pub user: String,
    /// Scopes held.
    pub scopes: BTreeSet<Scope>,
    /// Repositories this user may touch.
    pub grants: Grants,
    /// Calls per minute for this user; `None` falls back to the policy default.
    pub rate_limit_per_minute: Option<u32>,
}

impl Principal {
    /// Whether any held scope implies `required`.
    pub fn has_scope(&self, required: Scope) -> bool {
        self.scopes.iter().any(|held| held.implies(required))
    }
}

/// Why a call was denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// The server is read-only and the tool writes.
    ReadOnly,
    /// The principal lacks this scope.
    MissingScope(Scope),
    /// The target repository name is malformed.
    InvalidRepo,
    /// The call names no repository, and only a caller granted every repository may make such a
    /// call (a search across all of GitHub).
    RepoRequired,
    /// No grant matches this (well-formed) repository.
    NoGrant {
        /// The repository asked for.
        repo: String,
    },
    /// The user is over their rate limit.
    RateLimited {
        /// The limit that applied.
        limit_per_minute: u32,
        /// When a call will next be allowed.
        retry_after: Duration,
    },
}

/// The outcome of [`Policy::decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the call may run.
    pub allowed: bool,
    /// A short machine-readable reason for the audit event:
    /// allowed: `scope:git:write`, `scope:git:write;grant:acme/*`, `meta`, `meta;grant:app`;
    /// denied: `denied:read-only`, `denied:missing-scope:git:write`, `denied:invalid-repo`,
    /// `denied:no-grant:acme/secret`, `denied:rate-limit`.
    pub rule: String,
    /// The reason, when denied.
    pub denial: Option<Denial>,
}

impl Decision {
    fn allow(rule: String) -> Decision {
        Decision {
            allowed: true,
            rule,
            denial: None,
        }
    }

    pub fn deny(denial: Denial) -> Decision {
        let rule = match &denial {
            Denial::ReadOnly => "denied:read-only".to_owned(),
            Denial::MissingScope(scope) => format!("denied:missing-scope:{scope}"),
            Denial::InvalidRepo => "denied:invalid-repo".to_owned(),
            Denial::RepoRequired => "denied:repo-required".to_owned(),
            Denial::NoGrant { repo } => format!("denied:no-grant:{repo}"),
            Denial::RateLimited { .. } => "denied:rate-limit".to_owned(),
        };
        Decision {
            allowed: false,
            rule,
            denial: Some(denial),
        }
    }

    /// The one line the agent sees, naming the user and the tool and saying what to do next.
    pub fn message(&self, user: &str, tool: &str) -> String {
        match &self.denial {
            None => format!("{user} may call {tool} ({})", self.rule),
            Some(Denial::ReadOnly) => {
                format!(
                    "{tool} changes state and this gitgate server is read-only; use read tools only"
                )
            }
            Some(Denial::MissingScope(scope)) => {
                format!("{user} lacks scope {scope} for {tool}; ask an admin to grant it")
            }
            Some(Denial::InvalidRepo) => format!(
                "{tool}: the repository name is not valid; use `owner/name` or a local repository name"
            ),
            Some(Denial::RepoRequired) => format!(
                "{tool}: name the repository (repo: OWNER/NAME); {user} may only reach granted repositories"
            ),
            Some(Denial::NoGrant { repo }) => format!(
                "{user} has no grant for repository {repo} ({tool}); ask an admin to grant it"
            ),
            Some(Denial::RateLimited {
                limit_per_minute,
                retry_after,
            }) => format!(
                "{user} is over the rate limit of {limit_per_minute} calls per minute; retry {tool} in {}s",
                ceil_secs(*retry_after)
            ),
        }
    }

    /// When denied by the rate limit, how long to wait (for a `Retry-After` header).
    pub fn retry_after(&self) -> Option<Duration> {
        match self.denial {
            Some(Denial::RateLimited { retry_after, .. }) => Some(retry_after),
            _ => None,
        }
    }
}

/// What a call acts on, as policy judges it. Each tool says which of these its call has (see
/// `tools::Services::run`); policy owns every rule about them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// One repository: a local name or `OWNER/NAME`.
    Repo(&'a str),
    /// A repository argument that is not a name at all (not a string).
    Unreadable,
    /// Every repository the upstream holds (a GitHub search naming none): only a caller granted
    /// every repository may make such a call.
    AllRepos,
    /// No repository (the catalogue, help, a pipeline whose steps are judged on their own).
    Nothing,
}

impl<'a> From<Option<&'a str>> for Target<'a> {
    fn from(repo: Option<&'a str>) -> Self {
        repo.map_or(Target::Nothing, Target::Repo)
    }
}

/// The server's authorization policy. Built once from configuration, shared by reference.
#[derive(Debug, Default)]
pub struct Policy {
    /// Deny every Write and Merge, whatever the scopes.
    pub read_only: bool,
    /// Calls per minute for users with no limit of their own; `None` is unlimited.
    pub default_rate_limit_per_minute: Option<u32>,
    /// Per-user call budgets.
    pub limiter: RateLimiter,
}

impl Policy {
    /// A policy with a fresh rate limiter.
    pub fn new(read_only: bool, default_rate_limit_per_minute: Option<u32>) -> Policy {
        Policy {
            read_only,
            default_rate_limit_per_minute,
            limiter: RateLimiter::new(),
        }
    }

    /// Decides whether `principal` may call a tool of `class` on `target`, now.
    ///
    /// Rules in order: read-only, scope, target (a valid name, a grant; every repository needs a
    /// `**` grant), and last the rate limit: only a call every other rule allows consumes one
    /// unit of the user's limit, so refused calls cost the user nothing.
    pub fn decide(&self, principal: &Principal, class: ToolClass, target: Target<'_>) -> Decision {
        self.decide_at(principal, class, target, Instant::now())
    }

    /// [`Policy::decide`] with an explicit clock, for tests.
    pub fn decide_at(
        &self,
        principal: &Principal,
        class: ToolClass,
        target: Target<'_>,
        now: Instant,
    ) -> Decision {
        let mut rule = match self.class_rule(principal, class) {
            Ok(rule) => rule,
            Err(denial) => return Decision::deny(denial),
        };
        match target {
            Target::Repo(repo) => {
                if !is_valid_repo_name(repo) {
                    return Decision::deny(Denial::InvalidRepo);
                }
                let Some(pattern) = principal.grants.matching(repo) else {
                    return Decision::deny(Denial::NoGrant {
                        repo: repo.to_owned(),
                    });
                };
                rule.push_str(";grant:");
                rule.push_str(pattern);
            }
            Target::Unreadable => return Decision::deny(Denial::InvalidRepo),
            Target::AllRepos if !principal.grants.unrestricted() => {
                return Decision::deny(Denial::RepoRequired);
            }
            Target::AllRepos => rule.push_str(";grant:**"),
            Target::Nothing => {}
        }
        if let Some(limit) = principal
            .rate_limit_per_minute
            .or(self.default_rate_limit_per_minute)
            && let Err(RetryAfter(retry_after)) = self.limiter.check(&principal.user, limit, now)
        {
            return Decision::deny(Denial::RateLimited {
                limit_per_minute: limit,
                retry_after,
            });
        }
        Decision::allow(rule)
    }

    /// Whether a tool of `class` could ever be allowed for `principal`: the class rules of
    /// [`Policy::decide`] (read-only, scope), the same code. Targets and the rate limit depend on
    /// the call and the moment. Used to leave tools out of `tools/list`.
    pub fn visible(&self, principal: &Principal, class: ToolClass) -> bool {
        self.class_rule(principal, class).is_ok()
    }

    /// The rules that depend only on the tool's class: the read-only switch, then the scope.
    /// Returns the rule text of an allowed call.
    fn class_rule(&self, principal: &Principal, class: ToolClass) -> Result<String, Denial> {
        if self.read_only && class.writes() {
            return Err(Denial::ReadOnly);
        }
        match required_scope(class) {
            Some(required) => principal
                .scopes
                .iter()
                .find(|held| held.implies(required))
                .map(|held| format!("scope:{held}"))
                .ok_or(Denial::MissingScope(required)),
            None => Ok("meta".to_owned()),
        }
    }
}

/// How long until the next call is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

/// Per-user token buckets: a user holds up to `limit` calls, refilled continuously at `limit` per
/// minute, so bursts up to the limit are allowed and the long-run rate is the limit.
///
/// Per replica: with several replicas each enforces the limit on its own.
/// The map has one entry per user that called with a limit, which is bounded by the user store.
#[derive(Debug, Default)]
pub struct RateLimiter {
    // std Mutex: the critical section is a map lookup and arithmetic, never held across an await.
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    /// An empty limiter.
    pub fn new() -> RateLimiter {
        RateLimiter::default()
    }

    /// Takes one call from `user`'s bucket at time `now`, or says how long to wait.
    ///
    /// A limit of 0 denies every call. `now` earlier than a previous call (an injected clock going
    /// backwards) refills nothing rather than panicking.
    pub fn check(&self, user: &str, limit_per_minute: u32, now: Instant) -> Result<(), RetryAfter> {
        if limit_per_minute == 0 {
            return Err(RetryAfter(Duration::from_secs(60)));
        }
        let capacity = f64::from(limit_per_minute);
        let per_second = capacity / 60.0;
        // A poisoned lock only means another thread panicked mid-update of plain numbers; the
        // worst case is one slightly wrong bucket, better than refusing every call from now on.
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = buckets.entry(user.to_owned()).or_insert(Bucket {
            tokens: capacity,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        // min(capacity): a lowered limit takes effect at once.
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        if now > bucket.last {
            bucket.last = now;
        }
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / per_second;
            Err(RetryAfter(Duration::from_secs_f64(wait)))
        }
    }
}

fn ceil_secs(duration: Duration) -> u64 {
    let secs = duration.as_secs();
    if duration.subsec_nanos() > 0 {
        secs + 1
    } else {
        secs
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}...", &s[..cut]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(scopes: &str, grants: &str) -> Principal {
        Principal {
            user: "alice".to_owned(),
            scopes: parse_scopes(scopes).expect("test scopes"),
            grants: grants.parse().expect("test grants"),
            rate_limit_per_minute: None,
        }
    }

    /// `check(grants, repo, expected matching pattern)`.
    fn check_grant(grants: &str, repo: &str, expected: Option<&str>) {
        let grants: Grants = grants.parse().expect("test grants");
        assert_eq!(
            grants.matching(repo),
            expected,
            "grants {grants:?} on {repo:?}"
        );
    }

    /// `check(scopes, grants, class, repo, expected rule)` against a writable policy, no limit.
    fn check(scopes: &str, grants: &str, class: ToolClass, repo: Option<&str>, rule: &str) {
        let decision =
            Policy::new(false, None).decide(&principal(scopes, grants), class, repo.into());
        assert_eq!(decision.rule, rule);
        assert_eq!(decision.allowed, !rule.starts_with("denied:"));
    }

    #[test]
    fn scopes_round_trip_and_parse_lists() {
        for scope in Scope::ALL {
            assert_eq!(scope.to_string().parse::<Scope>().ok(), Some(scope));
        }
        let parsed = parse_scopes("git:read, github:read github:merge,,").expect("valid list");
        assert_eq!(
            parsed,
            BTreeSet::from([Scope::GitRead, Scope::GithubRead, Scope::GithubMerge])
        );
        assert_eq!(parse_scopes("  ").ok(), Some(BTreeSet::new()));
    }

    #[test]
    fn unknown_scope_error_names_valid_scopes() {
        let err = parse_scopes("git:read git:admin").expect_err("unknown scope");
        assert_eq!(
            err.to_string(),
            "unknown scope \"git:admin\"; valid scopes: git:read, git:write, github:read, \
             github:write, github:merge, admin"
        );
        // Case matters: scopes are identifiers, not prose.
        assert!("Admin".parse::<Scope>().is_err());
    }

    #[test]
    fn known_scopes_drops_foreign_ones() {
        assert_eq!(
            known_scopes(["openid", "git:read", "profile", "admin"]),
            BTreeSet::from([Scope::GitRead, Scope::Admin])
        );
    }

    #[test]
    fn required_scopes() {
        let cases = [
            (ToolClass::GIT_READ, Some(Scope::GitRead)),
            (ToolClass::GIT_WRITE, Some(Scope::GitWrite)),
            (
                ToolClass::new(Domain::Git, Effect::Merge),
                Some(Scope::GitWrite),
            ),
            (ToolClass::GITHUB_READ, Some(Scope::GithubRead)),
            (ToolClass::GITHUB_WRITE, Some(Scope::GithubWrite)),
            (ToolClass::GITHUB_MERGE, Some(Scope::GithubMerge)),
            (ToolClass::META_READ, None),
        ];
        for (class, scope) in cases {
            assert_eq!(required_scope(class), scope, "{class:?}");
        }
    }

    #[test]
    fn grant_glob_semantics() {
        check_grant("acme/*", "acme/widgets", Some("acme/*"));
        check_grant("acme/*", "acme/x/y", None);
        check_grant("acme/*", "acme", None);
        check_grant("acme/*", "acmeco/widgets", None);
        check_grant("*", "app", Some("*"));
        check_grant("*", "acme/widgets", None);
        check_grant("**", "app", Some("**"));
        check_grant("**", "acme/widgets", Some("**"));
        check_grant("**", "acme/x/y", Some("**"));
        check_grant("acme/**", "acme/x/y", Some("acme/**"));
        check_grant("acme/**", "other/x", None);
        check_grant("*/widgets", "acme/widgets", Some("*/widgets"));
        // Whole-name match, not prefix or substring.
        check_grant("acme/widgets", "acme/widgets", Some("acme/widgets"));
        check_grant("acme/widgets", "acme/widgets-private", None);
        check_grant("app", "myapp", None);
        // Alternates keep their commas; list commas split.
        check_grant("acme/{api,web}, app", "acme/web", Some("acme/{api,web}"));
        check_grant("acme/{api,web}, app", "app", Some("app"));
        check_grant("acme/{api,web}, app", "acme/db", None);
        // The earliest matching pattern is reported.
        check_grant(
            "acme/widgets acme/* **",
            "acme/widgets",
            Some("acme/widgets"),
        );
        // Case-sensitive (fail closed).
        check_grant("acme/widgets", "Acme/Widgets", None);
        check_grant("", "app", None);
    }

    #[test]
    fn malformed_repo_names_are_never_granted() {
        for name in [
            "", "..", "../etc", "acme/..", "acme//x", "/app", "app/", "a b", "a\\b", "ap\np",
        ] {
            check_grant("**", name, None);
        }
        assert!(!is_valid_repo_name(&"a".repeat(257)));
        assert!(is_valid_repo_name("acme/widgets.rs_2-x"));
    }

    #[test]
    fn invalid_grant_patterns_are_refused() {
        for pattern in ["acme/[", "/acme", "acme/", "acme/{a,b"] {
            let err = Grants::new([pattern]).expect_err(pattern);
            assert!(
                err.to_string().contains("invalid repository grant"),
                "{err}"
            );
        }
    }

    #[test]
    fn decisions_and_rules() {
        const GR: ToolClass = ToolClass::GIT_READ;
        const GW: ToolClass = ToolClass::GIT_WRITE;
        const HR: ToolClass = ToolClass::GITHUB_READ;
        const HM: ToolClass = ToolClass::GITHUB_MERGE;
        const META: ToolClass = ToolClass::META_READ;
        // A table reads better than rustfmt's one-argument-per-line layout.
        #[rustfmt::skip]
        let cases = [
            ("git:read", "app", GR, Some("app"), "scope:git:read;grant:app"),
            ("git:read", "app", GR, None, "scope:git:read"),
            ("git:read", "app", GW, Some("app"), "denied:missing-scope:git:write"),
            ("admin", "acme/*", HM, Some("acme/x"), "scope:admin;grant:acme/*"),
            // Admin implies scopes, not grants.
            ("admin", "acme/*", HR, Some("acme/secret/x"), "denied:no-grant:acme/secret/x"),
            ("github:write", "acme/*", HM, Some("acme/x"), "denied:missing-scope:github:merge"),
            ("github:read", "acme/*", HR, Some("other/x"), "denied:no-grant:other/x"),
            ("github:read", "**", HR, Some("../x"), "denied:invalid-repo"),
            // Scope is checked before the grant: the agent learns the first thing to fix.
            ("", "", GR, Some("app"), "denied:missing-scope:git:read"),
            ("", "", META, None, "meta"),
            ("", "app", META, Some("app"), "meta;grant:app"),
        ];
        for (scopes, grants, class, repo, rule) in cases {
            check(scopes, grants, class, repo, rule);
        }
    }

    #[test]
    fn read_only_denies_writes_whatever_the_scopes() {
        let policy = Policy::new(true, None);
        let admin = principal("admin", "**");
        for class in [
            ToolClass::GIT_WRITE,
            ToolClass::GITHUB_WRITE,
            ToolClass::GITHUB_MERGE,
            ToolClass::new(Domain::Meta, Effect::Write),
        ] {
            let decision = policy.decide(&admin, class, Target::Repo("app"));
            assert_eq!(
                (decision.allowed, decision.rule.as_str()),
                (false, "denied:read-only")
            );
            assert!(!policy.visible(&admin, class), "{class:?}");
        }
        assert!(
            policy
                .decide(&admin, ToolClass::GIT_READ, Target::Repo("app"))
                .allowed
        );
        assert!(policy.visible(&admin, ToolClass::GIT_READ));
    }

    #[test]
    fn visibility_follows_scopes() {
        let policy = Policy::new(false, None);
        let reader = principal("git:read github:read", "");
        assert!(policy.visible(&reader, ToolClass::GIT_READ));
        assert!(policy.visible(&reader, ToolClass::GITHUB_READ));
        assert!(policy.visible(&reader, ToolClass::META_READ));
        assert!(!policy.visible(&reader, ToolClass::GIT_WRITE));
        assert!(!policy.visible(&reader, ToolClass::GITHUB_MERGE));
        let admin = principal("admin", "");
        assert!(policy.visible(&admin, ToolClass::GITHUB_MERGE));
    }

    /// Regression (issue "One place for each decision"): the every-repository rule lives in
    /// policy, before the rate limit, so a refusal never consumes the user's budget.
    #[test]
    fn every_repository_needs_a_star_star_grant_and_refusals_cost_nothing() {
        let policy = Policy::new(false, Some(1));
        let t0 = Instant::now();
        let narrow = principal("github:read", "acme/*");
        for _ in 0..3 {
            let d = policy.decide_at(&narrow, ToolClass::GITHUB_READ, Target::AllRepos, t0);
            assert_eq!(d.rule, "denied:repo-required");
            let d = policy.decide_at(&narrow, ToolClass::GITHUB_READ, Target::Unreadable, t0);
            assert_eq!(d.rule, "denied:invalid-repo");
        }
        let d = policy.decide_at(&narrow, ToolClass::GITHUB_READ, Target::Repo("acme/x"), t0);
        assert_eq!(d.rule, "scope:github:read;grant:acme/*");
        let d = policy.decide_at(&narrow, ToolClass::GITHUB_READ, Target::Repo("acme/x"), t0);
        assert_eq!(d.rule, "denied:rate-limit");
        let wide = Principal {
            user: "bob".into(),
            ..principal("github:read", "**")
        };
        let d = policy.decide_at(&wide, ToolClass::GITHUB_READ, Target::AllRepos, t0);
        assert_eq!(d.rule, "scope:github:read;grant:**");
    }

    #[test]
    fn messages() {
        let policy = Policy::new(false, None);
        let alice = principal("git:read", "app");
        let msg = |class, repo: Option<&str>| {
            policy
                .decide(&alice, class, repo.into())
                .message("alice", "git_commit")
        };
        assert_eq!(
            msg(ToolClass::GIT_WRITE, Some("app")),
            "alice lacks scope git:write for git_commit; ask an admin to grant it"
        );
        assert_eq!(
            msg(ToolClass::GIT_READ, Some("acme/secret")),
            "alice has no grant for repository acme/secret (git_commit); ask an admin to grant it"
        );
        let read_only =
            Policy::new(true, None).decide(&alice, ToolClass::GIT_WRITE, Target::Nothing);
        assert_eq!(
            read_only.message("alice", "git_commit"),
            "git_commit changes state and this gitgate server is read-only; use read tools only"
        );
        // Garbage in the repository name is not echoed back.
        let bad = policy.decide(&alice, ToolClass::GIT_READ, Target::Repo("../\u{1b}[31m"));
        assert!(!bad.message("alice", "git_log").contains('\u{1b}'));
    }

    #[test]
    fn rate_limiter_token_bucket() {
        let limiter = RateLimiter::new();
        let t0 = Instant::now();
        // A burst up to the limit, then a wait of one refill interval (60s / 3 = 20s).
        for _ in 0..3 {
            assert_eq!(limiter.check("alice", 3, t0), Ok(()));
        }
        let Err(RetryAfter(wait)) = limiter.check("alice", 3, t0) else {
            panic!("fourth call in the same instant must be limited");
        };
        assert_eq!(ceil_secs(wait), 20);
        // Users are independent.
        assert_eq!(limiter.check("bob", 3, t0), Ok(()));
        // Refill: after 20s exactly one more call.
        let t20 = t0 + Duration::from_secs(20);
        assert_eq!(limiter.check("alice", 3, t20), Ok(()));
        assert!(limiter.check("alice", 3, t20).is_err());
        // Long idle refills to capacity, not beyond.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(limiter.check("alice", 3, later), Ok(()));
        }
        assert!(limiter.check("alice", 3, later).is_err());
        // A clock going backwards neither panics nor refills.
        assert!(limiter.check("alice", 3, t0).is_err());
        // Zero means no calls.
        assert!(limiter.check("carol", 0, t0).is_err());
    }

    #[test]
    fn policy_applies_user_then_default_rate_limit() {
        let policy = Policy::new(false, Some(2));
        let t0 = Instant::now();
        let mut alice = principal("git:read", "app");
        let decide =
            |p: &Principal| policy.decide_at(p, ToolClass::GIT_READ, Target::Repo("app"), t0);
        assert!(decide(&alice).allowed);
        assert!(decide(&alice).allowed);
        let limited = decide(&alice);
        assert_eq!(limited.rule, "denied:rate-limit");
        assert_eq!(limited.retry_after().map(ceil_secs), Some(30));
        assert_eq!(
            limited.message("alice", "git_log"),
            "alice is over the rate limit of 2 calls per minute; retry git_log in 30s"
        );
        // A user's own limit overrides the default.
        alice.user = "alice2".to_owned();
        alice.rate_limit_per_minute = Some(5);
        for _ in 0..5 {
            assert!(decide(&alice).allowed);
        }
        assert!(!decide(&alice).allowed);
        // Denied calls do not consume budget.
        let t1 = t0 + Duration::from_secs(30);
        let mut bob = principal("", "app");
        bob.user = "bob".to_owned();
        for _ in 0..10 {
            assert!(
                !policy
                    .decide_at(&bob, ToolClass::GIT_READ, Target::Repo("app"), t1)
                    .allowed
            );
        }
        bob.scopes.insert(Scope::GitRead);
        assert!(
            policy
                .decide_at(&bob, ToolClass::GIT_READ, Target::Repo("app"), t1)
                .allowed
        );
        assert!(
            policy
                .decide_at(&bob, ToolClass::GIT_READ, Target::Repo("app"), t1)
                .allowed
        );
    }
}
