//! MCP over the process's stdin and stdout, for one local user.
//!
//! When stdin and stdout are pipes (as an MCP client spawns us), they are driven by the reactor
//! directly: tokio's portable `stdin()`/`stdout()` hand every read and write to the blocking
//! thread pool, which costs two thread hand-offs per message and dominated per-call latency.
//!
//! Between the streams and rmcp sits a small guard (`stdio_guard.rs`): rmcp ends the session on
//! a message it does not expect before `initialize` and answers nothing to a line that is not
//! JSON, so the guard answers those itself, as JSON-RPC says, and passes the rest through.

use std::future::Future;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::stdio_guard;

use crate::service::GitGate;

/// Errors of the stdio transport.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("MCP handshake over stdio failed")]
    Initialize(#[source] Box<rmcp::service::ServerInitializeError>),
    #[error("the stdio session ended abnormally")]
    Session(#[source] tokio::task::JoinError),
}

/// Serves `gate` on stdin/stdout until the client closes its end or `shutdown` resolves (SIGTERM:
/// what an MCP client sends when closing stdin did not end the server). On shutdown no more
/// lines are read; the requests in flight are answered, for up to `drain`; then the session
/// ends as if stdin had closed.
pub async fn serve(
    gate: GitGate,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> Result<(), Error> {
    let stop = Stop {
        signal: Box::pin(shutdown),
        drain,
    };
    match pipes() {
        Some((rx, tx)) => serve_on(gate, rx, tx, stop).await,
        None => serve_on(gate, tokio::io::stdin(), tokio::io::stdout(), stop).await,
    }
}

/// When the guard stops reading, and how long it then waits for answers.
pub(super) struct Stop {
    pub(super) signal: Pin<Box<dyn Future<Output = ()> + Send>>,
    pub(super) drain: Duration,
}

/// Serves `gate` on `input`/`output` through the guard.
async fn serve_on<R, W>(gate: GitGate, input: R, output: W, stop: Stop) -> Result<(), Error>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    use rmcp::ServiceExt;
    // What the guard passes on reaches rmcp through one in-memory pipe, rmcp's answers come
    // back through another; the guard's own answers join them on the way out.
    let (to_rmcp, rmcp_in) = tokio::io::duplex(1 << 16);
    let (rmcp_out, from_rmcp) = tokio::io::duplex(1 << 16);
    let (replies, replies_rx) = tokio::sync::mpsc::channel(64);
    let in_flight = std::sync::Arc::new(stdio_guard::InFlight::default());
    tokio::spawn(stdio_guard::inbound(
        input,
        to_rmcp,
        replies,
        std::sync::Arc::clone(&in_flight),
        stop,
    ));
    let writer = tokio::spawn(stdio_guard::outbound(
        from_rmcp, replies_rx, output, in_flight,
    ));
    let running = gate
        .serve((rmcp_in, rmcp_out))
        .await
        .map_err(|e| Error::Initialize(Box::new(e)))?;
    running.waiting().await.map_err(Error::Session)?;
    // rmcp's side is closed now: the writer ends once everything it wrote is out.
    writer.await.map_err(Error::Session)?;
    Ok(())
}

/// Stdin and stdout as reactor-driven pipes, or `None` when either is not a pipe (a terminal, a
/// file, a socket), in which case the portable path is used.
///
/// Both are checked before either is converted: making a pipe reactor-driven sets `O_NONBLOCK`
/// on its open file description, and the portable path reads stdin with blocking reads, which
/// then fail with `EAGAIN` ("Resource temporarily unavailable") and end the session. That was
/// the case when stdin was a pipe and stdout a file.
fn pipes() -> Option<(
    tokio::net::unix::pipe::Receiver,
    tokio::net::unix::pipe::Sender,
)> {
    use std::os::unix::fs::FileTypeExt;
    let stdin = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
    let stdout = std::io::stdout().as_fd().try_clone_to_owned().ok()?;
    let (stdin, stdout) = (std::fs::File::from(stdin), std::fs::File::from(stdout));
    let is_fifo = |f: &std::fs::File| f.metadata().is_ok_and(|m| m.file_type().is_fifo());
    if !is_fifo(&stdin) || !is_fifo(&stdout) {
        return None;
    }
    let rx = tokio::net::unix::pipe::Receiver::from_file(stdin).ok()?;
    match tokio::net::unix::pipe::Sender::from_file(stdout) {
        Ok(tx) => Some((rx, tx)),
        Err(_) => {
            // Leave stdin as the portable path needs it: blocking again.
            let _ = rx.into_blocking_fd();
            None
        }
    }
}
