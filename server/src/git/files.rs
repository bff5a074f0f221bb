//! Tracked files and file contents.

use serde::Deserialize;

use super::{Error, Output, Repo};

/// Arguments of `git_ls_files`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LsFilesArgs {
    /// List this revision's tree instead of the index.
    pub rev: Option<String>,
    /// Path prefixes or globs.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Default 200.
    pub limit: Option<usize>,
    pub skip: Option<usize>,
}

/// Runs `git_ls_files`.
pub fn ls_files(repo: &Repo, args: &LsFilesArgs) -> Result<Output, Error> {
    let _ = (repo, args);
    Err(Error::Refused("git_ls_files is not implemented yet".into()))
}

/// Arguments of `git_read_file`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadFileArgs {
    pub path: String,
    /// Read at this revision instead of the worktree.
    pub rev: Option<String>,
    pub start_line: Option<usize>,
    /// Default start_line+399.
    pub end_line: Option<usize>,
}

/// Runs `git_read_file`.
pub fn read_file(repo: &Repo, args: &ReadFileArgs) -> Result<Output, Error> {
    let _ = (repo, args);
    Err(Error::Refused(
        "git_read_file is not implemented yet".into(),
    ))
}
