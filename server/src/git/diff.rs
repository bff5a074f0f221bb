//! Diffs, as `git diff`: worktree vs index, `staged` (index vs HEAD), `from` vs worktree, or `from` vs `to`.

use serde::Deserialize;

use super::{Error, Output, Repo};

/// Arguments of `git_diff`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiffArgs {
    pub from: Option<String>,
    pub to: Option<String>,
    pub staged: Option<bool>,
    #[serde(default)]
    pub paths: Vec<String>,
    /// Only the diffstat.
    pub stat: Option<bool>,
    /// First patch line to show (default 0).
    pub offset: Option<usize>,
    /// Default 300.
    pub max_lines: Option<usize>,
}

/// Runs `git_diff`.
pub fn diff(repo: &Repo, args: &DiffArgs) -> Result<Output, Error> {
    let _ = (repo, args);
    Err(Error::Refused("git_diff is not implemented yet".into()))
}
