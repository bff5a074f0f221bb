//! Paths as the index holds them (bytes): whether a path argument covers them, and how the
//! writes list them in their answers.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::git::{display_path, more_line};

/// How many path names an output lists before it says "N more".
pub(super) const MAX_LISTED: usize = 50;

/// `label: a, b, c` with at most [`MAX_LISTED`] names, plus the "N more" line when cut.
pub(super) fn name_list(label: &str, paths: &[Vec<u8>]) -> (String, Option<String>) {
    let mut text = format!(
        "{label}: {}",
        paths
            .iter()
            .take(MAX_LISTED)
            .map(|p| display_path(p))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let more = more_line(
        &mut text,
        paths.len().saturating_sub(MAX_LISTED),
        "paths",
        "see git_status",
    );
    (text, more)
}

/// Every path as output names it ([`display_path`]).
pub(super) fn names(paths: &[Vec<u8>]) -> Vec<String> {
    paths.iter().map(|p| display_path(p)).collect()
}

/// Whether `path` is `prefix` or lies under the directory `prefix`.
pub(super) fn under(path: &[u8], prefix: &[u8]) -> bool {
    path == prefix
        || (path.starts_with(prefix) && path.get(prefix.len()) == Some(&b'/'))
        || (path.ends_with(b"/") && path.len() == prefix.len() + 1 && path.starts_with(prefix))
}

/// Whether the index holds `prefix` or anything under it.
pub(super) fn in_index(index: &git2::Index, prefix: &[u8]) -> bool {
    index.iter().any(|e| under(&e.path, prefix))
}

/// An index path as a filesystem path (Unix paths are bytes).
pub(super) fn bytes_path(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}
