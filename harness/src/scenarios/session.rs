//! One user's MCP session with gitgate over Streamable HTTP, authenticated with that user's own
//! gitgate token.

use anyhow::{Context, Result};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ContentBlock};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::Value;

/// What one tool call did, as the agent would see it.
#[derive(Debug, Clone)]
pub struct Called {
    /// The call returned a result without `isError`.
    pub ok: bool,
    /// The result text, or the transport's error (e.g. the 401 after revocation).
    pub text: String,
}

/// A connected user.
pub struct UserSession {
    client: rmcp::service::RunningService<rmcp::RoleClient, ()>,
}

impl UserSession {
    pub async fn connect(url: &str, user: &str, token: &str) -> Result<Self> {
        let config =
            StreamableHttpClientTransportConfig::with_uri(url.to_owned()).auth_header(token);
        let client =
            ().serve(StreamableHttpClientTransport::from_config(config))
                .await
                .with_context(|| format!("MCP over HTTP as {user}"))?;
        Ok(Self { client })
    }

    /// Calls `tool`; a refused request (401, 403) or a transport failure is a failed call, not
    /// an error of the scenario: losing access is what some scenarios measure.
    pub async fn call(&self, tool: &str, args: &Value) -> Called {
        let arguments = args.as_object().cloned().unwrap_or_default();
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        match self.client.call_tool(params).await {
            Ok(result) => {
                let text = result
                    .content
                    .iter()
                    .filter_map(|c| match c {
                        ContentBlock::Text(t) => Some(t.text.as_str()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                Called {
                    ok: result.is_error != Some(true),
                    text,
                }
            }
            Err(e) => Called {
                ok: false,
                text: format!("{e:#}"),
            },
        }
    }

    pub async fn close(self) {
        let _ = self.client.cancel().await;
    }
}
