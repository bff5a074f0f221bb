//! The writes against what plain `git` sees afterwards (`git status --porcelain`, `git log`).

#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use serde_json::json;

use super::*;
use crate::git::testutil::Fixture;
use crate::git::{Error, Identity, Output};

fn me() -> Identity {
    Identity {
        name: "Agent Smith".into(),
        email: "agent@example.com".into(),
    }
}

/// Ok(s): the text contains `s`; Err(s): the error message contains `s`.
fn check(got: Result<Output, Error>, want: Result<&str, &str>) -> Output {
    match (got, want) {
        (Ok(out), Ok(want)) => {
            assert!(
                out.text.contains(want),
                "text {:?} lacks {want:?}",
                out.text
            );
            out
        }
        (Err(e), Err(want)) => {
            assert!(e.to_string().contains(want), "error {e} lacks {want:?}");
            Output {
                text: e.to_string(),
                data: serde_json::Value::Null,
                fields: &[],
                more: None,
            }
        }
        (got, want) => panic!("got {got:?}, want {want:?}"),
    }
}

fn porcelain(f: &Fixture) -> String {
    f.git(&["status", "--porcelain"])
}

fn add_args(paths: &[&str], all: bool) -> AddArgs {
    AddArgs {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        all: Some(all),
        update: false,
    }
}

fn restore_args(paths: &[&str], staged: bool, worktree: bool) -> RestoreArgs {
    RestoreArgs {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        staged: Some(staged),
        worktree: Some(worktree),
        source: None,
        overlay: false,
    }
}

fn commit_args(message: &str, all: bool, allow_empty: bool) -> CommitArgs {
    CommitArgs {
        message: message.into(),
        all: Some(all),
        allow_empty: Some(allow_empty),
    }
}

fn switch_args(branch: &str, create: bool, detach: bool) -> SwitchArgs {
    SwitchArgs {
        branch: branch.into(),
        create: Some(create),
        detach: Some(detach),
        start: None,
    }
}

fn branch_args(name: &str, start: Option<&str>) -> CreateBranchArgs {
    CreateBranchArgs {
        name: name.into(),
        start: start.map(str::to_owned),
    }
}

/// A repository with one commit holding `a.txt` and `dir/b.txt`, and `*.log` ignored.
fn base() -> Fixture {
    let f = Fixture::new();
    f.commit(
        "base",
        &[
            ("a.txt", "one\ntwo\n"),
            ("dir/b.txt", "b\n"),
            (".gitignore", "*.log\n"),
        ],
    );
    f
}

#[test]
fn add_stages_new_modified_and_deleted() {
    let f = base();
    let repo = f.open();
    f.write("a.txt", "one\nTWO\n");
    f.write("new.txt", "new\n");
    std::fs::remove_file(f.path().join("dir/b.txt")).unwrap();
    check(
        add(&repo, &add_args(&["a.txt"], false)),
        Ok("staged: a.txt"),
    );
    check(
        add(&repo, &add_args(&["dir/b.txt"], false)),
        Ok("staged: dir/b.txt (deleted)"),
    );
    check(
        add(&repo, &add_args(&["new.txt"], false)),
        Ok("staged: new.txt"),
    );
    assert_eq!(porcelain(&f), "M  a.txt\nD  dir/b.txt\nA  new.txt\n");
    check(
        add(&repo, &add_args(&["a.txt"], false)),
        Ok("nothing to stage"),
    );
}

#[test]
fn add_all_is_add_dash_a() {
    let f = base();
    let repo = f.open();
    f.write("a.txt", "changed\n");
    f.write("sub/deep/new.txt", "x\n");
    f.write("skip.log", "ignored\n");
    std::fs::remove_file(f.path().join("dir/b.txt")).unwrap();
    let out = check(
        add(&repo, &add_args(&[], true)),
        Ok("staged: a.txt, dir/b.txt (deleted), sub/deep/new.txt"),
    );
    assert_eq!(out.data["deleted"], json!(["dir/b.txt"]));
    assert_eq!(
        porcelain(&f),
        "M  a.txt\nD  dir/b.txt\nA  sub/deep/new.txt\n"
    );
}

#[test]
fn add_directory_and_refusals() {
    let f = base();
    let repo = f.open();
    f.write("dir/c.txt", "c\n");
    f.write("other.txt", "o\n");
    f.write("x.log", "log\n");
    check(
        add(&repo, &add_args(&["dir"], false)),
        Ok("staged: dir/c.txt"),
    );
    assert_eq!(porcelain(&f), "A  dir/c.txt\n?? other.txt\n");
    check(add(&repo, &AddArgs::default()), Err("all=true"));
    check(
        add(&repo, &add_args(&["nope.txt"], false)),
        Err("'nope.txt' not found"),
    );
    check(add(&repo, &add_args(&["x.log"], false)), Err("ignored"));
    check(add(&repo, &add_args(&["../x"], false)), Err("'..' leaves"));
    check(
        add(&repo, &add_args(&["/etc/passwd"], false)),
        Err("absolute"),
    );
    check(add(&repo, &add_args(&[".git/config"], false)), Err(".git"));
    // Glob characters are literal, like `git add ':(literal)*.txt'`.
    check(add(&repo, &add_args(&["*.txt"], false)), Err("not found"));
    assert_eq!(porcelain(&f), "A  dir/c.txt\n?? other.txt\n");
}

#[test]
fn add_refuses_nested_repositories() {
    let f = base();
    let repo = f.open();
    f.write("inner/file.txt", "inner\n");
    crate::git::testutil::git_in(&f.path().join("inner"), &["init", "-q"], 0);
    check(
        add(&repo, &add_args(&["inner/file.txt"], false)),
        Err("nested repository 'inner'"),
    );
    check(
        add(&repo, &add_args(&["inner"], false)),
        Err("nested repository"),
    );
    check(add(&repo, &add_args(&[], true)), Ok("nothing to stage"));
    assert_eq!(f.git(&["ls-files", "--stage", "inner"]), "");
}

/// `source` (git restore --source): the worktree alone leaves the index; with `staged` both
/// come from the revision; a tracked file the revision lacks is removed, as git does.
#[test]
fn restore_from_a_source_revision() {
    let f = base();
    f.commit("second", &[("a.txt", "second\n"), ("dir/c.txt", "c\n")]);
    let repo = f.open();
    let from = |paths: &[&str], staged: bool| RestoreArgs {
        source: Some("HEAD~1".into()),
        ..restore_args(paths, staged, true)
    };
    check(
        restore(&repo, &from(&["a.txt"], false)),
        Ok("restored: a.txt"),
    );
    assert_eq!(porcelain(&f), " M a.txt\n");
    assert_eq!(f.git(&["diff", "HEAD~1", "--", "a.txt"]), "");
    check(
        restore(&repo, &from(&["dir"], true)),
        Ok("unstaged: dir/c.txt\nrestored: dir/c.txt"),
    );
    assert_eq!(porcelain(&f), " M a.txt\nD  dir/c.txt\n");
    assert!(!f.path().join("dir/c.txt").exists());
    let err = restore(&repo, &from(&["nosuch.txt"], false)).unwrap_err();
    assert!(err.to_string().contains("nosuch.txt"), "{err}");
}

#[test]
fn restore_staged_and_worktree() {
    let f = base();
    let repo = f.open();
    f.write("a.txt", "changed\n");
    f.write("new.txt", "new\n");
    f.git(&["add", "-A"]);
    check(
        restore(&repo, &restore_args(&["a.txt", "new.txt"], true, false)),
        Ok("unstaged: a.txt, new.txt"),
    );
    assert_eq!(porcelain(&f), " M a.txt\n?? new.txt\n");
    check(
        restore(&repo, &restore_args(&["a.txt"], false, true)),
        Ok("restored: a.txt"),
    );
    assert_eq!(porcelain(&f), "?? new.txt\n");
    assert_eq!(
        std::fs::read_to_string(f.path().join("a.txt")).unwrap(),
        "one\ntwo\n"
    );
    // Deleted files come back; staged and worktree together restore from HEAD.
    std::fs::remove_file(f.path().join("dir/b.txt")).unwrap();
    f.write("a.txt", "again\n");
    f.git(&["add", "a.txt"]);
    check(
        restore(&repo, &restore_args(&["a.txt", "dir"], true, true)),
        Ok("unstaged: a.txt\nrestored: a.txt, dir/b.txt"),
    );
    assert_eq!(porcelain(&f), "?? new.txt\n");
    check(
        restore(&repo, &restore_args(&["a.txt"], true, true)),
        Ok("nothing to restore"),
    );
}

#[test]
fn restore_refusals() {
    let f = base();
    let repo = f.open();
    check(
        restore(&repo, &restore_args(&["a.txt"], false, false)),
        Err("staged=true to unstage, or worktree=true"),
    );
    check(restore(&repo, &RestoreArgs::default()), Err("staged=true"));
    check(
        restore(&repo, &restore_args(&[], true, false)),
        Err("pass the paths"),
    );
    check(
        restore(&repo, &restore_args(&["nope"], true, false)),
        Err("'nope' not found"),
    );
    check(
        restore(&repo, &restore_args(&["../a.txt"], false, true)),
        Err("'..'"),
    );
}

#[test]
fn restore_staged_on_empty_repository_removes_from_index() {
    let f = Fixture::new();
    let repo = f.open();
    f.write("a.txt", "a\n");
    f.write("b.txt", "b\n");
    f.git(&["add", "-A"]);
    check(
        restore(&repo, &restore_args(&["a.txt"], true, false)),
        Ok("unstaged: a.txt"),
    );
    assert_eq!(porcelain(&f), "A  b.txt\n?? a.txt\n");
}

#[test]
fn first_commit_on_empty_repository() {
    let f = Fixture::new();
    let repo = f.open();
    check(
        commit(&repo, &commit_args("nothing", false, false), &me()),
        Err("nothing to commit"),
    );
    f.write("a.txt", "1\n2\n3\n");
    f.write("b.txt", "b\n");
    check(add(&repo, &add_args(&[], true)), Ok("staged: a.txt, b.txt"));
    let out = check(
        commit(&repo, &commit_args("first\n\nbody", false, false), &me()),
        Ok(" 2 files changed, 4 insertions(+)"),
    );
    let sha = f.git(&["rev-parse", "HEAD"]).trim().to_owned();
    assert!(
        out.text
            .starts_with(&format!("[main (root-commit) {}] first\n", &sha[..7])),
        "{}",
        out.text
    );
    assert_eq!(out.data["sha"], json!(sha));
    assert_eq!(out.data["branch"], json!("main"));
    assert_eq!(
        f.git(&["log", "-1", "--format=%an|%ae|%cn|%ce|%s|%b"]),
        "Agent Smith|agent@example.com|Agent Smith|agent@example.com|first|body\n\n"
    );
    assert_eq!(porcelain(&f), "");
    let raw = f.git(&["cat-file", "-p", "HEAD"]);
    assert!(!raw.contains("gpgsig") && !raw.contains("parent"), "{raw}");
}

#[test]
fn commit_all_allow_empty_and_refusals() {
    let f = base();
    let repo = f.open();
    check(
        commit(&repo, &commit_args("  \n ", false, true), &me()),
        Err("message is empty"),
    );
    check(
        commit(&repo, &commit_args("x", false, false), &me()),
        Err("allow_empty=true"),
    );
    let out = check(
        commit(&repo, &commit_args("empty", false, true), &me()),
        Ok("[main "),
    );
    assert!(
        !out.text.contains('\n'),
        "no stat line for an empty commit: {}",
        out.text
    );
    assert_eq!(f.git(&["log", "-1", "--format=%s"]), "empty\n");
    // all=true takes tracked modifications and deletions, not untracked files.
    f.write("a.txt", "one\n");
    f.write("untracked.txt", "u\n");
    std::fs::remove_file(f.path().join("dir/b.txt")).unwrap();
    check(
        commit(&repo, &commit_args("all", true, false), &me()),
        Ok(" 2 files changed, 2 deletions(-)"),
    );
    assert_eq!(porcelain(&f), "?? untracked.txt\n");
    assert_eq!(
        f.git(&["log", "-1", "--format=%an%ae%s"]),
        "Agent Smithagent@example.comall\n"
    );
    check(
        commit(&repo, &commit_args("again", true, false), &me()),
        Err("nothing to commit"),
    );
}

#[test]
fn commit_on_detached_head_moves_head_only() {
    let f = base();
    let main = f.git(&["rev-parse", "main"]);
    f.git(&["switch", "-q", "--detach", "HEAD"]);
    let repo = f.open();
    f.write("a.txt", "detached\n");
    let out = check(
        commit(&repo, &commit_args("on detached", true, false), &me()),
        Ok("[detached HEAD "),
    );
    assert_eq!(out.data["branch"], json!(null));
    assert_eq!(f.git(&["rev-parse", "main"]), main);
    assert_eq!(f.git(&["rev-parse", "HEAD^"]), main);
    assert_eq!(f.git(&["log", "-1", "--format=%s"]), "on detached\n");
}

#[test]
fn create_branch_cases() {
    let f = base();
    let first = f.git(&["rev-parse", "HEAD"]);
    f.commit("second", &[("a.txt", "2\n")]);
    let repo = f.open();
    check(
        create_branch(&repo, &branch_args("feature/x", None)),
        Ok("created at "),
    );
    assert_eq!(
        f.git(&["rev-parse", "feature/x"]),
        f.git(&["rev-parse", "HEAD"])
    );
    check(
        create_branch(&repo, &branch_args("old", Some("HEAD~1"))),
        Ok("created at "),
    );
    assert_eq!(f.git(&["rev-parse", "old"]), first);
    check(
        create_branch(&repo, &branch_args("old", None)),
        Err("branch 'old' already exists"),
    );
    check(
        create_branch(&repo, &branch_args("-x", None)),
        Err("must not start with '-'"),
    );
    check(
        create_branch(&repo, &branch_args("a..b", None)),
        Err("not a valid ref name"),
    );
    check(
        create_branch(&repo, &branch_args("x", Some("--orphan"))),
        Err("must not start with '-'"),
    );
    check(
        create_branch(&repo, &branch_args("x", Some("mian"))),
        Err("nearest: main"),
    );
    assert_eq!(
        f.git(&["branch", "--format=%(refname:short)"]),
        "feature/x\nmain\nold\n"
    );
    let empty = Fixture::new();
    check(
        create_branch(&empty.open(), &branch_args("x", None)),
        Err("no commits yet"),
    );
}

#[test]
fn switch_branches_safely() {
    let f = base();
    f.git(&["branch", "other"]);
    f.git(&["switch", "-q", "other"]);
    f.commit(
        "on other",
        &[("a.txt", "other\n"), ("only-other.txt", "o\n")],
    );
    f.git(&["switch", "-q", "main"]);
    let repo = f.open();
    check(
        switch(&repo, &switch_args("main", false, false)),
        Ok("Already on 'main'"),
    );
    check(
        switch(&repo, &switch_args("othr", false, false)),
        Err("no branch 'othr'; nearest: other"),
    );
    // A local change the switch would overwrite: refused, nothing touched.
    f.write("a.txt", "local edit\n");
    check(
        switch(&repo, &switch_args("other", false, false)),
        Err("local changes would be overwritten: a.txt"),
    );
    assert_eq!(f.git(&["branch", "--show-current"]), "main\n");
    assert_eq!(porcelain(&f), " M a.txt\n");
    assert_eq!(
        std::fs::read_to_string(f.path().join("a.txt")).unwrap(),
        "local edit\n"
    );
    assert!(!f.path().join("only-other.txt").exists());
    // A local change elsewhere carries over.
    f.git(&["checkout", "-q", "a.txt"]);
    f.write("dir/b.txt", "kept\n");
    check(
        switch(&repo, &switch_args("other", false, false)),
        Ok("Switched to branch 'other'"),
    );
    assert_eq!(f.git(&["branch", "--show-current"]), "other\n");
    assert_eq!(porcelain(&f), " M dir/b.txt\n");
    assert_eq!(
        std::fs::read_to_string(f.path().join("a.txt")).unwrap(),
        "other\n"
    );
}

#[test]
fn switch_create_and_detach() {
    let f = base();
    let first = f.git(&["rev-parse", "HEAD"]);
    f.commit("second", &[("a.txt", "2\n")]);
    let repo = f.open();
    f.write("dir/b.txt", "local\n");
    check(
        switch(&repo, &switch_args("topic", true, false)),
        Ok("Switched to a new branch 'topic'"),
    );
    assert_eq!(f.git(&["branch", "--show-current"]), "topic\n");
    assert_eq!(
        f.git(&["rev-parse", "topic"]),
        f.git(&["rev-parse", "main"])
    );
    assert_eq!(porcelain(&f), " M dir/b.txt\n");
    check(
        switch(&repo, &switch_args("main", true, false)),
        Err("already exists"),
    );
    check(
        switch(&repo, &switch_args("main", true, true)),
        Err("exclude each other"),
    );
    check(
        switch(&repo, &switch_args("HEAD~1", false, true)),
        Ok("HEAD is now at "),
    );
    assert_eq!(f.git(&["rev-parse", "HEAD"]), first);
    assert_eq!(f.git(&["branch", "--show-current"]), "");
    assert_eq!(
        std::fs::read_to_string(f.path().join("a.txt")).unwrap(),
        "one\ntwo\n"
    );
    check(
        switch(&repo, &switch_args("-x", false, true)),
        Err("must not start with '-'"),
    );
    check(
        switch(&repo, &switch_args("-x", false, false)),
        Err("must not start with '-'"),
    );
    check(
        switch(&repo, &switch_args("nope", false, true)),
        Err("unknown revision 'nope'"),
    );
    // On an empty repository `switch -c` just renames the unborn branch.
    let empty = Fixture::new();
    check(
        switch(&empty.open(), &switch_args("trunk", true, false)),
        Ok("new branch 'trunk'"),
    );
    assert_eq!(empty.git(&["symbolic-ref", "HEAD"]), "refs/heads/trunk\n");
}

#[test]
fn non_utf8_file_names() {
    let f = base();
    let repo = f.open();
    let name = OsStr::from_bytes(b"caf\xe9.txt");
    std::fs::write(f.path().join(name), "latin-1 name\n").unwrap();
    check(
        add(&repo, &add_args(&[], true)),
        Ok("staged: \"caf\\351.txt\""),
    );
    check(
        commit(&repo, &commit_args("latin", false, false), &me()),
        Ok(" 1 file changed, 1 insertion(+)"),
    );
    assert_eq!(
        f.git(&["ls-files"]),
        ".gitignore\na.txt\n\"caf\\351.txt\"\ndir/b.txt\n"
    );
    std::fs::write(f.path().join(name), "changed\n").unwrap();
    check(
        commit(&repo, &commit_args("latin 2", true, false), &me()),
        Ok(" 1 file changed"),
    );
    assert_eq!(porcelain(&f), "");
}
