//! Logs and traces. Logs go to stderr as text or as JSON lines (`--log-format json`, for log
//! shippers). Spans go to an OpenTelemetry collector over OTLP/gRPC when the standard variables
//! ask for it (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or
//! `OTEL_TRACES_EXPORTER=otlp`; never with `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`);
//! the exporter reads the rest (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_*`). A caller's W3C `traceparent` is continued.

use opentelemetry::trace::TracerProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::args::LogFormat;

/// What traces talkhouse's own crates record, whatever the log level.
const TRACED: &str = "talkhouse_server=info,talkhouse_query=info,talkhouse_storage=info,talkhouse_reports=info,talkhouse_cli=info";

/// Whether logs are JSON lines, for [`note`], [`warn`] and [`error`].
static JSON_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A line for the operator on stderr: plain text, or a JSON log line among the others.
pub fn note(message: &str) {
    match JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed) {
        true => tracing::info!("{message}"),
        false => eprintln!("{message}"),
    }
}

/// [`note`] at warning level.
pub fn warn(message: &str) {
    match JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed) {
        true => tracing::warn!("{message}"),
        false => eprintln!("{message}"),
    }
}

/// [`note`] at error level: what ended the command.
pub fn error(message: &str) {
    match JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed) {
        true => tracing::error!("{message}"),
        false => eprintln!("{message}"),
    }
}

/// The installed exporter, flushed by [`Telemetry::shutdown`].
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Installs the logger and, when asked for, the trace exporter. Runs within the Tokio runtime
    /// the exporter's gRPC client uses.
    pub fn init(verbose: bool, format: LogFormat) -> Self {
        // The Delta kernel logs "No files in log segment" as an error when a table has no new
        // commits; deltalake handles it, so it is not shown. Its info lines print whole table
        // snapshots.
        let default = if verbose {
            "info,buoyant_kernel=warn,buoyant_kernel::snapshot::builder=off"
        } else {
            "warn,buoyant_kernel::snapshot::builder=off"
        };
        let filter =
            EnvFilter::try_from_env("TALKHOUSE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
        JSON_LOGS.store(
            format == LogFormat::Json,
            std::sync::atomic::Ordering::Relaxed,
        );
        // Operator notes are info events: shown in JSON mode whatever the level.
        let filter = match format {
            LogFormat::Json => {
                filter.add_directive("talkhouse_cli=info".parse().expect("a valid directive"))
            }
            LogFormat::Text => filter,
        };
        let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
        let logs = match format {
            LogFormat::Text => logs.boxed(),
            LogFormat::Json => logs
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .boxed(),
        }
        .with_filter(filter);
        let (traces, exporter_error) = match otlp_requested() {
            false => (None, None),
            true => match otlp_provider() {
                Ok(provider) => (Some(provider), None),
                Err(error) => (None, Some(error)),
            },
        };
        let spans = traces.as_ref().map(|provider| {
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("talkhouse"))
                .with_filter(EnvFilter::new(TRACED))
        });
        tracing_subscriber::registry().with(logs).with(spans).init();
        if let Some(error) = exporter_error {
            tracing::warn!(%error, "traces are not exported: the OTLP exporter could not be set up");
        }
        Self { traces }
    }

    /// Sends the spans still buffered.
    pub fn shutdown(self) {
        if let Some(provider) = self.traces
            && let Err(error) = provider.shutdown()
        {
            eprintln!("warning: the last traces were not all sent: {error}");
        }
    }
}

/// Whether the standard variables ask for OTLP traces.
fn otlp_requested() -> bool {
    let variable = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if variable("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return false;
    }
    match variable("OTEL_TRACES_EXPORTER").as_deref() {
        Some("none") => false,
        Some("otlp") => true,
        _ => {
            variable("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
                || variable("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some()
        }
    }
}

fn otlp_provider() -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(
                    std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "talkhouse".into()),
                )
                .build(),
        )
        .build())
}
