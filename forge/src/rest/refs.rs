//! Git data over REST: references (`git/ref`, `git/matching-refs`, `git/refs` create, update,
//! delete), the comparison of two commits, and file writes through the contents API
//! (`PUT`/`DELETE contents/{path}`) that commit to a branch.

use base64::Engine as _;
use git2::Oid;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, Ctx, Reply, paginate, render};
use crate::git::{self, CommitBuilder};
use crate::store::Repo;

fn ref_json(ctx: &Ctx<'_>, repo: &Repo, name: &str, sha: &str) -> Value {
    let full = repo.full_name();
    json!({
        "ref": name,
        "node_id": format!("REF_{}", name.replace('/', "_")),
        "url": format!("{}/repos/{full}/git/{name}", ctx.bases.api),
        "object": {"type": "commit", "sha": sha, "url": format!("{}/repos/{full}/git/commits/{sha}", ctx.bases.api)},
    })
}

fn all_refs(g: &git2::Repository) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for (prefix, list) in [
        ("refs/heads/", git::branches(g)?),
        ("refs/tags/", git::tags(g)?),
    ] {
        out.extend(
            list.into_iter()
                .map(|(n, sha)| (format!("{prefix}{n}"), sha)),
        );
    }
    Ok(out)
}

/// `GET /repos/{o}/{r}/git/ref/{ref}` (`heads/main`, `tags/v1.0.0`).
pub fn get_ref(ctx: &Ctx<'_>, o: &str, r: &str, name: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let g = ctx.git(&repo)?;
    let full = format!("refs/{name}");
    let found = all_refs(&g)?.into_iter().find(|(n, _)| *n == full);
    let (n, sha) = found.ok_or_else(ApiError::not_found)?;
    Ok(Reply::json(&ref_json(ctx, &repo, &n, &sha)))
}

/// `GET /repos/{o}/{r}/git/matching-refs/{prefix}`.
pub fn matching_refs(ctx: &Ctx<'_>, o: &str, r: &str, prefix: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let g = ctx.git(&repo)?;
    let want = format!("refs/{prefix}");
    let items = all_refs(&g)?
        .into_iter()
        .filter(|(n, _)| n.starts_with(&want))
        .map(|(n, sha)| ref_json(ctx, &repo, &n, &sha))
        .collect();
    Ok(paginate(ctx, items))
}

/// A branch name a client may create: no option look-alikes, no revision syntax.
fn valid_ref(name: &str) -> bool {
    git2::Reference::is_valid_name(name)
        && name.starts_with("refs/")
        && !name.contains("/-")
        && !name.contains("..")
}

#[derive(Debug, Deserialize)]
struct CreateRef {
    #[serde(rename = "ref")]
    name: Option<String>,
    sha: Option<String>,
}

/// `POST /repos/{o}/{r}/git/refs`.
pub fn create_ref(ctx: &Ctx<'_>, o: &str, r: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let body: CreateRef = ctx.json()?;
    let (Some(name), Some(sha)) = (body.name, body.sha) else {
        return Err(ApiError::invalid("Reference", "ref", "missing_field"));
    };
    if !valid_ref(&name) || name.matches('/').count() < 2 {
        return Err(ApiError::unprocessable("Reference name is invalid"));
    }
    let g = ctx.git(&repo)?;
    let Some(oid) = Oid::from_str(&sha)
        .ok()
        .filter(|o| g.find_commit(*o).is_ok())
    else {
        return Err(ApiError::unprocessable("Object does not exist"));
    };
    ctx.write(|s, now| {
        if g.find_reference(&name).is_ok() {
            return Err(ApiError::unprocessable("Reference already exists"));
        }
        g.reference(&name, oid, false, "create ref")?;
        s.touch_repo(&repo, now)?;
        Ok(())
    })?;
    Ok(Reply::json_status(
        StatusCode::CREATED,
        &ref_json(ctx, &repo, &name, &sha),
    ))
}

#[derive(Debug, Deserialize)]
struct UpdateRef {
    sha: Option<String>,
    #[serde(default)]
    force: bool,
}

/// `PATCH /repos/{o}/{r}/git/refs/{ref}`.
pub fn update_ref(ctx: &Ctx<'_>, o: &str, r: &str, name: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let body: UpdateRef = ctx.json()?;
    let full = format!("refs/{name}");
    let g = ctx.git(&repo)?;
    let Some(new) = body
        .sha
        .as_deref()
        .and_then(|s| Oid::from_str(s).ok())
        .filter(|o| g.find_commit(*o).is_ok())
    else {
        return Err(ApiError::unprocessable("Object does not exist"));
    };
    ctx.write(|s, now| {
        let Ok(old) = g.refname_to_id(&full) else {
            return Err(ApiError::unprocessable("Reference does not exist"));
        };
        if !body.force && old != new && !g.graph_descendant_of(new, old)? {
            return Err(ApiError::unprocessable("Update is not a fast forward"));
        }
        g.reference_matching(&full, new, true, old, "update ref")?;
        s.touch_repo(&repo, now)?;
        Ok(())
    })?;
    Ok(Reply::json(&ref_json(ctx, &repo, &full, &new.to_string())))
}

/// `DELETE /repos/{o}/{r}/git/refs/{ref}`.
pub fn delete_ref(ctx: &Ctx<'_>, o: &str, r: &str, name: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let full = format!("refs/{name}");
    let g = ctx.git(&repo)?;
    ctx.write(|s, now| {
        if full == format!("refs/heads/{}", repo.default_branch) {
            return Err(ApiError::unprocessable("Cannot delete the default branch"));
        }
        let Ok(mut reference) = g.find_reference(&full) else {
            return Err(ApiError::unprocessable("Reference does not exist"));
        };
        reference.delete()?;
        s.touch_repo(&repo, now)?;
        Ok(())
    })?;
    Ok(Reply::no_content())
}

/// `GET /repos/{o}/{r}/compare/{base}...{head}` (the diff media type gives the diff).
pub fn compare(ctx: &Ctx<'_>, o: &str, r: &str, spec: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let g = ctx.git(&repo)?;
    let Some((base_name, head_name)) = spec.split_once("...") else {
        return Err(ApiError::not_found());
    };
    let base = super::repos::resolve(&g, base_name)?;
    let head = super::repos::resolve(&g, head_name)?;
    let (files, text) = git::compare(&g, base, head)?;
    if ctx.accepts("diff") {
        return Ok(Reply::text(
            "application/vnd.github.diff; charset=utf-8",
            text,
        ));
    }
    let ahead = git::commits_between(&g, base, head)?;
    let behind = git::commits_between(&g, head, base)?.len();
    let merge_base = g.merge_base(base, head).unwrap_or(base);
    let who = super::repos::who(ctx)?;
    let render_commit = |oid: Oid| -> Result<Value, ApiError> {
        Ok(render::commit(
            &ctx.bases,
            &repo,
            &git::commit_info(&g, oid)?,
            &who,
        ))
    };
    let status = match (ahead.len(), behind) {
        (0, 0) => "identical",
        (_, 0) => "ahead",
        (0, _) => "behind",
        _ => "diverged",
    };
    let full = repo.full_name();
    let html = format!("{}/{full}/compare/{spec}", ctx.bases.html);
    Ok(Reply::json(&json!({
        "url": format!("{}/repos/{full}/compare/{spec}", ctx.bases.api),
        "html_url": html,
        "permalink_url": format!("{}/{full}/compare/{base}...{head}", ctx.bases.html),
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "base_commit": render_commit(base)?,
        "merge_base_commit": render_commit(merge_base)?,
        "status": status,
        "ahead_by": ahead.len(),
        "behind_by": behind,
        "total_commits": ahead.len(),
        "commits": ahead.iter().map(|c| render::commit(&ctx.bases, &repo, c, &who)).collect::<Vec<_>>(),
        "files": files.iter().map(|f| render::file(&ctx.bases, &repo, f, &head.to_string())).collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Deserialize)]
struct FileWrite {
    message: Option<String>,
    content: Option<String>,
    sha: Option<String>,
    branch: Option<String>,
}

/// `PUT` (create or update) and `DELETE` `/repos/{o}/{r}/contents/{path}`: one commit on the
/// branch, attributed to the caller, as GitHub's web editor makes.
pub fn write_file(ctx: &Ctx<'_>, o: &str, r: &str, path: &str, delete: bool) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let body: FileWrite = ctx.json()?;
    let path = path.trim_matches('/').to_string();
    if path.is_empty()
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == ".." || c == ".git")
    {
        return Err(ApiError::invalid("Commit", "path", "invalid"));
    }
    let Some(message) = body.message.filter(|m| !m.is_empty()) else {
        return Err(ApiError::invalid("Commit", "message", "missing_field"));
    };
    let data = if delete {
        None
    } else {
        let Some(b64) = body.content else {
            return Err(ApiError::invalid("Commit", "content", "missing_field"));
        };
        let clean: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
        Some(
            base64::engine::general_purpose::STANDARD
                .decode(clean)
                .map_err(|_| ApiError::unprocessable("content is not valid Base64"))?,
        )
    };
    let branch = body.branch.unwrap_or_else(|| repo.default_branch.clone());
    let g = ctx.git(&repo)?;
    let (commit, existed) = ctx.write(|s, now| {
        let refname = format!("refs/heads/{branch}");
        let Ok(tip) = g.refname_to_id(&refname) else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                &format!("Branch {branch} not found"),
            ));
        };
        let current = match git::contents(&g, tip, &path)? {
            Some(git::Content::File { sha, .. }) => Some(sha),
            Some(git::Content::Dir(_)) => {
                return Err(ApiError::unprocessable("path is a directory"));
            }
            None => None,
        };
        match (&current, body.sha.as_deref()) {
            (Some(_), None) => {
                return Err(ApiError::unprocessable(
                    "Invalid request.\n\n\"sha\" wasn't supplied.",
                ));
            }
            (Some(cur), Some(given)) if cur != given => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    &format!("{path} does not match {given}"),
                ));
            }
            (None, _) if delete => return Err(ApiError::not_found()),
            _ => {}
        }
        let mut b = CommitBuilder::new(&g, Some(tip))?;
        match &data {
            Some(d) => b.write(&path, d.clone()),
            None => b.remove(&path),
        }
        let sig = git::signature(&ctx.user.name, &ctx.user.email, now)?;
        let oid = b.commit(Some(&refname), &sig, &message, &[tip])?;
        s.touch_repo(&repo, now)?;
        Ok((oid, current.is_some()))
    })?;
    let info = git::commit_info(&g, commit)?;
    let who = super::repos::who(ctx)?;
    let mut commit_json = render::commit(&ctx.bases, &repo, &info, &who);
    // The contents API answers with the git-data commit shape.
    let inner = commit_json["commit"].clone();
    commit_json = json!({
        "sha": info.sha,
        "node_id": commit_json["node_id"],
        "url": inner["url"],
        "html_url": commit_json["html_url"],
        "author": inner["author"],
        "committer": inner["committer"],
        "message": inner["message"],
        "tree": inner["tree"],
        "parents": commit_json["parents"],
        "verification": inner["verification"],
    });
    let content = if delete {
        Value::Null
    } else {
        match git::contents(&g, commit, &path)? {
            Some(git::Content::File { sha, data }) => {
                let name = path.rsplit('/').next().unwrap_or(&path);
                super::repos::file_entry(ctx, &repo, &path, name, &sha, data.len(), &branch)
            }
            _ => Value::Null,
        }
    };
    let status = if !delete && !existed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(Reply::json_status(
        status,
        &json!({"content": content, "commit": commit_json}),
    ))
}
