//! `gh search issues` and `gh search prs`: the backend's issue search (the JSON tool
//! gh_search_issues, one repository-scoped query) printed as gh 2.23 prints it without a
//! terminal: `repo, number, state, title, labels, updated` per line, or `--json` records.

use serde_json::{Value, json};

use super::Runner;
use super::gh::{self, Failed, Flag, JQ, JSON, Printed, REPO, value};
use super::gh_issue::limit;
use super::gh_json::Export;
use crate::github::SearchIssuesArgs;
use crate::github::records;

const FLAGS: &[Flag] = &[
    value("limit", Some('L')),
    value("state", None),
    value("label", None),
    value("author", None),
    value("assignee", None),
    REPO,
    JSON,
    JQ,
];

/// `--json` fields of `gh search issues|prs` that gitgate serves.
const FIELDS: &[&str] = &[
    "assignees",
    "author",
    "authorAssociation",
    "body",
    "closedAt",
    "commentsCount",
    "createdAt",
    "id",
    "isDraft",
    "isLocked",
    "isPullRequest",
    "labels",
    "number",
    "repository",
    "state",
    "title",
    "updatedAt",
    "url",
];

/// Go's zero time, which gh prints for an issue never closed.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// `gh search issues QUERY...` (`prs` false) or `gh search prs QUERY...`.
pub(super) fn run(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
    prs: bool,
) -> Result<Printed, Failed> {
    let command = if prs {
        "gh search prs"
    } else {
        "gh search issues"
    };
    let p = gh::parse(command, FLAGS, rest)?;
    let export = p.export(FIELDS)?;
    let state = match p.last("state") {
        None => None,
        Some(s @ ("open" | "closed")) => Some(s.to_owned()),
        Some(other) => {
            return Err(Failed(format!(
                "invalid argument \"{other}\" for \"--state\" flag: valid values are {{open|closed}}"
            )));
        }
    };
    let mut query = p.args.join(" ");
    if prs {
        // The backend's search keeps to issues unless told; `is:pr` keeps it to pull requests.
        query = format!("{query} is:pr").trim_start().to_owned();
    }
    let args = SearchIssuesArgs {
        query,
        repo: p.repo(),
        state,
        label: p.list("label"),
        assignee: p.last("assignee").map(str::to_owned),
        author: p.last("author").map(str::to_owned),
        include_prs: prs,
        limit: limit(&p)?,
    };
    runner.gh_call("gh_search_issues", argv, args.repo.clone(), None, |gh| {
        let (items, _) = gh.wait(records::search_issue_items(gh.clients, gh.user, &args))?;
        runner.print_list(export.as_ref(), &items, object, row)
    })
}

/// `OWNER/NAME` of a search result.
fn repository(v: &Value) -> String {
    let url = v["repository_url"].as_str().unwrap_or("");
    let mut parts = url.rsplit('/');
    match (parts.next(), parts.next()) {
        (Some(name), Some(owner)) => format!("{owner}/{name}"),
        _ => String::new(),
    }
}

/// open, closed, or merged for a merged pull request.
fn state(v: &Value) -> &'static str {
    if !v["pull_request"]["merged_at"].is_null() {
        "merged"
    } else if v["state"] == "closed" {
        "closed"
    } else {
        "open"
    }
}

/// One line of gh's search table.
fn row(v: &Value) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\n",
        repository(v),
        v["number"],
        state(v),
        gh::one_line(v["title"].as_str().unwrap_or("")),
        super::gh_issue::label_list(v),
        v["updated_at"].as_str().unwrap_or(""),
    )
}

/// A user as gh's search exports it.
fn user(u: &Value) -> Value {
    json!({
        "id": u["node_id"],
        "is_bot": u["type"] == "Bot",
        "login": u["login"],
        "type": u["type"],
        "url": u["html_url"],
    })
}

fn object(export: &Export, v: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for field in &export.fields {
        let value = match field.as_str() {
            "assignees" => Value::Array(
                v["assignees"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(user)
                    .collect(),
            ),
            "author" => user(&v["user"]),
            "authorAssociation" => v["author_association"].clone(),
            "body" => json!(v["body"].as_str().unwrap_or("")),
            "closedAt" => json!(v["closed_at"].as_str().unwrap_or(ZERO_TIME)),
            "commentsCount" => v["comments"].clone(),
            "createdAt" => v["created_at"].clone(),
            "id" => v["node_id"].clone(),
            "isDraft" => json!(v["draft"].as_bool().unwrap_or(false)),
            "isLocked" => json!(v["locked"].as_bool().unwrap_or(false)),
            "isPullRequest" => json!(v.get("pull_request").is_some()),
            "labels" => Value::Array(
                v["labels"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|l| json!({"color": l["color"], "description": l["description"].as_str().unwrap_or(""), "id": l["node_id"], "name": l["name"]}))
                    .collect(),
            ),
            "number" => v["number"].clone(),
            "repository" => {
                let full = repository(v);
                let name = full.split_once('/').map_or("", |(_, n)| n).to_owned();
                json!({"name": name, "nameWithOwner": full})
            }
            "state" => json!(state(v)),
            "title" => v["title"].clone(),
            "updatedAt" => v["updated_at"].clone(),
            "url" => v["html_url"].clone(),
            _ => Value::Null,
        };
        out.insert(field.clone(), value);
    }
    Value::Object(out)
}
