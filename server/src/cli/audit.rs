//! `gitgate audit ...`: query, verify, export, checkpoint.
//!
//! Results go to stdout, notes to stderr. `verify` exits 0 when the log is intact, 2 when it
//! found tampering (the first bad sequence number is printed), 1 when it could not check.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand, ValueEnum};
use gitgate::audit::{
    AuditFilter, Checkpoint, Log, StoredEvent, VerifyReport, escape_for_terminal,
};
use gitgate::settings::StateConfig;

use super::users::Table;

/// The exit code of `audit verify` when the log was tampered with.
pub const EXIT_TAMPERED: i32 = 2;

/// The `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Show events matching the filters, oldest first (with --limit, the most recent ones).
    ///
    /// Example:
    ///   gitgate audit query --user alice --decision denied --since 2026-05-01
    #[command(verbatim_doc_comment)]
    Query {
        /// `table` for people, `jsonl` for tools (one `{seq, prev_hash, hash, event}` per line).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Recompute the hash chain and report the first bad event.
    ///
    /// Prints `ok: N events, head seq S hash H` and exits 0 when the log is intact, or
    /// `FAILED at seq S: REASON` and exits 2 when an event was edited, deleted, inserted or
    /// reordered, or the log was truncated (exit 1: the check itself could not run). Saved
    /// checkpoints (`audit checkpoint --save`) are always checked; --checkpoint adds one kept
    /// outside the store, which also catches a truncation that rewound the stored head.
    Verify {
        /// A checkpoint written by `gitgate audit checkpoint` (JSON `{"seq":N,"hash":"..."}`).
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
    },
    /// Write events matching the filters as JSON Lines (`{seq, prev_hash, hash, event}`).
    ///
    /// Each line's event is the text that was hashed, with line separators and other invisible
    /// controls written as `\uXXXX` escapes: parsed and re-canonicalised it is the hashed text
    /// again, so an export can be re-verified elsewhere with the audit key.
    Export {
        /// Write to this file (replaced atomically) instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Print the head of the chain as JSON `{"seq":N,"hash":"..."}`, to keep somewhere else.
    ///
    /// Store the output outside the database (another machine, a ticket, a WORM bucket); later
    /// `gitgate audit verify --checkpoint FILE` detects a log cut back behind it.
    Checkpoint {
        /// Write the JSON to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Also record it in the store's checkpoint table, which every verify checks.
        #[arg(long)]
        save: bool,
    },
}

/// The filters shared by `query` and `export`. Times are RFC 3339 (`2026-05-01T12:00:00Z`) or a
/// date (`2026-05-01`, midnight UTC at the start of that day).
#[derive(Debug, Args)]
#[command(next_help_heading = "Filters")]
pub struct FilterArgs {
    /// Only this user's calls.
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// Only calls of this tool (`git_log`, `gh_pr_merge`, ...).
    #[arg(long, value_name = "TOOL")]
    tool: Option<String>,
    /// Only calls on this repository (exact local name or `owner/name`).
    #[arg(long, value_name = "REPO")]
    repo: Option<String>,
    /// Only allowed or only denied calls.
    #[arg(long, value_enum)]
    decision: Option<DecisionArg>,
    /// Only successful or only failed calls.
    #[arg(long, value_enum)]
    outcome: Option<OutcomeArg>,
    /// Events at or after this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    since: Option<DateTime<Utc>>,
    /// Events strictly before this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    until: Option<DateTime<Utc>>,
    /// Only the most recent N matches (still printed oldest first).
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DecisionArg {
    Allowed,
    Denied,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OutcomeArg {
    Ok,
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Jsonl,
}

impl FilterArgs {
    fn filter(&self) -> AuditFilter {
        AuditFilter {
            user: self.user.clone(),
            tool: self.tool.clone(),
            repo: self.repo.clone(),
            allowed: self.decision.map(|d| matches!(d, DecisionArg::Allowed)),
            ok: self.outcome.map(|o| matches!(o, OutcomeArg::Ok)),
            since: self.since,
            until: self.until,
            limit: self.limit,
        }
    }
}

/// Parses `--since`/`--until`: RFC 3339, or a bare date meaning midnight UTC.
fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    Err("expected RFC 3339 (2026-05-01T12:00:00Z) or a date (2026-05-01)".to_owned())
}

pub async fn run(state: &StateConfig, command: AuditCommand) -> Result<()> {
    let store = state.open_store().await.context("opening the store")?;
    let log = Log::new(store.clone());
    // Events a crashed server left spooled are chained first (that needs the key), so every
    // command sees the event of every call that returned.
    if log.spool_dir().is_some_and(|dir| dir.exists()) {
        let key = state.audit_key()?;
        log.settle(Some(&key))
            .await
            .context("chaining spooled audit events")?;
    }
    let result = match command {
        AuditCommand::Query { filter, format } => query(&log, &filter.filter(), format).await,
        AuditCommand::Verify { checkpoint } => {
            match verify(state, &log, checkpoint.as_deref()).await {
                Ok(true) => Ok(()),
                Ok(false) => {
                    store.close().await;
                    // A distinct exit code: scripts must tell "tampered" from "could not check".
                    std::process::exit(EXIT_TAMPERED);
                }
                Err(e) => Err(e),
            }
        }
        AuditCommand::Export { out, filter } => {
            export(&log, out.as_deref(), &filter.filter()).await
        }
        AuditCommand::Checkpoint { out, save } => checkpoint(&log, out.as_deref(), save).await,
    };
    store.close().await;
    result
}

async fn query(log: &Log, filter: &AuditFilter, format: Format) -> Result<()> {
    let events = log.query(filter).await.context("querying the audit log")?;
    let mut stdout = std::io::stdout().lock();
    if format == Format::Jsonl {
        for event in &events {
            writeln!(stdout, "{}", event.to_jsonl()).context("writing to stdout")?;
        }
        return Ok(());
    }
    if events.is_empty() {
        eprintln!("no matching events");
        return Ok(());
    }
    drop(stdout);
    let mut table = Table::new([
        "SEQ", "TIME", "USER", "TOOL", "REPO", "DECISION", "DURATION", "OUTCOME",
    ]);
    for stored in &events {
        table.row(event_cells(stored));
    }
    table.print();
    Ok(())
}

/// One table row. The outcome comes last: its message is the one variable-width column. Every
/// cell goes through [`cut`], which escapes control characters: a value in the log (a tool name,
/// a repository, a message, all chosen by callers) must not draw a row or a colour of its own.
fn event_cells(stored: &StoredEvent) -> [String; 8] {
    let e = &stored.event;
    let decision = match (e.decision.allowed, e.decision.rule.as_str()) {
        (true, "") => "allowed".to_owned(),
        (false, "") => "denied".to_owned(),
        (true, rule) => format!("allowed ({})", cut(rule, 40)),
        (false, rule) => format!("denied ({})", cut(rule, 40)),
    };
    let outcome = match (e.outcome.ok, &e.outcome.code, &e.outcome.message) {
        (true, _, _) => "ok".to_owned(),
        (false, code, message) => {
            let code = cut(code.as_deref().unwrap_or("error"), 40);
            match message {
                Some(m) => format!("error {code}: {}", cut(m, 60)),
                None => format!("error {code}"),
            }
        }
    };
    [
        stored.seq.to_string(),
        cut(&e.time, 40),
        cut(&e.user, 40),
        cut(&e.tool, 60),
        e.target
            .repo
            .as_deref()
            .map_or_else(|| "-".to_owned(), |r| cut(r, 60)),
        decision,
        format!("{:.1}ms", e.duration_ms),
        outcome,
    ]
}

/// `text` on one line with control characters shown as escapes (`\n`, `\u{1b}`), at most `max`
/// characters (an ellipsis marks the cut).
fn cut(text: &str, max: usize) -> String {
    let one_line = escape_for_terminal(text);
    if one_line.chars().count() <= max {
        return one_line.into_owned();
    }
    let kept: String = one_line.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// Returns whether the log verified; prints the verdict on stdout.
async fn verify(state: &StateConfig, log: &Log, checkpoint: Option<&Path>) -> Result<bool> {
    let checkpoint = checkpoint.map(read_checkpoint).transpose()?;
    let key = state.audit_key().context("loading the audit key")?;
    let report: VerifyReport = log
        .verify(&key, checkpoint.as_ref())
        .await
        .context("reading the audit log to verify it")?;
    match &report.first_bad {
        None => {
            println!(
                "ok: {} events, head seq {} hash {}",
                report.events, report.last.seq, report.last.hash
            );
            if let Some(c) = &checkpoint {
                eprintln!("checkpoint seq {} matches", c.seq);
            }
            Ok(true)
        }
        Some(bad) => {
            println!("FAILED at seq {}: {}", bad.seq, bad.reason);
            eprintln!(
                "the audit log was changed after it was written ({} events read); events before \
                 seq {} are intact. Compare with an export or the JSON Lines mirror to see what \
                 changed.",
                report.events, bad.seq
            );
            if bad.seq == 1 {
                eprintln!(
                    "if every event fails from seq 1, check that the audit key (--audit-key-file \
                     or GITGATE_AUDIT_KEY) is the one the server writes with"
                );
            }
            Ok(false)
        }
    }
}

fn read_checkpoint(path: &Path) -> Result<Checkpoint> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading checkpoint {}", path.display()))?;
    let checkpoint: Checkpoint = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a checkpoint: expected {{\"seq\":N,\"hash\":\"...\"}} as written by \
             `gitgate audit checkpoint`",
            path.display()
        )
    })?;
    if checkpoint.hash.len() != 64 || !checkpoint.hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!(
            "checkpoint {}: hash must be 64 hex characters, as written by `gitgate audit checkpoint`",
            path.display()
        );
    }
    Ok(checkpoint)
}

async fn export(log: &Log, out: Option<&Path>, filter: &AuditFilter) -> Result<()> {
    let Some(path) = out else {
        let mut stdout = std::io::BufWriter::new(std::io::stdout());
        let n = log
            .export(&mut stdout, filter)
            .await
            .context("exporting the audit log to stdout")?;
        eprintln!("exported {n} events");
        return Ok(());
    };
    // Write beside the target and rename, so a failed export never leaves a cut file behind.
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let file = std::fs::File::create(&partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    let mut writer = std::io::BufWriter::new(file);
    let exported = log.export(&mut writer, filter).await;
    let n = match exported {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e)
                .with_context(|| format!("exporting the audit log to {}", path.display()));
        }
    };
    let file = writer
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("writing {}", partial.display()))?;
    file.sync_all()
        .with_context(|| format!("syncing {}", partial.display()))?;
    std::fs::rename(&partial, path)
        .with_context(|| format!("renaming {} to {}", partial.display(), path.display()))?;
    eprintln!("exported {n} events to {}", path.display());
    Ok(())
}

async fn checkpoint(log: &Log, out: Option<&Path>, save: bool) -> Result<()> {
    let head = if save {
        log.save_checkpoint().await.context("saving a checkpoint")?
    } else {
        log.checkpoint().await.context("reading the chain head")?
    };
    let json = serde_json::to_string(&head).context("encoding the checkpoint")?;
    match out {
        Some(path) => {
            std::fs::write(path, format!("{json}\n"))
                .with_context(|| format!("writing the checkpoint to {}", path.display()))?;
            eprintln!("wrote checkpoint seq {} to {}", head.seq, path.display());
        }
        None => println!("{json}"),
    }
    if save {
        eprintln!("recorded checkpoint seq {} in the store", head.seq);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_accept_rfc3339_and_dates() {
        let check = |input: &str, expected: Option<&str>| {
            let parsed = parse_time(input).ok().map(|t| t.to_rfc3339());
            assert_eq!(parsed.as_deref(), expected, "{input}");
        };
        check("2026-05-01", Some("2026-05-01T00:00:00+00:00"));
        check(
            "2026-05-01T12:00:00+02:00",
            Some("2026-05-01T10:00:00+00:00"),
        );
        check("2026-05-01T12:00:00Z", Some("2026-05-01T12:00:00+00:00"));
        check("yesterday", None);
        check("2026-13-01", None);
    }

    /// Security issue, item 6: a tool name or `repo` holding a newline, ANSI escapes and a fake
    /// row printed that row (and colours) on the operator's terminal.
    #[test]
    fn table_cells_escape_what_would_draw_a_row() {
        let fake =
            "x\n2026-05-01T00:00:00.000Z  alice  gh_pr_merge  acme/w  allowed  1.0ms  ok\u{1b}[31m";
        let event = gitgate::audit::AuditEvent::builder(
            "i",
            "eve\r",
            gitgate::audit::AuthMethod::Token,
            fake,
            &serde_json::json!({}),
        )
        .decision(gitgate::audit::Decision::deny("rule\u{9b}2J"))
        .outcome(gitgate::audit::Outcome::failure(
            "c\u{2028}",
            "m\u{2029}\u{85}\u{202e}\t",
        ))
        .target(gitgate::audit::Target {
            repo: Some(fake.into()),
            ..Default::default()
        })
        .build();
        let stored = StoredEvent {
            seq: 1,
            prev_hash: String::new(),
            hash: String::new(),
            event_json: String::new(),
            event,
        };
        for cell in event_cells(&stored) {
            assert!(
                !cell
                    .chars()
                    .any(|c| c.is_control() || ('\u{2028}'..='\u{202e}').contains(&c)),
                "{cell:?}"
            );
            assert!(!cell.contains("\n2026"), "{cell:?}");
        }
        let cells = event_cells(&stored);
        assert!(cells[3].starts_with("x\\n2026-05-01"), "{}", cells[3]);
        assert_eq!(cells[2], "eve\\r");
        assert!(
            cells[7].contains("m\\u{2029}\\u{85}\\u{202e}\\t"),
            "{}",
            cells[7]
        );
    }

    #[test]
    fn cut_keeps_one_short_line() {
        assert_eq!(cut("short", 10), "short");
        assert_eq!(cut("a\nb", 10), "a\\nb");
        assert_eq!(cut("abcdefghijkl", 5), "abcd…");
    }
}
