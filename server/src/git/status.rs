//! Working-tree status, as `git status --short --branch`.

use serde::Deserialize;

use super::{Error, Output, Repo};

/// Arguments of `git_status`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusArgs {
    /// Limit to these paths.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Max entries (default 200).
    pub limit: Option<usize>,
}

/// Runs `git_status`.
pub fn status(repo: &Repo, args: &StatusArgs) -> Result<Output, Error> {
    let _ = (repo, args);
    Err(Error::Refused("git_status is not implemented yet".into()))
}
