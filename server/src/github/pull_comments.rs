//! A pull request's conversation: its issue comments and its review comments (remarks on a
//! line of a file, in threads), for `gh_pr_view` with `comments`, and `gh_pr_comment`, which
//! comments on the pull request or replies in a review thread.

use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::pages::Listed;
use super::request::Req;
use super::{Clients, Error, Output, RepoName, day, login, more_line_words, s};

/// Comments of each kind listed at most (GitHub's page size; the "more" line says the rest).
const MAX_COMMENTS: usize = 100;

/// Arguments of `gh_pr_comment`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrCommentArgs {
    pub repo: Option<String>,
    pub number: u64,
    pub body: String,
    /// A review comment id.
    pub reply_to: Option<u64>,
}

/// Issue comments and review comments of pull request `number`, each oldest first.
pub(crate) async fn conversation(
    clients: &Clients,
    user: &str,
    repo: &RepoName,
    number: u64,
) -> Result<(Listed, Listed), Error> {
    let what = format!("pull request #{number} in {repo}");
    let issue = Req::get(
        repo.api(&format!("/issues/{number}/comments")),
        what.clone(),
    );
    let review = Req::get(repo.api(&format!("/pulls/{number}/comments")), what);
    let issue = clients.list_all(user, &issue, MAX_COMMENTS).await?;
    let review = clients.list_all(user, &review, MAX_COMMENTS).await?;
    Ok((issue, review))
}

/// Appends the conversation, oldest first, to `text`: `--- author · day`, and for a review
/// comment its `path:line` and ids (to reply with `reply_to`); returns the records.
pub(crate) fn append_conversation(
    text: &mut String,
    issue: &Listed,
    review: &Listed,
) -> (Vec<Value>, Option<String>) {
    let mut all: Vec<(&str, Value, String)> = Vec::new();
    for c in &issue.items {
        let head = format!("--- {} · {}", login(c, "user"), day(s(c, "created_at")));
        let record = json!({
            "author": login(c, "user"), "createdAt": c["created_at"], "body": s(c, "body"),
        });
        all.push((s(c, "created_at"), record, head));
    }
    for c in &review.items {
        let place = format!("{}:{}", s(c, "path"), c["line"]);
        let ids = match c["in_reply_to_id"].as_u64() {
            Some(to) => format!("id {}, reply to {to}", c["id"]),
            None => format!("id {}", c["id"]),
        };
        let head = format!(
            "--- {} · {} · {place} ({ids})",
            login(c, "user"),
            day(s(c, "created_at"))
        );
        let record = json!({
            "author": login(c, "user"), "createdAt": c["created_at"], "body": s(c, "body"),
            "id": c["id"], "path": s(c, "path"), "line": c["line"],
            "inReplyTo": c["in_reply_to_id"],
        });
        all.push((s(c, "created_at"), record, head));
    }
    // RFC 3339 UTC times sort as text; the sort is stable, so ties keep issue comments first.
    all.sort_by(|a, b| a.0.cmp(b.0));
    let mut records = Vec::with_capacity(all.len());
    for (_, record, head) in all {
        text.push_str(&format!(
            "\n\n{head}\n{}",
            record["body"].as_str().unwrap_or("").trim_end()
        ));
        records.push(record);
    }
    let mut more = None;
    for (listed, what) in [(issue, "comments"), (review, "review comments")] {
        if let Some(n) = listed.more.words() {
            text.push('\n');
            more = more_line_words(text, &n, what, "see the pull request on GitHub");
        }
    }
    (records, more)
}

/// Runs `gh_pr_comment`: a comment on the pull request, or a reply in a review thread; the
/// text is the new comment's URL, as gh prints it.
pub async fn pr_comment(
    clients: &Clients,
    user: &str,
    args: &PrCommentArgs,
) -> Result<Output, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    if args.body.trim().is_empty() {
        return Err(Error::invalid("body must not be empty"));
    }
    let n = args.number;
    let path = match args.reply_to {
        Some(id) => repo.api(&format!("/pulls/{n}/comments/{id}/replies")),
        None => repo.api(&format!("/issues/{n}/comments")),
    };
    let req = Req::with_body(
        Method::POST,
        path,
        json!({"body": args.body}),
        format!("pull request #{n} in {repo}"),
    );
    let v = clients.json(user, &req).await?;
    let url = s(&v, "html_url").to_owned();
    Ok(Output {
        text: url.clone(),
        data: json!({"id": v["id"], "url": url}),
        fields: &[],
        more: None,
    })
}
