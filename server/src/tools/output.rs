//! Turns a backend [`Output`] into an MCP result: compact text by default, or with `json: [fields]`
//! only those fields, as JSON text and as `structuredContent`.

use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::{Map, Value, json};

use super::ToolError;
use crate::output::Output;

/// Renders `output`; `fields` is the caller's `json` argument.
pub fn render(output: &Output, fields: Option<&[String]>) -> Result<CallToolResult, ToolError> {
    let Some(fields) = fields else {
        return Ok(CallToolResult::success(vec![ContentBlock::text(
            output.text.clone(),
        )]));
    };
    let all = every_field(output, fields);
    let fields = all.as_deref().unwrap_or(fields);
    if output.fields.is_empty() {
        return Err(ToolError::new(
            "this tool answers in text only; call it without json",
        ));
    }
    // As gh answers `--json` without fields: with the ones there are.
    if fields.is_empty() {
        return Err(ToolError::new(format!(
            "json takes field names, comma-separated: {}",
            output.fields.join(",")
        )));
    }
    if let Some(unknown) = fields.iter().find(|f| !output.fields.contains(&f.as_str())) {
        return Err(ToolError::new(format!(
            "unknown json field '{unknown}'; available: {}",
            output.fields.join(", ")
        )));
    }
    let projected = match &output.data {
        Value::Array(items) => Value::Array(items.iter().map(|i| project(i, fields)).collect()),
        other => project(other, fields),
    };
    let mut text = projected.to_string();
    if let Some(more) = &output.more {
        text.push('\n');
        text.push_str(more);
    }
    // structuredContent must be an object; lists go under "items".
    let mut structured = match &projected {
        Value::Object(map) => map.clone(),
        other => {
            let mut map = Map::new();
            map.insert("items".into(), other.clone());
            map
        }
    };
    if let Some(more) = &output.more {
        structured.insert("more".into(), json!(more));
    }
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(Value::Object(structured));
    Ok(result)
}

/// The output's JSON, projected onto `fields` when given (unknown fields are left out).
pub(crate) fn projected(output: &Output, fields: Option<&[String]>) -> Value {
    match fields {
        None => output.data.clone(),
        Some(fields) => {
            let all = every_field(output, fields);
            let fields = all.as_deref().unwrap_or(fields);
            match &output.data {
                Value::Array(items) => {
                    Value::Array(items.iter().map(|i| project(i, fields)).collect())
                }
                other => project(other, fields),
            }
        }
    }
}

/// `json: true` (or `"*"`): every field the tool has, for an agent that wants the records
/// whole, or to see the field names, in one call.
pub(crate) const ALL: &str = "*";

/// The tool's own field list when `fields` asks for all of them.
fn every_field(output: &Output, fields: &[String]) -> Option<Vec<String>> {
    (fields == [ALL]).then(|| output.fields.iter().map(|f| (*f).to_owned()).collect())
}

/// Keeps only `fields` of an object, in the order asked; other values pass through.
fn project(value: &Value, fields: &[String]) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            fields
                .iter()
                .filter_map(|f| map.get(f).map(|v| (f.clone(), v.clone())))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(data: Value, more: Option<&str>) -> Output {
        Output {
            text: "t".into(),
            data,
            fields: &["a", "b", "c"],
            more: more.map(str::to_owned),
        }
    }

    fn check(data: Value, fields: &[&str], more: Option<&str>, expected_text: &str) {
        let fields: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
        let result = render(&output(data, more), Some(&fields)).expect("renders");
        let text = match &result.content[0] {
            ContentBlock::Text(t) => t.text.clone(),
            other => panic!("not text: {other:?}"),
        };
        // Compare as JSON values: key order follows serde_json's map, not the request.
        let (json_part, more_part) = text.split_once('\n').unwrap_or((&text, ""));
        let (want_json, want_more) = expected_text
            .split_once('\n')
            .unwrap_or((expected_text, ""));
        let parse = |s: &str| serde_json::from_str::<Value>(s).expect("json");
        assert_eq!(parse(json_part), parse(want_json));
        assert_eq!(more_part, want_more);
        assert!(result.structured_content.expect("structured").is_object());
    }

    #[test]
    fn projection() {
        check(
            json!([{"a":1,"b":2,"c":3}]),
            &["c", "a"],
            None,
            r#"[{"c":3,"a":1}]"#,
        );
        check(json!({"a":1,"b":2}), &["b"], None, r#"{"b":2}"#);
        check(
            json!([{"a":1}]),
            &["a"],
            Some("... 3 more"),
            "[{\"a\":1}]\n... 3 more",
        );
    }

    #[test]
    fn unknown_field_names_the_available_ones() {
        let err = render(&output(json!([]), None), Some(&["zz".into()])).expect_err("unknown");
        assert_eq!(err.message, "unknown json field 'zz'; available: a, b, c");
    }

    #[test]
    fn no_fields_names_the_available_ones() {
        let err = render(&output(json!([]), None), Some(&[])).expect_err("no fields");
        assert_eq!(
            err.message,
            "json takes field names, comma-separated: a,b,c"
        );
    }

    #[test]
    fn a_text_only_tool_says_so() {
        let text_only = Output {
            text: "t".into(),
            data: Value::Null,
            fields: &[],
            more: None,
        };
        let err = render(&text_only, Some(&["*".into()])).expect_err("text only");
        assert_eq!(
            err.message,
            "this tool answers in text only; call it without json"
        );
    }

    #[test]
    fn a_star_asks_for_every_field() {
        check(
            json!([{"a":1,"b":2,"c":3}]),
            &["*"],
            None,
            r#"[{"a":1,"b":2,"c":3}]"#,
        );
    }

    #[test]
    fn text_by_default() {
        let result = render(&output(json!([]), None), None).expect("renders");
        assert!(result.structured_content.is_none());
        assert_eq!(result.is_error, Some(false));
    }
}
