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

use super::failure::{Outcome, classify, innermost};
use super::request::{Reply, Req};
use super::request_ids::note_request_id;

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
    /// Where git is served (`https://github.com`), when not derived from `base_url`.
    pub git_url: Option<String>,
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
            git_url: None,
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

    /// The user's own GitHub token, for git over HTTPS (handed to libgit2's credential callback
    /// for one operation, never stored).
    pub async fn git_token(&self, user: &str) -> Result<String, Error> {
        self.tokens
            .github_token(user)
            .await?
            .ok_or_else(|| Error::NoToken {
                user: user.to_owned(),
                hint: self.tokens.missing_hint(),
            })
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

    pub(super) async fn send_page(
        &self,
        user: &str,
        req: &Req,
        extra: &[(&'static str, String)],
    ) -> Result<Reply, Error> {
        use tracing::Instrument;
        let span = tracing::info_span!(
            "github",
            otel.name = %format_args!("GitHub {} {}", req.method, req.path),
            http.request.method = %req.method,
            url.path = %req.path,
        );
        self.send_page_traced(user, req, extra)
            .instrument(span)
            .await
    }

    async fn send_page_traced(
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
            let started = std::time::Instant::now();
            let answer = self.attempt(&client, req, extra).await;
            if let Ok((status, headers, _)) = &answer {
                note_request_id(headers);
                crate::metrics::get().github_answer(status.as_u16(), started.elapsed());
                crate::notify::emit(
                    crate::notify::Level::Debug,
                    format!(
                        "GitHub {} {} answered {} in {} ms",
                        req.method,
                        req.path,
                        status.as_u16(),
                        started.elapsed().as_millis()
                    ),
                );
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
            crate::metrics::get().github_retry();
            crate::notify::emit(
                crate::notify::Level::Warning,
                format!(
                    "GitHub {} {} failed ({}); retry {} of {} in {} ms",
                    req.method,
                    req.path,
                    outcome.error,
                    attempt + 1,
                    self.config.max_retries,
                    wait.as_millis()
                ),
            );
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

#[cfg(test)]
mod tests {
    use super::super::failure::{MAX_MESSAGE, message_of};
    use super::super::request::{MAX_BODY_FIELD, MAX_FIELD, bound_strings};
    use super::super::request_ids::{MAX_REQUEST_ID, request_id};
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
