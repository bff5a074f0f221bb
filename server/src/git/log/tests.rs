//! `git_log` against plain `git log` on the same repositories.

#![allow(clippy::unwrap_used)]

use chrono::DateTime;

use super::walk::COUNT_CAP;
use super::*;
use crate::git::testutil::{Fixture, cpu_per_call, history};

const FORMAT: &str = "--format=%h %ad %an %s";

fn run(f: &Fixture, args: LogArgs) -> Result<Output, Error> {
    log(&f.open(), &args)
}

/// Our commit lines for `args` must equal
/// `git log --format='%h %ad %an %s' --date=short <git_args>` (the "more" line aside).
fn check(f: &Fixture, args: LogArgs, git_args: &[&str]) {
    let got = run(f, args.clone()).unwrap();
    let mut cmd = vec!["log", FORMAT, "--date=short"];
    cmd.extend_from_slice(git_args);
    let want = f.git(&cmd);
    let text = match &got.more {
        Some(more) => got.text.strip_suffix(more.as_str()).unwrap().trim_end(),
        None => got.text.as_str(),
    };
    assert_eq!(text, want.trim_end(), "{args:?} vs git {git_args:?}");
}

fn check_err(f: &Fixture, args: LogArgs, want: &str) {
    let err = run(f, args.clone()).expect_err("should fail");
    assert!(err.to_string().contains(want), "{args:?}: {err}");
}

fn args() -> LogArgs {
    LogArgs::default()
}

/// main: a - b - M - d, where M merges a side branch (c1 touches `side.txt`, c2 touches
/// `f.txt` and is then reverted on main so M equals main at `f.txt`).
fn merged() -> Fixture {
    let f = Fixture::new();
    f.commit("a", &[("f.txt", "1\n"), ("side.txt", "s\n")]);
    f.git(&["checkout", "-q", "-b", "side"]);
    f.commit("c1 side", &[("side.txt", "s2\n")]);
    f.commit("c2 f on side", &[("f.txt", "side\n")]);
    f.git(&["checkout", "-q", "main"]);
    f.commit("b", &[("f.txt", "main\n")]);
    f.git(&[
        "merge",
        "-q",
        "--no-ff",
        "-X",
        "ours",
        "-m",
        "Merge side",
        "side",
    ]);
    f.commit("d", &[("d.txt", "d\n")]);
    f
}

#[test]
fn matches_git_log() {
    let f = merged();
    check(
        &f,
        LogArgs {
            max_count: Some(5),
            ..args()
        },
        &["-n5"],
    );
    check(&f, args(), &[]);
    check(
        &f,
        LogArgs {
            rev: Some("side".into()),
            ..args()
        },
        &["side"],
    );
    check(
        &f,
        LogArgs {
            skip: Some(2),
            max_count: Some(2),
            ..args()
        },
        &["--skip=2", "-n2"],
    );
}

#[test]
fn records_carry_the_same_commits() {
    let f = merged();
    let out = run(
        &f,
        LogArgs {
            max_count: Some(3),
            ..args()
        },
    )
    .unwrap();
    let want: Vec<String> = f
        .git(&["log", "--format=%H %P", "-n3"])
        .lines()
        .map(str::to_owned)
        .collect();
    let got: Vec<String> = out
        .data
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let parents: Vec<&str> = r["parents"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap())
                .collect();
            format!("{} {}", r["sha"].as_str().unwrap(), parents.join(" "))
        })
        .collect();
    assert_eq!(got, want);
    let first = &out.data[0];
    assert_eq!(first["subject"], "d");
    assert_eq!(first["author"], "Test Author");
    assert_eq!(first["email"], "test@example.com");
    assert_eq!(first["date"], "2024-01-01T00:05:00+00:00");
    assert_eq!(out.fields, FIELDS);
}

#[test]
fn paths_follow_git_history_simplification() {
    let f = merged();
    // The merge took main's f.txt, so c2 (on the side branch) is simplified away.
    for path in ["f.txt", "side.txt", "d.txt"] {
        check(
            &f,
            LogArgs {
                paths: vec![path.into()],
                ..args()
            },
            &["--", path],
        );
    }
    check(
        &f,
        LogArgs {
            paths: vec!["f.txt".into(), "side.txt".into()],
            ..args()
        },
        &["--", "f.txt", "side.txt"],
    );
}

#[test]
fn directory_paths_and_deleted_files() {
    let f = Fixture::new();
    f.commit("one", &[("src/a.rs", "a\n"), ("top", "t\n")]);
    f.commit("two", &[("src/b.rs", "b\n")]);
    f.commit("three", &[("top", "t2\n")]);
    f.git(&["rm", "-q", "src/a.rs"]);
    f.commit("four: drop a", &[]);
    check(
        &f,
        LogArgs {
            paths: vec!["src".into()],
            ..args()
        },
        &["--", "src"],
    );
    check(
        &f,
        LogArgs {
            paths: vec!["src/a.rs".into()],
            ..args()
        },
        &["--", "src/a.rs"],
    );
}

#[test]
fn author_grep_and_dates_match_git() {
    let f = history(30);
    check(
        &f,
        LogArgs {
            author: Some("OTHER@EXAMPLE".into()),
            ..args()
        },
        &["-i", "--author=other@example", "-n10"],
    );
    check(
        &f,
        LogArgs {
            author: Some("test author".into()),
            max_count: Some(4),
            ..args()
        },
        &["-i", "--author=test author", "-n4"],
    );
    check(
        &f,
        LogArgs {
            grep: Some("^commit 1[0-9]$".into()),
            max_count: Some(20),
            ..args()
        },
        &["-E", "--grep=^commit 1[0-9]$"],
    );
    let since = "2024-01-01T00:20:00Z"; // commit 20
    let until = "2024-01-01T00:25:00+00:00"; // commit 25
    let at = |s: &str| format!("@{}", DateTime::parse_from_rfc3339(s).unwrap().timestamp());
    check(
        &f,
        LogArgs {
            since: Some(since.into()),
            until: Some(until.into()),
            ..args()
        },
        &[
            &format!("--since={}", at(since)),
            &format!("--until={}", at(until)),
        ],
    );
    // A bare day is the whole UTC day.
    let day = run(
        &f,
        LogArgs {
            since: Some("2024-01-01".into()),
            until: Some("2024-01-01".into()),
            max_count: Some(50),
            ..args()
        },
    )
    .unwrap();
    assert_eq!(day.data.as_array().unwrap().len(), 30);
    let none = run(
        &f,
        LogArgs {
            since: Some("2024-01-02".into()),
            ..args()
        },
    )
    .unwrap();
    assert_eq!(none.text, "(no matching commits)");
    // Filters combine with paths.
    check(
        &f,
        LogArgs {
            paths: vec!["even".into()],
            author: Some("other".into()),
            ..args()
        },
        &["-i", "--author=other", "-n10", "--", "even"],
    );
}

#[test]
fn pages_say_how_many_more() {
    let f = history(25);
    let out = run(&f, args()).unwrap();
    assert_eq!(out.text.lines().count(), 11);
    assert_eq!(
        out.more.as_deref(),
        Some("... 15 more commits; pass skip=10")
    );
    assert!(out.text.ends_with("... 15 more commits; pass skip=10"));
    let last = run(
        &f,
        LogArgs {
            skip: Some(20),
            ..args()
        },
    )
    .unwrap();
    assert_eq!(last.more, None);
    assert_eq!(last.text.lines().count(), 5);
    check(
        &f,
        LogArgs {
            skip: Some(20),
            ..args()
        },
        &["--skip=20"],
    );
    let past = run(
        &f,
        LogArgs {
            skip: Some(40),
            ..args()
        },
    )
    .unwrap();
    assert_eq!(past.text, "(no commits past skip)");
    // Filtered walks count too.
    let even = run(
        &f,
        LogArgs {
            paths: vec!["even".into()],
            max_count: Some(5),
            ..args()
        },
    )
    .unwrap();
    assert_eq!(
        even.more.as_deref(),
        Some("... 7 more commits; pass skip=5")
    );
    let capped = run(
        &f,
        LogArgs {
            max_count: Some(100_000),
            ..args()
        },
    )
    .unwrap();
    assert_eq!(capped.data.as_array().unwrap().len(), 25);
}

#[test]
fn long_history() {
    let f = history(1_000);
    check(
        &f,
        LogArgs {
            max_count: Some(5),
            skip: Some(500),
            ..args()
        },
        &["-n5", "--skip=500"],
    );
    let out = run(
        &f,
        LogArgs {
            max_count: Some(5),
            ..args()
        },
    )
    .unwrap();
    assert_eq!(
        out.more.as_deref(),
        Some("... at least 200 more commits; pass skip=5")
    );
    let near_end = run(
        &f,
        LogArgs {
            max_count: Some(5),
            skip: Some(800),
            ..args()
        },
    )
    .unwrap();
    assert_eq!(
        near_end.more.as_deref(),
        Some("... 195 more commits; pass skip=805")
    );
    let even = run(
        &f,
        LogArgs {
            paths: vec!["even".into()],
            ..args()
        },
    )
    .unwrap();
    assert_eq!(
        even.more.as_deref(),
        Some("... 490 more commits; pass skip=10")
    );
    let (head, _) = out.text.split_once('\n').unwrap();
    assert!(
        head.ends_with(" 2024-01-01 Test Author commit 1000"),
        "{head}"
    );
}

#[test]
fn counting_stops_at_the_cap() {
    let f = history(COUNT_CAP + 20);
    let out = run(
        &f,
        LogArgs {
            max_count: Some(5),
            ..args()
        },
    )
    .unwrap();
    assert_eq!(
        out.more.as_deref(),
        Some(format!("... at least {COUNT_CAP} more commits; pass skip=5").as_str())
    );
}

#[test]
fn empty_repository_and_detached_head() {
    let f = Fixture::new();
    let out = run(&f, args()).unwrap();
    assert_eq!(out.text, "(no commits yet)");
    assert_eq!(out.data, Value::Array(Vec::new()));
    let f = merged();
    f.git(&["checkout", "-q", "--detach", "HEAD~1"]);
    check(&f, args(), &[]);
    check(
        &f,
        LogArgs {
            paths: vec!["f.txt".into()],
            ..args()
        },
        &["--", "f.txt"],
    );
}

#[test]
fn bad_inputs_are_refused() {
    let f = merged();
    check_err(
        &f,
        LogArgs {
            rev: Some("mian".into()),
            ..args()
        },
        "nearest: main",
    );
    check_err(
        &f,
        LogArgs {
            rev: Some("-n1".into()),
            ..args()
        },
        "must not start with '-'",
    );
    check_err(
        &f,
        LogArgs {
            rev: Some("--output=/tmp/x".into()),
            ..args()
        },
        "must not start with '-'",
    );
    check_err(
        &f,
        LogArgs {
            paths: vec!["../etc".into()],
            ..args()
        },
        "'..'",
    );
    check_err(
        &f,
        LogArgs {
            paths: vec!["nope.txt".into()],
            ..args()
        },
        "path 'nope.txt' not found at HEAD",
    );
    check_err(
        &f,
        LogArgs {
            grep: Some("(unclosed".into()),
            ..args()
        },
        "bad pattern '(unclosed'",
    );
    check_err(
        &f,
        LogArgs {
            since: Some("yesterday".into()),
            ..args()
        },
        "since 'yesterday' is not a date",
    );
    check_err(
        &f,
        LogArgs {
            until: Some("2024-13-01".into()),
            ..args()
        },
        "until '2024-13-01' is not a date",
    );
    check_err(
        &f,
        LogArgs {
            max_count: Some(0),
            ..args()
        },
        "max_count",
    );
}

#[test]
fn dates_are_shown_in_the_authors_zone() {
    let f = Fixture::new();
    f.write("x", "x\n");
    f.git(&["add", "x"]);
    // 2024-01-01 23:30 UTC is already 2024-01-02 in +0200.
    f.git(&[
        "-c",
        "user.name=Zoned",
        "commit",
        "-q",
        "-m",
        "late",
        "--date=1704151800 +0200",
    ]);
    check(&f, args(), &[]);
    let out = run(&f, args()).unwrap();
    assert_eq!(out.data[0]["date"], "2024-01-02T01:30:00+02:00");
}

/// Not a test of speed (timings are never asserted): prints the CPU cost of the default
/// path on a 1,000-commit history. Run with `--ignored --nocapture` in release mode.
#[test]
#[ignore = "measurement"]
fn measure_log_on_long_history() {
    let f = history(1_000);
    if let Ok(skip) = std::env::var("SKIP") {
        let repo = f.open();
        let a = LogArgs {
            max_count: Some(5),
            skip: Some(skip.parse().unwrap()),
            ..args()
        };
        for _ in 0..500 {
            log(&repo, &a).unwrap();
        }
        return;
    }
    let repo = f.open();
    for (name, a) in [
        (
            "log -n5",
            LogArgs {
                max_count: Some(5),
                ..args()
            },
        ),
        ("log -n10", args()),
        (
            "log -n5 --skip=990",
            LogArgs {
                max_count: Some(5),
                skip: Some(990),
                ..args()
            },
        ),
        (
            "log -n5 -- even",
            LogArgs {
                max_count: Some(5),
                paths: vec!["even".into()],
                ..args()
            },
        ),
    ] {
        let per_call = cpu_per_call(2_000, || {
            log(&repo, &a).unwrap();
        });
        println!("{name}: {per_call:?} CPU per call");
    }
    for extra in [&["repack", "-q", "-a", "-d", "-f"][..], &["gc", "-q"]] {
        f.git(extra);
        let repo = f.open();
        let a = LogArgs {
            max_count: Some(5),
            ..args()
        };
        let per_call = cpu_per_call(2_000, || {
            log(&repo, &a).unwrap();
        });
        println!("after git {extra:?}: log -n5: {per_call:?} CPU per call");
    }
}

/// A range in `rev` lists what `git log A..B` / `git log A...B` lists (issue 15).
#[test]
fn ranges_match_git() {
    let f = merged();
    for range in [
        "main~2..main",
        "side..main",
        "main..side",
        "main...side",
        "side...main",
    ] {
        let with = |more: LogArgs| LogArgs {
            rev: Some(range.into()),
            max_count: Some(50),
            ..more
        };
        let same = |args: LogArgs, git_args: &[&str]| {
            let got = run(&f, args.clone()).unwrap();
            let text = got.text.replace("(no matching commits)", "");
            let mut cmd = vec!["log", FORMAT, "--date=short"];
            cmd.extend_from_slice(git_args);
            assert_eq!(text, f.git(&cmd).trim_end(), "{args:?}");
        };
        same(with(args()), &["-n", "50", range]);
        same(
            with(LogArgs {
                paths: vec!["f.txt".into()],
                ..args()
            }),
            &["-n", "50", range, "--", "f.txt"],
        );
    }
    // One page, and a more line saying there are more.
    let got = run(
        &f,
        LogArgs {
            rev: Some("side...main".into()),
            max_count: Some(1),
            ..args()
        },
    )
    .unwrap();
    assert!(got.more.is_some(), "{}", got.text);
    check_err(
        &f,
        LogArgs {
            rev: Some("a...b...c".into()),
            ..args()
        },
        "",
    );
}
