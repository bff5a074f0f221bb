//! MCP over Streamable HTTP at `/mcp`: bearer authentication in front of rmcp's service.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::identity::{self, Authenticator};
use crate::service::GitGate;

/// What the HTTP transport needs beyond the service.
#[derive(Debug, Clone)]
pub struct Options {
    pub authenticator: Authenticator,
    /// `Host` values accepted (DNS-rebinding protection).
    pub allowed_hosts: Vec<String>,
    /// `Origin` values accepted; any other present Origin is refused with 403.
    pub allowed_origins: Vec<String>,
}

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

/// The router: `/mcp` behind authentication.
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
    let auth = Arc::new(options.authenticator.clone());
    Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn_with_state(auth, authenticate))
}

/// Resolves the bearer to a [`identity::Caller`] and hands it to the service in the request
/// extensions; refuses with 401 and a `WWW-Authenticate` challenge otherwise.
async fn authenticate(
    State(auth): State<Arc<Authenticator>>,
    mut request: Request,
    next: Next,
) -> Response {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(identity::bearer_token);
    match auth.authenticate(bearer) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(e) => {
            let challenge = match e {
                identity::Error::Missing => r#"Bearer realm="gitgate""#,
                identity::Error::Invalid => r#"Bearer realm="gitgate", error="invalid_token""#,
            };
            let mut response = (StatusCode::UNAUTHORIZED, e.to_string()).into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
            response
        }
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
