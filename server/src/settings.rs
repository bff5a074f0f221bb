//! Where state lives: the data directory, the store URL, the audit HMAC key and the key that
//! encrypts users' GitHub tokens. Shared by `serve`, `users` and `audit`.

use std::path::{Path, PathBuf};

use crate::audit::AuditKey;
use crate::secrets::SecretKey;
use crate::store::{Durability, Store, StoreOptions};

/// Errors finding or creating state, worded for the operator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create data directory {}: {source}", path.display())]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read audit key {}: {source}", path.display())]
    ReadKey {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write a new audit key to {}: {source}", path.display())]
    WriteKey {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bad audit key {}: {message}", path.display())]
    BadAuditKey { path: PathBuf, message: String },
    #[error("bad audit key {}: {source}", path.display())]
    AuditKey {
        path: PathBuf,
        source: crate::audit::Error,
    },
    #[error("bad secret key: {0}")]
    BadSecretKey(#[source] crate::secrets::Error),
    #[error("{0}")]
    Store(#[from] crate::store::Error),
}

/// The one precedence rule of every setting: the flag, else its environment variable (clap
/// merges those two, a flag given on the command line winning over its variable), else the
/// configuration file, else the built-in default (applied where the value is used). `serve`,
/// `users` and `audit` resolve every field through it, so one file and one environment
/// configure all three alike.
pub fn layered<T>(flag_or_env: Option<T>, file: Option<T>) -> Option<T> {
    flag_or_env.or(file)
}

/// The state options every subcommand shares.
#[derive(Debug, Clone, Default)]
pub struct StateConfig {
    /// Holds the default SQLite store and the generated audit key.
    pub data_dir: Option<PathBuf>,
    /// `sqlite://PATH` or `postgres://...`; default `sqlite://DATA_DIR/gitgate.db`.
    pub store: Option<String>,
    /// File holding the audit HMAC key (at least 32 bytes); default `DATA_DIR/audit.key`, created
    /// on first use.
    pub audit_key_file: Option<PathBuf>,
    /// The audit key itself as hex (from `GITGATE_AUDIT_KEY`); wins over the file.
    pub audit_key_hex: Option<String>,
    /// File with the AES-256 key for users' GitHub tokens (hex, base64 or 32 raw bytes).
    pub secret_key_file: Option<PathBuf>,
    /// The secret key as text (from `GITGATE_SECRET_KEY`); wins over the file.
    pub secret_key_text: Option<String>,
    /// `synchronous=FULL` on SQLite: audit events also survive power loss.
    pub durable: bool,
}

impl StateConfig {
    /// These options (from flags and environment) over the configuration file's, by
    /// [`layered`]. `durable` is a switch: on when either turns it on.
    pub fn over_file(self, file: &crate::config::FileConfig) -> Self {
        Self {
            data_dir: layered(self.data_dir, file.data_dir.clone()),
            store: layered(self.store, file.store.clone()),
            audit_key_file: layered(self.audit_key_file, file.audit_key_file.clone()),
            audit_key_hex: self.audit_key_hex,
            secret_key_file: layered(self.secret_key_file, file.secret_key_file.clone()),
            secret_key_text: self.secret_key_text,
            durable: self.durable || file.durable,
        }
    }

    /// The data directory: configured, else `$XDG_DATA_HOME/gitgate`, else
    /// `$HOME/.local/share/gitgate`, else `./.gitgate`.
    pub fn data_dir(&self) -> PathBuf {
        if let Some(dir) = &self.data_dir {
            return dir.clone();
        }
        if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(xdg).join("gitgate");
        }
        if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(home).join(".local/share/gitgate");
        }
        PathBuf::from(".gitgate")
    }

    fn ensure_data_dir(&self) -> Result<PathBuf, Error> {
        let dir = self.data_dir();
        std::fs::create_dir_all(&dir).map_err(|source| Error::DataDir {
            path: dir.clone(),
            source,
        })?;
        Ok(dir)
    }

    /// The store URL in force.
    pub fn store_url(&self) -> Result<String, Error> {
        match &self.store {
            Some(url) => Ok(url.clone()),
            None => Ok(format!(
                "sqlite://{}",
                self.ensure_data_dir()?.join("gitgate.db").display()
            )),
        }
    }

    /// Connects to (and migrates) the store.
    pub async fn open_store(&self) -> Result<Store, Error> {
        let options = StoreOptions {
            durability: if self.durable {
                Durability::Full
            } else {
                Durability::Normal
            },
            ..StoreOptions::default()
        };
        Ok(Store::connect_with(&self.store_url()?, &options).await?)
    }

    /// The audit key: from `audit_key_hex`, else the key file, which is created with 32 random
    /// bytes (mode 0600) when it does not exist yet.
    pub fn audit_key(&self) -> Result<AuditKey, Error> {
        let path = match &self.audit_key_file {
            Some(p) => p.clone(),
            None => self.ensure_data_dir()?.join("audit.key"),
        };
        let bad = |message: String| Error::BadAuditKey {
            path: path.clone(),
            message,
        };
        if let Some(hex_text) = &self.audit_key_hex {
            let bytes = hex::decode(hex_text.trim())
                .map_err(|e| bad(format!("GITGATE_AUDIT_KEY is not hex: {e}")))?;
            return AuditKey::from_bytes(&bytes).map_err(|source| Error::AuditKey { path, source });
        }
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key_file(&path)?,
            Err(source) => return Err(Error::ReadKey { path, source }),
        };
        // Accept a hex text file as well as raw bytes.
        let text = String::from_utf8_lossy(&bytes);
        let decoded = hex::decode(text.trim())
            .ok()
            .filter(|b| b.len() >= AuditKey::MIN_LEN);
        AuditKey::from_bytes(decoded.as_deref().unwrap_or(&bytes))
            .map_err(|source| Error::AuditKey { path, source })
    }

    /// The key for users' GitHub tokens, if one is configured.
    pub fn secret_key(&self) -> Result<Option<SecretKey>, Error> {
        if let Some(text) = &self.secret_key_text {
            return SecretKey::from_text(text)
                .map(Some)
                .map_err(Error::BadSecretKey);
        }
        match &self.secret_key_file {
            Some(path) => SecretKey::from_file(path)
                .map(Some)
                .map_err(Error::BadSecretKey),
            None => Ok(None),
        }
    }
}

fn create_key_file(path: &Path) -> Result<Vec<u8>, Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let bytes = AuditKey::generate_bytes().map_err(|e| Error::WriteKey {
        path: path.to_owned(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let hex_key = hex::encode(bytes);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| Error::WriteKey {
            path: path.to_owned(),
            source,
        })?;
    file.write_all(hex_key.as_bytes())
        .map_err(|source| Error::WriteKey {
            path: path.to_owned(),
            source,
        })?;
    Ok(hex_key.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_environment_win_over_the_file_which_fills_the_rest() {
        let file: crate::config::FileConfig = toml::from_str(
            "store = \"sqlite:///from/file.db\"\ndata_dir = \"/from/file\"\n\
             secret_key_file = \"/from/file.key\"\ndurable = true\n",
        )
        .expect("config");
        let given = StateConfig {
            store: Some("postgres://flag".into()),
            ..Default::default()
        };
        let state = given.over_file(&file);
        assert_eq!(state.store.as_deref(), Some("postgres://flag"));
        assert_eq!(state.data_dir, Some(PathBuf::from("/from/file")));
        assert_eq!(state.secret_key_file, Some(PathBuf::from("/from/file.key")));
        assert_eq!(state.audit_key_file, None);
        assert!(state.durable);
        assert_eq!(layered(Some(1), Some(2)), Some(1));
        assert_eq!(layered(None, Some(2)), Some(2));
        assert_eq!(layered::<u8>(None, None), None);
    }

    #[test]
    fn audit_key_is_created_once_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = StateConfig {
            data_dir: Some(dir.path().to_owned()),
            ..Default::default()
        };
        let first = cfg.audit_key().expect("created");
        let second = cfg.audit_key().expect("read back");
        let h = |k: &AuditKey| k.chain_hash("0", "{}");
        assert_eq!(h(&first), h(&second));
        let other = StateConfig {
            data_dir: Some(tempfile::tempdir().expect("tempdir").keep()),
            ..Default::default()
        };
        assert_ne!(h(&first), h(&other.audit_key().expect("another")));
    }

    #[test]
    fn short_keys_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k");
        std::fs::write(&path, "abcd").expect("write");
        let cfg = StateConfig {
            audit_key_file: Some(path),
            ..Default::default()
        };
        assert!(cfg.audit_key().is_err());
    }
}
