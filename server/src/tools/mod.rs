//! The tool catalogue: definitions as MCP sees them, argument parsing, dispatch to a backend,
//! and the one place where backend errors become what the agent reads.

mod coerce;
mod error;
mod git;
mod github;
mod meta;
mod output;
mod pipeline;
mod schema;

use error::bounded;
pub(crate) use error::quote;
pub use error::{ErrorCode, ToolError, error_result};
use output::projected;
pub use output::render;
pub use schema::minimize;

use std::sync::Arc;

use rmcp::model::{CallToolResult, Tool, ToolAnnotations};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use std::time::Instant;

use crate::audit::{AuditEvent, Decision as AuditDecision, Outcome, Recorder, new_event_id};
use crate::git::Repos;
use crate::identity::Caller;
use crate::output::Output;
use crate::policy::{Policy, Target};

/// Everything a tool may touch: the configured backends.
#[derive(Debug)]
pub struct Backends {
    pub repos: Repos,
    /// The GitHub API, when the github toolset is on.
    pub github: Option<crate::github::Clients>,
}

/// A group of tools switched on or off together (`--toolsets git,github`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Toolset {
    Git,
    Github,
    /// The `gitgate` tool: help over the catalogue, jq filters and server-side pipelines.
    Meta,
}

impl Toolset {
    pub const ALL: [Toolset; 3] = [Toolset::Git, Toolset::Github, Toolset::Meta];

    pub fn as_str(self) -> &'static str {
        match self {
            Toolset::Git => "git",
            Toolset::Github => "github",
            Toolset::Meta => "meta",
        }
    }

    /// Parses `git`, `github` or `meta`.
    pub fn parse(name: &str) -> Result<Toolset, String> {
        Toolset::ALL
            .into_iter()
            .find(|t| t.as_str() == name.trim())
            .ok_or_else(|| format!("unknown toolset '{name}'; toolsets: git, github, meta"))
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
}

impl Catalogue {
    /// Every tool gitgate offers.
    pub fn new() -> Self {
        let mut specs = git::specs();
        specs.extend(github::specs());
        specs.extend(meta::specs());
        Self { specs, lean: false }
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
        Ok(Self { specs, lean: false })
    }

    /// Definitions in `tools/list` order.
    pub fn tools(&self) -> Vec<Tool> {
        self.specs.iter().map(|s| s.tool.clone()).collect()
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
            .filter(|s| !self.catalogue.lean || s.toolset == Toolset::Meta)
            .filter(|s| self.policy.visible(&caller.principal, s.class))
            .map(|s| s.tool.clone())
            .collect()
    }

    /// Runs one tool call to completion and returns the MCP result (errors as `isError`
    /// results). Exactly one audit event is written for it, allowed, denied or failed, before
    /// the result is returned; if that write fails the agent is told so instead.
    ///
    /// Git work is blocking (libgit2), so the call runs on the blocking pool, and its audit
    /// event is appended from the same thread (no further hand-off on SQLite).
    pub async fn call(
        &self,
        ctx: &CallContext,
        name: &str,
        arguments: Option<Map<String, Value>>,
    ) -> CallToolResult {
        let this = self.clone();
        let ctx = ctx.clone();
        let tool = name.to_owned();
        let runtime = tokio::runtime::Handle::current();
        let joined = tokio::task::spawn_blocking(move || {
            this.call_blocking(&runtime, &ctx, &tool, arguments)
        })
        .await;
        joined.unwrap_or_else(|join| {
            tracing::error!(tool = %quote(name), error = %join, "tool task failed");
            error_result(&ToolError::with_code(
                ErrorCode::Internal,
                "internal error while running the tool; retry or report it",
            ))
        })
    }

    fn call_blocking(
        &self,
        runtime: &tokio::runtime::Handle,
        ctx: &CallContext,
        name: &str,
        arguments: Option<Map<String, Value>>,
    ) -> CallToolResult {
        self.call_audited(runtime, ctx, name, arguments, None).0
    }

    /// Runs one call and writes its audit event (with `parent`, the pipeline call it ran in);
    /// returns the result and, when the call succeeded, what it produced.
    pub(crate) fn call_audited(
        &self,
        runtime: &tokio::runtime::Handle,
        ctx: &CallContext,
        name: &str,
        arguments: Option<Map<String, Value>>,
        parent: Option<&str>,
    ) -> (CallToolResult, Option<Produced>) {
        let started = Instant::now();
        let event_id = new_event_id();
        // What the event keeps of the arguments, taken before the call consumes them: a
        // redacted copy with every string bounded (not a clone of a 3 MB argument, which
        // glibc would keep as resident memory), and their size as received.
        let raw = match &arguments {
            Some(given) => crate::audit::redact_object(given),
            None => Value::Object(Map::new()),
        };
        let bytes_in = arguments.as_ref().map_or(2, serialized_len);
        let ran = self.run(runtime, ctx, name, arguments, &event_id);
        let Some(recorder) = &self.recorder else {
            return (ran.result, ran.produced);
        };
        let mut event = AuditEvent::new(
            recorder.instance(),
            ctx.caller.user(),
            ctx.caller.auth,
            name,
            &raw,
            ran.decision,
            ran.outcome,
        );
        event.id = event_id;
        event.parent = parent.map(str::to_owned);
        event.session = ctx.session.clone();
        event.client = ctx.client.clone();
        event.target.repo = ran.target;
        let declared = self
            .catalogue
            .get(name)
            .map(|s| s.audit)
            .unwrap_or_default();
        event.target.issue = declared
            .number
            .and_then(|k| raw.get(k))
            .and_then(Value::as_u64);
        event.target.git_ref = declared
            .git_ref
            .and_then(|k| raw.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned);
        event.duration_ms = started.elapsed().as_secs_f64() * 1e3;
        event.bytes_in = bytes_in as u64;
        event.bytes_out = result_bytes(&ran.result);
        event.upstream_request_ids = ran.upstream_ids;
        let recorded = recorder
            .record_blocking(&event)
            .unwrap_or_else(|| runtime.block_on(recorder.record(&event)).map(drop));
        match recorded {
            Ok(_) => (ran.result, ran.produced),
            Err(e) => {
                tracing::error!(tool = %quote(name), user = %ctx.caller.user(), error = %crate::diagnostics::chain(&e), "audit write failed");
                let e = ToolError::with_code(
                    ErrorCode::AuditUnavailable,
                    "the audit log could not be written, so this call's result is withheld; \
                     it may have taken effect; retry later or ask an operator",
                );
                (error_result(&e), None)
            }
        }
    }

    fn run(
        &self,
        runtime: &tokio::runtime::Handle,
        ctx: &CallContext,
        name: &str,
        arguments: Option<Map<String, Value>>,
        event_id: &str,
    ) -> Ran {
        let Some(spec) = self.catalogue.get(name) else {
            // The names a model most likely meant, among those it may call, and where the rest
            // are listed: the gitgate tool's help in lean mode, tools/list otherwise.
            let names = self
                .catalogue
                .specs()
                .iter()
                .filter(|s| s.toolset != Toolset::Meta)
                .filter(|s| self.policy.visible(&ctx.caller.principal, s.class))
                .map(|s| s.tool.name.to_string());
            let near = crate::git::nearest(name, names, 3);
            let listed = if self.catalogue.is_lean() {
                r#"{"tool": "help"} lists them all"#
            } else {
                "tools/list lists them all"
            };
            let e = ToolError::with_code(
                ErrorCode::UnknownTool,
                format!(
                    "unknown tool '{}'; nearest: {}; {listed}",
                    quote(name),
                    near.join(", ")
                ),
            );
            let decision = AuditDecision {
                allowed: false,
                rule: "denied:unknown-tool".into(),
            };
            return Ran::failed(e, decision, None);
        };
        let mut args = arguments.unwrap_or_default();
        if let Handler::Meta(handler) = spec.handler {
            let verdict = self
                .policy
                .decide(&ctx.caller.principal, spec.class, Target::Nothing);
            let decision = AuditDecision {
                allowed: verdict.allowed,
                rule: verdict.rule.clone(),
            };
            if !verdict.allowed {
                let e = ToolError::with_code(
                    ErrorCode::Denied,
                    verdict.message(ctx.caller.user(), name),
                );
                return Ran::failed(e, decision, None);
            }
            let call = MetaCall {
                runtime,
                ctx,
                event_id,
                args,
            };
            return match handler(self, &call) {
                Ok(output) => Ran::ok(&output, None, decision, None),
                Err(e) => Ran::failed(e, decision, None),
            };
        }
        let (repo, readable) = match args.remove("repo") {
            None | Some(Value::Null) => (None, true),
            Some(Value::String(s)) => (Some(s), true),
            Some(_) => (None, false),
        };
        // The repository the call acts on: the one named, or the default (the only local one,
        // or the configured GitHub repository). A GitHub call with neither reaches every
        // repository (a search across GitHub); a git call with neither fails in the backend,
        // naming the configured repositories.
        let target = repo.clone().or_else(|| match spec.handler {
            Handler::Git(_) => self.backends.repos.single_name(),
            Handler::Github(_) => self
                .backends
                .github
                .as_ref()
                .and_then(|c| c.config().default_repo.clone()),
            Handler::Meta(_) => None,
        });
        let judged = match (&target, readable, spec.handler) {
            (_, false, _) => Target::Unreadable,
            (Some(repo), true, _) => Target::Repo(repo),
            (None, true, Handler::Github(_)) => Target::AllRepos,
            (None, true, _) => Target::Nothing,
        };
        let verdict = self
            .policy
            .decide(&ctx.caller.principal, spec.class, judged);
        let decision = AuditDecision {
            allowed: verdict.allowed,
            rule: verdict.rule.clone(),
        };
        if !verdict.allowed {
            let e =
                ToolError::with_code(ErrorCode::Denied, verdict.message(ctx.caller.user(), name));
            return Ran::failed(e, decision, target);
        }
        let json = match take_json_fields(&mut args) {
            Ok(json) => json,
            Err(e) => return Ran::failed(e, decision, target),
        };
        coerce::to_schema(&mut args, &spec.tool.input_schema);
        let mut upstream_ids = Vec::new();
        let output = match spec.handler {
            Handler::Git(handler) => handler(&self.backends, &ctx.caller, GitCall { repo, args }),
            Handler::Github(handler) => {
                match self.backends.github.as_ref() {
                    None => Err(ToolError::with_code(
                        ErrorCode::Unavailable,
                        "GitHub is not configured on this server",
                    )),
                    Some(clients) => {
                        if let Some(repo) = repo {
                            args.insert("repo".into(), Value::String(repo));
                        }
                        let (result, ids) = runtime.block_on(crate::github::with_request_ids(
                            handler(clients, ctx.caller.user(), args),
                        ));
                        upstream_ids = ids;
                        result
                    }
                }
            }
            Handler::Meta(_) => Err(ToolError::with_code(
                ErrorCode::Internal,
                "meta tool dispatched twice",
            )),
        };
        let mut ran = match output {
            Ok(output) => Ran::ok(&output, json.as_deref(), decision, target),
            Err(e) => Ran::failed(e, decision, target),
        };
        ran.upstream_ids = upstream_ids;
        ran
    }
}

/// What a successful call produced, for a pipeline's next step.
#[derive(Debug, Clone)]
pub(crate) struct Produced {
    /// The backend's JSON (projected onto `json` fields when given).
    pub value: Value,
    /// The text an agent would have read from a direct call.
    pub text: String,
    /// The "N more ..." line when a list was cut.
    pub more: Option<String>,
}

/// One call's result with what the audit event needs.
struct Ran {
    result: CallToolResult,
    produced: Option<Produced>,
    decision: AuditDecision,
    outcome: Outcome,
    target: Option<String>,
    /// GitHub request ids of the answers the call received.
    upstream_ids: Vec<String>,
}

impl Ran {
    fn failed(e: ToolError, decision: AuditDecision, target: Option<String>) -> Self {
        let e = ToolError {
            message: bounded(e.message),
            code: e.code,
        };
        Self {
            result: error_result(&e),
            produced: None,
            decision,
            outcome: Outcome {
                ok: false,
                code: Some(e.code.as_str().to_owned()),
                message: Some(e.message),
            },
            target,
            upstream_ids: Vec::new(),
        }
    }

    fn ok(
        output: &Output,
        json: Option<&[String]>,
        decision: AuditDecision,
        target: Option<String>,
    ) -> Self {
        match render(output, json) {
            Err(e) => Self::failed(e, decision, target),
            Ok(result) => Self {
                produced: Some(Produced {
                    value: projected(output, json),
                    // What the agent would read from a direct call: with `json`, the projection.
                    text: result
                        .content
                        .iter()
                        .find_map(|c| match c {
                            rmcp::model::ContentBlock::Text(t) => Some(t.text.clone()),
                            _ => None,
                        })
                        .unwrap_or_default(),
                    more: output.more.clone(),
                }),
                result,
                decision,
                outcome: Outcome {
                    ok: true,
                    code: None,
                    message: None,
                },
                target,
                upstream_ids: Vec::new(),
            },
        }
    }
}

/// Bytes of text and structured content in a result.
/// The length of `value` as compact JSON, counted without building the text.
fn serialized_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a `Value` into a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

fn result_bytes(result: &CallToolResult) -> u64 {
    let text: usize = result
        .content
        .iter()
        .map(|c| match c {
            rmcp::model::ContentBlock::Text(t) => t.text.len(),
            _ => 0,
        })
        .sum();
    let structured = result.structured_content.as_ref().map_or(0, serialized_len);
    (text + structured) as u64
}

fn take_json_fields(args: &mut Map<String, Value>) -> Result<Option<Vec<String>>, ToolError> {
    match args.remove("json") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(ToolError::new(
                    "invalid arguments: json must be a list of field names",
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        // gh's own form: `--json number,title`.
        Some(Value::String(s)) => Ok(Some(
            s.split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect(),
        )),
        Some(_) => Err(ToolError::new(
            "invalid arguments: json must be a list of field names",
        )),
    }
}

/// Parses the tool-specific arguments, with serde's message (it names the unknown or missing field).
pub fn parse_args<T: DeserializeOwned>(args: Map<String, Value>) -> Result<T, ToolError> {
    serde_json::from_value(Value::Object(args))
        .map_err(|e| ToolError::new(format!("invalid arguments: {e}")))
}

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
        if let Some(fields) = json_fields {
            props.insert(
                "json".into(),
                serde_json::json!({"type": "array", "items": {"enum": fields}}),
            );
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
