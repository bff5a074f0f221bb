//! Who is calling: the caller of a tool call, and the seam that resolves a bearer token to one.
//!
//! Until per-user auth lands, HTTP knows one static bearer token (or none with `--no-auth`) and
//! stdio one local user. Everything downstream only sees a [`Caller`], so replacing the
//! [`Authenticator`] with a store-backed one changes nothing else.

use crate::git::Identity;

/// How the caller proved who they are; recorded with every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// The local user of a stdio server: whoever started the process.
    Local,
    /// A bearer token from the configuration.
    StaticToken,
    /// No authentication (`--no-auth`, loopback only).
    None,
}

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user name policy and audit refer to.
    pub user: String,
    /// Author and committer of commits this caller makes.
    pub identity: Identity,
    pub auth: AuthMethod,
}

/// Why a request was not authenticated; HTTP turns each into a 401.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("missing bearer token")]
    Missing,
    #[error("invalid bearer token")]
    Invalid,
}

/// Resolves the bearer token of an HTTP request to a caller.
#[derive(Debug, Clone)]
pub enum Authenticator {
    /// Every request must carry exactly this token; it identifies `caller`.
    StaticToken { token: String, caller: Caller },
    /// Every request is `caller` (development on loopback only).
    NoAuth { caller: Caller },
}

impl Authenticator {
    /// The caller for a request whose `Authorization: Bearer` value is `bearer`.
    pub fn authenticate(&self, bearer: Option<&str>) -> Result<Caller, Error> {
        match self {
            Self::NoAuth { caller } => Ok(caller.clone()),
            Self::StaticToken { token, caller } => {
                let presented = bearer.ok_or(Error::Missing)?;
                if constant_time_eq(presented.as_bytes(), token.as_bytes()) {
                    Ok(caller.clone())
                } else {
                    Err(Error::Invalid)
                }
            }
        }
    }
}

/// Compares without an early exit, so response timing does not reveal a matching prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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

    fn caller() -> Caller {
        Caller {
            user: "alice".into(),
            identity: Identity {
                name: "Alice".into(),
                email: "alice@example.com".into(),
            },
            auth: AuthMethod::StaticToken,
        }
    }

    #[test]
    fn static_token() {
        let auth = Authenticator::StaticToken {
            token: "s3cret".into(),
            caller: caller(),
        };
        assert_eq!(auth.authenticate(Some("s3cret")), Ok(caller()));
        assert_eq!(auth.authenticate(Some("s3cre")), Err(Error::Invalid));
        assert_eq!(auth.authenticate(Some("s3cret ")), Err(Error::Invalid));
        assert_eq!(auth.authenticate(None), Err(Error::Missing));
    }

    #[test]
    fn bearer_header() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer"), None);
    }
}
