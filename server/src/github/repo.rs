//! `gh repo view`: a repository's summary.

use serde::Deserialize;
use serde_json::{Value, json};

use super::request::Req;
use super::{Clients, Error, Output, RepoName, s};

/// Arguments of `gh_repo_view`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepoViewArgs {
    /// OWNER/NAME.
    pub repo: Option<String>,
}

pub(crate) const FIELDS: &[&str] = &[
    "nameWithOwner",
    "description",
    "defaultBranch",
    "visibility",
    "isFork",
    "isArchived",
    "stargazerCount",
    "forkCount",
    "openIssues",
    "pushedAt",
    "url",
];

/// The REST record of `repo`.
pub(crate) async fn repo_record(
    clients: &Clients,
    user: &str,
    repo: &RepoName,
) -> Result<Value, Error> {
    clients
        .json(user, &Req::get(repo.api(""), format!("repository {repo}")))
        .await
}

/// The text of `repo`'s README, or `None` when it has none.
pub(crate) async fn readme_text(
    clients: &Clients,
    user: &str,
    repo: &RepoName,
) -> Result<Option<String>, Error> {
    let mut req = Req::get(repo.api("/readme"), format!("the README of {repo}"));
    req.accept = Some("application/vnd.github.raw");
    match clients.send(user, &req).await {
        Ok(reply) => Ok(Some(reply.body)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Runs `gh_repo_view`.
pub async fn repo_view(
    clients: &Clients,
    user: &str,
    args: &RepoViewArgs,
) -> Result<Output, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    let v = repo_record(clients, user, &repo).await?;
    let data = json!({
        "nameWithOwner": s(&v, "full_name"),
        "description": v["description"],
        "defaultBranch": s(&v, "default_branch"),
        "visibility": v["visibility"].as_str().unwrap_or(if v["private"] == Value::Bool(true) { "private" } else { "public" }),
        "isFork": v["fork"].as_bool().unwrap_or(false),
        "isArchived": v["archived"].as_bool().unwrap_or(false),
        "stargazerCount": v["stargazers_count"].as_u64().unwrap_or(0),
        "forkCount": v["forks_count"].as_u64().unwrap_or(0),
        "openIssues": v["open_issues_count"].as_u64().unwrap_or(0),
        "pushedAt": v["pushed_at"],
        "url": s(&v, "html_url"),
    });
    let mut text = format!(
        "name:\t{}\ndescription:\t{}\ndefault branch:\t{}\nvisibility:\t{}\nstars:\t{}  forks:\t{}  open issues:\t{}\nurl:\t{}",
        data["nameWithOwner"].as_str().unwrap_or(""),
        data["description"].as_str().unwrap_or(""),
        data["defaultBranch"].as_str().unwrap_or(""),
        data["visibility"].as_str().unwrap_or(""),
        data["stargazerCount"],
        data["forkCount"],
        data["openIssues"],
        data["url"].as_str().unwrap_or(""),
    );
    if data["isArchived"] == Value::Bool(true) {
        text.push_str("\narchived");
    }
    Ok(Output {
        text,
        data,
        fields: FIELDS,
        more: None,
    })
}
