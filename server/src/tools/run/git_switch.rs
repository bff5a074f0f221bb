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

/// `git switch NAME`, `-c NAME [START]`, `--detach REV`, `-` (the previous branch).
pub(super) fn switch(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let flags = "NAME, -, -c/--create NAME [START], -d/--detach REV, -q";
    let mut switch = SwitchArgs::default();
    let mut words = Vec::new();
    let mut quiet = false;
    for arg in args {
        match arg.as_str() {
            "-" => words.push(PREVIOUS.to_owned()),
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
        let mut switch = switch;
        if switch.branch == PREVIOUS && switch.create != Some(true) {
            switch.branch = previous_branch(repo)?;
        }
        run_switch(repo, &switch, quiet, "", &overwrite, &stderr)
    });
    refused_as_git(result, &overwrite, stderr.into_inner())
}

/// git's name for the branch checked out before the current one (`git switch -`).
const PREVIOUS: &str = "@{-1}";

/// The branch `@{-1}` names, read from HEAD's reflog as git reads it.
fn previous_branch(repo: &crate::git::Repo) -> Result<String, ToolError> {
    match previous(repo)? {
        Ok(branch) => Ok(branch),
        Err(id) => Err(ToolError::new(format!(
            "a branch is expected, got commit '{id}'; pass --detach with it to detach HEAD there"
        ))),
    }
}

/// What `@{-1}` names: a branch, or else the full id of the commit HEAD was detached at.
fn previous(repo: &crate::git::Repo) -> Result<Result<String, String>, ToolError> {
    let git = repo.lock();
    let (object, reference) = git
        .revparse_ext(PREVIOUS)
        .map_err(|_| ToolError::new(format!("invalid reference: {PREVIOUS}")))?;
    Ok(match reference.as_ref().filter(|r| r.is_branch()) {
        Some(r) => Ok(String::from_utf8_lossy(r.shorthand_bytes()).into_owned()),
        None => Err(object.id().to_string()),
    })
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

/// `git checkout NAME`, `-` (the previous branch), `-b NAME [START]`, `REV` (detached, with
/// git's advice), `[--] PATHS` (the worktree restored from the index) and `REV [--] PATHS`
/// (the index and worktree from REV).
pub(super) fn checkout(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let flags = "BRANCH, -, -b NAME [START], --detach REV, REV, [REV] [--] PATHS, -q";
    let mut words = Vec::new();
    let mut paths: Option<Vec<String>> = None;
    let (mut create, mut detach, mut quiet) = (false, false, false);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-" => words.push(PREVIOUS.to_owned()),
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
        let source = match words.as_slice() {
            [] => None,
            [rev] => Some(rev.clone()),
            _ => {
                return Err(usage(
                    "git checkout takes one revision before '--': git checkout REV -- PATHS",
                )
                .into());
            }
        };
        let source = source.map_or(PathsFrom::Index, PathsFrom::Rev);
        return checkout_paths(runner, argv, paths, source, repo, false);
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
        [_, _, ..] if !create && !detach => {
            return checkout_paths(runner, argv, words, PathsFrom::FirstIfRev, repo, true);
        }
        _ => return Err(usage(format!("git checkout takes: {flags}")).into()),
    }
    let target = switch.branch.clone();
    let not_a_revision = Cell::new(false);
    let overwrite = Cell::new(false);
    let stderr = std::cell::RefCell::new(String::new());
    let result = runner.git_call("git_switch", argv, repo.clone(), |repo, _| {
        let mut target = target.clone();
        if target == PREVIOUS && !create && !detach {
            // A detached previous HEAD is checked out detached again, by its full id.
            target = previous(repo)?.unwrap_or_else(|id| id);
            switch.branch = target.clone();
        }
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
        return checkout_paths(runner, argv, vec![target], PathsFrom::Index, repo, true);
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

/// Where `git checkout ... PATHS` takes the files from.
enum PathsFrom {
    Index,
    Rev(String),
    /// The first word when it names a commit, else the index: git, given no `--`, reads
    /// `git checkout A B` as a revision and a path when A names a commit.
    FirstIfRev,
}

/// `git checkout [REV] [--] PATHS`: the worktree files restored from the index, or the index
/// and worktree from `source` (overlay mode, as git: a path REV lacks is refused, nothing is
/// removed); without `--` git says how many (`counted`), so that a path taken for a branch
/// shows.
fn checkout_paths(
    runner: &Runner<'_, '_>,
    argv: &[String],
    mut paths: Vec<String>,
    from: PathsFrom,
    repo: Option<String>,
    counted: bool,
) -> Result<String, Failure> {
    let unmatched = Cell::new(false);
    let result = runner.git_call("git_restore", argv, repo, |repo, _| {
        let source = match from {
            PathsFrom::Index => None,
            PathsFrom::Rev(rev) => Some(rev),
            PathsFrom::FirstIfRev => match paths.first() {
                Some(first) if names_commit(repo, first) => Some(paths.remove(0)),
                _ => None,
            },
        };
        let from = match &source {
            Some(rev) => Some(source_tree(repo, rev, &paths, &unmatched)?),
            None => None,
        };
        let restore = crate::git::RestoreArgs {
            paths: paths.clone(),
            staged: Some(source.is_some()),
            worktree: Some(true),
            overlay: source.is_some(),
            source: source.clone(),
        };
        let done = crate::git::restore(repo, &restore).map_err(|e| match e {
            crate::git::Error::PathNotFound { path, .. } => {
                unmatched.set(true);
                not_matched(&path)
            }
            e => e.into(),
        })?;
        if !counted {
            return Ok(String::new());
        }
        // git counts the paths it wrote, changed or not: with a source, every file under them.
        let n = match &from {
            Some((_, files)) => *files,
            None => done.data["restored"].as_array().map_or(0, Vec::len),
        };
        let whence = match &from {
            Some((tree, _)) => tree.clone(),
            None => "the index".to_owned(),
        };
        Ok(format!(
            "Updated {n} path{} from {whence}\n",
            if n == 1 { "" } else { "s" }
        ))
    });
    match result {
        // git refuses an unmatched path as an error (status 1), not a fatal one.
        Err(e) if unmatched.get() => Err(Failure::Exit(format!("error: {}\n", e.message), 1)),
        other => Ok(other?),
    }
}

fn not_matched(path: &str) -> ToolError {
    ToolError::new(format!(
        "pathspec '{path}' did not match any file(s) known to git"
    ))
}

/// `rev`'s abbreviated tree id and how many files lie under `paths` in it; refuses a path the
/// tree lacks, as git's overlay checkout does.
fn source_tree(
    repo: &crate::git::Repo,
    rev: &str,
    paths: &[String],
    unmatched: &Cell<bool>,
) -> Result<(String, usize), ToolError> {
    let git = repo.lock();
    let spec = crate::git::safety::RevSpec::new(rev)?;
    let tree = crate::git::resolve_commit(&git, &spec)?
        .tree()
        .map_err(crate::git::Error::from)?;
    let mut files = 0;
    for path in paths {
        let entry = tree.get_path(std::path::Path::new(path)).map_err(|_| {
            unmatched.set(true);
            not_matched(path)
        })?;
        files += match entry.to_object(&git).ok().and_then(|o| o.into_tree().ok()) {
            Some(sub) => {
                let mut n = 0;
                sub.walk(git2::TreeWalkMode::PreOrder, |_, e| {
                    if e.kind() == Some(git2::ObjectType::Blob) {
                        n += 1;
                    }
                    git2::TreeWalkResult::Ok
                })
                .map_err(crate::git::Error::from)?;
                n
            }
            None => 1,
        };
    }
    Ok((crate::git::unique_short_id(&git, tree.id()), files))
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
