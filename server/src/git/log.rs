//! Commit history, as `git log --format='%h %ad %an %s' --date=short`.
//!
//! Order: newest first by committer date, as git's default walk. Filters behave like git's:
//! - `paths` use git's default history simplification: a commit is listed when it changes a path
//!   compared with its parent; a merge that equals one of its parents at the paths is not listed
//!   and only that parent's side is followed.
//! - `since`/`until` compare the committer date (as git does); a bare `YYYY-MM-DD` is a UTC day,
//!   inclusive at both ends. Parents of a commit older than `since` are not walked.
//! - `author` is a case-insensitive substring of the author's name or email; `grep` a regex over
//!   the message (`^`/`$` match at line ends).
//!
//! The "more" line counts what lies beyond the page by walking on, boundedly: an unfiltered
//! log counts at most [`COUNT_CAP`] commits past the page, a filtered one examines at most
//! [`COUNT_BUDGET`]; past that the line says "at least N". Walking costs about 0.15 µs a commit
//! once libgit2's object cache holds it (about 3 µs when first read from a pack), so the default
//! page of a long history stays near 50 µs.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::path::Path;

use chrono::{DateTime, NaiveDate};
use serde::Deserialize;
use serde_json::{Value, json};

use super::fmt::{plural, rfc3339, short_date, short_id};
use super::safety::{RepoPath, RevSpec};
use super::{Error, Output, Repo, more_line, pattern, resolve_commit};

/// Arguments of `git_log`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogArgs {
    pub rev: Option<String>,
    pub max_count: Option<usize>,
    pub skip: Option<usize>,
    #[serde(default)]
    pub paths: Vec<String>,
    /// Substring of author name or email.
    pub author: Option<String>,
    /// Date (YYYY-MM-DD or RFC 3339).
    pub since: Option<String>,
    pub until: Option<String>,
    /// Regex over the message.
    pub grep: Option<String>,
}

/// Field names a `json: [...]` projection may ask for (the tool's schema lists them).
pub const FIELDS: &[&str] = &[
    "sha", "short", "date", "author", "email", "subject", "parents",
];
const DEFAULT_COUNT: usize = 10;
/// A larger page is cut to this; the "more" line says how to go on.
const MAX_COUNT: usize = 500;
/// Commits counted past the page of an unfiltered log before saying "at least".
const COUNT_CAP: usize = 200;
/// Commits examined past the page of a filtered log before saying "at least".
const COUNT_BUDGET: usize = 10_000;

/// Runs `git_log`.
pub fn log(repo: &Repo, args: &LogArgs) -> Result<Output, Error> {
    let rev = RevSpec::new(args.rev.as_deref().unwrap_or("HEAD"))?;
    let paths = RepoPath::all(repo.root(), &args.paths)?;
    let filter = Filter::new(args)?;
    let max_count = match args.max_count {
        Some(0) => return Err(Error::Refused("max_count must be at least 1".into())),
        Some(n) => n.min(MAX_COUNT),
        None => DEFAULT_COUNT,
    };
    let skip = args.skip.unwrap_or(0);

    let git = repo.lock();
    let start = match resolve_commit(&git, &rev) {
        Ok(commit) => commit,
        // Listing nothing is the truthful answer for a repository without commits.
        Err(Error::EmptyRepository) => return Ok(finish(Vec::new(), "(no commits yet)", None)),
        Err(e) => return Err(e),
    };
    let page = page(&git, &start, &paths, &filter, skip, max_count)?;
    if !page.touched && skip == 0 {
        // Nothing ever touched the paths: a path absent from the start revision is a typo
        // more often than the history of a deleted file.
        let tree = start.tree()?;
        if let Some(p) = paths
            .iter()
            .find(|p| tree.get_path(Path::new(p.as_str())).is_err())
        {
            return Err(Error::PathNotFound {
                path: p.as_str().to_owned(),
                at: rev.as_str().to_owned(),
            });
        }
    }

    let mut lines = Vec::with_capacity(page.commits.len());
    let mut records = Vec::with_capacity(page.commits.len());
    for c in &page.commits {
        let author = c.author();
        let name = String::from_utf8_lossy(author.name_bytes());
        let subject = String::from_utf8_lossy(c.summary_bytes().unwrap_or_default());
        let short = short_id(c.id());
        let date = short_date(author.when());
        lines.push(format!("{short} {date} {name} {subject}"));
        records.push(json!({
            "sha": c.id().to_string(),
            "short": short,
            "date": rfc3339(author.when()),
            "author": name,
            "email": String::from_utf8_lossy(author.email_bytes()),
            "subject": subject,
            "parents": c.parent_ids().map(|id| id.to_string()).collect::<Vec<_>>(),
        }));
    }
    let next = skip + page.commits.len();
    let how = format!("pass skip={next}");
    let mut text = lines.join("\n");
    let more = match page.more {
        More::Exact(n) => more_line(&mut text, n, plural(n, "commit"), &how),
        More::AtLeast(0) => push_line(
            &mut text,
            format!("... maybe more commits (stopped counting); {how}"),
        ),
        More::AtLeast(n) => push_line(&mut text, format!("... at least {n} more commits; {how}")),
    };
    if records.is_empty() && more.is_none() {
        let empty = if skip > 0 {
            "(no commits past skip)"
        } else {
            "(no matching commits)"
        };
        return Ok(finish(records, empty, None));
    }
    Ok(finish(records, &text, more))
}

fn finish(records: Vec<Value>, text: &str, more: Option<String>) -> Output {
    Output {
        text: text.to_owned(),
        data: Value::Array(records),
        fields: FIELDS,
        more,
    }
}

/// Appends a "more" line that [`more_line`] cannot word (a lower bound).
fn push_line(text: &mut String, line: String) -> Option<String> {
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(&line);
    Some(line)
}

/// How many commits lie beyond the page.
enum More {
    Exact(usize),
    AtLeast(usize),
}

struct Page<'r> {
    commits: Vec<git2::Commit<'r>>,
    more: More,
    /// Some walked commit touched the paths (always true without paths).
    touched: bool,
}

/// One page of the log, and how many commits lie beyond it.
///
/// The walk is ours, not libgit2's: a libgit2 walk sorted by time first walks the whole history
/// (any sorting marks it "limited"), and an unsorted one is not in git's order.
fn page<'r>(
    git: &'r git2::Repository,
    start: &git2::Commit<'r>,
    paths: &[RepoPath],
    filter: &Filter,
    skip: usize,
    max_count: usize,
) -> Result<Page<'r>, Error> {
    let mut walk = Simplified {
        git,
        paths,
        since: filter.since,
        heap: BinaryHeap::new(),
        seen: HashSet::new(),
        seq: 0,
    };
    walk.push(start);
    let mut touched = false;
    let mut skipped = 0;
    let mut commits = Vec::with_capacity(max_count);
    let unfiltered = paths.is_empty() && filter.is_empty();
    while commits.len() < max_count {
        let Some((commit, shown)) = walk.next()? else {
            return Ok(Page {
                commits,
                more: More::Exact(0),
                touched,
            });
        };
        touched |= shown;
        if shown && filter.matches(&commit) {
            if skipped < skip {
                skipped += 1;
            } else {
                commits.push(commit);
            }
        }
    }
    // Counting goes on with the same walk: its commits come from libgit2's object cache once
    // read, where a libgit2 revwalk would inflate and hash every commit again on each call.
    let budget = if unfiltered { COUNT_CAP } else { COUNT_BUDGET };
    let mut counted = 0;
    for _ in 0..budget {
        let Some((commit, shown)) = walk.next()? else {
            return Ok(Page {
                commits,
                more: More::Exact(counted),
                touched,
            });
        };
        counted += usize::from(shown && filter.matches(&commit));
    }
    let more = if walk.heap.is_empty() {
        More::Exact(counted)
    } else {
        More::AtLeast(counted)
    };
    Ok(Page {
        commits,
        more,
        touched,
    })
}

/// A walk in committer-date order with git's default history simplification by path.
struct Simplified<'r, 'p> {
    git: &'r git2::Repository,
    paths: &'p [RepoPath],
    since: Option<i64>,
    /// Newest first; among equal dates, first queued first.
    heap: BinaryHeap<(i64, Reverse<u64>, git2::Oid)>,
    seen: HashSet<git2::Oid>,
    seq: u64,
}

impl<'r> Simplified<'r, '_> {
    fn push(&mut self, commit: &git2::Commit<'_>) {
        if self.seen.insert(commit.id()) {
            self.heap
                .push((commit.time().seconds(), Reverse(self.seq), commit.id()));
            self.seq += 1;
        }
    }

    /// The next commit, and whether the path rules list it.
    fn next(&mut self) -> Result<Option<(git2::Commit<'r>, bool)>, Error> {
        let Some((_, _, id)) = self.heap.pop() else {
            return Ok(None);
        };
        let commit = self.git.find_commit(id)?;
        if self.since.is_some_and(|s| commit.time().seconds() < s) {
            return Ok(Some((commit, false)));
        }
        let parents: Vec<git2::Commit<'r>> = commit.parents().collect();
        if self.paths.is_empty() {
            for p in &parents {
                self.push(p);
            }
            return Ok(Some((commit, true)));
        }
        let mine = self.entries(&commit)?;
        if parents.is_empty() {
            return Ok(Some((commit, mine.iter().any(Option::is_some))));
        }
        for p in &parents {
            if self.entries(p)? == mine {
                // Same as this parent at the paths: the change came from there; follow it only.
                self.push(p);
                return Ok(Some((commit, false)));
            }
        }
        for p in &parents {
            self.push(p);
        }
        Ok(Some((commit, true)))
    }

    /// What each path is in the commit's tree (id and mode), or `None` where it is absent.
    fn entries(&self, commit: &git2::Commit<'_>) -> Result<Vec<Option<(git2::Oid, i32)>>, Error> {
        let tree = commit.tree()?;
        Ok(self
            .paths
            .iter()
            .map(|p| {
                tree.get_path(Path::new(p.as_str()))
                    .ok()
                    .map(|e| (e.id(), e.filemode()))
            })
            .collect())
    }
}

/// The validated non-path filters.
struct Filter {
    author: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
    grep: Option<regex::Regex>,
}

impl Filter {
    fn new(args: &LogArgs) -> Result<Self, Error> {
        let grep = args
            .grep
            .as_deref()
            .map(|grep| {
                let options = pattern::Options {
                    multi_line: true,
                    ..Default::default()
                };
                pattern::text_regex(grep, options)
            })
            .transpose()?;
        Ok(Self {
            author: args.author.as_deref().map(str::to_lowercase),
            since: args
                .since
                .as_deref()
                .map(|s| parse_date("since", s, false))
                .transpose()?,
            until: args
                .until
                .as_deref()
                .map(|s| parse_date("until", s, true))
                .transpose()?,
            grep,
        })
    }

    fn is_empty(&self) -> bool {
        self.author.is_none() && self.since.is_none() && self.until.is_none() && self.grep.is_none()
    }

    fn matches(&self, commit: &git2::Commit<'_>) -> bool {
        let time = commit.time().seconds();
        if self.since.is_some_and(|s| time < s) || self.until.is_some_and(|u| time > u) {
            return false;
        }
        if let Some(needle) = &self.author {
            let author = commit.author();
            let hit = |bytes: &[u8]| {
                String::from_utf8_lossy(bytes)
                    .to_lowercase()
                    .contains(needle)
            };
            if !hit(author.name_bytes()) && !hit(author.email_bytes()) {
                return false;
            }
        }
        self.grep
            .as_ref()
            .is_none_or(|re| re.is_match(&String::from_utf8_lossy(commit.message_bytes())))
    }
}

/// `YYYY-MM-DD` (a UTC day: its start, or its end when `end_of_day`) or RFC 3339.
fn parse_date(arg: &str, value: &str, end_of_day: bool) -> Result<i64, Error> {
    let refuse = || {
        Error::Refused(format!(
            "{arg} '{value}' is not a date; use YYYY-MM-DD or RFC 3339 (2024-01-31T12:00:00Z)"
        ))
    };
    if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let time = if end_of_day {
            day.and_hms_opt(23, 59, 59)
        } else {
            day.and_hms_opt(0, 0, 0)
        };
        return time.map(|t| t.and_utc().timestamp()).ok_or_else(refuse);
    }
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.timestamp())
        .map_err(|_| refuse())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

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
}
