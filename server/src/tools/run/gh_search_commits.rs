//! `gh search commits`: the backend's commit search (one repository-scoped query, gh's flags
//! as qualifiers) printed as gh 2.23 prints it without a terminal: `repo, sha, message,
//! author, date` per line, or `--json` records. Decided and audited as a call of gh_commits,
//! the JSON tool that reads a repository's commits.

use serde_json::{Value, json};

use super::Runner;
use super::gh::{self, Failed, Flag, JQ, JSON, Printed, REPO, switch, value};
use super::gh_issue::limit;
use super::gh_json::Export;
use crate::github::SearchCommitsArgs;
use crate::github::records;

/// gh's qualifier flags, each taken as `key:value` in the query.
const QUALIFIERS: &[&str] = &[
    "author",
    "author-date",
    "author-email",
    "author-name",
    "committer",
    "committer-date",
    "committer-email",
    "committer-name",
    "hash",
    "parent",
    "tree",
];

const FLAGS: &[Flag] = &[
    value("limit", Some('L')),
    value("author", None),
    value("author-date", None),
    value("author-email", None),
    value("author-name", None),
    value("committer", None),
    value("committer-date", None),
    value("committer-email", None),
    value("committer-name", None),
    value("hash", None),
    value("parent", None),
    value("tree", None),
    switch("merge", None),
    value("sort", None),
    value("order", None),
    REPO,
    JSON,
    JQ,
];

/// `--json` fields of `gh search commits` that gitgate serves.
const FIELDS: &[&str] = &[
    "author",
    "commit",
    "committer",
    "id",
    "parents",
    "repository",
    "sha",
    "url",
];

/// `gh search commits [QUERY...]`.
pub(super) fn run(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
) -> Result<Printed, Failed> {
    let p = gh::parse("gh search commits", FLAGS, rest)?;
    let export = p.export(FIELDS)?;
    let sort = match p.last("sort") {
        None | Some("best-match") => None,
        Some(s @ ("author-date" | "committer-date")) => Some(s.to_owned()),
        Some(other) => {
            return Err(Failed(format!(
                "invalid argument \"{other}\" for \"--sort\" flag: valid values are {{author-date|committer-date}}"
            )));
        }
    };
    let order = match p.last("order") {
        None => None,
        Some(o @ ("asc" | "desc")) => Some(o.to_owned()),
        Some(other) => {
            return Err(Failed(format!(
                "invalid argument \"{other}\" for \"--order\" flag: valid values are {{asc|desc}}"
            )));
        }
    };
    let mut qualifiers: Vec<(&'static str, String)> = QUALIFIERS
        .iter()
        .filter_map(|k| p.last(k).map(|v| (*k, v.to_owned())))
        .collect();
    if p.on("merge") {
        qualifiers.push(("merge", "true".to_owned()));
    }
    let args = SearchCommitsArgs {
        query: p.args.join(" "),
        repo: p.repo(),
        qualifiers,
        sort,
        order,
        limit: limit(&p)?,
    };
    runner.gh_call("gh_commits", argv, args.repo.clone(), None, |gh| {
        let (items, _) = gh.wait(records::search_commit_items(gh.clients, gh.user, &args))?;
        runner.print_list(export.as_ref(), &items, object, row)
    })
}

/// One line of gh's commit search table.
fn row(v: &Value) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\n",
        v["repository"]["full_name"].as_str().unwrap_or(""),
        v["sha"].as_str().unwrap_or(""),
        gh::one_line(v["commit"]["message"].as_str().unwrap_or("")),
        v["author"]["login"].as_str().unwrap_or(""),
        v["commit"]["author"]["date"].as_str().unwrap_or(""),
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
        let c = &v["commit"];
        let person = |p: &Value| json!({"date": p["date"], "email": p["email"], "name": p["name"]});
        let value = match field.as_str() {
            "author" => user(&v["author"]),
            "committer" => user(&v["committer"]),
            "commit" => json!({
                "author": person(&c["author"]),
                "comment_count": c["comment_count"],
                "committer": person(&c["committer"]),
                "message": c["message"],
                "tree": {"sha": c["tree"]["sha"]},
            }),
            "id" => v["node_id"].clone(),
            "parents" => Value::Array(
                v["parents"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| json!({"sha": p["sha"], "url": p["html_url"]}))
                    .collect(),
            ),
            "repository" => {
                let r = &v["repository"];
                json!({
                    "description": r["description"].as_str().unwrap_or(""),
                    "fullName": r["full_name"],
                    "id": r["node_id"],
                    "isFork": r["fork"],
                    "isPrivate": r["private"],
                    "name": r["name"],
                    "owner": user(&r["owner"]),
                    "url": r["html_url"],
                })
            }
            "sha" => v["sha"].clone(),
            "url" => v["html_url"].clone(),
            _ => Value::Null,
        };
        out.insert(field.clone(), value);
    }
    Value::Object(out)
}
