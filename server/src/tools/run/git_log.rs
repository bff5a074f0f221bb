//! `git log` in the run form: git's flags onto [`crate::git::LogQuery`], and each commit
//! printed as git prints it when its output is not a terminal (no decorations, no colour).

use chrono::Timelike;

use super::git::{Usage, usage};
use crate::git::safety::RepoPath;
use crate::git::{Error, LogChanges, LogQuery};

/// The flags `git log` takes here, for the unsupported-flag message.
pub(super) const FLAGS: &str = "-n N, -N, --max-count, --skip, --oneline, --format/--pretty \
(oneline, short, medium, full, format:, tformat:), --date (short, iso, iso-strict, unix, raw, \
rfc, default), --author, --since/--after, --until/--before, --grep, --merges, --no-merges, \
--first-parent, --reverse, --no-decorate, -p/--patch, --stat, --name-only, revisions and ranges \
(A..B, A...B, ^A), -- paths";

/// How each commit is printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Pretty {
    Oneline {
        abbrev: bool,
    },
    Short,
    Medium,
    Full,
    /// A user format; `terminator` for `tformat:` (a newline after every commit), else a
    /// separator between commits.
    Format {
        template: String,
        terminator: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DateStyle {
    Default,
    Short,
    Iso,
    IsoStrict,
    Unix,
    Raw,
    Rfc,
}

/// A parsed `git log` command line.
#[derive(Debug, Clone)]
pub(super) struct LogCommand {
    pub query: LogQuery,
    pub pretty: Pretty,
    pub date: DateStyle,
    pub reverse: bool,
    /// What to print under each commit (`-p`, `--stat`, `--name-only`).
    pub changes: Option<LogChanges>,
}

/// Parses `git log`'s arguments (after `log`).
pub(super) fn parse(args: &[String]) -> Result<LogCommand, Usage> {
    let mut cmd = LogCommand {
        query: LogQuery::default(),
        pretty: Pretty::Medium,
        date: DateStyle::Default,
        reverse: false,
        changes: None,
    };
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let mut value = |name: &str| -> Result<String, Usage> {
            if let Some(v) = arg.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
                return Ok(v.to_owned());
            }
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| usage(format!("option '{name}' requires a value")))
        };
        match arg {
            "--" => {
                cmd.query.paths.extend(args[i + 1..].iter().cloned());
                break;
            }
            "--oneline" => cmd.pretty = Pretty::Oneline { abbrev: true },
            "--merges" => cmd.query.merges = Some(true),
            "--no-merges" => cmd.query.merges = Some(false),
            "--first-parent" => cmd.query.first_parent = true,
            "--reverse" => cmd.reverse = true,
            "-p" | "-u" | "--patch" => cmd.changes = Some(LogChanges::Patch),
            "--stat" => cmd.changes = Some(LogChanges::Stat),
            "--name-only" => cmd.changes = Some(LogChanges::NameOnly),
            "--no-decorate" | "--no-color" | "--color=never" | "--no-abbrev-commit" => {}
            "-n" => cmd.query.max_count = Some(number(&value("-n")?)?),
            a if a.starts_with("--max-count") => {
                cmd.query.max_count = Some(number(&value("--max-count")?)?)
            }
            a if a.starts_with("--skip") => cmd.query.skip = number(&value("--skip")?)?,
            a if a.starts_with("-n") && a[2..].bytes().all(|b| b.is_ascii_digit()) => {
                cmd.query.max_count = Some(number(&a[2..])?)
            }
            a if a.len() > 1
                && a.starts_with('-')
                && a[1..].bytes().all(|b| b.is_ascii_digit()) =>
            {
                cmd.query.max_count = Some(number(&a[1..])?)
            }
            a if a.starts_with("--format") => {
                cmd.pretty = pretty(&format!("tformat:{}", value("--format")?))?
            }
            a if a.starts_with("--pretty") => cmd.pretty = pretty(&value("--pretty")?)?,
            a if a.starts_with("--date") => cmd.date = date_style(&value("--date")?)?,
            a if a.starts_with("--author") => cmd.query.author = Some(value("--author")?),
            a if a.starts_with("--since") => cmd.query.since = Some(git_date(&value("--since")?)),
            a if a.starts_with("--after") => cmd.query.since = Some(git_date(&value("--after")?)),
            a if a.starts_with("--until") => cmd.query.until = Some(git_date(&value("--until")?)),
            a if a.starts_with("--before") => cmd.query.until = Some(git_date(&value("--before")?)),
            a if a.starts_with("--grep") => cmd.query.grep = Some(value("--grep")?),
            a if a.starts_with('-') && a != "-" => {
                return Err(usage(format!(
                    "unsupported option '{a}' for git log in gitgate; supported: {FLAGS}"
                )));
            }
            rev => revision(&mut cmd.query, rev)?,
        }
        i += 1;
    }
    Ok(cmd)
}

/// A bare `YYYY-MM-DD` as git reads it: that day at the current time of day (git's date
/// parser keeps the clock's time when a date names none), in UTC, as an RFC 3339 time for the
/// backend's filter. Anything else goes through unchanged.
fn git_date(text: &str) -> String {
    match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(day) => {
            let now = chrono::Utc::now().time();
            let at = day.and_time(
                chrono::NaiveTime::from_hms_opt(now.hour(), now.minute(), now.second())
                    .unwrap_or_default(),
            );
            at.and_utc().to_rfc3339()
        }
        Err(_) => text.to_owned(),
    }
}

fn number(text: &str) -> Result<usize, Usage> {
    text.parse()
        .map_err(|_| usage(format!("'{text}' is not a number")))
}

/// `A..B`, `A...B`, `^A` or `A`.
pub(super) fn revision(query: &mut LogQuery, rev: &str) -> Result<(), Usage> {
    query.push_revision(rev).map_err(|e| usage(e.to_string()))
}

fn pretty(spec: &str) -> Result<Pretty, Usage> {
    Ok(match spec {
        "oneline" => Pretty::Oneline { abbrev: false },
        "short" => Pretty::Short,
        "medium" => Pretty::Medium,
        "full" => Pretty::Full,
        s => {
            if let Some(t) = s.strip_prefix("format:") {
                Pretty::Format {
                    template: t.to_owned(),
                    terminator: false,
                }
            } else if let Some(t) = s.strip_prefix("tformat:") {
                Pretty::Format {
                    template: t.to_owned(),
                    terminator: true,
                }
            } else if s.contains('%') {
                Pretty::Format {
                    template: s.to_owned(),
                    terminator: true,
                }
            } else {
                return Err(usage(format!(
                    "unsupported pretty format '{s}'; supported: oneline, short, medium, full, format:..., tformat:..."
                )));
            }
        }
    })
}

fn date_style(spec: &str) -> Result<DateStyle, Usage> {
    Ok(match spec {
        "default" => DateStyle::Default,
        "short" => DateStyle::Short,
        "iso" | "iso8601" => DateStyle::Iso,
        "iso-strict" | "iso8601-strict" => DateStyle::IsoStrict,
        "unix" => DateStyle::Unix,
        "raw" => DateStyle::Raw,
        "rfc" | "rfc2822" => DateStyle::Rfc,
        other => {
            return Err(usage(format!(
                "unsupported date format '{other}'; supported: default, short, iso, iso-strict, unix, raw, rfc"
            )));
        }
    })
}

/// Prints one commit as `pretty` says; `first` is whether it is the first printed.
pub(super) fn print(
    out: &mut String,
    git: &git2::Repository,
    commit: &git2::Commit<'_>,
    cmd: &LogCommand,
    first: bool,
) -> Result<(), Error> {
    let message = String::from_utf8_lossy(commit.message_bytes()).into_owned();
    let (subject, _) = split_message(&message);
    match &cmd.pretty {
        Pretty::Oneline { abbrev } => {
            let id = if *abbrev {
                crate::git::unique_short_id(git, commit.id())
            } else {
                commit.id().to_string()
            };
            out.push_str(&format!("{id} {subject}\n"));
        }
        Pretty::Format {
            template,
            terminator,
        } => {
            if !first && !terminator {
                out.push('\n');
            }
            out.push_str(&expand(template, git, commit, cmd.date)?);
            if *terminator {
                out.push('\n');
            }
        }
        Pretty::Short | Pretty::Medium | Pretty::Full => {
            if !first {
                out.push('\n');
            }
            header(out, git, commit, cmd)?;
            out.push('\n');
            let text = if cmd.pretty == Pretty::Short {
                subject.clone()
            } else {
                message.trim_end_matches('\n').to_owned()
            };
            // Every line indented, blank ones too (git prints four spaces there).
            for line in text.lines() {
                out.push_str(&format!("    {line}\n"));
            }
        }
    }
    Ok(())
}

/// Prints one commit as `print` does, then its changes when asked (`-p`, `--stat`,
/// `--name-only`): after a blank line, except under a one-line header, as git.
pub(super) fn print_with_changes(
    out: &mut String,
    git: &git2::Repository,
    commit: &git2::Commit<'_>,
    cmd: &LogCommand,
    paths: &[RepoPath],
    first: bool,
) -> Result<(), Error> {
    print(out, git, commit, cmd, first)?;
    let Some(form) = cmd.changes else {
        return Ok(());
    };
    let body = crate::git::log_changes(
        git,
        commit,
        paths,
        form,
        cmd.query.first_parent,
        // As git show in the run form: the backend's largest window (intended difference 1).
        Some(usize::MAX),
    )?;
    if body.is_empty() {
        return Ok(());
    }
    if !matches!(cmd.pretty, Pretty::Oneline { .. }) {
        out.push('\n');
    }
    out.push_str(&body);
    Ok(())
}

/// `commit`, `Merge:`, `Author:`, `Date:` (or `Commit:`) lines of the built-in formats.
fn header(
    out: &mut String,
    git: &git2::Repository,
    commit: &git2::Commit<'_>,
    cmd: &LogCommand,
) -> Result<(), Error> {
    out.push_str(&format!("commit {}\n", commit.id()));
    if commit.parent_count() > 1 {
        let parents: Vec<String> = commit
            .parent_ids()
            .map(|p| crate::git::unique_short_id(git, p))
            .collect();
        out.push_str(&format!("Merge: {}\n", parents.join(" ")));
    }
    let author = commit.author();
    out.push_str(&format!("Author: {}\n", person(&author)));
    match cmd.pretty {
        Pretty::Medium => {
            out.push_str(&format!("Date:   {}\n", date(author.when(), cmd.date)));
        }
        Pretty::Full => out.push_str(&format!("Commit: {}\n", person(&commit.committer()))),
        _ => {}
    }
    Ok(())
}

fn person(sig: &git2::Signature<'_>) -> String {
    format!(
        "{} <{}>",
        String::from_utf8_lossy(sig.name_bytes()),
        String::from_utf8_lossy(sig.email_bytes())
    )
}

/// The subject (the first paragraph, lines joined by spaces, as git's `%s`) and the body.
fn split_message(message: &str) -> (String, String) {
    let trimmed = message.trim_start_matches('\n');
    let (first, rest) = match trimmed.find("\n\n") {
        Some(i) => (&trimmed[..i], &trimmed[i + 2..]),
        None => (trimmed.trim_end_matches('\n'), ""),
    };
    let subject = first.lines().map(str::trim).collect::<Vec<_>>().join(" ");
    (subject, rest.trim_start_matches('\n').to_owned())
}

fn date(time: git2::Time, style: DateStyle) -> String {
    let t = crate::git::fmt::local(time);
    match style {
        DateStyle::Default => t.format("%a %b %-d %H:%M:%S %Y %z").to_string(),
        DateStyle::Short => t.format("%Y-%m-%d").to_string(),
        DateStyle::Iso => t.format("%Y-%m-%d %H:%M:%S %z").to_string(),
        // git writes a zero offset as `Z`.
        DateStyle::IsoStrict if time.offset_minutes() == 0 => {
            t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        }
        DateStyle::IsoStrict => t.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        DateStyle::Unix => time.seconds().to_string(),
        DateStyle::Raw => format!("{} {}", time.seconds(), t.format("%z")),
        DateStyle::Rfc => t.format("%a, %-d %b %Y %H:%M:%S %z").to_string(),
    }
}

/// Expands a `--format` template.
fn expand(
    template: &str,
    git: &git2::Repository,
    commit: &git2::Commit<'_>,
    style: DateStyle,
) -> Result<String, Error> {
    let message = String::from_utf8_lossy(commit.message_bytes()).into_owned();
    let (subject, body) = split_message(&message);
    let author = commit.author();
    let committer = commit.committer();
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(p) = chars.next() else {
            out.push('%');
            break;
        };
        let two = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| chars.next();
        match p {
            '%' => out.push('%'),
            'n' => out.push('\n'),
            'H' => out.push_str(&commit.id().to_string()),
            'h' => out.push_str(&crate::git::unique_short_id(git, commit.id())),
            'T' => out.push_str(&commit.tree_id().to_string()),
            't' => out.push_str(&crate::git::unique_short_id(git, commit.tree_id())),
            'P' => out.push_str(
                &commit
                    .parent_ids()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            'p' => out.push_str(
                &commit
                    .parent_ids()
                    .map(|p| crate::git::unique_short_id(git, p))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            's' => out.push_str(&subject),
            'b' => out.push_str(&body),
            'B' => out.push_str(&message),
            'a' | 'c' => {
                let sig = if p == 'a' { &author } else { &committer };
                let Some(what) = two(&mut chars) else {
                    out.push('%');
                    out.push(p);
                    break;
                };
                match what {
                    'n' => out.push_str(&String::from_utf8_lossy(sig.name_bytes())),
                    'e' => out.push_str(&String::from_utf8_lossy(sig.email_bytes())),
                    'd' => out.push_str(&date(sig.when(), style)),
                    'D' => out.push_str(&date(sig.when(), DateStyle::Rfc)),
                    's' => out.push_str(&date(sig.when(), DateStyle::Short)),
                    'i' => out.push_str(&date(sig.when(), DateStyle::Iso)),
                    'I' => out.push_str(&date(sig.when(), DateStyle::IsoStrict)),
                    't' => out.push_str(&sig.when().seconds().to_string()),
                    other => {
                        return Err(Error::Refused(format!(
                            "placeholder %{p}{other} is not supported; supported: %H %h %T %t %P %p %s %b %B %n %% \
                             %an %ae %ad %aD %as %ai %aI %at (and %c.. for the committer)"
                        )));
                    }
                }
            }
            other => {
                return Err(Error::Refused(format!(
                    "placeholder %{other} is not supported; supported: %H %h %T %t %P %p %s %b %B %n %% \
                     %an %ae %ad %aD %as %ai %aI %at (and %c.. for the committer)"
                )));
            }
        }
    }
    Ok(out)
}
