//! `git tag NAME` (`-a -m`) and `git reset` in the run form, as calls of `git_tag` and
//! `git_reset` (`git reset [REV] -- PATHS` as `git_restore`), printing what git prints.

use super::Runner;
use super::git::{Failure, usage};
use crate::git::ResetMode;
use crate::tools::ToolError;

/// `git tag [-a] [-m MSG] NAME [REV]`: prints nothing, as git.
pub(super) fn tag(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let flags = "NAME [REV], -a NAME -m MSG [REV], -m MSG (repeatable); listing: -l [PATTERN]";
    let mut annotate = false;
    let mut messages = Vec::new();
    let mut words = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-a" | "--annotate" => annotate = true,
            "-m" | "--message" => messages.push(
                rest.next()
                    .ok_or_else(|| Failure::from(usage("switch `m' requires a value")))?
                    .clone(),
            ),
            a if a.starts_with("-m") => messages.push(a[2..].to_owned()),
            a if a.starts_with('-') => {
                return Err(usage(format!(
                    "unsupported option '{a}' for git tag in gitgate; supported: {flags}"
                ))
                .into());
            }
            word => words.push(word.to_owned()),
        }
    }
    if annotate && messages.is_empty() {
        return Err(usage(format!(
            "gitgate runs no editor: give an annotated tag's message with -m ({flags})"
        ))
        .into());
    }
    let (name, rev) = match words.as_slice() {
        [name] => (name.clone(), None),
        [name, rev] => (name.clone(), Some(rev.clone())),
        _ => return Err(usage(format!("git tag takes: {flags}")).into()),
    };
    let args = crate::git::TagArgs {
        name,
        rev,
        message: (!messages.is_empty()).then(|| messages.join("\n\n")),
    };
    Ok(runner.git_call("git_tag", argv, repo, |repo, caller| {
        crate::git::tag(repo, &args, &caller.identity)?;
        Ok(String::new())
    })?)
}

/// `git reset [--soft|--mixed|--hard] [-q] [REV]` and `git reset [HEAD] -- PATHS`.
pub(super) fn reset(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let flags = "--soft, --mixed, --hard, -q, [REV], [HEAD] -- PATHS";
    let mut mode = None;
    let mut quiet = false;
    let mut words = Vec::new();
    let mut paths: Option<Vec<String>> = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--soft" => mode = Some(ResetMode::Soft),
            "--mixed" => mode = Some(ResetMode::Mixed),
            "--hard" => mode = Some(ResetMode::Hard),
            "-q" | "--quiet" => quiet = true,
            "--" => paths = Some(rest.by_ref().cloned().collect()),
            a if a.starts_with('-') => {
                return Err(usage(format!(
                    "unsupported option '{a}' for git reset in gitgate; supported: {flags}"
                ))
                .into());
            }
            word => words.push(word.to_owned()),
        }
    }
    if let Some(paths) = paths {
        if mode.is_some() || !matches!(words.as_slice(), [] | [_]) {
            return Err(usage(format!("git reset [HEAD] -- PATHS ({flags})")).into());
        }
        if words.first().is_some_and(|w| w != "HEAD") {
            return Err(usage(
                "gitgate resets paths to HEAD only: git reset -- PATHS (or git restore --staged)",
            )
            .into());
        }
        let restore = crate::git::RestoreArgs {
            paths,
            staged: Some(true),
            worktree: Some(false),
            source: None,
            overlay: false,
        };
        return Ok(runner.git_call("git_restore", argv, repo, |repo, _| {
            crate::git::restore(repo, &restore)?;
            if quiet {
                return Ok(String::new());
            }
            unstaged_after_reset(repo)
        })?);
    }
    let rev = match words.as_slice() {
        [] => None,
        [rev] => Some(rev.clone()),
        _ => return Err(usage(format!("git reset takes one revision ({flags})")).into()),
    };
    let args = crate::git::ResetArgs { rev, mode };
    Ok(runner.git_call("git_reset", argv, repo, |repo, _| {
        let done = crate::git::reset(repo, &args)?;
        if quiet {
            return Ok(String::new());
        }
        Ok(match args.mode.unwrap_or_default() {
            ResetMode::Soft => String::new(),
            ResetMode::Mixed => unstaged_after_reset(repo)?,
            ResetMode::Hard => format!("{}\n", done.text),
        })
    })?)
}

/// git's report after a mixed reset: the tracked files whose worktree differs from the index.
fn unstaged_after_reset(repo: &crate::git::Repo) -> Result<String, ToolError> {
    let git = repo.lock();
    let e = crate::git::Error::from;
    let index = git.index().map_err(e)?;
    let diff = git.diff_index_to_workdir(Some(&index), None).map_err(e)?;
    let mut out = String::new();
    for delta in diff.deltas() {
        let letter = match delta.status() {
            git2::Delta::Deleted => 'D',
            git2::Delta::Untracked | git2::Delta::Ignored | git2::Delta::Unmodified => continue,
            _ => 'M',
        };
        let path = delta.new_file().path_bytes().unwrap_or_default();
        out.push_str(&format!("{letter}\t{}\n", crate::git::display_path(path)));
    }
    if out.is_empty() {
        return Ok(out);
    }
    Ok(format!("Unstaged changes after reset:\n{out}"))
}
