//! `gh pr checks`, `gh run list|view|rerun` in the run form: one call of `gh_pr_checks`,
//! `gh_run_list`, `gh_run_view` or `gh_run_rerun` each, printing what gh 2.23 prints without a
//! terminal, exit status included (`gh pr checks` exits 1 when a check failed, 8 when one is
//! pending). Relative times ("about 2 years ago") are computed from the clock as gh does.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::Runner;
use super::gh::{self, Failed, Flag, JQ, JSON, Printed, REPO, switch, value};
use super::gh_ci_json;
use super::gh_issue::{limit, not_found};
use super::gh_json::Style;
use crate::github::PrListArgs;
use crate::github::actions::RunListArgs;
use crate::github::records::{self, PrState, RepoName};

const CHECKS_FLAGS: &[Flag] = &[REPO];
const LIST_FLAGS: &[Flag] = &[
    value("limit", Some('L')),
    value("branch", Some('b')),
    REPO,
    JSON,
    JQ,
];
const VIEW_FLAGS: &[Flag] = &[
    value("job", Some('j')),
    switch("verbose", Some('v')),
    switch("exit-status", None),
    switch("log-failed", None),
    REPO,
    JSON,
    JQ,
];
const RERUN_FLAGS: &[Flag] = &[switch("failed", None), REPO];

/// gh's exit status when a check is still pending (`cmdutil.PendingError`).
const PENDING_STATUS: i32 = 8;
/// `gh run list`'s default length.
const RUN_LIMIT: usize = 20;

fn resolve(gh: &gh::Gh<'_>, repo: Option<&str>) -> Result<RepoName, Failed> {
    RepoName::resolve(gh.clients, repo).map_err(|e| Failed(e.to_string()))
}

/// `gh pr checks N`.
pub(super) fn pr_checks(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
) -> Result<Printed, Failed> {
    let p = gh::parse("gh pr checks", CHECKS_FLAGS, rest)?;
    let n = gh::number("gh pr checks", &p)?;
    runner.gh_call("gh_pr_checks", argv, p.repo(), Some(n), |gh| {
        let repo = resolve(gh, p.repo().as_deref())?;
        let (checks, head) = gh
            .wait_raw(records::check_items(gh.clients, gh.user, &repo, n))
            .map_err(|e| not_found(e, n, "a PullRequest", "repository.pullRequest"))?;
        if checks.is_empty() {
            return Err(Failed(format!("no checks reported on the '{head}' branch")));
        }
        let bucket = |b: &str| checks.iter().any(|c| c["bucket"] == b);
        let status = if bucket("fail") {
            1
        } else if bucket("pending") {
            PENDING_STATUS
        } else {
            0
        };
        Ok(Printed {
            stdout: checks.iter().map(records::check_row).collect(),
            stderr: String::new(),
            status,
        })
    })
}

/// `gh run list`.
pub(super) fn run_list(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
) -> Result<Printed, Failed> {
    let p = gh::parse("gh run list", LIST_FLAGS, rest)?;
    if let Some(extra) = p.args.first() {
        return Err(Failed(format!(
            "unknown argument {extra:?} for \"gh run list\""
        )));
    }
    let args = RunListArgs {
        repo: p.repo(),
        branch: p.last("branch").map(str::to_owned),
        status: None,
        limit: Some(limit(&p)?.unwrap_or(RUN_LIMIT)),
    };
    let export = p.export(gh_ci_json::RUN_FIELDS)?;
    runner.gh_call("gh_run_list", argv, p.repo(), None, |gh| {
        let repo = resolve(gh, p.repo().as_deref())?;
        let (runs, _) = gh.wait(records::run_page(gh.clients, gh.user, &repo, &args))?;
        let now = Utc::now();
        // No runs prints nothing: gh says "no runs found" only to a terminal.
        runner.print_list(
            export.as_ref(),
            &runs,
            |export, r| gh_ci_json::run(export, r, &[]),
            |r| run_row(r, now),
        )
    })
}

/// One row of `gh run list`: status, conclusion, title, workflow, branch, event, id, elapsed
/// time and age.
fn run_row(r: &Value, now: DateTime<Utc>) -> String {
    let title = match r["display_title"].as_str().unwrap_or("") {
        "" => r["head_commit"]["message"]
            .as_str()
            .and_then(|m| m.lines().next())
            .unwrap_or("")
            .to_owned(),
        t => t.to_owned(),
    };
    format!(
        "{}\t{}\t{title}\t{}\t{}\t{}\t{}\t{}\t{}\n",
        text(r, "status"),
        text(r, "conclusion"),
        text(r, "name"),
        text(r, "head_branch"),
        text(r, "event"),
        r["id"],
        go_duration(run_duration(r, now)),
        fuzzy_ago_abbr(now, started(r)),
    )
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

fn time(v: &Value, key: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v[key].as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// When a run started: `run_started_at`, else its creation.
fn started(r: &Value) -> Option<DateTime<Utc>> {
    time(r, "run_started_at").or_else(|| time(r, "created_at"))
}

/// Seconds a run took (or has taken so far), as gh's `Run.Duration`.
fn run_duration(r: &Value, now: DateTime<Utc>) -> i64 {
    let end = if text(r, "status") == "completed" {
        time(r, "updated_at")
    } else {
        Some(now)
    };
    match (started(r), end) {
        (Some(a), Some(b)) => (b - a).num_seconds().max(0),
        _ => 0,
    }
}

/// Whole seconds as Go's `time.Duration.String` prints them (`1h2m3s`, `1m15s`, `42s`).
fn go_duration(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// gh's `text.FuzzyAgoAbbr`: `5m`, `3h`, `12d`, then the date (`Jan  9, 2024`).
fn fuzzy_ago_abbr(now: DateTime<Utc>, then: Option<DateTime<Utc>>) -> String {
    let Some(then) = then else {
        return String::new();
    };
    let ago = now - then;
    if ago < chrono::Duration::hours(1) {
        format!("{}m", ago.num_minutes())
    } else if ago < chrono::Duration::hours(24) {
        format!("{}h", ago.num_hours())
    } else if ago < chrono::Duration::days(30) {
        format!("{}d", ago.num_hours() / 24)
    } else {
        then.format("%b %e, %Y").to_string()
    }
}

/// gh's `text.FuzzyAgo`: `about 3 hours ago`, `about 2 years ago`.
fn fuzzy_ago(now: DateTime<Utc>, then: Option<DateTime<Utc>>) -> String {
    let Some(then) = then else {
        return String::new();
    };
    let ago = now - then;
    let hours = ago.num_hours();
    let (n, unit) = if ago < chrono::Duration::minutes(1) {
        return "less than a minute ago".to_owned();
    } else if ago < chrono::Duration::hours(1) {
        (ago.num_minutes(), "minute")
    } else if hours < 24 {
        (hours, "hour")
    } else if hours < 30 * 24 {
        (hours / 24, "day")
    } else if hours < 365 * 24 {
        (hours / 24 / 30, "month")
    } else {
        (hours / 24 / 365, "year")
    };
    let s = if n == 1 { "" } else { "s" };
    format!("about {n} {unit}{s} ago")
}

/// gh's mark for a run, job or step: `✓`, `X`, `-` (skipped, neutral), `*` (not done).
fn symbol(v: &Value) -> &'static str {
    if text(v, "status") != "completed" {
        return "*";
    }
    match text(v, "conclusion") {
        "success" => "✓",
        "skipped" | "neutral" => "-",
        _ => "X",
    }
}

fn is_failure(v: &Value) -> bool {
    matches!(
        text(v, "conclusion"),
        "failure" | "action_required" | "startup_failure" | "timed_out"
    )
}

/// `gh run view ID [--job ID] [-v] [--exit-status]`.
pub(super) fn run_view(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
) -> Result<Printed, Failed> {
    let p = gh::parse("gh run view", VIEW_FLAGS, rest)?;
    let log_failed = p.on("log-failed");
    let job: Option<u64> = match p.last("job") {
        None => None,
        Some(j) => Some(
            j.parse()
                .map_err(|_| Failed(format!("invalid job ID: {j:?}")))?,
        ),
    };
    let id: u64 = match (p.args.as_slice(), job) {
        ([one], _) => one
            .parse()
            .map_err(|_| Failed(format!("invalid run ID: {one:?}")))?,
        ([], Some(_)) => {
            return Err(Failed(
                "gh run view --job: gitgate needs the run ID as well (gh run view RUN --job JOB)"
                    .into(),
            ));
        }
        ([], None) => {
            return Err(Failed(
                "run or job ID required when not running interactively".into(),
            ));
        }
        (more, _) => {
            return Err(Failed(format!(
                "accepts at most 1 arg(s), received {}",
                more.len()
            )));
        }
    };
    let (verbose, exit_status) = (p.on("verbose"), p.on("exit-status"));
    let export = p.export(gh_ci_json::RUN_VIEW_FIELDS)?;
    runner.gh_call("gh_run_view", argv, p.repo(), None, |gh| {
        let repo = resolve(gh, p.repo().as_deref())?;
        let (run, jobs) = gh.wait(records::run_with_jobs(gh.clients, gh.user, &repo, id))?;
        let mut jobs: Vec<Value> = jobs["jobs"].as_array().cloned().unwrap_or_default();
        if let Some(job) = job {
            jobs.retain(|j| j["id"].as_u64() == Some(job));
            if jobs.is_empty() {
                return Err(Failed(format!("job {job} not found in run {id}")));
            }
        }
        if let Some(export) = &export {
            let data = gh_ci_json::run(export, &run, &jobs);
            return runner.export_as(export, data, Style::SearchExport);
        }
        if log_failed {
            let listed = serde_json::json!({ "jobs": jobs });
            let stdout = gh.wait(crate::github::actions::failed_step_lines(
                gh.clients, gh.user, &repo, &listed,
            ))?;
            return Ok(Printed {
                stdout,
                stderr: String::new(),
                status: 0,
            });
        }
        let pr = pr_for_run(gh, &repo, &run);
        let stdout = render_run(&run, &jobs, pr, job.is_some(), verbose, Utc::now());
        let status = i32::from(exit_status && is_failure(&run));
        Ok(Printed {
            stdout,
            stderr: String::new(),
            status,
        })
    })
}

/// The newest pull request whose head is the run's branch in the run's repository, as gh
/// looks it up for the header (`CI #50`); none when the lookup fails, as with gh.
fn pr_for_run(gh: &gh::Gh<'_>, repo: &RepoName, run: &Value) -> Option<u64> {
    let owner = |v: &Value| v["owner"]["login"].as_str().map(str::to_owned);
    // GitHub filters on `head` only in its `OWNER:BRANCH` form.
    let head = format!(
        "{}:{}",
        owner(&run["head_repository"])?,
        text(run, "head_branch")
    );
    let args = PrListArgs {
        repo: Some(repo.to_string()),
        state: PrState::All,
        head: Some(head),
        limit: Some(1),
        ..PrListArgs::default()
    };
    let (_, listed) = gh
        .wait(records::pr_items(gh.clients, gh.user, &args))
        .ok()?;
    let pr = listed.items.first()?;
    (owner(&pr["head"]["repo"]) == owner(&run["head_repository"]))
        .then(|| pr["number"].as_u64())
        .flatten()
}

/// `gh run view` without a terminal: header, jobs (steps of failed ones, or of all with
/// `verbose` or one `selected` job), and what to run next.
fn render_run(
    run: &Value,
    jobs: &[Value],
    pr: Option<u64>,
    selected: bool,
    verbose: bool,
    now: DateTime<Utc>,
) -> String {
    let pr = pr.map(|n| format!(" #{n}")).unwrap_or_default();
    let mut out = format!(
        "\n{} {} {}{pr} · {}\nTriggered via {} {}\n\n",
        symbol(run),
        text(run, "head_branch"),
        text(run, "name"),
        run["id"],
        text(run, "event"),
        fuzzy_ago(now, started(run)),
    );
    if !selected {
        out.push_str("JOBS\n");
    }
    for job in jobs {
        let elapsed = match (time(job, "started_at"), time(job, "completed_at")) {
            (Some(a), Some(b)) if b >= a => format!(" in {}", go_duration((b - a).num_seconds())),
            _ => String::new(),
        };
        out.push_str(&format!(
            "{} {}{elapsed} (ID {})\n",
            symbol(job),
            text(job, "name"),
            job["id"]
        ));
        if selected || verbose || is_failure(job) {
            for step in job["steps"].as_array().into_iter().flatten() {
                out.push_str(&format!("  {} {}\n", symbol(step), text(step, "name")));
            }
        }
    }
    out.push('\n');
    match jobs {
        [job] if selected && is_failure(job) => out.push_str(&format!(
            "To see the logs for the failed steps, try: gh run view --log-failed --job={}\n",
            job["id"]
        )),
        [job] if selected => out.push_str(&format!(
            "To see the full job log, try: gh run view --log --job={}\n",
            job["id"]
        )),
        _ if is_failure(run) => out.push_str(&format!(
            "To see what failed, try: gh run view {} --log-failed\n",
            run["id"]
        )),
        [job] => out.push_str(&format!(
            "For more information about the job, try: gh run view --job={}\n",
            job["id"]
        )),
        _ => out.push_str("For more information about a job, try: gh run view --job=<job-id>\n"),
    }
    out.push_str(&format!(
        "View this run on GitHub: {}\n",
        text(run, "html_url")
    ));
    out
}

/// `gh run rerun ID [--failed]`: prints nothing without a terminal.
pub(super) fn run_rerun(
    runner: &Runner<'_, '_>,
    argv: &[String],
    rest: &[String],
) -> Result<Printed, Failed> {
    let p = gh::parse("gh run rerun", RERUN_FLAGS, rest)?;
    let id: u64 = match p.args.as_slice() {
        [one] => one
            .parse()
            .map_err(|_| Failed(format!("invalid run ID: {one:?}")))?,
        [] => {
            return Err(Failed(
                "`run_id` required when not running interactively".into(),
            ));
        }
        more => {
            return Err(Failed(format!(
                "accepts at most 1 arg(s), received {}",
                more.len()
            )));
        }
    };
    let failed = p.on("failed");
    runner.gh_call("gh_run_rerun", argv, p.repo(), None, |gh| {
        let repo = resolve(gh, p.repo().as_deref())?;
        gh.wait(records::rerun(gh.clients, gh.user, &repo, id, failed))?;
        Ok(String::new().into())
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(t: &str) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc))
    }

    #[test]
    fn times_read_as_gh_prints_them() {
        let now = at("2026-12-06T12:00:00Z").unwrap();
        assert_eq!(
            fuzzy_ago(now, at("2024-01-09T09:15:00Z")),
            "about 2 years ago"
        );
        assert_eq!(
            fuzzy_ago(now, at("2026-12-06T11:00:00Z")),
            "about 1 hour ago"
        );
        assert_eq!(
            fuzzy_ago(now, at("2026-12-06T11:59:30Z")),
            "less than a minute ago"
        );
        assert_eq!(
            fuzzy_ago(now, at("2026-10-01T00:00:00Z")),
            "about 2 months ago"
        );
        assert_eq!(
            fuzzy_ago_abbr(now, at("2024-01-09T09:15:00Z")),
            "Jan  9, 2024"
        );
        assert_eq!(fuzzy_ago_abbr(now, at("2026-12-06T09:00:00Z")), "3h");
        assert_eq!(fuzzy_ago_abbr(now, at("2026-12-04T09:00:00Z")), "2d");
        assert_eq!(go_duration(75), "1m15s");
        assert_eq!(go_duration(3_725), "1h2m5s");
        assert_eq!(go_duration(0), "0s");
    }
}
