//! The token as sent: its shape, header and claims before any key work.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::Error;

/// Whether `token` has the shape of a compact JWS: three dot-separated base64url segments, the
/// first two non-empty. Lets the transport send JWTs here and opaque tokens to the token store.
///
/// An empty third segment counts (an unsigned `alg: none` token), so that such a token is refused
/// here with a clear reason rather than looked up as an opaque token.
pub fn looks_like_jwt(token: &str) -> bool {
    let mut segments = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return false;
    };
    let base64url = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    !header.is_empty()
        && !payload.is_empty()
        && base64url(header)
        && base64url(payload)
        && base64url(signature)
}

#[derive(Deserialize)]
pub(super) struct RawHeader {
    pub(super) alg: String,
    #[serde(default)]
    pub(super) kid: Option<String>,
    /// Any JSON at all: present means refused, whatever its shape (`null` included, which
    /// `Option` would read as absent, hence the double option).
    #[serde(default, deserialize_with = "present")]
    pub(super) crit: Option<serde_json::Value>,
}

/// Deserialises a field that is present (even as `null`) to `Some`.
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(deserializer).map(Some)
}

pub(super) fn parse_header(token: &str) -> Result<RawHeader, Error> {
    let segment = token.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| Error::Malformed {
            reason: "header is not base64url",
        })?;
    serde_json::from_slice(&bytes).map_err(|_| Error::Malformed {
        reason: "header is not a JSON object with an `alg`",
    })
}

#[derive(Deserialize)]
pub(super) struct RawClaims {
    #[serde(default)]
    pub(super) sub: Option<String>,
    #[serde(default)]
    pub(super) exp: Option<NumericDate>,
    #[serde(default)]
    pub(super) nbf: Option<NumericDate>,
    #[serde(default)]
    pub(super) scope: Option<String>,
    #[serde(default)]
    pub(super) scp: Option<ScopeList>,
}

/// RFC 7519 NumericDate: seconds, possibly fractional.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum NumericDate {
    Integer(u64),
    Fraction(f64),
}

impl NumericDate {
    pub(super) fn seconds(&self) -> Result<u64, Error> {
        match *self {
            NumericDate::Integer(seconds) => Ok(seconds),
            NumericDate::Fraction(seconds) if seconds.is_finite() && seconds >= 0.0 => {
                // Saturating float-to-int cast; the fraction is dropped.
                Ok(seconds as u64)
            }
            NumericDate::Fraction(_) => Err(Error::Malformed {
                reason: "a time claim is not a non-negative number",
            }),
        }
    }
}

/// `scp` is an array at some providers (Okta), a space-separated string at others (Azure AD).
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum ScopeList {
    Text(String),
    List(Vec<String>),
}

/// Header values come from an unauthenticated client: keep them short and printable before they
/// reach an error message or a log line.
pub(super) fn sanitise(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(64)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect();
    if value.chars().count() > 64 {
        out.push_str("...");
    }
    out
}
