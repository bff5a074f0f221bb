//! The composition root as a library entry: [`run`] wires store, audit recorder, policy, GitHub
//! clients, jq sandbox and authenticator from a validated [`Setup`] and serves one transport
//! until `shutdown` resolves. `main.rs` only turns flags and the config file into a `Setup`;
//! tests can start a whole server in process on a `127.0.0.1:0` listener.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use crate::audit::{JsonlMirror, RecordError, Recorder};
use crate::config::{JwtSection, RepoEntry};
use crate::git::Repos;
use crate::identity::{AuthMethod, Authenticator, Caller};
use crate::jwt::{JwtConfig, JwtValidator, KeySource};
use crate::policy::Policy;
use crate::service::GitGate;
use crate::settings::StateConfig;
use crate::tools::{Backends, Catalogue, Services};
use crate::transport;

/// Everything a server is, validated: what `gitgate serve` flags and file resolve to.
#[derive(Debug)]
pub struct Setup {
    pub repos: Vec<RepoEntry>,
    /// Where the store and keys are.
    pub state: StateConfig,
    pub catalogue: Catalogue,
    /// GitHub, when the github toolset is on.
    pub github: Option<crate::github::GithubConfig>,
    pub read_only: bool,
    /// Branch globs no push may rewrite or delete (`[[protect]]`); empty: each remote's default
    /// branch.
    pub protect: Vec<String>,
    /// Calls per minute for users without a limit of their own.
    pub rate_limit: Option<u32>,
    /// Calls running at once: per user, and in total.
    pub call_slots: (usize, usize),
    /// The stdio user, and the one caller of `--no-auth`.
    pub local: Caller,
    pub audit: AuditSetup,
    /// How HTTP callers are recognised and limited (ignored on stdio).
    pub http: HttpSetup,
}

/// How calls are recorded.
#[derive(Debug, Clone, Default)]
pub struct AuditSetup {
    /// Development switch: no audit at all (only with stdio or `no_auth`).
    pub disabled: bool,
    /// Commit each event before the reply instead of spooling it.
    pub no_spool: bool,
    /// A JSON Lines copy of every event, for a SIEM.
    pub mirror: Option<PathBuf>,
}

/// The HTTP side of a setup.
#[derive(Debug, Clone)]
pub struct HttpSetup {
    /// Development switch: every request is the local caller (loopback only).
    pub no_auth: bool,
    /// This server's canonical MCP URL; by default `http://BOUND_ADDRESS/mcp`.
    pub resource_url: Option<String>,
    pub jwt: Option<JwtSection>,
    pub authorization_servers: Vec<String>,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub limits: transport::http::Limits,
    /// A second listener for `/metrics`, `/healthz` and `/readyz` (a private interface).
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// The token that opens `/metrics` on the MCP listener.
    pub metrics_token: Option<String>,
}

/// Where the server listens.
#[derive(Debug)]
pub enum Listener {
    /// The process's stdin and stdout, for one local user.
    Stdio,
    /// Streamable HTTP at `/mcp` on an already bound socket.
    Http(tokio::net::TcpListener),
}

/// Why a server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("opening the configured repositories")]
    Repos(#[source] crate::git::Error),
    #[error("opening the store")]
    Store(#[source] crate::store::Error),
    #[error("reading the keys")]
    Keys(#[source] crate::settings::Error),
    #[error(
        "{0} user(s) have a stored GitHub token but no secret key is configured; \
         pass --secret-key-file or GITGATE_SECRET_KEY"
    )]
    NoSecretKey(u64),
    #[error("opening the audit mirror")]
    Mirror(#[source] crate::audit::Error),
    #[error(
        "starting the audit spool beside the store (or pass --no-audit-spool to commit each \
         event instead)"
    )]
    Spool(#[source] RecordError),
    #[error("setting up the GitHub client")]
    Github(#[source] crate::github::Error),
    #[error("finding the gitgate binary for the jq sandbox")]
    Jq(#[source] std::io::Error),
    #[error("reading the JWT key {}", .path.display())]
    JwtKey {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the [jwt] section")]
    Jwt(#[source] crate::jwt::Error),
    #[error("--no-auth serves only on loopback, not on {0}")]
    NoAuthNotLoopback(std::net::SocketAddr),
    #[error("the stdio transport")]
    Stdio(#[source] transport::stdio::Error),
    #[error("the HTTP server")]
    Http(#[source] std::io::Error),
}

/// Builds the server of `setup` and serves `listener` until `shutdown` resolves (on stdio also
/// until the client closes its end); calls in flight at `shutdown` are answered first, for up
/// to the drain timeout of `setup.http.limits`. On HTTP it prints `gitgate: serving MCP at URL` to stderr once
/// listening, for supervisors and tests.
pub async fn run(
    setup: Setup,
    listener: Listener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let repos = Repos::open(
        setup
            .repos
            .iter()
            .map(|r| (r.name.as_str(), r.path.as_path())),
    )
    .map_err(Error::Repos)?;
    let store = setup.state.open_store().await.map_err(Error::Keys)?;
    let secret = setup.state.secret_key().map_err(Error::Keys)?;
    let with_github = store
        .count_users_with_github_tokens()
        .await
        .map_err(Error::Store)?;
    if with_github > 0 && secret.is_none() {
        return Err(Error::NoSecretKey(with_github));
    }
    let recorder = recorder(&setup, &store)?;
    let local_tokens = matches!(listener, Listener::Stdio) || setup.http.no_auth;
    let github = match &setup.github {
        None => None,
        Some(config) => {
            let tokens: Arc<dyn crate::github::TokenSource> = if local_tokens {
                Arc::new(crate::github::SharedToken::from_env())
            } else {
                Arc::new(crate::github::StoreTokens::new(
                    store.clone(),
                    secret.clone(),
                ))
            };
            Some(crate::github::Clients::new(config.clone(), tokens).map_err(Error::Github)?)
        }
    };
    let jq =
        crate::jq::Sandbox::for_current_exe(crate::jq::Limits::default()).map_err(Error::Jq)?;
    let services = Services {
        backends: Arc::new(Backends {
            repos,
            github,
            protect: setup.protect.clone(),
            audit: recorder.as_ref().map(|r| r.log().clone()),
        }),
        catalogue: Arc::new(setup.catalogue),
        policy: Arc::new(
            Policy::new(setup.read_only, setup.rate_limit)
                .with_call_slots(setup.call_slots.0, setup.call_slots.1),
        ),
        recorder,
        jq: Arc::new(jq),
    };
    match listener {
        Listener::Stdio => transport::stdio::serve(
            GitGate::new(services, Some(setup.local)),
            shutdown,
            setup.http.limits.connections.drain_timeout,
        )
        .await
        .map_err(Error::Stdio),
        Listener::Http(listener) => {
            serve_http(listener, services, setup.local, setup.http, store, shutdown).await
        }
    }
}

fn recorder(setup: &Setup, store: &crate::store::Store) -> Result<Option<Recorder>, Error> {
    if setup.audit.disabled {
        return Ok(None);
    }
    let mirror = match &setup.audit.mirror {
        Some(path) => Some(JsonlMirror::open(path).map_err(Error::Mirror)?),
        None => None,
    };
    let key = setup.state.audit_key().map_err(Error::Keys)?;
    Ok(Some(if setup.audit.no_spool {
        Recorder::new(store.clone(), key, mirror)
    } else {
        Recorder::start(store.clone(), key, mirror).map_err(Error::Spool)?
    }))
}

async fn serve_http(
    listener: tokio::net::TcpListener,
    services: Services,
    local: Caller,
    http: HttpSetup,
    store: crate::store::Store,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let bound = listener.local_addr().map_err(Error::Http)?;
    // Many users' sessions come and go: give what they freed back to the system.
    crate::memory::spawn_trimmer();
    if http.no_auth && !bound.ip().is_loopback() {
        return Err(Error::NoAuthNotLoopback(bound));
    }
    let resource_url = http
        .resource_url
        .clone()
        .unwrap_or_else(|| format!("http://{bound}/mcp"));
    let authenticator = if http.no_auth {
        Authenticator::NoAuth {
            caller: Caller {
                auth: AuthMethod::None,
                ..local
            },
        }
    } else {
        let jwt = match &http.jwt {
            Some(section) => Some(Arc::new(jwt_validator(section, &resource_url)?)),
            None => None,
        };
        Authenticator::Store {
            store: store.clone(),
            jwt,
            grants: Default::default(),
        }
    };
    let mut authorization_servers = http.authorization_servers;
    if authorization_servers.is_empty()
        && let Some(jwt) = &http.jwt
    {
        authorization_servers.push(jwt.issuer.clone());
    }
    let metrics = match http.metrics_listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(Error::Http)?;
            let at = listener.local_addr().map_err(Error::Http)?;
            eprintln!("gitgate: metrics at http://{at}/metrics");
            Some(listener)
        }
        None => None,
    };
    let ops = transport::ops::Ops::new(
        store.clone(),
        services.recorder.as_ref().map(|r| r.log().clone()),
        http.metrics_token.as_deref(),
    );
    let options = transport::http::Options {
        authenticator,
        recorder: services.recorder.clone(),
        resource_url,
        authorization_servers,
        allowed_hosts: http.allowed_hosts,
        allowed_origins: http.allowed_origins,
        limits: http.limits,
        ops,
    };
    let gate = GitGate::new(services, None);
    eprintln!("gitgate: serving MCP at http://{bound}/mcp");
    transport::http::serve(listener, metrics, gate, options, shutdown)
        .await
        .map_err(Error::Http)
}

/// The JWT validator of a `[jwt]` section; the audience defaults to the resource URL.
pub fn jwt_validator(section: &JwtSection, resource_url: &str) -> Result<JwtValidator, Error> {
    let mut keys = Vec::new();
    if let Some(path) = &section.hs256_secret_file {
        let secret = std::fs::read(path).map_err(|source| Error::JwtKey {
            path: path.clone(),
            source,
        })?;
        let secret = String::from_utf8_lossy(&secret).trim().as_bytes().to_vec();
        keys.push(KeySource::Hs256Secret { kid: None, secret });
    }
    for path in &section.public_key_files {
        keys.push(KeySource::pem_file(path, None).map_err(Error::Jwt)?);
    }
    if let Some(path) = &section.jwks_file {
        keys.push(KeySource::JwksFile(path.clone()));
    }
    let config = JwtConfig {
        issuer: section.issuer.clone(),
        audience: section
            .audience
            .clone()
            .unwrap_or_else(|| resource_url.to_owned()),
        keys,
    };
    JwtValidator::new(config).map_err(Error::Jwt)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (`systemctl stop`, `docker stop`): either stops the
/// server the same way, letting in-flight calls finish and the audit spool chain its rest.
///
/// The handlers are installed when this is called, not when the future is first polled: a
/// signal between the server printing that it listens and its first poll of this future would
/// otherwise find the default action and kill the process uncleanly. Call it inside the runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        let wait = |installed: std::io::Result<tokio::signal::unix::Signal>| async move {
            match installed {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                // No handler could be installed: this signal keeps its default action.
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(interrupt) => {}
            () = wait(terminate) => {}
        }
    }
}
