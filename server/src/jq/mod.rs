//! The jq sandbox: the one place every user-written jq filter runs (the `jq` and `each` of
//! lean-mode calls and pipelines).
//!
//! A filter is hostile input. jaq, the evaluator, has no step counter, no recursion bound and no
//! memory bound: `def f: [f]; f` overflows the stack (which aborts the whole process),
//! `[range(1e9)]` takes gigabytes, `last(range(1e18))` spins for hours, and a thread cannot be
//! stopped from outside. So a filter never runs in the server process. It runs in a worker
//! process (this same binary, `gitgate jq-worker`) that:
//! - starts with an empty environment (nothing to read even if a function leaked through), and
//!   evaluates with only pure functions ([`eval::ALLOWED_NATIVE`]);
//! - puts kernel limits on itself before it reads the filter: address-space data
//!   (`RLIMIT_DATA`: the memory budget), CPU seconds (`RLIMIT_CPU`: the step budget, since jaq
//!   cannot count steps), no core dumps, no files;
//! - is killed and reaped when its wall-clock deadline passes, so nothing of a filter outlives
//!   the call that started it;
//! - dies alone when the filter overflows its stack or its memory: the server reads how it died
//!   and names the limit.
//!
//! The text of a filter is checked before any process is involved (length, nesting depth: the
//! parser is recursive too). Each user runs at most [`Limits::per_user`] filters at once and the
//! server at most [`Limits::total`], so one user's filters cannot occupy every worker.
//!
//! Cost: a worker starts when a user's first filter arrives and is then kept for that user
//! (never another's), so later filters pay a pipe round trip and the evaluation, not a process
//! start. A server whose callers use no jq starts no process.

pub mod eval;
mod sandbox;
pub mod worker;

pub use sandbox::{Limits, Sandbox};

use std::time::Duration;

/// Longest filter text accepted.
pub const MAX_FILTER_LEN: usize = 2_000;
/// Deepest bracket nesting accepted in a filter's text; jaq's parser recurses per level.
pub const MAX_NESTING: usize = 64;

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
    #[error("jq filter used more than its {0} s of CPU time; simplify it (e.g. with limit/first)")]
    Fuel(u64),
    #[error("jq filter needed more than its {} MiB of memory; narrow it (e.g. with limit/first)", .0 >> 20)]
    Memory(u64),
    #[error("jq filter recursed deeper than its {} MiB stack allows; bound the recursion", .0 >> 20)]
    Recursion(u64),
    #[error("jq filter nests brackets deeper than {MAX_NESTING} levels")]
    TooDeep,
    #[error("jq filter's output is larger than {} KiB; narrow it", .0 >> 10)]
    OutputTooLarge(usize),
    #[error("jq filter's input is larger than {} MiB", .0 >> 20)]
    InputTooLarge(usize),
    #[error("you already run {0} jq filters at once; wait for them to finish")]
    UserBusy(usize),
    #[error("the server runs as many jq filters as it allows; try again shortly")]
    Busy,
    #[error("jq filter is longer than {MAX_FILTER_LEN} characters")]
    TooLong,
    #[error("the jq sandbox failed: {0}")]
    Sandbox(String),
}

/// Refuses filter texts that are too long or nest too deeply, before any evaluation.
pub fn check_text(filter: &str) -> Result<(), JqError> {
    if filter.len() > MAX_FILTER_LEN {
        return Err(JqError::TooLong);
    }
    // Brackets inside string literals do not nest the parser, but counting them too only makes
    // the bound stricter, and keeps this check independent of jq's string syntax.
    let mut depth = 0usize;
    for c in filter.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(JqError::TooDeep);
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    // Keywords that open a nested term without brackets (`if`, `reduce`, `foreach`, `try`,
    // `def`, `label`) and unary minus chains recurse too; bound their total count likewise.
    let nesting_words = filter
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| matches!(*w, "if" | "reduce" | "foreach" | "try" | "def" | "label"))
        .count();
    let minus_run = filter
        .split(|c: char| c != '-' && !c.is_whitespace())
        .map(|run| run.chars().filter(|&c| c == '-').count())
        .max()
        .unwrap_or(0);
    if nesting_words > MAX_NESTING * 2 || minus_run > MAX_NESTING {
        return Err(JqError::TooDeep);
    }
    Ok(())
}

/// `text` cut to at most `max` bytes on a character boundary, with a marker.
pub(crate) fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_and_long_filters_are_refused_before_evaluation() {
        let check = |filter: &str, expected: Result<(), JqError>| {
            assert_eq!(check_text(filter), expected, "{filter}");
        };
        check(".[] | {a: [.b]}", Ok(()));
        check(&"[".repeat(MAX_NESTING), Ok(()));
        // Regression (security issue, class 2): 900 nested `[` overflowed the parser's stack.
        check(&"[".repeat(900), Err(JqError::TooDeep));
        check(
            &format!("{}1{}", "(".repeat(65), ")".repeat(65)),
            Err(JqError::TooDeep),
        );
        check(&"- ".repeat(500), Err(JqError::TooDeep));
        check(&"if . then ".repeat(200), Err(JqError::TooDeep));
        check(&".".repeat(MAX_FILTER_LEN + 1), Err(JqError::TooLong));
    }

    #[test]
    fn cut_keeps_a_prefix_on_a_character_boundary() {
        assert_eq!(cut("abc", 5), "abc");
        assert_eq!(cut("abcdef", 3), "abc...");
        assert_eq!(cut("ééé", 3), "é...");
    }
}
