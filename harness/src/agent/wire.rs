//! The two wire formats a model is reached through: the Anthropic Messages API and the OpenAI
//! Chat Completions API (which OpenAI-compatible local servers, vLLM, llama.cpp and Ollama,
//! speak too). A conversation is kept in one neutral form ([`Message`]) and rendered into a
//! request body per provider; a response, whole JSON or a server-sent event stream, is parsed
//! back into one [`Reply`].
//!
//! What a provider answers is hostile input: every parser here refuses instead of panicking,
//! and bounds what it keeps ([`MAX_CALLS`], [`MAX_TEXT`]).

use serde_json::{Map, Value, json};

pub use crate::agent_model::Usage;

/// Tool calls kept from one reply; more is a model gone wrong, and each costs a tool run.
pub const MAX_CALLS: usize = 64;

/// Bytes of text or of one call's arguments kept from one reply (1 MiB: far above any
/// real answer, below what would slow the token accounting down).
pub const MAX_TEXT: usize = 1 << 20;

/// Which API a model is reached through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Anthropic,
    #[serde(rename = "openai")]
    OpenAi,
}

impl Provider {
    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Anthropic => "anthropic",
            Self::OpenAi => "openai",
        }
    }

    /// The API's public base URL.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Self::Anthropic => "https://api.anthropic.com",
            Self::OpenAi => "https://api.openai.com/v1",
        }
    }

    /// The environment variable the API key is read from (and only from).
    pub fn key_variable(self) -> &'static str {
        match self {
            Self::Anthropic => "ANTHROPIC_API_KEY",
            Self::OpenAi => "OPENAI_API_KEY",
        }
    }

    /// The endpoint under `base`.
    pub fn endpoint(self, base: &str) -> String {
        let base = base.trim_end_matches('/');
        match self {
            Self::Anthropic => format!("{base}/v1/messages"),
            Self::OpenAi => format!("{base}/chat/completions"),
        }
    }
}

impl std::str::FromStr for Provider {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "anthropic" => Ok(Self::Anthropic),
            "openai" => Ok(Self::OpenAi),
            other => Err(format!("unknown provider {other:?} (anthropic, openai)")),
        }
    }
}

/// Why a response could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("the response is not JSON: {0}")]
    NotJson(String),
    #[error("the response has no {0}")]
    Missing(&'static str),
    #[error("the provider reported an error: {0}")]
    Provider(String),
    #[error("the reply has more than {MAX_CALLS} tool calls")]
    TooManyCalls,
}

/// A tool the model is given.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDef {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments.
    pub schema: Value,
}

/// A tool call as the model wrote it. `arguments` is kept as the raw text, since a model can
/// write arguments that are not JSON, and that is an error to report back, not to repair.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// What a tool gave back for one call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    pub id: String,
    pub content: String,
    pub is_error: bool,
}

/// One message of the conversation, provider-neutral.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    User(String),
    Assistant { text: String, calls: Vec<ToolCall> },
    Results(Vec<ToolResult>),
}

/// One model turn, parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reply {
    pub text: String,
    pub calls: Vec<ToolCall>,
    pub usage: Usage,
    /// The provider's stop or finish reason.
    pub stop: String,
}

/// What a request asks for, apart from the conversation.
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    pub model: &'a str,
    pub system: &'a str,
    pub tools: &'a [ToolDef],
    pub max_output: u64,
    pub stream: bool,
    /// OpenAI format: name the output limit `max_tokens`, as OpenAI-compatible local servers
    /// read it, instead of OpenAI's current `max_completion_tokens`.
    pub legacy_max_tokens: bool,
}

/// The request body for `provider`.
pub fn request(provider: Provider, ask: &Ask<'_>, messages: &[Message]) -> Value {
    match provider {
        Provider::Anthropic => anthropic_request(ask, messages),
        Provider::OpenAi => openai_request(ask, messages),
    }
}

fn anthropic_request(ask: &Ask<'_>, messages: &[Message]) -> Value {
    let tools: Vec<Value> = ask
        .tools
        .iter()
        .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.schema}))
        .collect();
    let messages: Vec<Value> = messages
        .iter()
        .map(|m| match m {
            Message::User(text) => json!({"role": "user", "content": text}),
            Message::Assistant { text, calls } => {
                let mut content = Vec::new();
                if !text.is_empty() {
                    content.push(json!({"type": "text", "text": text}));
                }
                for c in calls {
                    // The API takes only an object here; arguments that were not one were
                    // answered with an error result, which is what the model needs to see.
                    let input = match serde_json::from_str::<Value>(&c.arguments) {
                        Ok(v @ Value::Object(_)) => v,
                        _ => Value::Object(Map::new()),
                    };
                    content.push(
                        json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}),
                    );
                }
                json!({"role": "assistant", "content": content})
            }
            Message::Results(results) => {
                let content: Vec<Value> = results
                    .iter()
                    .map(|r| {
                        json!({"type": "tool_result", "tool_use_id": r.id, "content": r.content, "is_error": r.is_error})
                    })
                    .collect();
                json!({"role": "user", "content": content})
            }
        })
        .collect();
    json!({
        "model": ask.model,
        "max_tokens": ask.max_output,
        // A cache breakpoint after the system prompt caches the tool definitions and the
        // prompt across turns, as agent frameworks set it (OpenAI caches without asking).
        "system": [{"type": "text", "text": ask.system, "cache_control": {"type": "ephemeral"}}],
        "tools": tools,
        "messages": messages,
        "stream": ask.stream,
    })
}

fn openai_request(ask: &Ask<'_>, messages: &[Message]) -> Value {
    let tools: Vec<Value> = ask
        .tools
        .iter()
        .map(|t| {
            json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.schema}})
        })
        .collect();
    let mut out = vec![json!({"role": "system", "content": ask.system})];
    for m in messages {
        match m {
            Message::User(text) => out.push(json!({"role": "user", "content": text})),
            Message::Assistant { text, calls } => {
                let mut msg = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { Value::String(text.clone()) }});
                if !calls.is_empty() {
                    msg["tool_calls"] = calls
                        .iter()
                        .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                        .collect();
                }
                out.push(msg);
            }
            Message::Results(results) => {
                for r in results {
                    out.push(json!({"role": "tool", "tool_call_id": r.id, "content": r.content}));
                }
            }
        }
    }
    let mut body = json!({
        "model": ask.model,
        "messages": out,
        "tools": tools,
        "stream": ask.stream,
    });
    let limit = if ask.legacy_max_tokens {
        "max_tokens"
    } else {
        "max_completion_tokens"
    };
    body[limit] = json!(ask.max_output);
    if ask.stream {
        // Without it a stream carries no usage at all.
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

/// Parses a response body: JSON, or with `stream` a server-sent event stream.
pub fn parse(provider: Provider, stream: bool, body: &str) -> Result<Reply, Error> {
    // A server that does not stream (some local ones ignore `stream`, and errors come whole)
    // answers a streamed request with one JSON body; no event stream starts with `{`.
    let stream = stream && !body.trim_start().starts_with('{');
    let reply = match (provider, stream) {
        (Provider::Anthropic, false) => anthropic_json(&json_of(body)?)?,
        (Provider::OpenAi, false) => openai_json(&json_of(body)?)?,
        (Provider::Anthropic, true) => anthropic_stream(&events(body)?)?,
        (Provider::OpenAi, true) => openai_stream(&events(body)?)?,
    };
    if reply.calls.len() > MAX_CALLS {
        return Err(Error::TooManyCalls);
    }
    Ok(reply)
}

fn json_of(text: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|e| Error::NotJson(e.to_string()))
}

fn u(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn s(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// `text` cut to [`MAX_TEXT`] bytes at a character boundary.
fn bounded(mut text: String) -> String {
    if text.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

fn push_bounded(into: &mut String, more: &str) {
    if into.len() < MAX_TEXT {
        into.push_str(more);
    }
}

fn anthropic_usage(v: &Value) -> Usage {
    Usage {
        input: u(v, "input_tokens"),
        output: u(v, "output_tokens"),
        cache_read: u(v, "cache_read_input_tokens"),
        cache_write: u(v, "cache_creation_input_tokens"),
    }
}

fn openai_usage(v: &Value) -> Usage {
    let cached = v
        .get("prompt_tokens_details")
        .map(|d| u(d, "cached_tokens"))
        .unwrap_or(0);
    Usage {
        input: u(v, "prompt_tokens").saturating_sub(cached),
        output: u(v, "completion_tokens"),
        cache_read: cached,
        cache_write: 0,
    }
}

fn provider_error(v: &Value) -> Option<Error> {
    let e = v.get("error")?;
    if e.is_null() {
        return None;
    }
    let message = e
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| e.to_string());
    Some(Error::Provider(bounded(message)))
}

fn anthropic_json(v: &Value) -> Result<Reply, Error> {
    if let Some(e) = provider_error(v) {
        return Err(e);
    }
    let content = v
        .get("content")
        .and_then(Value::as_array)
        .ok_or(Error::Missing("content"))?;
    let mut reply = Reply {
        usage: v.get("usage").map(anthropic_usage).unwrap_or_default(),
        stop: s(v, "stop_reason"),
        ..Reply::default()
    };
    for block in content.iter().take(MAX_CALLS * 2 + 1) {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => push_bounded(&mut reply.text, &s(block, "text")),
            Some("tool_use") => reply.calls.push(ToolCall {
                id: s(block, "id"),
                name: s(block, "name"),
                arguments: bounded(block.get("input").map(Value::to_string).unwrap_or_default()),
            }),
            _ => {}
        }
    }
    Ok(reply)
}

fn openai_json(v: &Value) -> Result<Reply, Error> {
    if let Some(e) = provider_error(v) {
        return Err(e);
    }
    let choice = v
        .get("choices")
        .and_then(|c| c.get(0))
        .ok_or(Error::Missing("choices"))?;
    let message = choice.get("message").ok_or(Error::Missing("message"))?;
    let mut reply = Reply {
        text: bounded(s(message, "content")),
        usage: v.get("usage").map(openai_usage).unwrap_or_default(),
        stop: s(choice, "finish_reason"),
        ..Reply::default()
    };
    if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
        for c in calls.iter().take(MAX_CALLS + 1) {
            let f = c.get("function").cloned().unwrap_or(Value::Null);
            // Arguments are a string on the wire; some local servers send an object.
            let arguments = match f.get("arguments") {
                Some(Value::String(a)) => a.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            reply.calls.push(ToolCall {
                id: s(c, "id"),
                name: s(&f, "name"),
                arguments: bounded(arguments),
            });
        }
    }
    Ok(reply)
}

/// The `data` payloads of a server-sent event stream (with its `event` name, if any), in
/// order; `[DONE]` ends it.
fn events(body: &str) -> Result<Vec<(String, Value)>, Error> {
    let mut out = Vec::new();
    let mut name = String::new();
    let mut data = String::new();
    let mut flush = |name: &mut String, data: &mut String| -> Result<bool, Error> {
        if data.is_empty() {
            name.clear();
            return Ok(true);
        }
        if data.trim() == "[DONE]" {
            return Ok(false);
        }
        let v = serde_json::from_str(data).map_err(|e| Error::NotJson(format!("event: {e}")))?;
        out.push((std::mem::take(name), v));
        data.clear();
        Ok(true)
    };
    for line in body.lines() {
        if line.is_empty() {
            if !flush(&mut name, &mut data)? {
                return Ok(out);
            }
        } else if let Some(rest) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(rest.strip_prefix(' ').unwrap_or(rest));
        } else if let Some(rest) = line.strip_prefix("event:") {
            rest.trim().clone_into(&mut name);
        }
        // `id:`, `retry:` and `:` comments carry nothing a reply needs.
    }
    flush(&mut name, &mut data)?;
    Ok(out)
}

fn anthropic_stream(events: &[(String, Value)]) -> Result<Reply, Error> {
    let mut reply = Reply::default();
    // Content blocks by index: Some(call index) for a tool_use block.
    let mut blocks: Vec<Option<usize>> = Vec::new();
    let mut started = false;
    for (_, e) in events {
        match e.get("type").and_then(Value::as_str) {
            Some("error") => return Err(provider_error(e).unwrap_or(Error::Missing("error"))),
            Some("message_start") => {
                started = true;
                if let Some(usage) = e.get("message").and_then(|m| m.get("usage")) {
                    reply.usage = anthropic_usage(usage);
                }
            }
            Some("content_block_start") => block_start(e, &mut reply, &mut blocks)?,
            Some("content_block_delta") => {
                let delta = e.get("delta").cloned().unwrap_or(Value::Null);
                let index = u(e, "index") as usize;
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => push_bounded(&mut reply.text, &s(&delta, "text")),
                    Some("input_json_delta") => {
                        if let Some(Some(call)) = blocks.get(index)
                            && let Some(c) = reply.calls.get_mut(*call)
                        {
                            push_bounded(&mut c.arguments, &s(&delta, "partial_json"));
                        }
                    }
                    _ => {}
                }
            }
            Some("message_delta") => {
                if let Some(stop) = e.get("delta").and_then(|d| d.get("stop_reason")) {
                    reply.stop = stop.as_str().unwrap_or_default().to_owned();
                }
                if let Some(usage) = e.get("usage") {
                    // The final count; input figures repeat here on newer API versions.
                    reply.usage.output = u(usage, "output_tokens");
                    for (key, slot) in [
                        ("input_tokens", &mut reply.usage.input),
                        ("cache_read_input_tokens", &mut reply.usage.cache_read),
                        ("cache_creation_input_tokens", &mut reply.usage.cache_write),
                    ] {
                        if let Some(n) = usage.get(key).and_then(Value::as_u64) {
                            *slot = n;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if !started {
        return Err(Error::Missing("message_start event"));
    }
    // A tool call whose input streamed as nothing is an empty object.
    for c in &mut reply.calls {
        if c.arguments.is_empty() {
            c.arguments.push_str("{}");
        }
    }
    Ok(reply)
}

/// A content block starting: text is appended, a tool call opened (its index noted in
/// `blocks` so input deltas find it).
fn block_start(e: &Value, reply: &mut Reply, blocks: &mut Vec<Option<usize>>) -> Result<(), Error> {
    let block = e.get("content_block").cloned().unwrap_or(Value::Null);
    let index = u(e, "index") as usize;
    if index > MAX_CALLS * 2 + 1 {
        return Err(Error::TooManyCalls);
    }
    if blocks.len() <= index {
        blocks.resize(index + 1, None);
    }
    match block.get("type").and_then(Value::as_str) {
        Some("tool_use") => {
            if reply.calls.len() >= MAX_CALLS {
                return Err(Error::TooManyCalls);
            }
            blocks[index] = Some(reply.calls.len());
            reply.calls.push(ToolCall {
                id: s(&block, "id"),
                name: s(&block, "name"),
                arguments: String::new(),
            });
        }
        Some("text") => push_bounded(&mut reply.text, &s(&block, "text")),
        _ => {}
    }
    Ok(())
}

fn openai_stream(events: &[(String, Value)]) -> Result<Reply, Error> {
    let mut reply = Reply::default();
    let mut any = false;
    // Calls by the stream's own index.
    let mut by_index: Vec<(u64, usize)> = Vec::new();
    for (_, e) in events {
        if let Some(err) = provider_error(e) {
            return Err(err);
        }
        if let Some(usage) = e.get("usage").filter(|u| u.is_object()) {
            reply.usage = openai_usage(usage);
        }
        let Some(choice) = e.get("choices").and_then(|c| c.get(0)) else {
            continue;
        };
        any = true;
        if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
            f.clone_into(&mut reply.stop);
        }
        let Some(delta) = choice.get("delta") else {
            continue;
        };
        if let Some(t) = delta.get("content").and_then(Value::as_str) {
            push_bounded(&mut reply.text, t);
        }
        for c in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = u(c, "index");
            let slot = match by_index.iter().find(|(i, _)| *i == index) {
                Some((_, slot)) => *slot,
                None => {
                    if reply.calls.len() >= MAX_CALLS {
                        return Err(Error::TooManyCalls);
                    }
                    by_index.push((index, reply.calls.len()));
                    reply.calls.push(ToolCall {
                        id: String::new(),
                        name: String::new(),
                        arguments: String::new(),
                    });
                    reply.calls.len() - 1
                }
            };
            let call = &mut reply.calls[slot];
            if let Some(id) = c.get("id").and_then(Value::as_str) {
                id.clone_into(&mut call.id);
            }
            if let Some(f) = c.get("function") {
                if let Some(n) = f.get("name").and_then(Value::as_str) {
                    push_bounded(&mut call.name, n);
                }
                if let Some(a) = f.get("arguments").and_then(Value::as_str) {
                    push_bounded(&mut call.arguments, a);
                }
            }
        }
    }
    if !any {
        return Err(Error::Missing("choices"));
    }
    Ok(reply)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn check(provider: Provider, stream: bool, body: &str, expected: Result<Reply, Error>) {
        assert_eq!(parse(provider, stream, body), expected, "{body}");
    }

    fn call(id: &str, name: &str, arguments: &str) -> ToolCall {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }

    #[test]
    fn agent_wire_parses_whole_and_streamed_replies() {
        let usage = Usage {
            input: 10,
            output: 5,
            cache_read: 2,
            cache_write: 1,
        };
        let want = Reply {
            text: "Let me look.".into(),
            calls: vec![call("t1", "bash", r#"{"command":"ls"}"#)],
            usage,
            stop: "tool_use".into(),
        };
        check(
            Provider::Anthropic,
            false,
            r#"{"content":[{"type":"text","text":"Let me look."},{"type":"tool_use","id":"t1","name":"bash","input":{"command":"ls"}}],"stop_reason":"tool_use","usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":2,"cache_creation_input_tokens":1}}"#,
            Ok(want.clone()),
        );
        check(
            Provider::Anthropic,
            true,
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":10,\"output_tokens\":1,\"cache_read_input_tokens\":2,\"cache_creation_input_tokens\":1}}}\n\n\
             event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
             data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Let me \"}}\n\n\
             data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"look.\"}}\n\n\
             : keep-alive\n\n\
             data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"bash\",\"input\":{}}}\n\n\
             data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"command\\\":\"}}\n\n\
             data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"ls\\\"}\"}}\n\n\
             data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":5}}\n\n\
             data: {\"type\":\"message_stop\"}\n\n",
            Ok(want.clone()),
        );
        let openai = Reply {
            usage: Usage {
                input: 8,
                output: 5,
                cache_read: 2,
                cache_write: 0,
            },
            stop: "tool_calls".into(),
            ..want
        };
        check(
            Provider::OpenAi,
            false,
            r#"{"choices":[{"message":{"content":"Let me look.","tool_calls":[{"id":"t1","type":"function","function":{"name":"bash","arguments":"{\"command\":\"ls\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":2}}}"#,
            Ok(openai.clone()),
        );
        check(
            Provider::OpenAi,
            true,
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Let me \"}}]}\n\n\
             data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"look.\",\"tool_calls\":[{\"index\":0,\"id\":\"t1\",\"function\":{\"name\":\"bash\",\"arguments\":\"{\\\"comm\"}}]}}]}\n\n\
             data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"and\\\":\\\"ls\\\"}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n\
             data: {\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"prompt_tokens_details\":{\"cached_tokens\":2}}}\n\n\
             data: [DONE]\n\n",
            Ok(openai),
        );
    }

    #[test]
    fn agent_wire_refuses_what_is_not_a_reply() {
        check(
            Provider::Anthropic,
            false,
            "<html>",
            Err(Error::NotJson("expected value at line 1 column 1".into())),
        );
        check(
            Provider::OpenAi,
            false,
            r#"{"error":{"message":"bad key"}}"#,
            Err(Error::Provider("bad key".into())),
        );
        check(
            Provider::OpenAi,
            false,
            "{}",
            Err(Error::Missing("choices")),
        );
        // A whole JSON body answering a streamed request is read as JSON.
        check(
            Provider::OpenAi,
            true,
            r#"{"error":{"message":"no streaming here"}}"#,
            Err(Error::Provider("no streaming here".into())),
        );
        check(
            Provider::Anthropic,
            true,
            "data: {\"type\":\"ping\"}\n\n",
            Err(Error::Missing("message_start event")),
        );
        check(
            Provider::Anthropic,
            true,
            "data: {\"type\":\"message_start\",\"message\":{}}\n\ndata: {\"type\":\"content_block_start\",\"index\":999999999999,\"content_block\":{\"type\":\"text\"}}\n\n",
            Err(Error::TooManyCalls),
        );
        let many: Vec<String> = (0..=MAX_CALLS)
            .map(|i| format!(r#"{{"id":"c{i}","function":{{"name":"x","arguments":"{{}}"}}}}"#))
            .collect();
        let body = format!(
            r#"{{"choices":[{{"message":{{"tool_calls":[{}]}}}}]}}"#,
            many.join(",")
        );
        check(Provider::OpenAi, false, &body, Err(Error::TooManyCalls));
    }

    /// Every prefix of valid replies, and each with one byte changed, is parsed or refused
    /// without a panic (a provider's answer is hostile input).
    #[test]
    fn agent_wire_never_panics_on_cut_or_mangled_replies() {
        let bodies = [
            (
                Provider::Anthropic,
                false,
                r#"{"content":[{"type":"text","text":"é"},{"type":"tool_use","id":"t","name":"bash","input":{"command":"ls"}}],"usage":{"input_tokens":1}}"#,
            ),
            (
                Provider::Anthropic,
                true,
                "data: {\"type\":\"message_start\",\"message\":{}}\n\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"b\"}}\n\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n",
            ),
            (
                Provider::OpenAi,
                false,
                r#"{"choices":[{"message":{"content":"x","tool_calls":[{"id":"c","function":{"name":"n","arguments":"{}"}}]}}],"usage":{"prompt_tokens":3}}"#,
            ),
            (
                Provider::OpenAi,
                true,
                "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":7,\"function\":{\"name\":\"n\"}}]}}]}\n\ndata: [DONE]\n\n",
            ),
        ];
        let mut parsed = 0;
        for (provider, stream, body) in bodies {
            assert!(parse(provider, stream, body).is_ok(), "{body}");
            let bytes = body.as_bytes();
            for cut in 0..bytes.len() {
                let text = String::from_utf8_lossy(&bytes[..cut]);
                parsed += usize::from(parse(provider, stream, &text).is_ok());
                for b in [b'}', b'"', b'[', b'9', b'\n', 0xff] {
                    let mut mangled = bytes.to_vec();
                    mangled[cut] = b;
                    let text = String::from_utf8_lossy(&mangled);
                    parsed += usize::from(parse(provider, stream, &text).is_ok());
                }
            }
        }
        // Some mangled streams still parse (a changed byte in a text); most do not.
        assert!(parsed > 0);
    }

    #[test]
    fn agent_wire_renders_a_conversation_for_each_provider() {
        let tools = [ToolDef {
            name: "bash".into(),
            description: "Run".into(),
            schema: json!({"type": "object"}),
        }];
        let ask = Ask {
            model: "m",
            system: "sys",
            tools: &tools,
            max_output: 100,
            stream: true,
            legacy_max_tokens: false,
        };
        let messages = [
            Message::User("hi".into()),
            Message::Assistant {
                text: String::new(),
                calls: vec![call("c1", "bash", "{not json")],
            },
            Message::Results(vec![ToolResult {
                id: "c1".into(),
                content: "bad arguments".into(),
                is_error: true,
            }]),
        ];
        let a = request(Provider::Anthropic, &ask, &messages);
        assert_eq!(a["system"][0]["text"], "sys");
        assert_eq!(a["system"][0]["cache_control"]["type"], "ephemeral");
        assert_eq!(a["tools"][0]["input_schema"], json!({"type": "object"}));
        assert_eq!(a["messages"][1]["content"][0]["input"], json!({}));
        assert_eq!(a["messages"][2]["content"][0]["is_error"], true);
        let o = request(Provider::OpenAi, &ask, &messages);
        assert_eq!(o["messages"][0]["role"], "system");
        assert_eq!(
            o["messages"][2]["tool_calls"][0]["function"]["arguments"],
            "{not json"
        );
        assert_eq!(o["messages"][3]["role"], "tool");
        assert_eq!(o["stream_options"]["include_usage"], true);
        assert_eq!(o["max_completion_tokens"], 100);
        let local = Ask {
            legacy_max_tokens: true,
            ..ask
        };
        let o = request(Provider::OpenAi, &local, &messages);
        assert_eq!(
            (o["max_tokens"].as_u64(), o.get("max_completion_tokens")),
            (Some(100), None)
        );
    }
}
