//! The auxiliary and analytics routes answer what gRPC answers, field by field, on random windows,
//! zones, hour windows and channels.

use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use talkhouse_core::access::Scope;
use talkhouse_proto::v1;

use super::{Rest, instant, optional, token_for, with_http};
use crate::auth::{authed, hs256_config};
use crate::reports::fixtures::generated_in;
use crate::support::*;

const ZONES: [&str; 5] = [
    "UTC",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "-03:30",
];

#[tokio::test(flavor = "multi_thread")]
async fn every_route_answers_what_grpc_answers_field_by_field() {
    let (data, table, bot, channels) = generated_in(DataDir::new(), 20, 30).await;
    let server = RunningServer::start_with(with_http(hs256_config()), table).await;
    let rest = Rest::of(&server);
    let mut grpc = Clients::connect(&server).await;
    let bot = bot.unwrap();
    let token = token_for(&bot, &[Scope::Read]);
    let prefix = format!("/org/{}/env/{}/bot/{}", bot.org_id, bot.env_id, bot.bot_id);

    // The auxiliary routes.
    let (status, summary) = rest
        .get(&format!("{prefix}/dashboard/summary"), Some(&token))
        .await;
    assert_eq!(status, 200, "{summary}");
    let expected = grpc
        .dashboard
        .get_summary(authed(
            v1::GetSummaryRequest {
                bot: Some(bot.clone()),
            },
            Some(&token),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary["hasData"], Value::from(expected.has_data));
    assert_eq!(summary["firstDataSet"], instant(&expected.first_data_set));
    let first = summary["firstDataSet"].as_str().unwrap();
    assert!(
        first.len() == 24 && first.as_bytes()[19] == b'.' && first.ends_with('Z'),
        "yyyy-MM-dd'T'HH:mm:ss.SSS'Z': {first}"
    );
    let uuids: Vec<&str> = summary["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["uuid"].as_str().unwrap())
        .collect();
    let expected_uuids: Vec<&str> = expected.channels.iter().map(|c| c.uuid.as_str()).collect();
    assert_eq!(uuids, expected_uuids);
    for kind in ["conversations", "messages"] {
        let (status, config) = rest
            .get(
                &format!("{prefix}/{kind}/report_configurations"),
                Some(&token),
            )
            .await;
        assert_eq!(status, 200, "{config}");
        assert_eq!(config["maxSample"], Value::from(10_000));
        assert_eq!(
            config["availableExportTypes"],
            serde_json::json!(["CSV", "XLSX", "JSONL", "PARQUET"])
        );
    }

    // The analytics routes, on random windows, zones, hours and channels.
    let mut random = ChaCha8Rng::seed_from_u64(29);
    let mut counted = 0;
    for case in 0..24 {
        let start = chrono::NaiveDate::from_ymd_opt(2024, 3, random.random_range(1..=20)).unwrap();
        let end = start + chrono::Days::new(random.random_range(0..6));
        let zone = *ZONES.choose(&mut random).unwrap();
        let hours = random
            .random_bool(0.4)
            .then(|| (random.random_range(0..24), random.random_range(0..24)));
        let picked: Vec<String> = channels
            .iter()
            .filter(|_| random.random_bool(0.3))
            .cloned()
            .collect();
        let filter = v1::Filter {
            start_date: start.to_string(),
            end_date: end.to_string(),
            start_hour: hours.map(|h| h.0),
            end_hour: hours.map(|h| h.1),
            timezone: zone.into(),
            channel_uuids: picked.clone(),
            ..Default::default()
        };
        let mut query = vec![
            ("startDate", start.to_string()),
            ("endDate", end.to_string()),
            ("timezone", zone.to_string()),
        ];
        if let Some((from, to)) = hours {
            query.push(("startHour", from.to_string()));
            query.push(("endHour", to.to_string()));
        }
        if !picked.is_empty() {
            query.push(("channelUuids", picked.join(",")));
        }
        let analytics = v1::AnalyticsRequest {
            bot: Some(bot.clone()),
            filter: Some(filter.clone()),
        };
        let route = case % 7;
        let (path, granularity) = match route {
            0 => ("dashboard/conversations", None),
            1 => ("dashboard/messages", None),
            2 => ("dashboard/users", None),
            3 => ("dashboard/accuracy", None),
            4 => ("dashboard/conversations/series", Some("DAY")),
            5 => ("dashboard/messages/series", Some("HOUR")),
            _ => ("dashboard/users/series", Some("DAY")),
        };
        if let Some(granularity) = granularity {
            query.push(("granularity", granularity.into()));
        }
        let encoded: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&query)
            .finish();
        let (status, answer) = rest
            .get(&format!("{prefix}/{path}?{encoded}"), Some(&token))
            .await;
        assert_eq!(status, 200, "{path}?{encoded}: {answer}");
        let a = &mut grpc.analytics;
        match route {
            0..=2 => {
                let request = authed(analytics, Some(&token));
                let expected = match route {
                    0 => a.get_conversation_traffic(request).await,
                    1 => a.get_message_traffic(request).await,
                    _ => a.get_user_traffic(request).await,
                }
                .unwrap()
                .into_inner();
                let overview = expected.overview.unwrap();
                counted += usize::from(overview.total > 0);
                assert_eq!(answer["overview"]["total"], Value::from(overview.total));
                assert_eq!(
                    answer["overview"]["previousTotal"],
                    Value::from(overview.previous_total)
                );
                assert_eq!(
                    answer["overview"]["increasePercentage"],
                    optional(overview.increase_percentage)
                );
                assert_eq!(
                    answer["overview"]["comparedStart"],
                    instant(&overview.compared_start)
                );
                let breakdown: Vec<(String, i64)> = expected
                    .breakdown
                    .iter()
                    .map(|b| (b.key.clone(), b.value))
                    .collect();
                let got: Vec<(String, i64)> = answer["breakdown"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| {
                        (
                            b["key"].as_str().unwrap().to_string(),
                            b["value"].as_i64().unwrap(),
                        )
                    })
                    .collect();
                assert_eq!(got, breakdown, "{path}?{encoded}");
            }
            3 => {
                let expected = a
                    .get_accuracy(authed(analytics, Some(&token)))
                    .await
                    .unwrap()
                    .into_inner();
                assert_eq!(answer["accuracy"], optional(expected.accuracy));
                assert_eq!(answer["found"], Value::from(expected.found));
                assert_eq!(answer["notFound"], Value::from(expected.not_found));
                assert_eq!(
                    answer["previousFound"],
                    Value::from(expected.previous_found)
                );
            }
            _ => {
                let request = authed(
                    v1::SeriesRequest {
                        bot: Some(bot.clone()),
                        filter: Some(filter),
                        granularity: match granularity {
                            Some("HOUR") => v1::Granularity::Hour,
                            _ => v1::Granularity::Day,
                        } as i32,
                    },
                    Some(&token),
                );
                let expected = match route {
                    4 => a.get_conversation_series(request).await,
                    5 => a.get_message_series(request).await,
                    _ => a.get_user_series(request).await,
                }
                .unwrap()
                .into_inner();
                assert_eq!(answer["granularity"], Value::from(granularity.unwrap()));
                let labels: Vec<Value> = expected
                    .buckets
                    .iter()
                    .map(|b| Value::from(b.label.clone()))
                    .collect();
                let got_labels: Vec<Value> = answer["buckets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| b["label"].clone())
                    .collect();
                assert_eq!(got_labels, labels);
                let data: Vec<Value> = expected
                    .datasets
                    .iter()
                    .map(|d| serde_json::json!({"channelUuid": d.channel_uuid, "data": d.data}))
                    .collect();
                let got: Vec<Value> = answer["datasets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(
                        |d| serde_json::json!({"channelUuid": d["channelUuid"], "data": d["data"]}),
                    )
                    .collect();
                assert_eq!(got, data, "{path}?{encoded}");
            }
        }
    }
    assert!(
        counted >= 3,
        "most sampled windows hold traffic ({counted})"
    );
    server.stop().await;
    drop(data);
}
