//! The metrics read at each scrape from what the server holds: the indexes' memory, the file
//! cache, what this process did to the table, how far its reader may lag, and the reports.
//!
//! Each scrape takes one reading of those sources; a collector writes the reading out as it is.
//! Totals counted elsewhere are exposed as they are counted there, not copied into counters of
//! their own, so two scrapes at once cannot count anything twice.

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use talkhouse_core::report::ReportStatus;
use talkhouse_query::dashboard::Dashboard;
use talkhouse_reports::{Production, Reports};
use talkhouse_storage::{EventTable, FileCacheCounts, TableActivity};

/// What the scrape reads.
pub(crate) struct Sources {
    pub dashboard: Arc<Dashboard>,
    pub table: Arc<EventTable>,
    pub reports: Arc<Reports>,
}

/// One reading of the sources.
#[derive(Debug, Default)]
struct Reading {
    /// Per index: the memory its rows hold, and the bots forgotten so far.
    indexes: Vec<(&'static str, usize, u64)>,
    file_cache: Option<FileCacheCounts>,
    activity: TableActivity,
    version: u64,
    log_read_age_seconds: f64,
    /// Kept from the last reading that could list them.
    reports: Vec<(ReportStatus, u64)>,
    production: Production,
}

pub(crate) struct StateMetrics {
    sources: OnceLock<Sources>,
    reading: Arc<Mutex<Reading>>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IndexLabels {
    index: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

impl StateMetrics {
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let reading = Arc::new(Mutex::new(Reading::default()));
        registry.register_collector(Box::new(ReadingCollector(reading.clone())));
        Self {
            sources: OnceLock::new(),
            reading,
        }
    }

    pub(crate) fn attach(&self, sources: Sources) {
        let _ = self.sources.set(sources);
    }

    /// Reads every source; the reports, when they cannot be listed, stay as last read.
    pub(crate) async fn refresh(&self) {
        let Some(sources) = self.sources.get() else {
            return;
        };
        // As a request would: the log is read when the last read is older than the interval.
        if let Err(error) = sources.table.latest_version().await {
            tracing::warn!(%error, "the table's log could not be read for /metrics");
        }
        let (version, since_read) = sources.table.followed().await;
        let reports = match sources.reports.states().await {
            Ok(states) => Some(states),
            Err(error) => {
                tracing::warn!(%error, "the reports could not be counted for /metrics");
                None
            }
        };
        let mut reading = self.reading.lock().expect("not poisoned");
        reading.indexes = sources.dashboard.index_memory().to_vec();
        reading.file_cache = sources.table.file_cache_counts();
        reading.activity = sources.table.activity();
        reading.version = version;
        reading.log_read_age_seconds = since_read.as_secs_f64();
        if let Some(reports) = reports {
            reading.reports = reports;
        }
        reading.production = sources.reports.production();
    }
}

/// Writes the last reading out.
#[derive(Debug)]
struct ReadingCollector(Arc<Mutex<Reading>>);

/// One metric of `items`, each with its labels.
fn family<L: EncodeLabelSet, M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    items: &[(L, M)],
) -> fmt::Result {
    let Some((_, first)) = items.first() else {
        return Ok(());
    };
    let mut metric = encoder.encode_descriptor(name, help, None, first.metric_type())?;
    for (labels, value) in items {
        value.encode(metric.encode_family(labels)?)?;
    }
    Ok(())
}

/// One metric without labels.
fn single(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: impl EncodeMetric,
) -> fmt::Result {
    value.encode(encoder.encode_descriptor(name, help, None, value.metric_type())?)
}

fn gauge(value: impl TryInto<i64>) -> ConstGauge<i64> {
    ConstGauge::new(value.try_into().unwrap_or(i64::MAX))
}

impl Collector for ReadingCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let reading = self.0.lock().expect("not poisoned");
        let e = &mut encoder;
        let (bytes, evictions): (Vec<_>, Vec<_>) = reading
            .indexes
            .iter()
            .map(|&(index, bytes, evictions)| {
                let labels = IndexLabels { index };
                (
                    (labels.clone(), gauge(bytes)),
                    (labels, ConstCounter::new(evictions)),
                )
            })
            .unzip();
        family(
            e,
            "index_memory_bytes",
            "Memory the in-memory indexes' rows hold, by index",
            &bytes,
        )?;
        family(
            e,
            "index_evictions",
            "Bots whose index rows were forgotten to stay within the index memory, by index",
            &evictions,
        )?;
        if let Some(cache) = &reading.file_cache {
            family(
                e,
                "file_cache_reads",
                "Reads of data files through the local file cache of a bucket: hit, or miss (downloaded)",
                &[
                    (
                        OutcomeLabels { outcome: "hit" },
                        ConstCounter::new(cache.hits),
                    ),
                    (
                        OutcomeLabels { outcome: "miss" },
                        ConstCounter::new(cache.downloads),
                    ),
                ],
            )?;
            single(
                e,
                "file_cache_evictions",
                "Local copies deleted to stay within the file cache's size",
                ConstCounter::new(cache.evictions),
            )?;
            single(
                e,
                "file_cache_bytes",
                "Size of the local copies in the file cache",
                gauge(cache.bytes),
            )?;
        }
        let activity = &reading.activity;
        single(
            e,
            "commit_conflicts",
            "Batches written again because another writer committed to their bots first",
            ConstCounter::new(activity.commit_conflicts),
        )?;
        let operation = |operation, n: u64| (OperationLabels { operation }, ConstCounter::new(n));
        family(
            e,
            "maintenance_runs",
            "Compactions, vacuums and deletions (erasures, retention) this process ran",
            &[
                operation("compaction", activity.compactions),
                operation("vacuum", activity.vacuums),
                operation("deletion", activity.deletions),
            ],
        )?;
        family(
            e,
            "maintenance_files",
            "Data files compaction rewrote and vacuum deleted",
            &[
                operation("compaction", activity.compacted_files),
                operation("vacuum", activity.vacuumed_files),
            ],
        )?;
        family(
            e,
            "maintenance_bytes",
            "Bytes of the data files compaction rewrote and vacuum deleted",
            &[
                operation("compaction", activity.compacted_bytes),
                operation("vacuum", activity.vacuumed_bytes),
            ],
        )?;
        single(
            e,
            "deleted_sessions",
            "Sessions erased or aged out",
            ConstCounter::new(activity.deleted_sessions),
        )?;
        single(
            e,
            "deleted_messages",
            "Messages erased or aged out",
            ConstCounter::new(activity.deleted_messages),
        )?;
        single(
            e,
            "table_version",
            "The table version the server answers from",
            gauge(reading.version),
        )?;
        single(
            e,
            "log_read_age_seconds",
            "Time since the server last read the table's log: how far its answers may lag other writers",
            ConstGauge::new(reading.log_read_age_seconds),
        )?;
        let reports: Vec<_> = reading
            .reports
            .iter()
            .map(|(status, count)| {
                (
                    StateLabels {
                        state: status.as_str(),
                    },
                    gauge(*count),
                )
            })
            .collect();
        family(e, "reports", "Reports of every bot, by state", &reports)?;
        let production = reading.production;
        family(
            e,
            "reports_finished",
            "Reports this server's workers finished, by outcome",
            &[
                (
                    OutcomeLabels { outcome: "ready" },
                    ConstCounter::new(production.ready),
                ),
                (
                    OutcomeLabels { outcome: "failed" },
                    ConstCounter::new(production.failed),
                ),
            ],
        )?;
        single(
            e,
            "report_production_seconds",
            "Time this server's workers spent making reports (divide by reports_finished_total for the mean)",
            ConstCounter::new(production.seconds),
        )
    }
}
