//! How git prints things: abbreviated ids, dates in git's formats, plurals, the diffstat
//! summary, quoted paths. Shared by every git operation (and the only place these formats are
//! written).

use chrono::{DateTime, FixedOffset, Offset};

/// `word` or `words`, for "1 more commit" and "2 more commits".
pub fn plural(n: usize, word: &str) -> &str {
    match (n, word) {
        (1, _) => word,
        (_, "commit") => "commits",
        (_, "line") => "lines",
        _ => word,
    }
}

/// The first 7 hex digits of an id, as `%h` prints it in a small repository.
pub fn short_id(id: git2::Oid) -> String {
    let mut hex = id.to_string();
    hex.truncate(7);
    hex
}

/// The shortest unambiguous abbreviation (at least 7 digits), as git prints ids in its messages
/// (`[main 1a2b3c4]`, `HEAD is now at`, `git branch -v`).
pub fn unique_short_id(git: &git2::Repository, oid: git2::Oid) -> String {
    git.find_object(oid, None)
        .ok()
        .and_then(|o| o.short_id().ok())
        .and_then(|b| b.as_str().ok().map(str::to_owned))
        .unwrap_or_else(|| short_id(oid))
}

/// ` 2 files changed, 3 insertions(+), 1 deletion(-)` as git words it: the last line of a
/// diffstat and of `git commit`'s answer.
pub fn stat_summary(files: usize, insertions: usize, deletions: usize) -> String {
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut line = format!(" {}", plural(files, "file changed", "files changed"));
    if insertions > 0 || deletions == 0 {
        line.push_str(&format!(
            ", {}",
            plural(insertions, "insertion(+)", "insertions(+)")
        ));
    }
    if deletions > 0 || insertions == 0 {
        line.push_str(&format!(
            ", {}",
            plural(deletions, "deletion(-)", "deletions(-)")
        ));
    }
    line
}

/// A signature time in its own zone, as git shows it.
pub fn local(time: git2::Time) -> DateTime<FixedOffset> {
    let zone = FixedOffset::east_opt(time.offset_minutes().saturating_mul(60))
        .unwrap_or_else(|| chrono::Utc.fix());
    DateTime::from_timestamp(time.seconds(), 0)
        .unwrap_or(DateTime::UNIX_EPOCH)
        .with_timezone(&zone)
}

/// `YYYY-MM-DD` (`--date=short`).
pub fn short_date(time: git2::Time) -> String {
    local(time).format("%Y-%m-%d").to_string()
}

/// `YYYY-MM-DD HH:MM:SS +ZZZZ` (`--date=iso`).
pub fn iso_date(time: git2::Time) -> String {
    local(time).format("%Y-%m-%d %H:%M:%S %z").to_string()
}

/// The date in JSON records.
pub fn rfc3339(time: git2::Time) -> String {
    local(time).to_rfc3339()
}

/// Renders a path as git names it in output: UTF-8 as is, other bytes (and control characters)
/// as C-style octal escapes inside double quotes, like git's `core.quotePath` does for them.
pub fn display_path(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(|c| c.is_control() || c == '"' || c == '\\') => s.to_owned(),
        _ => {
            let mut out = String::from("\"");
            for chunk in bytes.utf8_chunks() {
                for c in chunk.valid().chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        '\t' => out.push_str("\\t"),
                        c if c.is_control() => out.push_str(&format!("\\{:03o}", c as u32)),
                        c => out.push(c),
                    }
                }
                for b in chunk.invalid() {
                    out.push_str(&format!("\\{b:03o}"));
                }
            }
            out.push('"');
            out
        }
    }
}
