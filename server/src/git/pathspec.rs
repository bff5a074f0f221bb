//! Which paths an operation considers: git pathspecs without magic, and the tree walk that
//! applies them without reading directories no spec can match. Shared by `ls_files` and `grep`.

use std::path::Path;

use super::safety::RepoPath;
use super::{Error, pattern};

/// Which paths an operation considers: git pathspecs without magic. A plain spec matches that
/// path and everything under it; a spec with `*`, `?` or `[...]` is a glob over the whole path
/// where `*` also matches `/` (as in git) and `**/` also matches no directory at all.
#[derive(Debug)]
pub(super) struct PathFilter {
    prefixes: Vec<String>,
    /// The literal text before each glob's first wildcard, for pruning directories.
    glob_prefixes: Vec<String>,
    globs: Option<regex::bytes::Regex>,
}

impl PathFilter {
    /// Validates each spec as a [`RepoPath`] under `root`.
    pub(super) fn new(root: &Path, specs: &[String]) -> Result<Self, Error> {
        let mut prefixes = Vec::new();
        let mut glob_prefixes = Vec::new();
        let mut alternatives = Vec::new();
        for spec in specs {
            let spec = RepoPath::new(root, spec)?;
            let spec = spec.as_str();
            match spec.find(['*', '?', '[']) {
                Some(i) => {
                    glob_prefixes.push(spec[..i].to_owned());
                    alternatives.push(glob_to_regex(spec));
                }
                None => prefixes.push(spec.to_owned()),
            }
        }
        let globs = if alternatives.is_empty() {
            None
        } else {
            // Bounded by the globs as given: their regex is a few times longer, and a caller
            // controls neither its form nor a message quoting it.
            let given = specs.join(" ");
            let glob_bytes = specs
                .iter()
                .filter(|s| s.contains(['*', '?', '[']))
                .map(String::len)
                .sum();
            pattern::check_len(&given, glob_bytes)?;
            let regex = format!("^(?:{})$", alternatives.join("|"));
            Some(
                pattern::glob_regex(&regex).map_err(|reason| Error::BadPattern {
                    pattern: pattern::shown(&given),
                    reason,
                })?,
            )
        };
        Ok(Self {
            prefixes,
            glob_prefixes,
            globs,
        })
    }

    fn everything(&self) -> bool {
        self.prefixes.is_empty() && self.globs.is_none()
    }

    /// Whether the file `path` (slash-separated, relative to the root) is selected.
    pub(super) fn matches(&self, path: &[u8]) -> bool {
        self.everything()
            || self.prefixes.iter().any(|p| {
                let p = p.as_bytes();
                path.starts_with(p) && (path.len() == p.len() || path[p.len()] == b'/')
            })
            || self.globs.as_ref().is_some_and(|g| g.is_match(path))
    }

    /// Whether something under the directory `dir` (no trailing slash) can be selected.
    pub(super) fn may_contain(&self, dir: &[u8]) -> bool {
        if self.everything() {
            return true;
        }
        let mut slashed = dir.to_vec();
        slashed.push(b'/');
        // A plain spec is a whole directory or file name; a glob's literal part may end mid-name.
        self.prefixes.iter().any(|p| {
            let p = p.as_bytes();
            p == dir
                || p.starts_with(&slashed)
                || slashed.starts_with(p) && slashed[p.len()] == b'/'
        }) || self.glob_prefixes.iter().any(|p| {
            let p = p.as_bytes();
            p.starts_with(&slashed) || slashed.starts_with(p)
        })
    }
}

/// Translates one glob into a regex over path bytes.
fn glob_to_regex(glob: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = glob.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' if chars.get(i + 1) == Some(&'*') && chars.get(i + 2) == Some(&'/') => {
                out.push_str("(?s-u:(?:.*/)?)");
                i += 3;
                continue;
            }
            '*' => out.push_str("(?s-u:.*)"),
            '?' => out.push_str("(?s:.)"),
            '[' => match class(&chars[i + 1..]) {
                Some((class, used)) => {
                    out.push_str(&class);
                    i += used + 2;
                    continue;
                }
                None => out.push_str(r"\["),
            },
            '\\' if i + 1 < chars.len() => {
                i += 1;
                out.push_str(&regex::escape(&chars[i].to_string()));
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    out
}

/// Translates a bracket expression whose body starts at `rest` (after `[`); returns the regex
/// class and how many characters the body used (without the brackets), or `None` if unclosed.
fn class(rest: &[char]) -> Option<(String, usize)> {
    let mut out = String::from("[");
    let mut i = 0;
    if matches!(rest.first(), Some('!' | '^')) {
        out.push('^');
        i += 1;
    }
    let body_start = i;
    while i < rest.len() {
        let c = rest[i];
        if c == ']' && i > body_start {
            out.push(']');
            return Some((out, i));
        }
        let range_dash = c == '-' && i > body_start && rest.get(i + 1) != Some(&']');
        if range_dash {
            out.push('-');
        } else if c.is_ascii_alphanumeric() || !c.is_ascii() {
            out.push(c);
        } else {
            out.push('\\');
            out.push(c);
        }
        i += 1;
    }
    None
}

/// Walks `tree` depth first in git's path order, calling `visit` with the full path of each
/// selected non-tree entry (blobs and submodule commits); `visit` returns `false` to stop.
/// Directories no spec can match are not read. Paths are bytes: tree names need not be UTF-8.
pub(super) fn walk_tree<'r>(
    git: &'r git2::Repository,
    tree: &git2::Tree<'r>,
    filter: &PathFilter,
    mut visit: impl FnMut(&[u8], &git2::TreeEntry<'_>) -> Result<bool, Error>,
) -> Result<(), Error> {
    // An explicit stack: a hostile repository can nest trees deeper than the thread's stack.
    let mut stack: Vec<(Vec<u8>, git2::Tree<'r>, usize)> = vec![(Vec::new(), tree.clone(), 0)];
    while let Some((prefix, tree, next)) = stack.last_mut() {
        let Some(entry) = tree.get(*next) else {
            stack.pop();
            continue;
        };
        *next += 1;
        let mut path = prefix.clone();
        path.extend_from_slice(entry.name_bytes());
        let descend = if entry.kind() == Some(git2::ObjectType::Tree) {
            filter.may_contain(&path).then(|| entry.id())
        } else {
            if filter.matches(&path) && !visit(&path, &entry)? {
                return Ok(());
            }
            None
        };
        drop(entry);
        if let Some(id) = descend {
            let sub = git.find_tree(id)?;
            path.push(b'/');
            stack.push((path, sub, 0));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn globs_translate() {
        let filter = |specs: &[&str]| {
            let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
            PathFilter::new(Path::new("/nonexistent"), &specs).unwrap()
        };
        let g = filter(&["src/**/*.rs", "[!a-c]?.md", "x[]]y", "lit.+(x)"]);
        assert!(
            g.may_contain(b"docs"),
            "a glob with no literal prefix may be anywhere"
        );
        for yes in [
            "src/a.rs",
            "src/a/b/c.rs",
            "dd.md",
            "x]y",
            "lit.+(x)",
            "lit.+(x)/in",
        ] {
            assert!(g.matches(yes.as_bytes()), "{yes}");
        }
        for no in [
            "src.rs",
            "ad.md",
            "d.md",
            "xy",
            "litx+(x)",
            "other/src/a.rs",
        ] {
            assert!(!g.matches(no.as_bytes()), "{no}");
        }
        let g = filter(&["src/**/*.rs", "lib"]);
        assert!(g.may_contain(b"src") && g.may_contain(b"src/deep") && !g.may_contain(b"docs"));
        assert!(g.may_contain(b"lib") && !g.may_contain(b"library"));
        assert!(filter(&[]).matches(b"anything"));
    }
}
