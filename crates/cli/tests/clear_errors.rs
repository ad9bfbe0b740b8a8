//! Bad input gets a clear error that names the field, in our words, through the real server and
//! the real binary: never a silent acceptance, never a library's internals.

use bytes::Bytes;
use prost::Message;
use talkhouse_proto::v1;
use tonic::Code;

use crate::dashboard_errors::fields;
use crate::fuzz_grpc::RawCodec;
use crate::support::*;

fn traffic(start: &str, end: &str) -> v1::AnalyticsRequest {
    v1::AnalyticsRequest {
        bot: bot_ref(ORG, ENV, BOT),
        filter: Some(days(start, end, "UTC")),
    }
}

#[tokio::test]
async fn filter_dates_keep_to_nine_fraction_digits_and_the_stored_span() {
    let data = DataDir::new();
    let server = RunningServer::start(data.table().await).await;
    let mut c = Clients::connect(&server).await;
    let accepted = c
        .analytics
        .get_message_traffic(traffic(
            "2024-03-10T00:00:00.123456789Z",
            "2024-03-11T10:00:00.5-03:00",
        ))
        .await;
    assert!(accepted.is_ok(), "{accepted:?}");
    for (start, end, field) in [
        (
            "2024-03-10T00:00:00.1234567891Z",
            "2024-03-11",
            "filter.start_date",
        ),
        ("0001-01-01", "0001-01-02", "filter.start_date"),
        ("1970-01-05", "2200-01-01T00:00:00Z", "filter.end_date"),
        ("1969-12-31T23:59:59Z", "1970-01-02", "filter.start_date"),
    ] {
        let status = c
            .analytics
            .get_message_traffic(traffic(start, end))
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{start} {end}: {status:?}"
        );
        assert!(fields(&status).contains(&field.to_string()), "{status:?}");
        assert!(!status.message().starts_with(' '), "{status:?}");
    }
    server.stop().await;
}

/// The answer to `SearchConversations` with `body` as the request message, which must fail.
async fn search_with_body(
    grpc: &mut tonic::client::Grpc<tonic::transport::Channel>,
    body: Vec<u8>,
) -> tonic::Status {
    grpc.ready().await.unwrap();
    grpc.unary(
        tonic::Request::new(Bytes::from(body)),
        http::uri::PathAndQuery::from_static(
            "/talkhouse.v1.ConversationService/SearchConversations",
        ),
        RawCodec,
    )
    .await
    .map(drop)
    .unwrap_err()
}

#[tokio::test]
async fn text_that_is_not_utf8_is_named_by_its_field() {
    let data = DataDir::new();
    let server = RunningServer::start(data.table().await).await;
    let mut grpc = tonic::client::Grpc::new(server.channel().await);
    let mut body = v1::SearchConversationsRequest {
        bot: bot_ref(ORG, ENV, BOT),
        filter: Some(days("2024-03-01", "2024-03-02", "UTC")),
        search_term: "needle".into(),
        ..Default::default()
    }
    .encode_to_vec();
    let at = body.windows(6).position(|w| w == b"needle").unwrap();
    body[at] = 0xff;
    let status = search_with_body(&mut grpc, body).await;
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["search_term"]);
    assert_eq!(status.message(), "search_term: must be valid UTF-8 text");

    // Bytes that are no message at all name the request.
    let status = search_with_body(&mut grpc, vec![0xff, 0xff, 0xff]).await;
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["request"]);
    assert!(status.message().starts_with("request: "), "{status:?}");
    server.stop().await;
}

#[test]
fn identifiers_refuse_control_characters_and_nothing_is_stored() {
    let data = DataDir::new();
    let mut nul = message(1, "s-1", "2024-03-10T10:00:00Z");
    nul["session_code"] = "s\u{0}1".into();
    let mut escape = message(2, "s-1", "2024-03-10T10:00:00Z");
    escape["user_id"] = "user\u{1b}[31m".into();
    let mut tag = message(3, "s-1", "2024-03-10T10:00:00Z");
    tag["tags"] = serde_json::json!(["fine", "line\nbreak"]);
    let mut text = message(4, "s-1", "2024-03-10T10:00:00Z");
    text["text"] = "free text\nmay break lines".into();
    let file = data.file("controls.jsonl", &jsonl(&[nul, escape, tag, text.clone()]));
    let stderr = run_fails(talkhouse(&data).arg("ingest").arg(&file));
    for expected in [
        "line 1, field session_code: must not hold control characters",
        "line 2, field user_id: must not hold control characters",
        "line 3, field tags[1]: must not hold control characters",
    ] {
        assert!(stderr.contains(expected), "{stderr}");
    }
    assert!(!stderr.contains("line 4"), "{stderr}");
    let file = data.file("text.jsonl", &jsonl(&[text]));
    run_ok(talkhouse(&data).arg("ingest").arg(&file));
    assert_eq!(count(&data, "messages"), 1);
}

#[tokio::test]
async fn a_token_without_an_algorithm_we_accept_is_refused_in_our_words() {
    let data = DataDir::new();
    let server = RunningServer::start_with(crate::auth::hs256_config(), data.table().await).await;
    let mut c = Clients::connect(&server).await;
    // {"alg":"none","typ":"JWT"} . {} . no signature
    for token in [
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.e30.",
        "not-a-jwt",
        "e30.e30.e30",
    ] {
        let status = c
            .dashboard
            .get_summary(crate::auth::authed(
                v1::GetSummaryRequest {
                    bot: bot_ref(ORG, ENV, BOT),
                },
                Some(token),
            ))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{token}: {status:?}");
        let message = status.message();
        assert!(
            message.starts_with("malformed token: "),
            "{token}: {message}"
        );
        for internal in ["Json", "Error(", "variant", "line ", "column "] {
            assert!(!message.contains(internal), "{token}: {message}");
        }
    }
    server.stop().await;
}

/// A channel is named after its latest named message; on equal `sent_at`, the one written later
/// (commit, then line), whatever the message ids, on the index path and in SQL alike.
#[tokio::test]
async fn a_channel_is_named_by_the_later_written_of_two_messages_sent_at_once() {
    let data = DataDir::new();
    let at = "2024-03-10T10:00:00Z";
    let named = |n: u32, name: &str| {
        let mut line = message(n, "s-1", at);
        line["channel_name"] = name.into();
        line
    };
    // Within one batch the later line wins, though its id is the smaller.
    let file = data.file(
        "one.jsonl",
        &jsonl(&[named(9, "First"), named(1, "Second")]),
    );
    run_ok(talkhouse(&data).arg("ingest").arg(&file));
    let server = RunningServer::start(data.table().await).await;
    let mut c = Clients::connect(&server).await;
    let names = |summary: v1::GetSummaryResponse| -> Vec<String> {
        summary.channels.into_iter().map(|c| c.name).collect()
    };
    assert_eq!(names(c.summary(bot_ref(ORG, ENV, BOT)).await), ["Second"]);
    assert_eq!(
        sql_rows(&data, "SELECT channel_name FROM channels"),
        ["Second"]
    );
    // A later commit wins over both, whatever its id.
    let file = data.file("two.jsonl", &jsonl(&[named(0, "Third")]));
    run_ok(talkhouse(&data).arg("ingest").arg(&file));
    assert_eq!(names(c.summary(bot_ref(ORG, ENV, BOT)).await), ["Third"]);
    assert_eq!(
        sql_rows(&data, "SELECT channel_name FROM channels"),
        ["Third"]
    );
    server.stop().await;
}

#[tokio::test]
async fn the_spool_files_of_a_killed_server_are_deleted_at_the_next_start() {
    let abandoned = std::env::temp_dir().join("talkhouse-spool-4000000000-killed");
    std::fs::write(&abandoned, b"half a report").unwrap();
    let data = DataDir::new();
    let server = RunningServer::start(data.table().await).await;
    // Serving: an answer comes once the reports have started.
    Clients::connect(&server)
        .await
        .summary(bot_ref(ORG, ENV, BOT))
        .await;
    assert!(!abandoned.exists());
    server.stop().await;
}
