//! `--json` of `gh run list`, `gh run view` and `gh release view`: gh 2.23 exports these as Go
//! maps built from GitHub's REST records (`shared.Run.ExportData`, `shared.Release.ExportData`),
//! so their keys come out sorted, times as Go's `time.Time` writes them (the zero time when
//! GitHub has none), and strings GitHub leaves null as empty strings.

use serde_json::{Map, Value, json};

use super::gh_json::Export;

/// `gh run list --json` fields.
pub(super) const RUN_FIELDS: &[&str] = &[
    "conclusion",
    "createdAt",
    "databaseId",
    "displayTitle",
    "event",
    "headBranch",
    "headSha",
    "name",
    "number",
    "startedAt",
    "status",
    "updatedAt",
    "url",
    "workflowDatabaseId",
    "workflowName",
];

/// `gh run view --json` fields: a run's, and its jobs.
pub(super) const RUN_VIEW_FIELDS: &[&str] = &[
    "conclusion",
    "createdAt",
    "databaseId",
    "displayTitle",
    "event",
    "headBranch",
    "headSha",
    "jobs",
    "name",
    "number",
    "startedAt",
    "status",
    "updatedAt",
    "url",
    "workflowDatabaseId",
    "workflowName",
];

/// `gh release view --json` fields.
pub(super) const RELEASE_FIELDS: &[&str] = &[
    "apiUrl",
    "assets",
    "author",
    "body",
    "createdAt",
    "id",
    "isDraft",
    "isPrerelease",
    "name",
    "publishedAt",
    "tagName",
    "tarballUrl",
    "targetCommitish",
    "uploadUrl",
    "url",
    "zipballUrl",
];

/// Go's zero `time.Time`, which gh writes for a time GitHub left null.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn text(v: &Value, key: &str) -> Value {
    json!(v[key].as_str().unwrap_or(""))
}

fn time(v: &Value, key: &str) -> Value {
    json!(v[key].as_str().unwrap_or(ZERO_TIME))
}

fn number(v: &Value, key: &str) -> Value {
    json!(v[key].as_u64().unwrap_or(0))
}

/// One run (REST record `r`, its jobs for `jobs`) with the exported fields.
pub(super) fn run(export: &Export, r: &Value, jobs: &[Value]) -> Value {
    let mut m = Map::new();
    for field in &export.fields {
        let v = match field.as_str() {
            "conclusion" => text(r, "conclusion"),
            "createdAt" => time(r, "created_at"),
            "databaseId" => number(r, "id"),
            "displayTitle" => text(r, "display_title"),
            "event" => text(r, "event"),
            "headBranch" => text(r, "head_branch"),
            "headSha" => text(r, "head_sha"),
            "jobs" => Value::Array(jobs.iter().map(job).collect()),
            "name" => text(r, "name"),
            "number" => number(r, "run_number"),
            "startedAt" => time(r, "run_started_at"),
            "status" => text(r, "status"),
            "updatedAt" => time(r, "updated_at"),
            "url" => text(r, "html_url"),
            "workflowDatabaseId" => number(r, "workflow_id"),
            // gh names the workflow from its list of workflows; a run's name is its workflow's.
            "workflowName" => text(r, "name"),
            _ => continue,
        };
        m.insert(field.clone(), v);
    }
    Value::Object(m)
}

fn job(j: &Value) -> Value {
    let steps: Vec<Value> = j["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            json!({
                "conclusion": text(s, "conclusion"),
                "name": text(s, "name"),
                "number": number(s, "number"),
                "status": text(s, "status"),
            })
        })
        .collect();
    json!({
        "completedAt": time(j, "completed_at"),
        "conclusion": text(j, "conclusion"),
        "databaseId": number(j, "id"),
        "name": text(j, "name"),
        "startedAt": time(j, "started_at"),
        "status": text(j, "status"),
        "steps": steps,
        "url": text(j, "html_url"),
    })
}

/// One release (REST record `r`) with the exported fields.
pub(super) fn release(export: &Export, r: &Value) -> Value {
    let mut m = Map::new();
    for field in &export.fields {
        let v = match field.as_str() {
            "apiUrl" => text(r, "url"),
            "assets" => Value::Array(
                r["assets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| {
                        json!({
                            "apiUrl": text(a, "url"),
                            "contentType": text(a, "content_type"),
                            "createdAt": time(a, "created_at"),
                            "downloadCount": number(a, "download_count"),
                            "id": text(a, "node_id"),
                            "label": text(a, "label"),
                            "name": text(a, "name"),
                            "size": number(a, "size"),
                            "state": text(a, "state"),
                            "updatedAt": time(a, "updated_at"),
                            "url": text(a, "browser_download_url"),
                        })
                    })
                    .collect(),
            ),
            "author" => json!({
                "id": text(&r["author"], "node_id"),
                "login": text(&r["author"], "login"),
            }),
            "body" => text(r, "body"),
            "createdAt" => time(r, "created_at"),
            "id" => text(r, "node_id"),
            "isDraft" => json!(r["draft"].as_bool().unwrap_or(false)),
            "isPrerelease" => json!(r["prerelease"].as_bool().unwrap_or(false)),
            "name" => text(r, "name"),
            // A pointer in gh: null while the release is a draft.
            "publishedAt" => r["published_at"].as_str().map_or(Value::Null, |t| json!(t)),
            "tagName" => text(r, "tag_name"),
            "tarballUrl" => text(r, "tarball_url"),
            "targetCommitish" => text(r, "target_commitish"),
            "uploadUrl" => text(r, "upload_url"),
            "url" => text(r, "html_url"),
            "zipballUrl" => text(r, "zipball_url"),
            _ => continue,
        };
        m.insert(field.clone(), v);
    }
    Value::Object(m)
}
