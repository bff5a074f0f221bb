//! `grep`: the lines that match (`-v` that do not), counted (`-c`), numbered (`-n`), or only
//! the matching parts (`-o`); patterns basic (default), extended (`-E`) or fixed (`-F`),
//! several with `-e` or a newline, case-insensitive for ASCII (`-i`), as whole words (`-w`).
//! Context lines around each selected one with `-A N`, `-B N`, `-C N` (`N-` where a selected
//! line has `N:`, `--` between groups that do not touch), as GNU grep prints them.
//! `-m N` stops after N selected lines (after-context still follows the last, as GNU prints it).
//! Exit status 0 when a line was selected, 1 when none was.

mod matcher;
mod posix;

use super::FilterError;
use super::args::{Arg, Spec};
use super::text::{Out, lines, shown};
use crate::git::pattern::PATTERN_MAX;
use matcher::Matcher;
use posix::Syntax;

const SPEC: Spec = Spec {
    program: "grep",
    flags: "vicEFown",
    valued: "eABCm",
    supported: "-v -i -c -E -F -o -w -n -e PAT -A N -B N -C N -m N",
    options_first: false,
};

/// The flags, read.
#[derive(Default)]
struct Options<'a> {
    invert: bool,
    ignore_case: bool,
    count: bool,
    only_matching: bool,
    words: bool,
    numbers: bool,
    extended: bool,
    fixed: bool,
    patterns: Vec<&'a str>,
    /// Context lines after and before each selected line.
    after: usize,
    before: usize,
    /// Whether any of -A, -B, -C was given (then groups are separated, even with 0).
    context: bool,
    /// `-m N`: stop after this many selected lines.
    max: Option<usize>,
}

/// Largest context GNU would print usefully here (input is bounded anyway).
const MAX_CONTEXT: usize = 100_000;

pub(super) fn run(args: &[String], input: &[u8], out: &mut Out) -> Result<i32, FilterError> {
    let options = parse(args)?;
    // GNU's shortcut, output included: `-v` with only the empty pattern (duplicates are
    // dropped) and no -w cannot select a line, so grep stops at once, printing nothing, not
    // even `-c`'s count.
    if options.invert && !options.words && options.patterns.iter().all(|p| p.is_empty()) {
        return Ok(1);
    }
    let mut matcher = compile(&options)?;
    // GNU reads nothing at all for -m 0.
    if options.max == Some(0) {
        return Ok(1);
    }
    if options.context && !options.count && !options.only_matching {
        return with_context(&options, &mut matcher, input, out);
    }
    let mut selected = 0usize;
    for (n, line) in lines(input).enumerate() {
        out.tick()?;
        if options.max.is_some_and(|max| selected >= max) {
            break;
        }
        if matcher.is_match(line) == options.invert {
            continue;
        }
        selected += 1;
        if options.count || (options.only_matching && options.invert) {
            continue;
        }
        let prefix = if options.numbers {
            format!("{}:", n + 1)
        } else {
            String::new()
        };
        if !options.only_matching {
            out.write(prefix.as_bytes())?;
            out.line(line)?;
            continue;
        }
        // GNU's print_line_middle: each non-empty match on its own line; an empty match
        // moves one byte on.
        let mut cur = 0;
        while cur < line.len() {
            let Some((start, end)) = matcher.find_at(line, cur) else {
                break;
            };
            if start == line.len() {
                break;
            }
            if end == start {
                cur = start + 1;
                continue;
            }
            out.write(prefix.as_bytes())?;
            out.line(&line[start..end])?;
            cur = end;
        }
    }
    if options.count {
        out.line(selected.to_string().as_bytes())?;
    }
    Ok(if selected > 0 { 0 } else { 1 })
}

/// The selected lines with their context: before-lines not yet printed, the line, then up to
/// `after` lines; a `--` line where a group does not continue the previous one.
fn with_context(
    o: &Options<'_>,
    matcher: &mut Matcher,
    input: &[u8],
    out: &mut Out,
) -> Result<i32, FilterError> {
    let all: Vec<&[u8]> = lines(input).collect();
    let mut printed: Option<usize> = None;
    let mut after_left = 0usize;
    let mut selected = 0usize;
    let emit = |out: &mut Out, i: usize, sep: char| -> Result<(), FilterError> {
        if o.numbers {
            out.write(format!("{}{sep}", i + 1).as_bytes())?;
        }
        out.line(all[i])
    };
    for (i, line) in all.iter().enumerate() {
        out.tick()?;
        if o.max.is_some_and(|max| selected >= max) {
            // Past the last selected line GNU prints its after-context, matching or not.
            if after_left == 0 {
                break;
            }
            emit(out, i, '-')?;
            after_left -= 1;
            continue;
        }
        if matcher.is_match(line) != o.invert {
            selected += 1;
            let first = printed.map_or(0, |p| p + 1).max(i.saturating_sub(o.before));
            if printed.is_some_and(|p| first > p + 1) {
                out.line(b"--")?;
            }
            for j in first..i {
                emit(out, j, '-')?;
            }
            emit(out, i, ':')?;
            printed = Some(i);
            after_left = o.after;
        } else if after_left > 0 {
            emit(out, i, '-')?;
            printed = Some(i);
            after_left -= 1;
        }
    }
    Ok(if selected > 0 { 0 } else { 1 })
}

/// A context count (`-A 2`), as GNU reads it.
fn context(flag: char, value: &str) -> Result<usize, FilterError> {
    value
        .parse::<usize>()
        .map(|n| n.min(MAX_CONTEXT))
        .map_err(|_| {
            SPEC.bad(format!(
                "{value}: invalid context length argument (-{flag})"
            ))
        })
}

fn parse(args: &[String]) -> Result<Options<'_>, FilterError> {
    let mut o = Options::default();
    let mut operands = Vec::new();
    let mut given = false;
    for arg in SPEC.parse(args)? {
        match arg {
            Arg::Flag('v') => o.invert = true,
            Arg::Flag('i') => o.ignore_case = true,
            Arg::Flag('c') => o.count = true,
            Arg::Flag('o') => o.only_matching = true,
            Arg::Flag('w') => o.words = true,
            Arg::Flag('n') => o.numbers = true,
            Arg::Flag('E') => o.extended = true,
            Arg::Flag(_) => o.fixed = true,
            Arg::Value('A', n) => (o.after, o.context) = (context('A', n)?, true),
            Arg::Value('B', n) => (o.before, o.context) = (context('B', n)?, true),
            Arg::Value('m', n) => {
                // GNU takes a negative count as no limit.
                o.max = match n.trim().parse::<i64>() {
                    Ok(m) if m < 0 => None,
                    Ok(m) => Some(usize::try_from(m).unwrap_or(usize::MAX)),
                    Err(_) => return Err(SPEC.bad("invalid max count".into())),
                };
            }
            Arg::Value('C', n) => {
                let n = context('C', n)?;
                (o.after, o.before, o.context) = (n, n, true);
            }
            Arg::Value(_, pattern) => {
                o.patterns.extend(pattern.split('\n'));
                given = true;
            }
            Arg::Operand(operand) => operands.push(operand),
        }
    }
    if o.extended && o.fixed {
        return Err(SPEC.bad("conflicting matchers specified (-E and -F)".into()));
    }
    let mut operands = operands.into_iter();
    if !given {
        let pattern = operands.next().ok_or_else(|| {
            SPEC.bad("no pattern given; use grep PATTERN or grep -e PATTERN".into())
        })?;
        o.patterns.extend(pattern.split('\n'));
    }
    SPEC.stdin_only(&operands.collect::<Vec<_>>())?;
    Ok(o)
}

/// All patterns as one regex: GNU matches a line when any of them does, and `-o` takes the
/// longest match among them.
fn compile(o: &Options<'_>) -> Result<Matcher, FilterError> {
    let shown_patterns = shown(&o.patterns.join("\n"));
    let refuse = |reason: String, source: Option<matcher::BuildError>| FilterError::Pattern {
        pattern: shown_patterns.clone(),
        reason,
        source,
    };
    let total: usize = o.patterns.iter().map(|p| p.len()).sum();
    if total > PATTERN_MAX {
        return Err(refuse(
            format!(
                "{total} bytes is too long: patterns are limited to {PATTERN_MAX} bytes; \
                 search for a shorter distinctive part"
            ),
            None,
        ));
    }
    let syntax = match (o.extended, o.fixed) {
        (true, _) => Syntax::Extended,
        (_, true) => Syntax::Fixed,
        _ => Syntax::Basic,
    };
    let mut alternatives = Vec::with_capacity(o.patterns.len());
    for pattern in &o.patterns {
        let regex = posix::translate(pattern.as_bytes(), syntax).map_err(|r| refuse(r, None))?;
        alternatives.push(format!("(?:{regex})"));
    }
    Matcher::new(&alternatives.join("|"), o.ignore_case, o.words).map_err(|e| {
        let reason = match e.downcast_ref::<regex::Error>() {
            Some(e) => crate::git::pattern::reason(e),
            None => e.to_string(),
        };
        refuse(reason, Some(e))
    })
}
