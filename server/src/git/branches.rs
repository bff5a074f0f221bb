//! Branches, as `git branch -v`.

use serde::Deserialize;

use super::{Error, Output, Repo};

/// Arguments of `git_branches`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BranchesArgs {
    /// Include remote-tracking branches.
    pub all: Option<bool>,
    /// Default 100.
    pub limit: Option<usize>,
}

/// Runs `git_branches`.
pub fn branches(repo: &Repo, args: &BranchesArgs) -> Result<Output, Error> {
    let _ = (repo, args);
    Err(Error::Refused("git_branches is not implemented yet".into()))
}
