//! The MCP service: answers `initialize`, `tools/list` and `tools/call` for one session.
//!
//! The caller comes from the transport: stdio fixes one local user for the process; HTTP puts the
//! authenticated [`Caller`] into each request's extensions (see `transport::http`).

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};

use crate::identity::Caller;
use crate::tools::{Backends, Catalogue};

/// Shared, immutable server state; cloned cheaply per session.
#[derive(Debug, Clone)]
pub struct GitGate {
    backends: Arc<Backends>,
    catalogue: Arc<Catalogue>,
    /// The caller of every request on this service when the transport has no per-request one
    /// (stdio).
    fixed_caller: Option<Caller>,
}

impl GitGate {
    pub fn new(
        backends: Arc<Backends>,
        catalogue: Arc<Catalogue>,
        fixed_caller: Option<Caller>,
    ) -> Self {
        Self {
            backends,
            catalogue,
            fixed_caller,
        }
    }

    fn caller(&self, ctx: &RequestContext<RoleServer>) -> Option<Caller> {
        if let Some(caller) = &self.fixed_caller {
            return Some(caller.clone());
        }
        ctx.extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Caller>())
            .cloned()
    }
}

const INSTRUCTIONS: &str = "git tools for the configured repositories; arguments mirror git. \
Pass repo when several are configured. json: [fields] returns JSON.";

impl ServerHandler for GitGate {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("gitgate", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.catalogue.tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let Some(caller) = self.caller(&ctx) else {
            // The HTTP layer authenticates before the request gets here; reaching this means a
            // transport was wired without identity, which is a server bug, not client input.
            return Err(McpError::internal_error(
                "no caller identity for this request",
                None,
            ));
        };
        if self.catalogue.get(&request.name).is_none() {
            // The MCP specification lists an unknown tool among the protocol errors (-32602).
            return Err(McpError::invalid_params(
                format!(
                    "unknown tool '{}'; call tools/list for the available tools",
                    request.name
                ),
                None,
            ));
        }
        let result = crate::tools::call(
            self.backends.clone(),
            self.catalogue.clone(),
            caller,
            &request.name,
            request.arguments,
        )
        .await;
        Ok(result.into())
    }
}
