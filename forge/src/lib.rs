//! gitgate-forge: a faithful local GitHub for tests, demos and benchmark runs.
//!
//! REST (`rest`), GraphQL for the gh CLI (`graphql`), git over smart HTTP (`git_http`), state in
//! one SQLite file (`store`) and real bare repositories (`git`) under the data directory.
//! [`serve`] runs it on a bound listener; [`start_ephemeral`] starts it in process for tests.

// The GitHub shapes in `rest::render` are large `json!` literals.
#![recursion_limit = "256"]

pub mod auth;
pub mod ci;
pub mod faults;
pub mod git;
pub mod git_http;
pub mod graphql;
mod http_server;
pub mod pushes;
pub mod releases;
pub mod rest;
pub mod review_comments;
pub mod seed;
pub mod stats;
pub mod store;
pub mod zip;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::TcpListener;

/// Errors starting the forge.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data directory could not be prepared.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] store::Error),
    /// Seeding failed.
    #[error(transparent)]
    Seed(#[from] seed::Error),
    /// Serving failed.
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

/// Requests handled at once; more wait their turn (SQLite writes serialise anyway).
const MAX_CONCURRENT_HANDLERS: usize = 32;

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory holding `forge.db`, `repos/` and `tokens.json`.
    pub data_dir: PathBuf,
    /// Seed to apply on start (only "demo" exists); skipped when the directory already holds it.
    pub seed: Option<String>,
    /// Base URL for URL fields in answers (e.g. `http://127.0.0.1:8080`). When unset, each answer
    /// uses the host the request named, so proxied gh requests see `http://api.github.localhost`.
    pub public_url: Option<String>,
}

/// Shared state of a running forge.
pub struct App {
    pub(crate) data_dir: PathBuf,
    store: Mutex<store::Store>,
    pub(crate) stats: stats::Stats,
    pub(crate) faults: faults::Faults,
    pub(crate) public_url: Option<String>,
    /// Bounds concurrent handlers on the blocking pool (held across their await).
    pub(crate) handlers: tokio::sync::Semaphore,
}

impl App {
    /// Opens the store and applies the seed; returns the app and the seeded tokens (login → token).
    pub fn open(config: &Config) -> Result<(Arc<App>, BTreeMap<String, String>), Error> {
        let data = &config.data_dir;
        std::fs::create_dir_all(data.join("repos")).map_err(|source| Error::DataDir {
            path: data.clone(),
            source,
        })?;
        let mut store = store::Store::open(&data.join("forge.db"))?;
        let tokens = match &config.seed {
            Some(name) => seed::apply(name, data, &mut store)?,
            None => BTreeMap::new(),
        };
        let reset = store.now()? + 3600;
        let app = App {
            data_dir: data.clone(),
            store: Mutex::new(store),
            stats: stats::Stats::default(),
            faults: faults::Faults::new(reset),
            public_url: config.public_url.clone(),
            handlers: tokio::sync::Semaphore::new(MAX_CONCURRENT_HANDLERS),
        };
        Ok((Arc::new(app), tokens))
    }

    /// Locks the store. Sections are short and never await.
    pub(crate) fn store(&self) -> MutexGuard<'_, store::Store> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

/// Runs the forge on `listener` until `shutdown` completes.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let (app, _) = tokio::task::spawn_blocking(move || App::open(&config))
        .await
        .map_err(|e| Error::Serve(std::io::Error::other(e)))??;
    http_server::run(app, listener, shutdown)
        .await
        .map_err(Error::Serve)
}

/// A forge running in process on an ephemeral port.
pub struct Handle {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The bound address.
    pub addr: SocketAddr,
    /// Seeded tokens, login → token.
    pub tokens: BTreeMap<String, String>,
    /// The data directory.
    pub data_dir: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), std::io::Error>>>,
}

impl Handle {
    /// The token of a seeded user.
    pub fn token(&self, login: &str) -> &str {
        self.tokens.get(login).map_or("", String::as_str)
    }

    /// Environment that points the gh CLI at this forge as `login`: gh calls
    /// `http://api.github.localhost`, and the proxy variables route that here. Add a private
    /// `GH_CONFIG_DIR` so the caller's gh configuration stays out of it.
    pub fn gh_env(&self, login: &str) -> Vec<(&'static str, String)> {
        vec![
            ("GH_HOST", "github.localhost".into()),
            ("GH_TOKEN", self.token(login).into()),
            ("HTTP_PROXY", self.base_url.clone()),
            ("http_proxy", self.base_url.clone()),
            ("GH_PROMPT_DISABLED", "1".into()),
            ("GH_NO_UPDATE_NOTIFIER", "1".into()),
            ("NO_COLOR", "1".into()),
            ("GH_PAGER", "cat".into()),
        ]
    }

    /// Clone URL of `owner/name` over HTTP with `login`'s token.
    pub fn clone_url(&self, owner: &str, name: &str, login: &str) -> String {
        format!(
            "http://x-access-token:{}@{}/{owner}/{name}.git",
            self.token(login),
            self.addr
        )
    }

    /// Path of bare repository `owner/name` (clients may also clone it with `file://`).
    pub fn repo_path(&self, owner: &str, name: &str) -> PathBuf {
        git::repo_path(&self.data_dir, owner, name)
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts a forge seeded with `demo` in `data_dir` on `127.0.0.1:0`.
pub async fn start_ephemeral(data_dir: &Path) -> Result<Handle, Error> {
    start(Config {
        data_dir: data_dir.to_path_buf(),
        seed: Some("demo".into()),
        public_url: None,
    })
    .await
}

/// Starts a forge with `config` on `127.0.0.1:0` in this process.
pub async fn start(config: Config) -> Result<Handle, Error> {
    let data_dir = config.data_dir.clone();
    // Seeding takes a moment of blocking git and SQLite work.
    let (app, tokens) = tokio::task::spawn_blocking(move || App::open(&config))
        .await
        .map_err(|e| Error::Serve(std::io::Error::other(e)))??;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(Error::Serve)?;
    let addr = listener.local_addr().map_err(Error::Serve)?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(http_server::run(app, listener, async move {
        let _ = rx.await;
    }));
    Ok(Handle {
        base_url: format!("http://{addr}"),
        addr,
        tokens,
        data_dir,
        shutdown: Some(tx),
        task: Some(task),
    })
}
