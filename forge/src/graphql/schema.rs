//! The GraphQL objects the gh CLI reads and the mutations it sends: Repository, Issue,
//! PullRequest, User, Label, IssueComment, PullRequestReview, connections, search, and
//! createIssue, addComment, closeIssue, reopenIssue, updateIssue, label and assignee changes,
//! createPullRequest, mergePullRequest, closePullRequest, reopenPullRequest, updatePullRequest.

use std::collections::BTreeMap;

use git2::Oid;
use serde_json::{Value as Json, json};

use super::exec::{Args, FieldError, MapObj, Object, Out};
use crate::git::{self, MergeMethod};
use crate::rest::render::{self, time};
use crate::rest::{Ctx, pulls, search};
use crate::store::{Comment, Issue, IssuePatch, Label, NewIssue, Repo, Review, User};

fn s<'a>(args: &'a Args, k: &str) -> Option<&'a str> {
    args.get(k).and_then(Json::as_str)
}

fn n(args: &Args, k: &str) -> Option<i64> {
    args.get(k).and_then(Json::as_i64)
}

fn not_found(what: &str) -> FieldError {
    FieldError::new("NOT_FOUND", what.to_string())
}

/// Splits a node id into its type prefix and numeric id.
pub fn decode_id(id: &str) -> Option<(&str, i64)> {
    let (prefix, digits) = id.split_once("_kgDO")?;
    Some((prefix, digits.parse().ok()?))
}

fn enum_upper(v: &str) -> String {
    v.to_ascii_uppercase()
}

/// A page of a connection: first/last/after/before over `items`.
fn connection(typename: &str, items: Vec<Out>, args: &Args, extra: BTreeMap<String, Out>) -> Out {
    let total = items.len();
    let after = s(args, "after")
        .and_then(|c| c.strip_prefix("cursor:"))
        .and_then(|c| c.parse::<usize>().ok());
    let before = s(args, "before")
        .and_then(|c| c.strip_prefix("cursor:"))
        .and_then(|c| c.parse::<usize>().ok());
    let mut start = after.map_or(0, |a| a + 1).min(total);
    let mut end = before.unwrap_or(total).min(total).max(start);
    if let Some(f) = n(args, "first") {
        end = end.min(start + usize::try_from(f.max(0)).unwrap_or(0));
    }
    if let Some(l) = n(args, "last") {
        start = start.max(end.saturating_sub(usize::try_from(l.max(0)).unwrap_or(0)));
    }
    let page: Vec<(usize, Out)> = items
        .into_iter()
        .enumerate()
        .skip(start)
        .take(end - start)
        .collect();
    let cursor = |i: usize| json!(format!("cursor:{i}"));
    let page_info = json!({
        "hasNextPage": end < total,
        "hasPreviousPage": start > 0,
        "startCursor": if page.is_empty() { Json::Null } else { cursor(start) },
        "endCursor": if page.is_empty() { Json::Null } else { cursor(end - 1) },
    });
    let edges = page
        .iter()
        .map(|(i, o)| {
            let mut f = BTreeMap::new();
            f.insert("node".to_string(), o.clone());
            f.insert("cursor".to_string(), Out::Json(cursor(*i)));
            Out::obj(MapObj {
                typename: format!("{typename}Edge"),
                fields: f,
            })
        })
        .collect();
    let mut fields = extra;
    fields.insert("totalCount".into(), Out::Json(json!(total)));
    fields.insert(
        "nodes".into(),
        Out::List(page.into_iter().map(|(_, o)| o).collect()),
    );
    fields.insert("edges".into(), Out::List(edges));
    fields.insert("pageInfo".into(), Out::Json(page_info));
    Out::obj(MapObj {
        typename: typename.to_string(),
        fields,
    })
}

fn empty_connection(typename: &str, args: &Args) -> Out {
    connection(typename, Vec::new(), args, BTreeMap::new())
}

/// The query root.
pub struct Query;

impl Object for Query {
    fn typename(&self) -> &str {
        "Query"
    }

    fn field(&self, ctx: &Ctx<'_>, name: &str, args: &Args) -> Result<Out, FieldError> {
        match name {
            "viewer" => Ok(Out::obj(UserObj(ctx.user.clone()))),
            "user" | "organization" | "repositoryOwner" => {
                let login = s(args, "login").unwrap_or_default();
                let u = ctx.app.store().user(login)?;
                u.map(|u| Out::obj(UserObj(u))).ok_or_else(|| {
                    not_found(&format!(
                        "Could not resolve to a User with the login of '{login}'."
                    ))
                })
            }
            "repository" => {
                let owner = s(args, "owner").unwrap_or_default();
                let repo = s(args, "name").unwrap_or_default();
                ctx.app
                    .store()
                    .repo(owner, repo)?
                    .map(|r| Out::obj(RepoObj(r)))
                    .ok_or_else(|| {
                        not_found(&format!(
                            "Could not resolve to a Repository with the name '{owner}/{repo}'."
                        ))
                    })
            }
            "node" => node(ctx, s(args, "id").unwrap_or_default()),
            "nodes" => {
                let ids: Vec<String> = args
                    .get("ids")
                    .and_then(Json::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                Ok(Out::List(
                    ids.iter()
                        .map(|id| node(ctx, id).unwrap_or(Out::Json(Json::Null)))
                        .collect(),
                ))
            }
            "search" => {
                let q = s(args, "query").unwrap_or_default();
                let found = search::find_issues(ctx, q)?;
                let items: Vec<Out> = found
                    .into_iter()
                    .map(|(r, i)| Out::obj(IssueObj::new(r, i)))
                    .collect();
                let mut extra = BTreeMap::new();
                extra.insert("issueCount".to_string(), Out::Json(json!(items.len())));
                // gh asks for `last: N` meaning the first N results; treat both alike here.
                let mut a = args.clone();
                if let Some(l) = a.remove("last") {
                    a.insert("first".into(), l);
                }
                Ok(connection("SearchResultItemConnection", items, &a, extra))
            }
            "__type" => Ok(type_info(s(args, "name").unwrap_or_default())),
            "rateLimit" => {
                let r = ctx.app.faults.peek(ctx.user.id, "graphql");
                Ok(Out::Json(
                    json!({"limit": r.limit, "remaining": r.remaining(), "used": r.used, "cost": 1, "resetAt": time(r.reset), "nodeCount": 0}),
                ))
            }
            _ => Err(unknown("Query", name)),
        }
    }
}

fn unknown(ty: &str, name: &str) -> FieldError {
    FieldError {
        message: format!("Field '{name}' doesn't exist on type '{ty}'"),
        kind: None,
    }
}

const PULL_FIELDS: [&str; 52] = [
    "id",
    "number",
    "title",
    "body",
    "url",
    "state",
    "createdAt",
    "updatedAt",
    "closedAt",
    "closed",
    "locked",
    "author",
    "milestone",
    "assignees",
    "labels",
    "projectCards",
    "projectItems",
    "reactionGroups",
    "comments",
    "repository",
    "headRefName",
    "baseRefName",
    "headRefOid",
    "baseRefOid",
    "headRepository",
    "headRepositoryOwner",
    "isCrossRepository",
    "isDraft",
    "maintainerCanModify",
    "mergeable",
    "mergeStateStatus",
    "additions",
    "deletions",
    "changedFiles",
    "commits",
    "files",
    "reviewRequests",
    "reviews",
    "latestReviews",
    "reviewDecision",
    "merged",
    "mergedAt",
    "mergedBy",
    "mergeCommit",
    "autoMergeRequest",
    "baseRef",
    "headRef",
    "closingIssuesReferences",
    "viewerDidAuthor",
    "authorAssociation",
    "databaseId",
    "potentialMergeCommit",
];

/// `__type(name:)`: enough introspection for gh's feature detection (field names).
fn type_info(name: &str) -> Out {
    let fields: Vec<Json> = match name {
        "PullRequest" => PULL_FIELDS.iter().map(|f| json!({"name": f})).collect(),
        _ => Vec::new(),
    };
    Out::Json(json!({"__typename": "__Type", "name": name, "kind": "OBJECT", "fields": fields}))
}

fn node(ctx: &Ctx<'_>, id: &str) -> Result<Out, FieldError> {
    let missing = || {
        not_found(&format!(
            "Could not resolve to a node with the global id of '{id}'"
        ))
    };
    let (prefix, num) = decode_id(id).ok_or_else(missing)?;
    let store = ctx.app.store();
    match prefix {
        "I" | "PR" => {
            let issue = store.find_issue(num)?.ok_or_else(missing)?;
            let repo = store.repo_by_id(issue.repo_id)?.ok_or_else(missing)?;
            Ok(Out::obj(IssueObj::new(repo, issue)))
        }
        "R" => Ok(Out::obj(RepoObj(
            store.repo_by_id(num)?.ok_or_else(missing)?,
        ))),
        "U" | "O" => Ok(Out::obj(UserObj(
            store.find_user(num)?.ok_or_else(missing)?,
        ))),
        _ => Err(missing()),
    }
}

/// A user or organisation.
pub struct UserObj(pub User);

impl Object for UserObj {
    fn typename(&self) -> &str {
        if self.0.kind == "Organization" {
            "Organization"
        } else {
            "User"
        }
    }

    fn field(&self, ctx: &Ctx<'_>, name: &str, args: &Args) -> Result<Out, FieldError> {
        let u = &self.0;
        let prefix = if u.kind == "Organization" { "O" } else { "U" };
        Ok(Out::Json(match name {
            "id" => json!(render::node_id(prefix, u.id)),
            "databaseId" => json!(u.id),
            "login" => json!(u.login),
            "name" => json!(u.name),
            "email" => json!(u.email),
            "url" => json!(format!("{}/{}", ctx.bases.html, u.login)),
            "avatarUrl" => json!(format!("{}/avatars/u/{}?v=4", ctx.bases.html, u.id)),
            "company" | "location" | "bio" | "websiteUrl" | "twitterUsername" => Json::Null,
            "createdAt" => json!(time(u.created_at)),
            "isViewer" => json!(u.id == ctx.user.id),
            "repositories" => {
                let repos = ctx.app.store().repos_of(u)?;
                let objs = repos.into_iter().map(|r| Out::obj(RepoObj(r))).collect();
                let mut extra = BTreeMap::new();
                extra.insert("totalDiskUsage".to_string(), Out::Json(json!(0)));
                return Ok(connection("RepositoryConnection", objs, args, extra));
            }
            _ => return Err(unknown(self.typename(), name)),
        }))
    }
}

/// A repository.
pub struct RepoObj(pub Repo);

fn number_arg(args: &Args) -> i64 {
    n(args, "number").unwrap_or(0)
}

fn parse_states(args: &Args, key: &str) -> Option<Vec<String>> {
    args.get(key).and_then(states_of)
}

/// A state filter given as one enum value or a list of them.
fn states_of(v: &Json) -> Option<Vec<String>> {
    match v {
        Json::Array(a) => Some(
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        ),
        Json::String(s) => Some(vec![s.clone()]),
        _ => None,
    }
}

fn graph_state(i: &Issue) -> &'static str {
    match &i.pull {
        Some(p) if p.merged_at.is_some() => "MERGED",
        _ if i.state == "open" => "OPEN",
        _ => "CLOSED",
    }
}

fn order(items: &mut [Issue], args: &Args) {
    let field = args
        .get("orderBy")
        .and_then(|o| o.get("field"))
        .and_then(Json::as_str)
        .unwrap_or("CREATED_AT");
    match field {
        "UPDATED_AT" => items.sort_by_key(|i| (i.updated_at, i.number)),
        "COMMENTS" => items.sort_by_key(|i| (i.comments, i.number)),
        _ => items.sort_by_key(|i| (i.created_at, i.number)),
    }
    let dir = args
        .get("orderBy")
        .and_then(|o| o.get("direction"))
        .and_then(Json::as_str)
        .unwrap_or("ASC");
    if dir == "DESC" {
        items.reverse();
    }
}

impl Object for RepoObj {
    fn typename(&self) -> &str {
        "Repository"
    }

    fn field(&self, ctx: &Ctx<'_>, name: &str, args: &Args) -> Result<Out, FieldError> {
        let r = &self.0;
        let html = format!("{}/{}", ctx.bases.html, r.full_name());
        let g = || ctx.git(r).map_err(FieldError::from);
        Ok(Out::Json(match name {
            "id" => json!(render::node_id("R", r.id)),
            "databaseId" => json!(r.id),
            "name" => json!(r.name),
            "nameWithOwner" => json!(r.full_name()),
            "owner" => return Ok(Out::obj(UserObj(r.owner.clone()))),
            "description" => json!(r.description),
            "url" => json!(html),
            "sshUrl" => json!(format!(
                "git@{}:{}.git",
                ctx.bases.html.trim_start_matches("http://"),
                r.full_name()
            )),
            "homepageUrl" => json!(""),
            "isPrivate" | "isArchived" | "isFork" | "isTemplate" | "isEmpty" | "isMirror"
            | "isLocked" | "isDisabled" => json!(false),
            "isInOrganization" => json!(r.owner.kind == "Organization"),
            "visibility" => json!("PUBLIC"),
            "hasIssuesEnabled" | "mergeCommitAllowed" | "rebaseMergeAllowed"
            | "squashMergeAllowed" => json!(true),
            "hasWikiEnabled"
            | "hasProjectsEnabled"
            | "hasDiscussionsEnabled"
            | "deleteBranchOnMerge"
            | "viewerHasStarred"
            | "autoMergeAllowed" => json!(false),
            "viewerPermission" => json!("WRITE"),
            "viewerCanAdminister" => json!(false),
            "stargazerCount" | "forkCount" => json!(0),
            "watchers" | "stargazers" => json!({"totalCount": 0}),
            "createdAt" => json!(time(r.created_at)),
            "updatedAt" => json!(time(r.updated_at)),
            "pushedAt" => {
                let repo = g()?;
                let t = repo
                    .refname_to_id(&format!("refs/heads/{}", r.default_branch))
                    .ok()
                    .and_then(|o| git::commit_info(&repo, o).ok())
                    .map_or(r.updated_at, |c| c.committer.time);
                json!(time(t))
            }
            "defaultBranchRef" => {
                let repo = g()?;
                let oid = repo
                    .refname_to_id(&format!("refs/heads/{}", r.default_branch))
                    .map(|o| o.to_string())
                    .unwrap_or_default();
                json!({"__typename": "Ref", "name": r.default_branch, "prefix": "refs/heads/", "target": {"__typename": "Commit", "oid": oid}})
            }
            "ref" => {
                let q = s(args, "qualifiedName").unwrap_or_default();
                let short = q.strip_prefix("refs/heads/").unwrap_or(q);
                let repo = g()?;
                match repo.refname_to_id(&format!("refs/heads/{short}")) {
                    Ok(oid) => {
                        json!({"__typename": "Ref", "name": short, "prefix": "refs/heads/", "target": {"__typename": "Commit", "oid": oid.to_string()}})
                    }
                    Err(_) => Json::Null,
                }
            }
            "parent" | "templateRepository" | "licenseInfo" | "codeOfConduct" | "fundingLinks" => {
                Json::Null
            }
            "primaryLanguage" => json!({"name": "Rust"}),
            "repositoryTopics" | "milestones" | "projects" | "projectsV2" | "discussions"
            | "deployments" => {
                return Ok(empty_connection("Connection", args));
            }
            "releases" => {
                let list = crate::releases::list(&ctx.app.store(), r)?;
                let latest = list
                    .iter()
                    .find(|x| !x.draft && !x.prerelease)
                    .map(|x| x.id);
                let objs = list
                    .iter()
                    .map(|rel| Out::Json(release_node(ctx, r, rel, latest == Some(rel.id))))
                    .collect();
                return Ok(connection("ReleaseConnection", objs, args, BTreeMap::new()));
            }
            "release" => {
                let tag = s(args, "tagName").unwrap_or_default();
                // One lock for both reads (a second `store()` while the first guard lives
                // would wait on itself).
                let (found, latest) = {
                    let store = ctx.app.store();
                    (
                        crate::releases::by_tag(&store, r, tag)?,
                        crate::releases::latest(&store, r)?.map(|l| l.id),
                    )
                };
                match found {
                    Some(rel) => release_node(ctx, r, &rel, latest == Some(rel.id)),
                    None => Json::Null,
                }
            }
            "latestRelease" => match crate::releases::latest(&ctx.app.store(), r)? {
                Some(rel) => release_node(ctx, r, &rel, true),
                None => Json::Null,
            },
            "issue" | "pullRequest" | "issueOrPullRequest" => {
                let num = number_arg(args);
                let found = ctx.app.store().issue(r, num)?;
                let want_pull = name == "pullRequest";
                let want_issue = name == "issue";
                return match found {
                    Some(i)
                        if (want_pull && i.pull.is_none()) || (want_issue && i.pull.is_some()) =>
                    {
                        Err(not_found(&format!(
                            "Could not resolve to a{} with the number of {num}.",
                            if want_pull { " PullRequest" } else { "n Issue" }
                        )))
                    }
                    Some(i) => Ok(Out::obj(IssueObj::new(r.clone(), i))),
                    None => Err(not_found(&format!(
                        "Could not resolve to {} with the number of {num}.",
                        match name {
                            "pullRequest" => "a PullRequest",
                            "issue" => "an Issue",
                            _ => "an issue or pull request",
                        }
                    ))),
                };
            }
            "issues" | "pullRequests" => {
                let pulls = name == "pullRequests";
                let mut items: Vec<Issue> = ctx
                    .app
                    .store()
                    .issues(r)?
                    .into_iter()
                    .filter(|i| i.pull.is_some() == pulls)
                    .collect();
                if let Some(states) = parse_states(args, "states") {
                    items.retain(|i| states.iter().any(|s| s == graph_state(i)));
                }
                if let Some(labels) = args.get("labels").and_then(Json::as_array) {
                    let wanted: Vec<&str> = labels.iter().filter_map(Json::as_str).collect();
                    items.retain(|i| {
                        wanted
                            .iter()
                            .all(|w| i.labels.iter().any(|l| l.name.eq_ignore_ascii_case(w)))
                    });
                }
                if let Some(b) = s(args, "baseRefName") {
                    items.retain(|i| i.pull.as_ref().is_some_and(|p| p.base_ref == b));
                }
                if let Some(h) = s(args, "headRefName") {
                    items.retain(|i| i.pull.as_ref().is_some_and(|p| p.head_ref == h));
                }
                if let Some(f) = args.get("filterBy") {
                    let get = |k: &str| f.get(k).and_then(Json::as_str).map(str::to_string);
                    if let Some(a) = get("assignee") {
                        items.retain(|i| {
                            i.assignees.iter().any(|u| u.login.eq_ignore_ascii_case(&a))
                        });
                    }
                    if let Some(c) = get("createdBy") {
                        items.retain(|i| i.user.login.eq_ignore_ascii_case(&c));
                    }
                    if let Some(who) = get("mentioned") {
                        let store = ctx.app.store();
                        let at = format!("@{}", who.to_lowercase());
                        let mut keep = Vec::new();
                        for i in items {
                            let said = |t: &str| t.to_lowercase().contains(&at);
                            if said(&i.body)
                                || store
                                    .comments(r, Some(i.number))?
                                    .iter()
                                    .any(|c| said(&c.body))
                            {
                                keep.push(i);
                            }
                        }
                        items = keep;
                    }
                    if let Some(states) = f.get("states").and_then(states_of) {
                        items.retain(|i| states.iter().any(|s| s == graph_state(i)));
                    }
                    if let Some(labels) = f.get("labels").and_then(Json::as_array) {
                        let wanted: Vec<&str> = labels.iter().filter_map(Json::as_str).collect();
                        items.retain(|i| {
                            wanted
                                .iter()
                                .all(|w| i.labels.iter().any(|l| l.name.eq_ignore_ascii_case(w)))
                        });
                    }
                }
                order(&mut items, args);
                let objs = items
                    .into_iter()
                    .map(|i| Out::obj(IssueObj::new(r.clone(), i)))
                    .collect();
                let ty = if pulls {
                    "PullRequestConnection"
                } else {
                    "IssueConnection"
                };
                return Ok(connection(ty, objs, args, BTreeMap::new()));
            }
            "labels" => {
                let mut labels = ctx.app.store().labels(r)?;
                if let Some(q) = s(args, "query") {
                    let q = q.to_lowercase();
                    labels.retain(|l| l.name.to_lowercase().contains(&q));
                }
                let objs = labels
                    .into_iter()
                    .map(|l| Out::obj(LabelObj(r.clone(), l)))
                    .collect();
                return Ok(connection("LabelConnection", objs, args, BTreeMap::new()));
            }
            "label" => {
                let name = s(args, "name").unwrap_or_default();
                return Ok(match ctx.app.store().label(r, name)? {
                    Some(l) => Out::obj(LabelObj(r.clone(), l)),
                    None => Out::Json(Json::Null),
                });
            }
            "assignableUsers" | "mentionableUsers" | "collaborators" => {
                let mut users: Vec<User> = ctx
                    .app
                    .store()
                    .users()?
                    .into_iter()
                    .filter(|u| u.kind == "User")
                    .collect();
                if let Some(q) = s(args, "query") {
                    let q = q.to_lowercase();
                    users.retain(|u| {
                        u.login.to_lowercase().contains(&q) || u.name.to_lowercase().contains(&q)
                    });
                }
                let objs = users.into_iter().map(|u| Out::obj(UserObj(u))).collect();
                return Ok(connection("UserConnection", objs, args, BTreeMap::new()));
            }
            _ => return Err(unknown("Repository", name)),
        }))
    }
}

/// A label.
pub struct LabelObj(pub Repo, pub Label);

impl Object for LabelObj {
    fn typename(&self) -> &str {
        "Label"
    }

    fn field(&self, ctx: &Ctx<'_>, name: &str, _: &Args) -> Result<Out, FieldError> {
        let l = &self.1;
        Ok(Out::Json(match name {
            "id" => json!(render::node_id("LA", l.id)),
            "name" => json!(l.name),
            "description" => json!(l.description),
            "color" => json!(l.color),
            "isDefault" => json!(false),
            "url" => json!(format!(
                "{}/{}/labels/{}",
                ctx.bases.html,
                self.0.full_name(),
                crate::rest::encode(&l.name)
            )),
            _ => return Err(unknown("Label", name)),
        }))
    }
}

/// An issue comment.
pub struct CommentObj(pub Repo, pub Comment, pub bool);

impl Object for CommentObj {
    fn typename(&self) -> &str {
        "IssueComment"
    }

    fn field(&self, ctx: &Ctx<'_>, name: &str, _: &Args) -> Result<Out, FieldError> {
        let c = &self.1;
        let kind = if self.2 { "pull" } else { "issues" };
        Ok(Out::Json(match name {
            "id" => json!(render::node_id("IC", c.id)),
            "databaseId" => json!(c.id),
            "author" => return Ok(Out::obj(UserObj(c.user.clone()))),
            "authorAssociation" => json!(render::association(&self.0, &c.user)),
            "body" => json!(c.body),
            "bodyText" => json!(c.body),
            "createdAt" => json!(time(c.created_at)),
            "updatedAt" => json!(time(c.updated_at)),
            "includesCreatedEdit" | "isMinimized" => json!(false),
            "minimizedReason" | "editor" | "lastEditedAt" => Json::Null,
            "reactionGroups" => json!([]),
            "url" => json!(format!(
                "{}/{}/{kind}/{}#issuecomment-{}",
                ctx.bases.html,
                self.0.full_name(),
                c.issue_number,
                c.id
            )),
            "viewerDidAuthor" => json!(c.user.id == ctx.user.id),
            _ => return Err(unknown("IssueComment", name)),
        }))
    }
}

/// A pull request review.
pub struct ReviewObj(pub Repo, pub Review);

impl Object for ReviewObj {
    fn typename(&self) -> &str {
        "PullRequestReview"
    }

    fn field(&self, ctx: &Ctx<'_>, name: &str, _: &Args) -> Result<Out, FieldError> {
        let rv = &self.1;
        Ok(Out::Json(match name {
            "id" => json!(render::node_id("PRR", rv.id)),
            "author" => return Ok(Out::obj(UserObj(rv.user.clone()))),
            "authorAssociation" => json!(render::association(&self.0, &rv.user)),
            "body" => json!(rv.body),
            "state" => json!(rv.state),
            "submittedAt" | "createdAt" => json!(time(rv.submitted_at)),
            "commit" => json!({"__typename": "Commit", "oid": rv.commit_id}),
            "reactionGroups" => json!([]),
            "includesCreatedEdit" => json!(false),
            "url" => json!(format!(
                "{}/{}/pull/{}#pullrequestreview-{}",
                ctx.bases.html,
                self.0.full_name(),
                rv.number,
                rv.id
            )),
            _ => return Err(unknown("PullRequestReview", name)),
        }))
    }
}

/// An issue or a pull request (the typename tells which).
pub struct IssueObj {
    repo: Repo,
    issue: Issue,
}

impl IssueObj {
    /// Wraps an issue.
    pub fn new(repo: Repo, issue: Issue) -> Self {
        Self { repo, issue }
    }
}

impl Object for IssueObj {
    fn typename(&self) -> &str {
        if self.issue.pull.is_some() {
            "PullRequest"
        } else {
            "Issue"
        }
    }

    fn field(&self, ctx: &Ctx<'_>, name: &str, args: &Args) -> Result<Out, FieldError> {
        let (r, i) = (&self.repo, &self.issue);
        let is_pull = i.pull.is_some();
        let kind = if is_pull { "pull" } else { "issues" };
        let git_refs = || -> Result<(git2::Repository, render::PullRefs), FieldError> {
            let g = ctx.git(r)?;
            let refs = pulls::refs(&g, i);
            Ok((g, refs))
        };
        Ok(Out::Json(match name {
            "id" => json!(render::node_id(if is_pull { "PR" } else { "I" }, i.id)),
            "databaseId" | "fullDatabaseId" => json!(i.id),
            "number" => json!(i.number),
            "title" => json!(i.title),
            "body" | "bodyText" => json!(i.body),
            "url" | "permalink" => json!(format!(
                "{}/{}/{kind}/{}",
                ctx.bases.html,
                r.full_name(),
                i.number
            )),
            "state" => json!(graph_state(i)),
            "stateReason" if !is_pull => i
                .state_reason
                .as_deref()
                .map_or(Json::Null, |s| json!(enum_upper(s))),
            "createdAt" => json!(time(i.created_at)),
            "updatedAt" => json!(time(i.updated_at)),
            "closedAt" => i.closed_at.map_or(Json::Null, |t| json!(time(t))),
            "closed" => json!(i.state == "closed"),
            "locked" => json!(i.locked),
            "activeLockReason"
            | "milestone"
            | "editor"
            | "autoMergeRequest"
            | "potentialMergeCommit" => Json::Null,
            "author" => return Ok(Out::obj(UserObj(i.user.clone()))),
            "authorAssociation" => json!(render::association(r, &i.user)),
            "viewerDidAuthor" => json!(i.user.id == ctx.user.id),
            "includesCreatedEdit" | "isPinned" => json!(false),
            "viewerSubscription" => json!("SUBSCRIBED"),
            "reactionGroups" => json!([]),
            "repository" => return Ok(Out::obj(RepoObj(r.clone()))),
            "assignees" => {
                let objs = i
                    .assignees
                    .iter()
                    .map(|u| Out::obj(UserObj(u.clone())))
                    .collect();
                return Ok(connection("UserConnection", objs, args, BTreeMap::new()));
            }
            "labels" => {
                let objs = i
                    .labels
                    .iter()
                    .map(|l| Out::obj(LabelObj(r.clone(), l.clone())))
                    .collect();
                return Ok(connection("LabelConnection", objs, args, BTreeMap::new()));
            }
            "participants" => {
                let mut users = vec![i.user.clone()];
                for c in ctx.app.store().comments(r, Some(i.number))? {
                    if !users.iter().any(|u| u.id == c.user.id) {
                        users.push(c.user);
                    }
                }
                let objs = users.into_iter().map(|u| Out::obj(UserObj(u))).collect();
                return Ok(connection("UserConnection", objs, args, BTreeMap::new()));
            }
            "projectCards"
            | "projectItems"
            | "reviewRequests"
            | "closingIssuesReferences"
            | "timelineItems"
            | "latestOpinionatedReviews" => {
                return Ok(empty_connection("Connection", args));
            }
            "comments" => {
                let list = ctx.app.store().comments(r, Some(i.number))?;
                let objs = list
                    .into_iter()
                    .map(|c| Out::obj(CommentObj(r.clone(), c, is_pull)))
                    .collect();
                return Ok(connection(
                    "IssueCommentConnection",
                    objs,
                    args,
                    BTreeMap::new(),
                ));
            }
            "headRefName"
            | "baseRefName"
            | "isDraft"
            | "maintainerCanModify"
            | "isCrossRepository"
            | "merged"
            | "mergedAt"
            | "mergedBy"
            | "mergeCommit"
            | "headRefOid"
            | "baseRefOid"
            | "headRepository"
            | "headRepositoryOwner"
            | "mergeable"
            | "mergeStateStatus"
            | "additions"
            | "deletions"
            | "changedFiles"
            | "commits"
            | "files"
            | "reviews"
            | "latestReviews"
            | "reviewDecision"
            | "baseRef"
            | "headRef"
                if is_pull =>
            {
                return self.pull_field(ctx, name, args, &git_refs);
            }
            _ => return Err(unknown(self.typename(), name)),
        }))
    }
}

/// A release as GraphQL's `Release` (what `gh release list` selects).
fn release_node(ctx: &Ctx<'_>, repo: &Repo, rel: &crate::releases::Release, latest: bool) -> Json {
    json!({
        "__typename": "Release",
        "id": render::node_id("RE", rel.id),
        "databaseId": rel.id,
        "name": rel.name,
        "tagName": rel.tag_name,
        "description": rel.body,
        "isDraft": rel.draft,
        "isPrerelease": rel.prerelease,
        "isLatest": latest,
        "createdAt": time(rel.created_at),
        "publishedAt": rel.published_at.map(time),
        "url": format!("{}/{}/releases/tag/{}", ctx.bases.html, repo.full_name(), rel.tag_name),
    })
}

/// Per commit with CI runs, its `statusCheckRollup`: the latest job of each run as a
/// `CheckRun` (what `gh pr checks` and `gh pr view` read), and the overall state.
fn status_rollups(
    ctx: &Ctx<'_>,
    repo: &Repo,
) -> Result<BTreeMap<String, serde_json::Value>, FieldError> {
    let store = ctx.app.store();
    let mut by_sha: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    let mut failed: BTreeMap<String, bool> = BTreeMap::new();
    for run in crate::ci::runs(&store, repo).map_err(crate::rest::ApiError::from)? {
        for job in crate::ci::jobs(&store, &run, false).map_err(crate::rest::ApiError::from)? {
            *failed.entry(run.head_sha.clone()).or_default() |= job.conclusion != "success";
            let url = format!(
                "{}/{}/actions/runs/{}/job/{}",
                ctx.bases.html,
                repo.full_name(),
                run.id,
                job.id
            );
            by_sha.entry(run.head_sha.clone()).or_default().push(json!({
                "__typename": "CheckRun",
                "name": job.name,
                "status": "COMPLETED",
                "conclusion": job.conclusion.to_uppercase(),
                "startedAt": time(job.started_at),
                "completedAt": time(job.completed_at),
                "detailsUrl": url,
                "isRequired": false,
                "checkSuite": {"workflowRun": {"event": run.event, "workflow": {"name": crate::ci::WORKFLOW_NAME}}},
            }));
        }
    }
    Ok(by_sha
        .into_iter()
        .map(|(sha, nodes)| {
            let state = if failed.get(&sha).copied().unwrap_or(false) {
                "FAILURE"
            } else {
                "SUCCESS"
            };
            let count = nodes.len();
            let rollup = json!({
                "__typename": "StatusCheckRollup",
                "state": state,
                "contexts": {
                    "totalCount": count,
                    "checkRunCount": count,
                    "statusContextCount": 0,
                    "nodes": nodes,
                    "pageInfo": {"hasNextPage": false, "endCursor": null},
                },
            });
            (sha, rollup)
        })
        .collect())
}

type RefsFn<'f> = dyn Fn() -> Result<(git2::Repository, render::PullRefs), FieldError> + 'f;

impl IssueObj {
    fn pull_field(
        &self,
        ctx: &Ctx<'_>,
        name: &str,
        args: &Args,
        git_refs: &RefsFn<'_>,
    ) -> Result<Out, FieldError> {
        let (r, i) = (&self.repo, &self.issue);
        let Some(p) = &i.pull else {
            return Err(unknown("Issue", name));
        };
        Ok(Out::Json(match name {
            "headRefName" => json!(p.head_ref),
            "baseRefName" => json!(p.base_ref),
            "isDraft" => json!(p.draft),
            "maintainerCanModify" | "isCrossRepository" => json!(false),
            "merged" => json!(p.merged_at.is_some()),
            "mergedAt" => p.merged_at.map_or(Json::Null, |t| json!(time(t))),
            "mergedBy" => {
                return Ok(p
                    .merged_by
                    .clone()
                    .map_or(Out::Json(Json::Null), |u| Out::obj(UserObj(u))));
            }
            "mergeCommit" => p
                .merge_commit_sha
                .as_ref()
                .map_or(Json::Null, |s| json!({"__typename": "Commit", "oid": s})),
            "headRefOid" => json!(git_refs()?.1.head),
            "baseRefOid" => json!(git_refs()?.1.base),
            "baseRef" => {
                json!({"__typename": "Ref", "name": p.base_ref, "target": {"oid": git_refs()?.1.base}})
            }
            "headRef" => {
                json!({"__typename": "Ref", "name": p.head_ref, "target": {"oid": git_refs()?.1.head}})
            }
            "headRepository" => return Ok(Out::obj(RepoObj(r.clone()))),
            "headRepositoryOwner" => return Ok(Out::obj(UserObj(r.owner.clone()))),
            "mergeable" | "mergeStateStatus" => {
                let (g, refs) = git_refs()?;
                let counts = pulls::counts(&g, i, &refs)?;
                let m = counts.mergeable;
                match (name, m) {
                    ("mergeable", Some(true)) => json!("MERGEABLE"),
                    ("mergeable", Some(false)) => json!("CONFLICTING"),
                    ("mergeable", None) => json!("UNKNOWN"),
                    (_, Some(true)) => json!("CLEAN"),
                    (_, Some(false)) => json!("DIRTY"),
                    _ => json!("UNKNOWN"),
                }
            }
            "additions" | "deletions" | "changedFiles" => {
                let (g, refs) = git_refs()?;
                let c = pulls::counts(&g, i, &refs)?;
                json!(match name {
                    "additions" => c.additions,
                    "deletions" => c.deletions,
                    _ => c.changed_files,
                })
            }
            "files" => {
                let (g, refs) = git_refs()?;
                let files = match (Oid::from_str(&refs.base), Oid::from_str(&refs.head)) {
                    (Ok(b), Ok(h)) => {
                        git::compare(&g, b, h)
                            .map_err(crate::rest::ApiError::from)?
                            .0
                    }
                    _ => Vec::new(),
                };
                let objs = files
                    .iter()
                    .map(|f| Out::Json(json!({"path": f.filename, "additions": f.additions, "deletions": f.deletions, "changeType": enum_upper(f.status)})))
                    .collect();
                return Ok(connection(
                    "PullRequestChangedFileConnection",
                    objs,
                    args,
                    BTreeMap::new(),
                ));
            }
            "commits" => {
                let (g, refs) = git_refs()?;
                let list = match (Oid::from_str(&refs.base), Oid::from_str(&refs.head)) {
                    (Ok(b), Ok(h)) => {
                        git::commits_between(&g, b, h).map_err(crate::rest::ApiError::from)?
                    }
                    _ => Vec::new(),
                };
                let rollups = status_rollups(ctx, r)?;
                // Authors are linked to accounts by email, as REST links them (and GitHub both).
                let users = ctx.app.store().users()?;
                let account = |email: &str| {
                    users
                        .iter()
                        .find(|u| u.email.eq_ignore_ascii_case(email))
                        .map_or(
                            Json::Null,
                            |u| json!({"id": render::node_id("U", u.id), "login": u.login}),
                        )
                };
                let objs = list
                    .iter()
                    .map(|c| {
                        let headline = c.message.lines().next().unwrap_or_default().to_string();
                        Out::Json(json!({
                            "__typename": "PullRequestCommit",
                            "commit": {
                                "__typename": "Commit",
                                "oid": c.sha,
                                "abbreviatedOid": &c.sha[..7.min(c.sha.len())],
                                "messageHeadline": headline,
                                "messageBody": c.message.split_once("\n\n").map_or("", |(_, b)| b).trim_end(),
                                "message": c.message,
                                "committedDate": time(c.committer.time),
                                "authoredDate": time(c.author.time),
                                "authors": {"nodes": [{"name": c.author.name, "email": c.author.email, "user": account(&c.author.email)}]},
                                "statusCheckRollup": rollups.get(&c.sha).cloned().unwrap_or(serde_json::Value::Null),
                            },
                        }))
                    })
                    .collect();
                return Ok(connection(
                    "PullRequestCommitConnection",
                    objs,
                    args,
                    BTreeMap::new(),
                ));
            }
            "reviews" | "latestReviews" => {
                let list = ctx.app.store().reviews(i)?;
                let objs = list
                    .into_iter()
                    .map(|rv| Out::obj(ReviewObj(r.clone(), rv)))
                    .collect();
                return Ok(connection(
                    "PullRequestReviewConnection",
                    objs,
                    args,
                    BTreeMap::new(),
                ));
            }
            "reviewDecision" => {
                let list = ctx.app.store().reviews(i)?;
                match list
                    .iter()
                    .rev()
                    .find(|rv| rv.state == "APPROVED" || rv.state == "CHANGES_REQUESTED")
                {
                    Some(rv) if rv.state == "APPROVED" => json!("APPROVED"),
                    Some(_) => json!("CHANGES_REQUESTED"),
                    None => Json::Null,
                }
            }
            _ => return Err(unknown("PullRequest", name)),
        }))
    }
}

/// The mutation root.
pub struct Mutation;

fn input(args: &Args) -> Json {
    args.get("input").cloned().unwrap_or(Json::Null)
}

fn istr<'a>(v: &'a Json, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Json::as_str)
}

fn ids(v: &Json, k: &str) -> Option<Vec<i64>> {
    v.get(k).and_then(Json::as_array).map(|a| {
        a.iter()
            .filter_map(Json::as_str)
            .filter_map(decode_id)
            .map(|(_, n)| n)
            .collect()
    })
}

fn issue_by_node(ctx: &Ctx<'_>, id: &str) -> Result<(Repo, Issue), FieldError> {
    let missing = || {
        not_found(&format!(
            "Could not resolve to a node with the global id of '{id}'."
        ))
    };
    let (_, num) = decode_id(id).ok_or_else(missing)?;
    let store = ctx.app.store();
    let issue = store.find_issue(num)?.ok_or_else(missing)?;
    let repo = store.repo_by_id(issue.repo_id)?.ok_or_else(missing)?;
    Ok((repo, issue))
}

fn git_head(ctx: &Ctx<'_>, repo: &Repo, issue: &Issue) -> Result<String, FieldError> {
    let g = ctx.git(repo)?;
    Ok(pulls::refs(&g, issue).head)
}

fn payload(typename: &str, key: &str, value: Out, client_id: &Json) -> Out {
    let mut fields = BTreeMap::new();
    fields.insert(key.to_string(), value);
    fields.insert("clientMutationId".into(), Out::Json(client_id.clone()));
    Out::obj(MapObj {
        typename: typename.into(),
        fields,
    })
}

fn label_names(ctx: &Ctx<'_>, ids: &[i64]) -> Result<Vec<String>, FieldError> {
    let store = ctx.app.store();
    let mut out = Vec::new();
    for id in ids {
        out.push(
            store
                .label_by_id(*id)?
                .ok_or_else(|| not_found("Could not resolve to a Label"))?
                .name,
        );
    }
    Ok(out)
}

fn user_logins(ctx: &Ctx<'_>, ids: &[i64]) -> Result<Vec<String>, FieldError> {
    let store = ctx.app.store();
    let mut out = Vec::new();
    for id in ids {
        out.push(
            store
                .find_user(*id)?
                .ok_or_else(|| not_found("Could not resolve to a User"))?
                .login,
        );
    }
    Ok(out)
}

impl Object for Mutation {
    fn typename(&self) -> &str {
        "Mutation"
    }

    fn field(&self, ctx: &Ctx<'_>, name: &str, args: &Args) -> Result<Out, FieldError> {
        let inp = input(args);
        let cid = inp.get("clientMutationId").cloned().unwrap_or(Json::Null);
        match name {
            "createIssue" => {
                let repo_id = istr(&inp, "repositoryId")
                    .and_then(decode_id)
                    .map(|(_, n)| n)
                    .unwrap_or(0);
                let repo = ctx
                    .app
                    .store()
                    .repo_by_id(repo_id)?
                    .ok_or_else(|| not_found("Could not resolve to a Repository"))?;
                let new = NewIssue {
                    title: istr(&inp, "title").unwrap_or_default().to_string(),
                    body: istr(&inp, "body").unwrap_or_default().to_string(),
                    labels: label_names(ctx, &ids(&inp, "labelIds").unwrap_or_default())?,
                    assignees: user_logins(ctx, &ids(&inp, "assigneeIds").unwrap_or_default())?,
                    pull: None,
                };
                if new.title.is_empty() {
                    return Err(FieldError::new("UNPROCESSABLE", "Title can't be blank"));
                }
                let issue = ctx.write(|s, now| Ok(s.create_issue(&repo, &ctx.user, &new, now)?))?;
                Ok(payload(
                    "CreateIssuePayload",
                    "issue",
                    Out::obj(IssueObj::new(repo, issue)),
                    &cid,
                ))
            }
            "addComment" => {
                let (repo, issue) =
                    issue_by_node(ctx, istr(&inp, "subjectId").unwrap_or_default())?;
                let body = istr(&inp, "body").unwrap_or_default().to_string();
                if body.is_empty() {
                    return Err(FieldError::new("UNPROCESSABLE", "Body can't be blank"));
                }
                let c = ctx.write(|s, now| {
                    s.add_comment(&repo, issue.number, &ctx.user, &body, now)?
                        .ok_or_else(crate::rest::ApiError::not_found)
                })?;
                let is_pull = issue.pull.is_some();
                let node = Out::obj(CommentObj(repo.clone(), c, is_pull));
                let mut edge = BTreeMap::new();
                edge.insert("node".to_string(), node.clone());
                let mut fields = BTreeMap::new();
                fields.insert(
                    "commentEdge".to_string(),
                    Out::obj(MapObj {
                        typename: "IssueCommentEdge".into(),
                        fields: edge,
                    }),
                );
                fields.insert("subject".to_string(), Out::obj(IssueObj::new(repo, issue)));
                fields.insert("clientMutationId".to_string(), Out::Json(cid));
                Ok(Out::obj(MapObj {
                    typename: "AddCommentPayload".into(),
                    fields,
                }))
            }
            "closeIssue" | "reopenIssue" => {
                let (repo, issue) = issue_by_node(ctx, istr(&inp, "issueId").unwrap_or_default())?;
                let closing = name == "closeIssue";
                let patch = IssuePatch {
                    state: Some(if closing { "closed" } else { "open" }.into()),
                    state_reason: if closing {
                        Some(
                            istr(&inp, "stateReason")
                                .map_or("completed".into(), str::to_ascii_lowercase),
                        )
                    } else {
                        None
                    },
                    ..Default::default()
                };
                let updated = ctx.write(|s, now| {
                    s.update_issue(&repo, issue.number, &ctx.user, &patch, now)?
                        .ok_or_else(crate::rest::ApiError::not_found)
                })?;
                let ty = if closing {
                    "CloseIssuePayload"
                } else {
                    "ReopenIssuePayload"
                };
                Ok(payload(
                    ty,
                    "issue",
                    Out::obj(IssueObj::new(repo, updated)),
                    &cid,
                ))
            }
            "updateIssue" | "updatePullRequest" => {
                let key = if name == "updateIssue" {
                    "id"
                } else {
                    "pullRequestId"
                };
                let (repo, issue) = issue_by_node(ctx, istr(&inp, key).unwrap_or_default())?;
                let patch = IssuePatch {
                    title: istr(&inp, "title").map(str::to_string),
                    body: istr(&inp, "body").map(str::to_string),
                    state: istr(&inp, "state").map(str::to_ascii_lowercase),
                    labels: ids(&inp, "labelIds")
                        .map(|l| label_names(ctx, &l))
                        .transpose()?,
                    assignees: ids(&inp, "assigneeIds")
                        .map(|a| user_logins(ctx, &a))
                        .transpose()?,
                    base: istr(&inp, "baseRefName").map(str::to_string),
                    ..Default::default()
                };
                let updated = ctx.write(|s, now| {
                    s.update_issue(&repo, issue.number, &ctx.user, &patch, now)?
                        .ok_or_else(crate::rest::ApiError::not_found)
                })?;
                let (ty, key) = if name == "updateIssue" {
                    ("UpdateIssuePayload", "issue")
                } else {
                    ("UpdatePullRequestPayload", "pullRequest")
                };
                Ok(payload(
                    ty,
                    key,
                    Out::obj(IssueObj::new(repo, updated)),
                    &cid,
                ))
            }
            "addLabelsToLabelable" | "removeLabelsFromLabelable" => {
                let (repo, issue) =
                    issue_by_node(ctx, istr(&inp, "labelableId").unwrap_or_default())?;
                let names = label_names(ctx, &ids(&inp, "labelIds").unwrap_or_default())?;
                // Read and write in one transaction: gh sends its add and remove mutations at
                // once, and a list read before the other's write would undo it.
                let updated = ctx.write(|s, now| {
                    let current = s
                        .issue(&repo, issue.number)?
                        .ok_or_else(crate::rest::ApiError::not_found)?;
                    let mut all: Vec<String> =
                        current.labels.iter().map(|l| l.name.clone()).collect();
                    if name == "addLabelsToLabelable" {
                        all.extend(names);
                    } else {
                        all.retain(|l| !names.contains(l));
                    }
                    let patch = IssuePatch {
                        labels: Some(all),
                        ..Default::default()
                    };
                    s.update_issue(&repo, issue.number, &ctx.user, &patch, now)?
                        .ok_or_else(crate::rest::ApiError::not_found)
                })?;
                Ok(payload(
                    "LabelablePayload",
                    "labelable",
                    Out::obj(IssueObj::new(repo, updated)),
                    &cid,
                ))
            }
            "addAssigneesToAssignable" | "removeAssigneesFromAssignable" => {
                let (repo, issue) =
                    issue_by_node(ctx, istr(&inp, "assignableId").unwrap_or_default())?;
                let logins = user_logins(ctx, &ids(&inp, "assigneeIds").unwrap_or_default())?;
                // One transaction, as for labels above.
                let updated = ctx.write(|s, now| {
                    let current = s
                        .issue(&repo, issue.number)?
                        .ok_or_else(crate::rest::ApiError::not_found)?;
                    let mut all: Vec<String> =
                        current.assignees.iter().map(|u| u.login.clone()).collect();
                    if name == "addAssigneesToAssignable" {
                        all.extend(logins);
                    } else {
                        all.retain(|l| !logins.contains(l));
                    }
                    let patch = IssuePatch {
                        assignees: Some(all),
                        ..Default::default()
                    };
                    s.update_issue(&repo, issue.number, &ctx.user, &patch, now)?
                        .ok_or_else(crate::rest::ApiError::not_found)
                })?;
                Ok(payload(
                    "AssignablePayload",
                    "assignable",
                    Out::obj(IssueObj::new(repo, updated)),
                    &cid,
                ))
            }
            "createPullRequest" => {
                let repo_id = istr(&inp, "repositoryId")
                    .and_then(decode_id)
                    .map(|(_, n)| n)
                    .unwrap_or(0);
                let repo = ctx
                    .app
                    .store()
                    .repo_by_id(repo_id)?
                    .ok_or_else(|| not_found("Could not resolve to a Repository"))?;
                let issue = pulls::open_pull(
                    ctx,
                    &repo,
                    istr(&inp, "title").unwrap_or_default(),
                    istr(&inp, "headRefName").unwrap_or_default(),
                    istr(&inp, "baseRefName").unwrap_or_default(),
                    istr(&inp, "body").unwrap_or_default(),
                    inp.get("draft").and_then(Json::as_bool).unwrap_or(false),
                )?;
                Ok(payload(
                    "CreatePullRequestPayload",
                    "pullRequest",
                    Out::obj(IssueObj::new(repo, issue)),
                    &cid,
                ))
            }
            "mergePullRequest" => {
                let (repo, issue) =
                    issue_by_node(ctx, istr(&inp, "pullRequestId").unwrap_or_default())?;
                let method = match istr(&inp, "mergeMethod").unwrap_or("MERGE") {
                    "SQUASH" => MergeMethod::Squash,
                    "REBASE" => MergeMethod::Rebase,
                    _ => MergeMethod::Merge,
                };
                let (updated, _) = pulls::do_merge(
                    ctx,
                    &repo,
                    &issue,
                    method,
                    istr(&inp, "commitHeadline"),
                    istr(&inp, "commitBody"),
                    istr(&inp, "expectedHeadOid"),
                )?;
                Ok(payload(
                    "MergePullRequestPayload",
                    "pullRequest",
                    Out::obj(IssueObj::new(repo, updated)),
                    &cid,
                ))
            }
            "closePullRequest" | "reopenPullRequest" => {
                let (repo, issue) =
                    issue_by_node(ctx, istr(&inp, "pullRequestId").unwrap_or_default())?;
                let state = if name == "closePullRequest" {
                    "closed"
                } else {
                    "open"
                };
                let updated = pulls::set_state(ctx, &repo, &issue, state)?;
                let ty = if state == "closed" {
                    "ClosePullRequestPayload"
                } else {
                    "ReopenPullRequestPayload"
                };
                Ok(payload(
                    ty,
                    "pullRequest",
                    Out::obj(IssueObj::new(repo, updated)),
                    &cid,
                ))
            }
            "addPullRequestReview" => {
                let (repo, issue) =
                    issue_by_node(ctx, istr(&inp, "pullRequestId").unwrap_or_default())?;
                let state = match istr(&inp, "event") {
                    Some("APPROVE") => "APPROVED",
                    Some("REQUEST_CHANGES") => "CHANGES_REQUESTED",
                    Some("COMMENT") => "COMMENTED",
                    _ => "PENDING",
                };
                let body = istr(&inp, "body").unwrap_or_default().to_string();
                pulls::check_review(&issue, &ctx.user, state, &body)?;
                let head = git_head(ctx, &repo, &issue)?;
                let commit = istr(&inp, "commitOID").map_or(head, str::to_string);
                let rv = ctx.write(|s, now| {
                    Ok(s.add_review(&issue, &ctx.user, &body, state, &commit, now)?)
                })?;
                Ok(payload(
                    "AddPullRequestReviewPayload",
                    "pullRequestReview",
                    Out::obj(ReviewObj(repo, rv)),
                    &cid,
                ))
            }
            "deleteIssue" => {
                let (repo, issue) = issue_by_node(ctx, istr(&inp, "issueId").unwrap_or_default())?;
                if issue.pull.is_some() {
                    return Err(FieldError::new(
                        "UNPROCESSABLE",
                        "Pull requests cannot be deleted",
                    ));
                }
                ctx.write(|s, now| {
                    s.touch_repo(&repo, now)?;
                    Ok(s.delete_issue(&issue)?)
                })?;
                Ok(payload(
                    "DeleteIssuePayload",
                    "repository",
                    Out::obj(RepoObj(repo)),
                    &cid,
                ))
            }
            _ => Err(unknown("Mutation", name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_round_trip() {
        for (prefix, id) in [("I", 7), ("PR", 12), ("R", 1), ("LA", 3), ("U", 2)] {
            assert_eq!(decode_id(&render::node_id(prefix, id)), Some((prefix, id)));
        }
        assert_eq!(decode_id("garbage"), None);
        assert_eq!(decode_id("I_kgDOabc"), None);
    }
}
