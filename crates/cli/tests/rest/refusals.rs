//! Every refusal has its HTTP status and the one JSON error body.

use std::time::Duration;

use serde_json::Value;
use talkhouse_core::access::Scope;
use talkhouse_proto::v1;

use super::{Rest, token_for, with_http};
use crate::auth::hs256_config;
use crate::reports::fixtures::generated_in;
use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn every_refusal_has_its_status_and_the_one_error_body() {
    let (data, table, bot, _) = generated_in(DataDir::new(), 3, 5).await;
    let mut config = with_http(hs256_config());
    config.limits.max_request_bytes = 2048;
    let server = RunningServer::start_with(config, table).await;
    let rest = Rest::of(&server);
    let bot = bot.unwrap();
    let token = token_for(&bot, &[Scope::Read]);
    let prefix = format!("/org/{}/env/{}/bot/{}", bot.org_id, bot.env_id, bot.bot_id);
    let traffic = format!("{prefix}/dashboard/conversations");
    let window = "startDate=2024-03-18&endDate=2024-03-20&timezone=UTC";

    let check = |(status, body): (u16, Value), expected: u16, says: &str| {
        assert_eq!(status, expected, "{body}");
        assert_eq!(body["status"], Value::from(expected));
        assert!(body["error"].is_string(), "{body}");
        let message = body["message"].as_str().unwrap().to_string();
        assert!(message.contains(says), "{message:?} lacks {says:?}");
        body
    };

    // 401 without a token, 403 for another bot, with nothing about that bot.
    check(
        rest.get(&format!("{traffic}?{window}"), None).await,
        401,
        "",
    );
    let other = v1::BotRef {
        bot_id: "0b000000-0000-4000-8000-0000000000ff".into(),
        ..bot.clone()
    };
    let other_prefix = format!(
        "/org/{}/env/{}/bot/{}",
        other.org_id, other.env_id, other.bot_id
    );
    check(
        rest.get(&format!("{other_prefix}/dashboard/summary"), Some(&token))
            .await,
        403,
        "",
    );
    // 403 for a token without the scope.
    let reports_only = token_for(&bot, &[Scope::Report]);
    check(
        rest.get(&format!("{prefix}/dashboard/summary"), Some(&reports_only))
            .await,
        403,
        "",
    );

    // 400 naming each wrong parameter by its REST name: the form (startHour), the meaning
    // (startDate, checked by the same validation as gRPC) and an unknown one.
    let body = check(
        rest.get(
            &format!("{traffic}?startDate=2024-13-40&endDate=2024-03-20&startHour=x&colour=red"),
            Some(&token),
        )
        .await,
        400,
        "",
    );
    let fields: Vec<&str> = body["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"startHour"), "{body}");
    assert!(fields.contains(&"colour"), "{body}");
    let body = check(
        rest.get(
            &format!("{traffic}?startDate=2024-13-40&endDate=2024-03-20&timezone=UTC"),
            Some(&token),
        )
        .await,
        400,
        "",
    );
    assert_eq!(body["violations"][0]["field"], "startDate", "{body}");
    let body = check(
        rest.get(
            &format!(
                "/org/not-a-uuid/env/{}/bot/{}/dashboard/summary",
                bot.env_id, bot.bot_id
            ),
            Some(&token),
        )
        .await,
        400,
        "",
    );
    assert_eq!(body["violations"][0]["field"], "orgUUID", "{body}");

    // 404 for a path that is not the API's.
    check(
        rest.get(&format!("{prefix}/dashboard/nothing"), Some(&token))
            .await,
        404,
        "",
    );
    check(rest.get("/nothing-here", Some(&token)).await, 404, "");

    // 429 past a limit: a request larger than the server takes.
    let channels: Vec<String> = (0..200)
        .map(|n| format!("00000000-0000-4000-8000-{n:012}"))
        .collect();
    check(
        rest.get(
            &format!("{traffic}?{window}&channelUuids={}", channels.join(",")),
            Some(&token),
        )
        .await,
        429,
        "larger than the limit",
    );

    // The server goes on answering.
    let (status, _) = rest.get(&format!("{traffic}?{window}"), Some(&token)).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(10)).await;
    server.stop().await;
    drop(data);
}

/// 422 for a request that is well-formed but cannot be done: the download of a report that is
/// not READY. The report stays PENDING here because another (live-looking) server holds the
/// reports lease.
#[tokio::test(flavor = "multi_thread")]
async fn a_report_not_ready_is_unprocessable() {
    let (data, table, bot, _) = generated_in(DataDir::new(), 3, 5).await;
    let leases = data.path().join("data/_leases/reports");
    std::fs::create_dir_all(&leases).unwrap();
    let far = chrono::Utc::now().timestamp_millis() + 3_600_000;
    std::fs::write(
        leases.join(format!("{:020}.json", 0)),
        format!(r#"{{"holder": "another-server", "expires_at_ms": {far}}}"#),
    )
    .unwrap();
    let server = RunningServer::start_with(with_http(hs256_config()), table).await;
    let rest = Rest::of(&server);
    let bot = bot.unwrap();
    let token = token_for(&bot, &[Scope::Read, Scope::Report]);
    let prefix = format!("/org/{}/env/{}/bot/{}", bot.org_id, bot.env_id, bot.bot_id);
    let body = serde_json::json!({
        "startDate": "2024-03-18", "endDate": "2024-03-20", "timezone": "UTC", "exportType": "CSV",
    });
    let path = format!("{prefix}/messages/report");
    let (status, _, created) = rest
        .send(reqwest::Method::POST, &path, &token, Some(body))
        .await;
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&created));
    let created: Value = serde_json::from_slice(&created).unwrap();
    let id = created["reportId"].as_str().unwrap();
    let (status, report) = rest
        .get(&format!("{prefix}/reports/{id}"), Some(&token))
        .await;
    assert_eq!(
        (status, report["status"].as_str()),
        (200, Some("PENDING")),
        "{report}"
    );
    let path = format!("{prefix}/reports/{id}/download");
    let (status, _, body) = rest.send(reqwest::Method::GET, &path, &token, None).await;
    assert_eq!(status, 422, "{}", String::from_utf8_lossy(&body));
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["status"], 422);
    assert!(
        body["message"].as_str().unwrap().contains("PENDING"),
        "{body}"
    );
    server.stop().await;
    drop(data);
}
