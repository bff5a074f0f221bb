//! Matching lines as GNU grep does: a line matches when the pattern matches anywhere in it;
//! `-o` prints POSIX matches (leftmost, then longest: `grep -oE 'a|ab'` prints `ab`, where the
//! regex crate's leftmost-first match would be `a`); `-w` takes the first match whose ends
//! are not next to a word character, trying shorter matches at the same start before later
//! starts, as GNU's `EGexecute` does.
//!
//! The regex crate finds where a match starts; a lazy DFA built with `MatchKind::All`, run
//! anchored there, finds the longest end. Both are held to the bounds of every caller regex
//! (`git/pattern.rs`).

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, MatchKind};

use crate::git::pattern::{DFA_SIZE_LIMIT, NEST_LIMIT, SIZE_LIMIT};

/// A compiled pattern and what `-w` asks of its matches.
pub(super) struct Matcher {
    first: regex::bytes::Regex,
    longest: DFA,
    cache: Cache,
    words: bool,
}

/// Why a pattern did not compile.
pub(super) type BuildError = Box<dyn std::error::Error + Send + Sync>;

impl Matcher {
    /// `pattern` in the regex crate's syntax (see `posix.rs`).
    pub fn new(pattern: &str, case_insensitive: bool, words: bool) -> Result<Self, BuildError> {
        let first = regex::bytes::RegexBuilder::new(pattern)
            .unicode(false)
            .case_insensitive(case_insensitive)
            .size_limit(SIZE_LIMIT)
            .dfa_size_limit(DFA_SIZE_LIMIT)
            .nest_limit(NEST_LIMIT)
            .build()?;
        let longest = DFA::builder()
            .configure(
                DFA::config()
                    .match_kind(MatchKind::All)
                    .cache_capacity(DFA_SIZE_LIMIT),
            )
            .syntax(
                syntax::Config::new()
                    .unicode(false)
                    .utf8(false)
                    .case_insensitive(case_insensitive)
                    .nest_limit(NEST_LIMIT),
            )
            .thompson(
                thompson::Config::new()
                    .utf8(false)
                    .nfa_size_limit(Some(SIZE_LIMIT)),
            )
            .build(pattern)?;
        let cache = longest.create_cache();
        Ok(Self {
            first,
            longest,
            cache,
            words,
        })
    }

    /// Whether `line` holds a match.
    pub fn is_match(&mut self, line: &[u8]) -> bool {
        if self.words {
            self.find_at(line, 0).is_some()
        } else {
            self.first.is_match(line)
        }
    }

    /// The first match in `line` starting at or after `from`: leftmost, then longest, and
    /// with `-w` the first that stands as a word.
    pub fn find_at(&mut self, line: &[u8], from: usize) -> Option<(usize, usize)> {
        let mut from = from;
        loop {
            let first = self.first.find_at(line, from)?;
            let start = first.start();
            let mut end = (self.longest_end(line, start, line.len())).unwrap_or(first.end());
            if !self.words {
                return Some((start, end));
            }
            loop {
                if !word_byte_before(line, start) && !word_byte_at(line, end) {
                    return Some((start, end));
                }
                // A shorter match at the same start (an empty one does not count).
                if end == start {
                    break;
                }
                match self.longest_end(line, start, end - 1) {
                    Some(shorter) if shorter > start => end = shorter,
                    _ => break,
                }
            }
            if start >= line.len() {
                return None;
            }
            from = start + 1;
        }
    }

    /// The end of the longest match starting at `start` and ending by `limit`.
    fn longest_end(&mut self, line: &[u8], start: usize, limit: usize) -> Option<usize> {
        if limit < start || limit > line.len() {
            return None;
        }
        let input = Input::new(line).range(start..limit).anchored(Anchored::Yes);
        match self.longest.try_search_fwd(&mut self.cache, &input) {
            Ok(found) => found.map(|m| m.offset()),
            // The lazy DFA gives up only when told to (it is not); fall back to the regex
            // crate's own end rather than fail the line.
            Err(_) => self
                .first
                .find_at(&line[..limit], start)
                .filter(|m| m.start() == start)
                .map(|m| m.end()),
        }
    }
}

/// GNU's word characters in the C locale.
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn word_byte_before(line: &[u8], at: usize) -> bool {
    at > 0 && line.get(at - 1).copied().is_some_and(is_word)
}

fn word_byte_at(line: &[u8], at: usize) -> bool {
    line.get(at).copied().is_some_and(is_word)
}
