//! The release tools: `gh release list|view|create` as `gh_release_list`, `gh_release_view`
//! and `gh_release_create` (see [`crate::github::release_list`]). They sit in the `actions`
//! toolset with CI, the other half of shipping, because the GitHub toolset is at its budget.

use serde_json::{Map, Value};

use super::github::gh_tool;
use super::github_ci::in_actions;
use super::{AuditTarget, Effect, GithubFuture, Handler, ToolSpec, Toolset, define, parse_args};
use crate::github::{self, Clients};
use crate::policy::ToolClass;

/// The release tools in `tools/list` order.
pub(super) fn specs() -> Vec<ToolSpec> {
    use Effect::{Read, Write};
    const R: ToolClass = ToolClass::GITHUB_READ;
    const W: ToolClass = ToolClass::GITHUB_WRITE;
    [
        gh_tool!(
            "gh_release_list",
            "Releases, newest first.",
            Read,
            R,
            github::ReleaseListArgs,
            github::release_list,
            Some(github::fields::RELEASES)
        ),
        gh_tool!(
            "gh_release_view",
            "A release and its notes; the latest without tag.",
            Read,
            R,
            github::ReleaseViewArgs,
            github::release_view,
            None
        ),
        gh_tool!(
            "gh_release_create",
            "Publish a release, tagging target if the tag is new.",
            Write,
            W,
            github::ReleaseCreateArgs,
            github::release_create,
            None
        ),
    ]
    .into_iter()
    .map(in_actions)
    .collect()
}
