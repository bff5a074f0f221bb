//! What every operation, git or GitHub, hands back to the tools layer: text in the shape of
//! the CLI's own output, the same information as JSON records, and the "N more" line that ends
//! a cut list.

use serde_json::Value;

/// One operation's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// Compact text in the shape of git's (or gh's) own output. When the list was cut, the last
    /// line says how many more there are and which argument fetches them.
    pub text: String,
    /// The same information as JSON: an array of flat-ish records for lists, an object otherwise.
    /// `json: [fields]` projects each record (or the object) onto the requested keys.
    pub data: Value,
    /// The field names a record can have, offered when a caller asks for an unknown one.
    pub fields: &'static [&'static str],
    /// The "N more ..." line when a list was cut (also the last line of `text`).
    pub more: Option<String>,
}

/// Appends the "N more" line to `text` when `more > 0`, returning it for [`Output::more`].
pub fn more_line(text: &mut String, more: usize, what: &str, how: &str) -> Option<String> {
    if more == 0 {
        return None;
    }
    let line = format!("... {more} more {what}; {how}");
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&line);
    Some(line)
}
