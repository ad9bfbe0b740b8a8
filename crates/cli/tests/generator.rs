//! `talkhouse generate` is deterministic and goes through the ingest path.

use super::support::*;

/// `talkhouse generate` at a small fixed scale, then `extra` arguments.
fn generate_with(data: &DataDir, seed: u64, extra: &[&std::ffi::OsStr]) {
    let seed = seed.to_string();
    let scale = [
        "--bots",
        "4",
        "--days",
        "3",
        "--conversations-per-day",
        "15",
        "--until",
        "2024-03-10",
    ];
    run_ok(
        talkhouse(data)
            .args(["generate", "--seed", &seed])
            .args(scale)
            .args(extra),
    );
}

fn generate(data: &DataDir, seed: u64) {
    generate_with(data, seed, &[]);
}

const CONTENT: &str = "SELECT bot_id, message_id, session_code, CAST(sent_at AS VARCHAR), sender, \
                       content_type, nlp_response, confidence, channel_name, tags \
                       FROM messages ORDER BY bot_id, message_id";

#[test]
fn the_same_seed_writes_the_same_data() {
    let (a, b, c) = (DataDir::new(), DataDir::new(), DataDir::new());
    generate(&a, 7);
    generate(&b, 7);
    generate(&c, 8);
    let rows_a = sql_rows(&a, CONTENT);
    assert!(rows_a.len() > 100, "only {} messages", rows_a.len());
    assert_eq!(rows_a, sql_rows(&b, CONTENT));
    assert_ne!(rows_a, sql_rows(&c, CONTENT));
    let conversations = "SELECT * FROM conversations ORDER BY bot_id, session_code";
    assert_eq!(sql_rows(&a, conversations), sql_rows(&b, conversations));

    // Four bots over two organizations, each bot with 3-6 named channels.
    let orgs = sql_rows(&a, "SELECT count(DISTINCT org_id) FROM messages");
    assert_eq!(orgs, ["2"]);
    for row in sql_rows(&a, "SELECT bot_id, count(*) FROM channels GROUP BY bot_id") {
        let channels: usize = row.split(',').nth(1).unwrap().parse().unwrap();
        assert!((3..=6).contains(&channels), "{row}");
    }

    // Running it again stores nothing twice.
    let before = count(&a, "conversation_versions");
    generate(&a, 7);
    assert_eq!(count(&a, "conversation_versions"), before);
    assert_eq!(sql_rows(&a, CONTENT), rows_a);
}

#[test]
fn the_jsonl_export_ingests_into_the_same_tables() {
    let (stored, exported) = (DataDir::new(), DataDir::new());
    generate(&stored, 11);
    let file = exported.path().join("demo.jsonl");
    generate_with(&exported, 11, &["--jsonl".as_ref(), file.as_os_str()]);
    run_ok(talkhouse(&exported).arg("ingest").arg(&file));
    assert_eq!(sql_rows(&stored, CONTENT), sql_rows(&exported, CONTENT));
    let conversations = "SELECT * FROM conversations ORDER BY bot_id, session_code";
    assert_eq!(
        sql_rows(&stored, conversations),
        sql_rows(&exported, conversations)
    );
}
