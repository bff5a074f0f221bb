//! The bare repositories: reading branches, commits, trees and diffs, and writing the commits a
//! merge produces. Everything goes through git2 (libgit2) in process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use git2::{
    DiffFormat, DiffOptions, IndexEntry, IndexTime, Oid, Repository, Signature, Sort, Time,
};

/// Errors from git operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// libgit2 failed.
    #[error("git: {0}")]
    Git(#[from] git2::Error),
    /// The merge would conflict.
    #[error("merge conflict")]
    Conflict,
    /// The branch moved while the merge was computed.
    #[error("branch moved concurrently")]
    Moved,
}

/// Result alias for git operations.
pub type Result<T> = std::result::Result<T, Error>;

/// Where repository `owner/name` lives under the data directory.
pub fn repo_path(data: &Path, owner: &str, name: &str) -> PathBuf {
    data.join("repos")
        .join(owner.to_ascii_lowercase())
        .join(format!("{}.git", name.to_ascii_lowercase()))
}

/// A person and instant as recorded in a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Seconds since the epoch.
    pub time: i64,
}

/// One commit's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    /// Commit id.
    pub sha: String,
    /// Tree id.
    pub tree: String,
    /// Parent ids.
    pub parents: Vec<String>,
    /// Author.
    pub author: Person,
    /// Committer.
    pub committer: Person,
    /// Full message.
    pub message: String,
}

/// One changed file in a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Path after the change.
    pub filename: String,
    /// Path before a rename.
    pub previous_filename: Option<String>,
    /// added, removed, modified or renamed.
    pub status: &'static str,
    /// Lines added.
    pub additions: usize,
    /// Lines removed.
    pub deletions: usize,
    /// Blob id after the change (or before, for a removal).
    pub sha: String,
    /// The hunk text (without file headers).
    pub patch: String,
}

/// What a path in a tree is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A file.
    File {
        /// Blob id.
        sha: String,
        /// Content.
        data: Vec<u8>,
    },
    /// A directory listing: (name, kind "file"/"dir", sha, size).
    Dir(Vec<(String, &'static str, String, usize)>),
}

fn person(sig: &Signature<'_>) -> Person {
    Person {
        name: String::from_utf8_lossy(sig.name_bytes()).into_owned(),
        email: String::from_utf8_lossy(sig.email_bytes()).into_owned(),
        time: sig.when().seconds(),
    }
}

/// Reads a commit's metadata.
pub fn commit_info(repo: &Repository, oid: Oid) -> Result<CommitInfo> {
    let c = repo.find_commit(oid)?;
    Ok(CommitInfo {
        sha: oid.to_string(),
        tree: c.tree_id().to_string(),
        parents: c.parent_ids().map(|p| p.to_string()).collect(),
        author: person(&c.author()),
        committer: person(&c.committer()),
        message: String::from_utf8_lossy(c.message_bytes()).into_owned(),
    })
}

/// Branches and their tips, by name.
pub fn branches(repo: &Repository) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for b in repo.branches(Some(git2::BranchType::Local))? {
        let (b, _) = b?;
        if let (Some(name), Some(target)) = (b.name()?, b.get().target()) {
            out.push((name.to_string(), target.to_string()));
        }
    }
    out.sort();
    Ok(out)
}

/// Tags and the commits they point at, by name.
pub fn tags(repo: &Repository) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let names = repo.tag_names(None)?;
    for name in names.iter().flatten().flatten() {
        let obj = repo.revparse_single(&format!("refs/tags/{name}"))?;
        out.push((name.to_string(), obj.peel_to_commit()?.id().to_string()));
    }
    out.sort();
    Ok(out)
}

/// Resolves a branch, tag or (abbreviated) commit id to a commit. Refuses anything that looks like
/// an option or a revision expression: clients name refs, not ranges.
pub fn resolve(repo: &Repository, rev: &str) -> Option<Oid> {
    if rev.is_empty()
        || rev.starts_with('-')
        || rev.contains("..")
        || rev.contains([':', '^', '~', '@', '{'])
    {
        return None;
    }
    for full in [
        format!("refs/heads/{rev}"),
        format!("refs/tags/{rev}"),
        rev.to_string(),
    ] {
        if let Ok(obj) = repo.revparse_single(&full)
            && let Ok(c) = obj.peel_to_commit()
        {
            return Some(c.id());
        }
    }
    None
}

/// Filters for [`log`].
#[derive(Debug, Default, Clone)]
pub struct LogFilter {
    /// Only commits touching this path (file or directory prefix).
    pub path: Option<String>,
    /// Only commits whose author name, email or mapped login matches.
    pub author: Option<String>,
    /// Only commits at or after this time.
    pub since: Option<i64>,
    /// Only commits at or before this time.
    pub until: Option<i64>,
}

/// History from `start`, newest first, filtered.
pub fn log(
    repo: &Repository,
    start: Oid,
    filter: &LogFilter,
    author_matches: impl Fn(&Person) -> bool,
) -> Result<Vec<CommitInfo>> {
    let mut walk = repo.revwalk()?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME)?;
    walk.push(start)?;
    let mut out = Vec::new();
    for oid in walk {
        let oid = oid?;
        let info = commit_info(repo, oid)?;
        if filter.since.is_some_and(|s| info.committer.time < s)
            || filter.until.is_some_and(|u| info.committer.time > u)
        {
            continue;
        }
        if filter.author.is_some() && !author_matches(&info.author) {
            continue;
        }
        if let Some(path) = &filter.path
            && !touches(repo, oid, path)?
        {
            continue;
        }
        out.push(info);
    }
    Ok(out)
}

fn touches(repo: &Repository, oid: Oid, path: &str) -> Result<bool> {
    let c = repo.find_commit(oid)?;
    let tree = c.tree()?;
    let entry_id = |t: &git2::Tree<'_>| t.get_path(Path::new(path)).ok().map(|e| e.id());
    let mine = entry_id(&tree);
    if c.parent_count() == 0 {
        return Ok(mine.is_some());
    }
    // Like `git log -- path` with default simplification: a commit counts when it differs from
    // every parent (a merge that takes one side unchanged is skipped).
    for p in c.parents() {
        if entry_id(&p.tree()?) == mine {
            return Ok(false);
        }
    }
    Ok(true)
}

fn diff_files(diff: &mut git2::Diff<'_>) -> Result<Vec<FileChange>> {
    let mut find = git2::DiffFindOptions::new();
    find.renames(true);
    diff.find_similar(Some(&mut find))?;
    let mut out = Vec::new();
    for i in 0..diff.deltas().len() {
        let Some(patch) = git2::Patch::from_diff(diff, i)? else {
            continue;
        };
        let delta = patch.delta();
        let new_path = delta
            .new_file()
            .path()
            .map(|p| p.to_string_lossy().into_owned());
        let old_path = delta
            .old_file()
            .path()
            .map(|p| p.to_string_lossy().into_owned());
        let status = match delta.status() {
            git2::Delta::Added => "added",
            git2::Delta::Deleted => "removed",
            git2::Delta::Renamed => "renamed",
            _ => "modified",
        };
        let sha = if status == "removed" {
            delta.old_file().id()
        } else {
            delta.new_file().id()
        };
        let (_, additions, deletions) = patch.line_stats()?;
        let mut text = String::new();
        for h in 0..patch.num_hunks() {
            let (hunk, lines) = patch.hunk(h)?;
            text.push_str(&String::from_utf8_lossy(hunk.header()));
            for l in 0..lines {
                let line = patch.line_in_hunk(h, l)?;
                let origin = line.origin();
                if matches!(origin, '+' | '-' | ' ') {
                    text.push(origin);
                }
                text.push_str(&String::from_utf8_lossy(line.content()));
            }
        }
        let text = text.strip_suffix('\n').unwrap_or(&text).to_string();
        let filename = new_path.clone().or(old_path.clone()).unwrap_or_default();
        out.push(FileChange {
            previous_filename: if status == "renamed" { old_path } else { None },
            filename,
            status,
            additions,
            deletions,
            sha: sha.to_string(),
            patch: text,
        });
    }
    Ok(out)
}

fn patch_text(diff: &git2::Diff<'_>) -> Result<String> {
    let mut out = Vec::new();
    diff.print(DiffFormat::Patch, |_, _, line| {
        if matches!(line.origin(), '+' | '-' | ' ') {
            out.push(line.origin() as u8);
        }
        out.extend_from_slice(line.content());
        true
    })?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The files a commit changed against its first parent.
pub fn commit_files(repo: &Repository, oid: Oid) -> Result<Vec<FileChange>> {
    let c = repo.find_commit(oid)?;
    let tree = c.tree()?;
    let parent = if c.parent_count() > 0 {
        Some(c.parent(0)?.tree()?)
    } else {
        None
    };
    let mut diff =
        repo.diff_tree_to_tree(parent.as_ref(), Some(&tree), Some(&mut DiffOptions::new()))?;
    diff_files(&mut diff)
}

/// The three-dot comparison GitHub shows for a pull request: from the merge base to the head.
pub fn compare(repo: &Repository, base: Oid, head: Oid) -> Result<(Vec<FileChange>, String)> {
    let mb = repo.merge_base(base, head).unwrap_or(base);
    let old = repo.find_commit(mb)?.tree()?;
    let new = repo.find_commit(head)?.tree()?;
    let mut diff = repo.diff_tree_to_tree(Some(&old), Some(&new), Some(&mut DiffOptions::new()))?;
    let files = diff_files(&mut diff)?;
    let text = patch_text(&diff)?;
    Ok((files, text))
}

/// Commits reachable from `head` but not from `base`, oldest first.
pub fn commits_between(repo: &Repository, base: Oid, head: Oid) -> Result<Vec<CommitInfo>> {
    let mut walk = repo.revwalk()?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)?;
    walk.push(head)?;
    walk.hide(base)?;
    walk.map(|o| commit_info(repo, o?)).collect()
}

/// What `path` names in the tree of `commit` (empty path = root).
pub fn contents(repo: &Repository, commit: Oid, path: &str) -> Result<Option<Content>> {
    let tree = repo.find_commit(commit)?.tree()?;
    let path = path.trim_matches('/');
    let tree = if path.is_empty() {
        tree
    } else {
        let Ok(entry) = tree.get_path(Path::new(path)) else {
            return Ok(None);
        };
        match entry.kind() {
            Some(git2::ObjectType::Blob) => {
                let blob = repo.find_blob(entry.id())?;
                return Ok(Some(Content::File {
                    sha: entry.id().to_string(),
                    data: blob.content().to_vec(),
                }));
            }
            Some(git2::ObjectType::Tree) => repo.find_tree(entry.id())?,
            _ => return Ok(None),
        }
    };
    let mut items = Vec::new();
    for e in tree.iter() {
        let name = String::from_utf8_lossy(e.name_bytes()).into_owned();
        match e.kind() {
            Some(git2::ObjectType::Blob) => {
                let size = repo.find_blob(e.id())?.size();
                items.push((name, "file", e.id().to_string(), size));
            }
            Some(git2::ObjectType::Tree) => items.push((name, "dir", e.id().to_string(), 0)),
            _ => {}
        }
    }
    Ok(Some(Content::Dir(items)))
}

/// Every file of the tree at `commit`, with its content (for code search).
pub fn all_files(repo: &Repository, commit: Oid) -> Result<Vec<(String, String, Vec<u8>)>> {
    let tree = repo.find_commit(commit)?.tree()?;
    let mut out = Vec::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, e| {
        if e.kind() == Some(git2::ObjectType::Blob)
            && let Ok(blob) = repo.find_blob(e.id())
        {
            let name = String::from_utf8_lossy(e.name_bytes());
            out.push((
                format!("{dir}{name}"),
                e.id().to_string(),
                blob.content().to_vec(),
            ));
        }
        git2::TreeWalkResult::Ok
    })?;
    Ok(out)
}

/// Builds a signature at a fixed instant.
pub fn signature(name: &str, email: &str, time: i64) -> Result<Signature<'static>> {
    Ok(Signature::new(name, email, &Time::new(time, 0))?)
}

/// How to merge a pull request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMethod {
    /// A merge commit with two parents.
    Merge,
    /// One commit with the combined change.
    Squash,
    /// Each head commit replayed onto the base.
    Rebase,
}

/// Merges `head` into branch `base_branch`, moving the branch; returns the new tip.
pub fn merge(
    repo: &Repository,
    base_branch: &str,
    head: Oid,
    method: MergeMethod,
    message: &str,
    committer: &Signature<'_>,
) -> Result<Oid> {
    let refname = format!("refs/heads/{base_branch}");
    let base = repo.refname_to_id(&refname)?;
    let base_c = repo.find_commit(base)?;
    let head_c = repo.find_commit(head)?;
    let new = match method {
        MergeMethod::Merge | MergeMethod::Squash => {
            let mut idx = repo.merge_commits(&base_c, &head_c, None)?;
            if idx.has_conflicts() {
                return Err(Error::Conflict);
            }
            let tree = repo.find_tree(idx.write_tree_to(repo)?)?;
            if method == MergeMethod::Merge {
                repo.commit(
                    None,
                    committer,
                    committer,
                    message,
                    &tree,
                    &[&base_c, &head_c],
                )?
            } else {
                repo.commit(None, committer, committer, message, &tree, &[&base_c])?
            }
        }
        MergeMethod::Rebase => {
            let mut tip = base_c;
            for c in commits_between(repo, base, head)? {
                let c = repo.find_commit(Oid::from_str(&c.sha)?)?;
                if c.parent_count() > 1 {
                    continue;
                }
                let mut idx = repo.cherrypick_commit(&c, &tip, 0, None)?;
                if idx.has_conflicts() {
                    return Err(Error::Conflict);
                }
                let tree = repo.find_tree(idx.write_tree_to(repo)?)?;
                let msg = String::from_utf8_lossy(c.message_bytes()).into_owned();
                let oid = repo.commit(None, &c.author(), committer, &msg, &tree, &[&tip])?;
                tip = repo.find_commit(oid)?;
            }
            tip.id()
        }
    };
    // Compare-and-swap: a push that moved the branch meanwhile is not overwritten.
    repo.reference_matching(&refname, new, true, base, "merge pull request")
        .map_err(|e| match e.code() {
            git2::ErrorCode::Modified | git2::ErrorCode::Locked | git2::ErrorCode::Exists => {
                Error::Moved
            }
            _ => Error::Git(e),
        })?;
    Ok(new)
}

/// Builds commits without a work tree (for fixtures): keeps the file set in memory.
pub struct CommitBuilder<'r> {
    repo: &'r Repository,
    files: BTreeMap<String, Vec<u8>>,
}

impl<'r> CommitBuilder<'r> {
    /// Starts from the tree of `from` (or empty).
    pub fn new(repo: &'r Repository, from: Option<Oid>) -> Result<Self> {
        let mut files = BTreeMap::new();
        if let Some(from) = from {
            for (path, _, data) in all_files(repo, from)? {
                files.insert(path, data);
            }
        }
        Ok(Self { repo, files })
    }

    /// Sets a file's content.
    pub fn write(&mut self, path: &str, data: impl Into<Vec<u8>>) {
        self.files.insert(path.to_string(), data.into());
    }

    /// Current content of a file.
    pub fn read(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// Removes a file.
    pub fn remove(&mut self, path: &str) {
        self.files.remove(path);
    }

    /// Writes a commit of the current files with `parents` and updates `refname` if given.
    pub fn commit(
        &self,
        refname: Option<&str>,
        author: &Signature<'_>,
        message: &str,
        parents: &[Oid],
    ) -> Result<Oid> {
        let mut idx = git2::Index::new()?;
        for (path, data) in &self.files {
            let oid = self.repo.blob(data)?;
            idx.add(&IndexEntry {
                ctime: IndexTime::new(0, 0),
                mtime: IndexTime::new(0, 0),
                dev: 0,
                ino: 0,
                mode: 0o100644,
                uid: 0,
                gid: 0,
                file_size: u32::try_from(data.len()).unwrap_or(u32::MAX),
                id: oid,
                flags: u16::try_from(path.len().min(0xfff)).unwrap_or(0xfff),
                flags_extended: 0,
                path: path.as_bytes().to_vec(),
            })?;
        }
        let tree = self.repo.find_tree(idx.write_tree_to(self.repo)?)?;
        let parents = parents
            .iter()
            .map(|p| self.repo.find_commit(*p))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        Ok(self
            .repo
            .commit(refname, author, author, message, &tree, &refs)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_squash_rebase_produce_expected_parents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Repository::init_bare(dir.path()).expect("init");
        let sig = signature("A", "a@x", 1_700_000_000).expect("sig");
        let mut b = CommitBuilder::new(&repo, None).expect("builder");
        b.write("a.txt", "one\n");
        let root = b
            .commit(Some("refs/heads/main"), &sig, "root", &[])
            .expect("root");
        b.write("b.txt", "two\n");
        let feat = b
            .commit(Some("refs/heads/f"), &sig, "feat", &[root])
            .expect("feat");
        let mut m = CommitBuilder::new(&repo, Some(root)).expect("builder");
        m.write("c.txt", "three\n");
        m.commit(Some("refs/heads/main"), &sig, "main moves", &[root])
            .expect("main");

        for (method, parents) in [
            (MergeMethod::Merge, 2),
            (MergeMethod::Squash, 1),
            (MergeMethod::Rebase, 1),
        ] {
            let tip = repo.refname_to_id("refs/heads/main").expect("main");
            let branch = format!("t{parents}{method:?}");
            repo.reference(&format!("refs/heads/{branch}"), tip, true, "t")
                .expect("ref");
            let new = merge(&repo, &branch, feat, method, "m", &sig).expect("merge");
            let info = commit_info(&repo, new).expect("info");
            assert_eq!(info.parents.len(), parents, "{method:?}");
            let c = contents(&repo, new, "b.txt").expect("contents");
            assert!(matches!(c, Some(Content::File { .. })), "{method:?}");
        }
        let (files, text) = compare(&repo, root, feat).expect("compare");
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].status, "added");
        assert!(text.starts_with("diff --git a/b.txt b/b.txt"), "{text}");
    }
}
