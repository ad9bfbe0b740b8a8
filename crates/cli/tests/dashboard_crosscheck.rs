//! The server against an independent reference: generated data around the 2018 daylight-saving
//! changes, many random requests, and every answer recomputed here row by row with chrono-tz (no
//! DataFusion, no talkhouse window code). Replay a failure with `TALKHOUSE_CROSSCHECK_SEED`.

pub mod analytics;
pub mod pages;
pub mod reference;
pub mod series;

use std::collections::BTreeSet;

use chrono::NaiveDate;
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use talkhouse_core::Event;
use talkhouse_core::generate::{GenerateConfig, Generator};
use talkhouse_proto::v1;

use self::reference::{Query, Reference};
use talkhouse_server::{Authentication, ServerConfig};

use crate::support::{Clients, DataDir, RunningServer};

const ZONES: [&str; 12] = [
    "America/Sao_Paulo",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "UTC",
    "Z",
    "+05:30",
    "-03:00",
    "+05:45",
    "-09:30",
];

const REQUESTS: usize = 40;

/// One random request: its filter, the bot, and the reference to check the answers against.
pub struct Round<'a> {
    pub reference: &'a Reference,
    pub query: Query,
    pub bot: Option<v1::BotRef>,
    /// Printed with every failed assertion.
    pub context: String,
    /// Local days in the window, minus one.
    pub length: i64,
}

#[tokio::test]
async fn the_server_agrees_with_a_plain_reference_on_random_requests() {
    let seed = std::env::var("TALKHOUSE_CROSSCHECK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random::<u64>());
    eprintln!("cross-check seed {seed} (replay with TALKHOUSE_CROSSCHECK_SEED={seed})");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);

    // 50 days around the 2018 changes: Lord Howe 10-07, London 10-28, Sao Paulo and New York 11-04.
    let generator = Generator::new(GenerateConfig {
        seed,
        bots: 2,
        days: 50,
        until: NaiveDate::from_ymd_opt(2018, 11, 20).unwrap(),
        conversations_per_day: 10,
    });
    let data = DataDir::new();
    let table = data.table().await;
    let batches: Vec<Vec<Event>> = generator.events().collect();
    // One commit: few files keep the debug-build queries quick; versions still resolve in order.
    table.write(batches.concat(), None).await.unwrap();
    let bot = generator.bots()[0].clone();
    let reference = Reference::new(bot.tenant, &batches);
    assert!(reference.messages.len() > 500, "enough data to compare");

    // Room for one bot's rollup rows only: every round first asks about the other bot, so this
    // bot's rows are forgotten and read again before each of its answers.
    let mut config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        Authentication::DisabledForDevelopment,
    );
    config.index_memory_limit = 1;
    let server = RunningServer::start_with(config, table).await;
    let mut c = Clients::connect(&server).await;
    let other = &generator.bots()[1].tenant;
    let other_bot = crate::support::bot_ref(
        &other.org_id.to_string(),
        &other.env_id.to_string(),
        &other.bot_id.to_string(),
    );

    for round in 0..REQUESTS {
        let other = v1::AnalyticsRequest {
            bot: other_bot.clone(),
            filter: Some(crate::support::days("2018-10-01", "2018-11-20", "UTC")),
        };
        c.analytics.get_user_traffic(other.clone()).await.unwrap();
        c.analytics.get_conversation_traffic(other).await.unwrap();
        let first = NaiveDate::from_ymd_opt(2018, 9, 28).unwrap();
        check_random_round(&mut c, &reference, &bot, first, 56, round, &mut rng).await;
    }
    server.stop().await;
}

/// One random request for `bot` starting within `first_days` days of `first`, every answer to it
/// checked against `reference`.
pub async fn check_random_round(
    c: &mut Clients,
    reference: &Reference,
    bot: &talkhouse_core::generate::Bot,
    first: NaiveDate,
    first_days: i64,
    round: usize,
    rng: &mut ChaCha8Rng,
) {
    let all_tags: Vec<String> = reference
        .messages
        .iter()
        .flat_map(|m| m.tags.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let channels: Vec<String> = bot.channels.iter().map(|c| c.uuid.to_string()).collect();
    let bot_ref = Some(v1::BotRef {
        org_id: bot.tenant.org_id.to_string(),
        env_id: bot.tenant.env_id.to_string(),
        bot_id: bot.tenant.bot_id.to_string(),
    });
    let start = first + chrono::Duration::days(rng.random_range(0..first_days));
    let length = if rng.random_bool(0.3) {
        rng.random_range(0..3)
    } else {
        rng.random_range(0..40)
    };
    let mut query = Query {
        zone_name: ZONES.choose(rng).unwrap(),
        start,
        end: start + chrono::Duration::days(length),
        start_hour: if rng.random_bool(0.4) {
            0
        } else {
            rng.random_range(0..24)
        },
        end_hour: if rng.random_bool(0.4) {
            23
        } else {
            rng.random_range(0..24)
        },
        channels: Vec::new(),
        tags: Vec::new(),
        untagged: false,
    };
    if rng.random_bool(0.3) {
        let n = rng.random_range(1..=2);
        query.channels = channels.sample(rng, n).cloned().collect();
        if rng.random_bool(0.2) {
            query
                .channels
                .push("c0ffee00-0000-4000-8000-000000000000".into());
        }
    }
    match rng.random_range(0..5) {
        0 => query.tags = all_tags.sample(rng, 2).cloned().collect(),
        1 => query.untagged = true,
        _ => {}
    }
    let context = format!("round {round}: {query:?}");
    let round = Round {
        reference,
        query,
        bot: bot_ref,
        context,
        length,
    };
    analytics::check(c, &round).await;
    series::check(c, &round, rng).await;
    pages::check_conversations(c, &round, rng).await;
    pages::check_messages(c, &round, rng).await;
}
