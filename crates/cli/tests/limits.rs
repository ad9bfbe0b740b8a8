//! Overload: one organization flooding the server does not starve another; deadlines, the memory
//! budget and the request size are enforced per call, and the server keeps serving.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use talkhouse_core::generate::{GenerateConfig, Generator};
use talkhouse_proto::v1;
use talkhouse_server::{Authentication, QueryLimits, ServerConfig};
use tonic::{Code, Request};

use crate::support::{Clients, DataDir, RunningServer, days};

/// Two organizations' bots over a year of generated traffic.
struct Flood {
    data: DataDir,
    heavy_bot: Option<v1::BotRef>,
    light_bot: Option<v1::BotRef>,
}

async fn flood_data() -> Flood {
    let generator = Generator::new(GenerateConfig {
        seed: 7,
        bots: 4,
        days: 366,
        until: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
        conversations_per_day: 12,
    });
    let data = DataDir::new();
    let table = data.table().await;
    let events: Vec<_> = generator.events().flatten().collect();
    table.write(events, None).await.unwrap();
    let bot = |index: usize| {
        let tenant = generator.bots()[index].tenant;
        Some(v1::BotRef {
            org_id: tenant.org_id.to_string(),
            env_id: tenant.env_id.to_string(),
            bot_id: tenant.bot_id.to_string(),
        })
    };
    let (heavy_bot, light_bot) = (bot(0), bot(1));
    assert_ne!(
        heavy_bot.as_ref().unwrap().org_id,
        light_bot.as_ref().unwrap().org_id,
        "the two bots belong to different organizations"
    );
    Flood {
        data,
        heavy_bot,
        light_bot,
    }
}

/// A whole year of hourly distinct users per channel, in an offset off the quarter hours, which
/// no rollup answers: a plan over every conversation of the year, the heaviest the API has.
fn heavy(bot: &Option<v1::BotRef>) -> v1::SeriesRequest {
    v1::SeriesRequest {
        bot: bot.clone(),
        filter: Some(days("2025-01-01", "2025-12-31", "+05:07")),
        granularity: v1::Granularity::Hour as i32,
    }
}

fn light(bot: &Option<v1::BotRef>) -> v1::AnalyticsRequest {
    v1::AnalyticsRequest {
        bot: bot.clone(),
        filter: Some(days("2025-12-01", "2025-12-07", "America/Sao_Paulo")),
    }
}

fn waited(provenance: &v1::Provenance) -> Duration {
    let waited = provenance.waited.expect("the time waited");
    Duration::new(waited.seconds as u64, waited.nanos as u32)
}

fn elapsed(provenance: &v1::Provenance) -> Duration {
    let elapsed = provenance.elapsed.expect("the time taken");
    Duration::new(elapsed.seconds as u64, elapsed.nanos as u32)
}

/// The status of a heavy series call that must fail.
async fn refused(
    c: &mut Clients,
    request: impl tonic::IntoRequest<v1::SeriesRequest>,
) -> tonic::Status {
    c.analytics
        .get_user_series(request)
        .await
        .map(drop)
        .expect_err("the heavy call is refused")
}

fn server_config(change: impl FnOnce(&mut ServerConfig)) -> ServerConfig {
    let mut config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        Authentication::DisabledForDevelopment,
    );
    change(&mut config);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flooding_organization_does_not_starve_another() {
    let flood = flood_data().await;
    let config = server_config(|c| {
        c.limits = QueryLimits {
            max_concurrent: 4,
            max_concurrent_per_tenant: 2,
            ..QueryLimits::default()
        };
    });
    let server = RunningServer::start_with(config, flood.data.table().await).await;
    let clients = Clients::connect(&server).await;

    // Warm the session so the light calls measure queries, not the first snapshot load, then
    // time a few without the flood, for the figures printed below.
    let mut quiet_latencies = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        clients
            .analytics
            .clone()
            .get_conversation_traffic(light(&flood.light_bot))
            .await
            .unwrap();
        quiet_latencies.push(started.elapsed());
    }

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut flooders = Vec::new();
    for _ in 0..12 {
        let mut analytics = clients.analytics.clone();
        let bot = flood.heavy_bot.clone();
        let stop = stop.clone();
        flooders.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let answer = match analytics.get_user_series(heavy(&bot)).await {
                    Ok(answer) => {
                        let provenance = answer.into_inner().provenance.unwrap();
                        (Code::Ok, waited(&provenance))
                    }
                    Err(status) => (status.code(), Duration::ZERO),
                };
                answers.push(answer);
                if answer.0 == Code::ResourceExhausted {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            answers
        }));
    }

    let mut light_latencies = Vec::new();
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel().await);
    for _ in 0..6 {
        let mut request = Request::new(light(&flood.light_bot));
        request.set_timeout(Duration::from_secs(20));
        let started = Instant::now();
        let answer = clients
            .analytics
            .clone()
            .get_conversation_traffic(request)
            .await;
        light_latencies.push(started.elapsed());
        let answer = answer.expect("the light tenant is never refused during the flood");
        let provenance = answer.into_inner().provenance.unwrap();
        assert!(
            waited(&provenance) <= elapsed(&provenance),
            "{provenance:?}"
        );
        // Health is answered beside the queries, never behind them.
        health
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .expect("health answers during the flood");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut answers = Vec::new();
    for flooder in flooders {
        answers.extend(flooder.await.unwrap());
    }
    let refused = answers
        .iter()
        .filter(|(code, _)| *code == Code::ResourceExhausted)
        .count();
    let queued = answers
        .iter()
        .filter(|(code, waited)| *code == Code::Ok && *waited > Duration::ZERO)
        .count();
    eprintln!(
        "flood: {} heavy calls ({refused} refused, {queued} answered after waiting their turn); \
         light calls took {:?} during it, {:?} before it",
        answers.len(),
        light_latencies,
        &quiet_latencies[1..]
    );
    assert!(refused > 0, "the flooder met its organization's cap");
    assert!(queued > 0, "the flooder waited behind its own queries");
    assert!(
        answers
            .iter()
            .all(|(code, _)| matches!(code, Code::Ok | Code::ResourceExhausted)),
        "heavy calls are answered or refused, nothing else: {answers:?}"
    );
    // After the flood the heavy tenant is served again: its slots were all given back.
    clients
        .analytics
        .clone()
        .get_user_series(heavy(&flood.heavy_bot))
        .await
        .expect("served once the flood is over");
    server.stop().await;
}

#[tokio::test]
async fn deadlines_cancel_queries_and_give_their_slot_back() {
    let flood = flood_data().await;
    let table = flood.data.table().await;

    // The server's default deadline applies when the client sets none, and a client's long
    // deadline is cut to the server's maximum.
    let config = server_config(|c| {
        c.limits = QueryLimits {
            default_timeout: Duration::from_millis(1),
            max_timeout: Duration::from_millis(1),
            max_concurrent_per_tenant: 1,
            ..QueryLimits::default()
        };
    });
    let server = RunningServer::start_with(config, table.clone()).await;
    let mut c = Clients::connect(&server).await;
    for client_deadline in [None, Some(Duration::from_secs(3600))] {
        let mut request = Request::new(heavy(&flood.heavy_bot));
        if let Some(deadline) = client_deadline {
            request.set_timeout(deadline);
        }
        let status = refused(&mut c, request).await;
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
        assert!(status.message().contains("cancelled"), "{status:?}");
    }
    // With one slot per organization, a third call would be refused if a cancelled query had
    // kept its slot.
    let status = refused(&mut c, heavy(&flood.heavy_bot)).await;
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    server.stop().await;

    // A client deadline shorter than the query.
    let server = RunningServer::start_with(server_config(|_| {}), table).await;
    let mut c = Clients::connect(&server).await;
    let mut request = Request::new(heavy(&flood.heavy_bot));
    request.set_timeout(Duration::from_millis(1));
    let status = refused(&mut c, request).await;
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{status:?}"
    );
    c.analytics
        .get_conversation_traffic(light(&flood.light_bot))
        .await
        .expect("still serving");
    server.stop().await;
}

#[tokio::test]
async fn the_memory_budget_and_request_size_refuse_one_call_not_the_server() {
    let flood = flood_data().await;
    let config = server_config(|c| {
        c.query_memory_limit = Some(1024 * 1024);
        c.limits.max_request_bytes = 4096;
    });
    let server = RunningServer::start_with(config, flood.data.table().await).await;
    let mut c = Clients::connect(&server).await;

    let status = refused(&mut c, heavy(&flood.heavy_bot)).await;
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("memory"), "{status:?}");

    let status = c
        .messages
        .search_messages(v1::SearchMessagesRequest {
            bot: flood.light_bot.clone(),
            filter: Some(days("2025-12-01", "2025-12-07", "UTC")),
            search_by: v1::SearchBy::SessionCode as i32,
            search_term: "x".repeat(10_000),
            ..Default::default()
        })
        .await
        .map(drop)
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("4096 bytes"), "{status:?}");

    // A transcript reads one session: within the budget, and answered.
    let status = c
        .conversations
        .get_conversation(v1::GetConversationRequest {
            bot: flood.light_bot.clone(),
            session_code: "no-such-session".into(),
            timezone: "UTC".into(),
        })
        .await
        .map(drop)
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::NotFound,
        "other calls are still served: {status:?}"
    );
    server.stop().await;
}
