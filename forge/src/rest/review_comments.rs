//! Pull request review comments over REST: list, create on a line of a file, and reply, in
//! GitHub's `pull-request-review-comment` shape.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, Ctx, Reply, paginate, pulls, render};
use crate::review_comments::{self, Anchor, ReviewComment};
use crate::store::{Issue, Repo};

fn comment_json(ctx: &Ctx<'_>, repo: &Repo, pull: &Issue, c: &ReviewComment) -> Value {
    let full = repo.full_name();
    let url = format!("{}/repos/{full}/pulls/comments/{}", ctx.bases.api, c.id);
    let html = format!(
        "{}/{full}/pull/{}#discussion_r{}",
        ctx.bases.html, pull.number, c.id
    );
    let pr_url = format!("{}/repos/{full}/pulls/{}", ctx.bases.api, pull.number);
    let user = ctx.app.store().find_user(c.user_id).ok().flatten();
    let mut v = json!({
        "url": url,
        "pull_request_review_id": null,
        "id": c.id,
        "node_id": render::node_id("PRRC", c.id),
        "diff_hunk": format!("@@ -{0},1 +{0},1 @@", c.line),
        "path": c.path,
        "commit_id": c.commit_id,
        "original_commit_id": c.commit_id,
        "user": user.as_ref().map(|u| render::user(&ctx.bases, u)),
        "body": c.body,
        "created_at": render::time(c.created_at),
        "updated_at": render::time(c.updated_at),
        "html_url": html,
        "pull_request_url": pr_url,
        "author_association": user.as_ref().map_or("NONE", |u| render::association(repo, u)),
        "_links": {
            "self": {"href": url},
            "html": {"href": html},
            "pull_request": {"href": pr_url},
        },
        "line": c.line,
        "original_line": c.line,
        "side": c.side,
        "subject_type": "line",
    });
    if let Some(to) = c.in_reply_to_id {
        v["in_reply_to_id"] = json!(to);
    }
    v
}

/// `GET /repos/{o}/{r}/pulls/{n}/comments`.
pub fn list(ctx: &Ctx<'_>, o: &str, r: &str, n: i64) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let pull = pulls::pull_issue(ctx, &repo, n)?;
    let items = review_comments::list(&ctx.app.store(), &pull)?;
    Ok(paginate(
        ctx,
        items
            .iter()
            .map(|c| comment_json(ctx, &repo, &pull, c))
            .collect(),
    ))
}

#[derive(Deserialize)]
struct Create {
    body: Option<String>,
    path: Option<String>,
    line: Option<i64>,
    side: Option<String>,
    commit_id: Option<String>,
    in_reply_to: Option<i64>,
}

fn body_of(body: Option<String>) -> Result<String, ApiError> {
    body.filter(|b| !b.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("PullRequestReviewComment", "body", "missing_field"))
}

/// `POST /repos/{o}/{r}/pulls/{n}/comments`: on `path` at `line`, or `in_reply_to` a comment.
pub fn create(ctx: &Ctx<'_>, o: &str, r: &str, n: i64) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let pull = pulls::pull_issue(ctx, &repo, n)?;
    let req: Create = ctx.json()?;
    let body = body_of(req.body)?;
    let anchor = if let Some(to) = req.in_reply_to {
        let root =
            review_comments::by_id(&ctx.app.store(), &pull, to)?.ok_or_else(ApiError::not_found)?;
        Anchor::Reply(root)
    } else {
        let missing = |f| ApiError::invalid("PullRequestReviewComment", f, "missing_field");
        let path = req
            .path
            .filter(|p| !p.is_empty())
            .ok_or_else(|| missing("path"))?;
        let line = req.line.filter(|l| *l > 0).ok_or_else(|| missing("line"))?;
        let side = match req.side.as_deref().unwrap_or("RIGHT") {
            s @ ("LEFT" | "RIGHT") => s.to_owned(),
            _ => {
                return Err(ApiError::invalid(
                    "PullRequestReviewComment",
                    "side",
                    "invalid",
                ));
            }
        };
        let commit_id = match req.commit_id {
            Some(c) => c,
            None => pulls::refs(&ctx.git(&repo)?, &pull).head,
        };
        Anchor::Line {
            path,
            line,
            side,
            commit_id,
        }
    };
    let user = ctx.user.clone();
    let c = ctx.write(|s, now| {
        Ok(review_comments::create(
            s, &pull, &user, &body, &anchor, now,
        )?)
    })?;
    Ok(Reply::json_status(
        http::StatusCode::CREATED,
        &comment_json(ctx, &repo, &pull, &c),
    ))
}

#[derive(Deserialize)]
struct ReplyBody {
    body: Option<String>,
}

/// `POST /repos/{o}/{r}/pulls/{n}/comments/{id}/replies`.
pub fn reply(ctx: &Ctx<'_>, o: &str, r: &str, n: i64, id: i64) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let pull = pulls::pull_issue(ctx, &repo, n)?;
    let req: ReplyBody = ctx.json()?;
    let body = body_of(req.body)?;
    let root =
        review_comments::by_id(&ctx.app.store(), &pull, id)?.ok_or_else(ApiError::not_found)?;
    let user = ctx.user.clone();
    let c = ctx.write(|s, now| {
        Ok(review_comments::create(
            s,
            &pull,
            &user,
            &body,
            &Anchor::Reply(root.clone()),
            now,
        )?)
    })?;
    Ok(Reply::json_status(
        http::StatusCode::CREATED,
        &comment_json(ctx, &repo, &pull, &c),
    ))
}
