//! Smaller git commands of the run form: `merge-base`, `rev-list`, `shortlog`, `tag` (routed),
//! `ls-files`. Each is a read decided and audited as a call of the JSON tool closest to it.

use std::collections::BTreeMap;

use super::Runner;
use super::git::{Failure, usage};
use crate::git::LogQuery;

fn unsupported(command: &str, arg: &str, flags: &str) -> Failure {
    usage(format!(
        "unsupported option '{arg}' for git {command} in gitgate; supported: {flags}"
    ))
    .into()
}

/// `git merge-base A B`.
pub(super) fn merge_base(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let [a, b] = args else {
        return Err(usage("git merge-base takes two revisions here: git merge-base A B").into());
    };
    if a.starts_with('-') || b.starts_with('-') {
        return Err(unsupported(
            "merge-base",
            if a.starts_with('-') { a } else { b },
            "A B",
        ));
    }
    let out = runner.git_call("git_merge_base", argv, repo, |repo, _| {
        let git = repo.lock();
        Ok(crate::git::merge_base_of(&git, a, b)?.map_or(String::new(), |id| format!("{id}\n")))
    })?;
    // Histories that never meet: git prints nothing, with status 1.
    if out.is_empty() {
        return Err(Failure::Exit(String::new(), 1));
    }
    Ok(out)
}

/// A log query from revisions, ranges and `-- paths`, for rev-list and shortlog.
fn query_of(
    args: &[String],
    mut flag: impl FnMut(&str) -> Result<bool, Failure>,
    command: &str,
    flags: &str,
) -> Result<LogQuery, Failure> {
    let mut query = LogQuery::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--" => query.paths.extend(rest.by_ref().cloned()),
            "--no-merges" => query.merges = Some(false),
            "--merges" => query.merges = Some(true),
            "--first-parent" => query.first_parent = true,
            a if a.starts_with('-') => {
                if !flag(a)? {
                    return Err(unsupported(command, a, flags));
                }
            }
            rev => super::git_log::revision(&mut query, rev)?,
        }
    }
    Ok(query)
}

/// `git rev-list [--count] REVS [-- paths]`.
pub(super) fn rev_list(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let mut count = false;
    let mut max: Option<usize> = None;
    let flags = "--count, -n N/--max-count=N, --merges, --no-merges, --first-parent, REVS, A..B, A...B, -- paths";
    let mut query = query_of(
        args,
        |a| {
            if a == "--count" {
                count = true;
                Ok(true)
            } else if let Some(n) = a.strip_prefix("--max-count=") {
                max = Some(
                    n.parse()
                        .map_err(|_| Failure::from(usage(format!("'{n}' is not a number"))))?,
                );
                Ok(true)
            } else {
                Ok(false)
            }
        },
        "rev-list",
        flags,
    )?;
    if query.starts.is_empty() && query.symmetric.is_none() {
        return Err(usage("git rev-list needs a revision (for example HEAD)").into());
    }
    query.max_count = max;
    Ok(runner.git_call("git_log", argv, repo, |repo, _| {
        let mut out = String::new();
        let n = crate::git::each_commit(repo, &query, |_, commit| {
            if !count {
                out.push_str(&format!("{}\n", commit.id()));
            }
            Ok(())
        })?;
        if count {
            out = format!("{n}\n");
        }
        Ok(out)
    })?)
}

/// `git shortlog [-s] [-n] [-e] REVS`: commits grouped by author.
pub(super) fn shortlog(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let (mut summary, mut numbered, mut email) = (false, false, false);
    let flags = "-s, -n, -e (and combined, as -sn), --no-merges, REVS, A..B, -- paths";
    let mut query = query_of(
        args,
        |a| {
            let letters = a.strip_prefix('-').filter(|l| !l.starts_with('-'));
            match (a, letters) {
                ("--summary", _) => summary = true,
                ("--numbered", _) => numbered = true,
                ("--email", _) => email = true,
                (_, Some(l)) if !l.is_empty() && l.chars().all(|c| "sne".contains(c)) => {
                    summary |= l.contains('s');
                    numbered |= l.contains('n');
                    email |= l.contains('e');
                }
                _ => return Ok(false),
            }
            Ok(true)
        },
        "shortlog",
        flags,
    )?;
    if query.starts.is_empty() && query.symmetric.is_none() {
        query.starts.push("HEAD".into());
    }
    Ok(runner.git_call("git_log", argv, repo, |repo, _| {
        let mut by_author: BTreeMap<String, Vec<String>> = BTreeMap::new();
        crate::git::each_commit(repo, &query, |_, commit| {
            let author = commit.author();
            let mut who = String::from_utf8_lossy(author.name_bytes()).into_owned();
            if email {
                who.push_str(&format!(
                    " <{}>",
                    String::from_utf8_lossy(author.email_bytes())
                ));
            }
            let message = String::from_utf8_lossy(commit.message_bytes()).into_owned();
            let subject = message
                .trim_start_matches('\n')
                .split("\n\n")
                .next()
                .unwrap_or_default()
                .lines()
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ");
            by_author.entry(who).or_default().push(subject);
            Ok(())
        })?;
        let mut groups: Vec<(String, Vec<String>)> = by_author.into_iter().collect();
        if numbered {
            // Most commits first; ties keep the name order (a stable sort over the sorted map).
            groups.sort_by_key(|g| std::cmp::Reverse(g.1.len()));
        }
        let mut out = String::new();
        for (who, subjects) in groups {
            if summary {
                out.push_str(&format!("{:>6}\t{who}\n", subjects.len()));
            } else {
                out.push_str(&format!("{who} ({}):\n", subjects.len()));
                // git lists each author's commits oldest first.
                for s in subjects.iter().rev() {
                    out.push_str(&format!("      {s}\n"));
                }
                out.push('\n');
            }
        }
        Ok(out)
    })?)
}

/// `git tag`: a listing (with its filters and `-n`), or a new tag.
pub(super) fn tag(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let lists = args.is_empty()
        || args.iter().any(|a| {
            matches!(a.as_str(), "-l" | "--list")
                || a.starts_with("-n")
                || ["--contains", "--points-at", "--merged", "--no-merged"]
                    .iter()
                    .any(|f| a.starts_with(f))
        });
    if lists {
        super::git_refs_list::tag_list(runner, argv, args, repo)
    } else {
        super::git_refs::tag(runner, argv, args, repo)
    }
}

/// `git ls-files [-- paths]`: the index's paths, as git prints them.
pub(super) fn ls_files(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let mut paths = Vec::new();
    for arg in args {
        match arg.as_str() {
            "--" | "--cached" | "-c" => {}
            a if a.starts_with('-') => return Err(unsupported("ls-files", a, "--cached, PATHS")),
            p => paths.push(p.to_owned()),
        }
    }
    Ok(runner.git_call("git_ls_files", argv, repo, |repo, _| {
        let git = repo.lock();
        let index = git.index().map_err(crate::git::Error::from)?;
        let mut out = String::new();
        for entry in index.iter() {
            let path = String::from_utf8_lossy(&entry.path).into_owned();
            let wanted = paths.is_empty()
                || paths.iter().any(|p| {
                    let p = p.trim_end_matches('/');
                    path == p || path.starts_with(&format!("{p}/"))
                });
            if wanted {
                out.push_str(&crate::git::display_path(&entry.path));
                out.push('\n');
            }
        }
        Ok(out)
    })?)
}
