//! What operators run gitgate with (issue "The current protocol", item 3): liveness and
//! readiness probes, and Prometheus metrics that count what happened, read back by a
//! Prometheus text parser. `/metrics` never reaches MCP clients without the metrics token.

use serde_json::{Value, json};

use crate::harness::{Env, connect_http, spawn_http, text};

/// Reads an OpenMetrics answer the way a scraper does.
fn scrape(body: &str) -> prometheus_parse::Scrape {
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

/// The value of `metric` with exactly these labels (among its others), if present.
fn value(scrape: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .find(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            prometheus_parse::Value::Summary(_) => f64::NAN,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_and_metrics_count_calls_refusals_and_sessions() {
    let env = Env::new();
    let token_file = env.data.path().join("metrics.token");
    std::fs::write(&token_file, "metrics-token-0123456789\n").unwrap();
    let token_arg = token_file.display().to_string();
    let server = spawn_http(
        &env,
        &[
            "--metrics-listen",
            "127.0.0.1:0",
            "--metrics-token-file",
            &token_arg,
        ],
    );
    let metrics_url = server
        .startup
        .iter()
        .find_map(|l| l.strip_prefix("gitgate: metrics at "))
        .expect("the metrics address is printed")
        .trim()
        .to_owned();
    let base = server.url.trim_end_matches("/mcp").to_owned();
    let http = reqwest::Client::new();

    // Probes on the MCP listener, no token needed.
    let live = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["ready"], true, "{ready}");
    assert_eq!(ready["store"], "ok", "{ready}");
    assert_eq!(ready["audit"], "ok", "{ready}");

    // /metrics is not there for MCP clients: absent without the token, or with a wrong one.
    let get = |url: String, bearer: Option<&str>| {
        let mut req = http.get(url);
        if let Some(b) = bearer {
            req = req.header("Authorization", format!("Bearer {b}"));
        }
        req.send()
    };
    assert_eq!(
        get(format!("{base}/metrics"), None).await.unwrap().status(),
        404
    );
    let mcp_token = env.user("alice", "git:read", &["app"]).await;
    assert_eq!(
        get(format!("{base}/metrics"), Some(&mcp_token))
            .await
            .unwrap()
            .status(),
        404
    );

    // Some work: two allowed calls, one denied by policy, one unknown tool, one bad token.
    let alice = connect_http(&server.url, &mcp_token).await.unwrap();
    let call = |name: &str, args: Value| {
        alice.call_tool(
            rmcp::model::CallToolRequestParams::new(name.to_owned())
                .with_arguments(args.as_object().unwrap().clone()),
        )
    };
    for _ in 0..2 {
        let r = call("git_status", json!({})).await.unwrap();
        assert_ne!(r.is_error, Some(true), "{}", text(&r));
    }
    let denied = call("git_commit", json!({"message": "x"})).await.unwrap();
    assert_eq!(denied.is_error, Some(true));
    assert!(call("no_such_tool", json!({})).await.is_err());
    let refused = http
        .post(&server.url)
        .header("Authorization", "Bearer not-a-token")
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    let answer = get(metrics_url.clone(), None).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(
        answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{:?}",
        answer.headers()
    );
    let body = answer.text().await.unwrap();
    let m = scrape(&body);
    let calls = |tool: &str, outcome: &str, decision: &str| {
        value(
            &m,
            "gitgate_tool_calls_total",
            &[("tool", tool), ("outcome", outcome), ("decision", decision)],
        )
    };
    assert_eq!(calls("git_status", "ok", "allowed"), Some(2.0), "{body}");
    assert_eq!(calls("git_commit", "error", "denied"), Some(1.0), "{body}");
    assert_eq!(calls("unknown", "error", "denied"), Some(1.0), "{body}");
    assert!(
        !body.contains("no_such_tool"),
        "a caller's text became a label:\n{body}"
    );
    assert_eq!(
        value(
            &m,
            "gitgate_tool_calls_denied_total",
            &[("reason", "denied:missing-scope")]
        ),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        value(&m, "gitgate_tool_call_seconds", &[("tool", "git_status")]),
        Some(2.0),
        "{body}"
    );
    assert!(
        value(&m, "gitgate_http_refused_total", &[]).is_some_and(|v| v >= 1.0),
        "{body}"
    );
    assert_eq!(value(&m, "gitgate_sessions", &[]), Some(1.0), "{body}");
    assert!(
        value(&m, "gitgate_audit_spool_lag", &[]).is_some(),
        "{body}"
    );

    // The same text on the MCP listener for the metrics token.
    let guarded = get(format!("{base}/metrics"), Some("metrics-token-0123456789"))
        .await
        .unwrap();
    assert_eq!(guarded.status(), 200);
    let again = scrape(&guarded.text().await.unwrap());
    let labels = [
        ("tool", "git_status"),
        ("outcome", "ok"),
        ("decision", "allowed"),
    ];
    assert_eq!(
        value(&again, "gitgate_tool_calls_total", &labels),
        Some(2.0)
    );
}

/// Every OTLP/JSON export request an in-test collector received.
type Exports = std::sync::Arc<std::sync::Mutex<Vec<Value>>>;

async fn collector() -> (String, Exports) {
    let got: Exports = Default::default();
    let store = got.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let store = store.clone();
            async move {
                if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                    store.lock().unwrap().push(v);
                }
                ([("content-type", "application/json")], "{}")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, got)
}

/// The spans exported so far, flattened.
fn spans(exports: &Exports) -> Vec<Value> {
    let mut out = Vec::new();
    for export in exports.lock().unwrap().iter() {
        for rs in export["resourceSpans"].as_array().into_iter().flatten() {
            for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                out.extend(ss["spans"].as_array().into_iter().flatten().cloned());
            }
        }
    }
    out
}

fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?["value"]["stringValue"]
        .as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_call_is_a_span_joined_to_its_audit_event_and_to_the_clients_trace() {
    let (endpoint, exports) = collector().await;
    let env = Env::new();
    let token = env.user("alice", "git:read", &["app"]).await;
    let server = crate::harness::spawn_http_with_vars(
        &env,
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ],
    );
    let client = connect_http(&server.url, &token).await.unwrap();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_id = "00f067aa0ba902b7";
    let mut meta = rmcp::model::RequestMetaObject::default();
    meta.0
        .set_traceparent(format!("00-{trace_id}-{parent_id}-01"));
    let mut params = rmcp::model::CallToolRequestParams::new("git_log")
        .with_arguments(json!({"max_count": 1}).as_object().unwrap().clone());
    params.meta = Some(meta);
    let r = client.call_tool(params).await.unwrap();
    assert_ne!(r.is_error, Some(true), "{}", text(&r));

    // Exported in batches every 50 ms: wait (bounded) for the call's span and its child.
    let (tool, git) = {
        let mut found = None;
        for _ in 0..100 {
            let all = spans(&exports);
            let tool = all
                .iter()
                .find(|s| s["name"] == "tools/call git_log")
                .cloned();
            if let Some(tool) = tool {
                let git = all
                    .iter()
                    .find(|s| s["name"] == "git" && s["parentSpanId"] == tool["spanId"])
                    .cloned();
                if let Some(git) = git {
                    found = Some((tool, git));
                    break;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        found.expect("the tool span and its git child were exported")
    };
    assert_eq!(tool["traceId"], trace_id, "{tool}");
    assert_eq!(tool["parentSpanId"], parent_id, "{tool}");
    assert_eq!(git["traceId"], trace_id, "{git}");
    let events = env.audit().await;
    let event = events.iter().find(|e| e.tool == "git_log").unwrap();
    assert_eq!(
        attribute(&tool, "gitgate.audit_event_id"),
        Some(event.id.as_str()),
        "{tool}"
    );
    assert_eq!(attribute(&tool, "gitgate.user"), Some("alice"), "{tool}");
}
