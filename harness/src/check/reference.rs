//! Step references: a step's arguments may use what an earlier step returned, as a model
//! copies a number off one result into its next call. `{steps.N:READER}` is replaced by what
//! READER (any answer reader: `jq:.[0].number`, `first`, `most_frequent`, ...) reads off step
//! N's result. A string that is one reference and nothing else takes the value with its JSON
//! type (a number stays a number); inside a longer string the value is spliced in as text.
//!
//! A model can only copy what it was shown, so each value read must appear, as text, in the
//! result it came from: a reader that computes something new (`jq:length + 1`) fails the
//! attempt instead of doing the model's reasoning for it.

use std::ops::Range;

use serde_json::{Map, Value};

use super::{Reader, to_text};

/// Opens a reference; the matching `}` (braces inside counted, as a jq filter may hold an
/// object) closes it.
const OPEN: &str = "{steps.";

/// One `{steps.N:READER}` as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// 1-based step whose result is read.
    pub step: usize,
    pub reader: Reader,
    /// The reader as written (`jq:.[0].number`).
    pub written: String,
}

/// Every reference in `text` with the byte range it covers.
pub fn find(text: &str) -> Result<Vec<(Range<usize>, Reference)>, String> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(OPEN).map(|i| i + from) {
        let body_start = at + OPEN.len();
        let mut depth = 1;
        let mut end = None;
        for (i, c) in text[body_start..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(body_start + i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let end = end.ok_or_else(|| format!("unclosed reference at {:?}", &text[at..]))?;
        let body = &text[body_start..end];
        let (n, written) = body
            .split_once(':')
            .ok_or_else(|| format!("{{steps.{body}}}: expected {{steps.N:READER}}"))?;
        let step = n
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("{{steps.{body}}}: N must be a step number from 1"))?;
        let reader = written
            .parse::<Reader>()
            .map_err(|e| format!("{{steps.{body}}}: {e}"))?;
        out.push((
            at..end + 1,
            Reference {
                step,
                reader,
                written: written.to_owned(),
            },
        ));
        from = end + 1;
    }
    Ok(out)
}

/// Every reference in the strings of `value` (tool arguments, at any depth).
pub fn in_value(value: &Value) -> Result<Vec<Reference>, String> {
    let mut texts = Vec::new();
    strings(value, &mut texts);
    let mut out = Vec::new();
    for t in texts {
        out.extend(find(t)?.into_iter().map(|(_, r)| r));
    }
    Ok(out)
}

fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// Tool arguments with their references replaced by what they read off `results` (the
/// results of the steps run so far, in order); `Err` says which reference could not be read
/// or read a value its result does not show.
pub fn resolve_args(
    args: &Map<String, Value>,
    results: &[&str],
) -> Result<Map<String, Value>, String> {
    let mut resolved = Map::new();
    for (k, v) in args {
        resolved.insert(k.clone(), resolve_value(v, results)?);
    }
    Ok(resolved)
}

fn resolve_value(v: &Value, results: &[&str]) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => {
            let refs = find(s)?;
            match refs.as_slice() {
                [(range, r)] if *range == (0..s.len()) => match read(r, results)? {
                    // A model copying an id off a text result writes it as a number.
                    Value::String(t) => t.parse::<i64>().map_or(Value::String(t), Value::from),
                    v => v,
                },
                _ => Value::String(splice(s, results)?),
            }
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| resolve_value(x, results))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| Ok((k.clone(), resolve_value(x, results)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// `text` with each reference replaced by its value: a string or number as text, a list or
/// an object as compact JSON (so a list read off one result can be used in a jq filter).
pub fn splice(text: &str, results: &[&str]) -> Result<String, String> {
    let mut out = String::new();
    let mut last = 0;
    for (range, r) in find(text)? {
        out.push_str(&text[last..range.start]);
        match read(&r, results)? {
            v @ (Value::Array(_) | Value::Object(_)) => out.push_str(&v.to_string()),
            v => out.push_str(&to_text(&v)),
        }
        last = range.end;
    }
    out.push_str(&text[last..]);
    Ok(out)
}

/// The value `r` reads, checked against the result it was read from.
fn read(r: &Reference, results: &[&str]) -> Result<Value, String> {
    let shown = format!("{{steps.{}:{}}}", r.step, r.written);
    let result = results
        .get(r.step - 1)
        .ok_or_else(|| format!("{shown}: step {} has not run before this one", r.step))?;
    let value = r.reader.read(result).map_err(|e| format!("{shown}: {e}"))?;
    // A reading of one item (one column of a one-line result) is that item.
    let value = match value {
        Value::Array(mut items) if items.len() == 1 => items.remove(0),
        v => v,
    };
    let mut scalars = Vec::new();
    flatten(&value, &mut scalars);
    if scalars.is_empty() {
        return Err(format!("{shown} read nothing off step {}", r.step));
    }
    for s in scalars {
        let text = to_text(s);
        if text.is_empty() || !result.contains(&text) {
            return Err(format!(
                "{shown} read {text:?}, which step {}'s result does not show",
                r.step
            ));
        }
    }
    Ok(value)
}

fn flatten<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| flatten(x, out)),
        other => out.push(other),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(args: Value, results: &[&str], expected: Result<Value, &str>) {
        let got = resolve_args(args.as_object().unwrap(), results);
        match (got, expected) {
            (Ok(args), Ok(want)) => assert_eq!(Value::Object(args), want),
            (Err(e), Err(fragment)) => assert!(e.contains(fragment), "{e}"),
            (got, want) => panic!("got {got:?}, expected {want:?}"),
        }
    }

    #[test]
    fn references_read_earlier_results() {
        let list = r#"[{"number":50,"author":"bob"},{"number":45,"author":"al"}]"#;
        check(
            json!({"number": "{steps.1:jq:.[1].number}"}),
            &[list],
            Ok(json!({"number": 45})),
        );
        check(
            json!({"q": "author:{steps.1:jq:.[0].author} is:open", "n": 3}),
            &[list],
            Ok(json!({"q": "author:bob is:open", "n": 3})),
        );
        check(
            json!({"labels": ["{steps.2:first}"]}),
            &["x", "bug\ndocs\n"],
            Ok(json!({"labels": ["bug"]})),
        );
        // An id read off text is a number; one column of one line is that item.
        check(
            json!({"run_id": "{steps.1:column:6}"}),
            &["completed\tfailure\tCI\tfeature/valve-10\tpull_request\t4\n"],
            Ok(json!({"run_id": 4})),
        );
        // A filter with an object inside the braces.
        check(
            json!({"n": "{steps.1:jq:[.[] | {n: .number}][0].n}"}),
            &[list],
            Ok(json!({"n": 50})),
        );
        let shell = splice("gh pr view {steps.1:first}", &["7\n8\n"]);
        assert_eq!(shell.as_deref(), Ok("gh pr view 7"));
        // A list spliced into text is JSON, ready for a jq filter.
        let jq = splice("index({steps.1:lines})", &["a\nb\n"]);
        assert_eq!(jq.as_deref(), Ok(r#"index(["a","b"])"#));
    }

    #[test]
    fn a_value_the_result_does_not_show_fails() {
        let list = r#"[{"number":50},{"number":45}]"#;
        check(
            json!({"n": "{steps.1:jq:.[0].number + 1}"}),
            &[list],
            Err("does not show"),
        );
        check(
            json!({"n": "{steps.1:jq:length}"}),
            &[r#"[{"number":5}]"#],
            Err("does not show"),
        );
        check(
            json!({"n": "{steps.1:jq:.[5].number}"}),
            &[list],
            Err("does not show"),
        );
        check(json!({"n": "{steps.2:first}"}), &[list], Err("has not run"));
        check(
            json!({"n": "{steps.1:jq:[]}"}),
            &[list],
            Err("read nothing"),
        );
    }

    #[test]
    fn malformed_references_are_refused() {
        for bad in [
            "{steps.1 first}",
            "{steps.0:first}",
            "{steps.x:first}",
            "{steps.1:bogus}",
            "{steps.1:jq:{a: 1}",
        ] {
            assert!(find(bad).is_err(), "{bad}");
        }
        assert!(find("{clone} and {forge_url}").unwrap().is_empty());
    }
}
