//! Tracked files (`git ls-files`, `git ls-tree -r --name-only`) and file contents (`git show
//! rev:path`), plus the path filter and tree walk that `grep` shares.

use std::ffi::OsStr;
use std::io::{BufRead, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};

use super::rev::resolve_tree;
use super::safety::{RepoPath, RevSpec};
use super::{Error, Output, Repo, display_path, more_line, pattern};

/// Field names of `git_ls_files` records.
pub const LS_FIELDS: &[&str] = &["path", "mode", "size"];
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

/// Arguments of `git_ls_files`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LsFilesArgs {
    /// Tree of this revision, not index.
    pub rev: Option<String>,
    /// Path prefixes or globs.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Default 200.
    pub limit: Option<usize>,
    pub skip: Option<usize>,
}

/// One listed path; the blob id is kept so a page's sizes can be looked up after the walk.
struct Listed {
    path: Vec<u8>,
    mode: u32,
    size: Option<u64>,
    blob: Option<git2::Oid>,
}

/// Runs `git_ls_files`.
pub fn ls_files(repo: &Repo, args: &LsFilesArgs) -> Result<Output, Error> {
    let filter = PathFilter::new(repo.root(), &args.paths)?;
    let rev = args.rev.as_deref().map(RevSpec::new).transpose()?;
    let limit = args.limit.unwrap_or(200);
    let skip = args.skip.unwrap_or(0);
    let page_end = skip.saturating_add(limit);

    let git = repo.lock();
    let mut page = Vec::new();
    let mut total = 0usize;
    let mut keep = |listed: Listed| {
        if (skip..page_end).contains(&total) {
            page.push(listed);
        }
        total += 1;
    };
    match &rev {
        Some(rev) => {
            let tree = resolve_tree(&git, rev)?;
            walk_tree(&git, &tree, &filter, |path, entry| {
                let mode = u32::try_from(entry.filemode()).unwrap_or(0);
                let blob = (entry.kind() == Some(git2::ObjectType::Blob)).then(|| entry.id());
                keep(Listed {
                    path: path.to_vec(),
                    mode,
                    size: None,
                    blob,
                });
                Ok(true)
            })?;
        }
        None => {
            let mut index = git.index()?;
            // The handle outlives other writers (git itself, gitgate's own writes): re-read
            // the index when it changed on disk.
            index.read(false)?;
            let mut last: Option<Vec<u8>> = None;
            for entry in index.iter() {
                // A conflicted path has up to three stages; list it once (`--deduplicate`).
                if last.as_deref() == Some(entry.path.as_slice()) {
                    continue;
                }
                last = Some(entry.path.clone());
                if !filter.matches(&entry.path) {
                    continue;
                }
                keep(Listed {
                    path: entry.path,
                    mode: entry.mode,
                    size: Some(u64::from(entry.file_size)),
                    blob: None,
                });
            }
        }
    }
    if rev.is_some() {
        let odb = git.odb()?;
        for listed in &mut page {
            if let Some(id) = listed.blob {
                listed.size = odb.read_header(id).ok().map(|(size, _)| size as u64);
            }
        }
    }

    let mut text = String::new();
    let mut data = Vec::with_capacity(page.len());
    for listed in &page {
        let path = display_path(&listed.path);
        text.push_str(&path);
        text.push('\n');
        data.push(
            json!({"path": path, "mode": format!("{:06o}", listed.mode), "size": listed.size}),
        );
    }
    if total == 0 {
        text.push_str("(no files)");
    } else if page.is_empty() {
        text.push_str(&format!("(skip={skip} is past the end: {total} files)"));
    }
    let more = more_line(
        &mut text,
        total.saturating_sub(page_end),
        "files",
        &format!("pass skip={page_end}"),
    );
    Ok(Output {
        text: text.trim_end_matches('\n').to_owned(),
        data: Value::Array(data),
        fields: LS_FIELDS,
        more,
    })
}

/// Arguments of `git_read_file`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadFileArgs {
    pub path: String,
    /// Read at revision, not worktree.
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
            let (file, size) = open_in_worktree(repo.root(), &path)?;
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

/// Opens a regular file of the worktree, refusing anything whose real location (after every
/// symbolic link) is outside the worktree or inside `.git`.
fn open_in_worktree(root: &Path, path: &RepoPath) -> Result<(std::fs::File, u64), Error> {
    let not_found = || Error::PathNotFound {
        path: path.as_str().to_owned(),
        at: "the worktree".to_owned(),
    };
    let refuse = |reason: &str| Error::BadPath {
        path: path.as_str().to_owned(),
        reason: reason.to_owned(),
    };
    // RepoPath checked the links that existed then; canonicalize checks what exists now,
    // including a link in the last component.
    let real = path
        .under(root)
        .canonicalize()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => not_found(),
            _ => refuse(&e.to_string()),
        })?;
    let Ok(inside) = real.strip_prefix(root) else {
        return Err(refuse(
            "a symbolic link along it points outside the repository",
        ));
    };
    if inside
        .components()
        .next()
        .is_some_and(|c| c.as_os_str().eq_ignore_ascii_case(".git"))
    {
        return Err(refuse("a symbolic link along it points into .git"));
    }
    let meta = std::fs::metadata(&real).map_err(|_| not_found())?;
    if meta.is_dir() {
        let mut names: Vec<String> = std::fs::read_dir(&real)
            .map_err(|e| refuse(&e.to_string()))?
            .filter_map(Result::ok)
            .filter(|e| e.file_name() != ".git")
            .map(|e| {
                let mut name = display_path(e.file_name().as_bytes());
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    name.push('/');
                }
                name
            })
            .collect();
        names.sort();
        return Err(directory_error(path, names.into_iter()));
    }
    if !meta.is_file() {
        return Err(refuse("not a regular file"));
    }
    let file = std::fs::File::open(&real).map_err(|e| refuse(&e.to_string()))?;
    Ok((file, meta.len()))
}

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

/// Which paths an operation considers: git pathspecs without magic. A plain spec matches that
/// path and everything under it; a spec with `*`, `?` or `[...]` is a glob over the whole path
/// where `*` also matches `/` (as in git) and `**/` also matches no directory at all.
#[derive(Debug)]
pub(super) struct PathFilter {
    prefixes: Vec<String>,
    /// The literal text before each glob's first wildcard, for pruning directories.
    glob_prefixes: Vec<String>,
    globs: Option<regex::bytes::Regex>,
}

impl PathFilter {
    /// Validates each spec as a [`RepoPath`] under `root`.
    pub(super) fn new(root: &Path, specs: &[String]) -> Result<Self, Error> {
        let mut prefixes = Vec::new();
        let mut glob_prefixes = Vec::new();
        let mut alternatives = Vec::new();
        for spec in specs {
            let spec = RepoPath::new(root, spec)?;
            let spec = spec.as_str();
            match spec.find(['*', '?', '[']) {
                Some(i) => {
                    glob_prefixes.push(spec[..i].to_owned());
                    alternatives.push(glob_to_regex(spec));
                }
                None => prefixes.push(spec.to_owned()),
            }
        }
        let globs = if alternatives.is_empty() {
            None
        } else {
            // Bounded by the globs as given: their regex is a few times longer, and a caller
            // controls neither its form nor a message quoting it.
            let given = specs.join(" ");
            let glob_bytes = specs
                .iter()
                .filter(|s| s.contains(['*', '?', '[']))
                .map(String::len)
                .sum();
            pattern::check_len(&given, glob_bytes)?;
            let regex = format!("^(?:{})$", alternatives.join("|"));
            Some(
                pattern::glob_regex(&regex).map_err(|reason| Error::BadPattern {
                    pattern: pattern::shown(&given),
                    reason,
                })?,
            )
        };
        Ok(Self {
            prefixes,
            glob_prefixes,
            globs,
        })
    }

    fn everything(&self) -> bool {
        self.prefixes.is_empty() && self.globs.is_none()
    }

    /// Whether the file `path` (slash-separated, relative to the root) is selected.
    pub(super) fn matches(&self, path: &[u8]) -> bool {
        self.everything()
            || self.prefixes.iter().any(|p| {
                let p = p.as_bytes();
                path.starts_with(p) && (path.len() == p.len() || path[p.len()] == b'/')
            })
            || self.globs.as_ref().is_some_and(|g| g.is_match(path))
    }

    /// Whether something under the directory `dir` (no trailing slash) can be selected.
    pub(super) fn may_contain(&self, dir: &[u8]) -> bool {
        if self.everything() {
            return true;
        }
        let mut slashed = dir.to_vec();
        slashed.push(b'/');
        // A plain spec is a whole directory or file name; a glob's literal part may end mid-name.
        self.prefixes.iter().any(|p| {
            let p = p.as_bytes();
            p == dir
                || p.starts_with(&slashed)
                || slashed.starts_with(p) && slashed[p.len()] == b'/'
        }) || self.glob_prefixes.iter().any(|p| {
            let p = p.as_bytes();
            p.starts_with(&slashed) || slashed.starts_with(p)
        })
    }
}

/// Translates one glob into a regex over path bytes.
fn glob_to_regex(glob: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = glob.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' if chars.get(i + 1) == Some(&'*') && chars.get(i + 2) == Some(&'/') => {
                out.push_str("(?s-u:(?:.*/)?)");
                i += 3;
                continue;
            }
            '*' => out.push_str("(?s-u:.*)"),
            '?' => out.push_str("(?s:.)"),
            '[' => match class(&chars[i + 1..]) {
                Some((class, used)) => {
                    out.push_str(&class);
                    i += used + 2;
                    continue;
                }
                None => out.push_str(r"\["),
            },
            '\\' if i + 1 < chars.len() => {
                i += 1;
                out.push_str(&regex::escape(&chars[i].to_string()));
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    out
}

/// Translates a bracket expression whose body starts at `rest` (after `[`); returns the regex
/// class and how many characters the body used (without the brackets), or `None` if unclosed.
fn class(rest: &[char]) -> Option<(String, usize)> {
    let mut out = String::from("[");
    let mut i = 0;
    if matches!(rest.first(), Some('!' | '^')) {
        out.push('^');
        i += 1;
    }
    let body_start = i;
    while i < rest.len() {
        let c = rest[i];
        if c == ']' && i > body_start {
            out.push(']');
            return Some((out, i));
        }
        let range_dash = c == '-' && i > body_start && rest.get(i + 1) != Some(&']');
        if range_dash {
            out.push('-');
        } else if c.is_ascii_alphanumeric() || !c.is_ascii() {
            out.push(c);
        } else {
            out.push('\\');
            out.push(c);
        }
        i += 1;
    }
    None
}

/// Walks `tree` depth first in git's path order, calling `visit` with the full path of each
/// selected non-tree entry (blobs and submodule commits); `visit` returns `false` to stop.
/// Directories no spec can match are not read. Paths are bytes: tree names need not be UTF-8.
pub(super) fn walk_tree<'r>(
    git: &'r git2::Repository,
    tree: &git2::Tree<'r>,
    filter: &PathFilter,
    mut visit: impl FnMut(&[u8], &git2::TreeEntry<'_>) -> Result<bool, Error>,
) -> Result<(), Error> {
    // An explicit stack: a hostile repository can nest trees deeper than the thread's stack.
    let mut stack: Vec<(Vec<u8>, git2::Tree<'r>, usize)> = vec![(Vec::new(), tree.clone(), 0)];
    while let Some((prefix, tree, next)) = stack.last_mut() {
        let Some(entry) = tree.get(*next) else {
            stack.pop();
            continue;
        };
        *next += 1;
        let mut path = prefix.clone();
        path.extend_from_slice(entry.name_bytes());
        let descend = if entry.kind() == Some(git2::ObjectType::Tree) {
            filter.may_contain(&path).then(|| entry.id())
        } else {
            if filter.matches(&path) && !visit(&path, &entry)? {
                return Ok(());
            }
            None
        };
        drop(entry);
        if let Some(id) = descend {
            let sub = git.find_tree(id)?;
            path.push(b'/');
            stack.push((path, sub, 0));
        }
    }
    Ok(())
}

/// Reads tracked files from the worktree without following a symbolic link in a leading
/// directory (git treats such a path as gone; following it could leave the worktree).
pub(super) struct WorktreeReader<'a> {
    root: &'a Path,
    /// Directories already checked, with the verdict.
    dirs: std::collections::HashMap<Vec<u8>, bool>,
}

impl<'a> WorktreeReader<'a> {
    pub(super) fn new(root: &'a Path) -> Self {
        Self {
            root,
            dirs: std::collections::HashMap::new(),
        }
    }

    /// The content of the regular file at the index path `rel`, or `None` when it is missing,
    /// is not a regular file (symlinks included), is larger than `max`, or cannot be read.
    pub(super) fn read(&mut self, rel: &[u8], max: u64) -> Option<Vec<u8>> {
        if !is_plain_relative(rel) {
            return None;
        }
        let mut at = 0;
        while let Some(i) = rel[at..].iter().position(|&b| b == b'/') {
            let dir = &rel[..at + i];
            let ok = match self.dirs.get(dir) {
                Some(ok) => *ok,
                None => {
                    let ok = std::fs::symlink_metadata(self.full(dir)).is_ok_and(|m| m.is_dir());
                    self.dirs.insert(dir.to_vec(), ok);
                    ok
                }
            };
            if !ok {
                return None;
            }
            at += i + 1;
        }
        let full = self.full(rel);
        let meta = std::fs::symlink_metadata(&full).ok()?;
        if !meta.is_file() || meta.len() > max {
            return None;
        }
        std::fs::read(full).ok()
    }

    fn full(&self, rel: &[u8]) -> PathBuf {
        self.root.join(OsStr::from_bytes(rel))
    }
}

/// Whether an index path is relative and stays in the worktree (a hostile index could hold
/// anything; git refuses such entries, libgit2 may not).
fn is_plain_relative(rel: &[u8]) -> bool {
    !rel.is_empty()
        && rel
            .split(|&b| b == b'/')
            .all(|part| !matches!(part, b"" | b"." | b".."))
        && !rel
            .split(|&b| b == b'/')
            .next()
            .is_some_and(|first| first.eq_ignore_ascii_case(b".git"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::git::testutil::{Fixture, merge_conflict};

    /// Lists through `ls_files` and compares with `git` run with `oracle` on the same repo.
    fn check(f: &Fixture, args: LsFilesArgs, oracle: &[&str]) {
        let repo = f.open();
        let got = ls_files(&repo, &args).unwrap();
        let want = f.git(oracle);
        let want_text = if want.is_empty() {
            "(no files)"
        } else {
            want.trim_end()
        };
        assert_eq!(got.text, want_text, "{args:?}");
        assert_eq!(got.data.as_array().unwrap().len(), want.lines().count());
    }

    fn ls(rev: Option<&str>, paths: &[&str]) -> LsFilesArgs {
        LsFilesArgs {
            rev: rev.map(str::to_owned),
            paths: paths.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        }
    }

    fn sample() -> Fixture {
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

    #[test]
    fn ls_files_matches_git() {
        let f = sample();
        f.git(&["mv", "a.txt", "c.txt"]);
        f.write("new.rs", "new\n");
        f.git(&["add", "new.rs"]);
        check(&f, ls(None, &[]), &["ls-files"]);
        check(&f, ls(None, &["src"]), &["ls-files", "--", "src"]);
        check(&f, ls(None, &["src/"]), &["ls-files", "--", "src/"]);
        check(&f, ls(None, &["*.rs"]), &["ls-files", "--", "*.rs"]);
        check(&f, ls(None, &["src/*.rs"]), &["ls-files", "--", "src/*.rs"]);
        check(
            &f,
            ls(None, &["s?c/[lm]*"]),
            &["ls-files", "--", "s?c/[lm]*"],
        );
        check(
            &f,
            ls(None, &["**/*.md"]),
            &["ls-files", "--", ":(glob)**/*.md"],
        );
        check(
            &f,
            ls(None, &["src", "docs"]),
            &["ls-files", "--", "src", "docs"],
        );
        check(&f, ls(None, &["nothing"]), &["ls-files", "--", "nothing"]);
        check(
            &f,
            ls(Some("HEAD"), &[]),
            &["ls-tree", "-r", "--name-only", "HEAD"],
        );
        check(
            &f,
            ls(Some("main"), &["src"]),
            &["ls-tree", "-r", "--name-only", "main", "--", "src"],
        );
        check(
            &f,
            ls(Some("HEAD"), &["a"]),
            &["ls-tree", "-r", "--name-only", "HEAD", "--", "a"],
        );
    }

    #[test]
    fn ls_files_records_mode_and_size() {
        let f = sample();
        let repo = f.open();
        let got = ls_files(&repo, &ls(Some("HEAD"), &["README.md"])).unwrap();
        assert_eq!(
            got.data,
            json!([{"path": "README.md", "mode": "100644", "size": 6}])
        );
        let got = ls_files(&repo, &ls(None, &["README.md"])).unwrap();
        assert_eq!(
            got.data,
            json!([{"path": "README.md", "mode": "100644", "size": 6}])
        );
    }

    #[test]
    fn ls_files_pages_with_a_more_line() {
        let f = sample();
        let repo = f.open();
        let args = LsFilesArgs {
            limit: Some(2),
            skip: Some(1),
            ..Default::default()
        };
        let got = ls_files(&repo, &args).unwrap();
        assert_eq!(got.text, "a.txt\na/b.txt\n... 4 more files; pass skip=3");
        assert_eq!(got.more.as_deref(), Some("... 4 more files; pass skip=3"));
        let args = LsFilesArgs {
            skip: Some(50),
            ..Default::default()
        };
        assert_eq!(
            ls_files(&repo, &args).unwrap().text,
            "(skip=50 is past the end: 7 files)"
        );
    }

    #[test]
    fn ls_files_on_a_conflict_lists_the_path_once() {
        let f = merge_conflict();
        check(&f, ls(None, &[]), &["ls-files", "--deduplicate"]);
    }

    #[test]
    fn ls_files_non_utf8_name_is_quoted_like_git() {
        let f = Fixture::new();
        let name = OsStr::from_bytes(b"bad\xffname.txt");
        std::fs::write(f.path().join(name), "x\n").unwrap();
        f.commit("odd name", &[]);
        check(&f, ls(None, &[]), &["ls-files"]);
        check(
            &f,
            ls(Some("HEAD"), &[]),
            &["ls-tree", "-r", "--name-only", "HEAD"],
        );
    }

    #[test]
    fn ls_files_empty_repository() {
        let f = Fixture::new();
        let repo = f.open();
        assert_eq!(ls_files(&repo, &ls(None, &[])).unwrap().text, "(no files)");
        let err = ls_files(&repo, &ls(Some("HEAD"), &[])).unwrap_err();
        assert!(matches!(err, Error::EmptyRepository), "{err}");
    }

    #[test]
    fn ls_files_refuses_bad_input() {
        let f = sample();
        let repo = f.open();
        let err = |args| ls_files(&repo, &args).unwrap_err().to_string();
        assert!(err(ls(Some("--all"), &[])).contains("must not start with '-'"));
        assert!(err(ls(Some("mian"), &[])).contains("nearest: main"));
        assert!(err(ls(None, &["../x"])).contains("'..'"));
        assert!(err(ls(None, &["/etc"])).contains("absolute"));
    }

    #[test]
    fn ls_files_on_long_history() {
        let f = crate::git::testutil::long_history(1000);
        check(
            &f,
            ls(Some("HEAD~999"), &[]),
            &["ls-tree", "-r", "--name-only", "HEAD~999"],
        );
        check(&f, ls(None, &[]), &["ls-files"]);
    }

    // --- read_file ---

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
        let f = sample();
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
        let f = sample();
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
        let f = sample();
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

    #[test]
    fn globs_translate() {
        let filter = |specs: &[&str]| {
            let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
            PathFilter::new(Path::new("/nonexistent"), &specs).unwrap()
        };
        let g = filter(&["src/**/*.rs", "[!a-c]?.md", "x[]]y", "lit.+(x)"]);
        assert!(
            g.may_contain(b"docs"),
            "a glob with no literal prefix may be anywhere"
        );
        for yes in [
            "src/a.rs",
            "src/a/b/c.rs",
            "dd.md",
            "x]y",
            "lit.+(x)",
            "lit.+(x)/in",
        ] {
            assert!(g.matches(yes.as_bytes()), "{yes}");
        }
        for no in [
            "src.rs",
            "ad.md",
            "d.md",
            "xy",
            "litx+(x)",
            "other/src/a.rs",
        ] {
            assert!(!g.matches(no.as_bytes()), "{no}");
        }
        let g = filter(&["src/**/*.rs", "lib"]);
        assert!(g.may_contain(b"src") && g.may_contain(b"src/deep") && !g.may_contain(b"docs"));
        assert!(g.may_contain(b"lib") && !g.may_contain(b"library"));
        assert!(filter(&[]).matches(b"anything"));
    }
}
