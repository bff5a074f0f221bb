//! The `gitgate` binary: parses flags, builds the validated configuration, and runs a transport.

mod cli;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use gitgate::config::{self, FileConfig, RepoEntry};
use gitgate::git::Repos;
use gitgate::identity::{AuthMethod, Authenticator, Caller};
use gitgate::service::GitGate;
use gitgate::tools::{Backends, Catalogue};
use gitgate::transport;

/// gitgate: git and GitHub for AI agents, as MCP tools.
///
/// Serves configured local repositories over stdio (one local user) or Streamable HTTP (at /mcp,
/// bearer-token authenticated). Git runs in process: nothing a repository configures (hooks,
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
    /// Every option can come from the config file (TOML), a flag, or an environment variable;
    /// flags and variables override the file. Example config:
    ///
    ///   [[repos]]
    ///   name = "app"
    ///   path = "/srv/app"
    ///
    ///   [user]              # the local user (stdio) and the static token's user (HTTP)
    ///   name = "alice"
    ///   git_name = "Alice Example"
    ///   git_email = "alice@example.com"
    ///
    ///   [http]
    ///   addr = "127.0.0.1:8080"
    ///   token_file = "/etc/gitgate/token"     # or token = "..."
    ///   allowed_hosts = ["localhost", "127.0.0.1"]
    ///   allowed_origins = ["http://localhost:3000"]
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
    /// Write the tool schemas (tools.json, tools/*.json, TOKENS.md) to a directory.
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
    /// TOML configuration file.
    #[arg(long, value_name = "FILE", env = "GITGATE_CONFIG")]
    config: Option<PathBuf>,
    /// A repository to serve: PATH (named after its directory) or NAME=PATH. Repeatable; adds to
    /// the config's [[repos]]. GITGATE_REPOS takes a comma-separated list.
    #[arg(
        long = "repo",
        value_name = "[NAME=]PATH",
        env = "GITGATE_REPOS",
        value_delimiter = ','
    )]
    repos: Vec<String>,
    /// The bearer token HTTP clients must send (overrides http.token).
    #[arg(long, env = "GITGATE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Read the bearer token from this file (overrides http.token_file).
    #[arg(long, value_name = "FILE", env = "GITGATE_TOKEN_FILE")]
    token_file: Option<PathBuf>,
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
    /// The user name of the local (stdio) or static-token (HTTP) caller; default "local".
    #[arg(long, env = "GITGATE_USER")]
    user: Option<String>,
    /// Commit author name; default [user].git_name, else the first repository's user.name.
    #[arg(long, env = "GITGATE_GIT_NAME")]
    git_name: Option<String>,
    /// Commit author email; default [user].git_email, else the first repository's user.email.
    #[arg(long, env = "GITGATE_GIT_EMAIL")]
    git_email: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Diagnostics go to stderr: stdout carries the MCP protocol on stdio.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GITGATE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gitgate: {e:#}");
            ExitCode::FAILURE
        }
    }
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
        Command::Users { state, command } => admin_runtime()?.block_on(cli::users::run(&state.config(), command)),
        Command::Audit { state, command } => admin_runtime()?.block_on(cli::audit::run(&state.config(), command)),
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
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let mut repos: Vec<RepoEntry> = file.repos.clone();
    for flag in &args.repos {
        repos.push(config::parse_repo_flag(flag)?);
    }
    config::validate_repos(&repos)?;
    let opened = Repos::open(repos.iter().map(|r| (r.name.as_str(), r.path.as_path())))
        .context("opening the configured repositories")?;
    let first = repos
        .first()
        .and_then(|r| git2::Repository::open(&r.path).ok());
    let mut user = file.user.clone().unwrap_or(config::UserEntry {
        name: None,
        git_name: None,
        git_email: None,
    });
    if args.user.is_some() {
        user.name = args.user.clone();
    }
    if args.git_name.is_some() {
        user.git_name = args.git_name.clone();
    }
    if args.git_email.is_some() {
        user.git_email = args.git_email.clone();
    }
    let identity = config::local_identity(Some(&user), first.as_ref());
    let user_name = user.name.clone().unwrap_or_else(|| "local".to_owned());
    let backends = Arc::new(Backends { repos: opened });
    let catalogue = Arc::new(Catalogue::new());

    if args.stdio {
        // One client on one pipe: a single-threaded reactor avoids cross-thread wake-ups on
        // every message; git work still runs on the blocking pool.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let caller = Caller {
            user: user_name,
            identity,
            auth: AuthMethod::Local,
        };
        let gate = GitGate::new(backends, catalogue, Some(caller));
        return runtime
            .block_on(transport::stdio::serve(gate))
            .map_err(Into::into);
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;

    let addr_text = match args.http.as_deref() {
        Some("") | None => file.http.addr.map(|a| a.to_string()),
        Some(a) => Some(a.to_owned()),
    };
    let Some(addr_text) = addr_text else {
        bail!("--http needs an address (e.g. 127.0.0.1:8080), or set http.addr in the config");
    };
    let addr: SocketAddr = addr_text
        .parse()
        .with_context(|| format!("--http '{addr_text}' is not an IP:PORT address"))?;
    let authenticator = if args.no_auth {
        if !addr.ip().is_loopback() {
            return Err(config::Error::NoAuthNotLoopback(addr).into());
        }
        Authenticator::NoAuth {
            caller: Caller {
                user: user_name,
                identity,
                auth: AuthMethod::None,
            },
        }
    } else {
        let token = match (
            args.token,
            args.token_file.or(file.http.token_file.clone()),
            file.http.token.clone(),
        ) {
            (Some(t), _, _) => t,
            (None, Some(path), _) => std::fs::read_to_string(&path)
                .map_err(|source| config::Error::TokenFile { path, source })?
                .trim()
                .to_owned(),
            (None, None, Some(t)) => t,
            (None, None, None) => return Err(config::Error::NoToken.into()),
        };
        if token.is_empty() {
            return Err(config::Error::NoToken.into());
        }
        Authenticator::StaticToken {
            token,
            caller: Caller {
                user: user_name,
                identity,
                auth: AuthMethod::StaticToken,
            },
        }
    };
    let allowed_hosts = if !args.allowed_hosts.is_empty() {
        args.allowed_hosts
    } else {
        file.http
            .allowed_hosts
            .clone()
            .unwrap_or_else(transport::http::loopback_hosts)
    };
    let allowed_origins = if !args.allowed_origins.is_empty() {
        args.allowed_origins
    } else {
        file.http
            .allowed_origins
            .clone()
            .unwrap_or_else(transport::http::loopback_origins)
    };
    let options = transport::http::Options {
        authenticator,
        allowed_hosts,
        allowed_origins,
    };
    let gate = GitGate::new(backends, catalogue, None);
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let bound = listener.local_addr().context("reading the bound address")?;
        eprintln!("gitgate: serving MCP at http://{bound}/mcp");
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        transport::http::serve(listener, gate, options, shutdown)
            .await
            .context("HTTP server failed")
    })
}
