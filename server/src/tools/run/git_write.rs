//! The everyday writes of the run form: `git add`, `git commit`, `git restore`. Each runs as a
//! call of its JSON tool (`git_add`, `git_commit`, `git_restore`: policy and audit as such,
//! commits by the calling user) and prints what git prints.

use super::Runner;
use super::git::{Failure, usage};
use crate::tools::ToolError;

fn unsupported(command: &str, arg: &str, flags: &str) -> Failure {
    usage(format!(
        "unsupported option '{arg}' for git {command} in gitgate; supported: {flags}"
    ))
    .into()
}

/// `git add PATHS` / `git add -A [PATHS]` / `git add -u [PATHS]`: prints nothing, as git.
pub(super) fn add(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let flags = "-A/--all, -u/--update, PATHS, -- PATHS";
    let mut add = crate::git::AddArgs::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-A" | "--all" => add.all = Some(true),
            "-u" | "--update" => add.update = true,
            // The line runs at the repository root: `.` is everything, as `-A`.
            "." => add.all = Some(true),
            "--" => add.paths.extend(rest.by_ref().cloned()),
            a if a.starts_with('-') => return Err(unsupported("add", a, flags)),
            path => add.paths.push(path.to_owned()),
        }
    }
    if add.paths.is_empty() && add.all != Some(true) && !add.update {
        return Err(Failure::Exit(
            "Nothing specified, nothing added.\nhint: Maybe you wanted to say 'git add .'?\n"
                .to_owned(),
            0,
        ));
    }
    Ok(runner.git_call("git_add", argv, repo, |repo, _| {
        crate::git::add(repo, &add)?;
        Ok(String::new())
    })?)
}

/// `git commit -m MSG [-m MSG2] [-a] [--allow-empty] [-q]`: git's summary, `[branch id]
/// subject`, the stat line and the create/delete/rename lines.
pub(super) fn commit(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let flags = "-m MSG (repeatable), -a/--all, -am MSG, --allow-empty, -q/--quiet";
    let mut messages: Vec<String> = Vec::new();
    let mut commit = crate::git::CommitArgs::default();
    let mut quiet = false;
    let mut rest = args.iter();
    let missing = || Failure::from(usage("switch `m' requires a value"));
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--message" => messages.push(rest.next().ok_or_else(missing)?.clone()),
            "--all" => commit.all = Some(true),
            "--allow-empty" => commit.allow_empty = Some(true),
            "--quiet" => quiet = true,
            "--no-verify" | "--no-gpg-sign" => {}
            a if a.starts_with("--message=") => messages.push(a["--message=".len()..].to_owned()),
            // Bundled letters, as `-am MSG`, `-qm MSG`, `-mMSG`: `m` takes the rest or the
            // next word.
            a if a.len() > 1 && a.starts_with('-') && !a.starts_with("--") => {
                for (i, c) in a.char_indices().skip(1) {
                    match c {
                        'a' => commit.all = Some(true),
                        'q' => quiet = true,
                        'n' => {}
                        'm' if i + 1 < a.len() => {
                            messages.push(a[i + 1..].to_owned());
                            break;
                        }
                        'm' => messages.push(rest.next().ok_or_else(missing)?.clone()),
                        _ => return Err(unsupported("commit", a, flags)),
                    }
                }
            }
            a => return Err(unsupported("commit", a, flags)),
        }
    }
    if messages.is_empty() {
        return Err(usage(format!(
            "gitgate runs no editor: give the message with -m ({flags})"
        ))
        .into());
    }
    // As git: each -m is a paragraph.
    commit.message = messages.join("\n\n");
    Ok(runner.git_call("git_commit", argv, repo, |repo, caller| {
        let done = crate::git::commit(repo, &commit, &caller.identity)?;
        if quiet {
            return Ok(String::new());
        }
        let first = done.text.lines().next().unwrap_or_default().to_owned();
        let sha = done.data["sha"].as_str().unwrap_or_default();
        let oid = git2::Oid::from_str(sha).map_err(crate::git::Error::from)?;
        Ok(format!("{first}\n{}", summary(repo, oid)?))
    })?)
}

/// What `git commit` prints under its first line: the diffstat summary (renames found) and a
/// line per created, deleted or renamed file and per mode change.
fn summary(repo: &crate::git::Repo, oid: git2::Oid) -> Result<String, ToolError> {
    let parent = {
        let git = repo.lock();
        let commit = git.find_commit(oid).map_err(crate::git::Error::from)?;
        commit.parent_id(0).ok()
    };
    let (stat, modes) = changes(repo, parent, oid)?;
    Ok(format!("{stat}{modes}"))
}

/// Between two commits (`from` none: the empty tree), as git's summaries print them: the
/// diffstat's last line (empty when nothing changed) and the create/delete/rename/mode lines.
pub(super) fn changes(
    repo: &crate::git::Repo,
    from: Option<git2::Oid>,
    to: git2::Oid,
) -> Result<(String, String), ToolError> {
    let git = repo.lock();
    let e = crate::git::Error::from;
    let tree_of = |id: git2::Oid| git.find_commit(id).and_then(|c| c.tree());
    let from_tree = from.map(tree_of).transpose().map_err(e)?;
    let tree = tree_of(to).map_err(e)?;
    let mut diff = git
        .diff_tree_to_tree(from_tree.as_ref(), Some(&tree), None)
        .map_err(e)?;
    diff.find_similar(Some(git2::DiffFindOptions::new().renames(true)))
        .map_err(e)?;
    let stats = diff.stats().map_err(e)?;
    if stats.files_changed() == 0 {
        return Ok((String::new(), String::new()));
    }
    let mut stat =
        crate::git::fmt::stat_summary(stats.files_changed(), stats.insertions(), stats.deletions());
    stat.push('\n');
    let mut out = String::new();
    for delta in diff.deltas() {
        let (old, new) = (delta.old_file(), delta.new_file());
        let path =
            |f: &git2::DiffFile<'_>| crate::git::display_path(f.path_bytes().unwrap_or_default());
        let (old_mode, new_mode) = (u32::from(old.mode()), u32::from(new.mode()));
        match delta.status() {
            git2::Delta::Added => {
                out.push_str(&format!(" create mode {new_mode:06o} {}\n", path(&new)))
            }
            git2::Delta::Deleted => {
                out.push_str(&format!(" delete mode {old_mode:06o} {}\n", path(&old)))
            }
            git2::Delta::Renamed => {
                out.push_str(&format!(
                    " rename {} ({}%)\n",
                    rename_name(&path(&old), &path(&new)),
                    similarity(&git, old.id(), new.id())
                ));
                if old_mode != new_mode {
                    out.push_str(&format!(" mode change {old_mode:06o} => {new_mode:06o}\n"));
                }
            }
            _ if old_mode != new_mode => out.push_str(&format!(
                " mode change {old_mode:06o} => {new_mode:06o} {}\n",
                path(&new)
            )),
            _ => {}
        }
    }
    Ok((stat, out))
}

/// How alike two blobs are, in percent, as git estimates it: the bytes of the lines they share
/// over the larger one's size (git hashes line chunks the same way; an exact rename is 100).
fn similarity(git: &git2::Repository, a: git2::Oid, b: git2::Oid) -> usize {
    if a == b {
        return 100;
    }
    let (Ok(a), Ok(b)) = (git.find_blob(a), git.find_blob(b)) else {
        return 0;
    };
    let mut lines: std::collections::HashMap<&[u8], usize> = std::collections::HashMap::new();
    for line in a.content().split_inclusive(|&c| c == b'\n') {
        *lines.entry(line).or_default() += 1;
    }
    let mut common = 0;
    for line in b.content().split_inclusive(|&c| c == b'\n') {
        if let Some(n) = lines.get_mut(line).filter(|n| **n > 0) {
            *n -= 1;
            common += line.len();
        }
    }
    let larger = a.content().len().max(b.content().len()).max(1);
    common * 100 / larger
}

/// `a => b` with the common leading directories and trailing part outside braces, as git's
/// diffstat and summary print a rename: `src/{a.rs => b.rs}`.
fn rename_name(a: &str, b: &str) -> String {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let mut prefix = 0;
    for (i, (x, y)) in ab.iter().zip(bb).enumerate() {
        if x != y {
            break;
        }
        if *x == b'/' {
            prefix = i + 1;
        }
    }
    // The common suffix, starting at a '/', not reaching into the prefix (but for its slash).
    let mut suffix = 0;
    let floor = prefix.saturating_sub(usize::from(prefix > 0));
    let (mut i, mut j) = (ab.len(), bb.len());
    while i > floor && j > floor && ab[i - 1] == bb[j - 1] {
        i -= 1;
        j -= 1;
        if ab[i] == b'/' {
            suffix = ab.len() - i;
        }
    }
    let a_mid = ab.len().saturating_sub(prefix + suffix);
    let b_mid = bb.len().saturating_sub(prefix + suffix);
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    if prefix + suffix == 0 {
        return format!("{a} => {b}");
    }
    format!(
        "{}{{{} => {}}}{}",
        text(&ab[..prefix]),
        text(&ab[prefix..prefix + a_mid]),
        text(&bb[prefix..prefix + b_mid]),
        text(&ab[ab.len() - suffix..])
    )
}

/// `git rm [--cached] [-r] [-q] PATHS`: `rm 'path'` per removed file.
pub(super) fn rm(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let flags = "--cached, -r, -q, PATHS, -- PATHS";
    let mut rm = crate::git::RmArgs::default();
    let mut quiet = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--cached" => rm.cached = Some(true),
            "-r" => rm.recursive = Some(true),
            "-q" | "--quiet" => quiet = true,
            "-rq" | "-qr" => {
                rm.recursive = Some(true);
                quiet = true;
            }
            "--" => rm.paths.extend(rest.by_ref().cloned()),
            a if a.starts_with('-') => return Err(unsupported("rm", a, flags)),
            path => rm.paths.push(path.to_owned()),
        }
    }
    let losing = std::cell::Cell::new(false);
    let result = runner.git_call("git_rm", argv, repo, |repo, _| {
        let done = crate::git::rm(repo, &rm).inspect_err(|e| {
            losing.set(matches!(e, crate::git::Error::WouldLoseChanges { .. }));
        })?;
        Ok(if quiet {
            String::new()
        } else {
            format!("{}\n", done.text)
        })
    });
    match result {
        // git refuses these with status 1 (an error, not a fatal one).
        Err(e) if losing.get() => Err(Failure::Exit(format!("error: {}\n", e.message), 1)),
        other => Ok(other?),
    }
}

/// `git mv A B`: prints nothing, as git.
pub(super) fn mv(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let words: Vec<&String> = args.iter().filter(|a| *a != "--").collect();
    let [source, destination] = words.as_slice() else {
        return Err(usage("gitgate's git mv takes two paths: git mv SOURCE DESTINATION").into());
    };
    if let Some(flag) = words.iter().find(|w| w.starts_with('-')) {
        return Err(unsupported("mv", flag, "SOURCE DESTINATION"));
    }
    let mv = crate::git::MvArgs {
        source: (*source).clone(),
        destination: (*destination).clone(),
    };
    Ok(runner.git_call("git_mv", argv, repo, |repo, _| {
        crate::git::mv(repo, &mv)?;
        Ok(String::new())
    })?)
}

/// `git restore [--staged] [--worktree] [--source REV] PATHS`: prints nothing, as git.
pub(super) fn restore(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let flags = "-S/--staged, -W/--worktree, -s/--source REV, PATHS, -- PATHS";
    let mut restore = crate::git::RestoreArgs::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if let Some(rev) = arg.strip_prefix("--source=") {
            restore.source = Some(rev.to_owned());
            continue;
        }
        match arg.as_str() {
            "-s" | "--source" => match rest.next() {
                Some(rev) => restore.source = Some(rev.clone()),
                None => {
                    return Err(usage(format!("option '{arg}' requires a value")).into());
                }
            },
            "-S" | "--staged" => restore.staged = Some(true),
            "-W" | "--worktree" => restore.worktree = Some(true),
            "-SW" | "-WS" => {
                restore.staged = Some(true);
                restore.worktree = Some(true);
            }
            "--" => restore.paths.extend(rest.by_ref().cloned()),
            a if a.starts_with('-') => return Err(unsupported("restore", a, flags)),
            path => restore.paths.push(path.to_owned()),
        }
    }
    if restore.paths.is_empty() {
        return Err(usage("you must specify path(s) to restore").into());
    }
    // As git: without --staged the worktree is restored; --staged alone leaves it.
    if restore.staged != Some(true) {
        restore.worktree = Some(true);
    }
    let unmatched = std::cell::Cell::new(false);
    let result = runner.git_call("git_restore", argv, repo, |repo, _| {
        crate::git::restore(repo, &restore).map_err(|e| match e {
            crate::git::Error::PathNotFound { path, .. } => {
                unmatched.set(true);
                ToolError::new(format!(
                    "pathspec '{path}' did not match any file(s) known to git"
                ))
            }
            e => e.into(),
        })?;
        Ok(String::new())
    });
    match result {
        // git refuses an unmatched path as an error (status 1), not a fatal one.
        Err(e) if unmatched.get() => Err(Failure::Exit(format!("error: {}\n", e.message), 1)),
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    use super::rename_name;

    #[test]
    fn renames_print_as_git_prints_them() {
        assert_eq!(
            rename_name("src/extra.rs", "src/more.rs"),
            "src/{extra.rs => more.rs}"
        );
        assert_eq!(rename_name("a.txt", "b.txt"), "a.txt => b.txt");
        assert_eq!(rename_name("a/x.rs", "b/x.rs"), "{a => b}/x.rs");
        assert_eq!(rename_name("d/a/x.rs", "d/b/x.rs"), "d/{a => b}/x.rs");
        assert_eq!(rename_name("x.rs", "d/x.rs"), "x.rs => d/x.rs");
        assert_eq!(rename_name("d/x.rs", "d/e/x.rs"), "d/{ => e}/x.rs");
    }
}
