//! `git stash` in the run form: `push`/`save`, `apply`, `pop`, `drop` as calls of `git_stash`,
//! and `list`, `show` as reads (`git_log`, `git_diff`), printing what git prints.

use super::Runner;
use super::git::{Failure, usage};
use crate::git::StashAction;
use crate::tools::ToolError;

const FLAGS: &str = "push [-m MSG] [-q], list, show [-p|--stat] [stash@{N}], apply|pop|drop \
[-q] [stash@{N}]";

/// `git stash [SUBCOMMAND] ...`.
pub(super) fn stash(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let (sub, rest) = match args.split_first() {
        Some((sub, rest)) if !sub.starts_with('-') => (sub.as_str(), rest),
        _ => ("push", args),
    };
    let action = match sub {
        "push" | "save" => StashAction::Push,
        "apply" => StashAction::Apply,
        "pop" => StashAction::Pop,
        "drop" => StashAction::Drop,
        "list" => return list(runner, argv, rest, repo),
        "show" => return show(runner, argv, rest, repo),
        other => {
            return Err(usage(format!(
                "unsupported git stash command '{other}' in gitgate; supported: {FLAGS}"
            ))
            .into());
        }
    };
    let (args, quiet) = parse(sub, action, rest)?;
    // git names the entry as it was given, else as `refs/stash@{0}`.
    let named = rest
        .iter()
        .find(|w| w.starts_with("stash@{"))
        .cloned()
        .unwrap_or_else(|| format!("refs/stash@{{{}}}", args.index.unwrap_or(0)));
    let empty = std::cell::Cell::new(false);
    let result = runner.git_call("git_stash", argv, repo, |repo, caller| {
        if action != StashAction::Push
            && repo
                .lock()
                .reflog("refs/stash")
                .map_or(true, |r| r.is_empty())
        {
            empty.set(true);
            return Err(ToolError::new("No stash entries found."));
        }
        let done = crate::git::stash(repo, &args, &caller.identity)?;
        if quiet {
            return Ok(String::new());
        }
        let mut out = String::new();
        if matches!(action, StashAction::Apply | StashAction::Pop) {
            out.push_str(&super::git_status::long_status(repo)?);
        }
        if let Some(sha) = done.data["sha"]
            .as_str()
            .filter(|_| action != StashAction::Apply)
        {
            if action == StashAction::Push {
                out.push_str(&done.text);
            } else {
                out.push_str(&format!("Dropped {named} ({sha})"));
            }
            out.push('\n');
        } else if !done.text.is_empty() {
            out.push_str(&done.text);
            out.push('\n');
        }
        Ok(out)
    });
    match result {
        // As git: nothing to apply or drop is status 1.
        Err(_) if empty.get() => Err(Failure::Exit("No stash entries found.\n".into(), 1)),
        other => Ok(other?),
    }
}

/// The arguments of `git stash push|save|apply|pop|drop`, and whether `-q` was given.
fn parse(
    sub: &str,
    action: StashAction,
    rest: &[String],
) -> Result<(crate::git::StashArgs, bool), Failure> {
    let mut args = crate::git::StashArgs {
        action: Some(action),
        ..Default::default()
    };
    let mut quiet = false;
    let mut words = rest.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "-q" | "--quiet" => quiet = true,
            "-m" | "--message" if action == StashAction::Push => {
                args.message = Some(
                    words
                        .next()
                        .ok_or_else(|| Failure::from(usage("switch `m' requires a value")))?
                        .clone(),
                );
            }
            w if action != StashAction::Push && !w.starts_with('-') => {
                args.index = Some(entry(w)?);
            }
            w if sub == "save" && !w.starts_with('-') => args.message = Some(w.to_owned()),
            w => {
                return Err(usage(format!(
                    "unsupported argument '{w}' for git stash {sub} in gitgate; supported: {FLAGS}"
                ))
                .into());
            }
        }
    }
    Ok((args, quiet))
}

/// `stash@{N}` or `N`: the entry's number.
fn entry(word: &str) -> Result<usize, Failure> {
    let n = word
        .strip_prefix("stash@{")
        .and_then(|w| w.strip_suffix('}'))
        .unwrap_or(word);
    n.parse()
        .map_err(|_| usage(format!("'{word}' is not a stash entry (stash@{{N}})")).into())
}

/// `git stash list`: `stash@{N}: message` per entry, newest first.
fn list(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    if let Some(a) = args.first() {
        return Err(usage(format!("unsupported argument '{a}' for git stash list")).into());
    }
    Ok(runner.git_call("git_log", argv, repo, |repo, _| {
        let git = repo.lock();
        let Ok(reflog) = git.reflog("refs/stash") else {
            return Ok(String::new());
        };
        let mut out = String::new();
        for (i, entry) in reflog.iter().enumerate() {
            let message =
                String::from_utf8_lossy(entry.message_bytes().unwrap_or_default()).into_owned();
            out.push_str(&format!("stash@{{{i}}}: {message}\n"));
        }
        Ok(out)
    })?)
}

/// `git stash show [-p|--stat] [stash@{N}]`: what the entry changed, as a diffstat or patch.
fn show(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let mut patch = false;
    let mut index = 0;
    for arg in args {
        match arg.as_str() {
            "-p" | "--patch" => patch = true,
            "--stat" => patch = false,
            w if !w.starts_with('-') => index = entry(w)?,
            w => {
                return Err(usage(format!(
                    "unsupported argument '{w}' for git stash show in gitgate; supported: {FLAGS}"
                ))
                .into());
            }
        }
    }
    Ok(runner.git_call("git_diff", argv, repo, |repo, _| {
        let (base, id) = {
            let git = repo.lock();
            let e = crate::git::Error::from;
            let reflog = git.reflog("refs/stash").map_err(e)?;
            let entry = reflog
                .get(index)
                .ok_or_else(|| ToolError::new(format!("stash@{{{index}}} does not exist")))?;
            let commit = git.find_commit(entry.id_new()).map_err(e)?;
            (commit.parent_id(0).map_err(e)?, commit.id())
        };
        let diff = crate::git::diff(
            repo,
            &crate::git::DiffArgs {
                from: Some(base.to_string()),
                to: Some(id.to_string()),
                stat: Some(!patch),
                max_lines: Some(usize::MAX),
                ..Default::default()
            },
        )?;
        Ok(if diff.text.is_empty() {
            String::new()
        } else {
            format!("{}\n", diff.text)
        })
    })?)
}
