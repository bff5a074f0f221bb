//! `completion/complete`: values for the prompts' arguments (see [`crate::prompts`]), within
//! what the caller may see.
//!
//! - repository names: the configured local ones, the default GitHub one and the caller's
//!   grants that name one repository (no glob), those the caller's grants allow (gitgate does
//!   not list GitHub's repositories: a grant like `acme/*` completes nothing);
//! - branch and tag names of a local repository, when policy lets the caller read it;
//! - open pull request and issue numbers, read from GitHub as the caller through the JSON
//!   tools, so the same policy decides and the read is audited like any call.
//!
//! Values start with what the client typed (case-insensitive); at most
//! [`CompletionInfo::MAX_VALUES`] come back, with the total and whether there were more.

use std::collections::HashMap;

use rmcp::model::CompletionInfo;
use serde_json::{Map, Value, json};

use crate::policy::{Target, ToolClass};
use crate::prompts::Kind;
use crate::tools::{CallContext, Services};

/// Completes argument `arg` of prompt `prompt`, typed so far as `typed`, given the values of
/// the other arguments the client already resolved.
pub async fn complete(
    services: &Services,
    ctx: &CallContext,
    prompt: &str,
    arg: &str,
    typed: &str,
    resolved: &HashMap<String, String>,
) -> CompletionInfo {
    let Some(kind) = crate::prompts::kind(prompt, arg) else {
        return page(Vec::new(), typed);
    };
    let repo = resolved
        .get("repo")
        .map(String::as_str)
        .filter(|r| !r.is_empty());
    let candidates = match kind {
        Kind::Repo => repositories(services, ctx),
        Kind::Revision => revisions(services, ctx, repo),
        Kind::PullRequest => numbers(services, ctx, "gh_pr_list", repo).await,
        Kind::Issue => numbers(services, ctx, "gh_issue_list", repo).await,
    };
    page(candidates, typed)
}

/// The candidates starting with `typed`, sorted, cut to the protocol's maximum.
fn page(mut candidates: Vec<String>, typed: &str) -> CompletionInfo {
    let typed = typed.to_lowercase();
    candidates.retain(|c| c.to_lowercase().starts_with(&typed));
    candidates.sort();
    candidates.dedup();
    let total = candidates.len();
    candidates.truncate(CompletionInfo::MAX_VALUES);
    let more = total > candidates.len();
    CompletionInfo::with_pagination(candidates, u32::try_from(total).ok(), more).unwrap_or_default()
}

fn repositories(services: &Services, ctx: &CallContext) -> Vec<String> {
    let grants = &ctx.caller.principal.grants;
    let mut names = services.backends.repos.names();
    if let Some(github) = &services.backends.github
        && let Some(default) = &github.config().default_repo
    {
        names.push(default.clone());
    }
    names.extend(
        grants
            .patterns()
            .iter()
            .filter(|p| !p.contains(['*', '?', '[', '{']))
            .cloned(),
    );
    names.retain(|n| grants.allows(n));
    names
}

/// Branches and tags of the local repository `repo` (or the only one), if policy lets the
/// caller read it.
fn revisions(services: &Services, ctx: &CallContext, repo: Option<&str>) -> Vec<String> {
    let Ok(found) = services.backends.repos.get(repo) else {
        return Vec::new();
    };
    let decision = services.policy.decide(
        &ctx.caller.principal,
        ToolClass::GIT_READ,
        Target::Repo(found.name()),
    );
    if !decision.allowed {
        return Vec::new();
    }
    let git = found.lock();
    let Ok(refs) = git.references() else {
        return Vec::new();
    };
    refs.filter_map(Result::ok)
        .filter_map(|r| {
            let name = r.name().ok()?;
            name.strip_prefix("refs/heads/")
                .or_else(|| name.strip_prefix("refs/tags/"))
                .map(str::to_owned)
        })
        // A repository with a million refs must not cost a million strings per keystroke.
        .take(10_000)
        .collect()
}

/// Open pull request or issue numbers, listed by `tool` as the caller.
async fn numbers(
    services: &Services,
    ctx: &CallContext,
    tool: &str,
    repo: Option<&str>,
) -> Vec<String> {
    let mut args = Map::new();
    args.insert("state".into(), json!("open"));
    args.insert("limit".into(), json!(100));
    args.insert("json".into(), json!(["number"]));
    // A local repository name means its GitHub counterpart, the default one.
    if let Some(repo) = repo.filter(|r| r.contains('/')) {
        args.insert("repo".into(), json!(repo));
    }
    let result = services.call(ctx, tool, Some(args)).await;
    if result.is_error == Some(true) {
        return Vec::new();
    }
    let text = crate::tools::first_text(&result);
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&text) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|i| i.get("number").and_then(Value::as_u64))
        .map(|n| n.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_start_with_what_was_typed_and_are_capped() {
        let many: Vec<String> = (1..=250).map(|n| n.to_string()).collect();
        let info = page(many, "1");
        // 1, 10-19, 100-199: 111 values, cut to 100.
        assert_eq!(info.values.len(), CompletionInfo::MAX_VALUES);
        assert_eq!(info.total, Some(111));
        assert_eq!(info.has_more, Some(true));
        let info = page(vec!["Main".into(), "feature".into(), "main".into()], "MA");
        assert_eq!(info.values, vec!["Main".to_owned(), "main".to_owned()]);
        assert_eq!(info.has_more, Some(false));
    }
}
