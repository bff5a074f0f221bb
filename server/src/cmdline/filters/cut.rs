//! `cut`: fields (`-d C -f LIST`, tab by default) or byte positions (`-c LIST`; bytes, as in
//! the C locale). LIST is GNU's: `1,3-5,7-`, `-2`, separated by commas or blanks. A line
//! without the delimiter prints whole; every printed line ends with a newline.

use super::FilterError;
use super::args::{Arg, Spec};
use super::text::{Out, lines};

const SPEC: Spec = Spec {
    program: "cut",
    flags: "",
    valued: "dfc",
    supported: "-d C -f LIST, -c LIST",
    options_first: false,
};

/// What to cut.
enum Mode {
    Fields { delimiter: u8, list: List },
    Bytes(List),
}

pub(super) fn run(args: &[String], input: &[u8], out: &mut Out) -> Result<i32, FilterError> {
    match parse(args)? {
        Mode::Fields { delimiter, list } => {
            for line in lines(input) {
                out.tick()?;
                if !line.contains(&delimiter) {
                    out.line(line)?;
                    continue;
                }
                let mut first = true;
                for (i, field) in line.split(|&b| b == delimiter).enumerate() {
                    if list.contains(i + 1) {
                        if !first {
                            out.write(&[delimiter])?;
                        }
                        out.write(field)?;
                        first = false;
                    }
                }
                out.write(b"\n")?;
            }
        }
        Mode::Bytes(list) => {
            for line in lines(input) {
                out.tick()?;
                let kept: Vec<u8> = (line.iter().enumerate())
                    .filter(|(i, _)| list.contains(i + 1))
                    .map(|(_, &b)| b)
                    .collect();
                out.line(&kept)?;
            }
        }
    }
    Ok(0)
}

fn parse(args: &[String]) -> Result<Mode, FilterError> {
    let mut delimiter = None;
    let mut list: Option<(char, &str)> = None;
    let mut operands = Vec::new();
    for arg in SPEC.parse(args)? {
        match arg {
            Arg::Value('d', d) => {
                // GNU takes an empty delimiter as NUL.
                delimiter = match d.as_bytes() {
                    [] => Some(0),
                    [b] => Some(*b),
                    _ => return Err(SPEC.bad("the delimiter must be a single character".into())),
                }
            }
            Arg::Value(kind, l) => {
                if list.is_some() {
                    return Err(SPEC.bad("only one list may be specified".into()));
                }
                list = Some((kind, l));
            }
            Arg::Operand(o) => operands.push(o),
            Arg::Flag(f) => return Err(SPEC.unsupported(&format!("-{f}"))),
        }
    }
    SPEC.stdin_only(&operands)?;
    match list {
        None => Err(SPEC.bad(
            "you must specify a list of bytes, characters, or fields (-f LIST or -c LIST)".into(),
        )),
        Some(('f', l)) => Ok(Mode::Fields {
            delimiter: delimiter.unwrap_or(b'\t'),
            list: List::parse(l, "fields are numbered from 1")?,
        }),
        Some((_, l)) => {
            if delimiter.is_some() {
                return Err(SPEC.bad(
                    "an input delimiter may be specified only when operating on fields".into(),
                ));
            }
            Ok(Mode::Bytes(List::parse(
                l,
                "byte/character positions are numbered from 1",
            )?))
        }
    }
}

/// The selected positions: ranges, 1-based and inclusive.
struct List(Vec<(usize, usize)>);

impl List {
    fn contains(&self, n: usize) -> bool {
        self.0.iter().any(|&(from, to)| from <= n && n <= to)
    }

    /// GNU's `set_fields`: items separated by commas or blanks, each `N`, `N-`, `-M` or `N-M`.
    fn parse(text: &str, from_one: &str) -> Result<Self, FilterError> {
        let bad = |m: &str| SPEC.bad(m.to_owned());
        let mut ranges = Vec::new();
        for item in text.split([',', ' ', '\t']) {
            let (low, high) = match item.split_once('-') {
                None => {
                    let n = number(item)?
                        .filter(|&n| n > 0)
                        .ok_or_else(|| bad(from_one))?;
                    (n, n)
                }
                Some((low, high)) => {
                    if high.contains('-') {
                        return Err(bad("invalid field range"));
                    }
                    let low = match number(low)? {
                        Some(0) => return Err(bad(from_one)),
                        Some(n) => n,
                        None if high.is_empty() => {
                            return Err(bad("invalid range with no endpoint: -"));
                        }
                        None => 1,
                    };
                    let high = number(high)?.unwrap_or(usize::MAX);
                    if high < low {
                        return Err(bad("invalid decreasing range"));
                    }
                    (low, high)
                }
            };
            ranges.push((low, high));
        }
        Ok(Self(ranges))
    }
}

/// A position: `None` when absent, an error when not decimal digits.
fn number(text: &str) -> Result<Option<usize>, FilterError> {
    if text.is_empty() {
        return Ok(None);
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SPEC.bad(format!(
            "invalid field value '{}'",
            super::text::shown(text)
        )));
    }
    text.parse().map(Some).map_err(|_| {
        SPEC.bad(format!(
            "position {} is too large",
            super::text::shown(text)
        ))
    })
}
