//! `talkhouse ingest`: JSONL files (or stdin) into the event table, one atomic batch per file.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use talkhouse_core::ingest::{ViolationCollector, parse_jsonl};
use talkhouse_core::{BatchError, Event};
use talkhouse_storage::{DataLocation, EventTable};

use crate::args::IngestArgs;
use crate::{CliError, progress};

pub async fn run(data: &DataLocation, args: IngestArgs) -> Result<(), CliError> {
    let inputs: Vec<PathBuf> = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files
    };
    if args.idempotency_key.is_some() && inputs.len() > 1 {
        return Err(CliError::Usage(
            "--idempotency-key names one batch: give exactly one input".into(),
        ));
    }
    let table = Arc::new(EventTable::open(data).await?);
    for (index, path) in inputs.iter().enumerate() {
        let name = display_name(path);
        let started = Instant::now();
        let text = read_input(path)?;
        tracing::debug!(elapsed = ?started.elapsed(), bytes = text.len(), "read");
        let bar = progress::bytes(text.len() as u64);
        bar.set_message("validating");
        let events = parse_parallel(&text, &bar).map_err(|source| {
            bar.finish_and_clear();
            stop_note(index);
            CliError::Batch {
                path: name.clone(),
                source,
            }
        })?;
        drop(text);
        tracing::debug!(elapsed = ?started.elapsed(), events = events.len(), "validated");
        bar.set_message("committing");
        let outcome = table.write(events, args.idempotency_key.as_deref()).await?;
        bar.finish_and_clear();
        let seconds = started.elapsed().as_secs_f64();
        if outcome.replayed {
            println!("{name}: already stored under this idempotency key; nothing written");
        } else {
            println!(
                "{name}: {} messages, {} conversation versions, {} duplicate messages skipped; \
                 table version {} ({:.0} messages/s)",
                outcome.messages_written,
                outcome.conversations_written,
                outcome.duplicate_messages,
                outcome
                    .version
                    .map_or("unchanged".to_string(), |v| v.to_string()),
                (outcome.messages_written + outcome.duplicate_messages) as f64 / seconds.max(1e-9),
            );
        }
    }
    Ok(())
}

fn stop_note(index: usize) {
    if index > 0 {
        eprintln!("note: the {index} input(s) before this one were stored; the rest were not read");
    }
}

fn display_name(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "stdin".into()
    } else {
        path.display().to_string()
    }
}

fn read_input(path: &Path) -> Result<String, CliError> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text = std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    }
    Ok(text)
}

type ChunkResult = Result<Vec<Event>, BatchError>;

/// Parses and validates on every core: the text is cut at line ends into one chunk per thread.
fn parse_parallel(text: &str, bar: &indicatif::ProgressBar) -> Result<Vec<Event>, BatchError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunks = split_at_lines(text, threads * 4);
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<ChunkResult>>> = chunks.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some((first_line, chunk)) = chunks.get(index) else {
                        break;
                    };
                    let result = parse_jsonl(chunk, *first_line);
                    bar.inc(chunk.len() as u64);
                    *slots[index].lock().expect("no worker panics") = Some(result);
                }
            });
        }
    });
    let mut events = Vec::new();
    let mut collector = ViolationCollector::default();
    for slot in slots {
        match slot
            .into_inner()
            .expect("no worker panics")
            .expect("every chunk is parsed")
        {
            Ok(chunk) if collector.is_empty() => events.extend(chunk),
            Ok(_) => {}
            Err(error) => collector.merge(error),
        }
    }
    collector.finish().map(|()| events)
}

/// Up to `parts` slices ending at line ends, each with the number of its first line.
fn split_at_lines(text: &str, parts: usize) -> Vec<(usize, &str)> {
    let target = text.len() / parts.max(1) + 1;
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut line = 1;
    while start < text.len() {
        let mut end = (start + target).min(text.len());
        while end < text.len() && text.as_bytes()[end - 1] != b'\n' {
            end += 1;
        }
        let chunk = &text[start..end];
        chunks.push((line, chunk));
        line += chunk.bytes().filter(|b| *b == b'\n').count();
        start = end;
    }
    chunks
}
