//! `talkhouse ingest` through the real binary on real tables.

use super::support::*;

#[test]
fn a_good_file_is_stored_and_counted() {
    let data = DataDir::new();
    let file = data.file(
        "good.jsonl",
        &jsonl(&[
            message(1, "s-1", "2024-03-01T10:00:00Z"),
            message(2, "s-1", "2024-03-01T10:00:05-03:00"),
            conversation(
                "s-1",
                "2024-03-01T10:00:00Z",
                "2024-03-01T10:05:00Z",
                Some(4),
            ),
        ]),
    );
    let out = run_ok(talkhouse(&data).arg("ingest").arg(&file));
    assert!(
        out.contains("2 messages, 1 conversation versions, 0 duplicate"),
        "{out}"
    );
    assert_eq!(count(&data, "messages"), 2);
    assert_eq!(count(&data, "conversations"), 1);
    // The offset is applied: 10:00:05-03:00 is 13:00:05 UTC.
    let rows = sql_rows(
        &data,
        "SELECT CAST(sent_at AS VARCHAR) AS sent FROM messages ORDER BY sent",
    );
    assert_eq!(rows, ["2024-03-01T10:00:00Z", "2024-03-01T13:00:05Z"]);
}

#[test]
fn a_bad_line_rejects_the_whole_file_naming_line_and_field() {
    let data = DataDir::new();
    let mut bad = message(2, "s-1", "2024-03-01 10:00");
    bad["confidence"] = serde_json::json!(140);
    let file = data.file(
        "bad.jsonl",
        &jsonl(&[
            message(1, "s-1", "2024-03-01T10:00:00Z"),
            bad,
            message(3, "s-1", "2024-03-01T10:00:00Z"),
        ]),
    );
    let stderr = run_fails(talkhouse(&data).arg("ingest").arg(&file));
    assert!(stderr.contains("line 2, field sent_at"), "{stderr}");
    assert!(stderr.contains("line 2, field confidence"), "{stderr}");
    assert!(stderr.contains("nothing stored"), "{stderr}");
    assert_eq!(count(&data, "messages"), 0);
}

/// About 19 MiB: the file is read in blocks of 8 MiB, each parsed on its own.
fn large_file_lines() -> Vec<serde_json::Value> {
    (0..40_000)
        .map(|n| message(n, "s-1", "2024-03-01T10:00:00Z"))
        .collect()
}

#[test]
fn line_numbers_stay_exact_in_large_files_parsed_in_parallel() {
    let data = DataDir::new();
    let mut lines = large_file_lines();
    for bad in [4_321, 30_000, 39_999] {
        lines[bad]["sender"] = serde_json::json!("ROBOT");
    }
    let mut text = jsonl(&lines);
    assert!(text.len() > 16 << 20, "the file spans three blocks");
    text.insert(0, '\n'); // a blank first line still counts as line 1
    let file = data.file("big.jsonl", &text);
    let stderr = run_fails(talkhouse(&data).arg("ingest").arg(&file));
    for line in [4_323, 30_002, 40_001] {
        assert!(
            stderr.contains(&format!(
                "line {line}, field sender: must be one of USER, BOT"
            )),
            "{stderr}"
        );
    }
    assert_eq!(stderr.matches("field sender").count(), 3, "{stderr}");
}

#[test]
fn a_line_that_is_not_utf8_is_named_and_nothing_is_stored() {
    let data = DataDir::new();
    let text = jsonl(&large_file_lines());
    let mut bytes = text.into_bytes();
    // The first byte of line 35,001's text becomes a lone continuation byte.
    let line_start = bytes
        .split(|b| *b == b'\n')
        .take(35_000)
        .map(|line| line.len() + 1)
        .sum::<usize>();
    let text_at = line_start
        + bytes[line_start..]
            .windows(9)
            .position(|w| w == b"\"message ")
            .unwrap();
    bytes[text_at + 1] = 0x80;
    let file = data.path().join("broken.jsonl");
    std::fs::write(&file, bytes).unwrap();
    let stderr = run_fails(talkhouse(&data).arg("ingest").arg(&file));
    assert!(stderr.contains("line 35001 is not valid UTF-8"), "{stderr}");
    assert_eq!(count(&data, "messages"), 0);
}

#[test]
fn stdin_is_read_when_no_file_is_given() {
    let data = DataDir::new();
    let input = jsonl(&[message(1, "s-1", "2024-03-01T10:00:00Z")]);
    let output = run_with_stdin(talkhouse(&data).arg("ingest"), input.as_bytes());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(count(&data, "messages"), 1);
}

#[test]
fn a_message_id_written_twice_counts_once() {
    let data = DataDir::new();
    let first = data.file(
        "first.jsonl",
        &jsonl(&[
            message(1, "s-1", "2024-03-01T10:00:00Z"),
            message(1, "s-1", "2024-03-01T10:00:00Z"),
        ]),
    );
    let out = run_ok(talkhouse(&data).arg("ingest").arg(&first));
    assert!(
        out.contains("1 messages, 0 conversation versions, 1 duplicate"),
        "{out}"
    );
    // Again in a later batch, beside a new message.
    let second = data.file(
        "second.jsonl",
        &jsonl(&[
            message(1, "s-1", "2024-03-01T10:00:00Z"),
            message(2, "s-1", "2024-03-01T10:01:00Z"),
        ]),
    );
    let out = run_ok(talkhouse(&data).arg("ingest").arg(&second));
    assert!(
        out.contains("1 messages, 0 conversation versions, 1 duplicate"),
        "{out}"
    );
    assert_eq!(count(&data, "messages"), 2);
    // The same id under another bot is another message.
    let mut other = message(1, "s-1", "2024-03-01T10:00:00Z");
    other["bot_id"] = serde_json::json!(OTHER_BOT);
    let third = data.file("third.jsonl", &jsonl(&[other]));
    run_ok(talkhouse(&data).arg("ingest").arg(&third));
    assert_eq!(count(&data, "messages"), 3);
}

#[test]
fn an_idempotency_key_stores_a_retried_batch_once_and_refuses_another_batch() {
    let data = DataDir::new();
    let batch = data.file(
        "batch.jsonl",
        &jsonl(&[conversation(
            "s-1",
            "2024-03-01T10:00:00Z",
            "2024-03-01T10:00:00Z",
            None,
        )]),
    );
    run_ok(
        talkhouse(&data)
            .args(["ingest", "--idempotency-key", "k-1"])
            .arg(&batch),
    );
    let out = run_ok(
        talkhouse(&data)
            .args(["ingest", "--idempotency-key", "k-1"])
            .arg(&batch),
    );
    assert!(out.contains("already stored"), "{out}");
    assert_eq!(count(&data, "conversation_versions"), 1);

    let other = data.file(
        "other.jsonl",
        &jsonl(&[conversation(
            "s-2",
            "2024-03-01T10:00:00Z",
            "2024-03-01T10:00:00Z",
            None,
        )]),
    );
    let stderr = run_fails(
        talkhouse(&data)
            .args(["ingest", "--idempotency-key", "k-1"])
            .arg(&other),
    );
    assert!(
        stderr.contains("already used for a different batch"),
        "{stderr}"
    );
    assert_eq!(count(&data, "conversation_versions"), 1);
}

#[test]
fn a_keyed_batch_of_duplicates_only_still_records_its_key() {
    let data = DataDir::new();
    let batch = data.file(
        "batch.jsonl",
        &jsonl(&[
            message(1, "s-1", "2024-03-01T10:00:00Z"),
            message(2, "s-1", "2024-03-01T10:00:01Z"),
        ]),
    );
    run_ok(talkhouse(&data).arg("ingest").arg(&batch));
    let out = run_ok(
        talkhouse(&data)
            .args(["ingest", "--idempotency-key", "again"])
            .arg(&batch),
    );
    assert!(
        out.contains("0 messages, 0 conversation versions, 2 duplicate"),
        "{out}"
    );
    let out = run_ok(
        talkhouse(&data)
            .args(["ingest", "--idempotency-key", "again"])
            .arg(&batch),
    );
    assert!(out.contains("already stored"), "{out}");
    assert_eq!(count(&data, "messages"), 2);
}
