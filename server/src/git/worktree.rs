//! Reading the worktree's files without leaving it: every symbolic link along a path is checked
//! where the file is opened, and nothing inside `.git` is read.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::safety::RepoPath;
use super::{Error, display_path};

/// What a path of the worktree turned out to be.
pub(super) enum Opened {
    /// A regular file, open for reading, and its size.
    File(std::fs::File, u64),
    /// A directory, with its entries' names sorted (directories end in `/`, `.git` left out).
    Directory(Vec<String>),
}

/// Opens a regular file of the worktree (or lists a directory, which the caller refuses in its
/// own words), refusing anything whose real location (after every symbolic link) is outside the
/// worktree or inside `.git`.
pub(super) fn open_in_worktree(root: &Path, path: &RepoPath) -> Result<Opened, Error> {
    let not_found = || Error::PathNotFound {
        path: path.as_str().to_owned(),
        at: "the worktree".to_owned(),
    };
    let refuse = |reason: &str| Error::BadPath {
        path: path.as_str().to_owned(),
        reason: reason.to_owned(),
    };
    // RepoPath checked the links that existed then; canonicalize checks what exists now,
    // including a link in the last component.
    let real = path
        .under(root)
        .canonicalize()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => not_found(),
            _ => refuse(&e.to_string()),
        })?;
    let Ok(inside) = real.strip_prefix(root) else {
        return Err(refuse(
            "a symbolic link along it points outside the repository",
        ));
    };
    if inside
        .components()
        .next()
        .is_some_and(|c| c.as_os_str().eq_ignore_ascii_case(".git"))
    {
        return Err(refuse("a symbolic link along it points into .git"));
    }
    let meta = std::fs::metadata(&real).map_err(|_| not_found())?;
    if meta.is_dir() {
        let mut names: Vec<String> = std::fs::read_dir(&real)
            .map_err(|e| refuse(&e.to_string()))?
            .filter_map(Result::ok)
            .filter(|e| e.file_name() != ".git")
            .map(|e| {
                let mut name = display_path(e.file_name().as_bytes());
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    name.push('/');
                }
                name
            })
            .collect();
        names.sort();
        return Ok(Opened::Directory(names));
    }
    if !meta.is_file() {
        return Err(refuse("not a regular file"));
    }
    let file = std::fs::File::open(&real).map_err(|e| refuse(&e.to_string()))?;
    Ok(Opened::File(file, meta.len()))
}

/// Reads tracked files from the worktree without following a symbolic link in a leading
/// directory (git treats such a path as gone; following it could leave the worktree).
pub(super) struct WorktreeReader<'a> {
    root: &'a Path,
    /// Directories already checked, with the verdict.
    dirs: std::collections::HashMap<Vec<u8>, bool>,
}

impl<'a> WorktreeReader<'a> {
    pub(super) fn new(root: &'a Path) -> Self {
        Self {
            root,
            dirs: std::collections::HashMap::new(),
        }
    }

    /// The content of the regular file at the index path `rel`, or `None` when it is missing,
    /// is not a regular file (symlinks included), is larger than `max`, or cannot be read.
    pub(super) fn read(&mut self, rel: &[u8], max: u64) -> Option<Vec<u8>> {
        if !is_plain_relative(rel) {
            return None;
        }
        let mut at = 0;
        while let Some(i) = rel[at..].iter().position(|&b| b == b'/') {
            let dir = &rel[..at + i];
            let ok = match self.dirs.get(dir) {
                Some(ok) => *ok,
                None => {
                    let ok = std::fs::symlink_metadata(self.full(dir)).is_ok_and(|m| m.is_dir());
                    self.dirs.insert(dir.to_vec(), ok);
                    ok
                }
            };
            if !ok {
                return None;
            }
            at += i + 1;
        }
        let full = self.full(rel);
        let meta = std::fs::symlink_metadata(&full).ok()?;
        if !meta.is_file() || meta.len() > max {
            return None;
        }
        std::fs::read(full).ok()
    }

    fn full(&self, rel: &[u8]) -> PathBuf {
        self.root.join(OsStr::from_bytes(rel))
    }
}

/// Whether an index path is relative and stays in the worktree (a hostile index could hold
/// anything; git refuses such entries, libgit2 may not).
fn is_plain_relative(rel: &[u8]) -> bool {
    !rel.is_empty()
        && rel
            .split(|&b| b == b'/')
            .all(|part| !matches!(part, b"" | b"." | b".."))
        && !rel
            .split(|&b| b == b'/')
            .next()
            .is_some_and(|first| first.eq_ignore_ascii_case(b".git"))
}
