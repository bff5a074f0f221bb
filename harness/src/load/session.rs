//! One MCP session over Streamable HTTP with a raw keep-alive HTTP/1.1 client: initialize,
//! `notifications/initialized`, then `tools/call` posts whose every reply is checked.
//!
//! The load generator does not use rmcp's client in its hot loop: that client runs a task per
//! transport, caches responses and caps requests per transport at 16, all of which would measure
//! the client as much as the server. A POST and a parse of one JSON-RPC reply is all a call needs.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

/// The protocol version the sessions negotiate (the one rmcp's client asks for too).
pub const PROTOCOL_VERSION: &str = "2025-11-25";

/// Why a call did not count as a success. Each kind is counted on its own in the report.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No HTTP reply: connection refused or reset, timeout.
    #[error("no reply: {0}")]
    Transport(#[from] reqwest::Error),
    /// An HTTP reply other than 200 (or 202 for a notification).
    #[error("HTTP {status}: {body}")]
    Status { status: u16, body: String },
    /// A JSON-RPC error object instead of a result.
    #[error("JSON-RPC error {code}: {message}")]
    Rpc { code: i64, message: String },
    /// A tool result with `isError: true`.
    #[error("tool error: {0}")]
    Tool(String),
    /// A 200 reply whose body is not the JSON-RPC response to this request.
    #[error("malformed reply: {0}")]
    Malformed(String),
}

impl CallError {
    /// A short name for the report's error table.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Transport(_) => "transport",
            // The two a loaded server sends on purpose get names of their own.
            CallError::Status { status: 429, .. } => "http_429",
            CallError::Status { status: 503, .. } => "http_503",
            CallError::Status { .. } => "http_status",
            CallError::Rpc { .. } => "jsonrpc_error",
            CallError::Tool(_) => "tool_error",
            CallError::Malformed(_) => "malformed",
        }
    }

    /// Whether the call surely reached its tool, and so has exactly one audit event: a tool
    /// error. Refusals before the tool (HTTP 429/503, protocol errors) are audited bounded in
    /// rate, not one per request, and a call cut off without a reply may or may not have run.
    pub fn reached_tool(&self) -> bool {
        matches!(self, CallError::Tool(_))
    }
}

/// An open MCP session of one user.
#[derive(Debug)]
pub struct Session {
    http: reqwest::Client,
    url: String,
    bearer: String,
    id: String,
    next_id: AtomicU64,
}

impl Session {
    /// Opens a session: `initialize`, then `notifications/initialized`, as the lifecycle asks.
    pub async fn open(http: &reqwest::Client, url: &str, token: &str) -> Result<Self, CallError> {
        let bearer = format!("Bearer {token}");
        let init = json!({
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "gitgate-bench-load", "version": env!("CARGO_PKG_VERSION")},
            },
        });
        let resp = http
            .post(url)
            .header("Authorization", &bearer)
            .header("Accept", "application/json, text/event-stream")
            .json(&init)
            .send()
            .await?;
        let id = resp
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (status, content_type, body) = read(resp).await?;
        if status != 200 {
            return Err(CallError::Status { status, body });
        }
        parse_reply(&content_type, &body, 0)?;
        let id = id.ok_or_else(|| CallError::Malformed("no Mcp-Session-Id header".into()))?;
        let session = Self {
            http: http.clone(),
            url: url.to_owned(),
            bearer,
            id,
            next_id: AtomicU64::new(1),
        };
        let resp = session
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .send()
            .await?;
        let (status, _, body) = read(resp).await?;
        if status != 202 && status != 200 {
            return Err(CallError::Status { status, body });
        }
        Ok(session)
    }

    /// Calls `tool` and checks the reply: HTTP 200, the JSON-RPC response to this request, a
    /// result without `isError`.
    pub async fn call(&self, tool: &str, arguments: Value) -> Result<(), CallError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let request = json!({
            "jsonrpc": "2.0",
            "id": id,
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        });
        let (status, content_type, body) = read(self.post(&request).send().await?).await?;
        if status != 200 {
            return Err(CallError::Status { status, body });
        }
        let result = parse_reply(&content_type, &body, id)?;
        if result.get("isError").and_then(Value::as_bool) == Some(true) {
            let text = result["content"][0]["text"].as_str().unwrap_or_default();
            return Err(CallError::Tool(text.chars().take(200).collect()));
        }
        Ok(())
    }

    /// Ends the session (HTTP DELETE), so the server's per-user session count goes back down.
    pub async fn close(&self) {
        // Best effort: the server also expires idle sessions, and a closed server has none.
        let _ = self
            .http
            .delete(&self.url)
            .header("Authorization", &self.bearer)
            .header("Mcp-Session-Id", &self.id)
            .send()
            .await;
    }

    fn post(&self, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(&self.url)
            .header("Authorization", &self.bearer)
            .header("Mcp-Session-Id", &self.id)
            .header("MCP-Protocol-Version", PROTOCOL_VERSION)
            .header("Accept", "application/json, text/event-stream")
            .json(body)
    }
}

async fn read(resp: reqwest::Response) -> Result<(u16, String, String), CallError> {
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = resp.text().await?;
    Ok((status, content_type, body))
}

/// The `result` of the JSON-RPC response with this `id`, from a JSON body or from the `data:`
/// events of an SSE body (the server picks either; an SSE stream may carry priming events with
/// empty data and notifications before the response).
pub fn parse_reply(content_type: &str, body: &str, id: u64) -> Result<Value, CallError> {
    let messages: Vec<Value> = if content_type.starts_with("text/event-stream") {
        sse_data(body)
            .into_iter()
            .filter(|d| !d.trim().is_empty())
            .map(|d| serde_json::from_str(&d))
            .collect::<Result<_, _>>()
            .map_err(|e| CallError::Malformed(format!("SSE data is not JSON: {e}")))?
    } else {
        vec![
            serde_json::from_str(body)
                .map_err(|e| CallError::Malformed(format!("body is not JSON: {e}")))?,
        ]
    };
    let response = messages
        .into_iter()
        .find(|m| m.get("id").and_then(Value::as_u64) == Some(id))
        .ok_or_else(|| CallError::Malformed(format!("no response with id {id}")))?;
    if let Some(error) = response.get("error") {
        return Err(CallError::Rpc {
            code: error["code"].as_i64().unwrap_or_default(),
            message: error["message"].as_str().unwrap_or_default().to_owned(),
        });
    }
    response
        .get("result")
        .cloned()
        .ok_or_else(|| CallError::Malformed(format!("response {id} has no result")))
}

/// The data of each SSE event (several `data:` lines of one event joined by newlines).
fn sse_data(body: &str) -> Vec<String> {
    let mut events = Vec::new();
    let mut current: Option<String> = None;
    for line in body.lines() {
        if line.is_empty() {
            events.extend(current.take());
        } else if let Some(data) = line.strip_prefix("data:") {
            let data = data.strip_prefix(' ').unwrap_or(data);
            match &mut current {
                Some(c) => {
                    c.push('\n');
                    c.push_str(data);
                }
                None => current = Some(data.to_owned()),
            }
        }
    }
    events.extend(current);
    events
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SSE: &str = "text/event-stream";

    fn check(content_type: &str, body: &str, expected: Result<Value, &str>) {
        match (parse_reply(content_type, body, 7), expected) {
            (Ok(v), Ok(e)) => assert_eq!(v, e, "{body}"),
            (Err(e), Err(kind)) => assert_eq!(e.kind(), kind, "{body}: {e}"),
            (got, want) => panic!("{body}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn json_and_sse_replies() {
        let ok = r#"{"jsonrpc":"2.0","id":7,"result":{"content":[],"isError":false}}"#;
        let result = json!({"content": [], "isError": false});
        check("application/json", ok, Ok(result.clone()));
        // What gitgate sends: a priming event with empty data, then the response.
        let sse = format!("data: \nid: 0/0\nretry: 3000\n\ndata: {ok}\nid: 1/0\n\n");
        check(SSE, &sse, Ok(result.clone()));
        // A notification before the response, and no final blank line.
        let sse = format!(
            "data: {{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}}\n\ndata:{ok}"
        );
        check(SSE, &sse, Ok(result));
    }

    #[test]
    fn replies_that_are_not_successes() {
        check(
            "application/json",
            r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32602,"message":"bad"}}"#,
            Err("jsonrpc_error"),
        );
        check(
            "application/json",
            r#"{"jsonrpc":"2.0","id":8,"result":{}}"#,
            Err("malformed"),
        );
        check("application/json", "<html>", Err("malformed"));
        check(SSE, "data: {not json\n\n", Err("malformed"));
        check(SSE, "", Err("malformed"));
        check(
            "application/json",
            r#"{"jsonrpc":"2.0","id":7}"#,
            Err("malformed"),
        );
    }
}
