//! `git_tag` and `git_reset`: naming a commit, and moving the current branch (with the index,
//! and for `hard` the worktree) to another commit.

use git2::build::CheckoutBuilder;
use serde::Deserialize;
use serde_json::json;

use super::commit::signature;
use super::links::{Along, symlink_along, through_link};
use crate::git::fmt::unique_short_id;
use crate::git::rev::head_tree;
use crate::git::safety::RevSpec;
use crate::git::{Error, Identity, Output, Repo, resolve_commit};

/// Arguments of `git_tag`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagArgs {
    pub name: String,
    pub rev: Option<String>,
    /// Annotated.
    pub message: Option<String>,
}

/// Runs `git_tag`: tags `rev` (default HEAD), annotated by `tagger` when a message is given.
pub fn tag(repo: &Repo, args: &TagArgs, tagger: &Identity) -> Result<Output, Error> {
    let name = &args.name;
    if name.starts_with('-') || !git2::Reference::is_valid_name(&format!("refs/tags/{name}")) {
        return Err(Error::Refused(format!(
            "'{name}' is not a valid tag name (see git check-ref-format)"
        )));
    }
    let rev = RevSpec::new(args.rev.as_deref().unwrap_or("HEAD"))?;
    let git = repo.lock();
    if git.find_reference(&format!("refs/tags/{name}")).is_ok() {
        return Err(Error::Refused(format!("tag '{name}' already exists")));
    }
    let target = resolve_commit(&git, &rev)?;
    let id = match &args.message {
        Some(message) => {
            let message = git2::message_prettify(message.as_str(), None)?;
            git.tag(
                name,
                target.as_object(),
                &signature(tagger)?,
                &message,
                false,
            )?
        }
        None => git.tag_lightweight(name, target.as_object(), false)?,
    };
    Ok(Output {
        text: format!("tagged {} as {name}", unique_short_id(&git, target.id())),
        data: json!({ "tag": name, "sha": target.id().to_string(), "object": id.to_string() }),
        fields: &["tag", "sha", "object"],
        more: None,
    })
}

/// How far `git_reset` goes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResetMode {
    // No doc comments here: they would go into the schema (tokens); the names are git's.
    Soft,
    #[default]
    Mixed,
    Hard,
}

/// Arguments of `git_reset`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetArgs {
    pub rev: Option<String>,
    pub mode: Option<ResetMode>,
}

/// Runs `git_reset`: moves HEAD (its branch) to `rev`; `mixed` also resets the index, `hard`
/// also overwrites tracked worktree files (never through a symbolic link).
pub fn reset(repo: &Repo, args: &ResetArgs) -> Result<Output, Error> {
    let rev = RevSpec::new(args.rev.as_deref().unwrap_or("HEAD"))?;
    let mode = args.mode.unwrap_or_default();
    let git = repo.lock();
    if git.state() != git2::RepositoryState::Clean && mode == ResetMode::Soft {
        return Err(Error::Refused(
            "a merge or other operation is in progress; a soft reset cannot finish it".into(),
        ));
    }
    let target = resolve_commit(&git, &rev)?;
    if mode == ResetMode::Hard {
        refuse_links(&git, repo.root(), &target)?;
    }
    let kind = match mode {
        ResetMode::Soft => git2::ResetType::Soft,
        ResetMode::Mixed => git2::ResetType::Mixed,
        ResetMode::Hard => git2::ResetType::Hard,
    };
    let mut checkout = CheckoutBuilder::new();
    checkout.overwrite_ignored(false);
    git.reset(target.as_object(), kind, Some(&mut checkout))?;
    let short = unique_short_id(&git, target.id());
    let text = match mode {
        ResetMode::Hard => format!(
            "HEAD is now at {short} {}",
            target.summary().ok().flatten().unwrap_or_default()
        ),
        _ => format!("HEAD is now at {short}"),
    };
    Ok(Output {
        text,
        data: json!({ "sha": target.id().to_string() }),
        fields: &["sha"],
        more: None,
    })
}

/// A hard reset writes every path that differs between HEAD and the target: none may have a
/// symbolic link along it (libgit2 would write through it).
fn refuse_links(
    git: &git2::Repository,
    root: &std::path::Path,
    target: &git2::Commit<'_>,
) -> Result<(), Error> {
    let from = head_tree(git)?;
    let diff = git.diff_tree_to_tree(from.as_ref(), Some(&target.tree()?), None)?;
    for delta in diff.deltas() {
        let Some(path) = delta.new_file().path_bytes() else {
            continue;
        };
        if let Some(Along::Parent(link)) = symlink_along(root, path) {
            return Err(through_link(&link, "the target"));
        }
    }
    Ok(())
}
