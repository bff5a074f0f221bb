//! JWT bearer validation: signature, issuer, audience and expiry against configured keys or a JWKS file.
//!
//! Keys are loaded when the validator is built; a token naming a `kid` no loaded key has makes
//! the JWKS files be read again (rate-limited), so a rotation needs no restart. A token is accepted only if, in this order:
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
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};

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

mod keys;
mod token;

pub use keys::KeySource;
use keys::{LoadedKey, load_keys};
pub use token::looks_like_jwt;
use token::{RawClaims, RawHeader, ScopeList, parse_header, sanitise};

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
                if let Some(suppressed) = crate::diagnostics::admit("jwt-reload") {
                    tracing::warn!(suppressed, error = %crate::diagnostics::chain(&e), "reloading the JWT keys failed; keeping the old ones");
                }
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
        let (header, alg) = read_header(token)?;
        let keys = self.keys_for(header.kid.as_deref());
        let candidates = candidates(&keys, &header, alg)?;
        self.verify(token, alg, candidates, now)
    }

    /// The current keys; reloaded first when the token names a `kid` none of them has (a
    /// rotation published in the JWKS after the keys were loaded).
    fn keys_for(&self, kid: Option<&str>) -> std::sync::Arc<Vec<LoadedKey>> {
        let keys = self.current_keys();
        if let Some(kid) = kid
            && !keys.iter().any(|k| k.kid.as_deref() == Some(kid))
            && self.reload_keys()
        {
            return self.current_keys();
        }
        keys
    }

    /// Checks the signature with each candidate key in turn, then the claims.
    fn verify(
        &self,
        token: &str,
        alg: Algorithm,
        candidates: Vec<&LoadedKey>,
        now: u64,
    ) -> Result<Claims, Error> {
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

/// Steps 1 and 2 of the module docs: the token's size and shape, no critical extension, and an
/// `alg` this crate knows.
fn read_header(token: &str) -> Result<(RawHeader, Algorithm), Error> {
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
    Ok((header, alg))
}

/// The keys that may have signed the token: those with its `kid` (else those without an id),
/// or every key when it names none; of those, the ones that accept its `alg`.
fn candidates<'k>(
    keys: &'k [LoadedKey],
    header: &RawHeader,
    alg: Algorithm,
) -> Result<Vec<&'k LoadedKey>, Error> {
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
    Ok(candidates)
}

#[cfg(test)]
mod tests;
