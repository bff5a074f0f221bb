//! Shrinks generated JSON Schemas to what an agent needs: every token of `tools/list` is paid on
//! every turn of every conversation, so nothing is kept that does not change what a model sends.

use serde_json::Value;

/// Removes schema noise: `$schema`, `title`, numeric `format`s, `minimum: 0`, `default`s,
/// `additionalProperties: false` (unknown arguments are still rejected when parsing), and turns
/// `["T", "null"]` (an `Option`) into `"T"` since absence already means "not given".
pub fn minimize(mut schema: Value) -> Value {
    strip(&mut schema);
    schema
}

fn strip(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for key in [
                "$schema",
                "title",
                "format",
                "default",
                "additionalProperties",
            ] {
                map.remove(key);
            }
            if map.get("minimum").and_then(Value::as_f64) == Some(0.0) {
                map.remove("minimum");
            }
            if let Some(Value::Array(types)) = map.get("type") {
                let non_null: Vec<Value> = types
                    .iter()
                    .filter(|t| t.as_str() != Some("null"))
                    .cloned()
                    .collect();
                if non_null.len() == 1 {
                    map.insert("type".into(), non_null[0].clone());
                }
            }
            if map
                .get("required")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty)
            {
                map.remove("required");
            }
            for (key, v) in map.iter_mut() {
                match (key.as_str(), v) {
                    // A map from names to schemas: the names are arguments, not keywords.
                    ("properties" | "$defs" | "definitions", Value::Object(named)) => {
                        named.values_mut().for_each(strip)
                    }
                    (_, v) => strip(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(input: Value, expected: Value) {
        assert_eq!(minimize(input), expected);
    }

    #[test]
    fn noise_is_removed() {
        check(
            json!({"$schema": "x", "title": "A", "type": "object", "additionalProperties": false,
                   "properties": {"n": {"type": ["integer", "null"], "format": "uint", "minimum": 0},
                                  "p": {"type": "array", "items": {"type": "string"}, "default": []}},
                   "required": []}),
            json!({"type": "object",
                   "properties": {"n": {"type": "integer"},
                                  "p": {"type": "array", "items": {"type": "string"}}}}),
        );
        check(json!({"minimum": 1}), json!({"minimum": 1}));
        // Arguments named like keywords survive.
        check(
            json!({"properties": {"title": {"type": "string"}, "format": {"type": "string"}}}),
            json!({"properties": {"title": {"type": "string"}, "format": {"type": "string"}}}),
        );
    }
}
