//! The jq worker process (`gitgate jq-worker`): confines itself with kernel limits, then reads
//! requests from stdin and writes replies to stdout, one frame each (a 4-byte big-endian length,
//! then JSON), until stdin ends. Started only by [`super::Sandbox`]; `main.rs` hands over to
//! [`main`] before it parses anything else.

use std::io::{Read, Write};
use std::process::ExitCode;

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{JqError, Limits, eval};

/// The hidden subcommand that makes the gitgate binary a jq worker.
pub const SUBCOMMAND: &str = "jq-worker";

/// Niceness of a worker: a filter that burns its CPU budget yields to the server's threads.
const NICENESS: i32 = 10;

/// One filter to evaluate.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Request {
    pub filter: String,
    pub input: Value,
    pub steps: Value,
    pub max_values: usize,
}

/// The evaluation's outcome, as the worker reports it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Reply {
    Values(Vec<Value>),
    Syntax(String),
    Undefined(String),
    Runtime(String),
    TooManyValues(usize),
}

impl Reply {
    pub fn into_result(self) -> Result<Vec<Value>, JqError> {
        match self {
            Reply::Values(v) => Ok(v),
            Reply::Syntax(m) => Err(JqError::Syntax(m)),
            Reply::Undefined(m) => Err(JqError::Undefined(m)),
            Reply::Runtime(m) => Err(JqError::Runtime(m)),
            Reply::TooManyValues(n) => Err(JqError::TooManyValues(n)),
        }
    }
}

/// The worker's command-line arguments for `limits` (after the subcommand).
pub(super) fn limit_args(limits: &Limits) -> Vec<String> {
    vec![
        limits.memory.to_string(),
        limits.cpu_secs.to_string(),
        limits.stack.to_string(),
        limits.max_input.to_string(),
    ]
}

/// Writes one frame.
pub(super) fn write_frame(to: &mut impl Write, body: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(body.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "frame too large"))?;
    to.write_all(&len.to_be_bytes())?;
    to.write_all(body)?;
    to.flush()
}

/// Reads one frame of at most `max` bytes: `Ok(None)` when it announces more, an error when
/// the stream ends first (the other side is gone).
pub(super) fn read_frame(from: &mut impl Read, max: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    from.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Ok(None);
    }
    let mut body = vec![0u8; len];
    from.read_exact(&mut body)?;
    Ok(Some(body))
}

/// The worker's whole life. `args` are the arguments after the subcommand.
pub fn main(args: &[String]) -> ExitCode {
    let numbers: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let [memory, cpu_secs, stack, max_input] = numbers[..] else {
        eprintln!("gitgate jq-worker: started by the server only");
        return ExitCode::from(2);
    };
    if let Err(e) = confine(memory, stack) {
        eprintln!("gitgate jq-worker: cannot confine itself: {e}");
        return ExitCode::from(3);
    }
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    loop {
        let request = match read_frame(&mut stdin, usize::try_from(max_input).unwrap_or(0)) {
            Ok(Some(body)) => body,
            // The server is gone, or it sent more than it may: either way, the end.
            Ok(None) | Err(_) => return ExitCode::SUCCESS,
        };
        if let Err(e) = budget_cpu(cpu_secs) {
            eprintln!("gitgate jq-worker: cannot set the CPU budget: {e}");
            return ExitCode::from(3);
        }
        let reply = match serde_json::from_slice::<Request>(&request) {
            Ok(request) => evaluate(request),
            Err(_) => Reply::Runtime("the request is unreadable".into()),
        };
        let Ok(body) = serde_json::to_vec(&reply) else {
            return ExitCode::from(5);
        };
        if write_frame(&mut stdout, &body).is_err() {
            return ExitCode::SUCCESS;
        }
    }
}

fn evaluate(request: Request) -> Reply {
    match eval::evaluate(
        &request.filter,
        request.input,
        request.steps,
        request.max_values,
    ) {
        Ok(values) => Reply::Values(values),
        Err(JqError::Syntax(m)) => Reply::Syntax(m),
        Err(JqError::Undefined(m)) => Reply::Undefined(m),
        Err(JqError::Runtime(m)) => Reply::Runtime(m),
        Err(JqError::TooManyValues(n)) => Reply::TooManyValues(n),
        Err(e) => Reply::Runtime(e.to_string()),
    }
}

/// Puts the kernel's limits on this process before any input is read (never above a limit the
/// server itself runs under).
fn confine(memory: u64, stack: u64) -> std::io::Result<()> {
    let lower = |resource: Resource, value: u64| {
        let max = getrlimit(resource).maximum.unwrap_or(u64::MAX).min(value);
        setrlimit(
            resource,
            Rlimit {
                current: Some(max),
                maximum: Some(max),
            },
        )
    };
    lower(Resource::Data, memory)?;
    lower(Resource::Stack, stack)?;
    // No core file of a crashed filter, no file written, no process started.
    lower(Resource::Core, 0)?;
    lower(Resource::Fsize, 0)?;
    lower(Resource::Nproc, 0)?;
    // Lowering our own priority needs no privilege; failing to is not worth refusing filters.
    let _ = rustix::process::setpriority_process(None, NICENESS);
    Ok(())
}

/// Lets the next filter use `secs` more seconds of CPU than used so far: past them the kernel
/// sends SIGXCPU, which ends the worker (its default action; nothing here catches it).
fn budget_cpu(secs: u64) -> std::io::Result<()> {
    let used = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    let used = u64::try_from(used.tv_sec).unwrap_or(0);
    // +1: the used time's fraction of a second is not counted above.
    let soft = used.saturating_add(secs).saturating_add(1);
    let hard = getrlimit(Resource::Cpu).maximum;
    setrlimit(
        Resource::Cpu,
        Rlimit {
            current: Some(hard.map_or(soft, |h| soft.min(h))),
            maximum: hard,
        },
    )?;
    Ok(())
}
