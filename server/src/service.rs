//! The MCP service: answers `initialize`, `tools/list` and `tools/call` for one session.
//!
//! The caller comes from the transport: stdio fixes one local user for the process; HTTP puts the
//! authenticated [`Caller`] into each request's extensions (see `transport::http`), so every
//! request is judged by the token it carries, even on a session opened by an earlier one.

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};

use crate::audit::ClientInfo;
use crate::identity::Caller;
use crate::tools::{CallContext, Services};

/// Shared server state; cloned cheaply per session.
#[derive(Debug, Clone)]
pub struct GitGate {
    services: Services,
    /// The caller of every request when the transport has no per-request one (stdio).
    fixed_caller: Option<Caller>,
}

impl GitGate {
    pub fn new(services: Services, fixed_caller: Option<Caller>) -> Self {
        Self {
            services,
            fixed_caller,
        }
    }

    fn context(&self, ctx: &RequestContext<RoleServer>) -> Option<CallContext> {
        let parts = ctx.extensions.get::<http::request::Parts>();
        let caller = match &self.fixed_caller {
            Some(caller) => caller.clone(),
            None => parts.and_then(|p| p.extensions.get::<Caller>()).cloned()?,
        };
        let session = match parts {
            Some(p) => p
                .headers
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            None => Some("stdio".to_owned()),
        };
        let client = ctx.peer.peer_info().map(|info| ClientInfo {
            name: info.client_info.name.clone(),
            version: Some(info.client_info.version.clone()),
        });
        Some(CallContext {
            caller,
            session,
            client,
        })
    }
}

const INSTRUCTIONS: &str = "git tools for the configured repositories; arguments mirror git. \
Pass repo when several are configured. json: [fields] returns JSON.";

/// The transport wired no identity: a server bug, not client input.
fn no_caller() -> McpError {
    McpError::internal_error("no caller identity for this request", None)
}

impl ServerHandler for GitGate {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("gitgate", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let call_ctx = self.context(&ctx).ok_or_else(no_caller)?;
        Ok(ListToolsResult::with_all_items(
            self.services.visible_tools(&call_ctx.caller),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let call_ctx = self.context(&ctx).ok_or_else(no_caller)?;
        let result = self
            .services
            .call(&call_ctx, &request.name, request.arguments)
            .await;
        if self.services.catalogue.get(&request.name).is_none() {
            // Audited above as a denial; the MCP specification lists an unknown tool among the
            // protocol errors (-32602).
            // The call's own message: the nearest tool names and where the rest are listed
            // (`{"tool": "help"}` in lean mode, where tools/list shows only the meta tool).
            return Err(McpError::invalid_params(
                crate::tools::first_text(&result),
                None,
            ));
        }
        Ok(result.into())
    }
}
