//! The server's metrics, served at `/metrics` on the HTTP listener in Prometheus' text format.
//!
//! Names and labels follow Prometheus' conventions (`_total` counters, `_seconds` histograms,
//! base units), and every label takes a bounded set of values: a surface, a method of the API, a
//! status code, a reason, how an answer was computed. The one exception the operator asked for is
//! the organization of a refusal, whose number is that of the platform's customers. No bot, user,
//! session or report id is ever a label.

mod state;

pub(crate) use state::Sources;

use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Which surface a call came through.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub(crate) enum Surface {
    grpc,
    rest,
    flight_sql,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    surface: Surface,
    method: &'static str,
    code: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    surface: Surface,
    method: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    organization: String,
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AnswerLabels {
    served_by: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IngestLabels {
    outcome: &'static str,
}

/// Every metric of one server.
pub struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    call_seconds: Family<MethodLabels, Histogram>,
    admission_wait_seconds: Histogram,
    refusals: Family<RefusalLabels, Counter>,
    answers: Family<AnswerLabels, Counter>,
    ingest_events: Family<IngestLabels, Counter>,
    ingest_bytes: Counter,
    ingest_commits: Counter,
    state: state::StateMetrics,
}

fn seconds() -> Histogram {
    // 1 ms to about 33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("talkhouse");
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "calls",
            "Calls answered, by surface, method and status code",
            calls.clone(),
        );
        let call_seconds =
            Family::<MethodLabels, Histogram>::new_with_constructor(seconds as fn() -> Histogram);
        registry.register(
            "call_duration_seconds",
            "Time from a call's arrival to its answer (to the first batch of a stream)",
            call_seconds.clone(),
        );
        let admission_wait_seconds = seconds();
        registry.register(
            "admission_wait_seconds",
            "Time a query waited for its organization's turn",
            admission_wait_seconds.clone(),
        );
        let refusals = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "refusals",
            "Calls refused before their handler, by organization and reason",
            refusals.clone(),
        );
        let answers = Family::<AnswerLabels, Counter>::default();
        registry.register(
            "answers",
            "Dashboard answers, by what computed them",
            answers.clone(),
        );
        let ingest_events = Family::<IngestLabels, Counter>::default();
        registry.register(
            "ingest_events",
            "Events written through the API: stored, or skipped as duplicates",
            ingest_events.clone(),
        );
        let ingest_bytes = Counter::default();
        registry.register(
            "ingest_request_bytes",
            "Bytes of the ingest requests stored",
            ingest_bytes.clone(),
        );
        let ingest_commits = Counter::default();
        registry.register(
            "ingest_commits",
            "Table commits made by ingest requests",
            ingest_commits.clone(),
        );
        let state = state::StateMetrics::register(&mut registry);
        Arc::new(Self {
            state,
            registry,
            calls,
            call_seconds,
            admission_wait_seconds,
            refusals,
            answers,
            ingest_events,
            ingest_bytes,
            ingest_commits,
        })
    }

    /// Lets the scrape read the server's state (see [`state`]).
    pub(crate) fn attach(&self, sources: Sources) {
        self.state.attach(sources);
    }

    /// The Prometheus text exposition of every metric.
    pub async fn encode(&self) -> String {
        self.state.refresh().await;
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }

    pub(crate) fn call(
        &self,
        surface: Surface,
        method: &'static str,
        code: tonic::Code,
        took: std::time::Duration,
    ) {
        self.calls
            .get_or_create(&CallLabels {
                surface,
                method,
                code: code_name(code),
            })
            .inc();
        self.call_seconds
            .get_or_create(&MethodLabels { surface, method })
            .observe(took.as_secs_f64());
    }

    pub(crate) fn admission_wait(&self, waited: std::time::Duration) {
        self.admission_wait_seconds.observe(waited.as_secs_f64());
    }

    pub(crate) fn refusal(&self, organization: Option<uuid::Uuid>, code: tonic::Code) {
        self.refusals
            .get_or_create(&RefusalLabels {
                organization: organization.map_or_else(|| "unknown".into(), |o| o.to_string()),
                reason: code_name(code),
            })
            .inc();
    }

    pub(crate) fn answer(&self, served_by: &'static str) {
        self.answers
            .get_or_create(&AnswerLabels { served_by })
            .inc();
    }

    pub(crate) fn ingest(&self, stored: u64, duplicates: u64, bytes: u64, commits: u64) {
        self.ingest_events
            .get_or_create(&IngestLabels { outcome: "stored" })
            .inc_by(stored);
        self.ingest_events
            .get_or_create(&IngestLabels {
                outcome: "duplicate",
            })
            .inc_by(duplicates);
        self.ingest_bytes.inc_by(bytes);
        self.ingest_commits.inc_by(commits);
    }
}

/// A gRPC code as a label value: `OK`, `INVALID_ARGUMENT`, …
pub(crate) fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}
