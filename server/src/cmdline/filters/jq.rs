//! `jq`: the filter runs in the server's jq sandbox (jaq, pure functions only, in a confined
//! worker process), over each JSON text of the input in turn (`-s`: all of them as one array;
//! `-n`: null, the input unread). Output is printed as jq 1.6 prints it (`-c` compact, `-r`
//! strings raw); `-e` sets the exit status from the last input's last output.
//!
//! Per-input semantics in one sandbox call: the filter F becomes `.[] | [F]` over the array
//! of inputs, so each input's outputs come back as one array and the last input's outputs
//! are known for `-e`. `--arg NAME VALUE` becomes `"VALUE" as $NAME | ...`, the value
//! JSON-encoded, so no text of it is ever read as jq.

use serde_json::Value;

use super::args::Spec;
use super::text::{Out, shown};
use super::{FilterContext, FilterError, json_text};

const SPEC: Spec = Spec {
    program: "jq",
    flags: "rcsen",
    valued: "",
    supported: "-r -c -s -e -n --arg NAME VALUE",
    options_first: false,
};

/// The flags and the filter, read.
#[derive(Default)]
struct Options<'a> {
    raw: bool,
    compact: bool,
    slurp: bool,
    exit_status: bool,
    null_input: bool,
    filter: Option<&'a str>,
    vars: Vec<(&'a str, &'a str)>,
}

pub(super) fn run(
    args: &[String],
    input: &[u8],
    ctx: &FilterContext,
    out: &mut Out,
) -> Result<i32, FilterError> {
    let o = parse(args)?;
    let sandbox = ctx.jq.as_ref().ok_or(FilterError::JqUnavailable)?;
    // jq reads a program of only blanks and comments as `.`; inside brackets jaq would read
    // it as nothing.
    let filter = match o.filter {
        Some(f)
            if !f
                .lines()
                .all(|l| l.trim().is_empty() || l.trim().starts_with('#')) =>
        {
            f
        }
        _ => ".",
    };
    let (program, value, groups) = if o.null_input {
        (format!("[\n{filter}\n]"), Value::Null, 1)
    } else {
        let inputs = parse_stream(input)?;
        if o.slurp {
            (format!("[\n{filter}\n]"), Value::Array(inputs), 1)
        } else if inputs.is_empty() {
            // jq 1.6 runs nothing and exits 0, even with -e.
            return Ok(0);
        } else {
            let n = inputs.len();
            (format!(".[] | [\n{filter}\n]"), Value::Array(inputs), n)
        }
    };
    let mut bound = String::new();
    for (name, value) in &o.vars {
        bound.push_str(&format!(
            "{} as ${name} | ",
            Value::String((*value).to_owned())
        ));
    }
    let remaining = out
        .deadline()
        .saturating_duration_since(std::time::Instant::now());
    if remaining.is_zero() {
        return Err(FilterError::Timeout { program: "jq" });
    }
    let results = sandbox.run(
        &ctx.user,
        &format!("{bound}{program}"),
        value,
        Value::Null,
        groups,
        remaining,
    )?;
    let mut status = 0;
    for group in results {
        let Value::Array(values) = group else {
            return Err(SPEC.bad("the filter's brackets do not balance".into()));
        };
        status = match values.last() {
            None => 4,
            Some(Value::Null | Value::Bool(false)) => 1,
            Some(_) => 0,
        };
        for value in &values {
            out.tick()?;
            let mut text = String::new();
            match value {
                Value::String(s) if o.raw => text.push_str(s),
                value => json_text::write(&mut text, value, o.compact),
            }
            text.push('\n');
            out.write(text.as_bytes())?;
        }
    }
    Ok(if o.exit_status { status } else { 0 })
}

/// jq's own argument reading: clustered short flags, the long names of the same flags,
/// `--arg NAME VALUE`, the first other word as the filter.
fn parse(args: &[String]) -> Result<Options<'_>, FilterError> {
    let mut o = Options::default();
    let mut words = args.iter();
    let mut options_ended = false;
    while let Some(word) = words.next() {
        let is_option = !options_ended && word.len() > 1 && word.starts_with('-');
        if !is_option {
            if o.filter.is_none() {
                o.filter = Some(word);
                continue;
            }
            return Err(FilterError::FileOperand {
                program: "jq",
                operand: shown(word),
            });
        }
        match word.as_str() {
            "--" => options_ended = true,
            "--arg" => {
                let (Some(name), Some(value)) = (words.next(), words.next()) else {
                    return Err(SPEC.bad("--arg takes two values: --arg NAME VALUE".into()));
                };
                if !is_identifier(name) {
                    return Err(SPEC.bad(format!(
                        "--arg NAME must be a jq variable name (letters, digits, _), not '{}'",
                        shown(name)
                    )));
                }
                o.vars.push((name, value));
            }
            "--raw-output" => o.raw = true,
            "--compact-output" => o.compact = true,
            "--slurp" => o.slurp = true,
            "--exit-status" => o.exit_status = true,
            "--null-input" => o.null_input = true,
            long if long.starts_with("--") => return Err(SPEC.unsupported(long)),
            cluster => {
                for flag in cluster[1..].chars() {
                    match flag {
                        'r' => o.raw = true,
                        'c' => o.compact = true,
                        's' => o.slurp = true,
                        'e' => o.exit_status = true,
                        'n' => o.null_input = true,
                        other => return Err(SPEC.unsupported(&format!("-{other}"))),
                    }
                }
            }
        }
    }
    Ok(o)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Every JSON text of the input, in order (jq reads a stream: `1 2`, `{}{}`, one per line).
fn parse_stream(input: &[u8]) -> Result<Vec<Value>, FilterError> {
    serde_json::Deserializer::from_slice(input)
        .into_iter::<Value>()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| FilterError::JqInput {
            line: source.line(),
            column: source.column(),
            source,
        })
}
