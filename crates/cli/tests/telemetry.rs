//! Traces and JSON logs of `talkhouse serve`. A small OTLP receiver (opentelemetry-proto's gRPC
//! trace service, served by this process on 127.0.0.1:0) receives the spans of known calls, each
//! continuing the trace the caller's `traceparent` named, over gRPC and over REST.
//! `--log-format json` writes only JSON objects, one per line.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use rand::RngExt;
use talkhouse_proto::v1;

use crate::auth::{BOT, ENV, ORG};
use crate::support::{
    Clients, bot_ref, days, serve_on_any_port, spawn_serve, spawn_serve_with_http, with_fixture,
};

/// Every span exported to it.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Receiver {
    /// Serves the receiver on 127.0.0.1:0; its address.
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let service = TraceServiceServer::new(self.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        format!("http://{address}")
    }

    /// The spans of `trace`, by name.
    fn of_trace(&self, trace: &[u8; 16]) -> HashMap<String, Vec<Span>> {
        let mut named: HashMap<String, Vec<Span>> = HashMap::new();
        for span in self.spans.lock().unwrap().iter() {
            if span.trace_id == trace {
                named
                    .entry(span.name.clone())
                    .or_default()
                    .push(span.clone());
            }
        }
        named
    }
}

/// The text or integer value of a span's attribute.
fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| {
        match a.value.as_ref()?.value.as_ref()? {
            AnyValue::StringValue(text) => Some(text.clone()),
            AnyValue::IntValue(n) => Some(n.to_string()),
            other => Some(format!("{other:?}")),
        }
    })
}

/// A W3C `traceparent` for `trace` and the caller's span `parent`, sampled.
fn traceparent(trace: &[u8; 16], parent: &[u8; 8]) -> String {
    format!("00-{}-{}-01", hex(trace), hex(parent))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn spans_reach_an_otlp_collector_in_the_callers_trace() {
    let receiver = Receiver::default();
    let endpoint = receiver.start().await;
    let data = with_fixture();
    let (mut server, grpc, http) = spawn_serve_with_http(
        serve_on_any_port(&data)
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .env("OTEL_SERVICE_NAME", "talkhouse-test"),
    );
    let mut c = Clients::connect_to(&grpc).await;
    let mut rng = rand::rng();
    let mut ids = || (rng.random::<[u8; 16]>(), rng.random::<[u8; 8]>());
    let (grpc_trace, grpc_parent) = ids();
    let (rest_trace, rest_parent) = ids();
    let (ingest_trace, ingest_parent) = ids();

    let mut request = tonic::Request::new(v1::AnalyticsRequest {
        bot: bot_ref(ORG, ENV, BOT),
        filter: Some(days("2024-03-01", "2024-03-31", "Europe/Berlin")),
    });
    request.metadata_mut().insert(
        "traceparent",
        traceparent(&grpc_trace, &grpc_parent).parse().unwrap(),
    );
    c.analytics.get_message_traffic(request).await.unwrap();

    let rest = reqwest::Client::new()
        .get(format!(
            "{http}/org/{ORG}/env/{ENV}/bot/{BOT}/conversations?startDate=2024-03-01&endDate=2024-03-31&timezone=UTC"
        ))
        .header("traceparent", traceparent(&rest_trace, &rest_parent))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status().as_u16(), 200);

    let mut request = tonic::Request::new(crate::auth::methods::ingest_request(BOT));
    request.metadata_mut().insert(
        "traceparent",
        traceparent(&ingest_trace, &ingest_parent).parse().unwrap(),
    );
    c.ingest.write_events(request).await.unwrap();

    let complete = |trace: &[u8; 16], names: &[&str]| {
        let spans = receiver.of_trace(trace);
        names.iter().all(|name| spans.contains_key(*name))
    };
    for _ in 0..200 {
        if complete(&grpc_trace, &["call", "admission"])
            && complete(&rest_trace, &["call", "admission", "execution"])
            && complete(&ingest_trace, &["call", "commit"])
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();

    let grpc_spans = receiver.of_trace(&grpc_trace);
    let call = &grpc_spans.get("call").expect("the gRPC call's span")[0];
    assert_eq!(
        call.parent_span_id, grpc_parent,
        "the call continues the caller's span"
    );
    assert_eq!(attribute(call, "bot_id").as_deref(), Some(BOT));
    assert_eq!(attribute(call, "org_id").as_deref(), Some(ORG));
    assert_eq!(attribute(call, "code").as_deref(), Some("OK"));
    let admission = &grpc_spans.get("admission").expect("an admission span")[0];
    assert_eq!(admission.parent_span_id, call.span_id);
    assert!(
        grpc_spans.contains_key("index") || grpc_spans.contains_key("execution"),
        "the answer's work is traced: {:?}",
        grpc_spans.keys().collect::<Vec<_>>()
    );

    let rest_spans = receiver.of_trace(&rest_trace);
    let call = &rest_spans.get("call").expect("the REST call's span")[0];
    assert_eq!(call.parent_span_id, rest_parent);
    assert_eq!(attribute(call, "surface").as_deref(), Some("rest"));
    let execution = &rest_spans
        .get("execution")
        .unwrap_or_else(|| panic!("a query's execution: {:?}", rest_spans.keys()))[0];
    assert!(attribute(execution, "rows").is_some());
    assert!(attribute(execution, "bytes_scanned").is_some());
    assert!(rest_spans.contains_key("planning"));

    let ingest_spans = receiver.of_trace(&ingest_trace);
    let commit = &ingest_spans.get("commit").expect("the commit's span")[0];
    assert_eq!(attribute(commit, "events").as_deref(), Some("1"));
    assert!(attribute(commit, "version").is_some());
}

#[test]
fn json_logs_are_one_object_per_line() {
    let data = with_fixture();
    let (mut server, address) = spawn_serve(
        serve_on_any_port(&data)
            .args(["--log-format", "json", "--verbose"])
            .stderr(std::process::Stdio::piped()),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut c = Clients::connect_to(&address).await;
        c.summary(bot_ref(ORG, ENV, BOT)).await;
    });
    // SIGTERM: the server stops and says so.
    std::process::Command::new("kill")
        .arg(server.id().to_string())
        .status()
        .unwrap();
    server.wait().unwrap();
    let mut stderr = String::new();
    server
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 3, "{stderr}");
    for line in &lines {
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(
            object["timestamp"].is_string() && object["level"].is_string(),
            "{line}"
        );
    }
    assert!(stderr.contains("authentication is DISABLED"));
    assert!(stderr.contains("talkhouse stopped"));

    // What ends a command is a JSON line too.
    let failed = crate::support::run(crate::support::talkhouse(&data).args([
        "--log-format",
        "json",
        "retain",
        "--config",
        "/no/such/file",
    ]));
    assert!(!failed.status.success());
    let line: serde_json::Value =
        serde_json::from_slice(failed.stderr.trim_ascii()).expect("one JSON line");
    assert_eq!(line["level"], "ERROR");
    assert!(
        line["message"].as_str().unwrap().contains("/no/such/file"),
        "{line}"
    );
}
