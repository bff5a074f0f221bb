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
    /// Under repos/OWNER/NAME/, e.g. pulls/1/files.
    #[serde(default)]
    pub path: String,
    /// Query parameters.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// contents/PATH as raw text.
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

/// Most pages one paginated GET reads (100 items each at GitHub's largest `per_page`).
const MAX_PAGES: usize = 10;

/// GETs every page of `args` (from its `page`, default 1) for `user`, as `gh api --paginate`:
/// each page's body as text. A page of a JSON array shorter than `per_page` (GitHub's default
/// 30) is the last; an empty page after the first is dropped (gh, following `Link` headers,
/// never asks for it). More than [`MAX_PAGES`] pages is refused, naming the bound.
pub(crate) async fn api_get_pages(
    clients: &Clients,
    user: &str,
    args: &ApiArgs,
) -> Result<Vec<String>, Error> {
    let per_page: usize = match args.query.get("per_page") {
        Some(n) => n
            .parse()
            .map_err(|_| Error::invalid(format!("per_page '{n}' is not a number")))?,
        None => 30,
    };
    let first: usize = match args.query.get("page") {
        Some(n) => n
            .parse()
            .map_err(|_| Error::invalid(format!("page '{n}' is not a number")))?,
        None => 1,
    };
    let mut pages = Vec::new();
    let mut args = args.clone();
    // One page past the bound may be read: only to see that it is empty.
    for page in first..=first + MAX_PAGES {
        if page != first {
            args.query.insert("page".into(), page.to_string());
        }
        let body = api_get(clients, user, &args).await?;
        let len = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.as_array().map(Vec::len));
        match len {
            Some(0) if !pages.is_empty() => return Ok(pages),
            _ if pages.len() == MAX_PAGES => break,
            Some(n) if n >= per_page && per_page > 0 => pages.push(body),
            _ => {
                pages.push(body);
                return Ok(pages);
            }
        }
    }
    Err(Error::invalid(format!(
        "--paginate reads at most {MAX_PAGES} pages; narrow the request or ask page by page (?per_page=100&page={})",
        first + MAX_PAGES
    )))
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
