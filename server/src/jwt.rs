//! JWT bearer validation: signature, issuer, audience and expiry against configured keys or a JWKS file.
//!
//! Keys are loaded once, when the validator is built (a rotated JWKS needs a restart or a new
//! validator). A token is accepted only if, in this order:
//! 1. it is a compact JWS of at most [`MAX_TOKEN_LEN`] bytes;
//! 2. its header names no critical extension (`crit`, RFC 7515 §4.1.11: we understand none, so
//!    a token that marks any as critical, or carries a malformed `crit`, is refused);
//!    its `alg` is one a candidate key accepts (`none` never is; an HMAC `alg` never matches a
//!    public key, which closes the RS256-to-HS256 confusion attack);
//! 3. its signature verifies with a candidate key: a token `kid` selects keys with that id, and
//!    keys configured without an id accept any `kid`; a token without `kid` tries every key;
//! 4. `iss` equals the configured issuer, `aud` (a string or an array) contains the configured
//!    audience, and `sub` is present;
//! 5. `exp` has not passed and `nbf` (if present) has, both with [`LEEWAY_SECS`] of clock skew.
//!
//! Claims are only judged after the signature verifies, so an unauthenticated caller cannot probe
//! which issuer or audience the server expects with forged tokens. Errors never echo the token.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde::Deserialize;

/// Clock skew tolerated on `exp` and `nbf`, in seconds. 30s covers NTP-synchronised hosts with
/// room to spare while keeping an expired token's afterlife short.
pub const LEEWAY_SECS: u64 = 30;

/// Longest token considered; anything longer is refused before parsing (bounded work per request).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Shortest HS256 secret accepted: RFC 7518 §3.2 requires a key at least as long as the hash.
pub const MIN_HS256_SECRET_LEN: usize = 32;

/// Token and configuration errors.
///
/// Token errors (everything but the `Config*` group) are safe to show to the client: they name
/// the problem, and at most the expected issuer and audience, which are public anyway (protected
/// resource metadata). They never contain the token.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not a compact JWS, bad base64 or JSON, or a claim of the wrong type.
    #[error("malformed bearer token: {reason}")]
    Malformed {
        /// What was wrong, in general terms.
        reason: &'static str,
    },
    /// The token's `alg` is `none`, unknown, or not accepted by any configured key.
    #[error("token algorithm {alg} is not accepted by this server")]
    UnsupportedAlgorithm {
        /// The `alg` header (sanitised).
        alg: String,
    },
    /// The header carries `crit`: extensions the token says must be understood, and this server
    /// understands none (RFC 7515 §4.1.11). Also an empty or non-array `crit`.
    #[error("token header marks extensions as critical ({crit}); this server supports none")]
    UnsupportedCritical {
        /// The `crit` value (sanitised).
        crit: String,
    },
    /// The token's `kid` names no configured key.
    #[error("token key id {kid:?} is not one of this server's keys")]
    UnknownKey {
        /// The `kid` header (sanitised).
        kid: String,
    },
    /// No candidate key verifies the signature.
    #[error("token signature does not verify against this server's keys")]
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("token expired; obtain a new one")]
    Expired {
        /// The `exp` claim (seconds since the Unix epoch).
        exp: u64,
        /// The `sub` claim of the (correctly signed) token, so the refusal can be attributed.
        sub: String,
    },
    /// `nbf` is in the future (beyond the leeway).
    #[error("token is not valid yet; check the clocks of the issuer and this server")]
    NotYetValid {
        /// The `nbf` claim.
        nbf: u64,
    },
    /// `iss` is not the configured issuer.
    #[error("token issuer is not trusted; expected {expected}")]
    WrongIssuer {
        /// The configured issuer.
        expected: String,
    },
    /// `aud` does not contain the configured audience.
    #[error("token audience does not include this server; expected {expected}")]
    WrongAudience {
        /// The configured audience.
        expected: String,
    },
    /// A required claim is absent, empty, or not of a usable type.
    #[error("token lacks a valid {claim} claim")]
    MissingClaim {
        /// `exp`, `iss`, `aud` or `sub`.
        claim: &'static str,
    },
    /// A key file could not be read.
    #[error("cannot read JWT key file {path}: {source}")]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A configured key is unusable.
    #[error("invalid JWT key ({what}): {reason}")]
    ConfigKey {
        /// Which key (`HS256 secret #1`, `PEM key #2`, `JWKS file /etc/jwks.json`).
        what: String,
        /// Why.
        reason: String,
    },
    /// Issuer, audience or key list is unusable.
    #[error("invalid JWT configuration: {reason}")]
    Config {
        /// Why.
        reason: String,
    },
}

impl Error {
    /// A stable classification for audit events and metrics (`expired`, `wrong-audience`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Malformed { .. } => "malformed",
            Error::UnsupportedAlgorithm { .. } => "unsupported-algorithm",
            Error::UnsupportedCritical { .. } => "unsupported-crit",
            Error::UnknownKey { .. } => "unknown-key",
            Error::BadSignature => "bad-signature",
            Error::Expired { .. } => "expired",
            Error::NotYetValid { .. } => "not-yet-valid",
            Error::WrongIssuer { .. } => "wrong-issuer",
            Error::WrongAudience { .. } => "wrong-audience",
            Error::MissingClaim { .. } => "missing-claim",
            Error::ConfigRead { .. } | Error::ConfigKey { .. } | Error::Config { .. } => "config",
        }
    }

    /// Whether this is about the presented token (answer 401) rather than the server's
    /// configuration.
    pub fn is_token_error(&self) -> bool {
        self.code() != "config"
    }
}

/// Where verification keys come from.
#[derive(Clone)]
pub enum KeySource {
    /// A shared secret for HS256 (at least [`MIN_HS256_SECRET_LEN`] bytes).
    Hs256Secret {
        /// Optional key id; without one the key accepts any token `kid`.
        kid: Option<String>,
        /// The secret.
        secret: Vec<u8>,
    },
    /// A PEM public key (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`): RSA (RS256/384/512,
    /// PS256/384/512), EC P-256/P-384 (ES256/ES384) or Ed25519 (EdDSA).
    PublicKeyPem {
        /// Optional key id; without one the key accepts any token `kid`.
        kid: Option<String>,
        /// The PEM text.
        pem: Vec<u8>,
    },
    /// A JSON Web Key Set file (RFC 7517): RSA, EC and Ed25519 signing keys, selected by `kid`.
    /// Keys marked `"use": "enc"`, symmetric (`oct`) keys and unknown key types are skipped.
    JwksFile(PathBuf),
}

impl KeySource {
    /// Reads a PEM public key file.
    pub fn pem_file(path: &Path, kid: Option<String>) -> Result<KeySource, Error> {
        let pem = std::fs::read(path).map_err(|source| Error::ConfigRead {
            path: path.to_owned(),
            source,
        })?;
        Ok(KeySource::PublicKeyPem { kid, pem })
    }
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Hs256Secret { kid, secret } => f
                .debug_struct("Hs256Secret")
                .field("kid", kid)
                .field("secret", &format_args!("[{} bytes redacted]", secret.len()))
                .finish(),
            KeySource::PublicKeyPem { kid, pem } => f
                .debug_struct("PublicKeyPem")
                .field("kid", kid)
                .field("pem", &format_args!("[{} bytes]", pem.len()))
                .finish(),
            KeySource::JwksFile(path) => f.debug_tuple("JwksFile").field(path).finish(),
        }
    }
}

/// What the server accepts.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// The exact `iss` expected.
    pub issuer: String,
    /// The audience this server is (its canonical URI, per the MCP authorization spec).
    pub audience: String,
    /// Verification keys; at least one.
    pub keys: Vec<KeySource>,
}

/// The claims gitgate uses from a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The subject; the identity layer maps it to a user.
    pub sub: String,
    /// Scopes from `scope` (space-separated) and/or `scp` (array or space-separated), as
    /// written, in order, without duplicates. Unknown ones are left for the caller to ignore.
    pub scopes: Vec<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
}

/// Loads and checks every configured key.
fn load_keys(sources: &[KeySource]) -> Result<Vec<LoadedKey>, Error> {
    let mut keys = Vec::new();
    for (index, source) in sources.iter().enumerate() {
        let number = index + 1;
        match source {
            KeySource::Hs256Secret { kid, secret } => {
                if secret.len() < MIN_HS256_SECRET_LEN {
                    return Err(Error::ConfigKey {
                        what: format!("HS256 secret #{number}"),
                        reason: format!(
                            "{} bytes is too short; use at least {MIN_HS256_SECRET_LEN} random bytes",
                            secret.len()
                        ),
                    });
                }
                keys.push(LoadedKey {
                    kid: kid.clone(),
                    algorithms: vec![Algorithm::HS256],
                    key: DecodingKey::from_secret(secret),
                });
            }
            KeySource::PublicKeyPem { kid, pem } => {
                let key = load_pem(pem).map_err(|reason| Error::ConfigKey {
                    what: format!("PEM key #{number}"),
                    reason,
                })?;
                keys.push(LoadedKey {
                    kid: kid.clone(),
                    algorithms: key.family().algorithms().to_vec(),
                    key,
                });
            }
            KeySource::JwksFile(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigRead {
                    path: path.clone(),
                    source,
                })?;
                let loaded = load_jwks(&text).map_err(|reason| Error::ConfigKey {
                    what: format!("JWKS file {}", path.display()),
                    reason,
                })?;
                keys.extend(loaded);
            }
        }
    }
    if keys.is_empty() {
        return Err(Error::Config {
            reason:
                "no verification keys; configure an HS256 secret, a PEM public key or a JWKS file"
                    .to_owned(),
        });
    }
    Ok(keys)
}

struct LoadedKey {
    kid: Option<String>,
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

/// Validates bearer JWTs against a [`JwtConfig`]. Build once; `validate` takes `&self`.
///
/// Identity providers rotate keys by publishing a new one in their JWKS first: when a token names
/// a `kid` no loaded key has, the JWKS files are read again (at most once per
/// [`JWKS_RELOAD_INTERVAL`]), so a rotation needs no restart. A file that no longer reads or
/// parses leaves the keys as they were.
pub struct JwtValidator {
    issuer: String,
    audience: String,
    keys: std::sync::RwLock<std::sync::Arc<Vec<LoadedKey>>>,
    sources: Vec<KeySource>,
    reload: std::sync::Mutex<Option<std::time::Instant>>,
    reload_interval: std::time::Duration,
}

/// Least time between two JWKS reloads triggered by unknown key ids (tokens are attacker
/// controlled: a stream of made-up `kid`s must not turn into a stream of file reads).
pub const JWKS_RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

impl fmt::Debug for JwtValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loaded = self.current_keys();
        let keys: Vec<_> = loaded
            .iter()
            .map(|k| (k.kid.as_deref().unwrap_or("-"), &k.algorithms))
            .collect();
        f.debug_struct("JwtValidator")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("keys", &keys)
            .finish()
    }
}

impl JwtValidator {
    /// Loads and checks every key once.
    pub fn new(config: JwtConfig) -> Result<JwtValidator, Error> {
        if config.issuer.trim().is_empty() {
            return Err(Error::Config {
                reason:
                    "the issuer is empty; set it to the exact `iss` your identity provider writes"
                        .to_owned(),
            });
        }
        if config.audience.trim().is_empty() {
            return Err(Error::Config {
                reason: "the audience is empty; set it to this server's canonical URL".to_owned(),
            });
        }
        let keys = load_keys(&config.keys)?;
        Ok(JwtValidator {
            issuer: config.issuer,
            audience: config.audience,
            keys: std::sync::RwLock::new(std::sync::Arc::new(keys)),
            sources: config.keys,
            reload: std::sync::Mutex::new(None),
            reload_interval: JWKS_RELOAD_INTERVAL,
        })
    }

    /// Sets the least time between JWKS reloads (tests use zero).
    pub fn with_reload_interval(mut self, interval: std::time::Duration) -> Self {
        self.reload_interval = interval;
        self
    }

    fn current_keys(&self) -> std::sync::Arc<Vec<LoadedKey>> {
        self.keys
            .read()
            .map(|k| std::sync::Arc::clone(&k))
            .unwrap_or_else(|p| std::sync::Arc::clone(&p.into_inner()))
    }

    /// Re-reads the key sources when a JWKS file is configured and the last reload is old
    /// enough; returns whether the keys were replaced.
    fn reload_keys(&self) -> bool {
        if !self
            .sources
            .iter()
            .any(|s| matches!(s, KeySource::JwksFile(_)))
        {
            return false;
        }
        {
            let mut last = self.reload.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < self.reload_interval) {
                return false;
            }
            *last = Some(std::time::Instant::now());
        }
        match load_keys(&self.sources) {
            Ok(keys) => {
                let mut slot = self.keys.write().unwrap_or_else(|p| p.into_inner());
                *slot = std::sync::Arc::new(keys);
                true
            }
            Err(e) => {
                tracing::warn!(error = %crate::diagnostics::chain(&e), "reloading the JWT keys failed; keeping the old ones");
                false
            }
        }
    }

    /// Validates `token` against the current time.
    pub fn validate(&self, token: &str) -> Result<Claims, Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        self.validate_at(token, now)
    }

    /// Validates `token` as of `now` (seconds since the Unix epoch), for tests.
    pub fn validate_at(&self, token: &str, now: u64) -> Result<Claims, Error> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(Error::Malformed {
                reason: "token is too long",
            });
        }
        if !looks_like_jwt(token) {
            return Err(Error::Malformed {
                reason: "not a JWT (three base64url segments separated by dots)",
            });
        }
        let header = parse_header(token)?;
        // Before any key work: `crit` is absent or the token is refused (we know no extension).
        if let Some(crit) = &header.crit {
            return Err(Error::UnsupportedCritical {
                crit: sanitise(&crit.to_string()),
            });
        }
        let alg = Algorithm::from_str(&header.alg).map_err(|_| Error::UnsupportedAlgorithm {
            alg: sanitise(&header.alg),
        })?;

        let mut keys = self.current_keys();
        if let Some(kid) = header.kid.as_deref()
            && !keys.iter().any(|k| k.kid.as_deref() == Some(kid))
            && self.reload_keys()
        {
            keys = self.current_keys();
        }
        let mut candidates: Vec<&LoadedKey> = match header.kid.as_deref() {
            Some(kid) => {
                let named: Vec<_> = keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .collect();
                if named.is_empty() {
                    keys.iter().filter(|k| k.kid.is_none()).collect()
                } else {
                    named
                }
            }
            None => keys.iter().collect(),
        };
        if candidates.is_empty() {
            return Err(Error::UnknownKey {
                kid: sanitise(header.kid.as_deref().unwrap_or_default()),
            });
        }
        candidates.retain(|k| k.algorithms.contains(&alg));
        if candidates.is_empty() {
            return Err(Error::UnsupportedAlgorithm {
                alg: sanitise(&header.alg),
            });
        }

        let mut validation = Validation::new(alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Times are checked below against `now`, so tests need no clock and the leeway is ours.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;

        for candidate in candidates {
            match jsonwebtoken::decode::<RawClaims>(token, &candidate.key, &validation) {
                Ok(data) => return self.check_claims(data.claims, now),
                // Wrong key, or a key of the right family but another size or curve (an ES384
                // token against a P-256 key): try the next candidate.
                Err(err)
                    if matches!(
                        err.kind(),
                        ErrorKind::InvalidSignature
                            | ErrorKind::InvalidEcdsaKey
                            | ErrorKind::InvalidEddsaKey
                            | ErrorKind::InvalidRsaKey(_)
                            | ErrorKind::InvalidKeyFormat
                            | ErrorKind::InvalidAlgorithm
                    ) => {}
                Err(err) => return Err(self.map_error(err.kind())),
            }
        }
        Err(Error::BadSignature)
    }

    fn check_claims(&self, raw: RawClaims, now: u64) -> Result<Claims, Error> {
        let sub = raw
            .sub
            .filter(|sub| !sub.is_empty())
            .ok_or(Error::MissingClaim { claim: "sub" })?;
        let exp = raw
            .exp
            .ok_or(Error::MissingClaim { claim: "exp" })?
            .seconds()?;
        // RFC 7519: the current time must be before `exp`.
        if now >= exp.saturating_add(LEEWAY_SECS) {
            return Err(Error::Expired { exp, sub });
        }
        if let Some(nbf) = raw.nbf {
            let nbf = nbf.seconds()?;
            if nbf > now.saturating_add(LEEWAY_SECS) {
                return Err(Error::NotYetValid { nbf });
            }
        }
        let mut scopes: Vec<String> = Vec::new();
        let scp_items: Vec<&str> = match &raw.scp {
            Some(ScopeList::Text(text)) => text.split_whitespace().collect(),
            Some(ScopeList::List(items)) => items.iter().map(String::as_str).collect(),
            None => Vec::new(),
        };
        let scope_items = raw.scope.as_deref().unwrap_or_default().split_whitespace();
        for item in scope_items.chain(scp_items) {
            if !item.is_empty() && !scopes.iter().any(|s| s == item) {
                scopes.push(item.to_owned());
            }
        }
        Ok(Claims { sub, scopes, exp })
    }

    fn map_error(&self, kind: &ErrorKind) -> Error {
        match kind {
            ErrorKind::InvalidIssuer => Error::WrongIssuer {
                expected: self.issuer.clone(),
            },
            ErrorKind::InvalidAudience => Error::WrongAudience {
                expected: self.audience.clone(),
            },
            ErrorKind::MissingRequiredClaim(claim) => Error::MissingClaim {
                claim: match claim.as_str() {
                    "exp" => "exp",
                    "iss" => "iss",
                    "aud" => "aud",
                    _ => "sub",
                },
            },
            ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => Error::Malformed {
                reason: "unexpected time validation",
            },
            ErrorKind::Json(_) | ErrorKind::InvalidClaimFormat(_) => Error::Malformed {
                reason: "a claim has the wrong type",
            },
            ErrorKind::Base64(_) | ErrorKind::Utf8(_) | ErrorKind::InvalidToken => {
                Error::Malformed {
                    reason: "bad base64url or JSON",
                }
            }
            _ => Error::BadSignature,
        }
    }
}

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
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    /// Any JSON at all: present means refused, whatever its shape (`null` included, which
    /// `Option` would read as absent, hence the double option).
    #[serde(default, deserialize_with = "present")]
    crit: Option<serde_json::Value>,
}

/// Deserialises a field that is present (even as `null`) to `Some`.
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(deserializer).map(Some)
}

fn parse_header(token: &str) -> Result<RawHeader, Error> {
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
struct RawClaims {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    exp: Option<NumericDate>,
    #[serde(default)]
    nbf: Option<NumericDate>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    scp: Option<ScopeList>,
}

/// RFC 7519 NumericDate: seconds, possibly fractional.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumericDate {
    Integer(u64),
    Fraction(f64),
}

impl NumericDate {
    fn seconds(&self) -> Result<u64, Error> {
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
enum ScopeList {
    Text(String),
    List(Vec<String>),
}

fn load_pem(pem: &[u8]) -> Result<DecodingKey, String> {
    let text = String::from_utf8_lossy(pem);
    if text.contains("PRIVATE KEY") {
        return Err(
            "this is a private key; configure the issuer's public key (`openssl pkey -pubout`)"
                .to_owned(),
        );
    }
    if !text.contains("-----BEGIN") {
        return Err("not PEM (expected `-----BEGIN PUBLIC KEY-----`)".to_owned());
    }
    DecodingKey::from_rsa_pem(pem)
        .or_else(|_| DecodingKey::from_ec_pem(pem))
        .or_else(|_| DecodingKey::from_ed_pem(pem))
        .map_err(|_| "not an RSA, EC (P-256/P-384) or Ed25519 public key".to_owned())
}

fn load_jwks(text: &str) -> Result<Vec<LoadedKey>, String> {
    let set: JwkSet =
        serde_json::from_str(text).map_err(|e| format!("not a JSON Web Key Set: {e}"))?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        if matches!(
            jwk.common.public_key_use,
            Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
        ) {
            continue;
        }
        let family = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa,
            AlgorithmParameters::EllipticCurve(_) => AlgorithmFamily::Ec,
            AlgorithmParameters::OctetKeyPair(_) => AlgorithmFamily::Ed,
            // Symmetric keys do not belong in a published key set; unknown types cannot be used.
            _ => continue,
        };
        // A key that names its algorithm accepts only that one (and only if it fits the family).
        let algorithms = match jwk.common.key_algorithm {
            Some(key_alg) => match Algorithm::try_from(key_alg) {
                Ok(alg) if alg.family() == family => vec![alg],
                _ => continue,
            },
            None => family.algorithms().to_vec(),
        };
        let what = jwk.common.key_id.as_deref().unwrap_or("without kid");
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("key {what}: {e}"))?;
        keys.push(LoadedKey {
            kid: jwk.common.key_id.clone(),
            algorithms,
            key,
        });
    }
    if keys.is_empty() {
        return Err(
            "no usable signing key (RSA, EC or Ed25519, not marked `\"use\": \"enc\"`)".to_owned(),
        );
    }
    Ok(keys)
}

/// Header values come from an unauthenticated client: keep them short and printable before they
/// reach an error message or a log line.
fn sanitise(value: &str) -> String {
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

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::{Value, json};

    use super::*;

    const ISS: &str = "https://idp.example.test";
    const AUD: &str = "https://gitgate.example.test/mcp";
    const NOW: u64 = 1_800_000_000;
    const HS_SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test-only";

    // Generated for these tests with `openssl genpkey` (RSA 2048, EC P-256, Ed25519) and
    // `openssl pkey -pubout`; JWKS components extracted with `openssl rsa -text` / DER. Test-only.
    const RSA_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDrRBoDffPXN1SY
7x5q9hwgph8S5mCLbJsUo+osGFoWJ+kDoGYVHgTmnLdkyRwf9Ptr+8U/ImcxJVJF
UML6IqTtJlkD5UzvBjdAjAZbFFpuenj0jemjC+v0qA+c5UuXWetNOCjRSNLvp7fA
lffe+7oAoMJWb5JC0pHwa4Yzz6lzJ4xfz4qy8l4fLovrU63gtZyGT6BcdSvj4epa
Pon11h2CKFMHoSGN2rAbtJ3dwJhA7gkKYi5reuHLelHBgLMc5M5fC4cQdSO1rVkb
/Ip7WrPE5utYv8aPtGOj4UeEAhIUS2GMJzKgyoqb2hyjqFu5ca+R5S/hT9fE11Vf
LLYgcj4LAgMBAAECggEAMKL9D8C/orvtEMrKSomDihpdrS4UQm6a5tr2I9SK9y6c
BORphi8VC0nVvg+3cUHXolzDy8gEdkwFZJAMJuL3npFBcMU8MOPjk0P/Yl/kTBek
nsYhyVPDHWqLA8ABbxInS2jzQ0TfWq0dF0LJof7/VnblhjH9ljPq+L152ocxPD1I
1e4tq7QrBKKujyzV4SHK9H4tqlu+1TLocAhbhNrCy4O/8ipzeYagMlZ5mdWddGi9
KUmKo4rtxsEeJzFzT3qm+wJn5U9Z/DQPJP7FxDd2qY3ooEPMr+rQxMeLJgGYvrFJ
zcipyedZ07WZ/MDQa0AIhdsVjgWng9WmthRXeJu7NQKBgQD3e/2vAqri4L8wJn+m
Vw0S3N/1sRfZDu7cWk2dzA+RKf3XwMEtWUx12OWGFbio0HzNMrJagooTZ3ca7tck
ALWgWruQfPlzr0JtXCIBwib0GrIyQqyDDLTyW4xlWKUqQvqGNYRMqexHGUPuVFO5
/zJxlKiKZv3IHD+CxnMCIvyMnQKBgQDzXHvFL9CKye8AIWNFoxQT06UxhdwHxa16
/NsKgTKk5x2nDITxcAakSC5t3vct6lSxAEAwBZgAtG6YvaO9QNKTYso3Vb0ic+BD
IPKVI0GBsExbegqEJc6m4tcXQRGYLcmpnVoOb7MaXWvfACK3loIFitDSxG671xc4
y7QNcLmwxwKBgE2aHZPxHDCEFK8+gyxfg4P0qm1aGIZBfniuAESIpiD4r9YlZO2Z
YLZbSq1exkZ5CYk2amKjKDSpbtmNJvztFAayLLpD1dyGiifMigVPIfPNIy9LZNi6
9UpBlqZ4w2GbGv9WbKO1bJdmvrxOyOo7sU+YM7kiTlWfNfMF0y5KVjKpAoGAHE6K
mwIXyLz6TtKTYHs6j5/TnDIMyN6mciLNO6iRgnrbiR28rPSx4RQASolfyPhzx27X
CH7uEk7qelu8mvvaQoiAKvWPHV3LHSPM86n5KaOfDhjg9kQLiH/kMvE/oarZxR/n
ZLx7YbqyHGtAnogkMY7XAV0V4EWBjvqqw9Fz1+sCgYBugDA/GjXouvll1CDvMx/W
Yn955nWlcXZHLPaYJH8U7akoFEaSIz//U1nz+Gxhh2pQwQ/YE1qxo2NaV52L8EGj
Z1s4vYyZmzxJleSaBFRAhj3oCPg4cm+zTBv6hP9HoeVfIIPCoo6FMX+QXTeTW0HF
IB44D358AfTKeXPpWRU5Hw==
-----END PRIVATE KEY-----
";
    const RSA_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA60QaA33z1zdUmO8eavYc
IKYfEuZgi2ybFKPqLBhaFifpA6BmFR4E5py3ZMkcH/T7a/vFPyJnMSVSRVDC+iKk
7SZZA+VM7wY3QIwGWxRabnp49I3powvr9KgPnOVLl1nrTTgo0UjS76e3wJX33vu6
AKDCVm+SQtKR8GuGM8+pcyeMX8+KsvJeHy6L61Ot4LWchk+gXHUr4+HqWj6J9dYd
gihTB6EhjdqwG7Sd3cCYQO4JCmIua3rhy3pRwYCzHOTOXwuHEHUjta1ZG/yKe1qz
xObrWL/Gj7Rjo+FHhAISFEthjCcyoMqKm9oco6hbuXGvkeUv4U/XxNdVXyy2IHI+
CwIDAQAB
-----END PUBLIC KEY-----
";
    const EC_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg41LkR4XxhZg7nffR
13Wcne7W/muZmsxGnTIX/iH9SIOhRANCAATtU4GoOvBVonrJ+LomTgSsLXppKkED
CnUFYLQZrRk4guTzbHECOvJaFLFjyLCbpYAEiUYkZ4Noa/j86FOU2n2l
-----END PRIVATE KEY-----
";
    const EC_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE7VOBqDrwVaJ6yfi6Jk4ErC16aSpB
Awp1BWC0Ga0ZOILk82xxAjryWhSxY8iwm6WABIlGJGeDaGv4/OhTlNp9pQ==
-----END PUBLIC KEY-----
";
    const ED_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIIB/4opp0ACAP8eMO85aBcgvxpbr+4qA5fwpSCl+fGMp
-----END PRIVATE KEY-----
";
    const ED_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAOwBV+/yYeoVa8VmYaTW1UujacT6TJA4PQaDKq+icmmw=
-----END PUBLIC KEY-----
";
    /// The RSA and EC public keys above as a JWKS (components computed with openssl, not with the
    /// library under test).
    const JWKS: &str = r#"{"keys": [
        {"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256",
         "n": "60QaA33z1zdUmO8eavYcIKYfEuZgi2ybFKPqLBhaFifpA6BmFR4E5py3ZMkcH_T7a_vFPyJnMSVSRVDC-iKk7SZZA-VM7wY3QIwGWxRabnp49I3powvr9KgPnOVLl1nrTTgo0UjS76e3wJX33vu6AKDCVm-SQtKR8GuGM8-pcyeMX8-KsvJeHy6L61Ot4LWchk-gXHUr4-HqWj6J9dYdgihTB6EhjdqwG7Sd3cCYQO4JCmIua3rhy3pRwYCzHOTOXwuHEHUjta1ZG_yKe1qzxObrWL_Gj7Rjo-FHhAISFEthjCcyoMqKm9oco6hbuXGvkeUv4U_XxNdVXyy2IHI-Cw",
         "e": "AQAB"},
        {"kty": "EC", "kid": "ec-1", "use": "sig", "alg": "ES256", "crv": "P-256",
         "x": "7VOBqDrwVaJ6yfi6Jk4ErC16aSpBAwp1BWC0Ga0ZOII",
         "y": "5PNscQI68loUsWPIsJulgASJRiRng2hr-PzoU5TafaU"},
        {"kty": "RSA", "kid": "enc-1", "use": "enc", "alg": "RSA-OAEP", "n": "AQAB", "e": "AQAB"}
    ]}"#;

    fn config(keys: Vec<KeySource>) -> JwtConfig {
        JwtConfig {
            issuer: ISS.to_owned(),
            audience: AUD.to_owned(),
            keys,
        }
    }

    fn hs_validator() -> JwtValidator {
        JwtValidator::new(config(vec![KeySource::Hs256Secret {
            kid: None,
            secret: HS_SECRET.to_vec(),
        }]))
        .expect("HS256 validator")
    }

    fn pem_validator() -> JwtValidator {
        let pem = |text: &str| KeySource::PublicKeyPem {
            kid: None,
            pem: text.as_bytes().to_vec(),
        };
        JwtValidator::new(config(vec![
            pem(RSA_PUBLIC_PEM),
            pem(EC_PUBLIC_PEM),
            pem(ED_PUBLIC_PEM),
        ]))
        .expect("PEM validator")
    }

    fn jwks_validator() -> (tempfile::TempDir, JwtValidator) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("jwks.json");
        std::fs::write(&path, JWKS).expect("write JWKS");
        let validator =
            JwtValidator::new(config(vec![KeySource::JwksFile(path)])).expect("JWKS validator");
        (dir, validator)
    }

    fn claims() -> Value {
        json!({
            "iss": ISS,
            "aud": AUD,
            "sub": "alice",
            "exp": NOW + 600,
            "iat": NOW,
            "scope": "git:read github:read",
        })
    }

    /// `claims()` with `changes` merged in (`null` removes a claim).
    fn claims_with(changes: Value) -> Value {
        let mut claims = claims();
        if let (Some(map), Some(changes)) = (claims.as_object_mut(), changes.as_object()) {
            for (name, value) in changes {
                if value.is_null() {
                    map.remove(name);
                } else {
                    map.insert(name.clone(), value.clone());
                }
            }
        }
        claims
    }

    fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
        let key = match alg {
            Algorithm::HS256 => EncodingKey::from_secret(HS_SECRET),
            Algorithm::RS256 => EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).expect("rsa"),
            Algorithm::ES256 => EncodingKey::from_ec_pem(EC_PRIVATE_PEM.as_bytes()).expect("ec"),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(ED_PRIVATE_PEM.as_bytes()).expect("ed"),
            other => panic!("no test key for {other:?}"),
        };
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        encode(&header, claims, &key).expect("sign test token")
    }

    fn hs(claims: &Value) -> String {
        sign(Algorithm::HS256, None, claims)
    }

    /// `claims()` changed by `changes`, signed with `alg`'s test key under `kid`.
    fn tok(alg: Algorithm, kid: Option<&str>, changes: Value) -> String {
        sign(alg, kid, &claims_with(changes))
    }

    /// `check(validator, token, expected)`: `"ok"` (valid, subject alice) or an error code.
    /// Every error message is also checked not to echo the token.
    fn check(validator: &JwtValidator, token: &str, expected: &str) {
        match validator.validate_at(token, NOW) {
            Ok(claims) => {
                assert_eq!(expected, "ok", "token accepted");
                assert_eq!(claims.sub, "alice");
            }
            Err(err) => {
                assert_eq!(err.code(), expected, "{err}");
                assert!(err.is_token_error());
                let message = err.to_string();
                for segment in token.split('.').filter(|s| s.len() > 8) {
                    assert!(
                        !message.contains(segment),
                        "message echoes the token: {message}"
                    );
                }
            }
        }
    }

    fn unsigned(header: &Value, claims: &Value) -> String {
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.", part(header), part(claims))
    }

    #[test]
    fn valid_hs256_token_yields_claims() {
        let claims = hs_validator()
            .validate_at(&hs(&claims()), NOW)
            .expect("valid token");
        assert_eq!(
            claims,
            Claims {
                sub: "alice".to_owned(),
                scopes: vec!["git:read".to_owned(), "github:read".to_owned()],
                exp: NOW + 600,
            }
        );
    }

    #[test]
    fn scopes_from_scope_and_scp() {
        let validator = hs_validator();
        let scopes = |changes: Value| {
            validator
                .validate_at(&hs(&claims_with(changes)), NOW)
                .expect("valid token")
                .scopes
        };
        assert_eq!(
            scopes(json!({"scope": null, "scp": ["git:write", "openid"]})),
            ["git:write", "openid"]
        );
        assert_eq!(scopes(json!({"scope": null, "scp": "a b"})), ["a", "b"]);
        assert_eq!(
            scopes(json!({"scope": "a  b", "scp": ["b", "c"]})),
            ["a", "b", "c"]
        );
        assert!(scopes(json!({"scope": null})).is_empty());
    }

    /// Claim checks on an HS256 token: time (with leeway), issuer, audience, subject.
    #[test]
    fn claims_are_checked() {
        let validator = hs_validator();
        #[rustfmt::skip]
        let cases = [
            (json!({}), "ok"),
            (json!({"exp": NOW - LEEWAY_SECS - 1}), "expired"),
            (json!({"exp": NOW - LEEWAY_SECS}), "expired"),
            (json!({"exp": NOW - LEEWAY_SECS + 1}), "ok"),
            (json!({"exp": (NOW + 60) as f64 + 0.5}), "ok"),
            (json!({"exp": null}), "missing-claim"),
            (json!({"exp": "soon"}), "malformed"),
            (json!({"exp": -1}), "missing-claim"),
            (json!({"nbf": NOW + LEEWAY_SECS + 1}), "not-yet-valid"),
            (json!({"nbf": NOW + LEEWAY_SECS}), "ok"),
            (json!({"aud": "https://other.test"}), "wrong-audience"),
            (json!({"aud": ["other", AUD]}), "ok"),
            (json!({"aud": ["other", "x"]}), "wrong-audience"),
            (json!({"aud": null}), "missing-claim"),
            (json!({"iss": "https://evil.test"}), "wrong-issuer"),
            (json!({"iss": null}), "missing-claim"),
            (json!({"sub": null}), "missing-claim"),
            (json!({"sub": ""}), "missing-claim"),
        ];
        for (changes, expected) in cases {
            check(&validator, &hs(&claims_with(changes)), expected);
        }
        let err = validator
            .validate_at(&hs(&claims_with(json!({"iss": "https://evil.test"}))), NOW)
            .expect_err("wrong issuer");
        assert_eq!(
            err.to_string(),
            format!("token issuer is not trusted; expected {ISS}")
        );
        // The wall-clock entry point: a token that expired in 2001 is refused.
        let err = validator.validate(&hs(&claims_with(json!({"exp": 1_000_000_000}))));
        assert!(matches!(err, Err(Error::Expired { .. })), "{err:?}");
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let validator = hs_validator();
        let token = hs(&claims());
        let parts: Vec<&str> = token.split('.').collect();
        // Flip a character in the middle of the signature.
        let mut signature = parts[2].as_bytes().to_vec();
        let middle = signature.len() / 2;
        signature[middle] = if signature[middle] == b'A' {
            b'B'
        } else {
            b'A'
        };
        let signature = String::from_utf8(signature).expect("ascii");
        let tampered = format!("{}.{}.{signature}", parts[0], parts[1]);
        check(&validator, &tampered, "bad-signature");
        // Swap in a payload naming another user, keeping the original signature.
        let forged = URL_SAFE_NO_PAD.encode(claims_with(json!({"sub": "mallory"})).to_string());
        let forged = format!("{}.{forged}.{}", parts[0], parts[2]);
        check(&validator, &forged, "bad-signature");
        // Signed with another secret.
        let other = encode(
            &Header::new(Algorithm::HS256),
            &claims(),
            &EncodingKey::from_secret(b"another-secret-of-at-least-32-bytes!"),
        )
        .expect("sign");
        check(&validator, &other, "bad-signature");
    }

    /// Regression (security issue, item 8): a JWT whose header marked an unknown extension as
    /// critical (`crit`) was accepted; RFC 7515 §4.1.11 says such a token must be rejected.
    /// Every shape of `crit` is refused, and only after a valid signature would it matter, so
    /// each token here is correctly signed.
    #[test]
    fn critical_header_extensions_are_refused() {
        let validator = hs_validator();
        let signed_with_header = |header: Value| {
            let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
            let message = format!("{}.{}", part(&header), part(&claims()));
            let signature = jsonwebtoken::crypto::sign(
                message.as_bytes(),
                &EncodingKey::from_secret(HS_SECRET),
                Algorithm::HS256,
            )
            .expect("sign");
            format!("{message}.{signature}")
        };
        // The control: the same token without `crit` is valid.
        check(
            &validator,
            &signed_with_header(json!({"alg": "HS256", "typ": "JWT"})),
            "ok",
        );
        for crit in [
            json!(["exp"]),
            json!(["http://example.com/ext"]),
            json!(["b64"]),
            json!([]),
            json!("exp"),
            json!({"exp": true}),
            json!(null),
            json!(1),
        ] {
            let token = signed_with_header(json!({"alg": "HS256", "crit": crit, "exp": 1}));
            check(&validator, &token, "unsupported-crit");
        }
        // jsonwebtoken's own encoder, as an identity provider would produce it.
        let mut header = Header::new(Algorithm::HS256);
        header.crit = Some(vec!["exp".to_owned()]);
        let token = encode(&header, &claims(), &EncodingKey::from_secret(HS_SECRET)).expect("sign");
        check(&validator, &token, "unsupported-crit");
    }

    #[test]
    fn none_algorithm_is_refused() {
        let (_dir, jwks) = jwks_validator();
        for validator in [&hs_validator(), &pem_validator(), &jwks] {
            for header in [
                json!({"alg": "none", "typ": "JWT"}),
                json!({"alg": "None"}),
                json!({"alg": "none", "kid": "rsa-1"}),
            ] {
                let token = unsigned(&header, &claims());
                assert!(looks_like_jwt(&token));
                check(validator, &token, "unsupported-algorithm");
            }
        }
    }

    #[test]
    fn rs256_and_es256_via_jwks() {
        use Algorithm::{ES256, RS256};
        let (_dir, validator) = jwks_validator();
        #[rustfmt::skip]
        let cases = [
            (RS256, Some("rsa-1"), json!({}), "ok"),
            (ES256, Some("ec-1"), json!({}), "ok"),
            // No kid: every key is tried.
            (ES256, None, json!({}), "ok"),
            // A kid naming a key of another algorithm.
            (ES256, Some("rsa-1"), json!({}), "unsupported-algorithm"),
            (RS256, Some("rsa-2"), json!({}), "unknown-key"),
            // Encryption keys are skipped, so their kid is unknown.
            (RS256, Some("enc-1"), json!({}), "unknown-key"),
            // Claims are still checked after the signature.
            (RS256, Some("rsa-1"), json!({"exp": NOW - 3600}), "expired"),
            (ES256, Some("ec-1"), json!({"aud": "other"}), "wrong-audience"),
        ];
        for (alg, kid, changes, expected) in cases {
            check(&validator, &tok(alg, kid, changes), expected);
        }
    }

    #[test]
    fn rs256_es256_eddsa_via_pem() {
        use Algorithm::{ES256, EdDSA, RS256};
        let validator = pem_validator();
        #[rustfmt::skip]
        let cases = [
            (RS256, None, "ok"),
            (ES256, None, "ok"),
            (EdDSA, None, "ok"),
            // Keys configured without a kid accept tokens that carry one.
            (RS256, Some("2026-key"), "ok"),
        ];
        for (alg, kid, expected) in cases {
            check(&validator, &tok(alg, kid, json!({})), expected);
        }
        // An HMAC-only validator has no key for RS256.
        check(
            &hs_validator(),
            &tok(RS256, None, json!({})),
            "unsupported-algorithm",
        );
    }

    #[test]
    fn hs256_signed_with_the_public_key_is_refused() {
        // The classic algorithm-confusion attack: sign HS256 with the RSA public key as secret.
        let forged = encode(
            &Header::new(Algorithm::HS256),
            &claims(),
            &EncodingKey::from_secret(RSA_PUBLIC_PEM.as_bytes()),
        )
        .expect("sign");
        check(&pem_validator(), &forged, "unsupported-algorithm");
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let validator = hs_validator();
        let header = hs(&claims())
            .split('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        for token in [
            "opaque-token".to_owned(),
            "a.b.c".to_owned(),
            "e30.e30.sig".to_owned(),
            unsigned(&json!({"typ": "JWT"}), &claims()),
            "a".repeat(MAX_TOKEN_LEN + 1),
            format!("{header}.!!!.x"),
        ] {
            check(&validator, &token, "malformed");
        }
    }

    #[test]
    fn looks_like_jwt_shapes() {
        #[rustfmt::skip]
        let cases = [
            ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln", true),
            ("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.", true),
            ("ggt_0123456789abcdef", false),
            ("a.b", false),
            ("a.b.c.d", false),
            (".b.c", false),
            ("a..c", false),
            ("a+b.c.d", false),
            ("a.b.c=", false),
            ("", false),
        ];
        for (token, expected) in cases {
            assert_eq!(looks_like_jwt(token), expected, "{token:?}");
        }
    }

    #[test]
    fn configuration_errors_are_actionable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write");
            path
        };
        let pem = |text: &str| KeySource::PublicKeyPem {
            kid: None,
            pem: text.as_bytes().to_vec(),
        };
        let cases: Vec<(Vec<KeySource>, &str)> = vec![
            (vec![], "no verification keys"),
            (
                vec![KeySource::Hs256Secret {
                    kid: None,
                    secret: b"short".to_vec(),
                }],
                "5 bytes is too short",
            ),
            (vec![pem(RSA_PRIVATE_PEM)], "this is a private key"),
            (vec![pem("hello")], "not PEM"),
            (
                vec![pem(
                    "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                )],
                "not an RSA, EC",
            ),
            (
                vec![KeySource::JwksFile(write("bad.json", "{"))],
                "not a JSON Web Key Set",
            ),
            (
                vec![KeySource::JwksFile(write(
                    "enc.json",
                    r#"{"keys":[{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}"#,
                ))],
                "no usable signing key",
            ),
            (
                vec![KeySource::JwksFile(dir.path().join("missing.json"))],
                "cannot read JWT key file",
            ),
        ];
        for (keys, expected) in cases {
            let err = JwtValidator::new(config(keys)).expect_err(expected);
            assert!(err.to_string().contains(expected), "{err}");
            assert_eq!(err.code(), "config");
            assert!(!err.is_token_error());
        }
        let mut empty_issuer = config(vec![pem(RSA_PUBLIC_PEM)]);
        empty_issuer.issuer = " ".to_owned();
        assert!(JwtValidator::new(empty_issuer).is_err());
        // PEM from a file.
        let path = write("ec.pub.pem", EC_PUBLIC_PEM);
        let source = KeySource::pem_file(&path, Some("ec".to_owned())).expect("read pem");
        let validator = JwtValidator::new(config(vec![source])).expect("validator");
        check(
            &validator,
            &tok(Algorithm::ES256, Some("ec"), json!({})),
            "ok",
        );
    }

    #[test]
    fn debug_does_not_print_secrets() {
        let source = KeySource::Hs256Secret {
            kid: Some("k".to_owned()),
            secret: HS_SECRET.to_vec(),
        };
        let debug = format!("{source:?}");
        assert!(!debug.contains("0123456789abcdef"), "{debug}");
        let debug = format!("{:?}", hs_validator());
        assert!(!debug.contains("0123456789abcdef"), "{debug}");
    }

    #[test]
    fn a_rotated_jwks_is_picked_up_without_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("jwks.json");
        let full: Value = serde_json::from_str(JWKS).expect("jwks");
        let only_rsa = json!({"keys": [full["keys"][0].clone()]});
        std::fs::write(&path, only_rsa.to_string()).expect("write");
        let token = sign(Algorithm::ES256, Some("ec-1"), &claims());

        // Reloads at most once per interval: the first unknown kid reads the file again ...
        let throttled =
            JwtValidator::new(config(vec![KeySource::JwksFile(path.clone())])).expect("validator");
        assert!(matches!(
            throttled.validate_at(&token, NOW),
            Err(Error::UnknownKey { .. })
        ));
        // ... the provider publishes the new key, and a second try right away does not reread.
        std::fs::write(&path, JWKS).expect("rotate");
        assert!(matches!(
            throttled.validate_at(&token, NOW),
            Err(Error::UnknownKey { .. })
        ));

        // Without the throttle the new key is found on the next token that names it.
        std::fs::write(&path, only_rsa.to_string()).expect("write");
        let eager = JwtValidator::new(config(vec![KeySource::JwksFile(path.clone())]))
            .expect("validator")
            .with_reload_interval(std::time::Duration::ZERO);
        assert!(eager.validate_at(&token, NOW).is_err());
        std::fs::write(&path, JWKS).expect("rotate");
        assert_eq!(
            eager.validate_at(&token, NOW).expect("rotated key").sub,
            "alice"
        );
        // A broken file later keeps the keys that work.
        std::fs::write(&path, "{not json").expect("break");
        let other = sign(Algorithm::ES256, Some("ec-9"), &claims());
        assert!(eager.validate_at(&other, NOW).is_err());
        assert_eq!(
            eager.validate_at(&token, NOW).expect("still valid").sub,
            "alice"
        );
    }
}
