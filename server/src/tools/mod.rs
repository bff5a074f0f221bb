//! The tool catalogue: definitions as MCP sees them, argument parsing, dispatch to a backend,
//! and the one place where backend errors become what the agent reads.

mod call;
mod coerce;
mod error;
mod git;
mod github;
mod github_ci;
mod github_releases;
mod meta;
mod output;
mod pipeline;
pub(crate) mod remote;
mod run;
mod schema;

pub use error::{ErrorCode, ToolError, error_result};
pub(crate) use error::{first_text, quote};
pub use output::render;
pub use schema::minimize;

use std::sync::Arc;

use rmcp::model::{Tool, ToolAnnotations};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::audit::Recorder;
use crate::git::Repos;
use crate::identity::Caller;
use crate::output::Output;
use crate::policy::Policy;

/// Everything a tool may touch: the configured backends.
#[derive(Debug)]
pub struct Backends {
    pub repos: Repos,
    /// The GitHub API, when the github toolset is on.
    pub github: Option<crate::github::Clients>,
    /// Branch globs no push may rewrite or delete; empty: each remote's default branch.
    pub protect: Vec<String>,
    /// The audit log, read back by `git_push --delete` to tell the caller's own branches
    /// (see `git::remote::ownership`); `None` with `--no-audit`.
    pub audit: Option<crate::audit::Log>,
}

/// A group of tools switched on or off together (`--toolsets git,github`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Toolset {
    Git,
    Github,
    /// CI on GitHub: pull request checks, workflow runs, their logs and re-runs.
    Actions,
    /// The `gitgate` tool: help over the catalogue, jq filters and server-side pipelines.
    Meta,
}

impl Toolset {
    pub const ALL: [Toolset; 4] = [
        Toolset::Git,
        Toolset::Github,
        Toolset::Actions,
        Toolset::Meta,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Toolset::Git => "git",
            Toolset::Github => "github",
            Toolset::Actions => "actions",
            Toolset::Meta => "meta",
        }
    }

    /// Parses `git`, `github`, `actions` or `meta`.
    pub fn parse(name: &str) -> Result<Toolset, String> {
        Toolset::ALL
            .into_iter()
            .find(|t| t.as_str() == name.trim())
            .ok_or_else(|| {
                format!("unknown toolset '{name}'; toolsets: git, github, actions, meta")
            })
    }
}

/// What a tool does to the world, for annotations and (later) policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Read,
    Write,
    /// A write that can lose data (e.g. discarding worktree changes).
    Destructive,
}

/// Runs a git tool: the repository is resolved, the arguments parsed; returns the backend's output.
type GitHandler = fn(&Backends, &Caller, GitCall) -> Result<Output, ToolError>;

/// A GitHub call in flight.
pub(crate) type GithubFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Output, ToolError>> + Send + 'a>>;

/// Runs a GitHub tool as `user` with the arguments (`repo` included).
type GithubHandler =
    for<'a> fn(&'a crate::github::Clients, &'a str, Map<String, Value>) -> GithubFuture<'a>;

/// Runs a meta tool, which may call other tools through `services` (each audited with `parent`
/// set to this call's event id).
type MetaHandler = fn(&Services, &MetaCall<'_>) -> Result<Output, ToolError>;

/// What a meta tool is given.
pub(crate) struct MetaCall<'a> {
    pub runtime: &'a tokio::runtime::Handle,
    pub ctx: &'a CallContext,
    /// This call's own audit event id: the parent of every call it makes.
    pub event_id: &'a str,
    pub args: Map<String, Value>,
}

/// How a tool runs: git in process (blocking), GitHub over the network (async), or a meta tool
/// over the others.
#[derive(Clone, Copy)]
enum Handler {
    Git(GitHandler),
    Github(GithubHandler),
    Meta(MetaHandler),
}

/// A git tool call after the common arguments were taken out.
#[derive(Debug)]
pub struct GitCall {
    pub repo: Option<String>,
    pub args: Map<String, Value>,
}

/// One tool: its MCP definition and its handler.
pub struct ToolSpec {
    pub tool: Tool,
    pub effect: Effect,
    /// What policy checks: the domain and whether it writes.
    pub class: crate::policy::ToolClass,
    pub toolset: Toolset,
    handler: Handler,
    /// Which arguments name what a call acts on, for its audit event.
    pub audit: AuditTarget,
    /// A flag that raises the class a call is judged as (`git_push` with `force: true` needs
    /// `git:force`, not only `git:push`).
    pub escalation: Option<Escalation>,
    /// The fields its `json` argument takes, for the `gitgate` tool's help and errors; the
    /// `tools/list` schema says only that `json` is a string (`--json a,b` as gh takes it).
    pub json_fields: Option<&'static [&'static str]>,
}

/// A boolean argument that, when `true`, makes policy judge the call as another class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escalation {
    pub flag: &'static str,
    pub class: crate::policy::ToolClass,
}

impl ToolSpec {
    /// The class a call with `args` is judged as.
    pub(crate) fn class_for(&self, args: &Map<String, Value>) -> crate::policy::ToolClass {
        match self.escalation {
            Some(e) if args.get(e.flag) == Some(&Value::Bool(true)) => e.class,
            _ => self.class,
        }
    }
}

/// Which of a tool's arguments name what its call acts on besides the repository (an issue or
/// pull request number, a revision or branch): declared by each tool, recorded in the call's
/// audit event as `target.issue` and `target.ref`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditTarget {
    pub number: Option<&'static str>,
    pub git_ref: Option<&'static str>,
}

impl ToolSpec {
    /// The argument holding the issue or pull request number the call acts on.
    pub(crate) fn audit_number(mut self, key: &'static str) -> Self {
        self.audit.number = Some(key);
        self
    }

    /// The argument holding the revision or branch the call acts on.
    pub(crate) fn audit_ref(mut self, key: &'static str) -> Self {
        self.audit.git_ref = Some(key);
        self
    }
}

impl std::fmt::Debug for ToolSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolSpec")
            .field("name", &self.tool.name)
            .finish()
    }
}

/// The whole catalogue, built once.
#[derive(Debug)]
pub struct Catalogue {
    specs: Vec<ToolSpec>,
    /// Lean mode: `tools/list` offers only the meta tool; the others stay callable through it
    /// (and directly, by name).
    lean: bool,
    /// The operator named the tools (`--tools`): each is one they want offered, so none waits
    /// behind the `gitgate` tool.
    named: bool,
}

impl Catalogue {
    /// Every tool gitgate offers.
    pub fn new() -> Self {
        let mut specs = git::specs();
        specs.extend(github::specs());
        specs.extend(github_ci::specs());
        specs.extend(github_releases::specs());
        specs.extend(remote::specs());
        specs.extend(meta::specs());
        Self {
            specs,
            lean: false,
            named: false,
        }
    }

    /// Lean mode: only the meta tool is listed.
    pub fn lean(mut self) -> Self {
        if !self.specs.iter().any(|s| s.toolset == Toolset::Meta) {
            self.specs.extend(meta::specs());
        }
        self.lean = true;
        self
    }

    pub fn is_lean(&self) -> bool {
        self.lean
    }

    /// The tools of the given toolsets, optionally only those named (`--tools`). An unknown
    /// tool name is an error naming the known ones, so a typo does not silently drop a tool.
    pub fn select(toolsets: &[Toolset], only: Option<&[String]>) -> Result<Self, String> {
        let all = Self::new();
        if let Some(names) = only {
            for name in names {
                if all.get(name).is_none() {
                    let known: Vec<_> = all.specs.iter().map(|s| s.tool.name.as_ref()).collect();
                    return Err(format!(
                        "unknown tool '{name}'; tools: {}",
                        known.join(", ")
                    ));
                }
            }
        }
        let specs = all
            .specs
            .into_iter()
            .filter(|s| toolsets.contains(&s.toolset))
            .filter(|s| only.is_none_or(|names| names.iter().any(|n| *n == s.tool.name)))
            .collect();
        Ok(Self {
            specs,
            lean: false,
            named: only.is_some(),
        })
    }

    /// Whether `tools/list` offers `spec`: in lean mode only the `gitgate` tool; else every
    /// tool but those of [`BEHIND_THE_GITGATE_TOOL`], and those too when the operator named the
    /// tools or no `gitgate` tool is there to reach them. Every tool stays callable by name.
    pub fn lists(&self, spec: &ToolSpec) -> bool {
        if self.lean {
            spec.toolset == Toolset::Meta
        } else {
            self.named
                || !BEHIND_THE_GITGATE_TOOL.contains(&spec.tool.name.as_ref())
                || !self.has_gitgate_tool()
        }
    }

    /// Whether the `gitgate` tool (the meta toolset) is offered, with its help over every tool.
    pub fn has_gitgate_tool(&self) -> bool {
        self.specs.iter().any(|s| s.toolset == Toolset::Meta)
    }

    /// The definitions `tools/list` offers, in catalogue order.
    pub fn tools(&self) -> Vec<Tool> {
        self.specs
            .iter()
            .filter(|s| self.lists(s))
            .map(|s| s.tool.clone())
            .collect()
    }

    pub fn get(&self, name: &str) -> Option<&ToolSpec> {
        self.specs.iter().find(|s| s.tool.name == name)
    }

    pub fn specs(&self) -> &[ToolSpec] {
        &self.specs
    }
}

impl Default for Catalogue {
    fn default() -> Self {
        Self::new()
    }
}

/// Who makes a call, and from where: recorded with it.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub caller: Caller,
    /// The MCP session (HTTP `Mcp-Session-Id`), if any.
    pub session: Option<String>,
    pub client: Option<crate::audit::ClientInfo>,
    /// What the call talks to while it runs: log messages, progress, cancellation (`notify`).
    pub scope: crate::notify::Scope,
    /// W3C Trace Context the client sent in the request's `_meta` (`traceparent`,
    /// `tracestate`), for the call's span (`telemetry`).
    pub trace: Option<(String, Option<String>)>,
}

/// What a call needs besides its arguments; shared by every session of a server.
#[derive(Debug, Clone)]
pub struct Services {
    pub backends: Arc<Backends>,
    pub catalogue: Arc<Catalogue>,
    pub policy: Arc<Policy>,
    /// `None` only with the development switch `--no-audit` (which requires `--no-auth`).
    pub recorder: Option<Recorder>,
    /// Where every jq filter of the `gitgate` tool runs.
    pub jq: Arc<crate::jq::Sandbox>,
}

impl Services {
    /// The tools `caller` could ever be allowed to call, in catalogue order.
    pub fn visible_tools(&self, caller: &Caller) -> Vec<Tool> {
        self.catalogue
            .specs()
            .iter()
            .filter(|s| self.catalogue.lists(s))
            .filter(|s| self.policy.visible(&caller.principal, s.class))
            .map(|s| s.tool.clone())
            .collect()
    }
}

/// Parses the tool-specific arguments, with serde's message (it names the unknown or missing field).
pub fn parse_args<T: DeserializeOwned>(args: Map<String, Value>) -> Result<T, ToolError> {
    serde_json::from_value(Value::Object(args))
        .map_err(|e| ToolError::new(format!("invalid arguments: {e}")))
}

/// The tools `tools/list` leaves out when the `gitgate` tool is on (the default), to keep the
/// whole list within its token budget (4,000 o200k tokens; issue 16): an agent reaches them
/// with the command line it knows (`{"run": "git stash pop"}`), through the `gitgate` tool's
/// `tool` form, or by calling them by name; its `help` lists them. Each is either a git
/// command an agent needs less often than the listed ones, or a GitHub read another listed
/// tool answers too (`gh_pr_commits`: `gh_pr_view` counts them and `gh_api pulls/N/commits`
/// lists them; `gh_file`: `gh_api contents/PATH` with `raw`; `gh_commits`: `gh_api commits`,
/// or `git_fetch` and `git_log`).
pub const BEHIND_THE_GITGATE_TOOL: [&str; 10] = [
    "git_merge_base",
    "git_rm",
    "git_mv",
    "git_tag",
    "git_stash",
    "git_reset",
    "git_delete_branch",
    "gh_pr_commits",
    "gh_file",
    "gh_commits",
];

/// Builds a tool definition from its argument type, adding the common `repo` and (for tools whose
/// output has records) `json` arguments, and minimising the schema to what an agent needs.
fn define<A: schemars::JsonSchema>(
    name: &'static str,
    description: &'static str,
    effect: Effect,
    json_fields: Option<&'static [&'static str]>,
) -> Tool {
    let schema = schemars::schema_for!(A);
    let mut schema = minimize(serde_json::to_value(schema).unwrap_or_default());
    // The argument type's own doc comment is for Rust readers; the tool description says it.
    if let Some(root) = schema.as_object_mut() {
        root.remove("description");
    }
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert("repo".into(), serde_json::json!({"type": "string"}));
        // gh's `--json a,b`: the field names cost tokens on every turn in tools/list, so they
        // are told by the gitgate tool's help and by the error an unknown or empty one gets.
        if json_fields.is_some() {
            props.insert("json".into(), serde_json::json!({"type": "string"}));
        }
    }
    let schema = match schema {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let annotations = match effect {
        Effect::Read => ToolAnnotations::new().read_only(true),
        Effect::Write => ToolAnnotations::new().destructive(false),
        Effect::Destructive => ToolAnnotations::new().destructive(true),
    };
    Tool::new(name, description, Arc::new(schema)).with_annotations(annotations)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed_names(catalogue: &Catalogue) -> Vec<String> {
        catalogue
            .tools()
            .iter()
            .map(|t| t.name.to_string())
            .collect()
    }

    /// With the gitgate tool there to reach them, the tools behind it are left out of
    /// tools/list but stay in the catalogue (callable by name); without it, or when the
    /// operator names one, they are listed.
    #[test]
    fn tools_behind_the_gitgate_tool_are_listed_only_when_nothing_else_reaches_them() {
        let all = Catalogue::new();
        for name in BEHIND_THE_GITGATE_TOOL {
            assert!(all.get(name).is_some(), "{name} is not a tool");
            assert!(!listed_names(&all).contains(&name.to_owned()), "{name}");
        }
        let without_meta =
            Catalogue::select(&[Toolset::Git, Toolset::Github, Toolset::Actions], None)
                .expect("toolsets");
        assert_eq!(
            listed_names(&without_meta).len(),
            without_meta.specs().len(),
            "without the gitgate tool every tool is listed"
        );
        let named = Catalogue::select(
            &[Toolset::Git, Toolset::Meta],
            Some(&[
                "git_stash".to_owned(),
                "git_status".to_owned(),
                "gitgate".to_owned(),
            ]),
        )
        .expect("tools");
        assert_eq!(listed_names(&named), ["git_status", "git_stash", "gitgate"]);
        let lean = Catalogue::new().lean();
        assert_eq!(listed_names(&lean), ["gitgate"]);
        assert!(lean.get("git_stash").is_some());
    }

    /// `json` is gh's `--json a,b` string in tools/list; the spec keeps its fields for help.
    #[test]
    fn json_is_a_string_and_its_fields_stay_with_the_spec() {
        let all = Catalogue::new();
        let spec = all.get("gh_pr_list").expect("gh_pr_list");
        assert_eq!(
            spec.tool.input_schema["properties"]["json"],
            serde_json::json!({"type": "string"})
        );
        assert!(spec.json_fields.is_some_and(|f| f.contains(&"headRefName")));
    }

    /// Every argument a tool declares as its audit target is one of its arguments, and every
    /// tool with a `number` argument records it.
    #[test]
    fn declared_audit_targets_are_arguments_of_their_tools() {
        for spec in Catalogue::new().specs() {
            let props = spec
                .tool
                .input_schema
                .get("properties")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            for key in [spec.audit.number, spec.audit.git_ref]
                .into_iter()
                .flatten()
            {
                assert!(props.contains_key(key), "{}: {key}", spec.tool.name);
            }
            if props.contains_key("number") {
                assert_eq!(spec.audit.number, Some("number"), "{}", spec.tool.name);
            }
        }
    }
}
