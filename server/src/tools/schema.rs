//! Shrinks generated JSON Schemas to what an agent needs: every token of `tools/list` is paid on
//! every turn of every conversation, so nothing is kept that does not change what a model sends.

use serde_json::Value;

/// Removes schema noise: `$schema`, `title`, numeric `format`s, `minimum: 0`, `default`s,
/// `additionalProperties: false` (unknown arguments are still rejected when parsing), and turns
/// `["T", "null"]` (an `Option`) into `"T"` since absence already means "not given".
///
/// Definitions (`$defs`, e.g. an enum type used by one argument) are inlined where they are
/// used, and `anyOf: [T, null]` becomes `T`: a `$ref` costs the model a lookup and the
/// `$defs` block costs tokens on every turn.
pub fn minimize(mut schema: Value) -> Value {
    inline_defs(&mut schema);
    strip(&mut schema);
    schema
}

/// How deep definitions are inlined into each other; a recursive type keeps its `$defs`.
const MAX_INLINE_DEPTH: usize = 8;

fn inline_defs(root: &mut Value) {
    let Some(Value::Object(defs)) = root.as_object_mut().and_then(|m| m.remove("$defs")) else {
        return;
    };
    resolve(root, &defs, 0);
    if contains_ref(root) {
        root["$defs"] = Value::Object(defs);
    }
}

fn resolve(value: &mut Value, defs: &serde_json::Map<String, Value>, depth: usize) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(alts)) = map.get("anyOf") {
                let non_null: Vec<Value> = alts
                    .iter()
                    .filter(|a| a.get("type").and_then(Value::as_str) != Some("null"))
                    .cloned()
                    .collect();
                if alts.len() == 2
                    && let [Value::Object(only)] = &non_null[..]
                {
                    map.remove("anyOf");
                    for (k, v) in only {
                        map.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
            if depth < MAX_INLINE_DEPTH
                && let Some(Value::Object(def)) = map
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .and_then(|name| defs.get(name))
            {
                let def = def.clone();
                map.remove("$ref");
                for (k, v) in def {
                    // A type's doc comment is for Rust readers ("How to merge."): its values
                    // say it to a model; an argument that needs words has its own.
                    if k == "description" {
                        continue;
                    }
                    map.entry(k).or_insert(v);
                }
            }
            map.values_mut()
                .for_each(|child| resolve(child, defs, depth + 1));
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|child| resolve(child, defs, depth + 1)),
        _ => {}
    }
}

fn contains_ref(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.contains_key("$ref") || map.values().any(contains_ref),
        Value::Array(items) => items.iter().any(contains_ref),
        _ => false,
    }
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

    #[test]
    fn definitions_are_inlined_and_optional_wrappers_dropped() {
        check(
            json!({"type": "object",
                   "$defs": {"State": {"description": "New state.", "type": "string",
                                       "enum": ["open", "closed"]}},
                   "properties": {
                       "state": {"anyOf": [{"$ref": "#/$defs/State"}, {"type": "null"}],
                                 "description": "Close or reopen."},
                       "other": {"$ref": "#/$defs/State"}}}),
            json!({"type": "object",
                   "properties": {
                       "state": {"type": "string", "enum": ["open", "closed"],
                                 "description": "Close or reopen."},
                       "other": {"type": "string", "enum": ["open", "closed"]}}}),
        );
        // A recursive definition keeps its $defs rather than growing without end.
        let recursive = json!({"$defs": {"N": {"type": "object",
                                               "properties": {"next": {"$ref": "#/$defs/N"}}}},
                               "properties": {"n": {"$ref": "#/$defs/N"}}});
        let out = minimize(recursive);
        assert!(out.get("$defs").is_some());
    }
}
