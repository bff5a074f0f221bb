//! Test scaffolding: a fixture repository, and the gitgate binary started on stdio or HTTP.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{ConfigureCommandExt, StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Map, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_gitgate");
pub const TOKEN: &str = "e2e-static-token";

/// A small repository with two commits on `main`, built with the real git.
pub fn fixture_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_DATE", "1704067200 +0000")
            .env("GIT_COMMITTER_DATE", "1704067200 +0000")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["config", "user.name", "Fixture"]);
    git(&["config", "user.email", "fixture@example.com"]);
    std::fs::write(dir.path().join("README.md"), "hello\n").unwrap();
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "first commit"]);
    std::fs::write(dir.path().join("README.md"), "hello\nworld\n").unwrap();
    git(&["commit", "-q", "-am", "second commit"]);
    dir
}

pub type Client = RunningService<RoleClient, ()>;

/// Which transport a scenario runs over.
#[derive(Debug, Clone, Copy)]
pub enum Transport {
    Stdio,
    Http,
}

/// A running gitgate and a connected client; the server process dies with it.
pub struct Session {
    pub client: Client,
    _server: Option<ServerProcess>,
}

/// A gitgate HTTP server child process, killed on drop.
pub struct ServerProcess {
    child: Child,
    pub url: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `gitgate serve --http 127.0.0.1:0 ...extra` and waits for the address it prints.
pub fn spawn_http(repo: &Path, extra: &[&str]) -> ServerProcess {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(BIN)
        .args(["serve", "--http", "127.0.0.1:0", "--repo"])
        .arg(format!("app={}", repo.display()))
        .args(extra)
        .env_remove("GITGATE_TOKEN")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("gitgate exited before listening")
            .unwrap();
        if let Some(rest) = line.strip_prefix("gitgate: serving MCP at ") {
            break rest.trim().to_owned();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    ServerProcess { child, url }
}

impl Session {
    /// Connects a fresh server over `transport` to the repository at `repo`.
    pub async fn start(transport: Transport, repo: &Path) -> Self {
        match transport {
            Transport::Stdio => {
                let repo_arg = format!("app={}", repo.display());
                let cmd = tokio::process::Command::new(BIN).configure(|c| {
                    c.args(["serve", "--stdio", "--repo", &repo_arg]);
                });
                let client = ().serve(TokioChildProcess::new(cmd).unwrap()).await.unwrap();
                Self {
                    client,
                    _server: None,
                }
            }
            Transport::Http => {
                let server = spawn_http(repo, &["--token", TOKEN]);
                let config = StreamableHttpClientTransportConfig::with_uri(server.url.clone())
                    .auth_header(TOKEN);
                let transport = StreamableHttpClientTransport::from_config(config);
                let client = ().serve(transport).await.unwrap();
                Self {
                    client,
                    _server: Some(server),
                }
            }
        }
    }

    /// Calls `name` with a JSON object of arguments.
    pub async fn call(&self, name: &str, args: Value) -> CallToolResult {
        let args: Map<String, Value> = match args {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        self.client
            .call_tool(CallToolRequestParams::new(name.to_owned()).with_arguments(args))
            .await
            .unwrap()
    }
}

/// The text of a result's first content block.
pub fn text(result: &CallToolResult) -> String {
    match result.content.first() {
        Some(ContentBlock::Text(t)) => t.text.clone(),
        other => panic!("expected text content, got {other:?}"),
    }
}

/// Both transports, for scenarios that must behave the same on each.
pub const TRANSPORTS: [Transport; 2] = [Transport::Stdio, Transport::Http];
