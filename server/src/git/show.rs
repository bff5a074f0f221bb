//! One commit: header, message and patch, as `git show --date=iso`.
//!
//! Merge commits are shown with their diff against the first parent (`git show --first-parent`),
//! not git's combined diff: a combined diff is hard to read and to apply, while "what did this
//! merge bring into the branch" is what an agent usually asks. The text says so in one line.

use serde::Deserialize;
use serde_json::{Value, json};

use super::diff::{Window, diff_options, find_renames, render, tree_has};
use super::fmt::{iso_date, rfc3339, short_id};
use super::rev::resolve_commit;
use super::safety::{RepoPath, RevSpec};
use super::{Error, Output, Repo};

/// Arguments of `git_show`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowArgs {
    pub rev: Option<String>,
    #[serde(default)]
    pub paths: Vec<String>,
    /// Only the diffstat.
    pub stat: Option<bool>,
    pub offset: Option<usize>,
    pub max_lines: Option<usize>,
}

/// Field names a `json: [...]` projection may ask for (the tool's schema lists them).
pub const FIELDS: &[&str] = &[
    "sha", "author", "email", "date", "message", "parents", "files", "patch",
];

/// Runs `git_show`.
pub fn show(repo: &Repo, args: &ShowArgs) -> Result<Output, Error> {
    let rev = RevSpec::new(args.rev.as_deref().unwrap_or("HEAD"))?;
    let paths = RepoPath::all(repo.root(), &args.paths)?;
    let window = Window::new(args.offset, args.max_lines)?;
    let stat = args.stat.unwrap_or(false);

    let git = repo.lock();
    let commit = resolve_commit(&git, &rev)?;
    let parent = match commit.parent_count() {
        0 => None,
        _ => Some(commit.parent(0)?),
    };
    let rendered = changes(&git, &commit, &rev, &paths, stat, window)?;

    let author = commit.author();
    let name = String::from_utf8_lossy(author.name_bytes()).into_owned();
    let email = String::from_utf8_lossy(author.email_bytes()).into_owned();
    let message = String::from_utf8_lossy(commit.message_bytes()).into_owned();
    let parents: Vec<String> = commit.parent_ids().map(|id| id.to_string()).collect();

    let mut text = format!("commit {}\n", commit.id());
    if parents.len() > 1 {
        let shorts: Vec<String> = commit.parent_ids().map(short_id).collect();
        text.push_str(&format!("Merge: {}\n", shorts.join(" ")));
    }
    text.push_str(&format!("Author: {name} <{email}>\n"));
    text.push_str(&format!("Date:   {}\n\n", iso_date(author.when())));
    for line in message.trim_end().lines() {
        text.push_str("    ");
        text.push_str(line);
        text.push('\n');
    }
    text.push('\n');
    if let (true, Some(first)) = (parents.len() > 1, &parent) {
        text.push_str(&format!(
            "(merge: diff against first parent {})\n",
            short_id(first.id())
        ));
    }
    let body = rendered.body.trim_end_matches('\n');
    text.push_str(body);
    let patch = (!stat).then(|| body.to_owned());
    let trimmed = text.trim_end_matches('\n').len();
    text.truncate(trimmed);
    let more = rendered.finish(&mut text);

    let data = json!({
        "sha": commit.id().to_string(),
        "author": name,
        "email": email,
        "date": rfc3339(author.when()),
        "message": message,
        "parents": parents,
        "files": rendered.files.iter().map(|f| f.show_record()).collect::<Vec<Value>>(),
        "patch": patch,
    });
    Ok(Output {
        text,
        data,
        fields: FIELDS,
        more,
    })
}

/// The commit's changes against its first parent (the empty tree for a root commit),
/// rendered as a patch or a diffstat, limited to `paths`.
fn changes(
    git: &git2::Repository,
    commit: &git2::Commit<'_>,
    rev: &RevSpec,
    paths: &[RepoPath],
    stat: bool,
    window: Window,
) -> Result<super::diff::Rendered, Error> {
    let tree = commit.tree()?;
    let parent_tree = match commit.parent_count() {
        0 => None,
        _ => Some(commit.parent(0)?.tree()?),
    };
    for path in paths {
        let in_parent = parent_tree.as_ref().is_some_and(|t| tree_has(t, path));
        if !tree_has(&tree, path) && !in_parent {
            return Err(Error::PathNotFound {
                path: path.as_str().to_owned(),
                at: rev.as_str().to_owned(),
            });
        }
    }
    let mut opts = diff_options(paths);
    let mut diff = git.diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), Some(&mut opts))?;
    find_renames(&mut diff)?;
    render(&diff, stat, window)
}

/// What a log prints under each commit: `git log -p`, `--stat`, `--name-only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogChanges {
    Patch,
    Stat,
    NameOnly,
}

/// A commit's changes as `git log` prints them under its header, each line ending in a
/// newline: against its first parent, limited to `paths`, and nothing for a merge unless
/// `first_parent` (git log shows merges' diffs only when asked; `--first-parent` implies
/// `--diff-merges=first-parent`). A patch longer than `max_lines` (the diff window's default
/// when `None`; at most its maximum) ends in the window's note. One implementation for
/// `git_log` and the run form.
pub fn log_changes(
    git: &git2::Repository,
    commit: &git2::Commit<'_>,
    paths: &[RepoPath],
    form: LogChanges,
    first_parent: bool,
    max_lines: Option<usize>,
) -> Result<String, Error> {
    if commit.parent_count() > 1 && !first_parent {
        return Ok(String::new());
    }
    let tree = commit.tree()?;
    let parent_tree = match commit.parent_count() {
        0 => None,
        _ => Some(commit.parent(0)?.tree()?),
    };
    let mut opts = diff_options(paths);
    let mut diff = git.diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), Some(&mut opts))?;
    find_renames(&mut diff)?;
    let rendered = render(
        &diff,
        form == LogChanges::Stat,
        Window::new(None, max_lines)?,
    )?;
    let mut text = match form {
        LogChanges::NameOnly => rendered
            .files
            .iter()
            .map(|f| f.path.clone())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => {
            let mut text = rendered.body.trim_end_matches('\n').to_owned();
            rendered.finish(&mut text);
            text
        }
    };
    if !text.is_empty() {
        text.push('\n');
    }
    Ok(text)
}

/// A commit's patch (or diffstat) and its changed files' records, as `git show` prints them
/// after the commit's header: for the run form, which prints the header itself.
pub fn commit_changes(
    repo: &Repo,
    rev: &str,
    paths: &[String],
    stat: bool,
) -> Result<(String, Vec<Value>), Error> {
    let rev = RevSpec::new(rev)?;
    let paths = RepoPath::all(repo.root(), paths)?;
    let window = Window::new(None, Some(usize::MAX))?;
    let git = repo.lock();
    let commit = resolve_commit(&git, &rev)?;
    let rendered = changes(&git, &commit, &rev, &paths, stat, window)?;
    let files = rendered.files.iter().map(|f| f.show_record()).collect();
    let mut text = rendered.body.trim_end_matches('\n').to_owned();
    rendered.finish(&mut text);
    Ok((text, files))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    use super::*;
    use crate::git::testutil::Fixture;

    fn run(f: &Fixture, args: ShowArgs) -> Result<Output, Error> {
        show(&f.open(), &args)
    }

    fn at(rev: &str) -> ShowArgs {
        ShowArgs {
            rev: Some(rev.into()),
            ..ShowArgs::default()
        }
    }

    /// Our text for `args` must equal `git show --date=iso <git_args>` byte for byte.
    fn check(f: &Fixture, args: ShowArgs, git_args: &[&str]) {
        let got = run(f, args.clone()).unwrap();
        let mut cmd = vec!["show", "--date=iso"];
        cmd.extend_from_slice(git_args);
        assert_eq!(
            got.text,
            f.git(&cmd).trim_end(),
            "{args:?} vs git {git_args:?}"
        );
        assert_eq!(got.more, None);
    }

    fn check_err(f: &Fixture, args: ShowArgs, want: &str) {
        let err = run(f, args.clone()).expect_err("should fail");
        assert!(err.to_string().contains(want), "{args:?}: {err}");
    }

    fn base() -> Fixture {
        let f = Fixture::new();
        f.commit("root", &[("a.txt", "1\n2\n3\n"), ("b.txt", "b\n")]);
        f.commit(
            "Change a\n\nThe body explains why.\n\n- and lists\n- things",
            &[("a.txt", "1\ntwo\n3\n"), ("c/new.txt", "new\n")],
        );
        f
    }

    #[test]
    fn commits_match_git_show() {
        let f = base();
        check(&f, ShowArgs::default(), &[]);
        check(&f, at("HEAD~1"), &["HEAD~1"]);
        check(
            &f,
            ShowArgs {
                stat: Some(true),
                ..at("HEAD")
            },
            &["--stat=80", "HEAD"],
        );
        check(
            &f,
            ShowArgs {
                paths: vec!["c".into()],
                ..at("HEAD")
            },
            &["HEAD", "--", "c"],
        );
        let out = run(&f, ShowArgs::default()).unwrap();
        let d = &out.data;
        assert_eq!(d["sha"], f.git(&["rev-parse", "HEAD"]).trim());
        assert_eq!(d["author"], "Test Author");
        assert_eq!(d["email"], "test@example.com");
        assert_eq!(d["date"], "2024-01-01T00:02:00+00:00");
        assert_eq!(
            d["message"],
            "Change a\n\nThe body explains why.\n\n- and lists\n- things\n"
        );
        assert_eq!(d["parents"][0], f.git(&["rev-parse", "HEAD~1"]).trim());
        assert_eq!(d["files"][0]["path"], "a.txt");
        assert_eq!(d["files"][0]["status"], "modified");
        assert_eq!(d["files"][1]["status"], "added");
        assert_eq!(d["files"][1]["additions"], 1);
        assert!(
            d["patch"]
                .as_str()
                .unwrap()
                .starts_with("diff --git a/a.txt b/a.txt")
        );
        let stat = run(
            &f,
            ShowArgs {
                stat: Some(true),
                ..ShowArgs::default()
            },
        )
        .unwrap();
        assert_eq!(stat.data["patch"], Value::Null);
    }

    #[test]
    fn merges_show_the_first_parent_diff() {
        let f = base();
        f.git(&["checkout", "-q", "-b", "side", "HEAD~1"]);
        f.commit("side work", &[("b.txt", "b\nside\n")]);
        f.git(&["checkout", "-q", "main"]);
        f.git(&["merge", "-q", "--no-ff", "-m", "Merge side", "side"]);
        let out = run(&f, ShowArgs::default()).unwrap();
        // Header as git prints it, then our one-line note, then the first-parent diff.
        let header = f.git(&["show", "--date=iso", "--no-patch", "HEAD"]);
        assert!(out.text.starts_with(header.trim_end()), "{}", out.text);
        assert!(out.text.contains("\nMerge: "));
        let first = f.git(&["rev-parse", "--short=7", "HEAD^1"]);
        let note = format!("(merge: diff against first parent {})\n", first.trim());
        let diff = f.git(&["diff", "HEAD^1", "HEAD"]);
        assert!(
            out.text
                .ends_with(&format!("\n\n{note}{}", diff.trim_end())),
            "{}",
            out.text
        );
        assert_eq!(out.data["parents"].as_array().unwrap().len(), 2);
        assert_eq!(out.data["files"][0]["path"], "b.txt");
    }

    #[test]
    fn renames_binaries_and_odd_names_match_git() {
        let f = base();
        f.git(&["mv", "b.txt", "c/b-renamed.txt"]);
        f.write("blob.bin", b"\0\x01\x02\x03".as_slice());
        std::fs::write(
            f.path().join(OsStr::from_bytes(b"caf\xe9.txt")),
            "latin-1 name\n",
        )
        .unwrap();
        f.commit("odd", &[]);
        check(&f, ShowArgs::default(), &[]);
        check(
            &f,
            ShowArgs {
                stat: Some(true),
                ..ShowArgs::default()
            },
            &["--stat=80"],
        );
        let out = run(&f, ShowArgs::default()).unwrap();
        let paths: Vec<&str> = out.data["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        assert_eq!(paths, ["blob.bin", "c/b-renamed.txt", "\"caf\\351.txt\""]);
        assert_eq!(out.data["files"][1]["old_path"], "b.txt");
    }

    #[test]
    fn long_patches_are_windowed() {
        let f = base();
        let long: String = (0..500).map(|i| format!("{i}\n")).collect();
        f.commit("long", &[("long.txt", &long)]);
        let out = run(&f, ShowArgs::default()).unwrap();
        let full = f.git(&["show", "HEAD", "--format="]);
        let total = full.trim_start_matches('\n').lines().count();
        let more = format!("... {} more lines; pass offset=300", total - 300);
        assert_eq!(out.more.as_deref(), Some(more.as_str()));
        assert!(out.text.ends_with(&format!("\n{more}")));
        let rest = run(
            &f,
            ShowArgs {
                offset: Some(300),
                ..ShowArgs::default()
            },
        )
        .unwrap();
        assert_eq!(rest.more, None);
        assert!(rest.text.ends_with("+499"), "{}", rest.text);
        assert!(rest.text.starts_with("commit "));
    }

    #[test]
    fn root_empty_and_detached() {
        let f = base();
        check(&f, at("HEAD~1"), &["HEAD~1"]);
        f.git(&["checkout", "-q", "--detach", "HEAD~1"]);
        check(&f, ShowArgs::default(), &[]);
        let empty = Fixture::new();
        check_err(&empty, ShowArgs::default(), "no commits yet");
        f.git(&["commit", "-q", "--allow-empty", "-m", "nothing"]);
        check(&f, ShowArgs::default(), &[]);
    }

    #[test]
    fn bad_inputs_are_refused() {
        let f = base();
        check_err(&f, at("mian"), "nearest: main");
        check_err(&f, at("-p"), "must not start with '-'");
        check_err(&f, at("HEAD:a.txt"), "'rev:path'");
        check_err(
            &f,
            ShowArgs {
                paths: vec!["../a.txt".into()],
                ..ShowArgs::default()
            },
            "'..'",
        );
        check_err(
            &f,
            ShowArgs {
                paths: vec!["zzz".into()],
                ..ShowArgs::default()
            },
            "path 'zzz' not found at HEAD",
        );
        check_err(
            &f,
            ShowArgs {
                max_lines: Some(0),
                ..ShowArgs::default()
            },
            "max_lines",
        );
    }
}
