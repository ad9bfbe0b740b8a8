//! The same questions on an S3-compatible server (moto, started here as the tests start it): the
//! dataset's log and live files are copied into a bucket, a server is started on it with the file
//! cache, and each question is timed warm, beside the local figures of the same run, with the
//! bucket requests per answer counted by moto's request recorder.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use object_store::ObjectStoreExt;
use talkhouse_core::Tenant;
use talkhouse_proto::v1;
use talkhouse_server::ServerConfig;
use talkhouse_storage::{DataLocation, EventTable, FileCacheSettings};

use super::moto::{BUCKET, S3Server};
use super::questions::questions;
use super::{RUNS, percentile, server};

/// A question's warm figures on local disk: (name, p50, p95).
pub struct Local<'a> {
    pub name: &'a str,
    pub p50: f64,
    pub p95: f64,
}

const IDLE_SECONDS: u64 = 5;

pub async fn compare(
    folder: &Path,
    table: &EventTable,
    config: &ServerConfig,
    bot: Tenant,
    until: chrono::NaiveDate,
    local: &[Local<'_>],
) {
    let s3 = S3Server::start();
    let mut location = DataLocation::parse(&format!("s3://{BUCKET}/dataset")).unwrap();
    for (variable, value) in s3.environment() {
        location = location.with_bucket_setting(variable, &value);
    }
    let (files, bytes, seconds) = copy(folder, table, &location).await;
    println!(
        "\non S3 (moto on 127.0.0.1): copied the log and {files} live files, {:.0} MiB, in {seconds:.0} s",
        bytes as f64 / 1048576.0
    );

    s3.record_requests();
    let started = Instant::now();
    let bucket_table = EventTable::open(&location)
        .await
        .unwrap()
        .with_file_cache(&FileCacheSettings {
            bytes: 8 << 30,
            folder: None,
        })
        .unwrap();
    let bucket_table = Arc::new(bucket_table);
    let running = server::start(config, bucket_table.clone()).await;
    let bot_ref = Some(v1::BotRef {
        org_id: bot.org_id.to_string(),
        env_id: bot.env_id.to_string(),
        bot_id: bot.bot_id.to_string(),
    });
    let asked = questions(&running.channel, &bot_ref, until).await;
    (asked[0].call)(running.channel.clone()).await;
    let first_answer = started.elapsed().as_secs_f64();
    let first_requests = s3.recorded_requests().len();
    println!(
        "start to first answer ({}): {first_answer:.2} s, {first_requests} bucket requests (table \
         opened, server started, a one-day search for a session code, the first answer)",
        asked[0].name
    );

    s3.record_requests();
    tokio::time::sleep(Duration::from_secs(IDLE_SECONDS)).await;
    let idle = s3.recorded_requests().len() as f64 / IDLE_SECONDS as f64;
    println!("idle server: {idle:.1} bucket requests/s (log checks, lease, report queue)");

    println!(
        "{:<44} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7} {:>10} {:>10}",
        "question",
        "local50",
        "local95",
        "s3 p50",
        "s3 p95",
        "x p50",
        "x p95",
        "req/answer",
        "served by"
    );
    for (question, local) in asked.iter().zip(local) {
        assert_eq!(question.name, local.name);
        for _ in 0..3 {
            (question.call)(running.channel.clone()).await;
        }
        s3.record_requests();
        let since = Instant::now();
        let mut times = Vec::new();
        let mut served_by = String::new();
        for _ in 0..RUNS {
            let started = Instant::now();
            served_by = (question.call)(running.channel.clone()).await;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let background = idle * since.elapsed().as_secs_f64();
        let requests = (s3.recorded_requests().len() as f64 - background).max(0.0) / RUNS as f64;
        let (p50, p95) = (percentile(&mut times, 0.5), percentile(&mut times, 0.95));
        println!(
            "{:<44} {:>8.2} {:>8.2} {p50:>8.2} {p95:>8.2} {:>6.2}x {:>6.2}x {requests:>10.1} {served_by:>10}",
            question.name,
            local.p50,
            local.p95,
            p50 / local.p50,
            p95 / local.p95,
        );
    }
    if let Some(counts) = bucket_table.file_cache_counts() {
        println!(
            "file cache: {} downloads, {} hits, {} evictions, {:.0} MiB held",
            counts.downloads,
            counts.hits,
            counts.evictions,
            counts.bytes as f64 / 1048576.0
        );
    }
    running.stop().await;
}

/// Copies the table's log and live files into `location`: (files, bytes, seconds).
async fn copy(folder: &Path, table: &EventTable, location: &DataLocation) -> (usize, u64, f64) {
    let started = Instant::now();
    let mut paths: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(folder.join("events/_delta_log")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        paths.push(format!("events/_delta_log/{name}"));
    }
    let live = table.live_file_uris().await.unwrap();
    for uri in &live {
        let start = uri
            .find("/events/")
            .expect("a data file of the events table");
        paths.push(uri[start + 1..].to_string());
    }
    let store = location.object_store().unwrap();
    let copied: Vec<u64> = futures::stream::iter(paths)
        .map(|relative| {
            let (store, folder) = (store.clone(), folder.to_path_buf());
            async move {
                let bytes = tokio::fs::read(folder.join(&relative)).await.unwrap();
                let size = bytes.len() as u64;
                store
                    .put(&relative.as_str().into(), bytes.into())
                    .await
                    .unwrap();
                size
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    (
        live.len(),
        copied.iter().sum(),
        started.elapsed().as_secs_f64(),
    )
}
