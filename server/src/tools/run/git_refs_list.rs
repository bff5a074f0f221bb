//! Listing refs in the run form: `git branch` with its filters and `-v`, `git tag` with its
//! filters and `-n`, and `git describe`. Reads, decided and audited as `git_branches` (the
//! listings) and `git_log` (describe).

use super::Runner;
use super::git::{Failure, usage};
use crate::tools::ToolError;

/// Which refs a listing keeps, from git's filter flags.
#[derive(Debug, Default)]
struct Filters {
    merged: Option<String>,
    no_merged: Option<String>,
    contains: Option<String>,
    points_at: Option<String>,
    patterns: Vec<String>,
}

impl Filters {
    /// Reads a filter flag (and its value from `rest`) into `self`; false when `arg` is not
    /// one. `--merged`/`--no-merged` take an optional revision (default HEAD).
    fn take<'a>(
        &mut self,
        arg: &str,
        rest: &mut std::iter::Peekable<impl Iterator<Item = &'a String>>,
    ) -> Result<bool, Failure> {
        let mut optional = match rest.peek() {
            Some(v) if !v.starts_with('-') => Some((*v).clone()),
            _ => None,
        };
        let mut take_optional = |rest: &mut std::iter::Peekable<_>| -> String {
            match optional.take() {
                Some(v) => {
                    rest.next();
                    v
                }
                None => "HEAD".to_owned(),
            }
        };
        let mut required = |name: &str| -> Result<String, Failure> {
            rest.next()
                .cloned()
                .ok_or_else(|| usage(format!("option `{name}' requires a value")).into())
        };
        match arg {
            "--merged" => self.merged = Some(take_optional(rest)),
            "--no-merged" => self.no_merged = Some(take_optional(rest)),
            "--contains" => self.contains = Some(required("contains")?),
            "--points-at" => self.points_at = Some(required("points-at")?),
            a if a.starts_with("--merged=") => self.merged = Some(a[9..].to_owned()),
            a if a.starts_with("--no-merged=") => self.no_merged = Some(a[12..].to_owned()),
            a if a.starts_with("--contains=") => self.contains = Some(a[11..].to_owned()),
            a if a.starts_with("--points-at=") => self.points_at = Some(a[12..].to_owned()),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Whether a ref named `name` (short) whose commit is `tip` (and whose own object is
    /// `object`) is kept.
    fn keeps(
        &self,
        git: &git2::Repository,
        name: &str,
        tip: git2::Oid,
        object: git2::Oid,
    ) -> Result<bool, ToolError> {
        let resolve = |rev: &str| -> Result<git2::Oid, ToolError> {
            let spec = crate::git::safety::RevSpec::new(rev)?;
            Ok(crate::git::resolve_commit(git, &spec)?.id())
        };
        // `a` is `b` or an ancestor of it.
        let within = |a: git2::Oid, b: git2::Oid| -> Result<bool, ToolError> {
            Ok(a == b
                || git
                    .graph_descendant_of(b, a)
                    .map_err(crate::git::Error::from)?)
        };
        if !self.patterns.is_empty() && !self.patterns.iter().any(|p| glob(p, name)) {
            return Ok(false);
        }
        if let Some(rev) = &self.merged
            && !within(tip, resolve(rev)?)?
        {
            return Ok(false);
        }
        if let Some(rev) = &self.no_merged
            && within(tip, resolve(rev)?)?
        {
            return Ok(false);
        }
        if let Some(rev) = &self.contains
            && !within(resolve(rev)?, tip)?
        {
            return Ok(false);
        }
        if let Some(rev) = &self.points_at
            && resolve(rev)? != tip
            && resolve(rev)? != object
        {
            return Ok(false);
        }
        Ok(true)
    }
}

/// git's `wildmatch` for ref names, as far as listings need it: `*`, `?`, and literal text.
/// Greedy with one backtrack point (the last `*`): time is bounded by the product of the two
/// lengths, whatever the pattern.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < t.len() {
        match p.get(i) {
            Some(b'*') => {
                star = Some((i, j));
                i += 1;
            }
            Some(&c) if c == b'?' || c == t[j] => {
                i += 1;
                j += 1;
            }
            _ => match star {
                // Let the last star take one more character and try again.
                Some((si, sj)) => {
                    star = Some((si, sj + 1));
                    i = si + 1;
                    j = sj + 1;
                }
                None => return false,
            },
        }
    }
    p[i..].iter().all(|&c| c == b'*')
}

/// `git branch [-a] [-r] [-v] [-vv] [--merged [R]] [--no-merged [R]] [--contains R]
/// [--list PATTERN...] [--show-current]`.
pub(super) fn branch_list(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let flags = "-a, -r, -v, -vv, --merged [REV], --no-merged [REV], --contains REV, \
        --list PATTERN, --show-current; writes: NAME [START], -d/-D NAME";
    let mut filters = Filters::default();
    let (mut local, mut remote, mut verbose, mut current_only) = (true, false, false, false);
    let mut rest = args.iter().peekable();
    while let Some(arg) = rest.next() {
        if filters.take(arg, &mut rest)? {
            continue;
        }
        match arg.as_str() {
            "-a" | "--all" => remote = true,
            "-r" | "--remotes" => (local, remote) = (false, true),
            "-v" | "-vv" | "--verbose" => verbose = true,
            "-l" | "--list" | "--no-color" => {}
            "--show-current" => current_only = true,
            a if a.starts_with('-') => {
                return Err(usage(format!(
                    "unsupported option '{a}' for git branch in gitgate; supported: {flags}"
                ))
                .into());
            }
            pattern => filters.patterns.push(pattern.to_owned()),
        }
    }
    Ok(runner.git_call("git_branches", argv, repo, |repo, _| {
        let git = repo.lock();
        let e = crate::git::Error::from;
        let head = git.head().ok();
        let current = head
            .as_ref()
            .filter(|h| h.is_branch())
            .and_then(|h| h.name().ok().map(str::to_owned));
        if current_only {
            let name = current
                .as_deref()
                .and_then(|c| c.strip_prefix("refs/heads/"));
            return Ok(name.map(|c| format!("{c}\n")).unwrap_or_default());
        }
        let rows = branch_rows(
            &git,
            &filters,
            (local, remote),
            head.as_ref(),
            current.as_deref(),
        )?;
        let width = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
        let mut out = String::new();
        for (mark, name, id) in rows {
            if verbose {
                let commit = git.find_commit(id).map_err(e)?;
                out.push_str(&format!(
                    "{mark} {name:<width$} {} {}\n",
                    crate::git::unique_short_id(&git, id),
                    commit.summary().ok().flatten().unwrap_or_default()
                ));
            } else {
                out.push_str(&format!("{mark} {name}\n"));
            }
        }
        Ok(out)
    })?)
}

/// The listed branches as `(mark, shown name, commit)`: a detached HEAD first, then local
/// branches and (`remotes/`-prefixed beside them) remote-tracking ones, each sorted.
fn branch_rows(
    git: &git2::Repository,
    filters: &Filters,
    (local, remote): (bool, bool),
    head: Option<&git2::Reference<'_>>,
    current: Option<&str>,
) -> Result<Vec<(char, String, git2::Oid)>, ToolError> {
    let e = crate::git::Error::from;
    let mut rows: Vec<(char, String, git2::Oid)> = Vec::new();
    if local
        && current.is_none()
        && let Some(id) = head.and_then(|h| h.target())
        && filters.keeps(git, "HEAD", id, id)?
    {
        let short = crate::git::unique_short_id(git, id);
        rows.push(('*', format!("(HEAD detached at {short})"), id));
    }
    for (wanted, prefix, shown) in [
        (local, "refs/heads/", ""),
        (remote, "refs/remotes/", if local { "remotes/" } else { "" }),
    ] {
        if !wanted {
            continue;
        }
        let mut refs: Vec<(String, git2::Oid, String)> = Vec::new();
        for r in git.references_glob(&format!("{prefix}*")).map_err(e)? {
            let r = r.map_err(e)?;
            let full = r.name().ok().unwrap_or_default().to_owned();
            let Ok(commit) = r.peel_to_commit() else {
                continue;
            };
            let name = full[prefix.len()..].to_owned();
            refs.push((name, commit.id(), full));
        }
        refs.sort();
        for (name, id, full) in refs {
            if filters.keeps(git, &name, id, id)? {
                let mark = if Some(full.as_str()) == current {
                    '*'
                } else {
                    ' '
                };
                rows.push((mark, format!("{shown}{name}"), id));
            }
        }
    }
    Ok(rows)
}

/// `git tag [-l] [PATTERN...] [-n[N]] [--contains R] [--points-at R] [--merged R]`.
pub(super) fn tag_list(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let flags = "-l/--list [PATTERN...], -n[N], --contains REV, --points-at REV, \
        --merged [REV], --no-merged [REV]; writes: NAME [REV], -a NAME -m MSG";
    let mut filters = Filters::default();
    let mut lines: Option<usize> = None;
    let mut rest = args.iter().peekable();
    while let Some(arg) = rest.next() {
        if filters.take(arg, &mut rest)? {
            continue;
        }
        match arg.as_str() {
            "-l" | "--list" => {}
            a if a.starts_with("-n") && a[2..].bytes().all(|b| b.is_ascii_digit()) => {
                lines = Some(a[2..].parse().unwrap_or(1));
            }
            a if a.starts_with('-') => {
                return Err(usage(format!(
                    "unsupported option '{a}' for git tag in gitgate; supported: {flags}"
                ))
                .into());
            }
            pattern => filters.patterns.push(pattern.to_owned()),
        }
    }
    Ok(runner.git_call("git_branches", argv, repo, |repo, _| {
        let git = repo.lock();
        let e = crate::git::Error::from;
        let mut tags: Vec<(String, git2::Oid, git2::Oid)> = Vec::new();
        for r in git.references_glob("refs/tags/*").map_err(e)? {
            let r = r.map_err(e)?;
            let name = r.name().ok().unwrap_or_default()["refs/tags/".len()..].to_owned();
            let (Some(object), Ok(commit)) = (r.target(), r.peel_to_commit()) else {
                continue;
            };
            tags.push((name, commit.id(), object));
        }
        tags.sort();
        let mut out = String::new();
        for (name, tip, object) in tags {
            if !filters.keeps(&git, &name, tip, object)? {
                continue;
            }
            let Some(n) = lines else {
                out.push_str(&format!("{name}\n"));
                continue;
            };
            // The annotation's message, or the commit's for a lightweight tag.
            let message = match git.find_tag(object) {
                Ok(tag) => {
                    String::from_utf8_lossy(tag.message_bytes().unwrap_or_default()).into_owned()
                }
                Err(_) => String::from_utf8_lossy(git.find_commit(tip).map_err(e)?.message_bytes())
                    .into_owned(),
            };
            let mut body = message.lines().take(n.max(1));
            out.push_str(&format!("{name:<15} {}\n", body.next().unwrap_or_default()));
            for line in body {
                out.push_str(&format!("    {line}\n"));
            }
        }
        Ok(out)
    })?)
}

/// `git describe [--tags] [--always] [--abbrev=N] [REV]`.
pub(super) fn describe(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let flags = "--tags, --always, --abbrev=N, [REV]";
    let (mut tags, mut always, mut abbrev) = (false, false, None);
    let mut revs = Vec::new();
    for arg in args {
        match arg.as_str() {
            "--tags" => tags = true,
            "--always" => always = true,
            a if a.starts_with("--abbrev=") => {
                abbrev =
                    Some(a[9..].parse::<u32>().map_err(|_| {
                        Failure::from(usage(format!("'{}' is not a number", &a[9..])))
                    })?)
            }
            a if a.starts_with('-') => {
                return Err(usage(format!(
                    "unsupported option '{a}' for git describe in gitgate; supported: {flags}"
                ))
                .into());
            }
            rev => revs.push(rev.to_owned()),
        }
    }
    if revs.len() > 1 {
        return Err(usage(format!(
            "gitgate's git describe takes one revision: {flags}"
        ))
        .into());
    }
    let rev = revs.pop().unwrap_or_else(|| "HEAD".to_owned());
    Ok(runner.git_call("git_log", argv, repo, |repo, _| {
        let git = repo.lock();
        let spec = crate::git::safety::RevSpec::new(&rev)?;
        let commit = crate::git::resolve_commit(&git, &spec)?;
        let mut opts = git2::DescribeOptions::new();
        if tags {
            opts.describe_tags();
        }
        opts.show_commit_oid_as_fallback(always);
        let described = commit.as_object().describe(&opts).map_err(|_| {
            ToolError::new(format!(
                "No names found, cannot describe '{}' (annotated tags only; try --tags or \
                 --always)",
                commit.id()
            ))
        })?;
        let mut format = git2::DescribeFormatOptions::new();
        format.abbreviated_size(abbrev.unwrap_or(7));
        let text = described
            .format(Some(&format))
            .map_err(crate::git::Error::from)?;
        Ok(format!("{text}\n"))
    })?)
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs_match_as_git_matches_ref_names() {
        for (p, t, want) in [
            ("v*", "v0.1", true),
            ("v0.?", "v0.2", true),
            ("v0.?", "v0.12", false),
            ("*1", "release-1", true),
            ("f*e", "feature", true),
            ("f*x", "feature", false),
            ("*", "", true),
            ("main", "main", true),
            ("main", "mainline", false),
        ] {
            assert_eq!(glob(p, t), want, "{p} {t}");
        }
        // No blow-up on a pattern made to backtrack.
        let long = "a".repeat(200);
        assert!(!glob(&format!("{}b", "*a".repeat(100)), &long));
    }
}
