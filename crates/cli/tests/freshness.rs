//! Answers follow the commit log, not a clock: a batch another process commits is in the server's
//! very next answer, with the snapshot, `data_as_of` and the channel list it brings.

use talkhouse_proto::v1;

use super::support::*;

const NEW_CHANNEL: &str = "00000000-0000-4000-8000-0000000000c2";

#[tokio::test]
async fn a_batch_committed_by_another_process_is_in_the_next_answer() {
    let data = DataDir::new();
    let first = data.file(
        "first.jsonl",
        &jsonl(&[
            conversation("s-1", "2024-02-01T10:00:00Z", "2024-02-01T10:05:00Z", None),
            message(1, "s-1", "2024-02-01T10:00:00Z"),
        ]),
    );
    run_ok(talkhouse(&data).arg("ingest").arg(&first));
    let server = RunningServer::start(data.table().await).await;
    let mut c = Clients::connect(&server).await;
    let request = v1::AnalyticsRequest {
        bot: bot_ref(ORG, ENV, BOT),
        filter: Some(days("2024-02-01", "2024-02-01", "UTC")),
    };
    let traffic = |response: v1::TrafficResponse| {
        let provenance = response.provenance.unwrap();
        let channels: Vec<String> = response.breakdown.into_iter().map(|b| b.key).collect();
        (
            response.overview.unwrap().total,
            channels,
            provenance.snapshot,
            instant(&provenance.data_as_of),
        )
    };
    // Asked twice with nothing committed in between, the server answers the same snapshot.
    let mut answers = Vec::new();
    for _ in 0..2 {
        let response = c.analytics.get_conversation_traffic(request.clone()).await;
        answers.push(traffic(response.unwrap().into_inner()));
    }
    let before = answers[0].clone();
    assert_eq!(answers[1], before);
    assert_eq!((before.0, before.1.clone()), (1, vec![CHANNEL.to_string()]));

    let mut moved = conversation("s-2", "2024-02-01T12:00:00Z", "2024-02-01T12:30:00Z", None);
    moved["channel_uuid"] = serde_json::json!(NEW_CHANNEL);
    let mut newer = message(2, "s-2", "2024-02-01T12:30:00Z");
    newer["channel_uuid"] = serde_json::json!(NEW_CHANNEL);
    let second = data.file("second.jsonl", &jsonl(&[moved, newer]));
    run_ok(talkhouse(&data).arg("ingest").arg(&second));

    let (total, mut channels, snapshot, data_as_of) = traffic(
        c.analytics
            .get_conversation_traffic(request)
            .await
            .unwrap()
            .into_inner(),
    );
    channels.sort();
    assert_eq!(total, 2);
    assert_eq!(channels, vec![CHANNEL.to_string(), NEW_CHANNEL.to_string()]);
    assert_eq!(snapshot, before.2 + 1);
    assert_eq!(data_as_of.to_rfc3339(), "2024-02-01T12:30:00+00:00");
    server.stop().await;
}
