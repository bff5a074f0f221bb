//! `cat`: the input unchanged, or with `-n` each line numbered as GNU does (`%6d\t`).

use super::FilterError;
use super::args::{Arg, Spec};
use super::text::{Out, raw_lines};

const SPEC: Spec = Spec {
    program: "cat",
    flags: "n",
    valued: "",
    supported: "-n",
    options_first: false,
};

pub(super) fn run(args: &[String], input: &[u8], out: &mut Out) -> Result<i32, FilterError> {
    let mut number = false;
    let mut operands = Vec::new();
    for arg in SPEC.parse(args)? {
        match arg {
            Arg::Flag(_) => number = true,
            Arg::Operand(o) => operands.push(o),
            Arg::Value(f, _) => return Err(SPEC.unsupported(&format!("-{f}"))),
        }
    }
    SPEC.stdin_only(&operands)?;
    if !number {
        out.write(input)?;
        return Ok(0);
    }
    for (i, line) in raw_lines(input).enumerate() {
        out.tick()?;
        out.write(format!("{:>6}\t", i + 1).as_bytes())?;
        out.write(line)?;
    }
    Ok(0)
}
