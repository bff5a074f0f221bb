//! Scopes and tool classes: what a user holds and what a tool needs.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use super::{Error, truncate};

/// A permission a user holds. `admin` implies every other scope.
///
/// No other implication exists on purpose (`git:write` does not imply `git:read`, `github:merge`
/// does not imply `github:write`): what an administrator granted is exactly what is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `git:read`: read local repositories (log, diff, blame, show...).
    GitRead,
    /// `git:write`: change local repositories (commit, branch, tag, fetch, pull...).
    GitWrite,
    /// `git:push`: push branches to the configured GitHub host, as the user.
    GitPush,
    /// `git:force`: force-push (rewrite a remote branch); never on a protected branch.
    GitForce,
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
    pub const ALL: [Scope; 8] = [
        Scope::GitRead,
        Scope::GitWrite,
        Scope::GitPush,
        Scope::GitForce,
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
            Scope::GitPush => "git:push",
            Scope::GitForce => "git:force",
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

    pub(super) fn valid_list() -> String {
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
    /// Publishes to a remote (git push); kept apart from Write: a local change can be undone
    /// by the user, a pushed one is seen by everyone.
    Push,
    /// Rewrites published history (a force-push).
    Force,
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
    /// `git_push`.
    pub const GIT_PUSH: ToolClass = ToolClass::new(Domain::Git, Effect::Push);
    /// `git_push` with `force`.
    pub const GIT_FORCE: ToolClass = ToolClass::new(Domain::Git, Effect::Force);
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
        (Domain::Git, Effect::Push) => Some(Scope::GitPush),
        (Domain::Git, Effect::Force) => Some(Scope::GitForce),
        (Domain::Github, Effect::Read) => Some(Scope::GithubRead),
        // No GitHub tool pushes; a push through the API would be a write there.
        (Domain::Github, Effect::Write | Effect::Push | Effect::Force) => Some(Scope::GithubWrite),
        (Domain::Github, Effect::Merge) => Some(Scope::GithubMerge),
        (Domain::Meta, _) => None,
    }
}
