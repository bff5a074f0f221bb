//! `gh pr edit`, `close` and `reopen`: a pull request's title, body, base, labels and
//! assignees, and its state (issue "Speak git and gh": gh_issue_edit used to stand in for it).

use http::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::issues::{IssueEditArgs, State, edit_issue};
use super::pulls::{LIST_FIELDS, pr_record};
use super::request::Req;
use super::{Clients, Error, Output, RepoName, s};

/// Arguments of `gh_pr_edit`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrEditArgs {
    pub repo: Option<String>,
    pub number: u64,
    pub title: Option<String>,
    pub body: Option<String>,
    pub base: Option<String>,
    #[serde(default)]
    pub add_label: Vec<String>,
    #[serde(default)]
    pub remove_label: Vec<String>,
    #[serde(default)]
    pub add_assignee: Vec<String>,
    #[serde(default)]
    pub remove_assignee: Vec<String>,
    pub state: Option<State>,
}

/// Runs `gh_pr_edit`: title, body, base, labels and assignees; close or reopen. The text is
/// the pull request's URL, as `gh pr edit` prints it.
pub async fn pr_edit(clients: &Clients, user: &str, args: &PrEditArgs) -> Result<Output, Error> {
    let v = edit_pr(clients, user, args).await?;
    Ok(Output {
        text: s(&v, "html_url").to_owned(),
        data: pr_record(&v),
        fields: LIST_FIELDS,
        more: None,
    })
}

/// Edits a pull request; its REST record after the edit. Labels and assignees are the issue
/// side of a pull request (GitHub edits them only there); the rest is the pull request's own.
pub(crate) async fn edit_pr(
    clients: &Clients,
    user: &str,
    args: &PrEditArgs,
) -> Result<Value, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    let lists = !args.add_label.is_empty()
        || !args.remove_label.is_empty()
        || !args.add_assignee.is_empty()
        || !args.remove_assignee.is_empty();
    if lists {
        let issue_side = IssueEditArgs {
            repo: args.repo.clone(),
            number: args.number,
            add_label: args.add_label.clone(),
            remove_label: args.remove_label.clone(),
            add_assignee: args.add_assignee.clone(),
            remove_assignee: args.remove_assignee.clone(),
            ..IssueEditArgs::default()
        };
        edit_issue(clients, user, &issue_side).await?;
    }
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
    if let Some(b) = &args.base {
        patch.insert("base".into(), json!(b));
    }
    match args.state {
        Some(State::Closed) => {
            patch.insert("state".into(), json!("closed"));
        }
        Some(State::Open) => {
            patch.insert("state".into(), json!("open"));
        }
        None => {}
    }
    let what = format!("pull request #{} in {repo}", args.number);
    let path = repo.api(&format!("/pulls/{}", args.number));
    if patch.is_empty() {
        if !lists {
            return Err(Error::invalid("nothing to edit"));
        }
        return clients.json(user, &Req::get(path, what)).await;
    }
    clients
        .json(
            user,
            &Req::with_body(Method::PATCH, path, Value::Object(patch), what),
        )
        .await
}
