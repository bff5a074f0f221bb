//! Revisions: resolving a validated revision to a commit or tree, what an unborn HEAD means, and
//! the nearest names when a revision does not exist ("no branch 'mian'; did you mean main").

use super::Error;
use super::safety::RevSpec;

/// Names from `candidates` closest to `wanted` (edit distance), for "did you mean" hints.
pub fn nearest(
    wanted: &str,
    candidates: impl IntoIterator<Item = String>,
    max: usize,
) -> Vec<String> {
    let mut scored: Vec<(usize, String)> = candidates
        .into_iter()
        .map(|c| (edit_distance(wanted, &c), c))
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(max).map(|(_, c)| c).collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Resolves a validated revision to a commit, naming the nearest refs when it does not exist.
pub fn resolve_commit<'r>(
    repo: &'r git2::Repository,
    rev: &RevSpec,
) -> Result<git2::Commit<'r>, Error> {
    match repo.revparse_single(rev.as_str()) {
        Ok(obj) => obj.peel_to_commit().map_err(|_| Error::BadRevision {
            rev: rev.as_str().to_owned(),
            reason: "does not name a commit".into(),
        }),
        Err(e) if e.code() == git2::ErrorCode::UnbornBranch => Err(Error::EmptyRepository),
        // libgit2's `is_empty` only knows an unborn `master`; an unborn HEAD with no refs at all
        // is empty whatever the default branch is called.
        Err(_) if is_empty(repo) => Err(Error::EmptyRepository),
        Err(_) => Err(Error::UnknownRevision {
            rev: rev.as_str().to_owned(),
            nearest: nearest(rev.as_str(), ref_short_names(repo), 3),
        }),
    }
}

/// The tree of the commit `rev` names, via [`resolve_commit`].
pub fn resolve_tree<'r>(git: &'r git2::Repository, rev: &RevSpec) -> Result<git2::Tree<'r>, Error> {
    match resolve_commit(git, rev) {
        // libgit2's `is_empty` only knows an unborn `master`; a repository made with
        // `git init -b main` (or init.defaultBranch) has an unborn HEAD and no refs at all.
        Err(Error::UnknownRevision { .. }) if is_empty(git) => Err(Error::EmptyRepository),
        commit => Ok(commit?.tree()?),
    }
}

/// Whether a failed HEAD lookup means HEAD is unborn (no commit yet on its branch).
pub fn is_unborn(e: &git2::Error) -> bool {
    matches!(
        e.code(),
        git2::ErrorCode::UnbornBranch | git2::ErrorCode::NotFound
    )
}

/// HEAD's tree, or `None` when HEAD is unborn (an empty repository compares as the empty tree).
pub fn head_tree(git: &git2::Repository) -> Result<Option<git2::Tree<'_>>, Error> {
    match git.head() {
        Ok(head) => Ok(Some(head.peel_to_tree()?)),
        Err(e) if is_unborn(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The reference HEAD names (`refs/heads/main`), read even when that branch is unborn.
pub fn head_target(git: &git2::Repository) -> Option<String> {
    git.find_reference("HEAD")
        .ok()
        .and_then(|r| r.symbolic_target().ok().flatten().map(str::to_owned))
}

/// Whether the repository has no commits: HEAD is unborn and no reference exists.
pub fn is_empty(repo: &git2::Repository) -> bool {
    repo.head()
        .is_err_and(|e| e.code() == git2::ErrorCode::UnbornBranch)
        && repo
            .references()
            .is_ok_and(|mut refs| refs.next().is_none())
}

/// Short names of all branches and tags, for hints.
pub fn ref_short_names(repo: &git2::Repository) -> Vec<String> {
    let Ok(refs) = repo.references() else {
        return Vec::new();
    };
    refs.filter_map(Result::ok)
        .filter_map(|r| r.shorthand().ok().map(str::to_owned))
        .collect()
}
