//! A command line's structure: commands joined by `|` into pipelines, pipelines joined by
//! `&&` (run the next only if this one succeeded) or `;` (run the next regardless).

use super::lex::{LexError, Token, lex};

/// Most commands in one line.
pub const MAX_COMMANDS: usize = 32;

/// One command: its program and arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub argv: Vec<String>,
}

impl Command {
    pub fn program(&self) -> &str {
        self.argv.first().map_or("", String::as_str)
    }
}

/// How a pipeline follows the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// The first pipeline, or after `;`: runs whatever came before.
    Always,
    /// After `&&`: runs only if the one before succeeded.
    IfOk,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    pub join: Join,
    pub commands: Vec<Command>,
}

/// A parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub pipelines: Vec<Pipeline>,
}

impl Line {
    /// Every command of the line, in order.
    pub fn commands(&self) -> impl Iterator<Item = &Command> {
        self.pipelines.iter().flat_map(|p| p.commands.iter())
    }
}

/// Parses `text` into pipelines of commands.
pub fn parse(text: &str) -> Result<Line, LexError> {
    let tokens = lex(text)?;
    let mut pipelines = Vec::new();
    let mut join = Join::Always;
    let mut commands: Vec<Command> = Vec::new();
    let mut argv: Vec<String> = Vec::new();
    let mut count = 0usize;
    let mut last_op: Option<&'static str> = None;
    for token in tokens {
        match token {
            Token::Word(word) => {
                argv.push(word);
                last_op = None;
                continue;
            }
            Token::Pipe => {
                if argv.is_empty() {
                    return Err(missing("|"));
                }
                commands.push(Command {
                    argv: std::mem::take(&mut argv),
                });
                last_op = Some("|");
            }
            Token::And | Token::Then => {
                let op = if token == Token::And { "&&" } else { ";" };
                if argv.is_empty() {
                    if !commands.is_empty() || op == "&&" || last_op == Some("&&") {
                        return Err(missing(last_op.unwrap_or(op)));
                    }
                    // An empty `;` (a blank line, `a;;b`) is nothing, as in a shell.
                    continue;
                }
                commands.push(Command {
                    argv: std::mem::take(&mut argv),
                });
                count += commands.len();
                pipelines.push(Pipeline {
                    join,
                    commands: std::mem::take(&mut commands),
                });
                join = if op == "&&" { Join::IfOk } else { Join::Always };
                last_op = Some(op);
            }
        }
        if count + commands.len() > MAX_COMMANDS {
            return Err(too_many());
        }
    }
    if argv.is_empty() {
        if let Some(op @ ("|" | "&&")) = last_op {
            return Err(missing(op));
        }
    } else {
        commands.push(Command { argv });
    }
    if !commands.is_empty() {
        count += commands.len();
        pipelines.push(Pipeline { join, commands });
    }
    if count > MAX_COMMANDS {
        return Err(too_many());
    }
    if pipelines.is_empty() {
        return Err(LexError {
            message: "the command line is empty; give a git or gh command".into(),
        });
    }
    Ok(Line { pipelines })
}

fn missing(op: &str) -> LexError {
    LexError {
        message: format!("a command is missing around `{op}`"),
    }
}

fn too_many() -> LexError {
    LexError {
        message: format!("a command line has at most {MAX_COMMANDS} commands"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(text: &str) -> String {
        let line = parse(text).expect(text);
        line.pipelines
            .iter()
            .map(|p| {
                let cmds: Vec<String> = p.commands.iter().map(|c| c.argv.join(" ")).collect();
                let join = match p.join {
                    Join::Always => ";",
                    Join::IfOk => "&&",
                };
                format!("{join}[{}]", cmds.join(" | "))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn pipelines_and_sequences() {
        assert_eq!(shape("git status"), ";[git status]");
        assert_eq!(
            shape("git log --oneline | head -n 3 && git status; gh pr list"),
            ";[git log --oneline | head -n 3] &&[git status] ;[gh pr list]"
        );
        assert_eq!(shape("a;;b;"), ";[a] ;[b]");
        assert_eq!(shape("\na\n\nb\n"), ";[a] ;[b]");
    }

    #[test]
    fn missing_commands_are_refused() {
        for (text, op) in [
            ("| head", "|"),
            ("git log |", "|"),
            ("git log | | head", "|"),
            ("&& a", "&&"),
            ("a &&", "&&"),
            ("a && ; b", "&&"),
            ("a | ; b", "|"),
        ] {
            let e = parse(text).expect_err(text);
            assert!(e.message.contains(op), "{text}: {}", e.message);
        }
        assert!(parse("").is_err());
        assert!(parse(" ; ").is_err());
    }

    #[test]
    fn commands_are_bounded() {
        let ok = vec!["a"; MAX_COMMANDS].join(" | ");
        assert!(parse(&ok).is_ok());
        let over = vec!["a"; MAX_COMMANDS + 1].join(" ; ");
        assert!(parse(&over).is_err());
    }
}
