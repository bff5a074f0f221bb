//! Where the server finds each user's own GitHub token.
//!
//! HTTP: the store holds every user's token encrypted and bound to that user's name
//! ([`crate::secrets::encrypt_for_user`]); it is decrypted the first time the user calls a GitHub
//! tool and the client built from it is kept. stdio: the one local user's token comes from the
//! environment (`GITHUB_TOKEN` or `GH_TOKEN`, as gh reads them).

use super::client::{Error, TokenFuture, TokenSource};
use crate::secrets::{SecretKey, decrypt_for_user};
use crate::store::Store;

/// Tokens stored (encrypted) in the store, one per user.
pub struct StoreTokens {
    store: Store,
    key: Option<SecretKey>,
}

impl StoreTokens {
    /// `key` is the server's secret key; without it no stored token can be read.
    pub fn new(store: Store, key: Option<SecretKey>) -> Self {
        Self { store, key }
    }
}

impl TokenSource for StoreTokens {
    fn github_token<'a>(&'a self, user: &'a str) -> TokenFuture<'a> {
        Box::pin(async move {
            let unavailable = |message: String| Error::TokenUnavailable {
                user: user.to_owned(),
                message,
            };
            let blob = match self.store.github_token(user).await {
                Ok(Some(blob)) => blob,
                Ok(None) => return Ok(None),
                Err(crate::store::Error::UnknownUser { .. }) => return Ok(None),
                Err(e) => {
                    // The agent reads the message; the operator log gets the cause chain.
                    if let Some(suppressed) = crate::diagnostics::admit("github-token-store") {
                        tracing::error!(suppressed, user = %user, error = %crate::diagnostics::chain(&e), "reading a GitHub token from the store failed");
                    }
                    return Err(unavailable(e.to_string()));
                }
            };
            let Some(key) = &self.key else {
                return Err(unavailable(
                    "the server has no secret key; an operator must pass --secret-key-file".into(),
                ));
            };
            let plain = decrypt_for_user(key, user, &blob).map_err(|e| {
                unavailable(format!(
                    "{e}; an operator must set it again with gitgate users set-github-token"
                ))
            })?;
            let token = plain
                .as_str()
                .map_err(|e| unavailable(e.to_string()))?
                .to_owned();
            Ok(Some(token))
        })
    }
}

/// One token for whoever calls (the stdio user, or `--no-auth` development serving).
pub struct SharedToken(pub Option<String>);

impl SharedToken {
    /// `GITHUB_TOKEN`, else `GH_TOKEN`, as gh reads them; empty values count as unset.
    pub fn from_env() -> Self {
        let token = ["GITHUB_TOKEN", "GH_TOKEN"]
            .iter()
            .filter_map(|var| std::env::var(var).ok())
            .map(|t| t.trim().to_owned())
            .find(|t| !t.is_empty());
        Self(token)
    }
}

impl TokenSource for SharedToken {
    fn github_token<'a>(&'a self, _user: &'a str) -> TokenFuture<'a> {
        let token = self.0.clone();
        Box::pin(async move { Ok(token) })
    }

    fn missing_hint(&self) -> &'static str {
        "start gitgate with GITHUB_TOKEN (or GH_TOKEN) set"
    }
}

impl std::fmt::Debug for SharedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token itself.
        write!(f, "SharedToken(set: {})", self.0.is_some())
    }
}
