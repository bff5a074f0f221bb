//! Working-tree status, as `git status --short --branch`.

use std::os::unix::ffi::OsStrExt;

use git2::Status;
use serde::Deserialize;
use serde_json::{Value, json};

use super::branches::{Tracking, tracking};
use super::rev::head_target;
use super::safety::RepoPath;
use super::{Error, Output, Repo, display_path, more_line};

/// Field names a `json: [...]` projection may ask for (the tool's schema lists them).
pub const FIELDS: &[&str] = &["path", "index", "worktree", "old_path"];

/// Arguments of `git_status`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusArgs {
    #[serde(default)]
    pub paths: Vec<String>,
    /// Default 200.
    pub limit: Option<usize>,
}

/// One line of `git status --short`.
struct Entry {
    /// `X` and `Y` of `XY path`: index and worktree side.
    index: char,
    worktree: char,
    path: Vec<u8>,
    /// The source of a staged rename.
    old_path: Option<Vec<u8>>,
}

impl Entry {
    fn untracked(&self) -> bool {
        self.index == '?'
    }
}

/// Runs `git_status`.
pub fn status(repo: &Repo, args: &StatusArgs) -> Result<Output, Error> {
    let specs = RepoPath::all(repo.root(), &args.paths)?;
    let limit = args.limit.unwrap_or(200);

    let git = repo.lock();
    let header = branch_header(&git)?;
    let statuses = statuses(&git, &specs)?;
    let mut entries = entries(&git, &statuses)?;
    drop(statuses);
    drop(git);
    // git lists tracked changes first, then untracked paths, each sorted by path.
    entries.sort_by(|a, b| (a.untracked(), &a.path).cmp(&(b.untracked(), &b.path)));
    Ok(render(header, &entries, limit))
}

/// libgit2's status of the paths `specs` select (everything when empty), as `git status` asks.
fn statuses<'r>(
    git: &'r git2::Repository,
    specs: &[RepoPath],
) -> Result<git2::Statuses<'r>, Error> {
    let mut opts = git2::StatusOptions::new();
    // `git status --short` names an untracked directory, not every file in it, unless a glob
    // could select some of those files.
    let globs = specs.iter().any(|s| s.as_str().contains(['*', '?', '[']));
    opts.include_untracked(true)
        .recurse_untracked_dirs(globs)
        .include_ignored(false)
        .renames_head_to_index(true)
        .exclude_submodules(true);
    for spec in specs {
        opts.pathspec(spec.as_str());
    }
    // Like `git status`, refresh the index's stat cache when it finds files unmodified: entries
    // written in the same second as the index are otherwise "racily clean" and re-hashed on every
    // call (this took status from ~0.2 ms to ~0.7 ms per call on a freshly checked-out tree).
    // If the index cannot be written (a concurrent git holds index.lock), answer anyway.
    opts.update_index(true);
    match git.statuses(Some(&mut opts)) {
        Ok(statuses) => Ok(statuses),
        Err(_) => {
            opts.update_index(false);
            Ok(git.statuses(Some(&mut opts))?)
        }
    }
}

/// The short-format lines of `statuses`, unsorted.
fn entries(git: &git2::Repository, statuses: &git2::Statuses<'_>) -> Result<Vec<Entry>, Error> {
    let mut entries = Vec::with_capacity(statuses.len());
    let mut conflicts = None;
    for item in statuses.iter() {
        let s = item.status();
        if s.contains(Status::CONFLICTED) {
            let index = match &mut conflicts {
                Some(index) => index,
                None => conflicts.insert(git.index()?),
            };
            let path = item.path_bytes().to_vec();
            let (x, y) = unmerged_codes(index, &path);
            entries.push(Entry {
                index: x,
                worktree: y,
                path,
                old_path: None,
            });
            continue;
        }
        let renamed = item
            .head_to_index()
            .filter(|_| s.contains(Status::INDEX_RENAMED));
        let (path, old_path) = match renamed {
            Some(delta) => (
                delta.new_file().path_bytes().unwrap_or_default().to_vec(),
                delta.old_file().path_bytes().map(<[u8]>::to_vec),
            ),
            None => (item.path_bytes().to_vec(), None),
        };
        let index = index_code(s);
        let worktree = worktree_code(s);
        if s.contains(Status::WT_NEW) {
            // Removed from the index but still on disk: git shows `D ` and `??` for it.
            if let Some(index) = index {
                entries.push(Entry {
                    index,
                    worktree: ' ',
                    path: path.clone(),
                    old_path: old_path.clone(),
                });
            }
            entries.push(Entry {
                index: '?',
                worktree: '?',
                path,
                old_path: None,
            });
            continue;
        }
        if index.is_none() && worktree.is_none() {
            continue; // ignored or unreadable: not part of the short format
        }
        entries.push(Entry {
            index: index.unwrap_or(' '),
            worktree: worktree.unwrap_or(' '),
            path,
            old_path,
        });
    }
    Ok(entries)
}

/// The branch header, then `XY path` (or `XY old -> new`) for the first `limit` entries.
fn render(header: String, entries: &[Entry], limit: usize) -> Output {
    let mut text = header;
    let mut data = Vec::with_capacity(entries.len().min(limit));
    for entry in entries.iter().take(limit) {
        let path = display_path(&entry.path);
        text.push('\n');
        text.push(entry.index);
        text.push(entry.worktree);
        text.push(' ');
        let mut record = json!({
            "path": path,
            "index": code_name(entry.index),
            "worktree": code_name(entry.worktree),
        });
        if let Some(old) = &entry.old_path {
            let old = display_path(old);
            text.push_str(&format!("{old} -> "));
            record["old_path"] = json!(old);
        }
        text.push_str(&path);
        data.push(record);
    }
    let more = more_line(
        &mut text,
        entries.len().saturating_sub(limit),
        "entries",
        &format!("pass limit={} or narrow paths", entries.len()),
    );
    Output {
        text,
        data: Value::Array(data),
        fields: FIELDS,
        more,
    }
}

/// `## main...origin/main [ahead 1]`, `## HEAD (no branch)` or `## No commits yet on main`.
fn branch_header(git: &git2::Repository) -> Result<String, Error> {
    let head = match git.head() {
        Ok(head) => head,
        Err(e) if e.code() == git2::ErrorCode::UnbornBranch => {
            let branch = head_target(git).unwrap_or_default();
            let branch = branch.strip_prefix("refs/heads/").unwrap_or(&branch);
            return Ok(format!("## No commits yet on {branch}"));
        }
        Err(e) => return Err(e.into()),
    };
    if !head.is_branch() {
        return Ok("## HEAD (no branch)".to_owned());
    }
    let name = String::from_utf8_lossy(head.shorthand_bytes()).into_owned();
    let mut line = format!("## {name}");
    let (Ok(refname), Some(oid)) = (head.name(), head.target()) else {
        return Ok(line);
    };
    match tracking(git, refname, oid) {
        None => {}
        Some(Tracking { upstream, counts }) => {
            line.push_str(&format!("...{upstream}"));
            if let Some(counts) = counts.label() {
                line.push_str(&format!(" [{counts}]"));
            }
        }
    }
    Ok(line)
}

fn index_code(s: Status) -> Option<char> {
    Some(if s.contains(Status::INDEX_NEW) {
        'A'
    } else if s.contains(Status::INDEX_MODIFIED) {
        'M'
    } else if s.contains(Status::INDEX_DELETED) {
        'D'
    } else if s.contains(Status::INDEX_RENAMED) {
        'R'
    } else if s.contains(Status::INDEX_TYPECHANGE) {
        'T'
    } else {
        return None;
    })
}

fn worktree_code(s: Status) -> Option<char> {
    Some(if s.contains(Status::WT_MODIFIED) {
        'M'
    } else if s.contains(Status::WT_DELETED) {
        'D'
    } else if s.contains(Status::WT_TYPECHANGE) {
        'T'
    } else if s.contains(Status::WT_RENAMED) {
        'R'
    } else {
        return None;
    })
}

/// git's two-letter code for an unmerged path, from which sides of the conflict exist.
fn unmerged_codes(index: &git2::Index, path: &[u8]) -> (char, char) {
    let stage = |n: i32| {
        index
            .get_path(std::path::Path::new(std::ffi::OsStr::from_bytes(path)), n)
            .is_some()
    };
    match (stage(1), stage(2), stage(3)) {
        (true, false, false) => ('D', 'D'),
        (false, true, false) => ('A', 'U'),
        (true, false, true) => ('U', 'D'),
        (false, false, true) => ('U', 'A'),
        (true, true, false) => ('D', 'U'),
        (false, true, true) => ('A', 'A'),
        _ => ('U', 'U'),
    }
}

/// The record's name for a code: git porcelain v2 writes an unchanged side as `.`.
fn code_name(code: char) -> String {
    if code == ' ' {
        ".".into()
    } else {
        code.to_string()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::git::testutil::{Fixture, long_history};

    /// Runs `status` and checks its entry lines against `git status --porcelain` and its first
    /// line against `expected_header`.
    fn check(f: &Fixture, paths: &[&str], expected_header: &str) {
        let repo = f.open();
        let args = StatusArgs {
            paths: paths.iter().map(|p| p.to_string()).collect(),
            limit: None,
        };
        let got = status(&repo, &args).unwrap();
        let mut oracle = vec![
            "status",
            "--porcelain",
            "--untracked-files=normal",
            "--ignore-submodules=all",
        ];
        if !paths.is_empty() {
            oracle.push("--");
            oracle.extend(paths);
        }
        let want = f.git(&oracle);
        let mut lines = got.text.lines();
        assert_eq!(lines.next(), Some(expected_header));
        assert_eq!(
            lines.collect::<Vec<_>>(),
            want.lines().collect::<Vec<_>>(),
            "{paths:?}"
        );
        assert_eq!(got.data.as_array().unwrap().len(), want.lines().count());
    }

    #[test]
    fn status_matches_git() {
        let f = Fixture::new();
        f.commit(
            "base",
            &[
                ("a.txt", "a\n"),
                ("b.txt", "b\n"),
                ("mv-me.txt", "a file long enough to be found as a rename\n"),
                ("dir/c.txt", "c\n"),
                ("gone.txt", "g\n"),
                ("uncached.txt", "u\n"),
            ],
        );
        f.write("a.txt", "changed\n");
        f.write("b.txt", "staged\n");
        f.git(&["add", "b.txt"]);
        f.write("b.txt", "staged then changed\n");
        f.git(&["mv", "mv-me.txt", "moved.txt"]);
        f.write(
            "moved.txt",
            "a file long enough to be found as a rename, edited\n",
        );
        f.write("new-staged.txt", "n\n");
        f.git(&["add", "new-staged.txt"]);
        f.git(&["rm", "-q", "gone.txt"]);
        f.git(&["rm", "-q", "--cached", "uncached.txt"]);
        std::fs::remove_file(f.path().join("dir/c.txt")).unwrap();
        f.write("untracked.txt", "u\n");
        f.write("newdir/x/y.txt", "deep\n");
        f.write(".gitignore", "*.log\n");
        f.write("ignored.log", "i\n");
        check(&f, &[], "## main");
        check(&f, &["dir"], "## main");
        check(&f, &["*.txt"], "## main");
        check(&f, &["newdir"], "## main");
    }

    #[test]
    fn status_clean_detached_and_empty() {
        let f = Fixture::new();
        f.write("draft.txt", "d\n");
        check(&f, &[], "## No commits yet on main");
        f.git(&["add", "draft.txt"]);
        check(&f, &[], "## No commits yet on main");
        let first = f.commit("first", &[]);
        check(&f, &[], "## main");
        f.git(&["switch", "-q", "--detach", &first]);
        check(&f, &[], "## HEAD (no branch)");
    }

    #[test]
    fn status_upstream_ahead_behind() {
        let f = Fixture::new();
        f.commit("one", &[("a", "1\n")]);
        f.git(&["update-ref", "refs/remotes/origin/main", "HEAD"]);
        f.git(&["config", "branch.main.remote", "origin"]);
        f.git(&["config", "branch.main.merge", "refs/heads/main"]);
        f.git(&[
            "config",
            "remote.origin.url",
            "https://example.invalid/x.git",
        ]);
        f.git(&[
            "config",
            "remote.origin.fetch",
            "+refs/heads/*:refs/remotes/origin/*",
        ]);
        check(&f, &[], "## main...origin/main");
        f.commit("two", &[("a", "2\n")]);
        check(&f, &[], "## main...origin/main [ahead 1]");
        f.git(&["update-ref", "refs/remotes/origin/main", "HEAD"]);
        f.git(&["reset", "-q", "--hard", "HEAD~1"]);
        check(&f, &[], "## main...origin/main [behind 1]");
        f.commit("three", &[("b", "3\n")]);
        check(&f, &[], "## main...origin/main [ahead 1, behind 1]");
        f.git(&["update-ref", "-d", "refs/remotes/origin/main"]);
        check(&f, &[], "## main...origin/main [gone]");
        let header = f.git(&["status", "--short", "--branch"]);
        assert_eq!(header.trim_end(), "## main...origin/main [gone]");
    }

    #[test]
    fn status_merge_conflict() {
        let f = crate::git::testutil::merge_conflict();
        f.write("extra.txt", "x\n");
        check(&f, &[], "## main");
    }

    #[test]
    fn status_non_utf8_and_quoted_names() {
        let f = Fixture::new();
        f.commit("base", &[("keep.txt", "k\n")]);
        std::fs::write(
            f.path().join(std::ffi::OsStr::from_bytes(b"bad\xffname")),
            "x\n",
        )
        .unwrap();
        f.write("tab\there", "t\n");
        check(&f, &[], "## main");
    }

    #[test]
    fn status_is_bounded() {
        let f = Fixture::new();
        f.commit("base", &[("keep.txt", "k\n")]);
        for i in 0..5 {
            f.write(&format!("u{i}.txt"), "u\n");
        }
        let repo = f.open();
        let got = status(
            &repo,
            &StatusArgs {
                paths: vec![],
                limit: Some(2),
            },
        )
        .unwrap();
        assert_eq!(
            got.text,
            "## main\n?? u0.txt\n?? u1.txt\n... 3 more entries; pass limit=5 or narrow paths"
        );
        assert_eq!(
            got.more.as_deref(),
            Some("... 3 more entries; pass limit=5 or narrow paths")
        );
        assert_eq!(
            got.data[0],
            json!({"path": "u0.txt", "index": "?", "worktree": "?"})
        );
    }

    #[test]
    fn status_records_renames() {
        let f = Fixture::new();
        f.commit(
            "base",
            &[("old.txt", "a file long enough to be found as a rename\n")],
        );
        f.git(&["mv", "old.txt", "new.txt"]);
        let got = status(&f.open(), &StatusArgs::default()).unwrap();
        assert_eq!(got.text, "## main\nR  old.txt -> new.txt");
        assert_eq!(
            got.data,
            json!([{"path": "new.txt", "index": "R", "worktree": ".", "old_path": "old.txt"}])
        );
    }

    #[test]
    fn status_refuses_bad_paths() {
        let f = Fixture::new();
        f.commit("base", &[("a", "a\n")]);
        let repo = f.open();
        for (path, want) in [
            ("../x", "'..'"),
            ("/etc", "absolute"),
            (".git", ".git directory"),
        ] {
            let args = StatusArgs {
                paths: vec![path.into()],
                limit: None,
            };
            let err = status(&repo, &args).unwrap_err().to_string();
            assert!(err.contains(want), "{path}: {err}");
        }
    }

    #[test]
    fn status_on_long_history() {
        let f = long_history(1000);
        f.write("file.txt", "edited\n");
        f.write("new.txt", "new\n");
        check(&f, &[], "## main");
    }

    /// CPU time per `status` call (and per part of one) on a 1,000-commit repository; run with
    /// `cargo test --release -p gitgate --lib status_speed -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn status_speed() {
        let f = long_history(1000);
        let repo = f.open();
        let args = StatusArgs::default();
        let measure = |label: &str| {
            let cpu = cpu_per_call(|| drop(status(&repo, &args).unwrap()));
            println!("{label}: {cpu:?}");
        };
        f.write("file.txt", "edited\n");
        measure("git_status, 1,000 commits, 101 files");
        let git = repo.lock();
        let cpu = cpu_per_call(|| drop(branch_header(&git).unwrap()));
        println!("  of which the branch line: {cpu:?}");
        drop(git);
        f.git(&["rm", "-r", "-q", "dir"]);
        f.commit("small worktree", &[]);
        f.write("file.txt", "edited again\n");
        measure("git_status, 1,000 commits, 1 file");
    }

    /// Mean CPU time of this thread per call of `run` (from the kernel's schedstat, in ns).
    fn cpu_per_call(mut run: impl FnMut()) -> std::time::Duration {
        const CALLS: u32 = 2000;
        let cpu_ns = || -> u64 {
            let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
            stat.split_whitespace().next().unwrap().parse().unwrap()
        };
        run();
        let before = cpu_ns();
        for _ in 0..CALLS {
            run();
        }
        std::time::Duration::from_nanos(cpu_ns() - before) / CALLS
    }
}
