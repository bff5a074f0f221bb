//! Task files: one TOML file per task (format in `harness/README.md`). A task names a prompt, a
//! fixture, one step list per interface (`cli`, `mcp`, `peer.NAME`, or any other list an arm
//! asks for) and a check of the answer and of the end state.
//!
//! The default tasks are embedded at build time (`build.rs`), so the binary runs anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::check::{CheckPath, Expect, Reader};

/// Errors while loading tasks.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: {source}")]
    Parse {
        file: String,
        source: Box<toml::de::Error>,
    },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    #[error("no task files (*.toml) in {0}")]
    Empty(PathBuf),
}

/// One task, validated.
#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    pub category: String,
    pub prompt: String,
    pub fixture: Fixture,
    /// Step lists by name: `cli`, `mcp`, `peer.mcp-server-git`, ...
    pub lists: BTreeMap<String, StepList>,
    pub check: Check,
    /// File it came from (for messages).
    pub file: String,
}

/// The state a task starts from: the forge seed plus a working clone.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// Forge seed; must match the run's `--seed` (default: the run's).
    pub seed: Option<String>,
    /// Branch checked out in the clone (default `main`).
    pub branch: Option<String>,
    /// Uncommitted edits in the clone, as an editor tool would have left them.
    #[serde(default, rename = "edit")]
    pub edits: Vec<Edit>,
    /// git commands run in the clone after the edits, in order, with pinned dates: extra
    /// branches, tags, stashes, commits (`"stash push -m wip -- docs/guide.md"`).
    #[serde(default)]
    pub git: Vec<String>,
    /// Changes to the forge's state made before the steps, through its REST API, identically
    /// for every arm (close or label an issue, open a pull request, comment, move a branch).
    #[serde(default, rename = "forge")]
    pub forge_changes: Vec<ForgeChange>,
}

/// One REST request to the attempt's forge before the steps run; it must succeed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgeChange {
    /// The forge user making it (default alice).
    #[serde(rename = "as")]
    pub login: Option<String>,
    /// `POST`, `PATCH`, `PUT` or `DELETE`.
    pub method: String,
    /// REST path (`/repos/acme/widgets/issues/3`).
    pub api: String,
    /// JSON body.
    pub body: Option<Value>,
}

/// One file edit applied to the clone before the steps run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    /// Path relative to the clone's root.
    pub path: String,
    /// Replace the file's contents with this.
    pub write: Option<String>,
    /// Append this to the file.
    pub append: Option<String>,
    /// Delete the file (a deletion left in the worktree).
    #[serde(default)]
    pub delete: bool,
    /// Stage the result (`git add`, or `git rm` of a deletion); unstaged by default. A new
    /// file left unstaged is untracked.
    #[serde(default)]
    pub stage: bool,
}

/// One interface's steps and how the final answer is read off the last result.
#[derive(Debug, Clone)]
pub struct StepList {
    pub steps: Vec<Step>,
    pub answer: Reader,
    /// The reader as written, when it reads earlier results (`{steps.N:READER}`): it is
    /// spliced and parsed at judging time, and `answer` is only a placeholder.
    pub answer_refs: Option<String>,
    /// The reader as written (`text` when none is given), for [`reader_leaks`].
    pub answer_written: String,
    /// 1-based steps whose results the answer is read from (default: the last); a model
    /// collecting items over a fan-out reads them all.
    pub answer_steps: Vec<usize>,
}

/// One round trip: a shell command line or a tool call.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Shell(String),
    Tool {
        tool: String,
        args: Map<String, Value>,
        /// Primitive operations the call performs (default 1; a pipeline tool's inner calls).
        ops: Option<u32>,
    },
}

impl Step {
    /// Every `{steps.N:READER}` of the step (see [`crate::check::reference`]).
    pub fn references(&self) -> Result<Vec<crate::check::reference::Reference>, String> {
        use crate::check::reference;
        match self {
            Self::Shell(line) => Ok(reference::find(line)?.into_iter().map(|(_, r)| r).collect()),
            Self::Tool { args, .. } => reference::in_value(&Value::Object(args.clone())),
        }
    }

    /// The step with its references replaced by what they read off `results` (the results of
    /// the steps run so far); `Err` says which one could not be read or read a value its
    /// result does not show.
    pub fn resolve(&self, results: &[&str]) -> Result<Self, String> {
        use crate::check::reference;
        Ok(match self {
            Self::Shell(line) => Self::Shell(reference::splice(line, results)?),
            Self::Tool { tool, args, ops } => Self::Tool {
                tool: tool.clone(),
                args: reference::resolve_args(args, results)?,
                ops: *ops,
            },
        })
    }
}

/// What must hold after the steps.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// The answer, as read off the final step's result by the step list's `answer` reader.
    pub answer: Option<Expect>,
    /// End-state checks, run in order.
    #[serde(default)]
    pub state: Vec<StateCheck>,
}

/// One end-state check: a git command's output in the clone, or a forge REST GET.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "toml::Table")]
pub struct StateCheck {
    /// Arguments of `git`, run with bash in the clone (`git = "log -1 --format=%s"`).
    pub git: Option<String>,
    /// A REST path GET at the forge as alice (`api = "/repos/acme/widgets/issues/51"`).
    pub api: Option<String>,
    /// Where in the JSON answer to look: a jq filter giving one value (`[.labels[].name]`,
    /// `.items | length`; older paths translated, see [`CheckPath`]); default `.`.
    pub path: Option<CheckPath>,
    /// The expectation (the remaining keys: `equals`, `contains`, ...).
    pub expect: Expect,
}

impl TryFrom<toml::Table> for StateCheck {
    type Error = String;

    // By hand because serde's `flatten` cannot be combined with `deny_unknown_fields`, and a
    // misspelt expectation key must be an error, not a check that always passes.
    fn try_from(mut table: toml::Table) -> Result<Self, String> {
        let mut text = |key: &str| match table.remove(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(format!("`{key}` must be a string, not {other}")),
        };
        let git = text("git")?;
        let api = text("api")?;
        let path = text("path")?.map(|p| CheckPath::parse(&p)).transpose()?;
        let expect: Expect = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| e.to_string())?;
        Ok(Self {
            git,
            api,
            path,
            expect,
        })
    }
}

// No `deny_unknown_fields` here: the flattened map takes every other table as a step list, so
// a misspelt key fails there instead ("expected struct RawToolList").
#[derive(Debug, Deserialize)]
struct RawTask {
    id: String,
    category: String,
    prompt: String,
    #[serde(default)]
    fixture: Fixture,
    check: Check,
    cli: Option<RawShellList>,
    #[serde(default)]
    peer: BTreeMap<String, RawToolList>,
    /// `mcp` and any other tool-call list (`mcp-lean`, ...), by table name.
    #[serde(flatten)]
    lists: BTreeMap<String, RawToolList>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShellList {
    steps: Vec<String>,
    answer: Option<String>,
    answer_steps: Option<Vec<usize>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToolList {
    steps: Vec<RawToolStep>,
    answer: Option<String>,
    answer_steps: Option<Vec<usize>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToolStep {
    tool: String,
    #[serde(default)]
    args: toml::Table,
    ops: Option<u32>,
}

/// The categories the README defines; a task must name one.
pub const CATEGORIES: [&str; 6] = [
    "git-read",
    "git-write",
    "github-read",
    "github-write",
    "compose",
    // The whole agent loop: push, pull requests, CI checks and logs, releases.
    "loop",
];

/// Parses one task file's text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Task, Error> {
    let raw: RawTask = toml::from_str(text).map_err(|e| Error::Parse {
        file: file.to_owned(),
        source: Box::new(e),
    })?;
    let invalid = |message: String| Error::Invalid {
        file: file.to_owned(),
        message,
    };
    validate_header(&raw).map_err(invalid)?;
    validate_check(&raw.check).map_err(invalid)?;
    validate_fixture(&raw.fixture).map_err(invalid)?;
    let lists = step_lists(raw.cli, raw.lists, raw.peer).map_err(invalid)?;
    Ok(Task {
        id: raw.id,
        category: raw.category,
        prompt: raw.prompt.trim().to_owned(),
        fixture: raw.fixture,
        lists,
        check: raw.check,
        file: file.to_owned(),
    })
}

/// The id is one word and the category one of [`CATEGORIES`].
fn validate_header(raw: &RawTask) -> Result<(), String> {
    if raw.id.trim().is_empty() || raw.id.chars().any(char::is_whitespace) {
        return Err(format!("id {:?} must be one non-empty word", raw.id));
    }
    if !CATEGORIES.contains(&raw.category.as_str()) {
        return Err(format!(
            "category {:?} is not one of {}",
            raw.category,
            CATEGORIES.join(", ")
        ));
    }
    Ok(())
}

/// The check judges something, and each state check is a git or an api check.
fn validate_check(check: &Check) -> Result<(), String> {
    if check.answer.is_none() && check.state.is_empty() {
        return Err("[check] needs an answer or at least one [[check.state]]".into());
    }
    if let Some(expect) = &check.answer {
        expect
            .validate()
            .map_err(|m| format!("[check.answer]: {m}"))?;
    }
    for (i, s) in check.state.iter().enumerate() {
        let n = i + 1;
        match (&s.git, &s.api) {
            (Some(_), None) if s.path.is_none() => {}
            (Some(_), None) => return Err(format!("state check {n}: `path` is for `api` checks")),
            (None, Some(api)) if api.starts_with('/') => {}
            (None, Some(api)) => {
                return Err(format!(
                    "state check {n}: api path {api:?} must start with /"
                ));
            }
            _ => return Err(format!("state check {n}: give exactly one of git, api")),
        }
        s.expect
            .validate()
            .map_err(|m| format!("state check {n}: {m}"))?;
    }
    Ok(())
}

/// Each edit writes, appends or deletes, inside the clone; each forge change is a write.
fn validate_fixture(fixture: &Fixture) -> Result<(), String> {
    for c in &fixture.forge_changes {
        if !["POST", "PATCH", "PUT", "DELETE"].contains(&c.method.as_str()) {
            return Err(format!(
                "fixture forge change {}: method {:?} is not POST, PATCH, PUT or DELETE",
                c.api, c.method
            ));
        }
        if !c.api.starts_with('/') {
            return Err(format!(
                "fixture forge change {:?} must start with /",
                c.api
            ));
        }
    }
    if let Some(g) = fixture.git.iter().find(|g| g.trim().is_empty()) {
        return Err(format!("fixture git command {g:?} is empty"));
    }
    for e in &fixture.edits {
        let given = [e.write.is_some(), e.append.is_some(), e.delete];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(format!(
                "fixture edit of {}: give exactly one of write, append, delete",
                e.path
            ));
        }
        if e.path.starts_with('/') || e.path.split('/').any(|c| c == "..") {
            return Err(format!("fixture edit path {:?} leaves the clone", e.path));
        }
    }
    Ok(())
}

/// The task's step lists by name: `cli`, every tool-call table, `peer.NAME`.
fn step_lists(
    cli: Option<RawShellList>,
    lists: BTreeMap<String, RawToolList>,
    peer: BTreeMap<String, RawToolList>,
) -> Result<BTreeMap<String, StepList>, String> {
    let mut out = BTreeMap::new();
    if let Some(cli) = cli {
        out.insert(
            "cli".to_owned(),
            shell_list(cli).map_err(|m| format!("[cli] {m}"))?,
        );
    }
    let tool_lists = lists
        .into_iter()
        .chain(peer.into_iter().map(|(k, v)| (format!("peer.{k}"), v)));
    for (name, list) in tool_lists {
        let list = tool_list(list).map_err(|m| format!("[{name}] {m}"))?;
        out.insert(name, list);
    }
    if out.is_empty() {
        return Err("no step lists ([cli], [mcp], [peer.NAME], ...)".into());
    }
    if let Some((name, _)) = out.iter().find(|(_, l)| l.steps.is_empty()) {
        return Err(format!("[{name}] has no steps"));
    }
    for (name, list) in &out {
        validate_references(&list.steps).map_err(|m| format!("[{name}] {m}"))?;
    }
    Ok(out)
}

/// Each step's references parse and name an earlier step.
fn validate_references(steps: &[Step]) -> Result<(), String> {
    for (i, step) in steps.iter().enumerate() {
        for r in step
            .references()
            .map_err(|m| format!("step {}: {m}", i + 1))?
        {
            if r.step > i {
                return Err(format!(
                    "step {} reads step {}; a step can read only earlier steps",
                    i + 1,
                    r.step
                ));
            }
        }
    }
    Ok(())
}

fn shell_list(cli: RawShellList) -> Result<StepList, String> {
    let (answer, answer_refs) = reader(cli.answer.as_deref(), cli.steps.len())?;
    if cli.steps.iter().any(|s| s.trim().is_empty()) {
        return Err("has an empty step".into());
    }
    let answer_steps = answer_steps(cli.answer_steps, cli.steps.len())?;
    Ok(StepList {
        steps: cli.steps.into_iter().map(Step::Shell).collect(),
        answer,
        answer_refs,
        answer_written: cli.answer.unwrap_or_else(|| "text".into()),
        answer_steps,
    })
}

fn tool_list(list: RawToolList) -> Result<StepList, String> {
    let (answer, answer_refs) = reader(list.answer.as_deref(), list.steps.len())?;
    let answer_steps = answer_steps(list.answer_steps, list.steps.len())?;
    let mut steps = Vec::new();
    for s in list.steps {
        let Ok(Value::Object(args)) = serde_json::to_value(&s.args) else {
            return Err(format!("{}: args must be a table", s.tool));
        };
        steps.push(Step::Tool {
            tool: s.tool,
            args,
            ops: s.ops,
        });
    }
    Ok(StepList {
        steps,
        answer,
        answer_refs,
        answer_written: list.answer.unwrap_or_else(|| "text".into()),
        answer_steps,
    })
}

fn answer_steps(given: Option<Vec<usize>>, len: usize) -> Result<Vec<usize>, String> {
    match given {
        None => Ok(vec![len]),
        Some(v) if v.is_empty() => Err("answer_steps is empty".into()),
        Some(v) => match v.iter().find(|&&i| i == 0 || i > len) {
            Some(i) => Err(format!("answer_steps names step {i}; steps are 1..={len}")),
            None => Ok(v),
        },
    }
}

/// The answer reader, and its text when it holds references (parsed once they are spliced).
fn reader(text: Option<&str>, len: usize) -> Result<(Reader, Option<String>), String> {
    let Some(t) = text else {
        return Ok((Reader::Text, None));
    };
    let refs = crate::check::reference::find(t).map_err(|e| format!("answer: {e}"))?;
    if refs.is_empty() {
        return Ok((t.parse().map_err(|e| format!("answer: {e}"))?, None));
    }
    if let Some((_, r)) = refs.iter().find(|(_, r)| r.step > len) {
        return Err(format!("answer reads step {}; steps are 1..={len}", r.step));
    }
    Ok((Reader::Text, Some(t.to_owned())))
}

/// Where a task's readers hold what they should read: one line per finding, empty when none.
///
/// A reader (a step list's `answer`, or a `{steps.N:READER}` in a step) is a reading any arm
/// applies to its results; the conclusion must come from the results, not from the task file.
/// Two rules: (1) no reader holds a value of `[check] answer` (a whole word of it, or, for
/// values of 4 characters or more, any occurrence); (2) every word of 3 letters or more in a
/// reader's literals (jq strings, regex patterns, `index_of` text) appears in the prompt, so a
/// reader may select by what the user asked for (`bob`, `Closes`) but not by what the model
/// would have had to work out (`alice|bob|carol`).
pub fn reader_leaks(task: &Task) -> Vec<String> {
    let answers = answer_values(&task.check);
    let prompt = task.prompt.to_lowercase();
    let mut findings = Vec::new();
    for (name, list) in &task.lists {
        let mut readers = vec![(String::from("answer"), list.answer_written.clone())];
        for (i, step) in list.steps.iter().enumerate() {
            for r in step.references().unwrap_or_default() {
                readers.push((format!("step {}", i + 1), r.written));
            }
        }
        for (r, _) in crate::check::reference::find(&list.answer_written).unwrap_or_default() {
            let text = &list.answer_written[r.start..r.end];
            readers.push((String::from("answer reference"), text.to_owned()));
        }
        for (place, reader) in readers {
            let lower = reader.to_lowercase();
            let words: BTreeSet<&str> = lower
                .split(|c: char| !(c.is_alphanumeric() || "_./-".contains(c)))
                .collect();
            for a in &answers {
                let a = a.to_lowercase();
                if words.contains(a.as_str()) || (a.chars().count() >= 4 && lower.contains(&a)) {
                    findings.push(format!(
                        "[{name}] {place}: reader {reader:?} holds the answer value {a:?}"
                    ));
                }
            }
            for word in literal_words(&reader) {
                if !prompt.contains(&word.to_lowercase()) {
                    findings.push(format!(
                        "[{name}] {place}: reader {reader:?} selects by {word:?}, which the prompt does not say"
                    ));
                }
            }
        }
    }
    findings
}

/// The expected answer's values, as text: what a reader must not contain.
fn answer_values(check: &Check) -> Vec<String> {
    let Some(e) = &check.answer else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut push = |v: &Value| match v {
        Value::Array(items) => out.extend(items.iter().map(crate::check::to_text)),
        other => out.push(crate::check::to_text(other)),
    };
    if let Some(x) = &e.exact {
        push(&Value::String(x.trim().to_owned()));
    }
    if let Some(x) = &e.equals {
        push(x);
    }
    if let Some(set) = &e.set {
        push(&Value::Array(set.clone()));
    }
    if let Some(n) = e.number {
        push(&serde_json::json!(n));
        if n.fract() == 0.0 {
            push(&Value::String(format!("{}", n as i64)));
        }
    }
    if let Some(c) = &e.contains {
        match c {
            crate::check::OneOrMany::One(x) => push(&Value::String(x.clone())),
            crate::check::OneOrMany::Many(v) => {
                v.iter().for_each(|x| push(&Value::String(x.clone())))
            }
        }
    }
    out.retain(|v| !v.trim().is_empty());
    out
}

/// Words of 3 letters or more in a reader's literal text: jq string literals, a regex pattern
/// (escapes such as `\d` and flags such as `(?m)` left out), `index_of` text.
fn literal_words(reader: &str) -> Vec<String> {
    let literal: String = match reader.split_once(':') {
        Some(("regex", re)) => {
            let flags = regex::Regex::new(r"\\[a-zA-Z]|\(\?[a-zA-Z]+\)").expect("a fixed pattern");
            flags.replace_all(re, " ").into_owned()
        }
        Some(("index_of", text)) => text.to_owned(),
        Some(_) => {
            let strings = regex::Regex::new(r#""((?:[^"\\]|\\.)*)""#).expect("a fixed pattern");
            strings
                .captures_iter(reader)
                .filter_map(|c| c.get(1))
                .map(|m| m.as_str().to_owned())
                .collect::<Vec<_>>()
                .join(" ")
        }
        None => String::new(),
    };
    literal
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_owned)
        .collect()
}

/// Checks a whole set: ids unique.
fn validate_set(tasks: &[Task]) -> Result<(), Error> {
    let mut seen = BTreeSet::new();
    for t in tasks {
        if !seen.insert(t.id.as_str()) {
            return Err(Error::Invalid {
                file: t.file.clone(),
                message: format!("duplicate task id {:?}", t.id),
            });
        }
    }
    Ok(())
}

/// Loads every `*.toml` in `dir`, sorted by file name.
pub fn load_dir(dir: &Path) -> Result<Vec<Task>, Error> {
    let io = |source| Error::Io {
        path: dir.to_owned(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::Empty(dir.to_owned()));
    }
    let mut tasks = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        tasks.push(parse(&path.display().to_string(), &text)?);
    }
    validate_set(&tasks)?;
    Ok(tasks)
}

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_tasks.rs"));
}

/// The tasks shipped in `harness/tasks/`, compiled into the binary.
pub fn embedded() -> Result<Vec<Task>, Error> {
    let tasks = embedded::TASKS
        .iter()
        .map(|(name, text)| parse(name, text))
        .collect::<Result<Vec<_>, _>>()?;
    validate_set(&tasks)?;
    Ok(tasks)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "demo"
category = "git-read"
prompt = "Who wrote the last commit?"

[fixture]
branch = "develop"
[[fixture.edit]]
path = "docs/guide.md"
append = "more\n"

[cli]
steps = ["git log -1 --format=%an"]

[mcp]
steps = [{ tool = "git_log", args = { max_count = 1, paths = ["a"] } }]
answer = "count"

[peer.mcp-server-git]
steps = [{ tool = "git_log", args = { repo_path = "{clone}" }, ops = 2 }]

[check]
answer = { contains = "Alice" }
[[check.state]]
api = "/repos/acme/widgets"
path = ".name"
equals = "widgets"
"#;

    #[test]
    fn parses_every_part() {
        let t = parse("demo.toml", GOOD).unwrap();
        assert_eq!(t.id, "demo");
        assert_eq!(t.fixture.branch.as_deref(), Some("develop"));
        assert_eq!(t.fixture.edits[0].append.as_deref(), Some("more\n"));
        let names: Vec<&str> = t.lists.keys().map(String::as_str).collect();
        assert_eq!(names, ["cli", "mcp", "peer.mcp-server-git"]);
        assert_eq!(
            t.lists["cli"].steps,
            [Step::Shell("git log -1 --format=%an".into())]
        );
        assert_eq!(t.lists["mcp"].answer, Reader::Count);
        match &t.lists["mcp"].steps[0] {
            Step::Tool { tool, args, ops } => {
                assert_eq!(tool, "git_log");
                assert_eq!(
                    Value::Object(args.clone()),
                    serde_json::json!({"max_count": 1, "paths": ["a"]})
                );
                assert_eq!(*ops, None);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            t.lists["peer.mcp-server-git"].steps[0],
            Step::Tool { ops: Some(2), .. }
        ));
        assert_eq!(
            t.check.state[0].path.as_ref().map(ToString::to_string),
            Some(".name".to_owned())
        );
    }

    fn check_error(text: &str, fragment: &str) {
        let e = parse("t.toml", text).unwrap_err().to_string();
        assert!(e.contains(fragment), "expected {fragment:?} in {e}");
    }

    #[test]
    fn rejects_bad_tasks() {
        let base = "id = \"x\"\ncategory = \"git-read\"\nprompt = \"p\"\n";
        let cli = "[cli]\nsteps = [\"git log\"]\n";
        check_error(&format!("{base}{cli}[check]\n"), "needs an answer");
        check_error(
            &format!("{base}{cli}[check]\nanswer = {{}}\n"),
            "needs one of",
        );
        check_error(
            &format!("{base}{cli}[check]\nanswer = {{ exact = \"a\" }}\n")
                .replace("git-read", "misc"),
            "category \"misc\"",
        );
        check_error(
            &format!("{base}[check]\nanswer = {{ exact = \"a\" }}\n"),
            "no step lists",
        );
        check_error(
            &format!("{base}{cli}[mcp]\nsteps = []\n[check]\nanswer = {{ exact = \"a\" }}\n"),
            "[mcp] has no steps",
        );
        check_error(
            &format!("{base}{cli}[check]\nanswer = {{ regex = \"(\" }}\n"),
            "regex",
        );
        check_error(
            &format!("{base}{cli}[check]\n[[check.state]]\napi = \"x\"\nequals = 1\n"),
            "must start with /",
        );
        check_error(
            &format!(
                "{base}{cli}[check]\n[[check.state]]\ngit = \"log\"\napi = \"/x\"\nequals = 1\n"
            ),
            "exactly one of git, api",
        );
        check_error(
            &format!("{base}{cli}answer = \"column:x\"\n[check]\nanswer = {{ exact = \"a\" }}\n"),
            "answer",
        );
        check_error(&format!("{base}{cli}[check]\nanswr = 1\n"), "unknown field");
        check_error(
            &format!(
                "{base}{cli}[check]\n[[check.state]]\napi = \"/x\"\npath = \".a | nosuch\"\nequals = 1\n"
            ),
            "undefined",
        );
        check_error(
            &format!(
                "{base}{cli}[[fixture.edit]]\npath = \"../x\"\nwrite = \"\"\n[check]\nanswer = {{ exact = \"a\" }}\n"
            ),
            "leaves the clone",
        );
        check_error(
            &format!(
                "{base}{cli}[[fixture.edit]]\npath = \"a\"\nwrite = \"\"\ndelete = true\n[check]\nanswer = {{ exact = \"a\" }}\n"
            ),
            "exactly one of write, append, delete",
        );
        check_error(
            &format!(
                "{base}{cli}[[fixture.forge]]\nmethod = \"GET\"\napi = \"/x\"\n[check]\nanswer = {{ exact = \"a\" }}\n"
            ),
            "is not POST",
        );
        check_error(
            &format!(
                "{base}{cli}[[fixture.forge]]\nmethod = \"POST\"\napi = \"/x\"\nbdy = 1\n[check]\nanswer = {{ exact = \"a\" }}\n"
            ),
            "unknown field",
        );
        check_error(
            &format!(
                "{base}[mcp]\nsteps = [{{ tool = \"a\", args = {{ n = \"{{steps.1:first}}\" }} }}]\n[check]\nanswer = {{ exact = \"a\" }}\n"
            ),
            "can read only earlier steps",
        );
    }

    /// Readers of the task files in `harness/tasks/` read; they do not hold the answer (see
    /// [`reader_leaks`]).
    #[test]
    fn no_reader_holds_an_answer() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tasks");
        let findings: Vec<String> = load_dir(&dir)
            .unwrap()
            .iter()
            .flat_map(|t| {
                reader_leaks(t)
                    .into_iter()
                    .map(move |f| format!("{}: {f}", t.id))
            })
            .collect();
        assert!(findings.is_empty(), "{}", findings.join("\n"));
    }

    #[test]
    fn leaking_readers_are_found() {
        let base = "id = \"x\"\ncategory = \"compose\"\nprompt = \"Which bugs are assigned to authors of open pull requests?\"\n";
        let check = |lists: &str, answer: &str, n: usize, fragment: &str| {
            let text = format!("{base}{lists}[check]\nanswer = {answer}\n");
            let t = parse("x.toml", &text).unwrap();
            let found = reader_leaks(&t);
            assert_eq!(found.len(), n, "{found:?}");
            assert!(found.iter().all(|f| f.contains(fragment)), "{found:?}");
        };
        // The authors a model would have read off step 1, written into the reader.
        check(
            "[mcp]\nsteps = [{ tool = \"a\" }]\nanswer = 'jq:map(select(.assignees | index(\"alice\"))) | map(.number)'\n",
            "{ set = [14, 28] }",
            1,
            "\"alice\", which the prompt",
        );
        check(
            "[cli]\nsteps = [\"x\"]\nanswer = 'jq:[.[] | select(.number == 14)]'\n",
            "{ set = [14, 28] }",
            1,
            "answer value \"14\"",
        );
        check(
            "[mcp]\nsteps = [{ tool = \"a\" }, { tool = \"b\", args = { f = '{steps.1:regex:(src/valve.rs)}' } }]\n",
            "{ contains = 'src/valve.rs' }",
            3,
            "step 2",
        );
        check(
            "[mcp]\nsteps = [{ tool = \"a\" }]\nanswer = 'index_of:gear'\n",
            "{ number = 3 }",
            1,
            "\"gear\"",
        );
        // Readings by field, position, prompt words and references are fine.
        check(
            "[mcp]\nsteps = [{ tool = \"a\" }, { tool = \"b\", args = { n = '{steps.1:jq:.[0].number}' } }]\nanswer = 'jq:map(select(.title | test(\"bugs\"; \"i\"))) | map(.number)'\n",
            "{ set = [14, 28] }",
            0,
            "",
        );
    }

    #[test]
    fn embedded_tasks_parse() {
        let tasks = embedded().unwrap();
        assert!(tasks.len() >= 24, "{} tasks", tasks.len());
        for category in CATEGORIES {
            assert!(
                tasks.iter().any(|t| t.category == category),
                "no {category} task"
            );
        }
        for t in &tasks {
            assert!(
                t.lists.contains_key("cli") && t.lists.contains_key("mcp"),
                "{}",
                t.id
            );
        }
    }
}
