//! The query text of a GraphQL request turned into the document the executor runs: the syntax is
//! apollo-parser's; this module adds the forge's bounds (size, tokens, depth, fields once fragments
//! are expanded) and the validation rules the executor relies on (fragments defined once, defined
//! where used, never cyclic). Directives are parsed, then ignored; type-system definitions are
//! refused.
//!
//! Why apollo-parser and not graphql-parser: apollo-parser enforces a token limit and a recursion
//! limit while it parses, so a hostile document is refused before it can exhaust the stack;
//! graphql-parser (a combine parser) has neither, and a few thousand nested `{` overflow it. Its
//! lossless tree costs a conversion below, which is where the forge's own representation is built.

use std::collections::{BTreeMap, BTreeSet};

use apollo_parser::cst::{self, CstNode};
use serde_json::Value as Json;

/// Longest query text accepted. The largest query gh 2.23 sends in the forge's gh tests is 1,583
/// bytes; the bound leaves room for hand-written queries while keeping far below the forge's
/// 64 MiB body limit.
pub const MAX_QUERY_BYTES: usize = 256 * 1024;

/// Most lexical tokens in one document (whitespace runs and commas count). gh's largest query has
/// 469.
pub const MAX_TOKENS: usize = 50_000;

/// Deepest nesting: of selection sets (counting fragment bodies and inline fragments, as the
/// executor recurses into them), and in the parser of values and types too. gh nests at most 13
/// deep; apollo-parser's default of 500 was measured against the main thread's 8 MiB stack, the
/// forge answers on tokio workers with 2 MiB.
pub const MAX_DEPTH: usize = 64;

/// Most field selections once every fragment spread is expanded in place: a few kilobytes of
/// fragments spreading each other twice would otherwise ask for 2^n fields. gh's largest query
/// expands to 134.
pub const MAX_FIELDS: usize = 20_000;

/// Longest excerpt of the offending token quoted in a syntax error (an unterminated string is one
/// token running to the end of the query).
const NEAR_CHARS: usize = 40;

/// A 1-based line and column (in characters), as GraphQL's `locations` report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

/// Why a document was refused before execution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not GraphQL.
    #[error("Parse error on {near} at [{}, {}]: {message}", .at.line, .at.column)]
    Syntax {
        /// What the parser expected.
        message: String,
        /// The offending token, quoted, or `end of input`.
        near: String,
        /// Where.
        at: Location,
    },
    /// The text is longer than [`MAX_QUERY_BYTES`].
    #[error("Query is {size} bytes, which exceeds the maximum of {max} bytes")]
    TooLong {
        /// The query's length in bytes.
        size: usize,
        /// The bound.
        max: usize,
    },
    /// The document has more than [`MAX_TOKENS`] tokens.
    #[error("Query has more than {max} tokens; split it into smaller queries")]
    TooManyTokens {
        /// The bound.
        max: usize,
    },
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("Query is nested deeper than the maximum depth of {max}")]
    TooDeep {
        /// The bound.
        max: usize,
    },
    /// More than [`MAX_FIELDS`] fields once fragments are expanded.
    #[error("Query selects more than {max} fields once fragments are expanded")]
    TooManyFields {
        /// The bound.
        max: usize,
    },
    /// A fragment spreads itself, directly or through others.
    #[error("Fragment {name} contains an infinite loop")]
    FragmentCycle {
        /// The fragment.
        name: String,
        /// Its definition.
        at: Location,
    },
    /// A spread names no fragment of the document.
    #[error("Fragment {name} was used, but not defined")]
    UnknownFragment {
        /// The name spread.
        name: String,
        /// The spread.
        at: Location,
    },
    /// Two fragments share a name.
    #[error("Fragment name \"{name}\" must be unique")]
    DuplicateFragment {
        /// The name.
        name: String,
        /// The second definition.
        at: Location,
    },
    /// A schema definition or extension in a query document.
    #[error("Definition {kind} is not executable; send only operations and fragments")]
    NotExecutable {
        /// apollo-parser's name for it, e.g. `ObjectTypeDefinition`.
        kind: &'static str,
        /// Where it starts.
        at: Location,
    },
}

impl ParseError {
    /// Where in the query the problem is, when it is one place.
    pub fn location(&self) -> Option<Location> {
        match self {
            Self::Syntax { at, .. }
            | Self::FragmentCycle { at, .. }
            | Self::UnknownFragment { at, .. }
            | Self::DuplicateFragment { at, .. }
            | Self::NotExecutable { at, .. } => Some(*at),
            Self::TooLong { .. }
            | Self::TooManyTokens { .. }
            | Self::TooDeep { .. }
            | Self::TooManyFields { .. } => None,
        }
    }

    /// A stable code for `extensions.code` (graphql-ruby's names where it has one).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Syntax { .. } => "parseError",
            Self::TooLong { .. } | Self::TooManyTokens { .. } => "queryTooLarge",
            Self::TooDeep { .. } => "maxDepthExceeded",
            Self::TooManyFields { .. } => "maxFieldsExceeded",
            Self::FragmentCycle { .. } => "infiniteLoop",
            Self::UnknownFragment { .. } => "useAndDefineFragment",
            Self::DuplicateFragment { .. } => "fragmentNamesAreUnique",
            Self::NotExecutable { .. } => "definitionNotExecutable",
        }
    }
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
    /// "query", "mutation" or "subscription".
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

/// Parses an executable document and checks it against the bounds above.
pub fn parse(src: &str) -> Result<Document, ParseError> {
    if src.len() > MAX_QUERY_BYTES {
        return Err(ParseError::TooLong {
            size: src.len(),
            max: MAX_QUERY_BYTES,
        });
    }
    let tree = apollo_parser::Parser::new(src)
        .token_limit(MAX_TOKENS)
        .recursion_limit(MAX_DEPTH)
        .parse();
    // A limit stops the parser and is reported as one of its errors; name the bound instead.
    if tree.token_limit().high > MAX_TOKENS {
        return Err(ParseError::TooManyTokens { max: MAX_TOKENS });
    }
    if tree.recursion_limit().high > MAX_DEPTH {
        return Err(ParseError::TooDeep { max: MAX_DEPTH });
    }
    if let Some(e) = tree.errors().next() {
        let near = if e.is_eof() || e.data().is_empty() {
            "end of input".to_string()
        } else {
            format!(
                "{:?}",
                e.data().chars().take(NEAR_CHARS).collect::<String>()
            )
        };
        return Err(ParseError::Syntax {
            message: e.message().to_string(),
            near,
            at: location(src, e.index()),
        });
    }
    // Only an error-free tree is converted: apollo-parser's string unescaping trusts its lexer.
    let cst = tree.document();
    let doc = Convert::new(src, &cst)?.document(&cst)?;
    Shapes::check(&doc, &fragment_offsets(src, &cst))?;
    Ok(doc)
}

/// The 1-based line and character column of byte offset `at`.
fn location(src: &str, at: usize) -> Location {
    let mut loc = Location { line: 1, column: 1 };
    for (_, c) in src.char_indices().take_while(|(i, _)| *i < at) {
        if c == '\n' {
            loc.line += 1;
            loc.column = 1;
        } else {
            loc.column += 1;
        }
    }
    loc
}

fn offset(node: &impl CstNode) -> usize {
    usize::from(node.syntax().text_range().start())
}

fn fragment_offsets(src: &str, doc: &cst::Document) -> BTreeMap<String, Location> {
    doc.definitions()
        .filter_map(|d| match d {
            cst::Definition::FragmentDefinition(f) => {
                let name = f.fragment_name()?.name()?.text().to_string();
                Some((name, location(src, offset(&f))))
            }
            _ => None,
        })
        .collect()
}

/// Builds the forge's document from apollo-parser's tree.
struct Convert<'s> {
    src: &'s str,
    /// Every fragment the document defines, so a spread of another is refused where it is.
    fragments: BTreeSet<String>,
}

impl<'s> Convert<'s> {
    fn new(src: &'s str, doc: &cst::Document) -> Result<Self, ParseError> {
        let mut fragments = BTreeSet::new();
        for d in doc.definitions() {
            if let cst::Definition::FragmentDefinition(f) = &d {
                let name = name(src, f.fragment_name().and_then(|n| n.name()), f)?;
                if !fragments.insert(name.clone()) {
                    return Err(ParseError::DuplicateFragment {
                        name,
                        at: location(src, offset(f)),
                    });
                }
            }
        }
        Ok(Self { src, fragments })
    }

    fn document(&self, doc: &cst::Document) -> Result<Document, ParseError> {
        let mut out = Document::default();
        for d in doc.definitions() {
            match d {
                cst::Definition::OperationDefinition(op) => {
                    out.operations.push(self.operation(&op)?);
                }
                cst::Definition::FragmentDefinition(f) => {
                    let frag = name(self.src, f.fragment_name().and_then(|n| n.name()), &f)?;
                    let on = f.type_condition().and_then(|t| t.named_type()?.name());
                    let ty = name(self.src, on, &f)?;
                    let sel = self.selections(f.selection_set())?;
                    out.fragments.insert(frag, (ty, sel));
                }
                other => {
                    return Err(ParseError::NotExecutable {
                        kind: other.kind(),
                        at: location(self.src, offset(&other)),
                    });
                }
            }
        }
        Ok(out)
    }

    fn operation(&self, op: &cst::OperationDefinition) -> Result<Operation, ParseError> {
        let kind = match op.operation_type() {
            Some(t) if t.mutation_token().is_some() => "mutation",
            Some(t) if t.subscription_token().is_some() => "subscription",
            _ => "query",
        };
        let mut defaults = BTreeMap::new();
        let defs = op.variable_definitions();
        for def in defs.iter().flat_map(|d| d.variable_definitions()) {
            let Some(default) = def.default_value().and_then(|d| d.value()) else {
                continue;
            };
            let var = name(self.src, def.variable().and_then(|v| v.name()), &def)?;
            // apollo-parser refuses variables in a default (a const context), so nothing is left
            // to substitute here.
            defaults.insert(var, self.value(default)?.resolve(&BTreeMap::new()));
        }
        Ok(Operation {
            kind: kind.into(),
            name: op.name().map(|n| n.text().to_string()),
            defaults,
            selections: self.selections(op.selection_set())?,
        })
    }

    fn selections(&self, set: Option<cst::SelectionSet>) -> Result<Vec<Selection>, ParseError> {
        let Some(set) = set else {
            return Ok(Vec::new());
        };
        set.selections()
            .map(|s| match s {
                cst::Selection::Field(f) => Ok(Selection::Field(Field {
                    alias: f
                        .alias()
                        .and_then(|a| a.name())
                        .map(|n| n.text().to_string()),
                    name: name(self.src, f.name(), &f)?,
                    args: self.arguments(f.arguments())?,
                    selections: self.selections(f.selection_set())?,
                })),
                cst::Selection::FragmentSpread(s) => {
                    let frag = name(self.src, s.fragment_name().and_then(|n| n.name()), &s)?;
                    if !self.fragments.contains(&frag) {
                        return Err(ParseError::UnknownFragment {
                            name: frag,
                            at: location(self.src, offset(&s)),
                        });
                    }
                    Ok(Selection::Spread(frag))
                }
                cst::Selection::InlineFragment(i) => {
                    let ty = i
                        .type_condition()
                        .and_then(|t| t.named_type()?.name())
                        .map(|n| n.text().to_string());
                    Ok(Selection::Inline(ty, self.selections(i.selection_set())?))
                }
            })
            .collect()
    }

    fn arguments(&self, args: Option<cst::Arguments>) -> Result<Vec<(String, Value)>, ParseError> {
        args.iter()
            .flat_map(|a| a.arguments())
            .map(|a| {
                let key = name(self.src, a.name(), &a)?;
                let value = a.value().ok_or_else(|| missing(self.src, &a, "a value"))?;
                Ok((key, self.value(value)?))
            })
            .collect()
    }

    fn value(&self, v: cst::Value) -> Result<Value, ParseError> {
        Ok(match v {
            cst::Value::Variable(x) => Value::Variable(name(self.src, x.name(), &x)?),
            cst::Value::StringValue(s) => Value::Const(Json::String(String::from(&s))),
            cst::Value::IntValue(i) => {
                let text = i.int_token().map(|t| t.text().to_string());
                match text.as_deref().map(str::parse::<i64>) {
                    Some(Ok(n)) => Value::Const(Json::from(n)),
                    // Past i64: kept as the nearest float rather than refused.
                    _ => Value::Const(number(f64::try_from(&i).ok())),
                }
            }
            cst::Value::FloatValue(f) => Value::Const(number(f64::try_from(&f).ok())),
            cst::Value::BooleanValue(b) => Value::Const(Json::Bool(b.true_token().is_some())),
            cst::Value::NullValue(_) => Value::Const(Json::Null),
            cst::Value::EnumValue(e) => Value::Const(Json::String(name(self.src, e.name(), &e)?)),
            cst::Value::ListValue(l) => Value::List(
                l.values()
                    .map(|v| self.value(v))
                    .collect::<Result<_, _>>()?,
            ),
            cst::Value::ObjectValue(o) => Value::Object(
                o.object_fields()
                    .map(|f| {
                        let key = name(self.src, f.name(), &f)?;
                        let value = f.value().ok_or_else(|| missing(self.src, &f, "a value"))?;
                        Ok((key, self.value(value)?))
                    })
                    .collect::<Result<_, ParseError>>()?,
            ),
        })
    }
}

/// A float as JSON; infinities (`1e999`) have no JSON form and become null.
fn number(f: Option<f64>) -> Json {
    f.and_then(serde_json::Number::from_f64)
        .map_or(Json::Null, Json::Number)
}

/// The text of a name the grammar requires. The tree is error-free when converted, so a missing
/// name is a parser bug; it is still refused as a syntax error rather than trusted.
fn name(src: &str, n: Option<cst::Name>, node: &impl CstNode) -> Result<String, ParseError> {
    n.map(|n| n.text().to_string())
        .ok_or_else(|| missing(src, node, "a name"))
}

fn missing(src: &str, node: &impl CstNode, what: &str) -> ParseError {
    ParseError::Syntax {
        message: format!("expected {what}"),
        near: format!(
            "{:?}",
            node.syntax()
                .text()
                .to_string()
                .chars()
                .take(NEAR_CHARS)
                .collect::<String>()
        ),
        at: location(src, offset(node)),
    }
}

/// How deep and how many fields a selection set is once its fragments are expanded.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    depth: usize,
    fields: usize,
}

/// Measures every operation and fragment with spreads expanded, refusing cycles and documents
/// past [`MAX_DEPTH`] or [`MAX_FIELDS`]. Each fragment is measured once, so doubling spreads cost
/// linear time here; the walk stops at `MAX_DEPTH` levels, so it cannot exhaust the stack either.
struct Shapes<'d> {
    doc: &'d Document,
    at: &'d BTreeMap<String, Location>,
    measured: BTreeMap<&'d str, Shape>,
    /// Fragments being measured: spreading one of these again is a cycle.
    open: BTreeSet<&'d str>,
}

impl<'d> Shapes<'d> {
    fn check(doc: &'d Document, at: &'d BTreeMap<String, Location>) -> Result<(), ParseError> {
        let mut shapes = Shapes {
            doc,
            at,
            measured: BTreeMap::new(),
            open: BTreeSet::new(),
        };
        for name in doc.fragments.keys() {
            shapes.fragment(name, 0)?;
        }
        for op in &doc.operations {
            shapes.set(&op.selections, 0)?;
        }
        Ok(())
    }

    /// `above` is how many selection sets enclose this one where it is being measured.
    fn set(&mut self, sels: &'d [Selection], above: usize) -> Result<Shape, ParseError> {
        let level = above + 1;
        if level > MAX_DEPTH {
            return Err(ParseError::TooDeep { max: MAX_DEPTH });
        }
        let mut shape = Shape::default();
        for s in sels {
            let inner = match s {
                Selection::Field(f) if f.selections.is_empty() => Shape {
                    depth: 0,
                    fields: 1,
                },
                Selection::Field(f) => {
                    let sub = self.set(&f.selections, level)?;
                    Shape {
                        depth: sub.depth,
                        fields: sub.fields.saturating_add(1),
                    }
                }
                Selection::Spread(name) => self.fragment(name, level)?,
                Selection::Inline(_, sub) => self.set(sub, level)?,
            };
            shape.depth = shape.depth.max(inner.depth);
            shape.fields = shape.fields.saturating_add(inner.fields);
            if shape.fields > MAX_FIELDS {
                return Err(ParseError::TooManyFields { max: MAX_FIELDS });
            }
        }
        shape.depth += 1;
        if above + shape.depth > MAX_DEPTH {
            return Err(ParseError::TooDeep { max: MAX_DEPTH });
        }
        Ok(shape)
    }

    fn fragment(&mut self, name: &'d str, above: usize) -> Result<Shape, ParseError> {
        let shape = match self.measured.get(name) {
            Some(shape) => *shape,
            None => {
                // Spreads of undefined fragments were refused while converting.
                let Some((_, sels)) = self.doc.fragments.get(name) else {
                    return Ok(Shape::default());
                };
                if !self.open.insert(name) {
                    return Err(ParseError::FragmentCycle {
                        name: name.to_string(),
                        at: self
                            .at
                            .get(name)
                            .copied()
                            .unwrap_or(Location { line: 1, column: 1 }),
                    });
                }
                let shape = self.set(sels, above)?;
                self.open.remove(name);
                self.measured.insert(name, shape);
                shape
            }
        };
        if above + shape.depth > MAX_DEPTH {
            return Err(ParseError::TooDeep { max: MAX_DEPTH });
        }
        Ok(shape)
    }
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

    /// Parses `src` and returns the selections of its only operation.
    fn selections(src: &str) -> Vec<Selection> {
        let mut doc = parse(src).unwrap_or_else(|e| panic!("{e}: {src}"));
        assert_eq!(doc.operations.len(), 1, "{src}");
        doc.operations.remove(0).selections
    }

    fn refused(src: &str) -> ParseError {
        match parse(src) {
            Ok(doc) => panic!("accepted {src:?}: {doc:?}"),
            Err(e) => e,
        }
    }

    fn field(sel: &Selection) -> &Field {
        match sel {
            Selection::Field(f) => f,
            other => panic!("not a field: {other:?}"),
        }
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
        check("{ a(b: \"é \\u00e9 \\u{1F600} \\ud83d\\ude00\") }", 1, 0);
        let sels = selections(
            "{ a(b: \"é \\u00e9 \\\"q\\\" \\\\ \\/\", c: \"\"\"\n  block \"quoted\"\n  two\n\"\"\") }",
        );
        let f = field(&sels[0]);
        assert_eq!(
            f.args,
            vec![
                ("b".into(), Value::Const(Json::from("é é \"q\" \\ /"))),
                (
                    "c".into(),
                    Value::Const(Json::from("block \"quoted\"\ntwo"))
                ),
            ]
        );
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
    fn aliases_key_the_response_and_keep_the_field_name() {
        let sels = selections("{ a: viewer { login } b: viewer { n: name } viewer { id } }");
        let keys: Vec<(&str, &str)> = sels
            .iter()
            .map(field)
            .map(|f| (f.key(), f.name.as_str()))
            .collect();
        assert_eq!(
            keys,
            [("a", "viewer"), ("b", "viewer"), ("viewer", "viewer")]
        );
        assert_eq!(field(&field(&sels[1]).selections[0]).key(), "n");
    }

    #[test]
    fn variables_literals_and_defaults() {
        let doc = parse(
            "query Q($o: String!, $n: Int = 30, $l: [ID!] = [\"a\", \"b\"], $f: F = {x: 1.5, y: null, z: [true, false]}, $big: Int = 99999999999999999999) {
                repository(owner: $o, name: \"w\") { issues(first: $n, labels: [$o, \"x\"], filterBy: {since: $o, states: [OPEN]}) { totalCount } }
            }",
        )
        .expect("parses");
        let op = &doc.operations[0];
        assert_eq!((op.kind.as_str(), op.name.as_deref()), ("query", Some("Q")));
        let defaults: Json = op
            .defaults
            .clone()
            .into_iter()
            .collect::<serde_json::Map<_, _>>()
            .into();
        assert_eq!(
            defaults,
            serde_json::json!({"n": 30, "l": ["a", "b"], "f": {"x": 1.5, "y": null, "z": [true, false]}, "big": 1e20})
        );
        let issues = field(&field(&op.selections[0]).selections[0]);
        let vars: BTreeMap<String, Json> = [("o".to_string(), Json::from("acme"))].into();
        let args: Json = issues
            .args
            .iter()
            .map(|(k, v)| (k.clone(), v.resolve(&vars)))
            .collect::<serde_json::Map<_, _>>()
            .into();
        // $n is not passed: resolving leaves it null, the executor fills in the operation default.
        assert_eq!(
            args,
            serde_json::json!({"first": null, "labels": ["acme", "x"], "filterBy": {"since": "acme", "states": ["OPEN"]}})
        );
    }

    #[test]
    fn fragments_and_inline_fragments() {
        let doc = parse(
            "query { node(id: \"x\") { ...f ... on PullRequest { merged } ... @skip(if: false) { id } } }
             fragment f on Issue { number ...g }
             fragment g on Issue { title }",
        )
        .expect("parses");
        assert_eq!(
            doc.fragments.get("f"),
            Some(&(
                "Issue".to_string(),
                vec![
                    Selection::Field(Field {
                        alias: None,
                        name: "number".into(),
                        args: vec![],
                        selections: vec![],
                    }),
                    Selection::Spread("g".into()),
                ]
            ))
        );
        let node = field(&doc.operations[0].selections[0]);
        assert_eq!(node.selections[0], Selection::Spread("f".into()));
        let Selection::Inline(Some(ty), sub) = &node.selections[1] else {
            panic!("inline fragment: {:?}", node.selections[1])
        };
        assert_eq!(
            (ty.as_str(), field(&sub[0]).name.as_str()),
            ("PullRequest", "merged")
        );
        assert!(matches!(&node.selections[2], Selection::Inline(None, sub) if sub.len() == 1));
    }

    #[test]
    fn operation_kinds_and_names() {
        let doc =
            parse("query A { a } mutation B { b } subscription C { c } { d }").expect("parses");
        let ops: Vec<(&str, Option<&str>)> = doc
            .operations
            .iter()
            .map(|o| (o.kind.as_str(), o.name.as_deref()))
            .collect();
        assert_eq!(
            ops,
            [
                ("query", Some("A")),
                ("mutation", Some("B")),
                ("subscription", Some("C")),
                ("query", None)
            ]
        );
    }

    #[test]
    fn syntax_errors_say_where_and_on_what() {
        let e = refused("{\n  viewer { login ]\n}");
        assert!(
            matches!(&e, ParseError::Syntax { near, at, .. } if near == "\"]\"" && *at == Location { line: 2, column: 18 }),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("Parse error on \"]\" at [2, 18]: "),
            "{e}"
        );
        assert_eq!(
            (e.location(), e.code()),
            (
                Some(Location {
                    line: 2,
                    column: 18
                }),
                "parseError"
            )
        );
        let e = refused("{ unclosed");
        assert!(
            matches!(&e, ParseError::Syntax { near, .. } if near == "end of input"),
            "{e:?}"
        );
        // The quoted token is bounded: an unterminated string runs to the end of the query.
        let e = refused(&format!("{{ a(b: \"{}) }}", "x".repeat(10_000)));
        assert!(e.to_string().len() < 200, "{e}");
    }

    #[test]
    fn reports_errors_without_panicking() {
        for bad in [
            "\"\\é",
            "{ a(b: \"\\u12\") }",
            "{ a(b: \"\\é\") }",
            "{ a(b: \"\\ud83d\") }",
            "{ a(b: \"\\u{110000}\") }",
            "{ a(b: \"\\u{FFFFFFFFFFFFFFFFFFFFFFFF}\") }",
            "é",
            "{ a(b: \"\"\"x) }",
            "{",
            "query (",
            "{ a(b: ) }",
            "\"",
            "{ a @ }",
            "...",
            "{ a(x: $) }",
            "query Q($a: Int = $b) { a }",
            "",
        ] {
            assert!(
                matches!(parse(bad), Err(ParseError::Syntax { .. })),
                "{bad}: {:?}",
                parse(bad)
            );
        }
    }

    #[test]
    fn refuses_what_the_executor_cannot_run() {
        let e = refused("{ a { ...missing } }");
        assert_eq!(e.to_string(), "Fragment missing was used, but not defined");
        assert_eq!(e.location(), Some(Location { line: 1, column: 7 }));
        let e = refused("{ a { ...f } } fragment f on A { b { ...g } } fragment g on B { ...f }");
        assert!(matches!(&e, ParseError::FragmentCycle { .. }), "{e:?}");
        assert!(
            matches!(refused("fragment f on A { ...f } { a }"), ParseError::FragmentCycle { name, .. } if name == "f")
        );
        assert!(matches!(
            refused("{ a } fragment f on A { b } fragment f on A { c }"),
            ParseError::DuplicateFragment { name, .. } if name == "f"
        ));
        assert!(matches!(
            refused("type Query { a: Int } { a }"),
            ParseError::NotExecutable {
                kind: "ObjectTypeDefinition",
                ..
            }
        ));
    }

    #[test]
    fn bounds_size_and_tokens() {
        let long = format!("{{ a(b: \"{}\") }}", "x".repeat(MAX_QUERY_BYTES));
        assert!(matches!(refused(&long), ParseError::TooLong { .. }));
        let many = format!("{{ {} }}", "a ".repeat(MAX_TOKENS));
        assert!(matches!(
            refused(&many),
            ParseError::TooManyTokens { max: MAX_TOKENS }
        ));
    }

    #[test]
    fn bounds_depth_of_selections_values_and_types() {
        let nested = |n: usize| format!("{}{}", "{ a ".repeat(n), "}".repeat(n));
        assert!(parse(&nested(MAX_DEPTH)).is_ok());
        assert!(matches!(
            refused(&nested(MAX_DEPTH + 1)),
            ParseError::TooDeep { .. }
        ));
        // Deep enough to overflow a recursive parser's stack, within the size and token bounds.
        let deep = format!("{}{}", "{a".repeat(15_000), "}".repeat(15_000));
        assert!(matches!(refused(&deep), ParseError::TooDeep { .. }));
        let n = MAX_DEPTH * 4;
        let list = format!("{{ a(b: {}1{}) }}", "[".repeat(n), "]".repeat(n));
        assert!(matches!(refused(&list), ParseError::TooDeep { .. }));
        let object = format!("{{ a(b: {}1{}) }}", "{c: ".repeat(n), "}".repeat(n));
        assert!(matches!(refused(&object), ParseError::TooDeep { .. }));
        let ty = format!("query($v: {}Int{}) {{ a }}", "[".repeat(n), "]".repeat(n));
        assert!(matches!(refused(&ty), ParseError::TooDeep { .. }));
    }

    #[test]
    fn bounds_depth_through_fragments() {
        // Each fragment is shallow; chained, they nest past the bound the executor recurses to.
        let mut q = String::from("{ ...f0 }");
        for i in 0..MAX_DEPTH {
            q.push_str(&format!(" fragment f{i} on Q {{ a {{ ...f{} }} }}", i + 1));
        }
        q.push_str(&format!(" fragment f{MAX_DEPTH} on Q {{ a }}"));
        assert!(matches!(refused(&q), ParseError::TooDeep { .. }));
        // A chain of spreads nests too (the executor recurses once per fragment body).
        let mut q = String::from("{ ...f0 }");
        for i in 0..1_000 {
            q.push_str(&format!(" fragment f{i} on Q {{ ...f{} }}", i + 1));
        }
        q.push_str(" fragment f1000 on Q { a }");
        assert!(matches!(refused(&q), ParseError::TooDeep { .. }));
    }

    #[test]
    fn bounds_fields_once_fragments_expand() {
        // 40 fragments, each spreading the previous one twice: 2^40 fields from 2 KiB of text.
        let mut q = String::from("fragment f0 on Q { a b }");
        for i in 1..40 {
            q.push_str(&format!(
                " fragment f{i} on Q {{ ...f{p} ...f{p} }}",
                p = i - 1
            ));
        }
        q.push_str(" { ...f39 }");
        assert!(matches!(
            refused(&q),
            ParseError::TooManyFields { max: MAX_FIELDS }
        ));
        // Fragments used many times but within the bound are fine.
        check(
            "fragment f on Q { a b c } { x { ...f } y { ...f } z { ...f } }",
            1,
            1,
        );
    }

    /// A fixed pseudo-random walk over GraphQL's alphabet: no input may panic or overflow the
    /// stack, whatever the parser makes of it.
    #[test]
    fn random_documents_never_panic() {
        const PIECES: [&str; 24] = [
            "{",
            "}",
            "(",
            ")",
            "[",
            "]",
            ":",
            "$",
            "!",
            "=",
            "@",
            "...",
            "on ",
            "a",
            "query ",
            "fragment f ",
            "\"",
            "\\u",
            "\"\"\"",
            "1",
            "-1.5e3",
            " ",
            "\n",
            "#",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..3_000 {
            let mut q = String::new();
            for _ in 0..(state % 80) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                q.push_str(PIECES[(state % PIECES.len() as u64) as usize]);
            }
            let _ = parse(&q);
        }
    }
}
