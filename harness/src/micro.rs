//! `gitgate-bench micro`: per-call latency of git tools through a real stdio MCP client against
//! the same information from `bash -c 'git ...'`, measured side by side in one run.
//!
//! Samples alternate between the two arms in short blocks, so drift on a noisy machine hits both.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ContentBlock};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Map, Value, json};

use crate::stats::{Summary, summarize};

/// What to measure.
#[derive(Debug, Clone)]
pub struct Config {
    /// The gitgate binary to benchmark.
    pub gitgate: PathBuf,
    /// Commits in the fixture history.
    pub commits: usize,
    /// Measured calls per operation and arm.
    pub iterations: usize,
    /// Unmeasured calls first (caches, page faults).
    pub warmup: usize,
}

/// One operation: the MCP tool call and the shell command giving the same information.
#[derive(Debug, Clone)]
pub struct Op {
    pub name: &'static str,
    pub tool: &'static str,
    pub args: Value,
    pub shell: &'static str,
}

/// The operations the issue names: log of 5 commits, status, diff.
pub fn ops() -> Vec<Op> {
    vec![
        Op {
            name: "log -5",
            tool: "git_log",
            args: json!({"max_count": 5}),
            shell: "git log -5 --format='%h %ad %an %s' --date=short",
        },
        Op {
            name: "status",
            tool: "git_status",
            args: json!({}),
            shell: "git status --short --branch",
        },
        Op {
            name: "diff",
            tool: "git_diff",
            args: json!({}),
            shell: "git diff",
        },
    ]
}

/// Measured result of one operation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OpResult {
    pub name: &'static str,
    pub mcp: Summary,
    pub cli: Summary,
    /// CLI p50 over MCP p50: how many times faster the MCP call is.
    pub speedup_p50: f64,
}

/// Runs the benchmark; `progress` receives one line per finished stage.
pub async fn run(config: &Config, mut progress: impl FnMut(&str)) -> Result<Vec<OpResult>> {
    let dir = tempfile::tempdir().context("creating the fixture directory")?;
    progress(&format!("building a {}-commit repository", config.commits));
    crate::fixture::linear_history(dir.path(), config.commits)?;
    let repo_arg = format!("bench={}", dir.path().display());
    let bin = config.gitgate.clone();
    let cmd = tokio::process::Command::new(&bin).configure(|c| {
        c.args(["serve", "--stdio", "--repo", &repo_arg]);
    });
    let transport =
        TokioChildProcess::new(cmd).with_context(|| format!("starting {}", bin.display()))?;
    let client = ().serve(transport).await.context("MCP handshake with gitgate")?;

    let mut results = Vec::new();
    for op in ops() {
        let args: Map<String, Value> = op.args.as_object().cloned().unwrap_or_default();
        let call =
            || client.call_tool(CallToolRequestParams::new(op.tool).with_arguments(args.clone()));
        let shell = || {
            Command::new("bash")
                .args(["-c", op.shell])
                .current_dir(dir.path())
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .output()
        };
        // Same information from both arms, checked once before timing anything.
        let mcp_text = match call().await?.content.first() {
            Some(ContentBlock::Text(t)) => t.text.clone(),
            other => bail!("{}: unexpected result {other:?}", op.tool),
        };
        let cli_out = shell().context("running bash")?;
        let cli_text = String::from_utf8_lossy(&cli_out.stdout);
        if op.tool == "git_log" && mcp_text.lines().take(5).ne(cli_text.lines()) {
            bail!(
                "git_log and `{}` disagree:\n{mcp_text}\n---\n{cli_text}",
                op.shell
            );
        }
        for _ in 0..config.warmup {
            call().await?;
            shell()?;
        }
        let mut mcp = Vec::with_capacity(config.iterations);
        let mut cli = Vec::with_capacity(config.iterations);
        // Alternate in short blocks: drift on a noisy machine hits both arms, while each arm
        // still runs warm (a process spawn between every MCP call would evict its caches).
        const BLOCK: usize = 10;
        while mcp.len() < config.iterations {
            let n = BLOCK.min(config.iterations - mcp.len());
            for _ in 0..n {
                let t = Instant::now();
                let r = call().await?;
                mcp.push(t.elapsed());
                if r.is_error == Some(true) {
                    bail!("{} failed during the run", op.tool);
                }
            }
            for _ in 0..n {
                let t = Instant::now();
                let out = shell()?;
                cli.push(t.elapsed());
                if !out.status.success() {
                    bail!("`{}` failed during the run", op.shell);
                }
            }
        }
        let (m, c) = (summarize(&mcp), summarize(&cli));
        progress(&format!(
            "{}: mcp p50 {:.0} us, cli p50 {:.0} us",
            op.name, m.p50_us, c.p50_us
        ));
        results.push(OpResult {
            name: op.name,
            mcp: m,
            cli: c,
            speedup_p50: c.p50_us / m.p50_us,
        });
    }
    client.cancel().await.ok();
    Ok(results)
}

/// A Markdown table of the results.
pub fn table(results: &[OpResult]) -> String {
    let mut out = String::from(
        "| operation | MCP p50 | MCP p95 | CLI p50 | CLI p95 | CLI/MCP (p50) |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for r in results {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.1}x |\n",
            r.name,
            fmt_us(r.mcp.p50_us),
            fmt_us(r.mcp.p95_us),
            fmt_us(r.cli.p50_us),
            fmt_us(r.cli.p95_us),
            r.speedup_p50
        ));
    }
    out
}

fn fmt_us(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} us")
    }
}
