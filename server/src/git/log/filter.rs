//! The log's non-path filters: author, date range and message regex, validated once.

use chrono::{DateTime, NaiveDate};

use crate::git::{Error, pattern};

/// The validated non-path filters.
pub(super) struct Filter {
    author: Option<String>,
    /// Also where the walk stops following parents.
    pub(super) since: Option<i64>,
    until: Option<i64>,
    grep: Option<regex::Regex>,
}

impl Filter {
    /// Validates `git_log`'s `author`, `since`, `until` and `grep` arguments (the regex first).
    pub(super) fn new(
        author: Option<&str>,
        since: Option<&str>,
        until: Option<&str>,
        grep: Option<&str>,
    ) -> Result<Self, Error> {
        let grep = grep
            .map(|grep| {
                let options = pattern::Options {
                    multi_line: true,
                    ..Default::default()
                };
                pattern::text_regex(grep, options)
            })
            .transpose()?;
        Ok(Self {
            author: author.map(str::to_lowercase),
            since: since.map(|s| parse_date("since", s, false)).transpose()?,
            until: until.map(|s| parse_date("until", s, true)).transpose()?,
            grep,
        })
    }

    pub(super) fn is_empty(&self) -> bool {
        self.author.is_none() && self.since.is_none() && self.until.is_none() && self.grep.is_none()
    }

    pub(super) fn matches(&self, commit: &git2::Commit<'_>) -> bool {
        let time = commit.time().seconds();
        if self.since.is_some_and(|s| time < s) || self.until.is_some_and(|u| time > u) {
            return false;
        }
        if let Some(needle) = &self.author {
            let author = commit.author();
            let hit = |bytes: &[u8]| {
                String::from_utf8_lossy(bytes)
                    .to_lowercase()
                    .contains(needle)
            };
            if !hit(author.name_bytes()) && !hit(author.email_bytes()) {
                return false;
            }
        }
        self.grep
            .as_ref()
            .is_none_or(|re| re.is_match(&String::from_utf8_lossy(commit.message_bytes())))
    }
}

/// `YYYY-MM-DD` (a UTC day: its start, or its end when `end_of_day`) or RFC 3339.
fn parse_date(arg: &str, value: &str, end_of_day: bool) -> Result<i64, Error> {
    let refuse = || {
        Error::Refused(format!(
            "{arg} '{value}' is not a date; use YYYY-MM-DD or RFC 3339 (2024-01-31T12:00:00Z)"
        ))
    };
    if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let time = if end_of_day {
            day.and_hms_opt(23, 59, 59)
        } else {
            day.and_hms_opt(0, 0, 0)
        };
        return time.map(|t| t.and_utc().timestamp()).ok_or_else(refuse);
    }
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.timestamp())
        .map_err(|_| refuse())
}
