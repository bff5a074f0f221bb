//! `git status` in the run form: the short forms (`-s`, `--porcelain`, `-b`) straight from the
//! backend's status (already `git status --short --branch` line for line), and the long form
//! rebuilt from its records as git prints it to a pipe.

use serde_json::Value;

use super::Runner;
use super::git::{Failure, usage};

const FLAGS: &str = "-s/--short, -b/--branch, --porcelain, --long, -- paths";

/// More entries than any sane worktree listing; the line's output cap still applies.
const ALL: usize = 1_000_000;

pub(super) fn run(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let (mut short, mut branch) = (false, false);
    let mut paths = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-s" | "--short" | "--porcelain" | "--porcelain=v1" => short = true,
            "-b" | "--branch" => branch = true,
            "-sb" | "-bs" => (short, branch) = (true, true),
            "--long" => short = false,
            "--" => paths.extend(rest.by_ref().cloned()),
            a if a.starts_with('-') => {
                return Err(usage(format!(
                    "unsupported option '{a}' for git status in gitgate; supported: {FLAGS}"
                ))
                .into());
            }
            path => paths.push(path.to_owned()),
        }
    }
    Ok(runner.git_call("git_status", argv, repo, |repo, _| {
        let args = crate::git::StatusArgs {
            paths,
            limit: Some(ALL),
        };
        let output = crate::git::status(repo, &args)?;
        if short {
            let mut lines = output.text.lines();
            let header = lines.next().unwrap_or_default();
            let mut out = String::new();
            if branch {
                out.push_str(header);
                out.push('\n');
            }
            for line in lines {
                out.push_str(line);
                out.push('\n');
            }
            return Ok(out);
        }
        let header = output.text.lines().next().unwrap_or_default().to_owned();
        Ok(long(&header, &output.data))
    })?)
}

/// `git status`'s long form for the whole worktree, as `git stash apply` prints it.
pub(super) fn long_status(repo: &crate::git::Repo) -> Result<String, crate::tools::ToolError> {
    let args = crate::git::StatusArgs {
        paths: Vec::new(),
        limit: Some(ALL),
    };
    let output = crate::git::status(repo, &args)?;
    let header = output.text.lines().next().unwrap_or_default().to_owned();
    Ok(long(&header, &output.data))
}

/// The long form, from the short header (`## main...origin/main [ahead 1]`) and the records.
fn long(header: &str, records: &Value) -> String {
    let records = records.as_array().map(Vec::as_slice).unwrap_or_default();
    let mut out = branch_lines(header);
    let code = |r: &Value, side: &str| {
        r[side]
            .as_str()
            .unwrap_or(".")
            .chars()
            .next()
            .unwrap_or('.')
    };
    let name = |r: &Value| {
        let path = r["path"].as_str().unwrap_or_default().to_owned();
        match r["old_path"].as_str() {
            Some(old) => format!("{old} -> {path}"),
            None => path,
        }
    };
    let staged: Vec<String> = records
        .iter()
        .filter(|r| !matches!(code(r, "index"), '.' | '?' | 'U') && code(r, "worktree") != 'U')
        .map(|r| format!("\t{}{}\n", label(code(r, "index")), name(r)))
        .collect();
    let unstaged: Vec<String> = records
        .iter()
        .filter(|r| !matches!(code(r, "worktree"), '.' | '?' | 'U') && code(r, "index") != 'U')
        .map(|r| {
            format!(
                "\t{}{}\n",
                label(code(r, "worktree")),
                r["path"].as_str().unwrap_or_default()
            )
        })
        .collect();
    let untracked: Vec<String> = records
        .iter()
        .filter(|r| code(r, "index") == '?')
        .map(|r| format!("\t{}\n", r["path"].as_str().unwrap_or_default()))
        .collect();
    if !staged.is_empty() {
        out.push_str(
            "Changes to be committed:\n  (use \"git restore --staged <file>...\" to unstage)\n",
        );
        out.extend(staged.iter().cloned());
        out.push('\n');
    }
    if !unstaged.is_empty() {
        // git names `rm` too when a tracked file is gone from the worktree.
        let add = if records.iter().any(|r| code(r, "worktree") == 'D') {
            "git add/rm"
        } else {
            "git add"
        };
        out.push_str(&format!("Changes not staged for commit:\n  (use \"{add} <file>...\" to update what will be committed)\n  (use \"git restore <file>...\" to discard changes in working directory)\n"));
        out.extend(unstaged.iter().cloned());
        out.push('\n');
    }
    if !untracked.is_empty() {
        out.push_str("Untracked files:\n  (use \"git add <file>...\" to include in what will be committed)\n");
        out.extend(untracked.iter().cloned());
        out.push('\n');
    }
    let tail = if !staged.is_empty() {
        None
    } else if !unstaged.is_empty() {
        Some("no changes added to commit (use \"git add\" and/or \"git commit -a\")")
    } else if !untracked.is_empty() {
        Some("nothing added to commit but untracked files present (use \"git add\" to track)")
    } else {
        Some("nothing to commit, working tree clean")
    };
    if let Some(tail) = tail {
        out.push_str(tail);
        out.push('\n');
    }
    out
}

/// `On branch main` (and how it stands against its upstream), from the short header.
fn branch_lines(header: &str) -> String {
    let header = header.strip_prefix("## ").unwrap_or(header);
    if let Some(branch) = header.strip_prefix("No commits yet on ") {
        return format!("On branch {branch}\n\nNo commits yet\n\n");
    }
    if header.starts_with("HEAD (no branch)") {
        return "Not currently on any branch.\n".to_owned();
    }
    let (branch, rest) = header.split_once("...").unwrap_or((header, ""));
    let mut out = format!("On branch {branch}\n");
    if rest.is_empty() {
        return out;
    }
    let (upstream, counts) = rest.split_once(" [").unwrap_or((rest, ""));
    let counts = counts.trim_end_matches(']');
    let number = |word: &str| {
        counts
            .split(", ")
            .find_map(|part| part.strip_prefix(word))
            .and_then(|n| n.trim().parse::<usize>().ok())
    };
    let plural = |n: usize| if n == 1 { "commit" } else { "commits" };
    match (number("ahead "), number("behind ")) {
        (None, None) if counts == "gone" => out.push_str(&format!(
            "Your branch is based on '{upstream}', but the upstream is gone.\n  (use \"git branch --unset-upstream\" to fixup)\n"
        )),
        (None, None) => out.push_str(&format!("Your branch is up to date with '{upstream}'.\n")),
        (Some(a), None) => out.push_str(&format!(
            "Your branch is ahead of '{upstream}' by {a} {}.\n  (use \"git push\" to publish your local commits)\n",
            plural(a)
        )),
        (None, Some(b)) => out.push_str(&format!(
            "Your branch is behind '{upstream}' by {b} {}, and can be fast-forwarded.\n  (use \"git pull\" to update your local branch)\n",
            plural(b)
        )),
        (Some(a), Some(b)) => out.push_str(&format!(
            "Your branch and '{upstream}' have diverged,\nand have {a} and {b} different commits each, respectively.\n  (use \"git pull\" if you want to integrate the remote branch with yours)\n"
        )),
    }
    out.push('\n');
    out
}

/// `modified:   ` and the like: git pads the label to 12 columns.
fn label(code: char) -> String {
    let word = match code {
        'M' => "modified:",
        'A' => "new file:",
        'D' => "deleted:",
        'R' => "renamed:",
        'C' => "copied:",
        'T' => "typechange:",
        _ => "changed:",
    };
    format!("{word:<12}")
}
