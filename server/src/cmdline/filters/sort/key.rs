//! Sort keys (`-k POS1[,POS2]`): where a key starts and ends in a line, exactly as GNU's
//! `begfield` and `limfield` find them, and how two keys compare.

use std::cmp::Ordering;

use super::SPEC;
use super::numeric;
use crate::cmdline::filters::FilterError;

/// One `-k`: zero-based start field and character, end field (`None`: the line's end) and
/// character (0: the end of that field), and its own ordering options.
#[derive(Debug, Clone)]
pub(super) struct Key {
    start_field: usize,
    start_char: usize,
    end_field: Option<usize>,
    end_char: usize,
    numeric: bool,
    reverse: bool,
}

impl Key {
    /// The whole line as one key (global options and no `-k`).
    pub fn whole_line(numeric: bool, reverse: bool) -> Self {
        Self {
            start_field: 0,
            start_char: 0,
            end_field: None,
            end_char: 0,
            numeric,
            reverse,
        }
    }

    /// GNU's rule: a key with no ordering option of its own takes the global ones.
    pub fn inherit(&mut self, numeric: bool, reverse: bool) {
        if !self.numeric && !self.reverse {
            self.numeric = numeric;
            self.reverse = reverse;
        }
    }

    /// `F[.C][OPTS][,F[.C][OPTS]]`, OPTS among `n` and `r`.
    pub fn parse(spec: &str) -> Result<Self, FilterError> {
        let bad = |why: &str| {
            SPEC.bad(format!(
                "{why}: invalid field specification '{}'",
                crate::cmdline::filters::text::shown(spec)
            ))
        };
        let mut key = Self::whole_line(false, false);
        let mut rest = spec.as_bytes();
        let field = count(&mut rest).ok_or_else(|| bad("invalid number at field start"))?;
        key.start_field = field
            .checked_sub(1)
            .ok_or_else(|| bad("field number is zero"))?;
        if let Some(after) = rest.strip_prefix(b".") {
            rest = after;
            let c = count(&mut rest).ok_or_else(|| bad("invalid number after '.'"))?;
            key.start_char = c
                .checked_sub(1)
                .ok_or_else(|| bad("character offset is zero"))?;
        }
        key.options(&mut rest, spec)?;
        if let Some(after) = rest.strip_prefix(b",") {
            rest = after;
            let field = count(&mut rest).ok_or_else(|| bad("invalid number after ','"))?;
            key.end_field = Some(
                field
                    .checked_sub(1)
                    .ok_or_else(|| bad("field number is zero"))?,
            );
            if let Some(after) = rest.strip_prefix(b".") {
                rest = after;
                key.end_char = count(&mut rest).ok_or_else(|| bad("invalid number after '.'"))?;
            }
            key.options(&mut rest, spec)?;
        }
        if !rest.is_empty() {
            return Err(bad("stray character in field spec"));
        }
        Ok(key)
    }

    /// Ordering letters after a position: `n` and `r` are supported; GNU's others are refused.
    fn options(&mut self, rest: &mut &[u8], spec: &str) -> Result<(), FilterError> {
        while let Some((&c, after)) = rest.split_first() {
            match c {
                b'n' => self.numeric = true,
                b'r' => self.reverse = true,
                b'b' | b'd' | b'f' | b'g' | b'i' | b'h' | b'M' | b'R' | b'V' => {
                    return Err(SPEC.unsupported(&format!("-k {spec} (key option {})", c as char)));
                }
                _ => return Ok(()),
            }
            *rest = after;
        }
        Ok(())
    }

    /// This key of `a` against this key of `b`.
    pub fn compare(&self, a: &[u8], b: &[u8], tab: Option<u8>) -> Ordering {
        let (a, b) = (self.extract(a, tab), self.extract(b, tab));
        let ordering = if self.numeric {
            numeric::compare(a, b)
        } else {
            a.cmp(b)
        };
        if self.reverse {
            ordering.reverse()
        } else {
            ordering
        }
    }

    /// The key's bytes in `line` (empty when it would end before it starts).
    fn extract<'a>(&self, line: &'a [u8], tab: Option<u8>) -> &'a [u8] {
        let start = self.begin(line, tab);
        let end = match self.end_field {
            Some(field) => self.limit(line, tab, field).max(start),
            None => line.len(),
        };
        &line[start..end]
    }

    /// GNU's `begfield`.
    fn begin(&self, line: &[u8], tab: Option<u8>) -> usize {
        let lim = line.len();
        let mut ptr = 0;
        let mut fields = self.start_field;
        match tab {
            Some(t) => {
                while ptr < lim && fields > 0 {
                    fields -= 1;
                    while ptr < lim && line[ptr] != t {
                        ptr += 1;
                    }
                    if ptr < lim {
                        ptr += 1;
                    }
                }
            }
            None => {
                while ptr < lim && fields > 0 {
                    fields -= 1;
                    ptr = skip_field(line, ptr);
                }
            }
        }
        lim.min(ptr.saturating_add(self.start_char))
    }

    /// GNU's `limfield`.
    fn limit(&self, line: &[u8], tab: Option<u8>, end_field: usize) -> usize {
        let lim = line.len();
        let mut ptr = 0;
        let echar = self.end_char;
        let mut fields = if echar == 0 {
            end_field.saturating_add(1)
        } else {
            end_field
        };
        match tab {
            Some(t) => {
                while ptr < lim && fields > 0 {
                    fields -= 1;
                    while ptr < lim && line[ptr] != t {
                        ptr += 1;
                    }
                    if ptr < lim && (fields > 0 || echar != 0) {
                        ptr += 1;
                    }
                }
            }
            None => {
                while ptr < lim && fields > 0 {
                    fields -= 1;
                    ptr = skip_field(line, ptr);
                }
            }
        }
        if echar != 0 {
            ptr = lim.min(ptr.saturating_add(echar));
        }
        ptr
    }
}

/// Past the blanks, then the non-blanks, at `ptr`: one field when no `-t` is given (a field
/// keeps its leading blanks).
fn skip_field(line: &[u8], mut ptr: usize) -> usize {
    while ptr < line.len() && is_blank(line[ptr]) {
        ptr += 1;
    }
    while ptr < line.len() && !is_blank(line[ptr]) {
        ptr += 1;
    }
    ptr
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Leading decimal digits of `rest`, consumed; GNU reads an overflowing count as the largest.
fn count(rest: &mut &[u8]) -> Option<usize> {
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let (number, after) = rest.split_at(digits);
    *rest = after;
    let n = number.iter().try_fold(0usize, |n, &d| {
        n.checked_mul(10)?.checked_add(usize::from(d - b'0'))
    });
    Some(n.unwrap_or(usize::MAX))
}
