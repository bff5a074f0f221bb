//! Check paths: where in a JSON value a check looks. A path is a jq filter, run by jaq (the jq
//! language as jq documents it) and it must give exactly one value, which the expectation then
//! judges: `[.labels[].name]` collects the names into a list, `.labels | length` counts them.
//!
//! Task files written before jq keep their meaning exactly: a path in the older form (`.a.b`,
//! `[N]`, `[]` for every element, then optionally `| length`; field names of letters, digits,
//! `_` and `-`) is translated into jq when the task is loaded. Where it iterates, the older form
//! gave the list of what each element yields and `| length` counted those, so `.labels[].name`
//! runs as `[first(.["labels"]?, null) | .[]? | first(.["name"]?, null)]`; the `first(...?,
//! null)` keeps the older leniency (a field of null or of a string is null, where jaq reports
//! an error), and `[]?` gives nothing for what is not a list or an object.
//!
//! Task files are trusted data, but a check has no business with the process: jaq's functions
//! that read the environment, the clock or further input, or that end the process or write to
//! its log, are not loaded.

use std::fmt;

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, RcIter};
use jaq_json::Val;
use serde_json::Value;

/// jaq natives left out (see the module docs): `env`, `halt`, `halt_error`, `inputs` (and so
/// `input`), `debug`, `stderr`, `now`, `localtime`, `strflocaltime`.
const REFUSED_NATIVE: &[&str] = &[
    "env",
    "halt",
    "halt_error",
    "inputs",
    "debug",
    "stderr",
    "now",
    "localtime",
    "strflocaltime",
];

/// Standard-library definitions (written in jq) that only wrap a refused native.
const REFUSED_DEFS: &[&str] = &["debug", "halt_error", "input"];

/// A check path: the text as written and the jq filter it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckPath {
    written: String,
    filter: String,
}

impl Default for CheckPath {
    /// `.`: the whole value.
    fn default() -> Self {
        Self {
            written: ".".into(),
            filter: ".".into(),
        }
    }
}

impl fmt::Display for CheckPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

impl CheckPath {
    /// Reads a path (older form translated) and compiles it once, so a task with a filter
    /// that does not parse, or calls an unknown function, fails to load.
    pub fn parse(text: &str) -> Result<Self, String> {
        let filter = legacy(text).unwrap_or_else(|| text.trim().to_owned());
        compile(&filter).map_err(|e| format!("path {text:?}: {e}"))?;
        Ok(Self {
            written: text.to_owned(),
            filter,
        })
    }

    /// The jq filter that runs.
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// The filter's one value on `input`; `Err` says why there is not exactly one.
    pub fn eval(&self, input: &Value) -> Result<Value, String> {
        let mut values = run(&self.filter, input)?;
        match values.len() {
            1 => Ok(values.remove(0)),
            0 => Err(format!("path {:?} gives no value", self.written)),
            n => Err(format!(
                "path {:?} gives {n} values; collect them into one list with [ ... ]",
                self.written
            )),
        }
    }
}

type Filter = jaq_core::Filter<jaq_core::Native<Val>>;

fn compile(code: &str) -> Result<Filter, String> {
    let defs = jaq_std::defs()
        .chain(jaq_json::defs())
        .filter(|d| !REFUSED_DEFS.contains(&d.name));
    let arena = Arena::default();
    let modules = Loader::new(defs)
        .load(&arena, File { code, path: () })
        .map_err(|errs| format!("not a jq filter: {}", describe_load_errors(&errs)))?;
    let funs = jaq_std::funs()
        .chain(jaq_json::funs())
        .filter(|(name, _, _)| !REFUSED_NATIVE.contains(name));
    Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errs| {
            let names: Vec<&str> = errs
                .iter()
                .flat_map(|(_, es)| es.iter().map(|(name, _)| *name))
                .collect();
            format!("undefined in jq here: {}", names.join(", "))
        })
}

/// Where the filter stops parsing, in a few words.
fn describe_load_errors(errs: &jaq_core::load::Errors<&str, ()>) -> String {
    use jaq_core::load::Error as E;
    let snippet = |at: &str| {
        let end = at.char_indices().nth(20).map_or(at.len(), |(i, _)| i);
        if at.is_empty() {
            "the end".to_owned()
        } else {
            format!("`{}`", &at[..end])
        }
    };
    let mut parts = Vec::new();
    for (_, e) in errs {
        match e {
            E::Io(list) => parts.extend(list.iter().map(|(_, m)| m.clone())),
            E::Lex(list) => parts
                .extend(list.iter().map(|(expect, at)| {
                    format!("expected {} at {}", expect.as_str(), snippet(at))
                })),
            E::Parse(list) => parts
                .extend(list.iter().map(|(expect, at)| {
                    format!("expected {} at {}", expect.as_str(), snippet(at))
                })),
        }
    }
    parts.truncate(3);
    parts.join("; ")
}

/// Every value `code` gives on `input`, or the first error.
fn run(code: &str, input: &Value) -> Result<Vec<Value>, String> {
    let filter = compile(code)?;
    let inputs = RcIter::new(core::iter::empty());
    filter
        .run((Ctx::new([], &inputs), Val::from(input.clone())))
        .map(|v| v.map(Value::from).map_err(|e| format!("jq error: {e}")))
        .collect()
}

/// One element of an older-form path.
enum Legacy<'a> {
    Field(&'a str),
    Index(usize),
    Each,
}

/// The jq filter with the meaning an older-form path had, or `None` when `path` is not in the
/// older form (then it is jq as written).
fn legacy(path: &str) -> Option<String> {
    let (body, length) = match path.split_once('|') {
        Some((b, tail)) if tail.trim() == "length" => (b.trim(), true),
        Some(_) => return None,
        None => (path.trim(), false),
    };
    let segments = legacy_segments(body)?;
    // Each element a stage giving what the older evaluator gave: a missing field or index, or
    // one asked of the wrong type, is null; `[]` of what is not a list or object gives nothing.
    let stages: Vec<String> = segments
        .iter()
        .map(|s| match s {
            Legacy::Field(f) => format!("first(.[{}]?, null)", Value::from(*f)),
            Legacy::Index(i) => format!("first(.[{i}]?, null)"),
            Legacy::Each => ".[]?".to_owned(),
        })
        .collect();
    let iterates = segments.iter().any(|s| matches!(s, Legacy::Each));
    let mut jq = if stages.is_empty() {
        ".".to_owned()
    } else {
        stages.join(" | ")
    };
    if iterates {
        jq = format!("[{jq}]");
    }
    if length && iterates {
        jq.push_str(" | length");
    } else if length {
        // The older length: of a list, object or string; 0 for anything else.
        jq.push_str(r#" | if type == "number" or type == "boolean" then 0 else length end"#);
    }
    Some(jq)
}

/// `.a.b[0].c`, `.items[].name`: the older grammar (field names of letters, digits, `_` and
/// `-`; `[N]`; `[]`), or `None`.
fn legacy_segments(body: &str) -> Option<Vec<Legacy<'_>>> {
    let mut rest = body.strip_prefix('.')?;
    let mut segments = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            rest = r;
        } else if let Some(r) = rest.strip_prefix('[') {
            let (inner, after) = r.split_once(']')?;
            segments.push(if inner.is_empty() {
                Legacy::Each
            } else {
                Legacy::Index(inner.parse().ok()?)
            });
            rest = after;
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            let name = &rest[..end];
            let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
            if name.is_empty() || !name.chars().all(plain) {
                return None;
            }
            segments.push(Legacy::Field(name));
            rest = &rest[end..];
        }
    }
    Some(segments)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn issue() -> Value {
        json!({"title": "t", "labels": [{"name": "bug"}, {"name": "docs"}],
               "user": {"login": "alice"}, "items": [], "merged": false, "state-reason": "done"})
    }

    fn path(p: &str, v: &Value) -> Value {
        CheckPath::parse(p).unwrap().eval(v).unwrap()
    }

    #[test]
    fn older_paths_keep_their_meaning() {
        let issue = issue();
        let cases = [
            (".", issue.clone()),
            (".title", json!("t")),
            (".user.login", json!("alice")),
            (".labels[1].name", json!("docs")),
            (".labels[].name", json!(["bug", "docs"])),
            (".labels | length", json!(2)),
            (".labels[] | length", json!(2)),
            (".items | length", json!(0)),
            (".items[].name", json!([])),
            (".merged", json!(false)),
            (".state-reason", json!("done")),
            // The older evaluator's leniency: null for a missing or mistyped step, nothing
            // from `[]` of a non-list, 0 for the length of a number.
            (".missing.deeper", Value::Null),
            (".title.x", Value::Null),
            (".labels.name", Value::Null),
            (".user[0]", Value::Null),
            (".title[].x", json!([])),
            (".missing[] | length", json!(0)),
            (".labels[0].name | length", json!(3)),
            (".merged | length", json!(0)),
        ];
        for (written, expected) in cases {
            let p = CheckPath::parse(written).unwrap();
            assert_eq!(p.eval(&issue), Ok(expected), "{written} as {}", p.filter());
        }
        assert_eq!(
            CheckPath::parse(".labels[].name").unwrap().filter(),
            r#"[first(.["labels"]?, null) | .[]? | first(.["name"]?, null)]"#
        );
        assert_eq!(path(".[0]", &json!([5, 6])), json!(5));
        assert_eq!(path(".[].body", &json!([{"body": "a"}])), json!(["a"]));
        assert_eq!(path(". | length", &json!([1, 2])), json!(2));
        assert_eq!(path(".[] | length", &json!({"a": 1, "b": 2})), json!(2));
    }

    #[test]
    fn any_jq_filter_giving_one_value() {
        let issue = issue();
        assert_eq!(
            path("[.labels[] | select(.name != \"bug\") | .name]", &issue),
            json!(["docs"])
        );
        assert_eq!(
            path(".labels | map(.name) | sort | first", &issue),
            json!("bug")
        );
        assert_eq!(
            path("any(.labels[]; .name == \"docs\")", &issue),
            json!(true)
        );
        assert_eq!(path(".user | keys", &issue), json!(["login"]));
        // Several values, or none, are not one answer: the message says what to do.
        let several = CheckPath::parse(".labels[] | .name").unwrap().eval(&issue);
        assert!(several.unwrap_err().contains("gives 2 values"));
        let none = CheckPath::parse("empty").unwrap().eval(&issue);
        assert!(none.unwrap_err().contains("no value"));
        // Outside the older form, a type error is an error (jaq's, stricter than jq for null).
        let err = CheckPath::parse(".title | .x")
            .unwrap()
            .eval(&issue)
            .unwrap_err();
        assert!(err.starts_with("jq error"), "{err}");
    }

    #[test]
    fn bad_filters_and_process_functions_fail_to_load() {
        for bad in ["title", ".a | keys(", ".a[x", "nosuchfunction"] {
            assert!(CheckPath::parse(bad).is_err(), "{bad}");
        }
        for refused in [
            "env",
            "$ENV",
            "halt",
            "halt_error",
            "input",
            "inputs",
            "now",
            "debug",
        ] {
            let e = CheckPath::parse(refused).unwrap_err();
            assert!(
                e.contains("undefined") || e.contains("not a jq"),
                "{refused}: {e}"
            );
        }
    }
}
