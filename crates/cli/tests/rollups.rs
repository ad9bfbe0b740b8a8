//! The rollup path against the event-table path: the same random requests to a server that may
//! answer from rollups and to one that never does, over data written in many batches (conversation
//! versions split across batches, late and superseding versions, repeated messages), before and
//! after compaction; and the `conversations` view read through the recorded supersessions
//! against a window over every version. Replay a failure with `TALKHOUSE_ROLLUP_SEED`.

use chrono::{Duration, NaiveDate};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use talkhouse_core::Event;
use talkhouse_core::generate::{GenerateConfig, Generator};
use talkhouse_proto::v1;
use talkhouse_server::{Authentication, ServerConfig};

use crate::support::{Clients, DataDir, RunningServer, sql_rows};

/// The `conversations` view, read through the supersessions each batch recorded, holds exactly
/// the latest version of every session, as a window over all versions picks it.
fn assert_conversations_are_the_latest_versions(data: &DataDir, context: &str) {
    const COLUMNS: &str = "org_id, env_id, bot_id, session_code, started_at, updated_at, \
                           channel_uuid, array_to_string(tags, '|'), user_messages";
    let view = sql_rows(
        data,
        &format!("SELECT {COLUMNS} FROM conversations ORDER BY bot_id, session_code"),
    );
    let ranked = sql_rows(
        data,
        &format!(
            "SELECT {COLUMNS} FROM (SELECT *, ROW_NUMBER() OVER (
                 PARTITION BY org_id, env_id, bot_id, session_code
                 ORDER BY updated_at DESC, written_at DESC, batch_line DESC) AS version_rank
             FROM conversation_versions) WHERE version_rank = 1 ORDER BY bot_id, session_code"
        ),
    );
    assert!(!ranked.is_empty(), "{context}");
    assert_eq!(view, ranked, "{context}");
}

/// Zones whose days and hours start on quarter hours UTC (rollups apply), and `+05:07`, whose do
/// not (the event tables answer).
const ZONES: [&str; 8] = [
    "America/Sao_Paulo",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "-09:30",
    "UTC",
    "+05:07",
];

const REQUESTS: usize = 16;

/// Every analytics answer of one request, provenance removed, and who served each.
#[derive(Debug, PartialEq)]
struct Answers {
    traffic: Vec<v1::TrafficResponse>,
    accuracy: v1::AccuracyResponse,
    series: Vec<v1::SeriesResponse>,
    served_by: Vec<v1::ServedBy>,
}

async fn answers(c: &mut Clients, request: &v1::AnalyticsRequest, granularity: i32) -> Answers {
    let series_request = v1::SeriesRequest {
        bot: request.bot.clone(),
        filter: request.filter.clone(),
        granularity,
    };
    let mut traffic = vec![
        c.analytics.get_conversation_traffic(request.clone()).await,
        c.analytics.get_message_traffic(request.clone()).await,
        c.analytics.get_user_traffic(request.clone()).await,
    ]
    .into_iter()
    .map(|r| r.unwrap().into_inner())
    .collect::<Vec<_>>();
    let mut series = vec![
        c.analytics
            .get_conversation_series(series_request.clone())
            .await,
        c.analytics.get_message_series(series_request.clone()).await,
        c.analytics.get_user_series(series_request).await,
    ]
    .into_iter()
    .map(|r| r.unwrap().into_inner())
    .collect::<Vec<_>>();
    let mut accuracy = c
        .analytics
        .get_accuracy(request.clone())
        .await
        .unwrap()
        .into_inner();
    let mut served_by = Vec::new();
    for provenance in traffic
        .iter_mut()
        .map(|t| &mut t.provenance)
        .chain([&mut accuracy.provenance])
        .chain(series.iter_mut().map(|s| &mut s.provenance))
    {
        served_by.push(provenance.take().unwrap().served_by());
    }
    Answers {
        traffic,
        accuracy,
        series,
        served_by,
    }
}

/// Five days' events at a time, cut at a random point into two batches, so some conversations'
/// versions land in different commits; then a batch of late versions (older than stored, which change nothing), superseding
/// versions that move conversations to another channel (some to another user) and drop their
/// tags, and repeated messages.
fn batches(generator: &Generator, rng: &mut ChaCha8Rng) -> Vec<Vec<Event>> {
    let mut batches = Vec::new();
    let mut conversations = Vec::new();
    let mut messages = Vec::new();
    let days: Vec<Vec<Event>> = generator.events().collect();
    for chunk in days.chunks(5) {
        let chunk = chunk.concat();
        let cut = rng.random_range(0..chunk.len().max(1));
        let (first, second) = chunk.split_at(cut);
        for event in &chunk {
            match event {
                Event::Conversation(c) => conversations.push(c.clone()),
                Event::Message(m) => messages.push(m.clone()),
            }
        }
        batches.push(first.to_vec());
        batches.push(second.to_vec());
    }
    let channels: Vec<uuid::Uuid> = messages.iter().map(|m| m.channel_uuid).collect();
    let mut late = Vec::new();
    for c in conversations.sample(rng, 40) {
        let mut older = c.clone();
        older.updated_at = c.started_at;
        older.tags = vec!["late".into()];
        late.push(Event::Conversation(older));
        let mut newer = c.clone();
        newer.updated_at = c.updated_at + Duration::hours(3);
        newer.channel_uuid = *channels.choose(rng).unwrap();
        newer.tags = Vec::new();
        // A few sessions move to another user: the stored user's count is retracted.
        if rng.random_range(0..4) == 0 {
            newer.user_id = format!("moved-{}", rng.random_range(0..3));
        }
        late.push(Event::Conversation(newer));
    }
    for m in messages.sample(rng, 30) {
        late.push(Event::Message(m.clone()));
    }
    late.shuffle(rng);
    batches.push(late);
    batches
}

fn random_request(
    rng: &mut ChaCha8Rng,
    bot: &Option<v1::BotRef>,
    first: NaiveDate,
    days: i64,
    channels: &[String],
    tags: &[String],
) -> (v1::AnalyticsRequest, i32, String) {
    let start = first + Duration::days(rng.random_range(0..days));
    let end = start + Duration::days(rng.random_range(0..30));
    let (start_hour, end_hour) = match rng.random_range(0..3) {
        0 => (None, None),
        _ => (Some(rng.random_range(0..24)), Some(rng.random_range(0..24))),
    };
    let zone = *ZONES.choose(rng).unwrap();
    let channel_uuids = match rng.random_range(0..3) {
        0 => channels.sample(rng, 1).cloned().collect(),
        _ => Vec::new(),
    };
    let (tags_name, untagged) = match rng.random_range(0..5) {
        0 => (tags.sample(rng, 2).cloned().collect(), false),
        1 => (Vec::new(), true),
        _ => (Vec::new(), false),
    };
    let filter = v1::Filter {
        start_date: start.to_string(),
        end_date: end.to_string(),
        start_hour,
        end_hour,
        timezone: zone.into(),
        channel_uuids,
        tags_name,
        untagged,
    };
    let granularity = *[
        v1::Granularity::Unspecified,
        v1::Granularity::Hour,
        v1::Granularity::Day,
        v1::Granularity::Week,
        v1::Granularity::Month,
    ]
    .choose(rng)
    .unwrap() as i32;
    let context = format!("{filter:?} granularity {granularity}");
    (
        v1::AnalyticsRequest {
            bot: bot.clone(),
            filter: Some(filter),
        },
        granularity,
        context,
    )
}

#[tokio::test]
async fn rollups_answer_exactly_what_the_event_tables_answer() {
    let seed = std::env::var("TALKHOUSE_ROLLUP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random::<u64>());
    eprintln!("rollup seed {seed} (replay with TALKHOUSE_ROLLUP_SEED={seed})");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);

    // 40 days around the 2018 changes: Lord Howe 10-07, Sao Paulo and New York 11-04.
    let until = NaiveDate::from_ymd_opt(2018, 11, 10).unwrap();
    let generator = Generator::new(GenerateConfig {
        seed,
        bots: 2,
        days: 40,
        until,
        conversations_per_day: 12,
    });
    let data = DataDir::new();
    let table = data.table().await;
    let bot = generator.bots()[0].clone();
    let bot_ref = Some(v1::BotRef {
        org_id: bot.tenant.org_id.to_string(),
        env_id: bot.tenant.env_id.to_string(),
        bot_id: bot.tenant.bot_id.to_string(),
    });
    let channels: Vec<String> = bot.channels.iter().map(|c| c.uuid.to_string()).collect();
    let tags = ["sales", "support", "billing", "late"].map(String::from);

    let rollups = RunningServer::start(table.clone()).await;
    let mut events_only_config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        Authentication::DisabledForDevelopment,
    );
    events_only_config.use_rollups = false;
    let events_only = RunningServer::start_with(events_only_config, table.clone()).await;
    let mut with_rollups = Clients::connect(&rollups).await;
    let mut without = Clients::connect(&events_only).await;

    // Between commits too: each snapshot's sums are merged from the previous snapshot's.
    let first = until - Duration::days(45);
    for batch in batches(&generator, &mut rng) {
        table.write(batch, None).await.unwrap();
        let (request, granularity, context) =
            random_request(&mut rng, &bot_ref, first, 50, &channels, &tags);
        let expected = answers(&mut without, &request, granularity).await;
        let actual = answers(&mut with_rollups, &request, granularity).await;
        assert_eq!(
            (&actual.traffic, &actual.accuracy, &actual.series),
            (&expected.traffic, &expected.accuracy, &expected.series),
            "after a commit: {context}"
        );
    }
    let recorded = sql_rows(
        &data,
        "SELECT (SELECT count(*) FROM events WHERE kind = 'superseded') AS named,
                (SELECT count(*) FROM events WHERE superseded_at_write) AS at_write",
    );
    let [named, at_write]: [u64; 2] =
        std::array::from_fn(|i| recorded[0].split(',').nth(i).unwrap().parse().unwrap());
    assert!(named > 0 && at_write > 0, "{recorded:?}");
    assert_conversations_are_the_latest_versions(&data, "before compaction");

    let requests: Vec<_> = (0..REQUESTS)
        .map(|_| random_request(&mut rng, &bot_ref, first, 50, &channels, &tags))
        .collect();
    let mut served_from_rollups = 0;
    let mut before_compaction = Vec::new();
    for (request, granularity, context) in &requests {
        let expected = answers(&mut without, request, *granularity).await;
        let actual = answers(&mut with_rollups, request, *granularity).await;
        assert!(
            expected
                .served_by
                .iter()
                .all(|s| *s == v1::ServedBy::EventTables),
            "{context}"
        );
        let filter = request.filter.as_ref().unwrap();
        let eligible = filter.tags_name.is_empty() && filter.timezone != "+05:07";
        // Order: conversation, message, user traffic; accuracy; conversation, message, user series.
        let by_rollups = [eligible; 7];
        let expected_served: Vec<_> = by_rollups
            .iter()
            .map(|&r| match r {
                true => v1::ServedBy::Rollups,
                false => v1::ServedBy::EventTables,
            })
            .collect();
        assert_eq!(actual.served_by, expected_served, "{context}");
        served_from_rollups += usize::from(eligible);
        assert_eq!(
            (&actual.traffic, &actual.accuracy, &actual.series),
            (&expected.traffic, &expected.accuracy, &expected.series),
            "{context}"
        );
        before_compaction.push(actual);
    }
    assert!(
        served_from_rollups > 0,
        "some requests are served from rollups"
    );

    let files_before = table.live_file_uris().await.unwrap().len();
    let outcome = table.compact(2, |_| {}).await.unwrap();
    assert!(outcome.files_after < files_before, "{outcome:?}");
    assert_conversations_are_the_latest_versions(&data, "after compaction");
    for ((request, granularity, context), before) in requests.iter().zip(&before_compaction) {
        let after = answers(&mut with_rollups, request, *granularity).await;
        assert_eq!(&after, before, "after compaction: {context}");
        let events = answers(&mut without, request, *granularity).await;
        assert_eq!(
            (&events.traffic, &events.accuracy, &events.series),
            (&after.traffic, &after.accuracy, &after.series),
            "after compaction, events: {context}"
        );
    }
    rollups.stop().await;
    events_only.stop().await;
}
