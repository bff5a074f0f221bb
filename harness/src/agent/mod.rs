//! `gitgate-bench agent`: the task suite with a real model choosing the calls. Each attempt
//! gives the model the arm's interface ([`interface`]), talks to it through one of two wire
//! formats ([`wire`], over [`client`]) until it answers or a budget ends, records everything in
//! a transcript ([`transcript`]), and judges the answer and end state with the same checks as
//! `gitgate-bench run`. A replay runs the same attempts with the recorded responses in place of
//! the provider, and reproduces the report byte for byte.

pub mod cli;
pub mod client;
pub mod interface;
pub mod transcript;
pub mod wire;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use self::client::Client;
use self::interface::{ErrorKind, Interface};
use self::transcript::{Entry, Recorded, Writer};
use self::wire::{Ask, Message, Provider, ToolResult, Usage};
use crate::agent_model::{
    self as model, AgentAttempt, AgentReport, AgentSettings, AgentTask, AgentTaskArm, ToolErrors,
};
use crate::arm::Vars;
use crate::check::{abbreviate, to_text};
use crate::config::Config;
use crate::executor::Start;
use crate::forge::{self, Forge};
use crate::prices::Prices;
use crate::report::agent as render;
use crate::run::{ArmRun, sanitize};
use crate::task::Task;
use crate::workspace::Workspace;

/// The system prompt, the same on every arm: where the work is, and the form of the answer the
/// checks read (a bare answer, one item per line).
pub const SYSTEM_PROMPT: &str = "You are a software engineering agent. You work on the repository \
acme/widgets: its working clone is /home/agent/widgets (the current directory of any command), \
and it is hosted on GitHub as acme/widgets. Use the tools you are given to do the task. When the \
task is done, reply without calling a tool, with the final answer alone and nothing else: a \
number, a name or a short text as asked, or a list with one item per line. For a task that \
changes something, reply Done.";

/// Output tokens asked for per request (below every current model's limit).
pub const MAX_OUTPUT: u64 = 4096;

/// Longest answer kept in the report.
const ANSWER_SHOWN: usize = 500;

/// The message a live attempt records when the time budget ended inside a request.
const TIMED_OUT: &str = "the time budget ended while waiting for the provider";

/// How the model is reached and what bounds each attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub provider: Provider,
    pub model: String,
    pub base_url: String,
    pub stream: bool,
    pub max_turns: u32,
    pub max_tokens: u64,
    pub timeout_s: f64,
}

/// An agent run: the tasks and arms (in [`Config`]), the model, the output directory, and for a
/// replay the directory whose transcripts stand in for the provider.
pub struct AgentConfig {
    pub run: Config,
    pub settings: Settings,
    pub out: PathBuf,
    pub replay: Option<PathBuf>,
    /// The provider's API key (from its environment variable); sent in a header, never
    /// written anywhere.
    pub api_key: Option<String>,
}

/// What a run records beside its transcripts, so a replay knows what ran.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub settings: Settings,
    pub started_at: String,
    pub seed: String,
    pub repeat: u32,
    pub tasks: Vec<String>,
    pub arms: Vec<String>,
}

/// The run's record, next to the transcripts.
pub const RUN_FILE: &str = "transcripts/run.json";

/// Reads the run record of a recorded run.
pub fn read_run_info(dir: &Path) -> Result<RunInfo> {
    let path = dir.join(RUN_FILE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Where a model is asked: a provider, or the responses a transcript recorded.
enum Source<'a> {
    Live(&'a Client),
    Replay(Recorded),
}

/// How one conversation went.
#[derive(Debug, Default)]
struct Conversation {
    answer: Option<String>,
    stop: String,
    failure: Option<String>,
    turns: u32,
    tool_calls: u32,
    errors: ToolErrors,
    usage: Usage,
    wall_s: f64,
    /// Replay: tool results that differ from the recorded ones.
    diverged: u32,
}

/// Runs (or replays) every task on every arm `repeat` times and writes the transcripts; the
/// report is returned (see [`write_reports`]).
pub async fn run(config: &AgentConfig, progress: &mut dyn FnMut(&str)) -> Result<AgentReport> {
    let rc = &config.run;
    if rc.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    let (client, started_at) = open(config)?;
    let prepared = crate::run::prepare(rc).await?;
    let arms = crate::run::setup_arms(rc, &prepared.work);
    for a in arms.iter().filter(|a| a.skipped.is_some()) {
        progress(&format!(
            "arm {} skipped: {}",
            a.arm.name,
            a.skipped.as_deref().unwrap_or_default()
        ));
    }
    let runnable: Vec<&ArmRun> = arms.iter().filter(|a| a.skipped.is_none()).collect();
    let (price_model, price) = price_for(&rc.prices, &config.settings.model);
    let secrets: Vec<String> = config
        .api_key
        .iter()
        .filter(|k| !k.is_empty())
        .cloned()
        .collect();
    let mut runner = Runner {
        config,
        client: client.as_ref(),
        prepared: &prepared,
        secrets: &secrets,
        price,
        counter: 0,
    };
    let mut tasks = Vec::new();
    for task in &rc.tasks {
        tasks.push(runner.task(task, &runnable, progress).await?);
    }
    let order: Vec<String> = runnable.iter().map(|a| a.arm.name.clone()).collect();
    let s = &config.settings;
    Ok(AgentReport {
        version: 1,
        provider: s.provider.name().into(),
        model: s.model.clone(),
        started_at,
        settings: AgentSettings {
            max_turns: s.max_turns,
            max_tokens: s.max_tokens,
            timeout_s: s.timeout_s,
            repeat: rc.repeat,
            stream: s.stream,
            seed: rc.seed.clone(),
            price_model,
        },
        arms: model::summarize(&order, &tasks),
        tasks,
    })
}

/// The provider client (none for a replay) and the run's start time (the recorded one for a
/// replay); writes the run record.
fn open(config: &AgentConfig) -> Result<(Option<Client>, String)> {
    let rc = &config.run;
    let (client, started_at) = match &config.replay {
        Some(dir) => (None, read_run_info(dir)?.started_at),
        None => {
            let timeout = Duration::from_secs_f64(config.settings.timeout_s.max(1.0));
            let client = Client::new(
                config.settings.provider,
                &config.settings.base_url,
                config.api_key.clone(),
                timeout,
            )?;
            (Some(client), crate::run::now_rfc3339())
        }
    };
    let info = RunInfo {
        settings: config.settings.clone(),
        started_at: started_at.clone(),
        seed: rc.seed.clone(),
        repeat: rc.repeat,
        tasks: rc.tasks.iter().map(|t| t.id.clone()).collect(),
        arms: rc.arms.iter().map(|a| a.name.clone()).collect(),
    };
    let run_file = config.out.join(RUN_FILE);
    if let Some(dir) = run_file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&run_file, serde_json::to_string_pretty(&info)? + "\n")
        .with_context(|| format!("writing {}", run_file.display()))?;
    Ok((client, started_at))
}

/// What every attempt of a run shares.
struct Runner<'a> {
    config: &'a AgentConfig,
    client: Option<&'a Client>,
    prepared: &'a crate::run::Prepared,
    secrets: &'a [String],
    price: Option<crate::prices::Price>,
    counter: usize,
}

impl Runner<'_> {
    /// The task's attempts on every arm, `repeat` rounds over the arms.
    async fn task(
        &mut self,
        task: &Task,
        runnable: &[&ArmRun],
        progress: &mut dyn FnMut(&str),
    ) -> Result<AgentTask> {
        let repeat = self.config.run.repeat;
        let mut by_arm: BTreeMap<String, Vec<AgentAttempt>> = BTreeMap::new();
        for k in 1..=repeat {
            for arm in runnable {
                let at = self.attempt(task, arm, k).await?;
                let mut verdict = match &at.failure {
                    None => "ok".to_owned(),
                    Some(f) => format!("FAILED: {f}"),
                };
                if at.replay_divergences > 0 {
                    verdict.push_str(&format!(
                        " (replay: {} tool result(s) differ from the recording)",
                        at.replay_divergences
                    ));
                }
                progress(&format!(
                    "{} on {} ({k}/{repeat}): {verdict}",
                    task.id, arm.arm.name
                ));
                by_arm.entry(arm.arm.name.clone()).or_default().push(at);
            }
        }
        let arms = runnable
            .iter()
            .filter_map(|a| {
                let attempts = by_arm.remove(&a.arm.name)?;
                Some(AgentTaskArm {
                    arm: a.arm.name.clone(),
                    pass_k: !attempts.is_empty() && attempts.iter().all(|x| x.passed),
                    attempts,
                })
            })
            .collect();
        Ok(AgentTask {
            id: task.id.clone(),
            arms,
        })
    }

    /// One attempt; one that could not run is a failed attempt saying why.
    async fn attempt(&mut self, task: &Task, arm: &ArmRun, k: u32) -> Result<AgentAttempt> {
        self.counter += 1;
        let rel = format!(
            "transcripts/{}/{}/{k}.jsonl",
            sanitize(&task.id),
            sanitize(&arm.arm.name)
        );
        let mut source = match (&self.config.replay, self.client) {
            (Some(dir), _) => {
                let entries = transcript::read(&dir.join(&rel))?;
                Source::Replay(Recorded::from_entries(&entries))
            }
            (None, Some(c)) => Source::Live(c),
            (None, None) => bail!("neither a provider nor a transcript"),
        };
        let one = One {
            config: self.config,
            task,
            arm,
            k,
            root: self
                .prepared
                .work
                .join("attempts")
                .join(format!("{:04}", self.counter)),
            template: &self.prepared.template,
            transcript: self.config.out.join(&rel),
            secrets: self.secrets,
        };
        let mut at = one
            .attempt(&mut source)
            .await
            .unwrap_or_else(|e| AgentAttempt {
                passed: false,
                failure: Some(format!("could not run: {e:#}")),
                stop: "interface_error".into(),
                answer: None,
                turns: 0,
                tool_calls: 0,
                tool_errors: ToolErrors::default(),
                usage: Usage::default(),
                cost_usd: None,
                wall_s: 0.0,
                transcript: String::new(),
                replay_divergences: 0,
            });
        at.transcript = rel;
        at.cost_usd = self.price.map(|p| cost(p, &at.usage));
        Ok(at)
    }
}

/// Writes `agent.json`, `agent.md` and `agent.html` into `out`.
pub fn write_reports(report: &AgentReport, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let json = serde_json::to_string_pretty(report).context("serialising the agent report")?;
    for (name, content) in [
        ("agent.json", json + "\n"),
        ("agent.md", render::markdown(report)),
        ("agent.html", render::html(report)),
    ] {
        let path = out.join(name);
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The price-table model for `model`: its own entry, else the longest entry it starts with
/// (`claude-sonnet-4-5-20250929` is priced as `claude-sonnet-4-5`).
fn price_for(prices: &Prices, model: &str) -> (Option<String>, Option<crate::prices::Price>) {
    let found = prices
        .models
        .iter()
        .filter(|(name, _)| model == name.as_str() || model.starts_with(&format!("{name}-")))
        .max_by_key(|(name, _)| name.len());
    match found {
        Some((name, p)) => (Some(name.clone()), Some(*p)),
        None => (None, None),
    }
}

/// USD for `usage`; cache tokens at the input price, the table having no cache prices.
fn cost(p: crate::prices::Price, usage: &Usage) -> f64 {
    let input = usage
        .input
        .saturating_add(usage.cache_read)
        .saturating_add(usage.cache_write);
    (input as f64 * p.input + usage.output as f64 * p.output) / 1e6
}

/// One attempt of a task on an arm.
struct One<'a> {
    config: &'a AgentConfig,
    task: &'a Task,
    arm: &'a ArmRun,
    k: u32,
    root: PathBuf,
    template: &'a crate::workspace::Template,
    transcript: PathBuf,
    secrets: &'a [String],
}

impl One<'_> {
    /// The attempt, its transcript opened first so that an attempt that could not start still
    /// leaves one (and a replay finds it and tries the same again).
    async fn attempt(&self, source: &mut Source<'_>) -> Result<AgentAttempt> {
        let mut writer = Writer::create(&self.transcript, self.secrets)?;
        let result = match Workspace::create(self.template, &self.root, &self.task.fixture) {
            Ok(ws) => {
                let result = self.attempt_in(&ws, source, &mut writer).await;
                if self.config.run.work_dir.is_none() {
                    ws.remove();
                }
                result
            }
            Err(e) => Err(e),
        };
        if result.is_err() {
            // Best effort: the error itself is what the report shows.
            let _ = writer.write(&Entry::End {
                stop: "interface_error".into(),
                wall_s: 0.0,
            });
        }
        result
    }

    async fn attempt_in(
        &self,
        ws: &Workspace,
        source: &mut Source<'_>,
        writer: &mut Writer,
    ) -> Result<AgentAttempt> {
        let rc = &self.config.run;
        let arm = &self.arm.arm;
        let forge = Forge::start(
            &rc.forge,
            &ws.forge_data,
            &rc.seed,
            &ws.root.join("forge.log"),
        )
        .await?;
        let vars = Vars {
            gitgate: rc.gitgate.display().to_string(),
            clone: ws.clone.display().to_string(),
            forge_url: forge.url(),
            github_token: forge::demo_token(arm.github_login.as_deref().unwrap_or_default()),
            state: self.arm.state.display().to_string(),
        };
        if let Some(origin) = &arm.origin {
            crate::workspace::set_origin(&ws.clone, &vars.expand(origin))?;
        }
        let start = Start {
            arm,
            vars: &vars,
            bearer: self.arm.bearer.as_deref(),
            clone: &ws.clone,
            scratch: &ws.root,
            forge_addr: &forge.addr,
            traced: false,
        };
        let mut iface = Interface::start(&start).await?;
        let s = &self.config.settings;
        writer.write(&Entry::Start {
            task: self.task.id.clone(),
            arm: arm.name.clone(),
            attempt: self.k,
            provider: s.provider.name().into(),
            model: s.model.clone(),
            stream: s.stream,
            system: SYSTEM_PROMPT.into(),
            prompt: self.task.prompt.clone(),
            tools: iface.tools().into_iter().map(|t| t.name).collect(),
        })?;
        let clone = ws.clone.display().to_string();
        let conv = converse(s, source, &mut iface, &clone, &self.task.prompt, writer).await;
        iface.close().await;
        let conv = conv?;
        let failure = self.judge(&conv, ws, &forge).await?;
        drop(forge);
        Ok(AgentAttempt {
            passed: failure.is_none(),
            failure,
            stop: conv.stop,
            answer: conv
                .answer
                .as_deref()
                .map(|a| abbreviate(&to_text(&Value::String(a.trim().to_owned())), ANSWER_SHOWN)),
            turns: conv.turns,
            tool_calls: conv.tool_calls,
            tool_errors: conv.errors,
            usage: conv.usage,
            cost_usd: None,
            wall_s: conv.wall_s,
            transcript: String::new(),
            replay_divergences: conv.diverged,
        })
    }

    /// Why the attempt failed, if it did: no answer, a wrong one, or an end-state check.
    async fn judge(
        &self,
        conv: &Conversation,
        ws: &Workspace,
        forge: &Forge,
    ) -> Result<Option<String>> {
        if let Some(f) = &conv.failure {
            return Ok(Some(f.clone()));
        }
        if conv.stop != "answered" {
            return Ok(Some(format!(
                "no answer: the conversation ended by {}",
                conv.stop
            )));
        }
        let answer = conv.answer.as_deref().unwrap_or_default().trim();
        if let Some(expect) = &self.task.check.answer
            && let Err(why) = expect.eval(&Value::String(answer.to_owned()))
        {
            return Ok(Some(format!("answer: {why}")));
        }
        crate::run::attempt::state_checks(self.task, ws, forge).await
    }
}

/// The conversation: requests until the model answers without a tool call or a budget ends.
async fn converse(
    s: &Settings,
    source: &mut Source<'_>,
    iface: &mut Interface,
    clone: &str,
    prompt: &str,
    w: &mut Writer,
) -> Result<Conversation> {
    let started = Instant::now();
    let timeout = Duration::from_secs_f64(s.timeout_s.max(0.0));
    let tools = iface.tools();
    let mut messages = vec![Message::User(prompt.to_owned())];
    let mut c = Conversation::default();
    loop {
        let remaining = timeout.checked_sub(started.elapsed());
        if let Some(stop) = budget_stop(s, &c, source, remaining) {
            c.stop = stop;
            break;
        }
        c.turns += 1;
        let turn = c.turns;
        let ask = Ask {
            model: &s.model,
            system: SYSTEM_PROMPT,
            tools: &tools,
            max_output: MAX_OUTPUT.min(s.max_tokens.saturating_sub(c.usage.total())),
            stream: s.stream,
            legacy_max_tokens: s.base_url.trim_end_matches('/') != s.provider.default_base_url(),
        };
        let body = wire::request(s.provider, &ask, &messages);
        w.write(&Entry::Request {
            turn,
            body: body.clone(),
        })?;
        let answer = ask_model(source, &body, turn, remaining.unwrap_or_default(), w).await?;
        let parsed = answer
            .and_then(|body| wire::parse(s.provider, s.stream, &body).map_err(|e| e.to_string()));
        let reply = match parsed {
            Ok(r) => r,
            Err(m) => {
                let stop = if m == TIMED_OUT {
                    "timeout"
                } else {
                    "provider_error"
                };
                stop.clone_into(&mut c.stop);
                c.failure = Some(format!("provider: {m}"));
                break;
            }
        };
        c.usage.add(reply.usage);
        if reply.calls.is_empty() {
            c.answer = Some(reply.text);
            "answered".clone_into(&mut c.stop);
            break;
        }
        let calls = with_ids(reply.calls, turn);
        let deadline = started + timeout;
        let results = run_calls(iface, &calls, (clone, deadline), turn, &mut c, w).await?;
        compare_with_recording(source, &results, &mut c);
        messages.push(Message::Assistant {
            text: reply.text,
            calls,
        });
        messages.push(Message::Results(results));
    }
    c.wall_s = match source {
        // Whole microseconds: a decimal with few digits reads back from the transcript's JSON
        // as exactly the same f64, so a replay's report is byte for byte the recorded one
        // (a full-precision f64 may come back one unit off in its last place).
        Source::Live(_) => started.elapsed().as_micros() as f64 / 1e6,
        // The recorded wall time, so the replayed report is the recorded one.
        Source::Replay(rec) => rec.wall_s,
    };
    w.write(&Entry::End {
        stop: c.stop.clone(),
        wall_s: c.wall_s,
    })?;
    Ok(c)
}

/// The calls with an id each: some local servers send none, and results must be matched.
fn with_ids(mut calls: Vec<wire::ToolCall>, turn: u32) -> Vec<wire::ToolCall> {
    for (i, call) in calls.iter_mut().enumerate() {
        if call.id.is_empty() {
            call.id = format!("call_{turn}_{i}");
        }
    }
    calls
}

/// Replay: counts the tool results that differ from the recorded ones (a tool that no longer
/// answers the same makes the replay a different run, whatever the report says).
fn compare_with_recording(source: &mut Source<'_>, results: &[ToolResult], c: &mut Conversation) {
    if let Source::Replay(rec) = source {
        for r in results {
            if rec.results.pop_front().as_deref() != Some(r.content.as_str()) {
                c.diverged += 1;
            }
        }
    }
}

/// The budget that ends the conversation before another turn, if one does.
fn budget_stop(
    s: &Settings,
    c: &Conversation,
    source: &Source<'_>,
    remaining: Option<Duration>,
) -> Option<String> {
    if c.turns >= s.max_turns {
        return Some("max_turns".into());
    }
    if c.usage.total() >= s.max_tokens {
        return Some("max_tokens".into());
    }
    match source {
        Source::Live(_) if remaining.is_none() => Some("timeout".into()),
        // The recorded run ended here (by its time budget, which a replay cannot measure).
        Source::Replay(rec) if rec.answers.is_empty() => Some(rec.stop.clone()),
        _ => None,
    }
}

/// The model's answer to `body`: the response body, or why there is none. Live, the retries,
/// the response and any failure are recorded.
async fn ask_model(
    source: &mut Source<'_>,
    body: &Value,
    turn: u32,
    limit: Duration,
    w: &mut Writer,
) -> Result<Result<String, String>> {
    let client = match source {
        Source::Live(client) => *client,
        Source::Replay(rec) => {
            return Ok(rec
                .answers
                .pop_front()
                .unwrap_or_else(|| Err("the transcript ends here".into())));
        }
    };
    let answer = match tokio::time::timeout(limit, client.send(body)).await {
        Ok(Ok(received)) => {
            for r in &received.retries {
                w.write(&Entry::Retry {
                    turn,
                    status: r.status,
                    wait_s: r.wait.as_secs_f64(),
                })?;
            }
            w.write(&Entry::Response {
                turn,
                status: received.status,
                body: received.body.clone(),
            })?;
            return Ok(Ok(received.body));
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => TIMED_OUT.to_owned(),
    };
    w.write(&Entry::ProviderError {
        turn,
        message: answer.clone(),
    })?;
    Ok(Err(answer))
}

/// Runs the calls of one turn, counting and recording each; the results for the model.
async fn run_calls(
    iface: &mut Interface,
    calls: &[wire::ToolCall],
    (clone, deadline): (&str, Instant),
    turn: u32,
    c: &mut Conversation,
    w: &mut Writer,
) -> Result<Vec<ToolResult>> {
    let mut results = Vec::new();
    for call in calls {
        c.tool_calls += 1;
        // A command the model started may not end (`sleep`, a server): the attempt's time
        // budget bounds every call, and what did not finish is a failed call.
        let left = deadline.saturating_duration_since(Instant::now());
        let out = match tokio::time::timeout(left, iface.call(call, clone)).await {
            Ok(out) => out,
            Err(_) => interface::Outcome {
                content: "error: the call did not finish within the attempt's time budget".into(),
                error: Some(ErrorKind::Failed),
                help: false,
            },
        };
        match out.error {
            Some(ErrorKind::UnknownTool) => c.errors.unknown_tool += 1,
            Some(ErrorKind::BadArguments) => c.errors.bad_arguments += 1,
            Some(ErrorKind::Failed) => c.errors.failed += 1,
            None => {}
        }
        c.errors.help += u32::from(out.help);
        w.write(&Entry::Tool {
            turn,
            id: call.id.clone(),
            name: call.name.clone(),
            arguments: call.arguments.clone(),
            result: out.content.clone(),
            error: out.error,
            help: out.help,
        })?;
        results.push(ToolResult {
            id: call.id.clone(),
            content: out.content,
            is_error: out.error.is_some(),
        });
    }
    Ok(results)
}
