//! Requests as operations describe them, answers as they come back, and the bounds every answer
//! passes through before a tool reads it.

use http::{HeaderMap, Method};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::client::{Error, size};

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

    pub(super) fn uri(&self, extra: &[(&'static str, String)]) -> String {
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
