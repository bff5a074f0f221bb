//! The HTTP side of reaching a model: one POST per turn, retried with backoff on 429 and 5xx
//! (honouring `retry-after`), the body read with a size bound. The API key is held here only
//! and goes into a header; nothing this module returns or logs contains it.

use std::time::Duration;

use serde_json::Value;

use super::wire::Provider;

/// Largest response body read (16 MiB: a long streamed reply is well under 1 MiB).
pub const MAX_BODY: usize = 16 << 20;

/// Attempts of one request before giving up on 429 and 5xx answers.
pub const MAX_TRIES: u32 = 6;

/// Longest wait honoured between two tries, whatever `retry-after` asks for.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Why a request got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("request to {url} failed: {message}")]
    Http { url: String, message: String },
    #[error("the provider answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the provider answered {status} {tries} times; giving up")]
    Exhausted { status: u16, tries: u32 },
    #[error("the response is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("no API key: set {0} in the environment")]
    NoKey(&'static str),
}

/// One retry the client made (for the transcript).
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    pub status: u16,
    pub wait: Duration,
}

/// A response body as received, with what it took to get it.
#[derive(Debug, Clone)]
pub struct Received {
    pub status: u16,
    pub body: String,
    pub retries: Vec<Retry>,
}

/// A model endpoint.
pub struct Client {
    http: reqwest::Client,
    provider: Provider,
    url: String,
    key: Option<String>,
}

impl std::fmt::Debug for Client {
    // By hand so the key can never reach a log through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("provider", &self.provider)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `provider` at `base_url` with `key` (read from the provider's environment
    /// variable by the caller). OpenAI-compatible local servers often need no key; Anthropic's
    /// API does.
    pub fn new(
        provider: Provider,
        base_url: &str,
        key: Option<String>,
        timeout: Duration,
    ) -> Result<Self, Error> {
        let key = key.filter(|k| !k.is_empty());
        if key.is_none()
            && provider == Provider::Anthropic
            && base_url == provider.default_base_url()
        {
            return Err(Error::NoKey(provider.key_variable()));
        }
        let url = provider.endpoint(base_url);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| Error::Http {
                url: url.clone(),
                message: e.to_string(),
            })?;
        Ok(Self {
            http,
            provider,
            url,
            key,
        })
    }

    /// Posts `body`, retrying on 429 and 5xx; the first other answer is returned (a 4xx is an
    /// [`Error::Status`]).
    pub async fn send(&self, body: &Value) -> Result<Received, Error> {
        let mut retries = Vec::new();
        for tries in 1..=MAX_TRIES {
            let mut req = self.http.post(&self.url).json(body);
            req = match (self.provider, &self.key) {
                (Provider::Anthropic, key) => {
                    let r = req.header("anthropic-version", "2023-06-01");
                    match key {
                        Some(k) => r.header("x-api-key", k),
                        None => r,
                    }
                }
                (Provider::OpenAi, Some(k)) => req.bearer_auth(k),
                (Provider::OpenAi, None) => req,
            };
            let mut resp = req.send().await.map_err(|e| self.http_error(&e))?;
            let status = resp.status().as_u16();
            let wait = retry_after(resp.headers());
            let text = read_bounded(&mut resp)
                .await
                .map_err(|e| e.unwrap_or_else(|e| self.http_error(&e)))?;
            if status == 429 || (500..600).contains(&status) {
                if tries == MAX_TRIES {
                    return Err(Error::Exhausted { status, tries });
                }
                let wait = wait
                    .unwrap_or_else(|| Duration::from_millis(500 << (tries - 1)))
                    .min(MAX_WAIT);
                retries.push(Retry { status, wait });
                tokio::time::sleep(wait).await;
                continue;
            }
            if !(200..300).contains(&status) {
                return Err(Error::Status {
                    status,
                    body: text.chars().take(500).collect(),
                });
            }
            return Ok(Received {
                status,
                body: text,
                retries,
            });
        }
        Err(Error::Exhausted {
            status: 0,
            tries: MAX_TRIES,
        })
    }

    fn http_error(&self, e: &reqwest::Error) -> Error {
        // reqwest's message names the URL, never the headers.
        Error::Http {
            url: self.url.clone(),
            message: e.to_string(),
        }
    }
}

/// The wait a 429 or 503 asks for: `retry-after-ms` (OpenAI), else `retry-after` in seconds.
/// An HTTP-date form is not honoured (the backoff applies instead).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let get = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
    let wait = match get("retry-after-ms") {
        Some(ms) => ms / 1e3,
        None => get("retry-after")?,
    };
    (wait.is_finite() && wait >= 0.0).then(|| Duration::from_secs_f64(wait.min(3600.0)))
}

/// The body, at most [`MAX_BODY`] bytes, lossily decoded.
async fn read_bounded(
    resp: &mut reqwest::Response,
) -> Result<String, Result<Error, reqwest::Error>> {
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(Err)? {
        if bytes.len() + chunk.len() > MAX_BODY {
            return Err(Ok(Error::TooLarge));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue};

    use super::*;

    fn check(headers: &[(&'static str, &str)], expected: Option<f64>) {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        assert_eq!(
            retry_after(&map).map(|d| d.as_secs_f64()),
            expected,
            "{headers:?}"
        );
    }

    #[test]
    fn agent_client_reads_retry_after_in_seconds_or_milliseconds() {
        check(&[("retry-after", "2")], Some(2.0));
        check(&[("retry-after", "0.25")], Some(0.25));
        check(
            &[("retry-after-ms", "1500"), ("retry-after", "9")],
            Some(1.5),
        );
        check(&[("retry-after", "Wed, 21 Oct 2026 07:28:00 GMT")], None);
        check(&[("retry-after", "-1")], None);
        check(&[("retry-after", "NaN")], None);
        check(&[("retry-after", "1e9")], Some(3600.0));
        check(&[], None);
    }

    #[test]
    fn agent_client_never_shows_its_key() {
        let key = "sk-secret-never-shown-123".to_owned();
        let c = Client::new(
            Provider::OpenAi,
            "http://127.0.0.1:9/v1",
            Some(key.clone()),
            Duration::from_secs(1),
        )
        .unwrap();
        assert!(!format!("{c:?}").contains(&key));
        let e = Client::new(
            Provider::Anthropic,
            Provider::Anthropic.default_base_url(),
            None,
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "no API key: set ANTHROPIC_API_KEY in the environment"
        );
    }
}
