//! Administrative subcommands of the `gitgate` binary: users and the audit log.

pub mod audit;
pub mod users;

use std::path::PathBuf;

use clap::Args;
use gitgate::settings::StateConfig;

/// Where gitgate keeps its state; shared by `serve`, `users` and `audit`.
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// TOML configuration file; `users` and `audit` read its state settings (store, data_dir,
    /// key files) as `serve` does. Flags and their environment variables win over it.
    #[arg(long, value_name = "FILE", env = "GITGATE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Directory for the default SQLite store and the generated audit key
    /// (default $XDG_DATA_HOME/gitgate or ~/.local/share/gitgate).
    #[arg(long, value_name = "DIR", env = "GITGATE_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// The store: sqlite://PATH or postgres://USER@HOST/DB (default sqlite://DATA_DIR/gitgate.db).
    #[arg(long, value_name = "URL", env = "GITGATE_STORE", global = true)]
    pub store: Option<String>,
    /// File with the audit log's HMAC key (>= 32 bytes, raw or hex); default DATA_DIR/audit.key,
    /// created on first use. Every replica sharing a store needs the same key.
    #[arg(
        long,
        value_name = "FILE",
        env = "GITGATE_AUDIT_KEY_FILE",
        global = true
    )]
    pub audit_key_file: Option<PathBuf>,
    /// The audit HMAC key as hex (wins over --audit-key-file).
    #[arg(
        long,
        value_name = "HEX",
        env = "GITGATE_AUDIT_KEY",
        hide_env_values = true,
        global = true
    )]
    pub audit_key: Option<String>,
    /// File with the AES-256 key that encrypts users' GitHub tokens (32 bytes raw, hex or
    /// base64; `gitgate keygen` makes one). Required once any user has a GitHub token.
    #[arg(
        long,
        value_name = "FILE",
        env = "GITGATE_SECRET_KEY_FILE",
        global = true
    )]
    pub secret_key_file: Option<PathBuf>,
    /// The secret key as hex or base64 text (wins over --secret-key-file).
    #[arg(
        long,
        value_name = "KEY",
        env = "GITGATE_SECRET_KEY",
        hide_env_values = true,
        global = true
    )]
    pub secret_key: Option<String>,
    /// Make audit events survive power loss too (SQLite synchronous=FULL; slower writes).
    #[arg(long, env = "GITGATE_DURABLE", global = true)]
    pub durable: bool,
}

impl StateArgs {
    /// The configuration file named by `--config`, or an empty one.
    pub fn file(&self) -> anyhow::Result<gitgate::config::FileConfig> {
        match &self.config {
            Some(path) => Ok(gitgate::config::FileConfig::load(path)?),
            None => Ok(gitgate::config::FileConfig::default()),
        }
    }

    /// The state settings: flags and environment over the configuration file.
    pub fn resolved(&self) -> anyhow::Result<StateConfig> {
        Ok(self.config().over_file(&self.file()?))
    }

    pub fn config(&self) -> StateConfig {
        StateConfig {
            data_dir: self.data_dir.clone(),
            store: self.store.clone(),
            audit_key_file: self.audit_key_file.clone(),
            audit_key_hex: self.audit_key.clone(),
            secret_key_file: self.secret_key_file.clone(),
            secret_key_text: self.secret_key.clone(),
            durable: self.durable,
        }
    }
}
