//! What a client's message is, judged before rmcp sees it, the same way on stdio and HTTP.
//!
//! rmcp parses a message into its typed requests in one step, so a message it cannot type gets
//! an answer that misleads the client: a `tools/call` without a `name` is "method not found"
//! (-32601), a body that is not JSON or a batch is HTTP 415 "Unsupported Media Type". JSON-RPC
//! 2.0 and MCP say: not JSON is a parse error (-32700), not a request object is an invalid
//! request (-32600), wrong parameters of a known method are invalid params (-32602). This module
//! decides which, for the methods gitgate serves, and leaves everything else to rmcp.

use serde_json::{Map, Value, json};

/// JSON-RPC 2.0's codes used here.
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const INVALID_PARAMS: i64 = -32602;

/// A message that passed: what the transports need to know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The request id; `None` for a notification or a response.
    pub id: Option<Value>,
    /// The method; `None` for a response to a server request.
    pub method: Option<String>,
}

impl Message {
    pub fn is_initialize(&self) -> bool {
        self.id.is_some() && self.method.as_deref() == Some("initialize")
    }
}

/// Why a message is refused, as the JSON-RPC error to answer with.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The request's id when it could be read (so the client can match the answer), else null.
    pub id: Value,
    pub code: i64,
    pub message: String,
}

impl Refusal {
    fn new(id: Value, code: i64, message: impl Into<String>) -> Self {
        Self {
            id,
            code,
            message: message.into(),
        }
    }

    /// The JSON-RPC error response, on one line.
    pub fn to_json(&self) -> String {
        json!({
            "jsonrpc": "2.0",
            "id": self.id,
            "error": {"code": self.code, "message": self.message},
        })
        .to_string()
    }
}

/// Reads one message (a stdio line or an HTTP body) and judges its shape.
pub fn inspect(bytes: &[u8]) -> Result<Message, Refusal> {
    // serde_json refuses nesting deeper than 128 levels, so a deep body is a parse error here,
    // in bounded stack.
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        Refusal::new(
            Value::Null,
            PARSE_ERROR,
            format!("parse error: the message is not JSON ({e}); send one JSON-RPC object"),
        )
    })?;
    let Value::Object(object) = value else {
        let what = if value.is_array() {
            "batches are not supported (MCP removed them in 2025-06-18); send one message at a time"
        } else {
            "a message is a JSON-RPC object"
        };
        return Err(Refusal::new(
            Value::Null,
            INVALID_REQUEST,
            format!("invalid request: {what}"),
        ));
    };
    check_object(object)
}

fn check_object(object: Map<String, Value>) -> Result<Message, Refusal> {
    let id = match object.get("id") {
        None => None,
        Some(id @ (Value::String(_) | Value::Number(_))) => Some(id.clone()),
        Some(_) => {
            return Err(Refusal::new(
                Value::Null,
                INVALID_REQUEST,
                "invalid request: id must be a string or a number",
            ));
        }
    };
    let refuse = |message: &str| {
        Refusal::new(
            id.clone().unwrap_or(Value::Null),
            INVALID_REQUEST,
            format!("invalid request: {message}"),
        )
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(refuse("\"jsonrpc\" must be \"2.0\""));
    }
    let method = match object.get("method") {
        None => None,
        Some(Value::String(m)) => Some(m.clone()),
        Some(_) => return Err(refuse("method must be a string")),
    };
    if method.is_none() && !(object.contains_key("result") || object.contains_key("error")) {
        return Err(refuse(
            "a message has a method (a request or notification) or a result or error (a response)",
        ));
    }
    if let (Some(method), Some(id)) = (&method, &id) {
        check_params(method, object.get("params")).map_err(|message| {
            Refusal::new(
                id.clone(),
                INVALID_PARAMS,
                format!("invalid params for {method}: {message}"),
            )
        })?;
    }
    Ok(Message { id, method })
}

/// The parameters of the requests gitgate serves, as far as rmcp needs them to type the
/// request; deeper checks (a tool's own arguments) are the tool's.
fn check_params(method: &str, params: Option<&Value>) -> Result<(), String> {
    let params = match params {
        None | Some(Value::Null) => None,
        Some(Value::Object(p)) => Some(p),
        Some(_) => return Err("params must be an object".into()),
    };
    let field = |name: &str| params.and_then(|p| p.get(name));
    match method {
        "tools/call" => {
            if !field("name").is_some_and(Value::is_string) {
                return Err("name (the tool's name, a string) is required".into());
            }
            match field("arguments") {
                None | Some(Value::Null | Value::Object(_)) => Ok(()),
                Some(_) => Err("arguments must be an object of the tool's flags".into()),
            }
        }
        "tools/list" => match field("cursor") {
            None | Some(Value::Null | Value::String(_)) => Ok(()),
            Some(_) => Err("cursor must be a string".into()),
        },
        "initialize" => {
            let ok = field("protocolVersion").is_some_and(Value::is_string)
                && field("capabilities").is_some_and(Value::is_object)
                && field("clientInfo").is_some_and(|c| {
                    c.get("name").is_some_and(Value::is_string)
                        && c.get("version").is_some_and(Value::is_string)
                });
            if ok {
                Ok(())
            } else {
                Err(
                    "protocolVersion (string), capabilities (object) and clientInfo \
                     ({name, version}) are required"
                        .into(),
                )
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> Option<i64> {
        inspect(text.as_bytes()).err().map(|r| r.code)
    }

    #[test]
    fn shapes_get_the_codes_json_rpc_names() {
        assert_eq!(code("{bad"), Some(PARSE_ERROR));
        assert_eq!(code("\u{1}"), Some(PARSE_ERROR));
        assert_eq!(code(&"[".repeat(10_000)), Some(PARSE_ERROR));
        assert_eq!(
            code(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#),
            Some(INVALID_REQUEST)
        );
        assert_eq!(code("3"), Some(INVALID_REQUEST));
        assert_eq!(code(r#"{"id":1,"method":"ping"}"#), Some(INVALID_REQUEST));
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#),
            Some(INVALID_REQUEST)
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":7}"#),
            Some(INVALID_REQUEST)
        );
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1}"#), Some(INVALID_REQUEST));
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#), None);
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#), None);
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            None
        );
    }

    #[test]
    fn known_methods_with_wrong_params_are_invalid_params() {
        let call = |params: &str| {
            inspect(
                format!(r#"{{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{params}}}"#)
                    .as_bytes(),
            )
        };
        let refused = call(r#"{"nme":"x"}"#).expect_err("no name");
        assert_eq!((refused.code, refused.id), (INVALID_PARAMS, json!("a")));
        assert!(refused.message.contains("name"), "{}", refused.message);
        assert_eq!(
            call(r#"{"name":3}"#).map_err(|r| r.code),
            Err(INVALID_PARAMS)
        );
        assert_eq!(
            call(r#"{"name":"x","arguments":[1]}"#).map_err(|r| r.code),
            Err(INVALID_PARAMS)
        );
        assert_eq!(call("[1]").map_err(|r| r.code), Err(INVALID_PARAMS));
        assert!(call(r#"{"name":"git_status"}"#).is_ok());
        assert!(call(r#"{"name":"git_status","arguments":{"repo":"app"}}"#).is_ok());
        let init = |params: &str| {
            inspect(
                format!(r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{params}}}"#)
                    .as_bytes(),
            )
        };
        assert_eq!(init("{}").map_err(|r| r.code), Err(INVALID_PARAMS));
        let good = init(r#"{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}"#)
            .expect("a good initialize");
        assert!(good.is_initialize());
        // A notification gets no answer, so its params are rmcp's business.
        assert!(inspect(br#"{"jsonrpc":"2.0","method":"tools/call","params":5}"#).is_ok());
    }

    /// Property: whatever bytes arrive, inspection ends without panicking, and every refusal
    /// serialises to one line of JSON-RPC error.
    #[test]
    fn random_messages_never_panic() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let pieces: &[&[u8]] = &[
            b"{",
            b"}",
            b"[",
            b"]",
            b"\"",
            b":",
            b",",
            b"\"id\"",
            b"\"method\"",
            b"\"params\"",
            b"\"tools/call\"",
            b"\"initialize\"",
            b"\"name\"",
            b"\"arguments\"",
            b"\"jsonrpc\"",
            b"\"2.0\"",
            b"1",
            b"null",
            b"\\",
            b"\xff",
            b" ",
        ];
        for _ in 0..20_000 {
            let mut bytes = Vec::new();
            for _ in 0..rng.random_range(0..40) {
                bytes.extend_from_slice(pieces[rng.random_range(0..pieces.len())]);
            }
            if let Err(refusal) = inspect(&bytes) {
                let line = refusal.to_json();
                assert!(!line.contains('\n'));
                let v: Value = serde_json::from_str(&line).expect("JSON");
                assert!(v["error"]["code"].is_i64());
            }
        }
    }
}
