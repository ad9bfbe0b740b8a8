//! A message id already stored for the bot is dropped, however the partition's files came to be:
//! written by this writer, by another process since, or merged by compaction. The writer keeps
//! the ids of the files it has read between batches, so each of these cases is a different path.

use talkhouse_core::ingest::parse_jsonl;
use talkhouse_storage::EventTable;

use super::support::*;

async fn write(table: &EventTable, ids: impl IntoIterator<Item = u32>, day: u32) -> (usize, usize) {
    let lines: Vec<_> = ids
        .into_iter()
        .map(|n| message(n, "s-1", &format!("2024-02-{day:02}T10:00:00Z")))
        .collect();
    let events = parse_jsonl(&jsonl(&lines), 1).unwrap();
    let outcome = table.write(events, None).await.unwrap();
    (outcome.messages_written, outcome.duplicate_messages)
}

#[tokio::test]
async fn a_stored_message_id_is_a_duplicate_whoever_wrote_or_merged_its_file() {
    let data = DataDir::new();
    let writer = data.table().await;
    assert_eq!(write(&writer, 1..=100, 1).await, (100, 0));
    // Its own files: read once, then remembered.
    assert_eq!(write(&writer, [50, 101], 2).await, (1, 1));
    assert_eq!(write(&writer, [101, 102, 102], 3).await, (1, 2));

    // A file another process committed since this writer last read the partition.
    let other = data.table().await;
    assert_eq!(write(&other, [103, 1], 4).await, (1, 1));
    assert_eq!(write(&writer, [103, 104], 5).await, (1, 1));

    // Compaction replaces every file the writer has read with one it has not.
    let files_before = other.live_file_uris().await.unwrap().len();
    other.compact(2, |_| {}).await.unwrap();
    assert!(other.live_file_uris().await.unwrap().len() < files_before);
    assert_eq!(write(&writer, [2, 104, 105], 6).await, (1, 2));

    assert_eq!(count(&data, "messages"), 105);
    let distinct = sql_rows(&data, "SELECT count(DISTINCT message_id) FROM messages");
    assert_eq!(distinct, ["105"]);
}
