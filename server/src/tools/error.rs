//! The one place backend errors become what the agent sees: a tool error of one actionable
//! line with a classified [`ErrorCode`], inputs quoted only in part, server paths stripped.

use rmcp::model::CallToolResult;

/// The class of a failed call, as the audit event records it (`outcome.code`). A closed set:
/// queries and dashboards can rely on these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The arguments do not fit the tool's schema or rules.
    InvalidArguments,
    /// No tool of that name.
    UnknownTool,
    /// Policy refused the call.
    Denied,
    /// No configured repository of that name (or none named among several).
    UnknownRepo,
    /// A configured repository cannot be opened.
    RepoUnavailable,
    /// A path outside the worktree, malformed, or missing.
    BadPath,
    /// A malformed or unknown revision.
    BadRevision,
    /// A malformed, unknown or existing branch name.
    BadBranch,
    /// A regular expression that does not compile or is too large.
    BadPattern,
    /// The operation would lose work or is not supported here.
    Refused,
    /// The repository has no commits.
    EmptyRepository,
    /// libgit2 failed.
    Git,
    /// GitHub's rate limit.
    RateLimited,
    /// GitHub has no such object.
    NotFound,
    /// GitHub refused the user's token.
    GithubUnauthorized,
    /// The user has no usable GitHub token.
    NoGithubToken,
    /// GitHub answered with an error.
    Upstream,
    /// GitHub's answer exceeded the byte cap.
    UpstreamTooLarge,
    /// An upstream request or a pipeline ran out of time.
    Timeout,
    /// GitHub could not be reached.
    Unreachable,
    /// The toolset is not configured on this server.
    Unavailable,
    /// A jq filter failed or met a sandbox limit.
    Jq,
    /// A step of a pipeline failed (the step's own event has its code).
    PipelineStep,
    /// A command line ended with a non-zero status (each operation's own event has its code).
    CommandFailed,
    /// The client cancelled the call (`notifications/cancelled`); what ran before stays done.
    Cancelled,
    /// The audit log could not be written; the result was withheld.
    AuditUnavailable,
    /// A bug: a tool task failed.
    Internal,
}

impl ErrorCode {
    /// Every code, for documentation and tests.
    pub const ALL: &[ErrorCode] = &[
        ErrorCode::InvalidArguments,
        ErrorCode::UnknownTool,
        ErrorCode::Denied,
        ErrorCode::UnknownRepo,
        ErrorCode::RepoUnavailable,
        ErrorCode::BadPath,
        ErrorCode::BadRevision,
        ErrorCode::BadBranch,
        ErrorCode::BadPattern,
        ErrorCode::Refused,
        ErrorCode::EmptyRepository,
        ErrorCode::Git,
        ErrorCode::RateLimited,
        ErrorCode::NotFound,
        ErrorCode::GithubUnauthorized,
        ErrorCode::NoGithubToken,
        ErrorCode::Upstream,
        ErrorCode::UpstreamTooLarge,
        ErrorCode::Timeout,
        ErrorCode::Unreachable,
        ErrorCode::Unavailable,
        ErrorCode::Jq,
        ErrorCode::PipelineStep,
        ErrorCode::CommandFailed,
        ErrorCode::Cancelled,
        ErrorCode::AuditUnavailable,
        ErrorCode::Internal,
    ];

    /// The name stored in audit events.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArguments => "invalid-arguments",
            ErrorCode::UnknownTool => "unknown-tool",
            ErrorCode::Denied => "denied",
            ErrorCode::UnknownRepo => "unknown-repo",
            ErrorCode::RepoUnavailable => "repo-unavailable",
            ErrorCode::BadPath => "bad-path",
            ErrorCode::BadRevision => "bad-revision",
            ErrorCode::BadBranch => "bad-branch",
            ErrorCode::BadPattern => "bad-pattern",
            ErrorCode::Refused => "refused",
            ErrorCode::EmptyRepository => "empty-repository",
            ErrorCode::Git => "git",
            ErrorCode::RateLimited => "rate-limited",
            ErrorCode::NotFound => "not-found",
            ErrorCode::GithubUnauthorized => "github-unauthorized",
            ErrorCode::NoGithubToken => "no-github-token",
            ErrorCode::Upstream => "upstream",
            ErrorCode::UpstreamTooLarge => "upstream-too-large",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Unreachable => "unreachable",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Jq => "jq",
            ErrorCode::PipelineStep => "pipeline-step",
            ErrorCode::CommandFailed => "command-failed",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::AuditUnavailable => "audit-unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as the agent sees it: one actionable line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ToolError {
    pub message: String,
    /// The class of failure, for the audit log.
    pub code: ErrorCode,
}

impl ToolError {
    /// An invalid-arguments error.
    pub fn new(message: impl Into<String>) -> Self {
        Self::with_code(ErrorCode::InvalidArguments, message)
    }

    pub fn with_code(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code,
        }
    }
}

impl From<crate::git::Error> for ToolError {
    fn from(e: crate::git::Error) -> Self {
        use crate::git::Error as E;
        let code = match &e {
            E::UnknownRepo { .. } | E::RepoRequired { .. } => ErrorCode::UnknownRepo,
            E::Open { .. } => ErrorCode::RepoUnavailable,
            E::BadPath { .. } | E::PathNotFound { .. } => ErrorCode::BadPath,
            E::BadRevision { .. } | E::UnknownRevision { .. } => ErrorCode::BadRevision,
            E::BadBranchName { .. } | E::UnknownBranch { .. } | E::BranchExists { .. } => {
                ErrorCode::BadBranch
            }
            E::BadPattern { .. } => ErrorCode::BadPattern,
            E::Refused(_)
            | E::WouldOverwrite { .. }
            | E::WouldLoseChanges { .. }
            | E::MergeConflicts { .. } => ErrorCode::Refused,
            E::EmptyRepository => ErrorCode::EmptyRepository,
            E::Git(_) => ErrorCode::Git,
        };
        // The caller's own input is quoted back only in part: a 3 MB pattern is not worth
        // returning, nor storing in the audit log.
        let message = match e {
            // libgit2's own messages can carry absolute paths of the server machine; keep the
            // class and the gist only.
            E::Git(inner) => format!("git: {}", inner.message()),
            E::Open { name, .. } => {
                format!(
                    "repository '{}' cannot be opened on the server",
                    quote(&name)
                )
            }
            E::UnknownRepo { name, configured } => E::UnknownRepo {
                name: quote(&name),
                configured,
            }
            .to_string(),
            E::BadPath { path, reason } => E::BadPath {
                path: quote(&path),
                reason,
            }
            .to_string(),
            E::PathNotFound { path, at } => E::PathNotFound {
                path: quote(&path),
                at: quote(&at),
            }
            .to_string(),
            E::BadRevision { rev, reason } => E::BadRevision {
                rev: quote(&rev),
                reason,
            }
            .to_string(),
            E::UnknownRevision { rev, nearest } => E::UnknownRevision {
                rev: quote(&rev),
                nearest,
            }
            .to_string(),
            E::BadBranchName { name, reason } => E::BadBranchName {
                name: quote(&name),
                reason,
            }
            .to_string(),
            E::UnknownBranch { name, nearest } => E::UnknownBranch {
                name: quote(&name),
                nearest,
            }
            .to_string(),
            E::BranchExists { name } => E::BranchExists { name: quote(&name) }.to_string(),
            E::BadPattern { pattern, reason } => E::BadPattern {
                pattern: quote(&pattern),
                reason,
            }
            .to_string(),
            other => other.to_string(),
        };
        Self { message, code }
    }
}

/// Characters of a caller's input an error message quotes back.
const QUOTE_MAX: usize = 200;
/// Characters of any error message an agent is shown (and the audit event records): a message
/// quoting a whole input through some other path is cut in the middle, keeping its start and
/// its end, where the reason usually is.
const MESSAGE_MAX: usize = 1000;

/// `input` as an error message quotes it: at most [`QUOTE_MAX`] characters (then how many more
/// there were), control characters escaped so the message stays one line.
pub(crate) fn quote(input: &str) -> String {
    let mut out = String::with_capacity(input.len().min(QUOTE_MAX + 32));
    let mut chars = input.chars();
    for c in chars.by_ref().take(QUOTE_MAX) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    let rest = chars.count();
    if rest > 0 {
        out.push_str(&format!("…[{rest} more chars]"));
    }
    out
}

/// `message` bounded to [`MESSAGE_MAX`] characters: the start and the end kept, the middle cut.
pub(crate) fn bounded(message: String) -> String {
    let len = message.chars().count();
    if len <= MESSAGE_MAX {
        return message;
    }
    let tail = MESSAGE_MAX / 5;
    let head = MESSAGE_MAX - tail - 40;
    let start: String = message.chars().take(head).collect();
    let end: String = message.chars().skip(len - tail).collect();
    format!("{start}…[cut {} chars]…{end}", len - head - tail)
}

/// An `isError` result carrying one line.
pub fn error_result(e: &ToolError) -> CallToolResult {
    let message = bounded(e.message.clone());
    CallToolResult::error(vec![rmcp::model::ContentBlock::text(message)])
}

/// The text of a result's first content block (an error's message).
pub(crate) fn first_text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .find_map(|c| match c {
            rmcp::model::ContentBlock::Text(t) => Some(t.text.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_have_distinct_kebab_case_names() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "{name} twice");
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{name}"
            );
        }
    }

    /// The load issue: a 3 MB pattern came back whole in the reply (and a 1 MB tool name in
    /// the reply and the diagnostics log). Inputs are quoted in part, messages bounded.
    #[test]
    fn errors_quote_bounded_prefixes_of_inputs() {
        fn check(e: crate::git::Error, starts: &str, max_len: usize) {
            let message = error_text(&error_result(&ToolError::from(e)));
            assert!(message.starts_with(starts), "{message:.300}");
            assert!(message.len() <= max_len, "{} bytes", message.len());
        }
        use crate::git::Error as E;
        let mb = "p".repeat(3 << 20);
        let quoted = format!("bad pattern '{}…[3145528 more chars]'", "p".repeat(200));
        let e = E::BadPattern {
            pattern: mb.clone(),
            reason: "too long".into(),
        };
        check(e, &quoted, 300);
        let e = E::UnknownRevision {
            rev: mb.clone(),
            nearest: vec!["main".into()],
        };
        check(e, "unknown revision 'ppp", 400);
        let e = E::BadPath {
            path: format!("a\nb\u{1b}{mb}"),
            reason: "outside".into(),
        };
        check(e, "bad path 'a\\nb\\u{1b}ppp", 400);
        let e = E::UnknownRepo {
            name: mb.clone(),
            configured: vec!["app".into()],
        };
        check(e, "unknown repository 'ppp", 400);
        check(E::Refused(mb), "ppp", MESSAGE_MAX * 4);
        check(E::EmptyRepository, "the repository has no commits yet", 100);
    }

    #[test]
    fn quotes_and_bounds() {
        fn check(input: &str, expected: &str) {
            assert_eq!(quote(input), expected);
        }
        check("main", "main");
        check("a\nb\tc\u{1b}", "a\\nb\\tc\\u{1b}");
        check(&"x".repeat(200), &"x".repeat(200));
        check(
            &"é".repeat(201),
            &format!("{}…[1 more chars]", "é".repeat(200)),
        );
        let long = format!("start {} end", "m".repeat(5000));
        let cut = bounded(long);
        assert!(cut.chars().count() <= MESSAGE_MAX, "{cut}");
        assert!(
            cut.starts_with("start mmm") && cut.ends_with("mmm end"),
            "{cut}"
        );
        assert!(cut.contains("m…[cut 4050 chars]…m"), "{cut}");
        assert_eq!(bounded("short".into()), "short");
    }

    fn error_text(result: &CallToolResult) -> String {
        match result.content.first() {
            Some(rmcp::model::ContentBlock::Text(t)) => t.text.clone(),
            other => panic!("{other:?}"),
        }
    }
}
