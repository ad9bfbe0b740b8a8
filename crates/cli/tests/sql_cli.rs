//! `talkhouse sql`: formats, EXPLAIN, listing, plain errors.

use super::support::*;

#[test]
fn every_output_format_carries_the_same_rows() {
    let data = with_fixture();
    let query = "SELECT session_code, count(*) AS n FROM messages \
                 WHERE bot_id = '0b000000-0000-4000-8000-000000000001' GROUP BY session_code ORDER BY session_code";

    let csv = run_ok(talkhouse(&data).args(["sql", "--format", "csv", "-c", query]));
    assert_eq!(csv, "session_code,n\nA,4\nB,3\nC,1\n");

    let json = run_ok(talkhouse(&data).args(["sql", "--format", "json", "-c", query]));
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows[1], serde_json::json!({"session_code": "B", "n": 3}));
    let nulls = run_ok(talkhouse(&data).args([
        "sql",
        "--format",
        "json",
        "-c",
        "SELECT message_id, confidence FROM messages WHERE message_id = 'a0000000-0000-4000-8000-000000000002'",
    ]));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(nulls.trim()).unwrap(),
        serde_json::json!({"message_id": "a0000000-0000-4000-8000-000000000002", "confidence": null})
    );

    let table = run_ok(talkhouse(&data).args(["sql", "-c", query]));
    assert!(table.contains("| session_code | n |"), "{table}");
    assert!(table.contains("| C            | 1 |"), "{table}");

    let path = data.path().join("out.parquet");
    run_ok(
        talkhouse(&data)
            .args(["sql", "--format", "parquet", "--output"])
            .arg(&path)
            .args(["-c", query]),
    );
    let file = std::fs::File::open(&path).unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 1024).unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 3);
}

#[test]
fn lists_become_text_in_csv_and_statements_run_in_order() {
    let data = with_fixture();
    let out = run_ok(talkhouse(&data).args([
        "sql",
        "--format",
        "csv",
        "-c",
        "SELECT tags FROM messages WHERE message_id = 'a0000000-0000-4000-8000-000000000008'; SELECT 1 AS one",
    ]));
    assert_eq!(out, "tags\n\"[support, vip]\"\none\n1\n");
}

#[test]
fn tables_columns_and_plans_can_be_listed() {
    let data = with_fixture();
    let tables = run_ok(talkhouse(&data).args(["sql", "--format", "csv", "-c", "SHOW TABLES"]));
    for name in [
        "messages",
        "conversations",
        "conversation_versions",
        "channels",
        "events",
    ] {
        assert!(
            tables.contains(&format!(",{name},")),
            "{name} missing from {tables}"
        );
    }
    let columns = run_ok(talkhouse(&data).args([
        "sql",
        "--format",
        "csv",
        "-c",
        "SHOW COLUMNS FROM conversations",
    ]));
    assert!(columns.contains("flows_travelled"), "{columns}");
    let plan = run_ok(talkhouse(&data).args([
        "sql",
        "-c",
        "EXPLAIN SELECT count(*) FROM messages WHERE bot_id = 'x'",
    ]));
    assert!(plan.contains("physical_plan"), "{plan}");
}

#[test]
fn sql_from_a_file_and_from_stdin() {
    let data = with_fixture();
    let file = data.file("q.sql", "SELECT count(*) AS n\nFROM conversations;\n");
    assert_eq!(
        run_ok(talkhouse(&data).args(["sql", "--format", "csv"]).arg(&file)),
        "n\n3\n"
    );
    let output = talkhouse(&data)
        .args(["sql", "--format", "csv"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "n\n3\n");
}

#[test]
fn errors_are_plain_with_a_non_zero_exit() {
    let data = with_fixture();
    let stderr = run_fails(talkhouse(&data).args(["sql", "-c", "SELECT nope FROM messages"]));
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("nope"), "{stderr}");
    let stderr = run_fails(talkhouse(&data).args(["sql", "-c", "SELEC 1"]));
    assert!(stderr.starts_with("error: "), "{stderr}");
    let stderr = run_fails(talkhouse(&data).args(["sql", "--format", "parquet", "-c", "SELECT 1"]));
    assert!(stderr.contains("--output"), "{stderr}");
}
