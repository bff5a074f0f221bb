//! gh's `--json` and `--jq` output: issue and pull request fields in the shapes gh 2.23 exports
//! (built from GitHub's REST records), encoded as Go's `encoding/json` writes them, and `--jq`
//! results printed as gh prints them (strings raw, whole numbers without a fraction).

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// `--json` fields of `gh issue list` that gitgate serves (gh 2.23 also has `projectCards`
/// and `reactionGroups`; `comments` only in `gh issue view` here).
pub(super) const ISSUE_LIST_FIELDS: &[&str] = &[
    "assignees",
    "author",
    "body",
    "closed",
    "closedAt",
    "createdAt",
    "id",
    "labels",
    "milestone",
    "number",
    "state",
    "title",
    "updatedAt",
    "url",
];

/// `--json` fields of `gh issue view`.
pub(super) const ISSUE_VIEW_FIELDS: &[&str] = &[
    "assignees",
    "author",
    "body",
    "closed",
    "closedAt",
    "comments",
    "createdAt",
    "id",
    "labels",
    "milestone",
    "number",
    "state",
    "title",
    "updatedAt",
    "url",
];

/// `--json` fields of `gh pr list`.
pub(super) const PR_LIST_FIELDS: &[&str] = &[
    "additions",
    "assignees",
    "author",
    "baseRefName",
    "body",
    "changedFiles",
    "closed",
    "closedAt",
    "createdAt",
    "deletions",
    "headRefName",
    "headRefOid",
    "id",
    "isCrossRepository",
    "isDraft",
    "labels",
    "maintainerCanModify",
    "mergedAt",
    "milestone",
    "number",
    "state",
    "title",
    "updatedAt",
    "url",
];

/// `--json` fields of `gh pr view`.
pub(super) const PR_VIEW_FIELDS: &[&str] = &[
    "additions",
    "assignees",
    "author",
    "baseRefName",
    "body",
    "changedFiles",
    "closed",
    "closedAt",
    "commits",
    "createdAt",
    "deletions",
    "files",
    "headRefName",
    "headRefOid",
    "id",
    "isCrossRepository",
    "isDraft",
    "labels",
    "maintainerCanModify",
    "mergeCommit",
    "mergeable",
    "mergedAt",
    "mergedBy",
    "milestone",
    "number",
    "reviews",
    "state",
    "title",
    "updatedAt",
    "url",
];

/// gh's export of `--json` fields: which, and the `--jq` filter if any.
#[derive(Debug, Clone, Default)]
pub(super) struct Export {
    pub fields: Vec<String>,
    pub jq: Option<String>,
}

impl Export {
    /// Reads `--json` and `--jq` as gh does: `--jq` needs `--json`; every field must be one of
    /// `offered` (gh's own error text, then what gitgate serves).
    pub(super) fn new(
        json: Option<&str>,
        jq: Option<&str>,
        offered: &[&str],
    ) -> Result<Option<Self>, String> {
        let Some(json) = json else {
            return match jq {
                Some(_) => Err("cannot use `--jq` without specifying `--json`".into()),
                None => Ok(None),
            };
        };
        let mut fields = Vec::new();
        for field in json.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            if !offered.contains(&field) {
                return Err(format!(
                    "Unknown JSON field: {field:?}\nAvailable fields:\n  {}",
                    offered.join("\n  ")
                ));
            }
            fields.push(field.to_owned());
        }
        if fields.is_empty() {
            return Err(format!(
                "Specify one or more comma-separated fields for `--json`:\n  {}",
                offered.join("\n  ")
            ));
        }
        Ok(Some(Self {
            fields,
            jq: jq.map(str::to_owned),
        }))
    }

    /// Whether any of `fields` was asked for.
    pub(super) fn wants(&self, fields: &[&str]) -> bool {
        self.fields.iter().any(|f| fields.contains(&f.as_str()))
    }
}

/// What the fields of one answer are built from besides the record itself.
#[derive(Debug, Default)]
pub(super) struct Extra {
    /// REST user records by login (for display names).
    pub users: BTreeMap<String, Value>,
    /// The issue's comments (REST), for `comments`.
    pub comments: Vec<Value>,
    /// The login of the user the calls run as, for `viewerDidAuthor`.
    pub viewer: String,
    /// A pull request's commits (REST), for `commits`.
    pub commits: Vec<Value>,
    /// A pull request's files (REST), for `files`.
    pub files: Vec<Value>,
    /// A pull request's reviews (REST), for `reviews`.
    pub reviews: Vec<Value>,
}

/// Logins whose display names the fields of `records` need.
pub(super) fn logins_needed(export: &Export, records: &[Value]) -> Vec<String> {
    let mut logins = Vec::new();
    for v in records {
        if export.wants(&["author"]) {
            logins.push(login(&v["user"]));
        }
        if export.wants(&["mergedBy"]) && !v["merged_by"].is_null() {
            logins.push(login(&v["merged_by"]));
        }
        if export.wants(&["assignees"]) {
            for a in v["assignees"].as_array().into_iter().flatten() {
                logins.push(login(a));
            }
        }
    }
    logins
}

fn login(user: &Value) -> String {
    user["login"].as_str().unwrap_or("").to_owned()
}

fn name_of(extra: &Extra, user: &Value) -> Value {
    let name = extra
        .users
        .get(&login(user))
        .and_then(|u| u["name"].as_str())
        .unwrap_or("");
    json!(name)
}

/// One exported object of an issue or pull request (REST record `v`).
pub(super) fn object(export: &Export, v: &Value, extra: &Extra) -> Value {
    let mut out = serde_json::Map::new();
    for field in &export.fields {
        out.insert(field.clone(), field_value(field, v, extra));
    }
    Value::Object(out)
}

fn field_value(field: &str, v: &Value, extra: &Extra) -> Value {
    let is_pr = v.get("head").is_some();
    match field {
        "assignees" => Value::Array(
            v["assignees"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| json!({"id": a["node_id"], "login": a["login"], "name": name_of(extra, a)}))
                .collect(),
        ),
        "author" => {
            let u = &v["user"];
            json!({"id": u["node_id"], "is_bot": u["type"] == "Bot", "login": u["login"], "name": name_of(extra, u)})
        }
        "body" => json!(v["body"].as_str().unwrap_or("")),
        "closed" => json!(v["state"] == "closed"),
        "closedAt" => v["closed_at"].clone(),
        "comments" => Value::Array(extra.comments.iter().map(|c| comment(c, extra)).collect()),
        "createdAt" => v["created_at"].clone(),
        "id" => v["node_id"].clone(),
        "labels" => Value::Array(
            v["labels"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| json!({"id": l["node_id"], "name": l["name"], "description": l["description"].as_str().unwrap_or(""), "color": l["color"]}))
                .collect(),
        ),
        "milestone" => match &v["milestone"] {
            Value::Null => Value::Null,
            m => {
                json!({"number": m["number"], "title": m["title"], "description": m["description"].as_str().unwrap_or(""), "dueOn": m["due_on"]})
            }
        },
        "number" => v["number"].clone(),
        "state" => json!(state(v, is_pr)),
        "title" => v["title"].clone(),
        "updatedAt" => v["updated_at"].clone(),
        "url" => v["html_url"].clone(),
        "baseRefName" => v["base"]["ref"].clone(),
        "headRefName" => v["head"]["ref"].clone(),
        "headRefOid" => v["head"]["sha"].clone(),
        "isCrossRepository" => json!(cross_repository(v)),
        "isDraft" => json!(v["draft"].as_bool().unwrap_or(false)),
        "maintainerCanModify" => json!(v["maintainer_can_modify"].as_bool().unwrap_or(false)),
        "mergedAt" => v["merged_at"].clone(),
        "additions" | "deletions" => json!(v[field].as_u64().unwrap_or(0)),
        "changedFiles" => json!(v["changed_files"].as_u64().unwrap_or(0)),
        "commits" => Value::Array(extra.commits.iter().map(commit).collect()),
        "files" => Value::Array(
            extra
                .files
                .iter()
                .map(|f| json!({"path": f["filename"], "additions": f["additions"], "deletions": f["deletions"]}))
                .collect(),
        ),
        "reviews" => Value::Array(extra.reviews.iter().map(review).collect()),
        "mergedBy" => match &v["merged_by"] {
            Value::Null => Value::Null,
            u => {
                json!({"id": u["node_id"], "is_bot": u["type"] == "Bot", "login": u["login"], "name": name_of(extra, u)})
            }
        },
        "mergeCommit" => match (&v["merged_at"], &v["merge_commit_sha"]) {
            (Value::Null, _) | (_, Value::Null) => Value::Null,
            (_, sha) => json!({"oid": sha}),
        },
        "mergeable" => json!(match v["mergeable"] {
            Value::Bool(true) => "MERGEABLE",
            Value::Bool(false) => "CONFLICTING",
            _ => "UNKNOWN",
        }),
        _ => Value::Null,
    }
}

/// A pull request's commit as gh exports it: its authors linked to accounts where GitHub knows
/// them, the message split into headline and body.
fn commit(c: &Value) -> Value {
    let message = c["commit"]["message"].as_str().unwrap_or("");
    let headline = message.lines().next().unwrap_or("");
    let body = message.split_once("\n\n").map_or("", |(_, b)| b).trim_end();
    let author = &c["commit"]["author"];
    json!({
        "authoredDate": author["date"],
        "authors": [{
            "email": author["email"],
            "id": c["author"]["node_id"].as_str().unwrap_or(""),
            "login": c["author"]["login"].as_str().unwrap_or(""),
            "name": author["name"],
        }],
        "committedDate": c["commit"]["committer"]["date"],
        "messageBody": body,
        "messageHeadline": headline,
        "oid": c["sha"],
    })
}

/// A review as gh exports it (gh's struct order, kept by [`encode`]).
fn review(r: &Value) -> Value {
    json!({
        "id": r["node_id"],
        "author": {"login": r["user"]["login"]},
        "authorAssociation": r["author_association"],
        "body": r["body"].as_str().unwrap_or(""),
        "submittedAt": r["submitted_at"],
        "includesCreatedEdit": false,
        "reactionGroups": [],
        "state": r["state"],
        "commit": {"oid": r["commit_id"]},
    })
}

/// gh's state: OPEN or CLOSED, MERGED for a merged pull request.
pub(super) fn state(v: &Value, is_pr: bool) -> &'static str {
    if is_pr && !v["merged_at"].is_null() {
        "MERGED"
    } else if v["state"] == "closed" {
        "CLOSED"
    } else {
        "OPEN"
    }
}

/// Whether a pull request's head lives in another repository than its base.
pub(super) fn cross_repository(v: &Value) -> bool {
    let head = &v["head"]["repo"]["full_name"];
    !head.is_null() && head != &v["base"]["repo"]["full_name"]
}

/// A comment as gh exports it (gh's struct order, kept by [`encode`]).
fn comment(c: &Value, extra: &Extra) -> Value {
    json!({
        "id": c["node_id"],
        "author": {"login": c["user"]["login"]},
        "authorAssociation": c["author_association"],
        "body": c["body"].as_str().unwrap_or(""),
        "createdAt": c["created_at"],
        "includesCreatedEdit": false,
        "isMinimized": false,
        "minimizedReason": "",
        "reactionGroups": [],
        "url": c["html_url"],
        "viewerDidAuthor": login(&c["user"]) == extra.viewer,
    })
}

/// gh exports comments, labels and milestones as Go structs, so their keys come in declaration
/// order, not sorted as a map's; each is known by a key only it has.
const STRUCT_ORDERS: &[(&str, &[&str])] = &[
    ("submittedAt", REVIEW_ORDER),
    ("includesCreatedEdit", COMMENT_ORDER),
    ("color", &["id", "name", "description", "color"]),
    ("dueOn", &["number", "title", "description", "dueOn"]),
    ("path", &["path", "additions", "deletions"]),
];

const REVIEW_ORDER: &[&str] = &[
    "id",
    "author",
    "authorAssociation",
    "body",
    "submittedAt",
    "includesCreatedEdit",
    "reactionGroups",
    "state",
    "commit",
];

const COMMENT_ORDER: &[&str] = &[
    "id",
    "author",
    "authorAssociation",
    "body",
    "createdAt",
    "includesCreatedEdit",
    "isMinimized",
    "minimizedReason",
    "reactionGroups",
    "url",
    "viewerDidAuthor",
];

/// Which of gh's two JSON writers: its `--json` export (structs in declaration order, HTML
/// characters as they are) or json.Marshal of a `--jq` result (gojq's values are maps, so all
/// keys sorted; `<`, `>`, `&` escaped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    Export,
    Marshal,
    /// The `--json` export of `gh search`, whose records are maps: keys sorted, HTML as is.
    SearchExport,
}

/// `value` as Go's encoder writes it in `style`: compact; U+2028 and U+2029 always escaped;
/// other control characters as `\u00XX` except `\n`, `\r`, `\t`; whole numbers without a
/// fraction.
pub(super) fn encode(out: &mut String, value: &Value, style: Style) {
    let escape_html = style == Style::Marshal;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) => string(out, s, escape_html),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                encode(out, item, style);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            let order = STRUCT_ORDERS.iter().find(|(k, _)| map.contains_key(*k));
            if let Some((_, order)) = order.filter(|_| style == Style::Export) {
                let rank = |k: &str| order.iter().position(|o| *o == k);
                keys.sort_by_key(|k| rank(k));
            }
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(out, key, escape_html);
                out.push(':');
                encode(out, &map[key], style);
            }
            out.push('}');
        }
    }
}

/// A number as Go writes a float64 holding it (integers as integers).
fn number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    let abs = f.abs();
    // Go's encoder: 'f' format within [1e-6, 1e21), else exponent form with a 2-digit minimum.
    if abs == 0.0 || (1e-6..1e21).contains(&abs) {
        format!("{f}")
    } else {
        let e = format!("{f:e}");
        match e.split_once('e') {
            Some((m, x)) => {
                let (sign, digits) = x.strip_prefix('-').map_or(("+", x), |d| ("-", d));
                format!("{m}e{sign}{digits:0>2}")
            }
            None => e,
        }
    }
}

fn string(out: &mut String, s: &str, escape_html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if escape_html => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// One `--jq` result as gh prints it: strings raw, whole numbers without a fraction, other
/// numbers with two decimals, null as an empty line, arrays and objects as json.Marshal.
pub(super) fn jq_line(out: &mut String, value: &Value) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Null => {}
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if n.is_i64() || n.is_u64() => out.push_str(&n.to_string()),
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(0.0);
            if f.trunc() == f {
                out.push_str(&format!("{f:.0}"));
            } else {
                out.push_str(&format!("{f:.2}"));
            }
        }
        other => encode(out, other, Style::Marshal),
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn check(value: Value, style: Style, expected: &str) {
        let mut out = String::new();
        encode(&mut out, &value, style);
        assert_eq!(out, expected);
    }

    #[test]
    fn encodes_as_go_does() {
        check(
            json!({"b": 1, "a": "<&>"}),
            Style::Export,
            r#"{"a":"<&>","b":1}"#,
        );
        check(
            json!({"a": "<&>\u{2028}\u{8}"}),
            Style::Marshal,
            r#"{"a":"\u003c\u0026\u003e\u2028\u0008"}"#,
        );
        check(
            json!([1.5, 1e20, 1e21]),
            Style::Export,
            "[1.5,100000000000000000000,1e+21]",
        );
        let label = json!({"name": "bug", "id": "L", "color": "f", "description": ""});
        check(
            label.clone(),
            Style::Export,
            r#"{"id":"L","name":"bug","description":"","color":"f"}"#,
        );
        check(
            label,
            Style::Marshal,
            r#"{"color":"f","description":"","id":"L","name":"bug"}"#,
        );
    }

    #[test]
    fn jq_results_print_as_gh_prints_them() {
        let mut out = String::new();
        for v in [
            json!("a\tb"),
            json!(1.5),
            json!(2.0),
            Value::Null,
            json!(true),
            json!([1, "x"]),
        ] {
            jq_line(&mut out, &v);
        }
        assert_eq!(out, "a\tb\n1.50\n2\n\ntrue\n[1,\"x\"]\n");
    }

    #[test]
    fn unknown_fields_are_refused_with_gh_text() {
        let e = Export::new(Some("nosuch"), None, &["number"]).unwrap_err();
        assert_eq!(
            e,
            "Unknown JSON field: \"nosuch\"\nAvailable fields:\n  number"
        );
        let e = Export::new(None, Some("."), &["number"]).unwrap_err();
        assert_eq!(e, "cannot use `--jq` without specifying `--json`");
    }
}
