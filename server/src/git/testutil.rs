//! Test fixtures: repositories built with the real `git` (the oracle), with pinned dates.

#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Repo;

/// A repository in a temporary directory, built and inspected with the real git.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    /// Bumped by every [`Fixture::commit`] so each commit has its own fixed date.
    tick: std::cell::Cell<i64>,
}

impl Fixture {
    /// `git init` with a fixed identity, default branch `main`, and no global config influence.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let f = Self {
            dir,
            tick: std::cell::Cell::new(0),
        };
        f.git(&["init", "-q", "-b", "main"]);
        f.git(&["config", "user.name", "Test Author"]);
        f.git(&["config", "user.email", "test@example.com"]);
        f
    }

    /// The canonical worktree path.
    pub fn path(&self) -> PathBuf {
        self.dir.path().canonicalize().unwrap()
    }

    /// Runs git in the fixture with pinned dates; panics with stderr on failure; returns stdout.
    pub fn git(&self, args: &[&str]) -> String {
        git_in(&self.path(), args, self.tick.get())
    }

    /// Writes `contents` to `rel` (creating directories).
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) {
        let p = self.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(p, contents).unwrap();
    }

    /// Writes the files, stages everything and commits with the next pinned date; returns the id.
    pub fn commit(&self, message: &str, files: &[(&str, &str)]) -> String {
        for (rel, contents) in files {
            self.write(rel, contents);
        }
        self.tick.set(self.tick.get() + 1);
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"]).trim().to_owned()
    }

    /// Feeds a `git fast-import` stream to the fixture: a whole history in one process.
    pub fn fast_import(&self, stream: &str) {
        use std::io::Write;
        let mut child = Command::new("git")
            .args(["fast-import", "--quiet"])
            .current_dir(self.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stream.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success(), "git fast-import failed");
    }

    /// Opens the fixture as gitgate does.
    pub fn open(&self) -> Repo {
        Repo::open("test", &self.path()).unwrap()
    }
}

/// Runs git in `dir` with dates pinned to 2024-01-01 plus `tick` minutes, isolated from the
/// machine's global and system config.
pub fn git_in(dir: &Path, args: &[&str], tick: i64) -> String {
    let date = format!("{} +0000", 1_704_067_200 + tick * 60);
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
