//! `sort` in the C locale: lines by byte value, or by number (`-n`), reversed (`-r`), unique
//! (`-u`), on keys (`-k N[.C][,M[.C]]` with `n`/`r` after either position) split at a
//! separator (`-t C`) or at blank-to-non-blank transitions. Ties on every key fall back to
//! the whole line's bytes, except with `-u`, as GNU does.

mod key;
mod numeric;

use std::cell::Cell;
use std::cmp::Ordering;
use std::time::Instant;

use super::FilterError;
use super::args::{Arg, Spec};
use super::text::{Out, lines};
use key::Key;

pub(super) const SPEC: Spec = Spec {
    program: "sort",
    flags: "unr",
    valued: "kt",
    supported: "-u -n -r -k N[,M] -t C",
    options_first: false,
};

/// Comparisons between two looks at the clock.
const COMPARISONS_PER_CHECK: u32 = 4096;

/// How to order, once the flags are read.
struct Order {
    keys: Vec<Key>,
    /// `-t`: the field separator; `None` splits at blanks.
    tab: Option<u8>,
    unique: bool,
    /// `-r`: also reverses the last-resort comparison.
    reverse: bool,
}

pub(super) fn run(args: &[String], input: &[u8], out: &mut Out) -> Result<i32, FilterError> {
    let order = parse(args)?;
    let mut lines: Vec<&[u8]> = lines(input).collect();
    let deadline = out.deadline();
    let (count, late) = (Cell::new(0u32), Cell::new(false));
    lines.sort_by(|a, b| {
        // The deadline is looked at now and then; once past, every comparison is "equal" so
        // the sort ends quickly and the error is reported below.
        count.set(count.get().wrapping_add(1));
        if count.get() % COMPARISONS_PER_CHECK == 0 && Instant::now() >= deadline {
            late.set(true);
        }
        if late.get() {
            return Ordering::Equal;
        }
        order.compare(a, b)
    });
    if late.get() {
        return Err(FilterError::Timeout {
            program: out.program(),
        });
    }
    let mut last: Option<&[u8]> = None;
    for line in lines {
        out.tick()?;
        if order.unique && last.is_some_and(|l| order.compare(l, line).is_eq()) {
            continue;
        }
        out.line(line)?;
        last = Some(line);
    }
    Ok(0)
}

impl Order {
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        for key in &self.keys {
            let ordering = key.compare(a, b, self.tab);
            if ordering.is_ne() {
                return ordering;
            }
        }
        // With keys, -u judges by the keys alone; without, by the whole line.
        if self.unique && !self.keys.is_empty() {
            return Ordering::Equal;
        }
        let last_resort = a.cmp(b);
        if self.reverse {
            last_resort.reverse()
        } else {
            last_resort
        }
    }
}

fn parse(args: &[String]) -> Result<Order, FilterError> {
    let (mut numeric, mut reverse, mut unique) = (false, false, false);
    let mut keys = Vec::new();
    let mut tab: Option<u8> = None;
    let mut operands = Vec::new();
    for arg in SPEC.parse(args)? {
        match arg {
            Arg::Flag('n') => numeric = true,
            Arg::Flag('r') => reverse = true,
            Arg::Flag(_) => unique = true,
            Arg::Value('k', spec) => keys.push(Key::parse(spec)?),
            Arg::Value(_, t) => {
                let t = match t.as_bytes() {
                    [] => return Err(SPEC.bad("empty tab".into())),
                    [b] => *b,
                    b"\\0" => 0,
                    _ => {
                        return Err(
                            SPEC.bad(format!("multi-character tab '{}'", super::text::shown(t)))
                        );
                    }
                };
                if tab.is_some_and(|old| old != t) {
                    return Err(SPEC.bad("incompatible tabs".into()));
                }
                tab = Some(t);
            }
            Arg::Operand(o) => operands.push(o),
        }
    }
    SPEC.stdin_only(&operands)?;
    // A key without ordering options of its own takes the global ones; with no key at all,
    // global options make the whole line one key.
    for key in &mut keys {
        key.inherit(numeric, reverse);
    }
    if keys.is_empty() && numeric {
        keys.push(Key::whole_line(numeric, reverse));
    }
    Ok(Order {
        keys,
        tab,
        unique,
        reverse,
    })
}
