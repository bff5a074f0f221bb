//! Line authorship, as `git blame -L`, of a file as committed at `rev` (default HEAD; uncommitted
//! edits in the worktree are not blamed).
//!
//! One line per source line, like `git blame --date=short` without the time:
//!
//! ```text
//! 1a2b3c4 (Ada Lovelace 2024-01-01  9) fn main() {
//! ```
//!
//! that is `<short id> (<author, padded> <author date> <line number, right-aligned>) <content>`.
//! At most [`MAX_LINES`] lines per call (the first 200 by default); a "more" line says where to
//! go on. Binary files and directories are refused.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};

use super::fmt::{plural, rfc3339, short_date, short_id};
use super::rev::resolve_commit;
use super::safety::{RepoPath, RevSpec};
use super::{Error, Output, Repo, more_line};

/// Arguments of `git_blame`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlameArgs {
    pub path: String,
    pub rev: Option<String>,
    pub start_line: Option<usize>,
    pub end_line: Option<usize>,
}

/// Field names a `json: [...]` projection may ask for (the tool's schema lists them).
pub const FIELDS: &[&str] = &["line", "sha", "author", "date", "content"];
/// Lines blamed per call.
const MAX_LINES: usize = 200;

/// Runs `git_blame`.
pub fn blame(repo: &Repo, args: &BlameArgs) -> Result<Output, Error> {
    let path = RepoPath::new(repo.root(), &args.path)?;
    let rev = RevSpec::new(args.rev.as_deref().unwrap_or("HEAD"))?;
    let start = args.start_line.unwrap_or(1);
    if start == 0 {
        return Err(Error::Refused("start_line counts from 1".into()));
    }
    if let Some(end) = args.end_line
        && end < start
    {
        return Err(Error::Refused(format!(
            "end_line {end} is before start_line {start}"
        )));
    }

    let git = repo.lock();
    let commit = resolve_commit(&git, &rev)?;
    let blob = text_blob(&git, &commit, &path, &rev)?;
    let lines: Vec<&[u8]> = split_lines(blob.content());
    let total = lines.len();
    if total == 0 {
        return Ok(Output {
            text: "(empty file)".into(),
            data: Value::Array(Vec::new()),
            fields: FIELDS,
            more: None,
        });
    }
    if start > total {
        return Err(Error::Refused(format!(
            "start_line {start} is past the end: '{}' has {total} lines at {}",
            path.as_str(),
            rev.as_str()
        )));
    }
    let wanted_end = args.end_line.unwrap_or(usize::MAX).min(total);
    let end = wanted_end.min(start + MAX_LINES - 1);

    let mut opts = git2::BlameOptions::new();
    opts.newest_commit(commit.id())
        .min_line(start)
        .max_line(end);
    let blame = git.blame_file(Path::new(path.as_str()), Some(&mut opts))?;
    let (mut text, records) = Blamed::read(&git, &blame, start, end)?.render(&lines, end);
    let more = more_line(
        &mut text,
        wanted_end - end,
        plural(wanted_end - end, "line"),
        &format!("pass start_line={}", end + 1),
    );
    Ok(Output {
        text,
        data: Value::Array(records),
        fields: FIELDS,
        more,
    })
}

/// The blob at `path` in `commit`'s tree (`rev` names it in messages); directories, submodules
/// and binary files are refused.
fn text_blob<'r>(
    git: &'r git2::Repository,
    commit: &git2::Commit<'r>,
    path: &RepoPath,
    rev: &RevSpec,
) -> Result<git2::Blob<'r>, Error> {
    let not_found = || Error::PathNotFound {
        path: path.as_str().to_owned(),
        at: rev.as_str().to_owned(),
    };
    let entry = commit
        .tree()?
        .get_path(Path::new(path.as_str()))
        .map_err(|_| not_found())?;
    if entry.kind() != Some(git2::ObjectType::Blob) {
        return Err(Error::Refused(format!(
            "'{}' is not a file at {}; blame takes a file",
            path.as_str(),
            rev.as_str()
        )));
    }
    let blob = git.find_blob(entry.id())?;
    if blob.is_binary() {
        return Err(Error::Refused(format!(
            "'{}' is a binary file; blame shows text files only",
            path.as_str()
        )));
    }
    Ok(blob)
}

/// Who last changed a line: the commit's short id and author, as the text and records show them.
struct Who {
    short: String,
    author: String,
    date: String,
    rfc3339: String,
}

impl Who {
    fn new(id: git2::Oid, sig: &git2::Signature<'_>) -> Self {
        Self {
            short: short_id(id),
            author: String::from_utf8_lossy(sig.name_bytes()).into_owned(),
            date: short_date(sig.when()),
            rfc3339: rfc3339(sig.when()),
        }
    }
}

/// Each blamed line's commit, and who each of those commits is (read once each).
struct Blamed {
    /// Line numbers and their commits, in order.
    rows: Vec<(usize, git2::Oid)>,
    who: HashMap<git2::Oid, Who>,
}

impl Blamed {
    /// Reads lines `start..=end` of `blame`.
    fn read(
        git: &git2::Repository,
        blame: &git2::Blame<'_>,
        start: usize,
        end: usize,
    ) -> Result<Self, Error> {
        let mut who: HashMap<git2::Oid, Who> = HashMap::new();
        let mut rows: Vec<(usize, git2::Oid)> = Vec::with_capacity(end - start + 1);
        for lineno in start..=end {
            let hunk = blame
                .get_line(lineno)
                .ok_or_else(|| Error::Refused(format!("blame has no answer for line {lineno}")))?;
            let id = hunk.final_commit_id();
            if let std::collections::hash_map::Entry::Vacant(slot) = who.entry(id) {
                // The hunk's signature is the commit's author; read the commit only when it is
                // not given.
                let found = match hunk.final_signature() {
                    Some(sig) => Who::new(id, &sig),
                    None => Who::new(id, &git.find_commit(id)?.author()),
                };
                slot.insert(found);
            }
            rows.push((lineno, id));
        }
        Ok(Self { rows, who })
    }

    /// `<short id> (<author, padded> <date> <line number, right-aligned>) <content>` per row,
    /// and the records; `end` is the last line number (it sets the numbers' width).
    fn render(&self, lines: &[&[u8]], end: usize) -> (String, Vec<Value>) {
        let author_width = self
            .rows
            .iter()
            .filter_map(|(_, id)| self.who.get(id))
            .map(|w| w.author.chars().count())
            .max()
            .unwrap_or(0);
        let number_width = end.to_string().len();
        let mut text = String::new();
        let mut records = Vec::with_capacity(self.rows.len());
        for &(lineno, id) in &self.rows {
            let Some(w) = self.who.get(&id) else { continue };
            let content =
                String::from_utf8_lossy(lines.get(lineno - 1).copied().unwrap_or_default());
            text.push_str(&format!(
                "{} ({:<author_width$} {} {lineno:>number_width$}) {content}\n",
                w.short, w.author, w.date
            ));
            records.push(json!({
                "line": lineno,
                "sha": id.to_string(),
                "author": w.author,
                "date": w.rfc3339,
                "content": content,
            }));
        }
        text.pop();
        (text, records)
    }
}

/// One blamed line with everything git's own formats print about it (for the run form's
/// `git blame`, which prints it as git does).
#[derive(Debug, Clone)]
pub struct BlameLine {
    /// 1-based line number in the blamed version.
    pub line: usize,
    pub id: git2::Oid,
    /// The commit is where the walk stopped (a root commit): git marks it with `^`.
    pub boundary: bool,
    pub name: String,
    pub email: String,
    pub time: git2::Time,
    pub content: Vec<u8>,
}

/// Lines `start..=end` (`end` clamped to the file's length, at most `max` lines) of `path` as
/// committed at `rev`, each with its last change; `start` past the end is refused as git does.
pub fn blame_lines(
    repo: &Repo,
    path: &str,
    rev: &str,
    start: usize,
    end: Option<usize>,
    max: usize,
) -> Result<Vec<BlameLine>, Error> {
    let path = RepoPath::new(repo.root(), path)?;
    let rev = RevSpec::new(rev)?;
    let git = repo.lock();
    let commit = resolve_commit(&git, &rev)?;
    let blob = text_blob(&git, &commit, &path, &rev)?;
    let lines = split_lines(blob.content());
    let total = lines.len();
    if total == 0 && start <= 1 {
        return Ok(Vec::new());
    }
    if start == 0 || start > total {
        return Err(Error::Refused(format!(
            "file {} has only {total} line{}",
            path.as_str(),
            if total == 1 { "" } else { "s" }
        )));
    }
    let end = end.unwrap_or(total).min(total);
    if end - start >= max {
        return Err(Error::Refused(format!(
            "{} lines asked for; blame at most {max} at a time (-L start,end)",
            end - start + 1
        )));
    }
    let mut opts = git2::BlameOptions::new();
    opts.newest_commit(commit.id())
        .min_line(start)
        .max_line(end);
    let blame = git.blame_file(Path::new(path.as_str()), Some(&mut opts))?;
    let mut out = Vec::with_capacity(end + 1 - start);
    for lineno in start..=end {
        let hunk = blame
            .get_line(lineno)
            .ok_or_else(|| Error::Refused(format!("blame has no answer for line {lineno}")))?;
        let id = hunk.final_commit_id();
        let author = git.find_commit(id)?.author().to_owned();
        out.push(BlameLine {
            line: lineno,
            id,
            boundary: hunk.is_boundary(),
            name: String::from_utf8_lossy(author.name_bytes()).into_owned(),
            email: String::from_utf8_lossy(author.email_bytes()).into_owned(),
            time: author.when(),
            content: lines.get(lineno - 1).copied().unwrap_or_default().to_vec(),
        });
    }
    Ok(out)
}

/// The file's lines as git counts them: a last line without a newline still counts.
fn split_lines(content: &[u8]) -> Vec<&[u8]> {
    let body = content.strip_suffix(b"\n").unwrap_or(content);
    if content.is_empty() {
        return Vec::new();
    }
    body.split(|b| *b == b'\n').collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::git::testutil::Fixture;

    fn run(f: &Fixture, args: BlameArgs) -> Result<Output, Error> {
        blame(&f.open(), &args)
    }

    fn of(path: &str) -> BlameArgs {
        BlameArgs {
            path: path.into(),
            ..BlameArgs::default()
        }
    }

    /// Each of our lines must name the commit, line number and content that
    /// `git blame --porcelain <git_args> -- <path>` gives for it.
    fn check(f: &Fixture, args: BlameArgs, git_args: &[&str]) {
        let got = run(f, args.clone()).unwrap();
        let mut cmd = vec!["blame", "--porcelain"];
        cmd.extend_from_slice(git_args);
        cmd.extend_from_slice(&["--", &args.path]);
        let mut want = Vec::new();
        let mut sha = String::new();
        let mut line = 0;
        for l in f.git(&cmd).lines() {
            if let Some(content) = l.strip_prefix('\t') {
                want.push(format!("{sha} {line} {content}"));
            } else if l.len() > 41
                && l.as_bytes()[40] == b' '
                && l[..40].bytes().all(|b| b.is_ascii_hexdigit())
            {
                let mut parts = l.split(' ');
                sha = parts.next().unwrap().to_owned();
                parts.next();
                line = parts.next().unwrap().parse::<usize>().unwrap();
            }
        }
        let mine: Vec<String> = got
            .data
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{} {} {}",
                    r["sha"].as_str().unwrap(),
                    r["line"],
                    r["content"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(mine, want, "{args:?} vs git {git_args:?}");
    }

    fn check_err(f: &Fixture, args: BlameArgs, want: &str) {
        let err = run(f, args.clone()).expect_err("should fail");
        assert!(err.to_string().contains(want), "{args:?}: {err}");
    }

    /// Three commits by two authors shaping `f.txt`, one of them through a merge.
    fn base() -> Fixture {
        let f = Fixture::new();
        f.commit("one", &[("f.txt", "a\nb\nc\nd\ne\n"), ("dir/x", "x\n")]);
        f.git(&["checkout", "-q", "-b", "side"]);
        f.git(&["config", "user.name", "Second Writer"]);
        f.commit("side", &[("f.txt", "a\nb\nc\nd\nE from side\n")]);
        f.git(&["checkout", "-q", "main"]);
        f.git(&["config", "user.name", "Test Author"]);
        f.commit("main", &[("f.txt", "A\nb\nc\nd\ne\n")]);
        f.git(&["merge", "-q", "--no-ff", "-m", "merge", "side"]);
        f.commit(
            "tail",
            &[(
                "f.txt",
                "A\nb\nc\nd\nE from side\nlast line without newline",
            )],
        );
        f
    }

    #[test]
    fn matches_git_blame() {
        let f = base();
        check(&f, of("f.txt"), &[]);
        check(
            &f,
            BlameArgs {
                rev: Some("HEAD~1".into()),
                ..of("f.txt")
            },
            &["HEAD~1"],
        );
        check(
            &f,
            BlameArgs {
                start_line: Some(2),
                end_line: Some(5),
                ..of("f.txt")
            },
            &["-L", "2,5"],
        );
        check(
            &f,
            BlameArgs {
                start_line: Some(5),
                ..of("f.txt")
            },
            &["-L", "5,"],
        );
        check(
            &f,
            BlameArgs {
                rev: Some("side".into()),
                ..of("f.txt")
            },
            &["side"],
        );
    }

    #[test]
    fn text_format() {
        let f = base();
        let out = run(
            &f,
            BlameArgs {
                start_line: Some(1),
                end_line: Some(5),
                ..of("f.txt")
            },
        )
        .unwrap();
        let short = |rev: &str| f.git(&["rev-parse", "--short=7", rev]).trim().to_owned();
        let lines: Vec<&str> = out.text.lines().collect();
        assert_eq!(
            lines[0],
            format!("{} (Test Author   2024-01-01 1) A", short("main~1^1"))
        );
        assert_eq!(
            lines[4],
            format!("{} (Second Writer 2024-01-01 5) E from side", short("side"))
        );
        assert_eq!(out.more, None);
        assert_eq!(out.data[0]["author"], "Test Author");
        assert_eq!(out.data[0]["date"], "2024-01-01T00:03:00+00:00");
        assert_eq!(out.data[0]["line"], 1);
    }

    #[test]
    fn long_files_are_cut_at_200_lines() {
        let f = Fixture::new();
        let long: String = (1..=250).map(|i| format!("line {i}\n")).collect();
        f.commit("long", &[("long.txt", &long)]);
        let out = run(&f, of("long.txt")).unwrap();
        assert_eq!(out.data.as_array().unwrap().len(), 200);
        assert_eq!(
            out.more.as_deref(),
            Some("... 50 more lines; pass start_line=201")
        );
        assert!(
            out.text
                .ends_with("200) line 200\n... 50 more lines; pass start_line=201"),
            "{}",
            out.text
        );
        let rest = run(
            &f,
            BlameArgs {
                start_line: Some(201),
                ..of("long.txt")
            },
        )
        .unwrap();
        assert_eq!(rest.data.as_array().unwrap().len(), 50);
        assert_eq!(rest.more, None);
        check(
            &f,
            BlameArgs {
                start_line: Some(201),
                ..of("long.txt")
            },
            &["-L", "201,"],
        );
        let wide = run(
            &f,
            BlameArgs {
                start_line: Some(10),
                end_line: Some(249),
                ..of("long.txt")
            },
        )
        .unwrap();
        assert_eq!(
            wide.more.as_deref(),
            Some("... 40 more lines; pass start_line=210")
        );
        let one = run(
            &f,
            BlameArgs {
                start_line: Some(250),
                end_line: Some(900),
                ..of("long.txt")
            },
        )
        .unwrap();
        assert_eq!(one.data.as_array().unwrap().len(), 1);
    }

    #[test]
    fn detached_head_and_non_utf8_content() {
        let f = base();
        f.write("latin1.txt", b"caf\xe9\nok\n".as_slice());
        f.commit("latin1", &[]);
        f.git(&["checkout", "-q", "--detach", "HEAD"]);
        check(&f, of("f.txt"), &[]);
        let out = run(&f, of("latin1.txt")).unwrap();
        assert_eq!(out.data[0]["content"], "caf\u{fffd}");
        assert_eq!(out.data[1]["content"], "ok");
    }

    #[test]
    fn long_history() {
        let f = crate::git::testutil::history(1_000);
        check(&f, of("f"), &[]);
        check(
            &f,
            BlameArgs {
                rev: Some("HEAD~500".into()),
                ..of("even")
            },
            &["HEAD~500"],
        );
    }

    #[test]
    fn bad_inputs_are_refused() {
        let f = base();
        f.write("bin", b"\0\x01".as_slice());
        f.write("empty", "");
        f.commit("more", &[]);
        check_err(&f, of("nope.txt"), "path 'nope.txt' not found at HEAD");
        check_err(
            &f,
            BlameArgs {
                rev: Some("HEAD~3".into()),
                ..of("bin")
            },
            "not found at HEAD~3",
        );
        check_err(&f, of("dir"), "not a file");
        check_err(&f, of("bin"), "binary");
        check_err(&f, of("../f.txt"), "'..'");
        check_err(&f, of(".git/config"), ".git");
        check_err(
            &f,
            BlameArgs {
                rev: Some("mian".into()),
                ..of("f.txt")
            },
            "nearest: main",
        );
        check_err(
            &f,
            BlameArgs {
                rev: Some("-L1,2".into()),
                ..of("f.txt")
            },
            "must not start with '-'",
        );
        check_err(
            &f,
            BlameArgs {
                start_line: Some(0),
                ..of("f.txt")
            },
            "counts from 1",
        );
        check_err(
            &f,
            BlameArgs {
                start_line: Some(99),
                ..of("f.txt")
            },
            "past the end: 'f.txt' has 6 lines",
        );
        check_err(
            &f,
            BlameArgs {
                start_line: Some(3),
                end_line: Some(2),
                ..of("f.txt")
            },
            "before start_line",
        );
        assert_eq!(run(&f, of("empty")).unwrap().text, "(empty file)");
        let empty = Fixture::new();
        check_err(&empty, of("f.txt"), "no commits yet");
    }
}
