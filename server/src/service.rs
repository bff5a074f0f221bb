//! The MCP service: answers `initialize`, `tools/list` and `tools/call` for one session.
//!
//! The caller comes from the transport: stdio fixes one local user for the process; HTTP puts the
//! authenticated [`Caller`] into each request's extensions (see `transport::http`), so every
//! request is judged by the token it carries, even on a session opened by an earlier one.

// The logging utility (`logging/setLevel`, `notifications/message`) is deprecated by the
// 2026-07-28 protocol (SEP-2577) but is what 2025-11-25 clients and the conformance suite
// speak; this module is the only place its rmcp types are used.
#![allow(deprecated)]

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult,
    GetPromptRequestParams, GetPromptResponse, Implementation, ListPromptsResult, ListToolsResult,
    LoggingLevel, LoggingMessageNotificationParam, PaginatedRequestParams,
    ProgressNotificationParam, Reference, ServerCapabilities, ServerConfig, SetLevelRequestParams,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};

use crate::audit::ClientInfo;
use crate::identity::Caller;
use crate::tools::{CallContext, Services};

/// Shared server state; one per session (see [`GitGate::for_session`]).
#[derive(Debug, Clone)]
pub struct GitGate {
    services: Services,
    /// The caller of every request when the transport has no per-request one (stdio).
    fixed_caller: Option<Caller>,
    /// The session's `logging/setLevel` choice.
    level: crate::notify::SessionLevel,
}

impl GitGate {
    pub fn new(services: Services, fixed_caller: Option<Caller>) -> Self {
        Self {
            services,
            fixed_caller,
            level: crate::notify::SessionLevel::default(),
        }
    }

    /// The handler of a new session: the shared services, the session's own state.
    pub fn for_session(&self) -> Self {
        Self {
            services: self.services.clone(),
            fixed_caller: self.fixed_caller.clone(),
            level: crate::notify::SessionLevel::default(),
        }
    }

    /// What a call talks to (see [`crate::notify`]): its cancellation, and, when the client
    /// listens to log messages or asked for progress, a sink and the task forwarding its notes.
    fn call_scope(
        &self,
        ctx: &RequestContext<RoleServer>,
        tool: &str,
    ) -> (crate::notify::Scope, Option<tokio::task::JoinHandle<()>>) {
        // rmcp's client sends a progress token with every request; only the calls that report
        // progress (command lines, pipelines, fetch, pull, push) get a forwarder for it, so a
        // quick call costs no task.
        let progress_token = ctx
            .meta
            .get_progress_token()
            .filter(|_| PROGRESS_TOOLS.contains(&tool));
        let mut scope = crate::notify::Scope {
            sink: None,
            cancel: Some(ctx.ct.clone()),
            progress: progress_token.is_some(),
        };
        if self.level.get().is_none() && progress_token.is_none() {
            return (scope, None);
        }
        let (sink, mut notes) =
            tokio::sync::mpsc::channel::<crate::notify::Note>(crate::notify::NOTES_PER_CALL);
        scope.sink = Some(sink);
        let (peer, level) = (ctx.peer.clone(), self.level.clone());
        let task = tokio::spawn(async move {
            while let Some(note) = notes.recv().await {
                // A client that went away misses its notes; the call goes on.
                match note {
                    crate::notify::Note::Log { level: at, text } if level.wants(at) => {
                        let message = LoggingMessageNotificationParam::new(
                            wire_level(at),
                            serde_json::Value::String(text),
                        )
                        .with_logger("gitgate");
                        let _ = peer.notify_logging_message(message).await;
                    }
                    crate::notify::Note::Progress {
                        done,
                        total,
                        message,
                    } => {
                        if let Some(token) = &progress_token {
                            let mut param = ProgressNotificationParam::new(token.clone(), done)
                                .with_message(message);
                            if let Some(total) = total {
                                param = param.with_total(total);
                            }
                            let _ = peer.notify_progress(param).await;
                        }
                    }
                    crate::notify::Note::Log { .. } => {}
                }
            }
        });
        (scope, Some(task))
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
            scope: crate::notify::Scope::default(),
            trace: ctx.meta.get_traceparent().map(|parent| {
                (
                    parent.to_owned(),
                    ctx.meta.get_tracestate().map(str::to_owned),
                )
            }),
        })
    }
}

const INSTRUCTIONS: &str = "git tools for the configured repositories; arguments mirror git. \
Pass repo when several are configured. json: [fields] returns JSON.";

fn wire_level(level: crate::notify::Level) -> LoggingLevel {
    use crate::notify::Level as L;
    match level {
        L::Debug => LoggingLevel::Debug,
        L::Info => LoggingLevel::Info,
        L::Notice => LoggingLevel::Notice,
        L::Warning => LoggingLevel::Warning,
        L::Error => LoggingLevel::Error,
        L::Critical => LoggingLevel::Critical,
        L::Alert => LoggingLevel::Alert,
        L::Emergency => LoggingLevel::Emergency,
    }
}

fn our_level(level: LoggingLevel) -> crate::notify::Level {
    use crate::notify::Level as L;
    match level {
        LoggingLevel::Debug => L::Debug,
        LoggingLevel::Info => L::Info,
        LoggingLevel::Notice => L::Notice,
        LoggingLevel::Warning => L::Warning,
        LoggingLevel::Error => L::Error,
        LoggingLevel::Critical => L::Critical,
        LoggingLevel::Alert => L::Alert,
        LoggingLevel::Emergency => L::Emergency,
    }
}

/// The tools whose work reports progress (`notify::progress`).
const PROGRESS_TOOLS: &[&str] = &["gitgate", "git_fetch", "git_pull", "git_push"];

/// The transport wired no identity: a server bug, not client input.
fn no_caller() -> McpError {
    McpError::internal_error("no caller identity for this request", None)
}

impl ServerHandler for GitGate {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_logging()
                .enable_completions()
                .enable_prompts()
                .build(),
        )
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
        let mut call_ctx = self.context(&ctx).ok_or_else(no_caller)?;
        let (scope, forwarder) = self.call_scope(&ctx, &request.name);
        call_ctx.scope = scope;
        let result = self
            .services
            .call(&call_ctx, &request.name, request.arguments)
            .await;
        // The call's notes go out before its result: close the sink, let the forwarder drain.
        call_ctx.scope = crate::notify::Scope::default();
        if let Some(task) = forwarder {
            let _ = task.await;
        }
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

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.level.set(our_level(request.level));
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(ListPromptsResult::with_all_items(crate::prompts::list()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        crate::prompts::render(&request.name, request.arguments.as_ref())
            .map(Into::into)
            .map_err(|e| McpError::invalid_params(e.to_string(), None))
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let call_ctx = self.context(&ctx).ok_or_else(no_caller)?;
        // Only prompt arguments are completed: gitgate has no resource templates.
        let Reference::Prompt(prompt) = &request.r#ref else {
            return Ok(CompleteResult::default());
        };
        let resolved = request
            .context
            .and_then(|c| c.arguments)
            .unwrap_or_default();
        let info = crate::completion::complete(
            &self.services,
            &call_ctx,
            &prompt.name,
            &request.argument.name,
            &request.argument.value,
            &resolved,
        )
        .await;
        Ok(CompleteResult::new(info))
    }
}
