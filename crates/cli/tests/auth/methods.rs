//! Every method of the protos × every kind of token: the code it answers, and what it stores.

use std::collections::BTreeSet;

use super::*;

/// Calls `method` for `bot` of [`ORG`]/[`ENV`] with a request that is valid apart from auth.
pub(super) async fn call(
    c: &mut Clients,
    method: &str,
    bot: &str,
    token: Option<&str>,
) -> Result<(), Status> {
    let bot_ref = || bot_ref(ORG, ENV, bot);
    let filter = || Some(days("2024-03-01", "2024-03-31", "Europe/Berlin"));
    let analytics = || v1::AnalyticsRequest {
        bot: bot_ref(),
        filter: filter(),
    };
    let series = || v1::SeriesRequest {
        bot: bot_ref(),
        filter: filter(),
        ..Default::default()
    };
    let conversations_report = || v1::ConversationsReportRequest {
        bot: bot_ref(),
        filter: filter(),
        export_type: v1::ExportType::Csv as i32,
        ..Default::default()
    };
    let messages_report = || v1::MessagesReportRequest {
        bot: bot_ref(),
        filter: filter(),
        export_type: v1::ExportType::Csv as i32,
        ..Default::default()
    };
    let report = || v1::GetReportRequest {
        bot: bot_ref(),
        report_id: "00000000-0000-4000-8000-00000000a001".into(),
    };
    let t = token;
    match method {
        "GetSummary" => c
            .dashboard
            .get_summary(authed(v1::GetSummaryRequest { bot: bot_ref() }, t))
            .await
            .map(drop),
        "ListBots" => c
            .dashboard
            .list_bots(authed(v1::ListBotsRequest { org_id: ORG.into() }, t))
            .await
            .map(drop),
        "GetConversationReportConfig" => c
            .dashboard
            .get_conversation_report_config(authed(
                v1::GetReportConfigRequest { bot: bot_ref() },
                t,
            ))
            .await
            .map(drop),
        "GetMessageReportConfig" => c
            .dashboard
            .get_message_report_config(authed(v1::GetReportConfigRequest { bot: bot_ref() }, t))
            .await
            .map(drop),
        "GetConversationTraffic" => c
            .analytics
            .get_conversation_traffic(authed(analytics(), t))
            .await
            .map(drop),
        "GetMessageTraffic" => c
            .analytics
            .get_message_traffic(authed(analytics(), t))
            .await
            .map(drop),
        "GetUserTraffic" => c
            .analytics
            .get_user_traffic(authed(analytics(), t))
            .await
            .map(drop),
        "GetAccuracy" => c
            .analytics
            .get_accuracy(authed(analytics(), t))
            .await
            .map(drop),
        "GetConversationSeries" => c
            .analytics
            .get_conversation_series(authed(series(), t))
            .await
            .map(drop),
        "GetMessageSeries" => c
            .analytics
            .get_message_series(authed(series(), t))
            .await
            .map(drop),
        "GetUserSeries" => c
            .analytics
            .get_user_series(authed(series(), t))
            .await
            .map(drop),
        "SearchConversations" => c
            .conversations
            .search_conversations(authed(
                v1::SearchConversationsRequest {
                    bot: bot_ref(),
                    filter: filter(),
                    ..Default::default()
                },
                t,
            ))
            .await
            .map(drop),
        "GetConversation" => c
            .conversations
            .get_conversation(authed(
                v1::GetConversationRequest {
                    bot: bot_ref(),
                    session_code: "A".into(),
                    timezone: "UTC".into(),
                },
                t,
            ))
            .await
            .map(drop),
        "RequestConversationsReport" => c
            .conversations
            .request_conversations_report(authed(conversations_report(), t))
            .await
            .map(drop),
        "RequestTranscriptReport" => c
            .conversations
            .request_transcript_report(authed(
                v1::TranscriptReportRequest {
                    bot: bot_ref(),
                    session_code: "A".into(),
                    timezone: "UTC".into(),
                    export_type: v1::ExportType::Csv as i32,
                },
                t,
            ))
            .await
            .map(drop),
        "PreviewConversationsReport" => c
            .conversations
            .preview_conversations_report(authed(conversations_report(), t))
            .await
            .map(drop),
        "SearchMessages" => c
            .messages
            .search_messages(authed(
                v1::SearchMessagesRequest {
                    bot: bot_ref(),
                    filter: filter(),
                    ..Default::default()
                },
                t,
            ))
            .await
            .map(drop),
        "RequestMessagesReport" => c
            .messages
            .request_messages_report(authed(messages_report(), t))
            .await
            .map(drop),
        "PreviewMessagesReport" => c
            .messages
            .preview_messages_report(authed(messages_report(), t))
            .await
            .map(drop),
        "ListReports" => c
            .reports
            .list_reports(authed(
                v1::ListReportsRequest {
                    bot: bot_ref(),
                    ..Default::default()
                },
                t,
            ))
            .await
            .map(drop),
        "GetReport" => c.reports.get_report(authed(report(), t)).await.map(drop),
        "DownloadReport" => c
            .reports
            .download_report(authed(report(), t))
            .await
            .map(drop),
        "WriteEvents" => c
            .ingest
            .write_events(authed(ingest_request(bot), t))
            .await
            .map(drop),
        "ErasePerson" => c
            .admin
            .erase_person(authed(
                v1::ErasePersonRequest {
                    bot: bot_ref(),
                    user_id: "nobody-has-this-id".into(),
                    business_key: String::new(),
                },
                t,
            ))
            .await
            .map(drop),
        other => panic!("no request built for {other}: add it to this table"),
    }
}

/// One message for `bot`, new on every call so a stored one shows in the counts.
pub(crate) fn ingest_request(bot: &str) -> v1::WriteEventsRequest {
    let message = v1::Message {
        org_id: ORG.into(),
        env_id: ENV.into(),
        bot_id: bot.into(),
        message_id: uuid::Uuid::new_v4().to_string(),
        session_code: "auth-test".into(),
        user_id: "user-auth".into(),
        channel_uuid: "0c000000-0000-4000-8000-000000000001".into(),
        sent_at: Some(prost_types::Timestamp {
            seconds: 1_710_000_000,
            nanos: 0,
        }),
        sender: v1::Sender::User as i32,
        content_type: v1::ContentType::Text as i32,
        text: "hello".into(),
        ..Default::default()
    };
    v1::WriteEventsRequest {
        events: vec![v1::Event {
            kind: Some(v1::event::Kind::Message(message)),
        }],
        idempotency_key: String::new(),
    }
}

/// The answer of a call that passes the gate, by method: what the handler says of a valid
/// request on the fixture.
fn valid_outcome(method: &str) -> Code {
    match method {
        // The report id asked for was never created.
        "GetReport" | "DownloadReport" => Code::NotFound,
        _ => Code::Ok,
    }
}

pub(super) fn outcome(result: &Result<(), Status>) -> Code {
    result.as_ref().err().map_or(Code::Ok, Status::code)
}

/// Every method of every talkhouse service in the proto descriptors, as `Service/Method`.
fn proto_methods() -> BTreeSet<String> {
    let set = prost_types::FileDescriptorSet::decode(talkhouse_proto::FILE_DESCRIPTOR_SET).unwrap();
    set.file
        .iter()
        .flat_map(|file| &file.service)
        .flat_map(|service| {
            service
                .method
                .iter()
                .map(|m| format!("/talkhouse.v1.{}/{}", service.name(), m.name()))
        })
        .collect()
}

#[test]
fn the_guard_knows_every_method_of_the_protos() {
    let guarded: BTreeSet<String> = METHODS.iter().map(|m| m.path.to_string()).collect();
    assert_eq!(guarded, proto_methods());
}

#[tokio::test]
async fn every_method_answers_each_kind_of_token_with_its_code() {
    let data = with_fixture();
    let before = count(&data, "messages");
    let server = RunningServer::start_with(hs256_config(), data.table().await).await;
    let mut c = Clients::connect(&server).await;
    let now = chrono::Utc::now().timestamp();

    let mut expired = TokenClaims::new(ORG, 3600);
    (expired.issued_at, expired.expires_at) = (now - 7200, now - 120);
    let mut within_leeway = TokenClaims::new(ORG, 3600);
    within_leeway.expires_at = now - 5;
    let mut not_yet = TokenClaims::new(ORG, 3600);
    not_yet.not_before = Some(now + 600);
    let mut other_org = TokenClaims::new(OTHER_ORG, 3600);
    other_org.scopes = Scope::ALL.to_vec();
    let mut other_env = TokenClaims::new(ORG, 3600);
    other_env.environments = vec![OTHER_ENV.into()];
    other_env.scopes = Scope::ALL.to_vec();
    let bad_signature = TokenClaims::new(ORG, 3600)
        .mint(
            &ClaimNames::default(),
            &SigningKey::Hs256(b"another secret of at least thirty-two bytes".to_vec()),
        )
        .unwrap();

    for method in METHODS {
        let name = method.path.rsplit('/').next().unwrap();
        let required = method.scope;
        let all_but_required: Vec<Scope> = Scope::ALL
            .into_iter()
            .filter(|s| *s != required && *s != Scope::Admin)
            .collect();
        let mut leeway_claims = within_leeway.clone();
        leeway_claims.scopes = vec![required];
        let mut expired_claims = expired.clone();
        expired_claims.scopes = vec![required];
        let mut not_yet_claims = not_yet.clone();
        not_yet_claims.scopes = vec![required];
        let cases: Vec<(&str, Option<String>, &str, Code)> = vec![
            ("no token", None, BOT, Code::Unauthenticated),
            (
                "malformed",
                Some("not.a.jwt".into()),
                BOT,
                Code::Unauthenticated,
            ),
            (
                "bad signature",
                Some(bad_signature.clone()),
                BOT,
                Code::Unauthenticated,
            ),
            (
                "expired",
                Some(mint(&expired_claims)),
                BOT,
                Code::Unauthenticated,
            ),
            (
                "not yet valid",
                Some(mint(&not_yet_claims)),
                BOT,
                Code::Unauthenticated,
            ),
            (
                "other organization",
                Some(mint(&other_org)),
                BOT,
                Code::PermissionDenied,
            ),
            (
                "other environment",
                Some(mint(&other_env)),
                BOT,
                Code::PermissionDenied,
            ),
            (
                "other bot",
                Some(token(&[BOT], &Scope::ALL)),
                SIBLING_BOT,
                Code::PermissionDenied,
            ),
            (
                "unknown bot",
                Some(token(&[BOT], &Scope::ALL)),
                UNKNOWN_BOT,
                Code::PermissionDenied,
            ),
            (
                "missing scope",
                Some(token(&[BOT], &all_but_required)),
                BOT,
                Code::PermissionDenied,
            ),
            (
                "expired within the leeway",
                Some(mint(&leeway_claims)),
                BOT,
                valid_outcome(name),
            ),
            (
                "valid, this scope only",
                Some(token(&[BOT], &[required])),
                BOT,
                valid_outcome(name),
            ),
            (
                "valid, admin",
                Some(token(&[BOT], &[Scope::Admin])),
                BOT,
                valid_outcome(name),
            ),
            (
                "valid, every bot",
                Some(token(&["*"], &[required])),
                BOT,
                valid_outcome(name),
            ),
        ];
        let mut denials = Vec::new();
        // A method that names no bot refuses no grant: it answers what the grant covers.
        let names_a_bot = name != "ListBots";
        for (case, token, bot, mut expected) in cases {
            if !names_a_bot && expected == Code::PermissionDenied && case != "missing scope" {
                expected = Code::Ok;
            }
            let result = call(&mut c, name, bot, token.as_deref()).await;
            assert_eq!(outcome(&result), expected, "{name}, {case}: {result:?}");
            if expected == Code::PermissionDenied && matches!(case, "other bot" | "unknown bot") {
                denials.push(result.unwrap_err().message().to_string());
            }
        }
        if names_a_bot {
            assert_eq!(
                denials[0], denials[1],
                "{name}: a bot with data and one without are refused alike"
            );
        }
    }
    server.stop().await;

    // Of all the WriteEvents calls above, only the four that passed the gate stored anything.
    assert_eq!(count(&data, "messages"), before + 4);
}
