//! File contents, as `git show rev:path` or as the worktree holds them, one window of lines at a
//! time: large files are streamed, binary ones described, directories refused with a listing.

use std::io::{BufRead, Read};
use std::path::Path;

use serde::Deserialize;
use serde_json::json;

use super::rev::resolve_tree;
use super::safety::{RepoPath, RevSpec};
use super::worktree::{Opened, open_in_worktree};
use super::{Error, Output, Repo, display_path, more_line};

/// Field names of the `git_read_file` record.
const READ_FIELDS: &[&str] = &[
    "path",
    "rev",
    "start_line",
    "end_line",
    "total_lines",
    "content",
    "binary",
    "size",
];

/// Git's own test for binary content: a NUL byte in the first 8000 bytes.
const BINARY_SNIFF: usize = 8000;
/// Worktree files up to this size are read whole; larger ones only up to the window.
const READ_WHOLE_MAX: u64 = 1 << 20;
/// Most content one `git_read_file` call returns, so a window of minified lines cannot flood
/// the agent's context; the more line says where to continue.
const CONTENT_CAP: usize = 64 * 1024;
/// Lines in a window when `end_line` is not given.
const DEFAULT_WINDOW: usize = 400;

/// Arguments of `git_read_file`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadFileArgs {
    pub path: String,
    pub rev: Option<String>,
    pub start_line: Option<usize>,
    /// Default start_line+399.
    pub end_line: Option<usize>,
}

/// Runs `git_read_file`.
pub fn read_file(repo: &Repo, args: &ReadFileArgs) -> Result<Output, Error> {
    let path = RepoPath::new(repo.root(), &args.path)?;
    let rev = args.rev.as_deref().map(RevSpec::new).transpose()?;
    let start = args.start_line.unwrap_or(1).max(1);
    let end = match args.end_line {
        Some(end) if end < start => {
            return Err(Error::Refused(format!(
                "end_line {end} is before start_line {start}"
            )));
        }
        Some(end) => end,
        None => start.saturating_add(DEFAULT_WINDOW - 1),
    };
    let window = Window { start, end };

    let git = repo.lock();
    let (cut, size) = match &rev {
        Some(rev) => {
            let blob = blob_at(&git, rev, &path)?;
            let content = blob.content();
            if is_binary(content) {
                return Ok(binary_output(
                    &path,
                    args.rev.as_deref(),
                    content.len() as u64,
                ));
            }
            (cut_lines(content, window, true), content.len() as u64)
        }
        None => {
            // The lock stays held: it also orders this read after gitgate's own writes.
            let (file, size) = match open_in_worktree(repo.root(), &path)? {
                Opened::File(file, size) => (file, size),
                Opened::Directory(names) => return Err(directory_error(&path, names.into_iter())),
            };
            let io_err =
                |e: std::io::Error| Error::Refused(format!("cannot read '{}': {e}", path.as_str()));
            // Read the sniff (or, for small files, everything) first; stream the rest.
            let mut head = Vec::new();
            let whole = size <= READ_WHOLE_MAX;
            let want = if whole {
                READ_WHOLE_MAX + 1
            } else {
                BINARY_SNIFF as u64
            };
            (&file).take(want).read_to_end(&mut head).map_err(io_err)?;
            if is_binary(&head) {
                return Ok(binary_output(&path, None, size));
            }
            let cut = if whole {
                cut_lines(head.as_slice(), window, true)
            } else {
                let rest = std::io::BufReader::with_capacity(64 * 1024, file);
                cut_lines(std::io::Cursor::new(head).chain(rest), window, false)
            };
            (cut, size)
        }
    };
    let cut = cut.map_err(|e| Error::Refused(format!("cannot read '{}': {e}", path.as_str())))?;
    Ok(window_output(
        &path,
        args.rev.as_deref(),
        window,
        &cut,
        size,
    ))
}

fn binary_output(path: &RepoPath, rev: Option<&str>, size: u64) -> Output {
    Output {
        text: format!(
            "Binary file {path} ({size} bytes) not shown",
            path = path.as_str()
        ),
        data: json!({"path": path.as_str(), "rev": rev, "binary": true, "size": size}),
        fields: READ_FIELDS,
        more: None,
    }
}

fn window_output(
    path: &RepoPath,
    rev: Option<&str>,
    window: Window,
    cut: &Cut,
    size: u64,
) -> Output {
    let content = String::from_utf8_lossy(&cut.content).into_owned();
    // The last line shown (start - 1 when none is).
    let last = window.start + cut.lines - 1;
    let mut text = content.clone();
    let mut more = None;
    if cut.lines == 0 {
        text = match cut.total {
            Some(0) => "(empty file)".to_owned(),
            Some(total) => format!(
                "(start_line={} is past the end: the file has {total} lines)",
                window.start
            ),
            None => "(no lines)".to_owned(),
        };
    } else if cut.line_cut {
        let line = format!(
            "... line {last} is longer than {CONTENT_CAP} bytes and was cut; pass start_line={}",
            last + 1
        );
        push_line(&mut text, &line);
        more = Some(line);
    } else if let Some(total) = cut.total {
        more = more_line(
            &mut text,
            total.saturating_sub(last),
            "lines",
            &format!("pass start_line={}", last + 1),
        );
    } else if cut.more_after {
        let line = format!(
            "... more lines (the file has {size} bytes); pass start_line={}",
            last + 1
        );
        push_line(&mut text, &line);
        more = Some(line);
    }
    Output {
        text,
        data: json!({
            "path": path.as_str(),
            "rev": rev,
            "start_line": window.start,
            "end_line": last,
            "total_lines": cut.total,
            "content": content,
        }),
        fields: READ_FIELDS,
        more,
    }
}

fn push_line(text: &mut String, line: &str) {
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(line);
}

/// The blob at `path` in `rev`'s tree; directories and submodules are refused with a hint.
fn blob_at<'r>(
    git: &'r git2::Repository,
    rev: &RevSpec,
    path: &RepoPath,
) -> Result<git2::Blob<'r>, Error> {
    let tree = resolve_tree(git, rev)?;
    let entry = tree
        .get_path(Path::new(path.as_str()))
        .map_err(|e| match e.code() {
            git2::ErrorCode::NotFound => Error::PathNotFound {
                path: path.as_str().to_owned(),
                at: rev.as_str().to_owned(),
            },
            _ => Error::Git(e),
        })?;
    match entry.kind() {
        Some(git2::ObjectType::Blob) => Ok(git.find_blob(entry.id())?),
        Some(git2::ObjectType::Tree) => {
            let dir = git.find_tree(entry.id())?;
            let names = dir.iter().map(|e| {
                let mut name = display_path(e.name_bytes());
                if e.kind() == Some(git2::ObjectType::Tree) {
                    name.push('/');
                }
                name
            });
            Err(directory_error(path, names))
        }
        _ => Err(Error::Refused(format!(
            "'{path}' is a submodule at {rev}; its files are not in this repository",
            path = path.as_str(),
            rev = rev.as_str()
        ))),
    }
}

/// The refusal for a path naming a directory, with the first names in it and how to list it.
fn directory_error(path: &RepoPath, names: impl Iterator<Item = String>) -> Error {
    const SHOWN: usize = 20;
    let names: Vec<String> = names.collect();
    let mut listing = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        listing.push_str(&format!(", ... {} more", names.len() - SHOWN));
    }
    Error::Refused(format!(
        "'{path}' is a directory ({listing}); list it with git_ls_files paths=[\"{path}\"]",
        path = path.as_str()
    ))
}

/// A 1-based inclusive line range.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: usize,
    end: usize,
}

/// The lines of a [`Window`] cut out of a file.
#[derive(Debug, Default)]
struct Cut {
    /// The raw bytes of the lines shown, newlines included.
    content: Vec<u8>,
    /// How many lines `content` holds (the window may end early at [`CONTENT_CAP`]).
    lines: usize,
    /// The only line shown was longer than [`CONTENT_CAP`] and is cut short.
    line_cut: bool,
    /// Lines in the whole file, when it was read to the end.
    total: Option<usize>,
    /// Something follows the lines shown.
    more_after: bool,
}

/// Cuts `window` out of `src` without holding more than the window in memory. With
/// `count_rest`, reads to the end to count the lines; otherwise stops after the window.
fn cut_lines(mut src: impl BufRead, window: Window, count_rest: bool) -> std::io::Result<Cut> {
    let mut cut = Cut::default();
    let mut newlines = 0usize; // newlines consumed so far: the cursor is in line newlines + 1
    let mut mid_line = false; // bytes of the current line were consumed
    let mut line_start = 0usize; // where the current line begins in cut.content
    let mut taking = true;
    loop {
        let buf = src.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let line = newlines + 1;
        if line < window.start {
            let n = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    newlines += 1;
                    mid_line = false;
                    i + 1
                }
                None => {
                    mid_line = true;
                    buf.len()
                }
            };
            src.consume(n);
        } else if taking && line <= window.end {
            let (piece, ends_line) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..=i], true),
                None => (buf, false),
            };
            let n = piece.len();
            if cut.content.len() + n > CONTENT_CAP {
                if line_start == 0 {
                    let room = CONTENT_CAP - cut.content.len();
                    cut.content.extend_from_slice(&piece[..room]);
                    cut.lines = 1;
                    cut.line_cut = true;
                } else {
                    cut.content.truncate(line_start);
                }
                cut.more_after = true;
                taking = false;
                if !count_rest {
                    return Ok(cut);
                }
                continue; // count this line's rest (and the file's) below
            }
            cut.content.extend_from_slice(piece);
            src.consume(n);
            if ends_line {
                newlines += 1;
                cut.lines += 1;
                mid_line = false;
                line_start = cut.content.len();
            } else {
                mid_line = true;
            }
        } else {
            cut.more_after = true;
            if !count_rest {
                return Ok(cut);
            }
            let n = buf.len();
            newlines += buf.iter().filter(|&&b| b == b'\n').count();
            mid_line = buf[n - 1] != b'\n';
            src.consume(n);
        }
    }
    let total = newlines + usize::from(mid_line);
    if taking && mid_line && total >= window.start && total <= window.end {
        cut.lines += 1; // the last line has no newline
    }
    cut.total = Some(total);
    Ok(cut)
}

/// Whether `content` is binary the way git decides it: a NUL in the first 8000 bytes.
pub(super) fn is_binary(content: &[u8]) -> bool {
    content[..content.len().min(BINARY_SNIFF)].contains(&0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::git::testutil::{Fixture, small_tree};

    fn read(
        path: &str,
        rev: Option<&str>,
        start: Option<usize>,
        end: Option<usize>,
    ) -> ReadFileArgs {
        ReadFileArgs {
            path: path.to_owned(),
            rev: rev.map(str::to_owned),
            start_line: start,
            end_line: end,
        }
    }

    /// Reads through `read_file`; `Ok(text)` or `Err(part of the message)`.
    fn check_read(f: &Fixture, args: ReadFileArgs, expected: Result<&str, &str>) {
        let repo = f.open();
        match (read_file(&repo, &args), expected) {
            (Ok(got), Ok(want)) => assert_eq!(got.text, want, "{args:?}"),
            (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{args:?}: {e}"),
            (got, want) => panic!("{args:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn read_file_matches_git_show() {
        let f = small_tree();
        f.commit(
            "second",
            &[
                ("README.md", "hello\nworld\n"),
                ("src/lib.rs", "pub fn b() {}"),
            ],
        );
        f.write("README.md", "changed in the worktree\n");
        for (path, rev) in [
            ("README.md", "HEAD~1"),
            ("README.md", "HEAD"),
            ("src/lib.rs", "main"),
        ] {
            let want = f.git(&["show", &format!("{rev}:{path}")]);
            check_read(&f, read(path, Some(rev), None, None), Ok(&want));
        }
        check_read(
            &f,
            read("README.md", None, None, None),
            Ok("changed in the worktree\n"),
        );
        check_read(
            &f,
            read("./src//lib.rs", None, None, None),
            Ok("pub fn b() {}"),
        );
    }

    #[test]
    fn read_file_windows() {
        let f = Fixture::new();
        let body: String = (1..=10).map(|i| format!("line {i}\n")).collect();
        f.commit(
            "ten",
            &[
                ("ten.txt", &body),
                ("empty.txt", ""),
                ("no-eol.txt", "a\nb"),
            ],
        );
        check_read(
            &f,
            read("ten.txt", None, Some(3), Some(4)),
            Ok("line 3\nline 4\n... 6 more lines; pass start_line=5"),
        );
        check_read(
            &f,
            read("ten.txt", Some("HEAD"), Some(9), Some(20)),
            Ok("line 9\nline 10\n"),
        );
        check_read(
            &f,
            read("ten.txt", None, Some(11), None),
            Ok("(start_line=11 is past the end: the file has 10 lines)"),
        );
        check_read(
            &f,
            read("ten.txt", None, Some(4), Some(3)),
            Err("before start_line"),
        );
        check_read(&f, read("empty.txt", None, None, None), Ok("(empty file)"));
        check_read(&f, read("no-eol.txt", None, Some(2), None), Ok("b"));
        check_read(
            &f,
            read("no-eol.txt", None, Some(1), Some(1)),
            Ok("a\n... 1 more lines; pass start_line=2"),
        );
        let repo = f.open();
        let got = read_file(&repo, &read("ten.txt", Some("HEAD"), Some(2), Some(3))).unwrap();
        assert_eq!(
            got.data,
            json!({"path": "ten.txt", "rev": "HEAD", "start_line": 2, "end_line": 3,
                   "total_lines": 10, "content": "line 2\nline 3\n"})
        );
    }

    #[test]
    fn read_file_large_file_reads_only_the_window() {
        let f = Fixture::new();
        let body: String = (1..=200_000).map(|i| format!("line {i:07}\n")).collect();
        assert!(body.len() as u64 > READ_WHOLE_MAX);
        f.write("big.txt", &body);
        let size = body.len();
        check_read(
            &f,
            read("big.txt", None, Some(100_000), Some(100_001)),
            Ok(&format!(
                "line 0100000\nline 0100001\n... more lines (the file has {size} bytes); pass start_line=100002"
            )),
        );
        check_read(
            &f,
            read("big.txt", None, Some(199_999), None),
            Ok("line 0199999\nline 0200000\n"),
        );
        // The content cap cuts a wide window at a line boundary.
        let got = read_file(&f.open(), &read("big.txt", None, Some(1), Some(100_000))).unwrap();
        let shown = CONTENT_CAP / 13;
        assert_eq!(got.data["end_line"], json!(shown));
        assert!(
            got.text
                .ends_with(&format!("pass start_line={}", shown + 1)),
            "{}",
            got.more.unwrap()
        );
    }

    #[test]
    fn read_file_one_huge_line_is_cut() {
        let f = Fixture::new();
        f.write("min.js", "x".repeat(CONTENT_CAP * 2) + "\nsecond\n");
        let got = read_file(&f.open(), &read("min.js", None, None, None)).unwrap();
        assert_eq!(
            got.more.as_deref(),
            Some("... line 1 is longer than 65536 bytes and was cut; pass start_line=2")
        );
        assert_eq!(got.data["content"].as_str().unwrap().len(), CONTENT_CAP);
        assert_eq!(got.data["total_lines"], json!(2));
    }

    #[test]
    fn read_file_binary() {
        let f = Fixture::new();
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend(std::iter::repeat_n(7u8, 100));
        std::fs::write(f.path().join("logo.png"), &png).unwrap();
        f.commit("binary", &[]);
        check_read(
            &f,
            read("logo.png", None, None, None),
            Ok("Binary file logo.png (116 bytes) not shown"),
        );
        check_read(
            &f,
            read("logo.png", Some("HEAD"), None, None),
            Ok("Binary file logo.png (116 bytes) not shown"),
        );
    }

    #[test]
    fn read_file_errors() {
        let f = small_tree();
        check_read(
            &f,
            read("missing.txt", None, None, None),
            Err("path 'missing.txt' not found at the worktree"),
        );
        check_read(
            &f,
            read("missing.txt", Some("HEAD"), None, None),
            Err("path 'missing.txt' not found at HEAD"),
        );
        check_read(
            &f,
            read("src", None, None, None),
            Err("'src' is a directory (bin/, lib.rs)"),
        );
        check_read(
            &f,
            read("src", Some("HEAD"), None, None),
            Err("'src' is a directory (bin/, lib.rs)"),
        );
        check_read(
            &f,
            read("README.md", Some("mian"), None, None),
            Err("unknown revision 'mian'; nearest: main"),
        );
        check_read(
            &f,
            read("README.md", Some("-p"), None, None),
            Err("must not start with '-'"),
        );
        check_read(
            &f,
            read("../etc/passwd", None, None, None),
            Err("'..' leaves the repository"),
        );
        check_read(
            &f,
            read("/etc/passwd", None, None, None),
            Err("absolute paths are refused"),
        );
        check_read(
            &f,
            read(".git/config", None, None, None),
            Err(".git directory"),
        );
    }

    #[test]
    fn read_file_refuses_symlinks_out_of_the_worktree() {
        let f = small_tree();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "secret\n").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), f.path().join("leak")).unwrap();
        std::os::unix::fs::symlink(outside.path(), f.path().join("leakdir")).unwrap();
        std::os::unix::fs::symlink(".git/config", f.path().join("cfg")).unwrap();
        std::os::unix::fs::symlink("README.md", f.path().join("fine")).unwrap();
        check_read(
            &f,
            read("leak", None, None, None),
            Err("outside the repository"),
        );
        check_read(
            &f,
            read("leakdir/secret", None, None, None),
            Err("outside the repository"),
        );
        check_read(&f, read("cfg", None, None, None), Err("into .git"));
        check_read(&f, read("fine", None, None, None), Ok("hello\n"));
        // At a revision a symlink is its target's name, as git show prints it; one whose
        // worktree copy points outside is refused there too (the path is checked first).
        f.commit("links", &[]);
        check_read(&f, read("fine", Some("HEAD"), None, None), Ok("README.md"));
        check_read(
            &f,
            read("leak", Some("HEAD"), None, None),
            Err("outside the repository"),
        );
    }

    #[test]
    fn read_file_empty_repository() {
        let f = Fixture::new();
        f.write("draft.txt", "draft\n");
        check_read(&f, read("draft.txt", None, None, None), Ok("draft\n"));
        check_read(
            &f,
            read("draft.txt", Some("HEAD"), None, None),
            Err("no commits yet"),
        );
    }
}
