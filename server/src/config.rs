//! Configuration: a TOML file, overridden by flags and environment variables, validated once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::git::Identity;

/// The configuration file, as written by an operator. Every field is optional; flags win.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Repositories served, by name.
    #[serde(default)]
    pub repos: Vec<RepoEntry>,
    /// Directory for the default store and audit key.
    pub data_dir: Option<PathBuf>,
    /// `sqlite://PATH` or `postgres://...`.
    pub store: Option<String>,
    /// The audit log's HMAC key file.
    pub audit_key_file: Option<PathBuf>,
    /// The key file that encrypts users' GitHub tokens.
    pub secret_key_file: Option<PathBuf>,
    /// Append every audit event also to this JSON Lines file.
    pub audit_mirror: Option<PathBuf>,
    /// Refuse every write tool, for everyone.
    #[serde(default)]
    pub read_only: bool,
    /// Calls per minute per user, unless the user has their own limit.
    pub rate_limit_per_minute: Option<u32>,
    /// Audit events survive power loss too (SQLite synchronous=FULL).
    #[serde(default)]
    pub durable: bool,
    /// Accept JWTs from this issuer as well as gitgate's own API tokens.
    pub jwt: Option<JwtSection>,
    /// The local user of a stdio server.
    pub user: Option<UserEntry>,
    #[serde(default)]
    pub http: HttpSection,
    /// The GitHub API the github toolset talks to; its presence switches that toolset on.
    pub github: Option<GithubSection>,
    /// Toolsets offered (`git`, `github`, `actions`, `meta`); default git and meta, plus github
    /// and actions when configured.
    pub toolsets: Option<Vec<String>>,
    /// Only these tools (by name), within the toolsets.
    pub tools: Option<Vec<String>>,
    /// Lean mode: `tools/list` offers only the `gitgate` meta tool.
    #[serde(default)]
    pub lean: bool,
    /// Branches no push may rewrite or delete (`[[protect]] branch = "release/*"`); without
    /// any, each remote's default branch.
    #[serde(default)]
    pub protect: Vec<ProtectEntry>,
}

/// One protected branch glob.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProtectEntry {
    pub branch: String,
}

/// Where GitHub is.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GithubSection {
    /// `https://api.github.com` (default), `https://HOST/api/v3` (GitHub Enterprise Server), or
    /// a gitgate-forge address.
    pub base_url: Option<String>,
    /// `OWNER/NAME` used when a call names no repository.
    pub default_repo: Option<String>,
    /// Seconds one request may take (default 20).
    pub timeout_secs: Option<u64>,
    /// Where git is served, when not derived from `base_url` (`api.github.com` → `github.com`,
    /// `HOST/api/v3` → `HOST`).
    pub git_url: Option<String>,
}

/// One served repository.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RepoEntry {
    pub name: String,
    pub path: PathBuf,
}

/// JWT acceptance: tokens must be signed by one of the keys, for this audience, by this issuer.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JwtSection {
    pub issuer: String,
    /// Default: the HTTP resource URL.
    pub audience: Option<String>,
    /// HS256 shared secret file.
    pub hs256_secret_file: Option<PathBuf>,
    /// PEM public keys (RS256, ES256, EdDSA).
    #[serde(default)]
    pub public_key_files: Vec<PathBuf>,
    /// A JSON Web Key Set file.
    pub jwks_file: Option<PathBuf>,
}

/// The local (stdio) user: name, commit identity, and what they may do.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    /// The account name (policy and audit); defaults to `local`.
    pub name: Option<String>,
    /// Scopes of the local user; default all (`admin`).
    pub scopes: Option<Vec<String>>,
    /// Repository grants of the local user; default every configured repository.
    pub repos: Option<Vec<String>>,
    /// Commit author name.
    pub git_name: Option<String>,
    /// Commit author email.
    pub git_email: Option<String>,
}

/// HTTP serving options.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// Address to listen on, e.g. `127.0.0.1:8080`.
    pub addr: Option<SocketAddr>,
    /// This server's canonical MCP URL (the OAuth protected resource); default
    /// `http://ADDR/mcp`.
    pub resource_url: Option<String>,
    /// Authorization servers issuing tokens for this resource, named in the metadata document.
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    /// `Host` header values accepted (DNS-rebinding protection); default loopback names.
    pub allowed_hosts: Option<Vec<String>>,
    /// Browser `Origin`s accepted; requests with any other Origin get 403.
    pub allowed_origins: Option<Vec<String>>,
}

/// Errors in the configuration, worded for the operator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read config {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config {}: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("bad --repo '{0}': expected PATH or NAME=PATH")]
    RepoFlag(String),
    #[error("repository name '{0}' is configured twice")]
    DuplicateRepo(String),
    #[error("repository name '{0}' must be letters, digits, '-', '_' or '.'")]
    RepoName(String),
    #[error("no repositories configured: pass --repo PATH or add [[repos]] to the config")]
    NoRepos,
    #[error("--no-auth is only allowed on a loopback address, not {0}")]
    NoAuthNotLoopback(SocketAddr),
}

impl FileConfig {
    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| Error::Parse {
            path: path.to_owned(),
            source,
        })
    }
}

/// Parses a `--repo` value: `NAME=PATH` or `PATH` (named after its last directory).
pub fn parse_repo_flag(value: &str) -> Result<RepoEntry, Error> {
    let (name, path) = match value.split_once('=') {
        Some((name, path)) if !name.is_empty() && !name.contains('/') => {
            (name.to_owned(), PathBuf::from(path))
        }
        _ => {
            let path = PathBuf::from(value);
            let name = path
                .canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .ok_or_else(|| Error::RepoFlag(value.to_owned()))?;
            (name, path)
        }
    };
    if path.as_os_str().is_empty() {
        return Err(Error::RepoFlag(value.to_owned()));
    }
    Ok(RepoEntry { name, path })
}

/// Checks names: unique, and plain enough to type as the `repo` argument.
pub fn validate_repos(repos: &[RepoEntry]) -> Result<(), Error> {
    if repos.is_empty() {
        return Err(Error::NoRepos);
    }
    let mut seen = std::collections::BTreeSet::new();
    for r in repos {
        let plain = !r.name.is_empty()
            && r.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && !r.name.starts_with(['-', '.']);
        if !plain {
            return Err(Error::RepoName(r.name.clone()));
        }
        if !seen.insert(r.name.as_str()) {
            return Err(Error::DuplicateRepo(r.name.clone()));
        }
    }
    Ok(())
}

/// The commit identity of the local user: the config's, else the first repository's git config
/// (`user.name`, `user.email`), else a placeholder that names the fix.
pub fn local_identity(user: Option<&UserEntry>, first_repo: Option<&git2::Repository>) -> Identity {
    let from_repo = |key: &str| {
        first_repo
            .and_then(|r| r.config().ok())
            .and_then(|c| c.get_string(key).ok())
    };
    let name = user
        .and_then(|u| u.git_name.clone())
        .or_else(|| from_repo("user.name"))
        .unwrap_or_else(|| "gitgate user".to_owned());
    let email = user
        .and_then(|u| u.git_email.clone())
        .or_else(|| from_repo("user.email"))
        .unwrap_or_else(|| "gitgate@localhost".to_owned());
    Identity { name, email }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_repo_flag(input: &str, expected: Result<(&str, &str), ()>) {
        let got = parse_repo_flag(input).map(|r| (r.name, r.path));
        match expected {
            Ok((name, path)) => {
                let (n, p) = got.expect(input);
                assert_eq!((n.as_str(), p.as_path()), (name, Path::new(path)));
            }
            Err(()) => assert!(got.is_err(), "{input}"),
        }
    }

    #[test]
    fn repo_flags() {
        check_repo_flag("app=/srv/app", Ok(("app", "/srv/app")));
        check_repo_flag("=/srv/app", Err(()));
        check_repo_flag("app=", Err(()));
        check_repo_flag("/definitely/not/here", Err(()));
    }

    #[test]
    fn repo_names_are_checked() {
        let entry = |n: &str| RepoEntry {
            name: n.into(),
            path: "/x".into(),
        };
        assert!(validate_repos(&[entry("app"), entry("lib-2")]).is_ok());
        assert!(matches!(
            validate_repos(&[entry("a"), entry("a")]),
            Err(Error::DuplicateRepo(_))
        ));
        assert!(matches!(
            validate_repos(&[entry("-x")]),
            Err(Error::RepoName(_))
        ));
        assert!(matches!(
            validate_repos(&[entry("a b")]),
            Err(Error::RepoName(_))
        ));
        assert!(matches!(validate_repos(&[]), Err(Error::NoRepos)));
    }

    #[test]
    fn file_config_parses_and_rejects_unknown_keys() {
        let cfg: FileConfig = toml::from_str(
            "store='sqlite://x.db'\n[[repos]]\nname='app'\npath='/srv/app'\n[user]\ngit_name='A'\nscopes=['git:read']\n[http]\naddr='127.0.0.1:9000'\n[jwt]\nissuer='https://id.example'\n",
        )
        .expect("parses");
        assert_eq!(cfg.repos[0].name, "app");
        assert_eq!(cfg.store.as_deref(), Some("sqlite://x.db"));
        assert_eq!(
            cfg.jwt.map(|j| j.issuer).as_deref(),
            Some("https://id.example")
        );
        assert!(toml::from_str::<FileConfig>("[http]\ntokn='t'\n").is_err());
    }
}
