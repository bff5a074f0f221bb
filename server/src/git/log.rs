//! Commit history, as `git log --format='%h %ad %an %s' --date=short`.

use serde::Deserialize;

use super::{Error, Output, Repo};

/// Arguments of `git_log`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogArgs {
    /// Start revision (default HEAD).
    pub rev: Option<String>,
    /// Default 10.
    pub max_count: Option<usize>,
    pub skip: Option<usize>,
    /// Only commits touching these paths.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Substring of author name or email.
    pub author: Option<String>,
    /// Date (YYYY-MM-DD or RFC 3339).
    pub since: Option<String>,
    pub until: Option<String>,
    /// Regex over the message.
    pub grep: Option<String>,
}

/// Runs `git_log`.
pub fn log(repo: &Repo, args: &LogArgs) -> Result<Output, Error> {
    let _ = (repo, args);
    Err(Error::Refused("git_log is not implemented yet".into()))
}
