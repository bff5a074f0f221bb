//! Search queries built from validated terms, never pasted: the `q` of `/search/issues` and
//! `/search/code`.
//!
//! GitHub ORs repeated scope qualifiers (`repo:a/b repo:c/d` searches both) and reads `OR`, `AND`,
//! `NOT` and parentheses as operators, so one stray term in `q` can widen a search past the
//! caller's grants. Every value therefore enters the query as a [`Term`] that can only be what its
//! field means: free text is tokenized with GitHub's grammar (words, `"phrases"`, `key:value`,
//! `key:"value"`, a leading `-`), qualifiers are allow-listed, logins follow GitHub's login
//! grammar, labels and paths are always quoted, and the query is re-assembled from the parsed
//! terms with our own `repo:` first. Anything GitHub could read in two ways is refused.

use super::{Error, RepoName};

/// Which search a query is for; each has its own qualifier allow-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Issues,
    Code,
    Commits,
}

impl Kind {
    /// Qualifiers the free text may use: GitHub's documented filters of this search, minus
    /// every scope qualifier (the repository is the `repo` argument, checked against grants)
    /// and minus those naming other issues (`parent-issue:`, `blocked-by:`), which would probe
    /// repositories outside the grants.
    fn qualifiers(self) -> &'static [&'static str] {
        match self {
            Kind::Issues => &[
                "archived",
                "assignee",
                "author",
                "base",
                "closed",
                "commenter",
                "comments",
                "created",
                "draft",
                "head",
                "in",
                "interactions",
                "involves",
                "is",
                "label",
                "language",
                "linked",
                "mentions",
                "merged",
                "milestone",
                "no",
                "project",
                "reactions",
                "reason",
                "review",
                "review-requested",
                "reviewed-by",
                "sha",
                "sort",
                "state",
                "status",
                "team",
                "team-review-requested",
                "type",
                "updated",
                "user-review-requested",
            ],
            Kind::Commits => &[
                "author",
                "author-date",
                "author-email",
                "author-name",
                "committer",
                "committer-date",
                "committer-email",
                "committer-name",
                "hash",
                "is",
                "merge",
                "parent",
                "sort",
                "tree",
            ],
            Kind::Code => &[
                "content",
                "extension",
                "filename",
                "fork",
                "in",
                "is",
                "language",
                "path",
                "size",
                "symbol",
            ],
        }
    }
}

/// Qualifiers that choose where GitHub searches. Only ours may appear in a query.
const SCOPE_QUALIFIERS: [&str; 4] = ["repo", "org", "user", "owner"];

/// Longest free-text query parsed. GitHub itself refuses queries over 256 characters; this only
/// bounds the work done on hostile input before GitHub would say so.
const MAX_QUERY: usize = 1024;
/// Most terms in the free text (GitHub allows at most five operators; real queries are short).
const MAX_TERMS: usize = 32;
/// Longest single value (a label, a path, a phrase).
const MAX_VALUE: usize = 256;
/// Longest login: GitHub's are at most 39 characters; managed users add `_SHORTCODE`.
const MAX_LOGIN: usize = 64;

/// One term of a search query, rendered exactly one way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Term {
    /// A bare word: no whitespace, quotes, parentheses, backslashes or `key:` prefix.
    Word { negated: bool, text: String },
    /// A `"quoted phrase"`: no quote, backslash, control or unusual space inside.
    Phrase { negated: bool, text: String },
    /// `key:value` or `key:"value"`, `key` from an allow-list (or ours: `repo`).
    Qualifier {
        negated: bool,
        key: &'static str,
        value: String,
        quoted: bool,
    },
}

impl std::fmt::Display for Term {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let neg = |n: &bool| if *n { "-" } else { "" };
        match self {
            Term::Word { negated, text } => write!(f, "{}{text}", neg(negated)),
            Term::Phrase { negated, text } => write!(f, "{}\"{text}\"", neg(negated)),
            Term::Qualifier {
                negated,
                key,
                value,
                quoted: true,
            } => write!(f, "{}{key}:\"{value}\"", neg(negated)),
            Term::Qualifier {
                negated,
                key,
                value,
                quoted: false,
            } => write!(f, "{}{key}:{value}", neg(negated)),
        }
    }
}

/// A search query under construction: our repository qualifier and validated terms.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    kind: Kind,
    repo: Option<RepoName>,
    terms: Vec<Term>,
}

impl Query {
    /// An empty query limited to `repo` (policy has checked it against the caller's grants);
    /// with none, the query carries no scope qualifier at all.
    pub fn new(kind: Kind, repo: Option<RepoName>) -> Self {
        Self {
            kind,
            repo,
            terms: Vec::new(),
        }
    }

    /// Adds the caller's free-text query, tokenized with GitHub's grammar.
    pub fn text(&mut self, text: &str) -> Result<&mut Self, Error> {
        let terms = parse(self.kind, text)?;
        self.terms.extend(terms);
        Ok(self)
    }

    /// Adds `key:login` (`author`, `assignee`): a GitHub login, `app/SLUG` or `@me`.
    pub fn login(&mut self, key: &'static str, login: &str) -> Result<&mut Self, Error> {
        check_login(key, login)?;
        self.push(key, login, false);
        Ok(self)
    }

    /// Adds `key:"value"` (`label`, `path`): always quoted, so a space cannot end it.
    pub fn quoted(&mut self, key: &'static str, value: &str) -> Result<&mut Self, Error> {
        check_value(key, value)?;
        self.push(key, value, true);
        Ok(self)
    }

    /// Adds one of our own fixed qualifiers (`state:open`, `type:issue`).
    pub fn fixed(&mut self, key: &'static str, value: &'static str) -> &mut Self {
        self.push(key, value, false);
        self
    }

    fn push(&mut self, key: &'static str, value: &str, quoted: bool) {
        self.terms.push(Term::Qualifier {
            negated: false,
            key,
            value: value.to_owned(),
            quoted,
        });
    }

    /// Whether nothing but the repository would be searched for.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The `q` parameter: our `repo:` first (nothing before it can swallow it), then the terms.
    pub fn build(&self) -> String {
        let repo = self.repo.as_ref().map(|r| format!("repo:{r}"));
        repo.into_iter()
            .chain(self.terms.iter().map(Term::to_string))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Characters that render as nothing or change text direction: GitHub (or a proxy) may drop
/// them and join what we saw as two harmless pieces into a qualifier.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}'
        | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}'
        | '\u{E0000}'..='\u{E007F}')
}

/// Look-alikes of `:`, `"`, `(` and `)` that a normalizing search engine could fold into them.
fn lookalike(c: char) -> bool {
    matches!(
        c,
        '\u{02D0}'
            | '\u{02F8}'
            | '\u{0589}'
            | '\u{05C3}'
            | '\u{2236}'
            | '\u{A789}'
            | '\u{FE13}'
            | '\u{FE30}'
            | '\u{FE55}'
            | '\u{FF1A}'
            | '\u{FF02}'
            | '\u{201C}'..='\u{201F}' | '\u{FF08}' | '\u{FF09}' | '\u{FE59}' | '\u{FE5A}'
    )
}

/// The first scope qualifier (`repo:`, `org:`, `user:`, `owner:`) found anywhere in `text` at a
/// word start, whatever the case. Refused even inside quotes: no legitimate search needs one, and
/// a parser that reads quotes differently from ours must find none.
fn scope_in(text: &str) -> Option<&'static str> {
    let lower = text.to_ascii_lowercase();
    SCOPE_QUALIFIERS.into_iter().find(|q| {
        lower.match_indices(q).any(|(i, _)| {
            lower[i + q.len()..].starts_with(':')
                && !lower[..i]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_ascii_alphanumeric())
        })
    })
}

/// What a scope qualifier in the query is answered with.
fn scope_error(kind: Kind, q: &str) -> Error {
    Error::invalid(format!(
        "the query must not contain `{q}:` (nor `-{q}:`); name the repository with the repo \
         argument (OWNER/NAME); qualifiers allowed here: {}",
        kind.qualifiers().join(", ")
    ))
}

/// Checks the characters of any query input: no control, invisible or look-alike characters and
/// no backslash (GitHub reads `\"` as an escaped quote, which would move a phrase's end).
fn check_chars(what: &str, text: &str) -> Result<(), Error> {
    if let Some(c) = text
        .chars()
        .find(|c| c.is_control() || invisible(*c) || lookalike(*c))
    {
        return Err(Error::invalid(format!(
            "{what} holds the character {c:?}, which search queries do not accept; remove it"
        )));
    }
    if text.contains('\\') {
        return Err(Error::invalid(format!(
            "{what} holds a backslash, which GitHub reads as an escape; leave it out"
        )));
    }
    Ok(())
}

/// Checks a value that goes inside quotes: a label, a path, a phrase.
fn check_value(what: &str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(Error::invalid(format!("{what} must not be empty")));
    }
    if value.chars().count() > MAX_VALUE {
        return Err(Error::invalid(format!(
            "{what} is longer than {MAX_VALUE} characters; shorten it"
        )));
    }
    check_chars(what, value)?;
    if value.contains('"') {
        return Err(Error::invalid(format!(
            "{what} must not contain '\"'; gitgate quotes values itself"
        )));
    }
    if value.chars().any(|c| c.is_whitespace() && c != ' ') {
        return Err(Error::invalid(format!(
            "{what} holds a tab, line break or unusual space; use plain spaces"
        )));
    }
    if let Some(q) = scope_in(value) {
        return Err(Error::invalid(format!(
            "{what} must not contain `{q}:`; name the repository with the repo argument"
        )));
    }
    Ok(())
}

/// Checks a login: GitHub's grammar (letters, digits, inner `-` or `_`), `app/SLUG` for a bot
/// author, or `@me`.
fn check_login(what: &str, login: &str) -> Result<(), Error> {
    let name = login.strip_prefix("app/").unwrap_or(login);
    let ok = login == "@me"
        || (!name.is_empty()
            && name.len() <= MAX_LOGIN
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
            && !name.starts_with(['-', '_'])
            && !name.ends_with(['-', '_']));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{what} must be one GitHub login (letters, digits, inner '-' or '_'), app/NAME or \
             @me; for more users run one search each"
        )))
    }
}

/// Tokenizes free text with GitHub's search grammar and validates every term.
pub(crate) fn parse(kind: Kind, text: &str) -> Result<Vec<Term>, Error> {
    if text.len() > MAX_QUERY {
        return Err(Error::invalid(format!(
            "the query is longer than {MAX_QUERY} bytes; GitHub takes at most 256 characters"
        )));
    }
    check_chars("the query", text)?;
    let mut terms = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(terms);
        }
        if terms.len() == MAX_TERMS {
            return Err(Error::invalid(format!(
                "the query has more than {MAX_TERMS} terms; narrow it with qualifiers"
            )));
        }
        let (term, after) = next_term(kind, rest)?;
        terms.push(term);
        rest = after;
    }
}

/// Splits off the term at the start of `text` (not empty, no leading whitespace).
fn next_term(kind: Kind, text: &str) -> Result<(Term, &str), Error> {
    let (negated, body) = match text.strip_prefix('-') {
        Some(b) if b.starts_with(|c: char| !c.is_whitespace()) => (true, b),
        _ => (false, text),
    };
    if let Some(inner) = body.strip_prefix('"') {
        let (phrase, after) = quoted_part(inner)?;
        check_value("a quoted phrase", phrase)?;
        let term = Term::Phrase {
            negated,
            text: phrase.to_owned(),
        };
        return Ok((term, after));
    }
    let end = body.find(char::is_whitespace).unwrap_or(body.len());
    let word = &body[..end];
    let (word, after) = match word.find(':') {
        // `key:"value with spaces"`: the quote opens right after the colon.
        Some(i) if word[i + 1..].starts_with('"') => {
            if let Some(q) = scope_in(&body[..=i]) {
                return Err(scope_error(kind, q));
            }
            let (value, after) = quoted_part(&body[i + 2..])?;
            return qualifier(kind, negated, &body[..i], value, true).map(|t| (t, after));
        }
        _ => (word, &body[end..]),
    };
    if let Some(q) = scope_in(word) {
        return Err(scope_error(kind, q));
    }
    if word.contains('"') {
        return Err(Error::invalid(format!(
            "a quote inside `{}`; quote whole phrases (\"like this\") or values (label:\"like this\")",
            cut(word)
        )));
    }
    if word.contains(['(', ')']) {
        return Err(Error::invalid(
            "parentheses are not accepted in search queries: terms are always ANDed; run one \
             search per alternative",
        ));
    }
    if let Some(i) = word.find(':').filter(|i| *i > 0) {
        return qualifier(kind, negated, &word[..i], &word[i + 1..], false).map(|t| (t, after));
    }
    if ["OR", "AND", "NOT"]
        .iter()
        .any(|op| word.eq_ignore_ascii_case(op))
        && word != word.to_ascii_lowercase()
    {
        return Err(Error::invalid(format!(
            "`{word}` is a search operator; terms are always ANDed: run one search per \
             alternative, or exclude with a leading '-' (-label:wontfix)"
        )));
    }
    let term = Term::Word {
        negated,
        text: word.to_owned(),
    };
    Ok((term, after))
}

/// The text up to the closing quote of a phrase opened just before `text`, and what follows
/// it, which must be whitespace or the end (`"a"b` reads differently in different parsers).
fn quoted_part(text: &str) -> Result<(&str, &str), Error> {
    let close = text.find('"').ok_or_else(|| {
        Error::invalid("the query has an unbalanced '\"'; close every quoted phrase")
    })?;
    let after = &text[close + 1..];
    if after.starts_with(|c: char| !c.is_whitespace()) {
        return Err(Error::invalid(
            "put a space after each closing '\"' in the query",
        ));
    }
    Ok((&text[..close], after))
}

/// A `key:value` term of the free text, `key` checked against the allow-list.
fn qualifier(
    kind: Kind,
    negated: bool,
    key: &str,
    value: &str,
    quoted: bool,
) -> Result<Term, Error> {
    let lower = key.to_ascii_lowercase();
    if let Some(q) = SCOPE_QUALIFIERS
        .into_iter()
        .find(|q| *q == lower)
        .or_else(|| scope_in(key))
    {
        return Err(scope_error(kind, q));
    }
    let Some(&key) = kind.qualifiers().iter().find(|k| **k == lower) else {
        return Err(Error::invalid(format!(
            "unknown search qualifier `{}:`; qualifiers allowed here: {}; to search for the text \
             itself, quote it (\"{}:...\")",
            cut(key),
            kind.qualifiers().join(", "),
            cut(key)
        )));
    };
    let what = format!("the value of {key}:");
    if quoted {
        check_value(&what, value)?;
    } else {
        if value.is_empty() {
            return Err(Error::invalid(format!(
                "{key}: needs a value right after the colon ({key}:VALUE)"
            )));
        }
        if value.contains(['(', ')']) {
            return Err(Error::invalid(
                "parentheses are not accepted in search queries: terms are always ANDed; run \
                 one search per alternative",
            ));
        }
        if value.chars().count() > MAX_VALUE {
            return Err(Error::invalid(format!(
                "{what} is longer than {MAX_VALUE} characters; shorten it"
            )));
        }
        if let Some(q) = scope_in(value) {
            return Err(scope_error(kind, q));
        }
    }
    Ok(Term::Qualifier {
        negated,
        key,
        value: value.to_owned(),
        quoted,
    })
}

/// A term shortened for an error message.
fn cut(text: &str) -> String {
    const SHOWN: usize = 40;
    if text.chars().count() <= SHOWN {
        text.to_owned()
    } else {
        text.chars().take(SHOWN).chain("...".chars()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> Option<RepoName> {
        Some(RepoName::parse("acme/gadgets").expect("repo"))
    }

    /// The free text `input` built into a query on acme/gadgets: the `q` sent, or a fragment
    /// of the refusal.
    fn check(kind: Kind, input: &str, expected: Result<&str, &str>) {
        let mut q = Query::new(kind, repo());
        let got = q.text(input).map(|q| q.build()).map_err(|e| e.to_string());
        match (&got, expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{input:?}"),
            (Err(e), Err(want)) => assert!(e.contains(want), "{input:?}: {e}"),
            _ => panic!("{input:?}: got {got:?}, expected {expected:?}"),
        }
    }

    fn issues(input: &str, expected: Result<&str, &str>) {
        check(Kind::Issues, input, expected);
    }

    #[test]
    fn free_text_is_rebuilt_from_githubs_grammar() {
        issues("", Ok("repo:acme/gadgets"));
        issues("  crash  ", Ok("repo:acme/gadgets crash"));
        issues(
            "crash in:title label:bug",
            Ok("repo:acme/gadgets crash in:title label:bug"),
        );
        issues(
            r#"label:"help wanted" "null pointer" -label:wontfix"#,
            Ok(r#"repo:acme/gadgets label:"help wanted" "null pointer" -label:wontfix"#),
        );
        issues("Label:bug", Ok("repo:acme/gadgets label:bug"));
        issues("reporting user", Ok("repo:acme/gadgets reporting user"));
        issues("or and not", Ok("repo:acme/gadgets or and not"));
        issues("-crash", Ok("repo:acme/gadgets -crash"));
        issues("a - b", Ok("repo:acme/gadgets a - b"));
        issues(
            "created:>2024-01-01 author:@me",
            Ok("repo:acme/gadgets created:>2024-01-01 author:@me"),
        );
        check(
            Kind::Code,
            "fn path:src language:rust",
            Ok("repo:acme/gadgets fn path:src language:rust"),
        );
    }

    /// Bug: `own_query` only looked for `repo:` and friends; `OR`, parentheses, unbalanced or
    /// escaped quotes and unknown qualifiers went to GitHub as typed.
    #[test]
    fn free_text_that_could_widen_is_refused() {
        for q in [
            "repo:evil/x bug",
            "bug REPO:evil/x",
            "bug -repo:a/b",
            "(org:evil)",
            "user:someone",
            "owner:x crash",
            "\"repo:evil/x\"",
            "\"see repo:evil/x\"",
            "label:repo:evil/x",
            "Repo:\"evil/x\"",
            "x,repo:evil/x",
        ] {
            issues(q, Err("must not contain `"));
        }
        issues("is:issue OR bug", Err("`OR` is a search operator"));
        issues("bug AND crash", Err("`AND` is a search operator"));
        issues("NOT bug", Err("`NOT` is a search operator"));
        issues("bug Or crash", Err("search operator"));
        issues("-OR", Err("search operator"));
        issues("(bug)", Err("parentheses"));
        issues("bug)", Err("parentheses"));
        issues("label:(bug", Err("parentheses"));
        issues("\"crash", Err("unbalanced"));
        issues("label:\"help wanted", Err("unbalanced"));
        issues("\"a\"b", Err("space after"));
        issues("label:\"a\"\"b\"", Err("space after"));
        issues("cra\"sh", Err("a quote inside"));
        issues("label:bug\"", Err("a quote inside"));
        issues("\"a\\\" b\"", Err("backslash"));
        issues("bug\\", Err("backslash"));
        issues("\"\"", Err("must not be empty"));
        issues("label:", Err("needs a value"));
        issues(
            "http://example.com",
            Err("unknown search qualifier `http:`"),
        );
        issues("path:src", Err("unknown search qualifier `path:`"));
        issues("parent-issue:evil/x#1", Err("unknown search qualifier"));
        issues("re\u{200b}po:evil/x", Err("do not accept"));
        issues("repo\u{ff1a}evil/x", Err("do not accept"));
        issues("bug\u{0}x", Err("do not accept"));
        issues("\"a\tb\"", Err("do not accept"));
        issues("\"a\u{a0}b\"", Err("unusual space"));
        issues(&"a ".repeat(40), Err("more than 32 terms"));
        issues(&"a".repeat(2000), Err("longer than 1024"));
        check(Kind::Code, "is:issue OR x", Err("search operator"));
        check(Kind::Code, "label:bug", Err("unknown search qualifier"));
    }

    #[test]
    fn unknown_qualifiers_name_the_allowed_ones() {
        let e = parse(Kind::Code, "org:evil")
            .expect_err("scope")
            .to_string();
        assert!(
            e.contains("name the repository with the repo argument"),
            "{e}"
        );
        assert!(e.contains("path, size, symbol"), "{e}");
    }

    /// Checks one field's value: the built query, or a fragment of the refusal.
    fn field(
        add: impl Fn(&mut Query, &str) -> Result<(), Error>,
        input: &str,
        expected: Result<&str, &str>,
    ) {
        let mut q = Query::new(Kind::Issues, repo());
        let got = add(&mut q, input)
            .map(|()| q.build())
            .map_err(|e| e.to_string());
        match (&got, expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{input:?}"),
            (Err(e), Err(want)) => assert!(e.contains(want), "{input:?}: {e}"),
            _ => panic!("{input:?}: got {got:?}, expected {expected:?}"),
        }
    }

    /// Bug: author and assignee were pasted unquoted (`author:alice repo:acme/widgets`).
    #[test]
    fn logins_follow_githubs_grammar() {
        let author = |q: &mut Query, v: &str| q.login("author", v).map(|_| ());
        field(author, "alice", Ok("repo:acme/gadgets author:alice"));
        field(author, "@me", Ok("repo:acme/gadgets author:@me"));
        field(author, "ci-bot", Ok("repo:acme/gadgets author:ci-bot"));
        field(
            author,
            "octo_acme",
            Ok("repo:acme/gadgets author:octo_acme"),
        );
        field(
            author,
            "app/dependabot",
            Ok("repo:acme/gadgets author:app/dependabot"),
        );
        for bad in [
            "",
            "alice repo:acme/widgets",
            "alice\trepo:x",
            "-alice",
            "alice-",
            "al\"ice",
            "a(b)",
            "@you",
            "repo:x",
            "x/y",
            "app/",
            "alice\u{200b}",
            &"a".repeat(65),
        ] {
            field(author, bad, Err("must be one GitHub login"));
        }
    }

    /// Bug: labels were quoted only when they held a space, so `bug" repo:acme/widgets "`
    /// closed the quote early; a trailing backslash would escape ours.
    #[test]
    fn labels_and_paths_are_always_quoted() {
        let label = |q: &mut Query, v: &str| q.quoted("label", v).map(|_| ());
        field(label, "bug", Ok("repo:acme/gadgets label:\"bug\""));
        field(
            label,
            "help wanted",
            Ok("repo:acme/gadgets label:\"help wanted\""),
        );
        field(
            label,
            "priority:high",
            Ok("repo:acme/gadgets label:\"priority:high\""),
        );
        field(
            label,
            "bug\" repo:acme/widgets \"",
            Err("must not contain '\"'"),
        );
        field(
            label,
            "bug repo:acme/widgets",
            Err("must not contain `repo:`"),
        );
        field(label, "bug\\", Err("backslash"));
        field(label, "", Err("must not be empty"));
        field(label, "  ", Err("must not be empty"));
        field(label, "a\nb", Err("do not accept"));
        field(label, "a\u{3000}b", Err("unusual space"));
        field(label, &"x".repeat(300), Err("longer than 256"));
        let path = |q: &mut Query, v: &str| q.quoted("path", v).map(|_| ());
        field(path, "src/lib", Ok("repo:acme/gadgets path:\"src/lib\""));
        field(
            path,
            "src\" repo:acme/widgets \"",
            Err("must not contain '\"'"),
        );
        field(path, "src/ org:evil", Err("must not contain `org:`"));
    }

    /// A tokenizer as permissive as GitHub's could be: quotes honoured with `\"` escapes,
    /// parentheses split off, `-` and case ignored. Returns the terms outside quotes.
    fn github_terms(q: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        let mut chars = q.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if quoted => {
                    cur.push(c);
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                }
                '"' => {
                    quoted = !quoted;
                    cur.push(c);
                }
                '(' | ')' if !quoted => {
                    out.extend((!cur.is_empty()).then(|| std::mem::take(&mut cur)));
                    out.push(c.to_string());
                }
                c if !quoted && (c.is_whitespace() || invisible(c)) => {
                    out.extend((!cur.is_empty()).then(|| std::mem::take(&mut cur)));
                }
                c => cur.push(c),
            }
        }
        assert!(!quoted, "unbalanced quotes in {q:?}");
        out.extend((!cur.is_empty()).then_some(cur));
        out
    }

    /// The invariant: whatever the fields hold, a built query has exactly one scope term, ours,
    /// when a repository is given, none otherwise, and no operator or parenthesis.
    fn assert_scoped(q: &str, repo: bool) {
        let terms = github_terms(q);
        let scopes: Vec<&String> = terms
            .iter()
            .filter(|t| {
                let t = t.trim_start_matches(['-', '"']).to_ascii_lowercase();
                SCOPE_QUALIFIERS
                    .iter()
                    .any(|s| t.starts_with(&format!("{s}:")))
            })
            .collect();
        if repo {
            assert_eq!(scopes, [&"repo:acme/gadgets".to_owned()], "{q:?}");
            assert!(q.starts_with("repo:acme/gadgets"), "{q:?}");
        } else {
            assert!(scopes.is_empty(), "{q:?}");
        }
        // Anywhere at a word start, even inside quotes: exactly the scope terms above.
        let lower = q.to_ascii_lowercase();
        let anywhere: usize = SCOPE_QUALIFIERS
            .iter()
            .map(|s| {
                lower
                    .match_indices(&format!("{s}:"))
                    .filter(|(i, _)| {
                        !lower[..*i]
                            .chars()
                            .next_back()
                            .is_some_and(|c| c.is_ascii_alphanumeric())
                    })
                    .count()
            })
            .sum();
        assert_eq!(anywhere, usize::from(repo), "{q:?}");
        for t in &terms {
            assert!(
                !["OR", "AND", "NOT", "(", ")"].contains(&t.as_str()),
                "{t} in {q:?}"
            );
        }
    }

    /// Pieces an attacker would combine: quotes, escapes, operators, scope qualifiers in every
    /// case, separators and characters a normalizer might drop.
    const PIECES: &[&str] = &[
        "",
        " ",
        "\"",
        "\\",
        "\\\"",
        "(",
        ")",
        "OR",
        "or",
        "AND",
        "NOT",
        "-",
        ":",
        "repo:",
        "REPO:",
        "Repo:",
        "-repo:",
        "org:",
        "user:",
        "owner:",
        "acme/widgets",
        "evil",
        "label:",
        "bug",
        "help wanted",
        "in:title",
        "path:",
        "@me",
        "alice",
        "app/",
        "\t",
        "\n",
        "\u{0}",
        "\u{a0}",
        "\u{200b}",
        "\u{3000}",
        "\u{ff1a}",
        "\u{201c}",
        "'",
        ",",
        "*",
        "/",
        "..",
        "repo:acme/gadgets",
    ];

    /// A small deterministic generator (xorshift), so the test needs no new dependency and a
    /// failure reproduces.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 16) as usize
        }

        fn value(&mut self) -> String {
            let n = self.next() % 6;
            (0..n).map(|_| PIECES[self.next() % PIECES.len()]).collect()
        }
    }

    /// Builds a query as `gh_search_issues`/`gh_search_code` do from arbitrary field values;
    /// `None` when some field was refused.
    fn build(kind: Kind, scoped: bool, f: &[String; 5]) -> Option<String> {
        let mut q = Query::new(kind, if scoped { repo() } else { None });
        q.text(&f[0]).ok()?;
        match kind {
            Kind::Issues => {
                q.fixed("state", "open");
                q.quoted("label", &f[1]).ok()?;
                q.login("assignee", &f[2]).ok()?;
                q.login("author", &f[3]).ok()?;
                q.fixed("type", "issue");
            }
            Kind::Code => {
                q.quoted("path", &f[4]).ok()?;
            }
            Kind::Commits => {
                q.login("author", &f[3]).ok()?;
                q.quoted("author-name", &f[1]).ok()?;
            }
        }
        Some(q.build())
    }

    #[test]
    fn no_field_can_add_a_scope_or_an_operator() {
        // Every pair of pieces in every field, then random longer combinations.
        let mut built = 0usize;
        for kind in [Kind::Issues, Kind::Code, Kind::Commits] {
            for repo in [true, false] {
                for a in PIECES {
                    for b in PIECES {
                        let v = format!("{a}{b}");
                        for slot in 0..5 {
                            let mut f: [String; 5] = [
                                "x".into(),
                                "bug".into(),
                                "@me".into(),
                                "alice".into(),
                                "src".into(),
                            ];
                            f[slot] = v.clone();
                            if let Some(q) = build(kind, repo, &f) {
                                assert_scoped(&q, repo);
                                built += 1;
                            }
                        }
                    }
                }
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
                for _ in 0..20_000 {
                    let f = [
                        rng.value(),
                        rng.value(),
                        rng.value(),
                        rng.value(),
                        rng.value(),
                    ];
                    if let Some(q) = build(kind, repo, &f) {
                        assert_scoped(&q, repo);
                        built += 1;
                    }
                }
            }
        }
        // The generator must reach accepted queries, or the test proves nothing.
        assert!(built > 10_000, "only {built} queries built");
    }
}
