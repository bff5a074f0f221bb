//! `head` and `tail`: the first or last lines (`-n N`, `-nN`, `-N`; `head -n -N` all but the
//! last N; `tail -n +N` from line N on). Lines keep their bytes, so a last line without a
//! newline stays without one.

use super::FilterError;
use super::args::{Arg, Spec};
use super::text::{Out, raw_lines};

const HEAD: Spec = Spec {
    program: "head",
    flags: "",
    valued: "n",
    supported: "-n N, -n -N, -N",
    options_first: false,
};

const TAIL: Spec = Spec {
    program: "tail",
    flags: "",
    valued: "n",
    supported: "-n N, -n +N, -N",
    options_first: false,
};

/// Which lines to print, counted from the start or from the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Count {
    /// The first N lines (`head -n N`), or all but the first N-1 (`tail -n +N`).
    FromStart(u64),
    /// All but the last N lines (`head -n -N`), or the last N (`tail -n N`).
    FromEnd(u64),
}

pub(super) fn head(args: &[String], input: &[u8], out: &mut Out) -> Result<i32, FilterError> {
    let count = parse(&HEAD, args, Count::FromStart(10), |v| {
        match v.strip_prefix('-') {
            Some(n) => number(n).map(Count::FromEnd),
            None => number(v.strip_prefix('+').unwrap_or(v)).map(Count::FromStart),
        }
    })?;
    let lines = raw_lines(input);
    match count {
        Count::FromStart(n) => write_all(out, lines.take(saturate(n))),
        Count::FromEnd(n) => {
            let total = raw_lines(input).count();
            write_all(out, lines.take(total.saturating_sub(saturate(n))))
        }
    }
}

pub(super) fn tail(args: &[String], input: &[u8], out: &mut Out) -> Result<i32, FilterError> {
    let count = parse(&TAIL, args, Count::FromEnd(10), |v| {
        match v.strip_prefix('+') {
            Some(n) => number(n).map(Count::FromStart),
            None => number(v.strip_prefix('-').unwrap_or(v)).map(Count::FromEnd),
        }
    })?;
    let lines = raw_lines(input);
    match count {
        Count::FromStart(n) => write_all(out, lines.skip(saturate(n).saturating_sub(1))),
        Count::FromEnd(n) => {
            let total = raw_lines(input).count();
            write_all(out, lines.skip(total.saturating_sub(saturate(n))))
        }
    }
}

/// The count the arguments ask for: `-N` as the first argument (the old form both programs
/// still accept), else the last `-n`.
fn parse(
    spec: &Spec,
    args: &[String],
    default: Count,
    value: impl Fn(&str) -> Option<Count>,
) -> Result<Count, FilterError> {
    let invalid = |v: &str| {
        spec.bad(format!(
            "invalid number of lines: '{}'",
            super::text::shown(v)
        ))
    };
    let (mut count, rest) = match args.split_first() {
        Some((first, rest)) if is_old_form(first) => {
            let n = number(&first[1..]).ok_or_else(|| invalid(first))?;
            (
                Some(if spec.program == "head" {
                    Count::FromStart(n)
                } else {
                    Count::FromEnd(n)
                }),
                rest,
            )
        }
        _ => (None, args),
    };
    let mut operands = Vec::new();
    for arg in spec.parse(rest)? {
        match arg {
            Arg::Value(_, v) => count = Some(value(v).ok_or_else(|| invalid(v))?),
            Arg::Operand(o) => operands.push(o),
            Arg::Flag(f) => return Err(spec.unsupported(&format!("-{f}"))),
        }
    }
    spec.stdin_only(&operands)?;
    Ok(count.unwrap_or(default))
}

fn is_old_form(arg: &str) -> bool {
    arg.len() > 1 && arg.starts_with('-') && arg[1..].bytes().all(|b| b.is_ascii_digit())
}

/// A line count: decimal digits, as large as u64 holds (GNU refuses larger ones too).
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn saturate(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn write_all<'a>(out: &mut Out, lines: impl Iterator<Item = &'a [u8]>) -> Result<i32, FilterError> {
    for line in lines {
        out.tick()?;
        out.write(line)?;
    }
    Ok(0)
}
