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

fn note_request_id(headers: &HeaderMap) {
    if let Some(id) = headers
        .get("x-github-request-id")
        .and_then(|v| v.to_str().ok())
    {
        // Outside `with_request_ids` (direct backend use) there is nothing to collect into.
        let _ = REQUEST_IDS.try_with(|ids| {
            let mut ids = ids.borrow_mut();
            if ids.len() < MAX_REQUEST_IDS {
                ids.push(id.to_owned());
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
}

impl Default for GithubConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.github.com".into(),
            timeout: Duration::from_secs(20),
            max_retries: 3,
            backoff: Duration::from_millis(500),
            max_wait: Duration::from_secs(10),
            default_repo: None,
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
    #[error("{message}")]
    Invalid { message: String },
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
            uri.push_str(&encode(v));
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
    pub fn json(&self) -> Result<Value, Error> {
        serde_json::from_str(&self.body).map_err(|e| Error::Upstream {
            status: 200,
            message: format!("unreadable answer: {e}"),
        })
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
            let body = client
                .body_to_string(http::Response::new(body))
                .await
                .map_err(|e| Error::Unreachable {
                    message: e.to_string(),
                })?;
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
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return body.chars().take(200).collect();
    };
    let mut msg = v["message"].as_str().unwrap_or("").to_owned();
    if let Some(errors) = v["errors"].as_array() {
        let details: Vec<String> = errors
            .iter()
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

/// Percent-encodes a query value or one path segment (RFC 3986 unreserved characters pass).
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
