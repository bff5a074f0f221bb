//! The GitHub tools: names and arguments mirror the gh CLI (`gh issue list` → `gh_issue_list`).
//! Each call goes out as the calling user, with that user's own GitHub token.

use serde_json::{Map, Value};

use super::{
    AuditTarget, Effect, ErrorCode, GithubFuture, Handler, ToolError, ToolSpec, Toolset, define,
    parse_args,
};
use crate::github::{self, Clients, fields};
use crate::policy::ToolClass;

/// Declares one GitHub tool over an operation `op(clients, user, &args)`.
macro_rules! gh_tool {
    ($name:literal, $desc:literal, $effect:expr, $class:expr, $args:ty, $op:path, $fields:expr) => {{
        fn handler<'a>(
            clients: &'a Clients,
            user: &'a str,
            args: Map<String, Value>,
        ) -> GithubFuture<'a> {
            Box::pin(async move {
                let args: $args = parse_args(args)?;
                Ok($op(clients, user, &args).await?)
            })
        }
        ToolSpec {
            tool: define::<$args>($name, $desc, $effect, $fields),
            effect: $effect,
            class: $class,
            toolset: Toolset::Github,
            handler: Handler::Github(handler),
            audit: AuditTarget::default(),
            escalation: None,
            json_fields: $fields,
        }
    }};
}

pub(super) use gh_tool;

impl From<github::Error> for ToolError {
    fn from(e: github::Error) -> Self {
        use github::Error as E;
        let code = match &e {
            E::RateLimited { .. } => ErrorCode::RateLimited,
            E::NotFound { .. } => ErrorCode::NotFound,
            E::Unauthorized { .. } => ErrorCode::GithubUnauthorized,
            E::NoToken { .. } | E::TokenUnavailable { .. } => ErrorCode::NoGithubToken,
            E::Upstream { .. } => ErrorCode::Upstream,
            E::TooLarge { .. } => ErrorCode::UpstreamTooLarge,
            E::Timeout(_) => ErrorCode::Timeout,
            E::Unreachable { .. } => ErrorCode::Unreachable,
            E::Invalid { .. } => ErrorCode::InvalidArguments,
        };
        ToolError::with_code(code, e.to_string())
    }
}

/// The GitHub tools in `tools/list` order.
pub(super) fn specs() -> Vec<ToolSpec> {
    use Effect::{Read, Write};
    const R: ToolClass = ToolClass::GITHUB_READ;
    const W: ToolClass = ToolClass::GITHUB_WRITE;
    vec![
        gh_tool!(
            "gh_repo_view",
            "Repository summary.",
            Read,
            R,
            github::RepoViewArgs,
            github::repo_view,
            Some(fields::REPO_VIEW)
        ),
        gh_tool!(
            "gh_issue_list",
            "List issues.",
            Read,
            R,
            github::IssueListArgs,
            github::issue_list,
            Some(fields::ISSUE_LIST)
        ),
        gh_tool!(
            "gh_issue_view",
            "Show an issue with its comments (gh issue view --comments).",
            Read,
            R,
            github::IssueViewArgs,
            github::issue_view,
            Some(fields::ISSUE_VIEW)
        )
        .audit_number("number"),
        gh_tool!(
            "gh_issue_create",
            "Open an issue.",
            Write,
            W,
            github::IssueCreateArgs,
            github::issue_create,
            None
        ),
        gh_tool!(
            "gh_issue_comment",
            "Comment on an issue or pull request.",
            Write,
            W,
            github::IssueCommentArgs,
            github::issue_comment,
            None
        )
        .audit_number("number"),
        gh_tool!(
            "gh_issue_edit",
            "Edit an issue: title, body, labels, assignees; close or reopen with state (pull requests: gh_pr_edit).",
            Write,
            W,
            github::IssueEditArgs,
            github::issue_edit,
            None
        )
        .audit_number("number"),
        gh_tool!(
            "gh_pr_list",
            "List pull requests.",
            Read,
            R,
            github::PrListArgs,
            github::pr_list,
            Some(fields::PR_LIST)
        )
        .audit_ref("head"),
        gh_tool!(
            "gh_pr_view",
            "Show a pull request.",
            Read,
            R,
            github::PrViewArgs,
            github::pr_view,
            Some(fields::PR_VIEW)
        )
        .audit_number("number"),
        gh_tool!(
            "gh_pr_comment",
            "Comment on a PR, or reply in a review thread.",
            Write,
            W,
            github::PrCommentArgs,
            github::pr_comment,
            None
        )
        .audit_number("number"),
        gh_tool!(
            "gh_pr_diff",
            "A pull request's patch.",
            Read,
            R,
            github::PrDiffArgs,
            github::pr_diff,
            None
        )
        .audit_number("number"),
        gh_tool!(
            "gh_pr_files",
            "Files a pull request changes (gh pr diff --name-only, with counts).",
            Read,
            R,
            github::PrFilesArgs,
            github::pr_files,
            Some(fields::PR_FILES)
        )
        .audit_number("number"),
        gh_tool!(
            "gh_pr_create",
            "Open a pull request from head into base.",
            Write,
            W,
            github::PrCreateArgs,
            github::pr_create,
            None
        )
        .audit_ref("head"),
        gh_tool!(
            "gh_pr_merge",
            "Merge a pull request.",
            Write,
            ToolClass::GITHUB_MERGE,
            github::PrMergeArgs,
            github::pr_merge,
            None
        )
        .audit_number("number"),
        gh_tool!(
            "gh_pr_review",
            "Review a pull request: approve, comment or request_changes.",
            Write,
            W,
            github::PrReviewArgs,
            github::pr_review,
            None
        )
        .audit_number("number"),
        gh_tool!(
            "gh_pr_edit",
            "Edit a pull request: title, body, base, labels, assignees; close or reopen with state.",
            Write,
            W,
            github::PrEditArgs,
            github::pr_edit,
            None
        )
        .audit_number("number"),
        gh_tool!(
            "gh_pr_commits",
            "A pull request's commits, oldest first (gh pr view --json commits).",
            Read,
            R,
            github::PrCommitsArgs,
            github::pr_commits,
            Some(fields::PR_COMMITS)
        )
        .audit_number("number"),
        gh_tool!(
            "gh_search_issues",
            "Search issues and pull requests with GitHub search syntax.",
            Read,
            R,
            github::SearchIssuesArgs,
            github::search_issues,
            Some(fields::SEARCH_ISSUES)
        ),
        gh_tool!(
            "gh_search_code",
            "Search code.",
            Read,
            R,
            github::SearchCodeArgs,
            github::search_code,
            Some(fields::SEARCH_CODE)
        ),
        gh_tool!(
            "gh_api",
            "GET a GitHub REST path inside one repository (gh api repos/OWNER/NAME/PATH).",
            Read,
            R,
            github::ApiArgs,
            github::api,
            None
        ),
        gh_tool!(
            "gh_file",
            "A file's contents, or a directory listing, at a ref on GitHub.",
            Read,
            R,
            github::FileArgs,
            github::file,
            None
        )
        .audit_ref("ref"),
        gh_tool!(
            "gh_commits",
            "Commit history on GitHub, newest first (like git log --oneline).",
            Read,
            R,
            github::CommitsArgs,
            github::commits,
            Some(fields::COMMITS)
        )
        .audit_ref("ref"),
    ]
}
