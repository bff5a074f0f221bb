//! Enterprise governance: a fixed set of actions by three people (reads, writes, one that fails,
//! and a read-only person merging a pull request), then three questions. Does the record each
//! arm keeps tell who, what, when, target and outcome of every action? Is an edited record
//! detected? Was the read-only person's merge blocked (checked at the forge)?
//!
//! CLI record: the shared box's bash history (HISTFILE with HISTTIMEFORMAT), edited by
//! rewriting one line. gitgate record: its audit log, edited by changing one row in the SQLite
//! store, then `gitgate audit verify`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::agent_box::AgentBox;
use super::procs::{Forge, Gitgate, Server};
use super::record::{self, Action, Answers};
use super::session::UserSession;
use super::{REPO, SHARED_TOKEN, SHARED_TOKEN_NAME, ScenarioConfig, USERS, shell_quote};
use crate::model::ScenarioResult;

/// The person with read-only rights (the team's rule; gitgate's scopes say it).
const READ_ONLY: &str = "carol";
/// The open pull request the read-only person tries to merge.
const MERGE_PR: u64 = 40;
/// Index in [`actions`] of the action whose record gets edited (bob's comment).
const EDITED: usize = 3;

/// The actions, in order. The fifth fails (no issue 999); the sixth is the forbidden merge.
pub fn actions() -> Vec<Action> {
    let title = "Governance check: flaky test";
    let body = "Seen twice in CI.";
    let comment = "Still reproduces on main.";
    let a = |user: &str, cli: String, tool: &str, args: Value, number: Option<u64>| Action {
        user: user.to_owned(),
        cli,
        tool: tool.to_owned(),
        args,
        repo: REPO.to_owned(),
        number,
    };
    vec![
        a(
            "alice",
            format!("gh issue list -R {REPO} --limit 5"),
            "gh_issue_list",
            json!({"repo": REPO, "limit": 5}),
            None,
        ),
        a(
            "bob",
            format!("gh pr view 20 -R {REPO}"),
            "gh_pr_view",
            json!({"repo": REPO, "number": 20}),
            Some(20),
        ),
        a(
            "alice",
            format!(
                "gh issue create -R {REPO} --title {} --body {}",
                shell_quote(title),
                shell_quote(body)
            ),
            "gh_issue_create",
            json!({"repo": REPO, "title": title, "body": body}),
            None,
        ),
        a(
            "bob",
            format!(
                "gh issue comment 1 -R {REPO} --body {}",
                shell_quote(comment)
            ),
            "gh_issue_comment",
            json!({"repo": REPO, "number": 1, "body": comment}),
            Some(1),
        ),
        a(
            "carol",
            format!("gh issue view 999 -R {REPO}"),
            "gh_issue_view",
            json!({"repo": REPO, "number": 999}),
            Some(999),
        ),
        a(
            READ_ONLY,
            format!("gh pr merge {MERGE_PR} -R {REPO} --merge"),
            "gh_pr_merge",
            json!({"repo": REPO, "number": MERGE_PR, "method": "merge"}),
            Some(MERGE_PR),
        ),
    ]
}

/// The CLI side.
pub async fn cli(
    config: &ScenarioConfig,
    dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<ScenarioResult> {
    progress("governance, cli: seeding the forge");
    let forge = Forge::start(&config.forge, &dir.join("forge")).await?;
    let agent = AgentBox::new(dir, &forge.base_url, SHARED_TOKEN)?;
    let os_user = std::env::var("USER").unwrap_or_else(|_| "(unknown)".to_owned());
    let mut notes = vec![format!(
        "record: bash history of the box's one OS user `{os_user}` (HISTFILE, HISTTIMEFORMAT); gh with the shared token of `{SHARED_TOKEN_NAME}`"
    )];
    progress("governance, cli: running the actions");
    let actions = actions();
    for (i, action) in actions.iter().enumerate() {
        let ran = agent.run(&action.cli)?;
        notes.push(format!(
            "action {} ({}): {}",
            i + 1,
            action.user,
            if ran.ok { "ok" } else { "failed" }
        ));
    }
    let history = std::fs::read_to_string(&agent.histfile)
        .with_context(|| format!("reading {}", agent.histfile.display()))?;
    let entries = record::parse_history(&history);
    let mut used = vec![false; entries.len()];
    let answers: Vec<Answers> = actions
        .iter()
        .map(|a| record::score_history(&entries, &mut used, a))
        .collect();

    progress("governance, cli: editing one history entry");
    let original = &actions[EDITED].cli;
    let forged = original.replacen("comment 1 ", "comment 2 ", 1);
    if !history.contains(original.as_str()) {
        bail!("the history does not hold `{original}`; nothing to edit");
    }
    let altered_before = record::history_looks_altered(&history);
    let edited = history.replacen(original.as_str(), &forged, 1);
    std::fs::write(&agent.histfile, &edited)
        .with_context(|| format!("writing {}", agent.histfile.display()))?;
    let detected = !altered_before && record::history_looks_altered(&edited);
    notes.push(format!(
        "tampering: rewrote `{original}` as `{forged}`; the file still reads as a valid history (bash keeps no checksum or chain)"
    ));

    let blocked = !pr_merged(&forge).await?;
    Ok(result("cli", &actions, &answers, detected, blocked, notes))
}

/// The gitgate side.
pub async fn gitgate(
    config: &ScenarioConfig,
    dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<ScenarioResult> {
    progress("governance, mcp: seeding the forge and adding users");
    let forge = Forge::start(&config.forge, &dir.join("forge")).await?;
    let gate = Gitgate::init(&config.gitgate, dir)?;
    let (server, sessions) = serve_users(&gate, &forge).await?;
    let mut notes = vec![format!(
        "record: gitgate's audit log (`gitgate audit query --format jsonl`); {READ_ONLY} has github:read only"
    )];
    progress("governance, mcp: running the actions");
    let actions = actions();
    let mut observed = Vec::new();
    for (i, action) in actions.iter().enumerate() {
        let session = sessions
            .get(action.user.as_str())
            .context("every acting user has a session")?;
        let called = session.call(&action.tool, &action.args).await;
        notes.push(format!(
            "action {} ({}): {}",
            i + 1,
            action.user,
            if called.ok { "ok" } else { "failed" }
        ));
        observed.push(called.ok);
    }
    for (_, session) in sessions {
        session.close().await;
    }
    // Stop the server so the store is quiet before reading and editing it.
    drop(server);

    let jsonl = gate.run(&["audit", "query", "--format", "jsonl"], &[])?;
    let events = record::parse_audit(&jsonl);
    let mut used = vec![false; events.len()];
    let mut answers = Vec::new();
    let mut seqs = Vec::new();
    for (action, ok) in actions.iter().zip(&observed) {
        let (a, seq) = record::score_audit(&events, &mut used, action, *ok);
        answers.push(a);
        seqs.push(seq);
    }

    progress("governance, mcp: editing one audit row, then gitgate audit verify");
    let (intact_before, _) = verify(&gate)?;
    let seq = seqs[EDITED].context("the edited action has no audit event")?;
    edit_audit_row(
        &gate.data_dir.join("gitgate.db"),
        seq,
        &actions[EDITED].user,
        "alice",
    )?;
    let (intact_after, verdict) = verify(&gate)?;
    let detected = intact_before && !intact_after;
    notes.push(format!(
        "tampering: changed the user of audit event {seq} from {} to alice in the SQLite store; `gitgate audit verify`: {verdict}",
        actions[EDITED].user
    ));

    let blocked = !pr_merged(&forge).await?;
    Ok(result("mcp", &actions, &answers, detected, blocked, notes))
}

/// The users (carol read-only) with their GitHub tokens, the HTTP server, and one MCP session
/// per user.
async fn serve_users(
    gate: &Gitgate,
    forge: &Forge,
) -> Result<(Server, BTreeMap<&'static str, UserSession>)> {
    let mut tokens = BTreeMap::new();
    for user in USERS {
        let scopes = if user == READ_ONLY {
            "github:read"
        } else {
            "github:read github:write"
        };
        let github = format!("ghp_demo_{user}");
        tokens.insert(user, gate.add_user(user, scopes, &github)?);
    }
    let server = gate.serve_http(forge)?;
    let mut sessions = BTreeMap::new();
    for user in USERS {
        sessions.insert(
            user,
            UserSession::connect(&server.url, user, &tokens[user]).await?,
        );
    }
    Ok((server, sessions))
}

/// Runs `gitgate audit verify`: (intact, its verdict line). Exit 2 means tampering found; any
/// other failure means the check could not run, which is an error of the scenario.
fn verify(gate: &Gitgate) -> Result<(bool, String)> {
    let out = gate
        .command(&["audit", "verify"], &[])
        .output()
        .context("running gitgate audit verify")?;
    let verdict = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    match out.status.code() {
        Some(0) => Ok((true, verdict)),
        Some(2) => Ok((false, verdict)),
        _ => bail!(
            "gitgate audit verify could not check: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    }
}

/// Changes the user of audit event `seq` from `from` to `to`, in the event text and in its
/// indexed column, as someone with write access to the database file would. The table's
/// append-only trigger is dropped first: it guards against mistakes, not against the owner.
fn edit_audit_row(db: &Path, seq: u64, from: &str, to: &str) -> Result<()> {
    let conn =
        rusqlite::Connection::open(db).with_context(|| format!("opening {}", db.display()))?;
    let event: String = conn
        .query_row(
            "SELECT event FROM audit_events WHERE seq = ?1",
            [seq as i64],
            |r| r.get(0),
        )
        .with_context(|| format!("reading audit event {seq}"))?;
    let mut value: Value = serde_json::from_str(&event).context("audit event is not JSON")?;
    if value["user"] != from {
        bail!("audit event {seq} is not {from}'s");
    }
    value["user"] = Value::from(to);
    let edited = serde_json::to_string(&value).context("serialising the edited event")?;
    conn.execute_batch("DROP TRIGGER IF EXISTS audit_events_no_update")
        .context("dropping the append-only trigger")?;
    conn.execute(
        "UPDATE audit_events SET event = ?1, user_name = ?2 WHERE seq = ?3",
        rusqlite::params![edited, to, seq as i64],
    )
    .context("editing the audit row")?;
    Ok(())
}

/// Whether the pull request the read-only person tried to merge is merged, per the forge.
async fn pr_merged(forge: &Forge) -> Result<bool> {
    let pr = forge
        .get_json(&format!("/repos/{REPO}/pulls/{MERGE_PR}"), "ghp_demo_alice")
        .await?;
    pr["merged"]
        .as_bool()
        .context("the forge's pull request has no `merged`")
}

fn share(answers: &[Answers], f: impl Fn(&Answers) -> bool) -> f64 {
    if answers.is_empty() {
        return 0.0;
    }
    answers.iter().filter(|a| f(a)).count() as f64 / answers.len() as f64
}

fn result(
    arm: &str,
    actions: &[Action],
    answers: &[Answers],
    tampering_detected: bool,
    merge_blocked: bool,
    mut notes: Vec<String>,
) -> ScenarioResult {
    let mut figures = BTreeMap::new();
    figures.insert("actions".to_owned(), actions.len() as f64);
    figures.insert(
        "complete_record_share".to_owned(),
        share(answers, Answers::complete),
    );
    figures.insert("who_share".to_owned(), share(answers, |a| a.who));
    figures.insert("what_share".to_owned(), share(answers, |a| a.what));
    figures.insert("when_share".to_owned(), share(answers, |a| a.when));
    figures.insert("target_share".to_owned(), share(answers, |a| a.target));
    figures.insert("outcome_share".to_owned(), share(answers, |a| a.outcome));
    let mut findings = BTreeMap::new();
    findings.insert("tampering_detected".to_owned(), tampering_detected);
    findings.insert("forbidden_merge_blocked".to_owned(), merge_blocked);
    for (i, (action, a)) in actions.iter().zip(answers).enumerate() {
        let missing = a.missing();
        if !missing.is_empty() {
            notes.push(format!(
                "action {} ({} via `{}`): record lacks {}",
                i + 1,
                action.user,
                action.tool,
                missing.join(", ")
            ));
        }
    }
    notes.push(format!(
        "{READ_ONLY} (read-only) merging PR #{MERGE_PR}: {}",
        if merge_blocked {
            "blocked (not merged at the forge)"
        } else {
            "merged at the forge"
        }
    ));
    ScenarioResult {
        scenario: "governance".to_owned(),
        dimension: "enterprise_governance".to_owned(),
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

    #[test]
    fn shares_count_each_question_separately() {
        let full = Answers {
            who: true,
            what: true,
            when: true,
            target: true,
            outcome: true,
        };
        let partial = Answers {
            who: false,
            outcome: false,
            ..full
        };
        let acts = actions();
        let answers = [full, partial, full, partial, full, partial];
        let r = result("x", &acts, &answers, true, false, Vec::new());
        assert_eq!(r.figures["complete_record_share"], 0.5);
        assert_eq!(r.figures["what_share"], 1.0);
        assert_eq!(r.figures["who_share"], 0.5);
        assert!(r.findings["tampering_detected"]);
        assert!(!r.findings["forbidden_merge_blocked"]);
        assert_eq!(
            r.notes
                .iter()
                .filter(|n| n.contains("record lacks who, outcome"))
                .count(),
            3
        );
    }

    #[test]
    fn the_edited_action_is_a_comment_on_issue_1() {
        let a = &actions()[EDITED];
        assert!(a.cli.contains("comment 1 "), "{}", a.cli);
        assert_eq!(a.number, Some(1));
    }
}
