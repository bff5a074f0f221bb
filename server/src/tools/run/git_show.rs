//! `git show` in the run form: a commit's header (git log's formats) and its patch, diffstat
//! or file names; `REV:PATH` prints a file as it was at REV.

use super::Runner;
use super::git::{Failure, usage};
use super::git_log::{self, Pretty};

const FLAGS: &str = "-s/--no-patch, --stat, --name-only, --name-status, --oneline, \
--format/--pretty, --date, REV, REV:PATH, -- paths";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    Patch,
    Stat,
    NameOnly,
    NameStatus,
    Nothing,
}

/// `git show`'s arguments: what to print after the header, the header's log flags, the
/// revision and the paths.
struct ShowCommand {
    body: Body,
    log_args: Vec<String>,
    rev: Option<String>,
    paths: Vec<String>,
}

fn parse(args: &[String]) -> Result<ShowCommand, Failure> {
    let mut cmd = ShowCommand {
        body: Body::Patch,
        log_args: Vec::new(),
        rev: None,
        paths: Vec::new(),
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-s" | "--no-patch" => cmd.body = Body::Nothing,
            "--stat" => cmd.body = Body::Stat,
            "--name-only" => cmd.body = Body::NameOnly,
            "--name-status" => cmd.body = Body::NameStatus,
            "--" => cmd.paths.extend(rest.by_ref().cloned()),
            a if a == "--oneline"
                || a.starts_with("--format")
                || a.starts_with("--pretty")
                || a.starts_with("--date") =>
            {
                cmd.log_args.push(a.to_owned());
            }
            a if a.starts_with('-') => {
                return Err(usage(format!(
                    "unsupported option '{a}' for git show in gitgate; supported: {FLAGS}"
                ))
                .into());
            }
            r if cmd.rev.is_none() => cmd.rev = Some(r.to_owned()),
            _ => return Err(usage("git show takes one revision here").into()),
        }
    }
    Ok(cmd)
}

pub(super) fn run(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let ShowCommand {
        body,
        log_args,
        rev,
        paths,
    } = parse(args)?;
    let rev = rev.unwrap_or_else(|| "HEAD".to_owned());
    if let Some((at, path)) = rev.split_once(':') {
        let (at, path) = (at.to_owned(), path.to_owned());
        return Ok(runner.git_call("git_read_file", argv, repo, |repo, _| {
            blob(repo, &at, &path)
        })?);
    }
    let cmd = git_log::parse(&log_args)?;
    Ok(runner.git_call("git_show", argv, repo, |repo, _| {
        let mut out = String::new();
        let merge;
        {
            let git = repo.lock();
            let spec = crate::git::safety::RevSpec::new(&rev)?;
            let commit = crate::git::resolve_commit(&git, &spec)?;
            merge = commit.parent_count() > 1;
            git_log::print(&mut out, &git, &commit, &cmd, true)?;
        }
        if body == Body::Nothing {
            return Ok(out);
        }
        // A clean merge's combined diff is empty: git prints only the first-parent diffstat
        // when asked for one.
        let lines = if merge && body != Body::Stat {
            String::new()
        } else {
            let (text, files) = crate::git::commit_changes(repo, &rev, &paths, body == Body::Stat)?;
            match body {
                Body::NameOnly => files
                    .iter()
                    .map(|f| format!("{}\n", f["path"].as_str().unwrap_or_default()))
                    .collect(),
                Body::NameStatus => files.iter().map(super::git_diff::name_status).collect(),
                _ if text.is_empty() => String::new(),
                _ => format!("{text}\n"),
            }
        };
        if lines.is_empty() && !merge {
            return Ok(out);
        }
        // A blank line between the header and the changes, except after a one-line header
        // of an ordinary commit.
        if merge || !matches!(cmd.pretty, Pretty::Oneline { .. }) {
            out.push('\n');
        }
        out.push_str(&lines);
        Ok(out)
    })?)
}

/// The file `path` as it is in `rev`'s tree (an empty `rev`, as in `:path`, is HEAD).
fn blob(repo: &crate::git::Repo, rev: &str, path: &str) -> Result<String, crate::tools::ToolError> {
    use crate::tools::ToolError;
    const MAX_BLOB: usize = 4 << 20;
    // The same path checks as git_read_file (no `..`, no `.git/`, nothing absolute).
    crate::git::safety::RepoPath::new(repo.root(), path)?;
    let at = if rev.is_empty() { "HEAD" } else { rev };
    let git = repo.lock();
    let spec = crate::git::safety::RevSpec::new(at)?;
    let tree = crate::git::resolve_commit(&git, &spec)?
        .tree()
        .map_err(crate::git::Error::from)?;
    let entry = tree
        .get_path(std::path::Path::new(path))
        .map_err(|_| ToolError::new(format!("path '{path}' does not exist in '{at}'")))?;
    let object = entry.to_object(&git).map_err(crate::git::Error::from)?;
    let Some(blob) = object.as_blob() else {
        return Err(ToolError::new(format!(
            "'{at}:{path}' is a tree; use git ls-files"
        )));
    };
    if blob.size() > MAX_BLOB {
        return Err(ToolError::new(format!(
            "'{at}:{path}' is {} bytes, over the {} MiB a line prints; read parts with git_read_file",
            blob.size(),
            MAX_BLOB >> 20
        )));
    }
    Ok(String::from_utf8_lossy(blob.content()).into_owned())
}
