//! Who is calling: the caller of a tool call, and the seam that resolves a bearer token to one.
//!
//! Opaque API tokens are looked up by hash in the store on every request, so a revocation takes
//! effect on the very next call, on every replica sharing the store. JWTs are checked for
//! signature, issuer, audience and expiry, and their subject must be a known, unrevoked user;
//! the token's scopes can only narrow that user's scopes, never widen them.

use std::collections::BTreeSet;

use crate::git::Identity;
use crate::jwt::JwtValidator;
use crate::policy::{self, Principal, Scope};
use crate::store::{Store, UserRecord};

pub use crate::audit::AuthMethod;

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Author and committer of commits this caller makes.
    pub identity: Identity,
    pub auth: AuthMethod,
    /// Name, scopes, grants and rate limit, as policy sees them.
    pub principal: Principal,
}

impl Caller {
    /// The user name policy and audit refer to.
    pub fn user(&self) -> &str {
        &self.principal.user
    }
}

/// Why a request was not authenticated. HTTP answers 401 for all but `InsufficientScope` (403).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("missing bearer token")]
    Missing,
    #[error("invalid, expired or revoked token")]
    Invalid,
    /// A token that was once good: revoked, or belonging to a revoked user. The refusal is that
    /// user's attempt, so it is attributed to them (the client is told no more than for
    /// [`Error::Invalid`]).
    #[error("invalid, expired or revoked token")]
    Revoked { user: String },
    /// A JWT refused; `user` when its signature verified and its subject is a known user (an
    /// expired token of theirs, say).
    #[error("token rejected: {code}")]
    Jwt { code: String, user: Option<String> },
    #[error("the token grants none of gitgate's scopes")]
    InsufficientScope { user: String },
    /// The store did not answer; the cause goes to the operator log, never to the client.
    #[error("the user store is unavailable")]
    Store(#[source] crate::store::Error),
}

impl Error {
    /// The audit rule for this refusal.
    pub fn rule(&self) -> String {
        match self {
            Self::Missing => "auth:missing-token".into(),
            Self::Invalid => "auth:invalid-or-revoked-token".into(),
            Self::Revoked { .. } => "denied:token-revoked".into(),
            Self::Jwt {
                code,
                user: Some(_),
            } if code == "expired" => "denied:token-expired".into(),
            Self::Jwt { code, .. } => format!("auth:jwt:{code}"),
            Self::InsufficientScope { .. } => "auth:insufficient-scope".into(),
            Self::Store(_) => "auth:store-unavailable".into(),
        }
    }

    /// The user the refused attempt is attributed to, when the token proved whose it is.
    pub fn user(&self) -> Option<&str> {
        match self {
            Self::Revoked { user } | Self::InsufficientScope { user } => Some(user),
            Self::Jwt { user, .. } => user.as_deref(),
            Self::Missing | Self::Invalid | Self::Store(_) => None,
        }
    }
}

/// Resolves the bearer token of an HTTP request to a caller.
#[derive(Clone)]
pub enum Authenticator {
    /// Users from the store: opaque tokens, and JWTs when a validator is configured.
    Store {
        store: Store,
        jwt: Option<std::sync::Arc<JwtValidator>>,
        /// Compiled repository grants by their text (see [`policy::GrantsCache`]).
        grants: std::sync::Arc<policy::GrantsCache>,
    },
    /// Every request is `caller` (development on loopback only).
    NoAuth { caller: Caller },
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Store { jwt, .. } => write!(f, "Authenticator::Store(jwt: {})", jwt.is_some()),
            Self::NoAuth { caller } => write!(f, "Authenticator::NoAuth({})", caller.user()),
        }
    }
}

impl Authenticator {
    /// The caller for a request whose `Authorization: Bearer` value is `bearer`.
    pub async fn authenticate(&self, bearer: Option<&str>) -> Result<Caller, Error> {
        let (store, jwt, grants) = match self {
            Self::NoAuth { caller } => return Ok(caller.clone()),
            Self::Store { store, jwt, grants } => (store, jwt, grants),
        };
        let token = bearer.ok_or(Error::Missing)?;
        let store_error = |e: crate::store::Error| {
            // The client hears only "unavailable"; the operator gets the cause chain.
            if let Some(suppressed) = crate::diagnostics::admit("auth-store") {
                tracing::error!(suppressed, error = %crate::diagnostics::chain(&e), "authentication could not read the user store");
            }
            Error::Store(e)
        };
        if let Some(validator) = jwt.as_deref().filter(|_| crate::jwt::looks_like_jwt(token)) {
            let claims = match validator.validate(token) {
                Ok(claims) => claims,
                // Signed by our issuer, only too old: whose it was is known (a store failure
                // here costs the attribution, not the 401).
                Err(crate::jwt::Error::Expired { sub, .. }) => {
                    let user = store.jwt_subject_owner(&sub).await.ok().flatten();
                    return Err(Error::Jwt {
                        code: "expired".into(),
                        user,
                    });
                }
                Err(e) => {
                    return Err(Error::Jwt {
                        code: e.code().to_owned(),
                        user: None,
                    });
                }
            };
            let Some(record) = store
                .user_by_jwt_subject(&claims.sub)
                .await
                .map_err(store_error)?
            else {
                return Err(match store.jwt_subject_owner(&claims.sub).await {
                    Ok(Some(user)) => Error::Revoked { user },
                    _ => Error::Invalid,
                });
            };
            let token_scopes = policy::known_scopes(claims.scopes.iter().map(String::as_str));
            let mut caller = caller_with_grants(&record, AuthMethod::Jwt, grants)?;
            // A token narrows its user's scopes, never widens them: the effective scopes are
            // those both hold (an admin user holds every scope, an admin token passes all).
            caller.principal.scopes = narrow(&caller.principal.scopes, &token_scopes);
            if caller.principal.scopes.is_empty() {
                return Err(Error::InsufficientScope {
                    user: record.name.clone(),
                });
            }
            return Ok(caller);
        }
        match store.authenticate_token(token).await.map_err(store_error)? {
            Some(record) => caller_with_grants(&record, AuthMethod::Token, grants),
            // Only on the failure path (throttled per address by the transport): the token's
            // owner, if it ever had one, so a revoked user's attempts are logged as theirs.
            None => Err(match store.token_owner(token).await {
                Ok(Some(user)) => Error::Revoked { user },
                _ => Error::Invalid,
            }),
        }
    }
}

/// The scopes both the user and the token hold, reading `admin` as "every scope".
fn narrow(user: &BTreeSet<Scope>, token: &BTreeSet<Scope>) -> BTreeSet<Scope> {
    let expand = |set: &BTreeSet<Scope>| -> BTreeSet<Scope> {
        if set.contains(&Scope::Admin) {
            Scope::ALL.into_iter().collect()
        } else {
            set.clone()
        }
    };
    expand(user).intersection(&expand(token)).copied().collect()
}

/// Builds a caller from a stored user; stored scopes and grants were validated when written,
/// anything unparseable now is treated as absent rather than widening access.
pub fn caller_from_record(record: &UserRecord, auth: AuthMethod) -> Result<Caller, Error> {
    caller_with_grants(record, auth, &policy::GrantsCache::default())
}

/// [`caller_from_record`], compiling the grants through `cache`.
fn caller_with_grants(
    record: &UserRecord,
    auth: AuthMethod,
    cache: &policy::GrantsCache,
) -> Result<Caller, Error> {
    if record.is_revoked() {
        return Err(Error::Revoked {
            user: record.name.clone(),
        });
    }
    let scopes: BTreeSet<Scope> = policy::known_scopes(record.scopes.iter().map(String::as_str));
    let grants = cache.get(&record.repos);
    let identity = Identity {
        name: record
            .git_name
            .clone()
            .unwrap_or_else(|| record.name.clone()),
        email: record
            .git_email
            .clone()
            .unwrap_or_else(|| format!("{}@gitgate.invalid", record.name)),
    };
    Ok(Caller {
        identity,
        auth,
        principal: Principal {
            user: record.name.clone(),
            scopes,
            grants,
            rate_limit_per_minute: record.rate_limit_per_minute,
        },
    })
}

/// Extracts the token from an `Authorization` header value (`Bearer <token>`, scheme
/// case-insensitive).
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer"), None);
    }

    fn record(scopes: &[&str], revoked: bool) -> UserRecord {
        UserRecord {
            name: "alice".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            repos: vec!["app".into()],
            git_name: None,
            git_email: None,
            jwt_subject: None,
            rate_limit_per_minute: None,
            has_github_token: false,
            created_at: String::new(),
            revoked_at: revoked.then(String::new),
        }
    }

    #[test]
    fn tokens_narrow_scopes() {
        let set = |s: &[Scope]| s.iter().copied().collect::<BTreeSet<_>>();
        use Scope::*;
        assert_eq!(
            narrow(&set(&[GitRead, GitWrite]), &set(&[GitRead])),
            set(&[GitRead])
        );
        assert_eq!(narrow(&set(&[GitRead]), &set(&[GitWrite])), set(&[]));
        assert_eq!(narrow(&set(&[GitRead]), &set(&[Admin])), set(&[GitRead]));
        assert_eq!(
            narrow(&set(&[Admin]), &set(&[GithubRead])),
            set(&[GithubRead])
        );
    }

    #[test]
    fn callers_from_records() {
        let caller = caller_from_record(&record(&["git:read", "bogus"], false), AuthMethod::Token)
            .expect("active");
        assert_eq!(caller.principal.scopes, BTreeSet::from([Scope::GitRead]));
        assert!(caller.principal.grants.allows("app"));
        assert_eq!(caller.identity.email, "alice@gitgate.invalid");
        assert!(matches!(
            caller_from_record(&record(&[], true), AuthMethod::Token),
            Err(Error::Revoked { user }) if user == "alice"
        ));
    }
}
