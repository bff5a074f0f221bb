//! Diffs, as `git diff`: worktree vs index, `staged` (index vs HEAD), `from` vs worktree, or `from` vs `to`.
//!
//! The patch text is rendered line by line ([`patch`], [`stat`]; not with libgit2's printer) so
//! that paths are quoted as [`super::display_path`] names them everywhere, binary content is never
//! printed, and only the requested [`window`] of lines is formatted. [`super::show()`] reuses the
//! renderer.
//!
//! Differences from git's own output, on purpose or for lack of data:
//! - the `similarity index` line is printed only for exact renames (100%): git2 does not expose
//!   libgit2's score, and libgit2's score is not git's anyway;
//! - abbreviated ids in `index` lines are always 7 hex digits.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::fmt::plural;
use super::rev::{head_tree, resolve_commit};
use super::safety::{RepoPath, RevSpec};
use super::{Error, Output, Repo, more_line};

mod change;
mod patch;
mod stat;
#[cfg(test)]
mod tests;
mod window;

use change::{FileChange, file_change, is_noop};
use patch::render_patch;
use stat::render_stat;
use window::Sink;
pub(super) use window::Window;

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
    let mut sink = Sink::new(window);
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
