//! Erasure on a bucket of a real S3-compatible server: `talkhouse erase` commits there, and after
//! `talkhouse vacuum` no object in the data location holds the person's text or key; another
//! user's rows stay.

use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use serde_json::Value;

use crate::support::s3::S3Server;
use crate::support::*;

/// The objects of the data location whose bytes hold `needle`.
async fn objects_holding(data: &DataDir, needle: &str) -> Vec<String> {
    let store = data.location().object_store().unwrap();
    let listed: Vec<_> = store.list(None).try_collect().await.unwrap();
    let mut holding = Vec::new();
    for meta in listed {
        let bytes = store
            .get(&meta.location)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        if memchr::memmem::find(&bytes, needle.as_bytes()).is_some() {
            holding.push(meta.location.to_string());
        }
    }
    holding
}

/// A message of `user` in `session`, saying `text`, with `key` as business key.
fn said(n: u32, session: &str, user: &str, text: &str, key: &str) -> Value {
    let mut line = message(n, session, "2024-03-10T10:00:00Z");
    line["user_id"] = user.into();
    line["text"] = text.into();
    line["business_key"] = key.into();
    line
}

#[tokio::test(flavor = "multi_thread")]
async fn an_erased_person_leaves_no_object_holding_them_after_vacuum() {
    let s3 = S3Server::start();
    let data = DataDir::in_bucket(&s3);
    let secret = format!("erase-me-{}", uuid::Uuid::new_v4());
    let kept = format!("keep-me-{}", uuid::Uuid::new_v4());
    let (person_key, other_key) = ("+49 151 0000 4242", "+49 151 0000 7777");
    let mut lines = Vec::new();
    for (n, session) in [(1, "S-P1"), (2, "S-P1"), (3, "S-P2")] {
        lines.push(said(
            n,
            session,
            "person-7",
            &format!("{secret} {n}"),
            person_key,
        ));
    }
    for n in 4..7 {
        lines.push(said(
            n,
            "S-O1",
            "other-8",
            &format!("{kept} {n}"),
            other_key,
        ));
    }
    let batch = data.file("batch.jsonl", &jsonl(&lines));
    run_ok(talkhouse(&data).arg("ingest").arg(&batch));
    // The second batch makes the first commit's entry an older version than the erasure's.
    let more = data.file(
        "more.jsonl",
        &jsonl(&[said(9, "S-O1", "other-8", &format!("{kept} 9"), other_key)]),
    );
    run_ok(talkhouse(&data).arg("ingest").arg(&more));
    assert!(!objects_holding(&data, &secret).await.is_empty());

    let record = run_ok(talkhouse(&data).args([
        "erase",
        "--org",
        ORG,
        "--env",
        ENV,
        "--bot",
        BOT,
        "--business-key",
        person_key,
    ]));
    let record: Value = serde_json::from_str(record.trim()).unwrap();
    assert_eq!(record["sessions"], 2);
    assert_eq!(record["messages"], 3);
    assert_eq!(record["key"], "business_key");
    assert_eq!(count(&data, "messages"), 4);
    assert_eq!(
        sql_rows(&data, "SELECT SUM(user_messages) FROM rollups"),
        ["4"],
        "the rollups count what is left"
    );

    run_ok(talkhouse(&data).args(["vacuum", "--retention-hours", "0"]));
    for needle in [secret.as_str(), person_key] {
        assert_eq!(
            objects_holding(&data, needle).await,
            Vec::<String>::new(),
            "{needle}"
        );
    }
    assert!(!objects_holding(&data, &kept).await.is_empty());
    assert_eq!(count(&data, "messages"), 4);
}
