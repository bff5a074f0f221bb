//! What every filter shares: its input as lines, and its output, held to a size cap and checked
//! against the deadline as it grows.

use std::time::Instant;

use super::FilterError;

/// Largest input a filter accepts. A stage's input is the previous stage's output, so this is
/// also what one stage may hand the next: far above what a git or gh answer holds (the tools cap
/// theirs at tens of KiB), and what the jq sandbox accepts.
pub const MAX_INPUT: usize = 16 << 20;
/// Largest output a filter produces. `cat -n` and `uniq -c` add up to 8 bytes a line and jq
/// pretty-prints, so output can outgrow input; it stops here with an error instead.
pub const MAX_OUTPUT: usize = 16 << 20;
/// Lines (or other loop steps) between two looks at the clock.
const TICKS_PER_CHECK: u32 = 1024;
/// Bytes between two looks at the clock, in loops over bytes.
pub(super) const BYTES_PER_CHECK: usize = 64 << 10;
/// Characters of an argument repeated in an error.
const SHOWN: usize = 40;

/// The output of one filter, and the bounds it is held to.
pub(super) struct Out {
    program: &'static str,
    bytes: Vec<u8>,
    deadline: Instant,
    ticks: u32,
}

impl Out {
    pub fn new(program: &'static str, deadline: Instant) -> Self {
        Self {
            program,
            bytes: Vec::new(),
            deadline,
            ticks: 0,
        }
    }

    pub fn program(&self) -> &'static str {
        self.program
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<(), FilterError> {
        if self.bytes.len() + bytes.len() > MAX_OUTPUT {
            return Err(FilterError::TooLarge {
                program: self.program,
                what: "output",
                limit: MAX_OUTPUT,
            });
        }
        self.bytes.extend_from_slice(bytes);
        Ok(())
    }

    /// [`Out::write`] of a line and its newline.
    pub fn line(&mut self, bytes: &[u8]) -> Result<(), FilterError> {
        self.write(bytes)?;
        self.write(b"\n")
    }

    /// One step of a loop: every [`TICKS_PER_CHECK`] steps, fails once the deadline has passed.
    pub fn tick(&mut self) -> Result<(), FilterError> {
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks.is_multiple_of(TICKS_PER_CHECK) {
            self.check_deadline()?;
        }
        Ok(())
    }

    pub fn check_deadline(&self) -> Result<(), FilterError> {
        if Instant::now() >= self.deadline {
            return Err(FilterError::Timeout {
                program: self.program,
            });
        }
        Ok(())
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The output as text: bytes that are not UTF-8 (a multi-byte character cut in two by
    /// `cut -c`, `tr` or `grep -o`, working on bytes as in the C locale) become U+FFFD.
    pub fn into_text(self) -> String {
        match String::from_utf8(self.bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }
}

/// The lines of `input` with their newlines (a last line without one is still a line).
pub(super) fn raw_lines(input: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    input.split_inclusive(|&b| b == b'\n')
}

/// The lines of `input` without their newlines.
pub(super) fn lines(input: &[u8]) -> impl Iterator<Item = &[u8]> {
    raw_lines(input).map(|l| l.strip_suffix(b"\n").unwrap_or(l))
}

/// The start of `arg`, as an error quotes it.
pub(super) fn shown(arg: &str) -> String {
    let mut shown: String = arg.chars().take(SHOWN).collect();
    if shown.len() < arg.len() {
        shown.push('…');
    }
    shown
}
