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

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

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

mod concurrency;
mod grants;
mod rate;
mod scope;

pub use concurrency::{Busy, CallSlot, CallSlots};

/// The default caps on calls running at once: (per user, in total), as `u32` for flags.
pub const fn concurrency_defaults() -> (u32, u32) {
    (
        concurrency::DEFAULT_PER_USER as u32,
        concurrency::DEFAULT_TOTAL as u32,
    )
}
pub use grants::{Grants, GrantsCache, is_valid_repo_name};
use rate::ceil_secs;
pub use rate::{RateLimiter, RetryAfter};
pub use scope::{Domain, Effect, Scope, ToolClass, known_scopes, parse_scopes, required_scope};

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
    /// The user (or the whole server) already runs as many calls as allowed at once.
    Busy(Busy),
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
            Denial::Busy(Busy::User(_)) => "denied:busy:user".to_owned(),
            Denial::Busy(Busy::Server(_)) => "denied:busy:server".to_owned(),
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
            Some(Denial::Busy(Busy::User(limit))) => format!(
                "{user} already runs {limit} call(s) at once, the most one user may; wait for one to finish, then retry {tool}"
            ),
            Some(Denial::Busy(Busy::Server(limit))) => format!(
                "the server is running {limit} calls, its most at once; retry {tool} in a moment"
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
    /// Calls running at once, per user and in total.
    pub slots: CallSlots,
}

impl Policy {
    /// A policy with a fresh rate limiter.
    pub fn new(read_only: bool, default_rate_limit_per_minute: Option<u32>) -> Policy {
        Policy {
            read_only,
            default_rate_limit_per_minute,
            limiter: RateLimiter::new(),
            slots: CallSlots::default(),
        }
    }

    /// Sets the caps on calls running at once (per user, and in total).
    pub fn with_call_slots(mut self, per_user: usize, total: usize) -> Policy {
        self.slots = CallSlots::new(per_user, total);
        self
    }

    /// Admits one call of `principal` to run now: a slot held until the call is done, or the
    /// refusal when they (or the server) already run as many as allowed.
    pub fn admit(&self, principal: &Principal) -> Result<CallSlot, Decision> {
        self.slots
            .take(&principal.user)
            .map_err(|busy| Decision::deny(Denial::Busy(busy)))
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

pub(crate) fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}...", &s[..cut]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests;
