//! jq filters between pipeline steps, evaluated in process by jaq (no `jq` program is run).
//!
//! A jq filter can run forever (`until(false; .)`) and jaq has no fuel counter, so each filter
//! runs on a thread of its own with a deadline. A filter past its deadline is reported to the
//! agent and its thread is left to finish; while [`MAX_RUNAWAYS`] such threads are still
//! running, further filters are refused, so a caller cannot pile up spinning threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, RcIter};
use jaq_json::Val;
use serde_json::Value;

/// Filters that overran their deadline and are still running.
static RUNAWAYS: AtomicUsize = AtomicUsize::new(0);
/// Above this many runaway filters, new filters are refused until they end.
const MAX_RUNAWAYS: usize = 2;
/// Longest filter text accepted.
const MAX_FILTER_LEN: usize = 2_000;

/// Why a filter gave no result, worded for the agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JqError {
    #[error("jq filter does not parse: {0}")]
    Syntax(String),
    #[error("jq filter uses an undefined {0}")]
    Undefined(String),
    #[error("jq error: {0}")]
    Runtime(String),
    #[error("jq filter produced more than {0} values; narrow it (e.g. with limit/first)")]
    TooManyValues(usize),
    #[error("jq filter ran longer than {} ms; simplify it", .0.as_millis())]
    Timeout(Duration),
    #[error("jq filters are paused: earlier filters are still running past their time limit")]
    Busy,
    #[error("jq filter is longer than {MAX_FILTER_LEN} characters")]
    TooLong,
}

/// Runs `filter` on `input` and returns its outputs, at most `max_values` of them, within
/// `timeout`.
pub fn run(
    filter: &str,
    input: Value,
    max_values: usize,
    timeout: Duration,
) -> Result<Vec<Value>, JqError> {
    run_with_steps(filter, input, Value::Array(Vec::new()), max_values, timeout)
}

/// [`run`] with `$steps` bound to `steps` (a pipeline's earlier results, in order), so a later
/// filter can join across steps.
pub fn run_with_steps(
    filter: &str,
    input: Value,
    steps: Value,
    max_values: usize,
    timeout: Duration,
) -> Result<Vec<Value>, JqError> {
    if filter.len() > MAX_FILTER_LEN {
        return Err(JqError::TooLong);
    }
    if RUNAWAYS.load(Ordering::SeqCst) >= MAX_RUNAWAYS {
        return Err(JqError::Busy);
    }
    let (tx, rx) = mpsc::channel();
    let code = filter.to_owned();
    // The filter's values are reference-counted (not Send): compile and run on the thread.
    let spawned = std::thread::Builder::new()
        .name("gitgate-jq".into())
        .spawn(move || {
            let result = evaluate(&code, input, steps, max_values);
            if tx.send(result).is_err() {
                // The caller gave up on this filter: it was counted as a runaway.
                RUNAWAYS.fetch_sub(1, Ordering::SeqCst);
            }
        });
    if spawned.is_err() {
        return Err(JqError::Busy);
    }
    match rx.recv_timeout(timeout) {
        Ok(result) => result,
        Err(_) => {
            RUNAWAYS.fetch_add(1, Ordering::SeqCst);
            // The thread may have finished between the timeout and the increment; if its
            // answer is here now, it will never decrement, so do it ourselves.
            if let Ok(result) = rx.try_recv() {
                RUNAWAYS.fetch_sub(1, Ordering::SeqCst);
                return result;
            }
            drop(rx);
            Err(JqError::Timeout(timeout))
        }
    }
}

fn evaluate(
    code: &str,
    input: Value,
    steps: Value,
    max_values: usize,
) -> Result<Vec<Value>, JqError> {
    let loader = Loader::new(jaq_std::defs().chain(jaq_json::defs()));
    let arena = Arena::default();
    let modules = loader
        .load(&arena, File { code, path: () })
        .map_err(|errs| JqError::Syntax(describe_load_errors(code, &errs)))?;
    let compiled = Compiler::default()
        .with_funs(jaq_std::funs().chain(jaq_json::funs()))
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
            Err(e) => return Err(JqError::Runtime(e.to_string())),
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

    const T: Duration = Duration::from_secs(5);

    #[test]
    fn filters_select_and_reshape() {
        let input =
            json!([{"n": 1, "l": ["bug"]}, {"n": 2, "l": []}, {"n": 3, "l": ["bug", "ui"]}]);
        assert_eq!(
            run(
                "[.[] | select(.l | index(\"bug\")) | .n]",
                input.clone(),
                10,
                T
            )
            .expect("runs"),
            vec![json!([1, 3])]
        );
        assert_eq!(
            run(".[].n", input.clone(), 10, T).expect("runs"),
            vec![json!(1), json!(2), json!(3)]
        );
        assert_eq!(run("length", input, 10, T).expect("runs"), vec![json!(3)]);
        assert_eq!(
            run("map(.a) | add", json!([{"a": 1}, {"a": 2}]), 10, T).expect("runs"),
            vec![json!(3)]
        );
    }

    #[test]
    fn regular_expressions_work() {
        let subjects = json!(["core: add valve 3", "io: add piston 7"]);
        let out = run(
            "[.[] | capture(\"add (?<t>[a-z]+)\").t] | join(\"|\")",
            subjects,
            10,
            T,
        )
        .expect("runs");
        assert_eq!(out, vec![json!("valve|piston")]);
        let out = run(
            "[.[] | select(test(\"(?i)VALVE\"))]",
            json!(["a valve", "x"]),
            10,
            T,
        )
        .expect("runs");
        assert_eq!(out, vec![json!(["a valve"])]);
    }

    #[test]
    fn earlier_steps_are_in_steps() {
        let steps = json!([["alice", "bob"]]);
        let issues = json!([{"n": 1, "a": ["carol"]}, {"n": 2, "a": ["bob"]}]);
        let out = run_with_steps(
            "[.[] | select(.a | any(. as $l | $steps[0] | index($l))) | .n]",
            issues,
            steps,
            10,
            T,
        )
        .expect("runs");
        assert_eq!(out, vec![json!([2])]);
    }

    #[test]
    fn bad_filters_are_clear_errors() {
        let e = run(".[] |", json!([]), 10, T).expect_err("fails");
        assert!(matches!(e, JqError::Syntax(_)), "{e}");
        let e = run("nosuchfn(1)", json!(1), 10, T).expect_err("fails");
        assert_eq!(
            e.to_string(),
            "jq filter uses an undefined filter `nosuchfn`"
        );
        let e = run(".a", json!([1]), 10, T).expect_err("fails");
        assert!(matches!(e, JqError::Runtime(_)), "{e}");
        let e = run("range(100)", json!(null), 10, T).expect_err("fails");
        assert_eq!(e, JqError::TooManyValues(10));
        let long = ".".repeat(MAX_FILTER_LEN + 1);
        assert_eq!(
            run(&long, json!(null), 10, T).expect_err("fails"),
            JqError::TooLong
        );
    }

    #[test]
    fn a_filter_that_never_yields_times_out() {
        // `last(range(N))` spins without yielding; past the deadline the caller gets an error
        // while the thread finishes on its own (N is kept small so the test burns little CPU).
        let e = run(
            "last(range(3e6))",
            json!(null),
            10,
            Duration::from_millis(1),
        )
        .expect_err("fails");
        assert_eq!(e, JqError::Timeout(Duration::from_millis(1)));
    }
}
