//! What operators and their orchestrators ask of the process, beside MCP:
//!
//! - `GET /healthz`: the process is up and serving (liveness; no dependency is checked, so a
//!   slow database never gets a healthy process restarted);
//! - `GET /readyz`: it can do its work: the store answers, the audit log is writable and its
//!   spool is chaining (readiness: 503 takes the replica out of a load balancer);
//! - `GET /metrics`: Prometheus text format (see [`crate::metrics`]).
//!
//! `/healthz` and `/readyz` say nothing secret and are served on the MCP listener without a
//! token. `/metrics` tells how many calls of which tools and refusals happen, which is not for
//! MCP clients: it is served on its own listener (`--metrics-listen`, meant for a private
//! interface), and on the MCP listener only to a request bearing the metrics token
//! (`--metrics-token-file`); otherwise it does not exist there (404).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::sessions::Sessions;
use crate::audit::Log;
use crate::store::Store;

/// Readiness fails while more audit events than this wait to be chained.
pub const SPOOL_LAG_LIMIT: u64 = 10_000;
/// A store that does not answer within this is not ready.
const STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the endpoints read.
#[derive(Debug, Clone)]
pub struct Ops {
    pub store: Store,
    /// The audit log, when auditing is on.
    pub log: Option<Log>,
    /// SHA-256 of the token that opens `/metrics` on the MCP listener.
    pub metrics_token: Option<[u8; 32]>,
}

impl Ops {
    pub fn new(store: Store, log: Option<Log>, metrics_token: Option<&str>) -> Self {
        Self {
            store,
            log,
            metrics_token: metrics_token.map(digest),
        }
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.trim().as_bytes()).into()
}

#[derive(Clone)]
struct OpsState {
    ops: Ops,
    sessions: Option<Arc<Sessions>>,
    /// Whether `/metrics` needs the token (the MCP listener) or not (its own listener).
    guarded: bool,
}

/// The routes for the MCP listener: health, readiness, and `/metrics` behind its token.
pub fn public_routes(ops: Ops, sessions: Arc<Sessions>) -> Router {
    routes(OpsState {
        ops,
        sessions: Some(sessions),
        guarded: true,
    })
}

/// The routes for the metrics listener: the same, `/metrics` open.
pub fn private_routes(ops: Ops, sessions: Option<Arc<Sessions>>) -> Router {
    routes(OpsState {
        ops,
        sessions,
        guarded: false,
    })
}

fn routes(state: OpsState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn readyz(State(state): State<OpsState>) -> Response {
    let ready = readiness(&state.ops).await;
    let status = if ready.ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "ready": ready.ok,
            "store": ready.store,
            "audit": ready.audit,
            "audit_spool_lag": ready.lag,
        })),
    )
        .into_response()
}

/// The readiness checks' results.
pub struct Readiness {
    pub ok: bool,
    pub store: &'static str,
    pub audit: &'static str,
    pub lag: u64,
}

/// Checks the store, the audit log and its spool.
pub async fn readiness(ops: &Ops) -> Readiness {
    let store = match tokio::time::timeout(STORE_TIMEOUT, ops.store.ping()).await {
        Ok(Ok(())) => "ok",
        Ok(Err(_)) => "failing",
        Err(_) => "timeout",
    };
    let (audit, lag) = match ops.log.as_ref().map(Log::spool_state) {
        None => ("off", 0),
        Some(None) => ("ok", 0),
        Some(Some((_, true))) => ("stuck", 0),
        Some(Some((lag, false))) if lag > SPOOL_LAG_LIMIT => ("lagging", lag),
        Some(Some((lag, false))) => ("ok", lag),
    };
    Readiness {
        ok: store == "ok" && matches!(audit, "ok" | "off"),
        store,
        audit,
        lag,
    }
}

async fn metrics(State(state): State<OpsState>, request: Request) -> Response {
    if state.guarded {
        let Some(expected) = state.ops.metrics_token else {
            return StatusCode::NOT_FOUND.into_response();
        };
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::identity::bearer_token);
        // Digests compared, so the time taken says nothing about the token's characters.
        if given.map(digest) != Some(expected) {
            return StatusCode::NOT_FOUND.into_response();
        }
    }
    if let Some(sessions) = &state.sessions {
        crate::metrics::get().set_sessions(sessions.open().await);
    }
    let lag = state
        .ops
        .log
        .as_ref()
        .and_then(Log::spool_state)
        .map(|(lag, _)| lag);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        crate::metrics::get().render(lag),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_store_that_does_not_answer_is_not_ready() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let url = format!("sqlite://{}", dir.path().join("a.db").display());
        let store = Store::connect(&url).await.unwrap_or_else(|e| panic!("{e}"));
        let ops = Ops::new(store.clone(), None, None);
        let ready = readiness(&ops).await;
        assert!(ready.ok);
        assert_eq!((ready.store, ready.audit), ("ok", "off"));
        store.close().await;
        let ready = readiness(&ops).await;
        assert!(!ready.ok);
        assert_eq!(ready.store, "failing");
    }
}
