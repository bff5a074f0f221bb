//! Which shell lines a run form can take as they are: gitgate's `{"run": LINE}` parses words
//! with POSIX quoting, `|`, `&&` and `;`, and runs a fixed set of programs; it refuses the rest
//! of the shell (variables, substitution, redirection, globs, subshells, `||`, `&`). An arm
//! that sends a task's `[cli]` steps through a run form takes them only when every line is of
//! that kind, so a refusal measures nothing but the task's choice of shell features.
//!
//! This is a conservative screen, not the server's parser: a line it passes may still be
//! refused by the server (then the attempt fails and says why), and it never passes a line
//! using a construct the run form documents as refused.

/// The programs of `line`'s commands (the first word of each pipeline element), or `None` when
/// the line uses a shell construct a run form refuses.
pub fn programs(line: &str) -> Option<Vec<String>> {
    let mut programs = Vec::new();
    let mut word = String::new();
    // Whether the current element's first word is done.
    let mut first_done = false;
    let mut in_word = false;
    let (mut single, mut double) = (false, false);
    let mut chars = line.chars().peekable();
    let mut end_word = |word: &mut String, in_word: &mut bool, first_done: &mut bool| {
        if *in_word && !*first_done {
            programs.push(std::mem::take(word));
            *first_done = true;
        }
        word.clear();
        *in_word = false;
    };
    while let Some(c) = chars.next() {
        if single {
            if c == '\'' {
                single = false;
            } else {
                word.push(c);
            }
            continue;
        }
        if double {
            match c {
                '"' => double = false,
                '$' | '`' => return None,
                '\\' => word.push(chars.next()?),
                c => word.push(c),
            }
            continue;
        }
        match c {
            '\'' => (single, in_word) = (true, true),
            '"' => (double, in_word) = (true, true),
            '\\' => {
                word.push(chars.next()?);
                in_word = true;
            }
            '|' | ';' => {
                if chars.peek() == Some(&'|') {
                    return None;
                }
                end_word(&mut word, &mut in_word, &mut first_done);
                first_done = false;
            }
            '&' => {
                if chars.next() != Some('&') {
                    return None;
                }
                end_word(&mut word, &mut in_word, &mut first_done);
                first_done = false;
            }
            '$' | '`' | '<' | '>' | '(' | ')' | '*' | '?' | '[' | '{' | '}' | '~' | '#' | '\n' => {
                return None;
            }
            c if c.is_whitespace() => end_word(&mut word, &mut in_word, &mut first_done),
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if single || double {
        return None;
    }
    end_word(&mut word, &mut in_word, &mut first_done);
    Some(programs)
}

/// Whether every line of `lines` can go through a run form running `allowed` programs.
pub fn all_runnable<'a>(lines: impl IntoIterator<Item = &'a str>, allowed: &[String]) -> bool {
    lines.into_iter().all(|line| {
        programs(line).is_some_and(|p| !p.is_empty() && p.iter().all(|p| allowed.contains(p)))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn progs(line: &str) -> Option<Vec<&'static str>> {
        programs(line).map(|p| {
            p.into_iter()
                .map(|s| &*Box::leak(s.into_boxed_str()))
                .collect()
        })
    }

    #[test]
    fn names_the_program_of_each_element() {
        assert_eq!(progs("git log -1 --format=%an"), Some(vec!["git"]));
        assert_eq!(
            progs(
                "gh pr list --json number --jq '.[].number' | xargs -n1 gh pr diff --name-only | sort -u"
            ),
            Some(vec!["gh", "xargs", "sort"])
        );
        assert_eq!(
            progs("git switch -c x && git commit -am 'a; b | $c'"),
            Some(vec!["git", "git"])
        );
        assert_eq!(
            progs(r#"gh api 'repos/{owner}/{repo}/contents/a?ref=v1' -H "Accept: raw" | tail -1"#),
            Some(vec!["gh", "tail"])
        );
        assert_eq!(
            progs("'git' log; \"gh\" repo view"),
            Some(vec!["git", "gh"])
        );
    }

    #[test]
    fn refuses_what_the_run_form_refuses() {
        for line in [
            "a=$(gh pr list); gh issue list",
            "git log | awk '{print $3}' > out",
            "git log \"$HOME\"",
            "git log `date`",
            "git grep x || true",
            "git log &",
            "(git log)",
            "git log -- *.rs",
            "git log 'unterminated",
            "git log ~/x",
            "git log {a,b}",
            "git log # comment",
            "git log\ngit status",
        ] {
            assert_eq!(programs(line), None, "{line}");
        }
    }

    #[test]
    fn all_runnable_checks_every_program() {
        let allowed: Vec<String> = ["git", "gh", "sort"].map(String::from).to_vec();
        assert!(all_runnable(["git log | sort", "gh repo view"], &allowed));
        assert!(!all_runnable(["git log | awk 1"], &allowed));
        assert!(!all_runnable(["git log | sort", "x=1"], &allowed));
        assert!(!all_runnable([""], &allowed));
    }
}
