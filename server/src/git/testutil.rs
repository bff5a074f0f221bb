//! Test fixtures: repositories built with the real `git` (the oracle), with pinned dates, and
//! the histories and measurements several operations' tests share.

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

/// `n` linear commits on `main`, each rewriting `f` (plus `even` on even ones), with distinct
/// dates one minute apart, written by one `git fast-import` (one process, not `n`).
pub fn history(n: usize) -> Fixture {
    let f = Fixture::new();
    let mut stream = String::new();
    for i in 1..=n {
        let when = 1_704_067_200 + i * 60;
        let who = if i % 3 == 0 {
            "Other Person <other@example.org>"
        } else {
            "Test Author <test@example.com>"
        };
        let msg = format!("commit {i}\n");
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{i}\nauthor {who} {when} +0000\n\
             committer {who} {when} +0000\ndata {}\n{msg}",
            msg.len()
        ));
        if i > 1 {
            stream.push_str(&format!("from :{}\n", i - 1));
        }
        let body = format!("line {i}\n");
        stream.push_str(&format!("M 100644 inline f\ndata {}\n{body}\n", body.len()));
        if i % 2 == 0 {
            stream.push_str(&format!(
                "M 100644 inline even\ndata {}\n{body}\n",
                body.len()
            ));
        }
    }
    f.fast_import(&stream);
    f.git(&["reset", "-q", "--hard", "main"]);
    f
}

/// Mean CPU time of `f` on this thread over `n` calls (utime + stime from
/// /proc/thread-self/stat, in clock ticks of 10 ms: keep `n` large).
pub fn cpu_per_call(n: u32, mut f: impl FnMut()) -> std::time::Duration {
    let ticks = || -> u64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        // Fields 14 and 15 of stat(5); the slice starts at field 3.
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    };
    let t = ticks();
    for _ in 0..n {
        f();
    }
    std::time::Duration::from_millis((ticks() - t) * 10) / n
}

/// A repository stopped in a merge with a conflict in `c.txt`.
#[allow(clippy::disallowed_methods)] // the merge fails on purpose, which Fixture::git refuses
pub fn merge_conflict() -> Fixture {
    let f = Fixture::new();
    f.commit("base", &[("c.txt", "base\n"), ("keep.txt", "k\n")]);
    f.git(&["switch", "-q", "-c", "side"]);
    f.commit("side", &[("c.txt", "side\n")]);
    f.git(&["switch", "-q", "main"]);
    f.commit("main", &[("c.txt", "main\n")]);
    let _ = std::process::Command::new("git")
        .args(["merge", "-q", "side"])
        .current_dir(f.path())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output();
    f
}

/// A repository on `main` with `n` commits, each changing `file.txt` (and every tenth adding
/// a file under `dir/`), built by one `git fast-import`; the worktree is checked out.
pub fn long_history(n: usize) -> Fixture {
    let f = Fixture::new();
    let mut stream = String::new();
    let data = |s: &mut String, body: &str| s.push_str(&format!("data {}\n{body}\n", body.len()));
    for i in 1..=n {
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{i}\ncommitter Test Author <test@example.com> {} +0000\n",
            1_704_067_200 + i * 60
        ));
        data(&mut stream, &format!("commit {i}"));
        if i > 1 {
            stream.push_str(&format!("from :{}\n", i - 1));
        }
        stream.push_str("M 100644 inline file.txt\n");
        data(&mut stream, &format!("version {i}\nneedle {i}\n"));
        if i % 10 == 0 {
            stream.push_str(&format!("M 100644 inline dir/f{i:04}.txt\n"));
            data(&mut stream, &format!("file {i}\n"));
        }
    }
    f.fast_import(&stream);
    f.git(&["reset", "-q", "--hard", "main"]);
    f
}

/// A small committed tree for listing and reading: a README, sources under `src/` and
/// `src/bin/`, a look-alike `src-old/`, `docs/`, and both a file `a.txt` and a directory `a/`.
pub fn small_tree() -> Fixture {
    let f = Fixture::new();
    f.commit(
        "first",
        &[
            ("README.md", "hello\n"),
            ("src/lib.rs", "pub fn a() {}\n"),
            ("src/bin/main.rs", "fn main() {}\n"),
            ("src-old/x.rs", "x\n"),
            ("docs/guide.md", "guide\n"),
            ("a.txt", "a\n"),
            ("a/b.txt", "b\n"),
        ],
    );
    f
}
