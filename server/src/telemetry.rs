//! OpenTelemetry traces, off unless the standard `OTEL_*` variables ask for them.
//!
//! With `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, spans go to
//! that collector over OTLP/HTTP (`OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf`, the default,
//! or `http/json`); `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` keep them off;
//! `OTEL_SERVICE_NAME` names the service (default `gitgate`). Each tool call is one span named
//! `tools/call TOOL` carrying the audit event id (`gitgate.audit_event_id`), so a trace joins
//! its audit event; git and GitHub work are its child spans. A `traceparent` in the request's
//! `_meta` (W3C Trace Context, as the MCP specification describes) makes the call's span a child
//! of the client's.
//!
//! Without an exporter no OpenTelemetry layer is installed and the spans are disabled at the
//! `tracing` level (nothing is allocated for them).

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;

/// Why tracing could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("OTEL_EXPORTER_OTLP_PROTOCOL={0} is not supported: use http/protobuf or http/json")]
    Protocol(String),
    #[error("the OTLP exporter could not be built")]
    Exporter(#[source] opentelemetry_otlp::ExporterBuildError),
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Whether the environment asks for traces.
pub fn wanted() -> bool {
    let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || var("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"));
    let endpoint = var("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
        || var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some();
    endpoint && !disabled
}

/// The tracer provider exporting over OTLP, when the environment asks for one. Shut it down
/// at exit so the last spans are sent.
pub fn provider() -> Result<Option<SdkTracerProvider>, Error> {
    if !wanted() {
        return Ok(None);
    }
    let protocol = match var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .as_deref()
    {
        None | Some("http/protobuf") => Protocol::HttpBinary,
        Some("http/json") => Protocol::HttpJson,
        Some(other) => return Err(Error::Protocol(other.to_owned())),
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .build()
        .map_err(Error::Exporter)?;
    let service = var("OTEL_SERVICE_NAME").unwrap_or_else(|| "gitgate".to_owned());
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service)
        .build();
    Ok(Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build(),
    ))
}

/// The `tracing` layer that turns spans into OpenTelemetry spans of `provider`.
pub fn layer<S>(
    provider: &SdkTracerProvider,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer("gitgate"))
}

/// Makes `span` a child of the W3C `traceparent` (and `tracestate`) a client sent, if valid.
pub fn adopt_parent(span: &tracing::Span, traceparent: Option<&str>, tracestate: Option<&str>) {
    use opentelemetry::propagation::TextMapPropagator;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let Some(traceparent) = traceparent else {
        return;
    };
    let mut carrier = std::collections::HashMap::new();
    // Bounded: a header this long is no trace context.
    if traceparent.len() > 128 || tracestate.is_some_and(|s| s.len() > 512) {
        return;
    }
    carrier.insert("traceparent".to_owned(), traceparent.to_owned());
    if let Some(state) = tracestate {
        carrier.insert("tracestate".to_owned(), state.to_owned());
    }
    let cx = opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&carrier);
    // A malformed traceparent extracts to an empty context: the span stays a root.
    let _ = span.set_parent(cx);
}
