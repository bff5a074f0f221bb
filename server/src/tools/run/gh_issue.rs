//! `gh issue list` and `gh issue view`: the backend's issue records printed as gh 2.23 prints
//! them when its output is not a terminal (a tab-separated table; `key:\tvalue` lines).

use serde_json::Value;

use super::Runner;
use super::gh::{self, Failed, Flag, Gh, JQ, JSON, Printed, REPO, switch, value};
use super::gh_json::{self, Export, Extra, ISSUE_LIST_FIELDS, ISSUE_VIEW_FIELDS};
use crate::github::records::{self, StateFilter};
use crate::github::{IssueListArgs, SearchIssuesArgs};

const LIST_FLAGS: &[Flag] = &[
    value("limit", Some('L')),
    value("state", Some('s')),
    value("label", Some('l')),
    value("author", Some('A')),
    value("assignee", Some('a')),
    value("search", Some('S')),
    REPO,
    JSON,
    JQ,
];

const VIEW_FLAGS: &[Flag] = &[switch("comments", Some('c')), REPO, JSON, JQ];

/// gh's `--limit`: a positive number.
pub(super) fn limit(parsed: &gh::Parsed) -> Result<Option<usize>, Failed> {
    match parsed.last("limit") {
        None => Ok(None),
        Some(l) => match l.parse::<usize>() {
            Ok(0) | Err(_) => Err(Failed(format!("invalid limit: {l}"))),
            Ok(n) => Ok(Some(n)),
        },
    }
}

/// `gh issue list`.
pub(super) fn list(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
) -> Result<Printed, Failed> {
    let p = gh::parse("gh issue list", LIST_FLAGS, rest)?;
    if let Some(extra) = p.args.first() {
        return Err(Failed(format!(
            "unknown argument {extra:?} for \"gh issue list\""
        )));
    }
    let export = p.export(ISSUE_LIST_FIELDS)?;
    let state = match p.last("state").unwrap_or("open") {
        "open" => StateFilter::Open,
        "closed" => StateFilter::Closed,
        "all" => StateFilter::All,
        other => {
            return Err(Failed(format!(
                "invalid argument \"{other}\" for \"-s, --state\" flag: valid values are {{open|closed|all}}"
            )));
        }
    };
    let args = IssueListArgs {
        repo: p.repo(),
        state,
        label: p.list("label"),
        assignee: p.last("assignee").map(str::to_owned),
        author: p.last("author").map(str::to_owned),
        limit: limit(&p)?,
    };
    let search = p.last("search").map(str::to_owned);
    let (tool, repo) = match search {
        Some(_) => ("gh_search_issues", args.repo.clone()),
        None => ("gh_issue_list", args.repo.clone()),
    };
    runner.gh_call(tool, argv, repo, None, |gh| {
        let items = match &search {
            None => {
                gh.wait(records::issue_items(gh.clients, gh.user, &args))?
                    .1
                    .items
            }
            Some(query) => {
                let search = SearchIssuesArgs {
                    query: query.clone(),
                    repo: args.repo.clone(),
                    state: (state != StateFilter::All)
                        .then(|| p.last("state").unwrap_or("open").to_owned()),
                    label: args.label.clone(),
                    assignee: args.assignee.clone(),
                    author: args.author.clone(),
                    include_prs: false,
                    limit: args.limit,
                };
                gh.wait(records::search_issue_items(gh.clients, gh.user, &search))?
                    .0
            }
        };
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

/// One row of gh's issue table: number, state, title, labels, time of the last update.
fn table_row(v: &Value) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\n",
        v["number"],
        gh_json::state(v, false),
        gh::one_line(v["title"].as_str().unwrap_or("")),
        label_list(v),
        gh::go_time(&v["updated_at"]),
    )
}

/// Label names, comma-separated.
pub(super) fn label_list(v: &Value) -> String {
    names(&v["labels"], "name")
}

/// The `key` of each object in `list`, comma-separated.
pub(super) fn names(list: &Value, key: &str) -> String {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x[key].as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The users, comments and viewer the exported fields of `items` need, each fetched once.
pub(super) fn extra_for(
    gh: &Gh<'_>,
    export: &Export,
    items: &[Value],
    comments: &[Value],
) -> Result<Extra, Failed> {
    let logins = gh_json::logins_needed(export, items);
    let users = if logins.is_empty() {
        Default::default()
    } else {
        gh.wait(records::users_by_login(gh.clients, gh.user, logins))?
    };
    let viewer = if export.wants(&["comments"]) && !comments.is_empty() {
        let v = gh.wait(records::viewer(gh.clients, gh.user))?;
        v["login"].as_str().unwrap_or("").to_owned()
    } else {
        String::new()
    };
    Ok(Extra {
        users,
        comments: comments.to_vec(),
        viewer,
        ..Extra::default()
    })
}

/// Most comments `gh issue view --comments` prints (GitHub's own page holds a hundred).
const MAX_COMMENTS: usize = 100;

/// `gh issue view N`.
pub(super) fn view(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
) -> Result<Printed, Failed> {
    let p = gh::parse("gh issue view", VIEW_FLAGS, rest)?;
    let export = p.export(ISSUE_VIEW_FIELDS)?;
    let n = gh::number("gh issue view", &p)?;
    runner.gh_call("gh_issue_view", argv, p.repo(), Some(n), |gh| {
        let repo = records::RepoName::resolve(gh.clients, p.repo().as_deref())
            .map_err(|e| Failed(e.to_string()))?;
        let (v, comments) = gh
            .wait_raw(records::issue_with_comments(
                gh.clients,
                gh.user,
                &repo,
                n,
                MAX_COMMENTS,
            ))
            .map_err(|e| not_found(e, n, "an issue or pull request", "repository.issue"))?;
        let comments = comments.map(|c| c.items).unwrap_or_default();
        if let Some(export) = &export {
            let extra = extra_for(gh, export, std::slice::from_ref(&v), &comments)?;
            return runner.export(export, gh_json::object(export, &v, &extra));
        }
        if p.on("comments") {
            return Ok(comments.iter().map(raw_comment).collect());
        }
        Ok(preview(&v).into())
    })
}

/// The backend's "not found" as gh words it (its GraphQL error).
pub(super) fn not_found(e: crate::github::Error, n: u64, what: &str, path: &str) -> Failed {
    match e {
        crate::github::Error::NotFound { .. } => Failed(format!(
            "GraphQL: Could not resolve to {what} with the number of {n}. ({path})"
        )),
        e => Failed(crate::tools::ToolError::from(e).message),
    }
}

/// gh's raw preview of an issue.
fn preview(v: &Value) -> String {
    let milestone = v["milestone"]["title"].as_str().unwrap_or("");
    format!(
        "title:\t{}\nstate:\t{}\nauthor:\t{}\nlabels:\t{}\ncomments:\t{}\nassignees:\t{}\nprojects:\t\nmilestone:\t{milestone}\nnumber:\t{}\n--\n{}\n",
        v["title"].as_str().unwrap_or(""),
        gh_json::state(v, false),
        v["user"]["login"].as_str().unwrap_or(""),
        label_list(v),
        v["comments"].as_u64().unwrap_or(0),
        names(&v["assignees"], "login"),
        v["number"],
        v["body"].as_str().unwrap_or(""),
    )
}

/// One comment as gh's `--comments` prints it without a terminal.
pub(super) fn raw_comment(c: &Value) -> String {
    format!(
        "author:\t{}\nassociation:\t{}\nedited:\tfalse\nstatus:\tnone\n--\n{}\n--\n",
        c["user"]["login"].as_str().unwrap_or(""),
        c["author_association"]
            .as_str()
            .unwrap_or("none")
            .to_ascii_lowercase(),
        c["body"].as_str().unwrap_or(""),
    )
}
