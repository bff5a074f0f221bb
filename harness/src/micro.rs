//! `gitgate-bench micro`: per-call latency of git tools through a real stdio MCP client against
//! the same information from `bash -c 'git ...'`, measured side by side in one run.
//!
//! Samples alternate between the two arms in short blocks, so drift on a noisy machine hits both.

use std::path::{Path, PathBuf};
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
    let data = tempfile::tempdir().context("creating the data directory")?;
    let data_arg = data.path().display().to_string();
    let bin = config.gitgate.clone();
    let cmd = tokio::process::Command::new(&bin).configure(|c| {
        c.args([
            "serve",
            "--stdio",
            "--data-dir",
            &data_arg,
            "--repo",
            &repo_arg,
        ]);
    });
    let transport =
        TokioChildProcess::new(cmd).with_context(|| format!("starting {}", bin.display()))?;
    let client = ().serve(transport).await.context("MCP handshake with gitgate")?;

    let mut results = Vec::new();
    for op in ops() {
        let (m, c) = measure(&client, dir.path(), &op, config).await?;
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

/// One operation timed through MCP and through bash (after checking both give the same
/// information, and a warm-up): the MCP and the CLI summaries.
async fn measure(
    client: &Client,
    dir: &Path,
    op: &Op,
    config: &Config,
) -> Result<(Summary, Summary)> {
    let args: Map<String, Value> = op.args.as_object().cloned().unwrap_or_default();
    let call =
        || client.call_tool(CallToolRequestParams::new(op.tool).with_arguments(args.clone()));
    let shell = || {
        Command::new("bash")
            .args(["-c", op.shell])
            .current_dir(dir)
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
    Ok((summarize(&mcp), summarize(&cli)))
}

/// The cost of identity plus audit per call: `git_status` through gitgate with and without them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuthCost {
    pub transport: &'static str,
    /// With: bearer token looked up in the store (HTTP) and one audit event appended per call.
    pub with: Summary,
    /// Without: `--no-auth` (HTTP) and `--no-audit`.
    pub without: Summary,
    /// (with - without) / without, at the median.
    pub overhead_p50: f64,
}

/// Measures [`AuthCost`] on stdio (audit only: stdio has no bearer) and on HTTP (auth + audit),
/// on SQLite, both arms interleaved in blocks in one run.
pub async fn auth_cost(config: &Config, mut progress: impl FnMut(&str)) -> Result<Vec<AuthCost>> {
    let dir = tempfile::tempdir().context("creating the fixture directory")?;
    crate::fixture::linear_history(dir.path(), config.commits)?;
    let repo_arg = format!("bench={}", dir.path().display());
    let data = tempfile::tempdir().context("creating the data directory")?;
    let data_arg = data.path().display().to_string();
    let bin = &config.gitgate;
    let stdio = |extra: &'static [&'static str]| {
        let cmd = tokio::process::Command::new(bin).configure(|c| {
            c.args([
                "serve",
                "--stdio",
                "--data-dir",
                &data_arg,
                "--repo",
                &repo_arg,
            ])
            .args(extra);
        });
        async move {
            let transport = TokioChildProcess::new(cmd).context("starting gitgate")?;
            ().serve(transport)
                .await
                .context("MCP handshake with gitgate")
        }
    };
    let mut results = Vec::new();
    progress("audit cost on stdio");
    let with = stdio(&[]).await?;
    let without = stdio(&["--no-audit"]).await?;
    results.push(compare("stdio", &with, &without, config).await?);

    progress("auth + audit cost on HTTP");
    let admin = |args: &[&str]| -> Result<String> {
        let out = Command::new(bin)
            .args(args)
            .args(["--data-dir", &data_arg])
            .output()
            .context("running gitgate users")?;
        if !out.status.success() {
            bail!("gitgate {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    admin(&[
        "users", "add", "bench", "--scopes", "git:read", "--repos", "bench",
    ])?;
    let token = admin(&["users", "token", "bench"])?;
    let (_a, url_with) = spawn_http(bin, &["--data-dir", &data_arg, "--repo", &repo_arg])?;
    let (_b, url_without) = spawn_http(
        bin,
        &[
            "--data-dir",
            &data_arg,
            "--repo",
            &repo_arg,
            "--no-auth",
            "--no-audit",
        ],
    )?;
    let with = http_client(&url_with, Some(&token)).await?;
    let without = http_client(&url_without, None).await?;
    results.push(compare("http", &with, &without, config).await?);
    Ok(results)
}

type Client = rmcp::service::RunningService<rmcp::RoleClient, ()>;

async fn http_client(url: &str, token: Option<&str>) -> Result<Client> {
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    if let Some(token) = token {
        config = config.auth_header(token.to_owned());
    }
    ().serve(StreamableHttpClientTransport::from_config(config))
        .await
        .context("MCP over HTTP")
}

/// A gitgate HTTP server on an ephemeral port, killed when the guard drops.
struct ServerGuard(std::process::Child);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_http(bin: &std::path::Path, extra: &[&str]) -> Result<(ServerGuard, String)> {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(bin)
        .args(["serve", "--http", "127.0.0.1:0"])
        .args(extra)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("starting gitgate serve --http")?;
    let stderr = child.stderr.take().context("gitgate stderr")?;
    let guard = ServerGuard(child);
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let Some(line) = lines.next() else {
            bail!("gitgate exited before listening")
        };
        let line = line.context("reading gitgate stderr")?;
        if let Some(rest) = line.strip_prefix("gitgate: serving MCP at ") {
            break rest.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok((guard, url))
}

async fn compare(
    transport: &'static str,
    with: &Client,
    without: &Client,
    config: &Config,
) -> Result<AuthCost> {
    let status = || CallToolRequestParams::new("git_status");
    for _ in 0..config.warmup {
        with.call_tool(status()).await?;
        without.call_tool(status()).await?;
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    const BLOCK: usize = 10;
    while a.len() < config.iterations {
        for (client, samples) in [(with, &mut a), (without, &mut b)] {
            for _ in 0..BLOCK {
                let t = Instant::now();
                let r = client.call_tool(status()).await?;
                samples.push(t.elapsed());
                if r.is_error == Some(true) {
                    bail!("git_status failed during the auth-cost run");
                }
            }
        }
    }
    let (w, wo) = (summarize(&a), summarize(&b));
    Ok(AuthCost {
        transport,
        with: w,
        without: wo,
        overhead_p50: (w.p50_us - wo.p50_us) / wo.p50_us,
    })
}

/// A Markdown table of the auth-cost results.
pub fn auth_table(results: &[AuthCost]) -> String {
    let mut out = String::from(
        "| git_status over | with auth+audit p50 | without p50 | overhead (p50) |\n|---|---:|---:|---:|\n",
    );
    for r in results {
        out.push_str(&format!(
            "| {} | {} | {} | {:+.1}% |\n",
            if r.transport == "stdio" {
                "stdio (audit only)"
            } else {
                "HTTP (token lookup + audit)"
            },
            fmt_us(r.with.p50_us),
            fmt_us(r.without.p50_us),
            r.overhead_p50 * 100.0
        ));
    }
    out
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
