//! Test scaffolding: a fixture repository, and the gitgate binary started on stdio or HTTP.

use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{ConfigureCommandExt, StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Map, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_gitgate");

/// A test's world: a repository and a data directory (store, audit key) of its own.
pub struct Env {
    pub repo: tempfile::TempDir,
    pub data: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Self {
            repo: fixture_repo(),
            data: tempfile::tempdir().unwrap(),
        }
    }

    /// `--data-dir` for every gitgate command of this test.
    pub fn data_dir(&self) -> String {
        self.data.path().display().to_string()
    }

    pub fn state(&self) -> gitgate::settings::StateConfig {
        gitgate::settings::StateConfig {
            data_dir: Some(self.data.path().to_owned()),
            ..Default::default()
        }
    }

    /// The store the servers of this test use.
    pub async fn store(&self) -> gitgate::store::Store {
        self.state().open_store().await.unwrap()
    }

    /// Adds a user with these scopes and grants and returns a fresh API token for them.
    pub async fn user(&self, name: &str, scopes: &str, repos: &[&str]) -> String {
        let store = self.store().await;
        let scopes: Vec<String> = scopes.split_whitespace().map(str::to_owned).collect();
        let repos: Vec<String> = repos.iter().map(|r| r.to_string()).collect();
        if store.get_user(name).await.unwrap().is_none() {
            store.add_user(name, &scopes, &repos, None).await.unwrap();
        }
        store.issue_token(name).await.unwrap().1
    }

    /// Audit events so far, oldest first.
    pub async fn audit(&self) -> Vec<gitgate::audit::AuditEvent> {
        let log = gitgate::audit::Log::new(self.store().await);
        log.query(&gitgate::audit::AuditFilter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect()
    }
}

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
    pub _server: Option<ServerProcess>,
}

/// A gitgate HTTP server child process, killed on drop.
pub struct ServerProcess {
    pub child: Child,
    pub url: String,
    /// What the server printed on stderr before it served (e.g. its metrics address).
    pub startup: Vec<String>,
}

impl ServerProcess {
    /// The server's process id (for /proc readings).
    /// The address it listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.url
            .trim_start_matches("http://")
            .trim_end_matches("/mcp")
            .parse()
            .unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the server process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Sends SIGTERM (as `systemctl stop` and `docker stop` do) and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `gitgate serve --http 127.0.0.1:0 --repo app=REPO --data-dir DATA ...extra` and waits
/// for the address it prints.
pub fn spawn_http(env: &Env, extra: &[&str]) -> ServerProcess {
    spawn_http_with_vars(env, extra, &[])
}

/// [`spawn_http`] with extra environment variables (keys, as deployments pass them).
pub fn spawn_http_with_vars(env: &Env, extra: &[&str], vars: &[(&str, &str)]) -> ServerProcess {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--data-dir",
            &env.data_dir(),
            "--repo",
        ])
        .arg(format!("app={}", env.repo.path().display()))
        .args(extra)
        .envs(vars.iter().copied())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut startup = Vec::new();
    let url = loop {
        let line = lines
            .next()
            .expect("gitgate exited before listening")
            .unwrap();
        if let Some(rest) = line.strip_prefix("gitgate: serving MCP at ") {
            break rest.trim().to_owned();
        }
        startup.push(line);
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    ServerProcess {
        child,
        url,
        startup,
    }
}

impl Session {
    /// Connects a fresh server over `transport` to the test's repository; on HTTP as an admin
    /// user `alice` with a grant on every repository.
    pub async fn start(transport: Transport, env: &Env) -> Self {
        match transport {
            Transport::Stdio => Self::stdio(env, &[]).await,
            Transport::Http => {
                let token = env.user("alice", "admin", &["**"]).await;
                let server = spawn_http(env, &[]);
                let client = connect_http(&server.url, &token).await.unwrap();
                Self {
                    client,
                    _server: Some(server),
                }
            }
        }
    }

    /// A stdio server with extra flags.
    pub async fn stdio(env: &Env, extra: &[&str]) -> Self {
        let repo_arg = format!("app={}", env.repo.path().display());
        let data = env.data_dir();
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let cmd = tokio::process::Command::new(BIN).configure(|c| {
            c.args(["serve", "--stdio", "--data-dir", &data, "--repo", &repo_arg])
                .args(&extra);
        });
        let client = ().serve(TokioChildProcess::new(cmd).unwrap()).await.unwrap();
        Self {
            client,
            _server: None,
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

/// The names `tools/list` gives `client`, in order.
pub async fn tool_names(client: &Client) -> Vec<String> {
    client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect()
}

/// An MCP client over Streamable HTTP sending `token` as its bearer.
pub async fn connect_http(
    url: &str,
    token: &str,
) -> Result<Client, rmcp::service::ClientInitializeError> {
    let config =
        StreamableHttpClientTransportConfig::with_uri(url.to_owned()).auth_header(token.to_owned());
    ().serve(StreamableHttpClientTransport::from_config(config))
        .await
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

/// A JWT issuer configured for the test's server (HS256 with `secret`, issuer
/// `https://id.test`, audience `http://gitgate.test/mcp`); returns the config file's path.
pub fn jwt_config(env: &Env, secret: &str) -> std::path::PathBuf {
    let secret_file = env.data.path().join("jwt.secret");
    std::fs::write(&secret_file, secret).unwrap();
    let config = env.data.path().join("gitgate.toml");
    std::fs::write(
        &config,
        format!(
            "[http]\nresource_url = 'http://gitgate.test/mcp'\n[jwt]\nissuer = 'https://id.test'\nhs256_secret_file = '{}'\n",
            secret_file.display()
        ),
    )
    .unwrap();
    config
}

/// An `initialize` request as a raw JSON-RPC line.
pub const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e","version":"0"}}}"#;

/// One user's MCP session over raw HTTP requests (for tests that need to control each POST).
pub struct Caller {
    http: reqwest::Client,
    auth: String,
    session: String,
}

impl Caller {
    /// Opens a session for `token`, as a client does (initialize, then initialized).
    pub async fn open(server: &ServerProcess, token: &str) -> Self {
        let http = reqwest::Client::new();
        let auth = format!("Bearer {token}");
        let resp = send(&http, server, &auth, None, INIT).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let session = resp.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let caller = Self {
            http,
            auth,
            session,
        };
        let done = caller
            .post(
                server,
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            )
            .await;
        assert_eq!(done.status(), StatusCode::ACCEPTED);
        caller
    }

    pub async fn post(&self, server: &ServerProcess, body: &str) -> reqwest::Response {
        send(&self.http, server, &self.auth, Some(&self.session), body).await
    }
}

/// POSTs `body` as `auth`, in `session` if given.
pub async fn send(
    http: &reqwest::Client,
    server: &ServerProcess,
    auth: &str,
    session: Option<&str>,
    body: &str,
) -> reqwest::Response {
    let mut req = http
        .post(&server.url)
        .header("authorization", auth)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .body(body.to_owned());
    if let Some(session) = session {
        req = req.header("mcp-session-id", session);
    }
    req.send().await.unwrap()
}

/// The JSON-RPC message of an answer, whether sent as JSON or as server-sent events.
pub async fn message(resp: reqwest::Response) -> Value {
    let text = resp.text().await.unwrap();
    let json = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .find(|l| l.starts_with('{'))
        .unwrap_or(&text);
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// `gitgate serve --stdio` on pipes, spoken to line by line (for tests of the transport itself,
/// where an MCP client would hide what goes over the wire).
pub struct RawStdio {
    pub child: Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl RawStdio {
    /// Serves `env`'s repository as `app`, with `extra` flags; stderr piped when `log`.
    pub fn spawn(env: &Env, extra: &[&str], log: bool) -> Self {
        let mut child = Command::new(BIN)
            .args(["serve", "--stdio", "--data-dir", &env.data_dir()])
            .args(extra)
            .arg("--repo")
            .arg(format!("app={}", env.repo.path().display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if log { Stdio::piped() } else { Stdio::null() })
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            stdin,
            stdout,
        }
    }

    /// Writes `lines` and a newline.
    pub fn send(&mut self, lines: &str) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{lines}").unwrap();
    }

    /// The next line the server wrote, as JSON.
    pub fn answer(&mut self) -> Value {
        use std::io::BufRead;
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }

    /// Closes stdin, as a client ending the session does, and waits for the exit.
    pub fn close(&mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        self.child.wait().unwrap()
    }
}
