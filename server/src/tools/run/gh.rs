//! `gh` in the run form: a subcommand and its flags, read as gh 2.23 reads them (pflag: `-L 5`,
//! `-L5`, `--limit 5`, `--limit=5`, repeatable list flags, flags among the arguments). Each
//! command is one operation of the GitHub backend, run as a call of its JSON tool (policy and
//! audit as such), printing what gh prints when its output is not a terminal. Errors go to the
//! output after what was printed, status 1, as gh's.

use std::collections::BTreeMap;
use std::future::Future;

use serde_json::{Map, Value};

use super::gh_json::{self, Export};
use super::gh_write;
use super::{Done, Runner};
use crate::github::{self, Clients};
use crate::tools::ToolError;

/// The command groups and their subcommands supported so far, for "unknown command" messages.
const COMMANDS: &[(&str, &[&str])] = &[
    (
        "issue",
        &[
            "list", "view", "create", "comment", "close", "reopen", "edit",
        ],
    ),
    (
        "pr",
        &[
            "list", "view", "diff", "create", "comment", "close", "reopen", "edit", "merge",
            "review", "checks",
        ],
    ),
    ("repo", &["view"]),
    ("search", &["issues", "prs", "commits"]),
    ("api", &[]),
    ("release", &["list", "view", "create"]),
    ("run", &["list", "view", "rerun"]),
];

/// One flag a subcommand takes: its long name, its one-letter form, and whether it takes a
/// value.
#[derive(Debug, Clone, Copy)]
pub(super) struct Flag {
    pub long: &'static str,
    pub short: Option<char>,
    pub value: bool,
}

/// A flag taking a value.
pub(super) const fn value(long: &'static str, short: Option<char>) -> Flag {
    Flag {
        long,
        short,
        value: true,
    }
}

/// A switch.
pub(super) const fn switch(long: &'static str, short: Option<char>) -> Flag {
    Flag {
        long,
        short,
        value: false,
    }
}

/// `-R/--repo`, which every command here takes.
pub(super) const REPO: Flag = value("repo", Some('R'));
pub(super) const JSON: Flag = value("json", None);
pub(super) const JQ: Flag = value("jq", Some('q'));

/// A command line read against its flags.
#[derive(Debug, Default)]
pub(super) struct Parsed {
    values: BTreeMap<&'static str, Vec<String>>,
    pub args: Vec<String>,
}

impl Parsed {
    /// The last value given for `long` (pflag: a later flag wins).
    pub(super) fn last(&self, long: &str) -> Option<&str> {
        self.values
            .get(long)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// Every value of a list flag, each also split at commas (pflag's string slices).
    pub(super) fn list(&self, long: &str) -> Vec<String> {
        self.values
            .get(long)
            .into_iter()
            .flatten()
            .flat_map(|v| v.split(','))
            .map(str::to_owned)
            .collect()
    }

    /// Whether a switch was given.
    pub(super) fn on(&self, long: &str) -> bool {
        self.values.contains_key(long)
    }

    pub(super) fn repo(&self) -> Option<String> {
        self.last("repo").map(str::to_owned)
    }

    /// `--json` and `--jq`, checked against the fields `offered`.
    pub(super) fn export(&self, offered: &[&str]) -> Result<Option<Export>, String> {
        Export::new(self.last("json"), self.last("jq"), offered)
    }
}

/// Reads `args` of `command` (`"gh issue list"`) against `flags`; an unknown flag is refused
/// with gh's words and the flags gitgate supports for it.
pub(super) fn parse(command: &str, flags: &[Flag], args: &[String]) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let supported = || {
        let names: Vec<String> = flags
            .iter()
            .map(|f| {
                let short = f.short.map(|c| format!("-{c}/")).unwrap_or_default();
                let arg = if f.value { " VALUE" } else { "" };
                format!("{short}--{}{arg}", f.long)
            })
            .collect();
        format!("gitgate supports for {command}: {}", names.join(", "))
    };
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        i += 1;
        if arg == "--" {
            parsed.args.extend(args[i..].iter().cloned());
            break;
        }
        let (flag, inline) = if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            let Some(flag) = flags.iter().find(|f| f.long == name) else {
                return Err(format!("unknown flag: --{name}\n{}", supported()));
            };
            (flag, inline)
        } else if let Some(short) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            let c = short.chars().next().unwrap_or('-');
            let Some(flag) = flags.iter().find(|f| f.short == Some(c)) else {
                return Err(format!(
                    "unknown shorthand flag: '{c}' in -{short}\n{}",
                    supported()
                ));
            };
            let rest = &short[c.len_utf8()..];
            let inline = (!rest.is_empty()).then(|| rest.trim_start_matches('=').to_owned());
            if inline.is_some() && !flag.value {
                return Err(format!(
                    "gitgate reads one switch per word; write -{c} and -{rest} apart\n{}",
                    supported()
                ));
            }
            (flag, inline)
        } else {
            parsed.args.push(arg.clone());
            continue;
        };
        let value = if !flag.value {
            String::new()
        } else if let Some(v) = inline {
            v
        } else if let Some(v) = args.get(i) {
            i += 1;
            v.clone()
        } else {
            return Err(format!("flag needs an argument: --{}", flag.long));
        };
        parsed.values.entry(flag.long).or_default().push(value);
    }
    Ok(parsed)
}

/// Why a gh command failed: gh's own text for the output.
#[derive(Debug)]
pub(super) struct Failed(pub String);

impl From<String> for Failed {
    fn from(s: String) -> Self {
        Failed(s)
    }
}

impl From<ToolError> for Failed {
    fn from(e: ToolError) -> Self {
        Failed(e.message)
    }
}

/// What a gh command printed: its output, and the notes gh writes to standard error
/// (`✓ Closed issue #3 (...)`), which a pipeline does not pass on.
#[derive(Debug, Default)]
pub(super) struct Printed {
    pub stdout: String,
    pub stderr: String,
    /// gh's exit status after printing (`gh pr checks` exits 1 when a check failed).
    pub status: i32,
}

impl From<String> for Printed {
    fn from(stdout: String) -> Self {
        Printed {
            stdout,
            ..Printed::default()
        }
    }
}

impl FromIterator<String> for Printed {
    fn from_iter<I: IntoIterator<Item = String>>(lines: I) -> Self {
        lines.into_iter().collect::<String>().into()
    }
}

impl Printed {
    /// Only a note on standard error.
    pub(super) fn note(stderr: String) -> Self {
        Printed {
            stderr,
            ..Printed::default()
        }
    }
}

/// What an operation gets: the user's GitHub client and a way to wait for it.
pub(super) struct Gh<'a> {
    pub clients: &'a Clients,
    pub user: &'a str,
    runtime: &'a tokio::runtime::Handle,
}

impl Gh<'_> {
    /// Runs one backend request to completion (the run form is on a blocking thread).
    pub(super) fn wait<T>(
        &self,
        work: impl Future<Output = Result<T, github::Error>>,
    ) -> Result<T, ToolError> {
        self.runtime.block_on(work).map_err(ToolError::from)
    }

    /// As [`Gh::wait`], keeping the backend's error for a gh-worded message.
    pub(super) fn wait_raw<T>(
        &self,
        work: impl Future<Output = Result<T, github::Error>>,
    ) -> Result<T, github::Error> {
        self.runtime.block_on(work)
    }
}

impl Runner<'_, '_> {
    /// Runs one gh command as a call of the JSON tool `tool` on `repo` (the default
    /// repository when `None`), recording the command's words and the issue or pull request
    /// `number` it acts on.
    pub(super) fn gh_call(
        &self,
        tool: &str,
        argv: &[String],
        repo: Option<String>,
        number: Option<u64>,
        op: impl FnOnce(&Gh<'_>) -> Result<Printed, Failed>,
    ) -> Result<Printed, Failed> {
        let mut args = Map::new();
        args.insert(
            "argv".into(),
            Value::Array(argv.iter().cloned().map(Value::String).collect()),
        );
        if let Some(repo) = &repo {
            args.insert("repo".into(), Value::String(repo.clone()));
        }
        if let Some(n) = number {
            args.insert("number".into(), Value::from(n));
        }
        let runtime = self.call.runtime;
        // The operation's own failure keeps gh's wording; the tool error only carries it.
        let mut failed = None;
        let mut printed = None;
        let done =
            self.services
                .call_operation(self.call, tool, args, repo, |backends, caller, _| {
                    let Some(clients) = backends.github.as_ref() else {
                        return Err(ToolError::with_code(
                            crate::tools::ErrorCode::Unavailable,
                            "GitHub is not configured on this server",
                        ));
                    };
                    let gh = Gh {
                        clients,
                        user: caller.user(),
                        runtime,
                    };
                    match op(&gh) {
                        Ok(p) => {
                            // The event counts what the command printed, both streams.
                            let text = format!("{}{}", p.stdout, p.stderr);
                            printed = Some(p);
                            Ok(text)
                        }
                        Err(Failed(message)) => {
                            failed = Some(message.clone());
                            Err(ToolError::new(message))
                        }
                    }
                });
        match (done, failed, printed) {
            (Ok(_), _, Some(p)) => Ok(p),
            (Ok(text), _, None) => Ok(text.into()),
            (Err(_), Some(message), _) => Err(Failed(message)),
            (Err(e), None, _) => Err(e.into()),
        }
    }

    /// Filters `data` through `--jq` as gh does, or encodes it as gh's `--json` prints it.
    pub(super) fn export(
        &self,
        export: &Export,
        data: serde_json::Value,
    ) -> Result<Printed, Failed> {
        self.export_as(export, data, gh_json::Style::Export)
    }

    /// A list as gh prints it: with `--json`, each item's exported object (in the style of
    /// gh's search and run lists); without, one table row per item.
    pub(super) fn print_list(
        &self,
        export: Option<&Export>,
        items: &[serde_json::Value],
        object: impl Fn(&Export, &serde_json::Value) -> serde_json::Value,
        row: impl Fn(&serde_json::Value) -> String,
    ) -> Result<Printed, Failed> {
        match export {
            Some(export) => {
                let data = items.iter().map(|v| object(export, v)).collect();
                self.export_as(
                    export,
                    serde_json::Value::Array(data),
                    gh_json::Style::SearchExport,
                )
            }
            None => Ok(items.iter().map(row).collect()),
        }
    }

    /// [`Runner::export`] with the `--json` output written in `style`.
    pub(super) fn export_as(
        &self,
        export: &Export,
        data: serde_json::Value,
        style: gh_json::Style,
    ) -> Result<Printed, Failed> {
        let mut out = String::new();
        let Some(filter) = &export.jq else {
            gh_json::encode(&mut out, &data, style);
            out.push('\n');
            return Ok(out.into());
        };
        let remaining = self
            .deadline
            .saturating_duration_since(std::time::Instant::now());
        let results = self
            .services
            .jq
            .run(
                self.call.ctx.caller.user(),
                &format!("[\n{filter}\n]"),
                data,
                Value::Null,
                1,
                remaining,
            )
            .map_err(|e| Failed(e.to_string()))?;
        for group in results {
            for value in group.as_array().into_iter().flatten() {
                gh_json::jq_line(&mut out, value);
            }
        }
        Ok(out.into())
    }
}

/// Runs `gh ARGS...`.
pub(super) fn run(runner: &mut Runner<'_, '_>, argv: &[String]) -> Done {
    let args = &argv[1..];
    let group = args.first().map(String::as_str).unwrap_or("");
    let sub = args.get(1).map(String::as_str).unwrap_or("");
    let rest = args.get(2..).unwrap_or(&[]);
    let result: Result<Printed, Failed> = match (group, sub) {
        ("api", _) => super::gh_api::run(runner, argv, &args[1..]),
        ("issue", "list") => super::gh_issue::list(runner, argv, rest),
        ("issue", "view") => super::gh_issue::view(runner, argv, rest),
        ("pr", "list") => super::gh_pr::list(runner, argv, rest),
        ("pr", "view") => super::gh_pr::view(runner, argv, rest),
        ("pr", "diff") => super::gh_pr::diff(runner, argv, rest),
        ("repo", "view") => super::gh_pr::repo_view(runner, argv, rest),
        ("issue", "create") => gh_write::issue_create(runner, argv, rest),
        ("issue", "comment") => gh_write::comment(runner, argv, rest, "gh issue comment"),
        ("issue", "close") => gh_write::issue_state(runner, argv, rest, true),
        ("issue", "reopen") => gh_write::issue_state(runner, argv, rest, false),
        ("issue", "edit") => gh_write::issue_edit(runner, argv, rest),
        ("pr", "create") => gh_write::pr_create(runner, argv, rest),
        ("pr", "comment") => gh_write::comment(runner, argv, rest, "gh pr comment"),
        ("pr", "close") => gh_write::pr_state(runner, argv, rest, true),
        ("pr", "reopen") => gh_write::pr_state(runner, argv, rest, false),
        ("pr", "edit") => gh_write::pr_edit(runner, argv, rest),
        ("pr", "merge") => gh_write::pr_merge(runner, argv, rest),
        ("pr", "review") => gh_write::pr_review(runner, argv, rest),
        ("pr", "checks") => super::gh_ci::pr_checks(runner, argv, rest),
        ("run", "list") => super::gh_ci::run_list(runner, argv, rest),
        ("run", "view") => super::gh_ci::run_view(runner, argv, rest),
        ("run", "rerun") => super::gh_ci::run_rerun(runner, argv, rest),
        ("release", "list") => super::gh_release::list(runner, argv, rest),
        ("release", "view") => super::gh_release::view(runner, argv, rest),
        ("release", "create") => super::gh_release::create(runner, argv, rest),
        ("search", "issues") => super::gh_search::run(runner, argv, rest, false),
        ("search", "prs") => super::gh_search::run(runner, argv, rest, true),
        ("search", "commits") => super::gh_search_commits::run(runner, argv, rest),
        _ => Err(unknown(group, sub)),
    };
    match result {
        Ok(Printed {
            stdout,
            stderr,
            status,
        }) => Done {
            stdout,
            stderr,
            status,
        },
        Err(Failed(message)) => Done::failed(1, message),
    }
}

/// An unknown command: gh's words, the nearest ones gitgate runs, and where the rest are.
fn unknown(group: &str, sub: &str) -> Failed {
    let hint = r#"or use the gh_* tools ({"tool": "help"})"#;
    let Some((_, subs)) = COMMANDS.iter().find(|(g, _)| *g == group) else {
        let near = crate::git::nearest(group, COMMANDS.iter().map(|(g, _)| (*g).to_owned()), 3);
        return Failed(format!(
            "unknown command \"{group}\" for \"gh\"; gitgate runs gh {}; nearest: {}; {hint}",
            COMMANDS
                .iter()
                .map(|(g, _)| *g)
                .collect::<Vec<_>>()
                .join(", "),
            near.join(", ")
        ));
    };
    let near = crate::git::nearest(sub, subs.iter().map(|s| (*s).to_owned()), 3);
    Failed(format!(
        "unknown command \"{sub}\" for \"gh {group}\"; gitgate runs gh {group} {}; nearest: {}; {hint}",
        subs.join(", "),
        near.join(", ")
    ))
}

/// The number argument of a view-like command (`123` or `#123`; gh also takes a URL).
pub(super) fn number(command: &str, parsed: &Parsed) -> Result<u64, Failed> {
    match parsed.args.as_slice() {
        [one] => one
            .trim_start_matches('#')
            .parse()
            .map_err(|_| Failed(format!("invalid issue format: {one:?}"))),
        [] => Err(Failed(format!(
            "{command}: gitgate needs the number (no current branch to look at)"
        ))),
        _ => Err(Failed(format!(
            "accepts at most 1 arg(s), received {}",
            parsed.args.len()
        ))),
    }
}

/// A timestamp as Go's `time.Time.String` prints it in UTC: `2024-01-09 04:45:00 +0000 UTC`.
pub(super) fn go_time(ts: &Value) -> String {
    let parsed = ts
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&chrono::Utc));
    match parsed {
        Some(t) if t.timestamp_subsec_nanos() == 0 => {
            t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()
        }
        Some(t) => {
            let frac = format!("{:09}", t.timestamp_subsec_nanos());
            format!(
                "{}.{} +0000 UTC",
                t.format("%Y-%m-%d %H:%M:%S"),
                frac.trim_end_matches('0')
            )
        }
        None => "0001-01-01 00:00:00 +0000 UTC".to_owned(),
    }
}

/// A title as gh's tables print it: runs of whitespace as one space, trimmed.
pub(super) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const FLAGS: &[Flag] = &[value("limit", Some('L')), switch("web", Some('w')), REPO];

    fn words(line: &str) -> Vec<String> {
        line.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn reads_flags_as_pflag_does() {
        let p = parse("gh x", FLAGS, &words("-L5 a --limit=7 -R o/r b -w")).unwrap();
        assert_eq!(p.last("limit"), Some("7"));
        assert_eq!(p.repo().as_deref(), Some("o/r"));
        assert!(p.on("web"));
        assert_eq!(p.args, ["a", "b"]);
        let e = parse("gh x", FLAGS, &words("--nope")).unwrap_err();
        assert!(e.starts_with("unknown flag: --nope\ngitgate supports for gh x: -L/--limit VALUE"));
        assert!(parse("gh x", FLAGS, &words("-L")).is_err());
    }

    /// Hostile words never panic the reader: every sequence of three from a set of awkward
    /// ones (empty, lone dashes, `=` forms, multibyte, a flag without its value) is read or
    /// refused.
    #[test]
    fn awkward_words_are_read_or_refused() {
        let words = [
            "", "-", "--", "---", "-L", "-L=", "--limit=", "--=x", "-é", "--é", "-Rx/y", "-w5",
            "--web=1", "x", "-\u{0}",
        ];
        for a in words {
            for b in words {
                for c in words {
                    let args: Vec<String> = [a, b, c].iter().map(|w| (*w).to_owned()).collect();
                    let _ = parse("gh x", FLAGS, &args);
                }
            }
        }
    }

    #[test]
    fn times_print_as_go_prints_them() {
        assert_eq!(
            go_time(&Value::from("2024-01-09T04:45:00Z")),
            "2024-01-09 04:45:00 +0000 UTC"
        );
        assert_eq!(
            go_time(&Value::from("2024-01-09T04:45:00.5Z")),
            "2024-01-09 04:45:00.5 +0000 UTC"
        );
    }
}
