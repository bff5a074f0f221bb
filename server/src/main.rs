//! The `gitgate` binary: parses flags, builds the validated configuration, and runs a transport.

mod cli;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use gitgate::config::{self, FileConfig, RepoEntry};
use gitgate::git::Repos;
use gitgate::identity::{AuthMethod, Caller};
use gitgate::server::{AuditSetup, HttpSetup, Listener, Setup};
use gitgate::settings::layered;
use gitgate::tools::{Catalogue, Toolset};
use gitgate::transport;

/// mimalloc rather than glibc's malloc for Rust's allocations: under load glibc's malloc and
/// free took about 18% of the server's CPU (arena locks, consolidation across the tokio and
/// blocking threads); see the README's Load section for the figures side by side. C libraries
/// (libgit2, SQLite) keep glibc's malloc, which `memory.rs` still trims.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// gitgate: git and GitHub for AI agents, as MCP tools.
///
/// Serves configured local repositories over stdio (one local user) or Streamable HTTP (at /mcp,
/// authenticated per user). Git runs in process: nothing a repository configures (hooks,
/// fsmonitor, filters, textconv) is ever executed, and no tool reaches outside its repositories.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve MCP over stdio or Streamable HTTP.
    ///
    /// HTTP callers are users of the store (`gitgate users add/token`), authenticated per request
    /// by an API token or a JWT; stdio serves one local user. Every tool call, allowed, denied
    /// or failed, is written to the hash-chained audit log before the reply is sent.
    ///
    /// Every option can come from the config file (TOML), a flag, or an environment variable;
    /// flags and variables override the file. Example config:
    ///
    ///   store = "postgres://gitgate@db/gitgate"   # default sqlite://DATA_DIR/gitgate.db
    ///   data_dir = "/var/lib/gitgate"
    ///   audit_key_file = "/etc/gitgate/audit.key"
    ///   secret_key_file = "/etc/gitgate/secret.key"
    ///   audit_mirror = "/var/log/gitgate/audit.jsonl"
    ///   read_only = false
    ///   rate_limit_per_minute = 600
    ///   durable = false                           # true: audit survives power loss
    ///
    ///   [[repos]]
    ///   name = "app"
    ///   path = "/srv/app"
    ///
    ///   [user]              # the local user of --stdio
    ///   name = "alice"
    ///   git_name = "Alice Example"
    ///   git_email = "alice@example.com"
    ///   scopes = ["git:read", "git:write"]        # default admin
    ///   repos = ["app"]                           # default every repository
    ///
    ///   [http]
    ///   addr = "127.0.0.1:8080"
    ///   resource_url = "https://git.example.com/mcp"
    ///   authorization_servers = ["https://id.example.com"]
    ///   allowed_hosts = ["localhost", "127.0.0.1"]
    ///   allowed_origins = ["http://localhost:3000"]
    ///
    ///   [jwt]               # accept JWTs besides gitgate API tokens
    ///   issuer = "https://id.example.com"
    ///   audience = "https://git.example.com/mcp"  # default http.resource_url
    ///   hs256_secret_file = "/etc/gitgate/jwt.secret"
    ///   public_key_files = ["/etc/gitgate/idp.pem"]
    ///   jwks_file = "/etc/gitgate/jwks.json"
    #[command(verbatim_doc_comment)]
    Serve(Box<ServeArgs>),
    /// Manage users: their scopes, repository grants, API tokens and GitHub tokens.
    Users {
        #[command(flatten)]
        state: cli::StateArgs,
        #[command(subcommand)]
        command: cli::users::UsersCommand,
    },
    /// Query, verify and export the tamper-evident audit log.
    Audit {
        #[command(flatten)]
        state: cli::StateArgs,
        #[command(subcommand)]
        command: cli::audit::AuditCommand,
    },
    /// Print a new random 32-byte key as hex (for --secret-key-file or --audit-key-file).
    Keygen,
    /// Write the generated schemas (tools.json, tools/*.json, TOKENS.md, audit-event.schema.json).
    Schemas {
        /// Directory to write into (the repository keeps them in schemas/).
        #[arg(long, default_value = "schemas")]
        out: PathBuf,
        /// Only check that the directory matches; exit 1 if it does not.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("transport").required(true).args(["stdio", "http"])))]
struct ServeArgs {
    /// Serve one local user on stdin/stdout.
    #[arg(long)]
    stdio: bool,
    /// Serve Streamable HTTP on this address (MCP endpoint at /mcp).
    #[arg(long, value_name = "ADDR", env = "GITGATE_HTTP_ADDR", num_args = 0..=1, default_missing_value = "")]
    http: Option<String>,
    /// A repository to serve: PATH (named after its directory) or NAME=PATH. Repeatable; adds to
    /// the config's [[repos]]. GITGATE_REPOS takes a comma-separated list.
    #[arg(
        long = "repo",
        value_name = "[NAME=]PATH",
        env = "GITGATE_REPOS",
        value_delimiter = ','
    )]
    repos: Vec<String>,
    /// Serve HTTP without authentication: local development and conformance runs only. Refused
    /// on any address that is not loopback.
    #[arg(long, env = "GITGATE_NO_AUTH")]
    no_auth: bool,
    /// Accepted Host header values (DNS-rebinding protection); default the loopback names.
    #[arg(
        long = "allowed-host",
        value_name = "HOST",
        env = "GITGATE_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    allowed_hosts: Vec<String>,
    /// Accepted browser Origins (scheme://host[:port], port may be *); requests with another
    /// Origin get 403. Default: loopback origins on any port.
    #[arg(
        long = "allowed-origin",
        value_name = "ORIGIN",
        env = "GITGATE_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    allowed_origins: Vec<String>,
    /// Also serve /metrics, /healthz and /readyz on this IP:PORT, without a token: bind it to a
    /// private interface your Prometheus reaches (with --http only).
    #[arg(long, value_name = "IP:PORT", env = "GITGATE_METRICS_LISTEN")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// A file holding a token that opens /metrics on the MCP listener too (as
    /// `Authorization: Bearer TOKEN`); without it /metrics exists only on --metrics-listen.
    #[arg(long, value_name = "PATH", env = "GITGATE_METRICS_TOKEN_FILE")]
    metrics_token_file: Option<PathBuf>,
    /// The user name of the local (stdio) caller; default [user].name, else "local".
    #[arg(long, env = "GITGATE_USER")]
    user: Option<String>,
    /// Commit author name; default [user].git_name, else the first repository's user.name.
    #[arg(long, env = "GITGATE_GIT_NAME")]
    git_name: Option<String>,
    /// Commit author email; default [user].git_email, else the first repository's user.email.
    #[arg(long, env = "GITGATE_GIT_EMAIL")]
    git_email: Option<String>,
    /// Refuse every write tool for every user (a server-wide switch).
    #[arg(long, env = "GITGATE_READ_ONLY")]
    read_only: bool,
    /// Calls per minute per user unless the user has their own limit (default: unlimited).
    #[arg(long, value_name = "N", env = "GITGATE_RATE_LIMIT")]
    rate_limit: Option<u32>,
    /// Calls one user may have running at once; past it a call is refused at once ("wait for
    /// one to finish"), never queued behind the user's own burst.
    #[arg(long, value_name = "N", env = "GITGATE_MAX_CALLS_PER_USER", default_value_t = gitgate::policy::concurrency_defaults().0, value_parser = clap::value_parser!(u32).range(1..))]
    max_calls_per_user: u32,
    /// Calls the server runs at once over all users; past it a call is refused with "retry in
    /// a moment".
    #[arg(long, value_name = "N", env = "GITGATE_MAX_CALLS", default_value_t = gitgate::policy::concurrency_defaults().1, value_parser = clap::value_parser!(u32).range(1..))]
    max_calls: u32,
    /// Also append every audit event to this JSON Lines file (for a SIEM).
    #[arg(long, value_name = "FILE", env = "GITGATE_AUDIT_MIRROR")]
    audit_mirror: Option<PathBuf>,
    /// This server's canonical MCP URL, the OAuth protected resource that tokens are issued
    /// for (default http://ADDR/mcp); also the default JWT audience.
    #[arg(long, value_name = "URL", env = "GITGATE_RESOURCE_URL")]
    resource_url: Option<String>,
    /// An authorization server issuing tokens for this server (repeatable; published in
    /// /.well-known/oauth-protected-resource).
    #[arg(
        long = "authorization-server",
        value_name = "URL",
        env = "GITGATE_AUTHORIZATION_SERVERS",
        value_delimiter = ','
    )]
    authorization_servers: Vec<String>,
    /// GitHub API base: https://api.github.com, https://HOST/api/v3 (GitHub Enterprise Server)
    /// or a gitgate-forge address. Switches the github toolset on. Each user's own GitHub token
    /// is used: on HTTP the one stored with `gitgate users set-github-token`, on stdio
    /// GITHUB_TOKEN or GH_TOKEN.
    #[arg(long, value_name = "URL", env = "GITGATE_GITHUB_URL")]
    github_url: Option<String>,
    /// OWNER/NAME used by GitHub tools called without `repo`.
    #[arg(long, value_name = "OWNER/NAME", env = "GITGATE_GITHUB_REPO")]
    github_repo: Option<String>,
    /// Where git is served for git_fetch, git_pull and git_push, when not derived from
    /// --github-url (api.github.com serves git at https://github.com, HOST/api/v3 at
    /// https://HOST). Remotes must point here.
    #[arg(long, value_name = "URL", env = "GITGATE_GITHUB_GIT_URL")]
    github_git_url: Option<String>,

    /// Toolsets to offer: git, github, actions, meta (comma-separated). Default: git and meta,
    /// plus github and actions (CI checks, workflow runs and logs) when a GitHub URL is
    /// configured. `--toolsets github` alone talks to api.github.com. meta is the `gitgate` tool
    /// (command lines, jq filters, pipelines); with it, tools/list leaves out the less used tools
    /// (git_stash, git_tag, git_reset, git_rm, git_mv, git_delete_branch, git_merge_base,
    /// gh_pr_commits, gh_file, gh_commits), which stay callable by name and through it; without
    /// it, tools/list offers every tool of the toolsets.
    #[arg(
        long,
        value_name = "LIST",
        env = "GITGATE_TOOLSETS",
        value_delimiter = ','
    )]
    toolsets: Vec<String>,
    /// Lean mode: tools/list offers one small `gitgate` tool through which every other tool is
    /// called (with jq filters and server-side pipelines); signatures and schemas on demand.
    #[arg(long, env = "GITGATE_LEAN")]
    lean: bool,
    /// Offer only these tools (comma-separated names), within the toolsets; each is listed in
    /// tools/list (name `gitgate` too to keep the meta tool).
    #[arg(
        long,
        value_name = "LIST",
        env = "GITGATE_TOOLS",
        value_delimiter = ','
    )]
    tools: Vec<String>,
    /// Benchmarks and tests: every commit gets this author and committer time (seconds since
    /// the Unix epoch), so runs give identical commit ids.
    #[arg(long, value_name = "SECS", env = "GITGATE_COMMIT_TIME", hide = true)]
    commit_time: Option<i64>,
    /// Commit each call's audit event to the store before replying, instead of spooling it
    /// (one file write, chained into the store moments later; see README "Audit spool"). Costs
    /// about 40 us more per call on SQLite; for tools that read the SQLite file directly.
    /// PostgreSQL stores and --durable always commit per call.
    #[arg(long, env = "GITGATE_NO_AUDIT_SPOOL")]
    no_audit_spool: bool,
    /// Development only, with --stdio or --no-auth: write no audit events (used to measure
    /// their cost).
    #[arg(long, hide = true)]
    no_audit: bool,
    #[command(flatten)]
    state: cli::StateArgs,
    // Last: its help heading applies to every flag after it.
    #[command(flatten)]
    limits: HttpLimitArgs,
}

/// Abuse limits of the HTTP transport. Refusals past a limit are audited once per minute per
/// address or user, with a count, so a flood cannot flood the log.
#[derive(Debug, Args)]
#[command(next_help_heading = "HTTP limits")]
struct HttpLimitArgs {
    /// Failed requests (bad or missing token, refused Host or Origin, unknown or foreign
    /// session) allowed per client address (IPv4 address or IPv6 /64) per minute; past them
    /// every request from that address gets 429 with Retry-After, before any token lookup.
    #[arg(long, value_name = "N", env = "GITGATE_AUTH_FAILURES_PER_MINUTE", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..))]
    auth_failures_per_minute: u32,
    /// Failed requests an address may make in a burst before the per-minute rate applies.
    #[arg(long, value_name = "N", env = "GITGATE_AUTH_FAILURE_BURST", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..))]
    auth_failure_burst: u32,
    /// MCP sessions one user may hold open; the next initialize gets 429 until one is closed
    /// (HTTP DELETE) or expires (5 minutes idle).
    #[arg(long, value_name = "N", env = "GITGATE_MAX_SESSIONS_PER_USER", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_sessions_per_user: u32,
    /// New MCP sessions (initialize) per user per minute (also the burst).
    #[arg(long, value_name = "N", env = "GITGATE_INITIALIZE_PER_MINUTE", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    initialize_per_minute: u32,
    /// Seconds a client has to send a request's headers, counted from the moment the
    /// connection waits for them (just opened, or idle between keep-alive requests).
    #[arg(long, value_name = "SECS", env = "GITGATE_HEADER_TIMEOUT", default_value_t = 10.0,
          value_parser = positive_seconds)]
    header_timeout: f64,
    /// Seconds without a byte moving either way after which a connection is closed (a stalled
    /// upload, a client that stopped reading); streams send a keep-alive well within it.
    #[arg(long, value_name = "SECS", env = "GITGATE_IDLE_TIMEOUT", default_value_t = 60.0,
          value_parser = positive_seconds)]
    idle_timeout: f64,
    /// Connections open at once, from everyone; more are answered 503 and closed. Capped
    /// below the process's file-descriptor limit.
    #[arg(long, value_name = "N", env = "GITGATE_MAX_CONNECTIONS", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Connections open at once from one client address (IPv4 address or IPv6 /64).
    #[arg(long, value_name = "N", env = "GITGATE_MAX_CONNECTIONS_PER_ADDRESS",
          default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections_per_address: u32,
    /// On SIGTERM or Ctrl-C (HTTP and stdio): seconds that calls in flight get to finish and be
    /// answered, while no new connection or line is taken. Calls still running then get no
    /// answer, and one that has not finished 2 s later has no audit event either. Keep it below
    /// the supervisor's own grace period (`docker stop --time`, compose `stop_grace_period`,
    /// systemd `TimeoutStopSec`).
    #[arg(long, value_name = "SECS", env = "GITGATE_SHUTDOWN_TIMEOUT", default_value_t = 25.0,
          value_parser = positive_seconds)]
    shutdown_timeout: f64,
}

/// A positive, finite number of seconds, at most a day.
fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs <= 86_400.0 => Ok(secs),
        _ => Err(format!(
            "'{text}' is not a number of seconds between 0 and 86400"
        )),
    }
}

impl HttpLimitArgs {
    /// The transport's limits; connections capped so that the server keeps file descriptors
    /// for its store, spool and repositories when the cap is reached.
    fn limits(&self) -> transport::http::Limits {
        let fd_cap = raise_fd_limit().map_or(usize::MAX, |n| {
            usize::try_from(n.saturating_sub(FDS_KEPT)).unwrap_or(usize::MAX)
        });
        let wanted = self.max_connections as usize;
        let max_total = wanted.min(fd_cap).max(1);
        if max_total < wanted {
            tracing::warn!(
                wanted,
                max_total,
                "--max-connections lowered to fit the file-descriptor limit (ulimit -n)"
            );
        }
        transport::http::Limits {
            failures: gitgate::transport::throttle::Rate {
                per_minute: self.auth_failures_per_minute,
                burst: self.auth_failure_burst,
            },
            initialize: gitgate::transport::throttle::Rate {
                per_minute: self.initialize_per_minute,
                burst: self.initialize_per_minute,
            },
            sessions_per_user: self.max_sessions_per_user as usize,
            connections: gitgate::transport::connections::Limits {
                max_total,
                max_per_address: self.max_connections_per_address as usize,
                header_timeout: std::time::Duration::from_secs_f64(self.header_timeout),
                idle_timeout: std::time::Duration::from_secs_f64(self.idle_timeout),
                drain_timeout: std::time::Duration::from_secs_f64(self.shutdown_timeout),
            },
        }
    }
}

/// File descriptors kept out of the connection cap: the store, its WAL and spool, the audit
/// mirror, repositories' pack files, outgoing GitHub connections.
const FDS_KEPT: u64 = 128;

/// Raises the soft file-descriptor limit to the hard one (the default soft limit, often 1024,
/// would be reached before the connection cap) and returns the limit now in force.
fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_some() && limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => return limit.maximum,
            Err(e) => tracing::warn!(error = %e, "cannot raise the file-descriptor limit"),
        }
    }
    limit.current
}

fn main() -> ExitCode {
    gitgate::memory::disable_transparent_huge_pages();
    // A jq worker is this binary started by the server's sandbox with an empty environment;
    // it must do nothing else (no flags, no tracing, no store), so it is dispatched first.
    if std::env::args_os().nth(1).as_deref() == Some(gitgate::jq::worker::SUBCOMMAND.as_ref()) {
        let args: Vec<String> = std::env::args_os()
            .skip(2)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        return gitgate::jq::worker::main(&args);
    }
    let cli = Cli::parse();
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    // Traces only when the OTEL_* variables ask for them (see gitgate::telemetry).
    let traces = match gitgate::telemetry::provider() {
        Ok(traces) => traces,
        Err(e) => {
            eprintln!("gitgate: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Diagnostics go to stderr: stdout carries the MCP protocol on stdio. Colours only on a
    // terminal: a log file or journald would keep the escape codes as text.
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(
            tracing_subscriber::EnvFilter::try_from_env("GITGATE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        );
    let spans = traces.as_ref().map(|provider| {
        gitgate::telemetry::layer(provider).with_filter(
            tracing_subscriber::filter::Targets::new().with_target("gitgate", tracing::Level::INFO),
        )
    });
    tracing_subscriber::registry().with(log).with(spans).init();
    let code = match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gitgate: {e:#}");
            ExitCode::FAILURE
        }
    };
    // The last spans go out before the process ends.
    if let Some(provider) = traces {
        let _ = provider.shutdown();
    }
    code
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Schemas { out, check } => {
            let catalogue = Catalogue::new();
            if check {
                gitgate::schemas::check(&catalogue, &out)?;
                println!("{} is up to date", out.display());
            } else {
                for path in gitgate::schemas::write(&catalogue, &out)? {
                    println!("wrote {}", path.display());
                }
            }
            Ok(())
        }
        Command::Serve(args) => serve(*args),
        Command::Users { state, command } => {
            admin_runtime()?.block_on(cli::users::run(&state.resolved()?, command))
        }
        Command::Audit { state, command } => {
            admin_runtime()?.block_on(cli::audit::run(&state.resolved()?, command))
        }
        Command::Keygen => {
            println!("{}", gitgate::secrets::SecretKey::generate_hex());
            Ok(())
        }
    }
}

fn admin_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn serve(args: ServeArgs) -> Result<()> {
    let file = args.state.file()?;
    let mut repos: Vec<RepoEntry> = file.repos.clone();
    for flag in &args.repos {
        repos.push(config::parse_repo_flag(flag)?);
    }
    config::validate_repos(&repos)?;
    // Opened again by the server; opened here first so a bad repository fails before the
    // runtime and the store are started.
    Repos::open(repos.iter().map(|r| (r.name.as_str(), r.path.as_path())))
        .context("opening the configured repositories")?;
    let state = args.state.config().over_file(&file);
    if let Some(secs) = args.commit_time {
        gitgate::git::pin_commit_time(secs);
    }
    if args.no_audit && !(args.no_auth || args.stdio) {
        bail!("--no-audit is a development switch: only with --stdio or --no-auth");
    }

    let runtime = if args.stdio {
        // One client on one pipe: a single-threaded reactor avoids cross-thread wake-ups on
        // every message; git work still runs on the blocking pool.
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Runtime::new()
    }
    .context("starting the async runtime")?;

    let local = local_caller(&args, &file, &repos)?;
    let tools = ToolChoice::new(&args, &file)?;
    let setup = Setup {
        repos,
        state,
        catalogue: tools.catalogue,
        github: tools.github,
        read_only: args.read_only || file.read_only,
        protect: file.protect.iter().map(|p| p.branch.clone()).collect(),
        rate_limit: layered(args.rate_limit, file.rate_limit_per_minute),
        call_slots: (args.max_calls_per_user as usize, args.max_calls as usize),
        local,
        audit: AuditSetup {
            disabled: args.no_audit,
            no_spool: args.no_audit_spool,
            mirror: layered(args.audit_mirror.clone(), file.audit_mirror.clone()),
        },
        http: http_setup(&args, &file)?,
    };
    let served = runtime.block_on(async move {
        let listener = if args.stdio {
            Listener::Stdio
        } else {
            let addr = http_addr(&args, &file)?;
            if args.no_auth && !addr.ip().is_loopback() {
                return Err(config::Error::NoAuthNotLoopback(addr).into());
            }
            Listener::Http(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr}"))?,
            )
        };
        gitgate::server::run(setup, listener, gitgate::server::shutdown_signal())
            .await
            .map_err(anyhow::Error::from)
    });
    // Everything the server owns is finished and its audit chained by now. What may still hold
    // a blocking thread is a read of a terminal or file stdin, which no signal interrupts;
    // dropping the runtime would wait for it forever.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    served
}

/// The `--http` address, or `http.addr` of the config file.
fn http_addr(args: &ServeArgs, file: &FileConfig) -> Result<SocketAddr> {
    let addr_text = match args.http.as_deref() {
        Some("") | None => file.http.addr.map(|a| a.to_string()),
        Some(a) => Some(a.to_owned()),
    };
    let Some(addr_text) = addr_text else {
        bail!("--http needs an address (e.g. 127.0.0.1:8080), or set http.addr in the config");
    };
    addr_text
        .parse()
        .with_context(|| format!("--http '{addr_text}' is not an IP:PORT address"))
}

/// The HTTP side of the setup: flags win over the file; lists from flags replace the file's.
fn http_setup(args: &ServeArgs, file: &FileConfig) -> Result<HttpSetup> {
    let allowed_hosts = if !args.allowed_hosts.is_empty() {
        args.allowed_hosts.clone()
    } else {
        file.http
            .allowed_hosts
            .clone()
            .unwrap_or_else(transport::http::loopback_hosts)
    };
    let allowed_origins = if !args.allowed_origins.is_empty() {
        args.allowed_origins.clone()
    } else {
        file.http
            .allowed_origins
            .clone()
            .unwrap_or_else(transport::http::loopback_origins)
    };
    let mut authorization_servers = args.authorization_servers.clone();
    authorization_servers.extend(file.http.authorization_servers.iter().cloned());
    let metrics_token = match &args.metrics_token_file {
        Some(path) => {
            let token = std::fs::read_to_string(path)
                .with_context(|| format!("reading --metrics-token-file {}", path.display()))?;
            let token = token.trim().to_owned();
            if token.len() < 16 {
                anyhow::bail!(
                    "--metrics-token-file {}: the token must be at least 16 characters",
                    path.display()
                );
            }
            Some(token)
        }
        None => None,
    };
    Ok(HttpSetup {
        no_auth: args.no_auth,
        resource_url: layered(args.resource_url.clone(), file.http.resource_url.clone()),
        jwt: file.jwt.clone(),
        authorization_servers,
        allowed_hosts,
        allowed_origins,
        limits: args.limits.limits(),
        metrics_listen: args.metrics_listen,
        metrics_token,
    })
}

/// Which tools this server offers, and the GitHub configuration when the github toolset is on.
struct ToolChoice {
    catalogue: Catalogue,
    github: Option<gitgate::github::GithubConfig>,
}

impl ToolChoice {
    fn new(args: &ServeArgs, file: &FileConfig) -> Result<Self> {
        let section = file.github.clone().unwrap_or_default();
        let base_url = layered(args.github_url.clone(), section.base_url.clone());
        let named: Vec<String> = if !args.toolsets.is_empty() {
            args.toolsets.clone()
        } else {
            file.toolsets.clone().unwrap_or_default()
        };
        let mut toolsets = named
            .iter()
            .filter(|t| !t.trim().is_empty())
            .map(|t| Toolset::parse(t).map_err(anyhow::Error::msg))
            .collect::<Result<Vec<_>>>()
            .context("--toolsets")?;
        if toolsets.is_empty() {
            toolsets.push(Toolset::Git);
            if base_url.is_some() || file.github.is_some() {
                toolsets.push(Toolset::Github);
                toolsets.push(Toolset::Actions);
            }
            toolsets.push(Toolset::Meta);
        }
        let only: Vec<String> = if !args.tools.is_empty() {
            args.tools.clone()
        } else {
            file.tools.clone().unwrap_or_default()
        };
        let only: Vec<String> = only
            .into_iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        let mut catalogue = Catalogue::select(&toolsets, (!only.is_empty()).then_some(&only[..]))
            .map_err(anyhow::Error::msg)
            .context("--tools")?;
        if args.lean || file.lean {
            catalogue = catalogue.lean();
        }
        let github = if toolsets.contains(&Toolset::Github) || toolsets.contains(&Toolset::Actions)
        {
            let mut config = gitgate::github::GithubConfig::default();
            if let Some(url) = base_url {
                config.base_url = url.trim_end_matches('/').to_owned();
            }
            if let Some(secs) = section.timeout_secs {
                config.timeout = std::time::Duration::from_secs(secs.max(1));
            }
            config.default_repo = layered(args.github_repo.clone(), section.default_repo);
            config.git_url = layered(args.github_git_url.clone(), section.git_url);
            if let Some(repo) = &config.default_repo {
                gitgate::github::check_repo_name(repo)?;
            }
            Some(config)
        } else {
            None
        };
        Ok(Self { catalogue, github })
    }
}

/// The stdio user (and the `--no-auth` caller): name and identity from flags or `[user]`, scopes
/// and grants from `[user]`, by default everything on every configured repository.
fn local_caller(args: &ServeArgs, file: &FileConfig, repos: &[RepoEntry]) -> Result<Caller> {
    let mut user = file.user.clone().unwrap_or_default();
    if args.user.is_some() {
        user.name = args.user.clone();
    }
    if args.git_name.is_some() {
        user.git_name = args.git_name.clone();
    }
    if args.git_email.is_some() {
        user.git_email = args.git_email.clone();
    }
    let first = repos
        .first()
        .and_then(|r| git2::Repository::open(&r.path).ok());
    let identity = config::local_identity(Some(&user), first.as_ref());
    let scopes = match &user.scopes {
        Some(list) => gitgate::policy::parse_scopes(&list.join(" ")).context("[user].scopes")?,
        None => [gitgate::policy::Scope::Admin].into_iter().collect(),
    };
    let grants = match &user.repos {
        Some(globs) => gitgate::policy::Grants::new(globs.iter()).context("[user].repos")?,
        None => gitgate::policy::Grants::all(),
    };
    Ok(Caller {
        identity,
        auth: AuthMethod::Local,
        principal: gitgate::policy::Principal {
            user: user.name.clone().unwrap_or_else(|| "local".to_owned()),
            scopes,
            grants,
            rate_limit_per_minute: None,
        },
    })
}
