//! The run form of the `gitgate` tool: a command line, as a model would give a shell, parsed
//! and run by gitgate itself. No shell and no process: `git` and `gh` commands become the same
//! backend operations as the JSON tools (each checked by policy and audited as its own call),
//! and the filters of a pipeline (`jq`, `grep`, `head`, ...) run in process on their text.

pub mod filters;
pub mod lex;
pub mod parse;

pub use lex::LexError;
pub use parse::{Command, Join, Line, Pipeline, parse};
