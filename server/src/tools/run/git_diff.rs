//! `git diff` in the run form: git's ways of naming the two sides onto the backend's diff, and
//! its output forms (patch, `--stat`, `--name-only`, `--name-status`).

use serde_json::Value;

use super::Runner;
use super::git::{Failure, usage};

const FLAGS: &str = "--cached/--staged, --stat, --name-only, --name-status, A, A B, A..B, \
A...B, -- paths";

/// What to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Patch,
    Stat,
    NameOnly,
    NameStatus,
}

pub(super) fn run(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let mut form = Form::Patch;
    let mut staged = false;
    let mut revs: Vec<String> = Vec::new();
    let mut paths = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--cached" | "--staged" => staged = true,
            "--stat" => form = Form::Stat,
            "--name-only" => form = Form::NameOnly,
            "--name-status" => form = Form::NameStatus,
            "--no-color" | "--no-ext-diff" => {}
            "--" => paths.extend(rest.by_ref().cloned()),
            a if a.starts_with('-') => {
                return Err(usage(format!(
                    "unsupported option '{a}' for git diff in gitgate; supported: {FLAGS}"
                ))
                .into());
            }
            rev => revs.push(rev.to_owned()),
        }
    }
    Ok(runner.git_call("git_diff", argv, repo, |repo, _| {
        let (from, to) = sides(repo, &revs)?;
        let args = crate::git::DiffArgs {
            from,
            to,
            staged: Some(staged),
            paths,
            stat: Some(form == Form::Stat),
            offset: None,
            max_lines: Some(usize::MAX),
        };
        let output = crate::git::diff(repo, &args)?;
        let files = output.data.as_array().cloned().unwrap_or_default();
        if files.is_empty() {
            return Ok(String::new());
        }
        Ok(match form {
            Form::Patch | Form::Stat => format!("{}\n", output.text),
            Form::NameOnly => files
                .iter()
                .map(|f| format!("{}\n", f["path"].as_str().unwrap_or_default()))
                .collect(),
            Form::NameStatus => files.iter().map(name_status).collect(),
        })
    })?)
}

/// The two revisions to compare, from git's spellings: `A` (with the worktree), `A B`,
/// `A..B`, and `A...B` (from the merge base of A and B).
fn sides(
    repo: &crate::git::Repo,
    revs: &[String],
) -> Result<(Option<String>, Option<String>), crate::tools::ToolError> {
    let or_head = |s: &str| {
        if s.is_empty() {
            "HEAD".to_owned()
        } else {
            s.to_owned()
        }
    };
    Ok(match revs {
        [] => (None, None),
        [one] => {
            if let Some((a, b)) = one.split_once("...") {
                let base = merge_base(repo, &or_head(a), &or_head(b))?;
                (Some(base), Some(or_head(b)))
            } else if let Some((a, b)) = one.split_once("..") {
                (Some(or_head(a)), Some(or_head(b)))
            } else {
                (Some(one.clone()), None)
            }
        }
        [a, b] => (Some(a.clone()), Some(b.clone())),
        _ => {
            return Err(crate::tools::ToolError::new(
                "git diff compares at most two revisions; name paths after --",
            ));
        }
    })
}

fn merge_base(
    repo: &crate::git::Repo,
    a: &str,
    b: &str,
) -> Result<String, crate::tools::ToolError> {
    let git = repo.lock();
    let resolve = |rev: &str| {
        crate::git::resolve_commit(&git, &crate::git::safety::RevSpec::new(rev)?).map(|c| c.id())
    };
    let (a, b) = (resolve(a)?, resolve(b)?);
    let base = git.merge_base(a, b).map_err(crate::git::Error::from)?;
    Ok(base.to_string())
}

/// `M\tpath`, `A\tpath`, `D\tpath`, `R100\told\tnew` as `--name-status` prints them.
pub(super) fn name_status(file: &Value) -> String {
    let path = file["path"].as_str().unwrap_or_default();
    match file["status"].as_str().unwrap_or_default() {
        "added" => format!("A\t{path}\n"),
        "deleted" => format!("D\t{path}\n"),
        "renamed" => format!(
            "R100\t{}\t{path}\n",
            file["old_path"].as_str().unwrap_or_default()
        ),
        "copied" => format!(
            "C100\t{}\t{path}\n",
            file["old_path"].as_str().unwrap_or_default()
        ),
        "typechange" => format!("T\t{path}\n"),
        _ => format!("M\t{path}\n"),
    }
}
