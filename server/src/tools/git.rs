//! The git tools: names and arguments mirror git's own commands.

use super::{
    AuditTarget, Backends, Effect, GitCall, Handler, ToolError, ToolSpec, Toolset, define,
    parse_args,
};
use crate::git;
use crate::git::fields::{
    BLAME as BLAME_FIELDS, BRANCH as BRANCH_FIELDS, DIFF as DIFF_FIELDS, GREP as GREP_FIELDS,
    LOG as LOG_FIELDS, LS as LS_FIELDS, SHOW as SHOW_FIELDS, STATUS as STATUS_FIELDS,
};
use crate::identity::Caller;
use crate::output::Output;
use crate::policy::ToolClass;

/// Declares one git tool whose backend function takes `(repo, args)`.
macro_rules! git_tool {
    ($name:literal, $desc:literal, $effect:expr, $args:ty, $op:path, $fields:expr) => {{
        fn handler(b: &Backends, _caller: &Caller, call: GitCall) -> Result<Output, ToolError> {
            let repo = b.repos.get(call.repo.as_deref())?;
            let args: $args = parse_args(call.args)?;
            Ok($op(repo, &args)?)
        }
        ToolSpec {
            tool: define::<$args>($name, $desc, $effect, $fields),
            effect: $effect,
            class: class($effect),
            toolset: Toolset::Git,
            handler: Handler::Git(handler),
            audit: AuditTarget::default(),
            escalation: None,
            json_fields: $fields,
        }
    }};
}

fn commit_handler(b: &Backends, caller: &Caller, call: GitCall) -> Result<Output, ToolError> {
    let repo = b.repos.get(call.repo.as_deref())?;
    let args: git::CommitArgs = parse_args(call.args)?;
    Ok(git::commit(repo, &args, &caller.identity)?)
}

fn tag_handler(b: &Backends, caller: &Caller, call: GitCall) -> Result<Output, ToolError> {
    let repo = b.repos.get(call.repo.as_deref())?;
    let args: git::TagArgs = parse_args(call.args)?;
    Ok(git::tag(repo, &args, &caller.identity)?)
}

fn merge_handler(b: &Backends, caller: &Caller, call: GitCall) -> Result<Output, ToolError> {
    let repo = b.repos.get(call.repo.as_deref())?;
    let args: git::MergeArgs = parse_args(call.args)?;
    Ok(git::merge(repo, &args, &caller.identity)?)
}

fn stash_handler(b: &Backends, caller: &Caller, call: GitCall) -> Result<Output, ToolError> {
    let repo = b.repos.get(call.repo.as_deref())?;
    let args: git::StashArgs = parse_args(call.args)?;
    Ok(git::stash(repo, &args, &caller.identity)?)
}

/// Git tools need `git:read` to read and `git:write` to change anything.
fn class(effect: Effect) -> ToolClass {
    match effect {
        Effect::Read => ToolClass::GIT_READ,
        Effect::Write | Effect::Destructive => ToolClass::GIT_WRITE,
    }
}

/// The git tools in `tools/list` order.
pub(super) fn specs() -> Vec<ToolSpec> {
    use Effect::{Destructive, Read, Write};
    vec![
        git_tool!(
            "git_status",
            "Working tree status (git status -sb).",
            Read,
            git::StatusArgs,
            git::status,
            Some(STATUS_FIELDS)
        ),
        git_tool!(
            "git_log",
            "Commit history.",
            Read,
            git::LogArgs,
            git::log,
            Some(LOG_FIELDS)
        )
        .audit_ref("rev"),
        git_tool!(
            "git_show",
            "A commit with its patch.",
            Read,
            git::ShowArgs,
            git::show,
            Some(SHOW_FIELDS)
        )
        .audit_ref("rev"),
        git_tool!(
            "git_diff",
            "Changes: worktree vs index; staged; from vs worktree; from vs to.",
            Read,
            git::DiffArgs,
            git::diff,
            Some(DIFF_FIELDS)
        ),
        git_tool!(
            "git_blame",
            "Who last changed each line (git blame -L).",
            Read,
            git::BlameArgs,
            git::blame,
            Some(BLAME_FIELDS)
        )
        .audit_ref("rev"),
        git_tool!(
            "git_branches",
            "Branches (git branch -v).",
            Read,
            git::BranchesArgs,
            git::branches,
            Some(BRANCH_FIELDS)
        ),
        git_tool!(
            "git_merge_base",
            "Common ancestor (git merge-base).",
            Read,
            git::MergeBaseArgs,
            git::merge_base,
            None
        ),
        git_tool!(
            "git_grep",
            "Regex search in tracked files (git grep -n).",
            Read,
            git::GrepArgs,
            git::grep,
            Some(GREP_FIELDS)
        )
        .audit_ref("rev"),
        git_tool!(
            "git_ls_files",
            "Tracked files, or a revision's tree.",
            Read,
            git::LsFilesArgs,
            git::ls_files,
            Some(LS_FIELDS)
        )
        .audit_ref("rev"),
        git_tool!(
            "git_read_file",
            "File contents from the worktree or at a revision.",
            Read,
            git::ReadFileArgs,
            git::read_file,
            None
        )
        .audit_ref("rev"),
        git_tool!(
            "git_add",
            "Stage paths.",
            Write,
            git::AddArgs,
            git::add,
            None
        ),
        git_tool!(
            "git_restore",
            "Unstage (staged) or discard (worktree) changes.",
            Destructive,
            git::RestoreArgs,
            git::restore,
            None
        ),
        git_tool!(
            "git_rm",
            "Remove tracked files (git rm).",
            Destructive,
            git::RmArgs,
            git::rm,
            None
        ),
        git_tool!(
            "git_mv",
            "Move a tracked file (git mv).",
            Write,
            git::MvArgs,
            git::mv,
            None
        ),
        ToolSpec {
            tool: define::<git::CommitArgs>("git_commit", "Commit the index as you.", Write, None),
            effect: Write,
            class: class(Write),
            toolset: Toolset::Git,
            handler: Handler::Git(commit_handler),
            audit: AuditTarget::default(),
            escalation: None,
            json_fields: None,
        },
        git_tool!(
            "git_create_branch",
            "Create a branch (git branch NAME [START]).",
            Write,
            git::CreateBranchArgs,
            git::create_branch,
            None
        )
        .audit_ref("name"),
        git_tool!(
            "git_delete_branch",
            "Delete a branch (git branch -d).",
            Destructive,
            git::DeleteBranchArgs,
            git::delete_branch,
            None
        )
        .audit_ref("name"),
        ToolSpec {
            tool: define::<git::TagArgs>("git_tag", "Tag a commit (git tag).", Write, None),
            effect: Write,
            class: class(Write),
            toolset: Toolset::Git,
            handler: Handler::Git(tag_handler),
            audit: AuditTarget::default(),
            escalation: None,
            json_fields: None,
        }
        .audit_ref("name"),
        ToolSpec {
            tool: define::<git::MergeArgs>("git_merge", "Merge into HEAD.", Write, None),
            effect: Write,
            class: class(Write),
            toolset: Toolset::Git,
            handler: Handler::Git(merge_handler),
            audit: AuditTarget::default(),
            escalation: None,
            json_fields: None,
        }
        .audit_ref("rev"),
        ToolSpec {
            tool: define::<git::StashArgs>("git_stash", "Stash changes (git stash).", Write, None),
            effect: Write,
            class: class(Write),
            toolset: Toolset::Git,
            handler: Handler::Git(stash_handler),
            audit: AuditTarget::default(),
            escalation: None,
            json_fields: None,
        },
        // A hard reset discards worktree changes, as git_restore worktree=true does: both are
        // destructive tools under the same git:write scope (the annotation tells clients).
        git_tool!(
            "git_reset",
            "Move HEAD to a commit (git reset).",
            Destructive,
            git::ResetArgs,
            git::reset,
            None
        )
        .audit_ref("rev"),
        git_tool!(
            "git_switch",
            "Switch branches.",
            Write,
            git::SwitchArgs,
            git::switch,
            None
        )
        .audit_ref("branch"),
    ]
}
