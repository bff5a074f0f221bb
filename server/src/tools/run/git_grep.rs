//! `git grep` in the run form: git's pattern dialects (basic, `-E`, `-F`) translated to the
//! backend's regex, its output forms (`path:line`, `-n`, `-l`, `-c`) and exit status (1 when
//! nothing matches).

use super::Runner;
use super::git::{Failure, usage};

const FLAGS: &str = "-n, -l/--files-with-matches/--name-only, -c/--count, -i, -w, -q, \
-e PATTERN (repeatable), -E, -F, -G, PATTERN [REV] [--] [PATHS]";

/// How the patterns are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Dialect {
    /// POSIX basic regular expressions, git's default.
    #[default]
    Basic,
    Extended,
    Fixed,
}

/// What is printed per file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Form {
    #[default]
    Lines,
    Names,
    Count,
    Quiet,
}

#[derive(Debug, Default)]
struct GrepCommand {
    patterns: Vec<String>,
    dialect: Dialect,
    form: Form,
    numbers: bool,
    ignore_case: bool,
    word: bool,
    /// Words after the pattern and before `--`: revisions, or paths when they name none.
    words: Vec<String>,
    paths: Vec<String>,
}

fn parse(args: &[String]) -> Result<GrepCommand, Failure> {
    let mut cmd = GrepCommand::default();
    let mut rest = args.iter();
    let mut words = Vec::new();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--" => {
                cmd.paths.extend(rest.by_ref().cloned());
                break;
            }
            "-e" => cmd.patterns.push(
                rest.next()
                    .ok_or_else(|| Failure::from(usage("switch `e' requires a value")))?
                    .clone(),
            ),
            "--files-with-matches" | "--name-only" => cmd.form = Form::Names,
            "--count" => cmd.form = Form::Count,
            "--quiet" => cmd.form = Form::Quiet,
            "--line-number" => cmd.numbers = true,
            "--ignore-case" => cmd.ignore_case = true,
            "--word-regexp" => cmd.word = true,
            "--extended-regexp" => cmd.dialect = Dialect::Extended,
            "--fixed-strings" => cmd.dialect = Dialect::Fixed,
            "--basic-regexp" => cmd.dialect = Dialect::Basic,
            "--no-color" | "--color=never" => {}
            a if a.starts_with('-') && !a.starts_with("--") && a.len() > 1 => {
                letters(&mut cmd, &a[1..])?
            }
            a if a.starts_with('-') => return Err(unsupported(a)),
            word => words.push(word.to_owned()),
        }
    }
    let mut words = words.into_iter();
    if cmd.patterns.is_empty() {
        let pattern = words
            .next()
            .ok_or_else(|| Failure::from(usage(format!("no pattern given: {FLAGS}"))))?;
        cmd.patterns.push(pattern);
    }
    cmd.words = words.collect();
    Ok(cmd)
}

/// Single-letter flags, alone or bundled (`-in`).
fn letters(cmd: &mut GrepCommand, letters: &str) -> Result<(), Failure> {
    for c in letters.chars() {
        match c {
            'n' => cmd.numbers = true,
            'l' => cmd.form = Form::Names,
            'c' => cmd.form = Form::Count,
            'q' => cmd.form = Form::Quiet,
            'i' => cmd.ignore_case = true,
            'w' => cmd.word = true,
            'E' => cmd.dialect = Dialect::Extended,
            'F' => cmd.dialect = Dialect::Fixed,
            'G' => cmd.dialect = Dialect::Basic,
            _ => return Err(unsupported(&format!("-{letters}"))),
        }
    }
    Ok(())
}

fn unsupported(arg: &str) -> Failure {
    usage(format!(
        "unsupported option '{arg}' for git grep in gitgate; supported: {FLAGS}"
    ))
    .into()
}

/// The patterns as one regex of the backend's syntax.
fn regex_of(cmd: &GrepCommand) -> String {
    let alternatives: Vec<String> = cmd
        .patterns
        .iter()
        .map(|p| match cmd.dialect {
            Dialect::Fixed => regex::escape(p),
            Dialect::Extended => extended(p),
            Dialect::Basic => basic(p),
        })
        .map(|p| format!("(?:{p})"))
        .collect();
    let any = alternatives.join("|");
    if cmd.word {
        // git's word characters are ASCII letters, digits and `_` (bytes, whatever the locale).
        format!("(?:^|(?-u:[^0-9A-Za-z_]))(?:{any})(?:$|(?-u:[^0-9A-Za-z_]))")
    } else {
        any
    }
}

/// A POSIX extended regex in Rust's syntax: the same but for bracket expressions (where `\`
/// and `[` are literal) and GNU's `\<`, `\>` word anchors.
fn extended(pattern: &str) -> String {
    translate(pattern, |c, escaped| match (c, escaped) {
        ('<' | '>', true) => Some(r"\b".to_owned()),
        _ => None,
    })
}

/// A POSIX basic regex (with GNU's `\+ \? \|`) in Rust's syntax: `( ) { } | + ?` are literal
/// unless escaped, and `*` is literal where nothing precedes it.
fn basic(pattern: &str) -> String {
    translate(pattern, |c, escaped| match (c, escaped) {
        ('(' | ')' | '{' | '}' | '|' | '+' | '?', true) => Some(c.to_string()),
        ('(' | ')' | '{' | '}' | '|' | '+' | '?', false) => Some(format!("\\{c}")),
        ('<' | '>', true) => Some(r"\b".to_owned()),
        _ => None,
    })
}

/// Copies `pattern` with `special(c, escaped)` rewriting characters outside brackets; bracket
/// expressions are rewritten for Rust's classes. A leading `*` is literal, as in POSIX.
fn translate(pattern: &str, special: impl Fn(char, bool) -> Option<String>) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at_start = out.is_empty() || out.ends_with('^') || out.ends_with('(');
        match c {
            '\\' if i + 1 < chars.len() => {
                let next = chars[i + 1];
                match special(next, true) {
                    Some(s) => out.push_str(&s),
                    None => {
                        out.push('\\');
                        out.push(next);
                    }
                }
                i += 2;
                continue;
            }
            '[' => {
                let (class, used) = bracket(&chars[i..]);
                out.push_str(&class);
                i += used;
                continue;
            }
            '*' if at_start => out.push_str(r"\*"),
            c => match special(c, false) {
                Some(s) => out.push_str(&s),
                None => out.push(c),
            },
        }
        i += 1;
    }
    out
}

/// A POSIX bracket expression starting at `chars[0] == '['` as a Rust class, and how many
/// characters it took; an unclosed `[` is a literal `[`.
fn bracket(chars: &[char]) -> (String, usize) {
    let mut out = String::from("[");
    let mut i = 1;
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let first = i;
    while i < chars.len() {
        let c = chars[i];
        if c == ']' && i > first {
            out.push(']');
            return (out, i + 1);
        }
        if c == '[' && matches!(chars.get(i + 1), Some(':' | '.' | '=')) {
            // A named class `[:alpha:]` (Rust reads it too): copied through its closing `:]`.
            let kind = chars[i + 1];
            if let Some(end) = (i + 2..chars.len().saturating_sub(1))
                .find(|&j| chars[j] == kind && chars[j + 1] == ']')
            {
                out.extend(&chars[i..end + 2]);
                i = end + 2;
                continue;
            }
        }
        match c {
            // Literal in POSIX brackets, special in Rust's.
            '\\' | '[' | '&' | '~' => {
                out.push('\\');
                out.push(c);
            }
            ']' => out.push_str(r"\]"),
            c => out.push(c),
        }
        i += 1;
    }
    (r"\[".to_owned(), 1)
}

/// `git grep [flags] PATTERN [REV] [--] [PATHS]`.
pub(super) fn run(
    runner: &Runner<'_, '_>,
    argv: &[String],
    args: &[String],
    repo: Option<String>,
) -> Result<String, Failure> {
    let cmd = parse(args)?;
    let regex = regex_of(&cmd);
    let out = runner.git_call("git_grep", argv, repo, |repo, _| {
        let (rev, paths) = rev_and_paths(repo, &cmd)?;
        let mut out = String::new();
        let prefix = rev.as_ref().map(|r| format!("{r}:")).unwrap_or_default();
        crate::git::grep_lines(
            repo,
            &regex,
            cmd.ignore_case,
            rev.as_deref(),
            &paths,
            |file| {
                print(&mut out, &cmd, &prefix, &file);
                // Quiet stops at the first match, as git does; the rest at the line's bound.
                cmd.form != Form::Quiet && out.len() <= super::MAX_TEXT
            },
        )?;
        Ok(out)
    })?;
    if out.is_empty() {
        return Err(Failure::Exit(String::new(), 1));
    }
    Ok(if cmd.form == Form::Quiet {
        String::new()
    } else {
        out
    })
}

/// Splits the words after the pattern: a leading word that names a revision is one (gitgate
/// searches one revision), the rest are paths.
fn rev_and_paths(
    repo: &crate::git::Repo,
    cmd: &GrepCommand,
) -> Result<(Option<String>, Vec<String>), crate::tools::ToolError> {
    let mut paths = Vec::new();
    let mut rev = None;
    for (i, word) in cmd.words.iter().enumerate() {
        let names_rev = i == 0 && {
            let git = repo.lock();
            crate::git::safety::RevSpec::new(word)
                .ok()
                .is_some_and(|spec| crate::git::resolve_commit(&git, &spec).is_ok())
        };
        if names_rev {
            rev = Some(word.clone());
        } else if rev.is_some() && paths.is_empty() && cmd.paths.is_empty() {
            return Err(crate::tools::ToolError::new(format!(
                "'{word}': gitgate's git grep searches one revision; put paths after --"
            )));
        } else {
            paths.push(word.clone());
        }
    }
    paths.extend(cmd.paths.iter().cloned());
    Ok((rev, paths))
}

fn print(out: &mut String, cmd: &GrepCommand, prefix: &str, file: &crate::git::FileMatches<'_>) {
    let path = crate::git::display_path(file.path);
    match cmd.form {
        Form::Names | Form::Quiet => out.push_str(&format!("{prefix}{path}\n")),
        Form::Count => out.push_str(&format!("{prefix}{path}:{}\n", file.lines.len())),
        Form::Lines if file.binary => {
            out.push_str(&format!("Binary file {prefix}{path} matches\n"))
        }
        Form::Lines => {
            for (number, line) in &file.lines {
                out.push_str(prefix);
                out.push_str(&path);
                out.push(':');
                if cmd.numbers {
                    out.push_str(&format!("{number}:"));
                }
                out.push_str(&String::from_utf8_lossy(line));
                out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_patterns_read_as_posix_reads_them() {
        assert_eq!(basic("a+b"), r"a\+b");
        assert_eq!(basic(r"a\+b"), "a+b");
        assert_eq!(basic(r"\(x\|y\)"), "(x|y)");
        assert_eq!(basic("f(x)"), r"f\(x\)");
        assert_eq!(basic("*a"), r"\*a");
        assert_eq!(basic("^*a"), r"^\*a");
        assert_eq!(basic(r"[\]"), r"[\\]");
        assert_eq!(basic("[]a]"), r"[\]a]");
        assert_eq!(basic("[[:digit:]]x"), "[[:digit:]]x");
        assert_eq!(basic("a[b"), r"a\[b");
        assert_eq!(extended(r"\<fn\>"), r"\bfn\b");
        assert_eq!(extended("(a|b)+"), "(a|b)+");
    }
}
