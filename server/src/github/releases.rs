//! Releases on GitHub: `gh release list`, `gh release view` (a tag, or the latest) and `gh
//! release create`, over the releases REST API. The text is what gh 2.23 prints when its output
//! is not a terminal, so the JSON tools and the run form print one shape from one request path.

use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::request::{PATH_SEGMENT, Req};
use super::{Clients, Error, Output, RepoName, limit_of, s};

/// Arguments of `gh_release_list`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseListArgs {
    pub repo: Option<String>,
    pub limit: Option<usize>,
}

/// Arguments of `gh_release_view`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseViewArgs {
    pub repo: Option<String>,
    pub tag: Option<String>,
}

/// Arguments of `gh_release_create`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseCreateArgs {
    pub repo: Option<String>,
    pub tag: String,
    pub title: Option<String>,
    pub notes: Option<String>,
    /// Commit for a new tag (default branch).
    pub target: Option<String>,
    pub draft: Option<bool>,
    pub prerelease: Option<bool>,
}

pub(crate) const RELEASE_FIELDS: &[&str] = &[
    "name",
    "tagName",
    "isLatest",
    "isDraft",
    "isPrerelease",
    "createdAt",
    "publishedAt",
    "url",
];

/// A release as gh names its fields, `isLatest` from the repository's latest release.
fn release_record(v: &Value, latest: Option<u64>) -> Value {
    json!({
        "name": s(v, "name"),
        "tagName": s(v, "tag_name"),
        "isLatest": latest.is_some() && v["id"].as_u64() == latest,
        "isDraft": v["draft"] == Value::Bool(true),
        "isPrerelease": v["prerelease"] == Value::Bool(true),
        "createdAt": s(v, "created_at"),
        "publishedAt": v["published_at"].as_str().unwrap_or(""),
        "url": s(v, "html_url"),
    })
}

/// `/releases/tags/TAG` with each part of the tag encoded (tags may hold `/`).
fn tag_path(repo: &RepoName, tag: &str) -> String {
    let parts: Vec<String> = tag
        .split('/')
        .map(|p| percent_encoding::utf8_percent_encode(p, PATH_SEGMENT).to_string())
        .collect();
    repo.api(&format!("/releases/tags/{}", parts.join("/")))
}

/// The id of the latest release, or `None` when the repository has none.
async fn latest_id(clients: &Clients, user: &str, repo: &RepoName) -> Result<Option<u64>, Error> {
    let req = Req::get(
        repo.api("/releases/latest"),
        format!("latest release of {repo}"),
    );
    match clients.json(user, &req).await {
        Ok(v) => Ok(v["id"].as_u64()),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The newest `limit` releases as gh records, newest first.
pub(crate) async fn release_items(
    clients: &Clients,
    user: &str,
    repo: &RepoName,
    limit: Option<usize>,
) -> Result<Vec<Value>, Error> {
    let limit = limit_of(limit)?.min(100);
    let req =
        Req::get(repo.api("/releases"), format!("releases of {repo}")).query("per_page", limit);
    let v = clients.json(user, &req).await?;
    let latest = latest_id(clients, user, repo).await?;
    Ok(v.as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .take(limit)
        .map(|r| release_record(r, latest))
        .collect())
}

/// One row of `gh release list`: title (the tag when untitled), type, tag, publication time.
pub(crate) fn list_row(r: &Value) -> String {
    let name = r["name"].as_str().unwrap_or("");
    let title = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let tag = r["tagName"].as_str().unwrap_or("");
    let badge = if r["isLatest"] == Value::Bool(true) {
        "Latest"
    } else if r["isDraft"] == Value::Bool(true) {
        "Draft"
    } else if r["isPrerelease"] == Value::Bool(true) {
        "Pre-release"
    } else {
        ""
    };
    let published = match r["publishedAt"].as_str().unwrap_or("") {
        "" => r["createdAt"].as_str().unwrap_or(""),
        t => t,
    };
    let title = if title.is_empty() { tag } else { &title };
    format!("{title}\t{badge}\t{tag}\t{published}\n")
}

/// Runs `gh_release_list`.
pub async fn release_list(
    clients: &Clients,
    user: &str,
    args: &ReleaseListArgs,
) -> Result<Output, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    let items = release_items(clients, user, &repo, args.limit).await?;
    let text = if items.is_empty() {
        "no releases found".to_owned()
    } else {
        items.iter().map(list_row).collect::<String>()
    };
    Ok(Output {
        text: text.trim_end().to_owned(),
        data: Value::Array(items),
        fields: RELEASE_FIELDS,
        more: None,
    })
}

/// The REST release named by `tag`, or the latest one.
pub(crate) async fn get_release(
    clients: &Clients,
    user: &str,
    repo: &RepoName,
    tag: Option<&str>,
) -> Result<Value, Error> {
    let req = match tag {
        Some(tag) => Req::get(tag_path(repo, tag), format!("release {tag} in {repo}")),
        None => Req::get(
            repo.api("/releases/latest"),
            format!("latest release of {repo}"),
        ),
    };
    clients.json(user, &req).await
}

/// A release as `gh release view` prints it: a `key:\tvalue` block, `--`, then the notes.
pub(crate) fn view_text(v: &Value) -> String {
    let draft = v["draft"] == Value::Bool(true);
    let mut out = format!(
        "title:\t{}\ntag:\t{}\ndraft:\t{draft}\nprerelease:\t{}\nauthor:\t{}\ncreated:\t{}\n",
        s(v, "name"),
        s(v, "tag_name"),
        v["prerelease"] == Value::Bool(true),
        v["author"]["login"].as_str().unwrap_or(""),
        s(v, "created_at"),
    );
    if !draft {
        out.push_str(&format!(
            "published:\t{}\n",
            v["published_at"].as_str().unwrap_or("")
        ));
    }
    out.push_str(&format!("url:\t{}\n", s(v, "html_url")));
    for asset in v["assets"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        out.push_str(&format!("asset:\t{}\n", s(asset, "name")));
    }
    out.push_str("--\n");
    let body = s(v, "body");
    out.push_str(body);
    if !body.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// Runs `gh_release_view`.
pub async fn release_view(
    clients: &Clients,
    user: &str,
    args: &ReleaseViewArgs,
) -> Result<Output, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    let v = get_release(clients, user, &repo, args.tag.as_deref()).await?;
    let latest = latest_id(clients, user, &repo).await?;
    let mut data = release_record(&v, latest);
    data["body"] = Value::String(s(&v, "body").to_owned());
    data["author"] = Value::String(v["author"]["login"].as_str().unwrap_or("").to_owned());
    Ok(Output {
        text: view_text(&v).trim_end().to_owned(),
        data,
        fields: &[],
        more: None,
    })
}

/// Creates the release (tagging `target` when the tag does not exist yet); the REST answer.
pub(crate) async fn create_release(
    clients: &Clients,
    user: &str,
    repo: &RepoName,
    args: &ReleaseCreateArgs,
) -> Result<Value, Error> {
    let tag = args.tag.trim();
    if tag.is_empty() || tag.starts_with('-') {
        return Err(Error::invalid("tag must be a tag name such as v1.2.0"));
    }
    let mut body = json!({
        "tag_name": tag,
        "draft": args.draft.unwrap_or(false),
        "prerelease": args.prerelease.unwrap_or(false),
    });
    // As gh: name and notes only when given; GitHub then names the release after its tag.
    if let Some(title) = args.title.as_deref().filter(|t| !t.is_empty()) {
        body["name"] = Value::String(title.to_owned());
    }
    if let Some(notes) = args.notes.as_deref().filter(|n| !n.is_empty()) {
        body["body"] = Value::String(notes.to_owned());
    }
    if let Some(target) = args.target.as_deref().filter(|t| !t.is_empty()) {
        body["target_commitish"] = Value::String(target.to_owned());
    }
    let req = Req::with_body(
        Method::POST,
        repo.api("/releases"),
        body,
        format!("release {tag} in {repo}"),
    );
    clients.json(user, &req).await
}

/// Runs `gh_release_create`: prints the new release's URL, as gh does.
pub async fn release_create(
    clients: &Clients,
    user: &str,
    args: &ReleaseCreateArgs,
) -> Result<Output, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    let v = create_release(clients, user, &repo, args).await?;
    Ok(Output {
        text: s(&v, "html_url").to_owned(),
        data: release_record(&v, None),
        fields: &[],
        more: None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn list_rows_read_as_gh_prints_them() {
        let r = json!({"name": "  Big\n release ", "tagName": "v1", "isLatest": false,
            "isDraft": true, "isPrerelease": true, "publishedAt": "", "createdAt": "T"});
        assert_eq!(list_row(&r), "Big release\tDraft\tv1\tT\n");
        let r = json!({"name": "", "tagName": "v2", "isPrerelease": true, "publishedAt": "P"});
        assert_eq!(list_row(&r), "v2\tPre-release\tv2\tP\n");
    }

    #[test]
    fn a_draft_has_no_published_line_and_notes_end_in_a_newline() {
        let v = json!({"name": "N", "tag_name": "v1", "draft": true, "prerelease": false,
            "author": {"login": "bob"}, "created_at": "C", "html_url": "U", "body": "x"});
        assert_eq!(
            view_text(&v),
            "title:\tN\ntag:\tv1\ndraft:\ttrue\nprerelease:\tfalse\nauthor:\tbob\ncreated:\tC\nurl:\tU\n--\nx\n"
        );
    }
}
