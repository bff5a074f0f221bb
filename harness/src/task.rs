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
}

/// One interface's steps and how the final answer is read off the last result.
#[derive(Debug, Clone)]
pub struct StepList {
    pub steps: Vec<Step>,
    pub answer: Reader,
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

/// Each edit writes or appends, inside the clone.
fn validate_fixture(fixture: &Fixture) -> Result<(), String> {
    for e in &fixture.edits {
        if e.write.is_some() == e.append.is_some() {
            return Err(format!(
                "fixture edit of {}: give exactly one of write, append",
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
    Ok(out)
}

fn shell_list(cli: RawShellList) -> Result<StepList, String> {
    let answer = reader(cli.answer.as_deref())?;
    if cli.steps.iter().any(|s| s.trim().is_empty()) {
        return Err("has an empty step".into());
    }
    let answer_steps = answer_steps(cli.answer_steps, cli.steps.len())?;
    Ok(StepList {
        steps: cli.steps.into_iter().map(Step::Shell).collect(),
        answer,
        answer_steps,
    })
}

fn tool_list(list: RawToolList) -> Result<StepList, String> {
    let answer = reader(list.answer.as_deref())?;
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

fn reader(text: Option<&str>) -> Result<Reader, String> {
    match text {
        None => Ok(Reader::Text),
        Some(t) => t.parse().map_err(|e| format!("answer: {e}")),
    }
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
