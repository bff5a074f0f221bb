//! Checks: how an answer is read off the final step's result ([`Reader`]), what it must be
//! ([`Expect`]), and where in forge JSON a state check looks ([`CheckPath`], a jq filter).

pub mod path;
pub mod reference;

pub use path::CheckPath;

use std::collections::BTreeSet;
use std::str::FromStr;

use serde::Deserialize;
use serde_json::Value;

/// How the agent reads its answer off the last result. A model reading a list can count it or
/// pick a column; these readers do exactly that and nothing cleverer. Readers are generic: the
/// same reading applies on every arm, and none may hold the answer (a pattern that selects the
/// right items is the conclusion, not a reading; `task_lint` in the tests scans the task files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader {
    /// The whole result text.
    Text,
    /// The first number in the text.
    Number,
    /// Items: a JSON array's length, else the number of non-empty lines.
    Count,
    /// The non-empty lines, trimmed.
    Lines,
    /// Values of one field of a JSON array's objects (or of one object).
    Json(String),
    /// The N-th (1-based) whitespace-separated column of each non-empty line.
    Column(usize),
    /// Every match of a regex (its first group when it has one).
    Regex(String),
    /// `first` / `last`: the first or last item (see [`items`]).
    First,
    Last,
    /// `count_by[:KEY]`: how many items have each key, as an object (key -> count).
    CountBy(Key),
    /// `most_frequent[:KEY]`: the key (or keys, on a tie) most items have, as a list.
    MostFrequent(Key),
    /// `sum[:KEY]`: the sum of the items' numbers (each key's first number).
    Sum(Key),
    /// `index_of:TEXT`: the 1-based position of the first item whose text contains TEXT (the
    /// text comes from the prompt; "how far down the list is X").
    IndexOf(String),
    /// `jq:FILTER`: the one value a jq filter gives on the JSON the result starts with.
    Jq(CheckPath),
}

impl FromStr for Reader {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "text" => Self::Text,
            "number" => Self::Number,
            "count" => Self::Count,
            "lines" => Self::Lines,
            "first" => Self::First,
            "last" => Self::Last,
            "count_by" => Self::CountBy(Key::Whole),
            "most_frequent" => Self::MostFrequent(Key::Whole),
            "sum" => Self::Sum(Key::Whole),
            _ => match s.split_once(':') {
                Some(("json", f)) if !f.is_empty() => Self::Json(f.to_owned()),
                Some(("column", n)) => match n.parse::<usize>() {
                    Ok(n) if n > 0 => Self::Column(n),
                    _ => return Err(format!("column:{n}: N must be a number from 1")),
                },
                Some(("regex", r)) => {
                    regex::Regex::new(r).map_err(|e| format!("regex:{r}: {e}"))?;
                    Self::Regex(r.to_owned())
                }
                Some(("jq", filter)) => Self::Jq(CheckPath::parse(filter)?),
                Some(("count_by", k)) => Self::CountBy(Key::parse(k)?),
                Some(("most_frequent", k)) => Self::MostFrequent(Key::parse(k)?),
                Some(("sum", k)) => Self::Sum(Key::parse(k)?),
                Some(("index_of", t)) if !t.is_empty() => Self::IndexOf(t.to_owned()),
                _ => {
                    return Err(format!(
                        "unknown reader {s:?} (text, number, count, lines, first, last, json:FIELD, column:N, regex:PATTERN, jq:FILTER, count_by[:KEY], most_frequent[:KEY], sum[:KEY], index_of:TEXT)"
                    ));
                }
            },
        })
    }
}

impl Reader {
    /// Reads the answer from `result`; `Err` says why nothing could be read.
    pub fn read(&self, result: &str) -> Result<Value, String> {
        let lines = || {
            result
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| Value::String(l.to_owned()))
        };
        match self {
            Self::Text => Ok(Value::String(result.to_owned())),
            Self::Number => first_number(result)
                .map(number)
                .ok_or_else(|| "no number in the result".to_owned()),
            Self::Count => Ok(match leading_json(result) {
                Some(Value::Array(items)) => Value::from(items.len()),
                _ => Value::from(lines().count()),
            }),
            Self::Lines => Ok(Value::Array(lines().collect())),
            Self::Json(field) => {
                let parsed = leading_json(result).ok_or("result is not JSON")?;
                let items = match parsed {
                    Value::Array(items) => items,
                    other => vec![other],
                };
                Ok(Value::Array(
                    items.iter().filter_map(|i| i.get(field).cloned()).collect(),
                ))
            }
            Self::Column(n) => Ok(Value::Array(
                result
                    .lines()
                    .filter_map(|l| l.split_whitespace().nth(n - 1))
                    .map(|c| Value::String(c.to_owned()))
                    .collect(),
            )),
            Self::First
            | Self::Last
            | Self::CountBy(_)
            | Self::MostFrequent(_)
            | Self::Sum(_)
            | Self::IndexOf(_) => self.read_items(result),
            Self::Jq(path) => path.eval(&leading_json(result).ok_or("result is not JSON")?),
            Self::Regex(pattern) => {
                let re = regex::Regex::new(pattern).map_err(|e| e.to_string())?;
                Ok(Value::Array(
                    re.captures_iter(result)
                        .filter_map(|c| c.get(1).or_else(|| c.get(0)))
                        .map(|m| Value::String(m.as_str().to_owned()))
                        .collect(),
                ))
            }
        }
    }
}

impl Reader {
    /// The readers over a result's items (see [`items`]).
    fn read_items(&self, result: &str) -> Result<Value, String> {
        match self {
            Self::First => items(result)?
                .into_iter()
                .next()
                .ok_or_else(|| "the result has no items".to_owned()),
            Self::Last => items(result)?
                .pop()
                .ok_or_else(|| "the result has no items".to_owned()),
            Self::CountBy(key) => Ok(Value::Object(
                tally(key, result)?
                    .into_iter()
                    .map(|(k, n)| (k, Value::from(n)))
                    .collect(),
            )),
            Self::MostFrequent(key) => {
                let counts = tally(key, result)?;
                let top = counts
                    .values()
                    .copied()
                    .max()
                    .ok_or("the result has no items")?;
                Ok(Value::Array(
                    counts
                        .into_iter()
                        .filter(|(_, n)| *n == top)
                        .map(|(k, _)| Value::String(k))
                        .collect(),
                ))
            }
            Self::Sum(key) => {
                let mut total = 0.0;
                for item in items(result)? {
                    let k = key.of(&item)?;
                    total += first_number(&k).ok_or_else(|| format!("no number in {k:?}"))?;
                }
                Ok(number(total))
            }
            Self::IndexOf(text) => items(result)?
                .iter()
                .position(|i| to_text(i).contains(text.as_str()))
                .map(|i| Value::from(i + 1))
                .ok_or_else(|| format!("no item contains {text:?}")),
            _ => Err("not an item reader".into()),
        }
    }
}

/// The JSON value a result starts with (tools may append a line such as "... 3 more").
fn leading_json(text: &str) -> Option<Value> {
    serde_json::Deserializer::from_str(text.trim_start())
        .into_iter::<Value>()
        .next()
        .and_then(Result::ok)
}

/// What a generic reader counts, sums or picks from a result: the elements of a JSON array
/// (an object alone is one item), else the non-empty lines, trimmed. Text is taken as JSON only
/// when it starts with `[` or `{`, so a column of numbers stays a list of lines.
fn items(result: &str) -> Result<Vec<Value>, String> {
    let trimmed = result.trim_start();
    if trimmed.starts_with(['[', '{']) {
        return match leading_json(trimmed) {
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Ok(vec![other]),
            None => Err("the result starts like JSON but does not parse".into()),
        };
    }
    Ok(result
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| Value::String(l.to_owned()))
        .collect())
}

/// Items per key, keys in order.
fn tally(key: &Key, result: &str) -> Result<std::collections::BTreeMap<String, u64>, String> {
    let mut counts = std::collections::BTreeMap::new();
    for item in items(result)? {
        *counts.entry(key.of(&item)?).or_insert(0) += 1;
    }
    Ok(counts)
}

/// What a counting reader groups items by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// The item itself, as text.
    Whole,
    /// `N`: the N-th (1-based) whitespace-separated column of a line.
    Column(usize),
    /// `.path`: a jq filter on a JSON item giving one value (`.author.login`).
    Path(CheckPath),
}

impl Key {
    fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Ok(Self::Whole);
        }
        if let Ok(n) = text.parse::<usize>() {
            return if n > 0 {
                Ok(Self::Column(n))
            } else {
                Err("a column key counts from 1".into())
            };
        }
        if text.starts_with('.') {
            return CheckPath::parse(text).map(Self::Path);
        }
        Err(format!(
            "key {text:?}: a column number or a jq path starting with ."
        ))
    }

    /// The key of one item, as text.
    fn of(&self, item: &Value) -> Result<String, String> {
        match self {
            Self::Whole => Ok(to_text(item)),
            Self::Column(n) => to_text(item)
                .split_whitespace()
                .nth(n - 1)
                .map(str::to_owned)
                .ok_or_else(|| format!("no column {n} in {:?}", to_text(item))),
            Self::Path(path) => path.eval(item).map(|v| to_text(&v)),
        }
    }
}

pub(crate) fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        Value::from(x as i64)
    } else {
        Value::from(x)
    }
}

/// The first decimal number in `text` (an optional minus, digits, an optional fraction).
pub fn first_number(text: &str) -> Option<f64> {
    let re = regex::Regex::new(r"-?\d+(\.\d+)?").ok()?;
    re.find(text).and_then(|m| m.as_str().parse().ok())
}

/// One value or a list of them, in TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn items(&self) -> Vec<&str> {
        match self {
            Self::One(s) => vec![s.as_str()],
            Self::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// What a value must be. Every condition given must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The text, trimmed, equals this (trimmed).
    pub exact: Option<String>,
    /// JSON equality (strings compared trimmed, numbers numerically).
    pub equals: Option<Value>,
    /// The text contains each of these; for a list, each is one of its items.
    pub contains: Option<OneOrMany>,
    /// The text contains none of these; for a list, none is one of its items.
    pub not_contains: Option<OneOrMany>,
    /// The text matches this regex.
    pub regex: Option<String>,
    /// The value is this number (a string's first number, a list's length).
    pub number: Option<f64>,
    /// The list's items, as text, are exactly these (order and repeats ignored).
    pub set: Option<Vec<Value>>,
}

impl Expect {
    /// Checks that at least one condition is given and that a regex compiles.
    pub fn validate(&self) -> Result<(), String> {
        let given = [
            self.exact.is_some(),
            self.equals.is_some(),
            self.contains.is_some(),
            self.not_contains.is_some(),
            self.regex.is_some(),
            self.number.is_some(),
            self.set.is_some(),
        ];
        if !given.contains(&true) {
            return Err(
                "needs one of exact, equals, contains, not_contains, regex, number, set".into(),
            );
        }
        if let Some(r) = &self.regex {
            regex::Regex::new(r).map_err(|e| format!("regex {r:?}: {e}"))?;
        }
        Ok(())
    }

    /// The final answer a model writes for this expectation, the same on every arm: the
    /// expected items, number or text (a regex alone gives nothing to write).
    pub fn canonical_answer(&self) -> String {
        if let Some(e) = &self.exact {
            return e.trim().to_owned();
        }
        if let Some(set) = &self.set {
            return set.iter().map(to_text).collect::<Vec<_>>().join(", ");
        }
        if let Some(n) = self.number {
            return to_text(&number(n));
        }
        if let Some(c) = &self.contains {
            return c.items().join(", ");
        }
        if let Some(e) = &self.equals {
            return to_text(e);
        }
        String::new()
    }

    /// `Ok` when `value` meets every condition, else the first mismatch, described.
    pub fn eval(&self, value: &Value) -> Result<(), String> {
        let text = to_text(value);
        let shown = abbreviate(&text, SHOWN);
        if let Some(e) = &self.exact
            && text.trim() != e.trim()
        {
            return Err(format!("expected exactly {e:?}, got {shown:?}"));
        }
        if let Some(e) = &self.equals
            && !json_equal(value, e)
        {
            return Err(format!("expected {e}, got {shown:?}"));
        }
        if let Some(c) = &self.contains {
            for item in c.items() {
                if !holds(value, &text, item) {
                    return Err(format!("expected {item:?} in {shown:?}"));
                }
            }
        }
        if let Some(c) = &self.not_contains {
            for item in c.items() {
                if holds(value, &text, item) {
                    return Err(format!("did not expect {item:?} in {shown:?}"));
                }
            }
        }
        if let Some(r) = &self.regex {
            let re = regex::Regex::new(r).map_err(|e| e.to_string())?;
            if !re.is_match(&text) {
                return Err(format!("expected a match of /{r}/ in {shown:?}"));
            }
        }
        if let Some(n) = self.number {
            let got = match value {
                Value::Number(x) => x.as_f64(),
                Value::String(s) => first_number(s),
                Value::Array(items) => Some(items.len() as f64),
                _ => None,
            };
            if got != Some(n) {
                return Err(format!("expected the number {n}, got {shown:?}"));
            }
        }
        if let Some(set) = &self.set {
            let want: BTreeSet<String> = set.iter().map(to_text).collect();
            let got: BTreeSet<String> = match value {
                Value::Array(items) => items.iter().map(to_text).collect(),
                _ => text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
            };
            if want != got {
                return Err(format!("expected the set {want:?}, got {got:?}"));
            }
        }
        Ok(())
    }
}

fn holds(value: &Value, text: &str, item: &str) -> bool {
    match value {
        Value::Array(items) => items.iter().any(|i| to_text(i) == item),
        _ => text.contains(item),
    }
}

fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.trim() == y.trim(),
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q))
        }
        _ => a == b,
    }
}

/// A value as text: strings as they are, lists one item per line, the rest as JSON.
pub fn to_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(to_text).collect::<Vec<_>>().join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Longest answer quoted in a check's failure message.
const SHOWN: usize = 300;

/// `text` cut to at most `max` bytes on a character boundary, with `...` when cut.
pub(crate) fn abbreviate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(reader: &str, text: &str) -> Value {
        reader.parse::<Reader>().unwrap().read(text).unwrap()
    }

    #[test]
    fn readers() {
        assert_eq!(read("text", "a\n"), json!("a\n"));
        assert_eq!(read("number", "total: 12 issues"), json!(12));
        assert_eq!(read("count", "[1,2,3]"), json!(3));
        assert_eq!(read("count", "a\n\nb\n"), json!(2));
        assert_eq!(read("lines", " a \n\nb\n"), json!(["a", "b"]));
        assert_eq!(
            read("json:number", r#"[{"number":3},{"number":7},{"x":1}]"#),
            json!([3, 7])
        );
        assert_eq!(read("json:title", r#"{"title":"t"}"#), json!(["t"]));
        assert_eq!(
            read("column:2", "1\tOPEN\tx\n2 CLOSED y\n"),
            json!(["OPEN", "CLOSED"])
        );
        assert_eq!(read("regex:#(\\d+)", "#3 and #14"), json!(["3", "14"]));
        assert_eq!(read("first", "[3, 7]\n... 1 more\n"), json!(3));
        assert_eq!(read("last", "a\n b \n\n"), json!("b"));
        // A column of numbers is lines, not a JSON number followed by text.
        assert_eq!(read("first", "12\n5\n"), json!("12"));
        assert_eq!(
            read("count_by", "src/a.rs\nsrc/b.rs\nsrc/a.rs\n"),
            json!({"src/a.rs": 2, "src/b.rs": 1})
        );
        assert_eq!(
            read(
                "most_frequent:.author.login",
                r#"[{"author":{"login":"bob"}},{"author":{"login":"al"}},{"author":{"login":"bob"}}]"#
            ),
            json!(["bob"])
        );
        // A tie gives every key that ties.
        assert_eq!(read("most_frequent:2", "1 x\n2 y\n"), json!(["x", "y"]));
        assert_eq!(read("sum:1", " 3 a\n 4 b\n"), json!(7));
        assert_eq!(read("sum:.n", r#"[{"n":1.5},{"n":2}]"#), json!(3.5));
        assert_eq!(read("index_of:gear", "crank\nsprocket\ngear\n"), json!(3));
        assert!(
            "index_of:zzz"
                .parse::<Reader>()
                .unwrap()
                .read("a\n")
                .is_err()
        );
        assert!("sum".parse::<Reader>().unwrap().read("a\n").is_err());
        assert!("first".parse::<Reader>().unwrap().read("\n").is_err());
        assert!("count_by:0".parse::<Reader>().is_err());
        assert!("count_by:x".parse::<Reader>().is_err());
        assert_eq!(
            read(
                "count",
                "[{\"a\":1},{\"a\":2}]\n... at least 5 more; pass skip=2\n"
            ),
            json!(2)
        );
        assert_eq!(
            read(
                "jq:[.[] | select(.state == \"open\") | .number]",
                "[{\"number\":3,\"state\":\"open\"},{\"number\":4,\"state\":\"closed\"}]\n... 1 more\n"
            ),
            json!([3])
        );
        assert!("jq:.[".parse::<Reader>().is_err());
        assert!("jq:.".parse::<Reader>().unwrap().read("plain").is_err());
        assert!("pick:a:b:c".parse::<Reader>().is_err());
        assert!("column:0".parse::<Reader>().is_err());
        assert!("bogus".parse::<Reader>().is_err());
        assert!(Reader::Number.read("none").is_err());
        assert!(Reader::Json("a".into()).read("not json").is_err());
    }

    fn expect(toml_text: &str) -> Expect {
        toml::from_str(toml_text).unwrap()
    }

    fn check(e: &str, value: Value, ok: bool) {
        let got = expect(e).eval(&value);
        assert_eq!(got.is_ok(), ok, "{e} on {value}: {got:?}");
    }

    #[test]
    fn expectations() {
        check("exact = 'Alice'", json!("Alice\n"), true);
        check("exact = 'Alice'", json!("Alice Liddell"), false);
        check("contains = 'Lid'", json!("Alice Liddell"), true);
        check("contains = ['Alice', 'Bob']", json!("Alice Liddell"), false);
        check("contains = '3'", json!(["3", "14"]), true);
        check("contains = '1'", json!(["3", "14"]), false);
        check("not_contains = 'Bob'", json!("Alice"), true);
        check("not_contains = 'Ali'", json!("Alice"), false);
        check("regex = '^A.*l$'", json!("Alice Liddell"), true);
        check("regex = '^B'", json!("Alice"), false);
        check("number = 7", json!(7), true);
        check("number = 7", json!("7\n"), true);
        check("number = 7", json!(8), false);
        check("number = 2", json!(["a", "b"]), true);
        check("set = [3, 7]", json!([7, 3, 3]), true);
        check("set = [3, 7]", json!("7\n3\n"), true);
        check("set = [3, 7]", json!([3]), false);
        check("equals = 'widgets'", json!("widgets"), true);
        check("equals = 2", json!(2.0), true);
        check("equals = ['a', 'b']", json!(["a", "b"]), true);
        check("equals = true", json!(false), false);
        check("contains = 'x'\nnumber = 1", json!("x 1"), true);
        check("contains = 'x'\nnumber = 2", json!("x 1"), false);
        assert_eq!(expect("set = [3, 7]").canonical_answer(), "3, 7");
        assert_eq!(expect("number = 58").canonical_answer(), "58");
        assert_eq!(expect("contains = ['a', 'b']").canonical_answer(), "a, b");
        assert!(expect("").validate().is_err());
        assert!(expect("regex = '('").validate().is_err());
    }
}
