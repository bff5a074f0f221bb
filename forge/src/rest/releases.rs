//! Releases over REST: list, one by id, by tag, the latest, and create (tagging
//! `target_commitish` when the tag does not exist yet).

use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, Ctx, Reply, paginate, render};
use crate::releases::{self, NewRelease, Release};
use crate::store::Repo;

pub(crate) fn release_json(ctx: &Ctx<'_>, repo: &Repo, r: &Release) -> Value {
    let full = repo.full_name();
    let api = format!("{}/repos/{full}/releases/{}", ctx.bases.api, r.id);
    let author = ctx
        .app
        .store()
        .find_user(r.author_id)
        .ok()
        .flatten()
        .map(|u| render::user(&ctx.bases, &u));
    json!({
        "url": api,
        "html_url": format!("{}/{full}/releases/tag/{}", ctx.bases.html, r.tag_name),
        "assets_url": format!("{api}/assets"),
        "upload_url": format!("{}/repos/{full}/releases/{}/assets{{?name,label}}", ctx.bases.api, r.id),
        "tarball_url": format!("{}/repos/{full}/tarball/{}", ctx.bases.api, r.tag_name),
        "zipball_url": format!("{}/repos/{full}/zipball/{}", ctx.bases.api, r.tag_name),
        "id": r.id,
        "node_id": render::node_id("RE", r.id),
        "tag_name": r.tag_name,
        "target_commitish": r.target_commitish,
        "name": r.name,
        "body": r.body,
        "draft": r.draft,
        "prerelease": r.prerelease,
        "created_at": render::time(r.created_at),
        "published_at": r.published_at.map(render::time),
        "author": author,
        "assets": [],
    })
}

/// `GET /repos/{o}/{r}/releases`.
pub fn list(ctx: &Ctx<'_>, o: &str, r: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let all = releases::list(&ctx.app.store(), &repo)?;
    Ok(paginate(
        ctx,
        all.iter()
            .map(|rel| release_json(ctx, &repo, rel))
            .collect(),
    ))
}

/// `GET /repos/{o}/{r}/releases/{id}`, `/releases/latest`, `/releases/tags/{tag}`.
pub fn get(ctx: &Ctx<'_>, o: &str, r: &str, which: &[&str]) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let store = ctx.app.store();
    let found = match which {
        ["latest"] => releases::latest(&store, &repo)?,
        ["tags", tag @ ..] if !tag.is_empty() => releases::by_tag(&store, &repo, &tag.join("/"))?,
        [id] => match id.parse() {
            Ok(id) => releases::by_id(&store, &repo, id)?,
            Err(_) => None,
        },
        _ => None,
    };
    drop(store);
    let rel = found.ok_or_else(ApiError::not_found)?;
    Ok(Reply::json(&release_json(ctx, &repo, &rel)))
}

#[derive(Deserialize)]
struct Create {
    tag_name: String,
    target_commitish: Option<String>,
    name: Option<String>,
    body: Option<String>,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    prerelease: bool,
}

/// `POST /repos/{o}/{r}/releases`.
pub fn create(ctx: &Ctx<'_>, o: &str, r: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let req: Create = ctx.json()?;
    let tag = req.tag_name.trim().to_owned();
    if tag.is_empty() || !git2::Reference::is_valid_name(&format!("refs/tags/{tag}")) {
        return Err(ApiError::invalid("Release", "tag_name", "invalid"));
    }
    let target = req
        .target_commitish
        .clone()
        .unwrap_or_else(|| repo.default_branch.clone());
    let git = ctx.git(&repo)?;
    let tag_ref = format!("refs/tags/{tag}");
    if git.refname_to_id(&tag_ref).is_err() {
        let oid = crate::git::resolve(&git, &target)
            .ok_or_else(|| ApiError::invalid("Release", "target_commitish", "invalid"))?;
        git.reference(&tag_ref, oid, false, "release")
            .map_err(|_| ApiError::invalid("Release", "tag_name", "invalid"))?;
    }
    let user = ctx.user.clone();
    let rel = ctx.write(|s, now| {
        if releases::by_tag(s, &repo, &tag)?.is_some() {
            return Err(ApiError::invalid("Release", "tag_name", "already_exists"));
        }
        let new = NewRelease {
            tag_name: tag.clone(),
            target_commitish: target.clone(),
            name: req.name.clone().unwrap_or_else(|| tag.clone()),
            body: req.body.clone().unwrap_or_default(),
            draft: req.draft,
            prerelease: req.prerelease,
        };
        Ok(releases::create(s, &repo, &user, &new, now)?)
    })?;
    Ok(Reply::json_status(
        http::StatusCode::CREATED,
        &release_json(ctx, &repo, &rel),
    ))
}
