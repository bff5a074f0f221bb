//! `uniq`: adjacent equal lines once (`-c` with their count as `%7d `, `-d` only repeated ones,
//! `-u` only unrepeated ones). Every printed line ends with a newline, as GNU's do.

use super::FilterError;
use super::args::{Arg, Spec};
use super::text::{Out, lines};

const SPEC: Spec = Spec {
    program: "uniq",
    flags: "cdu",
    valued: "",
    supported: "-c -d -u",
    options_first: false,
};

pub(super) fn run(args: &[String], input: &[u8], out: &mut Out) -> Result<i32, FilterError> {
    let (mut count, mut repeated, mut unique) = (false, false, false);
    let mut operands = Vec::new();
    for arg in SPEC.parse(args)? {
        match arg {
            Arg::Flag('c') => count = true,
            Arg::Flag('d') => repeated = true,
            Arg::Flag(_) => unique = true,
            Arg::Operand(o) => operands.push(o),
            Arg::Value(f, _) => return Err(SPEC.unsupported(&format!("-{f}"))),
        }
    }
    SPEC.stdin_only(&operands)?;
    // Neither -d nor -u prints every group; each alone prints its kind; both print none.
    let wanted = |n: usize| match (repeated, unique) {
        (false, false) => true,
        (true, false) => n > 1,
        (false, true) => n == 1,
        (true, true) => false,
    };
    let mut group: Option<(&[u8], usize)> = None;
    for line in lines(input) {
        out.tick()?;
        match &mut group {
            Some((first, n)) if *first == line => *n += 1,
            _ => {
                if let Some((first, n)) = group.replace((line, 1)) {
                    print(out, first, n, count, wanted(n))?;
                }
            }
        }
    }
    if let Some((first, n)) = group {
        print(out, first, n, count, wanted(n))?;
    }
    Ok(0)
}

fn print(
    out: &mut Out,
    line: &[u8],
    n: usize,
    count: bool,
    wanted: bool,
) -> Result<(), FilterError> {
    if !wanted {
        return Ok(());
    }
    if count {
        out.write(format!("{n:>7} ").as_bytes())?;
    }
    out.line(line)
}
