//! Repositories and their git data: `GET /repos/{o}/{r}`, branches, tags, commits (filters sha,
//! path, author, since, until), one commit, contents at a ref, readme.

use base64::Engine as _;
use chrono::DateTime;
use git2::Oid;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, Ctx, Reply, encode, paginate, paginate_map, render};
use crate::git::{self, Content, LogFilter};
use crate::store::{Repo, User};

/// `GET /repos/{o}/{r}`.
pub fn get(ctx: &Ctx<'_>, o: &str, r: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let open = ctx
        .app
        .store()
        .issues(&repo)?
        .iter()
        .filter(|i| i.state == "open")
        .count();
    let g = ctx.git(&repo)?;
    let pushed = g
        .refname_to_id(&format!("refs/heads/{}", repo.default_branch))
        .ok()
        .and_then(|oid| git::commit_info(&g, oid).ok())
        .map_or(repo.updated_at, |c| c.committer.time);
    Ok(Reply::json(&render::repo(&ctx.bases, &repo, open, pushed)))
}

/// Maps a commit email to a forge user (`login@...` or the user's recorded email).
pub fn who(ctx: &Ctx<'_>) -> Result<impl Fn(&str) -> Option<User> + use<>, ApiError> {
    let users = ctx.app.store().users()?;
    Ok(move |email: &str| {
        users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email))
            .cloned()
    })
}

/// `GET /repos/{o}/{r}/branches`.
pub fn branches(ctx: &Ctx<'_>, o: &str, r: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let g = ctx.git(&repo)?;
    let items = git::branches(&g)?
        .into_iter()
        .map(|(name, sha)| {
            json!({
                "name": name,
                "commit": {"sha": sha, "url": format!("{}/repos/{}/commits/{sha}", ctx.bases.api, repo.full_name())},
                "protected": false,
            })
        })
        .collect();
    Ok(paginate(ctx, items))
}

/// `GET /repos/{o}/{r}/branches/{branch}`.
pub fn branch(ctx: &Ctx<'_>, o: &str, r: &str, name: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let g = ctx.git(&repo)?;
    let Ok(oid) = g.refname_to_id(&format!("refs/heads/{name}")) else {
        return Err(ApiError::new(
            http::StatusCode::NOT_FOUND,
            "Branch not found",
        ));
    };
    let who = who(ctx)?;
    let full = repo.full_name();
    let commit = render::commit(&ctx.bases, &repo, &git::commit_info(&g, oid)?, &who);
    let api = format!("{}/repos/{full}/branches/{}", ctx.bases.api, encode(name));
    Ok(Reply::json(&json!({
        "name": name,
        "commit": commit,
        "_links": {"self": api, "html": format!("{}/{full}/tree/{name}", ctx.bases.html)},
        "protected": false,
        "protection": {"enabled": false, "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []}},
        "protection_url": format!("{api}/protection"),
    })))
}

/// `GET /repos/{o}/{r}/tags`.
pub fn tags(ctx: &Ctx<'_>, o: &str, r: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let g = ctx.git(&repo)?;
    let full = repo.full_name();
    let mut items: Vec<Value> = git::tags(&g)?
        .into_iter()
        .map(|(name, sha)| {
            json!({
                "name": name,
                "commit": {"sha": sha, "url": format!("{}/repos/{full}/commits/{sha}", ctx.bases.api)},
                "zipball_url": format!("{}/repos/{full}/zipball/refs/tags/{name}", ctx.bases.api),
                "tarball_url": format!("{}/repos/{full}/tarball/refs/tags/{name}", ctx.bases.api),
                "node_id": format!("REF_{name}"),
            })
        })
        .collect();
    items.reverse();
    Ok(paginate(ctx, items))
}

fn parse_time(s: &str) -> Result<i64, ApiError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp())
        .map_err(|_| ApiError::invalid("Commit", "since", "invalid"))
}

/// Resolves `rev` (branch, tag, sha) or answers GitHub's 404/422.
pub fn resolve(g: &git2::Repository, rev: &str) -> Result<Oid, ApiError> {
    git::resolve(g, rev).ok_or_else(|| {
        ApiError::new(
            http::StatusCode::NOT_FOUND,
            &format!("No commit found for SHA: {rev}"),
        )
    })
}

/// `GET /repos/{o}/{r}/commits`.
pub fn commits(ctx: &Ctx<'_>, o: &str, r: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let g = ctx.git(&repo)?;
    let start = resolve(&g, ctx.q("sha").unwrap_or(&repo.default_branch))?;
    let filter = LogFilter {
        path: ctx
            .q("path")
            .map(|p| p.trim_matches('/').to_string())
            .filter(|p| !p.is_empty()),
        author: ctx.q("author").map(str::to_string),
        since: ctx.q("since").map(parse_time).transpose()?,
        until: ctx.q("until").map(parse_time).transpose()?,
    };
    let who = who(ctx)?;
    let wanted = filter.author.clone().unwrap_or_default();
    let matches = |p: &git::Person| {
        p.email.eq_ignore_ascii_case(&wanted)
            || who(&p.email).is_some_and(|u| u.login.eq_ignore_ascii_case(&wanted))
            || p.name.eq_ignore_ascii_case(&wanted)
    };
    let log = git::log(&g, start, &filter, matches)?;
    Ok(paginate_map(ctx, &log, |c| {
        render::commit(&ctx.bases, &repo, c, &who)
    }))
}

/// `GET /repos/{o}/{r}/commits/{ref}`: with stats and files; the diff media type gives the patch.
pub fn commit(ctx: &Ctx<'_>, o: &str, r: &str, rev: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let g = ctx.git(&repo)?;
    let oid = resolve(&g, rev)?;
    let info = git::commit_info(&g, oid)?;
    let files = git::commit_files(&g, oid)?;
    if ctx.accepts("diff") {
        let parent = info.parents.first().and_then(|p| Oid::from_str(p).ok());
        let text = match parent {
            Some(p) => git::compare(&g, p, oid)?.1,
            None => String::new(),
        };
        return Ok(Reply::text(
            "application/vnd.github.diff; charset=utf-8",
            text,
        ));
    }
    let who = who(ctx)?;
    let mut v = render::commit(&ctx.bases, &repo, &info, &who);
    let additions: usize = files.iter().map(|f| f.additions).sum();
    let deletions: usize = files.iter().map(|f| f.deletions).sum();
    render::merge(
        &mut v,
        json!({
            "stats": {"total": additions + deletions, "additions": additions, "deletions": deletions},
            "files": files.iter().map(|f| render::file(&ctx.bases, &repo, f, &info.sha)).collect::<Vec<_>>(),
        }),
    );
    Ok(Reply::json(&v))
}

/// One tree entry as the contents API describes it.
struct Entry<'e> {
    path: &'e str,
    name: &'e str,
    kind: &'e str,
    sha: &'e str,
    size: usize,
}

fn content_entry(ctx: &Ctx<'_>, repo: &Repo, e: &Entry<'_>, at: &str) -> Value {
    let Entry {
        path,
        name,
        kind,
        sha,
        size,
    } = *e;
    let full = repo.full_name();
    let enc = path.split('/').map(encode).collect::<Vec<_>>().join("/");
    let url = format!(
        "{}/repos/{full}/contents/{enc}?ref={}",
        ctx.bases.api,
        encode(at)
    );
    let (git_url, html_url) = if kind == "dir" {
        (
            format!("{}/repos/{full}/git/trees/{sha}", ctx.bases.api),
            format!("{}/{full}/tree/{at}/{enc}", ctx.bases.html),
        )
    } else {
        (
            format!("{}/repos/{full}/git/blobs/{sha}", ctx.bases.api),
            format!("{}/{full}/blob/{at}/{enc}", ctx.bases.html),
        )
    };
    let download = if kind == "file" {
        json!(format!("{}/{full}/raw/{at}/{enc}", ctx.bases.html))
    } else {
        Value::Null
    };
    json!({
        "name": name,
        "path": path,
        "sha": sha,
        "size": size,
        "url": url,
        "html_url": html_url,
        "git_url": git_url,
        "download_url": download,
        "type": kind,
        "_links": {"self": url, "git": git_url, "html": html_url},
    })
}

/// The contents entry of one file (without its content).
pub fn file_entry(
    ctx: &Ctx<'_>,
    repo: &Repo,
    path: &str,
    name: &str,
    sha: &str,
    size: usize,
    at: &str,
) -> Value {
    content_entry(
        ctx,
        repo,
        &Entry {
            path,
            name,
            kind: "file",
            sha,
            size,
        },
        at,
    )
}

/// `GET /repos/{o}/{r}/contents/{path}?ref=`: a file (base64, or raw with the raw media type) or a
/// directory listing.
pub fn contents(ctx: &Ctx<'_>, o: &str, r: &str, path: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let g = ctx.git(&repo)?;
    let at = ctx.q("ref").unwrap_or(&repo.default_branch).to_string();
    let oid = resolve(&g, &at)?;
    let path = path.trim_matches('/');
    match git::contents(&g, oid, path)? {
        None => Err(ApiError::not_found()),
        Some(Content::File { sha, data }) => {
            if ctx.accepts("raw") {
                return Ok(Reply::text(
                    "application/vnd.github.raw; charset=utf-8",
                    String::from_utf8_lossy(&data).into_owned(),
                ));
            }
            let name = path.rsplit('/').next().unwrap_or(path);
            let entry = Entry {
                path,
                name,
                kind: "file",
                sha: &sha,
                size: data.len(),
            };
            let mut v = content_entry(ctx, &repo, &entry, &at);
            let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
            // GitHub wraps base64 content at 60 columns.
            let wrapped: Vec<String> = b64
                .as_bytes()
                .chunks(60)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            render::merge(
                &mut v,
                json!({"content": wrapped.join("\n") + "\n", "encoding": "base64"}),
            );
            Ok(Reply::json(&v))
        }
        Some(Content::Dir(items)) => {
            let list: Vec<Value> = items
                .iter()
                .map(|(name, kind, sha, size)| {
                    let p = if path.is_empty() {
                        name.clone()
                    } else {
                        format!("{path}/{name}")
                    };
                    content_entry(
                        ctx,
                        &repo,
                        &Entry {
                            path: &p,
                            name,
                            kind,
                            sha,
                            size: *size,
                        },
                        &at,
                    )
                })
                .collect();
            Ok(Reply::json(&Value::Array(list)))
        }
    }
}

/// `GET /repos/{o}/{r}/readme`.
pub fn readme(ctx: &Ctx<'_>, o: &str, r: &str) -> ApiResult {
    contents(ctx, o, r, "README.md")
}

/// `GET /repos/{o}/{r}/events`: the repository's pushes as GitHub's `PushEvent`s, newest first.
pub fn events(ctx: &Ctx<'_>, o: &str, r: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let pushes = ctx.app.store().pushes(&repo)?;
    let bases = &ctx.bases;
    let items: Vec<Value> = pushes
        .iter()
        .map(|p| {
            json!({
                "id": p.id.to_string(),
                "type": "PushEvent",
                "actor": {
                    "id": p.actor.id,
                    "login": p.actor.login,
                    "display_login": p.actor.login,
                    "gravatar_id": "",
                    "url": format!("{}/users/{}", bases.api, p.actor.login),
                    "avatar_url": format!("{}/avatars/u/{}?v=4", bases.html, p.actor.id),
                },
                "repo": {
                    "id": repo.id,
                    "name": repo.full_name(),
                    "url": format!("{}/repos/{}", bases.api, repo.full_name()),
                },
                "payload": {
                    "repository_id": repo.id,
                    "push_id": p.id,
                    "ref": p.refname,
                    "head": p.head,
                    "before": p.before,
                },
                "public": true,
                "created_at": render::time(p.created_at),
            })
        })
        .collect();
    Ok(paginate(ctx, items))
}
