//! Git over smart HTTP: `/{owner}/{repo}.git/...` is handed to `git http-backend` (CGI), so plain
//! `git clone` and `git push` work against the forge with a token as the Basic-auth password.
//! The forge is a test fixture and may spawn git; the gitgate server itself never does.
//! Clients may also use the bare repository path (`file://`) from [`crate::Handle::repo_path`].

use std::process::Stdio;

use axum::body::{Body, Bytes};
use axum::response::Response;
use http::StatusCode;
use tokio::io::AsyncWriteExt;

use crate::App;
use crate::auth::Identity;

/// How long one git request (a clone or push of a fixture) may take.
const GIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// A smart-HTTP request target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Owner login.
    pub owner: String,
    /// Repository name without `.git`.
    pub name: String,
    /// The service path after `.git/` (`info/refs`, `git-upload-pack`, `git-receive-pack`).
    pub service: String,
}

impl Target {
    /// Recognises `/{owner}/{name}.git/{service}`.
    pub fn parse(path: &str) -> Option<Self> {
        let mut it = path.trim_start_matches('/').splitn(3, '/');
        let owner = it.next()?;
        let name = it.next()?.strip_suffix(".git")?;
        let service = it.next()?;
        let ok_name = |s: &str| {
            !s.is_empty()
                && !s.starts_with('.')
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        if !ok_name(owner)
            || !ok_name(name)
            || !matches!(
                service,
                "info/refs" | "git-upload-pack" | "git-receive-pack" | "HEAD"
            )
        {
            return None;
        }
        Some(Self {
            owner: owner.to_ascii_lowercase(),
            name: name.to_ascii_lowercase(),
            service: service.into(),
        })
    }
}

fn plain(status: StatusCode, text: &str) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(Body::from(text.to_string()))
        .unwrap_or_default()
}

/// Runs `git http-backend` for one request.
pub async fn serve(
    app: &App,
    target: Target,
    ident: Option<Identity>,
    parts: &http::request::Parts,
    body: Bytes,
) -> Response {
    let Some(ident) = ident else {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header("www-authenticate", "Basic realm=\"gitgate-forge\"")
            .body(Body::from("Bad credentials"))
            .unwrap_or_default();
    };
    let repo_dir = crate::git::repo_path(&app.data_dir, &target.owner, &target.name);
    if !repo_dir.is_dir() {
        return plain(StatusCode::NOT_FOUND, "Repository not found.");
    }
    if target.service == "git-receive-pack" {
        let default_branch = app
            .store()
            .repo(&target.owner, &target.name)
            .ok()
            .flatten()
            .map(|r| r.default_branch);
        if let Some(branch) = default_branch
            && let Err(e) = protect(&repo_dir, &branch)
        {
            tracing::error!(error = %e, "installing the branch protection hook");
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "branch protection unavailable",
            );
        }
    }
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    #[allow(clippy::disallowed_methods)] // The forge is a fixture; git's own backend is the oracle.
    let mut cmd = tokio::process::Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", app.data_dir.join("repos"))
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env(
            "PATH_INFO",
            format!("/{}/{}.git/{}", target.owner, target.name, target.service),
        )
        .env("REQUEST_METHOD", parts.method.as_str())
        .env("QUERY_STRING", parts.uri.query().unwrap_or(""))
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .env("REMOTE_USER", &ident.user.login)
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "spawning git http-backend");
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "git http-backend unavailable",
            );
        }
    };
    let pushed = if target.service == "git-receive-pack" && parts.method == http::Method::POST {
        crate::pushes::commands(&body)
    } else {
        Vec::new()
    };
    if let Some(mut stdin) = child.stdin.take() {
        // Feed the body while the backend writes, so large packs cannot deadlock the pipes.
        tokio::spawn(async move {
            let _ = stdin.write_all(&body).await;
        });
    }
    // kill_on_drop ends the backend when the timeout drops the future.
    let out = match tokio::time::timeout(GIT_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "git http-backend");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "git http-backend failed");
        }
        Err(_) => return plain(StatusCode::GATEWAY_TIMEOUT, "git http-backend timed out"),
    };
    if !pushed.is_empty() {
        record_pushes(app, &target, &ident, &repo_dir, &pushed);
    }
    cgi_response(&out.stdout)
}

/// GitHub's default protection of a repository's default branch (no force pushes, no
/// deletion), as a `pre-receive` hook `git receive-pack` runs: a refused update reads as
/// GitHub's (`remote: error: GH006: Protected branch update failed for refs/heads/main.`,
/// `! [remote rejected] main -> main (protected branch hook declined)`).
fn protect(repo_dir: &std::path::Path, branch: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let valid = !branch.is_empty()
        && branch
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    if !valid {
        return Err(std::io::Error::other(format!(
            "unusual default branch {branch:?}"
        )));
    }
    let hook = format!(
        "#!/bin/sh\n\
         # gitgate-forge: the default branch takes no force push and no deletion.\n\
         zero=0000000000000000000000000000000000000000\n\
         while read old new ref; do\n\
         \x20 [ \"$ref\" = refs/heads/{branch} ] || continue\n\
         \x20 if [ \"$new\" = \"$zero\" ] || {{ [ \"$old\" != \"$zero\" ] && ! git merge-base --is-ancestor \"$old\" \"$new\"; }}; then\n\
         \x20   echo \"error: GH006: Protected branch update failed for $ref.\" >&2\n\
         \x20   echo \"error: Cannot force-push to this branch\" >&2\n\
         \x20   exit 1\n\
         \x20 fi\n\
         done\n"
    );
    let path = repo_dir.join("hooks").join("pre-receive");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(hook.as_str()) {
        std::fs::create_dir_all(repo_dir.join("hooks"))?;
        std::fs::write(&path, &hook)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// Records, as `ident`'s, the updates of a push that the repository now shows.
fn record_pushes(
    app: &App,
    target: &Target,
    ident: &Identity,
    repo_dir: &std::path::Path,
    commands: &[crate::pushes::Command],
) {
    let Ok(git) = git2::Repository::open_bare(repo_dir) else {
        return;
    };
    let applied: Vec<_> = commands
        .iter()
        .filter(|c| crate::pushes::applied(&git, c))
        .collect();
    if applied.is_empty() {
        return;
    }
    let store = app.store();
    let recorded = (|| -> Result<(), crate::store::Error> {
        let Some(repo) = store.repo(&target.owner, &target.name)? else {
            return Ok(());
        };
        let at = store.tick()?;
        for c in &applied {
            store.record_push(&repo, &ident.user, &c.refname, &c.old, &c.new, at)?;
        }
        // A push to the head branch of an open pull request runs CI on the new head.
        let open_heads: Vec<String> = store
            .issues(&repo)?
            .into_iter()
            .filter(|i| i.state == "open")
            .filter_map(|i| i.pull.map(|p| p.head_ref))
            .collect();
        for c in applied {
            let Some(branch) = c.refname.strip_prefix("refs/heads/") else {
                continue;
            };
            let Ok(new) = git2::Oid::from_str(&c.new) else {
                continue;
            };
            if !new.is_zero() && open_heads.iter().any(|h| h == branch) {
                crate::ci::start(
                    &store,
                    &git,
                    &repo,
                    branch,
                    new,
                    "pull_request",
                    ident.user.id,
                    at,
                )?;
            }
        }
        Ok(())
    })();
    if let Err(e) = recorded {
        tracing::error!(error = %e, "recording a push");
    }
}

/// Turns CGI output (headers, blank line, body) into a response.
fn cgi_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, p + 4))
        .or_else(|| {
            raw.windows(2)
                .position(|w| w == b"\n\n")
                .map(|p| (p, p + 2))
        });
    let Some((end, body_at)) = split else {
        return plain(StatusCode::BAD_GATEWAY, "malformed CGI output");
    };
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut b = Response::builder().status(StatusCode::OK);
    for line in head.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("status") {
            let code = v
                .split_whitespace()
                .next()
                .and_then(|c| c.parse().ok())
                .unwrap_or(500);
            b = b.status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
        } else {
            b = b.header(k.trim(), v);
        }
    }
    b.body(Body::from(raw[body_at..].to_vec()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str, expected: Option<(&str, &str, &str)>) {
        let got = Target::parse(path);
        let want = expected.map(|(o, n, s)| Target {
            owner: o.into(),
            name: n.into(),
            service: s.into(),
        });
        assert_eq!(got, want, "{path}");
    }

    #[test]
    fn parses_targets() {
        check(
            "/acme/widgets.git/info/refs",
            Some(("acme", "widgets", "info/refs")),
        );
        check(
            "/Acme/Widgets.git/git-upload-pack",
            Some(("acme", "widgets", "git-upload-pack")),
        );
        check("/acme/widgets/info/refs", None);
        check("/../x.git/info/refs", None);
        check("/acme/widgets.git/objects/pack", None);
    }
}
