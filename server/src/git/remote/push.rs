//! `git_push`: one branch to the checked remote, as the caller.

use std::cell::{Cell, RefCell};

use serde::Deserialize;
use serde_json::json;

use super::{Access, Checked, callbacks, checked_remote, connect, network_error, no_proxy};
use crate::git::safety::BranchName;
use crate::git::{Error, Output, Repo};

/// Arguments of `git_push`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PushArgs {
    pub branch: Option<String>,
    pub remote: Option<String>,
    /// Like -u.
    pub set_upstream: Option<bool>,
    /// Like --delete (another's branch needs force).
    pub delete: Option<bool>,
    /// Like --force (needs git:force; never a protected branch).
    pub force: Option<bool>,
}

/// One reference the push changed on the remote.
#[derive(Debug, Clone)]
struct Update {
    branch: String,
    old: git2::Oid,
    new: git2::Oid,
    forced: bool,
}

/// Runs `git_push`. `own_tip` is the commit the caller last pushed to the branch when it is
/// theirs (see [`super::ownership`]): a delete without `force` removes only such a branch, and
/// only while the remote still holds that commit.
pub fn push(
    repo: &Repo,
    args: &PushArgs,
    access: &Access<'_>,
    own_tip: Option<git2::Oid>,
) -> Result<Output, Error> {
    let git = repo.lock();
    let branch = match &args.branch {
        Some(b) => BranchName::new(b)?,
        None => current_branch(&git)?,
    };
    let delete = args.delete.unwrap_or(false);
    let force = args.force.unwrap_or(false);
    let checked = checked_remote(&git, args.remote.as_deref(), access, true)?;
    let refname = branch.refname();
    let spec = if delete {
        format!(":{refname}")
    } else {
        if git.find_reference(&refname).is_err() {
            return Err(Error::Refused(format!(
                "no local branch '{}' to push",
                branch.as_str()
            )));
        }
        format!("{}{refname}:{refname}", if force { "+" } else { "" })
    };
    let protected = protected_globs(&git, &checked.name, access.protect);
    let rules = Rules {
        force,
        protected: &protected,
        own_tip,
    };
    let updates = send(&git, &checked, &spec, &rules, access)?;
    after_push(
        &git,
        &checked,
        &branch,
        &updates,
        args.set_upstream.unwrap_or(false),
    )?;
    Ok(report(
        &git,
        &checked,
        &branch,
        &updates,
        args.set_upstream.unwrap_or(false),
    ))
}

/// The branch HEAD of `repo` names: what a push without a branch pushes.
pub fn current_branch_of(repo: &Repo) -> Result<BranchName, Error> {
    current_branch(&repo.lock())
}

/// The branch HEAD names.
fn current_branch(git: &git2::Repository) -> Result<BranchName, Error> {
    let head = git.head().map_err(|_| Error::EmptyRepository)?;
    if !head.is_branch() {
        return Err(Error::Refused(
            "HEAD is detached; pass branch to push".into(),
        ));
    }
    BranchName::new(head.shorthand().unwrap_or_default())
}

/// The globs of branches a push may not rewrite or delete: the configured ones, else the
/// remote's default branch as the last fetch recorded it (`refs/remotes/NAME/HEAD`), else
/// `main` and `master`.
fn protected_globs(git: &git2::Repository, remote: &str, configured: &[String]) -> Vec<String> {
    if !configured.is_empty() {
        return configured.to_vec();
    }
    let head = format!("refs/remotes/{remote}/HEAD");
    let prefix = format!("refs/remotes/{remote}/");
    git.find_reference(&head)
        .ok()
        .and_then(|r| r.symbolic_target().ok().flatten().map(str::to_owned))
        .and_then(|t| t.strip_prefix(&prefix).map(str::to_owned))
        .map(|b| vec![b])
        .unwrap_or_else(|| vec!["main".into(), "master".into()])
}

/// Whether `branch` matches one of `globs` (`*` within a path segment, `**` across).
fn is_protected(branch: &str, globs: &[String]) -> bool {
    globs.iter().any(|g| {
        globset::GlobBuilder::new(g)
            .literal_separator(true)
            .build()
            .map(|glob| glob.compile_matcher().is_match(branch))
            .unwrap_or(false)
    })
}

/// What a push may change on the remote.
struct Rules<'a> {
    force: bool,
    /// Branch globs never rewritten or deleted.
    protected: &'a [String],
    /// See [`push`].
    own_tip: Option<git2::Oid>,
}

/// Sends the push; refuses, before anything is uploaded, an update that is not a fast-forward
/// without `force`, that rewrites or deletes a protected branch, or that deletes, without
/// `force`, a branch that is not the caller's own.
fn send(
    git: &git2::Repository,
    checked: &Checked,
    spec: &str,
    rules: &Rules<'_>,
    access: &Access<'_>,
) -> Result<Vec<Update>, Error> {
    let (force, protected) = (rules.force, rules.protected);
    let tries = Cell::new(0);
    let planned: RefCell<Vec<Update>> = RefCell::new(Vec::new());
    let refusal: RefCell<Option<String>> = RefCell::new(None);
    let rejected: RefCell<Vec<String>> = RefCell::new(Vec::new());
    {
        let mut cb = callbacks(access.token, &tries);
        cb.push_negotiation(|updates| {
            for u in updates {
                let dst = u.dst_refname().unwrap_or_default();
                let branch = dst.strip_prefix("refs/heads/").unwrap_or(dst).to_owned();
                let (old, new) = (u.src(), u.dst());
                let rewrites = !old.is_zero()
                    && !new.is_zero()
                    && old != new
                    && !git.graph_descendant_of(new, old).unwrap_or(false);
                let deletes = new.is_zero();
                if (rewrites || deletes) && is_protected(&branch, protected) {
                    *refusal.borrow_mut() = Some(format!(
                        "'{branch}' is a protected branch: gitgate never rewrites or deletes it"
                    ));
                    return Err(git2::Error::from_str("refused"));
                }
                if deletes && !force && rules.own_tip != Some(old) {
                    *refusal.borrow_mut() = Some(format!(
                        "'{branch}' is not your branch to delete: gitgate's audit log shows no push of yours that created it, or someone else pushed to it since; deleting another's branch needs force (git:force)"
                    ));
                    return Err(git2::Error::from_str("refused"));
                }
                if rewrites && !force {
                    *refusal.borrow_mut() = Some(format!(
                        "rejected {branch} (non-fast-forward): the remote has commits you do not; git_pull first, or pass force (needs git:force)"
                    ));
                    return Err(git2::Error::from_str("refused"));
                }
                planned.borrow_mut().push(Update {
                    branch,
                    old,
                    new,
                    forced: rewrites,
                });
            }
            Ok(())
        });
        cb.push_update_reference(|refname, status| {
            if let Some(why) = status {
                rejected.borrow_mut().push(format!("{refname}: {why}"));
            }
            Ok(())
        });
        let mut opts = git2::PushOptions::new();
        opts.remote_callbacks(cb)
            .proxy_options(no_proxy())
            .follow_redirects(git2::RemoteRedirect::None);
        let mut remote = connect(git, checked)?;
        let pushed = remote.push(&[spec], Some(&mut opts));
        if let Some(why) = refusal.borrow_mut().take() {
            return Err(Error::Refused(why));
        }
        pushed.map_err(|e| network_error("push to", checked, e))?;
    }
    let rejected = rejected.into_inner();
    if !rejected.is_empty() {
        return Err(Error::Refused(format!(
            "the remote rejected the push: {}",
            rejected.join("; ")
        )));
    }
    Ok(planned.into_inner())
}

/// What git does after a push: the remote-tracking branch follows, and with `-u` the branch
/// tracks it.
fn after_push(
    git: &git2::Repository,
    checked: &Checked,
    branch: &BranchName,
    updates: &[Update],
    set_upstream: bool,
) -> Result<(), Error> {
    for u in updates {
        let tracking = format!("refs/remotes/{}/{}", checked.name, u.branch);
        if u.new.is_zero() {
            if let Ok(mut r) = git.find_reference(&tracking) {
                r.delete()?;
            }
        } else {
            git.reference(&tracking, u.new, true, "push")?;
        }
    }
    if set_upstream && updates.iter().any(|u| !u.new.is_zero()) {
        let mut local = git.find_branch(branch.as_str(), git2::BranchType::Local)?;
        local.set_upstream(Some(&format!("{}/{}", checked.name, branch.as_str())))?;
    }
    Ok(())
}

/// git's own summary of a push (`To URL`, one line per reference).
fn report(
    git: &git2::Repository,
    checked: &Checked,
    branch: &BranchName,
    updates: &[Update],
    set_upstream: bool,
) -> Output {
    let short = |id: git2::Oid| crate::git::unique_short_id(git, id);
    let mut text = format!("To {}\n", checked.url);
    if updates.is_empty() {
        text.push_str("Everything up-to-date\n");
    }
    for u in updates {
        let b = &u.branch;
        let line = if u.new.is_zero() {
            format!(" - [deleted]         {b}")
        } else if u.old.is_zero() {
            format!(" * [new branch]      {b} -> {b}")
        } else if u.forced {
            format!(
                " + {}...{} {b} -> {b} (forced update)",
                short(u.old),
                short(u.new)
            )
        } else {
            format!("   {}..{}  {b} -> {b}", short(u.old), short(u.new))
        };
        text.push_str(&line);
        text.push('\n');
    }
    if set_upstream && updates.iter().any(|u| !u.new.is_zero()) {
        text.push_str(&format!(
            "branch '{0}' set up to track '{1}/{0}'.\n",
            branch.as_str(),
            checked.name
        ));
    }
    let ref_updates: Vec<_> = updates
        .iter()
        .map(|u| {
            json!({
                "ref": format!("refs/heads/{}", u.branch),
                "old": u.old.to_string(),
                "new": u.new.to_string(),
                "forced": u.forced,
            })
        })
        .collect();
    Output {
        text: text.trim_end().to_owned(),
        data: json!({
            "remote": checked.name,
            "url": checked.url,
            "repo": checked.repo,
            "ref_updates": ref_updates,
        }),
        fields: &[],
        more: None,
    }
}
