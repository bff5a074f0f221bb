//! MCP over Streamable HTTP at `/mcp`: bearer authentication in front of rmcp's service.

use std::future::Future;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::{Json, Router};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use serde_json::json;

use crate::audit::{AuditEvent, Decision, Outcome, Recorder};
use crate::identity::{self, Authenticator};
use crate::service::GitGate;

/// What the HTTP transport needs beyond the service.
#[derive(Debug, Clone)]
pub struct Options {
    pub authenticator: Authenticator,
    /// Where refused requests are recorded (allowed ones are recorded per tool call).
    pub recorder: Option<Recorder>,
    /// This server's canonical MCP URL (`https://host/mcp`): the protected resource that tokens
    /// are issued for, named in the metadata document.
    pub resource_url: String,
    /// Authorization servers that issue tokens for this resource (RFC 9728 metadata).
    pub authorization_servers: Vec<String>,
    /// `Host` values accepted (DNS-rebinding protection).
    pub allowed_hosts: Vec<String>,
    /// `Origin` values accepted; any other present Origin is refused with 403.
    pub allowed_origins: Vec<String>,
}

/// Path of the protected resource metadata document (RFC 9728).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// Default `Host` allow-list: the loopback names, with any port.
pub fn loopback_hosts() -> Vec<String> {
    ["localhost", "127.0.0.1", "::1", "[::1]"]
        .map(String::from)
        .to_vec()
}

/// Default `Origin` allow-list: pages served from loopback, on any port. A page elsewhere (the
/// DNS-rebinding attack) carries its own origin and is refused.
pub fn loopback_origins() -> Vec<String> {
    let mut origins = Vec::new();
    for scheme in ["http", "https"] {
        for host in ["localhost", "127.0.0.1", "[::1]"] {
            origins.push(format!("{scheme}://{host}:*"));
        }
    }
    origins
}

/// The router: `/mcp` behind authentication, and the protected resource metadata beside it.
pub fn router(gate: GitGate, options: &Options, cancel: CancellationToken) -> Router {
    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(options.allowed_hosts.clone())
        .with_allowed_origins(options.allowed_origins.clone())
        .with_cancellation_token(cancel);
    // An empty list must mean "no browser origin is trusted", not "origin checks are off".
    config = config.enforce_origin_validation();
    let service = StreamableHttpService::new(
        move || Ok(gate.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let state = Arc::new(AuthState {
        metadata_url: metadata_url(&options.resource_url),
        options: options.clone(),
        sessions: SessionOwners::default(),
    });
    let metadata = metadata_doc(options);
    let mcp = Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn_with_state(state, authenticate));
    Router::new()
        // RFC 9728 clients may also ask at the path-suffixed location.
        .route(
            &format!("{METADATA_PATH}/mcp"),
            get({
                let m = metadata.clone();
                move || std::future::ready(m.clone())
            }),
        )
        .route(
            METADATA_PATH,
            get(move || std::future::ready(metadata.clone())),
        )
        .merge(mcp)
}

fn metadata_doc(options: &Options) -> Json<serde_json::Value> {
    Json(json!({
        "resource": options.resource_url,
        "authorization_servers": options.authorization_servers,
        "scopes_supported": crate::policy::Scope::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "bearer_methods_supported": ["header"],
        "resource_name": "gitgate",
    }))
}

/// `https://host/mcp` → `https://host/.well-known/oauth-protected-resource`.
fn metadata_url(resource_url: &str) -> String {
    let origin_end = resource_url
        .find("://")
        .and_then(|i| resource_url[i + 3..].find('/').map(|j| i + 3 + j))
        .unwrap_or(resource_url.len());
    format!("{}{METADATA_PATH}", &resource_url[..origin_end])
}

struct AuthState {
    options: Options,
    metadata_url: String,
    sessions: SessionOwners,
}

/// Which user opened each MCP session. A session is bound to the user who opened it: a
/// request on it with another user's (valid) token is refused, so a session id that leaks
/// cannot be used to read another user's stream or mix two users' calls in one session.
#[derive(Default)]
struct SessionOwners {
    owners: std::sync::Mutex<std::collections::HashMap<String, (String, std::time::Instant)>>,
}

/// Sessions idle longer than this are forgotten when the table grows (rmcp closes them after
/// 5 minutes of inactivity anyway).
const SESSION_IDLE_FORGET: std::time::Duration = std::time::Duration::from_secs(3600);
const SESSION_TABLE_PRUNE_AT: usize = 10_000;

impl SessionOwners {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (String, std::time::Instant)>>
    {
        // Only plain data inside: a panic elsewhere cannot leave it inconsistent.
        self.owners.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The owner of `session` when it is someone other than `user`; refreshes it otherwise.
    fn other_owner(&self, session: &str, user: &str) -> Option<String> {
        let mut owners = self.lock();
        match owners.get_mut(session) {
            Some((owner, _)) if owner != user => Some(owner.clone()),
            Some((_, seen)) => {
                *seen = std::time::Instant::now();
                None
            }
            None => None,
        }
    }

    fn bind(&self, session: &str, user: &str) {
        let mut owners = self.lock();
        if owners.len() >= SESSION_TABLE_PRUNE_AT {
            owners.retain(|_, (_, seen)| seen.elapsed() < SESSION_IDLE_FORGET);
        }
        owners
            .entry(session.to_owned())
            .or_insert_with(|| (user.to_owned(), std::time::Instant::now()));
    }

    fn forget(&self, session: &str) {
        self.lock().remove(session);
    }
}

/// Resolves the bearer to a [`identity::Caller`] and hands it to the service in the request
/// extensions. Refusals get 401 (or 403 for a token without any gitgate scope) with a
/// `WWW-Authenticate` challenge naming the resource metadata, and are recorded in the audit log.
async fn authenticate(
    State(state): State<Arc<AuthState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(identity::bearer_token)
        .map(str::to_owned);
    match state
        .options
        .authenticator
        .authenticate(bearer.as_deref())
        .await
    {
        Ok(caller) => {
            let user = caller.user().to_owned();
            let session = request
                .headers()
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            if let Some(session) = &session
                && let Some(owner) = state.sessions.other_owner(session, &user)
            {
                let e = format!(
                    "this MCP session was opened by another user ({owner}); {user} must start a session of their own"
                );
                if let Some(recorder) = &state.options.recorder {
                    record_refusal(recorder, request, &user, "denied:session-owner", &e).await;
                }
                return (StatusCode::FORBIDDEN, e).into_response();
            }
            let is_delete = request.method() == axum::http::Method::DELETE;
            request.extensions_mut().insert(caller);
            let response = next.run(request).await;
            match (&session, is_delete) {
                (Some(session), true) if response.status().is_success() => {
                    state.sessions.forget(session);
                }
                (None, _) => {
                    if let Some(opened) = response
                        .headers()
                        .get("mcp-session-id")
                        .and_then(|v| v.to_str().ok())
                    {
                        state.sessions.bind(opened, &user);
                    }
                }
                _ => {}
            }
            response
        }
        Err(e) => {
            if let Some(recorder) = &state.options.recorder {
                record_refusal(recorder, request, "anonymous", &e.rule(), &e.to_string()).await;
            }
            let (status, challenge) = match &e {
                identity::Error::Missing => (
                    StatusCode::UNAUTHORIZED,
                    format!(r#"Bearer resource_metadata="{}""#, state.metadata_url),
                ),
                identity::Error::InsufficientScope => (
                    StatusCode::FORBIDDEN,
                    format!(
                        r#"Bearer error="insufficient_scope", scope="git:read", resource_metadata="{}""#,
                        state.metadata_url
                    ),
                ),
                identity::Error::Store(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(r#"Bearer resource_metadata="{}""#, state.metadata_url),
                ),
                _ => (
                    StatusCode::UNAUTHORIZED,
                    format!(
                        r#"Bearer error="invalid_token", resource_metadata="{}""#,
                        state.metadata_url
                    ),
                ),
            };
            let mut response = (status, e.to_string()).into_response();
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
            response
        }
    }
}

/// Records a refused request: the tool (or JSON-RPC method) is read from the body when it is a
/// small JSON-RPC message, so the log says what was attempted.
async fn record_refusal(
    recorder: &Recorder,
    request: Request,
    user: &str,
    rule: &str,
    reason: &str,
) {
    let method = request.method().to_string();
    let session = request
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = axum::body::to_bytes(request.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let message: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let tool = match message.get("method").and_then(|m| m.as_str()) {
        Some("tools/call") => message
            .pointer("/params/name")
            .and_then(|n| n.as_str())
            .unwrap_or("tools/call")
            .to_owned(),
        Some(m) => m.to_owned(),
        None => format!("HTTP {method}"),
    };
    let arguments = message
        .pointer("/params/arguments")
        .cloned()
        .unwrap_or_default();
    let code = if user == "anonymous" {
        "unauthenticated"
    } else {
        "denied"
    };
    let mut event = AuditEvent::new(
        recorder.instance(),
        user,
        "bearer",
        &tool,
        &arguments,
        Decision {
            allowed: false,
            rule: rule.to_owned(),
        },
        Outcome {
            ok: false,
            code: Some(code.into()),
            message: Some(reason.to_owned()),
        },
    );
    event.session = session;
    event.bytes_in = body.len() as u64;
    if let Err(err) = recorder.record(&event).await {
        tracing::error!(error = %err, "audit write failed for a refused request");
    }
}

/// Serves until `shutdown` resolves. Accepted sockets get `TCP_NODELAY`: without it a pooled
/// client waits on Nagle plus delayed ACK (about 40 ms per call, see FACTS.md).
pub async fn serve(
    listener: TcpListener,
    gate: GitGate,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let cancel = CancellationToken::new();
    let app = router(gate, &options, cancel.clone());
    let listener = listener.tap_io(|stream| {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            cancel.cancel();
        })
        .await
}
