//! Moving between branches in the run form: `git switch`, `git checkout` (branches, detached
//! revisions, and paths restored from the index) and `git branch NAME` / `-d` / `-D`. Each runs
//! as a call of its JSON tool (`git_switch`, `git_restore`, `git_create_branch`,
//! `git_delete_branch`) and prints what git prints, its messages on standard error included.

use std::cell::Cell;

use super::Runner;
use super::git::{Failure, usage};
use crate::git::SwitchArgs;
use crate::tools::ToolError;

/// git's advice on entering a detached HEAD by `git checkout REV` (advice.detachedHead is on
/// by default; gitgate reads no configuration).
const DETACHED_ADVICE: &str = "\n\nYou are in 'detached HEAD' state. You can look around, make \
experimental\nchanges and commit them, and you can discard any commits you make in this\nstate \
without impacting any branches by switching back to a branch.\n\nIf you want to create a new \
branch to retain commits you create, you may\ndo so (now or later) by using -c with the switch \
command. Example:\n\n  git switch -c <new-branch-name>\n\nOr undo this operation with:\n\n  \
git switch -\n\nTurn off this advice by setting config variable advice.detachedHead to false\n\n";

/// `git switch NAME`, `-c NAME [START]`, `--detach REV`.
pub(super) fn switch(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let flags = "NAME, -c/--create NAME [START], -d/--detach REV, -q";
    let mut switch = SwitchArgs::default();
    let mut words = Vec::new();
    let mut quiet = false;
    for arg in args {
        match arg.as_str() {
            "-c" | "--create" => switch.create = Some(true),
            "-d" | "--detach" => switch.detach = Some(true),
            "-q" | "--quiet" => quiet = true,
            a if a.starts_with('-') => {
                return Err(usage(format!(
                    "unsupported option '{a}' for git switch in gitgate; supported: {flags}"
                ))
                .into());
            }
            word => words.push(word.to_owned()),
        }
    }
    match words.as_slice() {
        [name] => switch.branch = name.clone(),
        [name, start] if switch.create == Some(true) => {
            switch.branch = name.clone();
            switch.start = Some(start.clone());
        }
        _ => return Err(usage(format!("git switch takes: {flags}")).into()),
    }
    let overwrite = Cell::new(false);
    let stderr = std::cell::RefCell::new(String::new());
    let result = runner.git_call("git_switch", argv, repo, |repo, _| {
        run_switch(repo, &switch, quiet, "", &overwrite, &stderr)
    });
    refused_as_git(result, &overwrite, stderr.into_inner())
}

/// A switch that would overwrite local changes fails as git's does: status 1, not 128. A
/// switch that went through prints `stdout` and git's messages on standard error.
fn refused_as_git(
    result: Result<String, ToolError>,
    overwrite: &Cell<bool>,
    stderr: String,
) -> Result<String, Failure> {
    match result {
        Err(e) if overwrite.get() => Err(Failure::Exit(format!("error: {}\n", e.message), 1)),
        Err(e) => Err(e.into()),
        Ok(stdout) => Err(Failure::Printed(stdout, stderr)),
    }
}

/// Switches and prints git's lines: on stdout the local changes carried over (none when a
/// new branch starts at HEAD: nothing was checked out); on standard error (into `stderr`)
/// "Previous HEAD position was" when leaving a detached HEAD, then the backend's
/// "Switched to ..." (after `note`).
fn run_switch(
    repo: &crate::git::Repo,
    switch: &SwitchArgs,
    quiet: bool,
    note: &str,
    overwrite: &Cell<bool>,
    stderr: &std::cell::RefCell<String>,
) -> Result<String, ToolError> {
    let before = detached_head(repo);
    let done = crate::git::switch(repo, switch).inspect_err(|e| {
        overwrite.set(matches!(e, crate::git::Error::WouldOverwrite { .. }));
    })?;
    if quiet {
        return Ok(String::new());
    }
    let checked_out = !(switch.create == Some(true) && switch.start.is_none());
    let changes = if checked_out {
        local_changes(repo)?
    } else {
        String::new()
    };
    let mut err = stderr.borrow_mut();
    let now = repo.lock().head().ok().and_then(|h| h.target());
    if let Some((id, line)) = before
        && Some(id) != now
    {
        err.push_str(&format!("Previous HEAD position was {line}\n"));
    }
    err.push_str(note);
    err.push_str(&done.text);
    err.push('\n');
    Ok(changes)
}

/// HEAD's commit and `abbrev subject` when HEAD is detached.
fn detached_head(repo: &crate::git::Repo) -> Option<(git2::Oid, String)> {
    let git = repo.lock();
    let head = git.head().ok().filter(|h| !h.is_branch())?;
    let commit = head.peel_to_commit().ok()?;
    let line = format!(
        "{} {}",
        crate::git::unique_short_id(&git, commit.id()),
        commit.summary().ok().flatten().unwrap_or_default()
    );
    Some((commit.id(), line))
}

/// `M\tpath` per tracked file whose index or worktree differs from HEAD, as git lists the
/// changes a switch carried over.
fn local_changes(repo: &crate::git::Repo) -> Result<String, ToolError> {
    let git = repo.lock();
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(false)
        .exclude_submodules(true)
        .renames_head_to_index(false);
    let statuses = git
        .statuses(Some(&mut opts))
        .map_err(crate::git::Error::from)?;
    let mut out = String::new();
    for entry in statuses.iter() {
        let s = entry.status();
        let letter = if s.contains(git2::Status::INDEX_NEW) {
            'A'
        } else if s.intersects(git2::Status::INDEX_DELETED | git2::Status::WT_DELETED) {
            'D'
        } else {
            'M'
        };
        out.push_str(&format!(
            "{letter}\t{}\n",
            crate::git::display_path(entry.path_bytes())
        ));
    }
    Ok(out)
}

/// `git checkout NAME`, `-b NAME [START]`, `REV` (detached, with git's advice), and
/// `[--] PATHS` (the worktree restored from the index).
pub(super) fn checkout(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let flags = "BRANCH, -b NAME [START], --detach REV, REV, [--] PATHS, -q";
    let mut words = Vec::new();
    let mut paths: Option<Vec<String>> = None;
    let (mut create, mut detach, mut quiet) = (false, false, false);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-b" => create = true,
            "--detach" => detach = true,
            "-q" | "--quiet" => quiet = true,
            "--" => paths = Some(rest.by_ref().cloned().collect()),
            a if a.starts_with('-') => {
                return Err(usage(format!(
                    "unsupported option '{a}' for git checkout in gitgate; supported: {flags}"
                ))
                .into());
            }
            word => words.push(word.to_owned()),
        }
    }
    if let Some(paths) = paths {
        if !words.is_empty() {
            return Err(usage(
                "gitgate's git checkout restores paths from the index only: git checkout -- PATHS",
            )
            .into());
        }
        return checkout_paths(runner, argv, paths, repo, false);
    }
    let mut switch = SwitchArgs {
        create: Some(create),
        detach: Some(detach),
        ..SwitchArgs::default()
    };
    match words.as_slice() {
        [name] => switch.branch = name.clone(),
        [name, start] if create => {
            switch.branch = name.clone();
            switch.start = Some(start.clone());
        }
        [_, _, ..] if !create && !detach => return checkout_paths(runner, argv, words, repo, true),
        _ => return Err(usage(format!("git checkout takes: {flags}")).into()),
    }
    let target = switch.branch.clone();
    let not_a_revision = Cell::new(false);
    let overwrite = Cell::new(false);
    let stderr = std::cell::RefCell::new(String::new());
    let result = runner.git_call("git_switch", argv, repo.clone(), |repo, _| {
        let mut note = String::new();
        if !create && !detach && !is_branch(repo, &target) {
            // Not a branch: a revision (detached, with git's advice), else a path (below, as
            // a call of git_restore).
            if !names_commit(repo, &target) {
                not_a_revision.set(true);
                return Err(ToolError::new(format!(
                    "'{target}' is neither a branch nor a revision; restoring it as a path"
                )));
            }
            switch.detach = Some(true);
            note = format!("Note: switching to '{target}'.{DETACHED_ADVICE}");
        }
        run_switch(repo, &switch, quiet, &note, &overwrite, &stderr)
    });
    if not_a_revision.get() {
        return checkout_paths(runner, argv, vec![target], repo, true);
    }
    refused_as_git(result, &overwrite, stderr.into_inner())
}

fn is_branch(repo: &crate::git::Repo, name: &str) -> bool {
    repo.lock()
        .find_branch(name, git2::BranchType::Local)
        .is_ok()
}

fn names_commit(repo: &crate::git::Repo, rev: &str) -> bool {
    let Ok(spec) = crate::git::safety::RevSpec::new(rev) else {
        return false;
    };
    let git = repo.lock();
    crate::git::resolve_commit(&git, &spec).is_ok()
}

/// `git checkout [--] PATHS`: the worktree files restored from the index; without `--` git
/// says how many (`counted`), so that a path taken for a branch shows.
fn checkout_paths(
    runner: &Runner<'_, '_>,
    argv: &[String],
    paths: Vec<String>,
    repo: Option<String>,
    counted: bool,
) -> Result<String, Failure> {
    let restore = crate::git::RestoreArgs {
        paths: paths.clone(),
        staged: Some(false),
        worktree: Some(true),
    };
    Ok(runner.git_call("git_restore", argv, repo, |repo, _| {
        let done = crate::git::restore(repo, &restore).map_err(|e| match e {
            crate::git::Error::PathNotFound { path, .. } => ToolError::new(format!(
                "pathspec '{path}' did not match any file(s) known to git"
            )),
            e => e.into(),
        })?;
        let n = done.data["restored"].as_array().map_or(0, Vec::len);
        if !counted {
            return Ok(String::new());
        }
        Ok(format!(
            "Updated {n} path{} from the index\n",
            if n == 1 { "" } else { "s" }
        ))
    })?)
}

/// `git branch NAME [START]` (prints nothing) and `git branch -d|-D NAME...`.
pub(super) fn branch_write(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let mut delete = None;
    let mut words = Vec::new();
    for arg in args {
        match arg.as_str() {
            "-d" | "--delete" => delete = Some(delete.unwrap_or(false)),
            "-D" => delete = Some(true),
            "-f" | "--force" if delete.is_some() => delete = Some(true),
            a if a.starts_with('-') => {
                return Err(usage(format!(
                    "unsupported option '{a}' for git branch in gitgate; supported: (none), \
                     --show-current, NAME [START], -d/--delete NAME..., -D NAME..."
                ))
                .into());
            }
            word => words.push(word.to_owned()),
        }
    }
    if let Some(force) = delete {
        if words.is_empty() {
            return Err(usage("branch name required").into());
        }
        let mut out = String::new();
        let mut failed = false;
        for name in &words {
            let args = crate::git::DeleteBranchArgs {
                name: name.clone(),
                force: Some(force),
            };
            let done = runner.git_call("git_delete_branch", argv, repo.clone(), |repo, _| {
                Ok(crate::git::delete_branch(repo, &args)?.text)
            });
            match done {
                Ok(text) => {
                    out.push_str(&text);
                    out.push('\n');
                }
                // As git: the other names are still deleted, the status says one failed.
                Err(e) => {
                    out.push_str(&format!("error: {}\n", e.message));
                    failed = true;
                }
            }
        }
        return if failed {
            Err(Failure::Exit(out, 1))
        } else {
            Ok(out)
        };
    }
    let (name, start) = match words.as_slice() {
        [name] => (name.clone(), None),
        [name, start] => (name.clone(), Some(start.clone())),
        _ => return Err(usage("git branch NAME [START]").into()),
    };
    let create = crate::git::CreateBranchArgs { name, start };
    Ok(runner.git_call("git_create_branch", argv, repo, |repo, _| {
        crate::git::create_branch(repo, &create)?;
        Ok(String::new())
    })?)
}
