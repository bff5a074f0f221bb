//! `gh issue list|view|create|comment|edit`.

use http::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::pages::Listed;
use super::request::Req;
use super::{
    Clients, Error, Output, RepoName, assignee_logins, day, label_names, limit_of, list_output,
    login, more_line_words, s,
};

/// Issue state filter.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StateFilter {
    #[default]
    Open,
    Closed,
    All,
}

impl StateFilter {
    fn as_str(self) -> &'static str {
        match self {
            StateFilter::Open => "open",
            StateFilter::Closed => "closed",
            StateFilter::All => "all",
        }
    }
}

/// Arguments of `gh_issue_list`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueListArgs {
    pub repo: Option<String>,
    #[serde(default)]
    pub state: StateFilter,
    #[serde(default)]
    pub label: Vec<String>,
    pub assignee: Option<String>,
    pub author: Option<String>,
    pub limit: Option<usize>,
}

/// Arguments of `gh_issue_view`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueViewArgs {
    pub repo: Option<String>,
    pub number: u64,
    /// Max comments shown.
    pub limit: Option<usize>,
}

/// Arguments of `gh_issue_create`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueCreateArgs {
    pub repo: Option<String>,
    pub title: String,
    pub body: Option<String>,
    #[serde(default)]
    pub label: Vec<String>,
    #[serde(default)]
    pub assignee: Vec<String>,
}

/// Arguments of `gh_issue_comment`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueCommentArgs {
    pub repo: Option<String>,
    pub number: u64,
    pub body: String,
}

/// New issue state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Open,
    Closed,
}

/// Why an issue was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Completed,
    NotPlanned,
}

/// Arguments of `gh_issue_edit`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueEditArgs {
    pub repo: Option<String>,
    pub number: u64,
    pub title: Option<String>,
    pub body: Option<String>,
    #[serde(default)]
    pub add_label: Vec<String>,
    #[serde(default)]
    pub remove_label: Vec<String>,
    #[serde(default)]
    pub add_assignee: Vec<String>,
    #[serde(default)]
    pub remove_assignee: Vec<String>,
    pub state: Option<State>,
    pub reason: Option<Reason>,
}

pub(crate) const LIST_FIELDS: &[&str] = &[
    "number",
    "title",
    "state",
    "labels",
    "author",
    "assignees",
    "comments",
    "createdAt",
    "updatedAt",
    "url",
];

pub(crate) const VIEW_FIELDS: &[&str] = &[
    "number",
    "title",
    "state",
    "stateReason",
    "labels",
    "author",
    "assignees",
    "body",
    "createdAt",
    "closedAt",
    "url",
    "comments",
];

/// The gh-shaped record of an issue (or pull request) from GitHub's REST object.
pub(crate) fn issue_record(v: &Value) -> Value {
    json!({
        "number": v["number"],
        "title": s(v, "title"),
        "state": s(v, "state").to_ascii_uppercase(),
        "labels": label_names(v),
        "author": login(v, "user"),
        "assignees": assignee_logins(v),
        "comments": v["comments"],
        "createdAt": v["created_at"],
        "updatedAt": v["updated_at"],
        "url": s(v, "html_url"),
    })
}

/// `#12  OPEN  Title  label1, label2  alice`, as in the issue list.
pub(crate) fn issue_line(r: &Value) -> String {
    let labels: Vec<&str> = r["labels"]
        .as_array()
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    format!(
        "#{}  {}  {}  {}  {}",
        r["number"],
        r["state"].as_str().unwrap_or(""),
        r["title"].as_str().unwrap_or(""),
        labels.join(", "),
        r["author"].as_str().unwrap_or(""),
    )
}

/// The REST records of the issues `gh_issue_list` lists: issues only (GitHub's list includes
/// pull requests; gh's does not), newest first. The JSON tool and the run form's `gh issue
/// list` both print from these.
pub(crate) async fn issue_items(
    clients: &Clients,
    user: &str,
    args: &IssueListArgs,
) -> Result<(RepoName, Listed), Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    let limit = limit_of(args.limit)?;
    let mut req = Req::get(repo.api("/issues"), format!("repository {repo}"))
        .query("state", args.state.as_str());
    if !args.label.is_empty() {
        req = req.query("labels", args.label.join(","));
    }
    if let Some(a) = &args.assignee {
        req = req.query("assignee", a);
    }
    if let Some(a) = &args.author {
        req = req.query("creator", a);
    }
    let listed = clients
        .list(user, &req, limit, |v| v.get("pull_request").is_none())
        .await?;
    Ok((repo, listed))
}

/// Runs `gh_issue_list`.
pub async fn issue_list(
    clients: &Clients,
    user: &str,
    args: &IssueListArgs,
) -> Result<Output, Error> {
    let (repo, listed) = issue_items(clients, user, args).await?;
    let records: Vec<Value> = listed.items.iter().map(issue_record).collect();
    let lines = records.iter().map(issue_line).collect();
    Ok(list_output(
        lines,
        records,
        LIST_FIELDS,
        listed.more,
        "issues",
        &format!("no {} issues in {repo}", args.state.as_str()),
    ))
}

/// The REST record of issue `number` and, when it has any, its comments (at most `limit`).
pub(crate) async fn issue_with_comments(
    clients: &Clients,
    user: &str,
    repo: &RepoName,
    number: u64,
    limit: usize,
) -> Result<(Value, Option<Listed>), Error> {
    let what = format!("issue #{number} in {repo}");
    let path = repo.api(&format!("/issues/{number}"));
    let v = clients
        .json(user, &Req::get(path.clone(), what.clone()))
        .await?;
    let comments = if v["comments"].as_u64().unwrap_or(1) == 0 {
        None
    } else {
        Some(
            clients
                .list_all(user, &Req::get(format!("{path}/comments"), what), limit)
                .await?,
        )
    };
    Ok((v, comments))
}

/// Runs `gh_issue_view` with the issue's comments.
pub async fn issue_view(
    clients: &Clients,
    user: &str,
    args: &IssueViewArgs,
) -> Result<Output, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    let limit = limit_of(args.limit)?;
    let (v, comments) = issue_with_comments(clients, user, &repo, args.number, limit).await?;
    let mut data = issue_record(&v);
    let mut text = view_header(&v, &data);
    let (records, more) = match comments {
        Some(listed) => append_comments(&mut text, &listed),
        None => (Vec::new(), None),
    };
    let extra = json!({
        "stateReason": v["state_reason"],
        "body": s(&v, "body"),
        "closedAt": v["closed_at"],
        "comments": records,
    });
    if let (Some(d), Value::Object(e)) = (data.as_object_mut(), extra) {
        d.extend(e);
    }
    Ok(Output {
        text,
        data,
        fields: VIEW_FIELDS,
        more,
    })
}

/// `gh issue view`'s head: title, state line, labels, assignees, URL and the description.
fn view_header(v: &Value, data: &Value) -> String {
    let mut text = format!(
        "{} #{}\n{} · {} opened {} · {} comments",
        s(v, "title"),
        v["number"],
        data["state"].as_str().unwrap_or(""),
        login(v, "user"),
        day(s(v, "created_at")),
        v["comments"],
    );
    let labels = label_names(v);
    if !labels.is_empty() {
        text.push_str(&format!("\nlabels: {}", labels.join(", ")));
    }
    let assignees = assignee_logins(v);
    if !assignees.is_empty() {
        text.push_str(&format!("\nassignees: {}", assignees.join(", ")));
    }
    text.push('\n');
    text.push_str(s(v, "html_url"));
    let body = s(v, "body").trim_end();
    text.push_str("\n\n");
    text.push_str(if body.is_empty() {
        "(no description)"
    } else {
        body
    });
    text
}

/// Appends each comment to `text`; their records, and the "more" line when some were left out.
fn append_comments(text: &mut String, listed: &Listed) -> (Vec<Value>, Option<String>) {
    let mut records = Vec::new();
    for c in &listed.items {
        text.push_str(&format!(
            "\n\n--- {} · {}\n{}",
            login(c, "user"),
            day(s(c, "created_at")),
            s(c, "body").trim_end()
        ));
        records.push(json!({
            "author": login(c, "user"),
            "createdAt": c["created_at"],
            "body": s(c, "body"),
        }));
    }
    let more = listed.more.words().and_then(|n| {
        text.push('\n');
        more_line_words(text, &n, "comments", "raise limit")
    });
    (records, more)
}

/// Runs `gh_issue_create`; the text is the new issue's URL, as gh prints it.
pub async fn issue_create(
    clients: &Clients,
    user: &str,
    args: &IssueCreateArgs,
) -> Result<Output, Error> {
    Ok(written(&create_issue(clients, user, args).await?))
}

/// Opens an issue; its REST record.
pub(crate) async fn create_issue(
    clients: &Clients,
    user: &str,
    args: &IssueCreateArgs,
) -> Result<Value, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    if args.title.trim().is_empty() {
        return Err(Error::invalid("title must not be empty"));
    }
    let mut body = Map::new();
    body.insert("title".into(), json!(args.title));
    if let Some(b) = &args.body {
        body.insert("body".into(), json!(b));
    }
    if !args.label.is_empty() {
        body.insert("labels".into(), json!(args.label));
    }
    if !args.assignee.is_empty() {
        body.insert("assignees".into(), json!(args.assignee));
    }
    let req = Req::with_body(
        Method::POST,
        repo.api("/issues"),
        Value::Object(body),
        format!("repository {repo}"),
    );
    clients.json(user, &req).await
}

/// Runs `gh_issue_comment`; the text is the comment's URL.
pub async fn issue_comment(
    clients: &Clients,
    user: &str,
    args: &IssueCommentArgs,
) -> Result<Output, Error> {
    let v = comment_on(clients, user, args).await?;
    let url = s(&v, "html_url").to_owned();
    Ok(Output {
        text: url.clone(),
        data: json!({ "id": v["id"], "url": url, "author": login(&v, "user") }),
        fields: &["id", "url", "author"],
        more: None,
    })
}

/// Comments on an issue or pull request; the comment's REST record.
pub(crate) async fn comment_on(
    clients: &Clients,
    user: &str,
    args: &IssueCommentArgs,
) -> Result<Value, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    if args.body.trim().is_empty() {
        return Err(Error::invalid("body must not be empty"));
    }
    let req = Req::with_body(
        Method::POST,
        repo.api(&format!("/issues/{}/comments", args.number)),
        json!({ "body": args.body }),
        format!("issue #{} in {repo}", args.number),
    );
    clients.json(user, &req).await
}

/// Runs `gh_issue_edit`: title, body, labels and assignees added or removed, close or reopen.
/// The text is the issue's URL, as `gh issue edit` prints it.
pub async fn issue_edit(
    clients: &Clients,
    user: &str,
    args: &IssueEditArgs,
) -> Result<Output, Error> {
    let v = edit_issue(clients, user, args).await?;
    Ok(Output {
        text: s(&v, "html_url").to_owned(),
        data: issue_record(&v),
        fields: LIST_FIELDS,
        more: None,
    })
}

/// The REST record of issue (or pull request) `number`.
pub(crate) async fn get_issue(
    clients: &Clients,
    user: &str,
    repo: &RepoName,
    number: u64,
) -> Result<Value, Error> {
    let req = Req::get(
        repo.api(&format!("/issues/{number}")),
        format!("issue #{number} in {repo}"),
    );
    clients.json(user, &req).await
}

/// Edits an issue (or a pull request's issue side); its REST record after the edit.
pub(crate) async fn edit_issue(
    clients: &Clients,
    user: &str,
    args: &IssueEditArgs,
) -> Result<Value, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    let what = format!("issue #{} in {repo}", args.number);
    let path = repo.api(&format!("/issues/{}", args.number));
    let mut patch = Map::new();
    if let Some(t) = &args.title {
        if t.trim().is_empty() {
            return Err(Error::invalid("title must not be empty"));
        }
        patch.insert("title".into(), json!(t));
    }
    if let Some(b) = &args.body {
        patch.insert("body".into(), json!(b));
    }
    let labels_change = !args.add_label.is_empty() || !args.remove_label.is_empty();
    let assignees_change = !args.add_assignee.is_empty() || !args.remove_assignee.is_empty();
    if labels_change || assignees_change {
        // The REST API sets whole lists, so read the current ones first.
        let current = clients
            .json(user, &Req::get(path.clone(), what.clone()))
            .await?;
        lists_patch(&mut patch, &current, args);
    }
    state_patch(&mut patch, args.state, args.reason)?;
    if patch.is_empty() {
        return Err(Error::invalid("nothing to edit"));
    }
    clients
        .json(
            user,
            &Req::with_body(Method::PATCH, path, Value::Object(patch), what),
        )
        .await
}

/// The labels and assignees `args` change, as whole lists over `current`'s.
fn lists_patch(patch: &mut Map<String, Value>, current: &Value, args: &IssueEditArgs) {
    if !args.add_label.is_empty() || !args.remove_label.is_empty() {
        patch.insert(
            "labels".into(),
            json!(changed(
                label_names(current),
                &args.add_label,
                &args.remove_label
            )),
        );
    }
    if !args.add_assignee.is_empty() || !args.remove_assignee.is_empty() {
        patch.insert(
            "assignees".into(),
            json!(changed(
                assignee_logins(current),
                &args.add_assignee,
                &args.remove_assignee
            )),
        );
    }
}

/// `state` (and, closing, `state_reason`); a reason without closing is refused.
fn state_patch(
    patch: &mut Map<String, Value>,
    state: Option<State>,
    reason: Option<Reason>,
) -> Result<(), Error> {
    match (state, reason) {
        (Some(State::Closed), reason) => {
            patch.insert("state".into(), json!("closed"));
            let reason = match reason.unwrap_or(Reason::Completed) {
                Reason::Completed => "completed",
                Reason::NotPlanned => "not_planned",
            };
            patch.insert("state_reason".into(), json!(reason));
        }
        (Some(State::Open), None) => {
            patch.insert("state".into(), json!("open"));
        }
        (Some(State::Open), Some(_)) => {
            return Err(Error::invalid("reason applies only with state closed"));
        }
        (None, Some(_)) => return Err(Error::invalid("reason needs state closed")),
        (None, None) => {}
    }
    Ok(())
}

/// `current` with `add` appended (once) and `remove` taken out.
fn changed(mut current: Vec<String>, add: &[String], remove: &[String]) -> Vec<String> {
    for a in add {
        if !current.contains(a) {
            current.push(a.clone());
        }
    }
    current.retain(|c| !remove.contains(c));
    current
}

/// Output of a create: the URL as text, number and URL as data.
pub(crate) fn written(v: &Value) -> Output {
    let url = s(v, "html_url").to_owned();
    Output {
        text: url.clone(),
        data: json!({ "number": v["number"], "url": url }),
        fields: &["number", "url"],
        more: None,
    }
}
