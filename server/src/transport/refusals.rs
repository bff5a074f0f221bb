//! Audit events for requests and connections the HTTP transport refuses, bounded in size (the
//! JSON-RPC method, never the body) and in number (past a limit, one event per window and key
//! with a count, so a flood cannot flood the log).

use crate::audit::AuthMethod;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::header;

use super::connections::Refused;
use super::http::Limits;
use super::throttle::{ClientKey, Tally};
use crate::audit::{AuditEvent, Decision, Outcome, Recorder};

/// Refusals past a per-address or per-user limit are reported once per this window.
const REPORT_WINDOW: Duration = Duration::from_secs(60);
/// Bytes of a refused request's body kept to name what it attempted: a JSON-RPC request naming
/// a tool is far smaller, and a larger body is not worth buffering for a refusal.
const PEEK_BODY_LIMIT: usize = 4 * 1024;
/// Bytes of a refused request's body read (and dropped) so the client, still sending, can read
/// the refusal: closing on unread data resets the connection and loses the answer. rmcp's own
/// request body limit; a body declared larger is not read at all.
const DRAIN_BODY_LIMIT: u64 = 4 * 1024 * 1024;
/// How long a refused request's body may take to arrive before the refusal goes without it.
const BODY_READ_TIME: Duration = Duration::from_secs(2);
/// Longest method, tool name or session id copied into a refusal's event.
const MAX_NAME_LEN: usize = 64;

/// Who made a request, as far as it is known.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    pub client: ClientKey,
    /// `anonymous` when unauthenticated.
    pub user: &'a str,
    /// How they authenticated, `Bearer` when that failed.
    pub auth: AuthMethod,
}

impl<'a> Who<'a> {
    /// An unauthenticated client.
    pub fn anonymous(client: ClientKey) -> Self {
        Self {
            client,
            user: "anonymous",
            auth: AuthMethod::Bearer,
        }
    }

    pub fn refusal(self, rule: &'a str, reason: &'a str) -> Refusal<'a> {
        Refusal {
            who: self,
            rule,
            reason,
        }
    }
}

/// Why a request was refused.
pub struct Refusal<'a> {
    who: Who<'a>,
    rule: &'a str,
    reason: &'a str,
}

/// What a refused request attempted, bounded: the JSON-RPC method (the tool for
/// `tools/call`), never the arguments.
pub struct Attempted {
    tool: String,
    session: Option<String>,
    bytes_in: u64,
}

impl Attempted {
    /// From the request line and headers only (`HTTP POST`).
    pub fn head(request: &Request) -> Self {
        Self {
            tool: format!("HTTP {}", request.method()),
            session: request
                .headers()
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
                .map(|s| cut(s, MAX_NAME_LEN)),
            bytes_in: declared_length(request).unwrap_or(0),
        }
    }

    /// [`Attempted::head`], with the method read from the body when it is a small JSON-RPC
    /// message. At most [`PEEK_BODY_LIMIT`] bytes are kept; the rest, up to
    /// [`DRAIN_BODY_LIMIT`], is read and dropped, for at most [`BODY_READ_TIME`].
    pub async fn of(request: Request) -> Self {
        let mut attempted = Self::head(&request);
        if declared_length(&request).is_some_and(|n| n > DRAIN_BODY_LIMIT) {
            return attempted;
        }
        let read = read_bounded(request.into_body(), PEEK_BODY_LIMIT, DRAIN_BODY_LIMIT);
        let Ok(read) = tokio::time::timeout(BODY_READ_TIME, read).await else {
            return attempted;
        };
        attempted.bytes_in = attempted.bytes_in.max(read.total);
        if !read.complete || read.total > PEEK_BODY_LIMIT as u64 {
            return attempted;
        }
        let message: serde_json::Value = serde_json::from_slice(&read.kept).unwrap_or_default();
        let name = match message.get("method").and_then(|m| m.as_str()) {
            Some("tools/call") => message
                .pointer("/params/name")
                .and_then(|n| n.as_str())
                .unwrap_or("tools/call"),
            Some(method) => method,
            None => return attempted,
        };
        attempted.tool = cut(name, MAX_NAME_LEN);
        attempted
    }

    /// Not a request but a count of them (a report).
    fn named(tool: &str) -> Self {
        Self {
            tool: tool.to_owned(),
            session: None,
            bytes_in: 0,
        }
    }
}

/// What [`read_bounded`] read of a body.
struct Read {
    /// The first bytes, up to the limit asked for.
    kept: Vec<u8>,
    /// Bytes read in all.
    total: u64,
    /// Whether the body ended (rather than erred or passed the limit).
    complete: bool,
}

/// Reads `body` until it ends or `limit` bytes have come, keeping only the first `keep`.
async fn read_bounded(mut body: axum::body::Body, keep: usize, limit: u64) -> Read {
    use hyper::body::Body as _;
    let mut read = Read {
        kept: Vec::new(),
        total: 0,
        complete: false,
    };
    while read.total <= limit {
        let frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await;
        let data = match frame {
            None => {
                read.complete = true;
                break;
            }
            Some(Err(_)) => break,
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue, // trailers
            },
        };
        let room = keep.saturating_sub(read.kept.len());
        read.kept.extend_from_slice(&data[..room.min(data.len())]);
        read.total += data.len() as u64;
    }
    read
}

/// The `Content-Length` a request declares, if any.
fn declared_length(request: &Request) -> Option<u64> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// At most `max` bytes of `text` (on a character boundary), without control characters.
pub fn cut(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

/// A per-user limit on new sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserLimit {
    SessionCap,
    InitializeRate,
}

impl UserLimit {
    fn rule(self) -> &'static str {
        match self {
            Self::SessionCap => "denied:session-cap",
            Self::InitializeRate => "denied:initialize-rate",
        }
    }
}

/// Where refusals are recorded, and the tallies that bound how many are.
pub struct Reports {
    recorder: Option<Recorder>,
    limits: Limits,
    /// Requests refused because their address was throttled.
    throttled: Tally<ClientKey>,
    /// `initialize` requests refused by a per-user limit.
    user_limits: Tally<(String, UserLimit)>,
    /// Connections turned away.
    connections: Tally<(ClientKey, Refused)>,
}

impl Reports {
    pub fn new(recorder: Option<Recorder>, limits: Limits) -> Self {
        Self {
            recorder,
            limits,
            throttled: Tally::new(REPORT_WINDOW),
            user_limits: Tally::new(REPORT_WINDOW),
            connections: Tally::new(REPORT_WINDOW),
        }
    }

    /// How often [`Reports::report_due`] should run: a count waits at most a quarter window
    /// past its window.
    pub fn tick() -> Duration {
        REPORT_WINDOW / 4
    }

    /// Records one refused request.
    pub async fn refuse(&self, attempted: Attempted, refusal: Refusal<'_>) {
        crate::metrics::get().refused(refusal.rule);
        self.record(attempted, refusal).await;
    }

    async fn record(&self, attempted: Attempted, refusal: Refusal<'_>) {
        if let Some(recorder) = &self.recorder {
            record_refusal(recorder, attempted, refusal).await;
        }
    }

    /// Records a report of refusals counted one by one in the metrics already.
    async fn report(&self, who: Who<'_>, tool: &str, rule: &str, message: &str) {
        self.record(Attempted::named(tool), who.refusal(rule, message))
            .await;
    }

    /// Counts a request refused because `client` is throttled; recorded when a report is due.
    pub async fn throttled(&self, client: ClientKey) {
        crate::metrics::get().refused("auth:throttled");
        if let Some(refused) = self.throttled.count(&client, Instant::now()) {
            self.report_throttled(Some(client), refused).await;
        }
    }

    async fn report_throttled(&self, client: Option<ClientKey>, refused: u64) {
        let who = Who::anonymous(client.unwrap_or(ClientKey::UNKNOWN));
        let message = format!(
            "{refused} request(s) from {} refused with 429 since the last report: over {} failed \
             requests per minute from one address",
            from(client),
            self.limits.failures.per_minute
        );
        self.report(who, "HTTP requests", "auth:throttled", &message)
            .await;
    }

    /// Counts an `initialize` of `who` refused by `limit`; recorded when a report is due.
    pub async fn user_limit(&self, who: Who<'_>, limit: UserLimit, message: &str) {
        crate::metrics::get().refused(limit.rule());
        let key = (who.user.to_owned(), limit);
        if let Some(refused) = self.user_limits.count(&key, Instant::now()) {
            let message =
                format!("{refused} initialize request(s) refused since the last report: {message}");
            self.report(who, "initialize", limit.rule(), &message).await;
        }
    }

    /// Counts a connection turned away; recorded (on a task of its own, as the accept loop
    /// must not wait) when a report is due.
    pub fn connection_refused(self: &std::sync::Arc<Self>, client: ClientKey, why: Refused) {
        crate::metrics::get().refused("denied:connection-limit");
        let Some(refused) = self.connections.count(&(client, why), Instant::now()) else {
            return;
        };
        let reports = std::sync::Arc::clone(self);
        tokio::spawn(async move {
            reports.report_connections(Some(client), why, refused).await;
        });
    }

    async fn report_connections(&self, client: Option<ClientKey>, why: Refused, refused: u64) {
        let limits = self.limits.connections;
        let limit = match why {
            Refused::Total => format!("{} connections open in total", limits.max_total),
            Refused::PerAddress => format!(
                "{} connections open from one address",
                limits.max_per_address
            ),
        };
        let who = Who {
            auth: AuthMethod::None,
            ..Who::anonymous(client.unwrap_or(ClientKey::UNKNOWN))
        };
        let message = format!(
            "{refused} connection(s) from {} refused since the last report: {limit}",
            from(client)
        );
        self.report(who, "HTTP connections", "denied:connection-limit", &message)
            .await;
    }

    /// Records the counts whose window has closed; with `everything` (at shutdown), all.
    pub async fn report_due(&self, everything: bool) {
        let now = Instant::now();
        let at = |window: Duration| if everything { now + window } else { now };
        for due in self.throttled.due(at(REPORT_WINDOW)) {
            self.report_throttled(due.key, due.refused).await;
        }
        for due in self.user_limits.due(at(REPORT_WINDOW)) {
            let (user, rule) = match &due.key {
                Some((user, limit)) => (user.as_str(), limit.rule()),
                None => ("(many users)", "denied:session-limits"),
            };
            let who = Who {
                user,
                ..Who::anonymous(ClientKey::UNKNOWN)
            };
            let message = format!(
                "{} initialize request(s) refused since the last report ({rule})",
                due.refused
            );
            self.report(who, "initialize", rule, &message).await;
        }
        for due in self.connections.due(at(REPORT_WINDOW)) {
            let (client, why) = match due.key {
                Some((client, why)) => (Some(client), why),
                None => (None, Refused::PerAddress),
            };
            self.report_connections(client, why, due.refused).await;
        }
    }
}

/// A report's source: one client, or past the table's cap, many.
fn from(client: Option<ClientKey>) -> String {
    client.map_or_else(|| "many addresses".to_owned(), |c| c.to_string())
}

/// Records a refused request: who (the token's user when it proved whose it is), what was
/// attempted (the method or tool name, never the arguments), why, and the client address.
async fn record_refusal(recorder: &Recorder, attempted: Attempted, refusal: Refusal<'_>) {
    let Refusal { who, rule, reason } = refusal;
    let code = if who.user == "anonymous" {
        "unauthenticated"
    } else {
        "denied"
    };
    let event = AuditEvent::builder(
        recorder.instance(),
        who.user,
        who.auth,
        &attempted.tool,
        &serde_json::Value::Null,
    )
    .decision(Decision::deny(rule))
    .outcome(Outcome::failure(
        code,
        format!("{reason} (client {})", who.client),
    ))
    .session(attempted.session)
    .bytes_in(attempted.bytes_in)
    .build();
    if let Err(err) = recorder.record(&event).await
        && let Some(suppressed) = crate::diagnostics::admit("audit-write-refusal")
    {
        tracing::error!(suppressed, error = %crate::diagnostics::chain(&err), "audit write failed for a refused request");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cut_on_character_boundaries() {
        let check = |text: &str, max: usize, expected: &str| {
            assert_eq!(cut(text, max), expected, "{text:?}");
        };
        check("initialize", 64, "initialize");
        check("abcdef", 3, "abc");
        check("ééé", 3, "é");
        check("a\nb\u{1b}[31mc", 64, "ab[31mc");
    }

    #[tokio::test]
    async fn a_large_body_is_not_kept() {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"git_log","arguments":{{"x":"{}"}}}}}}"#,
            "y".repeat(60 * 1024)
        );
        let request = |body: String, declared: Option<usize>| {
            let mut builder = Request::builder().method("POST").uri("/mcp");
            if let Some(length) = declared {
                builder = builder.header("content-length", length);
            }
            builder.body(axum::body::Body::from(body)).expect("request")
        };
        let small = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"git_log"}}"#;
        let attempted = Attempted::of(request(small.to_owned(), Some(small.len()))).await;
        assert_eq!(attempted.tool, "git_log");
        // Read to its end (so the client can read the answer) but not kept, not parsed.
        for declared in [Some(body.len()), None] {
            let attempted = Attempted::of(request(body.clone(), declared)).await;
            assert_eq!(
                (attempted.tool.as_str(), attempted.bytes_in),
                ("HTTP POST", body.len() as u64)
            );
        }
        let read = read_bounded(axum::body::Body::from(body.clone()), 10, 1000).await;
        assert_eq!(read.kept.len(), 10);
        assert!(!read.complete);
        let long = format!(r#"{{"method":"{}"}}"#, "m".repeat(1000));
        let attempted = Attempted::of(request(long.clone(), Some(long.len()))).await;
        assert_eq!(attempted.tool.len(), MAX_NAME_LEN);
    }
}
