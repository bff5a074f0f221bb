//! `git blame` in the run form: the backend's line authorship printed in git's default
//! (non-porcelain) format, `<id> (<author> <date> <line>) <content>`.

use super::Runner;
use super::git::{Failure, usage};
use crate::git::BlameLine;

const FLAGS: &str = "-L START,END (END may be +N or -N; either may be left out), -s, -e, -l, \
[REV] [--] FILE";
/// Lines one `git blame` prints: a blame walks history for every line, and a file this long
/// is better read in `-L` ranges.
const MAX_LINES: usize = 20_000;

/// A parsed `git blame` command line.
#[derive(Debug, Default)]
struct BlameCommand {
    range: Option<String>,
    no_author: bool,
    email: bool,
    long: bool,
    rev: Option<String>,
    file: String,
}

fn parse(args: &[String]) -> Result<BlameCommand, Failure> {
    let mut cmd = BlameCommand::default();
    let mut words = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--" => {
                let files: Vec<&String> = rest.by_ref().collect();
                let [file] = files.as_slice() else {
                    return Err(usage("git blame takes one file after --").into());
                };
                cmd.file = (*file).clone();
                return words_to(cmd, &words, true);
            }
            "-s" => cmd.no_author = true,
            "-e" | "--show-email" => cmd.email = true,
            "-l" => cmd.long = true,
            "-L" => {
                let value = rest
                    .next()
                    .ok_or_else(|| Failure::from(usage("switch `L' requires a value")))?;
                set_range(&mut cmd, value)?;
            }
            a if a.starts_with("-L") => set_range(&mut cmd, &a[2..])?,
            a if a.len() > 2 && a.starts_with('-') && a[1..].chars().all(|c| "sel".contains(c)) => {
                cmd.no_author |= a.contains('s');
                cmd.email |= a.contains('e');
                cmd.long |= a.contains('l');
            }
            a if a.starts_with('-') => {
                return Err(usage(format!(
                    "unsupported option '{a}' for git blame in gitgate; supported: {FLAGS}"
                ))
                .into());
            }
            word => words.push(word.to_owned()),
        }
    }
    words_to(cmd, &words, false)
}

fn set_range(cmd: &mut BlameCommand, value: &str) -> Result<(), Failure> {
    if cmd.range.is_some() {
        return Err(usage("gitgate's git blame takes one -L range").into());
    }
    cmd.range = Some(value.to_owned());
    Ok(())
}

/// The revision and file from the words outside options: `FILE` or `REV FILE` (or, when the
/// file came after `--`, an optional `REV`).
fn words_to(
    mut cmd: BlameCommand,
    words: &[String],
    file_given: bool,
) -> Result<BlameCommand, Failure> {
    match (words, file_given) {
        ([], true) => {}
        ([rev], true) => cmd.rev = Some(rev.clone()),
        ([file], false) => cmd.file = file.clone(),
        ([rev, file], false) => {
            cmd.rev = Some(rev.clone());
            cmd.file = file.clone();
        }
        ([], false) => return Err(usage(format!("git blame needs a file: {FLAGS}")).into()),
        _ => return Err(usage(format!("too many arguments for git blame: {FLAGS}")).into()),
    }
    Ok(cmd)
}

/// `-L` as git reads it: `A,B`, `A,+N` (N lines from A), `A,-N` (N lines up to A), `A` (to the
/// end), `,B` (from the first line). A reversed range is swapped, as git does.
fn line_range(text: &str) -> Result<(usize, Option<usize>), Failure> {
    let bad = || Failure::from(usage(format!("invalid -L range '{text}': {FLAGS}")));
    let number = |s: &str| s.parse::<usize>().map_err(|_| bad());
    let (a, b) = text.split_once(',').unwrap_or((text, ""));
    let start = if a.is_empty() { 1 } else { number(a)? };
    if start == 0 {
        return Err(bad());
    }
    let (start, end) = if b.is_empty() {
        (start, None)
    } else if let Some(n) = b.strip_prefix('+') {
        let n = number(n)?;
        (start, Some(start + n.max(1) - 1))
    } else if let Some(n) = b.strip_prefix('-') {
        let n = number(n)?;
        (start.saturating_sub(n.max(1) - 1).max(1), Some(start))
    } else {
        let end = number(b)?;
        if end == 0 {
            return Err(bad());
        }
        (start.min(end), Some(start.max(end)))
    };
    Ok((start, end))
}

/// `git blame [-L RANGE] [-s] [-e] [-l] [REV] [--] FILE`.
pub(super) fn run(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let cmd = parse(args)?;
    let (start, end) = match &cmd.range {
        Some(range) => line_range(range)?,
        None => (1, None),
    };
    let rev = cmd.rev.clone().unwrap_or_else(|| "HEAD".to_owned());
    Ok(runner.git_call("git_blame", argv, repo, |repo, _| {
        let lines = crate::git::blame_lines(repo, &cmd.file, &rev, start, end, MAX_LINES)?;
        let git = repo.lock();
        // git's width: its auto abbreviation plus one digit, so that a boundary commit's `^`
        // takes the place of the last one.
        let width = if cmd.long {
            40
        } else {
            lines
                .iter()
                .map(|l| crate::git::unique_short_id(&git, l.id).len())
                .max()
                .unwrap_or(7)
                + 1
        };
        Ok(render(&cmd, &lines, width))
    })?)
}

fn render(cmd: &BlameCommand, lines: &[BlameLine], width: usize) -> String {
    let who = |l: &BlameLine| {
        if cmd.email {
            format!("<{}>", l.email)
        } else {
            l.name.clone()
        }
    };
    let author_width = lines
        .iter()
        .map(|l| who(l).chars().count())
        .max()
        .unwrap_or(0);
    let number_width = lines.last().map_or(1, |l| l.line.to_string().len());
    let mut out = String::new();
    for l in lines {
        let hex = l.id.to_string();
        if l.boundary {
            out.push('^');
            out.push_str(&hex[..width - 1]);
        } else {
            out.push_str(&hex[..width]);
        }
        if !cmd.no_author {
            let name = who(l);
            let pad = author_width - name.chars().count();
            let date = crate::git::fmt::local(l.time).format("%Y-%m-%d %H:%M:%S %z");
            out.push_str(&format!(" ({name}{:pad$} {date}", ""));
        } else {
            out.push(' ');
        }
        if !cmd.no_author {
            out.push(' ');
        }
        out.push_str(&format!("{:>number_width$}) ", l.line));
        out.push_str(&String::from_utf8_lossy(&l.content));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, want: Option<(usize, Option<usize>)>) {
        assert_eq!(line_range(text).ok(), want, "{text}");
    }

    #[test]
    fn line_ranges_read_as_git_reads_them() {
        check("2,4", Some((2, Some(4))));
        check("4,2", Some((2, Some(4))));
        check("3", Some((3, None)));
        check(",3", Some((1, Some(3))));
        check("2,+3", Some((2, Some(4))));
        check("5,-2", Some((4, Some(5))));
        check("1,-5", Some((1, Some(1))));
        check("0,2", None);
        check("x", None);
        check("1,y", None);
    }
}
