//! Line authorship, as `git blame -L`.

use serde::Deserialize;

use super::{Error, Output, Repo};

/// Arguments of `git_blame`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlameArgs {
    pub path: String,
    /// Default HEAD.
    pub rev: Option<String>,
    pub start_line: Option<usize>,
    pub end_line: Option<usize>,
}

/// Runs `git_blame`.
pub fn blame(repo: &Repo, args: &BlameArgs) -> Result<Output, Error> {
    let _ = (repo, args);
    Err(Error::Refused("git_blame is not implemented yet".into()))
}
