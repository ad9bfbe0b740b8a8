//! The searches, the transcript and the reports answer what gRPC answers; a report is previewed,
//! requested, listed, fetched and downloaded over HTTP.

use std::time::Duration;

use serde_json::Value;
use talkhouse_core::access::Scope;
use talkhouse_proto::v1;

use super::{Rest, token_for, with_http};
use crate::auth::{authed, hs256_config};
use crate::reports::fixtures::generated_in;
use crate::support::*;

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
