//! What makes an event's text safe to keep and to show: credentials found anywhere in a string
//! are redacted, strings are bounded, and every view escapes what a terminal or a JSON Lines
//! reader would act on.
//!
//! Redaction and bounds apply when an event is written ([`super::AuditEvent::to_canonical_json`],
//! the one path to the store); escaping applies on output only, so the stored canonical text and
//! the hash chain of existing events stay as they are.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{NoExpand, Regex};

use super::REDACTED;

/// Credentials of the formats gitgate, GitHub and OAuth clients use, wherever they occur in a
/// string: gitgate's `ggt_`, GitHub's `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_`/`github_pat_`, JWTs
/// (three base64url parts, the first starting `eyJ`, i.e. `{"`), and `Bearer` credentials. No
/// word boundary is required before a prefix: `xghp_…` still carries the token.
static CREDENTIAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i:ggt|gh[pousr]|github_pat)_[A-Za-z0-9_]+",
        r"|eyJ[A-Za-z0-9_=-]*\.[A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]*",
        r"|(?i:bearer)\s+[A-Za-z0-9._~+/=-]+",
    ))
    .expect("the credential pattern is valid")
});

/// `text` with every credential-looking substring replaced by `[redacted]` (borrowed when there
/// is none, the common case).
pub fn redact_text(text: &str) -> Cow<'_, str> {
    if !may_hold_credential(text) {
        return Cow::Borrowed(text);
    }
    CREDENTIAL.replace_all(text, NoExpand(REDACTED))
}

/// Whether [`CREDENTIAL`] can match `text` at all: every alternative needs a `_` (the prefixed
/// tokens), `eyJ` (a JWT) or `bearer` in some case. Most strings of an event (user, session,
/// time, rule, client) have none, and this byte scan is several times cheaper than running the
/// pattern.
fn may_hold_credential(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.contains(&b'_')
        || text.contains("eyJ")
        || bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"bearer"))
}

/// The length of `c` once written inside a JSON string by serde_json.
fn json_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if c < ' ' => 6,
        c => c.len_utf8(),
    }
}

/// Room kept for the cut marker (`…[cut N bytes]` is at most 35 bytes).
const MARKER_ROOM: usize = 40;

/// `text` cut so that its JSON string form (quotes aside) holds at most `max` bytes, the cut
/// marked `…[cut N bytes]` (N bytes of `text` left out); `text` itself when it fits. Measured
/// on the JSON form so that escapes (6 bytes for a control character) cannot multiply the
/// bound; the marker fits within `max`, so capping again changes nothing. Cuts fall on
/// character boundaries.
pub fn cap(text: &str, max: usize) -> Cow<'_, str> {
    // Without characters JSON escapes, the JSON form is as long as the text.
    if text.len() <= max && !text.bytes().any(|b| b < b' ' || b == b'"' || b == b'\\') {
        return Cow::Borrowed(text);
    }
    let budget = max.saturating_sub(MARKER_ROOM);
    let mut used = 0;
    let mut cut = None;
    for (i, c) in text.char_indices() {
        used += json_len(c);
        if cut.is_none() && used > budget {
            cut = Some(i);
        }
        if used > max {
            let i = cut.unwrap_or(i);
            return Cow::Owned(format!("{}…[cut {} bytes]", &text[..i], text.len() - i));
        }
    }
    Cow::Borrowed(text)
}

/// [`redact_text`], then [`cap`]: redacting first, so a cut never leaves part of a credential.
pub fn clean(text: &str, max: usize) -> Cow<'_, str> {
    match redact_text(text) {
        Cow::Borrowed(text) => cap(text, max),
        Cow::Owned(redacted) => Cow::Owned(cap(&redacted, max).into_owned()),
    }
}

/// Characters that move the cursor, recolour or reorder text on a terminal, or end a line in a
/// JSON reader that follows JavaScript: C0 (newline, tab, ESC ...), DEL, C1, the line and
/// paragraph separators, zero-width and bidirectional formatting characters.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// `text` for one cell of a table on a terminal: every unsafe character shown as an escape
/// (`\n`, `\t`, `\r`, `\u{1b}`) and `\` doubled, so that what is shown cannot be mistaken for
/// an escape, a new row or a colour.
pub fn escape_for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c == '\\' || is_unsafe(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// JSON text with every unsafe character written as a `\uXXXX` escape. serde_json leaves
/// U+2028, U+2029, C1 (U+0085 ends a line for some readers) and bidi controls raw; inside a JSON
/// string the escape means the same character, so a parser reads the same value, and in valid
/// JSON such characters can only occur inside strings.
pub fn escape_json_text(json: &str) -> Cow<'_, str> {
    if !json.chars().any(is_unsafe) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if is_unsafe(c) {
            // Every unsafe character is in the Basic Multilingual Plane: one escape suffices.
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted_wherever_they_occur() {
        fn check(input: &str, expected: &str) {
            assert_eq!(redact_text(input), expected, "{input:?}");
        }
        let ggt = "ggt_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0f";
        check("main", "main");
        check("", "");
        check(ggt, REDACTED);
        check(&format!("feature/{ggt}"), "feature/[redacted]");
        check(
            &format!("fix: leaked {ggt} oops"),
            "fix: leaked [redacted] oops",
        );
        check(&format!("x{ggt}x"), "x[redacted]");
        check("ghp_0123456789abcdefABCDEF0123456789abcd", REDACTED);
        check(
            "gho_abc ghu_def ghs_ghi ghr_jkl",
            "[redacted] [redacted] [redacted] [redacted]",
        );
        check("GHP_SHOUTED", REDACTED);
        check("github_pat_11ABCDEFG_0123456789abcdef", REDACTED);
        check(
            ".[] | select(.t == \"ghp_abcdef\")",
            ".[] | select(.t == \"[redacted]\")",
        );
        check(
            "tok=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl&x=1",
            "tok=[redacted]&x=1",
        );
        check(
            "unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0. end",
            "unsigned [redacted] end",
        );
        check(
            "Authorization: Bearer abc.def-ghi",
            "Authorization: [redacted]",
        );
        check("bearer\tabc", REDACTED);
        // Prefixes alone, or followed by no credential character, are not credentials.
        check("the ghp_ prefix", "the ghp_ prefix");
        check("eyJ alone", "eyJ alone");
        check("git_log", "git_log");
    }

    #[test]
    fn caps_bound_the_json_form() {
        fn check(input: &str, max: usize, expected: &str) {
            let got = cap(input, max);
            assert_eq!(got, expected, "{input:?}");
            assert_eq!(cap(&got, max), got, "capping twice changes nothing");
            let json = serde_json::to_string(&*got).expect("json");
            assert!(json.len() <= max + 2, "{json}");
        }
        let x = |n: usize| "x".repeat(n);
        check("short", 50, "short");
        check(&x(50), 50, &x(50));
        check(&x(51), 50, "xxxxxxxxxx…[cut 41 bytes]");
        // A multi-byte character is kept whole or not at all.
        check("ééé", 50, "ééé");
        check(
            &format!("{}é{}", x(9), x(50)),
            50,
            "xxxxxxxxx…[cut 52 bytes]",
        );
        // Escapes count as written: six bytes per control character, two for a quote.
        check(&"\u{1}".repeat(9), 50, "\u{1}…[cut 8 bytes]");
        check(&"\"".repeat(30), 50, "\"\"\"\"\"…[cut 25 bytes]");
        let big = x(1 << 20);
        assert!(cap(&big, 1024).len() <= 1024);
        assert!(cap(&big, 1024).ends_with("…[cut 1047592 bytes]"));
    }

    #[test]
    fn the_prefilter_never_skips_a_credential() {
        for text in [
            "ghp_abc",
            "GGT_x",
            "github_PAT_1",
            "eyJa.b.c",
            "BeArEr abc",
            "x bearer\tzz",
            "plain text",
            "",
        ] {
            if CREDENTIAL.is_match(text) {
                assert!(may_hold_credential(text), "{text}");
            }
        }
        // Exhaustively over short strings of the pattern's own characters.
        let alphabet = [
            'g', 'h', 'p', 't', '_', 'e', 'y', 'J', '.', 'b', 'a', 'r', ' ', 'B',
        ];
        let mut text = String::new();
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    for d in alphabet {
                        text.clear();
                        text.extend([a, b, c, d, 'x']);
                        if CREDENTIAL.is_match(&text) {
                            assert!(may_hold_credential(&text), "{text}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn clean_redacts_before_cutting() {
        let token = format!("{}ghp_{}", "a".repeat(40), "b".repeat(40));
        assert_eq!(clean(&token, 45), "aaaaa…[cut 45 bytes]");
        assert_eq!(clean(&token, 100), format!("{}[redacted]", "a".repeat(40)));
        assert_eq!(clean("plain", 12), "plain");
    }

    #[test]
    fn terminal_escapes_are_visible() {
        fn check(input: &str, expected: &str) {
            assert_eq!(escape_for_terminal(input), expected, "{input:?}");
        }
        check("acme/widgets", "acme/widgets");
        check("café 日本", "café 日本");
        check("a\nb", "a\\nb");
        check("\r\t", "\\r\\t");
        check("\u{1b}[31mred", "\\u{1b}[31mred");
        check("\u{7f}\u{85}\u{9b}", "\\u{7f}\\u{85}\\u{9b}");
        check("\u{2028}\u{2029}", "\\u{2028}\\u{2029}");
        check("\u{202e}evil\u{2066}", "\\u{202e}evil\\u{2066}");
        check("zero\u{200b}width\u{feff}", "zero\\u{200b}width\\u{feff}");
        check("back\\slash", "back\\\\slash");
        check(
            "x\n2026-05-01T00:00:00Z  alice  gh_pr_merge",
            "x\\n2026-05-01T00:00:00Z  alice  gh_pr_merge",
        );
    }

    #[test]
    fn json_text_escapes_round_trip() {
        fn check(value: &str, expected_json: &str) {
            let raw = serde_json::to_string(value).expect("json");
            let escaped = escape_json_text(&raw);
            assert_eq!(escaped, expected_json, "{value:?}");
            let back: String = serde_json::from_str(&escaped).expect("still JSON");
            assert_eq!(back, value);
        }
        check("plain", "\"plain\"");
        check("a\u{2028}b\u{2029}c", "\"a\\u2028b\\u2029c\"");
        check("nel\u{85}", "\"nel\\u0085\"");
        check("\u{9b}31m", "\"\\u009b31m\"");
        check("\u{202e}", "\"\\u202e\"");
        check("esc\u{1b}", "\"esc\\u001b\"");
        check("é\\u2028", "\"é\\\\u2028\"");
    }
}
