//! The `gitgate` meta tool: the whole catalogue behind one small definition (lean mode), jq
//! filters over a tool's JSON, and short pipelines run server-side in one round trip.
//!
//! Why one tool: every token of `tools/list` is resent on every turn. Tools are named after the
//! git and gh commands a model already knows, with the CLIs' flag names as arguments, so the
//! definition only has to say how to call them; `help` gives signatures and schemas on demand.
//!
//! Every inner call goes through [`Services::call_audited`]: the same policy (scopes, grants,
//! rate limit, read-only) and its own audit event whose `parent` is the pipeline call's id.

use rmcp::model::Tool;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::pipeline::{self, Step};
use super::{
    AuditTarget, Effect, ErrorCode, Handler, MetaCall, Services, ToolError, ToolSpec, Toolset,
    parse_args,
};
use crate::output::Output;
use crate::policy::ToolClass;

pub const NAME: &str = "gitgate";

const DESCRIPTION: &str = "run: a git/gh command line, | jq grep head wc sort && ; (no shell). \
Or tool: a git_*/gh_* tool + flags, jq on its JSON; steps [{tool,each,jq}]. help lists tools.";

/// The meta tool's definition.
pub(super) fn specs() -> Vec<ToolSpec> {
    // Every token here is resent on every turn, so the schema says only "an object": the keys are
    // named in the description and checked when the call is parsed (an unknown flag gets an error
    // naming the valid ones).
    let mut schema = Map::new();
    schema.insert("type".into(), Value::String("object".into()));
    vec![ToolSpec {
        tool: Tool::new(NAME, DESCRIPTION, std::sync::Arc::new(schema)),
        effect: Effect::Write,
        class: ToolClass::META_READ,
        toolset: Toolset::Meta,
        handler: Handler::Meta(run),
        audit: AuditTarget::default(),
        escalation: None,
        json_fields: None,
    }]
}

/// One call of the meta tool: a tool with its flags (and jq), or steps.
#[derive(Debug)]
struct MetaArgs {
    tool: Option<String>,
    /// A command line (the run form).
    run: Option<String>,
    args: Map<String, Value>,
    jq: Option<String>,
    steps: Vec<Step>,
}

/// A JSON object of keys to values: the meta tool's own keys, or a tool's flags.
type Flags = Map<String, Value>;

/// The tool's flags sit beside `tool` (`{"tool": "gh_pr_list", "state": "open"}`: the short
/// form, fewer tokens per call) or inside `args` (the long form); both may be mixed, `args` last.
/// The keys this layer owns (`tool`, `args`, `jq`, `each`, `steps`) are no tool's flags.
fn split_flags(mut map: Map<String, Value>) -> Result<(Flags, Flags), ToolError> {
    let mut own = Map::new();
    for key in ["tool", "args", "jq", "each", "steps", "run"] {
        if let Some(v) = map.remove(key) {
            own.insert(key.into(), v);
        }
    }
    match own.remove("args") {
        None | Some(Value::Null) => {}
        Some(Value::Object(args)) => map.extend(args),
        Some(_) => return Err(ToolError::new("invalid arguments: args must be an object")),
    }
    Ok((own, map))
}

fn string_field(own: &mut Map<String, Value>, key: &str) -> Result<Option<String>, ToolError> {
    match own.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ToolError::new(format!(
            "invalid arguments: {key} must be a string"
        ))),
    }
}

fn parse_meta(map: Map<String, Value>) -> Result<MetaArgs, ToolError> {
    let (mut own, args) = split_flags(map)?;
    if own.contains_key("each") {
        return Err(ToolError::new("each belongs in a step of steps"));
    }
    let steps = match own.remove("steps") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(map) => parse_step(map).map_err(|e| {
                    ToolError::new(format!("step {}: {}", i + 1, e.message))
                }),
                _ => Err(ToolError::new(format!(
                    "step {}: a step is an object like {{\"tool\": \"gh_pr_list\", \"jq\": \"map(.number)\"}}",
                    i + 1
                ))),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(ToolError::new("invalid arguments: steps must be an array")),
    };
    Ok(MetaArgs {
        run: string_field(&mut own, "run")?,
        tool: string_field(&mut own, "tool")?,
        jq: string_field(&mut own, "jq")?,
        args,
        steps,
    })
}

fn parse_step(map: Map<String, Value>) -> Result<Step, ToolError> {
    let (mut own, args) = split_flags(map)?;
    if own.contains_key("steps") {
        return Err(ToolError::new("steps do not nest"));
    }
    if own.contains_key("run") {
        return Err(ToolError::new(
            "run is a whole call of its own, not a step: {\"run\": \"git log | head -n 3\"}",
        ));
    }
    Ok(Step {
        tool: string_field(&mut own, "tool")?.ok_or_else(|| ToolError::new("name its tool"))?,
        each: string_field(&mut own, "each")?,
        jq: string_field(&mut own, "jq")?,
        args,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HelpArgs {
    #[serde(default)]
    query: String,
    /// `name` in the short form (`tool` there is `help` itself).
    #[serde(alias = "name")]
    tool: Option<String>,
}

fn run(services: &Services, call: &MetaCall<'_>) -> Result<Output, ToolError> {
    let args = parse_meta(call.args.clone())?;
    if let Some(line) = &args.run {
        if args.tool.is_some()
            || !args.steps.is_empty()
            || args.jq.is_some()
            || !args.args.is_empty()
        {
            return Err(ToolError::new(
                "run takes a command line alone: {\"run\": \"git log --oneline -n 5\"}",
            ));
        }
        return super::run::run(services, call, line);
    }
    if args.tool.as_deref() == Some("help") {
        if !args.steps.is_empty() || args.jq.is_some() {
            return Err(ToolError::new(
                "help takes only query or name: {\"tool\": \"help\", \"query\": \"issue\"}",
            ));
        }
        return help(services, call, parse_args(args.args)?);
    }
    let steps = match (args.tool, args.steps.is_empty()) {
        (Some(tool), true) => vec![Step {
            tool,
            args: args.args,
            each: None,
            jq: args.jq,
        }],
        (None, false) if args.args.is_empty() && args.jq.is_none() => args.steps,
        (Some(_), false) | (None, false) => {
            return Err(ToolError::new(
                "give either tool (with its flags, jq) or steps, not both",
            ));
        }
        (None, true) => {
            return Err(ToolError::new(
                "name a tool (e.g. {\"tool\": \"git_log\", \"max_count\": 5}) or steps; \
                 {\"tool\": \"help\"} lists the tools",
            ));
        }
    };
    pipeline::run(services, call, &steps)
}

/// Signatures of the tools matching `query` (all when empty), or one tool's schema.
fn help(services: &Services, call: &MetaCall<'_>, args: HelpArgs) -> Result<Output, ToolError> {
    let principal = &call.ctx.caller.principal;
    let visible: Vec<&ToolSpec> = services
        .catalogue
        .specs()
        .iter()
        .filter(|s| s.toolset != Toolset::Meta && services.policy.visible(principal, s.class))
        .collect();
    if let Some(name) = args.tool {
        let spec = visible
            .iter()
            .find(|s| s.tool.name == name)
            .ok_or_else(|| unknown_tool(&name, &visible))?;
        let mut input = (*spec.tool.input_schema).clone();
        if let (Some(fields), Some(json)) = (
            spec.json_fields,
            input
                .get_mut("properties")
                .and_then(|p| p.get_mut("json"))
                .and_then(Value::as_object_mut),
        ) {
            json.insert(
                "description".into(),
                Value::String(format!(
                    "Fields, comma-separated (true: all): {}.",
                    fields.join(",")
                )),
            );
        }
        let schema = json!({
            "name": spec.tool.name,
            "description": spec.tool.description,
            "inputSchema": input,
        });
        return Ok(plain(schema.to_string(), schema));
    }
    let words: Vec<String> = args
        .query
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    let lines: Vec<String> = visible
        .iter()
        .filter(|s| {
            let hay = format!(
                "{} {}",
                s.tool.name,
                s.tool.description.as_deref().unwrap_or("")
            )
            .to_ascii_lowercase();
            words.iter().all(|w| hay.contains(w.as_str()))
        })
        .map(|s| signature(s))
        .collect();
    if lines.is_empty() {
        return Err(ToolError::new(format!(
            "no tool matches '{}'; {{\"tool\": \"help\"}} lists all",
            args.query
        )));
    }
    let text = lines.join("\n");
    Ok(plain(text.clone(), Value::String(text)))
}

fn unknown_tool(name: &str, visible: &[&ToolSpec]) -> ToolError {
    let names: Vec<&str> = visible.iter().map(|s| s.tool.name.as_ref()).collect();
    ToolError::with_code(
        ErrorCode::UnknownTool,
        format!("unknown tool '{name}'; tools: {}", names.join(", ")),
    )
}

/// `name(required*, choice=a|b, list[], other) description`: enough to call a tool whose
/// arguments are the CLI's flags; `help {tool}` gives the full schema.
pub(super) fn signature(spec: &ToolSpec) -> String {
    let tool = &spec.tool;
    let schema = &*tool.input_schema;
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut params: Vec<(bool, String)> = Vec::new();
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, p) in props {
            let is_required = required.contains(&name.as_str());
            let mut s = name.clone();
            if is_required {
                s.push('*');
            }
            let enum_of = |v: &Value| {
                v.get("enum").and_then(Value::as_array).map(|e| {
                    e.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("|")
                })
            };
            if let (Some(fields), "json") = (spec.json_fields, name.as_str()) {
                s.push('=');
                s.push_str(&fields.join(","));
            } else if let Some(choices) = enum_of(p) {
                s.push('=');
                s.push_str(&choices);
            } else if p.get("type").and_then(Value::as_str) == Some("array") {
                if let Some(choices) = p.get("items").and_then(enum_of) {
                    s.push_str("[]=");
                    s.push_str(&choices);
                } else {
                    s.push_str("[]");
                }
            }
            params.push((is_required, s));
        }
    }
    // Required first; the common `repo` and `json` last.
    params.sort_by_key(|(req, s)| (!req, s.starts_with("repo") || s.starts_with("json")));
    let params: Vec<String> = params.into_iter().map(|(_, s)| s).collect();
    format!(
        "{}({}) {}",
        tool.name,
        params.join(", "),
        tool.description.as_deref().unwrap_or("")
    )
}

pub(super) fn plain(text: String, data: Value) -> Output {
    Output {
        text,
        data,
        fields: &[],
        more: None,
    }
}
