//! What a failed answer means: retry or not, after how long, and the error an agent reads.
//!
//! The retry policy is written here rather than taken from a middleware crate: which failures
//! are safe to repeat depends on the method (a POST that got a 500 may have been applied; a
//! refusal before processing, a 429 or 503, never was), GitHub signals rate limits three ways
//! (429, a 403 with `x-ratelimit-remaining: 0`, or a 403 whose message says so), and the wait it
//! asks for (`Retry-After`, `X-RateLimit-Reset`) must be honoured within the call's own budget.

use std::time::Duration;

use chrono::{DateTime, Utc};
use http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::client::Error;
use super::request::Req;

/// What one failed attempt means: whether to try again, after how long, and the error to give
/// when no retry is left.
pub(super) struct Outcome {
    pub retry: bool,
    pub wait: Option<Duration>,
    pub error: Error,
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// GitHub's error message (`{"message": ..., "errors": [...]}`), or the raw body.
pub(super) fn message_of(body: &str) -> String {
    one_line(&raw_message_of(body))
}

/// Longest upstream error message shown (GitHub's are one sentence).
pub(super) const MAX_MESSAGE: usize = 300;

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
        crate::metrics::get().github_rate_limited();
        crate::notify::emit(
            crate::notify::Level::Warning,
            format!("GitHub rate limit reached for {user}"),
        );
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

/// The root cause of a transport error ("Connection refused (os error 111)"), which says more
/// than octocrab's wrapper ("Service Error: client error (Connect)").
pub(super) fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
