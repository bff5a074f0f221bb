//! Reading the record each arm keeps of its actions, and scoring what that record tells:
//! who acted, what they did, when, on what target, and with what outcome.
//!
//! The CLI arm's record is bash's history file; gitgate's is its audit log as
//! `gitgate audit query --format jsonl` prints it. Each action is looked up in the record that
//! was actually written and each of the five questions is answered from that entry alone.

use serde_json::Value;

/// One action of the governance scenario, as both arms perform it.
#[derive(Debug, Clone)]
pub struct Action {
    /// The person on whose behalf the action runs.
    pub user: String,
    /// The CLI arm's command line.
    pub cli: String,
    /// The MCP arm's tool and arguments.
    pub tool: String,
    pub args: Value,
    /// The repository acted on (`owner/name`).
    pub repo: String,
    /// The issue or pull request acted on, when there is one.
    pub number: Option<u64>,
}

/// Which of the five questions a record answers for one action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Answers {
    pub who: bool,
    pub what: bool,
    pub when: bool,
    pub target: bool,
    pub outcome: bool,
}

impl Answers {
    /// All five answered.
    pub fn complete(&self) -> bool {
        self.who && self.what && self.when && self.target && self.outcome
    }

    /// The questions left unanswered, for the report's notes.
    pub fn missing(&self) -> Vec<&'static str> {
        [
            (self.who, "who"),
            (self.what, "what"),
            (self.when, "when"),
            (self.target, "target"),
            (self.outcome, "outcome"),
        ]
        .iter()
        .filter(|(answered, _)| !answered)
        .map(|(_, name)| *name)
        .collect()
    }
}

/// One entry of a bash history file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Seconds since the epoch, from the `#NNN` line bash writes before an entry when
    /// HISTTIMEFORMAT is set.
    pub time: Option<i64>,
    pub line: String,
}

/// Parses a history file as bash writes it: with HISTTIMEFORMAT, a `#<epoch>` line precedes
/// each entry; without it, every line is an entry.
pub fn parse_history(text: &str) -> Vec<HistoryEntry> {
    let mut entries = Vec::new();
    let mut pending_time = None;
    for line in text.lines() {
        if let Some(stamp) = line.strip_prefix('#')
            && !stamp.is_empty()
            && stamp.bytes().all(|b| b.is_ascii_digit())
        {
            pending_time = stamp.parse().ok();
            continue;
        }
        entries.push(HistoryEntry {
            time: pending_time.take(),
            line: line.to_owned(),
        });
    }
    entries
}

/// Whether `word` occurs in `text` as a whole word (not inside a longer name or number).
fn has_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !(c.is_alphanumeric() || c == '/' || c == '-' || c == '_' || c == '.'))
        .any(|w| w == word)
}

/// Scores one action against the history: the entry holding its command line (the first one
/// not already matched). A missing entry answers nothing.
///
/// - who: the entry names the person (their login appears in it). The file belongs to the one
///   OS user every person on the box shares, so the file itself cannot say.
/// - what: the command line is there.
/// - when: the entry has a timestamp.
/// - target: the line names the repository and, for an action on an issue or pull request,
///   its number.
/// - outcome: the history format has no place for an exit status or an error message, so no
///   entry can tell it.
pub fn score_history(entries: &[HistoryEntry], used: &mut [bool], action: &Action) -> Answers {
    let Some(i) = entries
        .iter()
        .enumerate()
        .position(|(i, e)| !used[i] && e.line == action.cli)
    else {
        return Answers::default();
    };
    used[i] = true;
    let entry = &entries[i];
    Answers {
        who: has_word(&entry.line, &action.user),
        what: !entry.line.trim().is_empty(),
        when: entry.time.is_some(),
        target: has_word(&entry.line, &action.repo)
            && action
                .number
                .is_none_or(|n| has_word(&entry.line, &n.to_string())),
        outcome: false,
    }
}

/// Best check a reader has on a history file: entries well formed and timestamps never going
/// back. Returns true when the file looks altered. Bash keeps no checksum or chain, so an edit
/// that keeps the format passes.
pub fn history_looks_altered(text: &str) -> bool {
    let entries = parse_history(text);
    let mut last = i64::MIN;
    for e in &entries {
        if let Some(t) = e.time {
            if t < last {
                return true;
            }
            last = t;
        }
    }
    entries.iter().any(|e| e.line.contains('\0'))
}

/// Parses `gitgate audit query --format jsonl`: one `{seq, prev_hash, hash, event}` per line.
/// Returns `(seq, event)` pairs; lines that are not such objects are skipped.
pub fn parse_audit(jsonl: &str) -> Vec<(u64, Value)> {
    jsonl
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| Some((v.get("seq")?.as_u64()?, v.get("event")?.clone())))
        .collect()
}

/// Whether `text` is an RFC 3339 timestamp (`YYYY-MM-DDTHH:MM:SS` then fraction and zone).
fn is_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && (b[10] == b'T' || b[10] == b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && (text.ends_with('Z') || text.ends_with('z') || text[19..].contains(['+', '-']))
}

/// Scores one action against the audit log: the first unmatched event of that tool with those
/// arguments. `observed_ok` is what the agent actually got back; the recorded outcome must
/// agree with it.
///
/// - who: the event's `user` is the person.
/// - what: the event names the tool.
/// - when: the event's `time` is an RFC 3339 timestamp.
/// - target: `target.repo` is the repository and, for an issue or pull request, `target.issue`
///   (or the `number` argument) is its number.
/// - outcome: `outcome.ok` matches what the call returned.
pub fn score_audit(
    events: &[(u64, Value)],
    used: &mut [bool],
    action: &Action,
    observed_ok: bool,
) -> (Answers, Option<u64>) {
    let Some(i) = events.iter().enumerate().position(|(i, (_, e))| {
        !used[i] && e["tool"] == action.tool.as_str() && e["arguments"] == action.args
    }) else {
        return (Answers::default(), None);
    };
    used[i] = true;
    let (seq, e) = &events[i];
    let number_ok = action.number.is_none_or(|n| {
        e["target"]["issue"].as_u64() == Some(n) || e["arguments"]["number"].as_u64() == Some(n)
    });
    let answers = Answers {
        who: e["user"] == action.user.as_str(),
        what: e["tool"].as_str().is_some_and(|t| !t.is_empty()),
        when: e["time"].as_str().is_some_and(is_rfc3339),
        target: e["target"]["repo"] == action.repo.as_str() && number_ok,
        outcome: e["outcome"]["ok"].as_bool() == Some(observed_ok),
    };
    (answers, Some(*seq))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn action(user: &str, cli: &str, number: Option<u64>) -> Action {
        Action {
            user: user.into(),
            cli: cli.into(),
            tool: "gh_issue_view".into(),
            args: json!({"repo": "acme/widgets", "number": number}),
            repo: "acme/widgets".into(),
            number,
        }
    }

    fn check_history(history: &str, a: &Action, expected: Answers) {
        let entries = parse_history(history);
        let mut used = vec![false; entries.len()];
        assert_eq!(score_history(&entries, &mut used, a), expected, "{history}");
    }

    #[test]
    fn history_entries_with_and_without_times() {
        let text = "#1700000000\ngh issue list -R acme/widgets\nls\n#1700000060\ngh pr view 20\n";
        let got = parse_history(text);
        assert_eq!(
            got,
            [
                HistoryEntry {
                    time: Some(1_700_000_000),
                    line: "gh issue list -R acme/widgets".into()
                },
                HistoryEntry {
                    time: None,
                    line: "ls".into()
                },
                HistoryEntry {
                    time: Some(1_700_000_060),
                    line: "gh pr view 20".into()
                },
            ]
        );
    }

    #[test]
    fn history_answers_what_when_target_only() {
        let cli = "gh issue view 999 -R acme/widgets";
        let a = action("alice", cli, Some(999));
        let what_when_target = Answers {
            what: true,
            when: true,
            target: true,
            ..Answers::default()
        };
        check_history(&format!("#1700000000\n{cli}\n"), &a, what_when_target);
        // No HISTTIMEFORMAT: no time.
        check_history(
            &format!("{cli}\n"),
            &a,
            Answers {
                when: false,
                ..what_when_target
            },
        );
        // A line that names the person answers who.
        let named = "GH_USER=alice gh issue view 999 -R acme/widgets";
        check_history(
            &format!("#1\n{named}\n"),
            &action("alice", named, Some(999)),
            Answers {
                who: true,
                ..what_when_target
            },
        );
        // Another number, or no repository on the line: no target (9999 is not 999).
        let other = "gh issue view 9999";
        check_history(
            &format!("#1\n{other}\n"),
            &action("alice", other, Some(999)),
            Answers {
                target: false,
                ..what_when_target
            },
        );
        // Missing entry: nothing.
        check_history("#1\nls\n", &a, Answers::default());
    }

    #[test]
    fn history_edit_that_keeps_the_format_is_not_visible() {
        let original = "#100\ngh issue comment 1 --body x\n#200\ngh pr view 20\n";
        let edited = original.replace("comment 1", "comment 2");
        assert!(!history_looks_altered(original));
        assert!(!history_looks_altered(&edited));
        // A clumsy edit that moves time backwards is caught.
        assert!(history_looks_altered("#200\nls\n#100\nls\n"));
    }

    fn event(user: &str, ok: bool, time: &str) -> Value {
        json!({
            "user": user, "tool": "gh_issue_view", "time": time,
            "arguments": {"repo": "acme/widgets", "number": 999},
            "target": {"repo": "acme/widgets", "issue": 999},
            "outcome": {"ok": ok},
        })
    }

    fn check_audit(events: &[Value], observed_ok: bool, expected: Answers) {
        let events: Vec<(u64, Value)> = (1..).zip(events.iter().cloned()).collect();
        let mut used = vec![false; events.len()];
        let a = action("alice", "", Some(999));
        assert_eq!(
            score_audit(&events, &mut used, &a, observed_ok).0,
            expected,
            "{events:?}"
        );
    }

    #[test]
    fn audit_answers_all_five_when_the_event_agrees() {
        let all = Answers {
            who: true,
            what: true,
            when: true,
            target: true,
            outcome: true,
        };
        check_audit(
            &[event("alice", false, "2026-11-28T12:00:00.123Z")],
            false,
            all,
        );
        check_audit(
            &[event("bob", false, "2026-11-28T12:00:00Z")],
            false,
            Answers { who: false, ..all },
        );
        check_audit(
            &[event("alice", true, "2026-11-28T12:00:00Z")],
            false,
            Answers {
                outcome: false,
                ..all
            },
        );
        check_audit(
            &[event("alice", false, "yesterday")],
            false,
            Answers { when: false, ..all },
        );
        check_audit(&[], false, Answers::default());
    }

    #[test]
    fn audit_lines_parse() {
        let text =
            "{\"seq\":3,\"prev_hash\":\"a\",\"hash\":\"b\",\"event\":{\"user\":\"x\"}}\nnot json\n";
        let got = parse_audit(text);
        assert_eq!(got, [(3, json!({"user": "x"}))]);
    }
}
