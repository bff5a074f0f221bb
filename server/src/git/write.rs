//! The writing operations: staging, restoring, committing, branching, switching.

use serde::Deserialize;

use super::{Error, Identity, Output, Repo};

/// Arguments of `git_add`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddArgs {
    #[serde(default)]
    pub paths: Vec<String>,
    /// Stage all changes, like `git add -A`.
    pub all: Option<bool>,
}

/// Runs `git_add`.
pub fn add(repo: &Repo, args: &AddArgs) -> Result<Output, Error> {
    let _ = (repo, args);
    Err(Error::Refused("git_add is not implemented yet".into()))
}

/// Arguments of `git_restore`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreArgs {
    pub paths: Vec<String>,
    /// Unstage (index from HEAD).
    pub staged: Option<bool>,
    /// Discard worktree changes (destructive).
    pub worktree: Option<bool>,
}

/// Runs `git_restore`.
pub fn restore(repo: &Repo, args: &RestoreArgs) -> Result<Output, Error> {
    let _ = (repo, args);
    Err(Error::Refused("git_restore is not implemented yet".into()))
}

/// Arguments of `git_commit`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitArgs {
    pub message: String,
    /// Stage tracked changes first, like `-a`.
    pub all: Option<bool>,
    pub allow_empty: Option<bool>,
}

/// Runs `git_commit`.
pub fn commit(repo: &Repo, args: &CommitArgs, author: &Identity) -> Result<Output, Error> {
    let _ = (repo, args, author);
    Err(Error::Refused("git_commit is not implemented yet".into()))
}

/// Arguments of `git_create_branch`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBranchArgs {
    pub name: String,
    /// Default HEAD.
    pub start: Option<String>,
}

/// Runs `git_create_branch`.
pub fn create_branch(repo: &Repo, args: &CreateBranchArgs) -> Result<Output, Error> {
    let _ = (repo, args);
    Err(Error::Refused(
        "git_create_branch is not implemented yet".into(),
    ))
}

/// Arguments of `git_switch`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchArgs {
    pub branch: String,
    /// Create it first, like `-c`.
    pub create: Option<bool>,
    /// Detach at this revision instead, like `--detach`.
    pub detach: Option<bool>,
}

/// Runs `git_switch`.
pub fn switch(repo: &Repo, args: &SwitchArgs) -> Result<Output, Error> {
    let _ = (repo, args);
    Err(Error::Refused("git_switch is not implemented yet".into()))
}
