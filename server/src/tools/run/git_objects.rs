//! Reading objects in the run form: `git ls-tree` (as a call of `git_ls_files`) and
//! `git cat-file` (as a call of `git_read_file`), printing what git prints.

use super::Runner;
use super::git::{Failure, usage};
use crate::git::safety::{RepoPath, RevSpec};
use crate::tools::ToolError;

/// Largest object `git cat-file` prints or reads: the line's answer is bounded anyway, and an
/// object is read whole.
const OBJECT_MAX: usize = 16 << 20;

#[derive(Debug, Default)]
struct LsTree {
    recursive: bool,
    trees_only: bool,
    with_trees: bool,
    name_only: bool,
    rev: String,
    /// Pathspecs without their trailing slash, and whether they had one.
    specs: Vec<(String, bool)>,
}

/// `git ls-tree [-r] [-d] [-t] [--name-only] REV [PATHS]`.
pub(super) fn ls_tree(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let flags = "-r, -d, -t, --name-only/--name-status, REV [PATHS]";
    let mut cmd = LsTree::default();
    let mut words = Vec::new();
    for arg in args {
        match arg.as_str() {
            "-r" => cmd.recursive = true,
            "-d" => cmd.trees_only = true,
            "-t" => cmd.with_trees = true,
            "--name-only" | "--name-status" => cmd.name_only = true,
            "--" => {}
            a if a.starts_with('-') => {
                return Err(usage(format!(
                    "unsupported option '{a}' for git ls-tree in gitgate; supported: {flags}"
                ))
                .into());
            }
            word => words.push(word.to_owned()),
        }
    }
    let Some((rev, paths)) = words.split_first() else {
        return Err(usage(format!("git ls-tree needs a revision: {flags}")).into());
    };
    cmd.rev = rev.clone();
    Ok(runner.git_call("git_ls_files", argv, repo, |repo, _| {
        for p in paths {
            let slash = p.ends_with('/');
            let spec = RepoPath::new(repo.root(), p)?;
            cmd.specs.push((spec.as_str().to_owned(), slash));
        }
        let git = repo.lock();
        let tree = crate::git::rev::resolve_tree(&git, &RevSpec::new(&cmd.rev)?)?;
        let mut out = String::new();
        walk(&git, &tree, "", &cmd, false, &mut out)?;
        Ok(out)
    })?)
}

/// Prints the entries of `tree` (at `prefix`) that `cmd` selects; `inside` when `tree` is
/// itself selected by a pathspec (everything in it is then shown).
fn walk(
    git: &git2::Repository,
    tree: &git2::Tree<'_>,
    prefix: &str,
    cmd: &LsTree,
    inside: bool,
    out: &mut String,
) -> Result<(), ToolError> {
    for entry in tree.iter() {
        if out.len() > super::MAX_TEXT {
            return Ok(());
        }
        let name = String::from_utf8_lossy(entry.name_bytes());
        let path = format!("{prefix}{name}");
        let is_tree = entry.kind() == Some(git2::ObjectType::Tree);
        // What the pathspecs say: show it, descend into it, or both.
        let (show, descend, selected) = if cmd.specs.is_empty() || inside {
            (true, is_tree && cmd.recursive, inside)
        } else {
            let exact = cmd.specs.iter().find(|(s, _)| *s == path);
            let ancestor = cmd
                .specs
                .iter()
                .any(|(s, _)| s.starts_with(&format!("{path}/")));
            match exact {
                Some((_, slash)) if is_tree && (cmd.recursive || *slash) => (false, true, true),
                Some(_) => (true, false, false),
                None => (false, ancestor && is_tree, false),
            }
        };
        let shown_tree = is_tree && (!descend || cmd.with_trees || cmd.trees_only);
        if show && (!is_tree || shown_tree) && (!cmd.trees_only || is_tree) {
            print_entry(out, &entry, &path, cmd.name_only);
        }
        // A tree selected with a slash shows one level unless -r.
        let one_level = selected && !cmd.recursive;
        if descend {
            let sub = git.find_tree(entry.id()).map_err(crate::git::Error::from)?;
            if one_level {
                for child in sub.iter() {
                    let name = String::from_utf8_lossy(child.name_bytes());
                    let is_tree = child.kind() == Some(git2::ObjectType::Tree);
                    if !cmd.trees_only || is_tree {
                        print_entry(out, &child, &format!("{path}/{name}"), cmd.name_only);
                    }
                }
            } else {
                walk(git, &sub, &format!("{path}/"), cmd, selected || inside, out)?;
            }
        }
    }
    Ok(())
}

fn print_entry(out: &mut String, entry: &git2::TreeEntry<'_>, path: &str, name_only: bool) {
    let path = crate::git::display_path(path.as_bytes());
    if name_only {
        out.push_str(&format!("{path}\n"));
        return;
    }
    let kind = entry.kind().map_or("unknown", |k| k.str());
    out.push_str(&format!(
        "{:06o} {kind} {}\t{path}\n",
        entry.filemode(),
        entry.id()
    ));
}

/// `git cat-file -p|-t|-s|-e OBJECT`, where OBJECT is a revision, an id, or `REV:PATH`.
pub(super) fn cat_file(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let flags = "-p, -t, -s, -e, then REV, an id, or REV:PATH";
    let [mode, object] = args else {
        return Err(usage(format!("gitgate's git cat-file takes: {flags}")).into());
    };
    if !matches!(mode.as_str(), "-p" | "-t" | "-s" | "-e") {
        return Err(usage(format!(
            "unsupported option '{mode}' for git cat-file in gitgate; supported: {flags}"
        ))
        .into());
    }
    Ok(runner.git_call("git_read_file", argv, repo, |repo, _| {
        let git = repo.lock();
        let e = crate::git::Error::from;
        let found = match object.split_once(':') {
            Some((rev, path)) => {
                let rev = RevSpec::new(if rev.is_empty() { "HEAD" } else { rev })?;
                let path = RepoPath::new(repo.root(), path)?;
                let tree = crate::git::rev::resolve_tree(&git, &rev)?;
                tree.get_path(std::path::Path::new(path.as_str()))
                    .and_then(|entry| entry.to_object(&git))
            }
            None => git.revparse_single(RevSpec::new(object)?.as_str()),
        };
        let Ok(found) = found else {
            return Err(ToolError::new(format!("Not a valid object name {object}")));
        };
        let odb = git.odb().map_err(e)?;
        let (size, kind) = odb.read_header(found.id()).map_err(e)?;
        match mode.as_str() {
            "-e" => Ok(String::new()),
            "-t" => Ok(format!("{}\n", kind.str())),
            "-s" => Ok(format!("{size}\n")),
            _ if size > OBJECT_MAX => Err(ToolError::new(format!(
                "{object} is {size} bytes; gitgate's git cat-file -p prints at most {} MiB \
                 (read it in parts with git_read_file)",
                OBJECT_MAX >> 20
            ))),
            _ if kind == git2::ObjectType::Tree => {
                let tree = found.peel_to_tree().map_err(e)?;
                let mut out = String::new();
                for entry in tree.iter() {
                    let name = String::from_utf8_lossy(entry.name_bytes()).into_owned();
                    print_entry(&mut out, &entry, &name, false);
                }
                Ok(out)
            }
            _ => {
                let data = odb.read(found.id()).map_err(e)?;
                Ok(String::from_utf8_lossy(data.data()).into_owned())
            }
        }
    })?)
}
