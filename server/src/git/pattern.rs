//! Regexes built from what a caller sent (`git_grep pattern`, `git_log grep`, path globs), with
//! bounds on their length and on the memory compiling them may take. The bounds are shared with
//! the command line's `grep` filter (`cmdline/filters/grep/`), which compiles its own regexes.
//!
//! Measured (3 MB literal pattern, before these bounds): the regex parser's syntax tree alone
//! added about 250 MB to the server's resident memory for one refused call, and glibc kept most
//! of it; 16 such calls at once peaked at 4.09 GB. A pattern is therefore refused by its length
//! before it is parsed, and what does get compiled is held to `size_limit`/`dfa_size_limit`.

use super::Error;

/// Bytes of a pattern (or of a call's globs together) accepted for compiling. Real patterns
/// are a few dozen bytes; git itself has no limit, but nothing a person or an agent writes by
/// hand comes near this.
pub(crate) const PATTERN_MAX: usize = 4 * 1024;
/// Heap the compiled program may take (the regex crate's default is 10 MiB).
pub(crate) const SIZE_LIMIT: usize = 1 << 20;
/// Heap the lazy DFA's cache may take per search thread (the default is 2 MiB; set explicitly so
/// it stays bounded whatever the default becomes).
pub(crate) const DFA_SIZE_LIMIT: usize = 2 << 20;
/// Nesting depth of groups and repetitions (the parser recurses on it).
pub(crate) const NEST_LIMIT: u32 = 64;
/// Characters of a refused pattern repeated in the error.
const SHOWN: usize = 40;

/// How a pattern is compiled.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Options {
    pub case_insensitive: bool,
    /// `^`/`$` match at line ends.
    pub multi_line: bool,
}

/// `pattern` compiled for searching bytes, or why not (its length and the limit, or the regex
/// crate's reason).
pub(super) fn bytes_regex(pattern: &str, options: Options) -> Result<regex::bytes::Regex, Error> {
    check_len(pattern, pattern.len())?;
    regex::bytes::RegexBuilder::new(pattern)
        .case_insensitive(options.case_insensitive)
        .multi_line(options.multi_line)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .nest_limit(NEST_LIMIT)
        .build()
        .map_err(|e| refused(pattern, reason(&e)))
}

/// [`bytes_regex`] for searching text.
pub(super) fn text_regex(pattern: &str, options: Options) -> Result<regex::Regex, Error> {
    check_len(pattern, pattern.len())?;
    regex::RegexBuilder::new(pattern)
        .case_insensitive(options.case_insensitive)
        .multi_line(options.multi_line)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .nest_limit(NEST_LIMIT)
        .build()
        .map_err(|e| refused(pattern, reason(&e)))
}

/// A regex generated from path globs: the same bounds; an error is only the reason, since the
/// generated text means nothing to the caller.
pub(super) fn glob_regex(generated: &str) -> Result<regex::bytes::Regex, String> {
    regex::bytes::RegexBuilder::new(generated)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .nest_limit(NEST_LIMIT)
        .build()
        .map_err(|e| reason(&e))
}

/// Refuses `input` when `len` (its length, or that of what it stands for) is past
/// [`PATTERN_MAX`].
pub(super) fn check_len(input: &str, len: usize) -> Result<(), Error> {
    if len <= PATTERN_MAX {
        return Ok(());
    }
    Err(refused(
        input,
        format!(
            "{len} bytes is too long: patterns are limited to {PATTERN_MAX} bytes; \
             search for a shorter distinctive part"
        ),
    ))
}

/// A refusal quoting the start of the pattern only.
fn refused(pattern: &str, reason: String) -> Error {
    Error::BadPattern {
        pattern: shown(pattern),
        reason,
    }
}

/// The start of `pattern`, as an error quotes it.
pub(crate) fn shown(pattern: &str) -> String {
    let mut shown: String = pattern.chars().take(SHOWN).collect();
    if shown.len() < pattern.len() {
        shown.push('…');
    }
    shown
}

/// The last line of the regex crate's error: the reason without the pattern and the caret
/// diagram (which repeat the whole input).
pub(crate) fn reason(e: &regex::Error) -> String {
    match e {
        regex::Error::CompiledTooBig(limit) => format!(
            "the compiled pattern would exceed the {limit}-byte limit; simplify it (fewer \
             alternatives or shorter repetitions)"
        ),
        e => {
            let text = e.to_string();
            let last = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or(&text);
            last.trim().trim_start_matches("error: ").to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The load issue's 3 MB pattern: refused by its length, naming the limit, quoting only a
    /// short start of the pattern (before, it was parsed, costing ~250 MB, and echoed whole).
    #[test]
    fn long_patterns_are_refused_before_compiling() {
        fn check(pattern: &str, expected: Option<&str>) {
            let got = text_regex(pattern, Options::default())
                .err()
                .map(|e| e.to_string());
            match (got.as_deref(), expected) {
                (None, None) => {}
                (Some(got), Some(expected)) => assert!(got.contains(expected), "{got}"),
                (got, expected) => panic!("{pattern:.60}: got {got:?}, expected {expected:?}"),
            }
            let bytes = bytes_regex(pattern, Options::default())
                .err()
                .map(|e| e.to_string());
            assert_eq!(bytes, got);
        }
        check("fix(es)?", None);
        check(&"a".repeat(PATTERN_MAX), None);
        check(
            &"a".repeat(PATTERN_MAX + 1),
            Some("4097 bytes is too long: patterns are limited to 4096 bytes"),
        );
        let huge = "b".repeat(3 << 20);
        check(&huge, Some("patterns are limited to 4096 bytes"));
        let message = text_regex(&huge, Options::default())
            .err()
            .map(|e| e.to_string());
        assert!(message.is_some_and(|m| m.len() < 200));
        // Short but huge once compiled: the size limit names its bound.
        check(
            r"\w{1000}\w{1000}",
            Some("would exceed the 1048576-byte limit"),
        );
        check(
            &format!("{}a{}", "(".repeat(100), ")".repeat(100)),
            Some("nest"),
        );
        check("a(", Some("unclosed group"));
    }
}
