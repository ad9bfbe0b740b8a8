//! A caller's W3C trace context (`traceparent`, `tracestate` in gRPC metadata or HTTP headers),
//! continued by the span of its call. Without a propagator installed (no trace exporter), nothing
//! is read.

use http::HeaderMap;
use opentelemetry::propagation::Extractor;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The headers a caller's trace context travels in, forwarded from REST to gRPC.
pub(crate) const TRACE_HEADERS: [&str; 2] = ["traceparent", "tracestate"];

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

/// Makes `span` a child of the caller's span, when the headers name one.
pub(crate) fn continue_callers_trace(span: &tracing::Span, headers: &HeaderMap) {
    if !TRACE_HEADERS.iter().any(|name| headers.contains_key(*name)) {
        return;
    }
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&Headers(headers))
    });
    // Fails only when the span is disabled (no trace exporter): nothing to continue then.
    let _ = span.set_parent(parent);
}
