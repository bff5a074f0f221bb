//! `wc`: lines (`-l`), words (`-w`) and bytes (`-c`), all three by default, in that order.
//! One count prints bare; several print in columns 7 wide, as GNU does for a pipe.

use super::FilterError;
use super::args::{Arg, Spec};
use super::text::{BYTES_PER_CHECK, Out};

const SPEC: Spec = Spec {
    program: "wc",
    flags: "lwc",
    valued: "",
    supported: "-l -w -c",
    options_first: false,
};

/// Width of each column when several counts print (GNU's width for input that is not a
/// regular file).
const WIDTH: usize = 7;

pub(super) fn run(args: &[String], input: &[u8], out: &mut Out) -> Result<i32, FilterError> {
    let (mut lines, mut words, mut bytes) = (false, false, false);
    let mut operands = Vec::new();
    for arg in SPEC.parse(args)? {
        match arg {
            Arg::Flag('l') => lines = true,
            Arg::Flag('w') => words = true,
            Arg::Flag(_) => bytes = true,
            Arg::Operand(o) => operands.push(o),
            Arg::Value(f, _) => return Err(SPEC.unsupported(&format!("-{f}"))),
        }
    }
    // GNU names an input given as an operand: `wc -l -` prints `7 -`.
    let named = SPEC.stdin_only(&operands)?;
    if !(lines || words || bytes) {
        (lines, words, bytes) = (true, true, true);
    }
    let mut counts = Vec::new();
    if lines {
        counts.push(input.iter().filter(|&&b| b == b'\n').count());
    }
    if words {
        counts.push(count_words(input, out)?);
    }
    if bytes {
        counts.push(input.len());
    }
    let mut text = if let [one] = counts[..] {
        one.to_string()
    } else {
        let columns: Vec<String> = counts.iter().map(|n| format!("{n:>WIDTH$}")).collect();
        columns.join(" ")
    };
    if named {
        text.push_str(" -");
    }
    out.line(text.as_bytes())?;
    Ok(0)
}

/// Words as GNU wc counts them in the C locale: a run between whitespace bytes is a word when
/// it holds a printable ASCII character (other bytes neither start nor end one).
fn count_words(input: &[u8], out: &mut Out) -> Result<usize, FilterError> {
    let mut words = 0;
    let mut in_word = false;
    for (i, &b) in input.iter().enumerate() {
        if i % BYTES_PER_CHECK == 0 {
            out.check_deadline()?;
        }
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => {
                if in_word {
                    words += 1;
                }
                in_word = false;
            }
            0x21..=0x7e => in_word = true,
            _ => {}
        }
    }
    Ok(words + usize::from(in_word))
}
