//! Regex search over tracked files, as `git grep -n`.

use serde::Deserialize;

use super::{Error, Output, Repo};

/// Arguments of `git_grep`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrepArgs {
    /// Rust regex syntax.
    pub pattern: String,
    /// Search this revision instead of the worktree.
    pub rev: Option<String>,
    /// Path prefixes or globs.
    #[serde(default)]
    pub paths: Vec<String>,
    pub ignore_case: Option<bool>,
    /// Max matching lines (default 100).
    pub max_count: Option<usize>,
}

/// Runs `git_grep`.
pub fn grep(repo: &Repo, args: &GrepArgs) -> Result<Output, Error> {
    let _ = (repo, args);
    Err(Error::Refused("git_grep is not implemented yet".into()))
}
