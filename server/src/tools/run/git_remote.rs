//! `git push`, `git fetch` and `git pull` in the run form, as calls of `git_push`, `git_fetch`
//! and `git_pull` (policy and audit as such; `--force` is judged as `git:force`). Their report
//! goes to standard error, as git writes it; `-q` keeps it quiet.

use serde_json::{Map, Value};

use super::Runner;
use super::git::{Failure, usage};
use crate::git::remote::{FetchArgs, PullArgs, PushArgs};
use crate::tools::ToolError;

/// The words of a remote command: its flags (each a known one, possibly taking no value) and
/// up to two positionals, REMOTE and BRANCH.
struct Words {
    flags: Vec<String>,
    remote: Option<String>,
    branch: Option<String>,
}

fn words(args: &[String], known: &[&str], supported: &str, cmd: &str) -> Result<Words, Failure> {
    let mut out = Words {
        flags: Vec::new(),
        remote: None,
        branch: None,
    };
    for arg in args {
        if arg.starts_with('-') {
            if !known.contains(&arg.as_str()) {
                return Err(usage(format!(
                    "unsupported option '{arg}' for git {cmd} in gitgate; supported: {supported}"
                ))
                .into());
            }
            out.flags.push(arg.clone());
        } else if out.remote.is_none() {
            out.remote = Some(arg.clone());
        } else if out.branch.is_none() {
            out.branch = Some(arg.clone());
        } else {
            return Err(usage(format!(
                "git {cmd} takes [REMOTE [BRANCH]]; supported: {supported}"
            ))
            .into());
        }
    }
    Ok(out)
}

impl Words {
    fn has(&self, names: &[&str]) -> bool {
        self.flags.iter().any(|f| names.contains(&f.as_str()))
    }
}

/// The recorded arguments of an operation: the command's words, and a flag that decides its
/// class (`force`).
fn recorded(argv: &[String], force: bool) -> Map<String, Value> {
    let mut args = Map::new();
    args.insert(
        "argv".into(),
        Value::Array(argv.iter().cloned().map(Value::String).collect()),
    );
    if force {
        args.insert("force".into(), Value::Bool(true));
    }
    args
}

/// A report for standard error, or nothing with `-q`.
fn report(text: String, quiet: bool) -> Failure {
    if quiet {
        Failure::Stderr(String::new())
    } else {
        let mut text = text;
        text.push('\n');
        Failure::Stderr(text)
    }
}

/// `git push [-u] [-f] [-d] [-q] [REMOTE [BRANCH]]`.
pub(super) fn push(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let supported = "-u/--set-upstream, -f/--force, -d/--delete, -q/--quiet, [REMOTE [BRANCH]]";
    let known = [
        "-u",
        "--set-upstream",
        "-f",
        "--force",
        "-d",
        "--delete",
        "-q",
        "--quiet",
    ];
    let w = words(args, &known, supported, "push")?;
    let force = w.has(&["-f", "--force"]);
    let push = PushArgs {
        branch: w.branch.clone().filter(|b| b != "HEAD"),
        remote: w.remote.clone(),
        set_upstream: Some(w.has(&["-u", "--set-upstream"])),
        delete: Some(w.has(&["-d", "--delete"])),
        force: Some(force),
    };
    if push.delete == Some(true) && push.branch.is_none() {
        return Err(usage("--delete needs REMOTE BRANCH").into());
    }
    let text = operation(runner, "git_push", argv, force, repo, |b, caller, repo| {
        crate::tools::remote::push_with(b, caller, repo.as_deref(), &push)
    })?;
    Err(report(text, w.has(&["-q", "--quiet"])))
}

/// `git fetch [-p] [-q] [REMOTE [BRANCH]]`.
pub(super) fn fetch(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let supported = "-p/--prune, -q/--quiet, [REMOTE [BRANCH]]";
    let known = ["-p", "--prune", "-q", "--quiet"];
    let w = words(args, &known, supported, "fetch")?;
    let fetch = FetchArgs {
        remote: w.remote.clone(),
        branch: w.branch.clone(),
        prune: Some(w.has(&["-p", "--prune"])),
    };
    let text = operation(runner, "git_fetch", argv, false, repo, |b, caller, repo| {
        crate::tools::remote::fetch_with(b, caller, repo.as_deref(), &fetch)
    })?;
    let text = if text.starts_with("Already up to date") {
        String::new()
    } else {
        text
    };
    if text.is_empty() {
        return Err(Failure::Stderr(String::new()));
    }
    Err(report(text, w.has(&["-q", "--quiet"])))
}

/// `git pull [--ff-only | --no-ff | --no-rebase] [-q] [REMOTE [BRANCH]]`: fast-forward only
/// unless `--no-ff` or `--no-rebase` asks for a merge commit.
pub(super) fn pull(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let supported = "--ff-only, --no-ff, --no-rebase, -q/--quiet, [REMOTE [BRANCH]]";
    let known = [
        "--ff-only",
        "--no-ff",
        "--no-rebase",
        "--ff",
        "-q",
        "--quiet",
    ];
    let w = words(args, &known, supported, "pull")?;
    let pull = PullArgs {
        remote: w.remote.clone(),
        branch: w.branch.clone(),
        merge: Some(w.has(&["--no-ff", "--no-rebase"])),
    };
    let text = operation(runner, "git_pull", argv, false, repo, |b, caller, repo| {
        crate::tools::remote::pull_with(b, caller, repo.as_deref(), &pull)
    })?;
    // git pull writes what it updated to stdout; its "From URL" and branch lines go to
    // stderr, and are left out here (they name the URL the line already used).
    if w.has(&["-q", "--quiet"]) {
        return Ok(String::new());
    }
    let mut stdout: String = text
        .lines()
        .filter(|l| !l.starts_with("From ") && !l.starts_with(" * branch"))
        .collect::<Vec<_>>()
        .join("\n");
    stdout.push('\n');
    Ok(stdout)
}

/// Runs one remote operation as a call of `tool`.
fn operation(
    runner: &Runner<'_, '_>,
    tool: &str,
    argv: &[String],
    force: bool,
    repo: Option<String>,
    op: impl FnOnce(
        &crate::tools::Backends,
        &crate::identity::Caller,
        Option<String>,
    ) -> Result<crate::output::Output, ToolError>,
) -> Result<String, Failure> {
    let mut args = recorded(argv, force);
    if let Some(repo) = &repo {
        args.insert("repo".into(), Value::String(repo.clone()));
    }
    Ok(runner.remote_call(tool, args, repo, op)?)
}
