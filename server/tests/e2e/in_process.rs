//! The library entry (`gitgate::server::run`): a whole server started inside the test process
//! on a real TCP socket, served to a real MCP client, and stopped through its shutdown future.

use std::time::Duration;

use gitgate::audit::AuthMethod;
use gitgate::config::RepoEntry;
use gitgate::identity::Caller;
use gitgate::policy::{Grants, Principal, Scope};
use gitgate::server::{AuditSetup, HttpSetup, Listener, Setup, run};
use gitgate::tools::Catalogue;
use gitgate::transport::{connections, http, throttle};
use rmcp::model::CallToolRequestParams;

use crate::harness::{Env, text};

fn setup(env: &Env) -> Setup {
    let limits = http::Limits {
        failures: throttle::Rate {
            per_minute: 20,
            burst: 20,
        },
        initialize: throttle::Rate {
            per_minute: 10,
            burst: 10,
        },
        sessions_per_user: 32,
        connections: connections::Limits {
            max_total: 64,
            max_per_address: 16,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(30),
        },
    };
    Setup {
        repos: vec![RepoEntry {
            name: "app".into(),
            path: env.repo.path().to_owned(),
        }],
        state: env.state(),
        catalogue: Catalogue::new(),
        github: None,
        read_only: false,
        protect: Vec::new(),
        rate_limit: None,
        call_slots: (8, 64),
        local: Caller {
            identity: gitgate::git::Identity {
                name: "Local".into(),
                email: "local@example.com".into(),
            },
            auth: AuthMethod::Local,
            principal: Principal {
                user: "local".into(),
                scopes: [Scope::Admin].into_iter().collect(),
                grants: Grants::all(),
                rate_limit_per_minute: None,
            },
        },
        audit: AuditSetup::default(),
        http: HttpSetup {
            no_auth: true,
            resource_url: None,
            jwt: None,
            authorization_servers: Vec::new(),
            allowed_hosts: http::loopback_hosts(),
            allowed_origins: http::loopback_origins(),
            limits,
            metrics_listen: None,
            metrics_token: None,
        },
    }
}

#[tokio::test]
async fn a_server_runs_in_process_on_real_tcp_and_stops_when_told() {
    let env = Env::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(run(setup(&env), Listener::Http(listener), async {
        let _ = stopped.await;
    }));
    let config =
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(url);
    let client = rmcp::ServiceExt::serve(
        (),
        rmcp::transport::StreamableHttpClientTransport::from_config(config),
    )
    .await
    .unwrap();
    let result = client
        .call_tool(CallToolRequestParams::new("git_status"))
        .await
        .unwrap();
    assert!(text(&result).starts_with("## main"), "{}", text(&result));
    drop(client);
    stop.send(()).unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(60), server)
        .await
        .expect("the server stops after its shutdown future resolves")
        .unwrap();
    assert!(ended.is_ok(), "{ended:?}");
    // Its call was audited like any other.
    let events = env.audit().await;
    assert!(
        events
            .iter()
            .any(|e| e.tool == "git_status" && e.decision.allowed)
    );
}
