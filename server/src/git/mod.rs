//! The git backend: configured repositories opened in process through libgit2.
//!
//! Nothing here knows MCP. Every operation takes validated inputs (see [`safety`]) and returns an
//! [`Output`]: compact text in the shape of git's own plus the same records as JSON for projection.
//!
//! Why libgit2 (git2) and not gitoxide: every operation gitgate needs (status, blame, diff with
//! rename detection, index writes, checkout for `switch`, commit) exists and is mature there, and
//! libgit2 runs none of the programs a repository can configure (hooks, fsmonitor, filter drivers,
//! textconv, external diff, ssh command), which the hostile-repository tests pin.

pub mod safety;

mod blame;
mod branches;
mod diff;
pub mod fmt;
mod grep;
#[cfg(test)]
mod hostile_tests;
mod log;
mod ls_files;
mod merge_base;
mod pathspec;
pub(crate) mod pattern;
mod read_file;
pub mod remote;
pub mod rev;
mod show;
mod status;
#[cfg(test)]
pub(crate) mod testutil;
mod worktree;
mod write;

/// Field names of each git tool's records, written once here (the tool schemas list them).
pub mod fields {
    pub use super::blame::FIELDS as BLAME;
    pub use super::branches::FIELDS as BRANCH;
    pub use super::diff::FIELDS as DIFF;
    pub use super::grep::FIELDS as GREP;
    pub use super::log::FIELDS as LOG;
    pub use super::ls_files::FIELDS as LS;
    pub use super::show::FIELDS as SHOW;
    pub use super::status::FIELDS as STATUS;
}

pub use crate::output::{Output, more_line};
pub use blame::{BlameArgs, BlameLine, blame, blame_lines};
pub use branches::{BranchesArgs, branches};
pub use diff::{DiffArgs, diff};
pub use fmt::{display_path, unique_short_id};
pub use grep::{FileMatches, GrepArgs, grep, grep_lines};
pub use log::{LogArgs, Query as LogQuery, each_commit, log};
pub use ls_files::{LsFilesArgs, ls_files};
pub use merge_base::{MergeBaseArgs, merge_base, merge_base_of};
pub use read_file::{ReadFileArgs, read_file};
pub use rev::{is_empty, nearest, ref_short_names, resolve_commit};
pub use show::{LogChanges, ShowArgs, commit_changes, log_changes, show};
pub use status::{StatusArgs, status};
pub use write::{
    AddArgs, CommitArgs, CreateBranchArgs, DeleteBranchArgs, FastForward, MergeArgs, MvArgs,
    ResetArgs, ResetMode, RestoreArgs, RmArgs, StashAction, StashArgs, SwitchArgs, TagArgs, add,
    commit, create_branch, delete_branch, merge, mv, pin_commit_time, reset, restore, rm, stash,
    switch, tag,
};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Who is acting: the author and committer of commits made through gitgate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

/// Everything that can go wrong in a git operation, worded for the agent that asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown repository '{name}'; configured: {}", configured.join(", "))]
    UnknownRepo {
        name: String,
        configured: Vec<String>,
    },
    #[error("several repositories are configured ({}); pass repo", configured.join(", "))]
    RepoRequired { configured: Vec<String> },
    #[error("cannot open repository '{name}' at {}: {message}", path.display())]
    Open {
        name: String,
        path: PathBuf,
        message: String,
    },
    #[error("bad path '{path}': {reason}")]
    BadPath { path: String, reason: String },
    #[error("bad revision '{rev}': {reason}")]
    BadRevision { rev: String, reason: String },
    #[error("unknown revision '{rev}'{}", nearest_hint(nearest))]
    UnknownRevision { rev: String, nearest: Vec<String> },
    #[error("bad branch name '{name}': {reason}")]
    BadBranchName { name: String, reason: String },
    #[error("no branch '{name}'{}", nearest_hint(nearest))]
    UnknownBranch { name: String, nearest: Vec<String> },
    #[error("branch '{name}' already exists")]
    BranchExists { name: String },
    #[error("path '{path}' not found at {at}")]
    PathNotFound { path: String, at: String },
    #[error("bad pattern '{pattern}': {reason}")]
    BadPattern { pattern: String, reason: String },
    #[error("{0}")]
    Refused(String),
    #[error(
        "local changes would be overwritten: {}; commit them (git_commit), or discard them \
         (git_restore worktree=true), then switch again; nothing was changed",
        paths.join(", ")
    )]
    WouldOverwrite { paths: Vec<String> },
    #[error(
        "the merge has conflicts in {}; gitgate made no merge and changed nothing: combine \
         both sides in the files yourself and commit, or merge a different way",
        paths.join(", ")
    )]
    MergeConflicts { paths: Vec<String> },
    #[error(
        "the following files have {what}: {}; commit or restore them first (or keep the files \
         with cached); nothing was removed",
        paths.join(", ")
    )]
    WouldLoseChanges {
        what: &'static str,
        paths: Vec<String>,
    },
    #[error("the repository has no commits yet")]
    EmptyRepository,
    #[error("git: {0}")]
    Git(#[from] git2::Error),
}

fn nearest_hint(nearest: &[String]) -> String {
    if nearest.is_empty() {
        String::new()
    } else {
        format!("; nearest: {}", nearest.join(", "))
    }
}

/// One configured repository: its name, its worktree and the open libgit2 handle.
///
/// The handle is kept open because opening reads config files and refs (about a tenth of a
/// millisecond); calls on one repository are serialised by the mutex, which libgit2 requires
/// anyway (a `Repository` is `Send` but not `Sync`).
pub struct Repo {
    name: String,
    root: PathBuf,
    handle: Mutex<git2::Repository>,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo")
            .field("name", &self.name)
            .field("root", &self.root)
            .finish()
    }
}

impl Repo {
    /// Opens the repository whose worktree is exactly `path` (no search upwards, no `GIT_DIR`
    /// from the environment). Opening runs nothing the repository configures.
    pub fn open(name: &str, path: &Path) -> Result<Self, Error> {
        let open_err = |message: String| Error::Open {
            name: name.to_owned(),
            path: path.to_owned(),
            message,
        };
        let root = path.canonicalize().map_err(|e| open_err(e.to_string()))?;
        let repo = git2::Repository::open_ext(
            &root,
            git2::RepositoryOpenFlags::NO_SEARCH,
            std::iter::empty::<&std::ffi::OsStr>(),
        )
        .map_err(|e| open_err(e.message().to_owned()))?;
        let workdir = repo
            .workdir()
            .ok_or_else(|| open_err("bare repositories are not served".into()))?
            .canonicalize()
            .map_err(|e| open_err(e.to_string()))?;
        if workdir != root {
            return Err(open_err(format!(
                "the worktree is {}, not the configured path",
                workdir.display()
            )));
        }
        Ok(Self {
            name: name.to_owned(),
            root,
            handle: Mutex::new(repo),
        })
    }

    /// The configured name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The canonical worktree root; every [`safety::RepoPath`] resolves under it.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Locks the libgit2 handle for one operation.
    pub fn lock(&self) -> MutexGuard<'_, git2::Repository> {
        // A panic inside an operation cannot leave the handle half-changed in a way a later
        // call would trip over (libgit2 state lives on disk), so a poisoned lock is reused.
        self.handle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The configured repositories, by name.
#[derive(Debug, Default)]
pub struct Repos {
    by_name: BTreeMap<String, Repo>,
}

impl Repos {
    /// Opens every configured `(name, path)`; fails on the first that cannot be served.
    pub fn open<'a>(specs: impl IntoIterator<Item = (&'a str, &'a Path)>) -> Result<Self, Error> {
        let mut by_name = BTreeMap::new();
        for (name, path) in specs {
            by_name.insert(name.to_owned(), Repo::open(name, path)?);
        }
        Ok(Self { by_name })
    }

    /// The configured names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.by_name.keys().cloned().collect()
    }

    /// The name of the only configured repository, when there is exactly one.
    pub fn single_name(&self) -> Option<String> {
        (self.by_name.len() == 1)
            .then(|| self.by_name.keys().next().cloned())
            .flatten()
    }

    /// Resolves the `repo` argument: a configured name, or nothing when exactly one is configured.
    pub fn get(&self, name: Option<&str>) -> Result<&Repo, Error> {
        match name {
            Some(name) => self.by_name.get(name).ok_or_else(|| Error::UnknownRepo {
                name: name.to_owned(),
                configured: self.names(),
            }),
            None if self.by_name.len() == 1 => {
                Ok(self.by_name.values().next().expect("length checked above"))
            }
            None => Err(Error::RepoRequired {
                configured: self.names(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_orders_by_distance() {
        let got = nearest("mian", ["main".into(), "dev".into(), "maint".into()], 2);
        assert_eq!(got, vec!["main".to_string(), "maint".to_string()]);
    }

    #[test]
    fn paths_are_quoted_only_when_needed() {
        assert_eq!(display_path("src/é.rs".as_bytes()), "src/é.rs");
        assert_eq!(display_path(b"bad\xffname"), "\"bad\\377name\"");
        assert_eq!(display_path(b"a\nb"), "\"a\\nb\"");
    }
}
