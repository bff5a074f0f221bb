//! The jq evaluator itself: jaq with only pure functions, and nothing else. It runs inside a
//! sandboxed worker process (see [`super::worker`]); this module knows nothing of processes.
//!
//! jaq's standard library (`jaq_std` with its `std` feature) also brings functions that reach
//! outside the value: `env` (the process environment, which holds the server's keys), `halt` and
//! `halt_error` (exit the process), `stderr` and `debug` (write to the server's log), `input` and
//! `inputs` (read further input), `now`, `localtime` and `strflocaltime` (the clock and the
//! time-zone files). Functions are therefore taken by an allow-list: a jaq upgrade that adds a
//! function does not make it callable until it is listed here.

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, RcIter};
use jaq_json::Val;
use serde_json::Value;

use super::JqError;

/// Native (Rust-implemented) functions a filter may call: jaq's own, minus every one that reads
/// or writes outside the value. Compared against jaq's list in a test, so a name that jaq drops
/// is noticed.
pub const ALLOWED_NATIVE: &[&str] = &[
    "floor",
    "round",
    "ceil",
    "utf8bytelength",
    "explode",
    "implode",
    "ascii_downcase",
    "ascii_upcase",
    "reverse",
    "sort",
    "sort_by",
    "group_by",
    "min_by_or_empty",
    "max_by_or_empty",
    "first",
    "last",
    "limit",
    "range",
    "startswith",
    "endswith",
    "ltrimstr",
    "rtrimstr",
    "trim",
    "ltrim",
    "rtrim",
    "escape_csv",
    "escape_sh",
    "error",
    "escape_html",
    "escape_tsv",
    "encode_uri",
    "decode_uri",
    "encode_base64",
    "decode_base64",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "cbrt",
    "cos",
    "cosh",
    "erf",
    "erfc",
    "exp",
    "exp10",
    "exp2",
    "expm1",
    "fabs",
    "frexp",
    "ilogb",
    "j0",
    "j1",
    "lgamma",
    "log",
    "log10",
    "log1p",
    "log2",
    "modf",
    "nearbyint",
    "rint",
    "sin",
    "sinh",
    "sqrt",
    "tan",
    "tanh",
    "tgamma",
    "trunc",
    "y0",
    "y1",
    "atan2",
    "copysign",
    "fdim",
    "fmax",
    "fmin",
    "fmod",
    "hypot",
    "jn",
    "ldexp",
    "nextafter",
    "pow",
    "remainder",
    "scalbln",
    "yn",
    "fma",
    "matches",
    "split_matches",
    "split_",
    "fromdateiso8601",
    "todateiso8601",
    "strftime",
    "gmtime",
    "strptime",
    "mktime",
    "tojson",
    "length",
    "path_values",
    "paths",
    "keys_unsorted",
    "contains",
    "has",
    "indices",
    "bsearch",
    "fromjson",
];

/// Definitions (written in jq) of the standard library that are left out: they wrap the
/// refused natives above.
const REFUSED_DEFS: &[&str] = &["debug", "halt_error", "input"];

/// jaq natives that reach outside the value, refused on purpose (see the module docs).
#[cfg(test)]
const REFUSED_NATIVE: &[&str] = &[
    "inputs",
    "env",
    "now",
    "halt",
    "halt_error",
    "localtime",
    "strflocaltime",
    "debug",
    "stderr",
];

/// jq 1.6 builtins jaq does not define, written in jq (models write them: `select(.x | IN(1, 2))`).
const JQ_COMPAT_DEFS: &str = r#"
def IN(s): any(s == .; .);
def IN(src; s): any(src == s; .);
def INDEX(stream; idx_expr): reduce stream as $row ({}; .[$row | idx_expr | tostring] = $row);
def INDEX(idx_expr): INDEX(.[]; idx_expr);
def leaf_paths: paths(scalars);
def combinations: if length == 0 then [] else .[0][] as $x | (.[1:] | combinations) as $w | [$x] + $w end;
def combinations(n): . as $dot | [range(n)] | map($dot) | combinations;
"#;

/// Runs `code` on `input` with `$steps` bound to `steps` and returns at most `max_values`
/// outputs. The caller bounds time, memory and stack (the worker process does).
pub fn evaluate(
    code: &str,
    input: Value,
    steps: Value,
    max_values: usize,
) -> Result<Vec<Value>, JqError> {
    let compat = jaq_core::load::parse(JQ_COMPAT_DEFS, |p| p.defs()).unwrap_or_default();
    let defs = jaq_std::defs()
        .chain(jaq_json::defs())
        .filter(|d| !REFUSED_DEFS.contains(&d.name))
        .chain(compat);
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = loader
        .load(&arena, File { code, path: () })
        .map_err(|errs| JqError::Syntax(describe_load_errors(code, &errs)))?;
    let funs = jaq_std::funs()
        .chain(jaq_json::funs())
        .filter(|(name, _, _)| ALLOWED_NATIVE.contains(name));
    let compiled = Compiler::default()
        .with_funs(funs)
        .with_global_vars(["$steps"])
        .compile(modules)
        .map_err(|errs| {
            let names: Vec<String> = errs
                .iter()
                .flat_map(|(_, es)| es.iter())
                .map(|(name, kind)| format!("{} `{name}`", undefined_kind(kind)))
                .collect();
            JqError::Undefined(names.join(", "))
        })?;
    let inputs = RcIter::new(core::iter::empty());
    let mut out = Vec::new();
    for value in compiled.run((Ctx::new([Val::from(steps)], &inputs), Val::from(input))) {
        if out.len() == max_values {
            return Err(JqError::TooManyValues(max_values));
        }
        match value {
            Ok(v) => out.push(Value::from(v)),
            Err(e) => return Err(JqError::Runtime(super::cut(&e.to_string(), 300))),
        }
    }
    Ok(out)
}

fn undefined_kind(kind: &jaq_core::compile::Undefined) -> &'static str {
    use jaq_core::compile::Undefined as U;
    match kind {
        U::Var => "variable",
        U::Mod => "module",
        U::Label => "label",
        _ => "filter",
    }
}

/// One line naming where the filter stops making sense.
fn describe_load_errors(code: &str, errs: &jaq_core::load::Errors<&str, ()>) -> String {
    use jaq_core::load::Error as E;
    let mut parts = Vec::new();
    for (_, e) in errs {
        match e {
            E::Io(list) => parts.extend(list.iter().map(|(_, m)| m.clone())),
            E::Lex(list) => {
                parts.extend(list.iter().map(|(expect, at)| {
                    format!("expected {} at `{}`", expect.as_str(), snippet(at))
                }))
            }
            E::Parse(list) => {
                parts.extend(list.iter().map(|(expect, at)| {
                    format!("expected {} at `{}`", expect.as_str(), snippet(at))
                }))
            }
        }
    }
    if parts.is_empty() {
        parts.push(format!("`{}`", snippet(code)));
    }
    parts.truncate(3);
    parts.join("; ")
}

fn snippet(s: &str) -> &str {
    let end = s.char_indices().nth(20).map_or(s.len(), |(i, _)| i);
    if s.is_empty() {
        "end of filter"
    } else {
        &s[..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(code: &str, input: Value) -> Result<Vec<Value>, JqError> {
        evaluate(code, input, json!([]), 10)
    }

    #[test]
    fn filters_select_and_reshape() {
        let input =
            json!([{"n": 1, "l": ["bug"]}, {"n": 2, "l": []}, {"n": 3, "l": ["bug", "ui"]}]);
        let check = |code: &str, expected: Vec<Value>| {
            assert_eq!(run(code, input.clone()).expect(code), expected, "{code}");
        };
        check(
            "[.[] | select(.l | index(\"bug\")) | .n]",
            vec![json!([1, 3])],
        );
        check(".[].n", vec![json!(1), json!(2), json!(3)]);
        check("length", vec![json!(3)]);
        check("map(.n) | add", vec![json!(6)]);
        check("[.[].n] | sort | reverse | first", vec![json!(3)]);
        check("group_by(.l | length) | length", vec![json!(3)]);
        check(
            "[.[] | .l | join(\",\")] | unique",
            vec![json!(["", "bug", "bug,ui"])],
        );
    }

    #[test]
    fn regular_expressions_and_time_arithmetic_work() {
        let out = run(
            "[.[] | capture(\"add (?<t>[a-z]+)\").t] | join(\"|\")",
            json!(["core: add valve 3", "io: add piston 7"]),
        )
        .expect("runs");
        assert_eq!(out, vec![json!("valve|piston")]);
        let out = run(
            "[.[] | select(test(\"(?i)VALVE\"))]",
            json!(["a valve", "x"]),
        )
        .expect("runs");
        assert_eq!(out, vec![json!(["a valve"])]);
        let out = run(
            "fromdateiso8601 | todateiso8601",
            json!("2024-01-02T03:04:05Z"),
        );
        assert_eq!(out.expect("runs"), vec![json!("2024-01-02T03:04:05Z")]);
        let out = run("sub(\"a\"; \"b\") | ascii_upcase", json!("aa")).expect("runs");
        assert_eq!(out, vec![json!("BA")]);
    }

    /// Expected values are jq 1.6's own answers to the same filters.
    #[test]
    fn jq_builtins_that_jaq_lacks_are_defined() {
        let check = |code: &str, expected: Value| {
            assert_eq!(
                run(code, json!(null)).expect(code),
                vec![expected],
                "{code}"
            );
        };
        check("2 | IN(1, 2)", json!(true));
        check("3 | IN(1, 2)", json!(false));
        check("[1, 2] | IN(.[]; 2, 3)", json!(true));
        check(
            "INDEX({id: 1, a: 2}, {id: 2, a: 3}; .id)",
            json!({"1": {"id": 1, "a": 2}, "2": {"id": 2, "a": 3}}),
        );
        check("[{id: \"x\"}] | INDEX(.id)", json!({"x": {"id": "x"}}));
        check(
            "[[1, [2]], 3] | [leaf_paths]",
            json!([[0, 0], [0, 1, 0], [1]]),
        );
        check(
            "[[1, 2], [3, 4]] | [combinations]",
            json!([[1, 3], [1, 4], [2, 3], [2, 4]]),
        );
        check(
            "[0, 1] | [combinations(2)]",
            json!([[0, 0], [0, 1], [1, 0], [1, 1]]),
        );
    }

    #[test]
    fn earlier_steps_are_in_steps() {
        let out = evaluate(
            "[.[] | select(.a | any(. as $l | $steps[0] | index($l))) | .n]",
            json!([{"n": 1, "a": ["carol"]}, {"n": 2, "a": ["bob"]}]),
            json!([["alice", "bob"]]),
            10,
        )
        .expect("runs");
        assert_eq!(out, vec![json!([2])]);
    }

    /// Regression (security issue, class 1): `env`, `$ENV`, `halt`, `halt_error`, `stderr`,
    /// `debug`, `input`, `inputs`, `input_filename`, `now` and the local-time functions were
    /// reachable through jaq's standard library; `env.GITGATE_SECRET_KEY` read the server's key.
    #[test]
    fn functions_that_reach_outside_the_value_are_undefined() {
        for code in [
            "env",
            "env.GITGATE_SECRET_KEY",
            "$ENV",
            "$ENV.PATH",
            "halt",
            "halt_error",
            "\"x\" | halt_error(1)",
            "stderr",
            "debug",
            "debug(\"m\")",
            "input",
            "inputs",
            "[inputs]",
            "input_filename",
            "now",
            "localtime",
            "0 | strflocaltime(\"%H\")",
            "get_search_list",
            "$__prog_args",
        ] {
            match run(code, json!(0)) {
                Err(JqError::Undefined(_)) | Err(JqError::Syntax(_)) => {}
                other => panic!("{code}: expected undefined, got {other:?}"),
            }
        }
    }

    /// The allow-list is checked against jaq's own list both ways: every allowed name exists,
    /// and every native jaq has is either allowed or one of the refused ones on purpose.
    #[test]
    fn the_allow_list_matches_jaq() {
        let natives: Vec<&str> = jaq_std::funs::<Val>()
            .chain(jaq_json::funs())
            .map(|(name, _, _)| name)
            .collect();
        for name in ALLOWED_NATIVE {
            assert!(
                natives.contains(name),
                "`{name}` is allowed but jaq has no such native"
            );
        }
        let refused: Vec<&str> = natives
            .iter()
            .copied()
            .filter(|n| !ALLOWED_NATIVE.contains(n))
            .collect();
        let mut expected = REFUSED_NATIVE.to_vec();
        let mut got = refused.clone();
        expected.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, expected, "a new jaq native must be judged and listed");
    }

    #[test]
    fn bad_filters_are_clear_errors() {
        let e = run(".[] |", json!([])).expect_err("fails");
        assert!(matches!(e, JqError::Syntax(_)), "{e}");
        let e = run("nosuchfn(1)", json!(1)).expect_err("fails");
        assert_eq!(
            e.to_string(),
            "jq filter uses an undefined filter `nosuchfn`"
        );
        let e = run(".a", json!([1])).expect_err("fails");
        assert!(matches!(e, JqError::Runtime(_)), "{e}");
        let e = run("range(100)", json!(null)).expect_err("fails");
        assert_eq!(e, JqError::TooManyValues(10));
    }
}
