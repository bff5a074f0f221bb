//! One attempt of a task on an arm, in phases: a fresh workspace and forge ([`attempt`]), the
//! steps through the arm's executor ([`execute`]), the answer and end state checked
//! ([`judge_answer`], [`state_checks`]), and the figures measured ([`measure`]).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::Value;

use super::{ArmRun, Ctx};
use crate::arm::{Kind, Vars};
use crate::check::{abbreviate, to_text};
use crate::executor::mcp::McpExecutor;
use crate::executor::shell::ShellExecutor;
use crate::executor::{Execution, Start, StepRun, drive};
use crate::forge::{self, Forge, Usage};
use crate::model::{Attempt, StepRecord};
use crate::prices::Prices;
use crate::task::{StepList, Task};
use crate::tokens::{self, Tokenizers, Transcript};
use crate::workspace::Workspace;

/// The forge user whose view the end-state API checks take.
const CHECK_LOGIN: &str = "alice";

/// Longest answer kept in the report.
const ANSWER_SHOWN: usize = 500;

/// One attempt of `task` on `arm` from a fresh copy of the template.
pub(super) async fn attempt(
    ctx: &Ctx<'_>,
    task: &Task,
    arm: &ArmRun,
    list: &StepList,
    traced: bool,
) -> Result<Attempt> {
    let n = ctx.counter.fetch_add(1, Ordering::Relaxed) + 1;
    let root = ctx.work.join("attempts").join(format!("{n:04}"));
    let t0 = Instant::now();
    let ws = Workspace::create(&ctx.template, &root, &task.fixture)?;
    let t1 = Instant::now();
    let result = attempt_in(ctx, task, arm, list, traced, &ws).await;
    let t2 = Instant::now();
    if ctx.config.work_dir.is_none() {
        ws.remove();
    }
    if std::env::var_os("GITGATE_BENCH_PROFILE").is_some() {
        eprintln!(
            "profile {} {} traced={traced}: copy {:.0} ms, attempt {:.0} ms, remove {:.0} ms",
            task.id,
            arm.arm.name,
            (t1 - t0).as_secs_f64() * 1e3,
            (t2 - t1).as_secs_f64() * 1e3,
            t2.elapsed().as_secs_f64() * 1e3
        );
    }
    result
}

/// The attempt in its workspace: a forge on the copy, the steps, the checks, the figures.
async fn attempt_in(
    ctx: &Ctx<'_>,
    task: &Task,
    arm: &ArmRun,
    list: &StepList,
    traced: bool,
    ws: &Workspace,
) -> Result<Attempt> {
    let config = ctx.config;
    let forge = Forge::start(
        &config.forge,
        &ws.forge_data,
        &config.seed,
        &ws.root.join("forge.log"),
    )
    .await?;
    apply_forge_changes(&forge, task).await?;
    let before = forge.usage().await?;
    let vars = Vars {
        gitgate: config.gitgate.display().to_string(),
        clone: ws.clone.display().to_string(),
        forge_url: forge.url(),
        github_token: forge::demo_token(arm.arm.github_login.as_deref().unwrap_or_default()),
        state: arm.state.display().to_string(),
    };
    if let Some(origin) = &arm.arm.origin {
        crate::workspace::set_origin(&ws.clone, &vars.expand(origin))?;
    }
    let start = Start {
        arm: &arm.arm,
        vars: &vars,
        bearer: arm.bearer.as_deref(),
        clone: &ws.clone,
        scratch: &ws.root,
        forge_addr: &forge.addr,
        traced,
    };
    let mut execution = execute(&start, list).await?;
    let after = forge.usage().await?;
    let mut answer = None;
    if execution.failure.is_none() {
        (answer, execution.failure) = judge_answer(task, list, &execution.runs);
    }
    if execution.failure.is_none() {
        execution.failure = state_checks(task, ws, &forge).await?;
    }
    drop(forge);
    let usage = Usage {
        requests: after.requests.saturating_sub(before.requests),
        connections: after.connections.saturating_sub(before.connections),
    };
    let measures = Measures {
        tokenizers: &ctx.tokenizers,
        prices: &config.prices,
    };
    Ok(measures.attempt(task, &arm.arm.preamble, execution, usage, answer))
}

/// The task fixture's changes to the forge, in order, before anything is measured.
async fn apply_forge_changes(forge: &Forge, task: &Task) -> Result<()> {
    for c in &task.fixture.forge_changes {
        let login = c.login.as_deref().unwrap_or(CHECK_LOGIN);
        let (status, body) = forge
            .send(
                &c.method,
                &c.api,
                &forge::demo_token(login),
                c.body.as_ref(),
            )
            .await?;
        if !(200..300).contains(&status) {
            anyhow::bail!(
                "fixture: {} {} as {login} answered {status}: {}",
                c.method,
                c.api,
                abbreviate(&body.to_string(), 300)
            );
        }
    }
    Ok(())
}

/// Runs the list's steps through the executor of the arm's kind.
async fn execute(start: &Start<'_>, list: &StepList) -> Result<Execution> {
    match start.arm.kind {
        Kind::Cli => drive::<ShellExecutor>(start, &list.steps).await,
        Kind::Mcp => drive::<McpExecutor>(start, &list.steps).await,
    }
}

/// The answer read off the results (shown abbreviated), and why it is wrong, if it is.
pub(crate) fn judge_answer(
    task: &Task,
    list: &StepList,
    runs: &[StepRun],
) -> (Option<String>, Option<String>) {
    match read_answer(list, runs) {
        Ok(v) => {
            let shown = Some(abbreviate(&to_text(&v), ANSWER_SHOWN));
            let wrong = task
                .check
                .answer
                .as_ref()
                .and_then(|expect| expect.eval(&v).err())
                .map(|why| format!("answer: {why}"));
            (shown, wrong)
        }
        Err(why) if task.check.answer.is_some() => (None, Some(format!("answer: {why}"))),
        Err(_) => (None, None),
    }
}

/// Reads the answer from the results of the list's answer steps and merges them: lists are
/// concatenated, numbers added, text joined by lines.
fn read_answer(list: &StepList, runs: &[StepRun]) -> Result<Value, String> {
    let spliced;
    let reader = match &list.answer_refs {
        None => &list.answer,
        Some(written) => {
            let shown: Vec<&str> = runs.iter().map(|r| r.result.as_str()).collect();
            let text = crate::check::reference::splice(written, &shown)?;
            spliced = text.parse::<crate::check::Reader>()?;
            &spliced
        }
    };
    let mut merged: Option<Value> = None;
    for &i in &list.answer_steps {
        let result = runs
            .get(i - 1)
            .map(|r| r.result.as_str())
            .unwrap_or_default();
        let v = reader.read(result)?;
        merged = Some(match (merged, v) {
            (None, v) => v,
            (Some(Value::Array(mut a)), Value::Array(b)) => {
                a.extend(b);
                Value::Array(a)
            }
            (Some(Value::Number(a)), Value::Number(b)) => {
                crate::check::number(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0))
            }
            (Some(a), b) => Value::String(format!("{}\n{}", to_text(&a), to_text(&b))),
        });
    }
    merged.ok_or_else(|| "no answer step".to_owned())
}

/// Runs the task's end-state checks; the first failure, described.
pub(crate) async fn state_checks(
    task: &Task,
    ws: &Workspace,
    forge: &Forge,
) -> Result<Option<String>> {
    for (i, check) in task.check.state.iter().enumerate() {
        let n = i + 1;
        let (value, what) = if let Some(args) = &check.git {
            match git_output(ws, args).await? {
                Ok(out) => (Value::String(out), format!("git {args}")),
                Err(why) => return Ok(Some(format!("state check {n} (git {args}) failed: {why}"))),
            }
        } else if let Some(api) = &check.api {
            let (status, body) = forge.get(api, &forge::demo_token(CHECK_LOGIN)).await?;
            if status != 200 {
                return Ok(Some(format!(
                    "state check {n}: GET {api} answered {status}"
                )));
            }
            let path = check.path.clone().unwrap_or_default();
            let what = format!("GET {api} {path}");
            match path.eval(&body) {
                Ok(value) => (value, what),
                Err(why) => return Ok(Some(format!("state check {n} ({what}): {why}"))),
            }
        } else {
            continue;
        };
        if let Err(why) = check.expect.eval(&value) {
            return Ok(Some(format!("state check {n} ({what}): {why}")));
        }
    }
    Ok(None)
}

/// `git ARGS` run with bash in the clone: its stdout, or its stderr when it fails.
async fn git_output(ws: &Workspace, args: &str) -> Result<Result<String, String>> {
    let out = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(format!("git {args}"))
        .current_dir(&ws.clone)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PAGER", "cat")
        .output()
        .await
        .context("running a git state check")?;
    Ok(if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    })
}

/// What the figures of an attempt are computed with.
pub(crate) struct Measures<'a> {
    pub tokenizers: &'a Tokenizers,
    pub prices: &'a Prices,
}

impl Measures<'_> {
    /// The attempt's figures, from what ran and what was judged.
    pub(crate) fn attempt(
        &self,
        task: &Task,
        preamble: &str,
        execution: Execution,
        usage: Usage,
        answer: Option<String>,
    ) -> Attempt {
        let runs = &execution.runs;
        let transcript = Transcript {
            interface: execution.interface.clone(),
            preamble: preamble.to_owned(),
            teach: execution.teach.clone(),
            prompt: task.prompt.clone(),
            calls: runs.iter().map(|r| r.call.clone()).collect(),
            results: runs.iter().map(|r| r.result.clone()).collect(),
            // What the model writes last: the answer the check expects (identical on every
            // arm), or a one-word report for tasks judged by their end state alone.
            answer: task
                .check
                .answer
                .as_ref()
                .map(|e| e.canonical_answer())
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| "Done.".to_owned()),
            lookups: execution.lookups.clone(),
        };
        Attempt {
            passed: execution.failure.is_none(),
            tokens: tokens::account(self.tokenizers, self.prices, &transcript),
            round_trips: runs.len() as u32,
            worst_round_trips: (runs.len() + execution.lookups.len()) as u32,
            operations: runs.iter().map(|r| r.operations).sum(),
            processes_spawned: execution.processes,
            api_connections: usage.connections as u32,
            api_requests: usage.requests as u32,
            step_latency_ms: runs.iter().map(|r| r.latency_ms).collect(),
            cold_start_ms: execution.cold_start_ms,
            answer,
            steps: runs
                .iter()
                .map(|r| StepRecord {
                    call: r.shown.clone(),
                    result: r.result.clone(),
                    is_error: r.is_error,
                    latency_ms: r.latency_ms,
                })
                .collect(),
            failure: execution.failure,
        }
    }
}

/// An attempt that could not run at all.
pub(super) fn failed_attempt(why: String) -> Attempt {
    Attempt {
        passed: false,
        failure: Some(why),
        tokens: BTreeMap::new(),
        round_trips: 0,
        worst_round_trips: 0,
        operations: 0,
        processes_spawned: 0,
        api_connections: 0,
        api_requests: 0,
        step_latency_ms: Vec::new(),
        cold_start_ms: None,
        answer: None,
        steps: Vec::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::executor::script::ScriptExecutor;

    const TASK: &str = r#"
id = "t"
category = "github-read"
prompt = "Which labels?"

[mcp]
steps = [
  { tool = "list", args = { result = '[{"name":"bug"},{"name":"ui"}]' } },
  { tool = "list", args = { result = '[{"name":"docs"}]' } },
]
answer = "json:name"
answer_steps = [1, 2]

[check]
answer = { set = ["bug", "ui", "docs"] }
"#;

    /// An MCP attempt end to end without processes: the script executor's results, the answer
    /// merged over two steps and checked, and the figures.
    #[tokio::test]
    async fn an_attempt_is_executed_judged_and_measured_in_memory() {
        let task = crate::task::parse("t.toml", TASK).unwrap();
        let list = &task.lists["mcp"];
        let arm = crate::arm::parse(
            "[[arm]]\nname = \"m\"\nkind = \"mcp\"\nsteps = [\"mcp\"]\ncommand = [\"x\"]\n\
             interface = '[{\"name\":\"list\"}]'\n",
        )
        .unwrap()
        .remove(0);
        let vars = Vars::default();
        let start = Start {
            arm: &arm,
            vars: &vars,
            bearer: None,
            clone: Path::new("/tmp/a/widgets"),
            scratch: Path::new("/tmp/a"),
            forge_addr: "127.0.0.1:1",
            traced: false,
        };
        let execution = drive::<ScriptExecutor>(&start, &list.steps).await.unwrap();
        let (answer, failure) = judge_answer(&task, list, &execution.runs);
        assert_eq!(failure, None);
        assert_eq!(answer.as_deref(), Some("bug\nui\ndocs"));

        let tokenizers = Tokenizers::load(&["o200k_base"]).unwrap();
        let prices = Prices::from_toml("[models.m]\ninput = 1.0\noutput = 1.0\n").unwrap();
        let measures = Measures {
            tokenizers: &tokenizers,
            prices: &prices,
        };
        let usage = Usage {
            requests: 3,
            connections: 1,
        };
        let at = measures.attempt(&task, "", execution, usage, answer);
        assert!(at.passed);
        assert_eq!(
            (at.round_trips, at.operations, at.processes_spawned),
            (2, 2, 1)
        );
        assert_eq!((at.api_requests, at.api_connections), (3, 1));
        let t = &at.tokens["o200k_base"];
        assert!(t.teach > 0 && t.results > 0, "{t:?}");

        // A wrong answer is a failure that names the mismatch.
        let wrong = TASK.replace("\"docs\"]", "\"help\"]");
        let task = crate::task::parse("t.toml", &wrong).unwrap();
        let execution = drive::<ScriptExecutor>(&start, &list.steps).await.unwrap();
        let (_, failure) = judge_answer(&task, list, &execution.runs);
        assert!(failure.unwrap().starts_with("answer: expected the set"));
    }
}
