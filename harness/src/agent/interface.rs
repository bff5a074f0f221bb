//! What the model is given on each arm, and how its tool calls run: the cli arm's one `bash`
//! tool (each call a fresh `bash -c` in the attempt's clone, the same environment as
//! `gitgate-bench run`'s shell steps), or an MCP arm's real `tools/list`, each call sent to the
//! server as the model wrote it.
//!
//! A call is classified for the report: an unknown tool and arguments that are not a JSON
//! object are refused here (an error result the model sees, nothing runs); a call that ran and
//! failed is `failed`; a request for help is counted apart.

use anyhow::{Context, Result};
use serde_json::{Map, Value};

use super::wire::{ToolCall, ToolDef};
use crate::arm::Kind;
use crate::executor::mcp::Session;
use crate::executor::shell::ShellExecutor;
use crate::executor::{CANONICAL_CLONE, Executor, Start};
use crate::task::Step;

/// Bytes of one tool result sent back to the model; the rest is cut with a note, as agent
/// frameworks do (64 KiB holds any result of the task suite many times over).
pub const MAX_RESULT: usize = 64 << 10;

/// Why a call counts as a tool error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A tool the model was not given.
    UnknownTool,
    /// Arguments that are not a JSON object, or lack what the tool needs.
    BadArguments,
    /// The tool ran and reported an error.
    Failed,
}

/// What a call gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The result text the model is sent (clone path shown as [`CANONICAL_CLONE`]).
    pub content: String,
    pub error: Option<ErrorKind>,
    /// The call asked for help (`--help`, `git help`, a `help` tool or `{"tool": "help"}`).
    pub help: bool,
}

/// The arm's interface for one attempt.
pub enum Interface {
    Shell {
        exec: ShellExecutor,
        tool: ToolDef,
    },
    Mcp {
        session: Session,
        tools: Vec<ToolDef>,
    },
}

impl Interface {
    /// Starts the arm's interface (its server, for an MCP arm).
    pub async fn start(start: &Start<'_>) -> Result<Self> {
        match start.arm.kind {
            Kind::Cli => {
                let exec = ShellExecutor::start(start).await?;
                let text = start.arm.interface.as_deref().unwrap_or("{}");
                let def: Value = serde_json::from_str(text).context("the arm's interface JSON")?;
                Ok(Self::Shell {
                    exec,
                    tool: definition(&def, "input_schema"),
                })
            }
            Kind::Mcp => {
                let session = Session::start(
                    start.arm,
                    start.vars,
                    start.bearer,
                    None,
                    &start.scratch.join("server.log"),
                )
                .await?;
                let tools = session
                    .tools
                    .iter()
                    .map(|t| definition(t, "inputSchema"))
                    .collect();
                Ok(Self::Mcp { session, tools })
            }
        }
    }

    /// The tool definitions the model is given.
    pub fn tools(&self) -> Vec<ToolDef> {
        match self {
            Self::Shell { tool, .. } => vec![tool.clone()],
            Self::Mcp { tools, .. } => tools.clone(),
        }
    }

    /// Runs one call; `clone` is the attempt's real clone path.
    pub async fn call(&mut self, call: &ToolCall, clone: &str) -> Outcome {
        let known = self.tools().iter().any(|t| t.name == call.name);
        let args = match serde_json::from_str::<Value>(&call.arguments) {
            Ok(Value::Object(args)) => Some(args),
            _ => None,
        };
        let help = is_help(&call.name, args.as_ref());
        if !known {
            return refuse(
                ErrorKind::UnknownTool,
                format!(
                    "error: no tool {:?}; the tools are: {}",
                    bounded_name(&call.name),
                    self.tools()
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                help,
            );
        }
        let Some(args) = args else {
            return refuse(
                ErrorKind::BadArguments,
                "error: the arguments are not a JSON object".into(),
                help,
            );
        };
        let (content, is_error, bad) = match self {
            Self::Shell { exec, .. } => {
                let Some(command) = args.get("command").and_then(Value::as_str) else {
                    return refuse(
                        ErrorKind::BadArguments,
                        "error: `command` (a string) is required".into(),
                        help,
                    );
                };
                let line = command.replace(CANONICAL_CLONE, clone);
                match exec.step(&Step::Shell(line)).await {
                    Ok(run) => (run.result, run.is_error, false),
                    Err(e) => (format!("error: {e:#}"), true, false),
                }
            }
            Self::Mcp { session, .. } => {
                let sent = replace_in(&args, CANONICAL_CLONE, clone);
                match session.call(&call.name, sent, &args, 1).await {
                    // rmcp turns JSON-RPC's invalid-params answer into an error text;
                    // gitgate answers arguments its schema refuses with `invalid arguments`.
                    Ok(run) => {
                        let bad = run.is_error
                            && (run.result.contains("-32602")
                                || run.result.contains("Invalid params")
                                || run.result.starts_with("invalid arguments"));
                        (run.result, run.is_error, bad)
                    }
                    Err(e) => (format!("error: {e:#}"), true, false),
                }
            }
        };
        let content = cut(&content.replace(clone, CANONICAL_CLONE));
        let error = match (is_error, bad) {
            (false, _) => None,
            (true, true) => Some(ErrorKind::BadArguments),
            (true, false) => Some(ErrorKind::Failed),
        };
        Outcome {
            content,
            error,
            help,
        }
    }

    /// Ends the interface (stops an MCP server).
    pub async fn close(self) {
        match self {
            Self::Shell { exec, .. } => {
                exec.close().await;
            }
            Self::Mcp { session, .. } => {
                session.close().await;
            }
        }
    }
}

fn refuse(kind: ErrorKind, content: String, help: bool) -> Outcome {
    Outcome {
        content,
        error: Some(kind),
        help,
    }
}

/// A tool name from the model, cut for an error message.
fn bounded_name(name: &str) -> String {
    name.chars().take(100).collect()
}

/// A provider-neutral definition from an MCP or Anthropic-style tool object.
fn definition(v: &Value, schema_key: &str) -> ToolDef {
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    ToolDef {
        name: text("name"),
        description: text("description"),
        schema: v
            .get(schema_key)
            .cloned()
            .unwrap_or_else(|| serde_json::json!({"type": "object"})),
    }
}

fn is_help(tool: &str, args: Option<&Map<String, Value>>) -> bool {
    if tool == "help" {
        return true;
    }
    let Some(args) = args else { return false };
    if args.get("tool").and_then(Value::as_str) == Some("help") {
        return true;
    }
    args.get("command")
        .or_else(|| args.get("run"))
        .and_then(Value::as_str)
        .is_some_and(|line| {
            line.split_whitespace().any(|w| w == "--help")
                || line.contains("git help")
                || line.contains("gh help")
        })
}

/// Every string of `args` with `from` replaced by `to`.
fn replace_in(args: &Map<String, Value>, from: &str, to: &str) -> Map<String, Value> {
    fn walk(v: &Value, from: &str, to: &str) -> Value {
        match v {
            Value::String(s) => Value::String(s.replace(from, to)),
            Value::Array(a) => Value::Array(a.iter().map(|x| walk(x, from, to)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), walk(x, from, to)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    args.iter()
        .map(|(k, v)| (k.clone(), walk(v, from, to)))
        .collect()
}

/// `text` cut to [`MAX_RESULT`] bytes with a note saying how much was left out.
fn cut(text: &str) -> String {
    if text.len() <= MAX_RESULT {
        return text.to_owned();
    }
    let mut end = MAX_RESULT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n[output cut: {} more bytes]\n",
        &text[..end],
        text.len() - end
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn agent_interface_recognises_help_calls() {
        for (tool, args, want) in [
            ("help", "{}", true),
            ("gitgate", r#"{"tool":"help"}"#, true),
            ("bash", r#"{"command":"gh pr list --help"}"#, true),
            ("bash", r#"{"command":"git help log"}"#, true),
            ("bash", r#"{"command":"git log --oneline"}"#, false),
            ("gitgate", r#"{"run":"gh issue list --help"}"#, true),
        ] {
            let args: Map<String, Value> = serde_json::from_str(args).unwrap();
            assert_eq!(is_help(tool, Some(&args)), want, "{tool} {args:?}");
        }
    }

    #[test]
    fn agent_interface_cuts_long_results_at_a_character() {
        let long = "é".repeat(MAX_RESULT);
        let out = cut(&long);
        assert!(out.len() < MAX_RESULT + 100);
        assert!(out.ends_with(&format!("[output cut: {} more bytes]\n", MAX_RESULT)));
        assert_eq!(cut("short"), "short");
    }
}
