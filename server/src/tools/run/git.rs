//! `git` in the run form: the global options, then one subcommand. Each subcommand is an
//! operation of the git backend, run as a call of its JSON tool (policy and audit as such),
//! printing what git prints. Errors read as git's (`fatal: ...`, status 128; usage, 129).

use super::git_log;
use super::{Done, Runner};
use crate::tools::ToolError;

/// The subcommands supported so far, for "unknown subcommand" messages.
const SUBCOMMANDS: &[&str] = &[
    "log",
    "rev-parse",
    "branch",
    "status",
    "diff",
    "show",
    "merge-base",
    "rev-list",
    "shortlog",
    "tag",
    "ls-files",
    "blame",
    "grep",
    "add",
    "commit",
    "restore",
    "switch",
    "checkout",
    "reset",
    "rm",
    "mv",
    "merge",
    "describe",
    "ls-tree",
    "cat-file",
    "stash",
    "push",
    "fetch",
    "pull",
];

/// A command line git would refuse as a usage error (status 129).
#[derive(Debug)]
pub(super) struct Usage(pub String);

pub(super) fn usage(message: impl Into<String>) -> Usage {
    Usage(message.into())
}

/// Runs `git ARGS...`.
pub(super) fn run(runner: &mut Runner<'_, '_>, args: &[String]) -> Done {
    let mut repo = None;
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        match arg.as_str() {
            "-C" => {
                let Some(name) = args.get(i + 1) else {
                    return Done::failed(129, "error: switch `C' requires a value");
                };
                repo = Some(name.clone());
                i += 2;
            }
            "--no-pager" | "-P" => i += 1,
            a if a.starts_with('-') => {
                return Done::failed(
                    129,
                    format!(
                        "unknown option: {a}\ngitgate supports these git options: -C REPO, --no-pager"
                    ),
                );
            }
            _ => break,
        }
    }
    let Some(sub) = args.get(i) else {
        return Done::failed(
            1,
            format!(
                "usage: git [-C REPO] <command> [<args>]; commands: {}",
                SUBCOMMANDS.join(", ")
            ),
        );
    };
    let rest = &args[i + 1..];
    let Some(result) = dispatch(runner, sub, args, rest, repo) else {
        let near = crate::git::nearest(sub, SUBCOMMANDS.iter().map(|s| (*s).to_owned()), 3);
        return Done::failed(
            1,
            format!(
                "git: '{sub}' is not a git command gitgate runs yet; nearest: {}; or use the git_* tools ({{\"tool\": \"help\"}})",
                near.join(", ")
            ),
        );
    };
    match result {
        Ok(text) => Done {
            stdout: text,
            ..Done::default()
        },
        Err(Failure::Usage(Usage(message))) => Done::failed(129, format!("error: {message}")),
        Err(Failure::Tool(e)) => Done::failed(128, format!("fatal: {}", e.message)),
        Err(Failure::Exit(stdout, status)) => Done {
            stdout,
            stderr: String::new(),
            status,
        },
        Err(Failure::Stderr(stderr)) => Done {
            stdout: String::new(),
            stderr,
            status: 0,
        },
        Err(Failure::Printed(stdout, stderr)) => Done {
            stdout,
            stderr,
            status: 0,
        },
    }
}

/// Runs the subcommand `sub` (none when gitgate has no such subcommand).
fn dispatch(
    runner: &mut Runner<'_, '_>,
    sub: &str,
    args: &[String],
    rest: &[String],
    repo: Option<String>,
) -> Option<Result<String, Failure>> {
    match sub {
        "log" => Some(log(runner, args, rest, repo)),
        "rev-parse" => Some(rev_parse(runner, args, rest, repo)),
        "branch" => Some(branch(runner, args, rest, repo)),
        "status" => Some(super::git_status::run(runner, args, rest, repo)),
        "diff" => Some(super::git_diff::run(runner, args, rest, repo)),
        "show" => Some(super::git_show::run(runner, args, rest, repo)),
        "merge-base" => Some(super::git_more::merge_base(runner, args, rest, repo)),
        "rev-list" => Some(super::git_more::rev_list(runner, args, rest, repo)),
        "shortlog" => Some(super::git_more::shortlog(runner, args, rest, repo)),
        "tag" => Some(super::git_more::tag(runner, args, rest, repo)),
        "ls-files" => Some(super::git_more::ls_files(runner, args, rest, repo)),
        "blame" => Some(super::git_blame::run(runner, args, rest, repo)),
        "grep" => Some(super::git_grep::run(runner, args, rest, repo)),
        "add" => Some(super::git_write::add(runner, args, rest, repo)),
        "commit" => Some(super::git_write::commit(runner, args, rest, repo)),
        "restore" => Some(super::git_write::restore(runner, args, rest, repo)),
        "switch" => Some(super::git_switch::switch(runner, args, rest, repo)),
        "checkout" => Some(super::git_switch::checkout(runner, args, rest, repo)),
        "reset" => Some(super::git_refs::reset(runner, args, rest, repo)),
        "rm" => Some(super::git_write::rm(runner, args, rest, repo)),
        "mv" => Some(super::git_write::mv(runner, args, rest, repo)),
        "merge" => Some(super::git_merge::merge(runner, args, rest, repo)),
        "describe" => Some(super::git_refs_list::describe(runner, args, rest, repo)),
        "ls-tree" => Some(super::git_objects::ls_tree(runner, args, rest, repo)),
        "cat-file" => Some(super::git_objects::cat_file(runner, args, rest, repo)),
        "stash" => Some(super::git_stash::stash(runner, args, rest, repo)),
        "push" => Some(super::git_remote::push(runner, args, rest, repo)),
        "fetch" => Some(super::git_remote::fetch(runner, args, rest, repo)),
        "pull" => Some(super::git_remote::pull(runner, args, rest, repo)),
        _ => None,
    }
}

pub(super) enum Failure {
    Usage(Usage),
    Tool(ToolError),
    /// Not an error, only a status other than 0 (as `git grep` finding nothing): what was
    /// printed and the status.
    Exit(String, i32),
    /// Success whose report git writes to standard error (`git push`, `git fetch`).
    Stderr(String),
    /// Success printing on both streams (`git switch`: carried-over changes on stdout, the
    /// "Switched to" line on stderr).
    Printed(String, String),
}

impl From<Usage> for Failure {
    fn from(u: Usage) -> Self {
        Failure::Usage(u)
    }
}

impl From<ToolError> for Failure {
    fn from(e: ToolError) -> Self {
        Failure::Tool(e)
    }
}

fn log(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let cmd = git_log::parse(args)?;
    Ok(runner.git_call("git_log", argv, repo, |repo, _| {
        let mut out = String::new();
        let mut printed = Vec::new();
        let mut first = true;
        let paths = crate::git::safety::RepoPath::all(repo.root(), &cmd.query.paths)?;
        crate::git::each_commit(repo, &cmd.query, |git, commit| {
            if cmd.reverse {
                printed.push(commit.id());
                Ok(())
            } else {
                let r = git_log::print_with_changes(&mut out, git, commit, &cmd, &paths, first);
                first = false;
                r
            }
        })?;
        if cmd.reverse {
            let git = repo.lock();
            for (i, id) in printed.iter().rev().enumerate() {
                let commit = git.find_commit(*id).map_err(crate::git::Error::from)?;
                git_log::print_with_changes(&mut out, &git, &commit, &cmd, &paths, i == 0)?;
            }
        }
        Ok(out)
    })?)
}

fn rev_parse(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let mut abbrev_ref = false;
    let mut short: Option<usize> = None;
    let mut revs = Vec::new();
    let mut answers = String::new();
    for arg in args {
        match arg.as_str() {
            "--abbrev-ref" => abbrev_ref = true,
            "--short" => short = Some(7),
            "--verify" | "-q" | "--quiet" => {}
            // The line runs at the repository's root, inside its worktree.
            "--is-inside-work-tree" => answers.push_str("true\n"),
            "--is-bare-repository" | "--is-inside-git-dir" => answers.push_str("false\n"),
            "--show-prefix" | "--show-cdup" => answers.push('\n'),
            "--show-toplevel" | "--git-dir" | "--absolute-git-dir" | "--git-common-dir" => {
                return Err(usage(format!(
                    "{arg}: gitgate does not show the server's paths; a line already runs at \
                     the repository root (pass -C REPO to choose the repository)"
                ))
                .into());
            }
            a if a.starts_with("--short=") => {
                let n: usize = a[8..]
                    .parse()
                    .map_err(|_| Failure::from(usage(format!("'{}' is not a number", &a[8..]))))?;
                short = Some(n.clamp(4, 40));
            }
            a if a.starts_with('-') => {
                return Err(usage(format!(
                    "unsupported option '{a}' for git rev-parse in gitgate; supported: --abbrev-ref, --short[=N], --verify, --is-inside-work-tree, --show-prefix, REV..."
                ))
                .into());
            }
            rev => revs.push(rev.to_owned()),
        }
    }
    if revs.is_empty() {
        return Ok(answers);
    }
    Ok(runner.git_call("git_log", argv, repo, |repo, _| {
        let git = repo.lock();
        let mut out = answers;
        for rev in &revs {
            if abbrev_ref {
                let name = if rev == "HEAD" {
                    let head = git.head().map_err(crate::git::Error::from)?;
                    head.shorthand().unwrap_or("HEAD").to_owned()
                } else {
                    let (object, reference) =
                        git.revparse_ext(rev).map_err(crate::git::Error::from)?;
                    match reference.and_then(|r| r.shorthand().ok().map(str::to_owned)) {
                        Some(name) => name,
                        None => object.id().to_string(),
                    }
                };
                out.push_str(&name);
            } else {
                let spec = crate::git::safety::RevSpec::new(rev)?;
                let commit = crate::git::resolve_commit(&git, &spec)?;
                if let Some(n) = short {
                    out.push_str(&unique_prefix(&git, commit.id(), n));
                } else {
                    out.push_str(&commit.id().to_string());
                }
            }
            out.push('\n');
        }
        Ok(out)
    })?)
}

/// The shortest prefix of `id`, at least `min` digits, that names no other object.
fn unique_prefix(git: &git2::Repository, id: git2::Oid, min: usize) -> String {
    let hex = id.to_string();
    let Ok(odb) = git.odb() else {
        return hex;
    };
    (min..hex.len())
        .find(|&len| {
            git2::Oid::from_str(&hex[..len])
                .and_then(|short| odb.exists_prefix(short, len))
                .is_ok()
        })
        .map_or(hex.clone(), |len| hex[..len].to_owned())
}

/// `git branch`: a listing (with its filters), or a write (`NAME [START]`, `-d`, `-D`).
fn branch(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let deletes = args
        .iter()
        .any(|a| matches!(a.as_str(), "-d" | "-D" | "--delete"));
    let flagged = args.iter().any(|a| a.starts_with('-'));
    if deletes || (!flagged && !args.is_empty()) {
        super::git_switch::branch_write(runner, argv, args, repo)
    } else {
        super::git_refs_list::branch_list(runner, argv, args, repo)
    }
}
