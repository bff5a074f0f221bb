//! Secrets at rest: AES-256-GCM encryption of users' GitHub tokens with a key from a file or env.
//!
//! Blob layout: `version (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes)`. The
//! version byte is also the associated data, so it cannot be changed without failing
//! authentication; a future format (another cipher, a key id) gets a new version number.
//!
//! Nonces are random: with 96-bit random nonces one key stays safe far beyond the number of
//! tokens a gitgate store will ever hold (the NIST bound is 2^32 messages per key).

use std::fmt;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

/// Key length in bytes (AES-256).
pub const KEY_LEN: usize = 32;
/// The blob format written by [`encrypt`].
pub const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// The shortest valid blob: version, nonce and tag around an empty plaintext.
pub const MIN_BLOB_LEN: usize = 1 + NONCE_LEN + TAG_LEN;

/// Errors loading keys and decrypting. Messages never contain key material or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key file could not be read.
    #[error("cannot read secret key file {path}: {source}")]
    ReadKeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The environment variable holding the key is not set (or not UTF-8).
    #[error("environment variable {name} is not set; put a key from `gitgate keygen` in it")]
    MissingEnv {
        /// The variable.
        name: String,
    },
    /// The key decoded to the wrong number of bytes.
    #[error(
        "secret key must be {KEY_LEN} bytes, got {found}; generate one with `gitgate keygen` (64 hex characters)"
    )]
    BadKeyLength {
        /// Bytes decoded (or present, for a raw file).
        found: usize,
    },
    /// The key text is neither hex nor base64.
    #[error(
        "secret key is neither hex nor base64 (nor a raw {KEY_LEN}-byte file); generate one with `gitgate keygen`"
    )]
    BadKeyEncoding,
    /// The blob is shorter than any blob [`encrypt`] writes.
    #[error(
        "encrypted secret is {len} bytes, shorter than the {MIN_BLOB_LEN}-byte minimum; it was truncated or is not a gitgate secret"
    )]
    Truncated {
        /// The blob's length.
        len: usize,
    },
    /// The blob was written by another (newer?) format.
    #[error(
        "encrypted secret has format version {version}, this gitgate reads version {VERSION}; upgrade gitgate or re-store the secret"
    )]
    UnsupportedVersion {
        /// The version byte found.
        version: u8,
    },
    /// Authentication failed: wrong key, or the blob was altered.
    #[error(
        "cannot decrypt secret with key {key_id}: wrong key (is this the key it was encrypted with?) or the stored value was altered; re-store the secret"
    )]
    DecryptFailed {
        /// [`SecretKey::key_id`] of the key tried, to tell keys apart without revealing them.
        key_id: String,
    },
    /// The plaintext is not UTF-8 (asked for as text).
    #[error("decrypted secret is not UTF-8 text")]
    NotUtf8,
}

/// A 256-bit key for secrets at rest. Never printed: `Debug` shows only [`SecretKey::key_id`].
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; KEY_LEN]);

impl SecretKey {
    /// A key from raw bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> SecretKey {
        SecretKey(bytes)
    }

    /// A fresh random key from the thread-local CSPRNG (ChaCha seeded from the OS).
    pub fn generate() -> SecretKey {
        let mut bytes = [0u8; KEY_LEN];
        rand::fill(&mut bytes);
        SecretKey(bytes)
    }

    /// A fresh random key as 64 hex characters, for `gitgate keygen`.
    pub fn generate_hex() -> String {
        SecretKey::generate().to_hex()
    }

    /// The key as 64 lowercase hex characters (for writing a key file once; never log it).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Loads a key file: exactly 32 raw bytes, or hex or base64 text of 32 bytes (surrounding
    /// whitespace ignored).
    pub fn from_file(path: &Path) -> Result<SecretKey, Error> {
        let contents = std::fs::read(path).map_err(|source| Error::ReadKeyFile {
            path: path.to_owned(),
            source,
        })?;
        let key = SecretKey::from_file_contents(&contents);
        // Best effort: do not leave a copy of the key in freed memory.
        wipe(contents);
        key
    }

    /// Parses a key file's contents (see [`SecretKey::from_file`]).
    ///
    /// A 32-byte file is raw key material, unless every byte is printable ASCII: then it is a
    /// mistake (a password, or truncated hex), and refusing it beats silently using a weak key.
    /// A random key is all printable with probability about 1e-14.
    pub fn from_file_contents(contents: &[u8]) -> Result<SecretKey, Error> {
        if let Ok(raw) = <[u8; KEY_LEN]>::try_from(contents)
            && !raw
                .iter()
                .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
        {
            return Ok(SecretKey(raw));
        }
        match std::str::from_utf8(contents) {
            Ok(text) => SecretKey::from_text(text),
            Err(_) => Err(Error::BadKeyLength {
                found: contents.len(),
            }),
        }
    }

    /// Parses key text, as found in an environment variable: 64 hex characters, or base64
    /// (standard or URL-safe, padded or not) of 32 bytes. Surrounding whitespace is ignored.
    pub fn from_text(text: &str) -> Result<SecretKey, Error> {
        let text = text.trim();
        let mut found = None;
        if text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            // Cannot fail: even length, hex digits only.
            let bytes = hex::decode(text).unwrap_or_default();
            match <[u8; KEY_LEN]>::try_from(bytes.as_slice()) {
                Ok(key) => return Ok(SecretKey(key)),
                Err(_) => found = Some(bytes.len()),
            }
            wipe(bytes);
        }
        // Hex digits are also base64 characters, so a hex-looking text of the wrong length still
        // gets a chance as base64 before being refused.
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            if let Ok(bytes) = engine.decode(text) {
                let result = <[u8; KEY_LEN]>::try_from(bytes.as_slice());
                let len = bytes.len();
                wipe(bytes);
                match result {
                    Ok(key) => return Ok(SecretKey(key)),
                    Err(_) => {
                        found.get_or_insert(len);
                    }
                }
            }
        }
        Err(match found {
            Some(found) => Error::BadKeyLength { found },
            None => Error::BadKeyEncoding,
        })
    }

    /// Reads the key from environment variable `name` (see [`SecretKey::from_text`]).
    pub fn from_env(name: &str) -> Result<SecretKey, Error> {
        let value = std::env::var(name).map_err(|_| Error::MissingEnv {
            name: name.to_owned(),
        })?;
        let key = SecretKey::from_text(&value);
        wipe(value.into_bytes());
        key
    }

    /// A short public fingerprint (8 hex characters of a domain-separated SHA-256), to tell in
    /// logs and errors which key is loaded without revealing it.
    pub fn key_id(&self) -> String {
        let digest = Sha256::new()
            .chain_update(b"gitgate secret key id\0")
            .chain_update(self.0)
            .finalize();
        hex::encode(&digest[..4])
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(id {})", self.key_id())
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.0.fill(0);
        // Keeps the compiler from eliding the fill as a dead store (best effort; see SecretBytes).
        std::hint::black_box(&self.0);
    }
}

/// Decrypted bytes, wiped when dropped. `Debug` prints only the length.
///
/// Wiping is best effort: without the `zeroize` crate (and with `unsafe` forbidden) a plain fill
/// plus `black_box` is what we can do.
#[derive(PartialEq, Eq)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes as text (a GitHub token is ASCII).
    pub fn as_str(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.0).map_err(|_| Error::NotUtf8)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes)", self.0.len())
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        self.0.fill(0);
        std::hint::black_box(&self.0);
    }
}

/// Encrypts `plaintext`: `version || random nonce || AES-256-GCM(ciphertext || tag)`.
pub fn encrypt(key: &SecretKey, plaintext: &[u8]) -> Vec<u8> {
    encrypt_with_aad(key, &[VERSION], plaintext)
}

/// Encrypts a user's GitHub token bound to that user's name (it is part of the authenticated
/// data): a ciphertext copied onto another user's row in the store fails to decrypt there,
/// so nobody with write access to the store alone can make gitgate act as another person.
pub fn encrypt_for_user(key: &SecretKey, user: &str, plaintext: &[u8]) -> Vec<u8> {
    encrypt_with_aad(key, &user_aad(user), plaintext)
}

/// Decrypts what [`encrypt_for_user`] wrote for `user`.
pub fn decrypt_for_user(key: &SecretKey, user: &str, blob: &[u8]) -> Result<SecretBytes, Error> {
    decrypt_with_aad(key, &user_aad(user), blob)
}

fn user_aad(user: &str) -> Vec<u8> {
    let mut aad = vec![VERSION];
    aad.extend_from_slice(b"github-token:");
    aad.extend_from_slice(user.as_bytes());
    aad
}

fn encrypt_with_aad(key: &SecretKey, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::fill(&mut nonce);
    let mut blob = Vec::with_capacity(MIN_BLOB_LEN + plaintext.len());
    blob.push(VERSION);
    blob.extend_from_slice(&nonce);
    let mut body = Vec::with_capacity(plaintext.len() + TAG_LEN);
    body.extend_from_slice(plaintext);
    key.cipher()
        .encrypt_in_place(&Nonce::from(nonce), aad, &mut body)
        .expect("AES-GCM fails only for plaintexts over 64 GiB, far beyond any token");
    blob.extend_from_slice(&body);
    blob
}

/// Decrypts a blob written by [`encrypt`]. A wrong key, a flipped bit or a truncated blob is an
/// error, never a panic.
pub fn decrypt(key: &SecretKey, blob: &[u8]) -> Result<SecretBytes, Error> {
    decrypt_with_aad(key, &[VERSION], blob)
}

fn decrypt_with_aad(key: &SecretKey, aad: &[u8], blob: &[u8]) -> Result<SecretBytes, Error> {
    if blob.len() < MIN_BLOB_LEN {
        return Err(Error::Truncated { len: blob.len() });
    }
    let (header, rest) = blob.split_at(1);
    let (nonce, body) = rest.split_at(NONCE_LEN);
    if header != [VERSION] {
        return Err(Error::UnsupportedVersion { version: header[0] });
    }
    let nonce: [u8; NONCE_LEN] = nonce
        .try_into()
        .expect("split_at(NONCE_LEN) yields NONCE_LEN bytes");
    // Decrypt in place inside the wiping wrapper so no unwiped copy of the plaintext exists.
    let mut out = SecretBytes(body.to_vec());
    key.cipher()
        .decrypt_in_place(&Nonce::from(nonce), aad, &mut out.0)
        .map_err(|_| Error::DecryptFailed {
            key_id: key.key_id(),
        })?;
    Ok(out)
}

fn wipe(mut bytes: Vec<u8>) {
    bytes.fill(0);
    std::hint::black_box(&bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn test_key() -> SecretKey {
        SecretKey::from_text(HEX_KEY).expect("test key")
    }

    /// `check(text, expected)`: `Ok(hex)` of the parsed key, or `Err(error message start)`.
    fn check(text: &str, expected: Result<&str, &str>) {
        match (SecretKey::from_text(text), expected) {
            (Ok(key), Ok(hex)) => assert_eq!(key.to_hex(), hex, "{text:?}"),
            (Err(err), Err(start)) => {
                assert!(err.to_string().starts_with(start), "{text:?}: {err}")
            }
            (got, want) => panic!("{text:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn roundtrip() {
        let key = test_key();
        for plaintext in [
            &b""[..],
            b"ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            &[0xff; 1000],
        ] {
            let blob = encrypt(&key, plaintext);
            assert_eq!(blob.len(), MIN_BLOB_LEN + plaintext.len());
            assert_eq!(blob[0], VERSION);
            let decrypted = decrypt(&key, &blob).expect("roundtrip");
            assert_eq!(decrypted.as_bytes(), plaintext);
        }
        let blob = encrypt(&key, b"ghp_token");
        assert_eq!(
            decrypt(&key, &blob).expect("roundtrip").as_str().ok(),
            Some("ghp_token")
        );
    }

    #[test]
    fn nonces_differ() {
        let key = test_key();
        assert_ne!(encrypt(&key, b"same"), encrypt(&key, b"same"));
    }

    #[test]
    fn wrong_key_is_a_clear_error() {
        let blob = encrypt(&test_key(), b"ghp_token");
        let other = SecretKey::generate();
        let err = decrypt(&other, &blob).expect_err("wrong key");
        assert!(matches!(err, Error::DecryptFailed { .. }));
        assert!(err.to_string().contains("wrong key"));
        assert!(err.to_string().contains(&other.key_id()));
    }

    #[test]
    fn every_tampered_byte_is_detected() {
        let key = test_key();
        let blob = encrypt(&key, b"ghp_token");
        for i in 0..blob.len() {
            let mut tampered = blob.clone();
            tampered[i] ^= 0x01;
            let err = decrypt(&key, &tampered).expect_err("tampered");
            if i == 0 {
                assert!(
                    matches!(err, Error::UnsupportedVersion { version: 0 }),
                    "{err}"
                );
            } else {
                assert!(
                    matches!(err, Error::DecryptFailed { .. }),
                    "byte {i}: {err}"
                );
            }
        }
    }

    #[test]
    fn truncated_blobs_are_refused() {
        let key = test_key();
        let blob = encrypt(&key, b"ghp_token");
        for len in 0..blob.len() {
            let err = decrypt(&key, &blob[..len]).expect_err("truncated");
            if len < MIN_BLOB_LEN {
                assert!(matches!(err, Error::Truncated { .. }), "len {len}: {err}");
            } else {
                assert!(
                    matches!(err, Error::DecryptFailed { .. }),
                    "len {len}: {err}"
                );
            }
        }
    }

    #[test]
    fn key_text_formats() {
        let bytes: Vec<u8> = (0u8..32).collect();
        let hex = HEX_KEY;
        check(hex, Ok(hex));
        check(&format!("  {}\n", hex.to_uppercase()), Ok(hex));
        check(&STANDARD.encode(&bytes), Ok(hex));
        check(&STANDARD_NO_PAD.encode(&bytes), Ok(hex));
        check(
            &format!("{}\n", URL_SAFE_NO_PAD.encode([0xfb; 32])),
            Ok(&"fb".repeat(32)),
        );
        check(&URL_SAFE.encode([0xff; 32]), Ok(&"ff".repeat(32)));
        check(&hex[..62], Err("secret key must be 32 bytes, got 31"));
        check(
            &format!("{hex}00"),
            Err("secret key must be 32 bytes, got 33"),
        );
        check(
            &STANDARD.encode([1u8; 16]),
            Err("secret key must be 32 bytes, got 16"),
        );
        check("not a key!", Err("secret key is neither hex nor base64"));
        check("", Err("secret key must be 32 bytes, got 0"));
    }

    #[test]
    fn key_file_formats() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, contents: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, contents).expect("write key file");
            path
        };
        let raw: [u8; 32] = std::array::from_fn(|i| 0x80 | i as u8);
        let from = |path: PathBuf| SecretKey::from_file(&path);
        assert_eq!(
            from(write("raw", &raw)).ok(),
            Some(SecretKey::from_bytes(raw))
        );
        let hex_file = write("hex", format!("{HEX_KEY}\n").as_bytes());
        assert_eq!(from(hex_file).ok(), Some(test_key()));
        let b64_file = write("b64", format!("{}\r\n", STANDARD.encode(raw)).as_bytes());
        assert_eq!(from(b64_file).ok(), Some(SecretKey::from_bytes(raw)));
        // 32 printable bytes: a password or cut-off hex, not a raw key.
        let text32 = write("text32", b"0123456789abcdef0123456789abcde\n");
        let err = from(text32).expect_err("printable 32-byte file");
        assert!(err.to_string().contains("gitgate keygen"), "{err}");
        let short_raw = write("short", &raw[..31]);
        assert!(matches!(
            from(short_raw),
            Err(Error::BadKeyLength { found: 31 })
        ));
        let missing = dir.path().join("missing");
        let err = SecretKey::from_file(&missing).expect_err("missing file");
        assert!(
            err.to_string().starts_with("cannot read secret key file"),
            "{err}"
        );
    }

    #[test]
    fn env_key() {
        let err = SecretKey::from_env("GITGATE_TEST_SURELY_UNSET_VARIABLE").expect_err("unset");
        assert!(
            err.to_string()
                .contains("GITGATE_TEST_SURELY_UNSET_VARIABLE is not set")
        );
    }

    #[test]
    fn debug_never_prints_key_material() {
        let key = test_key();
        let debug = format!("{key:?}");
        assert!(
            !debug.contains(HEX_KEY) && !debug.contains("0, 1, 2"),
            "{debug}"
        );
        assert_eq!(debug, format!("SecretKey(id {})", key.key_id()));
        let plain = decrypt(&key, &encrypt(&key, b"ghp_token")).expect("roundtrip");
        assert_eq!(format!("{plain:?}"), "SecretBytes(9 bytes)");
        let generated = SecretKey::generate_hex();
        assert_eq!(generated.len(), 64);
        assert!(SecretKey::from_text(&generated).is_ok());
    }

    #[test]
    fn a_user_bound_token_does_not_open_for_another_user() {
        let key = test_key();
        let blob = encrypt_for_user(&key, "alice", b"ghp_alice");
        assert_eq!(
            decrypt_for_user(&key, "alice", &blob)
                .expect("alice's own")
                .as_str()
                .ok(),
            Some("ghp_alice")
        );
        assert!(decrypt_for_user(&key, "bob", &blob).is_err());
        assert!(
            decrypt(&key, &blob).is_err(),
            "unbound decrypt must not open it"
        );
    }
}
