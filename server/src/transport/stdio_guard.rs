//! The guard between stdin/stdout and rmcp on the stdio transport: every line from the client
//! is checked before rmcp sees it. A line that is not JSON gets JSON-RPC's parse error (-32700,
//! id null); a line longer than [`MAX_LINE`] an invalid-request error (-32600), read to its end
//! without being kept; before `initialize`, a request gets "not initialized" (-32002; `ping`
//! is answered, as the MCP lifecycle allows) and a notification is dropped, where rmcp would
//! end the session; a request whose id is still in flight gets an invalid-request error (-32600)
//! naming the id, where rmcp would run both and answer twice under one id, so the client could
//! not tell the answers apart (the HTTP screen refuses the same, per session). Everything else
//! passes through unchanged.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Value, json};

use super::jsonrpc;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// Longest message accepted from the client (rmcp's own limit on HTTP bodies).
pub const MAX_LINE: usize = 4 << 20;
/// Longest answer line read back from rmcp (its own output: a large tool result).
const MAX_OUT_LINE: usize = 256 << 20;
/// Most requests in flight at once; past it a request is refused until answers come back (the
/// set cannot grow without bound when a client never waits).
const MAX_IN_FLIGHT: usize = 4096;

/// The ids of the client's requests that rmcp has not answered yet, as their JSON text: taken by
/// [`inbound`] when a request passes, given back by [`outbound`] when rmcp's answer goes out.
#[derive(Debug, Default)]
pub struct InFlight {
    ids: Mutex<HashSet<String>>,
    /// Woken each time an id is given back (for the shutdown drain).
    answered: tokio::sync::Notify,
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // Plain set operations: a panic elsewhere cannot leave it half-updated.
        self.ids.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes `id` if it is free and there is room.
    fn take(&self, id: &Value) -> Taken {
        let mut ids = self.lock();
        if ids.len() >= MAX_IN_FLIGHT {
            Taken::Full
        } else if ids.insert(id.to_string()) {
            Taken::Yes
        } else {
            Taken::InUse
        }
    }

    /// Gives back the id of the response `line` from rmcp, if it is one.
    fn answered(&self, line: &[u8]) {
        #[derive(serde::Deserialize)]
        struct Head {
            id: Option<Value>,
            method: Option<serde::de::IgnoredAny>,
        }
        let mut ids = self.lock();
        if ids.is_empty() {
            return;
        }
        // A request of the server's own (a ping, a sampling request) has a method: its id is
        // in the server's numbering, not the client's.
        if let Ok(Head {
            id: Some(id),
            method: None,
        }) = serde_json::from_slice::<Head>(line)
        {
            ids.remove(&id.to_string());
            self.answered.notify_waiters();
        }
    }

    /// Resolves once no request is in flight.
    async fn none(&self) {
        loop {
            let answered = self.answered.notified();
            tokio::pin!(answered);
            // Registered before looking, so an answer between the look and the wait wakes us.
            answered.as_mut().enable();
            if self.lock().is_empty() {
                return;
            }
            answered.await;
        }
    }
}

/// What [`InFlight::take`] did.
enum Taken {
    Yes,
    InUse,
    Full,
}

/// What the guard knows of the session: whether `initialize` passed, and the ids in flight.
#[derive(Debug, Default)]
struct Session {
    initialized: bool,
    in_flight: Arc<InFlight>,
}

/// Reads the client's lines from `input`, passes the acceptable ones to `to_rmcp` and sends the
/// guard's own answers to `replies`. Ends at the end of input (closing `to_rmcp`, which ends
/// the session) or when rmcp is gone.
///
/// When `stop` signals, reading ends: the requests in flight get their answers (for up to its
/// drain time) and then `to_rmcp` is closed, which ends the session as the end of input does.
pub async fn inbound<R, W>(
    input: R,
    mut to_rmcp: W,
    replies: mpsc::Sender<String>,
    in_flight: Arc<InFlight>,
    mut stop: super::stdio::Stop,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut input = BufReader::new(input);
    let mut line = Vec::new();
    let mut session = Session {
        initialized: false,
        in_flight,
    };
    loop {
        let read = tokio::select! {
            read = read_line(&mut input, &mut line, MAX_LINE) => read,
            () = &mut stop.signal => {
                let drained = tokio::time::timeout(stop.drain, session.in_flight.none()).await;
                if drained.is_err() {
                    tracing::warn!(
                        deadline = ?stop.drain,
                        "requests still running at the shutdown timeout are cut off"
                    );
                }
                break;
            }
        };
        let too_long = match read {
            Ok(Some(too_long)) => too_long,
            Ok(None) | Err(_) => break,
        };
        let verdict = if too_long {
            Verdict::Reply(error(
                Value::Null,
                -32600,
                &format!("message longer than {} MiB", MAX_LINE >> 20),
            ))
        } else {
            judge(&line, &mut session)
        };
        match verdict {
            Verdict::Pass => {
                line.push(b'\n');
                if to_rmcp.write_all(&line).await.is_err() || to_rmcp.flush().await.is_err() {
                    break;
                }
            }
            Verdict::Reply(reply) => {
                if replies.send(reply).await.is_err() {
                    break;
                }
            }
            Verdict::Drop => {}
        }
    }
}

/// Writes rmcp's answers and the guard's to `output`, one line each, until both are done; gives
/// back the id of each of rmcp's answers to `in_flight` before the answer is written, so a
/// client that reuses an id once answered is never refused.
pub async fn outbound<R, W>(
    from_rmcp: R,
    mut replies: mpsc::Receiver<String>,
    mut output: W,
    in_flight: Arc<InFlight>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut from_rmcp = BufReader::new(from_rmcp);
    let mut line = Vec::new();
    let mut rmcp_open = true;
    let mut replies_open = true;
    while rmcp_open || replies_open {
        tokio::select! {
            read = read_line(&mut from_rmcp, &mut line, MAX_OUT_LINE), if rmcp_open => {
                match read {
                    Ok(Some(false)) => {
                        in_flight.answered(&line);
                        line.push(b'\n');
                        if write(&mut output, &line).await.is_err() {
                            return;
                        }
                    }
                    Ok(Some(true)) => {}
                    Ok(None) | Err(_) => rmcp_open = false,
                }
            }
            reply = replies.recv(), if replies_open => match reply {
                Some(mut reply) => {
                    reply.push('\n');
                    if write(&mut output, reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
                None => replies_open = false,
            },
        }
    }
}

async fn write<W: AsyncWrite + Unpin>(output: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    output.write_all(bytes).await?;
    output.flush().await
}

/// What to do with one line from the client.
#[derive(Debug, PartialEq)]
enum Verdict {
    Pass,
    Reply(String),
    Drop,
}

fn judge(line: &[u8], session: &mut Session) -> Verdict {
    let text = line.strip_suffix(b"\r").unwrap_or(line);
    if text.iter().all(u8::is_ascii_whitespace) {
        return Verdict::Drop;
    }
    let message = match jsonrpc::inspect(text) {
        Ok(message) => message,
        Err(refusal) => return Verdict::Reply(refusal.to_json()),
    };
    if session.initialized {
        if let (true, Some(id)) = (message.is_initialize(), &message.id) {
            return Verdict::Reply(error(
                id.clone(),
                jsonrpc::INVALID_REQUEST,
                "invalid request: the session is already initialized",
            ));
        }
        return take_id(message, session);
    }
    match (message.method.as_deref(), &message.id) {
        (Some("initialize"), Some(_)) => {
            session.initialized = true;
            take_id(message, session)
        }
        (Some("ping"), Some(id)) => {
            Verdict::Reply(json!({"jsonrpc": "2.0", "id": id, "result": {}}).to_string())
        }
        (Some(_), Some(id)) => Verdict::Reply(error(
            id.clone(),
            -32002,
            "the server is not initialized; send initialize first",
        )),
        // A notification (or a stray response) before initialize: nothing to answer.
        _ => Verdict::Drop,
    }
}

/// Passes a request on if its id is free (taking it), else refuses it; anything that is not a
/// request (a notification, the client's answer to a server request) passes.
fn take_id(message: jsonrpc::Message, session: &Session) -> Verdict {
    let (Some(_), Some(id)) = (&message.method, message.id) else {
        return Verdict::Pass;
    };
    let message = match session.in_flight.take(&id) {
        Taken::Yes => return Verdict::Pass,
        Taken::InUse => format!(
            "invalid request: id {} is in use by a request still running; give each request its \
             own id",
            crate::tools::quote(&id.to_string())
        ),
        Taken::Full => format!(
            "invalid request: {MAX_IN_FLIGHT} requests are in flight; wait for answers before \
             sending more"
        ),
    };
    Verdict::Reply(error(id, jsonrpc::INVALID_REQUEST, &message))
}

fn error(id: Value, code: i64, message: &str) -> String {
    jsonrpc::Refusal {
        id,
        code,
        message: message.to_owned(),
    }
    .to_json()
}

/// Reads one line (without its newline) into `line`, keeping at most `max` bytes: a longer line
/// is consumed to its end but not kept, and reported as `Some(true)`. `None` at the end of
/// input with nothing read.
async fn read_line<R: AsyncBufRead + Unpin>(
    input: &mut R,
    line: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<bool>> {
    line.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let buf = input.fill_buf().await?;
        if buf.is_empty() {
            return Ok(any.then_some(too_long));
        }
        any = true;
        let (chunk, used, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], i + 1, true),
            None => (buf, buf.len(), false),
        };
        if !too_long {
            if line.len() + chunk.len() > max {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        input.consume(used);
        if done {
            return Ok(Some(too_long));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a verdict comes to: passed, dropped, or answered with this id and error code (or
    /// `0` for a result).
    fn outcome(verdict: Verdict) -> String {
        match verdict {
            Verdict::Pass => "pass".into(),
            Verdict::Drop => "drop".into(),
            Verdict::Reply(reply) => {
                let v: Value = serde_json::from_str(&reply).expect("JSON");
                format!("{} {}", v["id"], v["error"]["code"].as_i64().unwrap_or(0))
            }
        }
    }

    fn check(lines: &[&str], expected: &[&str]) {
        let mut session = Session::default();
        let got: Vec<String> = lines
            .iter()
            .map(|l| outcome(judge(l.as_bytes(), &mut session)))
            .collect();
        assert_eq!(got, expected, "{lines:?}");
    }

    #[test]
    fn lines_are_judged_as_json_rpc_says() {
        let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}"#;
        let bad_init = r#"{"jsonrpc":"2.0","id":9,"method":"initialize","params":{}}"#;
        let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        let call = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
        let bad_call = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"nme":"x"}}"#;
        check(
            &[
                note,
                call,
                "{not json",
                "[1]",
                "",
                bad_init,
                init,
                call,
                note,
                bad_call,
                init,
            ],
            &[
                "drop",
                "2 -32002",
                "null -32700",
                "null -32600",
                "drop",
                "9 -32602",
                "pass",
                "pass",
                "pass",
                "3 -32602",
                "1 -32600",
            ],
        );
        check(
            &[r#"{"jsonrpc":"2.0","id":"p","method":"ping"}"#],
            &["\"p\" 0"],
        );
    }

    #[test]
    fn an_id_in_flight_is_refused_until_its_answer_goes_out() {
        let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}"#;
        let call = |id: &str| format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list"}}"#);
        let mut session = Session::default();
        let in_flight = Arc::clone(&session.in_flight);
        let mut judged = |line: &str| outcome(judge(line.as_bytes(), &mut session));
        assert_eq!(judged(init), "pass");
        assert_eq!(judged(&call("2")), "pass");
        assert_eq!(judged(&call("2")), "2 -32600");
        assert_eq!(judged(&call(r#""2""#)), "pass", "a string id is another id");
        // A request of the server's own with the same number gives nothing back.
        in_flight.answered(br#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#);
        assert_eq!(judged(&call("2")), "2 -32600");
        in_flight.answered(br#"{"jsonrpc":"2.0","id":2,"result":{"tools":[]}}"#);
        assert_eq!(judged(&call("2")), "pass");
        in_flight.answered(br#"{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"x"}}"#);
        assert_eq!(
            judged(&call("1")),
            "pass",
            "an error answer gives the id back too"
        );
        // Notifications and the client's answers to server requests are never held.
        let note = r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{}}"#;
        let reply = r#"{"jsonrpc":"2.0","id":2,"result":{}}"#;
        assert_eq!(judged(note), "pass");
        assert_eq!(judged(reply), "pass");
        assert_eq!(judged(reply), "pass");
    }

    /// Property: whatever a client sends (random bytes, broken JSON, deep nesting, ids of any
    /// type), the guard never panics and every answer of its own is one JSON-RPC error or ping
    /// result, on one line.
    #[test]
    fn random_lines_get_well_formed_answers() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
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
            b"1",
            b"null",
            b"\"initialize\"",
            b"\"ping\"",
            b"\"jsonrpc\"",
            b"\"2.0\"",
            b"\\",
            b"\xff",
            b"\r",
            b" ",
            b"{\"id\":[1,{}],\"method\":\"x\"}",
        ];
        for _ in 0..20_000 {
            let mut line = Vec::new();
            for _ in 0..rng.random_range(0..40) {
                line.extend_from_slice(pieces[rng.random_range(0..pieces.len())]);
            }
            let mut session = Session {
                initialized: rng.random_range(0..2) == 0,
                ..Session::default()
            };
            if let Verdict::Reply(reply) = judge(&line, &mut session) {
                assert!(!reply.contains('\n'), "{reply}");
                let v: Value = serde_json::from_str(&reply).expect("the guard answers JSON");
                assert_eq!(v["jsonrpc"], "2.0", "{reply}");
                assert!(
                    v["error"]["code"].is_i64() || v["result"].is_object(),
                    "{reply}"
                );
            }
        }
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let mut session = Session {
            initialized: true,
            ..Session::default()
        };
        assert!(matches!(
            judge(deep.as_bytes(), &mut session),
            Verdict::Reply(_)
        ));
    }

    #[tokio::test]
    async fn long_lines_are_read_to_their_end_but_not_kept() {
        let text = format!("{}\nshort\n\nlast", "x".repeat(100));
        let mut input = BufReader::with_capacity(7, text.as_bytes());
        let mut line = Vec::new();
        let mut got = Vec::new();
        while let Some(too_long) = read_line(&mut input, &mut line, 10).await.expect("reads") {
            got.push((too_long, String::from_utf8_lossy(&line).into_owned()));
        }
        assert_eq!(
            got,
            [
                (true, String::new()),
                (false, "short".into()),
                (false, String::new()),
                (false, "last".into())
            ]
        );
    }
}
