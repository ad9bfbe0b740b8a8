//! A batch's rows into Parquet files: one file per partition of the table, the partitions shared
//! out to one writer per core.
//!
//! deltalake's `write` operation hashes every row to one of its writers, then each writer groups
//! its rows by partition: every row is hashed twice and copied twice. The writer orders a batch's
//! events by partition before encoding them (see [`by_partition`]), so each partition's rows are
//! a few runs of the encoded batches: zero-copy slices handed to `write_partition`.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use arrow::array::{Array, AsArray, RecordBatch};
use chrono::Datelike;
use delta_kernel::expressions::Scalar;
use deltalake_core::DeltaTable;
use deltalake_core::kernel::Add;
use deltalake_core::operations::write::WriteMetrics;
use deltalake_core::writer::{DeltaWriter, RecordBatchWriter, WriteMode};
use foldhash::fast::RandomState;
use indexmap::IndexMap;
use talkhouse_core::Event;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::parallel;
use crate::schema::PARTITION_COLUMNS;
use crate::write::file_layout::writer_properties;
use crate::{Error, Result};

/// An event with its line in the batch.
pub(crate) type LinedEvent<'a> = (i64, &'a Event);

/// The batch's events with their batch lines, grouped by the partition they are stored in (in
/// the order of the partitions), in batch order within each.
pub(crate) fn by_partition<'a>(events: &[LinedEvent<'a>]) -> Vec<LinedEvent<'a>> {
    type Key = (Uuid, bool, i32, u32);
    let mut groups: HashMap<Key, Vec<LinedEvent<'a>>, RandomState> = HashMap::default();
    for &(line, event) in events {
        let time = event.time();
        let key = (
            event.tenant().bot_id,
            matches!(event, Event::Conversation(_)),
            time.year(),
            time.month(),
        );
        groups.entry(key).or_default().push((line, event));
    }
    let mut groups: Vec<(Key, Vec<LinedEvent<'a>>)> = groups.into_iter().collect();
    groups.sort_unstable_by_key(|(key, _)| *key);
    groups.into_iter().flat_map(|(_, events)| events).collect()
}

/// The rows of one partition of the table, in the runs they were found in.
struct PartitionRows {
    values: IndexMap<String, Scalar>,
    runs: Vec<RecordBatch>,
    rows: usize,
}

/// Writes `batches` (rows of the table's schema) into new files of `table`, one per partition,
/// and returns the files' `Add` actions for the commit that makes them part of the table.
pub(crate) async fn write_files(table: &DeltaTable, batches: &[RecordBatch]) -> Result<Vec<Add>> {
    let mut partitions = partition_rows(batches)?;
    // The largest partitions first, each to the writer with the fewest rows so far.
    partitions.sort_by_key(|partition| std::cmp::Reverse(partition.rows));
    let writers = parallel::cores();
    let mut shares: Vec<(usize, Vec<PartitionRows>)> = (0..writers.min(partitions.len()))
        .map(|_| (0, Vec::new()))
        .collect();
    for partition in partitions {
        let share = shares
            .iter_mut()
            .min_by_key(|(rows, _)| *rows)
            .expect("a writer for every partition");
        share.0 += partition.rows;
        share.1.push(partition);
    }
    let mut tasks = JoinSet::new();
    for (_, share) in shares {
        let mut files = RecordBatchWriter::for_table(table)?
            .with_writer_properties(writer_properties().build());
        tasks.spawn(async move {
            for partition in share {
                for run in partition.runs {
                    files
                        .write_partition(run, &partition.values, WriteMode::Default)
                        .await?;
                }
            }
            files.flush().await
        });
    }
    let mut adds = Vec::new();
    while let Some(written) = tasks.join_next().await {
        let written = written.map_err(|e| Error::Io(std::io::Error::other(e)))?;
        adds.extend(written?);
    }
    Ok(adds)
}

/// The runs of rows of equal partition values in `batches`, gathered per partition.
fn partition_rows(batches: &[RecordBatch]) -> Result<Vec<PartitionRows>> {
    let mut partitions: Vec<PartitionRows> = Vec::new();
    let mut index: HashMap<[String; 3], usize, RandomState> = HashMap::default();
    for batch in batches {
        let columns = PARTITION_COLUMNS
            .iter()
            .map(|name| {
                let column = batch.column_by_name(name).ok_or_else(|| {
                    Error::Arrow(arrow::error::ArrowError::SchemaError(format!(
                        "a batch of the events table without its partition column {name}"
                    )))
                })?;
                column.as_string_opt::<i32>().cloned().ok_or_else(|| {
                    Error::Arrow(arrow::error::ArrowError::SchemaError(format!(
                        "the partition column {name} is not text"
                    )))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if let Some(name) = PARTITION_COLUMNS
            .iter()
            .zip(&columns)
            .find_map(|(name, column)| (column.null_count() > 0).then_some(name))
        {
            return Err(Error::Arrow(
                arrow::error::ArrowError::InvalidArgumentError(format!(
                    "a row of the batch has no {name}"
                )),
            ));
        }
        let same_partition = |a: usize, b: usize| columns.iter().all(|c| c.value(a) == c.value(b));
        let mut start = 0;
        while start < batch.num_rows() {
            let mut end = start + 1;
            while end < batch.num_rows() && same_partition(start, end) {
                end += 1;
            }
            let key = [0, 1, 2].map(|c| columns[c].value(start).to_string());
            let partition = *index.entry(key.clone()).or_insert_with(|| {
                partitions.push(PartitionRows {
                    values: PARTITION_COLUMNS
                        .iter()
                        .zip(key)
                        .map(|(name, value)| (name.to_string(), Scalar::String(value)))
                        .collect(),
                    runs: Vec::new(),
                    rows: 0,
                });
                partitions.len() - 1
            });
            partitions[partition]
                .runs
                .push(batch.slice(start, end - start));
            partitions[partition].rows += end - start;
            start = end;
        }
    }
    Ok(partitions)
}

/// The commit info's `operationMetrics` of a write of `rows` rows into the files `adds`, as
/// deltalake's `write` operation records them, for the tools that read a table's history.
pub(crate) fn operation_metrics(
    adds: &[Add],
    rows: usize,
    began: Instant,
) -> Result<(String, serde_json::Value)> {
    let partitions: HashSet<Vec<(&String, &Option<String>)>> = adds
        .iter()
        .map(|add| add.partition_values.iter().collect())
        .collect();
    let metrics = WriteMetrics {
        num_added_files: adds.len(),
        num_removed_files: 0,
        num_partitions: partitions.len(),
        num_added_rows: rows,
        execution_time_ms: began.elapsed().as_millis() as u64,
        num_retries: 0,
    };
    let metrics = serde_json::to_value(&metrics).map_err(deltalake_core::DeltaTableError::from)?;
    Ok(("operationMetrics".to_owned(), metrics))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::StringArray;
    use arrow::datatypes::{DataType, Field, Schema};
    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::test_events::{conversation_event, tenant};

    fn conversation(bot: u128, started: DateTime<Utc>) -> Event {
        conversation_event(tenant(bot), "s", started, started)
    }

    #[test]
    fn events_are_grouped_by_partition_keeping_their_lines_and_order() {
        let march = Utc.with_ymd_and_hms(2024, 3, 31, 23, 0, 0).unwrap();
        let april = Utc.with_ymd_and_hms(2024, 4, 1, 0, 0, 0).unwrap();
        let events = [
            conversation(2, march),
            conversation(1, april),
            conversation(2, april),
            conversation(1, march),
            conversation(2, march),
            conversation(1, april),
        ];
        // Lines as left by dropped duplicates: with gaps.
        let lined: Vec<LinedEvent<'_>> = (0..).step_by(2).zip(&events).collect();
        let lines: Vec<i64> = by_partition(&lined).iter().map(|(line, _)| *line).collect();
        // Bot 1 in March, bot 1 in April, bot 2 in March, bot 2 in April.
        assert_eq!(lines, [6, 2, 10, 0, 8, 4]);
        for (line, event) in by_partition(&lined) {
            assert!(std::ptr::eq(event, &events[line as usize / 2]));
        }
    }

    #[test]
    fn the_runs_of_each_partition_are_gathered_without_copying() {
        let schema = Arc::new(Schema::new(
            PARTITION_COLUMNS
                .iter()
                .map(|name| Field::new(*name, DataType::Utf8, false))
                .collect::<Vec<_>>(),
        ));
        let batch = |rows: &[[&str; 3]]| {
            let column = |index: usize| {
                Arc::new(
                    rows.iter()
                        .map(|row| Some(row[index]))
                        .collect::<StringArray>(),
                ) as _
            };
            RecordBatch::try_new(schema.clone(), vec![column(0), column(1), column(2)]).unwrap()
        };
        let first = batch(&[
            ["a", "message", "2024-03"],
            ["a", "message", "2024-03"],
            ["a", "message", "2024-04"],
            ["b", "message", "2024-04"],
        ]);
        let second = batch(&[["a", "message", "2024-03"], ["a", "rollup", "2024-03"]]);
        let partitions = partition_rows(&[first.clone(), second]).unwrap();
        // A run is a slice of its batch: it shares the batch's buffers.
        let values = |batch: &RecordBatch| batch.column(2).as_string::<i32>().values().as_ptr();
        assert_eq!(values(&partitions[0].runs[0]), values(&first));
        let found: Vec<(Vec<String>, Vec<usize>, usize)> = partitions
            .iter()
            .map(|p| {
                let values = p
                    .values
                    .values()
                    .map(|value| match value {
                        Scalar::String(text) => text.clone(),
                        other => panic!("not text: {other}"),
                    })
                    .collect();
                (
                    values,
                    p.runs.iter().map(|r| r.num_rows()).collect(),
                    p.rows,
                )
            })
            .collect();
        let strings = |v: [&str; 3]| v.map(String::from).to_vec();
        assert_eq!(
            found,
            [
                (strings(["a", "message", "2024-03"]), vec![2, 1], 3),
                (strings(["a", "message", "2024-04"]), vec![1], 1),
                (strings(["b", "message", "2024-04"]), vec![1], 1),
                (strings(["a", "rollup", "2024-03"]), vec![1], 1),
            ]
        );
    }

    /// The commit of a write states, as deltalake's `write` would, the files, partitions and rows
    /// that its `add` actions hold.
    #[tokio::test]
    async fn a_write_records_its_operation_metrics_in_the_commit() {
        let folder = tempfile::tempdir().unwrap();
        let location = crate::DataLocation::local(folder.path()).unwrap();
        let table = crate::EventTable::open(&location).await.unwrap();
        let march = Utc.with_ymd_and_hms(2024, 3, 31, 23, 0, 0).unwrap();
        let april = Utc.with_ymd_and_hms(2024, 4, 1, 0, 0, 0).unwrap();
        let events = vec![
            conversation(1, march),
            conversation(1, april),
            conversation(2, april),
        ];
        let version = table.write(events, None).await.unwrap().version.unwrap();
        let log = location
            .local_table_path(crate::schema::EVENTS_TABLE)
            .unwrap()
            .join(format!("_delta_log/{version:020}.json"));
        let actions: Vec<serde_json::Value> = std::fs::read_to_string(log)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let adds: Vec<&serde_json::Value> = actions.iter().filter_map(|a| a.get("add")).collect();
        let rows: u64 = adds
            .iter()
            .map(|add| {
                let stats: serde_json::Value =
                    serde_json::from_str(add["stats"].as_str().unwrap()).unwrap();
                stats["numRecords"].as_u64().unwrap()
            })
            .sum();
        let partitions: HashSet<String> = adds
            .iter()
            .map(|add| add["partitionValues"].to_string())
            .collect();
        let metrics = actions
            .iter()
            .find_map(|a| a.get("commitInfo"))
            .map(|info| info["operationMetrics"].clone())
            .unwrap();
        // Three conversations in three partitions, and their rollup rows.
        assert!(adds.len() > 3, "{} files", adds.len());
        assert_eq!(metrics["num_added_files"], adds.len());
        assert_eq!(metrics["num_partitions"], partitions.len());
        assert_eq!(metrics["num_added_rows"], rows);
        assert_eq!(metrics["num_removed_files"], 0);
    }
}
