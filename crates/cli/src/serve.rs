//! `talkhouse serve`: the gRPC server, until SIGINT or SIGTERM.

use std::sync::Arc;

use std::time::Duration;

use talkhouse_core::report::{ReportPolicy, ReportRules};
use talkhouse_server::{Authentication, QueryLimits, ReportSettings, Server, ServerConfig};
use talkhouse_storage::{DataLocation, EventTable, FileCacheSettings};

use crate::args::{ReportArgs, ServeArgs};
use crate::{CliError, demo};

pub async fn run(data: &DataLocation, args: ServeArgs) -> Result<(), CliError> {
    let authentication = crate::auth::authentication(&args.auth)?;
    let mut table = EventTable::open(data).await?;
    if let Some(milliseconds) = args.log_check_interval_ms {
        table = table.with_log_check_interval(Duration::from_millis(milliseconds));
    }
    if args.file_cache_mib > 0 {
        table = table.with_file_cache(&FileCacheSettings {
            bytes: args.file_cache_mib.saturating_mul(1024 * 1024),
            folder: args.file_cache_dir.clone(),
        })?;
    }
    let table = Arc::new(table);
    if !args.no_demo {
        demo::create_if_empty(&table).await?;
    }
    let mut config = ServerConfig::new(args.listen, authentication);
    config.http_listen = crate::args::HttpListen::address(args.http_listen, args.listen);
    config.services.limits.max_range_days = args.limits.max_range_days;
    config.services.limits.max_page_size = args.limits.max_page_size;
    config.services.limits.default_page_size = config
        .services
        .limits
        .default_page_size
        .min(args.limits.max_page_size);
    config.services.reports = report_policy(&args.reports)?;
    config.reports = ReportSettings {
        workers: args.reports.report_workers as usize,
        max_unfinished: args.reports.max_unfinished_reports as usize,
        max_unfinished_per_org: args.reports.max_unfinished_reports_per_org as usize,
        time_to_live: Duration::from_secs(args.reports.report_ttl_hours * 3600),
        poll_interval: Duration::from_millis(args.reports.report_poll_interval_ms),
        lease_term: Duration::from_secs(args.reports.report_lease_seconds),
        ..ReportSettings::default()
    };
    let limits = &args.query_limits;
    config.limits = QueryLimits {
        default_timeout: Duration::from_secs(limits.query_timeout_seconds),
        max_timeout: Duration::from_secs(limits.max_query_timeout_seconds),
        max_concurrent: limits.max_concurrent_queries,
        max_concurrent_per_tenant: limits.max_queries_per_tenant,
        max_running_per_tenant: limits.max_running_queries_per_tenant as usize,
        max_request_bytes: limits.max_request_kib.saturating_mul(1024),
        max_ingest_bytes: limits.max_ingest_mib.saturating_mul(1024 * 1024),
    };
    config.query_memory_limit = Some(limits.query_memory_mib.saturating_mul(1024 * 1024));
    config.index_memory_limit = limits.index_memory_mib.saturating_mul(1024 * 1024);
    config.use_rollups = !args.no_rollups;
    config.jwks_refresh_interval = std::time::Duration::from_secs(args.auth.jwks_refresh_seconds);
    if args.compact_interval_seconds > 0 {
        crate::compact::spawn_background(
            data,
            table.clone(),
            Duration::from_secs(args.compact_interval_seconds),
            args.compact_min_files as usize,
        )?;
    }
    if args.vacuum_interval_seconds > 0 {
        crate::vacuum::spawn_background(
            data,
            table.clone(),
            Duration::from_secs(args.vacuum_interval_seconds),
            Duration::from_secs(args.vacuum_retention_hours.saturating_mul(3600)),
        )?;
    }
    if let Some(path) = &args.retention_config {
        crate::retain::spawn_background(
            data,
            table.clone(),
            Duration::from_secs(args.retention_interval_seconds),
            crate::retain::load(path)?,
        )?;
    }
    let server = Server::bind(&config, table)
        .await
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let address = server.local_addr()?;
    if matches!(
        config.authentication,
        Authentication::DisabledForDevelopment
    ) {
        crate::telemetry::warn(
            "WARNING: authentication is DISABLED (--dev-no-auth): every caller on this machine \
             may read and write every bot. Never use this outside development.",
        );
        tracing::warn!(%address, "serving without authentication");
    }
    // Tests and scripts read the first line to learn the port chosen for :0. Both lines go out
    // in one write, and a reader that stopped reading is no error.
    let http = server
        .local_http_addr()
        .map(|http| format!("talkhouse HTTP on http://{http}\n"))
        .unwrap_or_default();
    let lines = format!("talkhouse listening on {address}\n{http}");
    let mut stdout = std::io::stdout().lock();
    let _ = std::io::Write::write_all(&mut stdout, lines.as_bytes());
    let _ = std::io::Write::flush(&mut stdout);
    drop(stdout);
    crate::telemetry::note(&format!("data: {}", data.root()));
    server.serve(shutdown_signal()).await?;
    crate::telemetry::note("talkhouse stopped");
    Ok(())
}

/// The flags' rules, replaced by the report config file where it speaks.
fn report_policy(args: &ReportArgs) -> Result<ReportPolicy, CliError> {
    let flags = ReportRules {
        max_sample: args.report_max_sample,
        export_types: args.report_export_types.clone(),
    };
    let policy = match &args.report_config {
        None => ReportPolicy {
            default: flags,
            ..ReportPolicy::default()
        },
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                CliError::Usage(format!(
                    "cannot read --report-config {}: {e}",
                    path.display()
                ))
            })?;
            let invalid = |e: &dyn std::fmt::Display| {
                CliError::Usage(format!("--report-config {}: {e}", path.display()))
            };
            let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| invalid(&e))?;
            let has_default = json.get("default").is_some();
            let mut policy: ReportPolicy = serde_json::from_value(json).map_err(|e| invalid(&e))?;
            if !has_default {
                policy.default = flags;
            }
            policy
        }
    };
    policy
        .validate()
        .map_err(|e| CliError::Usage(format!("report rules: {e}")))?;
    Ok(policy)
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
