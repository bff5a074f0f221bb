//! The CI tools: `gh pr checks`, `gh run list|view|rerun` as `gh_pr_checks`, `gh_run_list`,
//! `gh_run_view` and `gh_run_rerun` (see [`crate::github::actions`]).

use serde_json::{Map, Value};

use super::github::gh_tool;
use super::{AuditTarget, Effect, GithubFuture, Handler, ToolSpec, Toolset, define, parse_args};

/// The CI tools, as the `actions` toolset (GitHub's MCP server keeps Actions apart too).
pub(super) fn in_actions(mut spec: ToolSpec) -> ToolSpec {
    spec.toolset = Toolset::Actions;
    spec
}
use crate::github::Clients;
use crate::github::actions::{self, CHECK_FIELDS, RUN_FIELDS};
use crate::policy::ToolClass;

/// The CI tools in `tools/list` order.
pub(super) fn specs() -> Vec<ToolSpec> {
    use Effect::{Read, Write};
    const R: ToolClass = ToolClass::GITHUB_READ;
    const W: ToolClass = ToolClass::GITHUB_WRITE;
    [
        gh_tool!(
            "gh_pr_checks",
            "CI checks of a pull request.",
            Read,
            R,
            actions::PrChecksArgs,
            actions::pr_checks,
            Some(CHECK_FIELDS)
        )
        .audit_number("number"),
        gh_tool!(
            "gh_run_list",
            "Recent workflow runs.",
            Read,
            R,
            actions::RunListArgs,
            actions::run_list,
            Some(RUN_FIELDS)
        ),
        gh_tool!(
            "gh_run_view",
            "A workflow run's jobs and steps; log_failed shows why it failed.",
            Read,
            R,
            actions::RunViewArgs,
            actions::run_view,
            None
        ),
        gh_tool!(
            "gh_run_rerun",
            "Re-run a workflow run.",
            Write,
            W,
            actions::RunRerunArgs,
            actions::run_rerun,
            None
        ),
    ]
    .into_iter()
    .map(in_actions)
    .collect()
}
