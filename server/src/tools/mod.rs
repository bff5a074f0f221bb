//! The tool catalogue: definitions as MCP sees them, argument parsing, dispatch to a backend,
//! and the one place where backend errors become what the agent reads.

mod git;
mod output;
mod schema;

pub use output::render;
pub use schema::minimize;

use std::sync::Arc;

use rmcp::model::{CallToolResult, Tool, ToolAnnotations};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::git::{Output, Repos};
use crate::identity::Caller;

/// Everything a tool may touch: the configured backends.
#[derive(Debug)]
pub struct Backends {
    pub repos: Repos,
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
    handler: GitHandler,
}

impl std::fmt::Debug for ToolSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolSpec")
            .field("name", &self.tool.name)
            .finish()
    }
}

/// An error as the agent sees it: one actionable line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ToolError {
    pub message: String,
}

impl ToolError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl From<crate::git::Error> for ToolError {
    fn from(e: crate::git::Error) -> Self {
        use crate::git::Error as E;
        let message = match e {
            // libgit2's own messages can carry absolute paths of the server machine; keep the
            // class and the gist only.
            E::Git(inner) => format!("git: {}", inner.message()),
            E::Open { name, .. } => format!("repository '{name}' cannot be opened on the server"),
            other => other.to_string(),
        };
        Self { message }
    }
}

/// The whole catalogue, built once.
#[derive(Debug)]
pub struct Catalogue {
    specs: Vec<ToolSpec>,
}

impl Catalogue {
    /// Every tool gitgate offers.
    pub fn new() -> Self {
        Self {
            specs: git::specs(),
        }
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

/// Runs one tool call to completion and returns the MCP result (errors as `isError` results).
///
/// Git work is blocking (libgit2), so it runs on the blocking pool.
pub async fn call(
    backends: Arc<Backends>,
    catalogue: Arc<Catalogue>,
    caller: Caller,
    name: &str,
    arguments: Option<Map<String, Value>>,
) -> CallToolResult {
    let Some(spec) = catalogue.get(name) else {
        return error_result(&ToolError::new(format!(
            "unknown tool '{name}'; call tools/list for the available tools"
        )));
    };
    let handler = spec.handler;
    let mut args = arguments.unwrap_or_default();
    let json = match take_json_fields(&mut args) {
        Ok(json) => json,
        Err(e) => return error_result(&e),
    };
    let repo = match args.remove("repo") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            return error_result(&ToolError::new("invalid arguments: repo must be a string"));
        }
    };
    let call = GitCall { repo, args };
    let joined = tokio::task::spawn_blocking(move || handler(&backends, &caller, call)).await;
    match joined {
        Ok(Ok(output)) => render(&output, json.as_deref()).unwrap_or_else(|e| error_result(&e)),
        Ok(Err(e)) => error_result(&e),
        Err(join) => {
            tracing::error!(tool = %name, error = %join, "tool task failed");
            error_result(&ToolError::new(
                "internal error while running the tool; retry or report it",
            ))
        }
    }
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

/// An `isError` result carrying one line.
pub fn error_result(e: &ToolError) -> CallToolResult {
    CallToolResult::error(vec![rmcp::model::ContentBlock::text(e.message.clone())])
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
