//! The processes a scenario runs against: a freshly seeded forge, gitgate's admin commands and
//! its HTTP server, each killed when its guard drops.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Kills and reaps a child process when dropped, so a failing scenario leaves nothing running.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `gitgate-forge serve --seed demo` on an ephemeral port, with its own data directory.
pub struct Forge {
    _child: ChildGuard,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    http: reqwest::Client,
}

impl Forge {
    /// Starts the forge and waits until it answers (seeding happens before it serves).
    pub async fn start(bin: &Path, data: &Path) -> Result<Self> {
        let mut child = Command::new(bin)
            .args(["serve", "--addr", "127.0.0.1:0", "--seed", "demo", "--data"])
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("forge stdout")?;
        let guard = ChildGuard(child);
        let mut lines = BufReader::new(stdout).lines();
        let base_url = loop {
            let Some(line) = lines.next() else {
                bail!("gitgate-forge exited before listening")
            };
            let line = line.context("reading gitgate-forge stdout")?;
            if let Some(rest) = line.strip_prefix("gitgate-forge listening on ") {
                let url = rest.split_whitespace().next().unwrap_or_default();
                break url.trim_end_matches('/').to_owned();
            }
        };
        // Keep draining stdout so the forge never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .context("building the HTTP client")?;
        let forge = Self {
            _child: guard,
            base_url,
            http,
        };
        // The listener is bound before the seed runs; this request waits in the backlog
        // until the forge serves, so no polling is needed.
        let health = forge
            .http
            .get(forge.url("/_forge/health"))
            .send()
            .await
            .context("waiting for the forge")?;
        if !health.status().is_success() {
            bail!("forge health check answered {}", health.status());
        }
        Ok(forge)
    }

    /// `path` on the forge, as an absolute URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// `GET path` with `token`; the parsed JSON body, or an error naming the status.
    pub async fn get_json(&self, path: &str, token: &str) -> Result<Value> {
        let resp = self
            .http
            .get(self.url(path))
            .header("authorization", format!("token {token}"))
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = resp.status();
        let text = resp.text().await.context("reading the forge's answer")?;
        if !status.is_success() {
            bail!("GET {path}: {status}: {text}");
        }
        serde_json::from_str(&text).with_context(|| format!("GET {path}: not JSON"))
    }

    /// Revokes the forge token called `name` (the forge's stand-in for deleting a token on
    /// GitHub's settings page).
    pub async fn revoke_token(&self, name: &str) -> Result<()> {
        let resp = self
            .http
            .delete(self.url(&format!("/_forge/tokens/{name}")))
            .send()
            .await
            .context("revoking a forge token")?;
        if !resp.status().is_success() {
            bail!("revoking forge token {name}: {}", resp.status());
        }
        Ok(())
    }
}

/// gitgate's state directory and the admin commands run on it.
pub struct Gitgate {
    pub bin: PathBuf,
    pub data_dir: PathBuf,
    pub secret_key_file: PathBuf,
}

impl Gitgate {
    /// A fresh state directory with a secret key for users' GitHub tokens.
    pub fn init(bin: &Path, dir: &Path) -> Result<Self> {
        let data_dir = dir.join("gitgate-data");
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let secret_key_file = dir.join("secret.key");
        let gate = Self {
            bin: bin.to_owned(),
            data_dir,
            secret_key_file,
        };
        let out = Command::new(bin)
            .arg("keygen")
            .output()
            .context("running gitgate keygen")?;
        if !out.status.success() {
            bail!(
                "gitgate keygen: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let key = String::from_utf8_lossy(&out.stdout);
        std::fs::write(&gate.secret_key_file, key.trim())
            .with_context(|| format!("writing {}", gate.secret_key_file.display()))?;
        Ok(gate)
    }

    /// Runs `gitgate ARGS` on this state; stdout on success.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Result<String> {
        let out = self
            .command(args, env)
            .output()
            .context("running gitgate")?;
        if !out.status.success() {
            bail!(
                "gitgate {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `gitgate ARGS` with this state's flags, not yet run.
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--secret-key-file")
            .arg(&self.secret_key_file)
            .envs(env.iter().copied());
        cmd
    }

    /// Adds `name` with `scopes`, issues a gitgate token and stores `github_token` as the
    /// user's own GitHub token; returns the gitgate token.
    pub fn add_user(&self, name: &str, scopes: &str, github_token: &str) -> Result<String> {
        self.run(
            &[
                "users", "add", name, "--scopes", scopes, "--repos", "acme/*",
            ],
            &[],
        )?;
        let token = self.run(&["users", "token", name], &[])?.trim().to_owned();
        // Through the environment, as the command asks: never as an argument.
        self.run(
            &[
                "users",
                "set-github-token",
                name,
                "--from-env",
                "SCENARIO_GH_TOKEN",
            ],
            &[("SCENARIO_GH_TOKEN", github_token)],
        )?;
        Ok(token)
    }

    /// Serves MCP over HTTP on an ephemeral port with the GitHub tools pointed at `forge`.
    pub fn serve_http(&self, forge: &Forge) -> Result<Server> {
        // gitgate wants one local repository; the scenarios only use the GitHub tools, and no
        // user is granted this one.
        let local = self.data_dir.with_file_name("local-repo");
        std::fs::create_dir_all(&local).with_context(|| format!("creating {}", local.display()))?;
        crate::fixture::git(&local, &["init", "-q", "-b", "main"])?;
        let repo_arg = format!("local={}", local.display());
        let mut child = self
            .command(
                &[
                    "serve",
                    "--http",
                    "127.0.0.1:0",
                    "--repo",
                    &repo_arg,
                    "--github-url",
                    &forge.base_url,
                ],
                &[],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting gitgate serve --http")?;
        let stderr = child.stderr.take().context("gitgate stderr")?;
        let guard = ChildGuard(child);
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = Vec::new();
        let url = loop {
            let Some(line) = lines.next() else {
                bail!("gitgate exited before listening: {}", seen.join("\n"))
            };
            let line = line.context("reading gitgate stderr")?;
            if let Some(rest) = line.strip_prefix("gitgate: serving MCP at ") {
                break rest.trim().to_owned();
            }
            seen.push(line);
        };
        std::thread::spawn(move || for _ in lines {});
        Ok(Server { _child: guard, url })
    }
}

/// A running `gitgate serve --http`.
pub struct Server {
    _child: ChildGuard,
    /// `http://127.0.0.1:PORT/mcp`.
    pub url: String,
}
