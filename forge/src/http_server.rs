//! The HTTP front: accepts connections (counting them), authenticates, applies injected faults
//! and rate limits, then hands the request to REST, GraphQL, git or the instruments.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Request, State};
use axum::response::Response;
use axum::serve::{IncomingStream, Listener};
use http::{HeaderValue, Method, StatusCode};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

use crate::rest::{self, ApiError, Bases, Ctx, Reply};
use crate::{App, auth, faults, git_http, graphql};

/// How long one API request may take (injected latency comes on top).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Largest request body accepted (pushes of fixtures stay far below).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Identifies an accepted connection for per-token connection counts.
#[derive(Debug, Clone, Copy)]
pub struct ConnId(pub u64);

/// A listener that numbers connections and sets `TCP_NODELAY` (see FACTS.md).
struct Counting {
    inner: TcpListener,
    app: Arc<App>,
}

impl Listener for Counting {
    type Io = TcpStream;
    type Addr = ConnId;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    return (stream, ConnId(self.app.stats.accepted()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(ConnId(0))
    }
}

impl Connected<IncomingStream<'_, Counting>> for ConnId {
    fn connect_info(stream: IncomingStream<'_, Counting>) -> Self {
        *stream.remote_addr()
    }
}

/// Serves until `shutdown` completes.
pub async fn run(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = Router::new().fallback(handle).with_state(app.clone());
    let listener = Counting {
        inner: listener,
        app,
    };
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<ConnId>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

fn to_response(reply: Reply) -> Response {
    let mut b = Response::builder().status(reply.status);
    if !reply.content_type.is_empty() {
        b = b.header(http::header::CONTENT_TYPE, reply.content_type);
    }
    for (k, v) in reply.headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            b = b.header(k, v);
        }
    }
    b.body(Body::from(reply.body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn error(status: StatusCode, message: &str) -> Response {
    to_response(ApiError::new(status, message).into_reply())
}

fn host(req: &http::request::Parts) -> String {
    req.headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".into())
}

async fn handle(
    State(app): State<Arc<App>>,
    ConnectInfo(conn): ConnectInfo<ConnId>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large");
    };
    if let Some(rest) = path.strip_prefix("/_forge/") {
        app.stats.request(None, conn.0);
        return instruments(&app, &parts.method, rest, &body);
    }
    let bases = Bases::new(app.public_url.as_deref(), &host(&parts));
    if let Some(target) = git_http::Target::parse(&path) {
        let ident = auth::identify(&app, &parts.headers);
        app.stats
            .request(ident.as_ref().map(|i| i.token_name.as_str()), conn.0);
        return git_http::serve(&app, target, ident, &parts, body).await;
    }
    let Some(ident) = auth::identify(&app, &parts.headers) else {
        app.stats.request(None, conn.0);
        return error(StatusCode::UNAUTHORIZED, "Bad credentials");
    };
    app.stats.request(Some(&ident.token_name), conn.0);

    let plan = app.faults.plan();
    if plan.latency_ms > 0 {
        // Injected latency is the feature here, not a timing assumption.
        tokio::time::sleep(Duration::from_millis(plan.latency_ms)).await;
    }
    if let Some(status) = plan.fail {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return error(status, "Server Error");
    }
    let resource = if path == "/graphql" {
        "graphql"
    } else if path.starts_with("/search/") {
        "search"
    } else {
        "core"
    };
    // GET /rate_limit is neither charged nor blocked, as on GitHub.
    let rate = if path == "/rate_limit" {
        crate::faults::Rate {
            allowed: true,
            ..app.faults.peek(ident.user.id, resource)
        }
    } else {
        app.faults.charge(ident.user.id, resource)
    };
    let mut response = if rate.allowed {
        let app2 = app.clone();
        let method = parts.method.clone();
        let query = parts
            .uri
            .query()
            .map(|q| {
                q.split('&')
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_once('=').unwrap_or((p, ""));
                        let dec = |s: &str| {
                            percent_encoding::percent_decode_str(&s.replace('+', " "))
                                .decode_utf8_lossy()
                                .into_owned()
                        };
                        (dec(k), dec(v))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let headers = parts.headers.clone();
        let user = ident.user.clone();
        let Ok(_permit) = app.handlers.acquire().await else {
            return error(StatusCode::SERVICE_UNAVAILABLE, "Server is shutting down");
        };
        let job = tokio::task::spawn_blocking(move || {
            let ctx = Ctx {
                app: &app2,
                method,
                path,
                query,
                headers,
                body,
                user,
                bases,
            };
            let result = if ctx.path == "/graphql" {
                graphql::handle(&ctx)
            } else {
                rest::route(&ctx)
            };
            result.unwrap_or_else(ApiError::into_reply)
        });
        match tokio::time::timeout(REQUEST_TIMEOUT, job).await {
            Ok(Ok(reply)) => to_response(reply),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "handler panicked");
                error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error")
            }
            Err(_) => error(
                StatusCode::GATEWAY_TIMEOUT,
                "We couldn't respond to your request in time. Sorry about that. Please try resubmitting your request and contact us if the problem persists.",
            ),
        }
    } else {
        let status = StatusCode::from_u16(rate.status).unwrap_or(StatusCode::FORBIDDEN);
        let mut r = ApiError::new(
            status,
            &format!("API rate limit exceeded for user ID {}.", ident.user.id),
        );
        r.message.push_str(
            " If you reach out to GitHub Support for help, please include the request ID.",
        );
        let mut reply = r.into_reply();
        reply.headers.push(("retry-after".into(), "60".into()));
        to_response(reply)
    };
    tracing::debug!(
        method = %parts.method,
        path = %parts.uri.path(),
        user = %ident.user.login,
        status = response.status().as_u16(),
        "api request"
    );
    let h = response.headers_mut();
    let pairs = [
        ("x-ratelimit-limit", rate.limit.to_string()),
        ("x-ratelimit-remaining", rate.remaining().to_string()),
        ("x-ratelimit-reset", rate.reset.to_string()),
        ("x-ratelimit-used", rate.used.to_string()),
        ("x-ratelimit-resource", resource.to_string()),
        ("x-github-media-type", "github.v3; format=json".to_string()),
        ("x-github-request-id", next_request_id()),
    ];
    for (k, v) in pairs {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    response
}

/// A unique id per API answer, in the shape of GitHub's `X-GitHub-Request-Id`
/// (`HEX:HEX:HEX`), so clients can record which upstream request a result came from.
fn next_request_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(
        "F0{:04X}:{:06X}:{:08X}",
        std::process::id() & 0xFFFF,
        n >> 32,
        n & 0xFFFF_FFFF
    )
}

fn instruments(app: &App, method: &Method, path: &str, body: &Bytes) -> Response {
    let json_reply = |v: serde_json::Value| to_response(Reply::json(&v));
    match (method.as_str(), path.trim_end_matches('/')) {
        ("GET", "health") => json_reply(json!({"ok": true})),
        ("GET", "stats") => json_reply(app.stats.report()),
        ("DELETE", "stats") => {
            app.stats.reset();
            json_reply(app.stats.report())
        }
        ("GET", "faults") => json_reply(json!(app.faults.settings())),
        ("POST", "faults") => {
            let update: faults::Update =
                match serde_json::from_slice(if body.is_empty() { b"{}" } else { body }) {
                    Ok(u) => u,
                    Err(e) => {
                        return error(
                            StatusCode::BAD_REQUEST,
                            &format!("Problems parsing JSON: {e}"),
                        );
                    }
                };
            match app.faults.update(&update) {
                Ok(s) => json_reply(json!(s)),
                Err(m) => error(StatusCode::UNPROCESSABLE_ENTITY, &m),
            }
        }
        ("DELETE", p) if p.starts_with("tokens/") => {
            let name = &p["tokens/".len()..];
            match app.store().revoke_token(name) {
                Ok(true) => json_reply(json!({"revoked": name})),
                Ok(false) => error(StatusCode::NOT_FOUND, "Not Found"),
                Err(e) => {
                    tracing::error!(error = %e, "revoking a token");
                    error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error")
                }
            }
        }
        _ => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}
