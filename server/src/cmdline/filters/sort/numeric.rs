//! GNU sort's `-n` comparison (gnulib's `strnumcmp` with `.` as the decimal point and no
//! thousands separator, as in the C locale): leading blanks skipped, an optional `-`, digits,
//! an optional fraction. Compared as decimal strings, so no precision is lost; text that is
//! not a number compares as zero.

use std::cmp::Ordering;

/// Compares the numbers at the start of `a` and `b` (each a sort key).
pub(super) fn compare(a: &[u8], b: &[u8]) -> Ordering {
    let a = Cursor::new(skip_blanks(a));
    let b = Cursor::new(skip_blanks(b));
    to_ordering(numcompare(a, b))
}

fn skip_blanks(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(s.len());
    &s[start..]
}

fn to_ordering(n: i32) -> Ordering {
    n.cmp(&0)
}

/// A position in a key; past its end reads as NUL, as the C code's terminated string does.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a [u8]) -> Self {
        Self { s, i: 0 }
    }
    fn get(&self) -> u8 {
        self.s.get(self.i).copied().unwrap_or(0)
    }
    /// Past a leading `-`.
    fn after_sign(mut self) -> Self {
        self.i += 1;
        self
    }
    /// Moves on and reads the next byte (`*++p`).
    fn next(&mut self) -> u8 {
        self.i += 1;
        self.get()
    }
}

fn digit(c: u8) -> bool {
    c.is_ascii_digit()
}

/// gnulib's `numcompare` (strnumcmp-in.h). Its two negative branches are the positive one
/// with the operands swapped, and its mixed-sign branches ask only whether each side is
/// non-zero; written that way here.
fn numcompare(a: Cursor<'_>, b: Cursor<'_>) -> i32 {
    match (a.get() == b'-', b.get() == b'-') {
        (true, true) => magnitude(b.after_sign(), a.after_sign()),
        (true, false) => {
            if nonzero(a.after_sign()) {
                -1
            } else {
                -i32::from(nonzero(b))
            }
        }
        (false, true) => {
            if nonzero(b.after_sign()) {
                1
            } else {
                i32::from(nonzero(a))
            }
        }
        (false, false) => magnitude(a, b),
    }
}

/// Compares two unsigned numbers: leading zeros skipped, integer parts by length then by
/// their first differing digit, fractions digit by digit.
fn magnitude(mut a: Cursor<'_>, mut b: Cursor<'_>) -> i32 {
    let mut ta = a.get();
    let mut tb = b.get();
    while ta == b'0' {
        ta = a.next();
    }
    while tb == b'0' {
        tb = b.next();
    }
    while ta == tb && digit(ta) {
        ta = a.next();
        tb = b.next();
    }
    if (ta == b'.' && !digit(tb)) || (tb == b'.' && !digit(ta)) {
        return fraccompare(a, b);
    }
    let tmp = i32::from(ta) - i32::from(tb);
    let (log_a, log_b) = (int_len(&mut a, ta), int_len(&mut b, tb));
    if log_a != log_b {
        return if log_a < log_b { -1 } else { 1 };
    }
    if log_a == 0 {
        return 0;
    }
    tmp
}

/// Whether a number (sign already read) is not zero: a non-zero digit after its zeros, or
/// after its decimal point's zeros.
fn nonzero(mut c: Cursor<'_>) -> bool {
    while c.get() == b'0' {
        c.i += 1;
    }
    if c.get() == b'.' {
        c.i += 1;
        while c.get() == b'0' {
            c.i += 1;
        }
    }
    digit(c.get())
}

/// Digits left in the integer part, starting at the current byte `t`.
fn int_len(c: &mut Cursor<'_>, mut t: u8) -> usize {
    let mut n = 0;
    while digit(t) {
        n += 1;
        t = c.next();
    }
    n
}

/// gnulib's `fraccompare`: both cursors at a decimal point or past their integer parts.
fn fraccompare(mut a: Cursor<'_>, mut b: Cursor<'_>) -> i32 {
    if a.get() == b'.' && b.get() == b'.' {
        loop {
            let (x, y) = (a.next(), b.next());
            if x != y {
                break;
            }
            if !digit(x) {
                return 0;
            }
        }
        let (x, y) = (a.get(), b.get());
        if digit(x) && digit(y) {
            return i32::from(x) - i32::from(y);
        }
        if digit(x) {
            return trailing_nonzero(a);
        }
        if digit(y) {
            return -trailing_nonzero(b);
        }
        return 0;
    }
    if a.get() == b'.' {
        a.i += 1;
        return trailing_nonzero(a);
    }
    if b.get() == b'.' {
        b.i += 1;
        return -trailing_nonzero(b);
    }
    0
}

/// 1 when a non-zero digit follows the zeros at the cursor, else 0.
fn trailing_nonzero(mut c: Cursor<'_>) -> i32 {
    while c.get() == b'0' {
        c.i += 1;
    }
    i32::from(digit(c.get()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_as_gnu_sort_n() {
        let mut keys: Vec<&str> = vec![
            "10",
            "-5",
            "3.5",
            "",
            "-0",
            "abc",
            "-1.25",
            ".5",
            "-.5",
            "007",
            "1e3",
            " 2",
            "+4",
            "3.50",
            "-10",
            "-9.99",
            "0.0001",
            "12345678901234567890",
            "12345678901234567891",
        ];
        keys.sort_by(|a, b| compare(a.as_bytes(), b.as_bytes()).then(a.cmp(b)));
        assert_eq!(
            keys,
            [
                "-10",
                "-9.99",
                "-5",
                "-1.25",
                "-.5",
                "",
                "+4",
                "-0",
                "abc",
                "0.0001",
                ".5",
                "1e3",
                " 2",
                "3.5",
                "3.50",
                "007",
                "10",
                "12345678901234567890",
                "12345678901234567891"
            ]
        );
    }
}
