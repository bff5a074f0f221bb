//! The filters of the command line's pipelines (`git log --oneline | grep -i fix | wc -l`):
//! `jq`, `head`, `tail`, `wc`, `sort`, `uniq`, `grep`, `cut`, `tr` and `cat`, each a pure
//! function of its arguments and the previous stage's text. No process runs (jq filters go to
//! the jq sandbox, like every other jq filter of the server).
//!
//! What a model knows about these programs must hold, so each prints byte for byte what GNU
//! coreutils 9, GNU grep 3 and jq 1.6 print for the same flags and input under `LC_ALL=C`
//! (`server/tests/e2e/cmd_filters.rs` runs the corpus `corpus.txt` through both and compares).
//! The C locale means bytes: `sort` orders by byte value (for UTF-8 text that is code point
//! order), `grep -i` and `tr`'s classes know ASCII letters only, `cut -c` counts bytes, `wc -w`
//! counts runs holding a printable ASCII character.
//!
//! Only the flags issue 15 lists are accepted (each filter's `SPEC` names them); any other is
//! refused with a message naming the supported ones, never ignored (an ignored flag gives a
//! wrong answer that looks right).
//!
//! Intended differences from the real programs, the only ones (each pinned by a test: 1 and
//! 4-6 in `tests.rs` `intended_differences`, 2 and 3 against the real jq in
//! `server/tests/e2e/cmd_filters.rs` `jq_differs_only_as_listed`, 7 in `tests.rs`):
//! 1. Output is text: where the real program would print bytes that are not UTF-8 (`cut -c`,
//!    `tr` or `grep -o` splitting a multi-byte character), gitgate prints U+FFFD for them.
//! 2. `jq` objects come out with their keys sorted (as with `jq -S`): gitgate's JSON values keep
//!    no key order. The filter is evaluated by jaq (see `server/src/jq/`), not jq 1.6, so
//!    where the two disagree (number-to-string conversion, error texts), jaq's answer stands.
//! 3. `jq` fails the whole stage on an error in any input of a stream; jq 1.6 goes on with the
//!    next input and may exit 0. `--arg NAME` must be a jq identifier. The input is read by
//!    serde_json: numbers beyond a double's range and nesting deeper than 128 levels are
//!    refused (jq 1.6 reads 1e1000 as the largest double and nests 256 deep). `$steps` (the
//!    sandbox's variable for pipelines) is defined, as null.
//! 4. Files are never read: a file operand is refused; `-` means the input, and is accepted
//!    once (GNU reads it again, finding it empty).
//! 5. `head`/`tail` counts take no size suffixes (`-n 1K`).
//! 6. `grep` treats input holding NUL bytes as text (GNU grep reports "binary file matches")
//!    and refuses back-references (`\1`), which the regex engine lacks.
//! 7. Bounds: input and output are capped ([`MAX_INPUT`], [`MAX_OUTPUT`]) and long loops stop
//!    at the command line's deadline, each with an error naming the bound.

mod args;
mod cat;
mod cut;
mod grep;
mod head;
mod jq;
mod json_text;
mod sort;
mod text;
mod tr;
mod uniq;
mod wc;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Instant;

use crate::jq::JqError;

pub use text::{MAX_INPUT, MAX_OUTPUT};

/// The filter names, for "unknown command" suggestions.
pub const PROGRAMS: &[&str] = &[
    "cat", "cut", "grep", "head", "jq", "sort", "tail", "tr", "uniq", "wc",
];

/// What a filter may use besides its input: the jq sandbox (absent where jq is not configured),
/// the calling user (jq slots are per user) and the command line's deadline.
#[derive(Debug, Clone)]
pub struct FilterContext {
    pub jq: Option<Arc<crate::jq::Sandbox>>,
    pub user: String,
    pub deadline: Instant,
}

/// What a filter printed and how it exited: `status` is the real program's exit status (grep:
/// 1 when no line was selected; jq -e: 1 for a last output of false or null, 4 for none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterOutput {
    pub text: String,
    pub status: i32,
}

/// Why a filter gave no output: one line an agent can act on.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("{program}: unsupported flag {flag}; supported: {supported}")]
    Unsupported {
        program: &'static str,
        flag: String,
        supported: &'static str,
    },
    #[error("{program}: {message}")]
    BadArgument {
        program: &'static str,
        message: String,
    },
    #[error(
        "{program}: reads only the previous command's output; file arguments such as '{operand}' \
         are not supported"
    )]
    FileOperand {
        program: &'static str,
        operand: String,
    },
    #[error("unknown filter '{name}'; filters: {}", PROGRAMS.join(", "))]
    UnknownProgram { name: String },
    #[error("an empty pipeline stage; give a command after each |")]
    Empty,
    #[error("grep: bad pattern '{pattern}': {reason}")]
    Pattern {
        pattern: String,
        reason: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error("jq: not available on this server")]
    JqUnavailable,
    #[error(transparent)]
    Jq(#[from] JqError),
    #[error("jq: the input is not valid JSON (line {line}, column {column})")]
    JqInput {
        line: usize,
        column: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{program}: its {what} is larger than {} MiB; narrow it first (e.g. with head or grep)",
        limit >> 20
    )]
    TooLarge {
        program: &'static str,
        what: &'static str,
        limit: usize,
    },
    #[error("{program}: ran past the command line's time limit; give it less input")]
    Timeout { program: &'static str },
}

/// One filter stage: `argv[0]` is the program name ("head", "grep", ...), the rest its
/// arguments.
pub fn run(argv: &[String], input: &str, ctx: &FilterContext) -> Result<FilterOutput, FilterError> {
    let (name, args) = argv.split_first().ok_or(FilterError::Empty)?;
    let program = PROGRAMS
        .iter()
        .copied()
        .find(|p| p == name)
        .ok_or_else(|| FilterError::UnknownProgram {
            name: text::shown(name),
        })?;
    if input.len() > MAX_INPUT {
        return Err(FilterError::TooLarge {
            program,
            what: "input",
            limit: MAX_INPUT,
        });
    }
    let mut out = text::Out::new(program, ctx.deadline);
    let input = input.as_bytes();
    let status = match program {
        "cat" => cat::run(args, input, &mut out)?,
        "cut" => cut::run(args, input, &mut out)?,
        "grep" => grep::run(args, input, &mut out)?,
        "head" => head::head(args, input, &mut out)?,
        "jq" => jq::run(args, input, ctx, &mut out)?,
        "sort" => sort::run(args, input, &mut out)?,
        "tail" => head::tail(args, input, &mut out)?,
        "tr" => tr::run(args, input, &mut out)?,
        "uniq" => uniq::run(args, input, &mut out)?,
        "wc" => wc::run(args, input, &mut out)?,
        _ => {
            return Err(FilterError::UnknownProgram {
                name: text::shown(name),
            });
        }
    };
    Ok(FilterOutput {
        text: out.into_text(),
        status,
    })
}
