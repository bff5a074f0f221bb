//! Multi-user auth: alice, bob and carol each open an issue and comment on one; the forge is
//! then asked who wrote each. Then carol loses access by the only lever each arm has, and each
//! user tries one call.
//!
//! CLI: the box's `gh` holds one shared token (ci-bot's), so the only lever is revoking that
//! token at the forge. gitgate: each user has their own gitgate token and their own GitHub token
//! stored encrypted; `gitgate users revoke carol`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use serde_json::json;

use super::agent_box::AgentBox;
use super::procs::{Forge, Gitgate};
use super::session::UserSession;
use super::{REPO, SHARED_TOKEN, SHARED_TOKEN_NAME, ScenarioConfig, USERS, shell_quote};
use crate::model::ScenarioResult;

/// The user whose access is revoked.
const REVOKED: &str = "carol";
/// The issue everyone comments on (exists in the demo seed).
const COMMENTED_ISSUE: u64 = 1;

/// One write and who should appear as its author.
struct Write {
    user: &'static str,
    kind: &'static str,
    marker: String,
}

fn issue_title(user: &str) -> String {
    format!("Multi-user check: issue filed for {user}")
}

fn comment_body(user: &str) -> String {
    format!("Multi-user check: comment written for {user}")
}

/// The CLI side.
pub async fn cli(
    config: &ScenarioConfig,
    dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<ScenarioResult> {
    progress("multi-user auth, cli: seeding the forge");
    let forge = Forge::start(&config.forge, &dir.join("forge")).await?;
    let agent = AgentBox::new(dir, &forge.base_url, SHARED_TOKEN)?;
    let mut notes = vec![format!(
        "one agent box, gh logged in with the shared token of `{SHARED_TOKEN_NAME}`"
    )];
    let mut writes = Vec::new();
    progress("multi-user auth, cli: three users write through the shared box");
    for user in USERS {
        let title = issue_title(user);
        let create = format!(
            "gh issue create -R {REPO} --title {} --body {}",
            shell_quote(&title),
            shell_quote("Seen in CI.")
        );
        note_failure(&mut notes, user, "issue create", &agent.run(&create)?);
        writes.push(Write {
            user,
            kind: "issue",
            marker: title,
        });
        let body = comment_body(user);
        let comment = format!(
            "gh issue comment {COMMENTED_ISSUE} -R {REPO} --body {}",
            shell_quote(&body)
        );
        note_failure(&mut notes, user, "issue comment", &agent.run(&comment)?);
        writes.push(Write {
            user,
            kind: "comment",
            marker: body,
        });
    }
    let (attributed, mut lines) = attribution(&forge, &writes).await?;
    notes.append(&mut lines);

    let probe = format!("gh issue list -R {REPO} --limit 1");
    let mut before = BTreeMap::new();
    for user in USERS {
        before.insert(user, agent.run(&probe)?.ok);
    }
    progress("multi-user auth, cli: cutting carol off (revoking the shared token)");
    forge.revoke_token(SHARED_TOKEN_NAME).await?;
    notes.push(format!(
        "to cut off {REVOKED}: the box's only credential is the shared token, so it was revoked at the forge"
    ));
    let mut after = BTreeMap::new();
    for user in USERS {
        let ran = agent.run(&probe)?;
        if !ran.ok {
            notes.push(format!(
                "{user} after revocation: {}",
                first_line(&ran.stderr)
            ));
        }
        after.insert(user, ran.ok);
    }
    Ok(result(
        "cli",
        writes.len(),
        attributed,
        &before,
        &after,
        notes,
    ))
}

/// The gitgate side.
pub async fn gitgate(
    config: &ScenarioConfig,
    dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<ScenarioResult> {
    progress("multi-user auth, mcp: seeding the forge and adding users");
    let forge = Forge::start(&config.forge, &dir.join("forge")).await?;
    let gate = Gitgate::init(&config.gitgate, dir)?;
    let mut tokens = BTreeMap::new();
    for user in USERS {
        let github = format!("ghp_demo_{user}");
        tokens.insert(
            user,
            gate.add_user(user, "github:read github:write", &github)?,
        );
    }
    let server = gate.serve_http(&forge)?;
    let mut sessions = Vec::new();
    for user in USERS {
        sessions.push(UserSession::connect(&server.url, user, &tokens[user]).await?);
    }
    let mut notes = vec![
        "gitgate over Streamable HTTP: a gitgate token per user, each user's own GitHub token stored encrypted".to_owned(),
    ];
    progress("multi-user auth, mcp: three users write through gitgate");
    let writes = write_through_gitgate(&sessions, &mut notes).await;
    let (attributed, mut lines) = attribution(&forge, &writes).await?;
    notes.append(&mut lines);

    let probe = json!({"repo": REPO, "limit": 1});
    let mut before = BTreeMap::new();
    for (user, session) in USERS.into_iter().zip(&sessions) {
        before.insert(user, session.call("gh_issue_list", &probe).await.ok);
    }
    progress("multi-user auth, mcp: gitgate users revoke carol");
    gate.run(&["users", "revoke", REVOKED], &[])?;
    notes.push(format!(
        "to cut off {REVOKED}: `gitgate users revoke {REVOKED}`; calls went on sessions opened before it"
    ));
    let mut after = BTreeMap::new();
    for (user, session) in USERS.into_iter().zip(&sessions) {
        let called = session.call("gh_issue_list", &probe).await;
        if !called.ok {
            notes.push(format!(
                "{user} after revocation: {}",
                first_line(&called.text)
            ));
        }
        after.insert(user, called.ok);
    }
    for session in sessions {
        session.close().await;
    }
    drop(server);
    Ok(result(
        "mcp",
        writes.len(),
        attributed,
        &before,
        &after,
        notes,
    ))
}

/// Each user creates an issue and comments on the commented issue in their own session; the
/// writes, with a note for each that failed.
async fn write_through_gitgate(sessions: &[UserSession], notes: &mut Vec<String>) -> Vec<Write> {
    let mut writes = Vec::new();
    for (user, session) in USERS.into_iter().zip(sessions) {
        let title = issue_title(user);
        let called = session
            .call(
                "gh_issue_create",
                &json!({"repo": REPO, "title": title, "body": "Seen in CI."}),
            )
            .await;
        if !called.ok {
            notes.push(format!(
                "{user}: gh_issue_create failed: {}",
                first_line(&called.text)
            ));
        }
        writes.push(Write {
            user,
            kind: "issue",
            marker: title,
        });
        let body = comment_body(user);
        let called = session
            .call(
                "gh_issue_comment",
                &json!({"repo": REPO, "number": COMMENTED_ISSUE, "body": body}),
            )
            .await;
        if !called.ok {
            notes.push(format!(
                "{user}: gh_issue_comment failed: {}",
                first_line(&called.text)
            ));
        }
        writes.push(Write {
            user,
            kind: "comment",
            marker: body,
        });
    }
    writes
}

fn note_failure(notes: &mut Vec<String>, user: &str, what: &str, ran: &super::agent_box::Ran) {
    if !ran.ok {
        notes.push(format!(
            "{user}: {what} failed: {}",
            first_line(&ran.stderr)
        ));
    }
}

/// The first non-empty line, without the client library's wrapping (rmcp prefixes transport
/// errors with the transport's type name; the reason is after the last "error: ").
fn first_line(text: &str) -> &str {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("(no message)");
    line.rsplit_once("] error: ")
        .map_or(line, |(_, reason)| reason)
}

/// Asks the forge who wrote each write; returns how many carry their person's login, and one
/// note per write that does not.
async fn attribution(forge: &Forge, writes: &[Write]) -> Result<(usize, Vec<String>)> {
    // Read with a token that no scenario revokes; reading happens before any revocation anyway.
    let reader = "ghp_demo_alice";
    let issues = forge
        .get_json(
            &format!("/repos/{REPO}/issues?state=all&per_page=100"),
            reader,
        )
        .await?;
    let comments = forge
        .get_json(
            &format!("/repos/{REPO}/issues/{COMMENTED_ISSUE}/comments?per_page=100"),
            reader,
        )
        .await?;
    let author = |kind: &str, marker: &str| -> Option<String> {
        let (list, field) = match kind {
            "issue" => (&issues, "title"),
            _ => (&comments, "body"),
        };
        list.as_array()?
            .iter()
            .find(|item| item[field] == marker)
            .and_then(|item| item["user"]["login"].as_str())
            .map(str::to_owned)
    };
    let mut attributed = 0;
    let mut notes = Vec::new();
    for w in writes {
        match author(w.kind, &w.marker) {
            Some(login) if login == w.user => attributed += 1,
            Some(login) => notes.push(format!(
                "{}'s {} is attributed to {login} at the forge",
                w.user, w.kind
            )),
            None => notes.push(format!("{}'s {} never reached the forge", w.user, w.kind)),
        }
    }
    Ok((attributed, notes))
}

fn result(
    arm: &str,
    writes: usize,
    attributed: usize,
    before: &BTreeMap<&str, bool>,
    after: &BTreeMap<&str, bool>,
    notes: Vec<String>,
) -> ScenarioResult {
    let had: Vec<&str> = before
        .iter()
        .filter(|(_, ok)| **ok)
        .map(|(u, _)| *u)
        .collect();
    let lost: Vec<&str> = had
        .iter()
        .copied()
        .filter(|u| after.get(u) != Some(&true))
        .collect();
    let share = if writes == 0 {
        0.0
    } else {
        attributed as f64 / writes as f64
    };
    let mut figures = BTreeMap::new();
    figures.insert("writes".to_owned(), writes as f64);
    figures.insert("writes_attributed_to_author".to_owned(), attributed as f64);
    figures.insert("attribution_share".to_owned(), share);
    figures.insert("users_with_access_before".to_owned(), had.len() as f64);
    figures.insert(
        "users_cut_off_by_one_revocation".to_owned(),
        lost.len() as f64,
    );
    let mut findings = BTreeMap::new();
    findings.insert(
        "only_revoked_user_cut_off".to_owned(),
        lost == [REVOKED] && had.len() == USERS.len(),
    );
    let mut notes = notes;
    notes.push(format!(
        "lost access after revoking {REVOKED}: {}",
        if lost.is_empty() {
            "nobody".to_owned()
        } else {
            lost.join(", ")
        }
    ));
    ScenarioResult {
        scenario: "multi-user-auth".to_owned(),
        dimension: "multi_user_auth".to_owned(),
        arm: arm.to_owned(),
        figures,
        findings,
        notes,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn check(before: &[bool; 3], after: &[bool; 3], lost: f64, only_revoked: bool) {
        let map = |v: &[bool; 3]| USERS.into_iter().zip(v.iter().copied()).collect();
        let r = result("x", 6, 6, &map(before), &map(after), Vec::new());
        assert_eq!(r.figures["users_cut_off_by_one_revocation"], lost);
        assert_eq!(r.findings["only_revoked_user_cut_off"], only_revoked);
        assert_eq!(r.figures["attribution_share"], 1.0);
    }

    #[test]
    fn cut_off_counts_users_who_had_access_and_lost_it() {
        check(&[true; 3], &[true, true, false], 1.0, true);
        check(&[true; 3], &[false; 3], 3.0, false);
        check(&[true; 3], &[true; 3], 0.0, false);
        // Someone without access before does not count as cut off.
        check(&[true, true, false], &[false, true, false], 1.0, false);
    }
}
