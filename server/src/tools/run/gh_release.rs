//! `gh release list|view|create` in the run form: one call of `gh_release_list`,
//! `gh_release_view` or `gh_release_create` each, printing what gh 2.23 prints without a
//! terminal (tab-separated rows; the `key:\tvalue` block and notes; the new release's URL).

use super::Runner;
use super::gh::{self, Failed, Flag, JQ, JSON, Printed, REPO, switch, value};
use super::gh_ci_json;
use super::gh_issue::limit;
use super::gh_json::Style;
use crate::github::ReleaseCreateArgs;
use crate::github::records::{self, RepoName};

const LIST_FLAGS: &[Flag] = &[
    value("limit", Some('L')),
    switch("exclude-drafts", None),
    switch("exclude-pre-releases", None),
    REPO,
];
const VIEW_FLAGS: &[Flag] = &[REPO, JSON, JQ];
const CREATE_FLAGS: &[Flag] = &[
    value("title", Some('t')),
    value("notes", Some('n')),
    value("target", None),
    switch("draft", Some('d')),
    switch("prerelease", Some('p')),
    REPO,
];

/// Releases fetched when drafts or pre-releases are left out, so that the filtered list can
/// still fill its limit (gh pages on until it does; one page of GitHub's maximum is the bound).
const FILTER_PAGE: usize = 100;

fn resolve(gh: &gh::Gh<'_>, repo: Option<&str>) -> Result<RepoName, Failed> {
    RepoName::resolve(gh.clients, repo).map_err(|e| Failed(e.to_string()))
}

/// `gh release list`.
pub(super) fn list(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
) -> Result<Printed, Failed> {
    let p = gh::parse("gh release list", LIST_FLAGS, rest)?;
    if let Some(extra) = p.args.first() {
        return Err(Failed(format!(
            "unknown argument {extra:?} for \"gh release list\""
        )));
    }
    let wanted = limit(&p)?.unwrap_or(30);
    let (no_drafts, no_pre) = (p.on("exclude-drafts"), p.on("exclude-pre-releases"));
    let fetch = if no_drafts || no_pre {
        FILTER_PAGE
    } else {
        wanted
    };
    runner.gh_call("gh_release_list", argv, p.repo(), None, |gh| {
        let repo = resolve(gh, p.repo().as_deref())?;
        let items = gh.wait(records::release_items(
            gh.clients,
            gh.user,
            &repo,
            Some(fetch),
        ))?;
        // No releases prints nothing: gh says "no releases found" only to a terminal.
        Ok(items
            .iter()
            .filter(|r| !(no_drafts && r["isDraft"] == true))
            .filter(|r| !(no_pre && r["isPrerelease"] == true))
            .take(wanted)
            .map(records::release_row)
            .collect())
    })
}

/// `gh release view [TAG]`.
pub(super) fn view(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
) -> Result<Printed, Failed> {
    let p = gh::parse("gh release view", VIEW_FLAGS, rest)?;
    let tag = match p.args.as_slice() {
        [] => None,
        [tag] => Some(tag.clone()),
        more => {
            return Err(Failed(format!(
                "accepts at most 1 arg(s), received {}",
                more.len()
            )));
        }
    };
    let export = p.export(gh_ci_json::RELEASE_FIELDS)?;
    runner.gh_call("gh_release_view", argv, p.repo(), None, |gh| {
        let repo = resolve(gh, p.repo().as_deref())?;
        match gh.wait_raw(records::get_release(
            gh.clients,
            gh.user,
            &repo,
            tag.as_deref(),
        )) {
            Ok(v) => match &export {
                Some(export) => {
                    runner.export_as(export, gh_ci_json::release(export, &v), Style::SearchExport)
                }
                None => Ok(records::release_text(&v).into()),
            },
            Err(crate::github::Error::NotFound { .. }) => Err(Failed("release not found".into())),
            Err(e) => Err(crate::tools::ToolError::from(e).into()),
        }
    })
}

/// `gh release create TAG`: the new release's URL.
pub(super) fn create(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
) -> Result<Printed, Failed> {
    let p = gh::parse("gh release create", CREATE_FLAGS, rest)?;
    let tag = match p.args.as_slice() {
        [] => {
            return Err(Failed(
                "gh release create: gitgate needs the tag (it does not prompt)".into(),
            ));
        }
        [tag] => tag.clone(),
        [_, files @ ..] => {
            return Err(Failed(format!(
                "gitgate does not upload release assets ({} given); create the release, then \
                 attach files on GitHub",
                files.len()
            )));
        }
    };
    let args = ReleaseCreateArgs {
        repo: p.repo(),
        tag,
        title: p.last("title").map(str::to_owned),
        notes: p.last("notes").map(str::to_owned),
        target: p.last("target").map(str::to_owned),
        draft: Some(p.on("draft")),
        prerelease: Some(p.on("prerelease")),
    };
    runner.gh_call("gh_release_create", argv, p.repo(), None, |gh| {
        let repo = resolve(gh, p.repo().as_deref())?;
        let v = gh.wait(records::create_release(gh.clients, gh.user, &repo, &args))?;
        Ok(format!("{}\n", v["html_url"].as_str().unwrap_or("")).into())
    })
}
