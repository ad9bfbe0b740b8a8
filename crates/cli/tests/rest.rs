//! The dashboard API as JSON over HTTP on the seed's paths, called with a real HTTP client:
//! every route answers what gRPC answers, field by field, for a random sample of requests; every
//! refusal has its HTTP status and the one JSON error body.

use std::time::Duration;

use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use talkhouse_core::access::Scope;
use talkhouse_proto::v1;
use talkhouse_server::ServerConfig;
use talkhouse_server::auth::TokenClaims;

use crate::auth::{authed, hs256_config, mint};
use crate::reports::fixtures::generated_in;
use crate::support::*;

/// The REST surface of a running server, with a bearer token.
struct Rest {
    base: String,
    client: reqwest::Client,
}

impl Rest {
    fn of(server: &RunningServer) -> Self {
        Self {
            base: format!("http://{}", server.http_address.expect("an HTTP listener")),
            client: reqwest::Client::new(),
        }
    }

    /// The status and JSON body of `GET path` with `token`.
    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = request.send().await.expect("the HTTP call");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = response.bytes().await.unwrap();
        assert!(
            content_type.starts_with("application/json"),
            "{path}: {status} {content_type:?} {}",
            String::from_utf8_lossy(&body)
        );
        (status, serde_json::from_slice(&body).unwrap())
    }
}

fn with_http(mut config: ServerConfig) -> ServerConfig {
    config.http_listen = Some("127.0.0.1:0".parse().unwrap());
    config
}

fn token_for(bot: &v1::BotRef, scopes: &[Scope]) -> String {
    let mut claims = TokenClaims::new(&bot.org_id, 3600);
    claims.environments = vec![bot.env_id.clone()];
    claims.bots = vec![bot.bot_id.clone()];
    claims.scopes = scopes.to_vec();
    mint(&claims)
}

/// An instant of a gRPC answer as the REST answer writes it.
fn instant(timestamp: &Option<prost_types::Timestamp>) -> Value {
    match timestamp {
        Some(t) => {
            let instant = chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32).unwrap();
            Value::from(instant.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        }
        None => Value::Null,
    }
}

fn optional(value: Option<f64>) -> Value {
    value.map_or(Value::Null, Value::from)
}

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
    check(rest.get("/", Some(&token)).await, 404, "");

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

impl Rest {
    /// The status, headers and body of `method path` with `token` and a JSON `body`.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {token}"));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("the HTTP call");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.bytes().await.unwrap().to_vec())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_transcripts_and_reports_answer_what_grpc_answers() {
    let (data, table, bot, _) = generated_in(DataDir::new(), 20, 30).await;
    let server = RunningServer::start_with(with_http(hs256_config()), table).await;
    let rest = Rest::of(&server);
    let mut grpc = Clients::connect(&server).await;
    let bot = bot.unwrap();
    let token = token_for(&bot, &[Scope::Read, Scope::Report]);
    let prefix = format!("/org/{}/env/{}/bot/{}", bot.org_id, bot.env_id, bot.bot_id);
    let filter = v1::Filter {
        start_date: "2024-03-10".into(),
        end_date: "2024-03-12".into(),
        timezone: "Asia/Kolkata".into(),
        ..Default::default()
    };
    let window = "startDate=2024-03-10&endDate=2024-03-12&timezone=Asia/Kolkata";

    // Conversations, second page of five by satisfaction.
    let (status, page) = rest
        .get(
            &format!("{prefix}/conversations?{window}&page=2&size=5&sort=SATISFACTION&order=ASC"),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let expected = grpc
        .conversations
        .search_conversations(authed(
            v1::SearchConversationsRequest {
                bot: Some(bot.clone()),
                filter: Some(filter.clone()),
                page: Some(2),
                size: Some(5),
                sort: v1::ConversationSort::Satisfaction as i32,
                order: v1::SortOrder::Asc as i32,
                ..Default::default()
            },
            Some(&token),
        ))
        .await
        .unwrap()
        .into_inner();
    let codes: Vec<&str> = page["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sessionCode"].as_str().unwrap())
        .collect();
    let expected_codes: Vec<&str> = expected
        .content
        .iter()
        .map(|c| c.session_code.as_str())
        .collect();
    assert_eq!(codes, expected_codes);
    assert_eq!(codes.len(), 5);
    let info = expected.page.unwrap();
    assert_eq!(page["totalElements"], Value::from(info.total_elements));
    assert_eq!(page["totalPages"], Value::from(info.total_pages));
    assert_eq!(
        (page["number"].clone(), page["first"].clone()),
        (Value::from(1), Value::from(false))
    );

    // Messages with an NLP filter.
    let (status, page) = rest
        .get(
            &format!("{prefix}/messages?{window}&nlpResponseFilters=FOUND&sort=CONFIDENCE"),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let expected = grpc
        .messages
        .search_messages(authed(
            v1::SearchMessagesRequest {
                bot: Some(bot.clone()),
                filter: Some(filter.clone()),
                nlp_response_filters: vec![v1::NlpResponseFilter::Found as i32],
                sort: v1::MessageSort::Confidence as i32,
                ..Default::default()
            },
            Some(&token),
        ))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = page["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["messageId"].as_str().unwrap())
        .collect();
    let expected_ids: Vec<&str> = expected
        .content
        .iter()
        .map(|m| m.message_id.as_str())
        .collect();
    assert_eq!(ids, expected_ids);
    assert!(!ids.is_empty());

    // A transcript.
    let session = codes[0];
    let (status, transcript) = rest
        .get(
            &format!("{prefix}/conversations/{session}?timezone=UTC"),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "{transcript}");
    let expected = grpc
        .conversations
        .get_conversation(authed(
            v1::GetConversationRequest {
                bot: Some(bot.clone()),
                session_code: session.into(),
                timezone: "UTC".into(),
            },
            Some(&token),
        ))
        .await
        .unwrap()
        .into_inner();
    let texts: Vec<&str> = transcript["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    let expected_texts: Vec<&str> = expected.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, expected_texts);
    assert_eq!(transcript["conversation"]["sessionCode"], session);

    // A messages report: previewed, requested, listed, fetched, downloaded.
    let body = serde_json::json!({
        "startDate": "2024-03-10", "endDate": "2024-03-12", "timezone": "Asia/Kolkata",
        "exportType": "CSV", "nlpResponseFilters": ["FOUND"], "cap": 50,
    });
    let (status, _, preview) = rest
        .send(
            reqwest::Method::POST,
            &format!("{prefix}/messages/report/preview"),
            &token,
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&preview));
    let preview: Value = serde_json::from_slice(&preview).unwrap();
    let estimate = preview["estimate"].as_i64().unwrap();
    assert!(estimate > 0 && estimate <= 50, "{preview}");
    let (status, _, created) = rest
        .send(
            reqwest::Method::POST,
            &format!("{prefix}/messages/report"),
            &token,
            Some(body),
        )
        .await;
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&created));
    let created: Value = serde_json::from_slice(&created).unwrap();
    let id = created["reportId"].as_str().unwrap().to_string();
    let (status, listed) = rest.get(&format!("{prefix}/reports"), Some(&token)).await;
    assert_eq!(status, 200, "{listed}");
    assert!(
        listed["content"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["reportId"] == id.as_str())
    );
    let mut report = Value::Null;
    for _ in 0..600 {
        report = rest
            .get(&format!("{prefix}/reports/{id}"), Some(&token))
            .await
            .1;
        if report["status"] == "READY" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(report["status"], "READY", "{report}");
    assert_eq!(report["rowCount"], Value::from(estimate));
    let (status, headers, file) = rest
        .send(
            reqwest::Method::GET,
            &format!("{prefix}/reports/{id}/download"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"") && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let mut chunks = grpc
        .reports
        .download_report(authed(
            v1::GetReportRequest {
                bot: Some(bot.clone()),
                report_id: id.clone(),
            },
            Some(&token),
        ))
        .await
        .unwrap()
        .into_inner();
    let mut expected = Vec::new();
    while let Some(chunk) = chunks.message().await.unwrap() {
        expected.extend(chunk.data);
    }
    assert_eq!(file, expected);
    assert_eq!(
        String::from_utf8_lossy(&file).lines().count() as i64,
        estimate + 1
    );

    // The conversation reports and the transcript report are accepted the same way.
    let body = serde_json::json!({
        "startDate": "2024-03-10", "endDate": "2024-03-12", "timezone": "UTC", "exportType": "JSONL",
    });
    let path = format!("{prefix}/conversations/report/preview");
    let (status, _, preview) = rest
        .send(reqwest::Method::POST, &path, &token, Some(body.clone()))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&preview));
    for path in [
        format!("{prefix}/conversations/report"),
        format!("{prefix}/conversations/{session}/report?exportType=XLSX&timezone=UTC"),
    ] {
        let body = path
            .ends_with("/conversations/report")
            .then(|| body.clone());
        let (status, _, created) = rest.send(reqwest::Method::POST, &path, &token, body).await;
        assert_eq!(status, 202, "{path}: {}", String::from_utf8_lossy(&created));
    }

    // Refusals of these routes: an unknown report, a bad body, a wrong method.
    let unknown = "00000000-0000-4000-8000-00000000dead";
    let (status, _, _) = rest
        .send(
            reqwest::Method::GET,
            &format!("{prefix}/reports/{unknown}/download"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _, body) = rest
        .send(
            reqwest::Method::POST,
            &format!("{prefix}/messages/report"),
            &token,
            Some(Value::from(3)),
        )
        .await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let (status, _, body) = rest
        .send(
            reqwest::Method::DELETE,
            &format!("{prefix}/reports"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 405);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["status"], 405);
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
