//! Per-user octocrab clients over one shared connection pool, and the one request path every
//! GitHub operation takes: bounded retries with backoff, a timeout, explicit-page pagination and
//! GitHub's failures turned into errors an agent can act on.
//!
//! octocrab is used for its transport (pooled hyper client, base URI, auth header) but not for
//! its typed models: operations read the JSON they need, so a field a GitHub Enterprise version
//! lacks costs one empty value instead of a failed call. Built with the slim feature set, octocrab
//! has neither its own retry layer (three immediate retries would double up with ours) nor
//! timeouts, so both live here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::{HeaderMap, Method, StatusCode};
use octocrab::Octocrab;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

tokio::task_local! {
    /// `X-GitHub-Request-Id`s of the answers one tool call received, for its audit event.
    static REQUEST_IDS: std::cell::RefCell<Vec<String>>;
}

/// Most request ids kept for one tool call (a long list call makes many requests).
const MAX_REQUEST_IDS: usize = 20;

/// Runs `work` and returns what it returned with the GitHub request ids of every answer it got.
pub async fn with_request_ids<F: std::future::Future>(work: F) -> (F::Output, Vec<String>) {
    REQUEST_IDS
        .scope(std::cell::RefCell::new(Vec::new()), async move {
            let out = work.await;
            let ids = REQUEST_IDS.with(|ids| ids.take());
            (out, ids)
        })
        .await
}

/// Longest request id kept. GitHub's look like `C0DE:1F2E:3A4B5C:6D7E8F:65A1B2C3` (about 35
/// characters); anything longer is cut, so an upstream cannot fill the audit log through it.
const MAX_REQUEST_ID: usize = 64;

/// The request id worth keeping for the audit event: GitHub's charset only (else dropped), at
/// most [`MAX_REQUEST_ID`] characters.
fn request_id(headers: &HeaderMap) -> Option<String> {
    let id = headers.get("x-github-request-id")?.as_bytes();
    let id = &id[..id.len().min(MAX_REQUEST_ID)];
    let safe = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_' | b'.');
    (!id.is_empty() && id.iter().all(safe)).then(|| String::from_utf8_lossy(id).into_owned())
}

fn note_request_id(headers: &HeaderMap) {
    if let Some(id) = request_id(headers) {
        // Outside `with_request_ids` (direct backend use) there is nothing to collect into.
        let _ = REQUEST_IDS.try_with(|ids| {
            let mut ids = ids.borrow_mut();
            if ids.len() < MAX_REQUEST_IDS {
                ids.push(id);
            }
        });
    }
}

/// Where GitHub is and how patiently to talk to it. Validated once, then passed explicitly.
#[derive(Debug, Clone)]
pub struct GithubConfig {
    /// API base: `https://api.github.com`, `https://HOST/api/v3` (Enterprise) or the forge.
    pub base_url: String,
    /// Limit for one attempt (request and body). A timed-out attempt is not retried: a slow
    /// GitHub tends to stay slow, and a write may still land.
    pub timeout: Duration,
    /// Retries after the first attempt on 5xx, rate limits and connection failures.
    pub max_retries: u32,
    /// First backoff step; doubles with each retry.
    pub backoff: Duration,
    /// Total time a call may spend waiting between attempts; a longer wait fails at once.
    pub max_wait: Duration,
    /// Repository used when a call names none (`OWNER/NAME`).
    pub default_repo: Option<String>,
    /// Largest answer body read, in bytes; a larger one fails the call (see [`MAX_BODY`]).
    pub max_body: usize,
}

/// Default cap on one answer body. GitHub's largest JSON pages (100 issues with long bodies, a
/// 1 MB file's contents in base64) stay well below 4 MiB; a diff of a large pull request can
/// reach a few MiB. Past this the answer is refused, never buffered whole.
pub const MAX_BODY: usize = 16 << 20;

impl Default for GithubConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.github.com".into(),
            timeout: Duration::from_secs(20),
            max_retries: 3,
            backoff: Duration::from_millis(500),
            max_wait: Duration::from_secs(10),
            default_repo: None,
            max_body: MAX_BODY,
        }
    }
}

/// A token lookup in flight (the store is asynchronous).
pub type TokenFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Option<String>, Error>> + Send + 'a>>;

/// Where a user's GitHub token comes from: the store (encrypted) on HTTP, the environment on
/// stdio, a map in tests. Asked once per user; the client built from it is then kept.
pub trait TokenSource: Send + Sync {
    /// The user's GitHub token, if they set one.
    fn github_token<'a>(&'a self, user: &'a str) -> TokenFuture<'a>;

    /// What to do when a user has none, for the error the agent reads.
    fn missing_hint(&self) -> &'static str {
        "an operator sets one with gitgate users set-github-token"
    }
}

impl TokenSource for HashMap<String, String> {
    fn github_token<'a>(&'a self, user: &'a str) -> TokenFuture<'a> {
        let token = self.get(user).cloned();
        Box::pin(async move { Ok(token) })
    }
}

impl TokenSource for std::collections::BTreeMap<String, String> {
    fn github_token<'a>(&'a self, user: &'a str) -> TokenFuture<'a> {
        let token = self.get(user).cloned();
        Box::pin(async move { Ok(token) })
    }
}

/// Everything that can go wrong talking to GitHub, worded for the agent that asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("GitHub rate limit reached for {user}; resets at {} UTC", resets_at.format("%H:%M"))]
    RateLimited {
        user: String,
        resets_at: DateTime<Utc>,
    },
    #[error("{what} not found on GitHub")]
    NotFound { what: String },
    #[error("GitHub rejected {user}'s token; set a new one with gitgate users set-github-token")]
    Unauthorized { user: String },
    #[error("{user} has no GitHub token; {hint}")]
    NoToken { user: String, hint: &'static str },
    #[error("cannot read {user}'s GitHub token: {message}")]
    TokenUnavailable { user: String, message: String },
    #[error("GitHub answered {status}: {message}")]
    Upstream { status: u16, message: String },
    #[error("GitHub did not answer within {} s", .0.as_secs_f32())]
    Timeout(Duration),
    #[error("cannot reach GitHub: {message}")]
    Unreachable { message: String },
    #[error("GitHub's answer exceeded {}; narrow the request (limit, path)", size(*.limit))]
    TooLarge { limit: usize },
    #[error("{message}")]
    Invalid { message: String },
}

/// A byte count as people write it: `16 MiB`, `64 KiB`, `100 bytes`.
pub(crate) fn size(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

impl Error {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid {
            message: message.into(),
        }
    }
}

/// One octocrab client per user, derived from one base client so all share its connection pool
/// (every `build()` would make a new pool; `user_access_token` clones keep it).
pub struct Clients {
    config: GithubConfig,
    base: Octocrab,
    tokens: Arc<dyn TokenSource>,
    by_user: Mutex<HashMap<String, Octocrab>>,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// One request as the operations describe it.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub method: Method,
    /// Path below the API base, starting with `/`, already encoded.
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    /// `Accept` header, when not JSON (e.g. the diff media type).
    pub accept: Option<&'static str>,
    /// What the request is about, for "not found" messages.
    pub what: String,
}

impl Req {
    pub fn get(path: String, what: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            path,
            query: Vec::new(),
            body: None,
            accept: None,
            what: what.into(),
        }
    }

    pub fn with_body(method: Method, path: String, body: Value, what: impl Into<String>) -> Self {
        Self {
            method,
            body: Some(body),
            ..Self::get(path, what)
        }
    }

    pub fn query(mut self, key: &'static str, value: impl ToString) -> Self {
        self.query.push((key, value.to_string()));
        self
    }

    fn uri(&self, extra: &[(&'static str, String)]) -> String {
        let mut uri = self.path.clone();
        let mut sep = if uri.contains('?') { '&' } else { '?' };
        for (k, v) in self.query.iter().chain(extra) {
            uri.push(sep);
            uri.push_str(k);
            uri.push('=');
            uri.push_str(&utf8_percent_encode(v, QUERY_VALUE).to_string());
            sep = '&';
        }
        uri
    }
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// The answer as JSON, every string bounded by [`bound_strings`].
    pub fn json(&self) -> Result<Value, Error> {
        let mut v = self.json_unbounded()?;
        bound_strings(&mut v, "");
        Ok(v)
    }

    /// The answer as JSON with strings as sent: only for a field the caller bounds itself (a
    /// file's base64 `content`), which must then bound the rest with [`bound_strings`].
    pub fn json_unbounded(&self) -> Result<Value, Error> {
        serde_json::from_str(&self.body).map_err(|e| Error::Upstream {
            status: 200,
            message: format!("unreadable answer: {e}"),
        })
    }
}

/// Longest `body` kept from an answer: GitHub's own limit for issue, pull request and comment
/// bodies is 65,536 characters.
pub(crate) const MAX_BODY_FIELD: usize = 64 << 10;
/// Longest other string kept (titles are at most 256 characters, labels 50, logins 39; URLs,
/// refs and paths stay far below this).
pub(crate) const MAX_FIELD: usize = 4 << 10;

/// Cuts every string in `v` longer than its bound, ending it with a note naming the field, as a
/// cut list ends with a "more" line. This is where answers enter the backend, so every field a
/// tool returns, in text or JSON, is bounded once, here.
pub(crate) fn bound_strings(v: &mut Value, key: &str) {
    match v {
        Value::String(text) => {
            let max = if key == "body" {
                MAX_BODY_FIELD
            } else {
                MAX_FIELD
            };
            if text.len() > max {
                let mut end = max;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
                let field = if key.is_empty() { "text" } else { key };
                text.push_str(&format!("\n... {field} cut at {}", size(max)));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| bound_strings(i, key)),
        Value::Object(map) => map.iter_mut().for_each(|(k, i)| bound_strings(i, k)),
        _ => {}
    }
}

/// What lies past a listed page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum More {
    Exact(usize),
    AtLeast(usize),
}

impl More {
    /// The "N more" count as words ("12" or "at least 200").
    pub fn words(self) -> Option<String> {
        match self {
            More::Exact(0) => None,
            More::Exact(n) => Some(n.to_string()),
            More::AtLeast(n) => Some(format!("at least {n}")),
        }
    }
}

/// Items of a list call: at most `limit` kept, and what lies beyond.
#[derive(Debug)]
pub(crate) struct Listed {
    pub items: Vec<Value>,
    pub more: More,
}

/// Largest page GitHub serves.
const PER_PAGE: usize = 100;
/// Pages fetched past what the limit needs, only to count what lies beyond.
const COUNT_PAGES: usize = 2;

/// What one failed attempt means: whether to try again, after how long, and the error to give
/// when no retry is left.
pub(super) struct Outcome {
    pub retry: bool,
    pub wait: Option<Duration>,
    pub error: Error,
}

impl Clients {
    /// Builds the shared base client; per-user clients are derived on first use.
    pub fn new(config: GithubConfig, tokens: Arc<dyn TokenSource>) -> Result<Self, Error> {
        let base = Octocrab::builder()
            .base_uri(config.base_url.as_str())
            .and_then(|b| b.build())
            .map_err(|e| Error::invalid(format!("GitHub base URL {}: {e}", config.base_url)))?;
        Ok(Self {
            config,
            base,
            tokens,
            by_user: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &GithubConfig {
        &self.config
    }

    /// Drops a user's cached client (after their token changed or was rejected).
    pub fn forget(&self, user: &str) {
        self.lock().remove(user);
    }

    /// Number of users with a cached client.
    pub fn cached_users(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Octocrab>> {
        // The map holds only clients; a panic elsewhere cannot leave it inconsistent.
        self.by_user.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn client(&self, user: &str) -> Result<Octocrab, Error> {
        if let Some(c) = self.lock().get(user) {
            return Ok(c.clone());
        }
        let token = self
            .tokens
            .github_token(user)
            .await?
            .ok_or_else(|| Error::NoToken {
                user: user.to_owned(),
                hint: self.tokens.missing_hint(),
            })?;
        let client = self
            .base
            .user_access_token(token)
            .map_err(|e| Error::invalid(format!("cannot use {user}'s token: {e}")))?;
        Ok(self.lock().entry(user.to_owned()).or_insert(client).clone())
    }

    /// Sends `req` as `user` with bounded retries; only 2xx answers come back as `Ok`.
    pub(crate) async fn send(&self, user: &str, req: &Req) -> Result<Reply, Error> {
        self.send_page(user, req, &[]).await
    }

    /// GET (or any request) whose answer is JSON.
    pub(crate) async fn json(&self, user: &str, req: &Req) -> Result<Value, Error> {
        self.send(user, req).await?.json()
    }

    async fn send_page(
        &self,
        user: &str,
        req: &Req,
        extra: &[(&'static str, String)],
    ) -> Result<Reply, Error> {
        let client = self.client(user).await?;
        // A POST that failed with a 500 may have been applied; only refusals are retried for it.
        let idempotent = req.method != Method::POST;
        let mut waited = Duration::ZERO;
        let mut attempt = 0u32;
        loop {
            let answer = self.attempt(&client, req, extra).await;
            if let Ok((_, headers, _)) = &answer {
                note_request_id(headers);
            }
            let outcome = match answer {
                Ok((status, headers, body)) if status.is_success() => {
                    return Ok(Reply { headers, body });
                }
                Ok((status, headers, body)) => {
                    classify(user, req, status, &headers, &body, idempotent)
                }
                Err(error @ Error::Unreachable { .. }) => Outcome {
                    retry: idempotent,
                    wait: None,
                    error,
                },
                Err(e) => return Err(e),
            };
            if !outcome.retry {
                if matches!(outcome.error, Error::Unauthorized { .. }) {
                    self.forget(user);
                }
                return Err(outcome.error);
            }
            let wait = outcome.wait.unwrap_or_else(|| self.backoff(attempt));
            if attempt >= self.config.max_retries
                || waited.saturating_add(wait) > self.config.max_wait
            {
                return Err(outcome.error);
            }
            tracing::debug!(user = %user, path = %req.path, attempt, ?wait, "retrying GitHub call");
            tokio::time::sleep(wait).await;
            waited += wait;
            attempt += 1;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.config.backoff.saturating_mul(1 << attempt.min(16))
    }

    /// One attempt: status, headers and the whole body, within the timeout.
    async fn attempt(
        &self,
        client: &Octocrab,
        req: &Req,
        extra: &[(&'static str, String)],
    ) -> Result<(StatusCode, HeaderMap, String), Error> {
        let mut builder = http::Request::builder()
            .method(req.method.clone())
            // A relative URI: octocrab prepends the base and adds the Authorization header only
            // to requests without an authority (or for api.github.com).
            .uri(req.uri(extra))
            .header(
                http::header::ACCEPT,
                req.accept.unwrap_or("application/vnd.github+json"),
            );
        builder = builder.header("X-GitHub-Api-Version", "2022-11-28");
        let request = client
            .build_request(builder, req.body.as_ref())
            .map_err(|e| Error::invalid(format!("cannot build the request: {e}")))?;
        let work = async {
            let response = client
                .execute(request)
                .await
                .map_err(|e| Error::Unreachable {
                    message: innermost(&e),
                })?;
            let (parts, body) = response.into_parts();
            let body = read_capped(&parts.headers, body, self.config.max_body).await?;
            Ok((parts.status, parts.headers, body))
        };
        tokio::time::timeout(self.config.timeout, work)
            .await
            .map_err(|_| Error::Timeout(self.config.timeout))?
    }

    /// Lists up to `limit` items of a paginated array endpoint and counts the rest exactly from
    /// the `Link` header's last page number: two requests however long the list (a walk would
    /// cost one request per hundred items). Pages are asked by number: following `Link` URLs
    /// would drop the user's header.
    pub(crate) async fn list_all(
        &self,
        user: &str,
        req: &Req,
        limit: usize,
    ) -> Result<Listed, Error> {
        let per_page = limit.min(PER_PAGE);
        let pages = limit.div_ceil(per_page);
        let mut items = Vec::new();
        let mut last_page = None;
        for page in 1..=pages {
            let reply = self
                .send_page(user, req, &page_query(per_page, page))
                .await?;
            last_page = last_page_of(&reply.headers);
            let got = array_of(reply.json()?)?;
            let n = got.len();
            items.extend(got);
            if n < per_page || last_page.is_none() {
                break;
            }
        }
        let mut more = items.len().saturating_sub(limit);
        items.truncate(limit);
        if let Some(last) = last_page.filter(|l| *l > pages) {
            let reply = self
                .send_page(user, req, &page_query(per_page, last))
                .await?;
            let total = (last - 1) * per_page + array_of(reply.json()?)?.len();
            more = total.saturating_sub(limit);
        }
        Ok(Listed {
            items,
            more: More::Exact(more),
        })
    }

    /// As [`Clients::list_all`], keeping only what `keep` accepts: the rest is counted by
    /// walking on, at most [`COUNT_PAGES`] pages of a hundred past the limit.
    pub(crate) async fn list(
        &self,
        user: &str,
        req: &Req,
        limit: usize,
        keep: impl Fn(&Value) -> bool,
    ) -> Result<Listed, Error> {
        self.list_at(user, req, limit, |v| v.as_array().cloned(), keep)
            .await
    }

    /// As [`Clients::list`], for answers holding the array under `key` (`{"files": [..]}`).
    pub(crate) async fn list_at(
        &self,
        user: &str,
        req: &Req,
        limit: usize,
        items_of: impl Fn(Value) -> Option<Vec<Value>>,
        keep: impl Fn(&Value) -> bool,
    ) -> Result<Listed, Error> {
        let max_pages = limit.div_ceil(PER_PAGE).max(1) + COUNT_PAGES;
        let mut items = Vec::new();
        let mut beyond = 0usize;
        for page in 1..=max_pages {
            let extra = [
                ("per_page", PER_PAGE.to_string()),
                ("page", page.to_string()),
            ];
            let reply = self.send_page(user, req, &extra).await?;
            let last = !has_next(&reply.headers);
            let got = items_of(reply.json()?).ok_or_else(|| Error::Upstream {
                status: 200,
                message: "expected a list".into(),
            })?;
            let full = got.len() >= PER_PAGE;
            for item in got.into_iter().filter(|i| keep(i)) {
                if items.len() < limit {
                    items.push(item);
                } else {
                    beyond += 1;
                }
            }
            if last || !full {
                return Ok(Listed {
                    items,
                    more: More::Exact(beyond),
                });
            }
        }
        Ok(Listed {
            items,
            more: More::AtLeast(beyond.max(1)),
        })
    }
}

fn page_query(per_page: usize, page: usize) -> [(&'static str, String); 2] {
    [
        ("per_page", per_page.to_string()),
        ("page", page.to_string()),
    ]
}

fn array_of(v: Value) -> Result<Vec<Value>, Error> {
    match v {
        Value::Array(items) => Ok(items),
        _ => Err(Error::Upstream {
            status: 200,
            message: "expected a list".into(),
        }),
    }
}

/// The `page` number of the `Link` header's `rel="last"` URL.
fn last_page_of(headers: &HeaderMap) -> Option<usize> {
    let link = headers.get(http::header::LINK)?.to_str().ok()?;
    let last = link.split(',').find(|part| part.contains("rel=\"last\""))?;
    let url = last.split(['<', '>']).nth(1)?;
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("page="))
        .and_then(|n| n.parse().ok())
}

/// The root cause of a transport error ("Connection refused (os error 111)"), which says more
/// than octocrab's wrapper ("Service Error: client error (Connect)").
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn has_next(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::LINK)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|l| l.contains("rel=\"next\""))
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// GitHub's error message (`{"message": ..., "errors": [...]}`), or the raw body.
fn message_of(body: &str) -> String {
    one_line(&raw_message_of(body))
}

/// Longest upstream error message shown (GitHub's are one sentence).
const MAX_MESSAGE: usize = 300;

/// `text` on one line of at most [`MAX_MESSAGE`] characters: an upstream error becomes the
/// agent's one-line error, and no control character reaches it.
fn one_line(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_MESSAGE)
        .collect();
    if text.chars().nth(MAX_MESSAGE).is_some() {
        out.push_str("...");
    }
    out.trim().to_owned()
}

fn raw_message_of(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return body.chars().take(MAX_MESSAGE + 1).collect();
    };
    let mut msg = v["message"].as_str().unwrap_or("").to_owned();
    if let Some(errors) = v["errors"].as_array() {
        let details: Vec<String> = errors
            .iter()
            .take(10)
            .filter_map(|e| {
                e["message"].as_str().map(str::to_owned).or_else(|| {
                    Some(format!(
                        "{} {} {}",
                        e["resource"].as_str()?,
                        e["field"].as_str()?,
                        e["code"].as_str()?
                    ))
                })
            })
            .collect();
        if !details.is_empty() {
            msg = format!("{msg} ({})", details.join("; "));
        }
    }
    msg
}

/// When the rate-limit window resets, from `X-RateLimit-Reset` (seconds since the epoch).
fn reset_of(headers: &HeaderMap) -> Option<DateTime<Utc>> {
    let secs = header_u64(headers, "x-ratelimit-reset")?;
    DateTime::from_timestamp(i64::try_from(secs).ok()?, 0)
}

/// The wait GitHub asks for: `Retry-After` seconds, else until `X-RateLimit-Reset`.
fn wait_of(headers: &HeaderMap) -> Option<Duration> {
    if let Some(secs) = header_u64(headers, "retry-after") {
        return Some(Duration::from_secs(secs));
    }
    let reset = reset_of(headers)?;
    let left = (reset - Utc::now()).to_std().unwrap_or(Duration::ZERO);
    Some(left)
}

pub(super) fn classify(
    user: &str,
    req: &Req,
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    idempotent: bool,
) -> Outcome {
    let message = message_of(body);
    let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN
            && (header_u64(headers, "x-ratelimit-remaining") == Some(0)
                || message.to_ascii_lowercase().contains("rate limit")));
    let wait = wait_of(headers);
    if rate_limited {
        // Refused before processing, so safe to retry whatever the method.
        let resets_at = reset_of(headers)
            .unwrap_or_else(|| Utc::now() + wait.unwrap_or(Duration::from_secs(60)));
        return Outcome {
            retry: true,
            wait,
            error: Error::RateLimited {
                user: user.to_owned(),
                resets_at,
            },
        };
    }
    let error = match status.as_u16() {
        401 => Error::Unauthorized {
            user: user.to_owned(),
        },
        404 => Error::NotFound {
            what: req.what.clone(),
        },
        422 => Error::Invalid { message },
        s => Error::Upstream {
            status: s,
            message: if message.is_empty() {
                status.canonical_reason().unwrap_or("error").to_owned()
            } else {
                message
            },
        },
    };
    Outcome {
        // 503 says the request was not processed; other 5xx only for idempotent methods.
        retry: status.is_server_error()
            && (idempotent || status == StatusCode::SERVICE_UNAVAILABLE),
        wait: header_u64(headers, "retry-after").map(Duration::from_secs),
        error,
    }
}

/// Reads an answer body of at most `limit` bytes: refused at once when `Content-Length` says
/// more, and the read stops as soon as an undeclared body passes the cap, so an endless body
/// costs at most `limit` bytes of memory, not what arrives before the timeout.
async fn read_capped<B>(headers: &HeaderMap, mut body: B, limit: usize) -> Result<String, Error>
where
    B: http_body_util::BodyExt + Unpin,
    B::Data: AsRef<[u8]>,
    B::Error: std::fmt::Display,
{
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(Error::TooLarge { limit });
    }
    // A declared length is trusted for the first allocation only (it is at most the cap).
    let mut buf: Vec<u8> = Vec::with_capacity(declared.map_or(0, |n| n as usize));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Error::Unreachable {
            message: e.to_string(),
        })?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        let data = data.as_ref();
        let needed = buf.len() + data.len();
        if needed > limit {
            return Err(Error::TooLarge { limit });
        }
        if needed > buf.capacity() {
            // Doubling as `Vec` does, but never past the cap.
            let target = needed.max(buf.capacity() * 2).min(limit);
            buf.reserve_exact(target - buf.len());
        }
        buf.extend_from_slice(data);
    }
    String::from_utf8(buf).map_err(|e| Error::Upstream {
        status: 200,
        message: format!("answer is not UTF-8: {}", e.utf8_error()),
    })
}

/// Characters left as they are in a query value: RFC 3986's unreserved ones. Everything else is
/// encoded, `+` (a space to many servers), `&`, `=` and `#` above all.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Characters left as they are in one path segment: the unreserved ones too. Sub-delimiters
/// such as `;` would be legal, but proxies read `..;/` and `;param` in their own ways, so they
/// are encoded; `.` passes because `.` and `..` segments are refused before a path is built.
pub(crate) const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded_whole() {
        let req = Req::get("/search/issues".into(), "search")
            .query("q", "repo:acme/w x+y&z=1#f")
            .query("ref", "ü/..;");
        assert_eq!(
            req.uri(&[("page", "2".into())]),
            "/search/issues?q=repo%3Aacme%2Fw%20x%2By%26z%3D1%23f&ref=%C3%BC%2F..%3B&page=2"
        );
    }

    fn headers(id: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "x-github-request-id",
            http::HeaderValue::from_bytes(id).expect("header value"),
        );
        h
    }

    /// Bug: a 60 KB `X-GitHub-Request-Id` was stored whole in the audit event.
    #[test]
    fn request_ids_are_bounded_to_githubs_charset() {
        let check = |id: &[u8], expected: Option<&str>| {
            assert_eq!(request_id(&headers(id)).as_deref(), expected, "{id:?}");
        };
        check(
            b"C0DE:1F2E:3A4B5C:6D7E8F:65A1B2C3",
            Some("C0DE:1F2E:3A4B5C:6D7E8F:65A1B2C3"),
        );
        let long = "A".repeat(60_000);
        check(long.as_bytes(), Some(&long[..MAX_REQUEST_ID]));
        check(b"abc def", None);
        check(b"abc\"},{\"x", None);
        check("é".as_bytes(), None);
        check(b"", None);
        assert_eq!(request_id(&HeaderMap::new()), None);
    }

    /// Bug: upstream strings had no size limit (a 40 MiB description became an 80 MiB result).
    #[test]
    fn long_strings_are_cut_with_a_note() {
        let mut v = serde_json::json!({
            "title": "t".repeat(MAX_FIELD + 10),
            "body": "b".repeat(MAX_BODY_FIELD + 10),
            "labels": [{"name": "é".repeat(MAX_FIELD)}],
            "short": "kept",
            "n": 5,
        });
        bound_strings(&mut v, "");
        let title = v["title"].as_str().expect("title");
        assert!(
            title.ends_with("\n... title cut at 4 KiB"),
            "{}",
            &title[title.len() - 40..]
        );
        assert_eq!(title.len(), MAX_FIELD + "\n... title cut at 4 KiB".len());
        let body = v["body"].as_str().expect("body");
        assert!(body.ends_with("\n... body cut at 64 KiB"));
        assert!(body.len() < MAX_BODY_FIELD + 40);
        let name = v["labels"][0]["name"].as_str().expect("label");
        assert!(name.ends_with("\n... name cut at 4 KiB"));
        assert!(name.len() <= MAX_FIELD + 40);
        assert_eq!(v["short"], "kept");
        assert_eq!(v["n"], 5);
    }

    #[test]
    fn upstream_messages_are_one_bounded_line() {
        assert_eq!(message_of("plain\nerror"), "plain error");
        let huge = serde_json::json!({ "message": "m".repeat(100_000) }).to_string();
        let msg = message_of(&huge);
        assert_eq!(msg.len(), MAX_MESSAGE + 3);
        let many = serde_json::json!({
            "message": "Validation Failed",
            "errors": vec![serde_json::json!({"message": "x"}); 10_000],
        })
        .to_string();
        assert!(message_of(&many).len() < 100);
    }

    async fn read(
        declared: Option<&str>,
        body: &'static [u8],
        limit: usize,
    ) -> Result<String, Error> {
        let mut h = HeaderMap::new();
        if let Some(n) = declared {
            h.insert(http::header::CONTENT_LENGTH, n.parse().expect("length"));
        }
        read_capped(&h, http_body_util::Full::new(body), limit).await
    }

    /// Bug: answers were read whole into memory, whatever their size.
    #[tokio::test]
    async fn bodies_past_the_cap_are_refused() {
        assert_eq!(read(None, b"{}", 2).await.expect("fits"), "{}");
        assert_eq!(read(Some("2"), b"{}", 2).await.expect("fits"), "{}");
        // Declared too large: refused before a byte is read.
        let e = read(Some("1073741824"), b"{}", 16 << 20)
            .await
            .expect_err("declared");
        assert_eq!(
            e.to_string(),
            "GitHub's answer exceeded 16 MiB; narrow the request (limit, path)"
        );
        // Undeclared (chunked) and too large: refused once past the cap.
        let e = read(None, b"{\"a\":1}", 4).await.expect_err("streamed");
        assert!(matches!(e, Error::TooLarge { limit: 4 }), "{e:?}");
        assert_eq!(size(100), "100 bytes");
        assert_eq!(size(64 << 10), "64 KiB");
    }
}
