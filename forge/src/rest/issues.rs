//! Issues, issue comments and labels. Lists include pull requests, as GitHub's do.

use chrono::DateTime;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, Ctx, Reply, paginate, paginate_map, render};
use crate::store::{Issue, IssuePatch, NewIssue};

/// Labels given as names or as `{ "name": .. }` objects.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum LabelArg {
    /// A name.
    Name(String),
    /// An object with a name.
    Object {
        /// The name.
        name: String,
    },
}

fn label_names(v: &[LabelArg]) -> Vec<String> {
    v.iter()
        .map(|l| match l {
            LabelArg::Name(n) | LabelArg::Object { name: n } => n.clone(),
        })
        .collect()
}

fn parse_since(s: &str) -> Result<i64, ApiError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp())
        .map_err(|_| ApiError::invalid("Issue", "since", "invalid"))
}

/// Applies GitHub's issue-list filters and ordering.
pub fn filter_issues(ctx: &Ctx<'_>, mut items: Vec<Issue>) -> Result<Vec<Issue>, ApiError> {
    let state = ctx.q("state").unwrap_or("open");
    if !matches!(state, "open" | "closed" | "all") {
        return Err(ApiError::invalid("Issue", "state", "invalid"));
    }
    items.retain(|i| state == "all" || i.state == state);
    if let Some(labels) = ctx.q("labels").filter(|l| !l.is_empty()) {
        let wanted: Vec<&str> = labels.split(',').map(str::trim).collect();
        items.retain(|i| {
            wanted
                .iter()
                .all(|w| i.labels.iter().any(|l| l.name.eq_ignore_ascii_case(w)))
        });
    }
    if let Some(a) = ctx.q("assignee") {
        match a {
            "none" => items.retain(|i| i.assignees.is_empty()),
            "*" => items.retain(|i| !i.assignees.is_empty()),
            login => items.retain(|i| {
                i.assignees
                    .iter()
                    .any(|u| u.login.eq_ignore_ascii_case(login))
            }),
        }
    }
    if let Some(c) = ctx.q("creator") {
        items.retain(|i| i.user.login.eq_ignore_ascii_case(c));
    }
    if let Some(since) = ctx.q("since").map(parse_since).transpose()? {
        items.retain(|i| i.updated_at >= since);
    }
    let sort = ctx.q("sort").unwrap_or("created");
    match sort {
        "created" => items.sort_by_key(|i| (i.created_at, i.number)),
        "updated" => items.sort_by_key(|i| (i.updated_at, i.number)),
        "comments" => items.sort_by_key(|i| (i.comments, i.number)),
        _ => return Err(ApiError::invalid("Issue", "sort", "invalid")),
    }
    if ctx.q("direction").unwrap_or("desc") != "asc" {
        items.reverse();
    }
    Ok(items)
}

/// `GET /repos/{o}/{r}/issues`.
pub fn list(ctx: &Ctx<'_>, o: &str, r: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let all = ctx.app.store().issues(&repo)?;
    let items = filter_issues(ctx, all)?;
    Ok(paginate_map(ctx, &items, |i| {
        render::issue(&ctx.bases, &repo, i)
    }))
}

/// `GET /repos/{o}/{r}/issues/{n}` (a pull request number answers too, as on GitHub).
pub fn get(ctx: &Ctx<'_>, o: &str, r: &str, n: i64) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let issue = ctx
        .app
        .store()
        .issue(&repo, n)?
        .ok_or_else(ApiError::not_found)?;
    Ok(Reply::json(&render::issue(&ctx.bases, &repo, &issue)))
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    title: Option<Value>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    labels: Vec<LabelArg>,
    #[serde(default)]
    assignees: Vec<String>,
    #[serde(default)]
    assignee: Option<String>,
}

fn created(v: &Value) -> Reply {
    let mut reply = Reply::json_status(StatusCode::CREATED, v);
    if let Some(url) = v.get("url").and_then(Value::as_str) {
        reply.headers.push(("location".into(), url.to_string()));
    }
    reply
}

/// `POST /repos/{o}/{r}/issues`.
pub fn create(ctx: &Ctx<'_>, o: &str, r: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let body: CreateBody = ctx.json()?;
    let title = match body.title {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(ApiError::invalid("Issue", "title", "missing_field")),
    };
    let mut assignees = body.assignees;
    assignees.extend(body.assignee);
    let new = NewIssue {
        title,
        body: body.body.unwrap_or_default(),
        labels: label_names(&body.labels),
        assignees,
        pull: None,
    };
    let issue = ctx.write(|s, now| Ok(s.create_issue(&repo, &ctx.user, &new, now)?))?;
    Ok(created(&render::issue(&ctx.bases, &repo, &issue)))
}

#[derive(Debug, Deserialize)]
struct UpdateBody {
    title: Option<String>,
    body: Option<String>,
    state: Option<String>,
    state_reason: Option<String>,
    labels: Option<Vec<LabelArg>>,
    assignees: Option<Vec<String>>,
    assignee: Option<Option<String>>,
}

/// `PATCH /repos/{o}/{r}/issues/{n}`.
pub fn update(ctx: &Ctx<'_>, o: &str, r: &str, n: i64) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let body: UpdateBody = ctx.json()?;
    if let Some(s) = &body.state
        && s != "open"
        && s != "closed"
    {
        return Err(ApiError::invalid("Issue", "state", "invalid"));
    }
    if let Some(r) = &body.state_reason
        && !matches!(r.as_str(), "completed" | "not_planned" | "reopened")
    {
        return Err(ApiError::invalid("Issue", "state_reason", "invalid"));
    }
    let assignees = match (body.assignees, body.assignee) {
        (Some(a), _) => Some(a),
        (None, Some(a)) => Some(a.into_iter().collect()),
        (None, None) => None,
    };
    let patch = IssuePatch {
        title: body.title,
        body: body.body,
        state: body.state,
        state_reason: body.state_reason,
        labels: body.labels.as_deref().map(label_names),
        assignees,
        base: None,
    };
    let issue = ctx.write(|s, now| {
        s.update_issue(&repo, n, &ctx.user, &patch, now)?
            .ok_or_else(ApiError::not_found)
    })?;
    Ok(Reply::json(&render::issue(&ctx.bases, &repo, &issue)))
}

fn since_filter(ctx: &Ctx<'_>, items: &mut Vec<crate::store::Comment>) -> Result<(), ApiError> {
    if let Some(since) = ctx.q("since").map(parse_since).transpose()? {
        items.retain(|c| c.updated_at >= since);
    }
    Ok(())
}

/// `GET /repos/{o}/{r}/issues/{n}/comments`.
pub fn comments(ctx: &Ctx<'_>, o: &str, r: &str, n: i64) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let store = ctx.app.store();
    let Some(issue) = store.issue(&repo, n)? else {
        return Err(ApiError::not_found());
    };
    let is_pull = issue.pull.is_some();
    let mut items = store.comments(&repo, Some(n))?;
    drop(store);
    since_filter(ctx, &mut items)?;
    Ok(paginate(
        ctx,
        items
            .iter()
            .map(|c| render::comment(&ctx.bases, &repo, c, is_pull))
            .collect(),
    ))
}

/// `GET /repos/{o}/{r}/issues/comments`.
pub fn repo_comments(ctx: &Ctx<'_>, o: &str, r: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let mut items = ctx.app.store().comments(&repo, None)?;
    since_filter(ctx, &mut items)?;
    if ctx.q("direction") == Some("desc") {
        items.reverse();
    }
    let mut pulls = std::collections::BTreeMap::new();
    let mut rendered = Vec::with_capacity(items.len());
    for c in &items {
        let is_pull = match pulls.get(&c.issue_number) {
            Some(p) => *p,
            None => {
                let p = ctx
                    .app
                    .store()
                    .issue(&repo, c.issue_number)?
                    .is_some_and(|i| i.pull.is_some());
                pulls.insert(c.issue_number, p);
                p
            }
        };
        rendered.push(render::comment(&ctx.bases, &repo, c, is_pull));
    }
    Ok(paginate(ctx, rendered))
}

#[derive(Debug, Deserialize)]
struct CommentBody {
    body: Option<String>,
}

/// `POST /repos/{o}/{r}/issues/{n}/comments`.
pub fn create_comment(ctx: &Ctx<'_>, o: &str, r: &str, n: i64) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let body: CommentBody = ctx.json()?;
    let Some(text) = body.body.filter(|b| !b.is_empty()) else {
        return Err(ApiError::invalid("IssueComment", "body", "missing_field"));
    };
    let c = ctx.write(|s, now| {
        s.add_comment(&repo, n, &ctx.user, &text, now)?
            .ok_or_else(ApiError::not_found)
    })?;
    let is_pull = ctx
        .app
        .store()
        .issue(&repo, n)?
        .is_some_and(|i| i.pull.is_some());
    Ok(created(&render::comment(&ctx.bases, &repo, &c, is_pull)))
}

/// `GET /repos/{o}/{r}/labels`.
pub fn labels(ctx: &Ctx<'_>, o: &str, r: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let items = ctx.app.store().labels(&repo)?;
    Ok(paginate(
        ctx,
        items
            .iter()
            .map(|l| render::label(&ctx.bases, &repo, l))
            .collect(),
    ))
}

/// `GET /repos/{o}/{r}/labels/{name}`.
pub fn label(ctx: &Ctx<'_>, o: &str, r: &str, name: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let l = ctx
        .app
        .store()
        .label(&repo, name)?
        .ok_or_else(ApiError::not_found)?;
    Ok(Reply::json(&render::label(&ctx.bases, &repo, &l)))
}

#[derive(Debug, Deserialize)]
struct LabelBody {
    name: Option<String>,
    color: Option<String>,
    #[serde(default)]
    description: String,
}

/// `POST /repos/{o}/{r}/labels`.
pub fn create_label(ctx: &Ctx<'_>, o: &str, r: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let body: LabelBody = ctx.json()?;
    let Some(name) = body.name.filter(|n| !n.is_empty()) else {
        return Err(ApiError::invalid("Label", "name", "missing_field"));
    };
    let color = body
        .color
        .unwrap_or_else(|| "ededed".into())
        .trim_start_matches('#')
        .to_string();
    if color.len() != 6 || !color.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::invalid("Label", "color", "invalid"));
    }
    let l = ctx.write(|s, _| {
        if s.label(&repo, &name)?.is_some() {
            return Err(ApiError::invalid("Label", "name", "already_exists"));
        }
        Ok(s.add_label(&repo, &name, &color, &body.description)?)
    })?;
    Ok(created(&render::label(&ctx.bases, &repo, &l)))
}

/// `GET /repos/{o}/{r}/issues/{n}/labels`.
pub fn issue_labels(ctx: &Ctx<'_>, o: &str, r: &str, n: i64) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let issue = ctx
        .app
        .store()
        .issue(&repo, n)?
        .ok_or_else(ApiError::not_found)?;
    Ok(paginate(
        ctx,
        issue
            .labels
            .iter()
            .map(|l| render::label(&ctx.bases, &repo, l))
            .collect(),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AddLabels {
    Wrapped { labels: Vec<LabelArg> },
    Bare(Vec<LabelArg>),
}

/// `POST /repos/{o}/{r}/issues/{n}/labels`.
pub fn add_labels(ctx: &Ctx<'_>, o: &str, r: &str, n: i64) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let body: AddLabels = ctx.json()?;
    let names = match &body {
        AddLabels::Wrapped { labels } | AddLabels::Bare(labels) => label_names(labels),
    };
    let issue = ctx.write(|s, now| {
        s.add_labels(&repo, n, &names, now)?
            .ok_or_else(ApiError::not_found)
    })?;
    Ok(Reply::json(&json!(
        issue
            .labels
            .iter()
            .map(|l| render::label(&ctx.bases, &repo, l))
            .collect::<Vec<_>>()
    )))
}
