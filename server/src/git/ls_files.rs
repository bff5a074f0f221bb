//! Tracked files, as `git ls-files` (the index) or `git ls-tree -r --name-only` (a revision).

use serde::Deserialize;
use serde_json::{Value, json};

use super::pathspec::{PathFilter, walk_tree};
use super::rev::resolve_tree;
use super::safety::RevSpec;
use super::{Error, Output, Repo, display_path, more_line};

/// Field names of `git_ls_files` records.
pub const FIELDS: &[&str] = &["path", "mode", "size"];

/// Arguments of `git_ls_files`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LsFilesArgs {
    pub rev: Option<String>,
    /// Path prefixes or globs.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Default 200.
    pub limit: Option<usize>,
    pub skip: Option<usize>,
}

/// One listed path; the blob id is kept so a page's sizes can be looked up after the walk.
struct Listed {
    path: Vec<u8>,
    mode: u32,
    size: Option<u64>,
    blob: Option<git2::Oid>,
}

/// Runs `git_ls_files`.
pub fn ls_files(repo: &Repo, args: &LsFilesArgs) -> Result<Output, Error> {
    let filter = PathFilter::new(repo.root(), &args.paths)?;
    let rev = args.rev.as_deref().map(RevSpec::new).transpose()?;
    let skip = args.skip.unwrap_or(0);
    let mut page = Page {
        skip,
        end: skip.saturating_add(args.limit.unwrap_or(200)),
        listed: Vec::new(),
        total: 0,
    };

    let git = repo.lock();
    match &rev {
        Some(rev) => {
            list_tree(&git, rev, &filter, &mut page)?;
            look_up_sizes(&git, &mut page.listed)?;
        }
        None => list_index(&git, &filter, &mut page)?,
    }
    Ok(page.output())
}

/// The paths listed so far: those of the page, and how many there are in all.
struct Page {
    skip: usize,
    /// `skip + limit`: where the page ends.
    end: usize,
    listed: Vec<Listed>,
    total: usize,
}

impl Page {
    fn keep(&mut self, listed: Listed) {
        if (self.skip..self.end).contains(&self.total) {
            self.listed.push(listed);
        }
        self.total += 1;
    }

    fn output(self) -> Output {
        let (skip, total) = (self.skip, self.total);
        let mut text = String::new();
        let mut data = Vec::with_capacity(self.listed.len());
        for listed in &self.listed {
            let path = display_path(&listed.path);
            text.push_str(&path);
            text.push('\n');
            data.push(
                json!({"path": path, "mode": format!("{:06o}", listed.mode), "size": listed.size}),
            );
        }
        if total == 0 {
            text.push_str("(no files)");
        } else if self.listed.is_empty() {
            text.push_str(&format!("(skip={skip} is past the end: {total} files)"));
        }
        let more = more_line(
            &mut text,
            total.saturating_sub(self.end),
            "files",
            &format!("pass skip={}", self.end),
        );
        Output {
            text: text.trim_end_matches('\n').to_owned(),
            data: Value::Array(data),
            fields: FIELDS,
            more,
        }
    }
}

/// The files of `rev`'s tree (`git ls-tree -r`); sizes are looked up later, for the page only.
fn list_tree(
    git: &git2::Repository,
    rev: &RevSpec,
    filter: &PathFilter,
    page: &mut Page,
) -> Result<(), Error> {
    let tree = resolve_tree(git, rev)?;
    walk_tree(git, &tree, filter, |path, entry| {
        let mode = u32::try_from(entry.filemode()).unwrap_or(0);
        let blob = (entry.kind() == Some(git2::ObjectType::Blob)).then(|| entry.id());
        page.keep(Listed {
            path: path.to_vec(),
            mode,
            size: None,
            blob,
        });
        Ok(true)
    })
}

/// The files of the index (`git ls-files`), whose entries carry their sizes.
fn list_index(git: &git2::Repository, filter: &PathFilter, page: &mut Page) -> Result<(), Error> {
    let mut index = git.index()?;
    // The handle outlives other writers (git itself, gitgate's own writes): re-read
    // the index when it changed on disk.
    index.read(false)?;
    let mut last: Option<Vec<u8>> = None;
    for entry in index.iter() {
        // A conflicted path has up to three stages; list it once (`--deduplicate`).
        if last.as_deref() == Some(entry.path.as_slice()) {
            continue;
        }
        last = Some(entry.path.clone());
        if !filter.matches(&entry.path) {
            continue;
        }
        page.keep(Listed {
            path: entry.path,
            mode: entry.mode,
            size: Some(u64::from(entry.file_size)),
            blob: None,
        });
    }
    Ok(())
}

/// Reads the size of each listed blob from its object header (not the whole object).
fn look_up_sizes(git: &git2::Repository, listed: &mut [Listed]) -> Result<(), Error> {
    let odb = git.odb()?;
    for listed in listed {
        if let Some(id) = listed.blob {
            listed.size = odb.read_header(id).ok().map(|(size, _)| size as u64);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    use super::*;
    use crate::git::testutil::{Fixture, merge_conflict, small_tree};

    /// Lists through `ls_files` and compares with `git` run with `oracle` on the same repo.
    fn check(f: &Fixture, args: LsFilesArgs, oracle: &[&str]) {
        let repo = f.open();
        let got = ls_files(&repo, &args).unwrap();
        let want = f.git(oracle);
        let want_text = if want.is_empty() {
            "(no files)"
        } else {
            want.trim_end()
        };
        assert_eq!(got.text, want_text, "{args:?}");
        assert_eq!(got.data.as_array().unwrap().len(), want.lines().count());
    }

    fn ls(rev: Option<&str>, paths: &[&str]) -> LsFilesArgs {
        LsFilesArgs {
            rev: rev.map(str::to_owned),
            paths: paths.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn ls_files_matches_git() {
        let f = small_tree();
        f.git(&["mv", "a.txt", "c.txt"]);
        f.write("new.rs", "new\n");
        f.git(&["add", "new.rs"]);
        check(&f, ls(None, &[]), &["ls-files"]);
        check(&f, ls(None, &["src"]), &["ls-files", "--", "src"]);
        check(&f, ls(None, &["src/"]), &["ls-files", "--", "src/"]);
        check(&f, ls(None, &["*.rs"]), &["ls-files", "--", "*.rs"]);
        check(&f, ls(None, &["src/*.rs"]), &["ls-files", "--", "src/*.rs"]);
        check(
            &f,
            ls(None, &["s?c/[lm]*"]),
            &["ls-files", "--", "s?c/[lm]*"],
        );
        check(
            &f,
            ls(None, &["**/*.md"]),
            &["ls-files", "--", ":(glob)**/*.md"],
        );
        check(
            &f,
            ls(None, &["src", "docs"]),
            &["ls-files", "--", "src", "docs"],
        );
        check(&f, ls(None, &["nothing"]), &["ls-files", "--", "nothing"]);
        check(
            &f,
            ls(Some("HEAD"), &[]),
            &["ls-tree", "-r", "--name-only", "HEAD"],
        );
        check(
            &f,
            ls(Some("main"), &["src"]),
            &["ls-tree", "-r", "--name-only", "main", "--", "src"],
        );
        check(
            &f,
            ls(Some("HEAD"), &["a"]),
            &["ls-tree", "-r", "--name-only", "HEAD", "--", "a"],
        );
    }

    #[test]
    fn ls_files_records_mode_and_size() {
        let f = small_tree();
        let repo = f.open();
        let got = ls_files(&repo, &ls(Some("HEAD"), &["README.md"])).unwrap();
        assert_eq!(
            got.data,
            json!([{"path": "README.md", "mode": "100644", "size": 6}])
        );
        let got = ls_files(&repo, &ls(None, &["README.md"])).unwrap();
        assert_eq!(
            got.data,
            json!([{"path": "README.md", "mode": "100644", "size": 6}])
        );
    }

    #[test]
    fn ls_files_pages_with_a_more_line() {
        let f = small_tree();
        let repo = f.open();
        let args = LsFilesArgs {
            limit: Some(2),
            skip: Some(1),
            ..Default::default()
        };
        let got = ls_files(&repo, &args).unwrap();
        assert_eq!(got.text, "a.txt\na/b.txt\n... 4 more files; pass skip=3");
        assert_eq!(got.more.as_deref(), Some("... 4 more files; pass skip=3"));
        let args = LsFilesArgs {
            skip: Some(50),
            ..Default::default()
        };
        assert_eq!(
            ls_files(&repo, &args).unwrap().text,
            "(skip=50 is past the end: 7 files)"
        );
    }

    #[test]
    fn ls_files_on_a_conflict_lists_the_path_once() {
        let f = merge_conflict();
        check(&f, ls(None, &[]), &["ls-files", "--deduplicate"]);
    }

    #[test]
    fn ls_files_non_utf8_name_is_quoted_like_git() {
        let f = Fixture::new();
        let name = OsStr::from_bytes(b"bad\xffname.txt");
        std::fs::write(f.path().join(name), "x\n").unwrap();
        f.commit("odd name", &[]);
        check(&f, ls(None, &[]), &["ls-files"]);
        check(
            &f,
            ls(Some("HEAD"), &[]),
            &["ls-tree", "-r", "--name-only", "HEAD"],
        );
    }

    #[test]
    fn ls_files_empty_repository() {
        let f = Fixture::new();
        let repo = f.open();
        assert_eq!(ls_files(&repo, &ls(None, &[])).unwrap().text, "(no files)");
        let err = ls_files(&repo, &ls(Some("HEAD"), &[])).unwrap_err();
        assert!(matches!(err, Error::EmptyRepository), "{err}");
    }

    #[test]
    fn ls_files_refuses_bad_input() {
        let f = small_tree();
        let repo = f.open();
        let err = |args| ls_files(&repo, &args).unwrap_err().to_string();
        assert!(err(ls(Some("--all"), &[])).contains("must not start with '-'"));
        assert!(err(ls(Some("mian"), &[])).contains("nearest: main"));
        assert!(err(ls(None, &["../x"])).contains("'..'"));
        assert!(err(ls(None, &["/etc"])).contains("absolute"));
    }

    #[test]
    fn ls_files_on_long_history() {
        let f = crate::git::testutil::long_history(1000);
        check(
            &f,
            ls(Some("HEAD~999"), &[]),
            &["ls-tree", "-r", "--name-only", "HEAD~999"],
        );
        check(&f, ls(None, &[]), &["ls-files"]);
    }
}
