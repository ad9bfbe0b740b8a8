//! Summary, traffic, accuracy and series over the fixture.

use talkhouse_proto::v1;

use super::*;
use crate::support::{bot_ref, days, instant};

/// Bot 01's summary, traffic boxes, accuracy and series, in several zones and filters.
#[tokio::test]
async fn summary_traffic_accuracy_and_series_answer_the_fixture_exactly() {
    let (_data, server, mut c) = serve_fixture().await;

    // Summary.
    let summary = c.summary(bot_ref(ORG, ENV, BOT1)).await;
    assert!(summary.has_data);
    assert_eq!(
        instant(&summary.first_data_set).to_rfc3339(),
        "2024-03-09T23:50:00+00:00"
    );
    assert_eq!(
        instant(&summary.last_data_set).to_rfc3339(),
        "2024-03-11T08:00:00+00:00"
    );
    let channels: Vec<(&str, &str)> = summary
        .channels
        .iter()
        .map(|c| (c.uuid.as_str(), c.name.as_str()))
        .collect();
    assert_eq!(channels[0], (A1, "WhatsApp Business"));
    assert_eq!(
        channels.iter().map(|c| c.0).collect::<Vec<_>>(),
        [A1, A2, A3]
    );
    let provenance = summary.provenance.unwrap();
    assert_eq!(provenance.snapshot, 1);
    assert_eq!(
        instant(&provenance.data_as_of).to_rfc3339(),
        "2024-03-11T08:00:00+00:00"
    );
    assert!(provenance.rows_scanned > 0);

    // Another bot of the same org, or a bot with no data at all, sees none of bot 01.
    let empty = c
        .summary(bot_ref(ORG, ENV, "0b000000-0000-4000-8000-0000000000ff"))
        .await;
    assert!(!empty.has_data && empty.channels.is_empty() && empty.first_data_set.is_none());
    let wrong_env = c
        .summary(bot_ref(ORG, "0e000000-0000-4000-8000-000000000009", BOT1))
        .await;
    assert!(!wrong_env.has_data);

    // Conversation traffic, UTC, 03-10 against 03-09: B against A.
    let traffic = c
        .analytics
        .get_conversation_traffic(request(days("2024-03-10", "2024-03-10", "UTC")))
        .await
        .unwrap()
        .into_inner();
    let overview = traffic.overview.unwrap();
    assert_eq!((overview.total, overview.previous_total), (1, 1));
    assert!(!overview.increased);
    assert_eq!(overview.increase_percentage, Some(0.0));
    assert_eq!(
        instant(&overview.compared_start).to_rfc3339(),
        "2024-03-09T00:00:00+00:00"
    );
    assert_eq!(
        instant(&overview.compared_end).to_rfc3339(),
        "2024-03-09T23:59:59.999+00:00"
    );
    let breakdown: Vec<(&str, i64)> = traffic
        .breakdown
        .iter()
        .map(|b| (b.key.as_str(), b.value))
        .collect();
    assert_eq!(breakdown, [(A1, 0), (A2, 1), (A3, 0)]);

    // At +01:00, A starts at 00:50 on 03-10: both in the window, none before.
    let traffic = c
        .analytics
        .get_conversation_traffic(request(days("2024-03-10", "2024-03-10", "+01:00")))
        .await
        .unwrap()
        .into_inner();
    let overview = traffic.overview.unwrap();
    assert_eq!((overview.total, overview.previous_total), (2, 0));
    assert!(overview.increased);
    assert_eq!(overview.increase_percentage, None);
    assert_eq!(
        instant(&overview.compared_start).to_rfc3339(),
        "2024-03-08T23:00:00+00:00"
    );

    // A channel filter lists exactly the channels asked, in the order asked.
    let mut filter = days("2024-03-10", "2024-03-10", "UTC");
    filter.channel_uuids = vec![
        A2.into(),
        "c0000000-0000-4000-8000-0000000000ff".into(),
        A2.into(),
    ];
    let traffic = c
        .analytics
        .get_conversation_traffic(request(filter))
        .await
        .unwrap()
        .into_inner();
    let breakdown: Vec<(&str, i64)> = traffic
        .breakdown
        .iter()
        .map(|b| (b.key.as_str(), b.value))
        .collect();
    assert_eq!(
        breakdown,
        [(A2, 1), ("c0000000-0000-4000-8000-0000000000ff", 0)]
    );

    // Message traffic: 03, 04, 05, 06, 07 on 03-10 against 01, 02.
    let traffic = c
        .analytics
        .get_message_traffic(request(days("2024-03-10", "2024-03-10", "UTC")))
        .await
        .unwrap()
        .into_inner();
    let overview = traffic.overview.unwrap();
    assert_eq!((overview.total, overview.previous_total), (5, 2));
    assert_eq!(overview.increase_percentage, Some(150.0));
    let breakdown: Vec<(&str, i64)> = traffic
        .breakdown
        .iter()
        .map(|b| (b.key.as_str(), b.value))
        .collect();
    assert_eq!(breakdown, [("USER", 3), ("BOT", 2)]);

    // A wrapped hour window 22..0: only 03 and 04 on 03-10, 01 and 02 on 03-09.
    let mut filter = days("2024-03-10", "2024-03-10", "UTC");
    filter.start_hour = Some(22);
    filter.end_hour = Some(0);
    let overview = c
        .analytics
        .get_message_traffic(request(filter))
        .await
        .unwrap()
        .into_inner()
        .overview
        .unwrap();
    assert_eq!((overview.total, overview.previous_total), (2, 2));

    // Tags: only messages tagged sales (01, 03); untagged: 02, 04, 05, 06, 07.
    let mut filter = days("2024-03-09", "2024-03-10", "UTC");
    filter.tags_name = vec!["sales".into()];
    let overview = c
        .analytics
        .get_message_traffic(request(filter.clone()))
        .await
        .unwrap()
        .into_inner()
        .overview
        .unwrap();
    assert_eq!(overview.total, 2);
    filter.tags_name.clear();
    filter.untagged = true;
    let overview = c
        .analytics
        .get_message_traffic(request(filter))
        .await
        .unwrap()
        .into_inner()
        .overview
        .unwrap();
    assert_eq!(overview.total, 5);

    // Users: u1 and u2 both start on 03-09..03-10, both NEW.
    let traffic = c
        .analytics
        .get_user_traffic(request(days("2024-03-09", "2024-03-10", "UTC")))
        .await
        .unwrap()
        .into_inner();
    let overview = traffic.overview.unwrap();
    assert_eq!((overview.total, overview.previous_total), (2, 0));
    let breakdown: Vec<(&str, i64)> = traffic
        .breakdown
        .iter()
        .map(|b| (b.key.as_str(), b.value))
        .collect();
    assert_eq!(breakdown, [("NEW", 2), ("RETURNING", 0)]);

    // Accuracy on 03-10: 07 FOUND, 03 NONE (05 is an IMAGE) = 50; on 03-09: 01 FOUND = 100.
    let accuracy = c
        .analytics
        .get_accuracy(request(days("2024-03-10", "2024-03-10", "UTC")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(accuracy.accuracy, Some(50.0));
    assert_eq!(accuracy.previous_accuracy, Some(100.0));
    assert!(!accuracy.increased);
    assert_eq!(accuracy.increase_percentage, Some(-50.0));
    assert_eq!((accuracy.found, accuracy.not_found), (1, 1));
    let none = c
        .analytics
        .get_accuracy(request(days("2024-01-10", "2024-01-10", "UTC")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((none.accuracy, none.increase_percentage), (None, None));

    // Series: 2 days is HOUR by default; A in hour 23 of 03-09, B in hour 14 of 03-10.
    let series = c
        .analytics
        .get_conversation_series(v1::SeriesRequest {
            bot: bot_ref(ORG, ENV, BOT1),
            filter: Some(days("2024-03-09", "2024-03-10", "UTC")),
            granularity: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(series.granularity, v1::Granularity::Hour as i32);
    assert_eq!(series.buckets.len(), 48);
    assert_eq!(series.buckets[23].label, "2024-03-09T23:00:00+00:00");
    let mut a1 = vec![0; 48];
    a1[23] = 1;
    let mut a2 = vec![0; 48];
    a2[24 + 14] = 1;
    let datasets: Vec<(&str, &Vec<i64>)> = series
        .datasets
        .iter()
        .map(|d| (d.channel_uuid.as_str(), &d.data))
        .collect();
    assert_eq!(datasets, [(A1, &a1), (A2, &a2), (A3, &vec![0; 48])]);

    let series = c
        .analytics
        .get_message_series(v1::SeriesRequest {
            bot: bot_ref(ORG, ENV, BOT1),
            filter: Some(days("2024-03-09", "2024-03-11", "UTC")),
            granularity: v1::Granularity::Day as i32,
        })
        .await
        .unwrap()
        .into_inner();
    let datasets: Vec<Vec<i64>> = series.datasets.iter().map(|d| d.data.clone()).collect();
    assert_eq!(datasets, [vec![2, 2, 0], vec![0, 3, 0], vec![0, 0, 1]]);

    // In Sao Paulo (-03:00) A is on 03-09 and u1's message 08 on 03-11.
    let series = c
        .analytics
        .get_user_series(v1::SeriesRequest {
            bot: bot_ref(ORG, ENV, BOT1),
            filter: Some(days("2024-03-09", "2024-03-11", "America/Sao_Paulo")),
            granularity: v1::Granularity::Day as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(series.buckets[0].label, "2024-03-09T00:00:00-03:00");
    let datasets: Vec<Vec<i64>> = series.datasets.iter().map(|d| d.data.clone()).collect();
    assert_eq!(datasets, [vec![1, 0, 0], vec![0, 1, 0], vec![0, 0, 0]]);

    server.stop().await;
}
