//! `gh api` for GET inside one repository: `repos/OWNER/NAME/<path>` and nothing else, so the
//! repository named is the one policy judged against the caller's grants. The answer is
//! GitHub's body as it came (JSON, or a file's raw bytes).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::request::Req;
use super::{Clients, Error, Output, RepoName, upstream_path};

/// Arguments of `gh_api`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiArgs {
    /// OWNER/NAME.
    pub repo: Option<String>,
    /// Path under repos/OWNER/NAME/, e.g. issues/1/comments ("" for the repository).
    #[serde(default)]
    pub path: String,
    /// Query parameters (per_page, page, state, sort, direction, ref, ...).
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// A file's raw contents (Accept: application/vnd.github.raw).
    #[serde(default)]
    pub raw: bool,
}

/// Query parameters passed on: those GitHub's repository GET endpoints read. Anything else is
/// refused by name rather than sent.
pub(crate) const QUERY_KEYS: &[&str] = &[
    "per_page",
    "page",
    "state",
    "sort",
    "direction",
    "labels",
    "since",
    "until",
    "ref",
    "sha",
    "path",
    "author",
    "creator",
    "assignee",
    "mentioned",
    "milestone",
    "base",
    "head",
    "recursive",
    "protected",
    "affiliation",
    "filter",
];

/// GETs `repos/OWNER/NAME/<path>` for `user`; GitHub's body as text.
pub(crate) async fn api_get(
    clients: &Clients,
    user: &str,
    args: &ApiArgs,
) -> Result<String, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    let path = upstream_path(&args.path)?;
    let rest = if path.is_empty() {
        String::new()
    } else {
        format!("/{path}")
    };
    let mut req = Req::get(repo.api(&rest), format!("{} in {repo}", args.path));
    for (key, value) in &args.query {
        let Some(known) = QUERY_KEYS.iter().find(|k| **k == key.as_str()) else {
            return Err(Error::invalid(format!(
                "query parameter '{key}' is not passed on; known: {}",
                QUERY_KEYS.join(", ")
            )));
        };
        req = req.query(known, value);
    }
    if args.raw {
        req.accept = Some("application/vnd.github.raw");
    }
    Ok(clients.send(user, &req).await?.body)
}

/// Runs `gh_api`.
pub async fn api(clients: &Clients, user: &str, args: &ApiArgs) -> Result<Output, Error> {
    let text = api_get(clients, user, args).await?;
    let data = serde_json::from_str::<Value>(&text).unwrap_or_else(|_| json!(text));
    Ok(Output {
        text,
        data,
        fields: &[],
        more: None,
    })
}
