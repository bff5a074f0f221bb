//! The run form of the `gitgate` tool: `{"run": "git log --oneline -n 5 | grep -i fix"}`.
//!
//! The line is parsed by [`crate::cmdline`] (no shell: words, `|`, `&&`, `;`) and run here, in
//! process, as the calling user. A `git` or `gh` command is one operation of the same backend
//! the JSON tools use, checked by policy and audited as a call of that tool (its event's
//! `parent` is the run call's); the filters of a pipeline (`grep`, `head`, `jq`, ...) work on
//! the text in memory. What comes back is what the line prints: each command's output as git
//! and gh print it when their output is not a terminal.
//!
//! Shell semantics kept: a pipeline's status is its last command's; `a && b` runs `b` only if
//! `a` succeeded, `a; b` runs both; a failing command's message goes to the output after what
//! was printed, as a shell tool shows stderr. A line whose last status is not 0 is an error
//! result, its text ending in `[exit status N]`.
//!
//! Intended differences from git (each command otherwise prints git 2.47's bytes; the
//! differential test `server/tests/e2e/run_form.rs` holds the rest equal):
//! 1. Output is bounded: a line prints at most 4 MiB, a diff at most the backend's 5,000 lines,
//!    each cut ending in a note saying how to narrow it.
//! 2. Rename detection in diffs is libgit2's: it may pair a deleted and an added file whose
//!    similarity git scores below its 50% threshold (and the `similarity index` line is printed
//!    only for exact renames); abbreviated ids in `index` lines are always 7 digits.
//! 3. `--since`/`--until` take `YYYY-MM-DD` (read as git does: that day at the current time of
//!    day, UTC) or RFC 3339; git's other date spellings ("2 weeks ago") are refused by name.
//! 4. `--author` is a case-insensitive substring of the name or email (git: a regex).
//! 5. Relative dates (`%ar`, `--date=relative`), decorations (`%d`) and padding (`%<(N)`) are
//!    refused by name rather than approximated.
//! 6. `git shortlog` without a revision summarises `HEAD`; git, its input not a terminal, reads
//!    a log from standard input instead and (in an agent's shell) prints nothing.
//! 7. `git blame FILE` blames the file as committed at HEAD: uncommitted lines are not shown
//!    as git's `00000000 (Not Committed Yet ...)`. Renames are not followed across history.
//! 8. Writes commit as the calling user, at the server's clock (or its pinned time); they run
//!    no hooks, sign nothing, read no configuration (no `advice.*`: git's default advice is
//!    printed), and failures are worded by gitgate (what to do instead), with git's status.
//! 9. The similarity of an inexact rename in `git commit`'s summary is estimated from the
//!    lines the two versions share; git hashes chunks of up to 64 bytes.
//! 10. A `git merge` with conflicts is not left half done: git's report of the conflicting
//!     paths (status 1) is followed by gitgate's note, and the worktree, index and HEAD are as
//!     before (as after `git merge --abort`). `Auto-merging` is printed for conflicting paths
//!     only, each as a content conflict.
//! 11. `git rev-parse --show-toplevel` (and `--git-dir`) is refused: the server's paths are not
//!     shown; a line already runs at the repository root.
//! 12. `git push`, `git fetch` and `git pull` are gitgate's remote operations (the configured
//!     GitHub host only, as the caller): their reports have git's shape (`To URL`, one line per
//!     reference) without progress or `remote:` lines; pull's `From` lines are left out; a
//!     refused push is `fatal:` with status 128 where git prints `! [rejected]` with 1.
//!
//! Intended differences from gh (each command otherwise prints gh 2.23's bytes without a
//! terminal; `server/tests/e2e/run_gh.rs` holds the rest equal, against the real gh on the same
//! forge, and tests 1 and 2 by name):
//! 1. Without `-R`, a command acts on the server's configured default repository (gh reads the
//!    current checkout's remote or `GH_REPO`); `gh pr create` needs `--head` (no checkout).
//! 2. `--json` serves the fields listed in `gh_json.rs` (gh's shapes, built from REST records);
//!    others gh has (`projectCards`, `reactionGroups`, `statusCheckRollup`, ...) are refused,
//!    naming the served ones. `--jq` runs on gitgate's jaq (as `| jq` does), not gojq.
//! 3. Comment listings print `edited: false` (REST does not say whether a comment was edited
//!    when it was created); "not found" reads as gh's GraphQL error, other upstream errors
//!    (a refused merge or review) carry gitgate's message, status 1 as gh's.
//! 4. Interactive forms, `--web`, `--template`, `--body-file` are not supported: the flags name
//!    what is.
//! 5. `gh api --paginate` reads at most 10 pages (a bound, as git's output bound 1), and takes
//!    a JSON array shorter than `per_page` for the last page where gh follows `Link` headers
//!    (`run_gh::api_paginate_is_bounded`).

mod gh;
mod gh_api;
mod gh_ci;
mod gh_ci_json;
mod gh_issue;
mod gh_json;
mod gh_pr;
mod gh_release;
mod gh_search;
mod gh_search_commits;
mod gh_write;
mod git;
mod git_blame;
mod git_diff;
mod git_grep;
mod git_log;
mod git_merge;
mod git_more;
mod git_objects;
mod git_refs;
mod git_refs_list;
mod git_remote;
mod git_show;
mod git_stash;
mod git_status;
mod git_switch;
mod git_write;
mod xargs;

use std::time::{Duration, Instant};

use super::{ErrorCode, MetaCall, Services, ToolError};
use crate::cmdline::{Command, Join, Line, Pipeline, filters};
use crate::output::Output;

/// Wall-clock budget of one line.
const TIME_LIMIT: Duration = Duration::from_secs(30);
/// Most git and gh operations one line runs (`xargs` fan-out included).
const MAX_OPERATIONS: usize = 50;
/// The status of a line the client cancelled: a shell's for SIGINT (128 + 2).
const CANCELLED_STATUS: i32 = 130;
/// Longest text one command may hand to the next, and the longest answer.
const MAX_TEXT: usize = 4 << 20;

/// What one command, or pipeline, or line did.
#[derive(Debug, Default)]
struct Done {
    stdout: String,
    stderr: String,
    status: i32,
}

impl Done {
    fn failed(status: i32, message: impl Into<String>) -> Self {
        let mut stderr = message.into();
        if !stderr.ends_with('\n') {
            stderr.push('\n');
        }
        Self {
            stdout: String::new(),
            stderr,
            status,
        }
    }
}

/// Runs one command line for the call.
pub(super) fn run(
    services: &Services,
    call: &MetaCall<'_>,
    text: &str,
) -> Result<Output, ToolError> {
    let line = crate::cmdline::parse(text)
        .map_err(|e| ToolError::with_code(ErrorCode::InvalidArguments, e.message))?;
    let mut runner = Runner {
        services,
        call,
        deadline: Instant::now() + TIME_LIMIT,
        operations: 0,
    };
    let done = runner.line(&line);
    let mut answer = done.stdout;
    answer.push_str(&done.stderr);
    if answer.len() > MAX_TEXT {
        let mut cut = MAX_TEXT;
        while !answer.is_char_boundary(cut) {
            cut -= 1;
        }
        answer.truncate(cut);
        answer.push_str(&format!(
            "\n... output cut at {} MiB; narrow it (| head, -n)\n",
            MAX_TEXT >> 20
        ));
    }
    if done.status != 0 {
        answer.push_str(&format!("[exit status {}]", done.status));
        return Err(ToolError::with_code(ErrorCode::CommandFailed, answer));
    }
    Ok(Output {
        data: serde_json::Value::String(answer.clone()),
        text: answer,
        fields: &[],
        more: None,
    })
}

/// A line in progress.
pub(super) struct Runner<'s, 'c> {
    services: &'s Services,
    call: &'c MetaCall<'c>,
    deadline: Instant,
    operations: usize,
}

impl Runner<'_, '_> {
    fn line(&mut self, line: &Line) -> Done {
        let mut all = Done::default();
        for pipeline in &line.pipelines {
            if pipeline.join == Join::IfOk && all.status != 0 {
                continue;
            }
            let done = self.pipeline(pipeline);
            all.stdout.push_str(&done.stdout);
            all.stderr.push_str(&done.stderr);
            all.status = done.status;
        }
        all
    }

    fn pipeline(&mut self, pipeline: &Pipeline) -> Done {
        let mut stderr = String::new();
        let mut input: Option<String> = None;
        let mut status = 0;
        for command in &pipeline.commands {
            let done = self.command(command, input.take());
            stderr.push_str(&done.stderr);
            status = done.status;
            input = Some(done.stdout);
        }
        Done {
            stdout: input.unwrap_or_default(),
            stderr,
            status,
        }
    }

    fn command(&mut self, command: &Command, input: Option<String>) -> Done {
        if Instant::now() >= self.deadline {
            return Done::failed(
                124,
                format!(
                    "gitgate: the line ran out of its {} s",
                    TIME_LIMIT.as_secs()
                ),
            );
        }
        let argv = &command.argv;
        match command.program() {
            // git and gh read no input here (none of the supported commands does).
            "git" => self.operation(argv, |runner| git::run(runner, &argv[1..])),
            "gh" => self.operation(argv, |runner| gh::run(runner, argv)),
            "xargs" => self.xargs(&argv[1..], input),
            program if filters::PROGRAMS.contains(&program) => self.filter(argv, input),
            program => unknown_program(program),
        }
    }

    /// A filter stage over the previous command's output.
    fn filter(&self, argv: &[String], input: Option<String>) -> Done {
        let Some(input) = input else {
            return Done::failed(
                2,
                format!(
                    "{}: reads the previous command's output; start the line with a git or gh command",
                    argv[0]
                ),
            );
        };
        let ctx = filters::FilterContext {
            jq: Some(std::sync::Arc::clone(&self.services.jq)),
            user: self.call.ctx.caller.user().to_owned(),
            deadline: self.deadline,
        };
        match filters::run(argv, &input, &ctx) {
            Ok(out) => Done {
                stdout: out.text,
                stderr: String::new(),
                status: out.status,
            },
            Err(e) => Done::failed(2, e.to_string()),
        }
    }

    /// `xargs [-n N] [-I R] [-r] git|gh ...`: the command once per group of input words (or
    /// per line with `-I`), each run an operation of its own.
    fn xargs(&mut self, args: &[String], input: Option<String>) -> Done {
        let spec = match xargs::parse(args) {
            Ok(spec) => spec,
            Err(message) => return Done::failed(1, format!("xargs: {message}")),
        };
        let input = input.unwrap_or_default();
        let mut all = Done::default();
        for argv in spec.commands(&input) {
            let done = self.command(&Command { argv }, None);
            all.stdout.push_str(&done.stdout);
            all.stderr.push_str(&done.stderr);
            // As GNU xargs: 123 when any run failed.
            if done.status != 0 {
                all.status = 123;
            }
        }
        all
    }

    /// Runs one git or gh operation, within the line's operation budget, unless the client
    /// cancelled the call; reports it as progress when the client asked.
    fn operation(&mut self, argv: &[String], work: impl FnOnce(&mut Self) -> Done) -> Done {
        if crate::notify::cancelled() {
            return Done::failed(
                CANCELLED_STATUS,
                format!(
                    "gitgate: cancelled by the client after {} operation(s); those ran",
                    self.operations
                ),
            );
        }
        if self.operations >= MAX_OPERATIONS {
            return Done::failed(
                1,
                format!("gitgate: a line runs at most {MAX_OPERATIONS} git and gh operations"),
            );
        }
        self.operations += 1;
        crate::notify::progress(self.operations as u64, None, argv.join(" "));
        work(self)
    }

    /// Runs one git operation as a call of the JSON tool `tool` (policy and audit as such).
    pub(super) fn git_call(
        &self,
        tool: &str,
        argv: &[String],
        repo: Option<String>,
        op: impl FnOnce(&crate::git::Repo, &crate::identity::Caller) -> Result<String, ToolError>,
    ) -> Result<String, ToolError> {
        let mut args = serde_json::Map::new();
        args.insert(
            "argv".into(),
            serde_json::Value::Array(
                argv.iter()
                    .cloned()
                    .map(serde_json::Value::String)
                    .collect(),
            ),
        );
        if let Some(repo) = &repo {
            args.insert("repo".into(), serde_json::Value::String(repo.clone()));
        }
        self.services
            .call_operation(self.call, tool, args, repo, |backends, caller, repo| {
                let repo = backends.repos.get(repo.as_deref())?;
                op(repo, caller)
            })
    }
}

impl Runner<'_, '_> {
    /// Runs one remote git operation (push, fetch, pull) as a call of the JSON tool `tool`,
    /// with the backends (it needs the GitHub host and the caller's token, not only the
    /// repository); `args` are what the event records.
    pub(super) fn remote_call(
        &self,
        tool: &str,
        args: serde_json::Map<String, serde_json::Value>,
        repo: Option<String>,
        op: impl FnOnce(
            &super::Backends,
            &crate::identity::Caller,
            Option<String>,
        ) -> Result<Output, ToolError>,
    ) -> Result<String, ToolError> {
        self.services
            .call_operation_output(self.call, tool, args, repo, op)
    }
}

/// A program the run form does not have: what it does have.
fn unknown_program(program: &str) -> Done {
    Done::failed(
        127,
        format!(
            "{program}: not supported; gitgate runs no shell: a line runs git and gh commands \
             and filters their output (| grep, head, tail, wc, sort, uniq, cut, tr, jq, xargs, cat)"
        ),
    )
}
