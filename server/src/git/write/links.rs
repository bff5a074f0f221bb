//! Symbolic links standing in the worktree where a write would put a file or directory:
//! libgit2 would write through them, so they are found (and refused or replaced) first.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::paths::bytes_path;
use crate::git::{Error, display_path};

/// The mode of a symbolic link in a tree or the index.
pub(super) const LINK_MODE: u32 = 0o120_000;

/// Where a symbolic link stands on a path in the worktree.
pub(super) enum Along {
    /// A leading directory is a link (its path given).
    Parent(Vec<u8>),
    /// The path itself is a link.
    Last,
}

/// Finds a symbolic link on `rel` (slash-separated, relative to `root`) in the worktree.
pub(super) fn symlink_along(root: &Path, rel: &[u8]) -> Option<Along> {
    let parts: Vec<&[u8]> = rel.split(|b| *b == b'/').collect();
    let mut cur = root.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        cur.push(OsStr::from_bytes(part));
        let meta = std::fs::symlink_metadata(&cur).ok()?;
        if meta.file_type().is_symlink() {
            return Some(if i + 1 == parts.len() {
                Along::Last
            } else {
                Along::Parent(parts[..=i].join(&b'/'))
            });
        }
    }
    None
}

/// Whether `tree` holds a symbolic link at `path`.
pub(super) fn is_link_in(tree: Option<&git2::Tree<'_>>, path: &[u8]) -> bool {
    tree.and_then(|t| t.get_path(bytes_path(path)).ok())
        .is_some_and(|e| u32::try_from(e.filemode()).ok() == Some(LINK_MODE))
}

/// The refusal for a link the write would go through; `side` says what has a file there.
pub(super) fn through_link(link: &[u8], side: &str) -> Error {
    Error::Refused(format!(
        "'{}' is a symbolic link in the worktree where {side} has a file or directory; gitgate \
         does not write through links; nothing was changed",
        display_path(link)
    ))
}
