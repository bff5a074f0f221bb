//! Forgiving argument shapes, judged by the tool's own schema: `"label": "bug"` for a list of
//! one, `"number": "45"` for an integer. Agents write both often (the CLI habit: `--label bug`,
//! `gh pr view 45`), and refusing them costs a round trip for no safety gain: the value is the
//! same, and it is still checked by the tool's typed arguments afterwards.

use serde_json::{Map, Value};

/// Rewrites, in place, the arguments whose JSON type differs from the schema's in one of the two
/// harmless ways above; anything else is left for the typed parse to judge.
pub(super) fn to_schema(args: &mut Map<String, Value>, schema: &Map<String, Value>) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, value) in args.iter_mut() {
        let Some(kind) = props
            .get(name)
            .and_then(|p| p.get("type"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        match (kind, &*value) {
            ("array", Value::String(_) | Value::Number(_) | Value::Bool(_)) => {
                *value = Value::Array(vec![value.take()]);
            }
            ("integer", Value::String(s)) => {
                if let Ok(n) = s.trim().parse::<i64>() {
                    *value = Value::from(n);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Map<String, Value> {
        match json!({"type": "object", "properties": {
            "label": {"type": "array", "items": {"type": "string"}},
            "number": {"type": "integer"},
            "title": {"type": "string"}
        }}) {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn coerced(args: Value) -> Value {
        let Value::Object(mut map) = args else {
            panic!("args must be an object")
        };
        to_schema(&mut map, &schema());
        Value::Object(map)
    }

    #[test]
    fn scalars_become_lists_of_one() {
        assert_eq!(coerced(json!({"label": "bug"})), json!({"label": ["bug"]}));
        assert_eq!(
            coerced(json!({"label": ["bug", "ui"]})),
            json!({"label": ["bug", "ui"]})
        );
    }

    #[test]
    fn integer_strings_become_integers_and_others_are_left_alone() {
        assert_eq!(coerced(json!({"number": "45"})), json!({"number": 45}));
        assert_eq!(
            coerced(json!({"number": "forty-five"})),
            json!({"number": "forty-five"})
        );
        // A string argument stays a string, even when it looks like a number.
        assert_eq!(coerced(json!({"title": "45"})), json!({"title": "45"}));
        // Unknown keys are the typed parse's to refuse.
        assert_eq!(coerced(json!({"nope": "x"})), json!({"nope": "x"}));
    }
}
