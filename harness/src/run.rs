//! `gitgate-bench run`: every task on every arm from the same seeded state, checked, measured
//! and summarised into a [`RunReport`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};

use crate::arm::{self, Arm, Kind, Vars};
use crate::check::{parse_path, select, to_text};
use crate::forge::{self, Forge};
use crate::mcp_arm;
use crate::model::{ArmInfo, Attempt, RunMeta, RunReport, StepRecord, TaskArmReport, TaskReport};
use crate::prices::Prices;
use crate::shell_arm::{self, StepRun};
use crate::task::{Step, StepList, Task};
use crate::tokens::{self, Tokenizers, Transcript};
use crate::workspace::{Template, Workspace};

/// Where the clone appears in what is counted. Results and calls are rewritten from the real,
/// per-attempt path to this one, so token counts do not depend on temp directory names.
pub const CANONICAL_CLONE: &str = "/home/agent/widgets";

/// The forge user whose view the end-state API checks take.
const CHECK_LOGIN: &str = "alice";

/// What to run.
pub struct Config {
    pub tasks: Vec<Task>,
    pub arms: Vec<Arm>,
    pub repeat: u32,
    pub seed: String,
    pub gitgate: PathBuf,
    pub forge: PathBuf,
    pub prices: Prices,
    /// Tokenizer names, primary first.
    pub tokenizers: Vec<String>,
    /// Count processes with strace (in an extra untimed attempt per task and arm) when it works.
    pub trace: bool,
    /// Scratch directory (default: a temporary one, removed afterwards).
    pub work_dir: Option<PathBuf>,
}

/// One progress event.
#[derive(Debug, Clone)]
pub struct Progress<'a> {
    pub done: usize,
    pub total: usize,
    pub task: &'a str,
    pub arm: &'a str,
    /// `None` while starting; `Some(passed)` after an attempt.
    pub passed: Option<bool>,
    pub note: &'a str,
}

struct ArmRun {
    arm: Arm,
    bearer: Option<String>,
    state: PathBuf,
    skipped: Option<String>,
}

struct Ctx<'a> {
    config: &'a Config,
    template: Template,
    tokenizers: Tokenizers,
    work: PathBuf,
    counter: AtomicUsize,
}

/// Runs every task on every available arm and returns the report (without scenarios).
pub async fn run(config: &Config, progress: &mut dyn FnMut(Progress<'_>)) -> Result<RunReport> {
    let started_at = now_rfc3339();
    let started = Instant::now();
    if config.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    let names: Vec<&str> = config.tokenizers.iter().map(String::as_str).collect();
    let tokenizers = Tokenizers::load(&names)?;
    let primary = config.tokenizers.first().cloned().context("no tokenizer")?;

    let temp;
    let work = match &config.work_dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            d.clone()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("gitgate-bench-")
                .tempdir()
                .context("creating the work directory")?;
            temp.path().to_owned()
        }
    };
    let template = Template::build(&config.forge, &config.seed, &work.join("template"))
        .await
        .context("seeding the template")?;

    // Arms: availability, then their one-time setup.
    let mut arms = Vec::new();
    for a in &config.arms {
        let state = work.join("arms").join(sanitize(&a.name));
        let vars = Vars {
            gitgate: config.gitgate.display().to_string(),
            state: state.display().to_string(),
            github_token: a
                .github_login
                .as_deref()
                .map(forge::demo_token)
                .unwrap_or_default(),
            ..Default::default()
        };
        let mut skipped = a.unavailable(&vars);
        let mut bearer = None;
        if skipped.is_none() {
            match arm::setup(a, &vars, &state) {
                Ok(b) => bearer = b,
                Err(e) => skipped = Some(format!("setup failed: {e:#}")),
            }
        }
        arms.push(ArmRun {
            arm: a.clone(),
            bearer,
            state,
            skipped,
        });
    }
    // A task's step list that no arm takes is almost always a typo.
    let known: BTreeSet<&str> = config
        .arms
        .iter()
        .flat_map(|a| a.steps.iter().map(String::as_str))
        .collect();
    for t in &config.tasks {
        if let Some(name) = t.lists.keys().find(|n| !known.contains(n.as_str())) {
            progress(Progress {
                done: 0,
                total: 0,
                task: &t.id,
                arm: "",
                passed: None,
                note: &format!("note: step list [{name}] is taken by none of the selected arms"),
            });
        }
    }

    let trace = config.trace && crate::trace::available();
    let runnable: Vec<&ArmRun> = arms.iter().filter(|a| a.skipped.is_none()).collect();
    let per_pair = config.repeat as usize + usize::from(trace);
    let total: usize = config
        .tasks
        .iter()
        .map(|t| {
            runnable
                .iter()
                .filter(|a| a.arm.pick(&t.lists).is_some())
                .count()
                * per_pair
        })
        .sum();
    let ctx = Ctx {
        config,
        template,
        tokenizers,
        work: work.clone(),
        counter: AtomicUsize::new(0),
    };
    let mut done = 0;
    // Processes are counted in untimed traced attempts, run first and two at a time (nothing
    // of theirs is timed, and the machine has two cores).
    let mut traced: BTreeMap<(String, String), u32> = BTreeMap::new();
    if trace {
        let all: Vec<(&Task, &ArmRun, &StepList)> = config
            .tasks
            .iter()
            .flat_map(|t| {
                runnable
                    .iter()
                    .filter_map(move |a| a.arm.pick(&t.lists).map(|(_, l)| (t, *a, l)))
            })
            .collect();
        for chunk in all.chunks(2) {
            let first = attempt(&ctx, chunk[0].0, chunk[0].1, chunk[0].2, true);
            let second = async {
                match chunk.get(1) {
                    Some((t, a, l)) => Some(attempt(&ctx, t, a, l, true).await),
                    None => None,
                }
            };
            let (r1, r2) = tokio::join!(first, second);
            for (result, (t, a, _)) in std::iter::once(r1).chain(r2).zip(chunk) {
                done += 1;
                let note = match result {
                    Ok(at) => {
                        traced.insert((t.id.clone(), a.arm.name.clone()), at.processes_spawned);
                        String::from("traced")
                    }
                    Err(e) => format!("traced attempt failed: {e:#}"),
                };
                progress(Progress {
                    done,
                    total,
                    task: &t.id,
                    arm: &a.arm.name,
                    passed: None,
                    note: &note,
                });
            }
        }
    }
    let mut reports = Vec::new();
    for task in &config.tasks {
        let mut attempts: BTreeMap<String, Vec<Attempt>> = BTreeMap::new();
        let pairs: Vec<(&ArmRun, &str, &StepList)> = runnable
            .iter()
            .filter_map(|a| a.arm.pick(&task.lists).map(|(n, l)| (*a, n, l)))
            .collect();
        for _ in 0..config.repeat {
            for (a, _, list) in &pairs {
                progress(Progress {
                    done,
                    total,
                    task: &task.id,
                    arm: &a.arm.name,
                    passed: None,
                    note: "",
                });
                let mut at = match attempt(&ctx, task, a, list, false).await {
                    Ok(at) => at,
                    Err(e) => failed_attempt(format!("could not run: {e:#}")),
                };
                if let Some(p) = traced.get(&(task.id.clone(), a.arm.name.clone())) {
                    at.processes_spawned = *p;
                }
                done += 1;
                let note = at.failure.clone().unwrap_or_default();
                progress(Progress {
                    done,
                    total,
                    task: &task.id,
                    arm: &a.arm.name,
                    passed: Some(at.passed),
                    note: &note,
                });
                attempts.entry(a.arm.name.clone()).or_default().push(at);
            }
        }
        let arms_report = pairs
            .iter()
            .map(|(a, list_name, _)| {
                let at = attempts.remove(&a.arm.name).unwrap_or_default();
                TaskArmReport {
                    arm: a.arm.name.clone(),
                    step_list: (*list_name).to_owned(),
                    passed: !at.is_empty() && at.iter().all(|x| x.passed),
                    summary: crate::summary::task_summary(&at, &primary),
                    attempts: at,
                }
            })
            .collect();
        reports.push(TaskReport {
            id: task.id.clone(),
            category: task.category.clone(),
            prompt: task.prompt.clone(),
            arms: arms_report,
        });
    }

    let ran: Vec<String> = runnable.iter().map(|a| a.arm.name.clone()).collect();
    let summary = crate::summary::arm_summaries(&ran, &reports, &primary);
    let arm_infos = arms
        .iter()
        .map(|a| ArmInfo {
            name: a.arm.name.clone(),
            kind: match a.arm.kind {
                Kind::Cli => "cli".into(),
                Kind::Mcp => "mcp".into(),
            },
            description: a.arm.description.clone(),
            skipped: a.skipped.clone(),
        })
        .collect();
    let meta = RunMeta {
        started_at,
        duration_s: started.elapsed().as_secs_f64(),
        repeat: config.repeat,
        seed: config.seed.clone(),
        tokenizers: config.tokenizers.clone(),
        versions: crate::meta::versions(config, &arms.iter().map(|a| &a.arm).collect::<Vec<_>>()),
        machine: crate::meta::machine(),
        prices_per_mtok: config.prices.input_per_mtok(),
        output_prices_per_mtok: config.prices.output_per_mtok(),
        process_count_method: if trace { "strace" } else { "static" }.into(),
    };
    drop(ctx);
    Ok(RunReport {
        version: 1,
        meta,
        arms: arm_infos,
        tasks: reports,
        scenarios: Vec::new(),
        summary,
    })
}

fn failed_attempt(why: String) -> Attempt {
    Attempt {
        passed: false,
        failure: Some(why),
        tokens: BTreeMap::new(),
        round_trips: 0,
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

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// One attempt of `task` on `arm` from a fresh copy of the template.
async fn attempt(
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
    let before = forge.usage().await?;
    let login = arm.arm.github_login.clone().unwrap_or_default();
    let vars = Vars {
        gitgate: config.gitgate.display().to_string(),
        clone: ws.clone.display().to_string(),
        forge_url: forge.url(),
        github_token: forge::demo_token(&login),
        state: arm.state.display().to_string(),
    };
    let trace_file = |i: usize| ws.root.join(format!("trace-{i}.txt"));
    let mut runs: Vec<StepRun> = Vec::new();
    let mut failure = None;
    let interface;
    let mut teach = Vec::new();
    let mut cold_start_ms = None;
    let processes: u32;
    match arm.arm.kind {
        Kind::Cli => {
            let text = arm.arm.interface.as_deref().unwrap_or("{}");
            let value: Value = serde_json::from_str(text).context("the arm's interface JSON")?;
            interface = Value::Array(vec![value]).to_string();
            let home = ws.root.join("home");
            std::fs::create_dir_all(&home).context("creating the shell home")?;
            let env = shell_arm::environment(
                &home,
                &forge.addr,
                if login.is_empty() { "ci-bot" } else { &login },
            );
            for (i, step) in list.steps.iter().enumerate() {
                let Step::Shell(line) = step else {
                    bail!("a cli arm got a tool step");
                };
                let file = traced.then(|| trace_file(i));
                let run = shell_arm::run_step(line, &ws.clone, &env, file.as_deref()).await?;
                let error = run.is_error;
                runs.push(run);
                if error {
                    failure = Some(format!("step {} failed", i + 1));
                    break;
                }
            }
            processes = runs
                .iter()
                .map(|r| r.processes.unwrap_or(r.operations + 1))
                .sum();
        }
        Kind::Mcp => {
            let file = traced.then(|| trace_file(0));
            let session = mcp_arm::start(
                &arm.arm,
                &vars,
                arm.bearer.as_deref(),
                file.as_deref(),
                &ws.root.join("server.log"),
            )
            .await?;
            cold_start_ms = Some(session.cold_start_ms);
            interface = Value::Array(session.tools.clone()).to_string();
            let mut taught = BTreeSet::new();
            for (i, step) in list.steps.iter().enumerate() {
                let Step::Tool { tool, args, ops } = step else {
                    bail!("an mcp arm got a shell step");
                };
                let sent = expand_args(args, &vars);
                let shown = expand_args(
                    args,
                    &Vars {
                        clone: CANONICAL_CLONE.into(),
                        ..vars.clone()
                    },
                );
                let (tool, sent, shown) = match &arm.arm.via {
                    Some(via) if via != tool => {
                        (via.clone(), through(tool, sent), through(tool, shown))
                    }
                    _ => (tool.clone(), sent, shown),
                };
                if taught.insert(tool.clone())
                    && let Some(def) = session.tools.iter().find(|t| t["name"] == tool.as_str())
                {
                    teach.push(def.to_string());
                }
                let run = session.call(&tool, sent, &shown, ops.unwrap_or(1)).await?;
                let error = run.is_error;
                runs.push(run);
                if error {
                    failure = Some(format!("step {} failed", i + 1));
                    break;
                }
            }
            let counted = session.close().await;
            processes = counted.unwrap_or(1);
        }
    }
    let after = forge.usage().await?;

    // Results as counted: the real clone path replaced by the canonical one.
    let real = ws.clone.display().to_string();
    for r in &mut runs {
        r.result = r.result.replace(&real, CANONICAL_CLONE);
    }

    // The answer, read off the final result (or the results the list names).
    let mut answer = None;
    if failure.is_none() {
        match read_answer(list, &runs) {
            Ok(v) => {
                answer = Some(abbreviate(&to_text(&v), 500));
                if let Some(expect) = &task.check.answer
                    && let Err(why) = expect.eval(&v)
                {
                    failure = Some(format!("answer: {why}"));
                }
            }
            Err(why) if task.check.answer.is_some() => failure = Some(format!("answer: {why}")),
            Err(_) => {}
        }
    }
    if failure.is_none() {
        failure = state_checks(task, ws, &forge).await?;
    }
    drop(forge);

    let transcript = Transcript {
        interface,
        preamble: arm.arm.preamble.clone(),
        teach,
        prompt: task.prompt.clone(),
        calls: runs.iter().map(|r| r.call.clone()).collect(),
        results: runs.iter().map(|r| r.result.clone()).collect(),
        // What the model writes last: the answer the check expects (identical on every arm),
        // or a one-word report for tasks judged by their end state alone.
        answer: task
            .check
            .answer
            .as_ref()
            .map(|e| e.canonical_answer())
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "Done.".to_owned()),
    };
    let tokens = tokens::account(&ctx.tokenizers, &config.prices, &transcript);
    Ok(Attempt {
        passed: failure.is_none(),
        failure,
        tokens,
        round_trips: runs.len() as u32,
        operations: runs.iter().map(|r| r.operations).sum(),
        processes_spawned: processes,
        api_connections: (after.connections.saturating_sub(before.connections)) as u32,
        api_requests: (after.requests.saturating_sub(before.requests)) as u32,
        step_latency_ms: runs.iter().map(|r| r.latency_ms).collect(),
        cold_start_ms,
        answer,
        steps: runs
            .iter()
            .map(|r| StepRecord {
                call: r.shown.replace(&real, CANONICAL_CLONE),
                result: r.result.clone(),
                is_error: r.is_error,
                latency_ms: r.latency_ms,
            })
            .collect(),
    })
}

fn abbreviate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// Reads the answer from the results of the list's answer steps and merges them: lists are
/// concatenated, numbers added, text joined by lines.
fn read_answer(list: &StepList, runs: &[StepRun]) -> Result<Value, String> {
    let mut merged: Option<Value> = None;
    for &i in &list.answer_steps {
        let result = runs
            .get(i - 1)
            .map(|r| r.result.as_str())
            .unwrap_or_default();
        let v = list.answer.read(result)?;
        merged = Some(match (merged, v) {
            (None, v) => v,
            (Some(Value::Array(mut a)), Value::Array(b)) => {
                a.extend(b);
                Value::Array(a)
            }
            (Some(Value::Number(a)), Value::Number(b)) => {
                Value::from(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0))
            }
            (Some(a), b) => Value::String(format!("{}\n{}", to_text(&a), to_text(&b))),
        });
    }
    merged.ok_or_else(|| "no answer step".to_owned())
}

/// Placeholders expanded in every string of a tool call's arguments.
fn expand_args(args: &Map<String, Value>, vars: &Vars) -> Map<String, Value> {
    fn walk(v: &Value, vars: &Vars) -> Value {
        match v {
            Value::String(s) => Value::String(vars.expand(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| walk(x, vars)).collect()),
            Value::Object(o) => {
                Value::Object(o.iter().map(|(k, x)| (k.clone(), walk(x, vars))).collect())
            }
            other => other.clone(),
        }
    }
    args.iter()
        .map(|(k, v)| (k.clone(), walk(v, vars)))
        .collect()
}

/// Runs the task's end-state checks; the first failure, described.
async fn state_checks(task: &Task, ws: &Workspace, forge: &Forge) -> Result<Option<String>> {
    for (i, check) in task.check.state.iter().enumerate() {
        let n = i + 1;
        let (value, what) = if let Some(args) = &check.git {
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
            if !out.status.success() {
                return Ok(Some(format!(
                    "state check {n} (git {args}) failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            (
                Value::String(String::from_utf8_lossy(&out.stdout).into_owned()),
                format!("git {args}"),
            )
        } else if let Some(path) = &check.api {
            let (status, body) = forge.get(path, &forge::demo_token(CHECK_LOGIN)).await?;
            if status != 200 {
                return Ok(Some(format!(
                    "state check {n}: GET {path} answered {status}"
                )));
            }
            let segments =
                parse_path(check.path.as_deref().unwrap_or(".")).map_err(anyhow::Error::msg)?;
            (
                select(&body, &segments),
                format!("GET {path} {}", check.path.as_deref().unwrap_or(".")),
            )
        } else {
            continue;
        };
        if let Err(why) = check.expect.eval(&value) {
            return Ok(Some(format!("state check {n} ({what}): {why}")));
        }
    }
    Ok(None)
}

/// The current time as RFC 3339 UTC, from the system clock (no date crate needed).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Loads the arms file and keeps the named arms (all when `names` is empty), in the order given.
pub fn select_arms(all: Vec<Arm>, names: &[String]) -> Result<Vec<Arm>> {
    if names.is_empty() {
        return Ok(all);
    }
    names
        .iter()
        .map(|n| {
            all.iter().find(|a| a.name == *n).cloned().with_context(|| {
                format!(
                    "no arm {n:?}; arms: {}",
                    all.iter()
                        .map(|a| a.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
        })
        .collect()
}

/// A call of `tool` sent through a meta tool in its short form, `{"tool": TOOL, FLAGS...}`; the
/// long form `{"tool": TOOL, "args": ARGS}` when a flag's name is one of the meta tool's own keys.
fn through(tool: &str, args: Map<String, Value>) -> Map<String, Value> {
    const OWN: [&str; 5] = ["tool", "args", "jq", "each", "steps"];
    let mut wrapped = Map::new();
    wrapped.insert("tool".into(), Value::String(tool.to_owned()));
    if args.keys().any(|k| OWN.contains(&k.as_str())) {
        wrapped.insert("args".into(), Value::Object(args));
    } else {
        wrapped.extend(args);
    }
    wrapped
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn calls_through_a_meta_tool_wrap_name_and_arguments() {
        let mut args = Map::new();
        args.insert("max_count".into(), serde_json::json!(1));
        assert_eq!(
            Value::Object(through("git_log", args)),
            serde_json::json!({"tool": "git_log", "max_count": 1})
        );
        let mut clash = Map::new();
        clash.insert("jq".into(), serde_json::json!("x"));
        assert_eq!(
            Value::Object(through("some_tool", clash)),
            serde_json::json!({"tool": "some_tool", "args": {"jq": "x"}})
        );
        assert_eq!(
            Value::Object(through("gh_pr_list", Map::new())),
            serde_json::json!({"tool": "gh_pr_list"})
        );
    }

    #[test]
    fn rfc3339_shape() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'), "{t}");
    }

    #[test]
    fn expands_placeholders_in_arguments() {
        let vars = Vars {
            clone: "/tmp/x/widgets".into(),
            ..Default::default()
        };
        let args: Map<String, Value> =
            serde_json::from_str(r#"{"repo_path":"{clone}","n":1,"paths":["{clone}/a"]}"#).unwrap();
        assert_eq!(
            Value::Object(expand_args(&args, &vars)),
            serde_json::json!({"repo_path": "/tmp/x/widgets", "n": 1, "paths": ["/tmp/x/widgets/a"]})
        );
    }
}
