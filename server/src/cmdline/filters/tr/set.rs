//! tr's sets as GNU reads them: escapes first (`\n`, `\t`, `\\`, `\NNN` octal; an escaped
//! byte is never special), then the constructs `[:class:]`, `[=c=]`, `[c*n]` and `[c*]`,
//! ranges `a-z`, and plain bytes. A set is kept as its elements, not expanded, because GNU's
//! rules for `[:upper:]`/`[:lower:]` in the second set and for padding it depend on them.

use super::bad;
use crate::cmdline::filters::FilterError;

/// The C locale's character classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    Alnum,
    Alpha,
    Blank,
    Cntrl,
    Digit,
    Graph,
    Lower,
    Print,
    Punct,
    Space,
    Upper,
    Xdigit,
}

impl Class {
    fn named(name: &[u8]) -> Option<Self> {
        Some(match name {
            b"alnum" => Self::Alnum,
            b"alpha" => Self::Alpha,
            b"blank" => Self::Blank,
            b"cntrl" => Self::Cntrl,
            b"digit" => Self::Digit,
            b"graph" => Self::Graph,
            b"lower" => Self::Lower,
            b"print" => Self::Print,
            b"punct" => Self::Punct,
            b"space" => Self::Space,
            b"upper" => Self::Upper,
            b"xdigit" => Self::Xdigit,
            _ => return None,
        })
    }

    pub fn contains(self, b: u8) -> bool {
        match self {
            Self::Alnum => b.is_ascii_alphanumeric(),
            Self::Alpha => b.is_ascii_alphabetic(),
            Self::Blank => b == b' ' || b == b'\t',
            Self::Cntrl => b.is_ascii_control(),
            Self::Digit => b.is_ascii_digit(),
            Self::Graph => b.is_ascii_graphic(),
            Self::Lower => b.is_ascii_lowercase(),
            Self::Print => b.is_ascii_graphic() || b == b' ',
            Self::Punct => b.is_ascii_punctuation(),
            Self::Space => matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'),
            Self::Upper => b.is_ascii_uppercase(),
            Self::Xdigit => b.is_ascii_hexdigit(),
        }
    }

    /// Members in byte order.
    fn members(self) -> impl Iterator<Item = u8> {
        (0..=255u8).filter(move |&b| self.contains(b))
    }

    fn size(self) -> usize {
        self.members().count()
    }
}

/// One construct of a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Element {
    Byte(u8),
    Range(u8, u8),
    Class(Class),
    Equiv(u8),
    /// `[c*n]`; a count of 0 is `[c*]` (or `[c*0]`): as many as make the sets equally long.
    Repeat(u8, usize),
}

/// A parsed set and GNU's facts about it.
#[derive(Debug, Clone, Default)]
pub(super) struct Set {
    pub elements: Vec<Element>,
    /// Bytes it stands for (an indefinite repeat counts 0 until it is filled).
    pub length: usize,
}

impl Set {
    pub fn parse(text: &str) -> Result<Self, FilterError> {
        let (bytes, escaped) = unquote(text.as_bytes());
        let elements = build(&bytes, &escaped)?;
        let length = elements.iter().map(|e| element_len(*e)).sum();
        Ok(Self { elements, length })
    }

    pub fn has_class(&self) -> bool {
        self.elements.iter().any(|e| matches!(e, Element::Class(_)))
    }

    /// A class other than upper and lower (refused in the second set when translating).
    pub fn has_restricted_class(&self) -> bool {
        (self.elements.iter())
            .any(|e| matches!(e, Element::Class(c) if !matches!(c, Class::Upper | Class::Lower)))
    }

    pub fn has_equiv(&self) -> bool {
        self.elements.iter().any(|e| matches!(e, Element::Equiv(_)))
    }

    pub fn indefinite_repeats(&self) -> usize {
        (self.elements.iter())
            .filter(|e| matches!(e, Element::Repeat(_, 0)))
            .count()
    }

    /// Which bytes the set holds (delete and squeeze sets), computed per element so a long
    /// `[c*n]` costs nothing.
    pub fn members(&self) -> [bool; 256] {
        let mut members = [false; 256];
        for e in &self.elements {
            match *e {
                Element::Byte(b) | Element::Equiv(b) => members[usize::from(b)] = true,
                Element::Repeat(b, n) => members[usize::from(b)] |= n > 0,
                Element::Range(a, b) => (a..=b).for_each(|b| members[usize::from(b)] = true),
                Element::Class(c) => c.members().for_each(|b| members[usize::from(b)] = true),
            }
        }
        members
    }
}

fn element_len(e: Element) -> usize {
    match e {
        Element::Byte(_) | Element::Equiv(_) => 1,
        Element::Range(a, b) => usize::from(b - a) + 1,
        Element::Class(c) => c.size(),
        Element::Repeat(_, n) => n,
    }
}

/// Whether a byte came from a class `[:upper:]` or `[:lower:]` (GNU's `Upper_Lower_class`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Case {
    None,
    Upper,
    Lower,
}

/// GNU's `get_next`: the set's bytes one at a time, knowing where each element starts.
pub(super) struct Walker<'a> {
    elements: &'a [Element],
    at: usize,
    /// Within the current element: `None` at its start, else the last byte (or count) given.
    state: Option<usize>,
}

impl<'a> Walker<'a> {
    pub fn new(set: &'a Set) -> Self {
        Self {
            elements: &set.elements,
            at: 0,
            state: None,
        }
    }

    /// At the start of an element.
    pub fn at_new_element(&self) -> bool {
        self.state.is_none()
    }

    /// Past the current element (GNU's `skip_construct`).
    pub fn skip(&mut self) {
        self.at += 1;
        self.state = None;
    }

    fn finish_element(&mut self) {
        self.at += 1;
        self.state = None;
    }

    /// The next byte and the case class it came from.
    pub fn next_with_case(&mut self) -> Option<(u8, Case)> {
        loop {
            let element = *self.elements.get(self.at)?;
            match element {
                Element::Byte(b) | Element::Equiv(b) => {
                    self.finish_element();
                    return Some((b, Case::None));
                }
                Element::Range(first, last) => {
                    let b = match self.state {
                        None => first,
                        Some(prev) => u8::try_from(prev + 1).unwrap_or(last),
                    };
                    self.state = Some(usize::from(b));
                    if b == last {
                        self.finish_element();
                    }
                    return Some((b, Case::None));
                }
                Element::Class(class) => {
                    let case = match class {
                        Class::Upper => Case::Upper,
                        Class::Lower => Case::Lower,
                        _ => Case::None,
                    };
                    let from = self.state.map_or(0, |s| s + 1);
                    let mut members = class.members().filter(|&b| usize::from(b) >= from);
                    let Some(b) = members.next() else {
                        self.finish_element();
                        continue;
                    };
                    if members.next().is_some() {
                        self.state = Some(usize::from(b));
                    } else {
                        self.finish_element();
                    }
                    return Some((b, case));
                }
                Element::Repeat(b, n) => {
                    if n == 0 {
                        self.finish_element();
                        continue;
                    }
                    let given = self.state.map_or(1, |s| s + 1);
                    self.state = Some(given);
                    if given >= n {
                        self.finish_element();
                    }
                    return Some((b, Case::None));
                }
            }
        }
    }

    /// Sets an indefinite repeat's count (GNU's `get_s2_spec_stats`).
    pub fn fill(set: &mut Set, count: usize) {
        if let Some(Element::Repeat(_, n)) =
            (set.elements.iter_mut()).find(|e| matches!(e, Element::Repeat(_, 0)))
        {
            *n = count;
            set.length += count;
        }
    }
}

/// GNU's `unquote`: the bytes after escapes, and which of them were escaped.
fn unquote(s: &[u8]) -> (Vec<u8>, Vec<bool>) {
    let mut bytes = Vec::with_capacity(s.len());
    let mut escaped = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'\\' {
            bytes.push(s[i]);
            escaped.push(false);
            i += 1;
            continue;
        }
        let Some(&next) = s.get(i + 1) else {
            // A backslash at the end stands for itself.
            bytes.push(b'\\');
            escaped.push(false);
            break;
        };
        i += 2;
        let c = match next {
            b'a' => 0x07,
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 0x0b,
            b'0'..=b'7' => {
                let mut c = u32::from(next - b'0');
                for _ in 0..2 {
                    match s.get(i) {
                        Some(&d @ b'0'..=b'7') if c * 8 + u32::from(d - b'0') < 256 => {
                            c = c * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                u8::try_from(c).unwrap_or(u8::MAX)
            }
            other => other,
        };
        bytes.push(c);
        escaped.push(true);
    }
    (bytes, escaped)
}

/// GNU's `build_spec_list`.
fn build(p: &[u8], escaped: &[bool]) -> Result<Vec<Element>, FilterError> {
    let is = |i: usize, c: u8| p.get(i) == Some(&c) && !escaped.get(i).copied().unwrap_or(true);
    let mut out = Vec::new();
    let mut i = 0;
    while i + 2 < p.len() {
        if is(i, b'[') {
            if is(i + 1, b':') || is(i + 1, b'=') {
                let delim = p[i + 1];
                let close = (i + 2..p.len().saturating_sub(1))
                    .find(|&j| p[j] == delim && p[j + 1] == b']' && !escaped[j] && !escaped[j + 1]);
                if let Some(close) = close {
                    let name = &p[i + 2..close];
                    let element = class_or_equiv(delim, name, p, escaped, i)?;
                    if let Some(element) = element {
                        out.push(element);
                        i = close + 2;
                        continue;
                    }
                }
            }
            if let Some((element, close)) = repeat(p, escaped, i + 1)? {
                out.push(element);
                i = close + 1;
                continue;
            }
        }
        if is(i + 1, b'-') {
            let (first, last) = (p[i], p[i + 2]);
            if first > last {
                return Err(bad(format!(
                    "range-endpoints of '{}-{}' are in reverse collating sequence order",
                    first.escape_ascii(),
                    last.escape_ascii()
                )));
            }
            out.push(Element::Range(first, last));
            i += 3;
        } else {
            out.push(Element::Byte(p[i]));
            i += 1;
        }
    }
    out.extend(p[i..].iter().map(|&b| Element::Byte(b)));
    Ok(out)
}

/// `[:name:]` or `[=c=]` once its closing delimiter is found; `None` when it is really a
/// `[c*n]` (GNU tries that next), an error when it is neither.
fn class_or_equiv(
    delim: u8,
    name: &[u8],
    p: &[u8],
    escaped: &[bool],
    open: usize,
) -> Result<Option<Element>, FilterError> {
    if name.is_empty() {
        return Err(bad(if delim == b':' {
            "missing character class name '[::]'".into()
        } else {
            "missing equivalence class character '[==]'".into()
        }));
    }
    let element = if delim == b':' {
        Class::named(name).map(Element::Class)
    } else if let [c] = name {
        Some(Element::Equiv(*c))
    } else {
        None
    };
    if element.is_some() || looks_like_repeat(p, escaped, open + 2) {
        return Ok(element);
    }
    Err(bad(if delim == b':' {
        format!("invalid character class '{}'", name.escape_ascii())
    } else {
        format!(
            "{}: equivalence class operand must be a single character",
            name.escape_ascii()
        )
    }))
}

/// GNU's `star_digits_closebracket`: `*`, digits, `]` from `at`.
fn looks_like_repeat(p: &[u8], escaped: &[bool], at: usize) -> bool {
    if p.get(at) != Some(&b'*') || escaped[at] {
        return false;
    }
    let digits = p[at + 1..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let close = at + 1 + digits;
    p.get(close) == Some(&b']') && !escaped[close]
}

/// GNU's `find_bracketed_repeat` at `start` (the byte after `[`): `c*]` or `c*N]` with N
/// octal when it starts with 0; the element and the index of `]`.
fn repeat(
    p: &[u8],
    escaped: &[bool],
    start: usize,
) -> Result<Option<(Element, usize)>, FilterError> {
    if p.get(start + 1) != Some(&b'*') || escaped[start + 1] {
        return Ok(None);
    }
    let mut i = start + 2;
    while i < p.len() && !escaped[i] {
        if p[i] == b']' {
            let digits = &p[start + 2..i];
            let count = if digits.is_empty() {
                0
            } else {
                let radix = if digits[0] == b'0' { 8 } else { 10 };
                std::str::from_utf8(digits)
                    .ok()
                    .and_then(|d| usize::from_str_radix(d, radix).ok())
                    .filter(|&n| n < (1 << 31))
                    .ok_or_else(|| {
                        bad(format!(
                            "invalid repeat count '{}' in [c*n] construct",
                            digits.escape_ascii()
                        ))
                    })?
            };
            return Ok(Some((Element::Repeat(p[start], count), i)));
        }
        i += 1;
    }
    Ok(None)
}
