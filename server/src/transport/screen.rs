//! The HTTP side of the message screen: every POST to `/mcp` is read (bounded) and judged by
//! [`super::jsonrpc`] before rmcp sees it, after authentication (so refusals are the caller's,
//! audited by the authentication layer like rmcp's own refusals).
//!
//! Besides the message's shape it keeps two rules of the session that rmcp does not:
//! - a second `initialize` on an open session is refused (-32600): the session's protocol
//!   version and capabilities were negotiated once;
//! - a request id still in flight on the session is refused (-32600): rmcp routes answers by
//!   id, so two requests with one id would leave one of them without an answer, forever.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::BodyExt;

use super::jsonrpc::{self, INVALID_PARAMS, INVALID_REQUEST, Refusal};

/// Largest request body read, rmcp's own limit (a body over it gets 413).
pub const MAX_BODY: usize = 4 << 20;
/// Most requests in flight on one server at once, over all sessions: each holds an entry here
/// until its answer ends, so the table is bounded by what the connection limits allow.
const MAX_IN_FLIGHT: usize = 65_536;

/// A refusal the screen answered with a JSON-RPC error in a 200 (invalid params of a request
/// that was itself fine): marked on the response so the authentication layer audits it.
#[derive(Debug, Clone)]
pub struct Screened {
    pub reason: String,
}

/// The requests in flight, by session and id.
#[derive(Debug, Default)]
pub struct InFlight {
    ids: Mutex<HashSet<(String, String)>>,
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<(String, String)>> {
        // Plain set operations: a panic elsewhere cannot leave it half-updated.
        self.ids.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes `id` on `session`; `None` when a request with that id is still running there (or
    /// the table is full).
    fn take(self: &Arc<Self>, session: &str, id: &serde_json::Value) -> Option<InFlightGuard> {
        let key = (session.to_owned(), id.to_string());
        let mut ids = self.lock();
        if ids.len() >= MAX_IN_FLIGHT || !ids.insert(key.clone()) {
            return None;
        }
        Some(InFlightGuard {
            table: Arc::clone(self),
            key,
        })
    }
}

/// Gives the id back when the request's answer has been sent (or abandoned).
struct InFlightGuard {
    table: Arc<InFlight>,
    key: (String, String),
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.table.lock().remove(&self.key);
    }
}

/// The middleware: reads and judges a POST's body, then hands the same bytes to rmcp.
pub async fn screen(
    State(in_flight): State<Arc<InFlight>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST || !is_json(&request) {
        // rmcp answers other methods and content types itself (405, 415).
        return next.run(request).await;
    }
    let session = request
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (parts, body) = request.into_parts();
    let bytes = match http_body_util::Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            let message = format!("the request body is over {} MiB", MAX_BODY >> 20);
            return (StatusCode::PAYLOAD_TOO_LARGE, message).into_response();
        }
        Err(_) => return (StatusCode::BAD_REQUEST, "the request body was cut off").into_response(),
    };
    let message = match jsonrpc::inspect(&bytes) {
        Ok(message) => message,
        Err(refusal) => return refused(refusal),
    };
    let mut guard = None;
    if let (Some(session), Some(id)) = (&session, &message.id) {
        if message.is_initialize() {
            return refused(Refusal {
                id: id.clone(),
                code: INVALID_REQUEST,
                message: "invalid request: this session is already initialized; to start over, \
                          send initialize without an mcp-session-id header"
                    .into(),
            });
        }
        guard = match in_flight.take(session, id) {
            Some(guard) => Some(guard),
            None => {
                return refused(Refusal {
                    id: id.clone(),
                    code: INVALID_REQUEST,
                    message: format!(
                        "invalid request: id {} is in use by a request still running on this \
                         session; give each request its own id",
                        crate::tools::quote(&id.to_string())
                    ),
                });
            }
        };
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    match guard {
        // The id stays taken until the answer's stream ends or the client goes away.
        Some(guard) => response.map(|body| {
            Body::new(body.map_frame(move |frame| {
                let _held = &guard;
                frame
            }))
        }),
        None => response,
    }
}

fn is_json(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        })
}

/// The JSON-RPC error as the answer: 400 for a message that is not a usable request (as
/// JSON-RPC over HTTP conventionally answers parse and invalid-request errors), 200 for invalid
/// params of a request that was itself well formed (an ordinary JSON-RPC error response).
fn refused(refusal: Refusal) -> Response {
    let status = if refusal.code == INVALID_PARAMS {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut response = (status, refusal.to_json()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if refusal.code == INVALID_PARAMS {
        response.extensions_mut().insert(Screened {
            reason: refusal.message,
        });
    }
    response
}
