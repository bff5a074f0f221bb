//! Verification keys: HS256 secrets, PEM public keys and JWKS files, loaded and checked.

use std::fmt;
use std::path::{Path, PathBuf};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};

use super::{Error, MIN_HS256_SECRET_LEN};

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

/// Loads and checks every configured key.
pub(super) fn load_keys(sources: &[KeySource]) -> Result<Vec<LoadedKey>, Error> {
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

pub(super) struct LoadedKey {
    pub(super) kid: Option<String>,
    pub(super) algorithms: Vec<Algorithm>,
    pub(super) key: DecodingKey,
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
