//! MCP arms: start the arm's server (stdio child or Streamable HTTP), initialize through rmcp's
//! client, read `tools/list` as a client forwards it, and make each step's tool call.

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

use crate::arm::{Arm, Transport, Vars};
use crate::shell_arm::StepRun;
use crate::tokens::Call;

type Client = RunningService<rmcp::RoleClient, ()>;

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

/// Starts the server of `arm` and initializes a client session. With `trace`, the server runs
/// under strace writing there.
pub async fn start(
    arm: &Arm,
    vars: &Vars,
    bearer: Option<&str>,
    trace: Option<&Path>,
    log: &Path,
) -> Result<Session> {
    let mut argv: Vec<String> = trace.map(crate::trace::prefix).unwrap_or_default();
    argv.extend(vars.expand_all(&arm.command));
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .envs(arm.env.iter().map(|(k, v)| (k, vars.expand(v))))
        .kill_on_drop(true);
    let log_file =
        std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let started = Instant::now();
    let (client, http_server) = match arm.transport {
        Transport::Stdio => {
            let (transport, _) = TokioChildProcess::builder(cmd)
                .stderr(log_file)
                .spawn()
                .with_context(|| format!("starting {}", argv.join(" ")))?;
            let client = tokio::time::timeout(Duration::from_secs(30), ().serve(transport))
                .await
                .context("the server did not initialize within 30 s")?
                .with_context(|| format!("initializing {} (log: {})", arm.name, log.display()))?;
            (client, None)
        }
        Transport::Http => {
            let prefix = arm.ready_prefix.clone().unwrap_or_default();
            let mut child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .with_context(|| format!("starting {}", argv.join(" ")))?;
            let stderr = child.stderr.take().context("server stderr")?;
            let mut lines = BufReader::new(stderr).lines();
            let url = tokio::time::timeout(Duration::from_secs(30), async {
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
            let client = tokio::time::timeout(Duration::from_secs(30), ().serve(transport))
                .await
                .context("the server did not initialize within 30 s")?
                .with_context(|| format!("initializing {} over HTTP", arm.name))?;
            (client, Some(child))
        }
    };
    let cold_start_ms = started.elapsed().as_secs_f64() * 1e3;
    let listed = client
        .list_all_tools()
        .await
        .with_context(|| format!("tools/list of {}", arm.name))?;
    let tools = listed.iter().map(forwarded).collect::<Result<Vec<_>>>()?;
    Ok(Session {
        client,
        http_server,
        cold_start_ms,
        tools,
        trace: trace.map(Path::to_owned),
    })
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

impl Session {
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
                    let _ = tokio::process::Command::new("kill")
                        .args(["-TERM", &target.to_string()])
                        .status()
                        .await;
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
