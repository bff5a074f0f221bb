//! GitHub Actions and checks, in GitHub's shapes: workflows, workflow runs (filters `branch`,
//! `status`, `event`, `head_sha`), a run's jobs with steps, a job's log (plain text), re-runs,
//! and each job as a check run of its commit (what `gh pr checks` reads).

use serde_json::{Value, json};

use super::{ApiError, ApiResult, Ctx, Reply, page_params, render};
use crate::ci::{self, Job, Run, WORKFLOW_ID, WORKFLOW_NAME, WORKFLOW_PATH};
use crate::store::Repo;

fn workflow(ctx: &Ctx<'_>, repo: &Repo) -> Value {
    let full = repo.full_name();
    json!({
        "id": WORKFLOW_ID,
        "node_id": format!("W_kwDO{WORKFLOW_ID}"),
        "name": WORKFLOW_NAME,
        "path": WORKFLOW_PATH,
        "state": "active",
        "created_at": render::time(repo.created_at),
        "updated_at": render::time(repo.created_at),
        "url": format!("{}/repos/{full}/actions/workflows/{WORKFLOW_ID}", ctx.bases.api),
        "html_url": format!("{}/{full}/blob/{}/{WORKFLOW_PATH}", ctx.bases.html, repo.default_branch),
        "badge_url": format!("{}/{full}/workflows/{WORKFLOW_NAME}/badge.svg", ctx.bases.html),
    })
}

fn run_json(ctx: &Ctx<'_>, repo: &Repo, run: &Run) -> Value {
    let full = repo.full_name();
    let api = format!("{}/repos/{full}/actions/runs/{}", ctx.bases.api, run.id);
    let actor = ctx
        .app
        .store()
        .find_user(run.actor_id)
        .ok()
        .flatten()
        .map(|u| render::user(&ctx.bases, &u));
    json!({
        "id": run.id,
        "name": WORKFLOW_NAME,
        "node_id": format!("WFR_kwLO{}", run.id),
        "head_branch": run.head_branch,
        "head_sha": run.head_sha,
        "path": WORKFLOW_PATH,
        "display_title": run.head_branch,
        "run_number": run.run_number,
        "event": run.event,
        "status": run.status,
        "conclusion": run.conclusion,
        "workflow_id": WORKFLOW_ID,
        "check_suite_id": run.id,
        "url": api,
        "html_url": format!("{}/{full}/actions/runs/{}", ctx.bases.html, run.id),
        "jobs_url": format!("{api}/jobs"),
        "logs_url": format!("{api}/logs"),
        "check_suite_url": format!("{}/repos/{full}/check-suites/{}", ctx.bases.api, run.id),
        "artifacts_url": format!("{api}/artifacts"),
        "cancel_url": format!("{api}/cancel"),
        "rerun_url": format!("{api}/rerun"),
        "workflow_url": format!("{}/repos/{full}/actions/workflows/{WORKFLOW_ID}", ctx.bases.api),
        "pull_requests": [],
        "created_at": render::time(run.created_at),
        "updated_at": render::time(run.updated_at),
        "run_attempt": run.run_attempt,
        "run_started_at": render::time(run.created_at),
        "actor": actor,
        "triggering_actor": actor,
        "head_commit": null,
        "repository": render::repo(&ctx.bases, repo, 0, repo.updated_at),
        "head_repository": render::repo(&ctx.bases, repo, 0, repo.updated_at),
    })
}

fn job_json(ctx: &Ctx<'_>, repo: &Repo, run: &Run, job: &Job) -> Value {
    let full = repo.full_name();
    let steps: Vec<Value> = job
        .steps
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "status": "completed",
                "conclusion": s.conclusion,
                "number": s.number,
                "started_at": render::time(job.started_at),
                "completed_at": render::time(job.completed_at),
            })
        })
        .collect();
    json!({
        "id": job.id,
        "run_id": run.id,
        "run_url": format!("{}/repos/{full}/actions/runs/{}", ctx.bases.api, run.id),
        "run_attempt": run.run_attempt,
        "node_id": format!("CR_kwDO{}", job.id),
        "head_sha": run.head_sha,
        "head_branch": run.head_branch,
        "url": format!("{}/repos/{full}/actions/jobs/{}", ctx.bases.api, job.id),
        "html_url": format!("{}/{full}/actions/runs/{}/job/{}", ctx.bases.html, run.id, job.id),
        "status": "completed",
        "conclusion": job.conclusion,
        "created_at": render::time(job.started_at),
        "started_at": render::time(job.started_at),
        "completed_at": render::time(job.completed_at),
        "name": job.name,
        "steps": steps,
        "check_run_url": format!("{}/repos/{full}/check-runs/{}", ctx.bases.api, job.id),
        "labels": ["ubuntu-latest"],
        "runner_id": 1,
        "runner_name": "GitHub Actions 1",
        "runner_group_id": 1,
        "runner_group_name": "GitHub Actions",
        "workflow_name": WORKFLOW_NAME,
    })
}

/// `GET /repos/{o}/{r}/actions/workflows`.
pub fn workflows(ctx: &Ctx<'_>, o: &str, r: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    Ok(Reply::json(
        &json!({"total_count": 1, "workflows": [workflow(ctx, &repo)]}),
    ))
}

/// `GET /repos/{o}/{r}/actions/workflows/{id}`.
pub fn workflow_get(ctx: &Ctx<'_>, o: &str, r: &str, id: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    if id != WORKFLOW_ID.to_string() && id != "ci.yml" {
        return Err(ApiError::not_found());
    }
    Ok(Reply::json(&workflow(ctx, &repo)))
}

/// `GET /repos/{o}/{r}/actions/runs` (and a workflow's runs).
pub fn runs(ctx: &Ctx<'_>, o: &str, r: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let all = ci::runs(&ctx.app.store(), &repo)?;
    let status = ctx.q("status");
    let picked: Vec<&Run> = all
        .iter()
        .filter(|run| ctx.q("branch").is_none_or(|b| run.head_branch == b))
        .filter(|run| ctx.q("event").is_none_or(|e| run.event == e))
        .filter(|run| ctx.q("head_sha").is_none_or(|s| run.head_sha == s))
        .filter(|run| {
            status.is_none_or(|s| run.status == s || run.conclusion.as_deref() == Some(s))
        })
        .collect();
    let (per_page, page) = page_params(ctx);
    let body: Vec<Value> = picked
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|run| run_json(ctx, &repo, run))
        .collect();
    Ok(Reply::json(
        &json!({"total_count": picked.len(), "workflow_runs": body}),
    ))
}

fn find_run(ctx: &Ctx<'_>, repo: &Repo, id: &str) -> Result<Run, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found())?;
    ci::run(&ctx.app.store(), id)?
        .filter(|run| run.repo_id == repo.id)
        .ok_or_else(ApiError::not_found)
}

/// `GET /repos/{o}/{r}/actions/runs/{id}`.
pub fn run(ctx: &Ctx<'_>, o: &str, r: &str, id: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let run = find_run(ctx, &repo, id)?;
    Ok(Reply::json(&run_json(ctx, &repo, &run)))
}

/// `GET /repos/{o}/{r}/actions/runs/{id}/jobs` (`filter=all` for every attempt's).
pub fn jobs(ctx: &Ctx<'_>, o: &str, r: &str, id: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let run = find_run(ctx, &repo, id)?;
    let all = ctx.q("filter") == Some("all");
    let jobs = ci::jobs(&ctx.app.store(), &run, all)?;
    let body: Vec<Value> = jobs.iter().map(|j| job_json(ctx, &repo, &run, j)).collect();
    Ok(Reply::json(
        &json!({"total_count": body.len(), "jobs": body}),
    ))
}

/// `GET /repos/{o}/{r}/actions/jobs/{id}`.
pub fn job(ctx: &Ctx<'_>, o: &str, r: &str, id: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let (run, job) = find_job(ctx, &repo, id)?;
    Ok(Reply::json(&job_json(ctx, &repo, &run, &job)))
}

fn find_job(ctx: &Ctx<'_>, repo: &Repo, id: &str) -> Result<(Run, Job), ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found())?;
    let store = ctx.app.store();
    let job = ci::job(&store, repo, id)?.ok_or_else(ApiError::not_found)?;
    let run = ci::run(&store, job.run_id)?.ok_or_else(ApiError::not_found)?;
    Ok((run, job))
}

/// `GET /repos/{o}/{r}/actions/jobs/{id}/logs`: the log as plain text (GitHub answers with a
/// redirect to the same text).
pub fn job_logs(ctx: &Ctx<'_>, o: &str, r: &str, id: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let (_, job) = find_job(ctx, &repo, id)?;
    Ok(Reply::text("text/plain; charset=utf-8", job.log))
}

/// `POST /repos/{o}/{r}/actions/runs/{id}/rerun` (and `rerun-failed-jobs`).
pub fn rerun(ctx: &Ctx<'_>, o: &str, r: &str, id: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let run = find_run(ctx, &repo, id)?;
    let git = ctx.git(&repo)?;
    ctx.write(|s, now| Ok(ci::rerun(s, &git, &run, now)?))?;
    Ok(Reply::json_status(http::StatusCode::CREATED, &json!({})))
}

/// `GET /repos/{o}/{r}/commits/{ref}/check-runs`: each job of the runs on that commit.
pub fn check_runs(ctx: &Ctx<'_>, o: &str, r: &str, rev: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let git = ctx.git(&repo)?;
    let sha = crate::git::resolve(&git, rev)
        .ok_or_else(ApiError::not_found)?
        .to_string();
    let store = ctx.app.store();
    let mut checks = Vec::new();
    for run in ci::runs(&store, &repo)?
        .iter()
        .filter(|r| r.head_sha == sha)
    {
        for job in ci::jobs(&store, run, false)? {
            let full = repo.full_name();
            checks.push(json!({
                "id": job.id,
                "head_sha": run.head_sha,
                "node_id": format!("CR_kwDO{}", job.id),
                "external_id": "",
                "url": format!("{}/repos/{full}/check-runs/{}", ctx.bases.api, job.id),
                "html_url": format!("{}/{full}/actions/runs/{}/job/{}", ctx.bases.html, run.id, job.id),
                "details_url": format!("{}/{full}/actions/runs/{}/job/{}", ctx.bases.html, run.id, job.id),
                "status": "completed",
                "conclusion": job.conclusion,
                "started_at": render::time(job.started_at),
                "completed_at": render::time(job.completed_at),
                "output": {"title": null, "summary": null, "text": null, "annotations_count": 0,
                           "annotations_url": format!("{}/repos/{full}/check-runs/{}/annotations", ctx.bases.api, job.id)},
                "name": job.name,
                "check_suite": {"id": run.id},
                "app": null,
                "pull_requests": [],
            }));
        }
    }
    Ok(Reply::json(
        &json!({"total_count": checks.len(), "check_runs": checks}),
    ))
}

/// `GET /repos/{o}/{r}/actions/runs/{id}/logs`: the logs of the run's latest attempt as GitHub
/// archives them, one file per job (`N_JOB.txt`) and per step (`JOB/N_STEP.txt`).
pub fn run_logs(ctx: &Ctx<'_>, o: &str, r: &str, id: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    let run = find_run(ctx, &repo, id)?;
    let jobs = ci::jobs(&ctx.app.store(), &run, false)?;
    let mut entries = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        entries.push((
            format!("{i}_{}.txt", job.name),
            job.log.clone().into_bytes(),
        ));
        for step in &job.steps {
            entries.push((
                format!("{}/{}_{}.txt", job.name, step.number, step.name),
                step.log.clone().into_bytes(),
            ));
        }
    }
    Ok(Reply {
        status: http::StatusCode::OK,
        headers: Vec::new(),
        content_type: "application/zip".into(),
        body: crate::zip::archive(&entries),
    })
}

/// `GET /repos/{o}/{r}/actions/runs/{id}/artifacts`: the forge's CI keeps none.
pub fn artifacts(ctx: &Ctx<'_>, o: &str, r: &str, id: &str) -> ApiResult {
    let repo = ctx.repo(o, r)?;
    find_run(ctx, &repo, id)?;
    Ok(Reply::json(&json!({"total_count": 0, "artifacts": []})))
}
