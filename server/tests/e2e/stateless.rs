//! Protocol 2026-07-28 beside 2025-11-25 (issue "The current protocol", item 2): no
//! `initialize`, no session; every request carries its protocol version and the caller's token,
//! so any replica can answer it.

use rmcp::model::ProtocolVersion;
use rmcp::service::{ClientLifecycleMode, serve_client_with_lifecycle};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::json;

use crate::harness::{Env, spawn_http, text};

async fn stateless_client(
    url: &str,
    token: &str,
) -> rmcp::service::RunningService<rmcp::RoleClient, ()> {
    let config =
        StreamableHttpClientTransportConfig::with_uri(url.to_owned()).auth_header(token.to_owned());
    serve_client_with_lifecycle(
        (),
        StreamableHttpClientTransport::from_config(config),
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2026_client_calls_tools_without_a_session() {
    let env = Env::new();
    let token = env.user("alice", "git:read", &["app"]).await;
    let server = spawn_http(&env, &[]);
    let client = stateless_client(&server.url, &token).await;
    assert_eq!(
        client.peer_info().unwrap().protocol_version,
        ProtocolVersion::V_2026_07_28
    );
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "git_status"));
    let r = client
        .call_tool(
            rmcp::model::CallToolRequestParams::new("git_log")
                .with_arguments(json!({"max_count": 1}).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    assert!(text(&r).contains("second commit"), "{}", text(&r));

    // A 2025-11-25 client of the same server still gets a session, negotiated per client.
    let legacy = crate::harness::connect_http(&server.url, &token)
        .await
        .unwrap();
    assert_eq!(
        legacy.peer_info().unwrap().protocol_version,
        ProtocolVersion::V_2025_11_25
    );
    let r = legacy
        .call_tool(rmcp::model::CallToolRequestParams::new("git_status"))
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    let events = env.audit().await;
    let session_of = |tool: &str| {
        events
            .iter()
            .find(|e| e.tool == tool)
            .map(|e| e.session.clone())
            .unwrap()
    };
    assert_eq!(session_of("git_log"), None, "{events:?}");
    assert!(session_of("git_status").is_some(), "{events:?}");
}

/// A round-robin HTTP proxy with no session affinity: each request goes to the next backend,
/// whatever headers it carries. Counts what each backend served.
struct RoundRobin {
    url: String,
    served: std::sync::Arc<[std::sync::atomic::AtomicUsize; 2]>,
    _task: tokio::task::JoinHandle<()>,
}

async fn round_robin(backends: [String; 2]) -> RoundRobin {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let served: std::sync::Arc<[AtomicUsize; 2]> =
        std::sync::Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let next = std::sync::Arc::new(AtomicUsize::new(0));
    let http = reqwest::Client::new();
    let state = (backends, served.clone(), next, http);
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (backends, served, next, http) = state.clone();
        async move {
            let i = next.fetch_add(1, Ordering::SeqCst) % 2;
            served[i].fetch_add(1, Ordering::SeqCst);
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, 8 << 20).await.unwrap();
            let target = format!(
                "{}{}",
                backends[i].trim_end_matches("/mcp"),
                parts.uri.path_and_query().map_or("/", |p| p.as_str())
            );
            let mut forward = http.request(parts.method.clone(), target).body(body);
            for (name, value) in &parts.headers {
                if name != "host" && name != "content-length" {
                    forward = forward.header(name, value);
                }
            }
            let answer = forward.send().await.unwrap();
            let mut response = axum::response::Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                if name != "content-length" && name != "transfer-encoding" {
                    response = response.header(name, value);
                }
            }
            response
                .body(axum::body::Body::from(answer.bytes().await.unwrap()))
                .unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    RoundRobin {
        url,
        served,
        _task: task,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgres_serve_one_client_with_no_affinity() {
    let Some(schema) = crate::replicas::PgSchema::new().await else {
        return;
    };
    let env = Env::new();
    let url = schema.url();
    let (store, tokens) = schema.store_with_readers(&["alice"]).await;
    let token = &tokens[0];
    let one = spawn_http(&env, &["--store", &url]);
    let two = spawn_http(&env, &["--store", &url]);
    let proxy = round_robin([one.url.clone(), two.url.clone()]).await;

    let client = stateless_client(&proxy.url, token).await;
    for n in 1..=4 {
        let r = client
            .call_tool(
                rmcp::model::CallToolRequestParams::new("git_log")
                    .with_arguments(json!({"max_count": n % 2 + 1}).as_object().unwrap().clone()),
            )
            .await
            .unwrap();
        assert_ne!(r.is_error, Some(true), "call {n}: {}", text(&r));
    }
    let served = [0, 1].map(|i| proxy.served[i].load(std::sync::atomic::Ordering::SeqCst));
    assert!(served[0] >= 2 && served[1] >= 2, "{served:?}");

    // Every call is one event, whichever replica took it, in one chain that verifies.
    let key = env.state().audit_key().unwrap();
    let log = gitgate::audit::Log::new(store);
    let events = log
        .query(&gitgate::audit::AuditFilter::default())
        .await
        .unwrap();
    let calls: Vec<_> = events
        .iter()
        .filter(|e| e.event.tool == "git_log")
        .collect();
    assert_eq!(calls.len(), 4);
    let instances: std::collections::HashSet<_> =
        calls.iter().map(|e| e.event.instance.clone()).collect();
    assert_eq!(instances.len(), 2, "both replicas served calls");
    assert!(
        calls.iter().all(|e| e.event.session.is_none()),
        "no session: {calls:?}"
    );
    let report = log.verify(&key, None).await.unwrap();
    assert!(report.first_bad.is_none(), "{:?}", report.first_bad);
}
