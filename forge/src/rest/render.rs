//! GitHub's JSON shapes for forge records: users, repositories, labels, issues, pull requests,
//! comments, reviews, commits, branches and contents. URL fields are absolute, built from
//! [`Bases`], so the same seed and base give byte-identical answers.

use serde_json::{Value, json};

use super::{Bases, encode};
use crate::git::{CommitInfo, FileChange};
use crate::store::{Comment, Issue, Label, Repo, Review, Time, User};

/// RFC 3339 in UTC with a `Z`, as GitHub writes timestamps.
pub fn time(t: Time) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn opt_time(t: Option<Time>) -> Value {
    t.map_or(Value::Null, |t| json!(time(t)))
}

/// A node id in GitHub's style: a type prefix and the numeric id.
pub fn node_id(prefix: &str, id: i64) -> String {
    format!("{prefix}_kgDO{id:08}")
}

/// The simple user object (every URL field octocrab's `Author` requires).
pub fn user(b: &Bases, u: &User) -> Value {
    let api = format!("{}/users/{}", b.api, u.login);
    json!({
        "login": u.login,
        "id": u.id,
        "node_id": node_id(if u.kind == "Organization" { "O" } else { "U" }, u.id),
        "avatar_url": format!("{}/avatars/u/{}?v=4", b.html, u.id),
        "gravatar_id": "",
        "url": api,
        "html_url": format!("{}/{}", b.html, u.login),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": u.kind,
        "user_view_type": "public",
        "site_admin": false,
    })
}

/// The public profile (`GET /users/{u}`, and `GET /user` adds private fields).
pub fn profile(b: &Bases, u: &User, public_repos: usize) -> Value {
    let mut v = user(b, u);
    let extra = json!({
        "name": u.name,
        "company": if u.kind == "User" { json!("@acme") } else { Value::Null },
        "blog": "",
        "location": null,
        "email": u.email,
        "hireable": null,
        "bio": null,
        "twitter_username": null,
        "public_repos": public_repos,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": time(u.created_at),
        "updated_at": time(u.created_at),
    });
    merge(&mut v, extra);
    v
}

/// An organisation (`GET /orgs/{org}`, and `/users/{org}` for an organisation login).
pub fn org(b: &Bases, u: &User, public_repos: usize) -> Value {
    let api = format!("{}/orgs/{}", b.api, u.login);
    json!({
        "login": u.login,
        "id": u.id,
        "node_id": node_id("O", u.id),
        "url": api,
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events"),
        "hooks_url": format!("{api}/hooks"),
        "issues_url": format!("{api}/issues"),
        "members_url": format!("{api}/members{{/member}}"),
        "public_members_url": format!("{api}/public_members{{/member}}"),
        "avatar_url": format!("{}/avatars/u/{}?v=4", b.html, u.id),
        "description": u.name,
        "name": u.name,
        "blog": format!("{}/{}", b.html, u.login),
        "email": u.email,
        "is_verified": false,
        "has_organization_projects": true,
        "has_repository_projects": true,
        "public_repos": public_repos,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "html_url": format!("{}/{}", b.html, u.login),
        "created_at": time(u.created_at),
        "updated_at": time(u.created_at),
        "archived_at": null,
        "type": "Organization",
    })
}

/// Adds `extra`'s fields to `v`.
pub fn merge(v: &mut Value, extra: Value) {
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
}

/// The full repository object.
pub fn repo(b: &Bases, r: &Repo, open_issues: usize, pushed_at: Time) -> Value {
    let full = r.full_name();
    let api = format!("{}/repos/{full}", b.api);
    let html = format!("{}/{full}", b.html);
    let host = b
        .html
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    // GitHub lists these templates in this order; all hang off the repository URL.
    const URLS: [(&str, &str); 36] = [
        ("forks_url", "/forks"),
        ("keys_url", "/keys{/key_id}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("teams_url", "/teams"),
        ("hooks_url", "/hooks"),
        ("issue_events_url", "/issues/events{/number}"),
        ("events_url", "/events"),
        ("assignees_url", "/assignees{/user}"),
        ("branches_url", "/branches{/branch}"),
        ("tags_url", "/tags"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("trees_url", "/git/trees{/sha}"),
        ("statuses_url", "/statuses/{sha}"),
        ("languages_url", "/languages"),
        ("stargazers_url", "/stargazers"),
        ("contributors_url", "/contributors"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("commits_url", "/commits{/sha}"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("comments_url", "/comments{/number}"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("contents_url", "/contents/{+path}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("merges_url", "/merges"),
        ("archive_url", "/{archive_format}{/ref}"),
        ("downloads_url", "/downloads"),
        ("issues_url", "/issues{/number}"),
        ("pulls_url", "/pulls{/number}"),
        ("milestones_url", "/milestones{/number}"),
        (
            "notifications_url",
            "/notifications{?since,all,participating}",
        ),
        ("labels_url", "/labels{/name}"),
        ("releases_url", "/releases{/id}"),
        ("deployments_url", "/deployments"),
    ];
    let mut v = json!({
        "id": r.id,
        "node_id": node_id("R", r.id),
        "name": r.name,
        "full_name": full,
        "private": false,
        "owner": user(b, &r.owner),
        "html_url": html,
        "description": r.description,
        "fork": false,
        "url": api,
    });
    if let Some(o) = v.as_object_mut() {
        for (k, suffix) in URLS {
            o.insert(k.into(), json!(format!("{api}{suffix}")));
        }
    }
    let rest = json!({
        "created_at": time(r.created_at),
        "updated_at": time(r.updated_at),
        "pushed_at": time(pushed_at),
        "git_url": format!("git://{host}/{full}.git"),
        "ssh_url": format!("git@{host}:{full}.git"),
        "clone_url": format!("{html}.git"),
        "svn_url": html,
        "homepage": null,
        "size": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": "Rust",
        "has_issues": true,
        "has_projects": false,
        "has_downloads": true,
        "has_wiki": false,
        "has_pages": false,
        "has_discussions": false,
        "forks_count": 0,
        "mirror_url": null,
        "archived": false,
        "disabled": false,
        "open_issues_count": open_issues,
        "license": null,
        "allow_forking": true,
        "is_template": false,
        "web_commit_signoff_required": false,
        "topics": [],
        "visibility": "public",
        "forks": 0,
        "open_issues": open_issues,
        "watchers": 0,
        "default_branch": r.default_branch,
        "permissions": {"admin": false, "maintain": false, "push": true, "triage": true, "pull": true},
        "network_count": 0,
        "subscribers_count": 0,
    });
    merge(&mut v, rest);
    v
}

/// The repository object embedded in search results and pull request heads (no counts).
pub fn repo_minimal(b: &Bases, r: &Repo) -> Value {
    let mut v = repo(b, r, 0, r.updated_at);
    if let Some(o) = v.as_object_mut() {
        for k in ["network_count", "subscribers_count", "permissions"] {
            o.remove(k);
        }
    }
    v
}

/// A label.
pub fn label(b: &Bases, r: &Repo, l: &Label) -> Value {
    json!({
        "id": l.id,
        "node_id": node_id("LA", l.id),
        "url": format!("{}/repos/{}/labels/{}", b.api, r.full_name(), encode(&l.name)),
        "name": l.name,
        "color": l.color,
        "default": matches!(l.name.as_str(), "bug" | "documentation" | "enhancement" | "good first issue" | "help wanted" | "question"),
        "description": if l.description.is_empty() { Value::Null } else { json!(l.description) },
    })
}

/// How a user relates to a repository.
pub fn association(r: &Repo, u: &User) -> &'static str {
    if r.owner.id == u.id {
        "OWNER"
    } else {
        "MEMBER"
    }
}

/// An issue (pull requests appear as issues with a `pull_request` field, as on GitHub).
pub fn issue(b: &Bases, r: &Repo, i: &Issue) -> Value {
    let full = r.full_name();
    let api = format!("{}/repos/{full}/issues/{}", b.api, i.number);
    let html_kind = if i.pull.is_some() { "pull" } else { "issues" };
    let html = format!("{}/{full}/{html_kind}/{}", b.html, i.number);
    let mut v = json!({
        "url": api,
        "repository_url": format!("{}/repos/{full}", b.api),
        "labels_url": format!("{api}/labels{{/name}}"),
        "comments_url": format!("{api}/comments"),
        "events_url": format!("{api}/events"),
        "html_url": html,
        "id": i.id,
        "node_id": node_id(if i.pull.is_some() { "PR" } else { "I" }, i.id),
        "number": i.number,
        "title": i.title,
        "user": user(b, &i.user),
        "labels": i.labels.iter().map(|l| label(b, r, l)).collect::<Vec<_>>(),
        "state": i.state,
        "locked": i.locked,
        "assignee": i.assignees.first().map_or(Value::Null, |a| user(b, a)),
        "assignees": i.assignees.iter().map(|a| user(b, a)).collect::<Vec<_>>(),
        "milestone": null,
        "comments": i.comments,
        "created_at": time(i.created_at),
        "updated_at": time(i.updated_at),
        "closed_at": opt_time(i.closed_at),
        "author_association": association(r, &i.user),
        "active_lock_reason": null,
        "body": i.body,
        "closed_by": i.closed_by.as_ref().map_or(Value::Null, |u| user(b, u)),
        "reactions": {
            "url": format!("{api}/reactions"), "total_count": 0, "+1": 0, "-1": 0, "laugh": 0,
            "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0
        },
        "timeline_url": format!("{api}/timeline"),
        "performed_via_github_app": null,
        "state_reason": i.state_reason,
    });
    if let Some(p) = &i.pull {
        let pr = format!("{}/repos/{full}/pulls/{}", b.api, i.number);
        merge(
            &mut v,
            json!({
                "draft": p.draft,
                "pull_request": {
                    "url": pr,
                    "html_url": html,
                    "diff_url": format!("{html}.diff"),
                    "patch_url": format!("{html}.patch"),
                    "merged_at": opt_time(p.merged_at),
                }
            }),
        );
    }
    v
}

/// Head and base shas of a pull request (recorded when it ended, else the live branch tips).
#[derive(Debug, Clone, Default)]
pub struct PullRefs {
    /// Head sha.
    pub head: String,
    /// Base sha.
    pub base: String,
}

/// Counts shown only on a single pull request.
#[derive(Debug, Clone, Default)]
pub struct PullCounts {
    /// Commits.
    pub commits: usize,
    /// Lines added.
    pub additions: usize,
    /// Lines removed.
    pub deletions: usize,
    /// Files changed.
    pub changed_files: usize,
    /// Review comments (always 0 here).
    pub review_comments: usize,
    /// Whether it merges cleanly.
    pub mergeable: Option<bool>,
}

/// A pull request; `counts` makes it the full single-pull shape.
pub fn pull(b: &Bases, r: &Repo, i: &Issue, refs: &PullRefs, counts: Option<&PullCounts>) -> Value {
    let Some(p) = &i.pull else { return Value::Null };
    let full = r.full_name();
    let api = format!("{}/repos/{full}/pulls/{}", b.api, i.number);
    let issue_api = format!("{}/repos/{full}/issues/{}", b.api, i.number);
    let html = format!("{}/{full}/pull/{}", b.html, i.number);
    let side = |name: &str, sha: &str| {
        json!({
            "label": format!("{}:{name}", r.owner.login),
            "ref": name,
            "sha": sha,
            "user": user(b, &r.owner),
            "repo": repo_minimal(b, r),
        })
    };
    let mut v = json!({
        "url": api,
        "id": i.id,
        "node_id": node_id("PR", i.id),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": issue_api,
        "number": i.number,
        "state": i.state,
        "locked": i.locked,
        "title": i.title,
        "user": user(b, &i.user),
        "body": i.body,
        "created_at": time(i.created_at),
        "updated_at": time(i.updated_at),
        "closed_at": opt_time(i.closed_at),
        "merged_at": opt_time(p.merged_at),
        "merge_commit_sha": p.merge_commit_sha,
        "assignee": i.assignees.first().map_or(Value::Null, |a| user(b, a)),
        "assignees": i.assignees.iter().map(|a| user(b, a)).collect::<Vec<_>>(),
        "requested_reviewers": [],
        "requested_teams": [],
        "labels": i.labels.iter().map(|l| label(b, r, l)).collect::<Vec<_>>(),
        "milestone": null,
        "draft": p.draft,
        "commits_url": format!("{api}/commits"),
        "review_comments_url": format!("{api}/comments"),
        "review_comment_url": format!("{}/repos/{full}/pulls/comments{{/number}}", b.api),
        "comments_url": format!("{issue_api}/comments"),
        "statuses_url": format!("{}/repos/{full}/statuses/{}", b.api, refs.head),
        "head": side(&p.head_ref, &refs.head),
        "base": side(&p.base_ref, &refs.base),
        "_links": {
            "self": {"href": api},
            "html": {"href": html},
            "issue": {"href": issue_api},
            "comments": {"href": format!("{issue_api}/comments")},
            "review_comments": {"href": format!("{api}/comments")},
            "review_comment": {"href": format!("{}/repos/{full}/pulls/comments{{/number}}", b.api)},
            "commits": {"href": format!("{api}/commits")},
            "statuses": {"href": format!("{}/repos/{full}/statuses/{}", b.api, refs.head)},
        },
        "author_association": association(r, &i.user),
        "auto_merge": null,
        "active_lock_reason": null,
    });
    if let Some(c) = counts {
        let merged = p.merged_at.is_some();
        merge(
            &mut v,
            json!({
                "merged": merged,
                "mergeable": if i.state == "open" { json!(c.mergeable) } else { Value::Null },
                "rebaseable": if i.state == "open" { json!(c.mergeable) } else { Value::Null },
                "mergeable_state": if i.state != "open" { "unknown" } else if c.mergeable == Some(true) { "clean" } else { "dirty" },
                "merged_by": p.merged_by.as_ref().map_or(Value::Null, |u| user(b, u)),
                "comments": i.comments,
                "review_comments": c.review_comments,
                "maintainer_can_modify": false,
                "commits": c.commits,
                "additions": c.additions,
                "deletions": c.deletions,
                "changed_files": c.changed_files,
            }),
        );
    }
    v
}

/// An issue comment; on a pull request (`is_pull`) its page is the pull request's, as GitHub
/// links it.
pub fn comment(b: &Bases, r: &Repo, c: &Comment, is_pull: bool) -> Value {
    let full = r.full_name();
    let url = format!("{}/repos/{full}/issues/comments/{}", b.api, c.id);
    let kind = if is_pull { "pull" } else { "issues" };
    json!({
        "url": url,
        "html_url": format!("{}/{full}/{kind}/{}#issuecomment-{}", b.html, c.issue_number, c.id),
        "issue_url": format!("{}/repos/{full}/issues/{}", b.api, c.issue_number),
        "id": c.id,
        "node_id": node_id("IC", c.id),
        "user": user(b, &c.user),
        "created_at": time(c.created_at),
        "updated_at": time(c.updated_at),
        "author_association": association(r, &c.user),
        "body": c.body,
        "reactions": {
            "url": format!("{url}/reactions"), "total_count": 0, "+1": 0, "-1": 0, "laugh": 0,
            "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0
        },
        "performed_via_github_app": null,
    })
}

/// A pull request review.
pub fn review(b: &Bases, r: &Repo, rv: &Review) -> Value {
    let full = r.full_name();
    let html = format!(
        "{}/{full}/pull/{}#pullrequestreview-{}",
        b.html, rv.number, rv.id
    );
    json!({
        "id": rv.id,
        "node_id": node_id("PRR", rv.id),
        "user": user(b, &rv.user),
        "body": rv.body,
        "state": rv.state,
        "html_url": html,
        "pull_request_url": format!("{}/repos/{full}/pulls/{}", b.api, rv.number),
        "author_association": association(r, &rv.user),
        "_links": {
            "html": {"href": html},
            "pull_request": {"href": format!("{}/repos/{full}/pulls/{}", b.api, rv.number)},
        },
        "submitted_at": time(rv.submitted_at),
        "commit_id": rv.commit_id,
    })
}

/// A commit as the commits API lists it; `who` maps an email to a forge user.
pub fn commit(b: &Bases, r: &Repo, c: &CommitInfo, who: &dyn Fn(&str) -> Option<User>) -> Value {
    let full = r.full_name();
    let api = format!("{}/repos/{full}/commits/{}", b.api, c.sha);
    let person =
        |p: &crate::git::Person| json!({"name": p.name, "email": p.email, "date": time(p.time)});
    let account = |email: &str| who(email).map_or(Value::Null, |u| user(b, &u));
    json!({
        "sha": c.sha,
        "node_id": format!("C_{}", &c.sha[..20.min(c.sha.len())]),
        "commit": {
            "author": person(&c.author),
            "committer": person(&c.committer),
            "message": c.message.trim_end_matches('\n'),
            "tree": {"sha": c.tree, "url": format!("{}/repos/{full}/git/trees/{}", b.api, c.tree)},
            "url": format!("{}/repos/{full}/git/commits/{}", b.api, c.sha),
            "comment_count": 0,
            "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null},
        },
        "url": api,
        "html_url": format!("{}/{full}/commit/{}", b.html, c.sha),
        "comments_url": format!("{api}/comments"),
        "author": account(&c.author.email),
        "committer": account(&c.committer.email),
        "parents": c.parents.iter().map(|p| json!({
            "sha": p,
            "url": format!("{}/repos/{full}/commits/{p}", b.api),
            "html_url": format!("{}/{full}/commit/{p}", b.html),
        })).collect::<Vec<_>>(),
    })
}

/// One file of a diff (commit files, pull request files).
pub fn file(b: &Bases, r: &Repo, f: &FileChange, at_ref: &str) -> Value {
    let full = r.full_name();
    let path = f
        .filename
        .split('/')
        .map(encode)
        .collect::<Vec<_>>()
        .join("/");
    let mut v = json!({
        "sha": f.sha,
        "filename": f.filename,
        "status": f.status,
        "additions": f.additions,
        "deletions": f.deletions,
        "changes": f.additions + f.deletions,
        "blob_url": format!("{}/{full}/blob/{at_ref}/{path}", b.html),
        "raw_url": format!("{}/{full}/raw/{at_ref}/{path}", b.html),
        "contents_url": format!("{}/repos/{full}/contents/{path}?ref={at_ref}", b.api),
        "patch": f.patch,
    });
    if let Some(prev) = &f.previous_filename {
        merge(&mut v, json!({"previous_filename": prev}));
    }
    v
}
