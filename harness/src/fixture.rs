//! Benchmark fixtures: git repositories built in one `git fast-import` run with fixed dates, so
//! every run measures the same history.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// Runs git in `dir` isolated from the machine's global and system configuration.
pub fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .with_context(|| format!("running git {args:?}"))?;
    if !out.status.success() {
        bail!(
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Builds a repository at `dir` with `commits` linear commits on `main` by four authors, each
/// changing one of 20 source files, then leaves one modified file in the worktree.
pub fn linear_history(dir: &Path, commits: usize) -> Result<()> {
    git(dir, &["init", "-q", "-b", "main"])?;
    git(dir, &["config", "user.name", "Bench"])?;
    git(dir, &["config", "user.email", "bench@example.com"])?;
    let authors = [
        "Alice <alice@example.com>",
        "Bob <bob@example.com>",
        "Carol <carol@example.com>",
        "Dan <dan@example.com>",
    ];
    let mut stream = Vec::new();
    for i in 0..commits {
        let author = authors[i % authors.len()];
        let when = 1_704_067_200 + (i as i64) * 3_600;
        let file = format!("src/module_{:02}.rs", i % 20);
        let body = format!("// revision {i}\npub fn f_{i}() -> usize {{\n    {i}\n}}\n");
        let msg = format!("Change {file} (step {i})\n");
        write!(
            stream,
            "commit refs/heads/main\nauthor {author} {when} +0000\ncommitter {author} {when} +0000\n"
        )?;
        write!(stream, "data {}\n{msg}", msg.len())?;
        write!(
            stream,
            "M 100644 inline {file}\ndata {}\n{body}\n",
            body.len()
        )?;
    }
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(Stdio::piped())
        .spawn()
        .context("starting git fast-import")?;
    child
        .stdin
        .take()
        .context("fast-import stdin")?
        .write_all(&stream)
        .context("feeding git fast-import")?;
    if !child
        .wait()
        .context("waiting for git fast-import")?
        .success()
    {
        bail!("git fast-import failed");
    }
    git(dir, &["reset", "-q", "--hard", "main"])?;
    let path = dir.join("src/module_00.rs");
    let mut text = std::fs::read_to_string(&path).context("reading a fixture file")?;
    text.push_str("// local edit\n");
    std::fs::write(&path, text).context("editing a fixture file")?;
    Ok(())
}
