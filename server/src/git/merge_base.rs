//! `git_merge_base`: the best common ancestor of two revisions, as `git merge-base A B`. One
//! implementation for the JSON tool and the run form's `git merge-base`.

use serde::Deserialize;
use serde_json::json;

use super::safety::RevSpec;
use super::{Error, Output, Repo, resolve_commit};

/// Arguments of `git_merge_base`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBaseArgs {
    pub a: String,
    pub b: String,
}

/// Runs `git_merge_base`: the base's full id, or a line saying there is none (git prints
/// nothing then, with status 1).
pub fn merge_base(repo: &Repo, args: &MergeBaseArgs) -> Result<Output, Error> {
    let git = repo.lock();
    let base = merge_base_of(&git, &args.a, &args.b)?;
    let text = match base {
        Some(id) => id.to_string(),
        None => format!("'{}' and '{}' have no common ancestor", args.a, args.b),
    };
    Ok(Output {
        text,
        data: json!({ "sha": base.map(|id| id.to_string()) }),
        fields: &["sha"],
        more: None,
    })
}

/// The best common ancestor of `a` and `b`, `None` when their histories never meet.
pub fn merge_base_of(git: &git2::Repository, a: &str, b: &str) -> Result<Option<git2::Oid>, Error> {
    let a = resolve_commit(git, &RevSpec::new(a)?)?.id();
    let b = resolve_commit(git, &RevSpec::new(b)?)?.id();
    match git.merge_base(a, b) {
        Ok(id) => Ok(Some(id)),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::git::testutil::Fixture;

    /// Our answer must be git's, for related and unrelated histories.
    #[test]
    fn merge_base_is_gits() {
        let f = Fixture::new();
        f.git(&["commit", "-q", "--allow-empty", "-m", "root"]);
        f.git(&["switch", "-q", "-c", "side"]);
        f.git(&["commit", "-q", "--allow-empty", "-m", "on side"]);
        f.git(&["switch", "-q", "-"]);
        f.git(&["commit", "-q", "--allow-empty", "-m", "on main"]);
        let repo = f.open();
        let args = MergeBaseArgs {
            a: "HEAD".into(),
            b: "side".into(),
        };
        let out = merge_base(&repo, &args).unwrap();
        let expected = f.git(&["merge-base", "HEAD", "side"]);
        assert_eq!(out.text, expected.trim_end());
        assert_eq!(out.data["sha"], expected.trim_end());

        f.git(&["switch", "-q", "--orphan", "alone"]);
        f.git(&["commit", "-q", "--allow-empty", "-m", "unrelated"]);
        let args = MergeBaseArgs {
            a: "alone".into(),
            b: "side".into(),
        };
        let out = merge_base(&repo, &args).unwrap();
        assert!(out.data["sha"].is_null(), "{}", out.text);
        assert!(
            merge_base(
                &repo,
                &MergeBaseArgs {
                    a: "nosuch".into(),
                    b: "side".into()
                }
            )
            .is_err()
        );
    }
}
