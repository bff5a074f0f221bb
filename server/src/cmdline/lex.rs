//! Splitting a command line into words and operators, with POSIX shell quoting, and refusing
//! everything else a shell would do.
//!
//! Why not a crate: `shlex` and `shell-words` split words only (`a|b` is one word to them, and
//! they would pass `$(id)` through as text), while full shell parsers (`yash-syntax`,
//! `brush-parser`) parse everything a shell runs so that it can be run, and we would then refuse
//! nearly all of their tree. The grammar here is small enough to be exact: words, `|`, `&&`,
//! `;` and newlines. Every construct that would make a shell expand, redirect or run something
//! is refused with a message saying what to write instead, so a line can never mean more than
//! gitgate shows.

use std::fmt;

/// Longest line accepted.
pub const MAX_LINE: usize = 16 << 10;
/// Most words and operators in a line.
pub const MAX_TOKENS: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Word(String),
    /// `|`
    Pipe,
    /// `&&`
    And,
    /// `;` or a newline
    Then,
}

/// Why a line was refused; the message says what is supported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LexError {
    pub message: String,
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn refuse(what: &str, instead: &str) -> LexError {
    LexError {
        message: format!("{what} is not supported; gitgate runs no shell: {instead}"),
    }
}

/// The words and operators of `line`.
pub fn lex(line: &str) -> Result<Vec<Token>, LexError> {
    if line.len() > MAX_LINE {
        return Err(LexError {
            message: format!("the command line is over {} KiB", MAX_LINE >> 10),
        });
    }
    let mut lexer = Lexer {
        chars: line.chars().peekable(),
        tokens: Vec::new(),
        word: None,
    };
    lexer.run()?;
    Ok(lexer.tokens)
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    tokens: Vec<Token>,
    /// The word being read; `Some("")` after an empty quoted string (`''` is a word).
    word: Option<String>,
}

impl Lexer<'_> {
    fn push(&mut self, token: Token) -> Result<(), LexError> {
        if self.tokens.len() >= MAX_TOKENS {
            return Err(LexError {
                message: format!("a command line has at most {MAX_TOKENS} words"),
            });
        }
        self.tokens.push(token);
        Ok(())
    }

    fn end_word(&mut self) -> Result<(), LexError> {
        match self.word.take() {
            Some(word) => self.push(Token::Word(word)),
            None => Ok(()),
        }
    }

    fn word(&mut self) -> &mut String {
        self.word.get_or_insert_with(String::new)
    }

    fn run(&mut self) -> Result<(), LexError> {
        while let Some(c) = self.chars.next() {
            match c {
                ' ' | '\t' | '\r' => self.end_word()?,
                '\n' | ';' => {
                    self.end_word()?;
                    self.push(Token::Then)?;
                }
                '|' => {
                    self.end_word()?;
                    if self.chars.peek() == Some(&'|') {
                        return Err(refuse("`||`", "use `;` or `&&` between commands"));
                    }
                    if self.chars.peek() == Some(&'&') {
                        return Err(refuse("`|&`", "use `|`"));
                    }
                    self.push(Token::Pipe)?;
                }
                '&' => {
                    self.end_word()?;
                    if self.chars.next_if_eq(&'&').is_none() {
                        return Err(refuse(
                            "a background job (`&`)",
                            "commands run one after another; join them with `&&` or `;`",
                        ));
                    }
                    self.push(Token::And)?;
                }
                '\'' => self.single_quoted()?,
                '"' => self.double_quoted()?,
                '\\' => match self.chars.next() {
                    // A backslash-newline joins lines, as in a shell.
                    Some('\n') => {}
                    Some(next) => self.word().push(next),
                    None => {
                        return Err(LexError {
                            message: "the line ends in a backslash; remove it or quote it ('\\')"
                                .into(),
                        });
                    }
                },
                _ => self.plain(c)?,
            }
        }
        self.end_word()
    }

    /// A character outside quotes.
    fn plain(&mut self, c: char) -> Result<(), LexError> {
        match c {
            '<' | '>' => Err(refuse(
                "redirection",
                "the output comes back as the tool's result; to filter it, pipe it (`| head -n 5`)",
            )),
            '`' => Err(refuse(
                "command substitution",
                "run the commands one by one",
            )),
            '$' => Err(dollar(self.chars.peek().copied())),
            '(' | ')' => Err(refuse(
                "a subshell or grouping (`(...)`)",
                "join commands with `&&` or `;`",
            )),
            '*' | '?' | '[' => Err(refuse(
                "an unquoted glob",
                "quote the pattern ('*.rs'); git matches pathspecs itself",
            )),
            '#' if self.word.is_none() => Err(refuse("a comment", "leave it out")),
            '{' if brace_expands(self.chars.clone()) => {
                // `{a,b}` and `{1..3}` would be brace expansion (anywhere in a word, in bash);
                // `HEAD@{1}` and `-I{}` are not.
                Err(refuse(
                    "brace expansion",
                    "write each word out, or quote it ('{...}')",
                ))
            }
            // `HEAD~2` is a revision; `~`, `~/x`, `a=~` or `a:~` would be a home directory.
            '~' if !self
                .word
                .as_ref()
                .and_then(|w| w.chars().last())
                .is_some_and(|p| p.is_alphanumeric() || "}^~._-/@".contains(p)) =>
            {
                Err(refuse(
                    "`~` (a home directory)",
                    "paths are relative to the repository; quote a literal '~'",
                ))
            }
            c => {
                self.word().push(c);
                Ok(())
            }
        }
    }

    fn single_quoted(&mut self) -> Result<(), LexError> {
        self.word();
        loop {
            match self.chars.next() {
                Some('\'') => return Ok(()),
                Some(c) => self.word().push(c),
                None => return Err(unterminated("'")),
            }
        }
    }

    /// Inside double quotes a backslash escapes only `$`, `` ` ``, `"`, `\` and a newline, as in
    /// POSIX; `$` and `` ` `` would expand, so they are refused.
    fn double_quoted(&mut self) -> Result<(), LexError> {
        self.word();
        loop {
            match self.chars.next() {
                Some('"') => return Ok(()),
                Some('\\') => match self.chars.next() {
                    Some(c @ ('$' | '`' | '"' | '\\')) => self.word().push(c),
                    Some('\n') => {}
                    Some(c) => {
                        self.word().push('\\');
                        self.word().push(c);
                    }
                    None => return Err(unterminated("\"")),
                },
                Some('$') => return Err(dollar(self.chars.peek().copied())),
                Some('`') => {
                    return Err(refuse(
                        "command substitution",
                        "run the commands one by one",
                    ));
                }
                Some(c) => self.word().push(c),
                None => return Err(unterminated("\"")),
            }
        }
    }
}

/// Whether the text after an unquoted `{` may make bash expand it: an unquoted `,` or `..`
/// followed by an unquoted `}` later in the same word. (bash looks past a `}` that closes no
/// list: `{a}-x,}` expands.) Conservative: it may refuse a word bash would leave alone, never
/// the other way round.
fn brace_expands(rest: std::iter::Peekable<std::str::Chars<'_>>) -> bool {
    let mut previous = '{';
    let mut separator = false;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in rest {
        if escaped {
            escaped = false;
            previous = ' ';
            continue;
        }
        match (quote, c) {
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (Some('"'), '\\') => escaped = true,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '\\') => escaped = true,
            (None, ' ' | '\t' | '\n' | '|' | '&' | ';' | '<' | '>' | '(' | ')') => return false,
            (None, '}') if separator => return true,
            (None, ',') => separator = true,
            (None, '.') if previous == '.' => separator = true,
            (None, _) => {}
        }
        previous = if quote.is_some() { ' ' } else { c };
    }
    false
}

fn unterminated(quote: &str) -> LexError {
    LexError {
        message: format!("unterminated {quote} quote; close it"),
    }
}

/// What a `$` would have started.
fn dollar(next: Option<char>) -> LexError {
    match next {
        Some('(') => refuse(
            "command substitution (`$(...)`)",
            "run the commands one by one",
        ),
        Some('{') | Some('a'..='z' | 'A'..='Z' | '_' | '0'..='9' | '?' | '@' | '*' | '#' | '$') => {
            refuse(
                "a variable",
                "write the value itself (a literal `$` goes in single quotes)",
            )
        }
        _ => refuse(
            "an unquoted `$`",
            "put a literal `$` in single quotes ('$')",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        lex(line)
            .expect("lexes")
            .into_iter()
            .map(|t| match t {
                Token::Word(w) => w,
                Token::Pipe => "|".into(),
                Token::And => "&&".into(),
                Token::Then => ";".into(),
            })
            .collect()
    }

    #[test]
    fn quoting_follows_posix() {
        assert_eq!(words("git log -n 3"), ["git", "log", "-n", "3"]);
        assert_eq!(
            words(r#"git log --format='%h %s' --grep "fix \"it\"""#),
            ["git", "log", "--format=%h %s", "--grep", "fix \"it\""]
        );
        assert_eq!(words(r"a\ b c\\d"), ["a b", r"c\d"]);
        assert_eq!(words(r#""a\nb""#), [r"a\nb"]);
        assert_eq!(words("'' x"), ["", "x"]);
        assert_eq!(words("a'b'\"c\"d"), ["abcd"]);
        assert_eq!(
            words("x '$HOME' '*.rs' '$(id)'"),
            ["x", "$HOME", "*.rs", "$(id)"]
        );
        assert_eq!(
            words("git show HEAD@{1} HEAD~2 a=b"),
            ["git", "show", "HEAD@{1}", "HEAD~2", "a=b"]
        );
        assert_eq!(words("a\\\nb"), ["ab"]);
    }

    #[test]
    fn operators_split_words() {
        assert_eq!(
            words("a|b&&c;d\ne"),
            ["a", "|", "b", "&&", "c", ";", "d", ";", "e"]
        );
        assert_eq!(
            words("a | b && c ; d"),
            ["a", "|", "b", "&&", "c", ";", "d"]
        );
        assert_eq!(words("echo 'a|b;c&&d'"), ["echo", "a|b;c&&d"]);
    }

    #[test]
    fn shell_constructs_are_refused_with_what_to_do() {
        for (line, says) in [
            ("git log > out", "redirection"),
            ("git log 2>&1", "redirection"),
            ("cat < x", "redirection"),
            ("echo $(id)", "command substitution"),
            ("echo \"$(id)\"", "command substitution"),
            ("echo `id`", "command substitution"),
            ("echo \"`id`\"", "command substitution"),
            ("echo $HOME", "variable"),
            ("echo \"${HOME}\"", "variable"),
            ("echo $", "unquoted `$`"),
            ("git ls-files *.rs", "glob"),
            ("git log -- src/?", "glob"),
            ("ls [ab]", "glob"),
            ("(git status)", "subshell"),
            ("git status &", "background"),
            ("a || b", "`||`"),
            ("a |& b", "`|&`"),
            ("git log # all", "comment"),
            ("echo {a,b}", "brace expansion"),
            ("cat ~/secret", "home directory"),
            ("echo 'open", "unterminated"),
            ("echo \"open", "unterminated"),
        ] {
            let e = lex(line).expect_err(line);
            assert!(e.message.contains(says), "{line}: {}", e.message);
            assert!(
                e.message.contains("gitgate runs no shell") || says == "unterminated",
                "{line}: {}",
                e.message
            );
        }
    }

    #[test]
    fn lines_are_bounded() {
        assert!(lex(&"a".repeat(MAX_LINE + 1)).is_err());
        assert!(lex(&"a ".repeat(MAX_TOKENS + 1)).is_err());
        assert!(lex(&"a ".repeat(MAX_TOKENS)).is_ok());
    }

    /// Random lines from pieces that matter to a shell's lexer.
    fn random_line(rng: &mut rand::rngs::StdRng) -> String {
        use rand::RngExt;
        const PIECES: &[&str] = &[
            "a", "b", "-n", "--x=1", " ", " ", "\t", "'", "\"", "\\", "'q r'", "\"d e\"", "\\ ",
            "|", "&&", ";", "&", "$", "$x", "`", "(", ")", "<", ">", "*", "?", "[", "]", "{", "}",
            "#", "~", "=", "@", "%", "\n", "é", "\\\"", "'\\''", "''", "\"\"", "!", ",",
        ];
        (0..rng.random_range(0..16))
            .map(|_| PIECES[rng.random_range(0..PIECES.len())])
            .collect()
    }

    /// Differential property against the real `bash`: every line this lexer accepts, when it has
    /// no operators, splits into exactly the words `bash` gives `printf` (so quoting means what a
    /// shell means, and nothing accepted here would have expanded); no line panics. Lines run
    /// `GITGATE_LEX_FUZZ_CASES` times (default 1,500).
    #[test]
    // The reference is the real shell: a test may run it, the server never does.
    #[allow(clippy::disallowed_methods)]
    fn accepted_lines_split_as_bash_splits_them() {
        use rand::SeedableRng;
        let cases: usize = std::env::var("GITGATE_LEX_FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_500);
        let mut rng = rand::rngs::StdRng::seed_from_u64(23);
        let mut compared = 0;
        // The corpus first: lines the fuzzing found wrong once, and the classic cases.
        let corpus: Vec<String> = include_str!("lex_corpus.jsonl")
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON string per line"))
            .collect();
        let random = (0..cases).map(|_| random_line(&mut rng));
        for line in corpus.into_iter().chain(random) {
            let Ok(tokens) = lex(&line) else { continue };
            if tokens.iter().any(|t| !matches!(t, Token::Word(_))) {
                continue;
            }
            let ours: Vec<String> = tokens
                .into_iter()
                .filter_map(|t| match t {
                    Token::Word(w) => Some(w),
                    _ => None,
                })
                .collect();
            let out = std::process::Command::new("bash")
                .arg("-c")
                .arg(format!("printf '%s\\0' {line}"))
                .env_clear()
                .output()
                .expect("sh runs");
            // With no words, `printf '%s\0'` still prints one empty field.
            let theirs: Vec<String> = if ours.is_empty() {
                Vec::new()
            } else {
                String::from_utf8_lossy(&out.stdout)
                    .split_terminator('\0')
                    .map(str::to_owned)
                    .collect()
            };
            assert_eq!(ours, theirs, "line {line:?}");
            compared += 1;
        }
        assert!(compared > cases / 20, "only {compared} lines compared");
    }

    #[test]
    fn random_bytes_never_panic() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for _ in 0..20_000 {
            let bytes: Vec<u8> = (0..rng.random_range(0..64)).map(|_| rng.random()).collect();
            let line = String::from_utf8_lossy(&bytes);
            let _ = super::super::parse::parse(&line);
        }
    }
}
