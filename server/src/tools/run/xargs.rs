//! `xargs` in the run form: only to fan a git or gh command out over the previous command's
//! output (`git log --format=%h -n 3 | xargs -n1 git show --stat`). Each run is an operation
//! of its own (policy, audit, the line's operation budget).

/// A parsed `xargs` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Xargs {
    /// Words per run (`-n`); all at once when absent.
    per_run: Option<usize>,
    /// `-I R`: one run per input line, `R` replaced by the line in every word.
    replace: Option<String>,
    /// `-r`: no run at all for empty input (GNU runs once without it).
    skip_empty: bool,
    command: Vec<String>,
}

pub(super) const FLAGS: &str = "-n N, -I REPLACE, -r/--no-run-if-empty, then a git or gh command";

pub(super) fn parse(args: &[String]) -> Result<Xargs, String> {
    let mut spec = Xargs {
        per_run: None,
        replace: None,
        skip_empty: false,
        command: Vec::new(),
    };
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        let next = |i: usize| {
            args.get(i + 1)
                .cloned()
                .ok_or_else(|| format!("option {arg} requires a value"))
        };
        match arg.as_str() {
            "-r" | "--no-run-if-empty" => spec.skip_empty = true,
            "-n" => {
                spec.per_run = Some(count(&next(i)?)?);
                i += 1;
            }
            "-I" => {
                spec.replace = Some(next(i)?);
                i += 1;
            }
            a if a.starts_with("-n") => spec.per_run = Some(count(&a[2..])?),
            a if a.starts_with("-I") => spec.replace = Some(a[2..].to_owned()),
            a if a.starts_with('-') => {
                return Err(format!("unsupported option {a}; supported: {FLAGS}"));
            }
            _ => break,
        }
        i += 1;
    }
    spec.command = args[i..].to_vec();
    match spec.command.first().map(String::as_str) {
        Some("git" | "gh") => Ok(spec),
        Some(other) => Err(format!(
            "runs only git and gh commands in gitgate, not {other}; supported: {FLAGS}"
        )),
        None => Err(format!("name the command to run; supported: {FLAGS}")),
    }
}

fn count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "value for -n must be a positive number, not '{text}'; supported: {FLAGS}"
        )),
    }
}

impl Xargs {
    /// The argument vectors to run, in order.
    pub(super) fn commands(&self, input: &str) -> Vec<Vec<String>> {
        if let Some(replace) = &self.replace {
            return input
                .lines()
                .map(|l| l.trim_start())
                .filter(|l| !l.is_empty())
                .map(|line| {
                    self.command
                        .iter()
                        .map(|w| w.replace(replace.as_str(), line))
                        .collect()
                })
                .collect();
        }
        let words: Vec<&str> = input.split_whitespace().collect();
        if words.is_empty() {
            return if self.skip_empty {
                Vec::new()
            } else {
                vec![self.command.clone()]
            };
        }
        let per_run = self.per_run.unwrap_or(words.len());
        words
            .chunks(per_run)
            .map(|chunk| {
                let mut argv = self.command.clone();
                argv.extend(chunk.iter().map(|w| (*w).to_owned()));
                argv
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(text: &str) -> Vec<String> {
        text.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn groups_and_replacements() {
        let spec = parse(&argv("-n1 git show --stat")).expect("parses");
        assert_eq!(
            spec.commands("a b\nc\n"),
            [
                argv("git show --stat a"),
                argv("git show --stat b"),
                argv("git show --stat c")
            ]
        );
        let spec = parse(&argv("-n 2 git show")).expect("parses");
        assert_eq!(
            spec.commands("a b c"),
            [argv("git show a b"), argv("git show c")]
        );
        let spec = parse(&argv("-I {} gh pr view {} --json title")).expect("parses");
        assert_eq!(
            spec.commands("  12\n\n13\n"),
            [
                argv("gh pr view 12 --json title"),
                argv("gh pr view 13 --json title")
            ]
        );
        let spec = parse(&argv("git show")).expect("parses");
        assert_eq!(spec.commands(""), [argv("git show")]);
        let spec = parse(&argv("-r git show")).expect("parses");
        assert!(spec.commands(" \n").is_empty());
    }

    #[test]
    fn only_git_and_gh_run() {
        for bad in [
            "rm -rf x",
            "sh -c id",
            "-n1 bash",
            "",
            "-n0 git log",
            "-P4 git log",
        ] {
            let e = parse(&argv(bad)).expect_err(bad);
            assert!(e.contains("supported"), "{bad}: {e}");
        }
    }
}
