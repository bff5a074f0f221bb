//! A file's contents at a ref (`gh api repos/O/R/contents/P?ref=`) and the commit history
//! (`gh api repos/O/R/commits`), shaped like `cat` and `git log --oneline`.

use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use super::request::{Req, bound_strings};
use super::{
    Clients, Error, Output, RepoName, cut_lines, day, limit_of, list_output, s, upstream_path,
};

/// Arguments of `gh_file`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileArgs {
    pub repo: Option<String>,
    pub path: String,
    /// Branch, tag or SHA.
    #[serde(rename = "ref")]
    pub r#ref: Option<String>,
    /// Max lines.
    pub limit: Option<usize>,
}

/// Arguments of `gh_commits`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitsArgs {
    pub repo: Option<String>,
    /// Branch, tag or SHA.
    #[serde(rename = "ref")]
    pub r#ref: Option<String>,
    pub path: Option<String>,
    pub author: Option<String>,
    pub limit: Option<usize>,
}

/// Lines of a file shown when no limit is given.
const FILE_LINES: usize = 2000;

pub(crate) const COMMIT_FIELDS: &[&str] = &["sha", "short", "date", "author", "subject", "url"];

/// Runs `gh_file`: a file's text (cut at `limit` lines) or a directory's entries.
pub async fn file(clients: &Clients, user: &str, args: &FileArgs) -> Result<Output, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    let path = upstream_path(&args.path)?;
    let at = args.r#ref.as_deref().unwrap_or("the default branch");
    let mut req = Req::get(
        repo.api(&format!("/contents/{path}")),
        format!("{} at {at} in {repo}", args.path),
    );
    if let Some(r) = &args.r#ref {
        req = req.query("ref", r);
    }
    // The base64 `content` is the one long string an answer may hold: taken out whole, decoded,
    // then cut by `cut_lines`; every other field is bounded as in any answer.
    let mut v = clients.send(user, &req).await?.json_unbounded()?;
    let packed: String = match v.get_mut("content").map(Value::take) {
        Some(Value::String(c)) => c.split_whitespace().collect(),
        _ => String::new(),
    };
    bound_strings(&mut v, "");
    if let Some(entries) = v.as_array() {
        let records: Vec<Value> = entries
            .iter()
            .map(|e| json!({"name": s(e, "name"), "path": s(e, "path"), "type": s(e, "type"), "size": e["size"]}))
            .collect();
        let lines = records
            .iter()
            .map(|r| {
                let dir = if r["type"] == "dir" { "/" } else { "" };
                format!("{}{dir}", r["name"].as_str().unwrap_or(""))
            })
            .collect();
        return Ok(list_output(
            lines,
            records,
            &["name", "path", "type", "size"],
            super::pages::More::Exact(0),
            "entries",
            "(empty directory)",
        ));
    }
    if s(&v, "type") != "file" {
        return Err(Error::invalid(format!(
            "{} is a {}, not a file",
            args.path,
            s(&v, "type")
        )));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(packed)
        .map_err(|e| Error::Upstream {
            status: 200,
            message: format!("undecodable file content: {e}"),
        })?;
    let size = bytes.len();
    let (mut text, binary) = match String::from_utf8(bytes) {
        Ok(t) => (t, false),
        Err(_) => (format!("(binary file, {size} bytes)"), true),
    };
    let max = match args.limit {
        Some(0) => return Err(Error::invalid("limit must be at least 1")),
        Some(n) => n,
        None => FILE_LINES,
    };
    let more = if binary {
        None
    } else {
        cut_lines(&mut text, max, "lines")
    };
    Ok(Output {
        data: json!({
            "path": s(&v, "path"),
            "sha": s(&v, "sha"),
            "size": size,
            "content": if binary { Value::Null } else { json!(text) },
        }),
        text,
        fields: &["path", "sha", "size", "content"],
        more,
    })
}

/// Runs `gh_commits`: `abc1234 2024-01-02 alice Subject` per commit, newest first.
pub async fn commits(clients: &Clients, user: &str, args: &CommitsArgs) -> Result<Output, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    let limit = limit_of(args.limit)?;
    let mut req = Req::get(repo.api("/commits"), format!("repository {repo}"));
    if let Some(r) = &args.r#ref {
        req = req.query("sha", r);
        req.what = format!("{r} in {repo}");
    }
    if let Some(p) = &args.path {
        req = req.query("path", p);
    }
    if let Some(a) = &args.author {
        req = req.query("author", a);
    }
    let listed = match clients.list_all(user, &req, limit).await {
        // GitHub answers 409 for an empty repository.
        Err(Error::Upstream { status: 409, .. }) => {
            return Ok(list_output(
                Vec::new(),
                Vec::new(),
                COMMIT_FIELDS,
                super::pages::More::Exact(0),
                "commits",
                "(no commits yet)",
            ));
        }
        other => other?,
    };
    let records: Vec<Value> = listed
        .items
        .iter()
        .map(|c| {
            let sha = s(c, "sha");
            let author = c["author"]["login"]
                .as_str()
                .unwrap_or_else(|| s(&c["commit"]["author"], "name"));
            json!({
                "sha": sha,
                "short": sha.get(..7).unwrap_or(sha),
                "date": day(s(&c["commit"]["author"], "date")),
                "author": author,
                "subject": s(&c["commit"], "message").lines().next().unwrap_or(""),
                "url": s(c, "html_url"),
            })
        })
        .collect();
    let lines = records
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r["short"].as_str().unwrap_or(""),
                r["date"].as_str().unwrap_or(""),
                r["author"].as_str().unwrap_or(""),
                r["subject"].as_str().unwrap_or("")
            )
        })
        .collect();
    Ok(list_output(
        lines,
        records,
        COMMIT_FIELDS,
        listed.more,
        "commits",
        "(no commits)",
    ))
}
