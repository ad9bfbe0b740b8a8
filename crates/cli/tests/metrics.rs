//! `/metrics` on the HTTP listener after known traffic: Prometheus' own Python parser
//! (`prometheus-client` from PyPI) reads the exposition, and each count is what was sent.

use serde_json::Value;
use talkhouse_core::access::Scope;
use talkhouse_proto::v1;
use talkhouse_server::auth::TokenClaims;

use crate::auth::methods::ingest_request;
use crate::auth::{BOT, ENV, ORG, SIBLING_BOT, authed, hs256_config, mint};
use crate::support::*;

/// Every sample of the exposition, parsed by Prometheus' Python client: `[name, labels, value]`.
fn samples(exposition: &str) -> Vec<Value> {
    let script = format!(
        r#"
import json
from prometheus_client.parser import text_string_to_metric_families
samples = []
for family in text_string_to_metric_families({exposition:?}):
    for sample in family.samples:
        samples.append([sample.name, sample.labels, sample.value])
print(json.dumps(samples))
"#
    );
    serde_json::from_str(&python::run(&python::site("prometheus"), &script)).unwrap()
}

/// The value of the sample `name` whose labels include `labels`; 0 when there is none.
fn value(samples: &[Value], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s[0] == name)
        .filter(|s| labels.iter().all(|(k, v)| s[1][*k] == *v))
        .map(|s| s[2].as_f64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_the_traffic_sent() {
    let data = with_fixture();
    let mut config = hs256_config();
    config.http_listen = Some("127.0.0.1:0".parse().unwrap());
    let server = RunningServer::start_with(config, data.table().await).await;
    let base = format!("http://{}", server.http_address.unwrap());
    let mut claims = TokenClaims::new(ORG, 3600);
    claims.bots = vec![BOT.into()];
    claims.scopes = vec![Scope::Read, Scope::Ingest];
    let token = mint(&claims);
    let bot = bot_ref(ORG, ENV, BOT);
    let http = reqwest::Client::new();

    // Three summaries over REST, two over gRPC; one call without a token, one for another bot.
    for _ in 0..3 {
        let response = http
            .get(format!(
                "{base}/org/{ORG}/env/{ENV}/bot/{BOT}/dashboard/summary"
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let mut clients = Clients::connect(&server).await;
    for _ in 0..2 {
        let request = v1::GetSummaryRequest { bot: bot.clone() };
        clients
            .dashboard
            .get_summary(authed(request, Some(&token)))
            .await
            .unwrap();
    }
    let request = v1::GetSummaryRequest { bot: bot.clone() };
    let refused = clients.dashboard.get_summary(request).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    let other = v1::GetSummaryRequest {
        bot: bot_ref(ORG, ENV, SIBLING_BOT),
    };
    let denied = clients
        .dashboard
        .get_summary(authed(other, Some(&token)))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    // Two new messages written, one a call.
    for _ in 0..2 {
        let written = clients
            .ingest
            .write_events(authed(ingest_request(BOT), Some(&token)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(written.messages_written, 1);
    }

    let response = http
        .get(format!("{base}{}", talkhouse_server::METRICS_PATH))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let exposition = response.text().await.unwrap();
    let samples = samples(&exposition);

    let calls = "talkhouse_calls_total";
    let summary = ("method", "GetSummary");
    assert_eq!(
        value(
            &samples,
            calls,
            &[("surface", "rest"), summary, ("code", "OK")]
        ),
        3.0
    );
    assert_eq!(
        value(
            &samples,
            calls,
            &[("surface", "grpc"), summary, ("code", "OK")]
        ),
        2.0
    );
    let unauthenticated = ("code", "UNAUTHENTICATED");
    assert_eq!(
        value(
            &samples,
            calls,
            &[("surface", "grpc"), summary, unauthenticated]
        ),
        1.0
    );
    let denied = ("code", "PERMISSION_DENIED");
    assert_eq!(
        value(&samples, calls, &[("surface", "grpc"), summary, denied]),
        1.0
    );
    let write = ("method", "WriteEvents");
    assert_eq!(
        value(
            &samples,
            calls,
            &[("surface", "grpc"), write, ("code", "OK")]
        ),
        2.0
    );
    let durations = "talkhouse_call_duration_seconds_count";
    assert_eq!(
        value(&samples, durations, &[("surface", "grpc"), summary]),
        4.0
    );
    assert_eq!(
        value(&samples, durations, &[("surface", "rest"), summary]),
        3.0
    );

    let refusals = "talkhouse_refusals_total";
    let no_organization = [("organization", "unknown"), ("reason", "UNAUTHENTICATED")];
    assert_eq!(value(&samples, refusals, &no_organization), 1.0);
    let of_organization = [("organization", ORG), ("reason", "PERMISSION_DENIED")];
    assert_eq!(value(&samples, refusals, &of_organization), 1.0);

    assert_eq!(value(&samples, "talkhouse_answers_total", &[]), 5.0);
    assert_eq!(
        value(&samples, "talkhouse_admission_wait_seconds_count", &[]),
        5.0
    );
    let stored = [("outcome", "stored")];
    assert_eq!(
        value(&samples, "talkhouse_ingest_events_total", &stored),
        2.0
    );
    assert_eq!(value(&samples, "talkhouse_ingest_commits_total", &[]), 2.0);
    assert!(value(&samples, "talkhouse_ingest_request_bytes_total", &[]) > 0.0);

    // No bot id is ever a label value.
    assert!(!exposition.contains(BOT), "{exposition}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_show_the_indexes_reports_maintenance_and_the_follower() {
    let data = with_fixture();
    let table = data.table().await;
    let mut config = talkhouse_server::ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        talkhouse_server::Authentication::DisabledForDevelopment,
    );
    config.http_listen = Some("127.0.0.1:0".parse().unwrap());
    let server = RunningServer::start_with(config, table.clone()).await;
    let scrape = || async {
        let base = format!("http://{}", server.http_address.unwrap());
        let exposition = reqwest::get(format!("{base}{}", talkhouse_server::METRICS_PATH))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        samples(&exposition)
    };
    let mut c = Clients::connect(&server).await;
    let bot = bot_ref(ORG, ENV, BOT);

    let traffic = c
        .analytics
        .get_conversation_traffic(v1::AnalyticsRequest {
            bot: bot.clone(),
            filter: Some(days("2024-03-01", "2024-03-31", "UTC")),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        traffic.provenance.unwrap().served_by(),
        v1::ServedBy::Rollups
    );
    let report = c
        .conversations
        .request_conversations_report(v1::ConversationsReportRequest {
            bot: bot.clone(),
            filter: Some(days("2024-03-01", "2024-03-31", "UTC")),
            export_type: v1::ExportType::Csv as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    crate::reports::client::ready(&mut c, &bot, &report.report_id).await;
    let samples = scrape().await;
    let rollups = [("index", "rollups")];
    assert!(value(&samples, "talkhouse_index_memory_bytes", &rollups) > 0.0);
    assert_eq!(
        value(&samples, "talkhouse_index_evictions_total", &rollups),
        0.0
    );
    assert_eq!(
        value(&samples, "talkhouse_reports", &[("state", "READY")]),
        1.0
    );
    assert_eq!(
        value(&samples, "talkhouse_reports", &[("state", "PENDING")]),
        0.0
    );
    let finished = [("outcome", "ready")];
    assert_eq!(
        value(&samples, "talkhouse_reports_finished_total", &finished),
        1.0
    );
    assert!(value(&samples, "talkhouse_report_production_seconds_total", &[]) > 0.0);
    assert_eq!(
        value(&samples, "talkhouse_commit_conflicts_total", &[]),
        0.0
    );

    // Maintenance in this process: a compaction, a vacuum and an erasure.
    let compacted = table.compact(1, |_| {}).await.unwrap();
    let vacuumed = table
        .vacuum(std::time::Duration::ZERO, &[], false)
        .await
        .unwrap();
    let erased = c
        .admin
        .erase_person(v1::ErasePersonRequest {
            bot: bot.clone(),
            user_id: "u1".into(),
            business_key: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(erased.sessions > 0);
    let samples = scrape().await;
    let runs = "talkhouse_maintenance_runs_total";
    for operation in ["compaction", "vacuum", "deletion"] {
        assert_eq!(
            value(&samples, runs, &[("operation", operation)]),
            1.0,
            "{operation}"
        );
    }
    let files = "talkhouse_maintenance_files_total";
    let rewritten: usize = compacted.partitions.iter().map(|p| p.files_before).sum();
    assert_eq!(
        value(&samples, files, &[("operation", "compaction")]),
        rewritten as f64
    );
    assert_eq!(
        value(&samples, files, &[("operation", "vacuum")]),
        vacuumed.files.len() as f64
    );
    let bytes = "talkhouse_maintenance_bytes_total";
    let read: u64 = compacted.partitions.iter().map(|p| p.bytes_before).sum();
    assert_eq!(
        value(&samples, bytes, &[("operation", "compaction")]),
        read as f64
    );
    assert_eq!(
        value(&samples, bytes, &[("operation", "vacuum")]),
        vacuumed.bytes as f64
    );
    assert!(vacuumed.bytes > 0, "the vacuum deleted the compacted files");
    assert_eq!(
        value(&samples, "talkhouse_deleted_sessions_total", &[]),
        erased.sessions as f64
    );
    assert_eq!(
        value(&samples, "talkhouse_deleted_messages_total", &[]),
        erased.messages as f64
    );
    // The report read what was erased: it is gone.
    assert_eq!(
        value(&samples, "talkhouse_reports", &[("state", "READY")]),
        0.0
    );
    assert_eq!(
        value(&samples, "talkhouse_table_version", &[]),
        table.latest_version().await.unwrap() as f64
    );
    let age = value(&samples, "talkhouse_log_read_age_seconds", &[]);
    assert!((0.0..60.0).contains(&age), "{age}");
    server.stop().await;
}
