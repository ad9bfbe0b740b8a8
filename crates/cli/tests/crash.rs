//! A write killed at a random point leaves the table readable and without a partial batch, on a
//! folder and on a bucket.

use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::support::*;

const FILES: u32 = 4;
const MESSAGES_PER_FILE: u32 = 6_000;

/// A small xorshift generator; the seed is printed so a failure can be replayed with
/// `TALKHOUSE_CRASH_SEED`.
fn delays(runs: usize, max_millis: u64) -> Vec<u64> {
    let mut state: u64 = std::env::var("TALKHOUSE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
        | 1;
    eprintln!("crash test seed: TALKHOUSE_CRASH_SEED={state}");
    (0..runs)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % max_millis
        })
        .collect()
}

#[test]
fn a_killed_ingest_leaves_whole_batches_only() {
    killed_ingests_leave_whole_batches_only(DataDir::new);
}

/// The same on a bucket of a real S3-compatible server: the commit is a put-if-absent there.
#[test]
fn a_killed_ingest_leaves_whole_batches_only_on_a_bucket() {
    let s3 = s3::S3Server::start();
    killed_ingests_leave_whole_batches_only(|| DataDir::in_bucket(&s3));
}

/// Kills `talkhouse ingest` of four files at random points into a table of `data_dir()`.
fn killed_ingests_leave_whole_batches_only(data_dir: impl Fn() -> DataDir) {
    let data = data_dir();
    let files: Vec<_> = (0..FILES)
        .map(|f| {
            let lines: Vec<_> = (0..MESSAGES_PER_FILE)
                .map(|n| {
                    message(
                        f * MESSAGES_PER_FILE + n,
                        &format!("s-{f}"),
                        "2024-03-01T10:00:00Z",
                    )
                })
                .collect();
            data.file(&format!("part-{f}.jsonl"), &jsonl(&lines))
        })
        .collect();

    // How long a full run takes here, to spread the kills over it.
    let started = std::time::Instant::now();
    let reference = data_dir();
    run_ok(talkhouse(&reference).arg("ingest").args(&files));
    let full_run = started.elapsed().as_millis() as u64;
    assert_eq!(
        count(&reference, "messages"),
        u64::from(FILES * MESSAGES_PER_FILE)
    );

    for delay in delays(5, full_run.max(50)) {
        let mut child = talkhouse(&data)
            .arg("ingest")
            .args(&files)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();

        let stored = count(&data, "messages");
        assert_eq!(
            stored % u64::from(MESSAGES_PER_FILE),
            0,
            "killed after {delay} ms: {stored} messages is not a whole number of batches"
        );
        // Every stored batch is complete: each session holds all of its file's messages.
        for row in sql_rows(
            &data,
            "SELECT session_code, count(*) FROM messages GROUP BY session_code",
        ) {
            assert!(
                row.ends_with(&format!(",{MESSAGES_PER_FILE}")),
                "partial batch after {delay} ms: {row}"
            );
        }
    }

    // The table still takes writes, and duplicates of what survived are recognised.
    run_ok(talkhouse(&data).arg("ingest").args(&files));
    assert_eq!(
        count(&data, "messages"),
        u64::from(FILES * MESSAGES_PER_FILE)
    );
}
