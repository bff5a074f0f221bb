//! The remote git tools: `git_fetch`, `git_pull`, `git_push`. They reach the configured GitHub
//! host only, with the calling user's own GitHub token (see [`crate::git::remote`]); without a
//! GitHub configuration they answer that it is missing.

use super::{
    AuditTarget, Backends, Effect, ErrorCode, Escalation, GitCall, Handler, ToolError, ToolSpec,
    Toolset, define, parse_args,
};
use crate::git::remote::{self, Access, Endpoint};
use crate::identity::Caller;
use crate::output::Output;
use crate::policy::ToolClass;

/// Runs `op` with the caller's access to the GitHub host: its git endpoint, the caller's own
/// token, their grants and the protected branches.
fn with_access(
    b: &Backends,
    caller: &Caller,
    op: impl FnOnce(&Access<'_>) -> Result<Output, crate::git::Error>,
) -> Result<Output, ToolError> {
    let Some(clients) = b.github.as_ref() else {
        return Err(ToolError::with_code(
            ErrorCode::Unavailable,
            "GitHub is not configured on this server (--github-url); fetch, pull and push reach only its host",
        ));
    };
    let endpoint = Endpoint::from_config(clients.config())?;
    // Git tools run on a blocking thread of the runtime: waiting for the token here is fine.
    let token = tokio::runtime::Handle::current()
        .block_on(clients.git_token(caller.user()))
        .map_err(ToolError::from)?;
    let grants = &caller.principal.grants;
    let granted = |repo: &str| grants.allows(repo);
    let access = Access {
        endpoint: &endpoint,
        token: &token,
        granted: &granted,
        protect: &b.protect,
    };
    Ok(op(&access)?)
}

fn fetch(b: &Backends, caller: &Caller, call: GitCall) -> Result<Output, ToolError> {
    let args: remote::FetchArgs = parse_args(call.args)?;
    fetch_with(b, caller, call.repo.as_deref(), &args)
}

fn pull(b: &Backends, caller: &Caller, call: GitCall) -> Result<Output, ToolError> {
    let args: remote::PullArgs = parse_args(call.args)?;
    pull_with(b, caller, call.repo.as_deref(), &args)
}

fn push(b: &Backends, caller: &Caller, call: GitCall) -> Result<Output, ToolError> {
    let args: remote::PushArgs = parse_args(call.args)?;
    push_with(b, caller, call.repo.as_deref(), &args)
}

/// `git_fetch` on parsed arguments (the JSON tool and the run form's `git fetch`).
pub(crate) fn fetch_with(
    b: &Backends,
    caller: &Caller,
    repo: Option<&str>,
    args: &remote::FetchArgs,
) -> Result<Output, ToolError> {
    let repo = b.repos.get(repo)?;
    with_access(b, caller, |access| remote::fetch(repo, args, access))
}

/// `git_pull` on parsed arguments.
pub(crate) fn pull_with(
    b: &Backends,
    caller: &Caller,
    repo: Option<&str>,
    args: &remote::PullArgs,
) -> Result<Output, ToolError> {
    let repo = b.repos.get(repo)?;
    with_access(b, caller, |access| {
        remote::pull(repo, args, access, &caller.identity)
    })
}

/// `git_push` on parsed arguments.
pub(crate) fn push_with(
    b: &Backends,
    caller: &Caller,
    repo: Option<&str>,
    args: &remote::PushArgs,
) -> Result<Output, ToolError> {
    let repo = b.repos.get(repo)?;
    let own_tip = if args.delete == Some(true) && args.force != Some(true) {
        own_tip(b, caller, repo, args)?
    } else {
        None
    };
    with_access(b, caller, |access| {
        remote::push(repo, args, access, own_tip)
    })
}

/// The commit the caller last pushed to the branch `args` deletes, when the audit log shows the
/// branch is theirs (see [`remote::ownership`]); `None` without an audit log.
fn own_tip(
    b: &Backends,
    caller: &Caller,
    repo: &crate::git::Repo,
    args: &remote::PushArgs,
) -> Result<Option<git2::Oid>, ToolError> {
    let Some(log) = &b.audit else {
        return Ok(None);
    };
    let branch = match &args.branch {
        Some(name) => crate::git::safety::BranchName::new(name)?,
        None => remote::current_branch(repo)?,
    };
    let filter = crate::audit::AuditFilter {
        tool: Some("git_push".into()),
        repo: Some(repo.name().to_owned()),
        allowed: Some(true),
        ok: Some(true),
        limit: Some(remote::ownership::LEDGER_WINDOW),
        ..Default::default()
    };
    // Git tools run on a blocking thread of the runtime: waiting for the query here is fine.
    let pushes = tokio::runtime::Handle::current()
        .block_on(log.query(&filter))
        .map_err(|e| {
            ToolError::with_code(
                ErrorCode::Unavailable,
                format!("cannot read the audit log to tell whose branch this is: {e}; try again, or pass force (needs git:force)"),
            )
        })?;
    Ok(remote::ownership::own_tip(
        &pushes,
        caller.user(),
        &branch.refname(),
    ))
}

fn spec(
    tool: rmcp::model::Tool,
    effect: Effect,
    class: ToolClass,
    handler: fn(&Backends, &Caller, GitCall) -> Result<Output, ToolError>,
) -> ToolSpec {
    ToolSpec {
        tool,
        effect,
        class,
        // Listed with the GitHub tools: they need the GitHub host (policy judges them as git).
        toolset: Toolset::Github,
        handler: Handler::Git(handler),
        audit: AuditTarget::default(),
        escalation: None,
        json_fields: None,
    }
}

/// The remote tools in `tools/list` order.
pub(super) fn specs() -> Vec<ToolSpec> {
    let mut push_spec = spec(
        define::<remote::PushArgs>(
            "git_push",
            "Push a branch to GitHub as you.",
            Effect::Write,
            None,
        ),
        Effect::Write,
        ToolClass::GIT_PUSH,
        push,
    )
    .audit_ref("branch");
    push_spec.escalation = Some(Escalation {
        flag: "force",
        class: ToolClass::GIT_FORCE,
    });
    vec![
        spec(
            define::<remote::FetchArgs>(
                "git_fetch",
                "Fetch branches from GitHub.",
                Effect::Write,
                None,
            ),
            Effect::Write,
            ToolClass::GIT_WRITE,
            fetch,
        ),
        spec(
            define::<remote::PullArgs>(
                "git_pull",
                "Fetch and fast-forward the current branch (git pull --ff-only).",
                Effect::Write,
                None,
            ),
            Effect::Write,
            ToolClass::GIT_WRITE,
            pull,
        ),
        push_spec,
    ]
}
