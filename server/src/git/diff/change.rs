//! One changed file of a diff: its paths, status and line counts, as records and for the stat.

use serde_json::{Value, json};

use crate::git::{Error, display_path};

/// One changed file.
#[derive(Debug, Clone)]
pub(in crate::git) struct FileChange {
    /// The new path (the old one for deletions), rendered with [`display_path`].
    pub path: String,
    /// The old path of a rename or copy.
    pub old_path: Option<String>,
    pub status: &'static str,
    pub additions: usize,
    pub deletions: usize,
    pub binary: bool,
    raw_old: Vec<u8>,
    raw_new: Vec<u8>,
    pub(super) old_size: u64,
    pub(super) new_size: u64,
}

impl FileChange {
    pub(super) fn record(&self) -> Value {
        json!({
            "path": self.path,
            "old_path": self.old_path,
            "status": self.status,
            "additions": self.additions,
            "deletions": self.deletions,
            "binary": self.binary,
        })
    }

    /// The record `git_show` lists under `files` (no `binary`; `old_path` only for renames).
    pub(in crate::git) fn show_record(&self) -> Value {
        let mut rec = json!({
            "path": self.path,
            "status": self.status,
            "additions": self.additions,
            "deletions": self.deletions,
        });
        if let (Some(old), Some(obj)) = (&self.old_path, rec.as_object_mut()) {
            obj.insert("old_path".into(), Value::String(old.clone()));
        }
        rec
    }

    /// `true` when this change is at `path` or under the directory `path`.
    pub(super) fn touches(&self, path: &str) -> bool {
        let under = |raw: &[u8]| {
            raw.strip_prefix(path.as_bytes())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(b"/"))
        };
        under(&self.raw_old) || under(&self.raw_new)
    }
}

/// A "modification" that changes nothing. libgit2 reports one when it merges tree→index and
/// index→worktree changes that cancel out (e.g. `chmod +x` staged, not in the worktree); git
/// shows nothing.
pub(super) fn is_noop(delta: &git2::DiffDelta<'_>) -> bool {
    let (old, new) = (delta.old_file(), delta.new_file());
    delta.status() == git2::Delta::Modified
        && old.is_valid_id()
        && new.is_valid_id()
        && old.id() == new.id()
        && old.mode() == new.mode()
}

fn status_word(status: git2::Delta) -> &'static str {
    match status {
        git2::Delta::Added => "added",
        git2::Delta::Deleted => "deleted",
        git2::Delta::Renamed => "renamed",
        git2::Delta::Copied => "copied",
        git2::Delta::Typechange => "typechange",
        git2::Delta::Untracked => "untracked",
        git2::Delta::Conflicted => "unmerged",
        _ => "modified",
    }
}

pub(super) fn file_change(
    delta: &git2::DiffDelta<'_>,
    patch: Option<&git2::Patch<'_>>,
) -> Result<FileChange, Error> {
    let raw_old = delta.old_file().path_bytes().unwrap_or_default().to_vec();
    let raw_new = delta.new_file().path_bytes().unwrap_or_default().to_vec();
    let status = delta.status();
    let binary = delta.flags().is_binary();
    let (additions, deletions) = match patch {
        Some(p) if !binary => {
            let (_, add, del) = p.line_stats()?;
            (add, del)
        }
        _ => (0, 0),
    };
    let renamed = matches!(status, git2::Delta::Renamed | git2::Delta::Copied);
    let path = if status == git2::Delta::Deleted {
        &raw_old
    } else {
        &raw_new
    };
    Ok(FileChange {
        path: display_path(path),
        old_path: renamed.then(|| display_path(&raw_old)),
        status: status_word(status),
        additions,
        deletions,
        binary,
        old_size: delta.old_file().size(),
        new_size: delta.new_file().size(),
        raw_old,
        raw_new,
    })
}
