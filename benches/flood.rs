//! One organization floods the server while another works: the light organization's latency
//! alone and under the flood, in the same run, the flooder's answer codes, and health checks.
//!
//! Run: `cargo bench -p talkhouse-cli --bench flood` (release build). The server is the release
//! `talkhouse serve` in a process of its own, over a year of generated traffic of four bots
//! (kept under `target/bench-data/flood/`). The light organization asks 7-day conversation
//! traffic (an index answer) and a 7-day conversation search (a scan), one call at a time, as a
//! client of its own (its own connection, on a thread of its own); the flooder keeps 64 heavy
//! calls in flight (`-- --in-flight N` for another number) for 20 seconds: 365-day searches and
//! report previews, and an hourly year of distinct users no index answers. Not a test: nothing
//! is asserted.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use talkhouse_core::generate::{GenerateConfig, Generator};
use talkhouse_proto::v1;
use tonic::transport::Channel;

/// The flooder's calls in flight unless `--in-flight N` says otherwise (8, the default cap of one
/// organization, floods without a single refusal).
const FLOOD_CALLS_IN_FLIGHT: usize = 64;
const FLOOD: Duration = Duration::from_secs(20);
const ALONE: Duration = Duration::from_secs(10);

fn config() -> GenerateConfig {
    GenerateConfig {
        seed: 11,
        bots: 4,
        days: 365,
        until: NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
        conversations_per_day: 300,
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let talkhouse = env!("CARGO_BIN_EXE_talkhouse");
    let data = dataset(talkhouse);
    let tenants: Vec<talkhouse_core::Tenant> = Generator::new(config())
        .bots()
        .iter()
        .map(|b| b.tenant)
        .collect();
    let light = tenants[0];
    let heavy = tenants
        .iter()
        .copied()
        .find(|t| t.org_id != light.org_id)
        .expect("two organizations");
    let bot_ref = |t: talkhouse_core::Tenant| {
        Some(v1::BotRef {
            org_id: t.org_id.to_string(),
            env_id: t.env_id.to_string(),
            bot_id: t.bot_id.to_string(),
        })
    };
    let (light, heavy) = (bot_ref(light), bot_ref(heavy));
    let (mut server, address) = serve(talkhouse, &data);
    let channel = connect(&address).await;
    // Warm: the first answers load the bots' indexes and footers.
    for _ in 0..3 {
        light_client(&address, &light, Duration::ZERO)
            .join()
            .unwrap();
        flood_call(&channel, &heavy, 0).await;
        flood_call(&channel, &heavy, 1).await;
        flood_call(&channel, &heavy, 2).await;
    }

    let alone = light_client(&address, &light, ALONE).join().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut flooders = Vec::new();
    let in_flight = in_flight();
    for worker in 0..in_flight {
        let (channel, heavy, stop) = (channel.clone(), heavy.clone(), stop.clone());
        flooders.push(tokio::spawn(async move {
            let mut codes = BTreeMap::<String, usize>::new();
            let mut call = worker;
            while !stop.load(Ordering::Relaxed) {
                let code = flood_call(&channel, &heavy, call).await;
                *codes.entry(format!("{code:?}")).or_default() += 1;
                if code == tonic::Code::ResourceExhausted {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                call += 1;
            }
            codes
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let flooded = tokio::task::spawn_blocking({
        let (address, light) = (address.clone(), light.clone());
        move || light_client(&address, &light, FLOOD).join().unwrap()
    })
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    let mut codes = BTreeMap::<String, usize>::new();
    for flooder in flooders {
        for (code, n) in flooder.await.unwrap() {
            *codes.entry(code).or_default() += n;
        }
    }
    let _ = server.kill();
    let _ = server.wait();

    println!(
        "light organization, one call at a time; flooder: {in_flight} heavy calls in \
         flight"
    );
    println!(
        "| question | calls alone | p50 alone | p99 alone | calls under the flood | p50 flood | p99 flood | max flood | p99 flood / alone | refused |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, alone, flooded) in [
        (
            "7-day conversation traffic (index)",
            &alone.traffic,
            &flooded.traffic,
        ),
        (
            "7-day conversation search (scan)",
            &alone.search,
            &flooded.search,
        ),
        ("health check", &alone.health, &flooded.health),
    ] {
        let (mut a, mut f) = (alone.times.clone(), flooded.times.clone());
        let (a50, a99) = (percentile(&mut a, 0.5), percentile(&mut a, 0.99));
        let (f50, f99) = (percentile(&mut f, 0.5), percentile(&mut f, 0.99));
        let max = f.iter().copied().fold(0.0, f64::max);
        println!(
            "| {name} | {} | {a50:.2} ms | {a99:.2} ms | {} | {f50:.2} ms | {f99:.2} ms | {max:.2} ms | {:.2}× | {} |",
            a.len(),
            f.len(),
            f99 / a99,
            alone.refused + flooded.refused
        );
    }
    println!("flooder's answers: {codes:?}");
}

#[derive(Default)]
struct Times {
    times: Vec<f64>,
    refused: usize,
}

#[derive(Default)]
struct LightRun {
    traffic: Times,
    search: Times,
    health: Times,
}

/// `--in-flight N` from the command line (`cargo bench -p talkhouse-cli --bench flood --
/// --in-flight 8`), or [`FLOOD_CALLS_IN_FLIGHT`].
fn in_flight() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--in-flight")
        .map(|at| {
            args.get(at + 1)
                .and_then(|n| n.parse().ok())
                .filter(|n| *n > 0)
                .expect("--in-flight takes a number of calls, at least 1")
        })
        .unwrap_or(FLOOD_CALLS_IN_FLIGHT)
}

async fn connect(address: &str) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// The light organization as another client: its own connection, on a thread and runtime of
/// its own, so that its times never include waiting behind the flooder's tasks in this process.
fn light_client(
    address: &str,
    bot: &Option<v1::BotRef>,
    duration: Duration,
) -> std::thread::JoinHandle<LightRun> {
    let (address, bot) = (address.to_owned(), bot.clone());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let channel = connect(&address).await;
            light_calls(&channel, &bot, duration).await
        })
    })
}

/// The light organization's calls in turn, one at a time, for `duration` (one round at least).
async fn light_calls(channel: &Channel, bot: &Option<v1::BotRef>, duration: Duration) -> LightRun {
    let mut analytics = v1::analytics_service_client::AnalyticsServiceClient::new(channel.clone());
    let mut conversations =
        v1::conversation_service_client::ConversationServiceClient::new(channel.clone());
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let filter = Some(v1::Filter {
        start_date: "2026-10-20".into(),
        end_date: "2026-10-26".into(),
        timezone: "America/Sao_Paulo".into(),
        ..Default::default()
    });
    let mut run = LightRun::default();
    let began = Instant::now();
    loop {
        let started = Instant::now();
        let answer = analytics
            .get_conversation_traffic(v1::AnalyticsRequest {
                bot: bot.clone(),
                filter: filter.clone(),
            })
            .await;
        record(&mut run.traffic, started, answer.is_ok());
        let started = Instant::now();
        let answer = conversations
            .search_conversations(v1::SearchConversationsRequest {
                bot: bot.clone(),
                filter: filter.clone(),
                ..Default::default()
            })
            .await;
        record(&mut run.search, started, answer.is_ok());
        let started = Instant::now();
        let answer = health
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await;
        record(&mut run.health, started, answer.is_ok());
        if began.elapsed() >= duration {
            return run;
        }
    }
}

fn record(times: &mut Times, started: Instant, ok: bool) {
    if ok {
        times.times.push(started.elapsed().as_secs_f64() * 1000.0);
    } else {
        times.refused += 1;
    }
}

/// One heavy call of the flooder, chosen by `n`.
async fn flood_call(channel: &Channel, bot: &Option<v1::BotRef>, n: usize) -> tonic::Code {
    let year_filter = v1::Filter {
        start_date: "2025-11-01".into(),
        end_date: "2026-10-31".into(),
        timezone: "America/Sao_Paulo".into(),
        ..Default::default()
    };
    let year = Some(year_filter.clone());
    let result = match n % 4 {
        0 => v1::conversation_service_client::ConversationServiceClient::new(channel.clone())
            .search_conversations(v1::SearchConversationsRequest {
                bot: bot.clone(),
                filter: year,
                sort: v1::ConversationSort::Duration as i32,
                page: Some(40),
                size: Some(100),
                ..Default::default()
            })
            .await
            .map(drop),
        1 => v1::message_service_client::MessageServiceClient::new(channel.clone())
            .search_messages(v1::SearchMessagesRequest {
                bot: bot.clone(),
                filter: year,
                sort: v1::MessageSort::Confidence as i32,
                page: Some(40),
                size: Some(100),
                ..Default::default()
            })
            .await
            .map(drop),
        2 => v1::conversation_service_client::ConversationServiceClient::new(channel.clone())
            .preview_conversations_report(v1::ConversationsReportRequest {
                bot: bot.clone(),
                filter: year,
                min_confidence: Some(60.0),
                ..Default::default()
            })
            .await
            .map(drop),
        _ => v1::analytics_service_client::AnalyticsServiceClient::new(channel.clone())
            .get_user_series(v1::SeriesRequest {
                bot: bot.clone(),
                filter: Some(v1::Filter {
                    timezone: "+05:07".into(),
                    ..year_filter
                }),
                granularity: v1::Granularity::Hour as i32,
            })
            .await
            .map(drop),
    };
    match result {
        Ok(()) => tonic::Code::Ok,
        Err(status) => status.code(),
    }
}

fn percentile(times: &mut [f64], q: f64) -> f64 {
    if times.is_empty() {
        return f64::NAN;
    }
    times.sort_by(f64::total_cmp);
    times[((times.len() - 1) as f64 * q).round() as usize]
}

/// The generated year, written by the release binary and compacted once; reused when present.
fn dataset(talkhouse: &str) -> PathBuf {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data/flood");
    let done = folder.join("generated");
    if done.exists() {
        return folder;
    }
    let _ = std::fs::remove_dir_all(&folder);
    let c = config();
    let started = Instant::now();
    let status = Command::new(talkhouse)
        .arg("--data")
        .arg(&folder)
        .args(["generate", "--seed", &c.seed.to_string()])
        .args(["--bots", &c.bots.to_string(), "--days", &c.days.to_string()])
        .args(["--until", &c.until.to_string()])
        .args([
            "--conversations-per-day",
            &c.conversations_per_day.to_string(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let status = Command::new(talkhouse)
        .arg("--data")
        .arg(&folder)
        .arg("compact")
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::write(&done, b"").unwrap();
    println!(
        "generated and compacted in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    folder
}

/// `talkhouse serve` on 127.0.0.1:0 over `data`, and the address it printed.
fn serve(talkhouse: &str, data: &Path) -> (Child, String) {
    let mut child = Command::new(talkhouse)
        .arg("--data")
        .arg(data)
        .args([
            "serve",
            "--no-demo",
            "--dev-no-auth",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("TALKHOUSE_COMPACT_INTERVAL_SECONDS", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    // The rest of what it prints is read, so that it never waits on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let address = line
        .trim()
        .strip_prefix("talkhouse listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, address)
}
