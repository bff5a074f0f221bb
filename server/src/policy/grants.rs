//! Repository grants: which repositories a user may touch, as globs over names.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::{Error, truncate};

/// Repository grants: globs over repository names (`owner/name` for GitHub, a bare name for
/// local repositories).
///
/// Semantics (path-like, as in `.gitignore`):
/// - a glob matches the whole name, never a prefix: `acme/widgets` does not match
///   `acme/widgets-private`;
/// - `*` and `?` never match `/`: `acme/*` matches `acme/widgets` but not `acme/x/y`, and `*` matches
///   every local name (`app`) but no `owner/name`;
/// - `**` crosses `/`: `**` matches everything, `acme/**` everything under `acme/`;
/// - `{a,b}` alternates and `[abc]` classes work as in globset;
/// - matching is case-sensitive (fail closed: local repository names are case-sensitive
///   directory names). Callers should pass GitHub names as the user wrote them in the grant.
///
/// Admin does not bypass grants: `admin` implies every scope, but repository access is always
/// what the grants say (give an administrator `**`).
#[derive(Clone, Default)]
pub struct Grants {
    patterns: Vec<String>,
    /// Shared so that a [`GrantsCache`] hit is a cheap clone.
    set: std::sync::Arc<GlobSet>,
}

impl Grants {
    /// No repository at all.
    pub fn none() -> Grants {
        Grants::default()
    }

    /// Every repository (`**`).
    pub fn all() -> Grants {
        Grants::new(["**"]).expect("`**` is a valid glob")
    }

    /// Builds grants from patterns; each must be a valid glob with no leading or trailing `/`.
    pub fn new<I, S>(patterns: I) -> Result<Grants, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut builder = GlobSetBuilder::new();
        let mut kept = Vec::new();
        for pattern in patterns {
            let pattern = pattern.as_ref().trim();
            let invalid = |reason: &str| Error::InvalidGrant {
                pattern: truncate(pattern, 200),
                reason: reason.to_owned(),
            };
            if pattern.is_empty() {
                return Err(invalid("empty pattern"));
            }
            if pattern.starts_with('/') || pattern.ends_with('/') {
                return Err(invalid("must not start or end with `/`"));
            }
            if pattern.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid("must not contain whitespace"));
            }
            let glob = GlobBuilder::new(pattern)
                .literal_separator(true)
                // `\` escapes on every platform, so a grant means the same on Windows.
                .backslash_escape(true)
                .build()
                .map_err(|e| invalid(&e.kind().to_string()))?;
            builder.add(glob);
            kept.push(pattern.to_owned());
        }
        let set = builder.build().map_err(|e| Error::InvalidGrant {
            pattern: kept.join(" "),
            reason: e.to_string(),
        })?;
        Ok(Grants {
            patterns: kept,
            set: std::sync::Arc::new(set),
        })
    }

    /// Whether every repository is granted (`**`), so a call may span repositories.
    pub fn unrestricted(&self) -> bool {
        self.patterns.iter().any(|p| p == "**")
    }

    /// The patterns, in the order given.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether no repository is granted.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The first pattern (in the order given) that grants `repo`, if any.
    ///
    /// A name that is not a well-formed repository name (see [`is_valid_repo_name`]) is never
    /// granted, whatever the patterns: `**` must not let `../etc` through to a backend that has
    /// not validated it yet.
    pub fn matching(&self, repo: &str) -> Option<&str> {
        if !is_valid_repo_name(repo) {
            return None;
        }
        // `matches` returns indices in ascending order, so the first is the earliest pattern.
        let index = *self.set.matches(repo).first()?;
        self.patterns.get(index).map(String::as_str)
    }

    /// Whether `repo` is granted.
    pub fn allows(&self, repo: &str) -> bool {
        self.matching(repo).is_some()
    }
}

/// Compiled [`Grants`] by their pattern text, so an authenticated request does not build the
/// same glob set again (a third of a token check's cost). Only the compilation is remembered, a
/// pure function of the text: the text itself is read from the store on every request, so a
/// changed or revoked grant applies on the next call.
#[derive(Debug, Default)]
pub struct GrantsCache {
    compiled: Mutex<HashMap<Vec<String>, Grants>>,
}

/// Distinct grant lists kept; past this the cache starts afresh (it is only a shortcut).
const GRANTS_CACHE_MAX: usize = 1024;

impl GrantsCache {
    /// `Grants::new(patterns)`, or no repository at all when a stored pattern no longer
    /// parses (fail closed).
    pub fn get(&self, patterns: &[String]) -> Grants {
        if let Some(grants) = self.lock().get(patterns) {
            return grants.clone();
        }
        let grants = Grants::new(patterns).unwrap_or_else(|_| Grants::none());
        let mut compiled = self.lock();
        if compiled.len() >= GRANTS_CACHE_MAX {
            compiled.clear();
        }
        compiled.insert(patterns.to_vec(), grants.clone());
        grants
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<String>, Grants>> {
        // Entries are immutable once inserted: nothing is half-done if a holder panicked.
        self.compiled.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl FromStr for Grants {
    type Err = Error;

    /// Parses patterns separated by whitespace or commas; commas inside `{...}` alternates belong
    /// to the glob (`acme/{api,web}`).
    fn from_str(s: &str) -> Result<Grants, Error> {
        let mut items = Vec::new();
        let mut current = String::new();
        let mut depth = 0usize;
        for c in s.chars() {
            match c {
                '{' => {
                    depth += 1;
                    current.push(c);
                }
                '}' => {
                    depth = depth.saturating_sub(1);
                    current.push(c);
                }
                ',' if depth == 0 => items.push(std::mem::take(&mut current)),
                c if c.is_whitespace() => items.push(std::mem::take(&mut current)),
                c => current.push(c),
            }
        }
        items.push(current);
        Grants::new(items.iter().filter(|item| !item.is_empty()))
    }
}

impl fmt::Debug for Grants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Grants").field(&self.patterns).finish()
    }
}

impl PartialEq for Grants {
    fn eq(&self, other: &Grants) -> bool {
        self.patterns == other.patterns
    }
}

impl Eq for Grants {}

/// Whether `name` is a repository name policy will consider: one or more `/`-separated segments
/// of ASCII letters, digits, `.`, `-` and `_` (GitHub's alphabet), none empty, `.` or `..`, at most
/// 256 bytes.
///
/// Policy runs before the tool layer validates its arguments, so it must not trust the name.
pub fn is_valid_repo_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        })
}
