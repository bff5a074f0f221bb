//! `gh api ENDPOINT` for GET inside the caller's repositories: `repos/OWNER/NAME/...` (with
//! gh's `{owner}` and `{repo}` placeholders meaning the default repository), run as the JSON
//! tool gh_api on OWNER/NAME, so policy judges that repository against the caller's grants.
//! Anything else (`/user`, `/orgs/...`, another method, fields) is refused, saying so.
//! `--paginate` reads the following pages too, as one call of gh_api.

use super::Runner;
use super::gh::{self, Failed, Flag, JQ, Printed, switch, value};
use super::gh_json::Export;
use crate::github::records::{self, RepoName};
use crate::github::{ApiArgs, Error};

const FLAGS: &[Flag] = &[
    value("header", Some('H')),
    value("method", Some('X')),
    switch("paginate", None),
    value("field", Some('F')),
    value("raw-field", Some('f')),
    value("input", None),
    JQ,
];

/// The media type that asks for a file's raw bytes; the only header gitgate passes on.
const RAW: &str = "application/vnd.github.raw";

/// `gh api ENDPOINT`.
pub(super) fn run(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
) -> Result<Printed, Failed> {
    let p = gh::parse("gh api", FLAGS, rest)?;
    if let Some(m) = p.last("method").filter(|m| !m.eq_ignore_ascii_case("GET")) {
        return Err(Failed(format!(
            "gh api: gitgate runs GET only, not {m}; write with gh issue/pr commands or the gh_* tools ({{\"tool\": \"help\"}})"
        )));
    }
    if p.on("field") || p.on("raw-field") || p.on("input") {
        return Err(Failed(
            "gh api: fields and --input make a request with a body; gitgate runs GET only (put query parameters in the path: ?state=closed)".into(),
        ));
    }
    let mut raw = false;
    for h in p.list("header") {
        let (name, v) = h.split_once(':').unwrap_or((&h, ""));
        match (name.trim().to_ascii_lowercase().as_str(), v.trim()) {
            ("accept", RAW) => raw = true,
            ("accept", "application/vnd.github+json" | "application/json") => {}
            _ => {
                return Err(Failed(format!(
                    "gh api: header '{h}' is not passed on; gitgate takes -H 'Accept: {RAW}'"
                )));
            }
        }
    }
    let endpoint = match p.args.as_slice() {
        [one] => one.as_str(),
        _ => return Err(Failed("gh api: give exactly one endpoint".into())),
    };
    let default = runner
        .services
        .backends
        .github
        .as_ref()
        .and_then(|c| c.config().default_repo.clone());
    let args = endpoint_args(endpoint, default.as_deref(), raw)?;
    let export = p.last("jq").map(|jq| Export {
        fields: Vec::new(),
        jq: Some(jq.to_owned()),
    });
    let paginate = p.on("paginate");
    runner.gh_call("gh_api", argv, args.repo.clone(), None, |gh| {
        let pages = if paginate {
            gh.wait_raw(records::api_get_pages(gh.clients, gh.user, &args))
        } else {
            gh.wait_raw(records::api_get(gh.clients, gh.user, &args))
                .map(|body| vec![body])
        }
        .map_err(|e| match e {
            Error::NotFound { .. } => Failed("gh: Not Found (HTTP 404)".into()),
            e => Failed(crate::tools::ToolError::from(e).message),
        })?;
        match &export {
            // gh 2.23 writes each page's body as it came, one after another: arrays are not
            // merged (`][` between pages), as the differential corpus shows.
            None => Ok(pages.concat().into()),
            // gh filters each page on its own and prints the results one after another.
            Some(export) => {
                let mut out = String::new();
                for body in &pages {
                    let value = serde_json::from_str(body)
                        .map_err(|e| Failed(format!("gh api: the answer is not JSON: {e}")))?;
                    out.push_str(&runner.export(export, value)?.stdout);
                }
                Ok(out.into())
            }
        }
    })
}

/// The gh_api arguments for `endpoint`: `repos/OWNER/NAME[/PATH][?QUERY]`, placeholders filled
/// from the default repository.
fn endpoint_args(endpoint: &str, default: Option<&str>, raw: bool) -> Result<ApiArgs, Failed> {
    let mut endpoint = endpoint.trim_start_matches('/').to_owned();
    if endpoint.contains("{owner}") || endpoint.contains("{repo}") {
        let Some((owner, name)) = default.and_then(|d| d.split_once('/')) else {
            return Err(Failed(
                "gh api: {owner} and {repo} need a default repository; name it: repos/OWNER/NAME/..."
                    .into(),
            ));
        };
        endpoint = endpoint.replace("{owner}", owner).replace("{repo}", name);
    }
    let (path, query) = endpoint.split_once('?').unwrap_or((&endpoint, ""));
    let outside = || {
        Failed(format!(
            "gh api: gitgate serves GET repos/OWNER/NAME/... inside the repositories you are granted; '{path}' is outside them (use the gh_* tools: {{\"tool\": \"help\"}})"
        ))
    };
    let mut parts = path.splitn(4, '/');
    let (Some("repos"), Some(owner), Some(name)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(outside());
    };
    let repo = format!("{owner}/{name}");
    RepoName::parse(&repo).map_err(|_| outside())?;
    let mut args = ApiArgs {
        repo: Some(repo),
        path: parts.next().unwrap_or("").to_owned(),
        raw,
        ..ApiArgs::default()
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_encoding::percent_decode_str(v)
            .decode_utf8_lossy()
            .into_owned();
        args.query.insert(k.to_owned(), v);
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn endpoints_stay_inside_one_repository() {
        let a = endpoint_args(
            "repos/{owner}/{repo}/issues?state=closed&per_page=2",
            Some("acme/w"),
            false,
        )
        .unwrap();
        assert_eq!(a.repo.as_deref(), Some("acme/w"));
        assert_eq!(a.path, "issues");
        assert_eq!(a.query["state"], "closed");
        for outside in [
            "user",
            "/orgs/acme",
            "repos/acme",
            "search/issues?q=x",
            "repos/../x/y",
        ] {
            assert!(
                endpoint_args(outside, Some("acme/w"), false).is_err(),
                "{outside}"
            );
        }
        assert!(endpoint_args("repos/{owner}/{repo}", None, false).is_err());
    }
}
