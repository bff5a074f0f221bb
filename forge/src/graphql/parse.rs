//! A parser for the GraphQL executable-document subset clients send: operations with variables
//! and defaults, fields with aliases and arguments, fragments, inline fragments and directives
//! (parsed, then ignored). Type-system definitions are not accepted.

use std::collections::BTreeMap;

use serde_json::Value as Json;

/// A syntax error with the byte offset where it was noticed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Parse error at offset {at}: {message}")]
pub struct ParseError {
    /// What went wrong.
    pub message: String,
    /// Byte offset.
    pub at: usize,
}

/// An input value as written in the document.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `$name`.
    Variable(String),
    /// A literal (numbers, strings, booleans, null, enums as strings).
    Const(Json),
    /// `[..]`.
    List(Vec<Value>),
    /// `{..}`.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// Substitutes variables (missing ones become null).
    pub fn resolve(&self, vars: &BTreeMap<String, Json>) -> Json {
        match self {
            Value::Variable(v) => vars.get(v).cloned().unwrap_or(Json::Null),
            Value::Const(c) => c.clone(),
            Value::List(l) => Json::Array(l.iter().map(|v| v.resolve(vars)).collect()),
            Value::Object(o) => Json::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), v.resolve(vars)))
                    .collect(),
            ),
        }
    }
}

/// One entry of a selection set.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// A field.
    Field(Field),
    /// `...Name`.
    Spread(String),
    /// `... on Type { .. }` (or without a type condition).
    Inline(Option<String>, Vec<Selection>),
}

/// A field selection.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Alias, if any.
    pub alias: Option<String>,
    /// Field name.
    pub name: String,
    /// Arguments.
    pub args: Vec<(String, Value)>,
    /// Sub-selections.
    pub selections: Vec<Selection>,
}

impl Field {
    /// The key in the response.
    pub fn key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

/// An operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// "query" or "mutation".
    pub kind: String,
    /// Name, if any.
    pub name: Option<String>,
    /// Variable defaults.
    pub defaults: BTreeMap<String, Json>,
    /// Selections.
    pub selections: Vec<Selection>,
}

/// A parsed document.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document {
    /// Operations in order.
    pub operations: Vec<Operation>,
    /// Fragments by name: (type condition, selections).
    pub fragments: BTreeMap<String, (String, Vec<Selection>)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Punct(char),
    Spread,
    Name(String),
    Int(i64),
    Float(f64),
    Str(String),
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    let err = |m: &str, at| ParseError {
        message: m.into(),
        at,
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            0xEF if b[i..].starts_with(&[0xEF, 0xBB, 0xBF]) => i += 3,
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'{' | b'}' | b'(' | b')' | b'[' | b']' | b':' | b'!' | b'$' | b'=' | b'@' | b'|'
            | b'&' => {
                out.push((Tok::Punct(c as char), i));
                i += 1;
            }
            b'.' => {
                if b[i..].starts_with(b"...") {
                    out.push((Tok::Spread, i));
                    i += 3;
                } else {
                    return Err(err("unexpected '.'", i));
                }
            }
            b'"' => {
                let start = i;
                if b[i..].starts_with(b"\"\"\"") {
                    let rest = &src[i + 3..];
                    let end = rest
                        .find("\"\"\"")
                        .ok_or_else(|| err("unterminated block string", start))?;
                    out.push((Tok::Str(rest[..end].to_string()), start));
                    i += 3 + end + 3;
                    continue;
                }
                i += 1;
                let mut s = String::new();
                loop {
                    let Some(ch) = src[i..].chars().next() else {
                        return Err(err("unterminated string", start));
                    };
                    i += ch.len_utf8();
                    match ch {
                        '"' => break,
                        '\\' => {
                            let Some(e) = src[i..].chars().next() else {
                                return Err(err("bad escape", i));
                            };
                            i += e.len_utf8();
                            match e {
                                'n' => s.push('\n'),
                                't' => s.push('\t'),
                                'r' => s.push('\r'),
                                'b' => s.push('\u{8}'),
                                'f' => s.push('\u{c}'),
                                'u' => {
                                    let hex = src
                                        .get(i..i + 4)
                                        .ok_or_else(|| err("bad unicode escape", i))?;
                                    let code = u32::from_str_radix(hex, 16)
                                        .map_err(|_| err("bad unicode escape", i))?;
                                    s.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                                    i += 4;
                                }
                                other => s.push(other),
                            }
                        }
                        other => s.push(other),
                    }
                }
                out.push((Tok::Str(s), start));
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                i += 1;
                while i < b.len()
                    && (b[i].is_ascii_digit() || matches!(b[i], b'.' | b'e' | b'E' | b'+' | b'-'))
                {
                    i += 1;
                }
                let text = &src[start..i];
                if let Ok(n) = text.parse::<i64>() {
                    out.push((Tok::Int(n), start));
                } else {
                    let f = text.parse::<f64>().map_err(|_| err("bad number", start))?;
                    out.push((Tok::Float(f), start));
                }
            }
            c if c == b'_' || c.is_ascii_alphabetic() => {
                let start = i;
                while i < b.len() && (b[i] == b'_' || b[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                out.push((Tok::Name(src[start..i].to_string()), start));
            }
            _ => return Err(err("unexpected character", i)),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(_, a)| *a)
    }

    fn err<T>(&self, m: &str) -> Result<T, ParseError> {
        Err(ParseError {
            message: m.into(),
            at: self.at(),
        })
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), ParseError> {
        if self.eat(c) {
            Ok(())
        } else {
            self.err(&format!("expected '{c}'"))
        }
    }

    fn name(&mut self) -> Result<String, ParseError> {
        match self.peek() {
            Some(Tok::Name(n)) => {
                let n = n.clone();
                self.pos += 1;
                Ok(n)
            }
            _ => self.err("expected a name"),
        }
    }

    fn document(&mut self) -> Result<Document, ParseError> {
        let mut doc = Document::default();
        while self.peek().is_some() {
            match self.peek() {
                Some(Tok::Punct('{')) => {
                    let selections = self.selection_set()?;
                    doc.operations.push(Operation {
                        kind: "query".into(),
                        name: None,
                        defaults: BTreeMap::new(),
                        selections,
                    });
                }
                Some(Tok::Name(n)) if n == "fragment" => {
                    self.pos += 1;
                    let name = self.name()?;
                    if self.name()? != "on" {
                        return self.err("expected 'on'");
                    }
                    let ty = self.name()?;
                    self.directives()?;
                    let sel = self.selection_set()?;
                    doc.fragments.insert(name, (ty, sel));
                }
                Some(Tok::Name(n)) if n == "query" || n == "mutation" || n == "subscription" => {
                    let kind = n.clone();
                    self.pos += 1;
                    let name = match self.peek() {
                        Some(Tok::Name(_)) => Some(self.name()?),
                        _ => None,
                    };
                    let defaults = if self.eat('(') {
                        self.variable_defs()?
                    } else {
                        BTreeMap::new()
                    };
                    self.directives()?;
                    let selections = self.selection_set()?;
                    doc.operations.push(Operation {
                        kind,
                        name,
                        defaults,
                        selections,
                    });
                }
                _ => return self.err("expected an operation or fragment"),
            }
        }
        Ok(doc)
    }

    fn variable_defs(&mut self) -> Result<BTreeMap<String, Json>, ParseError> {
        let mut out = BTreeMap::new();
        while !self.eat(')') {
            self.expect('$')?;
            let name = self.name()?;
            self.expect(':')?;
            self.type_ref()?;
            if self.eat('=') {
                let v = self.value(true)?;
                out.insert(name, v.resolve(&BTreeMap::new()));
            }
            self.directives()?;
        }
        Ok(out)
    }

    fn type_ref(&mut self) -> Result<(), ParseError> {
        if self.eat('[') {
            self.type_ref()?;
            self.expect(']')?;
        } else {
            self.name()?;
        }
        self.eat('!');
        Ok(())
    }

    fn directives(&mut self) -> Result<(), ParseError> {
        while self.eat('@') {
            self.name()?;
            if self.eat('(') {
                self.arguments()?;
            }
        }
        Ok(())
    }

    fn arguments(&mut self) -> Result<Vec<(String, Value)>, ParseError> {
        let mut out = Vec::new();
        while !self.eat(')') {
            let name = self.name()?;
            self.expect(':')?;
            out.push((name, self.value(false)?));
        }
        Ok(out)
    }

    fn value(&mut self, constant: bool) -> Result<Value, ParseError> {
        let tok = self.peek().cloned();
        match tok {
            Some(Tok::Punct('$')) if !constant => {
                self.pos += 1;
                Ok(Value::Variable(self.name()?))
            }
            Some(Tok::Int(n)) => {
                self.pos += 1;
                Ok(Value::Const(Json::from(n)))
            }
            Some(Tok::Float(f)) => {
                self.pos += 1;
                Ok(Value::Const(
                    serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number),
                ))
            }
            Some(Tok::Str(s)) => {
                self.pos += 1;
                Ok(Value::Const(Json::String(s)))
            }
            Some(Tok::Name(n)) => {
                self.pos += 1;
                Ok(Value::Const(match n.as_str() {
                    "true" => Json::Bool(true),
                    "false" => Json::Bool(false),
                    "null" => Json::Null,
                    _ => Json::String(n),
                }))
            }
            Some(Tok::Punct('[')) => {
                self.pos += 1;
                let mut items = Vec::new();
                while !self.eat(']') {
                    items.push(self.value(constant)?);
                }
                Ok(Value::List(items))
            }
            Some(Tok::Punct('{')) => {
                self.pos += 1;
                let mut fields = Vec::new();
                while !self.eat('}') {
                    let k = self.name()?;
                    self.expect(':')?;
                    fields.push((k, self.value(constant)?));
                }
                Ok(Value::Object(fields))
            }
            _ => self.err("expected a value"),
        }
    }

    fn selection_set(&mut self) -> Result<Vec<Selection>, ParseError> {
        self.expect('{')?;
        let mut out = Vec::new();
        while !self.eat('}') {
            if self.peek() == Some(&Tok::Spread) {
                self.pos += 1;
                match self.peek() {
                    Some(Tok::Name(n)) if n == "on" => {
                        self.pos += 1;
                        let ty = self.name()?;
                        self.directives()?;
                        out.push(Selection::Inline(Some(ty), self.selection_set()?));
                    }
                    Some(Tok::Name(_)) => {
                        let name = self.name()?;
                        self.directives()?;
                        out.push(Selection::Spread(name));
                    }
                    _ => {
                        self.directives()?;
                        out.push(Selection::Inline(None, self.selection_set()?));
                    }
                }
                continue;
            }
            let first = self.name()?;
            let (alias, name) = if self.eat(':') {
                (Some(first), self.name()?)
            } else {
                (None, first)
            };
            let args = if self.eat('(') {
                self.arguments()?
            } else {
                Vec::new()
            };
            self.directives()?;
            let selections = if self.peek() == Some(&Tok::Punct('{')) {
                self.selection_set()?
            } else {
                Vec::new()
            };
            out.push(Selection::Field(Field {
                alias,
                name,
                args,
                selections,
            }));
        }
        Ok(out)
    }
}

/// Parses an executable document.
pub fn parse(src: &str) -> Result<Document, ParseError> {
    let toks = lex(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        end: src.len(),
    };
    p.document()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(src: &str, ops: usize, fragments: usize) {
        let doc = parse(src).unwrap_or_else(|e| panic!("{e}: {src}"));
        assert_eq!(
            (doc.operations.len(), doc.fragments.len()),
            (ops, fragments),
            "{src}"
        );
    }

    #[test]
    fn parses_what_gh_sends() {
        check("{ viewer { login } }", 1, 0);
        check(
            "fragment issue on Issue {number,title,labels(first:100){nodes{id}}}\n\tquery IssueList($owner: String!, $states: [IssueState!] = OPEN) { repository(owner: $owner, name: \"x\") { issues(states: $states, orderBy: {field: CREATED_AT, direction: DESC}) { nodes { ...issue } } } }",
            1,
            1,
        );
        check(
            "query PullRequest_fields{PullRequest: __type(name: \"PullRequest\"){fields(includeDeprecated: true){name}}}",
            1,
            0,
        );
        check(
            "mutation M($input:AddCommentInput!){addComment(input: $input){commentEdge{node{url}}}}",
            1,
            0,
        );
        check(
            "{ a { __typename ...on User{login} ... @include(if: true) { id } } }",
            1,
            0,
        );
    }

    #[test]
    fn no_prefix_of_a_query_panics() {
        let q = "fragment f on Issue {number,title}\nquery Q($s: [S!] = OPEN, $x: String = \"é\\n\") { r: repository(owner: \"ü\", n: 1.5e3) { issues(first: -1, filterBy: {a: [$x, null, true]}) { nodes { ...f ... on PullRequest { id } } } } } # comment";
        for (i, _) in q.char_indices() {
            let _ = parse(&q[..i]);
        }
        assert!(parse(q).is_ok());
    }

    #[test]
    fn accepts_unicode_in_strings() {
        check("{ a(b: \"é \\é \\u00e9\") }", 1, 0);
    }

    #[test]
    fn defaults_and_aliases() {
        let doc = parse("query Q($s: [S!] = OPEN) { issue: issueOrPullRequest(number: 3) { id } }")
            .expect("parses");
        assert_eq!(
            doc.operations[0].defaults.get("s"),
            Some(&Json::String("OPEN".into()))
        );
        let Selection::Field(f) = &doc.operations[0].selections[0] else {
            panic!("field")
        };
        assert_eq!((f.key(), f.name.as_str()), ("issue", "issueOrPullRequest"));
    }

    #[test]
    fn reports_errors_without_panicking() {
        for bad in [
            "\"\\é",
            "{ a(b: \"\\u12\") }",
            "é",
            "{ a(b: \"\"\"x) }",
            "{",
            "query (",
            "{ a(b: ) }",
            "\"",
            "{ a @ }",
            "...",
            "{ a(x: $) }",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
