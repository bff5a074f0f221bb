//! gh's writes on issues and pull requests: create, comment, close, reopen, edit, merge and
//! review, each one call of its JSON tool (github:write, or github:merge for a merge),
//! printing what gh 2.23 prints without a terminal: the URL of what was made or edited on
//! standard output, `✓ Closed ...` notes on standard error, nothing after a merge or review.

use serde_json::Value;

use super::Runner;
use super::gh::{self, Failed, Flag, Gh, Printed, REPO, switch, value};
use crate::github::records::{self, IssueState, MergeMethod, Reason, RepoName, ReviewEvent};
use crate::github::{
    IssueCommentArgs, IssueCreateArgs, IssueEditArgs, PrCreateArgs, PrEditArgs, PrMergeArgs,
    PrReviewArgs,
};

const ISSUE_CREATE_FLAGS: &[Flag] = &[
    value("title", Some('t')),
    value("body", Some('b')),
    value("label", Some('l')),
    value("assignee", Some('a')),
    REPO,
];
const COMMENT_FLAGS: &[Flag] = &[value("body", Some('b')), REPO];
const CLOSE_FLAGS: &[Flag] = &[
    value("reason", Some('r')),
    value("comment", Some('c')),
    REPO,
];
const PR_CLOSE_FLAGS: &[Flag] = &[value("comment", Some('c')), REPO];
const REOPEN_FLAGS: &[Flag] = &[REPO];
const EDIT_FLAGS: &[Flag] = &[
    value("title", Some('t')),
    value("body", Some('b')),
    value("add-label", None),
    value("remove-label", None),
    value("add-assignee", None),
    value("remove-assignee", None),
    REPO,
];
const PR_EDIT_FLAGS: &[Flag] = &[
    value("title", Some('t')),
    value("body", Some('b')),
    value("base", Some('B')),
    value("add-label", None),
    value("remove-label", None),
    value("add-assignee", None),
    value("remove-assignee", None),
    REPO,
];
const PR_CREATE_FLAGS: &[Flag] = &[
    value("title", Some('t')),
    value("body", Some('b')),
    value("head", Some('H')),
    value("base", Some('B')),
    switch("draft", Some('d')),
    REPO,
];
const MERGE_FLAGS: &[Flag] = &[
    switch("merge", Some('m')),
    switch("squash", Some('s')),
    switch("rebase", Some('r')),
    value("subject", Some('t')),
    value("body", Some('b')),
    REPO,
];
const REVIEW_FLAGS: &[Flag] = &[
    switch("approve", Some('a')),
    switch("request-changes", Some('r')),
    switch("comment", Some('c')),
    value("body", Some('b')),
    REPO,
];

/// The issue or pull request `v`'s title, as gh's notes quote it.
fn title(v: &Value) -> &str {
    v["title"].as_str().unwrap_or("")
}

fn resolve(gh: &Gh<'_>, repo: Option<&str>) -> Result<RepoName, Failed> {
    RepoName::resolve(gh.clients, repo).map_err(|e| Failed(e.to_string()))
}

/// The user the calls run as, for `@me`.
fn me(gh: &Gh<'_>) -> Result<String, Failed> {
    let v = gh.wait(records::viewer(gh.clients, gh.user))?;
    Ok(v["login"].as_str().unwrap_or("").to_owned())
}

/// `logins` with `@me` replaced by the caller's login.
fn logins(gh: &Gh<'_>, logins: Vec<String>) -> Result<Vec<String>, Failed> {
    if !logins.iter().any(|l| l == "@me") {
        return Ok(logins);
    }
    let me = me(gh)?;
    Ok(logins
        .into_iter()
        .map(|l| if l == "@me" { me.clone() } else { l })
        .collect())
}

/// `gh issue create`.
pub(super) fn issue_create(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
) -> Result<Printed, Failed> {
    let p = gh::parse("gh issue create", ISSUE_CREATE_FLAGS, rest)?;
    let (Some(title), Some(body)) = (p.last("title"), p.last("body")) else {
        return Err(Failed(
            "must provide `--title` and `--body` when not running interactively".into(),
        ));
    };
    let (title, body) = (title.to_owned(), body.to_owned());
    runner.gh_call("gh_issue_create", argv, p.repo(), None, |gh| {
        let args = IssueCreateArgs {
            repo: p.repo(),
            title,
            body: Some(body),
            label: p.list("label"),
            assignee: logins(gh, p.list("assignee"))?,
        };
        let v = gh.wait(records::create_issue(gh.clients, gh.user, &args))?;
        Ok(format!("{}\n", v["html_url"].as_str().unwrap_or("")).into())
    })
}

/// `gh issue comment N` and `gh pr comment N`.
pub(super) fn comment(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
    command: &str,
) -> Result<Printed, Failed> {
    let p = gh::parse(command, COMMENT_FLAGS, rest)?;
    let n = gh::number(command, &p)?;
    let Some(body) = p.last("body").map(str::to_owned) else {
        return Err(Failed(
            "`--body` or `--body-file` required when not running interactively".into(),
        ));
    };
    runner.gh_call("gh_issue_comment", argv, p.repo(), Some(n), |gh| {
        let args = IssueCommentArgs {
            repo: p.repo(),
            number: n,
            body,
        };
        let v = gh
            .wait_raw(records::comment_on(gh.clients, gh.user, &args))
            .map_err(|e| {
                super::gh_issue::not_found(e, n, "an issue or pull request", "repository.issue")
            })?;
        Ok(format!("{}\n", v["html_url"].as_str().unwrap_or("")).into())
    })
}

/// `--comment BODY` of a close or reopen: posted before the state changes, as gh does.
fn comment_first(gh: &gh::Gh<'_>, p: &gh::Parsed, n: u64) -> Result<(), Failed> {
    if let Some(body) = p.last("comment") {
        let args = IssueCommentArgs {
            repo: p.repo(),
            number: n,
            body: body.to_owned(),
        };
        gh.wait(records::comment_on(gh.clients, gh.user, &args))?;
    }
    Ok(())
}

/// The state a close (or reopen) asks for.
fn new_state(close: bool) -> IssueState {
    if close {
        IssueState::Closed
    } else {
        IssueState::Open
    }
}

/// gh's note when the issue or pull request `v` already is in the asked state.
fn already(kind: &str, n: u64, v: &serde_json::Value, close: bool) -> Option<Printed> {
    ((v["state"] == "closed") == close).then(|| {
        let now = if close { "closed" } else { "open" };
        Printed::note(format!("! {kind} #{n} ({}) is already {now}\n", title(v)))
    })
}

/// `gh issue close N` and `gh issue reopen N`.
pub(super) fn issue_state(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
    close: bool,
) -> Result<Printed, Failed> {
    let command = if close {
        "gh issue close"
    } else {
        "gh issue reopen"
    };
    let flags = if close { CLOSE_FLAGS } else { REOPEN_FLAGS };
    let p = gh::parse(command, flags, rest)?;
    let n = gh::number(command, &p)?;
    let reason = match p.last("reason") {
        None => None,
        Some("completed") => Some(Reason::Completed),
        Some("not planned") => Some(Reason::NotPlanned),
        Some(other) => {
            return Err(Failed(format!(
                "invalid argument \"{other}\" for \"-r, --reason\" flag: valid values are {{completed|not planned}}"
            )));
        }
    };
    runner.gh_call("gh_issue_edit", argv, p.repo(), Some(n), |gh| {
        let repo = resolve(gh, p.repo().as_deref())?;
        let v = gh
            .wait_raw(records::get_issue(gh.clients, gh.user, &repo, n))
            .map_err(|e| {
                super::gh_issue::not_found(e, n, "an issue or pull request", "repository.issue")
            })?;
        if let Some(already) = already("Issue", n, &v, close) {
            return Ok(already);
        }
        comment_first(gh, &p, n)?;
        let args = IssueEditArgs {
            repo: p.repo(),
            number: n,
            state: Some(new_state(close)),
            reason: reason.filter(|_| close),
            ..IssueEditArgs::default()
        };
        gh.wait(records::edit_issue(gh.clients, gh.user, &args))?;
        let done = if close { "Closed" } else { "Reopened" };
        Ok(Printed::note(format!(
            "✓ {done} issue #{n} ({})\n",
            title(&v)
        )))
    })
}

/// `gh issue edit N`.
pub(super) fn issue_edit(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
) -> Result<Printed, Failed> {
    let p = gh::parse("gh issue edit", EDIT_FLAGS, rest)?;
    let n = gh::number("gh issue edit", &p)?;
    runner.gh_call("gh_issue_edit", argv, p.repo(), Some(n), |gh| {
        let args = IssueEditArgs {
            repo: p.repo(),
            number: n,
            title: p.last("title").map(str::to_owned),
            body: p.last("body").map(str::to_owned),
            add_label: p.list("add-label"),
            remove_label: p.list("remove-label"),
            add_assignee: logins(gh, p.list("add-assignee"))?,
            remove_assignee: logins(gh, p.list("remove-assignee"))?,
            ..IssueEditArgs::default()
        };
        let v = gh
            .wait_raw(records::edit_issue(gh.clients, gh.user, &args))
            .map_err(|e| {
                super::gh_issue::not_found(e, n, "an issue or pull request", "repository.issue")
            })?;
        Ok(format!("{}\n", v["html_url"].as_str().unwrap_or("")).into())
    })
}

/// `gh pr create`.
pub(super) fn pr_create(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
) -> Result<Printed, Failed> {
    let p = gh::parse("gh pr create", PR_CREATE_FLAGS, rest)?;
    let Some(head) = p.last("head").map(str::to_owned) else {
        return Err(Failed(
            "gh pr create: gitgate needs --head BRANCH (it has no current branch)".into(),
        ));
    };
    let (Some(title), Some(body)) = (p.last("title"), p.last("body")) else {
        return Err(Failed(
            "must provide `--title` and `--body` (or `--fill`) when not running interactively"
                .into(),
        ));
    };
    let args = PrCreateArgs {
        repo: p.repo(),
        title: title.to_owned(),
        body: Some(body.to_owned()),
        base: p.last("base").map(str::to_owned),
        head,
        draft: p.on("draft"),
    };
    runner.gh_call("gh_pr_create", argv, p.repo(), None, |gh| {
        let v = gh.wait(records::create_pr(gh.clients, gh.user, &args))?;
        Ok(format!("{}\n", v["html_url"].as_str().unwrap_or("")).into())
    })
}

/// `gh pr close N` and `gh pr reopen N`.
pub(super) fn pr_state(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
    close: bool,
) -> Result<Printed, Failed> {
    let command = if close { "gh pr close" } else { "gh pr reopen" };
    let flags = if close { PR_CLOSE_FLAGS } else { REOPEN_FLAGS };
    let p = gh::parse(command, flags, rest)?;
    let n = gh::number(command, &p)?;
    runner.gh_call("gh_pr_edit", argv, p.repo(), Some(n), |gh| {
        let repo = resolve(gh, p.repo().as_deref())?;
        let v = gh
            .wait_raw(records::get_pr(gh.clients, gh.user, &repo, n))
            .map_err(|e| {
                super::gh_issue::not_found(e, n, "a PullRequest", "repository.pullRequest")
            })?;
        let verb = if close { "closed" } else { "reopened" };
        if !v["merged_at"].is_null() {
            return Err(Failed(format!(
                "! Pull request #{n} ({}) can't be {verb} because it was already merged",
                title(&v)
            )));
        }
        if let Some(already) = already("Pull request", n, &v, close) {
            return Ok(already);
        }
        comment_first(gh, &p, n)?;
        let args = PrEditArgs {
            repo: p.repo(),
            number: n,
            state: Some(new_state(close)),
            ..PrEditArgs::default()
        };
        gh.wait(records::edit_pr(gh.clients, gh.user, &args))?;
        let done = if close { "Closed" } else { "Reopened" };
        Ok(Printed::note(format!(
            "✓ {done} pull request #{n} ({})\n",
            title(&v)
        )))
    })
}

/// `gh pr edit N`.
pub(super) fn pr_edit(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
) -> Result<Printed, Failed> {
    let p = gh::parse("gh pr edit", PR_EDIT_FLAGS, rest)?;
    let n = gh::number("gh pr edit", &p)?;
    runner.gh_call("gh_pr_edit", argv, p.repo(), Some(n), |gh| {
        let args = PrEditArgs {
            repo: p.repo(),
            number: n,
            title: p.last("title").map(str::to_owned),
            body: p.last("body").map(str::to_owned),
            base: p.last("base").map(str::to_owned),
            add_label: p.list("add-label"),
            remove_label: p.list("remove-label"),
            add_assignee: logins(gh, p.list("add-assignee"))?,
            remove_assignee: logins(gh, p.list("remove-assignee"))?,
            state: None,
        };
        let v = gh
            .wait_raw(records::edit_pr(gh.clients, gh.user, &args))
            .map_err(|e| {
                super::gh_issue::not_found(e, n, "a PullRequest", "repository.pullRequest")
            })?;
        Ok(format!("{}\n", v["html_url"].as_str().unwrap_or("")).into())
    })
}

/// `gh pr merge N --merge|--squash|--rebase`: prints nothing, as gh without a terminal.
pub(super) fn pr_merge(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
) -> Result<Printed, Failed> {
    let p = gh::parse("gh pr merge", MERGE_FLAGS, rest)?;
    let n = gh::number("gh pr merge", &p)?;
    let methods: Vec<MergeMethod> = [
        ("merge", MergeMethod::Merge),
        ("squash", MergeMethod::Squash),
        ("rebase", MergeMethod::Rebase),
    ]
    .into_iter()
    .filter(|(flag, _)| p.on(flag))
    .map(|(_, m)| m)
    .collect();
    let method = match methods.as_slice() {
        [one] => *one,
        [] => {
            return Err(Failed(
                "--merge, --rebase, or --squash required when not running interactively".into(),
            ));
        }
        _ => {
            return Err(Failed(
                "only one of --merge, --rebase, or --squash can be enabled".into(),
            ));
        }
    };
    runner.gh_call("gh_pr_merge", argv, p.repo(), Some(n), |gh| {
        let repo = resolve(gh, p.repo().as_deref())?;
        let v = gh
            .wait_raw(records::get_pr(gh.clients, gh.user, &repo, n))
            .map_err(|e| {
                super::gh_issue::not_found(e, n, "a PullRequest", "repository.pullRequest")
            })?;
        if !v["merged_at"].is_null() {
            return Ok(Printed::note(format!(
                "! Pull request #{n} was already merged\n"
            )));
        }
        let args = PrMergeArgs {
            repo: p.repo(),
            number: n,
            method,
            subject: p.last("subject").map(str::to_owned),
            body: p.last("body").map(str::to_owned),
        };
        gh.wait(records::merge_pr(gh.clients, gh.user, &args))?;
        Ok(Printed::default())
    })
}

/// `gh pr review N --approve|--request-changes|--comment [-b BODY]`: prints nothing, as gh
/// without a terminal.
pub(super) fn pr_review(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
) -> Result<Printed, Failed> {
    let p = gh::parse("gh pr review", REVIEW_FLAGS, rest)?;
    let n = gh::number("gh pr review", &p)?;
    let events: Vec<ReviewEvent> = [
        ("approve", ReviewEvent::Approve),
        ("request-changes", ReviewEvent::RequestChanges),
        ("comment", ReviewEvent::Comment),
    ]
    .into_iter()
    .filter(|(flag, _)| p.on(flag))
    .map(|(_, e)| e)
    .collect();
    let event = match events.as_slice() {
        [one] => *one,
        [] => {
            return Err(Failed(
                "--approve, --request-changes, or --comment required when not running interactively"
                    .into(),
            ));
        }
        _ => {
            return Err(Failed(
                "need exactly one of --approve, --request-changes, or --comment".into(),
            ));
        }
    };
    let body = p.last("body").map(str::to_owned);
    if event != ReviewEvent::Approve && body.as_deref().is_none_or(str::is_empty) {
        let which = if event == ReviewEvent::Comment {
            "comment"
        } else {
            "request changes"
        };
        return Err(Failed(format!("body cannot be blank for {which} review")));
    }
    runner.gh_call("gh_pr_review", argv, p.repo(), Some(n), |gh| {
        let args = PrReviewArgs {
            repo: p.repo(),
            number: n,
            event,
            body,
        };
        gh.wait(records::review_pr(gh.clients, gh.user, &args))?;
        Ok(Printed::default())
    })
}
