//! `talkhouse ingest`: JSONL files (or stdin) into the event table, one atomic batch per file.

use std::io::Read;
use std::path::{Path, PathBuf};
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
        let (input, length) = open_input(path)?;
        let bar = progress::bytes(length.unwrap_or(0));
        bar.set_message("validating");
        let parsed = read_and_parse(input, &bar).map_err(|e| {
            bar.finish_and_clear();
            CliError::Usage(format!("{name}: {e}"))
        })?;
        let events = parsed.map_err(|source| {
            bar.finish_and_clear();
            stop_note(index);
            CliError::Batch {
                path: name.clone(),
                source,
            }
        })?;
        tracing::debug!(elapsed = ?started.elapsed(), events = events.iter().map(Vec::len).sum::<usize>(), "validated");
        bar.set_message("committing");
        let outcome = table
            .write_parts(events, args.idempotency_key.as_deref())
            .await?;
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

/// The input and its length in bytes, when known.
fn open_input(path: &Path) -> Result<(Box<dyn Read>, Option<u64>), CliError> {
    if path.as_os_str() == "-" {
        return Ok((Box::new(std::io::stdin().lock()), None));
    }
    let usage = |e: std::io::Error| CliError::Usage(format!("{}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(usage)?;
    let length = file.metadata().map_err(usage)?.len();
    Ok((Box::new(file), Some(length)))
}

type ChunkResult = Result<Vec<Event>, BatchError>;

/// Bytes read at a time: enough to keep every parser busy, and the input is never held whole.
const BLOCK_BYTES: usize = 8 << 20;

/// Reads `input` in blocks cut at line ends and parses and validates each on a worker per core
/// while the next is read: the events of each block, in order. The outer error is the input's
/// (unreadable, not UTF-8); the inner one lists the violations of every block.
fn read_and_parse(
    mut input: impl Read,
    bar: &indicatif::ProgressBar,
) -> std::io::Result<Result<Vec<Vec<Event>>, BatchError>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (blocks, received) = std::sync::mpsc::sync_channel::<Block>(threads * 2);
    let received = Mutex::new(received);
    let parsed: Mutex<Vec<(usize, ChunkResult)>> = Mutex::default();
    let read = std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let next = received.lock().expect("no worker panics").recv();
                    let Ok(block) = next else {
                        break;
                    };
                    let result = parse_jsonl(&block.text, block.first_line);
                    bar.inc(block.text.len() as u64);
                    let mut parsed = parsed.lock().expect("no worker panics");
                    parsed.push((block.index, result));
                }
            });
        }
        let read = read_blocks(&mut input, BLOCK_BYTES, |block| blocks.send(block).is_ok());
        drop(blocks);
        read
    });
    read?;
    let mut parsed = parsed.into_inner().expect("no worker panics");
    parsed.sort_by_key(|(index, _)| *index);
    let mut blocks = Vec::with_capacity(parsed.len());
    let mut collector = ViolationCollector::default();
    for (_, result) in parsed {
        match result {
            Ok(block) if collector.is_empty() => blocks.push(block),
            Ok(_) => {}
            Err(error) => collector.merge(error),
        }
    }
    Ok(collector.finish().map(|()| blocks))
}

/// A run of whole lines of the input.
struct Block {
    index: usize,
    /// The 1-based number of its first line in the input.
    first_line: usize,
    text: String,
}

/// Cuts `input` into blocks of about `block_bytes` that end at line ends (a longer line makes a
/// longer block) and hands them to `send` in order, until it returns false.
fn read_blocks(
    input: &mut impl Read,
    block_bytes: usize,
    mut send: impl FnMut(Block) -> bool,
) -> std::io::Result<()> {
    let mut carried: Vec<u8> = Vec::new();
    let (mut index, mut first_line) = (0, 1);
    loop {
        let mut bytes = std::mem::take(&mut carried);
        bytes.reserve(block_bytes);
        let read = input
            .by_ref()
            .take(block_bytes as u64)
            .read_to_end(&mut bytes)?;
        let at_end = read < block_bytes;
        let cut = match at_end {
            true => bytes.len(),
            false => memchr::memrchr(b'\n', &bytes).map_or(0, |last| last + 1),
        };
        carried = bytes.split_off(cut);
        if bytes.is_empty() {
            if at_end {
                return Ok(());
            }
            continue;
        }
        let lines = memchr::memchr_iter(b'\n', &bytes).count();
        let text = String::from_utf8(bytes).map_err(|e| {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = first_line + memchr::memchr_iter(b'\n', valid).count();
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("line {line} is not valid UTF-8"),
            )
        })?;
        if !send(Block {
            index,
            first_line,
            text,
        }) || at_end
        {
            return Ok(());
        }
        index += 1;
        first_line += lines;
    }
}
