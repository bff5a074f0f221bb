//! Regex search over tracked files, as `git grep -n`.

use regex::bytes::Regex;
use serde::Deserialize;
use serde_json::{Value, json};

use super::pathspec::{PathFilter, walk_tree};
use super::read_file::is_binary;
use super::rev::resolve_tree;
use super::safety::RevSpec;
use super::worktree::WorktreeReader;
use super::{Error, Output, Repo, display_path, more_line, pattern};

/// Field names a `json: [...]` projection may ask for (the tool's schema lists them).
pub const FIELDS: &[&str] = &["path", "line", "text"];
/// Matching lines longer than this many characters are shown cut around their first match.
const LINE_CHARS: usize = 300;
/// After `max_count` lines, further files are only counted; past this many bytes the count
/// stops and the more line says "at least".
const COUNT_BUDGET: usize = 64 << 20;
/// Worktree files larger than this are not searched (a tracked dump or log would dominate).
const FILE_MAX: u64 = 64 << 20;

/// Arguments of `git_grep`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrepArgs {
    /// Rust regex syntax.
    pub pattern: String,
    pub rev: Option<String>,
    /// Path prefixes or globs.
    #[serde(default)]
    pub paths: Vec<String>,
    pub ignore_case: Option<bool>,
    /// Default 100.
    pub max_count: Option<usize>,
}

/// Runs `git_grep`.
pub fn grep(repo: &Repo, args: &GrepArgs) -> Result<Output, Error> {
    let regex = pattern::bytes_regex(
        &args.pattern,
        pattern::Options {
            case_insensitive: args.ignore_case.unwrap_or(false),
            // Whole files are searched first; `^` and `$` must still mean a line's ends.
            multi_line: true,
        },
    )?;
    let mut hits = Hits {
        matcher: Matcher {
            regex,
            per_line: needs_per_line(&args.pattern),
        },
        max: args.max_count.unwrap_or(100),
        shown: Vec::new(),
        rest: 0,
        counted_bytes: 0,
        budget_spent: false,
    };
    each_file(repo, args.rev.as_deref(), &args.paths, |path, content| {
        hits.search(path, content)
    })?;
    Ok(hits.into_output(args.rev.as_deref()))
}

/// One searched file's matches, for [`grep_lines`].
pub struct FileMatches<'c> {
    pub path: &'c [u8],
    /// A binary file: git names it ("Binary file ... matches") and prints none of its lines.
    pub binary: bool,
    /// Matching lines with their 1-based numbers (a binary file's too, for counting).
    pub lines: Vec<(usize, &'c [u8])>,
}

/// Searches the files `git grep` searches (the index's files in the worktree, or `rev`'s tree)
/// under the pathspecs `paths` for `regex` (Rust syntax, matched line by line), handing each
/// file with a match to `each` in git's order until it returns false.
pub fn grep_lines(
    repo: &Repo,
    regex: &str,
    ignore_case: bool,
    rev: Option<&str>,
    paths: &[String],
    mut each: impl FnMut(FileMatches<'_>) -> bool,
) -> Result<(), Error> {
    let matcher = Matcher {
        regex: pattern::bytes_regex(
            regex,
            pattern::Options {
                case_insensitive: ignore_case,
                multi_line: true,
            },
        )?,
        per_line: needs_per_line(regex),
    };
    each_file(repo, rev, paths, |path, content| {
        if !matcher.per_line && !matcher.regex.is_match(content) {
            return true;
        }
        let mut lines = matcher.lines(content).peekable();
        if lines.peek().is_none() {
            return true;
        }
        each(FileMatches {
            path,
            binary: is_binary(content),
            lines: lines.collect(),
        })
    })
}

/// Hands each file `git grep` would search to `search` (path, content) until it returns false.
fn each_file(
    repo: &Repo,
    rev: Option<&str>,
    paths: &[String],
    mut search: impl FnMut(&[u8], &[u8]) -> bool,
) -> Result<(), Error> {
    let filter = PathFilter::new(repo.root(), paths)?;
    let rev = rev.map(RevSpec::new).transpose()?;
    let git = repo.lock();
    match &rev {
        Some(rev) => {
            let tree = resolve_tree(&git, rev)?;
            walk_tree(&git, &tree, &filter, |path, entry| {
                // Like git: regular files only (not symlinks, not submodules).
                if entry.kind() != Some(git2::ObjectType::Blob)
                    || entry.filemode() == i32::from(git2::FileMode::Link)
                {
                    return Ok(true);
                }
                let blob = git.find_blob(entry.id())?;
                Ok(search(path, blob.content()))
            })?;
        }
        None => {
            let mut index = git.index()?;
            index.read(false)?;
            let mut reader = WorktreeReader::new(repo.root());
            let mut last: Option<Vec<u8>> = None;
            for entry in index.iter() {
                if last.as_deref() == Some(entry.path.as_slice()) {
                    continue; // the other stages of a conflicted path: one file in the worktree
                }
                last = Some(entry.path.clone());
                let regular = entry.mode & 0o170000 == 0o100000;
                if !regular || !filter.matches(&entry.path) {
                    continue;
                }
                // Deleted in the worktree (or not a regular file there any more): skipped.
                let Some(content) = reader.read(&entry.path, FILE_MAX) else {
                    continue;
                };
                if !search(&entry.path, &content) {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Whether `pattern` can match a line without matching the whole file at that line's offset:
/// `\A` and `\z` (text anchors) or an inline flag group turning a flag off, like `(?-m)`.
/// Such patterns are tried on each line instead of over the whole file.
fn needs_per_line(pattern: &str) -> bool {
    pattern.contains("\\A")
        || pattern.contains("\\z")
        || pattern.match_indices("(?").any(|(i, _)| {
            let flags = &pattern[i + 2..];
            let letters = flags.len()
                - flags
                    .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                    .len();
            flags[letters..].starts_with('-')
        })
}

struct Hit {
    path: Vec<u8>,
    /// `None` for a binary file that matches.
    line: Option<usize>,
    text: String,
}

/// A compiled pattern and how it is applied (see [`needs_per_line`]).
struct Matcher {
    regex: Regex,
    per_line: bool,
}

impl Matcher {
    /// The matching lines of `content` with their 1-based numbers.
    fn lines<'c>(&'c self, content: &'c [u8]) -> Box<dyn Iterator<Item = (usize, &'c [u8])> + 'c> {
        if self.per_line {
            if content.is_empty() {
                return Box::new(std::iter::empty());
            }
            let lines = content.strip_suffix(b"\n").unwrap_or(content);
            return Box::new(
                lines
                    .split(|&b| b == b'\n')
                    .enumerate()
                    .filter(|(_, line)| self.regex.is_match(line))
                    .map(|(i, line)| (i + 1, line)),
            );
        }
        // Jump from match to match over the whole file, checking each candidate line on its
        // own (a match may span lines, e.g. `a\s+b`).
        let mut at = 0; // search position
        let mut counted = 0; // newlines before `counted_to`
        let mut counted_to = 0;
        Box::new(std::iter::from_fn(move || {
            while at < content.len() {
                let m = self.regex.find_at(content, at)?;
                if m.start() == content.len() && content.last().is_none_or(|&b| b == b'\n') {
                    return None; // an empty match after the last newline: no line is there
                }
                let start = content[..m.start()]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1);
                let end = content[m.start()..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(content.len(), |i| m.start() + i);
                counted += content[counted_to..start]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
                counted_to = start;
                at = end + 1;
                let line = &content[start..end];
                if self.regex.is_match(line) {
                    return Some((counted + 1, line));
                }
            }
            None
        }))
    }
}

/// The search state: lines shown, then a count of the rest.
struct Hits {
    matcher: Matcher,
    max: usize,
    shown: Vec<Hit>,
    rest: usize,
    counted_bytes: usize,
    budget_spent: bool,
}

impl Hits {
    /// Searches one file; returns whether the search should go on.
    fn search(&mut self, path: &[u8], content: &[u8]) -> bool {
        if self.shown.len() >= self.max {
            self.counted_bytes += content.len();
            if self.counted_bytes > COUNT_BUDGET {
                self.budget_spent = true;
                return false;
            }
        }
        if !self.matcher.per_line && !self.matcher.regex.is_match(content) {
            return true;
        }
        if self.matcher.lines(content).next().is_none() {
            return true;
        }
        if is_binary(content) {
            // git never prints a binary file's lines, only that it matches.
            self.record(path, None, String::new());
            return true;
        }
        let room = self.max.saturating_sub(self.shown.len());
        let mut found = Vec::new();
        let mut extra = 0;
        for (number, line) in self.matcher.lines(content) {
            if found.len() < room {
                found.push((number, self.excerpt(line)));
            } else {
                extra += 1;
            }
        }
        self.rest += extra;
        for (number, text) in found {
            self.record(path, Some(number), text);
        }
        true
    }

    fn record(&mut self, path: &[u8], line: Option<usize>, text: String) {
        if self.shown.len() >= self.max {
            self.rest += 1;
        } else {
            self.shown.push(Hit {
                path: path.to_vec(),
                line,
                text,
            });
        }
    }

    /// A matching line for display: whole when short, else a window around the first match.
    fn excerpt(&self, line: &[u8]) -> String {
        let text = String::from_utf8_lossy(line);
        if text.chars().count() <= LINE_CHARS {
            return text.into_owned();
        }
        let match_at = self.matcher.regex.find(line).map_or(0, |m| m.start());
        let first = String::from_utf8_lossy(&line[..match_at]).chars().count();
        let from = first.saturating_sub(LINE_CHARS / 3);
        let mut out = String::new();
        if from > 0 {
            out.push('…');
        }
        let mut chars = text.chars().skip(from);
        out.extend(chars.by_ref().take(LINE_CHARS));
        if chars.next().is_some() {
            out.push('…');
        }
        out
    }

    fn into_output(self, rev: Option<&str>) -> Output {
        let prefix = rev.map(|r| format!("{r}:")).unwrap_or_default();
        let mut text = String::new();
        let mut data = Vec::with_capacity(self.shown.len());
        for hit in &self.shown {
            let path = display_path(&hit.path);
            match hit.line {
                Some(n) => text.push_str(&format!("{prefix}{path}:{n}:{}\n", hit.text)),
                None => text.push_str(&format!("Binary file {prefix}{path} matches\n")),
            }
            data.push(
                json!({"path": path, "line": hit.line, "text": match hit.line {
                    Some(_) => hit.text.as_str(),
                    None => "Binary file matches",
                }}),
            );
        }
        if self.shown.is_empty() {
            text.push_str("(no matches)");
        }
        let how = "pass a larger max_count or narrow paths";
        let more = if self.budget_spent {
            let line = format!("... at least {} more matching lines; {how}", self.rest);
            text.push_str(&line);
            Some(line)
        } else {
            more_line(&mut text, self.rest, "matching lines", how)
        };
        Output {
            text: text.trim_end_matches('\n').to_owned(),
            data: Value::Array(data),
            fields: FIELDS,
            more,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    use super::*;
    use crate::git::testutil::Fixture;

    fn args(pattern: &str, rev: Option<&str>, paths: &[&str]) -> GrepArgs {
        GrepArgs {
            pattern: pattern.to_owned(),
            rev: rev.map(str::to_owned),
            paths: paths.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        }
    }

    /// Greps through `grep` and compares the text with `git grep -n` on the same repository.
    fn check(f: &Fixture, args: GrepArgs) {
        let repo = f.open();
        let got = grep(&repo, &args).unwrap();
        let mut oracle = vec!["grep", "-n", "-E", "--no-color"];
        if args.ignore_case == Some(true) {
            oracle.push("-i");
        }
        oracle.extend(["-e", &args.pattern]);
        if let Some(rev) = &args.rev {
            oracle.push(rev);
        }
        oracle.push("--");
        let globbed: Vec<String> = args
            .paths
            .iter()
            .map(|p| {
                if p.starts_with("**/") {
                    format!(":(glob){p}")
                } else {
                    p.clone()
                }
            })
            .collect();
        oracle.extend(globbed.iter().map(String::as_str));
        let want = git_grep(f, &oracle);
        let want = if want.is_empty() {
            "(no matches)".to_owned()
        } else {
            want
        };
        assert_eq!(got.text, want.trim_end_matches('\n'), "{args:?}");
    }

    /// `git grep` exits 1 when nothing matches, which Fixture::git treats as failure.
    #[allow(clippy::disallowed_methods)]
    fn git_grep(f: &Fixture, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(f.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(
            out.status.code().unwrap() <= 1,
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn sample() -> Fixture {
        let f = Fixture::new();
        f.commit(
            "first",
            &[
                ("README.md", "# Title\nSome text about foo.\n"),
                (
                    "src/lib.rs",
                    "pub fn foo() {}\nfn bar() {}\n// FOO in caps\n",
                ),
                ("src/deep/mod.rs", "mod foo;\n"),
                ("docs/foo.md", "foo\n\nfoo bar\n"),
                ("crlf.txt", "foo\r\nbar\r\n"),
                ("no-eol.txt", "last foo"),
            ],
        );
        f
    }

    #[test]
    fn grep_matches_git() {
        let f = sample();
        f.commit(
            "second",
            &[
                ("src/lib.rs", "pub fn foo2() {}\n"),
                ("added.rs", "foo added\n"),
            ],
        );
        f.write("src/lib.rs", "worktree foo\n");
        f.write("untracked.rs", "foo untracked\n");
        std::fs::remove_file(f.path().join("docs/foo.md")).unwrap();
        check(&f, args("foo", None, &[]));
        check(&f, args("foo", Some("HEAD"), &[]));
        check(&f, args("foo", Some("HEAD~1"), &[]));
        check(&f, args("^foo", None, &[]));
        check(&f, args("foo$", Some("HEAD~1"), &[]));
        // git also reports a phantom empty line after a file's final newline; we do not.
        let got = grep(&f.open(), &args("^$", Some("HEAD~1"), &[])).unwrap();
        assert_eq!(got.text, "HEAD~1:docs/foo.md:2:");
        check(&f, args("", Some("HEAD~1"), &["crlf.txt", "no-eol.txt"]));
        check(&f, args("fn [a-z]+\\(", Some("HEAD~1"), &[]));
        check(&f, args("o\\s+b", Some("HEAD~1"), &[]));
        check(&f, args("nothing-matches-this", None, &[]));
        check(
            &f,
            GrepArgs {
                ignore_case: Some(true),
                ..args("foo", Some("HEAD~1"), &[])
            },
        );
        // Inline flags and `\A` are searched line by line (git's ERE has neither).
        let text = |a: GrepArgs| grep(&f.open(), &a).unwrap().text;
        let folded = GrepArgs {
            ignore_case: Some(true),
            ..args("foo", Some("HEAD~1"), &[])
        };
        assert_eq!(text(args("(?i)foo", Some("HEAD~1"), &[])), text(folded));
        assert_eq!(
            text(args("\\Afoo", None, &[])),
            text(args("^foo", None, &[]))
        );
        assert_eq!(
            text(args("(?i-m)^FOO", None, &[])),
            text(args("^foo", None, &[]))
        );
        assert!(!needs_per_line("(?i)foo(?:bar)?") && needs_per_line("(?s-m)x"));
    }

    #[test]
    fn grep_with_pathspecs() {
        let f = sample();
        check(&f, args("foo", None, &["src"]));
        check(&f, args("foo", Some("main"), &["src/"]));
        check(&f, args("foo", None, &["*.md"]));
        check(&f, args("foo", Some("HEAD"), &["src/*.rs"]));
        check(&f, args("foo", None, &["**/*.rs"]));
        check(&f, args("foo", None, &["docs", "README.md"]));
        check(&f, args("foo", None, &["nowhere"]));
    }

    #[test]
    fn grep_binary_files_are_named_not_dumped() {
        let f = Fixture::new();
        f.write("blob.bin", b"foo\0\x01\x02 more foo\n");
        f.write("text.txt", "foo\n");
        f.commit("binary", &[]);
        check(&f, args("foo", None, &[]));
        check(&f, args("foo", Some("HEAD"), &[]));
        check(&f, args("absent", None, &[]));
    }

    #[test]
    fn grep_skips_symlinks_and_leading_symlinked_dirs() {
        let f = sample();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "foo secret\n").unwrap();
        std::os::unix::fs::symlink("README.md", f.path().join("link.md")).unwrap();
        std::os::unix::fs::symlink(outside.path(), f.path().join("out")).unwrap();
        f.commit("links", &[]);
        check(&f, args("foo", None, &[]));
        check(&f, args("foo|README", Some("HEAD"), &[]));
        // A tracked directory replaced by a link to the outside is not followed.
        f.write("sub/secret.txt", "foo inside\n");
        f.commit("sub", &[]);
        std::fs::remove_dir_all(f.path().join("sub")).unwrap();
        std::os::unix::fs::symlink(outside.path(), f.path().join("sub")).unwrap();
        let got = grep(&f.open(), &args("secret", None, &[])).unwrap();
        assert_eq!(got.text, "(no matches)");
    }

    #[test]
    fn grep_non_utf8_names_and_content() {
        let f = Fixture::new();
        std::fs::write(
            f.path().join(OsStr::from_bytes(b"bad\xffname.txt")),
            b"caf\xe9 foo\n",
        )
        .unwrap();
        f.commit("latin-1", &[]);
        let got = grep(&f.open(), &args("foo", None, &[])).unwrap();
        // git prints the raw byte; the text is UTF-8, so it becomes U+FFFD (as in the oracle).
        assert_eq!(got.text, "\"bad\\377name.txt\":1:caf\u{fffd} foo");
        check(&f, args("foo", None, &[]));
        check(&f, args("foo", Some("HEAD"), &[]));
    }

    #[test]
    fn grep_is_bounded_and_counts_the_rest() {
        let f = sample();
        let repo = f.open();
        let got = grep(
            &repo,
            &GrepArgs {
                max_count: Some(2),
                ..args("foo", None, &[])
            },
        )
        .unwrap();
        assert_eq!(
            got.text,
            "README.md:2:Some text about foo.\n\
             crlf.txt:1:foo\r\n\
             ... 5 more matching lines; pass a larger max_count or narrow paths"
        );
        assert_eq!(
            got.data[1],
            json!({"path": "crlf.txt", "line": 1, "text": "foo\r"})
        );
    }

    #[test]
    fn grep_cuts_long_lines_around_the_match() {
        let f = Fixture::new();
        let line = format!("{}needle{}", "a".repeat(1000), "b".repeat(1000));
        f.commit("long", &[("long.txt", &line)]);
        let got = grep(&f.open(), &args("needle", Some("HEAD"), &[])).unwrap();
        let text = got.data[0]["text"].as_str().unwrap();
        assert!(text.starts_with('…') && text.ends_with('…'), "{text}");
        assert_eq!(text.chars().count(), LINE_CHARS + 2);
        assert!(text.contains("needle"));
    }

    #[test]
    fn grep_refuses_bad_input() {
        let f = sample();
        let repo = f.open();
        let err = |a| grep(&repo, &a).unwrap_err().to_string();
        assert!(err(args("(unclosed", None, &[])).starts_with("bad pattern '(unclosed'"));
        assert!(err(args("foo", Some("mian"), &[])).contains("nearest: main"));
        assert!(err(args("foo", Some("--output=x"), &[])).contains("must not start with '-'"));
        assert!(err(args("foo", None, &["../"])).contains("'..'"));
        assert!(err(args("foo", None, &["/abs"])).contains("absolute"));
    }

    #[test]
    fn grep_merge_and_empty_repository() {
        let f = crate::git::testutil::merge_conflict();
        check(&f, args("main|side|base", None, &[]));
        check(&f, args("k", Some("HEAD"), &[]));
        let empty = Fixture::new();
        empty.write("x", "x\n");
        assert!(matches!(
            grep(&empty.open(), &args("x", Some("HEAD"), &[])),
            Err(Error::EmptyRepository)
        ));
        assert_eq!(
            grep(&empty.open(), &args("x", None, &[])).unwrap().text,
            "(no matches)"
        );
    }

    #[test]
    fn grep_on_long_history() {
        let f = crate::git::testutil::long_history(1000);
        check(&f, args("needle 1", Some("HEAD~999"), &[]));
        check(&f, args("file 99", None, &["dir"]));
        check(&f, args("needle", Some("main~500"), &["file.txt"]));
    }
}
