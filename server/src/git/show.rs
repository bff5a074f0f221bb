//! One commit: header, message and patch, as `git show`.

use serde::Deserialize;

use super::{Error, Output, Repo};

/// Arguments of `git_show`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowArgs {
    /// Default HEAD.
    pub rev: Option<String>,
    /// Limit the patch to these paths.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Only the diffstat.
    pub stat: Option<bool>,
    /// First patch line to show (default 0).
    pub offset: Option<usize>,
    /// Default 300.
    pub max_lines: Option<usize>,
}

/// Runs `git_show`.
pub fn show(repo: &Repo, args: &ShowArgs) -> Result<Output, Error> {
    let _ = (repo, args);
    Err(Error::Refused("git_show is not implemented yet".into()))
}
