//! JSON as jq 1.6 prints it: two-space indentation (or compact with `-c`), `"key": value`,
//! numbers as jq's doubles print (`1`, `1.5`, `1e+100`, `1e-05`), control characters and DEL
//! escaped as `\u00XX`, everything else (non-ASCII included) as is.

use serde_json::Value;

/// Appends `value` to `out`, pretty unless `compact`.
pub(super) fn write(out: &mut String, value: &Value, compact: bool) {
    write_at(out, value, compact, 0);
}

fn write_at(out: &mut String, value: &Value, compact: bool, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n.as_f64().unwrap_or(f64::NAN))),
        Value::String(s) => string(out, s),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                separator(out, compact, depth + 1, i == 0);
                write_at(out, item, compact, depth + 1);
            }
            close(out, compact, depth, ']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                separator(out, compact, depth + 1, i == 0);
                string(out, key);
                out.push_str(if compact { ":" } else { ": " });
                write_at(out, item, compact, depth + 1);
            }
            close(out, compact, depth, '}');
        }
    }
}

fn separator(out: &mut String, compact: bool, depth: usize, first: bool) {
    if !first {
        out.push(',');
    }
    if !compact {
        out.push('\n');
        indent(out, depth);
    }
}

fn close(out: &mut String, compact: bool, depth: usize, bracket: char) {
    if !compact {
        out.push('\n');
        indent(out, depth);
    }
    out.push(bracket);
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// A string literal as jq escapes it.
pub(super) fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c < ' ' || c == '\u{7f}' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A number as jq 1.6 prints its double (`jvp_dtoa_fmt`): the shortest digits that read back
/// the same, in plain notation unless the exponent is below -4 or past 15 digits beyond them;
/// NaN as null, infinities as the largest double.
pub(super) fn number(x: f64) -> String {
    if x.is_nan() {
        return "null".into();
    }
    let x = x.clamp(-f64::MAX, f64::MAX);
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    // Rust's shortest round-trip digits, as `d.ddde±x`.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let decpt = exponent + 1;
    let n = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    let body = if decpt <= -4 || decpt > n + 15 {
        let (first, rest) = digits.split_at(1);
        let point = if rest.is_empty() { "" } else { "." };
        let e = decpt - 1;
        let e_sign = if e < 0 { '-' } else { '+' };
        format!("{first}{point}{rest}e{e_sign}{:02}", e.abs())
    } else if decpt <= 0 {
        let zeros = "0".repeat(usize::try_from(-decpt).unwrap_or(0));
        format!("0.{zeros}{digits}")
    } else if decpt >= n {
        let zeros = "0".repeat(usize::try_from(decpt - n).unwrap_or(0));
        format!("{digits}{zeros}")
    } else {
        let (int, frac) = digits.split_at(usize::try_from(decpt).unwrap_or(0));
        format!("{int}.{frac}")
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_jq_1_6_prints_them() {
        let check = |x: f64, expected: &str| assert_eq!(number(x), expected, "{x:e}");
        check(1.0, "1");
        check(1e15, "1000000000000000");
        check(1e16, "1e+16");
        check(1e17, "1e+17");
        check(12345678901234567.0, "12345678901234568");
        check(1e20, "1e+20");
        check(0.0001, "0.0001");
        check(0.00001, "1e-05");
        check(1.5e-7, "1.5e-07");
        check(-0.0, "-0");
        check(1e300, "1e+300");
        check(2.5e-3, "0.0025");
        check(f64::INFINITY, "1.7976931348623157e+308");
        check(f64::NEG_INFINITY, "-1.7976931348623157e+308");
        check(5e-324, "5e-324");
        check(123456789.123, "123456789.123");
        check(0.00012, "0.00012");
        check(-2.5, "-2.5");
        check(f64::NAN, "null");
    }

    #[test]
    fn strings_and_nesting_print_as_jq_prints_them() {
        let value: Value = serde_json::from_str(
            r#"{"b":[],"a":{},"c":[1,{"x":null}],"s":"a\u007fb\u0001\t\"é\\"}"#,
        )
        .expect("json");
        let mut pretty = String::new();
        write(&mut pretty, &value, false);
        assert_eq!(
            pretty,
            "{\n  \"a\": {},\n  \"b\": [],\n  \"c\": [\n    1,\n    {\n      \"x\": null\n    }\n  ],\n  \"s\": \"a\\u007fb\\u0001\\t\\\"é\\\\\"\n}"
        );
        let mut compact = String::new();
        write(&mut compact, &value, true);
        assert_eq!(
            compact,
            r#"{"a":{},"b":[],"c":[1,{"x":null}],"s":"a\u007fb\u0001\t\"é\\"}"#
        );
    }
}
