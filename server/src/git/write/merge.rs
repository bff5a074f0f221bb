//! `git_merge`: another commit's history joined into HEAD's branch, by fast-forward or by a
//! merge commit made as the caller. A merge with conflicts is not left half done: nothing is
//! written, and the answer names the conflicting paths (as an aborted `git merge` would).

use serde::Deserialize;
use serde_json::json;

use super::branch::safe_checkout;
use super::commit::signature;
use crate::git::fmt::unique_short_id;
use crate::git::safety::RevSpec;
use crate::git::{Error, Identity, Output, Repo, resolve_commit};

/// How a merge may go.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FastForward {
    // No doc comments: they would go into the schema (tokens); the names are git's flags.
    #[default]
    Allow,
    Only,
    Never,
}

/// Arguments of `git_merge`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeArgs {
    pub rev: String,
    pub ff: Option<FastForward>,
    pub message: Option<String>,
}

/// Runs `git_merge`: fast-forwards HEAD's branch to `rev` when it can (unless `ff` is never),
/// else commits a merge as `author`. Local changes are never overwritten.
pub fn merge(repo: &Repo, args: &MergeArgs, author: &Identity) -> Result<Output, Error> {
    let rev = RevSpec::new(&args.rev)?;
    let ff = args.ff.unwrap_or_default();
    let git = repo.lock();
    if git.state() != git2::RepositoryState::Clean {
        return Err(Error::Refused(
            "another merge or operation is in progress; finish or abort it with git first".into(),
        ));
    }
    let head = git.head()?;
    let branch = head
        .is_branch()
        .then(|| head.shorthand().ok().map(str::to_owned))
        .flatten();
    let ours = head.peel_to_commit()?;
    let theirs = resolve_commit(&git, &rev)?;
    let record = |kind: &str, id: git2::Oid, text: String| Output {
        text,
        data: json!({ "result": kind, "from": ours.id().to_string(), "sha": id.to_string() }),
        fields: &["result", "from", "sha"],
        more: None,
    };
    if ours.id() == theirs.id() || git.graph_descendant_of(ours.id(), theirs.id())? {
        return Ok(record(
            "up-to-date",
            ours.id(),
            "Already up to date.".into(),
        ));
    }
    let can_ff = git.graph_descendant_of(theirs.id(), ours.id())?;
    if ff == FastForward::Only && !can_ff {
        return Err(Error::Refused(
            "Not possible to fast-forward, aborting.".into(),
        ));
    }
    if can_ff && ff != FastForward::Never {
        safe_checkout(&git, repo.root(), &theirs)?;
        move_head(&git, theirs.id(), "merge: Fast-forward")?;
        let text = format!(
            "Updating {}..{}\nFast-forward",
            unique_short_id(&git, ours.id()),
            unique_short_id(&git, theirs.id())
        );
        return Ok(record("fast-forward", theirs.id(), text));
    }
    let mut index = git.merge_commits(&ours, &theirs, None)?;
    if index.has_conflicts() {
        let mut paths: Vec<String> = index
            .conflicts()?
            .filter_map(Result::ok)
            .filter_map(|c| c.our.or(c.their).or(c.ancestor).map(|e| e.path))
            .map(|p| crate::git::display_path(&p))
            .collect();
        paths.dedup();
        return Err(Error::MergeConflicts { paths });
    }
    let tree = git.find_tree(index.write_tree_to(&git)?)?;
    let message = match &args.message {
        Some(m) => git2::message_prettify(m.as_str(), None)?,
        None => default_message(&git, &args.rev, branch.as_deref()),
    };
    let sig = signature(author)?;
    let id = git.commit(None, &sig, &sig, &message, &tree, &[&ours, &theirs])?;
    let merged = git.find_commit(id)?;
    safe_checkout(&git, repo.root(), &merged)?;
    move_head(&git, id, "merge")?;
    Ok(record(
        "merge",
        id,
        "Merge made by the 'ort' strategy.".into(),
    ))
}

/// git's message: `Merge branch 'x'` (or `tag`, or `commit`), with ` into y` unless merging
/// into main or master.
fn default_message(git: &git2::Repository, rev: &str, into: Option<&str>) -> String {
    let kind = if git.find_branch(rev, git2::BranchType::Local).is_ok() {
        "branch"
    } else if git.find_reference(&format!("refs/tags/{rev}")).is_ok() {
        "tag"
    } else {
        "commit"
    };
    let mut message = format!("Merge {kind} '{rev}'");
    if let Some(into) = into.filter(|b| !matches!(*b, "main" | "master")) {
        message.push_str(&format!(" into {into}"));
    }
    message.push('\n');
    message
}

/// Moves HEAD's branch (or a detached HEAD) to `id`.
fn move_head(git: &git2::Repository, id: git2::Oid, log: &str) -> Result<(), Error> {
    let head = git.head()?;
    if head.is_branch() {
        let name = head.name().ok().map(str::to_owned).unwrap_or_default();
        git.reference(&name, id, true, log)?;
    } else {
        git.set_head_detached(id)?;
    }
    Ok(())
}
