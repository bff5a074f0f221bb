//! Diffs, as `git diff`: worktree vs index, `staged` (index vs HEAD), `from` vs worktree, or `from` vs `to`.
//!
//! The patch text is rendered here line by line (not with libgit2's printer) so that paths are
//! quoted as [`super::display_path`] names them everywhere, binary content is never printed, and
//! only the requested window of lines is formatted. [`super::show`] reuses the renderer.
//!
//! Differences from git's own output, on purpose or for lack of data:
//! - the `similarity index` line is printed only for exact renames (100%): git2 does not expose
//!   libgit2's score, and libgit2's score is not git's anyway;
//! - abbreviated ids in `index` lines are always 7 hex digits.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};

use super::fmt::{plural, short_id};
use super::rev::{head_tree, resolve_commit};
use super::safety::{RepoPath, RevSpec};
use super::{Error, Output, Repo, display_path, more_line};

/// Arguments of `git_diff`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiffArgs {
    pub from: Option<String>,
    pub to: Option<String>,
    pub staged: Option<bool>,
    #[serde(default)]
    pub paths: Vec<String>,
    /// Only the diffstat.
    pub stat: Option<bool>,
    pub offset: Option<usize>,
    pub max_lines: Option<usize>,
}

/// Field names a `json: [...]` projection may ask for (the tool's schema lists them).
pub const FIELDS: &[&str] = &[
    "path",
    "old_path",
    "status",
    "additions",
    "deletions",
    "binary",
];

/// Runs `git_diff`.
pub fn diff(repo: &Repo, args: &DiffArgs) -> Result<Output, Error> {
    let from = args.from.as_deref().map(RevSpec::new).transpose()?;
    let to = args.to.as_deref().map(RevSpec::new).transpose()?;
    let paths = RepoPath::all(repo.root(), &args.paths)?;
    let staged = args.staged.unwrap_or(false);
    if to.is_some() && from.is_none() {
        return Err(Error::Refused(
            "'to' needs 'from': pass both (git diff FROM TO), or only from to compare it with the worktree".into(),
        ));
    }
    if staged && (from.is_some() || to.is_some()) {
        return Err(Error::Refused(
            "'staged' compares HEAD with the index and cannot be combined with from/to".into(),
        ));
    }
    let window = Window::new(args.offset, args.max_lines)?;

    let git = repo.lock();
    let mut opts = diff_options(&paths);
    let (diff, sides) = match (&from, &to) {
        (Some(from), Some(to)) => {
            let old = resolve_commit(&git, from)?.tree()?;
            let new = resolve_commit(&git, to)?.tree()?;
            let diff = git.diff_tree_to_tree(Some(&old), Some(&new), Some(&mut opts))?;
            (diff, Sides::Trees(old, new))
        }
        (Some(from), None) => {
            let old = resolve_commit(&git, from)?.tree()?;
            let diff = git.diff_tree_to_workdir_with_index(Some(&old), Some(&mut opts))?;
            (diff, Sides::TreeAndWorktree(old))
        }
        (None, _) if staged => {
            // An unborn HEAD (empty repository) compares the index with the empty tree.
            let head = head_tree(&git)?;
            let diff = git.diff_tree_to_index(head.as_ref(), None, Some(&mut opts))?;
            (diff, Sides::HeadAndIndex(head))
        }
        (None, _) => (
            git.diff_index_to_workdir(None, Some(&mut opts))?,
            Sides::IndexAndWorktree,
        ),
    };
    let mut diff = diff;
    find_renames(&mut diff)?;
    let rendered = render(&diff, args.stat.unwrap_or(false), window)?;
    check_paths_exist(
        &git,
        repo.root(),
        &paths,
        &rendered.files,
        &sides,
        &from,
        &to,
    )?;

    let data = Value::Array(rendered.files.iter().map(FileChange::record).collect());
    let mut text = rendered.body.trim_end_matches('\n').to_owned();
    let more = if rendered.files.is_empty() {
        text.push_str("(no changes)");
        None
    } else {
        rendered.finish(&mut text)
    };
    Ok(Output {
        text,
        data,
        fields: FIELDS,
        more,
    })
}

/// What the two sides of a diff were, to tell whether an unmatched path exists on either.
enum Sides<'r> {
    IndexAndWorktree,
    HeadAndIndex(Option<git2::Tree<'r>>),
    TreeAndWorktree(git2::Tree<'r>),
    Trees(git2::Tree<'r>, git2::Tree<'r>),
}

/// Diff options shared by diff and show: git's defaults (3 lines of context, indent heuristic)
/// and literal pathspecs (a path names a file or a directory, never a glob).
pub(super) fn diff_options(paths: &[RepoPath]) -> git2::DiffOptions {
    let mut opts = git2::DiffOptions::new();
    opts.indent_heuristic(true)
        .include_typechange(true)
        .disable_pathspec_match(!paths.is_empty());
    for p in paths {
        opts.pathspec(p.as_str());
    }
    opts
}

/// Rename detection as git does by default (50% similarity, no copies).
pub(super) fn find_renames(diff: &mut git2::Diff<'_>) -> Result<(), Error> {
    let mut find = git2::DiffFindOptions::new();
    find.renames(true);
    diff.find_similar(Some(&mut find))?;
    Ok(())
}

/// `true` when the tree holds `path` (a file or a directory).
pub(super) fn tree_has(tree: &git2::Tree<'_>, path: &RepoPath) -> bool {
    tree.get_path(Path::new(path.as_str())).is_ok()
}

/// A path argument that matched no change must at least exist on one side; otherwise it is
/// most likely a typo, and an empty diff would hide that.
fn check_paths_exist(
    git: &git2::Repository,
    root: &Path,
    paths: &[RepoPath],
    files: &[FileChange],
    sides: &Sides<'_>,
    from: &Option<RevSpec>,
    to: &Option<RevSpec>,
) -> Result<(), Error> {
    for path in paths {
        if files.iter().any(|f| f.touches(path.as_str())) {
            continue;
        }
        let in_index = || {
            git.index().is_ok_and(|index| {
                index.get_path(Path::new(path.as_str()), 0).is_some()
                    || index
                        .find_prefix(Path::new(&format!("{}/", path.as_str())))
                        .is_ok()
            })
        };
        let in_worktree = || std::fs::symlink_metadata(path.under(root)).is_ok();
        let rev = |r: &Option<RevSpec>| r.as_ref().map_or("", RevSpec::as_str).to_owned();
        let (found, at) = match sides {
            Sides::IndexAndWorktree => {
                (in_index() || in_worktree(), "the index or worktree".into())
            }
            Sides::HeadAndIndex(head) => (
                head.as_ref().is_some_and(|t| tree_has(t, path)) || in_index(),
                "HEAD or the index".into(),
            ),
            Sides::TreeAndWorktree(tree) => (
                tree_has(tree, path) || in_index() || in_worktree(),
                format!("{} or the worktree", rev(from)),
            ),
            Sides::Trees(old, new) => (
                tree_has(old, path) || tree_has(new, path),
                format!("{} or {}", rev(from), rev(to)),
            ),
        };
        if !found {
            return Err(Error::PathNotFound {
                path: path.as_str().to_owned(),
                at,
            });
        }
    }
    Ok(())
}

/// Which lines of a long body to show.
#[derive(Debug, Clone, Copy)]
pub(super) struct Window {
    offset: usize,
    max_lines: usize,
}

impl Window {
    const DEFAULT_LINES: usize = 300;
    /// A larger request is cut to this; the "more" line says how to go on.
    const MAX_LINES: usize = 5_000;

    pub(super) fn new(offset: Option<usize>, max_lines: Option<usize>) -> Result<Self, Error> {
        let max_lines = max_lines.unwrap_or(Self::DEFAULT_LINES);
        if max_lines == 0 {
            return Err(Error::Refused("max_lines must be at least 1".into()));
        }
        Ok(Self {
            offset: offset.unwrap_or(0),
            max_lines: max_lines.min(Self::MAX_LINES),
        })
    }

    fn end(&self) -> usize {
        self.offset.saturating_add(self.max_lines)
    }
}

/// Collects body lines, formatting only those inside the window but counting all of them.
struct Sink {
    window: Window,
    count: usize,
    text: String,
}

impl Sink {
    fn line(&mut self, f: impl FnOnce(&mut String)) {
        if self.count >= self.window.offset && self.count < self.window.end() {
            f(&mut self.text);
            self.text.push('\n');
        }
        self.count += 1;
    }

    fn lossy(&mut self, prefix: &str, bytes: &[u8]) {
        self.line(|t| {
            t.push_str(prefix);
            t.push_str(&String::from_utf8_lossy(bytes));
        });
    }
}

/// One changed file.
#[derive(Debug, Clone)]
pub(super) struct FileChange {
    /// The new path (the old one for deletions), rendered with [`display_path`].
    pub path: String,
    /// The old path of a rename or copy.
    pub old_path: Option<String>,
    pub status: &'static str,
    pub additions: usize,
    pub deletions: usize,
    pub binary: bool,
    raw_old: Vec<u8>,
    raw_new: Vec<u8>,
    old_size: u64,
    new_size: u64,
}

impl FileChange {
    fn record(&self) -> Value {
        json!({
            "path": self.path,
            "old_path": self.old_path,
            "status": self.status,
            "additions": self.additions,
            "deletions": self.deletions,
            "binary": self.binary,
        })
    }

    /// The record `git_show` lists under `files` (no `binary`; `old_path` only for renames).
    pub(super) fn show_record(&self) -> Value {
        let mut rec = json!({
            "path": self.path,
            "status": self.status,
            "additions": self.additions,
            "deletions": self.deletions,
        });
        if let (Some(old), Some(obj)) = (&self.old_path, rec.as_object_mut()) {
            obj.insert("old_path".into(), Value::String(old.clone()));
        }
        rec
    }

    /// `true` when this change is at `path` or under the directory `path`.
    fn touches(&self, path: &str) -> bool {
        let under = |raw: &[u8]| {
            raw.strip_prefix(path.as_bytes())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(b"/"))
        };
        under(&self.raw_old) || under(&self.raw_new)
    }
}

/// A rendered diff: the file list and the windowed body (patch or diffstat).
pub(super) struct Rendered {
    pub files: Vec<FileChange>,
    /// The body lines inside the window, each ending in a newline.
    pub body: String,
    total: usize,
    window: Window,
}

impl Rendered {
    /// Appends the "more lines" line (or says the offset is past the end); returns it.
    pub(super) fn finish(&self, text: &mut String) -> Option<String> {
        if self.window.offset >= self.total && self.total > 0 {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&format!(
                "(offset {} is past the end: {} lines)",
                self.window.offset, self.total
            ));
            return None;
        }
        let more = self.total.saturating_sub(self.window.end());
        more_line(
            text,
            more,
            plural(more, "line"),
            &format!("pass offset={}", self.window.end()),
        )
    }
}

/// Renders `diff` as a unified patch (or a diffstat when `stat`), keeping only `window`'s lines.
pub(super) fn render(diff: &git2::Diff<'_>, stat: bool, window: Window) -> Result<Rendered, Error> {
    let mut sink = Sink {
        window,
        count: 0,
        text: String::new(),
    };
    let mut files = Vec::new();
    for idx in 0..diff.deltas().len() {
        let patch = git2::Patch::from_diff(diff, idx)?;
        let delta = match &patch {
            Some(p) => p.delta(),
            None => match diff.get_delta(idx) {
                Some(d) => d,
                None => continue,
            },
        };
        if is_noop(&delta) {
            continue;
        }
        let change = file_change(&delta, patch.as_ref())?;
        if !stat {
            render_patch(&mut sink, &delta, patch.as_ref())?;
        }
        files.push(change);
    }
    if stat && !files.is_empty() {
        render_stat(&mut sink, &files);
    }
    Ok(Rendered {
        files,
        body: sink.text,
        total: sink.count,
        window,
    })
}

/// A "modification" that changes nothing. libgit2 reports one when it merges tree→index and
/// index→worktree changes that cancel out (e.g. `chmod +x` staged, not in the worktree); git
/// shows nothing.
fn is_noop(delta: &git2::DiffDelta<'_>) -> bool {
    let (old, new) = (delta.old_file(), delta.new_file());
    delta.status() == git2::Delta::Modified
        && old.is_valid_id()
        && new.is_valid_id()
        && old.id() == new.id()
        && old.mode() == new.mode()
}

fn status_word(status: git2::Delta) -> &'static str {
    match status {
        git2::Delta::Added => "added",
        git2::Delta::Deleted => "deleted",
        git2::Delta::Renamed => "renamed",
        git2::Delta::Copied => "copied",
        git2::Delta::Typechange => "typechange",
        git2::Delta::Untracked => "untracked",
        git2::Delta::Conflicted => "unmerged",
        _ => "modified",
    }
}

fn file_change(
    delta: &git2::DiffDelta<'_>,
    patch: Option<&git2::Patch<'_>>,
) -> Result<FileChange, Error> {
    let raw_old = delta.old_file().path_bytes().unwrap_or_default().to_vec();
    let raw_new = delta.new_file().path_bytes().unwrap_or_default().to_vec();
    let status = delta.status();
    let binary = delta.flags().is_binary();
    let (additions, deletions) = match patch {
        Some(p) if !binary => {
            let (_, add, del) = p.line_stats()?;
            (add, del)
        }
        _ => (0, 0),
    };
    let renamed = matches!(status, git2::Delta::Renamed | git2::Delta::Copied);
    let path = if status == git2::Delta::Deleted {
        &raw_old
    } else {
        &raw_new
    };
    Ok(FileChange {
        path: display_path(path),
        old_path: renamed.then(|| display_path(&raw_old)),
        status: status_word(status),
        additions,
        deletions,
        binary,
        old_size: delta.old_file().size(),
        new_size: delta.new_file().size(),
        raw_old,
        raw_new,
    })
}

/// `prefix` + `path`, quoted as a whole when needed, as git writes `a/<path>`.
fn prefixed(prefix: &str, path: &[u8]) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    bytes.extend_from_slice(path);
    display_path(&bytes)
}

fn mode_octal(mode: git2::FileMode) -> String {
    format!("{:o}", u32::from(mode))
}

/// The patch of one file, in the order git writes it: `diff --git`, extended headers, `index`,
/// then `---`/`+++` and hunks (or the "Binary files" line).
fn render_patch(
    sink: &mut Sink,
    delta: &git2::DiffDelta<'_>,
    patch: Option<&git2::Patch<'_>>,
) -> Result<(), Error> {
    let old = delta.old_file();
    let new = delta.new_file();
    let old_path = old.path_bytes().unwrap_or_default();
    let new_path = new.path_bytes().unwrap_or_default();
    let status = delta.status();
    let a = prefixed("a/", old_path);
    let b = prefixed("b/", new_path);
    sink.line(|t| {
        t.push_str("diff --git ");
        t.push_str(&a);
        t.push(' ');
        t.push_str(&b);
    });
    let old_exists = status != git2::Delta::Added && status != git2::Delta::Untracked;
    let new_exists = status != git2::Delta::Deleted;
    let (old_mode, new_mode) = (mode_octal(old.mode()), mode_octal(new.mode()));
    match status {
        git2::Delta::Added | git2::Delta::Untracked => {
            sink.line(|t| t.push_str(&format!("new file mode {new_mode}")));
        }
        git2::Delta::Deleted => sink.line(|t| t.push_str(&format!("deleted file mode {old_mode}"))),
        _ if old_mode != new_mode => {
            sink.line(|t| t.push_str(&format!("old mode {old_mode}")));
            sink.line(|t| t.push_str(&format!("new mode {new_mode}")));
        }
        _ => {}
    }
    if matches!(status, git2::Delta::Renamed | git2::Delta::Copied) {
        let word = if status == git2::Delta::Renamed {
            "rename"
        } else {
            "copy"
        };
        if old.id() == new.id() {
            sink.line(|t| t.push_str("similarity index 100%"));
        }
        sink.line(|t| t.push_str(&format!("{word} from {}", display_path(old_path))));
        sink.line(|t| t.push_str(&format!("{word} to {}", display_path(new_path))));
    }
    let known = |f: &git2::DiffFile<'_>, exists: bool| !exists || f.is_valid_id();
    if old.id() != new.id() && known(&old, old_exists) && known(&new, new_exists) {
        let same_mode = old_exists && new_exists && old_mode == new_mode;
        sink.line(|t| {
            t.push_str(&format!(
                "index {}..{}",
                short_id(old.id()),
                short_id(new.id())
            ));
            if same_mode {
                t.push(' ');
                t.push_str(&old_mode);
            }
        });
    }
    let label = |exists: bool, name: &str| {
        if exists {
            name.to_owned()
        } else {
            "/dev/null".to_owned()
        }
    };
    let (la, lb) = (label(old_exists, &a), label(new_exists, &b));
    if delta.flags().is_binary() {
        if old.id() != new.id() {
            sink.line(|t| t.push_str(&format!("Binary files {la} and {lb} differ")));
        }
        return Ok(());
    }
    let Some(patch) = patch else {
        return Ok(());
    };
    if patch.num_hunks() == 0 {
        return Ok(());
    }
    // git ends a name containing a space with a tab on these two lines, so that tools can tell
    // where it stops.
    let tab = |name: &str| if name.contains(' ') { "\t" } else { "" };
    sink.line(|t| t.push_str(&format!("--- {la}{}", tab(&la))));
    sink.line(|t| t.push_str(&format!("+++ {lb}{}", tab(&lb))));
    for h in 0..patch.num_hunks() {
        let (hunk, lines) = patch.hunk(h)?;
        sink.lossy("", trim_newline(hunk.header()));
        for l in 0..lines {
            let line = patch.line_in_hunk(h, l)?;
            match line.origin() {
                c @ ('+' | '-' | ' ') => {
                    let mut prefix = [0u8; 4];
                    sink.lossy(c.encode_utf8(&mut prefix), trim_newline(line.content()));
                }
                '=' | '>' | '<' => sink.line(|t| t.push_str("\\ No newline at end of file")),
                _ => {}
            }
        }
    }
    Ok(())
}

fn trim_newline(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(b"\n").unwrap_or(bytes)
}

/// The diffstat, laid out as `git diff --stat` does on an 80-column output (git's `show_stats`).
fn render_stat(sink: &mut Sink, files: &[FileChange]) {
    const WIDTH: usize = 80;
    let names: Vec<String> = files.iter().map(stat_name).collect();
    let mut max_len = 0;
    let mut max_change = 0;
    let mut bin_width = 0;
    let mut number_width = 0;
    for (f, name) in files.iter().zip(&names) {
        max_len = max_len.max(name.chars().count());
        if f.binary {
            bin_width = bin_width.max(14 + decimal_width(f.new_size) + decimal_width(f.old_size));
            number_width = 3;
        } else {
            max_change = max_change.max(f.additions + f.deletions);
        }
    }
    number_width = number_width.max(decimal_width(max_change as u64));
    let mut graph_width = if max_change + 4 > bin_width {
        max_change
    } else {
        bin_width - 4
    };
    let mut name_width = max_len;
    if name_width + number_width + 6 + graph_width > WIDTH {
        let limit = (WIDTH * 3 / 8).saturating_sub(number_width + 6).max(6);
        graph_width = graph_width.min(limit);
        let room = WIDTH.saturating_sub(number_width + 6 + graph_width);
        if name_width > room {
            name_width = room;
        } else {
            graph_width = WIDTH.saturating_sub(number_width + 6 + name_width);
        }
    }
    let (mut adds, mut dels) = (0, 0);
    for (f, name) in files.iter().zip(&names) {
        let name = fit_name(name, name_width);
        let pad = name_width.saturating_sub(name.chars().count());
        if f.binary {
            sink.line(|t| {
                t.push_str(&format!(" {name}{:pad$} | {:>number_width$}", "", "Bin"));
                if f.old_size != 0 || f.new_size != 0 {
                    t.push_str(&format!(" {} -> {} bytes", f.old_size, f.new_size));
                }
            });
            continue;
        }
        adds += f.additions;
        dels += f.deletions;
        let (mut add, mut del) = (f.additions, f.deletions);
        if graph_width <= max_change {
            let mut total = scale_linear(add + del, graph_width, max_change);
            if total < 2 && add > 0 && del > 0 {
                total = 2;
            }
            if add < del {
                add = scale_linear(add, graph_width, max_change);
                del = total.saturating_sub(add);
            } else {
                del = scale_linear(del, graph_width, max_change);
                add = total.saturating_sub(del);
            }
        }
        let changed = f.additions + f.deletions;
        sink.line(|t| {
            t.push_str(&format!(" {name}{:pad$} | {changed:>number_width$}", ""));
            if changed > 0 {
                t.push(' ');
            }
            t.push_str(&"+".repeat(add));
            t.push_str(&"-".repeat(del));
        });
    }
    let n = files.len();
    sink.line(|t| {
        t.push_str(&format!(
            " {n} file{} changed",
            if n == 1 { "" } else { "s" }
        ));
        if adds > 0 || dels == 0 {
            t.push_str(&format!(
                ", {adds} insertion{}(+)",
                if adds == 1 { "" } else { "s" }
            ));
        }
        if dels > 0 || adds == 0 {
            t.push_str(&format!(
                ", {dels} deletion{}(-)",
                if dels == 1 { "" } else { "s" }
            ));
        }
    });
}

fn decimal_width(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// git's `scale_linear`: at least one column for any change.
fn scale_linear(it: usize, width: usize, max_change: usize) -> usize {
    if it == 0 || max_change == 0 {
        return 0;
    }
    1 + it * width.saturating_sub(1) / max_change
}

/// A name too wide for its column loses its head: `.../rest/of/path`.
fn fit_name(name: &str, width: usize) -> String {
    let len = name.chars().count();
    if len <= width {
        return name.to_owned();
    }
    let keep = width.saturating_sub(3);
    let tail: String = name.chars().skip(len - keep).collect();
    match tail.find('/') {
        Some(slash) => format!("...{}", &tail[slash..]),
        None => format!("...{tail}"),
    }
}

/// The name a diffstat line shows: the path, or `old => new` with the common prefix and suffix
/// factored out as `dir/{old => new}/rest` (git's `pprint_rename`).
fn stat_name(f: &FileChange) -> String {
    let Some(old_path) = &f.old_path else {
        return f.path.clone();
    };
    if old_path.starts_with('"') || f.path.starts_with('"') {
        return format!("{old_path} => {}", f.path);
    }
    // Both are plain UTF-8 here (display_path did not quote them).
    let (a, b) = (old_path.as_bytes(), f.path.as_bytes());
    let mut pfx = 0;
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x != y {
            break;
        }
        if *x == b'/' {
            pfx = i + 1;
        }
    }
    // Walk back from the ends (the terminators compare equal, as in C) while the bytes agree,
    // at most one byte into the common prefix so that its slash can end the suffix.
    let adjust = usize::from(pfx > 0);
    let (mut sfx, mut p, mut q) = (0, a.len(), b.len());
    while p + adjust >= pfx && q + adjust >= pfx && a.get(p) == b.get(q) {
        if a.get(p) == Some(&b'/') {
            sfx = a.len() - p;
        }
        if p == 0 || q == 0 {
            break;
        }
        p -= 1;
        q -= 1;
    }
    let a_mid = a.len().saturating_sub(pfx + sfx);
    let b_mid = b.len().saturating_sub(pfx + sfx);
    let s = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let mid_a = s(a.get(pfx..pfx + a_mid).unwrap_or_default());
    let mid_b = s(b.get(pfx..pfx + b_mid).unwrap_or_default());
    if pfx + sfx == 0 {
        return format!("{mid_a} => {mid_b}");
    }
    format!(
        "{}{{{mid_a} => {mid_b}}}{}",
        s(&a[..pfx]),
        s(&a[a.len() - sfx..])
    )
}

#[cfg(test)]
mod tests {
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
}
