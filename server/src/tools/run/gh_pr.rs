//! `gh pr list|view|diff` and `gh repo view`: the backend's records printed as gh 2.23 prints
//! them when its output is not a terminal.

use serde_json::{Value, json};

use super::Runner;
use super::gh::{self, Failed, Flag, JQ, JSON, Printed, REPO, switch, value};
use super::gh_issue::{extra_for, label_list, limit, names, not_found, raw_comment};
use super::gh_json::{self, Export, PR_LIST_FIELDS, PR_VIEW_FIELDS};
use crate::github::PrListArgs;
use crate::github::records::{self, PrState, RepoName};

const LIST_FLAGS: &[Flag] = &[
    value("limit", Some('L')),
    value("state", Some('s')),
    value("label", Some('l')),
    value("author", Some('A')),
    value("assignee", Some('a')),
    switch("draft", Some('d')),
    value("search", Some('S')),
    value("base", Some('B')),
    value("head", Some('H')),
    REPO,
    JSON,
    JQ,
];

const VIEW_FLAGS: &[Flag] = &[switch("comments", Some('c')), REPO, JSON, JQ];

const DIFF_FLAGS: &[Flag] = &[
    switch("name-only", None),
    switch("patch", None),
    value("color", None),
    REPO,
];

const REPO_FLAGS: &[Flag] = &[JSON, JQ];

/// `--json` fields of `gh repo view` that gitgate serves.
const REPO_FIELDS: &[&str] = &[
    "createdAt",
    "defaultBranchRef",
    "description",
    "forkCount",
    "hasIssuesEnabled",
    "hasProjectsEnabled",
    "hasWikiEnabled",
    "homepageUrl",
    "id",
    "isArchived",
    "isFork",
    "isPrivate",
    "isTemplate",
    "name",
    "nameWithOwner",
    "owner",
    "pushedAt",
    "sshUrl",
    "stargazerCount",
    "updatedAt",
    "url",
];

/// `gh pr list`.
pub(super) fn list(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
) -> Result<Printed, Failed> {
    let p = gh::parse("gh pr list", LIST_FLAGS, rest)?;
    if let Some(extra) = p.args.first() {
        return Err(Failed(format!(
            "unknown argument {extra:?} for \"gh pr list\""
        )));
    }
    let export = p.export(PR_LIST_FIELDS)?;
    let state = match p.last("state").unwrap_or("open") {
        "open" => PrState::Open,
        "closed" => PrState::Closed,
        "merged" => PrState::Merged,
        "all" => PrState::All,
        other => {
            return Err(Failed(format!(
                "invalid argument \"{other}\" for \"-s, --state\" flag: valid values are {{open|closed|merged|all}}"
            )));
        }
    };
    let args = PrListArgs {
        repo: p.repo(),
        state,
        label: p.list("label"),
        author: p.last("author").map(str::to_owned),
        assignee: p.last("assignee").map(str::to_owned),
        draft: p.on("draft").then_some(true),
        base: p.last("base").map(str::to_owned),
        head: p.last("head").map(str::to_owned),
        limit: limit(&p)?,
        search: p.last("search").map(str::to_owned),
    };
    runner.gh_call("gh_pr_list", argv, args.repo.clone(), None, |gh| {
        let (repo, listed) = gh.wait(records::pr_items(gh.clients, gh.user, &args))?;
        let mut items = listed.items;
        // GitHub's list of pull requests has no line counts; each one's own record has them
        // (gh asks GraphQL for them in its one query; this costs a request per listed PR).
        if export
            .as_ref()
            .is_some_and(|e| e.wants(&["additions", "deletions", "changedFiles"]))
        {
            for item in &mut items {
                let n = item["number"].as_u64().unwrap_or(0);
                *item = gh.wait(records::get_pr(gh.clients, gh.user, &repo, n))?;
            }
        }
        match &export {
            Some(export) => {
                let extra = extra_for(gh, export, &items, &[])?;
                let data = items
                    .iter()
                    .map(|v| gh_json::object(export, v, &extra))
                    .collect();
                runner.export(export, Value::Array(data))
            }
            None => Ok(items.iter().map(table_row).collect()),
        }
    })
}

/// One row of gh's pull request table: number, title, head, state, creation time.
fn table_row(v: &Value) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\n",
        v["number"],
        gh::one_line(v["title"].as_str().unwrap_or("")),
        head_label(v),
        state_with_draft(v),
        gh::go_time(&v["created_at"]),
    )
}

/// `branch`, or `owner:branch` for a head in another repository.
fn head_label(v: &Value) -> String {
    let branch = v["head"]["ref"].as_str().unwrap_or("");
    if gh_json::cross_repository(v) {
        let owner = v["head"]["repo"]["owner"]["login"].as_str().unwrap_or("");
        format!("{owner}:{branch}")
    } else {
        branch.to_owned()
    }
}

/// DRAFT for an open draft, else gh's state.
fn state_with_draft(v: &Value) -> &'static str {
    match gh_json::state(v, true) {
        "OPEN" if v["draft"] == Value::Bool(true) => "DRAFT",
        state => state,
    }
}

/// Most commits and files `gh pr view --json` lists (gh's own queries ask for a hundred).
const MAX_LISTED: usize = 100;

/// `gh pr view N`.
pub(super) fn view(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
) -> Result<Printed, Failed> {
    let p = gh::parse("gh pr view", VIEW_FLAGS, rest)?;
    let export = p.export(PR_VIEW_FIELDS)?;
    let n = gh::number("gh pr view", &p)?;
    runner.gh_call("gh_pr_view", argv, p.repo(), Some(n), |gh| {
        let repo = RepoName::resolve(gh.clients, p.repo().as_deref())
            .map_err(|e| Failed(e.to_string()))?;
        let (v, reviews) = gh
            .wait_raw(records::pr_with_reviews(gh.clients, gh.user, &repo, n))
            .map_err(|e| not_found(e, n, "a PullRequest", "repository.pullRequest"))?;
        if let Some(export) = &export {
            let mut extra = extra_for(gh, export, std::slice::from_ref(&v), &[])?;
            extra.reviews = reviews.items;
            if export.wants(&["commits"]) {
                let listed = gh.wait(records::pr_commit_items(
                    gh.clients, gh.user, &repo, n, MAX_LISTED,
                ))?;
                extra.commits = listed.items;
            }
            if export.wants(&["files"]) {
                let listed = gh.wait(records::pr_file_items(
                    gh.clients, gh.user, &repo, n, MAX_LISTED,
                ))?;
                extra.files = listed.items;
            }
            return runner.export(export, gh_json::object(export, &v, &extra));
        }
        if p.on("comments") {
            let (_, comments) = gh.wait(records::issue_with_comments(
                gh.clients, gh.user, &repo, n, 100,
            ))?;
            return Ok(timeline(
                &comments.map(|c| c.items).unwrap_or_default(),
                &reviews.items,
            )
            .into());
        }
        Ok(preview(&v, &reviews.items).into())
    })
}

/// Comments and reviews with something to say, oldest first, as `--comments` prints them.
fn timeline(comments: &[Value], reviews: &[Value]) -> String {
    let mut entries: Vec<(String, String)> = comments
        .iter()
        .map(|c| {
            (
                c["created_at"].as_str().unwrap_or("").to_owned(),
                raw_comment(c),
            )
        })
        .collect();
    for r in reviews {
        let state = r["state"].as_str().unwrap_or("");
        let body = r["body"].as_str().unwrap_or("");
        if state == "PENDING" || (state == "COMMENTED" && body.is_empty()) {
            continue;
        }
        let status = state.replace('_', " ").to_ascii_lowercase();
        let text = format!(
            "author:\t{}\nassociation:\t{}\nedited:\tfalse\nstatus:\t{status}\n--\n{body}\n--\n",
            r["user"]["login"].as_str().unwrap_or(""),
            r["author_association"]
                .as_str()
                .unwrap_or("none")
                .to_ascii_lowercase(),
        );
        entries.push((r["submitted_at"].as_str().unwrap_or("").to_owned(), text));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.into_iter().map(|(_, t)| t).collect()
}

/// gh's raw preview of a pull request.
fn preview(v: &Value, reviews: &[Value]) -> String {
    format!(
        "title:\t{}\nstate:\t{}\nauthor:\t{}\nlabels:\t{}\nassignees:\t{}\nreviewers:\t{}\nprojects:\t\nmilestone:\t{}\nnumber:\t{}\nurl:\t{}\nadditions:\t{}\ndeletions:\t{}\n--\n{}\n",
        v["title"].as_str().unwrap_or(""),
        state_with_draft(v),
        v["user"]["login"].as_str().unwrap_or(""),
        label_list(v),
        names(&v["assignees"], "login"),
        reviewers(v, reviews),
        v["milestone"]["title"].as_str().unwrap_or(""),
        v["number"],
        v["html_url"].as_str().unwrap_or(""),
        v["additions"].as_u64().unwrap_or(0),
        v["deletions"].as_u64().unwrap_or(0),
        v["body"].as_str().unwrap_or(""),
    )
}

/// gh's reviewer summary: each reviewer's latest verdict (the author's own reviews left out),
/// replaced by "Requested" where a review is requested; by name, requested ones last.
fn reviewers(v: &Value, reviews: &[Value]) -> String {
    let author = v["user"]["login"].as_str().unwrap_or("");
    let mut states: std::collections::BTreeMap<String, String> = Default::default();
    for r in reviews {
        let who = r["user"]["login"].as_str().unwrap_or("");
        if who != author {
            states.insert(who.to_owned(), r["state"].as_str().unwrap_or("").to_owned());
        }
    }
    for u in v["requested_reviewers"].as_array().into_iter().flatten() {
        if let Some(login) = u["login"].as_str() {
            states.insert(login.to_owned(), "REQUESTED".into());
        }
    }
    let mut list: Vec<(String, String)> =
        states.into_iter().filter(|(_, s)| s != "PENDING").collect();
    list.sort_by_key(|(name, s)| (s == "REQUESTED", name.clone()));
    list.iter()
        .map(|(name, state)| {
            let shown = match state.as_str() {
                "REQUESTED" => "Requested".to_owned(),
                "APPROVED" => "Approved".to_owned(),
                "CHANGES_REQUESTED" => "Changes requested".to_owned(),
                "COMMENTED" | "DISMISSED" => "Commented".to_owned(),
                other => other.to_owned(),
            };
            format!("{name} ({shown})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `gh pr diff N`.
pub(super) fn diff(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
) -> Result<Printed, Failed> {
    let p = gh::parse("gh pr diff", DIFF_FLAGS, rest)?;
    if p.on("patch") {
        return Err(Failed(
            "gh pr diff --patch: not supported by gitgate; use the plain diff".into(),
        ));
    }
    let n = gh::number("gh pr diff", &p)?;
    runner.gh_call("gh_pr_diff", argv, p.repo(), Some(n), |gh| {
        let repo = RepoName::resolve(gh.clients, p.repo().as_deref())
            .map_err(|e| Failed(e.to_string()))?;
        let text = gh
            .wait_raw(records::pr_diff_text(gh.clients, gh.user, &repo, n))
            .map_err(|e| match e {
                crate::github::Error::NotFound { .. } => Failed(format!(
                    "could not find pull request diff: HTTP 404: Not Found (https://api.github.com/repos/{repo}/pulls/{n})"
                )),
                e => Failed(crate::tools::ToolError::from(e).message),
            })?;
        if !p.on("name-only") {
            return Ok(text.into());
        }
        Ok(text
            .lines()
            .filter_map(|l| l.strip_prefix("+++ "))
            .filter_map(|l| l.strip_prefix("b/").or((l == "/dev/null").then_some(l)))
            .map(|name| format!("{name}\n"))
            .collect())
    })
}

/// `gh repo view [OWNER/REPO]`.
pub(super) fn repo_view(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
) -> Result<Printed, Failed> {
    let p = gh::parse("gh repo view", REPO_FLAGS, rest)?;
    let export = p.export(REPO_FIELDS)?;
    let named = match p.args.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        _ => return Err(Failed("accepts at most 1 arg(s)".into())),
    };
    runner.gh_call("gh_repo_view", argv, named.clone(), None, |gh| {
        let repo =
            RepoName::resolve(gh.clients, named.as_deref()).map_err(|e| Failed(e.to_string()))?;
        let v = gh.wait(records::repo_record(gh.clients, gh.user, &repo))?;
        if let Some(export) = &export {
            return runner.export(export, repo_object(export, &v));
        }
        let readme = gh.wait(records::readme_text(gh.clients, gh.user, &repo))?;
        let mut out = format!(
            "name:\t{}\ndescription:\t{}\n",
            v["full_name"].as_str().unwrap_or(""),
            v["description"].as_str().unwrap_or("")
        );
        if let Some(readme) = readme {
            out.push_str("--\n");
            out.push_str(&readme);
            out.push('\n');
        }
        Ok(out.into())
    })
}

/// `gh repo view --json` fields from the REST record.
fn repo_object(export: &Export, v: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for field in &export.fields {
        let value = match field.as_str() {
            "createdAt" => v["created_at"].clone(),
            "defaultBranchRef" => json!({"name": v["default_branch"]}),
            "description" => json!(v["description"].as_str().unwrap_or("")),
            "forkCount" => json!(v["forks_count"].as_u64().unwrap_or(0)),
            "hasIssuesEnabled" => json!(v["has_issues"].as_bool().unwrap_or(false)),
            "hasProjectsEnabled" => json!(v["has_projects"].as_bool().unwrap_or(false)),
            "hasWikiEnabled" => json!(v["has_wiki"].as_bool().unwrap_or(false)),
            "homepageUrl" => json!(v["homepage"].as_str().unwrap_or("")),
            "id" => v["node_id"].clone(),
            "isArchived" => json!(v["archived"].as_bool().unwrap_or(false)),
            "isFork" => json!(v["fork"].as_bool().unwrap_or(false)),
            "isPrivate" => json!(v["private"].as_bool().unwrap_or(false)),
            "isTemplate" => json!(v["is_template"].as_bool().unwrap_or(false)),
            "name" => v["name"].clone(),
            "nameWithOwner" => v["full_name"].clone(),
            "owner" => json!({"id": v["owner"]["node_id"], "login": v["owner"]["login"]}),
            "pushedAt" => v["pushed_at"].clone(),
            "sshUrl" => v["ssh_url"].clone(),
            "stargazerCount" => json!(v["stargazers_count"].as_u64().unwrap_or(0)),
            "updatedAt" => v["updated_at"].clone(),
            "url" => v["html_url"].clone(),
            _ => Value::Null,
        };
        out.insert(field.clone(), value);
    }
    Value::Object(out)
}
