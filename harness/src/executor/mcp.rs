//! The MCP executor: starts the arm's server (stdio child or Streamable HTTP), initializes
//! through rmcp's client, reads `tools/list` as a client forwards it, and makes each step's tool
//! call.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use serde_json::{Map, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{CANONICAL_CLONE, Executor, Start, StepRun};
use crate::arm::{Arm, Transport, Vars};
use crate::task::Step;
use crate::tokens::Call;

type Client = RunningService<rmcp::RoleClient, ()>;

/// How long a server may take to start and initialize.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Tool-call steps of one attempt, through one session with the arm's server.
pub struct McpExecutor {
    session: Session,
    vars: Vars,
    /// A meta tool every other call is sent through (lean mode).
    via: Option<String>,
}

impl Executor for McpExecutor {
    async fn start(start: &Start<'_>) -> Result<Self> {
        let trace = start.traced.then(|| start.scratch.join("trace-0.txt"));
        let session = Session::start(
            start.arm,
            start.vars,
            start.bearer,
            trace.as_deref(),
            &start.scratch.join("server.log"),
        )
        .await?;
        Ok(Self {
            session,
            vars: start.vars.clone(),
            via: start.arm.via.clone(),
        })
    }

    fn interface(&self) -> String {
        Value::Array(self.session.tools.clone()).to_string()
    }

    fn cold_start_ms(&self) -> Option<f64> {
        Some(self.session.cold_start_ms)
    }

    fn definition(&self, tool: &str) -> Option<String> {
        self.session
            .tools
            .iter()
            .find(|t| t["name"] == tool)
            .map(Value::to_string)
    }

    async fn lookup(&mut self, tool: &str) -> Option<(Call, String)> {
        match &self.via {
            // Lean mode: the meta tool's own help, as the model would ask it.
            Some(via) => {
                let mut args = Map::new();
                args.insert("tool".into(), Value::String("help".into()));
                args.insert("name".into(), Value::String(tool.to_owned()));
                let run = self.session.call(via, args.clone(), &args, 0).await.ok()?;
                Some((run.call, run.result))
            }
            // Full mode: the tool's entry of tools/list, looked up by name (no MCP method
            // fetches one tool, so the call is counted as its name alone).
            None => {
                let definition = self.definition(tool)?;
                let call = Call {
                    name: String::new(),
                    arguments: tool.to_owned(),
                };
                Some((call, definition))
            }
        }
    }

    async fn step(&mut self, step: &Step) -> Result<StepRun> {
        let (tool, args, ops) = match step {
            Step::Tool { tool, args, ops } => (tool, args, ops),
            Step::Shell(line) => return self.run_line(line).await,
        };
        let sent = expand_args(args, &self.vars);
        let shown = expand_args(
            args,
            &Vars {
                clone: CANONICAL_CLONE.into(),
                ..self.vars.clone()
            },
        );
        let (tool, sent, shown) = match &self.via {
            Some(via) if via != tool => (via.clone(), through(tool, sent), through(tool, shown)),
            _ => (tool.clone(), sent, shown),
        };
        self.session
            .call(&tool, sent, &shown, ops.unwrap_or(1))
            .await
    }

    async fn close(self) -> u32 {
        // Untraced, the static count: the server is the one process.
        self.session.close().await.unwrap_or(1)
    }
}

impl McpExecutor {
    /// A shell line sent unchanged through the meta tool's run form, `{"run": LINE}`, as the
    /// model would type it to a shell tool. Its operations are counted as the shell arm counts
    /// them (the elements of its pipelines and lists).
    async fn run_line(&mut self, line: &str) -> Result<StepRun> {
        let Some(via) = &self.via else {
            bail!("an mcp arm without a run form got a shell step");
        };
        let mut args = Map::new();
        args.insert("run".into(), Value::String(line.to_owned()));
        let operations = super::shell::operations(line);
        self.session
            .call(via, args.clone(), &args, operations)
            .await
    }
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

/// A call of `tool` sent through a meta tool in its short form, `{"tool": TOOL, FLAGS...}`; the
/// long form `{"tool": TOOL, "args": ARGS}` when a flag's name is one of the meta tool's own keys.
fn through(tool: &str, args: Map<String, Value>) -> Map<String, Value> {
    const OWN: [&str; 6] = ["tool", "args", "jq", "each", "steps", "run"];
    let mut wrapped = Map::new();
    wrapped.insert("tool".into(), Value::String(tool.to_owned()));
    if args.keys().any(|k| OWN.contains(&k.as_str())) {
        wrapped.insert("args".into(), Value::Object(args));
    } else {
        wrapped.extend(args);
    }
    wrapped
}

/// An initialized session with the arm's server.
pub struct Session {
    client: Client,
    /// The HTTP server process (stdio children belong to the transport).
    http_server: Option<tokio::process::Child>,
    /// Spawn until `initialize` answered, milliseconds.
    pub cold_start_ms: f64,
    /// `tools/list` as forwarded to the model: name, description, inputSchema, annotations.
    pub tools: Vec<Value>,
    trace: Option<PathBuf>,
}

impl Session {
    /// Starts the server of `arm` and initializes a client session. With `trace`, the server
    /// runs under strace writing there.
    pub async fn start(
        arm: &Arm,
        vars: &Vars,
        bearer: Option<&str>,
        trace: Option<&Path>,
        log: &Path,
    ) -> Result<Self> {
        let mut argv: Vec<String> = trace.map(crate::trace::prefix).unwrap_or_default();
        argv.extend(vars.expand_all(&arm.command));
        let (program, args) = argv.split_first().context("the arm's command is empty")?;
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .envs(arm.env.iter().map(|(k, v)| (k, vars.expand(v))))
            // A server has no use for a model API key (agent mode's environment).
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("OPENAI_API_KEY")
            .kill_on_drop(true);
        let log_file =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let what = argv.join(" ");
        let started = Instant::now();
        let (client, http_server) = match arm.transport {
            Transport::Stdio => (start_stdio(arm, cmd, log_file, log, &what).await?, None),
            Transport::Http => {
                let (client, child) = start_http(arm, cmd, log_file, bearer, &what).await?;
                (client, Some(child))
            }
        };
        let cold_start_ms = started.elapsed().as_secs_f64() * 1e3;
        let listed = client
            .list_all_tools()
            .await
            .with_context(|| format!("tools/list of {}", arm.name))?;
        let tools = listed.iter().map(forwarded).collect::<Result<Vec<_>>>()?;
        Ok(Self {
            client,
            http_server,
            cold_start_ms,
            tools,
            trace: trace.map(Path::to_owned),
        })
    }

    /// Makes one call. `shown_args` are the arguments as the model wrote them (placeholders
    /// unexpanded); `args` what is sent.
    pub async fn call(
        &self,
        tool: &str,
        args: Map<String, Value>,
        shown_args: &Map<String, Value>,
        operations: u32,
    ) -> Result<StepRun> {
        let arguments = Value::Object(shown_args.clone()).to_string();
        let started = Instant::now();
        let outcome = self
            .client
            .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(args))
            .await;
        let latency_ms = started.elapsed().as_secs_f64() * 1e3;
        // A protocol error (unknown tool, say) reaches the model as an error result too.
        let (result, is_error) = match outcome {
            Ok(r) => (result_text(&r), r.is_error == Some(true)),
            Err(e) => (format!("error: {e}"), true),
        };
        Ok(StepRun {
            call: Call {
                name: tool.to_owned(),
                arguments: arguments.clone(),
            },
            shown: format!("{tool}({arguments})"),
            result,
            is_error,
            latency_ms,
            operations,
            processes: None,
        })
    }

    /// Ends the session and the server; with tracing on, returns the processes it counted.
    pub async fn close(self) -> Option<u32> {
        // Closing a stdio client closes the server's stdin and waits for it to exit, so the
        // trace is complete when this returns.
        let _ = self.client.cancel().await;
        if let Some(mut child) = self.http_server {
            if let Some(pid) = child.id() {
                // Under tracing the child is strace, which outlives a signal while its tracee
                // runs: end the server itself (strace's children), then strace ends by itself
                // and completes the trace.
                let mut targets = if self.trace.is_some() {
                    children(pid)
                } else {
                    Vec::new()
                };
                if targets.is_empty() {
                    targets.push(pid);
                }
                for target in targets {
                    crate::signal::send(target, crate::signal::Signal::TERM);
                }
            }
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
        self.trace.as_deref().and_then(crate::trace::count_file)
    }
}

/// Starts a stdio server and initializes the client over its stdin and stdout.
async fn start_stdio(
    arm: &Arm,
    cmd: tokio::process::Command,
    log_file: std::fs::File,
    log: &Path,
    what: &str,
) -> Result<Client> {
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(log_file)
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    tokio::time::timeout(START_TIMEOUT, ().serve(transport))
        .await
        .context("the server did not initialize within 30 s")?
        .with_context(|| format!("initializing {} (log: {})", arm.name, log.display()))
}

/// Starts an HTTP server, waits for the line naming its URL, and initializes the client over
/// Streamable HTTP with the bearer token.
async fn start_http(
    arm: &Arm,
    mut cmd: tokio::process::Command,
    log_file: std::fs::File,
    bearer: Option<&str>,
    what: &str,
) -> Result<(Client, tokio::process::Child)> {
    let prefix = arm.ready_prefix.clone().unwrap_or_default();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    let stderr = child.stderr.take().context("server stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let url = tokio::time::timeout(START_TIMEOUT, async {
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.strip_prefix(&prefix) {
                return Ok(Some(rest.trim().to_owned()));
            }
        }
        Ok::<_, std::io::Error>(None)
    })
    .await
    .context("the server printed no URL within 30 s")?
    .context("reading the server's stderr")?;
    let Some(url) = url else {
        bail!("{} exited before serving", arm.name);
    };
    // Keep draining stderr into the log so the server never blocks on it.
    let mut log_file = tokio::fs::File::from_std(log_file);
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = log_file.write_all(format!("{line}\n").as_bytes()).await;
        }
    });
    let mut config = StreamableHttpClientTransportConfig::with_uri(url);
    if let Some(token) = bearer {
        config = config.auth_header(token.to_owned());
    }
    let transport = StreamableHttpClientTransport::from_config(config);
    let client = tokio::time::timeout(START_TIMEOUT, ().serve(transport))
        .await
        .context("the server did not initialize within 30 s")?
        .with_context(|| format!("initializing {} over HTTP", arm.name))?;
    Ok((client, child))
}

/// Child process ids of `pid` (Linux `/proc`).
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// A tool definition as a client forwards it to the model.
fn forwarded(tool: &rmcp::model::Tool) -> Result<Value> {
    let full = serde_json::to_value(tool).context("serialising a tool")?;
    let mut out = Map::new();
    for key in ["name", "description", "inputSchema", "annotations"] {
        if let Some(v) = full.get(key) {
            out.insert(key.to_owned(), v.clone());
        }
    }
    Ok(Value::Object(out))
}

/// The text a client forwards as the tool result: its text blocks joined, or the structured
/// content as JSON when there is no text.
pub fn result_text(result: &CallToolResult) -> String {
    let texts: Vec<&str> = result
        .content
        .iter()
        .filter_map(|c| match c {
            ContentBlock::Text(t) => Some(t.text.as_str()),
            _ => None,
        })
        .collect();
    if texts.is_empty()
        && let Some(s) = &result.structured_content
    {
        return s.to_string();
    }
    texts.join("\n")
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
