//! MCP over Streamable HTTP at `/mcp`: bearer authentication in front of rmcp's service, with
//! the abuse limits a server reachable without a token needs.
//!
//! In order, a request to `/mcp` meets: the connection limits and header deadline
//! ([`connections`]); the per-address throttle of failed requests, before any store query;
//! authentication; the session checks (unknown id, owner, per-user cap, `initialize` rate);
//! rmcp's Host and Origin checks. Every refusal is audited, bounded in size (the JSON-RPC
//! method, never the body) and in number (a flood becomes one event per window and key).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use serde_json::json;

use super::connections::{self, PeerAddr};
use super::refusals::{Attempted, Reports, UserLimit, Who, cut};
use super::sessions::Sessions;
use super::throttle::{Buckets, ClientKey, Rate, retry_after_secs};
use crate::audit::Recorder;
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
    /// Abuse limits.
    pub limits: Limits,
    /// Health, readiness and metrics (see [`super::ops`]).
    pub ops: super::ops::Ops,
}

/// The transport's abuse limits (flags and defaults: `gitgate serve --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Failed requests (authentication, Host/Origin, unknown or foreign session) per client
    /// address before it gets 429 for everything until the bucket refills.
    pub failures: Rate,
    /// New sessions (`initialize`) per user.
    pub initialize: Rate,
    /// Sessions one user may hold open.
    pub sessions_per_user: usize,
    /// Connection bounds and timeouts.
    pub connections: connections::Limits,
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

/// The router (`/mcp` behind authentication, the protected resource metadata beside it) and
/// the state its limits keep.
fn router(gate: GitGate, options: &Options, cancel: CancellationToken) -> (Router, Arc<AuthState>) {
    let limits = options.limits;
    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(options.allowed_hosts.clone())
        .with_allowed_origins(options.allowed_origins.clone())
        .with_cancellation_token(cancel);
    // An empty list must mean "no browser origin is trusted", not "origin checks are off".
    config = config.enforce_origin_validation();
    // Streams must move a byte well within the idle timeout, or waiting for a slow tool
    // would look like a dead connection.
    let keep_alive = config
        .sse_keep_alive
        .unwrap_or(Duration::MAX)
        .min(limits.connections.idle_timeout / 2);
    config = config.with_sse_keep_alive(Some(keep_alive));
    let manager = Arc::new(LocalSessionManager::default());
    let service =
        StreamableHttpService::new(move || Ok(gate.for_session()), manager.clone(), config);
    let state = Arc::new(AuthState {
        metadata_url: metadata_url(&options.resource_url),
        options: options.clone(),
        sessions: Arc::new(Sessions::new(manager, limits.sessions_per_user)),
        failures: Buckets::new(limits.failures),
        initializations: Buckets::new(limits.initialize),
        reports: Arc::new(Reports::new(options.recorder.clone(), limits)),
        posts: Arc::new(super::drain::Posts::default()),
    });
    let metadata = metadata_doc(options);
    let mcp = Router::new()
        .nest_service("/mcp", service)
        // Inside authentication: a refused message is the caller's, audited as theirs.
        .layer(middleware::from_fn_with_state(
            Arc::new(super::screen::InFlight::default()),
            super::screen::screen,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state.posts),
            super::drain::count_posts,
        ));
    let router = Router::new()
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
        // Outside authentication: probes carry no MCP token.
        .merge(super::ops::public_routes(
            options.ops.clone(),
            Arc::clone(&state.sessions),
        ))
        .merge(mcp);
    (router, state)
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

/// The middleware's state: the options, the session table, and the limits' counters.
struct AuthState {
    options: Options,
    metadata_url: String,
    sessions: Arc<Sessions>,
    /// Failed requests per client address.
    failures: Buckets<ClientKey>,
    /// New sessions per user.
    initializations: Buckets<String>,
    reports: Arc<Reports>,
    /// POSTs not yet answered, for the shutdown drain.
    posts: Arc<super::drain::Posts>,
}

/// Resolves the bearer to a [`identity::Caller`] and hands it to the service in the request
/// extensions. Refusals get 401 (or 403 for a token without any gitgate scope) with a
/// `WWW-Authenticate` challenge naming the resource metadata, 404 for an unknown session, 403
/// for another user's session, 429 past a limit; each is recorded in the audit log.
async fn authenticate(
    State(state): State<Arc<AuthState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let client = request
        .extensions()
        .get::<PeerAddr>()
        .map_or(ClientKey::UNKNOWN, |peer| ClientKey::of(peer.0.ip()));
    // A throttled address costs no store query, and its refusals are counted, not each logged.
    if let Err(wait) = state.failures.check(&client, Instant::now()) {
        return state.throttled(client, wait).await;
    }
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(identity::bearer_token)
        .map(str::to_owned);
    let caller = match state
        .options
        .authenticator
        .authenticate(bearer.as_deref())
        .await
    {
        Ok(caller) => caller,
        Err(e) => return state.refuse_authentication(request, client, e).await,
    };
    let user = caller.user().to_owned();
    let who = Who {
        client,
        user: &user,
        auth: caller.auth,
    };
    let head = Attempted::head(&request);
    let session = request
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(session) = session {
        return state
            .in_session(request, next, caller, who, head, &session)
            .await;
    }
    if request.method() != Method::POST {
        // Without a session only POST means anything; rmcp answers the rest (400, 405).
        request.extensions_mut().insert(caller);
        let response = next.run(request).await;
        return state.screened(response, head, who).await;
    }
    state.open_session(request, next, caller, who, head).await
}

/// A 429 with `message`, and `Retry-After` when the wait is known.
fn too_many(wait: Option<Duration>, message: String) -> Response {
    let mut response = (StatusCode::TOO_MANY_REQUESTS, message).into_response();
    if let Some(wait) = wait {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after_secs(wait)),
        );
    }
    response
}

impl AuthState {
    /// A request of `who` within MCP session `session`: refused unless the session is open here
    /// and theirs; a DELETE that closed it forgets it.
    async fn in_session(
        &self,
        mut request: Request,
        next: Next,
        caller: identity::Caller,
        who: Who<'_>,
        head: Attempted,
        session: &str,
    ) -> Response {
        let client = who.client;
        if !self.sessions.exists(session).await {
            self.sessions.forget(session);
            self.failures.charge(&client, Instant::now());
            let reason = "no such MCP session (closed, expired, or never opened here); start a new one with initialize";
            self.reports
                .refuse(
                    Attempted::of(request).await,
                    who.refusal("denied:unknown-session", reason),
                )
                .await;
            // rmcp's own answer, which clients take as "initialize again".
            return (StatusCode::NOT_FOUND, "Not Found: Session not found").into_response();
        }
        if let Some(owner) = self.sessions.other_owner(session, who.user) {
            self.failures.charge(&client, Instant::now());
            let e = format!(
                "this MCP session was opened by another user ({owner}); {} must start a session of their own",
                who.user
            );
            self.reports
                .refuse(
                    Attempted::of(request).await,
                    who.refusal("denied:session-owner", &e),
                )
                .await;
            return (StatusCode::FORBIDDEN, e).into_response();
        }
        let is_delete = request.method() == Method::DELETE;
        request.extensions_mut().insert(caller);
        let response = next.run(request).await;
        if is_delete && response.status().is_success() {
            self.sessions.forget(session);
        }
        self.screened(response, head, who).await
    }

    /// A POST without a session, which may open one: within the user's `initialize` rate and
    /// open-session cap. Both are given back when no session opens (a refused or malformed
    /// request).
    async fn open_session(
        &self,
        mut request: Request,
        next: Next,
        caller: identity::Caller,
        who: Who<'_>,
        head: Attempted,
    ) -> Response {
        let user = who.user.to_owned();
        if let Err(wait) = self.initializations.take(&user, Instant::now()) {
            return self
                .user_limit(who, UserLimit::InitializeRate, Some(wait))
                .await;
        }
        let reservation = match self.sessions.reserve(&user).await {
            Ok(reservation) => reservation,
            Err(_) => {
                self.initializations.refund(&user, Instant::now());
                return self.user_limit(who, UserLimit::SessionCap, None).await;
            }
        };
        request.extensions_mut().insert(caller);
        let response = next.run(request).await;
        let opened = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .filter(|_| response.status().is_success());
        match opened {
            Some(opened) => reservation.bind(opened),
            None => {
                drop(reservation);
                self.initializations.refund(&user, Instant::now());
            }
        }
        self.screened(response, head, who).await
    }

    /// A request from an address over its failure budget: 429, counted, not each recorded.
    async fn throttled(&self, client: ClientKey, wait: Duration) -> Response {
        self.reports.throttled(client).await;
        too_many(
            Some(wait),
            format!(
                "too many failed requests from your address (at most {} per minute); retry in {} s",
                self.options.limits.failures.per_minute,
                retry_after_secs(wait)
            ),
        )
    }

    /// A refused authentication: audited (attributed to the token's user when the token
    /// proved whose it is) and charged to the address, unless the store is at fault.
    async fn refuse_authentication(
        &self,
        request: Request,
        client: ClientKey,
        e: identity::Error,
    ) -> Response {
        if !matches!(e, identity::Error::Store(_)) {
            self.failures.charge(&client, Instant::now());
        }
        let who = Who {
            user: e.user().unwrap_or("anonymous"),
            ..Who::anonymous(client)
        };
        let reason = e.to_string();
        let rule = e.rule();
        self.reports
            .refuse(Attempted::of(request).await, who.refusal(&rule, &reason))
            .await;
        let (status, challenge) = match &e {
            identity::Error::Missing => (
                StatusCode::UNAUTHORIZED,
                format!(r#"Bearer resource_metadata="{}""#, self.metadata_url),
            ),
            identity::Error::InsufficientScope { .. } => (
                StatusCode::FORBIDDEN,
                format!(
                    r#"Bearer error="insufficient_scope", scope="git:read", resource_metadata="{}""#,
                    self.metadata_url
                ),
            ),
            identity::Error::Store(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!(r#"Bearer resource_metadata="{}""#, self.metadata_url),
            ),
            _ => (
                StatusCode::UNAUTHORIZED,
                format!(
                    r#"Bearer error="invalid_token", resource_metadata="{}""#,
                    self.metadata_url
                ),
            ),
        };
        let mut response = (status, reason).into_response();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }

    /// An `initialize` past a per-user limit: 429, counted, not each recorded.
    async fn user_limit(&self, who: Who<'_>, limit: UserLimit, wait: Option<Duration>) -> Response {
        let message = match limit {
            UserLimit::SessionCap => format!(
                "{} already has {} MCP sessions open, the most one user may hold; close unused \
                 ones (HTTP DELETE on /mcp with their Mcp-Session-Id header) or let them expire",
                who.user,
                self.sessions.cap()
            ),
            UserLimit::InitializeRate => format!(
                "{} opened too many MCP sessions: at most {} per minute; retry in {} s, or reuse \
                 an open session",
                who.user,
                self.options.limits.initialize.per_minute,
                retry_after_secs(wait.unwrap_or_default())
            ),
        };
        self.reports.user_limit(who, limit, &message).await;
        too_many(wait, message)
    }

    /// Passes the service's answer on, auditing rmcp's own refusals (bounded like the others):
    /// its Host and Origin checks (403, the only 403s inside `/mcp`, with a short text saying
    /// which) and malformed requests (any other 4xx).
    async fn screened(&self, response: Response, head: Attempted, who: Who<'_>) -> Response {
        let status = response.status();
        if let Some(screened) = response.extensions().get::<super::screen::Screened>() {
            // A JSON-RPC error in a 200 (invalid params): refused all the same.
            let reason = cut(&screened.reason, 200);
            self.reports
                .refuse(head, who.refusal("denied:bad-params", &reason))
                .await;
            return response;
        }
        if !status.is_client_error() {
            return response;
        }
        // rmcp's refusals are short texts: the first KiB says why; the client still gets the
        // whole body, whatever its length.
        let (parts, body) = response.into_parts();
        let (head_bytes, body) = peek(body, 1024).await;
        let text = cut(&String::from_utf8_lossy(&head_bytes), 200);
        let rule = match status {
            StatusCode::FORBIDDEN if text.contains("Host") => "denied:host",
            StatusCode::FORBIDDEN => "denied:origin",
            _ => "denied:bad-request",
        };
        let reason = format!("HTTP {}: {text}", status.as_u16());
        self.failures.charge(&who.client, Instant::now());
        self.reports.refuse(head, who.refusal(rule, &reason)).await;
        Response::from_parts(parts, body)
    }
}

/// Reads the first `max` bytes (or a little more: whole frames) of `body` and gives back a body
/// with the same bytes. Not every response says its length (a size hint is lost through some
/// body wrappers), so reading frame by frame is what works for all of them.
async fn peek(body: axum::body::Body, max: usize) -> (axum::body::Bytes, axum::body::Body) {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut head = Vec::new();
    let mut ended = false;
    while head.len() < max {
        match body.frame().await {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => head.extend_from_slice(&data),
                // Trailers: a 4xx refusal has none; stop reading there.
                Err(_) => break,
            },
            // The end, or a broken body: what was read is all the client could have had.
            Some(Err(_)) | None => {
                ended = true;
                break;
            }
        }
    }
    let head = axum::body::Bytes::from(head);
    let whole = if ended {
        axum::body::Body::from(head.clone())
    } else {
        axum::body::Body::new(Prefixed {
            head: Some(head.clone()),
            rest: body,
        })
    };
    (head.slice(..head.len().min(max)), whole)
}

/// A body whose first bytes were read already: those, then the rest.
struct Prefixed {
    head: Option<axum::body::Bytes>,
    rest: axum::body::Body,
}

impl hyper::body::Body for Prefixed {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        if let Some(head) = self.head.take() {
            return std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(head))));
        }
        std::pin::Pin::new(&mut self.rest).poll_frame(cx)
    }
}

/// Serves until `shutdown` resolves, within the connection limits of `options.limits`.
pub async fn serve(
    listener: TcpListener,
    metrics: Option<TcpListener>,
    gate: GitGate,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let cancel = CancellationToken::new();
    let (app, state) = router(gate, &options, cancel.clone());
    let metrics_server = metrics.map(|listener| {
        let app =
            super::ops::private_routes(options.ops.clone(), Some(Arc::clone(&state.sessions)));
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let stopped = async move { cancel.cancelled().await };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!(error = %e, "the metrics listener failed");
            }
        })
    });
    let reports = Arc::clone(&state.reports);
    let reporter = tokio::spawn({
        let reports = Arc::clone(&reports);
        let cancel = cancel.clone();
        async move {
            let mut tick = tokio::time::interval(Reports::tick());
            loop {
                tokio::select! {
                    _ = tick.tick() => reports.report_due(false).await,
                    () = cancel.cancelled() => break,
                }
            }
        }
    });
    let on_refused = {
        let reports = Arc::clone(&reports);
        move |client, why| reports.connection_refused(client, why)
    };
    // Shutdown: no new connections; the POSTs in flight (tool calls) are answered, up to the
    // drain timeout; only then are rmcp's sessions ended, which also ends the endless GET
    // streams that would otherwise keep their connections open.
    let drained = {
        let posts = Arc::clone(&state.posts);
        let deadline = options.limits.connections.drain_timeout;
        async move {
            if tokio::time::timeout(deadline, posts.none()).await.is_err() {
                tracing::warn!(
                    running = posts.count(),
                    ?deadline,
                    "requests still running at the shutdown timeout are cut off"
                );
            }
            cancel.cancel();
        }
    };
    let served = connections::serve(
        listener,
        app,
        options.limits.connections,
        on_refused,
        shutdown,
        drained,
    )
    .await;
    let _ = reporter.await;
    if let Some(server) = metrics_server {
        let _ = server.await;
    }
    reports.report_due(true).await;
    served
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// A body that yields its chunks one frame each.
    struct Frames(std::collections::VecDeque<axum::body::Bytes>);

    impl hyper::body::Body for Frames {
        type Data = axum::body::Bytes;
        type Error = axum::Error;

        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
            std::task::Poll::Ready(self.0.pop_front().map(|b| Ok(hyper::body::Frame::data(b))))
        }
    }

    /// A body of many frames, longer than what is peeked: the peek is its first bytes, and the
    /// body given back is byte for byte the original.
    #[tokio::test]
    async fn a_peeked_body_is_given_back_whole() {
        let chunks: Vec<Vec<u8>> = (0..100u8).map(|i| vec![b'a' + i % 26; 37]).collect();
        let expected = chunks.concat();
        let body = axum::body::Body::new(Frames(
            chunks.into_iter().map(axum::body::Bytes::from).collect(),
        ));
        let (head, whole) = peek(body, 100).await;
        assert_eq!(&head[..], &expected[..100]);
        let all = whole.collect().await.expect("the body reads").to_bytes();
        assert_eq!(&all[..], &expected[..]);
        // A short body: all of it.
        let (head, whole) = peek(axum::body::Body::from("Bad Request: x"), 1024).await;
        assert_eq!(&head[..], b"Bad Request: x");
        let all = whole.collect().await.expect("the body reads").to_bytes();
        assert_eq!(&all[..], b"Bad Request: x");
    }
}
