//! Ingest throughput of the CLI path: `talkhouse ingest` on a file of exactly 1,000,000 messages
//! (with the conversation versions of their sessions interleaved), into a fresh data folder.
//!
//! Run: `cargo bench -p talkhouse-cli --bench ingest` (release build). Prints messages/s for
//! each run and the median, and the same file loaded by DuckDB (`read_json` to Parquet, installed
//! from PyPI by this benchmark) as a peer, with the ratio. Not a test: nothing is asserted.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

mod peers;

use chrono::NaiveDate;
use talkhouse_core::Event;
use talkhouse_core::generate::{GenerateConfig, Generator};
use talkhouse_core::ingest::to_jsonl_line;

const MESSAGES: usize = 1_000_000;
const RUNS: usize = 3;

fn main() {
    let work = tempfile::tempdir().expect("a temporary folder");
    let file = work.path().join("events.jsonl");
    let (messages, conversations, bytes) = write_file(&file);
    println!(
        "input: {messages} messages + {conversations} conversation versions, {:.0} MiB",
        bytes as f64 / 1048576.0
    );
    let talkhouse = env!("CARGO_BIN_EXE_talkhouse");
    let mut rates = Vec::new();
    for run in 1..=RUNS {
        let data = work.path().join(format!("data-{run}"));
        let started = Instant::now();
        let output = Command::new(talkhouse)
            .arg("--data")
            .arg(&data)
            .arg("ingest")
            .arg(&file)
            .output()
            .expect("talkhouse runs");
        let seconds = started.elapsed().as_secs_f64();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let rate = messages as f64 / seconds;
        println!("talkhouse ingest run {run}: {seconds:.2} s, {rate:.0} messages/s");
        rates.push(rate);
        std::fs::remove_dir_all(&data).ok();
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    println!("talkhouse ingest median: {median:.0} messages/s (aim: 300000)");

    match duckdb_seconds(work.path(), &file) {
        Some(seconds) => {
            let peer = messages as f64 / seconds;
            println!("duckdb read_json -> parquet: {seconds:.2} s, {peer:.0} messages/s");
            println!("ratio talkhouse/duckdb: {:.2}x", median / peer);
        }
        None => println!("duckdb: not available; no ratio"),
    }
}

/// The generated dataset in the ingest format, cut after exactly [`MESSAGES`] messages.
fn write_file(path: &Path) -> (usize, usize, u64) {
    let generator = Generator::new(GenerateConfig {
        seed: 1,
        bots: 10,
        days: 60,
        until: NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
        conversations_per_day: 700,
    });
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    let (mut messages, mut conversations) = (0, 0);
    'days: for day in generator.events() {
        for event in day {
            match event {
                Event::Message(_) if messages == MESSAGES => break 'days,
                Event::Message(_) => messages += 1,
                Event::Conversation(_) => conversations += 1,
            }
            writeln!(out, "{}", to_jsonl_line(&event)).unwrap();
        }
    }
    out.flush().unwrap();
    assert_eq!(messages, MESSAGES, "the generator made too few messages");
    (
        messages,
        conversations,
        std::fs::metadata(path).unwrap().len(),
    )
}

/// DuckDB loading the same file to Parquet: seconds.
fn duckdb_seconds(work: &Path, file: &Path) -> Option<f64> {
    let script = format!(
        "import duckdb, time\n\
         con = duckdb.connect()\n\
         con.execute('SET enable_progress_bar = false')\n\
         t = time.perf_counter()\n\
         con.execute(\"COPY (SELECT * FROM read_json('{file}', format='newline_delimited', sample_size=-1)) TO '{out}' (FORMAT parquet)\")\n\
         print(time.perf_counter() - t)\n",
        file = file.display(),
        out = work.join("duckdb.parquet").display(),
    );
    let printed = peers::python(&script)?;
    printed.parse().ok().or_else(|| {
        eprintln!("duckdb printed {printed:?}");
        None
    })
}
