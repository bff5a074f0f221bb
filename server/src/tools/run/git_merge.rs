//! `git merge` in the run form, as a call of `git_merge`: git's report of a fast-forward or a
//! merge commit (with the diffstat), and of conflicts (after which nothing is left changed).

use std::cell::Cell;

use super::Runner;
use super::git::{Failure, usage};
use crate::git::FastForward;
use crate::tools::ToolError;

/// `git merge [--ff|--no-ff|--ff-only] [-m MSG] [-q] REV`.
pub(super) fn merge(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let flags = "--ff, --no-ff, --ff-only, -m MSG, -q, --no-edit, REV";
    let mut merge = crate::git::MergeArgs::default();
    let mut quiet = false;
    let mut words = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--ff" => merge.ff = Some(FastForward::Allow),
            "--no-ff" => merge.ff = Some(FastForward::Never),
            "--ff-only" => merge.ff = Some(FastForward::Only),
            "-q" | "--quiet" => quiet = true,
            "--no-edit" => {}
            "-m" => {
                merge.message = Some(
                    rest.next()
                        .ok_or_else(|| Failure::from(usage("switch `m' requires a value")))?
                        .clone(),
                )
            }
            a if a.starts_with('-') => {
                return Err(usage(format!(
                    "unsupported option '{a}' for git merge in gitgate; supported: {flags}"
                ))
                .into());
            }
            word => words.push(word.to_owned()),
        }
    }
    let [rev] = words.as_slice() else {
        return Err(usage(format!("gitgate's git merge takes one revision: {flags}")).into());
    };
    merge.rev = rev.clone();
    let conflicts: Cell<Option<Vec<String>>> = Cell::new(None);
    let result = runner.git_call("git_merge", argv, repo, |repo, caller| {
        let done = crate::git::merge(repo, &merge, &caller.identity).inspect_err(|e| {
            if let crate::git::Error::MergeConflicts { paths } = e {
                conflicts.set(Some(paths.clone()));
            }
        })?;
        if quiet {
            return Ok(String::new());
        }
        report(repo, &done)
    });
    match (result, conflicts.take()) {
        // git's report of the conflicts (status 1), then what gitgate did about them.
        (Err(e), Some(paths)) => {
            let mut out = String::new();
            for path in &paths {
                out.push_str(&format!(
                    "Auto-merging {path}\nCONFLICT (content): Merge conflict in {path}\n"
                ));
            }
            out.push_str("Automatic merge failed; fix conflicts and then commit the result.\n");
            out.push_str(&format!("gitgate: {}\n", e.message));
            Err(Failure::Exit(out, 1))
        }
        (result, _) => Ok(result?),
    }
}

/// git's report of a merge made: its first line, then (unless already up to date) the
/// diffstat from the old HEAD and the create/delete/rename lines.
fn report(repo: &crate::git::Repo, done: &crate::output::Output) -> Result<String, ToolError> {
    let mut out = format!("{}\n", done.text);
    if done.data["result"] == "up-to-date" {
        return Ok(out);
    }
    let sha = |key: &str| {
        git2::Oid::from_str(done.data[key].as_str().unwrap_or_default())
            .map_err(crate::git::Error::from)
    };
    let (from, to) = (sha("from")?, sha("sha")?);
    let stat = crate::git::diff(
        repo,
        &crate::git::DiffArgs {
            from: Some(from.to_string()),
            to: Some(to.to_string()),
            stat: Some(true),
            max_lines: Some(usize::MAX),
            ..crate::git::DiffArgs::default()
        },
    )?;
    if !stat.text.is_empty() {
        out.push_str(&stat.text);
        out.push('\n');
    }
    out.push_str(&super::git_write::changes(repo, Some(from), to)?.1);
    Ok(out)
}
