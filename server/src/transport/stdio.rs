//! MCP over the process's stdin and stdout, for one local user.

use crate::service::GitGate;

/// Errors of the stdio transport.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("MCP handshake over stdio failed: {0}")]
    Initialize(String),
    #[error("the stdio session ended abnormally: {0}")]
    Session(String),
}

/// Serves `gate` on stdin/stdout until the client closes its end.
pub async fn serve(gate: GitGate) -> Result<(), Error> {
    use rmcp::ServiceExt;
    let running = gate
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| Error::Initialize(e.to_string()))?;
    running.waiting().await.map_err(|e| Error::Session(e.to_string()))?;
    Ok(())
}
