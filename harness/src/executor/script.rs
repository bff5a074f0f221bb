//! An executor for tests: no process, no network; every step's result comes from the step
//! itself, so an attempt's path through [`drive`](super::drive), the checks and the measures is
//! tested deterministically and fast.
//!
//! A shell line `echo TEXT` prints `TEXT` and succeeds, `false` fails, anything else fails as
//! an unknown command. A tool call returns its `result` argument (text as is, other JSON as
//! JSON) and fails when its `error` argument is `true`. The interface is the arm's `interface`
//! (a JSON array of tool definitions, or one definition); CLI arms teach nothing, as a shell is
//! known natively.

use anyhow::{Context, Result};
use serde_json::Value;

use super::{Executor, Start, StepRun};
use crate::arm::Kind;
use crate::task::Step;
use crate::tokens::Call;

/// The in-memory executor.
#[derive(Debug)]
pub struct ScriptExecutor {
    kind: Kind,
    tools: Vec<Value>,
    processes: u32,
}

impl Executor for ScriptExecutor {
    async fn start(start: &Start<'_>) -> Result<Self> {
        let text = start.arm.interface.as_deref().unwrap_or("[]");
        let tools = match serde_json::from_str(text).context("the arm's interface JSON")? {
            Value::Array(tools) => tools,
            one => vec![one],
        };
        Ok(Self {
            kind: start.arm.kind,
            tools,
            processes: 0,
        })
    }

    fn interface(&self) -> String {
        Value::Array(self.tools.clone()).to_string()
    }

    fn cold_start_ms(&self) -> Option<f64> {
        (self.kind == Kind::Mcp).then_some(0.0)
    }

    fn definition(&self, tool: &str) -> Option<String> {
        if self.kind == Kind::Cli {
            return None;
        }
        self.tools
            .iter()
            .find(|t| t["name"] == tool)
            .map(Value::to_string)
    }

    async fn lookup(&mut self, tool: &str) -> Option<(Call, String)> {
        // The definition comes back as the result of a lookup by name.
        let definition = self.definition(tool)?;
        let call = Call {
            name: String::new(),
            arguments: tool.to_owned(),
        };
        Some((call, definition))
    }

    async fn step(&mut self, step: &Step) -> Result<StepRun> {
        let run = match step {
            Step::Shell(line) => shell(line),
            Step::Tool { tool, args, ops } => {
                let result = match args.get("result") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                let arguments = Value::Object(args.clone()).to_string();
                StepRun {
                    shown: format!("{tool}({arguments})"),
                    call: Call {
                        name: tool.clone(),
                        arguments,
                    },
                    result,
                    is_error: args.get("error") == Some(&Value::Bool(true)),
                    latency_ms: 0.0,
                    operations: ops.unwrap_or(1),
                    processes: None,
                }
            }
        };
        self.processes += match self.kind {
            Kind::Cli => run.operations + 1,
            Kind::Mcp => 0,
        };
        Ok(run)
    }

    async fn close(self) -> u32 {
        match self.kind {
            Kind::Cli => self.processes,
            Kind::Mcp => 1,
        }
    }
}

fn shell(line: &str) -> StepRun {
    let (result, is_error) = match line.strip_prefix("echo ") {
        Some(text) => (format!("{text}\n"), false),
        None if line == "false" => ("(exit status 1)\n".to_owned(), true),
        None => (
            format!("{line}: command not found\n(exit status 127)\n"),
            true,
        ),
    };
    StepRun {
        call: Call {
            name: "bash".into(),
            arguments: serde_json::json!({ "command": line }).to_string(),
        },
        shown: line.to_owned(),
        result,
        is_error,
        latency_ms: 0.0,
        operations: super::shell::operations(line),
        processes: None,
    }
}
