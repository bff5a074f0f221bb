//! MCP over the process's stdin and stdout, for one local user.
//!
//! When stdin and stdout are pipes (as an MCP client spawns us), they are driven by the reactor
//! directly: tokio's portable `stdin()`/`stdout()` hand every read and write to the blocking
//! thread pool, which costs two thread hand-offs per message and dominated per-call latency.

use std::os::fd::AsFd;

use crate::service::GitGate;

/// Errors of the stdio transport.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("MCP handshake over stdio failed")]
    Initialize(#[source] Box<rmcp::service::ServerInitializeError>),
    #[error("the stdio session ended abnormally")]
    Session(#[source] tokio::task::JoinError),
}

/// Serves `gate` on stdin/stdout until the client closes its end.
pub async fn serve(gate: GitGate) -> Result<(), Error> {
    use rmcp::ServiceExt;
    let running = match pipes() {
        Some((rx, tx)) => gate.serve((rx, tx)).await,
        None => gate.serve(rmcp::transport::stdio()).await,
    }
    .map_err(|e| Error::Initialize(Box::new(e)))?;
    running.waiting().await.map_err(Error::Session)?;
    Ok(())
}

/// Stdin and stdout as reactor-driven pipes, or `None` when either is not a pipe (a terminal or
/// a file), in which case the portable path is used.
fn pipes() -> Option<(
    tokio::net::unix::pipe::Receiver,
    tokio::net::unix::pipe::Sender,
)> {
    let stdin = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
    let stdout = std::io::stdout().as_fd().try_clone_to_owned().ok()?;
    let rx = tokio::net::unix::pipe::Receiver::from_file(std::fs::File::from(stdin)).ok()?;
    let tx = tokio::net::unix::pipe::Sender::from_file(std::fs::File::from(stdout)).ok()?;
    Some((rx, tx))
}
