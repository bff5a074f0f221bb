//! CI on GitHub: `gh pr checks`, `gh run list`, `gh run view` (jobs and steps; `log_failed`
//! gives a bounded tail of the failed steps' logs) and `gh run rerun`, over the Actions and
//! checks REST API, with the same per-user clients, retries and bounds as the other tools.

use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::request::Req;
use super::{Clients, Error, Output, RepoName, limit_of, s};

/// Arguments of `gh_pr_checks`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrChecksArgs {
    pub repo: Option<String>,
    pub number: u64,
}

/// Arguments of `gh_run_list`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunListArgs {
    pub repo: Option<String>,
    pub branch: Option<String>,
    /// queued, in_progress, completed, success, failure, ...
    pub status: Option<String>,
    pub limit: Option<usize>,
}

/// Arguments of `gh_run_view`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunViewArgs {
    pub repo: Option<String>,
    pub run_id: u64,
    /// Like --log-failed.
    pub log_failed: Option<bool>,
    /// Per failed job (default 60).
    pub log_lines: Option<usize>,
}

/// Arguments of `gh_run_rerun`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRerunArgs {
    pub repo: Option<String>,
    pub run_id: u64,
    /// Only the failed jobs.
    pub failed: Option<bool>,
}

pub(crate) const RUN_FIELDS: &[&str] = &[
    "databaseId",
    "status",
    "conclusion",
    "workflowName",
    "headBranch",
    "headSha",
    "event",
    "createdAt",
    "url",
];

pub(crate) const CHECK_FIELDS: &[&str] = &["name", "state", "bucket", "elapsed", "link"];

/// Log lines shown per failed job by default, and at most.
const LOG_LINES: usize = 60;
const MAX_LOG_LINES: usize = 2_000;

fn run_record(v: &Value) -> Value {
    json!({
        "databaseId": v["id"],
        "status": s(v, "status"),
        "conclusion": v["conclusion"].as_str().unwrap_or(""),
        "workflowName": s(v, "name"),
        "headBranch": s(v, "head_branch"),
        "headSha": s(v, "head_sha"),
        "event": s(v, "event"),
        "createdAt": s(v, "created_at"),
        "url": s(v, "html_url"),
    })
}

/// gh's one-word state of a finished or running check (`pass`, `fail`, `pending`, ...).
fn bucket(status: &str, conclusion: &str) -> &'static str {
    match (status, conclusion) {
        ("completed", "success") => "pass",
        ("completed", "failure" | "timed_out" | "startup_failure") => "fail",
        ("completed", "cancelled") => "cancel",
        ("completed", "skipped" | "neutral") => "skipping",
        ("completed", _) => "fail",
        _ => "pending",
    }
}

/// Seconds between two RFC 3339 times as gh prints durations (`1m15s`, `42s`).
fn elapsed(start: &str, end: &str) -> String {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    match (parse(start), parse(end)) {
        (Some(a), Some(b)) => {
            let secs = (b - a).num_seconds().max(0);
            if secs >= 60 {
                format!("{}m{}s", secs / 60, secs % 60)
            } else {
                format!("{secs}s")
            }
        }
        _ => String::new(),
    }
}

/// The check runs of pull request `number`'s head commit as gh records them, failing ones
/// first, and the head branch's name.
pub(crate) async fn check_items(
    clients: &Clients,
    user: &str,
    repo: &RepoName,
    number: u64,
) -> Result<(Vec<Value>, String), Error> {
    let pr = clients
        .json(
            user,
            &Req::get(
                repo.api(&format!("/pulls/{number}")),
                format!("pull request #{number} in {repo}"),
            ),
        )
        .await?;
    let sha = s(&pr["head"], "sha").to_owned();
    let v = clients
        .json(
            user,
            &Req::get(
                repo.api(&format!("/commits/{sha}/check-runs")),
                format!("checks of {sha}"),
            )
            .query("per_page", 100),
        )
        .await?;
    let mut checks: Vec<Value> = v["check_runs"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let b = bucket(s(c, "status"), c["conclusion"].as_str().unwrap_or(""));
            json!({
                "name": s(c, "name"),
                "state": c["conclusion"].as_str().unwrap_or(s(c, "status")),
                "bucket": b,
                "elapsed": elapsed(s(c, "started_at"), s(c, "completed_at")),
                "link": s(c, "details_url"),
            })
        })
        .collect();
    checks.sort_by_key(|c| c["bucket"] != "fail");
    Ok((checks, s(&pr["head"], "ref").to_owned()))
}

/// One line of `gh pr checks`: name, bucket, elapsed time, link.
pub(crate) fn check_row(c: &Value) -> String {
    format!(
        "{}\t{}\t{}\t{}\n",
        c["name"].as_str().unwrap_or(""),
        c["bucket"].as_str().unwrap_or(""),
        c["elapsed"].as_str().unwrap_or(""),
        c["link"].as_str().unwrap_or("")
    )
}

/// Runs `gh_pr_checks`: the check runs of the pull request's head commit, as gh lists them
/// (`name  state  elapsed  link`), failing ones first.
pub async fn pr_checks(
    clients: &Clients,
    user: &str,
    args: &PrChecksArgs,
) -> Result<Output, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    let (checks, head) = check_items(clients, user, &repo, args.number).await?;
    if checks.is_empty() {
        let text = format!("no checks reported on the '{head}' branch");
        return Ok(Output {
            text,
            data: Value::Array(Vec::new()),
            fields: CHECK_FIELDS,
            more: None,
        });
    }
    let text = checks.iter().map(check_row).collect::<String>();
    let text = text.trim_end().to_owned();
    Ok(Output {
        text,
        data: Value::Array(checks),
        fields: CHECK_FIELDS,
        more: None,
    })
}

/// The newest `limit` workflow runs as REST records (newest first), and how many there are.
pub(crate) async fn run_page(
    clients: &Clients,
    user: &str,
    repo: &RepoName,
    args: &RunListArgs,
) -> Result<(Vec<Value>, usize), Error> {
    let limit = limit_of(args.limit)?.min(100);
    let mut req = Req::get(
        repo.api("/actions/runs"),
        format!("workflow runs of {repo}"),
    )
    .query("per_page", limit);
    if let Some(b) = &args.branch {
        req = req.query("branch", b);
    }
    if let Some(st) = &args.status {
        req = req.query("status", st);
    }
    let v = clients.json(user, &req).await?;
    let runs: Vec<Value> = v["workflow_runs"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .take(limit)
        .cloned()
        .collect();
    let total = v["total_count"].as_u64().map_or(runs.len(), |n| n as usize);
    Ok((runs, total))
}

/// Runs `gh_run_list`: recent workflow runs, newest first (gh's columns: status, conclusion,
/// title, workflow, branch, event, id).
pub async fn run_list(clients: &Clients, user: &str, args: &RunListArgs) -> Result<Output, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    let (raw, total) = run_page(clients, user, &repo, args).await?;
    let runs: Vec<Value> = raw.iter().map(run_record).collect();
    let text = if runs.is_empty() {
        "no runs found".to_owned()
    } else {
        runs.iter()
            .map(|r| {
                format!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    r["status"].as_str().unwrap_or(""),
                    r["conclusion"].as_str().unwrap_or(""),
                    r["workflowName"].as_str().unwrap_or(""),
                    r["headBranch"].as_str().unwrap_or(""),
                    r["event"].as_str().unwrap_or(""),
                    r["databaseId"]
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let more = (total > runs.len()).then(|| {
        format!(
            "... {} more runs; pass limit={}",
            total - runs.len(),
            (runs.len() * 2).min(100)
        )
    });
    Ok(Output {
        text,
        data: Value::Array(runs),
        fields: RUN_FIELDS,
        more,
    })
}

/// Run `id` and its jobs, as REST records.
pub(crate) async fn run_with_jobs(
    clients: &Clients,
    user: &str,
    repo: &RepoName,
    id: u64,
) -> Result<(Value, Value), Error> {
    let run = clients
        .json(
            user,
            &Req::get(
                repo.api(&format!("/actions/runs/{id}")),
                format!("run {id} in {repo}"),
            ),
        )
        .await?;
    let jobs = clients
        .json(
            user,
            &Req::get(
                repo.api(&format!("/actions/runs/{id}/jobs")),
                format!("jobs of run {id}"),
            ),
        )
        .await?;
    Ok((run, jobs))
}

/// Runs `gh_run_view`: the run, its jobs and their steps (`✓`/`X`), and with `log_failed` the
/// last lines of each failed job's log.
pub async fn run_view(clients: &Clients, user: &str, args: &RunViewArgs) -> Result<Output, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    let id = args.run_id;
    let (run, jobs) = run_with_jobs(clients, user, &repo, id).await?;
    let record = run_record(&run);
    let mark = |c: &str| if c == "success" { "✓" } else { "X" };
    let conclusion = run["conclusion"].as_str().unwrap_or(s(&run, "status"));
    let mut text = format!(
        "{} {} · {id}\n{} {} on {} ({})\n\nJOBS\n",
        mark(conclusion),
        s(&run, "head_branch"),
        s(&run, "name"),
        conclusion,
        &s(&run, "head_sha").chars().take(7).collect::<String>(),
        s(&run, "event"),
    );
    let mut failed_jobs = Vec::new();
    let mut job_records = Vec::new();
    for job in jobs["jobs"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let jc = job["conclusion"].as_str().unwrap_or(s(job, "status"));
        text.push_str(&format!(
            "{} {} in {} (ID {})\n",
            mark(jc),
            s(job, "name"),
            elapsed(s(job, "started_at"), s(job, "completed_at")),
            job["id"]
        ));
        let mut steps = Vec::new();
        for step in job["steps"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let sc = step["conclusion"].as_str().unwrap_or(s(step, "status"));
            text.push_str(&format!("  {} {}\n", mark(sc), s(step, "name")));
            steps.push(json!({"name": s(step, "name"), "conclusion": sc}));
        }
        if jc != "success" {
            failed_jobs.push((job["id"].clone(), s(job, "name").to_owned()));
        }
        job_records.push(
            json!({"id": job["id"], "name": s(job, "name"), "conclusion": jc, "steps": steps}),
        );
    }
    if args.log_failed.unwrap_or(false) {
        let lines = args.log_lines.unwrap_or(LOG_LINES).clamp(1, MAX_LOG_LINES);
        for (job_id, name) in &failed_jobs {
            let log = clients
                .send(
                    user,
                    &Req::get(
                        repo.api(&format!("/actions/jobs/{job_id}/logs")),
                        format!("log of job {job_id}"),
                    ),
                )
                .await?
                .body;
            text.push_str(&log_tail(name, &log, lines));
        }
    } else if !failed_jobs.is_empty() {
        text.push_str("\nTo see what failed, pass log_failed=true");
    }
    Ok(Output {
        text: text.trim_end().to_owned(),
        data: json!({"run": record, "jobs": job_records}),
        fields: &[],
        more: None,
    })
}

/// The last `lines` lines of a job's log, each prefixed with the job name as `gh run view
/// --log-failed` prints them, with a note when earlier lines were left out.
fn log_tail(job: &str, log: &str, lines: usize) -> String {
    let all: Vec<&str> = log.lines().collect();
    let skipped = all.len().saturating_sub(lines);
    let mut out = String::from("\n");
    if skipped > 0 {
        out.push_str(&format!(
            "... {skipped} earlier log lines of {job}; pass log_lines={} for more\n",
            (lines * 4).min(MAX_LOG_LINES)
        ));
    }
    for line in &all[skipped..] {
        out.push_str(job);
        out.push('\t');
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Asks for a new attempt of run `id` (only its failed jobs with `failed`).
pub(crate) async fn rerun(
    clients: &Clients,
    user: &str,
    repo: &RepoName,
    id: u64,
    failed: bool,
) -> Result<(), Error> {
    let what = if failed { "rerun-failed-jobs" } else { "rerun" };
    let req = Req::with_body(
        Method::POST,
        repo.api(&format!("/actions/runs/{id}/{what}")),
        json!({}),
        format!("run {id} in {repo}"),
    );
    clients.send(user, &req).await?;
    Ok(())
}

/// Runs `gh_run_rerun`: a new attempt of the run (only its failed jobs with `failed`).
pub async fn run_rerun(
    clients: &Clients,
    user: &str,
    args: &RunRerunArgs,
) -> Result<Output, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    let id = args.run_id;
    rerun(clients, user, &repo, id, args.failed.unwrap_or(false)).await?;
    Ok(Output {
        text: format!("Requested rerun of run {id}"),
        data: json!({"run_id": id, "rerun": true}),
        fields: &[],
        more: None,
    })
}

/// The lines of a run's failed steps as `gh run view --log-failed` prints them
/// (`JOB\tSTEP\tLINE`), from each failed job's log. A job's log is its steps' logs one after
/// another; a step named `Run X` begins at its `##[group]Run X` line and ends where the next
/// `##[group]Run ` step or the job's cleanup begins (what GitHub's log archive splits into one
/// file per step). A failed step found nowhere in the log prints the job's whole log.
pub(crate) async fn failed_step_lines(
    clients: &Clients,
    user: &str,
    repo: &RepoName,
    jobs: &Value,
) -> Result<String, Error> {
    let mut out = String::new();
    for job in jobs["jobs"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        if job["conclusion"].as_str() == Some("success") {
            continue;
        }
        let failed: Vec<&str> = job["steps"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|s| s["conclusion"].as_str() == Some("failure"))
            .map(|s| s["name"].as_str().unwrap_or(""))
            .collect();
        if failed.is_empty() {
            continue;
        }
        let id = &job["id"];
        let log = clients
            .send(
                user,
                &Req::get(
                    repo.api(&format!("/actions/jobs/{id}/logs")),
                    format!("log of job {id}"),
                ),
            )
            .await?
            .body;
        let name = s(job, "name");
        for step in failed {
            for line in step_lines(&log, step) {
                out.push_str(&format!("{name}\t{step}\t{line}\n"));
            }
        }
    }
    Ok(out)
}

/// The lines of `step` in a job's `log` (see [`failed_step_lines`]).
fn step_lines<'l>(log: &'l str, step: &str) -> Vec<&'l str> {
    let lines: Vec<&str> = log.lines().collect();
    // The text after the timestamp that starts every line.
    let body = |l: &str| l.split_once(' ').map_or(l, |(_, b)| b).to_owned();
    let marker = format!("##[group]{step}");
    let Some(start) = lines.iter().position(|l| body(l) == marker) else {
        return lines;
    };
    let end = lines[start + 1..]
        .iter()
        .position(|l| {
            let b = body(l);
            b.starts_with("##[group]Run ")
                || b.starts_with("Post job cleanup")
                || b.starts_with("Cleaning up orphan processes")
        })
        .map_or(lines.len(), |i| start + 1 + i);
    lines[start..end].to_vec()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_buckets_read_as_gh_prints_them() {
        assert_eq!(
            elapsed("2024-01-01T00:00:05Z", "2024-01-01T00:01:10Z"),
            "1m5s"
        );
        assert_eq!(
            elapsed("2024-01-01T00:00:05Z", "2024-01-01T00:00:47Z"),
            "42s"
        );
        assert_eq!(elapsed("garbage", "2024-01-01T00:00:47Z"), "");
        assert_eq!(bucket("completed", "success"), "pass");
        assert_eq!(bucket("completed", "failure"), "fail");
        assert_eq!(bucket("in_progress", ""), "pending");
    }

    #[test]
    fn a_log_tail_says_how_to_see_more() {
        let log: String = (1..=10).map(|i| format!("line {i}\n")).collect();
        let tail = log_tail("test", &log, 3);
        assert!(
            tail.contains("... 7 earlier log lines of test; pass log_lines=12"),
            "{tail}"
        );
        assert!(tail.ends_with("test\tline 10\n"), "{tail}");
        assert_eq!(tail.matches("test\tline").count(), 3);
        assert!(!log_tail("test", &log, 50).contains("earlier"));
    }
}
