//! Compaction: killed at random points it loses nothing and changes no answer; run to the end, by
//! `talkhouse compact` or in the background of `talkhouse serve`, it leaves fewer files, one version
//! per conversation, the same answers, and earlier versions still readable.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use talkhouse_core::generate::{GenerateConfig, Generator};
use talkhouse_query::QueryEngine;

use crate::support::{DataDir, run_ok, spawn_serve, sql_rows, talkhouse};

/// What every reader of the table would see: counts and sums over every view and the rollups.
fn fingerprint(data: &DataDir) -> Vec<String> {
    sql_rows(
        data,
        "SELECT (SELECT count(*) FROM messages) AS a, (SELECT count(DISTINCT message_id) FROM messages) AS b,
                (SELECT sum(length(text)) FROM messages) AS c,
                (SELECT count(*) FROM conversations) AS d, (SELECT sum(user_messages) FROM conversations) AS e,
                (SELECT sum(satisfaction) FROM conversations) AS f,
                (SELECT sum(conversations) FROM rollups) AS g, (SELECT sum(user_messages) FROM rollups) AS h,
                (SELECT sum(found) FROM rollups) AS i, (SELECT sum(not_found) FROM rollups) AS j",
    )
}

#[tokio::test]
async fn compaction_killed_anywhere_loses_nothing_and_finished_keeps_every_answer() {
    let seed = rand::rng().random::<u64>();
    eprintln!("compaction seed {seed}");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let data = DataDir::new();
    let generator = Generator::new(GenerateConfig {
        seed,
        bots: 2,
        days: 40,
        // Every month partition gets several commits, so compaction rewrites each.
        until: NaiveDate::from_ymd_opt(2026, 3, 25).unwrap(),
        conversations_per_day: 8,
    });
    {
        let table = data.table().await;
        let days: Vec<_> = generator.events().collect();
        for chunk in days.chunks(2) {
            table.write(chunk.concat(), None).await.unwrap();
        }
    }
    let before = fingerprint(&data);
    let table = data.table().await;
    let files_before = table.live_file_uris().await.unwrap().len();
    let version_before = table.latest_version().await.unwrap();
    let versions = sql_rows(&data, "SELECT count(*) FROM conversation_versions");
    // Versions of one session in one partition (a session's versions may span two months).
    let superseded = "SELECT count(*) FROM (SELECT bot_id, month, session_code FROM events \
                      WHERE kind = 'conversation' GROUP BY ALL HAVING count(*) > 1)";
    assert_ne!(
        sql_rows(&data, superseded),
        vec!["0"],
        "the data holds superseded versions"
    );

    // Killed (SIGKILL) at random points: every reader still sees exactly the same data.
    let mut killed_midway = 0;
    for _ in 0..4 {
        let mut child = talkhouse(&data).arg("compact").spawn().unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(100..2500)));
        if child.try_wait().unwrap().is_none() {
            killed_midway += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(fingerprint(&data), before, "after a kill");
    }
    eprintln!("{killed_midway} of 4 compactions were killed before they finished");

    // Finished in the background of `serve`: fewer files, the same answers.
    let (mut server, _address) = spawn_serve(crate::support::serve_on_any_port(&data).args([
        "--compact-interval-seconds",
        "1",
        "--compact-min-files",
        "2",
    ]));
    let deadline = Instant::now() + Duration::from_secs(120);
    while table.live_file_uris().await.unwrap().len() * 2 > files_before {
        assert!(
            Instant::now() < deadline,
            "the background compaction did not start"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // Killed wherever its round is; the command line finishes what is left.
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(fingerprint(&data), before, "after the server's compaction");
    run_ok(talkhouse(&data).arg("compact"));
    let again = run_ok(talkhouse(&data).arg("compact"));
    assert!(again.starts_with("compacted 0 partitions"), "{again}");
    // One file per partition is left; `--min-files 1` rewrites each (into the current file
    // layout, after an upgrade) and changes no answer.
    let partitions = table.live_file_uris().await.unwrap().len();
    let rewritten = run_ok(talkhouse(&data).args(["compact", "--min-files", "1"]));
    assert!(
        rewritten.contains(&format!(
            "compacted {partitions} partitions: {partitions} files before, {partitions} after"
        )),
        "{rewritten}"
    );
    assert_eq!(
        fingerprint(&data),
        before,
        "after rewriting every partition"
    );

    assert_eq!(fingerprint(&data), before, "after compaction");
    let files_after = table.live_file_uris().await.unwrap().len();
    assert!(
        files_after * 3 <= files_before,
        "{files_before} files became {files_after}"
    );
    assert_eq!(
        sql_rows(&data, superseded),
        vec!["0"],
        "one version per conversation and partition is left"
    );

    // A version read before compaction (by a pinned page or a report) is still readable.
    let old = QueryEngine::session_for(table.snapshot_at(version_before).await.unwrap())
        .await
        .unwrap();
    let old_versions = old
        .ctx
        .sql("SELECT count(*) AS n FROM conversation_versions")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let n = arrow::util::display::array_value_to_string(old_versions[0].column(0), 0).unwrap();
    assert_eq!(n, versions[0]);
}
