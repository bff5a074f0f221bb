//! GNU grep's pattern syntax, basic (BRE) and extended (ERE), rewritten for the regex crate
//! (which is compiled with Unicode off, so it matches bytes as the C locale does).
//!
//! Every literal byte is written as `\xHH` unless it is a letter or digit, so nothing of the
//! caller's pattern reaches the regex crate with a meaning it did not have in POSIX. The
//! context rules are GNU's (dfa.c): at the start of a pattern, group or alternative (zero-width
//! tokens do not count) `*` and `\{` are literal in a BRE, and `*`, `+`, `?` and an interval
//! repeat nothing in an ERE (GNU warns, then matches as if they were absent); in a BRE, `^` anchors only
//! there and `$` only at the end or before `\)` or `\|`; in an ERE, a `{` that does not open a
//! well-formed interval is literal, as is an unmatched `)`. A repeated repetition (`a**`,
//! `a+?`) repeats the repetition, where the regex crate would read `+?` as lazy.

/// How to read a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Syntax {
    Basic,
    Extended,
    Fixed,
}

/// GNU's largest repetition count (RE_DUP_MAX).
const DUP_MAX: u32 = 32_767;

/// `pattern` in the regex crate's syntax, or GNU's reason for refusing it.
pub(super) fn translate(pattern: &[u8], syntax: Syntax) -> Result<String, String> {
    if syntax == Syntax::Fixed {
        let mut out = String::new();
        pattern.iter().for_each(|&b| literal(&mut out, b));
        return Ok(out);
    }
    let mut t = Translator {
        p: pattern,
        i: 0,
        ere: syntax == Syntax::Extended,
        out: String::with_capacity(pattern.len() * 2),
        atom: None,
        quantified: false,
        laststart: true,
        after_open: true,
        groups: 0,
    };
    while t.i < t.p.len() {
        t.token()?;
    }
    if t.groups > 0 {
        return Err("Unmatched ( or \\(".into());
    }
    Ok(t.out)
}

struct Translator<'a> {
    p: &'a [u8],
    i: usize,
    ere: bool,
    out: String,
    /// Where the last atom starts in `out`, and whether it must be grouped to be repeated.
    atom: Option<(usize, bool)>,
    /// The last atom already carries a repetition.
    quantified: bool,
    /// Only zero-width tokens since the start, a `(` or a `|` (dfa.c's `laststart`).
    laststart: bool,
    /// The last token was the start, a `(` or a `|` (where a BRE `^` anchors).
    after_open: bool,
    groups: usize,
}

impl Translator<'_> {
    fn peek(&self, at: usize) -> Option<u8> {
        self.p.get(at).copied()
    }

    fn token(&mut self) -> Result<(), String> {
        let c = self.p[self.i];
        self.i += 1;
        match c {
            b'\\' => self.escape(),
            b'[' => self.bracket(),
            b'.' => {
                self.atom_text(".", false);
                Ok(())
            }
            b'*' => self.repeat("*", c),
            b'+' | b'?' if self.ere => self.repeat(if c == b'+' { "+" } else { "?" }, c),
            b'{' if self.ere => self.interval(),
            b'(' if self.ere => {
                self.open();
                Ok(())
            }
            b')' if self.ere && self.groups > 0 => {
                self.close();
                Ok(())
            }
            b'|' if self.ere => {
                self.alternative();
                Ok(())
            }
            b'^' if self.ere || self.after_open => {
                self.zero_width("^");
                Ok(())
            }
            b'$' if self.ere || self.dollar_anchors() => {
                self.zero_width("$");
                Ok(())
            }
            _ => {
                self.literal_atom(c);
                Ok(())
            }
        }
    }

    /// A BRE `$` anchors at the end of the pattern or before `\)` or `\|`.
    fn dollar_anchors(&self) -> bool {
        matches!(
            (self.peek(self.i), self.peek(self.i + 1)),
            (None, _) | (Some(b'\\'), Some(b')' | b'|'))
        )
    }

    fn escape(&mut self) -> Result<(), String> {
        let Some(c) = self.peek(self.i) else {
            return Err("Trailing backslash".into());
        };
        self.i += 1;
        match c {
            b'(' if !self.ere => self.open(),
            b')' if !self.ere => {
                if self.groups == 0 {
                    return Err("Unmatched ) or \\)".into());
                }
                self.close();
            }
            b'|' if !self.ere => self.alternative(),
            b'{' if !self.ere => return self.interval(),
            b'+' | b'?' if !self.ere => {
                return self.repeat(if c == b'+' { "+" } else { "?" }, c);
            }
            b'1'..=b'9' => {
                return Err(
                    "back-references (\\1 to \\9) are not supported; match the text itself".into(),
                );
            }
            b'w' => self.atom_text(r"\w", false),
            b'W' => self.atom_text(r"\W", false),
            b's' => self.atom_text(r"\s", false),
            b'S' => self.atom_text(r"\S", false),
            b'b' => self.zero_width(r"\b"),
            b'B' => self.zero_width(r"\B"),
            b'<' => self.zero_width(r"\b{start}"),
            b'>' => self.zero_width(r"\b{end}"),
            b'`' => self.zero_width(r"\A"),
            b'\'' => self.zero_width(r"\z"),
            // Any other escaped byte is itself (GNU warns about `\d` and the like, and matches
            // the letter).
            other => self.literal_atom(other),
        }
        Ok(())
    }

    fn open(&mut self) {
        self.groups += 1;
        self.out.push('(');
        self.atom = None;
        self.laststart = true;
        self.after_open = true;
    }

    fn close(&mut self) {
        self.groups -= 1;
        self.out.push(')');
        // The group is the atom: find its opening parenthesis.
        let start = matching_open(&self.out);
        self.atom = Some((start, false));
        self.quantified = false;
        self.laststart = false;
        self.after_open = false;
    }

    fn alternative(&mut self) {
        self.out.push('|');
        self.atom = None;
        self.laststart = true;
        self.after_open = true;
    }

    fn zero_width(&mut self, text: &str) {
        let start = self.out.len();
        self.out.push_str(text);
        // A repetition right after it repeats it (it must be grouped for the regex crate);
        // at the start of an alternative the repetition is literal instead.
        self.atom = Some((start, true));
        self.quantified = false;
        self.after_open = false;
    }

    fn atom_text(&mut self, text: &str, group: bool) {
        let start = self.out.len();
        self.out.push_str(text);
        self.atom = Some((start, group));
        self.quantified = false;
        self.laststart = false;
        self.after_open = false;
    }

    fn literal_atom(&mut self, b: u8) {
        let mut text = String::new();
        literal(&mut text, b);
        self.atom_text(&text, false);
    }

    /// `*`, `+` or `?` (`op`, written `c`). Where nothing precedes it, a BRE reads it as a
    /// literal and an ERE as repeating nothing (GNU warns and matches as if it were absent).
    fn repeat(&mut self, op: &str, c: u8) -> Result<(), String> {
        if self.laststart {
            if !self.ere {
                self.literal_atom(c);
            }
            return Ok(());
        }
        self.apply(op);
        Ok(())
    }

    fn apply(&mut self, op: &str) {
        if let Some((start, group)) = self.atom {
            if group || self.quantified {
                self.out.insert_str(start, "(?:");
                self.out.push(')');
            }
            self.atom = Some((start, false));
        }
        self.out.push_str(op);
        self.quantified = true;
        self.after_open = false;
    }

    /// An interval after `{` (ERE) or `\{` (BRE): `{M}`, `{M,}`, `{,N}`, `{,}`, `{M,N}`.
    fn interval(&mut self) -> Result<(), String> {
        let open_at = self.i;
        let parsed = self.parse_interval();
        if self.laststart && self.ere && parsed.is_some() {
            // An ERE interval with nothing before it repeats nothing, like `*` there.
            return Ok(());
        }
        let Some((min, max)) = parsed.filter(|_| !self.laststart) else {
            if self.ere || self.laststart {
                // Not an interval: a literal brace.
                self.i = open_at;
                self.literal_atom(b'{');
                return Ok(());
            }
            return Err("Unmatched \\{".into());
        };
        if max.is_some_and(|max| max < min) {
            return Err("Invalid content of \\{\\}".into());
        }
        if min > DUP_MAX || max.is_some_and(|m| m > DUP_MAX) {
            return Err("Regular expression too big".into());
        }
        let op = match max {
            Some(max) if max == min => format!("{{{min}}}"),
            Some(max) => format!("{{{min},{max}}}"),
            None => format!("{{{min},}}"),
        };
        self.apply(&op);
        Ok(())
    }

    /// The bounds of a well-formed interval (moving past it), else `None`.
    fn parse_interval(&mut self) -> Option<(u32, Option<u32>)> {
        let mut i = self.i;
        let number = |i: &mut usize| -> Option<u32> {
            let start = *i;
            while self.peek(*i).is_some_and(|b| b.is_ascii_digit()) {
                *i += 1;
            }
            let digits = std::str::from_utf8(&self.p[start..*i]).ok()?;
            (!digits.is_empty()).then(|| digits.parse().unwrap_or(u32::MAX))
        };
        let min = number(&mut i);
        let (min, max) = if self.peek(i) == Some(b',') {
            i += 1;
            (Some(min.unwrap_or(0)), number(&mut i))
        } else {
            (min, min)
        };
        if !self.ere {
            if self.peek(i) != Some(b'\\') {
                return None;
            }
            i += 1;
        }
        if self.peek(i) != Some(b'}') {
            return None;
        }
        self.i = i + 1;
        Some((min?, max))
    }

    /// A bracket expression after `[`.
    fn bracket(&mut self) -> Result<(), String> {
        let unmatched = || "Unmatched [, [^, [:, [., or [=".to_owned();
        let mut class = String::from("[");
        if self.peek(self.i) == Some(b'^') {
            class.push('^');
            self.i += 1;
        }
        let content_start = self.i;
        let mut first = true;
        loop {
            let c = self.peek(self.i).ok_or_else(unmatched)?;
            if c == b']' && !first {
                self.i += 1;
                break;
            }
            first = false;
            if c == b'[' && self.peek(self.i + 1) == Some(b':') {
                let name = self.bracketed(b':').ok_or_else(unmatched)?;
                let name = std::str::from_utf8(name).unwrap_or("");
                if !CLASSES.contains(&name) {
                    return Err("Invalid character class name".into());
                }
                class.push_str(&format!("[:{name}:]"));
                continue;
            }
            let low = self.bracket_byte()?;
            let is_range =
                self.peek(self.i) == Some(b'-') && self.peek(self.i + 1).is_some_and(|b| b != b']');
            if is_range {
                self.i += 1;
                let high = self.bracket_byte()?;
                if high < low {
                    return Err("Invalid range end".into());
                }
                literal(&mut class, low);
                class.push('-');
                literal(&mut class, high);
            } else {
                literal(&mut class, low);
            }
        }
        let content = &self.p[content_start..self.i - 1];
        if content.len() >= 2
            && content.starts_with(b":")
            && content.ends_with(b":")
            && content.iter().any(|&b| b != b':')
        {
            return Err("character class syntax is [[:space:]], not [:space:]".into());
        }
        class.push(']');
        self.atom_text(&class, false);
        Ok(())
    }

    /// One byte of a bracket expression: itself, or `[.c.]` / `[=c=]`.
    fn bracket_byte(&mut self) -> Result<u8, String> {
        let c = self.peek(self.i).ok_or("Unmatched [, [^, [:, [., or [=")?;
        if c == b'[' && matches!(self.peek(self.i + 1), Some(b'.' | b'=')) {
            let delim = self.p[self.i + 1];
            let inner = self
                .bracketed(delim)
                .ok_or("Unmatched [, [^, [:, [., or [=")?;
            return match inner {
                [b] => Ok(*b),
                _ => Err("Invalid collation character".into()),
            };
        }
        self.i += 1;
        Ok(c)
    }

    /// The text of `[:...:]`, `[.x.]` or `[=x=]` at the cursor (moving past it).
    fn bracketed(&mut self, delim: u8) -> Option<&[u8]> {
        let start = self.i + 2;
        let end = (start..self.p.len().saturating_sub(1))
            .find(|&j| self.p[j] == delim && self.p[j + 1] == b']')?;
        self.i = end + 2;
        Some(&self.p[start..end])
    }
}

/// The C locale's character classes, as bracket expressions name them.
const CLASSES: &[&str] = &[
    "alnum", "alpha", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space",
    "upper", "xdigit",
];

/// `b` as a regex literal with no special meaning anywhere (in or out of a class).
fn literal(out: &mut String, b: u8) {
    if b.is_ascii_alphanumeric() {
        out.push(char::from(b));
    } else {
        out.push_str(&format!("\\x{b:02X}"));
    }
}

/// Where the group that `out` ends with opens. Literal parentheses are written `\x28`/`\x29`
/// and classes never hold a bare one, so counting the bare ones is enough.
fn matching_open(out: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in out.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, syntax: Syntax, expected: Result<&str, &str>) {
        let got = translate(pattern.as_bytes(), syntax);
        assert_eq!(
            got.as_deref(),
            expected.map_err(|e| e.to_owned()).as_deref(),
            "{pattern}"
        );
    }

    #[test]
    fn posix_patterns_become_regex_crate_patterns() {
        use Syntax::*;
        check("a+b", Basic, Ok(r"a\x2Bb"));
        check(r"a\+b", Basic, Ok(r"a+b"));
        check(r"\(ab\)\{2\}", Basic, Ok(r"(ab){2}"));
        check(r"a\|b", Basic, Ok(r"a|b"));
        check("a|b", Basic, Ok(r"a\x7Cb"));
        check("^*a", Basic, Ok(r"^\x2Aa"));
        check("x^y$", Basic, Ok(r"x\x5Ey$"));
        check("x$y", Basic, Ok(r"x\x24y"));
        check(r"\(^a$\)", Basic, Ok(r"(^a$)"));
        check("a**", Basic, Ok(r"(?:a*)*"));
        check("a+?", Extended, Ok(r"(?:a+)?"));
        check("a{,2}", Extended, Ok(r"a{0,2}"));
        check("a{", Extended, Ok(r"a\x7B"));
        check("a{2,1}", Extended, Err(r"Invalid content of \{\}"));
        check(r"a\{1", Basic, Err(r"Unmatched \{"));
        check("*a", Extended, Ok(r"a"));
        check("*a", Basic, Ok(r"\x2Aa"));
        check("a|{1}b", Extended, Ok(r"a|b"));
        check("a)", Extended, Ok(r"a\x29"));
        check("(a", Extended, Err(r"Unmatched ( or \("));
        check(r"[]a\-]", Basic, Ok(r"[\x5Da\x5C\x2D]"));
        check("[^[:digit:]x-z]", Extended, Ok(r"[^[:digit:]x-z]"));
        check("[z-a]", Basic, Err("Invalid range end"));
        check(
            "[:space:]",
            Basic,
            Err("character class syntax is [[:space:]], not [:space:]"),
        );
        check("[[:foo:]]", Basic, Err("Invalid character class name"));
        check(r"\w\<\d", Basic, Ok(r"\w\b{start}d"));
        check(
            r"a\1",
            Basic,
            Err(r"back-references (\1 to \9) are not supported; match the text itself"),
        );
        check("a\\", Basic, Err("Trailing backslash"));
        check("é", Basic, Ok(r"\xC3\xA9"));
        check("a.b(", Fixed, Ok(r"a\x2Eb\x28"));
    }
}
