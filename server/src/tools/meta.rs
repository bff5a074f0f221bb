//! The `gitgate` meta tool: the whole catalogue behind one small definition (lean mode), jq
//! filters over a tool's JSON, and short pipelines run server-side in one round trip.
//!
//! Why one tool: every token of `tools/list` is resent on every turn. Tools are named after the
//! git and gh commands a model already knows, with the CLIs' flag names as arguments, so the
//! definition only has to say how to call them; `help` gives signatures and schemas on demand.
//!
//! Every inner call goes through [`Services::call_audited`]: the same policy (scopes, grants,
//! rate limit, read-only) and its own audit event whose `parent` is the pipeline call's id.

use std::time::{Duration, Instant};

use rmcp::model::{ContentBlock, Tool};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{
    AuditTarget, Effect, ErrorCode, Handler, MetaCall, Services, ToolError, ToolSpec, Toolset,
    parse_args,
};
use crate::jq;
use crate::output::Output;
use crate::policy::ToolClass;

/// Most steps in one pipeline.
const MAX_STEPS: usize = 8;
/// Most tool calls one pipeline makes (fan-out included).
const MAX_CALLS: usize = 50;
/// Wall-clock budget of one pipeline.
const TIME_LIMIT: Duration = Duration::from_secs(30);
/// Longest answer, in bytes; past it the text is cut with a note.
const MAX_OUTPUT: usize = 32_000;
/// Most values one jq filter may produce.
const MAX_JQ_VALUES: usize = 1_000;

pub const NAME: &str = "gitgate";

const DESCRIPTION: &str = "Runs git_*/gh_* tools named after git and gh commands: keys tool, its flags, \
jq (filters the JSON); or steps [{tool,each,jq,...}] to chain calls. tool help lists tools.";

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
    }]
}

/// One call of the meta tool: a tool with its flags (and jq), or steps.
#[derive(Debug)]
struct MetaArgs {
    tool: Option<String>,
    args: Map<String, Value>,
    jq: Option<String>,
    steps: Vec<Step>,
}

#[derive(Debug, Clone)]
struct Step {
    tool: String,
    args: Map<String, Value>,
    /// jq over the previous step's result; one call per object it yields (fan-out).
    each: Option<String>,
    /// jq over this step's result.
    jq: Option<String>,
}

/// A JSON object of keys to values: the meta tool's own keys, or a tool's flags.
type Flags = Map<String, Value>;

/// The tool's flags sit beside `tool` (`{"tool": "gh_pr_list", "state": "open"}`: the short
/// form, fewer tokens per call) or inside `args` (the long form); both may be mixed, `args` last.
/// The keys this layer owns (`tool`, `args`, `jq`, `each`, `steps`) are no tool's flags.
fn split_flags(mut map: Map<String, Value>) -> Result<(Flags, Flags), ToolError> {
    let mut own = Map::new();
    for key in ["tool", "args", "jq", "each", "steps"] {
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
    pipeline(services, call, &steps)
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
        let schema = json!({
            "name": spec.tool.name,
            "description": spec.tool.description,
            "inputSchema": &*spec.tool.input_schema,
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
        .map(|s| signature(&s.tool))
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
pub(super) fn signature(tool: &Tool) -> String {
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
            if let Some(choices) = enum_of(p) {
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

/// Runs the steps in order; see the module docs.
fn pipeline(services: &Services, call: &MetaCall<'_>, steps: &[Step]) -> Result<Output, ToolError> {
    if steps.len() > MAX_STEPS {
        return Err(ToolError::new(format!(
            "a pipeline has at most {MAX_STEPS} steps"
        )));
    }
    let deadline = Instant::now() + TIME_LIMIT;
    let remaining = || deadline.saturating_duration_since(Instant::now());
    let mut calls = 0usize;
    let mut previous = Value::Null;
    // Every finished step's value, for `$steps` in later filters (joins across steps).
    let mut done: Vec<Value> = Vec::new();
    let mut text: Option<String> = None;
    let mut mores: Vec<String> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let at = |message: String| {
            if steps.len() == 1 {
                message
            } else {
                format!("step {} ({}): {message}", i + 1, step.tool)
            }
        };
        if step.tool == NAME || step.tool == "help" {
            return Err(ToolError::new(at(
                "a pipeline step must be a git_* or gh_* tool".into(),
            )));
        }
        let arg_sets: Vec<Map<String, Value>> = match &step.each {
            None => vec![step.args.clone()],
            Some(filter) => services
                .jq
                .run(
                    call.ctx.caller.user(),
                    filter,
                    previous.clone(),
                    Value::Array(done.clone()),
                    MAX_CALLS + 1,
                    remaining(),
                )
                .map_err(|e| match e {
                    jq::JqError::TooManyValues(_) => ToolError::new(at(format!(
                        "a pipeline makes at most {MAX_CALLS} calls; narrow `each`"
                    ))),
                    e => jq_error(at(format!("each: {e}"))),
                })?
                .into_iter()
                .map(|v| match v {
                    Value::Object(extra) => {
                        let mut args = step.args.clone();
                        args.extend(extra);
                        Ok(args)
                    }
                    other => Err(ToolError::new(at(format!(
                        "each must yield argument objects like {{\"number\": 3}}, got {other}"
                    )))),
                })
                .collect::<Result<_, _>>()?,
        };
        if calls + arg_sets.len() > MAX_CALLS {
            return Err(ToolError::new(at(format!(
                "a pipeline makes at most {MAX_CALLS} calls; narrow `each`"
            ))));
        }
        // Only the last step's cut lists matter: earlier ones were consumed by later steps.
        mores.clear();
        let mut values = Vec::with_capacity(arg_sets.len());
        let mut texts = Vec::with_capacity(arg_sets.len());
        for args in arg_sets {
            if remaining().is_zero() {
                return Err(ToolError::with_code(
                    ErrorCode::Timeout,
                    at(format!(
                        "the pipeline ran out of its {} s",
                        TIME_LIMIT.as_secs()
                    )),
                ));
            }
            calls += 1;
            let (result, produced) = services.call_audited(
                call.runtime,
                call.ctx,
                &step.tool,
                Some(args),
                Some(call.event_id),
            );
            let Some(produced) = produced else {
                let message = result
                    .content
                    .iter()
                    .find_map(|c| match c {
                        ContentBlock::Text(t) => Some(t.text.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                return Err(ToolError::with_code(ErrorCode::PipelineStep, at(message)));
            };
            if let Some(more) = produced.more {
                mores.push(more);
            }
            values.push(produced.value);
            texts.push(produced.text);
        }
        let mut value = if step.each.is_some() {
            Value::Array(values)
        } else {
            values.pop().unwrap_or(Value::Null)
        };
        text = match &step.jq {
            Some(filter) => {
                let mut out = services
                    .jq
                    .run(
                        call.ctx.caller.user(),
                        filter,
                        value,
                        Value::Array(done.clone()),
                        MAX_JQ_VALUES,
                        remaining(),
                    )
                    .map_err(|e| jq_error(at(e.to_string())))?;
                value = if out.len() == 1 {
                    out.pop().unwrap_or(Value::Null)
                } else {
                    Value::Array(out)
                };
                None
            }
            None => Some(texts.join("\n")),
        };
        done.push(value.clone());
        previous = value;
    }
    let mut answer = match text {
        // No filter at the end: the tool's own text, as a direct call would give.
        Some(t) => t,
        None => {
            let mut t = match &previous {
                Value::String(s) => s.clone(),
                // A list of plain values reads best, and costs least, one per line.
                Value::Array(items)
                    if items
                        .iter()
                        .all(|v| v.is_string() || v.is_number() || v.is_boolean()) =>
                {
                    items
                        .iter()
                        .map(|v| match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                }
                other => other.to_string(),
            };
            // A filtered list (or a count) of a cut list still says it was cut; one picked
            // string (`.[0].subject`) does not need to.
            mores.dedup();
            if previous.is_string() {
                mores.clear();
            }
            for more in &mores {
                t.push('\n');
                t.push_str(more);
            }
            t
        }
    };
    if answer.len() > MAX_OUTPUT {
        let mut cut = MAX_OUTPUT;
        while !answer.is_char_boundary(cut) {
            cut -= 1;
        }
        answer.truncate(cut);
        answer.push_str(&format!(
            "\n... output cut at {MAX_OUTPUT} bytes; narrow it with jq or limit"
        ));
    }
    Ok(plain(answer, previous))
}

fn jq_error(message: String) -> ToolError {
    ToolError::with_code(ErrorCode::Jq, message)
}

fn plain(text: String, data: Value) -> Output {
    Output {
        text,
        data,
        fields: &[],
        more: None,
    }
}
