//! The metrics read at each scrape from what the server holds: the indexes' memory, the file
//! cache, what this process did to the table, how far its reader may lag, and the reports.
//! Totals kept elsewhere are exposed as counters brought up to them at each scrape.

use std::sync::{Arc, OnceLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use talkhouse_query::dashboard::Dashboard;
use talkhouse_reports::Reports;
use talkhouse_storage::EventTable;

/// What the scrape reads.
pub(crate) struct Sources {
    pub dashboard: Arc<Dashboard>,
    pub table: Arc<EventTable>,
    pub reports: Arc<Reports>,
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

pub(crate) struct StateMetrics {
    sources: OnceLock<Sources>,
    index_bytes: Family<IndexLabels, Gauge>,
    index_evictions: Family<IndexLabels, Counter>,
    file_cache_reads: Family<OutcomeLabels, Counter>,
    file_cache_evictions: Counter,
    file_cache_bytes: Gauge,
    commit_conflicts: Counter,
    maintenance_runs: Family<OperationLabels, Counter>,
    maintenance_files: Family<OperationLabels, Counter>,
    maintenance_bytes: Family<OperationLabels, Counter>,
    deleted_sessions: Counter,
    deleted_messages: Counter,
    table_version: Gauge,
    log_read_age: Gauge<f64, std::sync::atomic::AtomicU64>,
    reports: Family<StateLabels, Gauge>,
    reports_finished: Family<OutcomeLabels, Counter>,
    report_seconds: Counter<f64, std::sync::atomic::AtomicU64>,
}

/// Brings a counter up to a total counted elsewhere.
fn up_to(counter: &Counter, total: u64) {
    let now = counter.get();
    if total > now {
        counter.inc_by(total - now);
    }
}

impl StateMetrics {
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            sources: OnceLock::new(),
            index_bytes: Family::default(),
            index_evictions: Family::default(),
            file_cache_reads: Family::default(),
            file_cache_evictions: Counter::default(),
            file_cache_bytes: Gauge::default(),
            commit_conflicts: Counter::default(),
            maintenance_runs: Family::default(),
            maintenance_files: Family::default(),
            maintenance_bytes: Family::default(),
            deleted_sessions: Counter::default(),
            deleted_messages: Counter::default(),
            table_version: Gauge::default(),
            log_read_age: Gauge::default(),
            reports: Family::default(),
            reports_finished: Family::default(),
            report_seconds: Counter::default(),
        };
        registry.register(
            "index_memory_bytes",
            "Memory the in-memory indexes' rows hold, by index",
            metrics.index_bytes.clone(),
        );
        registry.register(
            "index_evictions",
            "Bots whose index rows were forgotten to stay within the index memory, by index",
            metrics.index_evictions.clone(),
        );
        registry.register(
            "file_cache_reads",
            "Reads of data files through the local file cache of a bucket: hit, or miss (downloaded)",
            metrics.file_cache_reads.clone(),
        );
        registry.register(
            "file_cache_evictions",
            "Local copies deleted to stay within the file cache's size",
            metrics.file_cache_evictions.clone(),
        );
        registry.register(
            "file_cache_bytes",
            "Size of the local copies in the file cache",
            metrics.file_cache_bytes.clone(),
        );
        registry.register(
            "commit_conflicts",
            "Batches written again because another writer committed to their bots first",
            metrics.commit_conflicts.clone(),
        );
        registry.register(
            "maintenance_runs",
            "Compactions, vacuums and deletions (erasures, retention) this process ran",
            metrics.maintenance_runs.clone(),
        );
        registry.register(
            "maintenance_files",
            "Data files compaction rewrote and vacuum deleted",
            metrics.maintenance_files.clone(),
        );
        registry.register(
            "maintenance_bytes",
            "Bytes of the data files compaction rewrote and vacuum deleted",
            metrics.maintenance_bytes.clone(),
        );
        registry.register(
            "deleted_sessions",
            "Sessions erased or aged out",
            metrics.deleted_sessions.clone(),
        );
        registry.register(
            "deleted_messages",
            "Messages erased or aged out",
            metrics.deleted_messages.clone(),
        );
        registry.register(
            "table_version",
            "The table version the server answers from",
            metrics.table_version.clone(),
        );
        registry.register(
            "log_read_age_seconds",
            "Time since the server last read the table's log: how far its answers may lag other writers",
            metrics.log_read_age.clone(),
        );
        registry.register(
            "reports",
            "Reports of every bot, by state",
            metrics.reports.clone(),
        );
        registry.register(
            "reports_finished",
            "Reports this server's workers finished, by outcome",
            metrics.reports_finished.clone(),
        );
        registry.register(
            "report_production_seconds",
            "Time this server's workers spent making reports (divide by reports_finished_total for the mean)",
            metrics.report_seconds.clone(),
        );
        metrics
    }

    pub(crate) fn attach(&self, sources: Sources) {
        let _ = self.sources.set(sources);
    }

    /// Reads every source; a source that cannot be read leaves its metrics as they were.
    pub(crate) async fn refresh(&self) {
        let Some(sources) = self.sources.get() else {
            return;
        };
        for (index, bytes, evictions) in sources.dashboard.index_memory() {
            let labels = IndexLabels { index };
            self.index_bytes
                .get_or_create(&labels)
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
            up_to(&self.index_evictions.get_or_create(&labels), evictions);
        }
        if let Some(cache) = sources.table.file_cache_counts() {
            up_to(
                &self
                    .file_cache_reads
                    .get_or_create(&OutcomeLabels { outcome: "hit" }),
                cache.hits,
            );
            up_to(
                &self
                    .file_cache_reads
                    .get_or_create(&OutcomeLabels { outcome: "miss" }),
                cache.downloads,
            );
            up_to(&self.file_cache_evictions, cache.evictions);
            self.file_cache_bytes
                .set(i64::try_from(cache.bytes).unwrap_or(i64::MAX));
        }
        let activity = sources.table.activity();
        up_to(&self.commit_conflicts, activity.commit_conflicts);
        for (operation, runs, files_and_bytes) in [
            (
                "compaction",
                activity.compactions,
                Some((activity.compacted_files, activity.compacted_bytes)),
            ),
            (
                "vacuum",
                activity.vacuums,
                Some((activity.vacuumed_files, activity.vacuumed_bytes)),
            ),
            ("deletion", activity.deletions, None),
        ] {
            let labels = OperationLabels { operation };
            up_to(&self.maintenance_runs.get_or_create(&labels), runs);
            if let Some((files, bytes)) = files_and_bytes {
                up_to(&self.maintenance_files.get_or_create(&labels), files);
                up_to(&self.maintenance_bytes.get_or_create(&labels), bytes);
            }
        }
        up_to(&self.deleted_sessions, activity.deleted_sessions);
        up_to(&self.deleted_messages, activity.deleted_messages);
        // As a request would: the log is read when the last read is older than the interval.
        if let Err(error) = sources.table.latest_version().await {
            tracing::warn!(%error, "the table's log could not be read for /metrics");
        }
        let (version, since_read) = sources.table.followed().await;
        self.table_version
            .set(i64::try_from(version).unwrap_or(i64::MAX));
        self.log_read_age.set(since_read.as_secs_f64());
        match sources.reports.states().await {
            Ok(states) => {
                for (status, count) in states {
                    self.reports
                        .get_or_create(&StateLabels {
                            state: status.as_str(),
                        })
                        .set(i64::try_from(count).unwrap_or(i64::MAX));
                }
            }
            Err(error) => tracing::warn!(%error, "the reports could not be counted for /metrics"),
        }
        let production = sources.reports.production();
        up_to(
            &self
                .reports_finished
                .get_or_create(&OutcomeLabels { outcome: "ready" }),
            production.ready,
        );
        up_to(
            &self
                .reports_finished
                .get_or_create(&OutcomeLabels { outcome: "failed" }),
            production.failed,
        );
        let seconds = self.report_seconds.get();
        if production.seconds > seconds {
            self.report_seconds.inc_by(production.seconds - seconds);
        }
    }
}
