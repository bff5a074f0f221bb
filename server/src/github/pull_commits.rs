//! A pull request's commits as a list (gh_pr_view's `commits` is only their count).

use serde::Deserialize;
use serde_json::json;

use super::pages::Listed;
use super::request::Req;
use super::{Clients, Error, Output, RepoName, limit_of, list_output, s};

/// Arguments of `gh_pr_commits`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrCommitsArgs {
    pub repo: Option<String>,
    pub number: u64,
    pub limit: Option<usize>,
}

pub(crate) const COMMIT_FIELDS: &[&str] = &["oid", "messageHeadline", "authorName", "authoredDate"];

/// The REST records of a pull request's commits, oldest first (at most `limit`).
pub(crate) async fn pr_commit_items(
    clients: &Clients,
    user: &str,
    repo: &RepoName,
    number: u64,
    limit: usize,
) -> Result<Listed, Error> {
    let req = Req::get(
        repo.api(&format!("/pulls/{number}/commits")),
        format!("pull request #{number} in {repo}"),
    );
    clients.list_all(user, &req, limit).await
}

/// Runs `gh_pr_commits`: `abc1234 subject` per commit, oldest first.
pub async fn pr_commits(
    clients: &Clients,
    user: &str,
    args: &PrCommitsArgs,
) -> Result<Output, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    let limit = limit_of(args.limit)?;
    let listed = pr_commit_items(clients, user, &repo, args.number, limit).await?;
    let mut lines = Vec::new();
    let mut records = Vec::new();
    for c in &listed.items {
        let sha = s(c, "sha");
        let message = s(&c["commit"], "message");
        let headline = message.lines().next().unwrap_or("");
        lines.push(format!("{} {headline}", sha.get(..7).unwrap_or(sha)));
        records.push(json!({
            "oid": sha,
            "messageHeadline": headline,
            "authorName": s(&c["commit"]["author"], "name"),
            "authoredDate": c["commit"]["author"]["date"],
        }));
    }
    Ok(list_output(
        lines,
        records,
        COMMIT_FIELDS,
        listed.more,
        "commits",
        "no commits",
    ))
}
