//! Who is calling: tokens from `Authorization: token|Bearer <t>` (API) or Basic auth (git over
//! HTTP, the token as password), mapped to forge users.

use http::HeaderMap;

use crate::App;
use crate::store::User;

/// A caller whose token the forge knows.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The user the token belongs to.
    pub user: User,
    /// The token's name (stats are keyed by it; tokens themselves are never reported).
    pub token_name: String,
}

/// The token a request carries, if any.
pub fn token(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    match scheme.to_ascii_lowercase().as_str() {
        "token" | "bearer" => Some(rest.to_string()),
        "basic" => decode_basic(rest).map(|(_, password)| password),
        _ => None,
    }
}

/// Resolves the caller; `None` means GitHub's 401 "Bad credentials".
pub fn identify(app: &App, headers: &HeaderMap) -> Option<Identity> {
    let token = token(headers)?;
    let found = app.store().user_by_token(&token).ok()??;
    Some(Identity {
        user: found.0,
        token_name: found.1,
    })
}

/// Decodes `user:password` from a Basic credential.
fn decode_basic(b64: &str) -> Option<(String, String)> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_basic_credentials() {
        // "x-access-token:ghp_demo_alice"
        let got = super::decode_basic("eC1hY2Nlc3MtdG9rZW46Z2hwX2RlbW9fYWxpY2U=");
        assert_eq!(
            got,
            Some(("x-access-token".into(), "ghp_demo_alice".into()))
        );
    }
}
