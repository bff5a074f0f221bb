//! Pull requests: list, get (and the diff media type), create, update, files, commits, merge
//! (merge, squash, rebase: real commits in the bare repository), reviews.

use git2::Oid;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::render::{PullCounts, PullRefs};
use super::{ApiError, ApiResult, Ctx, Reply, paginate, render};
use crate::git::{self, MergeMethod};
use crate::store::{Issue, IssuePatch, NewIssue, Repo};

/// Head and base shas: recorded once the pull request ended, else the live branch tips.
pub fn refs(g: &git2::Repository, i: &Issue) -> PullRefs {
    let Some(p) = &i.pull else {
        return PullRefs::default();
    };
    let tip = |b: &str| {
        g.refname_to_id(&format!("refs/heads/{b}"))
            .map(|o| o.to_string())
            .unwrap_or_default()
    };
    PullRefs {
        head: p.head_sha.clone().unwrap_or_else(|| tip(&p.head_ref)),
        base: p.base_sha.clone().unwrap_or_else(|| tip(&p.base_ref)),
    }
}

/// Counts for the full shape, from a three-dot comparison.
pub fn counts(g: &git2::Repository, i: &Issue, refs: &PullRefs) -> Result<PullCounts, ApiError> {
    let (Ok(base), Ok(head)) = (Oid::from_str(&refs.base), Oid::from_str(&refs.head)) else {
        return Ok(PullCounts::default());
    };
    let (files, _) = git::compare(g, base, head)?;
    let commits = git::commits_between(g, base, head)?.len();
    let mergeable = if i.state == "open" {
        let b = g.find_commit(base)?;
        let h = g.find_commit(head)?;
        Some(!g.merge_commits(&b, &h, None)?.has_conflicts())
    } else {
        None
    };
    Ok(PullCounts {
        commits,
        additions: files.iter().map(|f| f.additions).sum(),
        deletions: files.iter().map(|f| f.deletions).sum(),
        changed_files: files.len(),
        review_comments: 0,
        mergeable,
    })
}

pub(crate) fn pull_issue(ctx: &Ctx<'_>, repo: &Repo, n: i64) -> Result<Issue, ApiError> {
    ctx.app
        .store()
        .issue(repo, n)?
        .filter(|i| i.pull.is_some())
        .ok_or_else(ApiError::not_found)
}

/// `GET /repos/{o}/{r}/pulls`.
pub fn list(ctx: &Ctx<'_>, o: &str, r: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let g = ctx.git(&repo)?;
    let mut items: Vec<Issue> = ctx
        .app
        .store()
        .issues(&repo)?
        .into_iter()
        .filter(|i| i.pull.is_some())
        .collect();
    let state = ctx.q("state").unwrap_or("open");
    if !matches!(state, "open" | "closed" | "all") {
        return Err(ApiError::invalid("PullRequest", "state", "invalid"));
    }
    items.retain(|i| state == "all" || i.state == state);
    if let Some(head) = ctx.q("head") {
        let branch = head.split_once(':').map_or(head, |(_, b)| b);
        items.retain(|i| i.pull.as_ref().is_some_and(|p| p.head_ref == branch));
    }
    if let Some(base) = ctx.q("base") {
        items.retain(|i| i.pull.as_ref().is_some_and(|p| p.base_ref == base));
    }
    match ctx.q("sort").unwrap_or("created") {
        "updated" => items.sort_by_key(|i| (i.updated_at, i.number)),
        "popularity" => items.sort_by_key(|i| (i.comments, i.number)),
        "long-running" => items.sort_by_key(|i| (std::cmp::Reverse(i.created_at), i.number)),
        _ => items.sort_by_key(|i| (i.created_at, i.number)),
    }
    if ctx.q("direction").unwrap_or("desc") != "asc" {
        items.reverse();
    }
    let out = items
        .iter()
        .map(|i| render::pull(&ctx.bases, &repo, i, &refs(&g, i), None))
        .collect();
    Ok(paginate(ctx, out))
}

/// `GET /repos/{o}/{r}/pulls/{n}`; `Accept: application/vnd.github.diff` gives the diff.
pub fn get(ctx: &Ctx<'_>, o: &str, r: &str, n: i64) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let g = ctx.git(&repo)?;
    let issue = pull_issue(ctx, &repo, n)?;
    let refs = refs(&g, &issue);
    if ctx.accepts("diff") || ctx.accepts("patch") {
        return Ok(Reply::text(
            "application/vnd.github.diff; charset=utf-8",
            diff(&g, &refs)?,
        ));
    }
    let mut counts = counts(&g, &issue, &refs)?;
    counts.review_comments = crate::review_comments::list(&ctx.app.store(), &issue)?.len();
    Ok(Reply::json(&render::pull(
        &ctx.bases,
        &repo,
        &issue,
        &refs,
        Some(&counts),
    )))
}

/// The pull request's diff text (three-dot, as GitHub shows it).
pub fn diff(g: &git2::Repository, refs: &PullRefs) -> Result<String, ApiError> {
    let (Ok(base), Ok(head)) = (Oid::from_str(&refs.base), Oid::from_str(&refs.head)) else {
        return Ok(String::new());
    };
    Ok(git::compare(g, base, head)?.1)
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    title: Option<String>,
    head: Option<String>,
    base: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    draft: bool,
}

/// Creates a pull request after GitHub's checks; shared with GraphQL.
pub fn open_pull(
    ctx: &Ctx<'_>,
    repo: &Repo,
    title: &str,
    head: &str,
    base: &str,
    body: &str,
    draft: bool,
) -> Result<Issue, ApiError> {
    let g = ctx.git(repo)?;
    let head = head.split_once(':').map_or(head, |(_, b)| b).to_string();
    let Ok(h) = g.refname_to_id(&format!("refs/heads/{head}")) else {
        return Err(ApiError::invalid("PullRequest", "head", "invalid"));
    };
    let Ok(b) = g.refname_to_id(&format!("refs/heads/{base}")) else {
        return Err(ApiError::invalid("PullRequest", "base", "invalid"));
    };
    if git::commits_between(&g, b, h)?.is_empty() {
        return Err(ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: "Validation Failed".into(),
            errors: Some(
                json!([{"resource": "PullRequest", "code": "custom", "message": format!("No commits between {base} and {head}")}]),
            ),
        });
    }
    let new = NewIssue {
        title: title.to_string(),
        body: body.to_string(),
        pull: Some((head.clone(), base.to_string(), draft)),
        ..Default::default()
    };
    ctx.write(|s, now| {
        let exists = s.issues(repo)?.iter().any(|i| {
            i.state == "open" && i.pull.as_ref().is_some_and(|p| p.head_ref == head && p.base_ref == base)
        });
        if exists {
            return Err(ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: "Validation Failed".into(),
                errors: Some(json!([{"resource": "PullRequest", "code": "custom", "message": format!("A pull request already exists for {}:{head}.", repo.owner.login)}])),
            });
        }
        let issue = s.create_issue(repo, &ctx.user, &new, now)?;
        // Opening a pull request runs CI on its head, as a `pull_request` workflow does.
        crate::ci::start(s, &g, repo, &head, h, "pull_request", ctx.user.id, now)?;
        Ok(issue)
    })
}

/// `POST /repos/{o}/{r}/pulls`.
pub fn create(ctx: &Ctx<'_>, o: &str, r: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let body: CreateBody = ctx.json()?;
    let Some(title) = body.title.filter(|t| !t.is_empty()) else {
        return Err(ApiError::invalid("PullRequest", "title", "missing_field"));
    };
    let Some(head) = body.head else {
        return Err(ApiError::invalid("PullRequest", "head", "missing_field"));
    };
    let Some(base) = body.base else {
        return Err(ApiError::invalid("PullRequest", "base", "missing_field"));
    };
    let issue = open_pull(
        ctx,
        &repo,
        &title,
        &head,
        &base,
        body.body.as_deref().unwrap_or(""),
        body.draft,
    )?;
    let g = ctx.git(&repo)?;
    let refs = refs(&g, &issue);
    let mut counts = counts(&g, &issue, &refs)?;
    counts.review_comments = crate::review_comments::list(&ctx.app.store(), &issue)?.len();
    let v = render::pull(&ctx.bases, &repo, &issue, &refs, Some(&counts));
    let mut reply = Reply::json_status(StatusCode::CREATED, &v);
    if let Some(url) = v.get("url").and_then(Value::as_str) {
        reply.headers.push(("location".into(), url.to_string()));
    }
    Ok(reply)
}

#[derive(Debug, Deserialize)]
struct UpdateBody {
    title: Option<String>,
    body: Option<String>,
    state: Option<String>,
    base: Option<String>,
}

/// Closes or reopens a pull request; shared with GraphQL.
pub fn set_state(
    ctx: &Ctx<'_>,
    repo: &Repo,
    issue: &Issue,
    state: &str,
) -> Result<Issue, ApiError> {
    let g = ctx.git(repo)?;
    let refs = refs(&g, issue);
    ctx.write(|s, now| {
        Ok(match state {
            "closed" if issue.state == "open" => {
                s.record_pull_end(issue, &ctx.user, &refs.head, &refs.base, None, now)?
            }
            "open"
                if issue.state == "closed"
                    && issue.pull.as_ref().is_some_and(|p| p.merged_at.is_none()) =>
            {
                s.reopen_pull(issue, now)?
            }
            "open" if issue.state == "closed" => {
                return Err(ApiError::unprocessable(
                    "state cannot be changed. The pull request is merged.",
                ));
            }
            _ => issue.clone(),
        })
    })
}

/// `PATCH /repos/{o}/{r}/pulls/{n}`.
pub fn update(ctx: &Ctx<'_>, o: &str, r: &str, n: i64) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let body: UpdateBody = ctx.json()?;
    let mut issue = pull_issue(ctx, &repo, n)?;
    if let Some(state) = &body.state {
        if state != "open" && state != "closed" {
            return Err(ApiError::invalid("PullRequest", "state", "invalid"));
        }
        issue = set_state(ctx, &repo, &issue, state)?;
    }
    if body.title.is_some() || body.body.is_some() || body.base.is_some() {
        let patch = IssuePatch {
            title: body.title,
            body: body.body,
            base: body.base,
            ..Default::default()
        };
        issue = ctx.write(|s, now| {
            s.update_issue(&repo, n, &ctx.user, &patch, now)?
                .ok_or_else(ApiError::not_found)
        })?;
    }
    let g = ctx.git(&repo)?;
    let refs = refs(&g, &issue);
    let mut counts = counts(&g, &issue, &refs)?;
    counts.review_comments = crate::review_comments::list(&ctx.app.store(), &issue)?.len();
    Ok(Reply::json(&render::pull(
        &ctx.bases,
        &repo,
        &issue,
        &refs,
        Some(&counts),
    )))
}

/// `GET /repos/{o}/{r}/pulls/{n}/files`.
pub fn files(ctx: &Ctx<'_>, o: &str, r: &str, n: i64) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let g = ctx.git(&repo)?;
    let issue = pull_issue(ctx, &repo, n)?;
    let refs = refs(&g, &issue);
    let (Ok(base), Ok(head)) = (Oid::from_str(&refs.base), Oid::from_str(&refs.head)) else {
        return Ok(paginate(ctx, Vec::new()));
    };
    let (files, _) = git::compare(&g, base, head)?;
    Ok(paginate(
        ctx,
        files
            .iter()
            .map(|f| render::file(&ctx.bases, &repo, f, &refs.head))
            .collect(),
    ))
}

/// `GET /repos/{o}/{r}/pulls/{n}/commits`.
pub fn commits(ctx: &Ctx<'_>, o: &str, r: &str, n: i64) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let g = ctx.git(&repo)?;
    let issue = pull_issue(ctx, &repo, n)?;
    let refs = refs(&g, &issue);
    let (Ok(base), Ok(head)) = (Oid::from_str(&refs.base), Oid::from_str(&refs.head)) else {
        return Ok(paginate(ctx, Vec::new()));
    };
    let who = super::repos::who(ctx)?;
    let list = git::commits_between(&g, base, head)?;
    Ok(paginate(
        ctx,
        list.iter()
            .map(|c| render::commit(&ctx.bases, &repo, c, &who))
            .collect(),
    ))
}

/// `GET /repos/{o}/{r}/pulls/{n}/merge`: 204 when merged, else 404.
pub fn is_merged(ctx: &Ctx<'_>, o: &str, r: &str, n: i64) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let issue = pull_issue(ctx, &repo, n)?;
    if issue.pull.as_ref().is_some_and(|p| p.merged_at.is_some()) {
        Ok(Reply::no_content())
    } else {
        Err(ApiError::not_found())
    }
}

#[derive(Debug, Deserialize, Default)]
struct MergeBody {
    commit_title: Option<String>,
    commit_message: Option<String>,
    sha: Option<String>,
    merge_method: Option<String>,
}

/// Merges a pull request; shared with GraphQL. Returns the updated issue and the new commit.
pub fn do_merge(
    ctx: &Ctx<'_>,
    repo: &Repo,
    issue: &Issue,
    method: MergeMethod,
    title: Option<&str>,
    message: Option<&str>,
    expected_head: Option<&str>,
) -> Result<(Issue, String), ApiError> {
    let Some(p) = &issue.pull else {
        return Err(ApiError::not_found());
    };
    if issue.state != "open" {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Pull Request is not mergeable",
        ));
    }
    let g = ctx.git(repo)?;
    let refs = refs(&g, issue);
    if expected_head.is_some_and(|s| s != refs.head) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "Head branch was modified. Review and try the merge again.",
        ));
    }
    let head = Oid::from_str(&refs.head).map_err(|_| {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Pull Request is not mergeable",
        )
    })?;
    let default_title = match method {
        MergeMethod::Merge => format!(
            "Merge pull request #{} from {}/{}",
            issue.number, repo.owner.login, p.head_ref
        ),
        _ => format!("{} (#{})", issue.title, issue.number),
    };
    let title = title.map_or(default_title, str::to_string);
    let body = message.map_or_else(
        || {
            if method == MergeMethod::Merge {
                issue.title.clone()
            } else {
                String::new()
            }
        },
        str::to_string,
    );
    let msg = if body.is_empty() {
        title
    } else {
        format!("{title}\n\n{body}")
    };
    ctx.write(|s, now| {
        let sig = git::signature(&ctx.user.name, &ctx.user.email, now)?;
        let new = git::merge(&g, &p.base_ref, head, method, &msg, &sig)?;
        let updated = s.record_pull_end(
            issue,
            &ctx.user,
            &refs.head,
            &refs.base,
            Some(&new.to_string()),
            now,
        )?;
        Ok((updated, new.to_string()))
    })
}

/// `PUT /repos/{o}/{r}/pulls/{n}/merge`.
pub fn merge(ctx: &Ctx<'_>, o: &str, r: &str, n: i64) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let body: MergeBody = ctx.json()?;
    let method = match body.merge_method.as_deref().unwrap_or("merge") {
        "merge" => MergeMethod::Merge,
        "squash" => MergeMethod::Squash,
        "rebase" => MergeMethod::Rebase,
        _ => return Err(ApiError::invalid("PullRequest", "merge_method", "invalid")),
    };
    let issue = pull_issue(ctx, &repo, n)?;
    let (_, sha) = do_merge(
        ctx,
        &repo,
        &issue,
        method,
        body.commit_title.as_deref(),
        body.commit_message.as_deref(),
        body.sha.as_deref(),
    )?;
    Ok(Reply::json(
        &json!({"sha": sha, "merged": true, "message": "Pull Request successfully merged"}),
    ))
}

/// GitHub's rules for a new review: a body for comments and change requests, and no approving
/// or requesting changes on one's own pull request.
pub fn check_review(
    issue: &Issue,
    user: &crate::store::User,
    state: &str,
    body: &str,
) -> Result<(), ApiError> {
    if issue.user.id == user.id && state == "APPROVED" {
        return Err(ApiError::unprocessable(
            "Unprocessable Entity: Can not approve your own pull request",
        ));
    }
    if issue.user.id == user.id && state == "CHANGES_REQUESTED" {
        return Err(ApiError::unprocessable(
            "Unprocessable Entity: Can not request changes on your own pull request",
        ));
    }
    if matches!(state, "CHANGES_REQUESTED" | "COMMENTED") && body.is_empty() {
        return Err(ApiError::unprocessable(
            "Unprocessable Entity: body is required for this event",
        ));
    }
    Ok(())
}

/// `GET /repos/{o}/{r}/pulls/{n}/reviews`.
pub fn reviews(ctx: &Ctx<'_>, o: &str, r: &str, n: i64) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let issue = pull_issue(ctx, &repo, n)?;
    let list = ctx.app.store().reviews(&issue)?;
    Ok(paginate(
        ctx,
        list.iter()
            .map(|rv| render::review(&ctx.bases, &repo, rv))
            .collect(),
    ))
}

#[derive(Debug, Deserialize)]
struct ReviewBody {
    #[serde(default)]
    body: String,
    event: Option<String>,
    commit_id: Option<String>,
}

/// `POST /repos/{o}/{r}/pulls/{n}/reviews`.
pub fn create_review(ctx: &Ctx<'_>, o: &str, r: &str, n: i64) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let body: ReviewBody = ctx.json()?;
    let issue = pull_issue(ctx, &repo, n)?;
    let state = match body.event.as_deref() {
        None => "PENDING",
        Some("APPROVE") => "APPROVED",
        Some("REQUEST_CHANGES") => "CHANGES_REQUESTED",
        Some("COMMENT") => "COMMENTED",
        Some(_) => return Err(ApiError::invalid("PullRequestReview", "event", "invalid")),
    };
    check_review(&issue, &ctx.user, state, &body.body)?;
    let g = ctx.git(&repo)?;
    let commit = body.commit_id.unwrap_or_else(|| refs(&g, &issue).head);
    let rv =
        ctx.write(|s, now| Ok(s.add_review(&issue, &ctx.user, &body.body, state, &commit, now)?))?;
    Ok(Reply::json(&render::review(&ctx.bases, &repo, &rv)))
}
