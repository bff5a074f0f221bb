//! MCP prompts: the jobs agents are most often given, as templates a client can offer its user
//! (Claude Code shows them as slash commands). Their arguments (`repo`, a pull request or
//! issue `number`, `base`/`head` revisions) are what `completion/complete` completes (in the
//! `completion` module, which depends on this one, not the other way).
//!
//! A prompt only writes the request; the agent then does the work through the tools, under
//! policy and audit like any other call.

use rmcp::model::{GetPromptResult, Prompt, PromptArgument, PromptMessage, Role};
use serde_json::{Map, Value};

/// What a prompt argument holds, which decides how it is completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A configured repository name or `OWNER/NAME`.
    Repo,
    /// An open pull request's number.
    PullRequest,
    /// An open issue's number.
    Issue,
    /// A local branch or tag.
    Revision,
}

struct Arg {
    name: &'static str,
    kind: Kind,
    required: bool,
    description: &'static str,
}

struct Template {
    name: &'static str,
    description: &'static str,
    args: &'static [Arg],
    /// The request, with `{arg}` placeholders.
    text: &'static str,
}

const REPO: Arg = Arg {
    name: "repo",
    kind: Kind::Repo,
    required: false,
    description: "Repository (default: the configured one)",
};

const PR_NUMBER: Arg = Arg {
    name: "number",
    kind: Kind::PullRequest,
    required: true,
    description: "Pull request number",
};

const TEMPLATES: &[Template] = &[
    Template {
        name: "review_pr",
        description: "Review a pull request: its change, discussion and checks",
        args: &[REPO, PR_NUMBER],
        text: "Review pull request #{number}{in_repo}. Read it with its review comments \
               (gh pr view {number} --comments), its diff (gh pr diff {number}) and its checks \
               (gh pr checks {number}). Report correctness problems first, then risks and \
               missing tests, each with file and line; say whether it is ready to merge.",
    },
    Template {
        name: "fix_issue",
        description: "Fix an issue on a new branch and open a pull request",
        args: &[
            REPO,
            Arg {
                name: "number",
                kind: Kind::Issue,
                required: true,
                description: "Issue number",
            },
            Arg {
                name: "base",
                kind: Kind::Revision,
                required: false,
                description: "Branch to start from (default: the default branch)",
            },
        ],
        text: "Fix issue #{number}{in_repo}. Read it (gh issue view {number} --comments), find \
               the cause in the code, then on a new branch from {base} make the smallest change \
               that fixes it, commit, push the branch and open a pull request whose body says \
               `Fixes #{number}`. Report the pull request's number and its check state.",
    },
    Template {
        name: "explain_ci_failure",
        description: "Find why a pull request's CI fails",
        args: &[REPO, PR_NUMBER],
        text: "Find out why CI fails on pull request #{number}{in_repo}: list its checks \
               (gh pr checks {number}), open the failing run's failed steps' log \
               (gh run view RUN --log-failed) and name the failing test and its cause, with the \
               file and line to change.",
    },
    Template {
        name: "summarize_changes",
        description: "Summarize what changed between two revisions",
        args: &[
            REPO,
            Arg {
                name: "base",
                kind: Kind::Revision,
                required: true,
                description: "Older branch or tag",
            },
            Arg {
                name: "head",
                kind: Kind::Revision,
                required: true,
                description: "Newer branch or tag",
            },
        ],
        text: "Summarize the changes from {base} to {head}{in_repo} for release notes: read \
               git log --oneline {base}..{head} and git diff --stat {base} {head}, group the \
               commits by kind (features, fixes, other) and name the authors.",
    },
];

/// Why a prompt could not be rendered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("unknown prompt '{0}'; prompts/list names them")]
    Unknown(String),
    #[error("prompt '{prompt}' needs argument '{arg}'")]
    Missing { prompt: String, arg: &'static str },
    #[error("argument '{arg}' of prompt '{prompt}' must be {what}")]
    Invalid {
        prompt: String,
        arg: &'static str,
        what: &'static str,
    },
}

/// Every prompt, for `prompts/list`.
pub fn list() -> Vec<Prompt> {
    TEMPLATES
        .iter()
        .map(|t| {
            let args = t
                .args
                .iter()
                .map(|a| {
                    PromptArgument::new(a.name)
                        .with_description(a.description)
                        .with_required(a.required)
                })
                .collect();
            Prompt::new(t.name, Some(t.description), Some(args))
        })
        .collect()
}

/// The kind of argument `arg` of prompt `prompt`, if both exist.
pub fn kind(prompt: &str, arg: &str) -> Option<Kind> {
    let template = TEMPLATES.iter().find(|t| t.name == prompt)?;
    template.args.iter().find(|a| a.name == arg).map(|a| a.kind)
}

/// Longest argument value a prompt takes (a revision or repository name is far shorter).
const VALUE_MAX: usize = 256;

/// Prompt `name` with `arguments` filled in: one user message.
pub fn render(
    name: &str,
    arguments: Option<&Map<String, Value>>,
) -> Result<GetPromptResult, Error> {
    let template = TEMPLATES
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| Error::Unknown(name.chars().take(64).collect()))?;
    let empty = Map::new();
    let given = arguments.unwrap_or(&empty);
    let mut text = template.text.to_owned();
    let mut in_repo = String::new();
    for arg in template.args {
        let value = match given.get(arg.name) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let invalid = |what| Error::Invalid {
            prompt: name.to_owned(),
            arg: arg.name,
            what,
        };
        let value = match value {
            Some(v) => {
                check(arg.kind, &v).map_err(invalid)?;
                v
            }
            None if arg.required => {
                return Err(Error::Missing {
                    prompt: name.to_owned(),
                    arg: arg.name,
                });
            }
            None => match arg.kind {
                Kind::Revision => "the default branch".to_owned(),
                _ => String::new(),
            },
        };
        if arg.kind == Kind::Repo && !value.is_empty() {
            in_repo = format!(" in {value}");
        }
        text = text.replace(&format!("{{{}}}", arg.name), &value);
    }
    let text = text.replace("{in_repo}", &in_repo);
    Ok(
        GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
            .with_description(template.description),
    )
}

/// Whether `value` can be an argument of `kind`: prompts put it into text an agent acts on, so
/// only names and numbers are taken, never free text.
fn check(kind: Kind, value: &str) -> Result<(), &'static str> {
    if value.len() > VALUE_MAX {
        return Err("at most 256 characters");
    }
    match kind {
        Kind::PullRequest | Kind::Issue => {
            if value.parse::<u64>().is_ok_and(|n| n > 0) {
                Ok(())
            } else {
                Err("a positive number")
            }
        }
        Kind::Repo => {
            let ok = value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'));
            if ok { Ok(()) } else { Err("a repository name") }
        }
        Kind::Revision => crate::git::safety::BranchName::new(value)
            .map(drop)
            .map_err(|_| "a branch or tag name"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn text(result: &GetPromptResult) -> String {
        serde_json::to_value(&result.messages[0])
            .ok()
            .and_then(|m| m["content"]["text"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    #[test]
    fn every_placeholder_is_filled() {
        for t in TEMPLATES {
            let mut given = Map::new();
            for a in t.args {
                let v = match a.kind {
                    Kind::Repo => json!("acme/widgets"),
                    Kind::PullRequest | Kind::Issue => json!(12),
                    Kind::Revision => json!("v1.0.0"),
                };
                given.insert(a.name.into(), v);
            }
            let out = text(&render(t.name, Some(&given)).unwrap_or_else(|e| panic!("{e}")));
            assert!(!out.contains('{'), "{}: {out}", t.name);
            assert!(out.contains("acme/widgets"), "{}: {out}", t.name);
        }
    }

    #[test]
    fn missing_and_hostile_arguments_are_refused() {
        assert_eq!(
            render("review_pr", None),
            Err(Error::Missing {
                prompt: "review_pr".into(),
                arg: "number"
            })
        );
        let e = render("review_pr", Some(&args(json!({"number": "12; rm -rf /"}))));
        assert!(
            matches!(e, Err(Error::Invalid { arg: "number", .. })),
            "{e:?}"
        );
        let e = render(
            "summarize_changes",
            Some(&args(
                json!({"base": "--output=/etc/passwd", "head": "main"}),
            )),
        );
        assert!(
            matches!(e, Err(Error::Invalid { arg: "base", .. })),
            "{e:?}"
        );
        assert!(matches!(render("nope", None), Err(Error::Unknown(_))));
    }

    #[test]
    fn optional_arguments_have_sensible_defaults() {
        let out = text(
            &render("fix_issue", Some(&args(json!({"number": "7"}))))
                .unwrap_or_else(|e| panic!("{e}")),
        );
        assert!(out.contains("from the default branch"), "{out}");
        assert!(out.starts_with("Fix issue #7. "), "{out}");
    }
}
