//! `git_diff` against plain `git diff` on the same repositories.

#![allow(clippy::unwrap_used)]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use super::*;
use crate::git::testutil::Fixture;

fn run(f: &Fixture, args: DiffArgs) -> Result<Output, Error> {
    diff(&f.open(), &args)
}

/// Our text for `args` must equal `git diff <git_args>` byte for byte.
fn check(f: &Fixture, args: DiffArgs, git_args: &[&str]) {
    let got = run(f, args.clone()).unwrap();
    let mut cmd = vec!["diff"];
    cmd.extend_from_slice(git_args);
    let want = f.git(&cmd);
    let want = if want.is_empty() {
        "(no changes)"
    } else {
        want.trim_end()
    };
    assert_eq!(got.text, want, "{args:?} vs git {git_args:?}");
    assert_eq!(got.more, None);
    check_numstat(f, &got, git_args);
}

/// The records' counts must equal `git diff --numstat` (binary files: `-`).
fn check_numstat(f: &Fixture, got: &Output, git_args: &[&str]) {
    let mut cmd = vec!["diff", "--numstat", "-z"];
    cmd.extend_from_slice(git_args);
    let raw = f.git(&cmd);
    let mut want = Vec::new();
    let mut fields = raw.split('\0');
    while let Some(head) = fields.next() {
        if head.is_empty() {
            continue;
        }
        let mut parts = head.splitn(3, '\t');
        let (add, del, path) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        // -z: a rename is "add\tdel\t\0old\0new".
        let path = if path.is_empty() {
            fields.next().unwrap();
            fields.next().unwrap()
        } else {
            path
        };
        want.push(format!("{add} {del} {path}"));
    }
    let records = got.data.as_array().unwrap();
    let mine: Vec<String> = records
        .iter()
        .map(|r| {
            let (add, del) = if r["binary"] == true {
                ("-".to_owned(), "-".to_owned())
            } else {
                (r["additions"].to_string(), r["deletions"].to_string())
            };
            // numstat -z writes raw bytes; our records quote what is not UTF-8.
            let path = r["path"].as_str().unwrap().to_owned();
            format!("{add} {del} {path}")
        })
        .collect();
    if records
        .iter()
        .all(|r| !r["path"].as_str().unwrap().starts_with('"'))
    {
        assert_eq!(mine, want, "numstat {git_args:?}");
    } else {
        assert_eq!(mine.len(), want.len(), "numstat {git_args:?}");
    }
}

fn check_err(f: &Fixture, args: DiffArgs, want: &str) {
    let err = run(f, args.clone()).expect_err("should fail");
    assert!(err.to_string().contains(want), "{args:?}: {err}");
}

fn args() -> DiffArgs {
    DiffArgs::default()
}

fn base() -> Fixture {
    let f = Fixture::new();
    f.commit(
        "one",
        &[
            ("a.txt", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n"),
            ("src/lib.rs", "fn main() {\n    println!(\"hi\");\n}\n"),
            ("keep.txt", "keep\n"),
        ],
    );
    f.commit("two", &[("a.txt", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n")]);
    f
}

#[test]
fn the_four_modes_match_git() {
    let f = base();
    f.write("a.txt", "1\n2\n3\n4\nfive\n6\n7\n8\n9\nten\n");
    f.write(
        "src/lib.rs",
        "fn main() {\n    println!(\"hello\");\n}\nno newline",
    );
    f.git(&["add", "src/lib.rs"]);
    f.write("new-untracked.txt", "not shown by git diff\n");
    check(&f, args(), &[]);
    check(
        &f,
        DiffArgs {
            staged: Some(true),
            ..args()
        },
        &["--staged"],
    );
    check(
        &f,
        DiffArgs {
            from: Some("HEAD~1".into()),
            ..args()
        },
        &["HEAD~1"],
    );
    check(
        &f,
        DiffArgs {
            from: Some("HEAD~1".into()),
            to: Some("main".into()),
            ..args()
        },
        &["HEAD~1", "main"],
    );
    check(
        &f,
        DiffArgs {
            from: Some("main".into()),
            to: Some("HEAD~1".into()),
            ..args()
        },
        &["main", "HEAD~1"],
    );
}

#[test]
fn paths_limit_by_file_or_directory() {
    let f = base();
    f.write("a.txt", "changed\n");
    f.write("src/lib.rs", "changed\n");
    check(
        &f,
        DiffArgs {
            paths: vec!["src".into()],
            ..args()
        },
        &["--", "src"],
    );
    check(
        &f,
        DiffArgs {
            paths: vec!["a.txt".into()],
            ..args()
        },
        &["--", "a.txt"],
    );
    // A path that exists but did not change is an empty diff, not an error.
    check(
        &f,
        DiffArgs {
            paths: vec!["keep.txt".into()],
            ..args()
        },
        &["--", "keep.txt"],
    );
    // "sr" is not a prefix of "src/lib.rs" in pathspec terms.
    check_err(
        &f,
        DiffArgs {
            paths: vec!["sr".into()],
            ..args()
        },
        "path 'sr' not found",
    );
    // A glob character is literal.
    check_err(
        &f,
        DiffArgs {
            paths: vec!["*.txt".into()],
            ..args()
        },
        "not found",
    );
}

#[test]
fn renames_are_detected() {
    let f = base();
    f.git(&["mv", "keep.txt", "kept.txt"]);
    f.git(&["mv", "src/lib.rs", "src/main.rs"]);
    f.write(
        "src/main.rs",
        "fn main() {\n    println!(\"hi\");\n}\n// more\n",
    );
    f.git(&["add", "-A"]);
    let out = run(
        &f,
        DiffArgs {
            staged: Some(true),
            ..args()
        },
    )
    .unwrap();
    assert!(
        out.text
            .contains("rename from src/lib.rs\nrename to src/main.rs\nindex "),
        "{}",
        out.text
    );
    assert!(
        out.text
            .contains("similarity index 100%\nrename from keep.txt\nrename to kept.txt"),
        "{}",
        out.text
    );
    check_numstat(&f, &out, &["--staged"]);
    let stat = run(
        &f,
        DiffArgs {
            staged: Some(true),
            stat: Some(true),
            ..args()
        },
    )
    .unwrap();
    assert_eq!(
        stat.text,
        f.git(&["diff", "--staged", "--stat=80"]).trim_end()
    );
    let rec = &out.data[1];
    assert_eq!(rec["status"], "renamed");
    assert_eq!(rec["old_path"], "src/lib.rs");
    assert_eq!(rec["path"], "src/main.rs");
    // Only the pure rename: exactly git's text.
    f.git(&["commit", "-q", "-m", "renames"]);
    f.git(&["mv", "kept.txt", "src/kept.txt"]);
    check(
        &f,
        DiffArgs {
            staged: Some(true),
            ..args()
        },
        &["--staged"],
    );
    let stat = run(
        &f,
        DiffArgs {
            staged: Some(true),
            stat: Some(true),
            ..args()
        },
    )
    .unwrap();
    assert_eq!(
        stat.text,
        f.git(&["diff", "--staged", "--stat=80"]).trim_end()
    );
}

#[test]
fn binary_files_are_never_dumped() {
    let f = base();
    f.write("img.bin", b"\x89PNG\0\0\x01\x02binary".as_slice());
    f.git(&["add", "img.bin"]);
    f.git(&["commit", "-q", "-m", "bin"]);
    f.write("img.bin", b"\x89PNG\0\0\x01\x03binary!".as_slice());
    check(&f, args(), &[]);
    let out = run(&f, args()).unwrap();
    assert!(
        out.text
            .contains("Binary files a/img.bin and b/img.bin differ")
    );
    assert!(!out.text.contains("PNG"));
    assert_eq!(out.data[0]["binary"], true);
    let stat = run(
        &f,
        DiffArgs {
            stat: Some(true),
            ..args()
        },
    )
    .unwrap();
    assert_eq!(stat.text, f.git(&["diff", "--stat=80"]).trim_end());
    check(
        &f,
        DiffArgs {
            from: Some("HEAD~1".into()),
            to: Some("HEAD".into()),
            ..args()
        },
        &["HEAD~1", "HEAD"],
    );
}

#[test]
fn non_utf8_names_are_quoted_like_git() {
    let f = base();
    let name = OsStr::from_bytes(b"bad\xffname.txt");
    std::fs::write(f.path().join(name), "x\n").unwrap();
    f.git(&["add", "-A"]);
    check(
        &f,
        DiffArgs {
            staged: Some(true),
            ..args()
        },
        &["--staged"],
    );
    let out = run(
        &f,
        DiffArgs {
            staged: Some(true),
            ..args()
        },
    )
    .unwrap();
    assert_eq!(out.data[0]["path"], "\"bad\\377name.txt\"");
    assert!(
        out.text
            .starts_with("diff --git \"a/bad\\377name.txt\" \"b/bad\\377name.txt\"")
    );
    let stat = run(
        &f,
        DiffArgs {
            staged: Some(true),
            stat: Some(true),
            ..args()
        },
    )
    .unwrap();
    assert_eq!(
        stat.text,
        f.git(&["diff", "--staged", "--stat=80"]).trim_end()
    );
}

#[test]
fn names_with_spaces_end_with_a_tab_like_git() {
    let f = base();
    f.write("with space.txt", "x\n");
    f.git(&["add", "-A"]);
    check(
        &f,
        DiffArgs {
            staged: Some(true),
            ..args()
        },
        &["--staged"],
    );
}

#[test]
fn empty_repository() {
    let f = Fixture::new();
    check(&f, args(), &[]);
    check(
        &f,
        DiffArgs {
            staged: Some(true),
            ..args()
        },
        &["--staged"],
    );
    f.write("a.txt", "a\n");
    f.write("empty", "");
    f.git(&["add", "a.txt", "empty"]);
    f.write("a.txt", "a\nb\n");
    check(&f, args(), &[]);
    check(
        &f,
        DiffArgs {
            staged: Some(true),
            ..args()
        },
        &["--staged"],
    );
    check_err(
        &f,
        DiffArgs {
            from: Some("HEAD".into()),
            ..args()
        },
        "no commits yet",
    );
}

#[test]
fn detached_head_and_modes() {
    let f = base();
    f.git(&["checkout", "-q", "--detach", "HEAD~1"]);
    f.git(&["update-index", "--chmod=+x", "keep.txt"]);
    f.git(&["rm", "-q", "--cached", "src/lib.rs"]);
    check(
        &f,
        DiffArgs {
            staged: Some(true),
            ..args()
        },
        &["--staged"],
    );
    check(
        &f,
        DiffArgs {
            from: Some("main".into()),
            ..args()
        },
        &["main"],
    );
    check(&f, args(), &[]);
}

#[test]
fn diffstat_matches_git() {
    let f = base();
    let long: String = (0..200).map(|i| format!("line {i}\n")).collect();
    let longer_name = format!(
        "very/long/directory/name/that/goes/on/{}.txt",
        "x".repeat(60)
    );
    f.write("big.txt", &long);
    f.write(&longer_name, "a\n");
    f.write("a.txt", "1\n");
    f.git(&["add", "-A"]);
    let out = run(
        &f,
        DiffArgs {
            staged: Some(true),
            stat: Some(true),
            ..args()
        },
    )
    .unwrap();
    assert_eq!(
        out.text,
        f.git(&["diff", "--staged", "--stat=80"]).trim_end()
    );
    check_numstat(&f, &out, &["--staged"]);
    f.git(&["commit", "-q", "-m", "more"]);
    f.git(&["rm", "-q", "big.txt"]);
    let out = run(
        &f,
        DiffArgs {
            staged: Some(true),
            stat: Some(true),
            ..args()
        },
    )
    .unwrap();
    assert_eq!(
        out.text,
        f.git(&["diff", "--staged", "--stat=80"]).trim_end()
    );
}

#[test]
fn long_patches_are_windowed() {
    let f = base();
    let long: String = (0..400).map(|i| format!("line {i}\n")).collect();
    f.write("big.txt", &long);
    f.git(&["add", "big.txt"]);
    let full = f.git(&["diff", "--staged"]);
    let total = full.lines().count();
    let first = run(
        &f,
        DiffArgs {
            staged: Some(true),
            ..args()
        },
    )
    .unwrap();
    let more = format!("... {} more lines; pass offset=300", total - 300);
    assert_eq!(first.more.as_deref(), Some(more.as_str()));
    let rest = run(
        &f,
        DiffArgs {
            staged: Some(true),
            offset: Some(300),
            ..args()
        },
    )
    .unwrap();
    assert_eq!(rest.more, None);
    let joined = format!(
        "{}\n{}",
        first.text.strip_suffix(&more).unwrap().trim_end(),
        rest.text
    );
    assert_eq!(joined, full.trim_end());
    let small = run(
        &f,
        DiffArgs {
            staged: Some(true),
            offset: Some(10),
            max_lines: Some(5),
            ..args()
        },
    )
    .unwrap();
    let want: Vec<&str> = full.lines().skip(10).take(5).collect();
    assert_eq!(small.text.lines().take(5).collect::<Vec<_>>(), want);
    assert_eq!(
        small.more.as_deref(),
        Some(format!("... {} more lines; pass offset=15", total - 15).as_str())
    );
    let past = run(
        &f,
        DiffArgs {
            staged: Some(true),
            offset: Some(10_000),
            ..args()
        },
    )
    .unwrap();
    assert_eq!(
        past.text,
        format!("(offset 10000 is past the end: {total} lines)")
    );
    check_err(
        &f,
        DiffArgs {
            max_lines: Some(0),
            ..args()
        },
        "max_lines",
    );
}

#[test]
fn bad_inputs_are_refused() {
    let f = base();
    check_err(
        &f,
        DiffArgs {
            to: Some("HEAD".into()),
            ..args()
        },
        "'to' needs 'from'",
    );
    check_err(
        &f,
        DiffArgs {
            staged: Some(true),
            from: Some("HEAD".into()),
            ..args()
        },
        "cannot be combined",
    );
    check_err(
        &f,
        DiffArgs {
            from: Some("mian".into()),
            ..args()
        },
        "nearest: main",
    );
    check_err(
        &f,
        DiffArgs {
            from: Some("-R".into()),
            ..args()
        },
        "must not start with '-'",
    );
    check_err(
        &f,
        DiffArgs {
            from: Some("HEAD".into()),
            to: Some("--output=x".into()),
            ..args()
        },
        "must not start with '-'",
    );
    check_err(
        &f,
        DiffArgs {
            from: Some("HEAD~1..HEAD".into()),
            ..args()
        },
        "ranges",
    );
    check_err(
        &f,
        DiffArgs {
            paths: vec!["../x".into()],
            ..args()
        },
        "'..'",
    );
    check_err(
        &f,
        DiffArgs {
            paths: vec!["nope".into()],
            ..args()
        },
        "path 'nope' not found at the index or worktree",
    );
    check_err(
        &f,
        DiffArgs {
            from: Some("HEAD~1".into()),
            to: Some("HEAD".into()),
            paths: vec!["nope".into()],
            ..args()
        },
        "not found at HEAD~1 or HEAD",
    );
}

#[test]
fn long_history_small_change() {
    let f = crate::git::testutil::history(1_000);
    f.write("f", "changed\n");
    check(&f, args(), &[]);
    check(
        &f,
        DiffArgs {
            from: Some("HEAD~500".into()),
            ..args()
        },
        &["HEAD~500"],
    );
    check(
        &f,
        DiffArgs {
            from: Some("HEAD~999".into()),
            to: Some("HEAD~3".into()),
            ..args()
        },
        &["HEAD~999", "HEAD~3"],
    );
}

/// Prints the cost of a small worktree diff on a 1,000-commit history (never asserted).
#[test]
#[ignore = "measurement"]
fn measure_diff_on_long_history() {
    let f = crate::git::testutil::history(1_000);
    f.write("f", "changed\n");
    let repo = f.open();
    for (name, a) in [
        ("diff", args()),
        (
            "diff --staged",
            DiffArgs {
                staged: Some(true),
                ..args()
            },
        ),
        (
            "diff HEAD~1 HEAD",
            DiffArgs {
                from: Some("HEAD~1".into()),
                to: Some("HEAD".into()),
                ..args()
            },
        ),
    ] {
        let per_call = crate::git::testutil::cpu_per_call(2_000, || {
            diff(&repo, &a).unwrap();
        });
        println!("{name}: {per_call:?} CPU per call");
    }
}
