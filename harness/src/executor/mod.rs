//! Executors: how an arm's steps run in one attempt. An [`Executor`] is started for the attempt,
//! runs one step per round trip and is closed; [`drive`] runs a step list through any of them in
//! the same way (stop at the first failing step, teach each tool once, results as counted).
//!
//! [`shell`] runs each line as a fresh `bash -c` (the `cli` arms), [`mcp`] makes tool calls
//! through an MCP client (every `mcp` arm), and [`script`] answers from the steps themselves, in
//! memory, so what surrounds the executors is tested without processes.

pub mod mcp;
pub mod script;
pub mod shell;

use std::collections::BTreeSet;
use std::future::Future;
use std::path::Path;

use anyhow::Result;

use crate::arm::{Arm, Vars};
use crate::task::Step;
use crate::tokens::Call;

/// Where the clone appears in what is counted. Results and calls are rewritten from the real,
/// per-attempt path to this one, so token counts do not depend on temp directory names.
pub const CANONICAL_CLONE: &str = "/home/agent/widgets";

/// One step as it ran.
#[derive(Debug, Clone)]
pub struct StepRun {
    /// What the model writes (counted).
    pub call: Call,
    /// How the report shows the call.
    pub shown: String,
    /// What the model is sent back.
    pub result: String,
    pub is_error: bool,
    pub latency_ms: f64,
    pub operations: u32,
    /// Processes the step spawned, when it ran traced.
    pub processes: Option<u32>,
}

/// What an executor is started with, for one attempt.
#[derive(Debug, Clone, Copy)]
pub struct Start<'a> {
    pub arm: &'a Arm,
    /// The attempt's placeholder values (clone, forge URL, GitHub token, arm state).
    pub vars: &'a Vars,
    /// HTTP arms: the bearer token their setup printed.
    pub bearer: Option<&'a str>,
    /// The attempt's working clone.
    pub clone: &'a Path,
    /// The attempt's own directory: logs, traces, the shell's home.
    pub scratch: &'a Path,
    /// The attempt's forge, `127.0.0.1:PORT`.
    pub forge_addr: &'a str,
    /// Run under strace, counting processes (an untimed attempt).
    pub traced: bool,
}

/// One way of running steps: started once per attempt, one [`step`](Executor::step) per round
/// trip, then [`close`](Executor::close)d.
pub trait Executor: Sized {
    /// Starts the interface for one attempt (an MCP server and its session, a shell setup).
    fn start(start: &Start<'_>) -> impl Future<Output = Result<Self>> + Send;

    /// The tool definitions the model is given, as one compact JSON array.
    fn interface(&self) -> String;

    /// Milliseconds from spawning the interface until it answered, if it has a start-up.
    fn cold_start_ms(&self) -> Option<f64>;

    /// The definition a model must be taught before it can call `tool`; `None` when the model
    /// knows the tool natively (a shell).
    fn definition(&self, tool: &str) -> Option<String>;

    /// The round trip a model makes to fetch `tool`'s definition before its first call, in
    /// the worst case of native knowledge (what it writes, what comes back); `None` when the
    /// tool needs no definition (a shell, a command line through a run form).
    fn lookup(&mut self, tool: &str) -> impl Future<Output = Option<(Call, String)>> + Send;

    /// Runs one step. `Err` when the step could not be run at all; a step that ran and failed
    /// is a [`StepRun`] with `is_error`.
    fn step(&mut self, step: &Step) -> impl Future<Output = Result<StepRun>> + Send;

    /// Ends the interface; the processes the attempt spawned (counted when traced, else the
    /// static count).
    fn close(self) -> impl Future<Output = u32> + Send;
}

/// What running a step list through an executor gave.
#[derive(Debug, Clone)]
pub struct Execution {
    /// [`Executor::interface`].
    pub interface: String,
    /// Definitions of the distinct tools called, in first-call order.
    pub teach: Vec<String>,
    pub cold_start_ms: Option<f64>,
    /// The steps that ran, results and calls with the clone shown as [`CANONICAL_CLONE`].
    pub runs: Vec<StepRun>,
    /// The first failing step, described (no later step runs).
    pub failure: Option<String>,
    pub processes: u32,
    /// Worst case of native knowledge: before the step at this 0-based index, the model
    /// fetched the definition of a tool it had not used yet (the call and what came back).
    pub lookups: Vec<(usize, Call, String)>,
}

/// Starts an `E`, runs `steps` through it until one fails, and closes it.
pub async fn drive<E: Executor>(start: &Start<'_>, steps: &[Step]) -> Result<Execution> {
    let mut executor = E::start(start).await?;
    let real = start.clone.display().to_string();
    let mut taught = BTreeSet::new();
    let mut teach = Vec::new();
    let mut runs = Vec::new();
    let mut resolved = Vec::new();
    let mut failure = None;
    for (i, step) in steps.iter().enumerate() {
        // References to earlier results are read off what the model was shown.
        let shown: Vec<&str> = runs.iter().map(|r: &StepRun| r.result.as_str()).collect();
        let step = match step.resolve(&shown) {
            Ok(step) => step,
            Err(why) => {
                failure = Some(format!("step {}: {why}", i + 1));
                break;
            }
        };
        let mut run = executor.step(&step).await?;
        resolved.push(step);
        if taught.insert(run.call.name.clone())
            && let Some(definition) = executor.definition(&run.call.name)
        {
            teach.push(definition);
        }
        // Counted as the model would see it anywhere: the clone's path is not the temp dir.
        if !real.is_empty() {
            run.result = run.result.replace(&real, CANONICAL_CLONE);
            run.shown = run.shown.replace(&real, CANONICAL_CLONE);
        }
        let error = run.is_error;
        runs.push(run);
        if error {
            failure = Some(format!("step {} failed", i + 1));
            break;
        }
    }
    let interface = executor.interface();
    let cold_start_ms = executor.cold_start_ms();
    // After the steps, so the lookups touch none of the measured figures.
    let mut lookups = Vec::new();
    for (i, tool) in first_uses(&runs, &resolved) {
        if let Some((call, result)) = executor.lookup(&tool).await {
            lookups.push((i, call, result));
        }
    }
    let processes = executor.close().await;
    Ok(Execution {
        interface,
        teach,
        cold_start_ms,
        runs,
        failure,
        processes,
        lookups,
    })
}

/// The tools the steps use, each with the 0-based index of the step that first uses it. A
/// call of a meta tool (its tool name in the call differs from the step's, or the step names
/// it) uses the inner tools it names: `tool`, or each of `steps`; a command line uses none
/// (git and gh are known natively, as on the CLI arm).
fn first_uses(runs: &[StepRun], steps: &[Step]) -> Vec<(usize, String)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, (run, step)) in runs.iter().zip(steps).enumerate() {
        let Step::Tool { tool, args, .. } = step else {
            continue;
        };
        let inner: Vec<String> = if *tool != run.call.name {
            vec![tool.clone()]
        } else if let Some(serde_json::Value::String(t)) = args.get("tool") {
            vec![t.clone()]
        } else if let Some(serde_json::Value::Array(list)) = args.get("steps") {
            list.iter()
                .filter_map(|s| s.get("tool").and_then(|t| t.as_str()).map(str::to_owned))
                .collect()
        } else if args.contains_key("run") {
            Vec::new()
        } else {
            vec![tool.clone()]
        };
        for t in inner {
            if seen.insert(t.clone()) {
                out.push((i, t));
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::script::ScriptExecutor;
    use super::*;

    fn arm(kind: &str) -> Arm {
        let text = format!(
            "[[arm]]\nname = \"t\"\nkind = \"{kind}\"\nsteps = [\"s\"]\ncommand = [\"x\"]\n\
             interface = '[{{\"name\":\"lookup\"}},{{\"name\":\"other\"}}]'\n"
        );
        crate::arm::parse(&text).unwrap().remove(0)
    }

    fn tool(name: &str, args: serde_json::Value) -> Step {
        Step::Tool {
            tool: name.into(),
            args: args.as_object().unwrap().clone(),
            ops: None,
        }
    }

    async fn run(kind: &str, steps: &[Step]) -> Execution {
        let arm = arm(kind);
        let vars = Vars::default();
        let start = Start {
            arm: &arm,
            vars: &vars,
            bearer: None,
            clone: Path::new("/tmp/attempt-7/widgets"),
            scratch: Path::new("/tmp/attempt-7"),
            forge_addr: "127.0.0.1:1",
            traced: false,
        };
        drive::<ScriptExecutor>(&start, steps).await.unwrap()
    }

    #[tokio::test]
    async fn stops_at_the_first_failing_step_and_teaches_each_tool_once() {
        let steps = [
            tool("lookup", json!({"result": "in /tmp/attempt-7/widgets/src"})),
            tool("lookup", json!({"result": "again"})),
            tool("other", json!({"result": "no", "error": true})),
            tool("never", json!({"result": "not run"})),
        ];
        let e = run("mcp", &steps).await;
        assert_eq!(e.runs.len(), 3);
        assert_eq!(e.failure.as_deref(), Some("step 3 failed"));
        assert_eq!(e.runs[0].result, "in /home/agent/widgets/src");
        assert_eq!(
            e.teach,
            [
                r#"{"name":"lookup"}"#.to_owned(),
                r#"{"name":"other"}"#.into()
            ]
        );
        assert_eq!(e.interface, r#"[{"name":"lookup"},{"name":"other"}]"#);
        assert_eq!(e.processes, 1);
    }

    #[tokio::test]
    async fn references_are_resolved_from_earlier_results_or_fail_the_attempt() {
        let listing = r#"[{"number":50},{"number":45}]"#;
        let steps = [
            tool("lookup", json!({"result": listing})),
            tool("other", json!({"result": "{steps.1:jq:.[1].number}"})),
        ];
        let e = run("mcp", &steps).await;
        assert_eq!(e.failure, None);
        assert_eq!(e.runs[1].result, "45");
        assert_eq!(e.runs[1].shown, r#"other({"result":45})"#);
        // A value the listing does not show: the attempt fails before the step runs.
        let steps = [
            tool("lookup", json!({"result": listing})),
            tool("other", json!({"result": "{steps.1:jq:.[1].number + 1}"})),
        ];
        let e = run("mcp", &steps).await;
        assert_eq!(e.runs.len(), 1);
        let why = e.failure.unwrap();
        assert!(
            why.starts_with("step 2: ") && why.contains("does not show"),
            "{why}"
        );
    }

    #[tokio::test]
    async fn the_worst_case_looks_up_each_tool_before_its_first_use() {
        let steps = [
            tool("lookup", json!({"result": "a"})),
            tool("lookup", json!({"result": "b"})),
            tool("other", json!({"result": "c"})),
        ];
        let e = run("mcp", &steps).await;
        let at: Vec<(usize, &str, &str)> = e
            .lookups
            .iter()
            .map(|(i, c, r)| (*i, c.arguments.as_str(), r.as_str()))
            .collect();
        assert_eq!(
            at,
            [
                (0, "lookup", r#"{"name":"lookup"}"#),
                (2, "other", r#"{"name":"other"}"#)
            ]
        );
        assert!(
            run("cli", &[Step::Shell("echo x".into())])
                .await
                .lookups
                .is_empty()
        );
    }

    #[test]
    fn a_meta_tool_call_uses_the_tools_it_names() {
        let ran = |name: &str| StepRun {
            call: Call {
                name: name.into(),
                arguments: String::new(),
            },
            shown: String::new(),
            result: String::new(),
            is_error: false,
            latency_ms: 0.0,
            operations: 1,
            processes: None,
        };
        let steps = [
            // Sent through the meta tool in its short form: the step names the inner tool.
            tool("git_log", json!({})),
            tool("gitgate", json!({"tool": "gh_pr_list", "jq": "."})),
            tool(
                "gitgate",
                json!({"steps": [{"tool": "git_log"}, {"tool": "gh_pr_files"}]}),
            ),
            tool("gitgate", json!({"run": "gh pr view 3"})),
        ];
        let runs = [
            ran("gitgate"),
            ran("gitgate"),
            ran("gitgate"),
            ran("gitgate"),
        ];
        let uses = first_uses(&runs, &steps);
        assert_eq!(
            uses,
            [
                (0, "git_log".to_owned()),
                (1, "gh_pr_list".to_owned()),
                (2, "gh_pr_files".to_owned())
            ]
        );
    }

    #[tokio::test]
    async fn shell_steps_teach_nothing_and_count_processes_statically() {
        let steps = [
            Step::Shell("echo one; echo two".into()),
            Step::Shell("echo two".into()),
        ];
        let e = run("cli", &steps).await;
        assert!(e.failure.is_none());
        assert!(e.teach.is_empty());
        assert_eq!(e.runs[1].result, "two\n");
        // The static count, operations plus one bash per step: (2 + 1) + (1 + 1).
        assert_eq!(e.processes, 5);
        let failed = run("cli", &[Step::Shell("false".into())]).await;
        assert_eq!(failed.failure.as_deref(), Some("step 1 failed"));
    }
}
