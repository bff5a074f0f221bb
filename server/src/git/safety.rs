//! Validated inputs: a path that cannot leave its worktree, a revision and a branch name that
//! cannot be read as an option or escape the ref namespace.
//!
//! Each type can only be built through its checking constructor, so an operation that takes one
//! cannot be handed an unchecked string.

use std::path::{Component, Path, PathBuf};

use super::Error;

/// A path relative to a repository's worktree root that provably stays inside it.
///
/// Refused: absolute paths, `..` components, anything inside `.git`, and paths that pass through
/// a symbolic link (at any existing prefix) which resolves outside the worktree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoPath {
    /// Slash-separated, relative, normalised (no `.` or empty components).
    rel: String,
}

impl RepoPath {
    /// Checks `input` against the worktree `root` (which must be canonical).
    pub fn new(root: &Path, input: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::BadPath {
            path: input.to_owned(),
            reason: reason.to_owned(),
        };
        if input.is_empty() {
            return Err(bad("empty path"));
        }
        if input.contains('\0') {
            return Err(bad("contains a NUL byte"));
        }
        let path = Path::new(input);
        let mut parts: Vec<&str> = Vec::new();
        for component in path.components() {
            match component {
                Component::Normal(part) => {
                    let part = part.to_str().ok_or_else(|| bad("not valid UTF-8"))?;
                    parts.push(part);
                }
                Component::CurDir => {}
                Component::ParentDir => return Err(bad("'..' leaves the repository")),
                Component::RootDir | Component::Prefix(_) => {
                    return Err(bad(
                        "absolute paths are refused; give a path relative to the repository root",
                    ));
                }
            }
        }
        if parts.is_empty() {
            // "." means the whole worktree; operations take "no path" for that.
            return Err(bad("names the repository root; omit the path instead"));
        }
        if parts
            .first()
            .is_some_and(|p| p.eq_ignore_ascii_case(".git"))
        {
            return Err(bad("the .git directory is not part of the worktree"));
        }
        // Walk the existing prefixes: a symlink anywhere along the way must stay inside.
        let mut cur = root.to_path_buf();
        for part in &parts {
            cur.push(part);
            match std::fs::symlink_metadata(&cur) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    let resolved = cur
                        .canonicalize()
                        .map_err(|_| bad("a symbolic link along it points nowhere"))?;
                    if !resolved.starts_with(root) {
                        return Err(bad(
                            "a symbolic link along it points outside the repository",
                        ));
                    }
                }
                Ok(_) => {}
                Err(_) => break, // the rest does not exist (yet): nothing to follow
            }
        }
        Ok(Self {
            rel: parts.join("/"),
        })
    }

    /// Checks every input (see [`RepoPath::new`]) before anything is touched; the first refusal
    /// wins.
    pub fn all(root: &Path, inputs: &[String]) -> Result<Vec<Self>, Error> {
        inputs.iter().map(|p| Self::new(root, p)).collect()
    }

    /// The slash-separated path relative to the worktree root, as git names it.
    pub fn as_str(&self) -> &str {
        &self.rel
    }

    /// The absolute path under `root`.
    pub fn under(&self, root: &Path) -> PathBuf {
        root.join(&self.rel)
    }
}

/// A revision expression (`main`, `HEAD~3`, `v1.0^{commit}`, a hex id) that cannot be mistaken for
/// an option and uses only revision syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevSpec(String);

impl RevSpec {
    /// Maximum length accepted; real revisions are far shorter.
    const MAX_LEN: usize = 256;

    pub fn new(input: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::BadRevision {
            rev: input.to_owned(),
            reason: reason.to_owned(),
        };
        if input.is_empty() {
            return Err(bad("empty"));
        }
        if input.len() > Self::MAX_LEN {
            return Err(bad("too long"));
        }
        if input.starts_with('-') {
            return Err(bad("must not start with '-'"));
        }
        if input.contains("..") {
            return Err(bad(
                "ranges are not revisions; pass the two ends as separate arguments",
            ));
        }
        if input.contains(':') {
            return Err(bad(
                "'rev:path' is not accepted; pass the path as its own argument",
            ));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || "/._-~^@{}+".contains(c);
        if let Some(c) = input.chars().find(|c| !allowed(*c)) {
            return Err(bad(&format!(
                "character {c:?} is not allowed in a revision"
            )));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A branch name valid as `refs/heads/<name>` that does not start with `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchName(String);

impl BranchName {
    pub fn new(input: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::BadBranchName {
            name: input.to_owned(),
            reason: reason.to_owned(),
        };
        if input.is_empty() {
            return Err(bad("empty"));
        }
        if input.starts_with('-') {
            return Err(bad("must not start with '-'"));
        }
        if input == "HEAD" || input.starts_with("refs/") {
            return Err(bad("give the short branch name"));
        }
        if !git2::Reference::is_valid_name(&format!("refs/heads/{input}")) {
            return Err(bad("not a valid ref name (see git check-ref-format)"));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The full reference name, `refs/heads/<name>`.
    pub fn refname(&self) -> String {
        format!("refs/heads/{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_path(input: &str, expected: Result<&str, &str>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().canonicalize().expect("canonical");
        let got = RepoPath::new(&root, input);
        match (got, expected) {
            (Ok(p), Ok(want)) => assert_eq!(p.as_str(), want, "{input}"),
            (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{input}: {e}"),
            (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn paths() {
        check_path("src/lib.rs", Ok("src/lib.rs"));
        check_path("./src//lib.rs", Ok("src/lib.rs"));
        check_path("-rf", Ok("-rf"));
        check_path("../etc/passwd", Err("'..'"));
        check_path("src/../../x", Err("'..'"));
        check_path("/etc/passwd", Err("absolute"));
        check_path(".git/config", Err(".git"));
        check_path(".", Err("root"));
        check_path("", Err("empty"));
    }

    #[test]
    fn symlink_out_is_refused_and_in_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("tempdir");
        let root = dir.path().canonicalize().expect("canonical");
        std::fs::create_dir(root.join("inside")).expect("mkdir");
        std::os::unix::fs::symlink(outside.path(), root.join("out")).expect("symlink");
        std::os::unix::fs::symlink(root.join("inside"), root.join("in")).expect("symlink");
        let err = RepoPath::new(&root, "out/secret").expect_err("escapes");
        assert!(err.to_string().contains("outside"), "{err}");
        assert_eq!(
            RepoPath::new(&root, "in/x").expect("inside").as_str(),
            "in/x"
        );
    }

    #[test]
    fn sibling_with_shared_prefix_is_outside() {
        let parent = tempfile::tempdir().expect("tempdir");
        let root = parent.path().join("app");
        let sibling = parent.path().join("app-evil");
        std::fs::create_dir(&root).expect("mkdir");
        std::fs::create_dir(&sibling).expect("mkdir");
        let root = root.canonicalize().expect("canonical");
        std::os::unix::fs::symlink(&sibling, root.join("s")).expect("symlink");
        assert!(RepoPath::new(&root, "s/x").is_err());
    }

    #[test]
    fn revisions() {
        for ok in [
            "main",
            "HEAD~3",
            "v1.0^{commit}",
            "feature/x",
            "abc123",
            "HEAD@{1}",
        ] {
            assert!(RevSpec::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "-n",
            "--output=/tmp/x",
            "",
            "a..b",
            "HEAD:file",
            "a b",
            "$(id)",
        ] {
            assert!(RevSpec::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn branch_names() {
        for ok in ["main", "feature/x", "fix-1"] {
            assert!(BranchName::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "-b",
            "a..b",
            "a b",
            "x.lock",
            "",
            "HEAD",
            "refs/heads/x",
            "a~1",
            "end/",
        ] {
            assert!(BranchName::new(bad).is_err(), "{bad}");
        }
    }
}
