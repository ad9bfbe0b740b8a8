//! Each data file's entry as a scan reads it: its partition values and the statistics parsed
//! from the log's JSON, built once per process (data files never change once written).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use arrow::datatypes::{DataType, FieldRef, Schema, TimeUnit};
use datafusion::common::Statistics;
use datafusion::common::stats::Precision;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::scalar::ScalarValue;
use deltalake_core::DeltaTableError;
use deltalake_core::kernel::LogicalFileView;
use object_store::ObjectMeta;
use object_store::path::Path;

use crate::Result;

/// A data file as an add action of the log describes it.
pub(crate) trait LoggedFile {
    fn partition_values(&self) -> Cow<'_, HashMap<String, Option<String>>>;
    fn size(&self) -> i64;
    /// Milliseconds since the epoch.
    fn modification_time(&self) -> i64;
    /// The statistics as JSON.
    fn stats(&self) -> Option<Cow<'_, str>>;
}

impl LoggedFile for LogicalFileView {
    fn partition_values(&self) -> Cow<'_, HashMap<String, Option<String>>> {
        Cow::Owned(self.partition_values_map())
    }

    fn size(&self) -> i64 {
        LogicalFileView::size(self)
    }

    fn modification_time(&self) -> i64 {
        LogicalFileView::modification_time(self)
    }

    fn stats(&self) -> Option<Cow<'_, str>> {
        LogicalFileView::stats(self).map(Cow::Owned)
    }
}

/// Every data file read so far, by location, as a scan reads it: its partition values and the
/// statistics parsed from the log's JSON, built once (data files never change once written).
#[derive(Debug, Default)]
pub struct FileStatistics {
    known: Mutex<HashMap<Path, PartitionedFile>>,
}

impl FileStatistics {
    /// `file` with its partition values over `partition_fields` and its statistics over the
    /// columns of `data_schema` followed by the partition columns (see [`parse_statistics`]).
    pub(super) fn file(
        &self,
        location: Path,
        file: &impl LoggedFile,
        data_schema: &Schema,
        partition_fields: &[FieldRef],
    ) -> Result<PartitionedFile> {
        let columns = data_schema.fields().len() + partition_fields.len();
        let known = self.known.lock().expect("statistics lock");
        if let Some(known) = known.get(&location).filter(|known| {
            known
                .statistics
                .as_ref()
                .is_some_and(|s| s.column_statistics.len() == columns)
        }) {
            return Ok(known.clone());
        }
        drop(known);
        let partition = file.partition_values();
        let mut partition_values = Vec::with_capacity(partition_fields.len());
        for field in partition_fields {
            partition_values.push(match partition.get(field.name()).cloned().flatten() {
                Some(text) => ScalarValue::try_from_string(text, field.data_type())?,
                None => ScalarValue::try_from(field.data_type())?,
            });
        }
        let modified = file.modification_time();
        let last_modified = chrono::DateTime::from_timestamp_millis(modified).ok_or_else(|| {
            DeltaTableError::MetadataError(format!("invalid modification_time: {modified}"))
        })?;
        let object = ObjectMeta {
            location,
            last_modified,
            size: file.size() as u64,
            e_tag: None,
            version: None,
        };
        // Appends exact bounds of the partition columns to the data columns' statistics.
        let built = PartitionedFile::from(object)
            .with_partition_values(partition_values)
            .with_statistics(Arc::new(parse_statistics(file, data_schema)));
        self.known
            .lock()
            .expect("statistics lock")
            .insert(built.object_meta.location.clone(), built.clone());
        Ok(built)
    }

    /// Forgets files that are not in `live` once the cache holds twice as many: files removed
    /// by compaction are never read again by new snapshots.
    pub(super) fn keep_only(&self, live: &HashSet<&Path>) {
        let mut known = self.known.lock().expect("statistics lock");
        if known.len() > 2 * live.len() {
            known.retain(|location, _| live.contains(location));
        }
    }
}

/// A file's row count and the bounds of its timestamp, integer and string columns from the log's
/// JSON statistics. Delta truncates timestamp bounds to milliseconds, so a maximum is widened by
/// 999 microseconds. Writers may truncate long strings (Spark to 32 characters, with a marker
/// appended to the maximum), so a string column's bounds are kept only when both are shorter:
/// then they are the column's exact minimum and maximum (a file's `session_code` range lets a
/// transcript or the writer's session lookup skip it).
fn parse_statistics(file: &impl LoggedFile, data_schema: &Schema) -> Statistics {
    let mut statistics = Statistics::new_unknown(data_schema);
    let Some(json) = file
        .stats()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
    else {
        return statistics;
    };
    if let Some(rows) = json.get("numRecords").and_then(|n| n.as_u64()) {
        statistics.num_rows = Precision::Exact(rows as usize);
    }
    for (field, column) in data_schema
        .fields()
        .iter()
        .zip(statistics.column_statistics.iter_mut())
    {
        let bound = |kind: &str| json.get(kind).and_then(|values| values.get(field.name()));
        let (min, max) = match field.data_type() {
            DataType::Timestamp(TimeUnit::Microsecond, zone) => {
                let micros = |value: &serde_json::Value| {
                    value.as_str().and_then(|text| {
                        chrono::DateTime::parse_from_rfc3339(text)
                            .ok()
                            .map(|instant| instant.timestamp_micros())
                    })
                };
                let at =
                    |micros: i64| ScalarValue::TimestampMicrosecond(Some(micros), zone.clone());
                (
                    bound("minValues").and_then(micros).map(at),
                    bound("maxValues").and_then(micros).map(|m| at(m + 999)),
                )
            }
            data_type if is_string(data_type) => {
                let text = |value: &serde_json::Value| {
                    value
                        .as_str()
                        .filter(|text| text.chars().count() < UNTRUNCATED_CHARS)
                        .map(|text| string_scalar(field.data_type(), text))
                };
                (
                    bound("minValues").and_then(text),
                    bound("maxValues").and_then(text),
                )
            }
            DataType::Int64 => (
                bound("minValues")
                    .and_then(|v| v.as_i64())
                    .map(|v| ScalarValue::Int64(Some(v))),
                bound("maxValues")
                    .and_then(|v| v.as_i64())
                    .map(|v| ScalarValue::Int64(Some(v))),
            ),
            _ => (None, None),
        };
        match (min, max) {
            (Some(min), Some(max)) => {
                column.min_value = Precision::Exact(min);
                column.max_value = Precision::Exact(max);
            }
            // DataFusion prunes a column only when every file's bounds convert to one typed
            // array: a file without string bounds gets typed nulls (unknown, never pruned).
            _ if is_string(field.data_type()) => {
                let unknown = ScalarValue::try_from(field.data_type()).unwrap_or(ScalarValue::Null);
                column.min_value = Precision::Exact(unknown.clone());
                column.max_value = Precision::Exact(unknown);
            }
            _ => {}
        }
        if let Some(nulls) = bound("nullCount").and_then(|n| n.as_u64()) {
            column.null_count = Precision::Exact(nulls as usize);
        }
    }
    statistics
}

/// String bounds shorter than this many characters were not truncated by any Delta writer.
const UNTRUNCATED_CHARS: usize = 32;

fn is_string(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
    )
}

fn string_scalar(data_type: &DataType, text: &str) -> ScalarValue {
    let text = Some(text.to_string());
    match data_type {
        DataType::Utf8View => ScalarValue::Utf8View(text),
        DataType::LargeUtf8 => ScalarValue::LargeUtf8(text),
        _ => ScalarValue::Utf8(text),
    }
}
