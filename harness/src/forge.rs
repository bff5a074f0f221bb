//! A `gitgate-forge` process for one attempt (or for seeding the template): start it on a data
//! directory, read its address, ask it for usage figures and REST answers, stop it.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The base of every URL field the forge writes. Pinned so results do not carry the port of
/// the attempt's forge (token counts must not depend on which port the OS handed out); gh,
/// which reaches the forge as this host through its proxy setting, sees the same URLs.
pub const PUBLIC_URL: &str = "http://github.localhost";

/// The repository of the demo seed.
pub const REPO: &str = "acme/widgets";

/// A running forge, killed when dropped.
pub struct Forge {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    http: reqwest::Client,
}

/// API usage the forge saw, summed over every token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub requests: u64,
    pub connections: u64,
}

impl Forge {
    /// Starts `bin serve` on `data` with `seed` (seeding first when the directory is new);
    /// its stderr goes to `log`.
    pub async fn start(bin: &Path, data: &Path, seed: &str, log: &Path) -> Result<Self> {
        let log_file =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut child = Command::new(bin)
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--seed",
                seed,
                "--public-url",
                PUBLIC_URL,
            ])
            .arg("--data")
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("forge stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("the forge did not print its address within 30 s")?
            .context("reading the forge's stdout")?;
        let Some(line) = line else {
            let status = child.wait().await.ok();
            let log_text = std::fs::read_to_string(log).unwrap_or_default();
            bail!(
                "the forge exited before listening ({status:?}): {}",
                log_text.trim()
            );
        };
        // "gitgate-forge listening on http://127.0.0.1:PORT (data ...)"
        let addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http://"))
            .with_context(|| format!("no address in the forge's first line {line:?}"))?
            .to_owned();
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        let forge = Self { child, addr, http };
        // The first request waits until seeding is done and the forge serves.
        forge.health().await?;
        Ok(forge)
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn health(&self) -> Result<()> {
        let url = format!("{}/_forge/health", self.url());
        let resp = self.http.get(&url).send().await.context("forge health")?;
        if !resp.status().is_success() {
            bail!("forge health answered {}", resp.status());
        }
        Ok(())
    }

    /// Requests and TCP connections made with any token so far (`/_forge/stats`).
    pub async fn usage(&self) -> Result<Usage> {
        let url = format!("{}/_forge/stats", self.url());
        let stats: Value = self
            .http
            .get(&url)
            .send()
            .await
            .context("forge stats")?
            .json()
            .await
            .context("forge stats JSON")?;
        let mut usage = Usage::default();
        if let Some(tokens) = stats.get("tokens").and_then(Value::as_object) {
            for t in tokens.values() {
                usage.requests += t.get("requests").and_then(Value::as_u64).unwrap_or(0);
                usage.connections += t.get("connections").and_then(Value::as_u64).unwrap_or(0);
            }
        }
        Ok(usage)
    }

    /// GET `path` (REST) with `token`; the status and the parsed body.
    pub async fn get(&self, path: &str, token: &str) -> Result<(u16, Value)> {
        let url = format!("{}{path}", self.url());
        let resp = self
            .http
            .get(&url)
            .header("Authorization", format!("token {token}"))
            .header("Accept", "application/vnd.github+json")
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .with_context(|| format!("GET {path} body"))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, body))
    }

    /// Sends `method path` (REST) with `token` and a JSON body; the status and the parsed body.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value)> {
        let url = format!("{}{path}", self.url());
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .with_context(|| format!("method {method:?}"))?;
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header("Authorization", format!("token {token}"))
            .header("Accept", "application/vnd.github+json");
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .with_context(|| format!("{method} {path} body"))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, body))
    }

    /// Stops the forge cleanly (SIGINT, so SQLite checkpoints), killing it after 10 s.
    pub async fn stop(self) -> Result<()> {
        // Close our keep-alive connection first: the forge's graceful shutdown waits for it.
        let Self {
            mut child, http, ..
        } = self;
        drop(http);
        if let Some(pid) = child.id() {
            crate::signal::send(pid, crate::signal::Signal::INT);
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_ok()
            {
                return Ok(());
            }
        }
        child.kill().await.context("killing the forge")
    }
}

/// The token of a demo user (the forge's seed fixes them).
pub fn demo_token(login: &str) -> String {
    format!("ghp_demo_{}", login.replace('-', "_"))
}
