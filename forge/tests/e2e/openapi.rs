//! Every served REST answer validates against GitHub's OpenAPI description (the subset of
//! `@octokit/openapi` that `tests/openapi/extract.mjs` keeps): the schema of the operation and
//! status, with `$ref`, `nullable`, `required`, `properties`, `items`, `enum`, `allOf`,
//! `anyOf`/`oneOf` (at least one branch) and the `uri`/`date-time` formats checked.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{Forge, send, start};

const SUBSET: &str = include_str!("../openapi/github-subset.json");

struct Validator {
    schemas: Value,
}

impl Validator {
    fn check(&self, schema: &Value, v: &Value, path: &str, errs: &mut Vec<String>) {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let name = r.rsplit('/').next().unwrap_or(r);
            match self.schemas.get(name) {
                Some(s) => self.check(s, v, path, errs),
                None => errs.push(format!("{path}: unknown $ref {r}")),
            }
            return;
        }
        if v.is_null() && schema.get("nullable") == Some(&json!(true)) {
            return;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                self.check(s, v, path, errs);
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(branches) = schema.get(key).and_then(Value::as_array) {
                let mut best: Option<Vec<String>> = None;
                for s in branches {
                    let mut e = Vec::new();
                    self.check(s, v, path, &mut e);
                    if best.as_ref().is_none_or(|b| e.len() < b.len()) {
                        best = Some(e);
                    }
                }
                if let Some(b) = best.filter(|b| !b.is_empty()) {
                    errs.push(format!(
                        "{path}: no {key} branch matches; closest: {}",
                        b.join("; ")
                    ));
                }
            }
        }
        if let Some(ty) = schema.get("type").and_then(Value::as_str) {
            let ok = match ty {
                "object" => v.is_object(),
                "array" => v.is_array(),
                "string" => v.is_string(),
                "integer" => v.is_i64() || v.is_u64(),
                "number" => v.is_number(),
                "boolean" => v.is_boolean(),
                "null" => v.is_null(),
                _ => true,
            };
            if !ok {
                errs.push(format!("{path}: expected {ty}, got {v}"));
                return;
            }
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array)
            && !values.contains(v)
        {
            errs.push(format!("{path}: {v} not in {values:?}"));
        }
        if let (Some(format), Some(s)) = (schema.get("format").and_then(Value::as_str), v.as_str())
        {
            let ok = match format {
                "uri" => {
                    s.starts_with("http://") || s.starts_with("https://") || s.starts_with("git://")
                }
                "date-time" => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
                _ => true,
            };
            if !ok {
                errs.push(format!("{path}: {s:?} is not a {format}"));
            }
        }
        if let Some(obj) = v.as_object() {
            for req in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(k) = req.as_str()
                    && !obj.contains_key(k)
                {
                    errs.push(format!("{path}: missing required {k}"));
                }
            }
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, val) in obj {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => self.check(s, val, &format!("{path}.{k}"), errs),
                    None => {
                        if let Some(extra) =
                            schema.get("additionalProperties").filter(|a| a.is_object())
                        {
                            self.check(extra, val, &format!("{path}.{k}"), errs);
                        }
                    }
                }
            }
        }
        if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
            for (i, item) in arr.iter().enumerate() {
                self.check(items, item, &format!("{path}[{i}]"), errs);
            }
        }
    }
}

/// Sends a request and validates the answer against `operation`'s schema for its status.
/// One request: operation, method, path, body, expected status.
type Case = (&'static str, Method, String, Option<Value>, u16);

async fn check(f: &Forge, v: &Validator, ops: &Value, case: Case) -> Vec<String> {
    let (operation, method, path, body, status) = case;
    let (got, _, text) = send(f, method, "alice", &path, body, None).await;
    if got != status {
        return vec![format!(
            "{operation} {path}: status {got}, expected {status}: {text}"
        )];
    }
    let Some(schema) = ops.get(operation).and_then(|o| o.get(status.to_string())) else {
        return vec![format!("{operation}: no schema for {status}")];
    };
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let mut errs = Vec::new();
    v.check(schema, &value, &format!("{operation} {path} ->"), &mut errs);
    errs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_validate_against_githubs_openapi() {
    let subset: Value = serde_json::from_str(SUBSET).expect("subset parses");
    let v = Validator {
        schemas: subset["schemas"].clone(),
    };
    let ops = &subset["operations"];
    let f = start().await;
    let r = "/repos/acme/widgets";
    let main_sha = crate::json(
        &crate::get(&f, "alice", &format!("{r}/branches/main"))
            .await
            .2,
    )["commit"]["sha"]
        .clone();
    let get = Method::GET;
    let cases: Vec<Case> = vec![
        ("get /user", get.clone(), "/user".into(), None, 200),
        (
            "get /users/{username}",
            get.clone(),
            "/users/bob".into(),
            None,
            200,
        ),
        (
            "get /users/{username}",
            get.clone(),
            "/users/acme".into(),
            None,
            200,
        ),
        (
            "get /users/{username}",
            get.clone(),
            "/users/nobody".into(),
            None,
            404,
        ),
        (
            "get /rate_limit",
            get.clone(),
            "/rate_limit".into(),
            None,
            200,
        ),
        (
            "get /search/issues",
            get.clone(),
            "/search/issues?q=repo:acme/widgets+is:open".into(),
            None,
            200,
        ),
        (
            "get /search/issues",
            get.clone(),
            "/search/issues?q=repo:acme/widgets+is:pr+is:merged".into(),
            None,
            200,
        ),
        (
            "get /search/code",
            get.clone(),
            "/search/code?q=repo:acme/widgets+Sprocket".into(),
            None,
            200,
        ),
        (
            "get /search/commits",
            get.clone(),
            "/search/commits?q=repo:acme/widgets+module&per_page=5".into(),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}",
            get.clone(),
            r.into(),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}",
            get.clone(),
            "/repos/acme/nope".into(),
            None,
            404,
        ),
        (
            "get /repos/{owner}/{repo}/branches",
            get.clone(),
            format!("{r}/branches"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/branches/{branch}",
            get.clone(),
            format!("{r}/branches/main"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/tags",
            get.clone(),
            format!("{r}/tags"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/pulls/{pull_number}/comments",
            get.clone(),
            format!("{r}/pulls/20/comments"),
            None,
            200,
        ),
        (
            "post /repos/{owner}/{repo}/pulls/{pull_number}/comments",
            Method::POST,
            format!("{r}/pulls/20/comments"),
            Some(json!({"body": "Why 3?", "path": "src/spring.rs", "line": 1, "side": "RIGHT"})),
            201,
        ),
        (
            "post /repos/{owner}/{repo}/pulls/{pull_number}/comments",
            Method::POST,
            format!("{r}/pulls/20/comments"),
            Some(json!({"body": "A reply", "in_reply_to": 1})),
            201,
        ),
        (
            "post /repos/{owner}/{repo}/pulls/{pull_number}/comments",
            Method::POST,
            format!("{r}/pulls/20/comments"),
            Some(json!({"body": "No line"})),
            422,
        ),
        (
            "post /repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies",
            Method::POST,
            format!("{r}/pulls/20/comments/1/replies"),
            Some(json!({"body": "Agreed."})),
            201,
        ),
        (
            "get /repos/{owner}/{repo}/releases",
            get.clone(),
            format!("{r}/releases"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/releases/latest",
            get.clone(),
            format!("{r}/releases/latest"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/releases/tags/{tag}",
            get.clone(),
            format!("{r}/releases/tags/v0.2.0"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/events",
            get.clone(),
            format!("{r}/events"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/actions/workflows",
            get.clone(),
            format!("{r}/actions/workflows"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/actions/runs",
            get.clone(),
            format!("{r}/actions/runs"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/actions/runs/{run_id}",
            get.clone(),
            format!("{r}/actions/runs/4"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/actions/runs/{run_id}/jobs",
            get.clone(),
            format!("{r}/actions/runs/4/jobs"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/actions/jobs/{job_id}",
            get.clone(),
            format!("{r}/actions/jobs/4"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts",
            get.clone(),
            format!("{r}/actions/runs/4/artifacts"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/commits/{ref}/check-runs",
            get.clone(),
            format!("{r}/commits/feature/valve-10/check-runs"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/commits",
            get.clone(),
            format!("{r}/commits?per_page=100"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/commits/{ref}",
            get.clone(),
            format!("{r}/commits/main"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/commits/{ref}",
            get.clone(),
            format!("{r}/commits/v0.1.0"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/contents/{path}",
            get.clone(),
            format!("{r}/contents/README.md"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/contents/{path}",
            get.clone(),
            format!("{r}/contents/src?ref=develop"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/contents/{path}",
            get.clone(),
            format!("{r}/contents/nope.txt"),
            None,
            404,
        ),
        (
            "get /repos/{owner}/{repo}/readme",
            get.clone(),
            format!("{r}/readme"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/labels",
            get.clone(),
            format!("{r}/labels"),
            None,
            200,
        ),
        (
            "post /repos/{owner}/{repo}/labels",
            Method::POST,
            format!("{r}/labels"),
            Some(json!({"name": "triage", "color": "aabbcc"})),
            201,
        ),
        (
            "post /repos/{owner}/{repo}/labels",
            Method::POST,
            format!("{r}/labels"),
            Some(json!({"name": "bug"})),
            422,
        ),
        (
            "get /repos/{owner}/{repo}/labels/{name}",
            get.clone(),
            format!("{r}/labels/good%20first%20issue"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/issues",
            get.clone(),
            format!("{r}/issues?state=all&per_page=100"),
            None,
            200,
        ),
        (
            "post /repos/{owner}/{repo}/issues",
            Method::POST,
            format!("{r}/issues"),
            Some(json!({"title": "t", "labels": ["bug"], "assignees": ["bob"]})),
            201,
        ),
        (
            "post /repos/{owner}/{repo}/issues",
            Method::POST,
            format!("{r}/issues"),
            Some(json!({"body": "no title"})),
            422,
        ),
        (
            "get /repos/{owner}/{repo}/issues/comments",
            get.clone(),
            format!("{r}/issues/comments?per_page=100"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/issues/{issue_number}",
            get.clone(),
            format!("{r}/issues/3"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/issues/{issue_number}",
            get.clone(),
            format!("{r}/issues/5"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/issues/{issue_number}",
            get.clone(),
            format!("{r}/issues/999"),
            None,
            404,
        ),
        (
            "patch /repos/{owner}/{repo}/issues/{issue_number}",
            Method::PATCH,
            format!("{r}/issues/1"),
            Some(json!({"state": "closed", "state_reason": "not_planned"})),
            200,
        ),
        (
            "get /repos/{owner}/{repo}/issues/{issue_number}/comments",
            get.clone(),
            format!("{r}/issues/3/comments"),
            None,
            200,
        ),
        (
            "post /repos/{owner}/{repo}/issues/{issue_number}/comments",
            Method::POST,
            format!("{r}/issues/3/comments"),
            Some(json!({"body": "hi"})),
            201,
        ),
        (
            "get /repos/{owner}/{repo}/issues/{issue_number}/labels",
            get.clone(),
            format!("{r}/issues/3/labels"),
            None,
            200,
        ),
        (
            "post /repos/{owner}/{repo}/issues/{issue_number}/labels",
            Method::POST,
            format!("{r}/issues/3/labels"),
            Some(json!({"labels": ["question"]})),
            200,
        ),
        (
            "get /repos/{owner}/{repo}/pulls",
            get.clone(),
            format!("{r}/pulls?state=all"),
            None,
            200,
        ),
        (
            "post /repos/{owner}/{repo}/pulls",
            Method::POST,
            format!("{r}/pulls"),
            Some(json!({"title": "again", "head": "feature/dial-2", "base": "main"})),
            201,
        ),
        (
            "post /repos/{owner}/{repo}/pulls",
            Method::POST,
            format!("{r}/pulls"),
            Some(json!({"title": "dup", "head": "feature/gasket-8", "base": "main"})),
            422,
        ),
        (
            "get /repos/{owner}/{repo}/pulls/{pull_number}",
            get.clone(),
            format!("{r}/pulls/5"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/pulls/{pull_number}",
            get.clone(),
            format!("{r}/pulls/20"),
            None,
            200,
        ),
        (
            "patch /repos/{owner}/{repo}/pulls/{pull_number}",
            Method::PATCH,
            format!("{r}/pulls/20"),
            Some(json!({"title": "Spring, renamed"})),
            200,
        ),
        (
            "get /repos/{owner}/{repo}/pulls/{pull_number}/files",
            get.clone(),
            format!("{r}/pulls/20/files"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/pulls/{pull_number}/commits",
            get.clone(),
            format!("{r}/pulls/20/commits"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/pulls/{pull_number}/reviews",
            get.clone(),
            format!("{r}/pulls/5/reviews"),
            None,
            200,
        ),
        (
            "post /repos/{owner}/{repo}/pulls/{pull_number}/reviews",
            Method::POST,
            format!("{r}/pulls/20/reviews"),
            Some(json!({"event": "COMMENT", "body": "Looks fine"})),
            200,
        ),
        (
            "put /repos/{owner}/{repo}/pulls/{pull_number}/merge",
            Method::PUT,
            format!("{r}/pulls/40/merge"),
            Some(json!({"merge_method": "rebase"})),
            200,
        ),
        (
            "put /repos/{owner}/{repo}/pulls/{pull_number}/merge",
            Method::PUT,
            format!("{r}/pulls/40/merge"),
            Some(json!({})),
            405,
        ),
        (
            "get /orgs/{org}",
            get.clone(),
            "/orgs/acme".into(),
            None,
            200,
        ),
        (
            "get /user/repos",
            get.clone(),
            "/user/repos".into(),
            None,
            200,
        ),
        (
            "get /users/{username}/repos",
            get.clone(),
            "/users/acme/repos".into(),
            None,
            200,
        ),
        (
            "get /orgs/{org}/repos",
            get.clone(),
            "/orgs/acme/repos".into(),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/compare/{basehead}",
            get.clone(),
            format!("{r}/compare/develop...main"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/git/ref/{ref}",
            get.clone(),
            format!("{r}/git/ref/heads/main"),
            None,
            200,
        ),
        (
            "get /repos/{owner}/{repo}/git/matching-refs/{ref}",
            get.clone(),
            format!("{r}/git/matching-refs/heads/feature"),
            None,
            200,
        ),
        (
            "post /repos/{owner}/{repo}/git/refs",
            Method::POST,
            format!("{r}/git/refs"),
            Some(json!({"ref": "refs/heads/scratch", "sha": main_sha})),
            201,
        ),
        (
            "post /repos/{owner}/{repo}/git/refs",
            Method::POST,
            format!("{r}/git/refs"),
            Some(json!({"ref": "refs/heads/scratch", "sha": main_sha})),
            422,
        ),
        (
            "patch /repos/{owner}/{repo}/git/refs/{ref}",
            Method::PATCH,
            format!("{r}/git/refs/heads/scratch"),
            Some(json!({"sha": main_sha, "force": true})),
            200,
        ),
        (
            "put /repos/{owner}/{repo}/contents/{path}",
            Method::PUT,
            format!("{r}/contents/docs/new.md"),
            Some(json!({"message": "add", "content": "aGVsbG8K", "branch": "scratch"})),
            201,
        ),
        (
            "put /repos/{owner}/{repo}/contents/{path}",
            Method::PUT,
            format!("{r}/contents/docs/new.md"),
            Some(json!({"message": "again", "content": "aGVsbG8K", "branch": "scratch"})),
            422,
        ),
        (
            "delete /repos/{owner}/{repo}/contents/{path}",
            Method::DELETE,
            format!("{r}/contents/docs/new.md"),
            Some(
                json!({"message": "rm", "sha": "ce013625030ba8dba906f756967f9e9ca394464a", "branch": "scratch"}),
            ),
            200,
        ),
    ];
    let mut errs = Vec::new();
    for case in cases {
        errs.extend(check(&f, &v, ops, case).await);
    }
    assert!(
        errs.is_empty(),
        "{} violations:\n{}",
        errs.len(),
        errs.join("\n")
    );
}
