//! Remotes: `git_fetch`, `git_pull` and `git_push`, in process through libgit2, to the
//! configured GitHub host only, as the calling user.
//!
//! What keeps them inside their bounds:
//! - **One host.** A remote's URL (after the repository's own `insteadOf` rewrites, as libgit2
//!   resolves it) must be `BASE/OWNER/REPO[.git]` on the git host of the configured GitHub
//!   API ([`Endpoint`]); anything else (another host, ssh, a file path, credentials in the URL)
//!   is refused before a connection is made. Redirects are not followed, no proxy is used.
//! - **The caller's token, nowhere else.** The user's own GitHub token (stored encrypted, or the
//!   stdio environment token) is handed to libgit2's credential callback for that one operation;
//!   it is never written to a file, the repository's configuration or a URL, and no credential
//!   helper runs.
//! - **The caller's grants.** The remote's `OWNER/REPO` must be among the repositories the user
//!   is granted, besides the local repository the call is judged on.
//! - **Protected branches.** A push that would rewrite or delete a protected branch (globs from
//!   `[[protect]]`, default the remote's default branch) is refused before anything is sent.

mod fetch;
pub mod ownership;
mod push;

use std::cell::Cell;

pub use fetch::{FetchArgs, PullArgs, fetch, pull};
pub use push::{PushArgs, current_branch_of as current_branch, push};

use crate::git::Error;

/// The git host of the configured GitHub API: where remotes may point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https://github.com`, `https://HOST` (Enterprise) or the forge's base, no trailing `/`.
    base: url::Url,
}

impl Endpoint {
    /// The git host of an API base: `https://api.github.com` serves git at
    /// `https://github.com`, an Enterprise `https://HOST/api/v3` at `https://HOST`, and any
    /// other base (the forge, a proxy) serves both at the same address.
    pub fn from_api_base(api: &str) -> Result<Self, Error> {
        let mut base = url::Url::parse(api)
            .map_err(|e| Error::Refused(format!("GitHub base URL '{api}': {e}")))?;
        if !matches!(base.scheme(), "https" | "http") {
            return Err(Error::Refused(format!(
                "GitHub base URL '{api}': only https (or http for a local forge) is supported"
            )));
        }
        if base.host_str() == Some("api.github.com") {
            base.set_host(Some("github.com"))
                .map_err(|e| Error::Refused(e.to_string()))?;
        }
        let path = base.path().trim_end_matches('/').to_owned();
        let path = path.strip_suffix("/api/v3").unwrap_or(&path).to_owned();
        base.set_path(&path);
        base.set_query(None);
        base.set_fragment(None);
        Ok(Self { base })
    }

    /// The endpoint of a GitHub configuration: its `git_url` when given, else derived from the
    /// API base.
    pub fn from_config(config: &crate::github::GithubConfig) -> Result<Self, Error> {
        Self::from_api_base(config.git_url.as_deref().unwrap_or(&config.base_url))
    }

    /// The URL of `owner/repo` on this host, as a clone would name it.
    pub fn repo_url(&self, owner_repo: &str) -> String {
        format!(
            "{}/{owner_repo}.git",
            self.base.as_str().trim_end_matches('/')
        )
    }

    /// Checks a remote URL and returns the `OWNER/REPO` it names.
    pub fn check(&self, remote_url: &str) -> Result<String, Error> {
        let refuse = |why: &str| {
            Error::Refused(format!(
                "remote URL '{}' refused: {why}; gitgate reaches only {}/OWNER/REPO over {}",
                redact(remote_url),
                self.base.as_str().trim_end_matches('/'),
                self.base.scheme()
            ))
        };
        let url = url::Url::parse(remote_url).map_err(|_| refuse("not an http(s) URL"))?;
        if url.scheme() != self.base.scheme() {
            return Err(refuse("another scheme"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refuse("credentials in the URL"));
        }
        if url.host_str() != self.base.host_str()
            || url.port_or_known_default() != self.base.port_or_known_default()
        {
            return Err(refuse("another host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(refuse("a query or fragment"));
        }
        let prefix = self.base.path().trim_end_matches('/');
        let rest = url
            .path()
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('/'))
            .ok_or_else(|| refuse("another path"))?;
        let rest = rest.trim_end_matches('/');
        let rest = rest.strip_suffix(".git").unwrap_or(rest);
        crate::github::check_repo_name(rest).map_err(|_| refuse("not OWNER/REPO"))?;
        Ok(rest.to_owned())
    }
}

/// A URL with any credentials in it blanked, for messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("***");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url.chars().take(200).collect(),
    }
}

/// What a remote operation needs besides its arguments: where it may go, with whose token, and
/// which remote repositories the caller is granted.
pub struct Access<'a> {
    pub endpoint: &'a Endpoint,
    /// The caller's own GitHub token.
    pub token: &'a str,
    /// Whether the caller may act on a GitHub repository `OWNER/REPO`.
    pub granted: &'a dyn Fn(&str) -> bool,
    /// Branch globs a push may not rewrite or delete; empty: the remote's default branch.
    pub protect: &'a [String],
}

/// A remote of `git` resolved and checked: its name, the URL libgit2 will use, and the GitHub
/// repository it names.
struct Checked {
    name: String,
    url: String,
    repo: String,
}

/// Looks `name` up (default `origin`) and checks where it points; for a push, its push URL.
fn checked_remote(
    git: &git2::Repository,
    name: Option<&str>,
    access: &Access<'_>,
    for_push: bool,
) -> Result<Checked, Error> {
    let name = name.unwrap_or("origin");
    if name.is_empty() || name.starts_with('-') || name.contains(['/', ':', ' ']) {
        return Err(Error::Refused(format!("bad remote name '{name}'")));
    }
    let remote = git.find_remote(name).map_err(|_| {
        let names: Vec<String> = git
            .remotes()
            .map(|r| r.iter().flatten().flatten().map(str::to_owned).collect())
            .unwrap_or_default();
        Error::Refused(format!(
            "no remote '{name}'; remotes: {}",
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        ))
    })?;
    let url = match (for_push, remote.pushurl().ok().flatten()) {
        (true, Some(push)) => push.to_owned(),
        _ => remote
            .url()
            .map_err(|_| Error::Refused(format!("remote '{name}' has no usable URL")))?
            .to_owned(),
    };
    let repo = access.endpoint.check(&url)?;
    if !(access.granted)(&repo) {
        return Err(Error::Refused(format!(
            "remote '{name}' is {repo}, which is not among your repository grants"
        )));
    }
    Ok(Checked {
        name: name.to_owned(),
        url,
        repo,
    })
}

/// An in-memory remote for `checked.url`: no configured refspecs, no rewrites (the URL was
/// checked as libgit2 resolved it; an anonymous remote that resolves it differently is refused).
fn connect<'r>(git: &'r git2::Repository, checked: &Checked) -> Result<git2::Remote<'r>, Error> {
    let remote = git.remote_anonymous(&checked.url)?;
    if remote.url().ok() != Some(checked.url.as_str()) {
        return Err(Error::Refused(
            "the repository's configuration rewrites remote URLs (url.*.insteadOf); refused".into(),
        ));
    }
    Ok(remote)
}

/// Callbacks offering the caller's token once (a rejected token fails the operation rather
/// than looping) and never a credential helper, ssh key or default credentials.
fn callbacks<'a>(token: &'a str, tries: &'a Cell<u32>) -> git2::RemoteCallbacks<'a> {
    let mut cb = git2::RemoteCallbacks::new();
    cb.credentials(move |_url, _user, allowed| {
        if !allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT) || tries.get() > 0 {
            return Err(git2::Error::from_str(
                "the GitHub host refused your token; check it with an operator (gitgate users set-github-token)",
            ));
        }
        tries.set(tries.get() + 1);
        git2::Cred::userpass_plaintext("x-access-token", token)
    });
    // Progress for the client that asked (a tenth of the objects at a time: libgit2 reports
    // every object), and a fetch stops when the client cancels the call.
    let received_tenth = Cell::new(u64::MAX);
    cb.transfer_progress(move |p| {
        let total = p.total_objects() as u64;
        let done = p.received_objects() as u64;
        let tenth = (done * 10).checked_div(total).unwrap_or(10);
        if tenth != received_tenth.get() {
            received_tenth.set(tenth);
            crate::notify::progress(done, Some(total), "receiving objects");
        }
        !crate::notify::cancelled()
    });
    let written_tenth = Cell::new(u64::MAX);
    cb.push_transfer_progress(move |current, total, _bytes| {
        let (done, total) = (current as u64, total as u64);
        let tenth = (done * 10).checked_div(total).unwrap_or(10);
        if tenth != written_tenth.get() {
            written_tenth.set(tenth);
            crate::notify::progress(done, Some(total), "writing objects");
        }
    });
    cb
}

/// Proxy options that use no proxy: libgit2 would otherwise honour the repository's own
/// `http.proxy`, a way out of the host check. (A configured proxy is left for later: libgit2
/// 1.9 tunnels only https through one and connects to plain-http hosts directly.)
fn no_proxy<'a>() -> git2::ProxyOptions<'a> {
    git2::ProxyOptions::new()
}

/// A libgit2 failure during a network operation, worded for the agent.
fn network_error(what: &str, checked: &Checked, e: git2::Error) -> Error {
    Error::Refused(format!(
        "{what} {} ({}) failed: {}",
        checked.name,
        checked.repo,
        e.message()
    ))
}

#[cfg(test)]
mod tests;
