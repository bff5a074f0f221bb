//! `git_fetch` and `git_pull`: the checked remote's branches into `refs/remotes/NAME/*`, and
//! the current branch brought up to its upstream (fast-forward by default, a merge commit only
//! when asked, nothing written when the merge conflicts).

use std::cell::{Cell, RefCell};

use serde::Deserialize;
use serde_json::json;

use super::{Access, Checked, callbacks, checked_remote, connect, network_error, no_proxy};
use crate::git::safety::BranchName;
use crate::git::{Error, Identity, Output, Repo};

/// Arguments of `git_fetch`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FetchArgs {
    pub remote: Option<String>,
    /// Only this branch.
    pub branch: Option<String>,
    pub prune: Option<bool>,
}

/// Arguments of `git_pull`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PullArgs {
    pub remote: Option<String>,
    pub branch: Option<String>,
    /// Merge when not a fast-forward.
    pub merge: Option<bool>,
}

/// One remote-tracking reference a fetch moved.
struct Moved {
    refname: String,
    old: git2::Oid,
    new: git2::Oid,
}

/// Runs `git_fetch`.
pub fn fetch(repo: &Repo, args: &FetchArgs, access: &Access<'_>) -> Result<Output, Error> {
    let git = repo.lock();
    let checked = checked_remote(&git, args.remote.as_deref(), access, false)?;
    let branch = args.branch.as_deref().map(BranchName::new).transpose()?;
    let moved = download(
        &git,
        &checked,
        branch.as_ref(),
        args.prune.unwrap_or(false),
        access,
    )?;
    Ok(fetch_report(&git, &checked, &moved))
}

/// Fetches `branch` (or every branch) into `refs/remotes/NAME/`, recording the remote's
/// default branch as `refs/remotes/NAME/HEAD` as a clone does.
fn download(
    git: &git2::Repository,
    checked: &Checked,
    branch: Option<&BranchName>,
    prune: bool,
    access: &Access<'_>,
) -> Result<Vec<Moved>, Error> {
    let name = &checked.name;
    let spec = match branch {
        Some(b) => format!("+refs/heads/{0}:refs/remotes/{name}/{0}", b.as_str()),
        None => format!("+refs/heads/*:refs/remotes/{name}/*"),
    };
    let tries = Cell::new(0);
    let moved: RefCell<Vec<Moved>> = RefCell::new(Vec::new());
    let mut cb = callbacks(access.token, &tries);
    cb.update_tips(|refname, old, new| {
        moved.borrow_mut().push(Moved {
            refname: refname.to_owned(),
            old,
            new,
        });
        true
    });
    let mut opts = git2::FetchOptions::new();
    opts.remote_callbacks(cb)
        .proxy_options(no_proxy())
        .follow_redirects(git2::RemoteRedirect::None)
        .download_tags(git2::AutotagOption::Auto)
        .prune(if prune {
            git2::FetchPrune::On
        } else {
            git2::FetchPrune::Off
        });
    let mut remote = connect(git, checked)?;
    remote
        .fetch(&[spec.as_str()], Some(&mut opts), Some("fetch"))
        .map_err(|e| network_error("fetch from", checked, e))?;
    drop(opts);
    if let Ok(default) = remote.default_branch()
        && let Some(b) = default
            .as_str()
            .ok()
            .and_then(|d| d.strip_prefix("refs/heads/"))
    {
        let target = format!("refs/remotes/{name}/{b}");
        if git.find_reference(&target).is_ok() {
            git.reference_symbolic(&format!("refs/remotes/{name}/HEAD"), &target, true, "fetch")?;
        }
    }
    Ok(moved.into_inner())
}

/// git's own summary of a fetch (`From URL`, one line per reference moved).
fn fetch_report(git: &git2::Repository, checked: &Checked, moved: &[Moved]) -> Output {
    let short = |id: git2::Oid| crate::git::unique_short_id(git, id);
    let prefix = format!("refs/remotes/{}/", checked.name);
    let mut text = String::new();
    if !moved.is_empty() {
        text.push_str(&format!("From {}\n", checked.url.trim_end_matches(".git")));
    }
    for m in moved {
        let (kind, name) = if let Some(b) = m.refname.strip_prefix(&prefix) {
            ("branch", format!("{b} -> {}/{b}", checked.name))
        } else if let Some(t) = m.refname.strip_prefix("refs/tags/") {
            ("tag", format!("{t} -> {t}"))
        } else {
            ("ref", m.refname.clone())
        };
        let line = if m.new.is_zero() {
            format!(" - [deleted]         (none) -> {}", m.refname)
        } else if m.old.is_zero() {
            format!(
                " * [new {kind}]{:pad$}{name}",
                "",
                pad = 10usize.saturating_sub(kind.len())
            )
        } else if git.graph_descendant_of(m.new, m.old).unwrap_or(false) {
            format!("   {}..{}  {name}", short(m.old), short(m.new))
        } else {
            format!(
                " + {}...{} {name} (forced update)",
                short(m.old),
                short(m.new)
            )
        };
        text.push_str(&line);
        text.push('\n');
    }
    if text.is_empty() {
        text.push_str("Already up to date with the remote.");
    }
    let refs: Vec<_> = moved
        .iter()
        .map(|m| json!({"ref": m.refname, "old": m.old.to_string(), "new": m.new.to_string()}))
        .collect();
    Output {
        text: text.trim_end().to_owned(),
        data: json!({"remote": checked.name, "repo": checked.repo, "ref_updates": refs}),
        fields: &[],
        more: None,
    }
}

/// Runs `git_pull`: fetches the branch, then fast-forwards the current branch to it, or with
/// `merge` makes a merge commit as `author`. A conflicting merge writes nothing and names the
/// conflicting paths.
pub fn pull(
    repo: &Repo,
    args: &PullArgs,
    access: &Access<'_>,
    author: &Identity,
) -> Result<Output, Error> {
    let git = repo.lock();
    let head = git.head().map_err(|_| Error::EmptyRepository)?;
    if !head.is_branch() {
        return Err(Error::Refused(
            "HEAD is detached; switch to a branch to pull".into(),
        ));
    }
    let current = BranchName::new(head.shorthand().unwrap_or_default())?;
    drop(head);
    let branch = match &args.branch {
        Some(b) => BranchName::new(b)?,
        None => current.clone(),
    };
    let checked = checked_remote(&git, args.remote.as_deref(), access, false)?;
    download(&git, &checked, Some(&branch), false, access)?;
    let tracking = format!("refs/remotes/{}/{}", checked.name, branch.as_str());
    let theirs = git
        .find_reference(&tracking)
        .and_then(|r| r.peel_to_commit())
        .map_err(|_| Error::Refused(format!("the remote has no branch '{}'", branch.as_str())))?;
    let ours = git.head()?.peel_to_commit()?;
    let from = format!(
        "From {}\n * branch            {} -> FETCH_HEAD\n",
        checked.url.trim_end_matches(".git"),
        branch.as_str()
    );
    if ours.id() == theirs.id() || git.graph_descendant_of(ours.id(), theirs.id())? {
        return Ok(pulled(format!("{from}Already up to date."), &ours, &ours));
    }
    if git.graph_descendant_of(theirs.id(), ours.id())? {
        crate::git::write::safe_checkout(&git, repo.root(), &theirs)?;
        git.reference(&current.refname(), theirs.id(), true, "pull: fast-forward")?;
        let text = format!(
            "{from}Updating {}..{}\nFast-forward",
            crate::git::unique_short_id(&git, ours.id()),
            crate::git::unique_short_id(&git, theirs.id())
        );
        return Ok(pulled(text, &ours, &theirs));
    }
    if !args.merge.unwrap_or(false) {
        return Err(Error::Refused(format!(
            "{from}the branches have diverged and pull is --ff-only; pass merge: true to make a merge commit, or rebase your commits"
        )));
    }
    merge(
        &git, repo, &current, &ours, &theirs, &tracking, author, &from,
    )
}

/// A merge commit of `theirs` into `ours`, checked out safely; on conflict, nothing written.
#[allow(clippy::too_many_arguments)]
fn merge(
    git: &git2::Repository,
    repo: &Repo,
    current: &BranchName,
    ours: &git2::Commit<'_>,
    theirs: &git2::Commit<'_>,
    tracking: &str,
    author: &Identity,
    from: &str,
) -> Result<Output, Error> {
    let mut index = git.merge_commits(ours, theirs, None)?;
    if index.has_conflicts() {
        let mut paths: Vec<String> = index
            .conflicts()?
            .flatten()
            .filter_map(|c| c.our.or(c.their).or(c.ancestor))
            .map(|e| String::from_utf8_lossy(&e.path).into_owned())
            .collect();
        paths.sort();
        paths.dedup();
        return Err(Error::Refused(format!(
            "{from}merge conflict in {}; nothing was changed (the worktree is as it was)",
            paths.join(", ")
        )));
    }
    let tree = git.find_tree(index.write_tree_to(git)?)?;
    let signature = crate::git::write::signature(author)?;
    let message = format!(
        "Merge branch '{}' of {}",
        tracking.rsplit('/').next().unwrap_or_default(),
        from.lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("From ")
    );
    let id = git.commit(
        None,
        &signature,
        &signature,
        &message,
        &tree,
        &[ours, theirs],
    )?;
    let merged = git.find_commit(id)?;
    crate::git::write::safe_checkout(git, repo.root(), &merged)?;
    git.reference(&current.refname(), id, true, "pull: merge")?;
    let text = format!("{from}Merge made by the 'ort' strategy.");
    Ok(pulled(text, ours, &merged))
}

fn pulled(text: String, from: &git2::Commit<'_>, to: &git2::Commit<'_>) -> Output {
    Output {
        text,
        data: json!({"old": from.id().to_string(), "new": to.id().to_string()}),
        fields: &[],
        more: None,
    }
}
