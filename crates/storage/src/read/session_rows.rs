//! The rows of one session, read straight from the files that may hold them.
//!
//! A transcript asks for one session of one bot. Through DataFusion that is two plans, and
//! planning them (pruning the bot's files, optimizing, building the scans) took a fifth of a
//! transcript's time on `medium` (`benches/RESULTS.md`), more than reading the rows. Here the
//! files are chosen by their partition values and `session_code` bounds, the pages of each file
//! by the page index of `session_code`, and the rows by the session and the tenant, over footers
//! and page indexes from the shared metadata cache.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, Scalar, StringArray};
use arrow::compute::kernels::cmp::eq;
use arrow::datatypes::{Field, Schema};
use datafusion::common::stats::Precision;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::ParquetFileReaderFactory;
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::scalar::ScalarValue;
use futures::TryStreamExt;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowPredicate, ArrowPredicateFn, ArrowReaderMetadata, ArrowReaderOptions, RowFilter,
    RowSelection,
};
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use talkhouse_core::Tenant;

use crate::Result;
use crate::read::live_files::{LiveFiles, text};
use crate::read::page_index_cache::PageIndexCachingFactory;

/// The column every read is narrowed by.
const SESSION_CODE: &str = "session_code";

/// Files read at the same time.
const FILES_AT_ONCE: usize = 4;

/// A session's rows of one kind, and what reading them cost.
#[derive(Debug, Default)]
pub struct SessionRows {
    /// The requested columns, in the order asked; a column a file lacks is null. Batches of
    /// different files may type a column differently (strings as views or not).
    pub batches: Vec<RecordBatch>,
    /// Rows of the pages read, before the session filter.
    pub rows_read: u64,
    pub bytes_read: u64,
}

impl LiveFiles {
    /// The rows of `kind` of the session `session_code` of `tenant`, with `columns`.
    pub(crate) async fn session_rows(
        &self,
        runtime: &RuntimeEnv,
        tenant: &Tenant,
        kind: &str,
        session_code: &str,
        columns: &[&str],
    ) -> Result<SessionRows> {
        let bot_id = tenant.bot_id.to_string();
        let code_column = self
            .scan_schema
            .file_schema()
            .fields()
            .iter()
            .position(|field| field.name() == SESSION_CODE)
            .expect("the table has a session_code column");
        let files: Vec<&PartitionedFile> = self
            .files
            .iter()
            .filter(|file| match file.partition_values.as_slice() {
                [bot, file_kind, _] => {
                    text(bot).as_deref() == Some(bot_id.as_str())
                        && text(file_kind).as_deref() == Some(kind)
                }
                _ => false,
            })
            .filter(|file| may_hold(file, code_column, session_code))
            .collect();
        let readers = PageIndexCachingFactory::new(
            runtime.object_store(&self.store)?,
            runtime.cache_manager.get_file_metadata_cache(),
        );
        let session = FileRead {
            readers: &readers,
            table_schema: &self.schema,
            tenant,
            session_code,
            columns,
        };
        let mut reads = Vec::with_capacity(files.len());
        for some in files.chunks(FILES_AT_ONCE) {
            let some = some.iter().map(|file| session.read(file));
            reads.extend(futures::future::try_join_all(some).await?);
        }
        Ok(reads
            .into_iter()
            .fold(SessionRows::default(), |mut all, one| {
                all.batches.extend(one.batches);
                all.rows_read += one.rows_read;
                all.bytes_read += one.bytes_read;
                all
            }))
    }
}

/// Whether the file's `session_code` bounds (unknown bounds hold anything) hold `code`.
fn may_hold(file: &PartitionedFile, code_column: usize, code: &str) -> bool {
    let Some(column) = file
        .statistics
        .as_ref()
        .and_then(|statistics| statistics.column_statistics.get(code_column))
    else {
        return true;
    };
    let bound = |bound: &Precision<ScalarValue>| bound.get_value().and_then(text);
    match (bound(&column.min_value), bound(&column.max_value)) {
        (Some(min), Some(max)) => min.as_str() <= code && code <= max.as_str(),
        _ => true,
    }
}

/// One session's read of one file after another.
struct FileRead<'a> {
    readers: &'a PageIndexCachingFactory,
    table_schema: &'a Schema,
    tenant: &'a Tenant,
    session_code: &'a str,
    columns: &'a [&'a str],
}

impl FileRead<'_> {
    async fn read(&self, file: &PartitionedFile) -> Result<SessionRows> {
        let metrics = ExecutionPlanMetricsSet::new();
        let mut reader: Box<dyn AsyncFileReader> =
            self.readers
                .create_reader(0, file.clone(), None, &metrics)?;
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
        let metadata = reader
            .get_metadata(Some(&options))
            .await
            .map_err(DataFusionError::from)?;
        let Some((row_groups, selection)) = pages_of(&metadata, self.session_code) else {
            return Ok(SessionRows::default());
        };
        let rows_read = selection.row_count() as u64;
        let metadata =
            ArrowReaderMetadata::try_new(metadata, options).map_err(DataFusionError::from)?;
        let file_schema = metadata.schema().clone();
        let root = |name: &str| file_schema.index_of(name).ok();
        let (Some(code), Some(org), Some(env)) =
            (root(SESSION_CODE), root("org_id"), root("env_id"))
        else {
            return Ok(SessionRows::default());
        };
        // The session first: the tenant's columns are then decoded for its rows alone, not for
        // every row of the pages whose bounds hold the code (a day of a large bot).
        let predicates = [
            vec![(self.session_code.to_string(), code)],
            vec![
                (self.tenant.org_id.to_string(), org),
                (self.tenant.env_id.to_string(), env),
            ],
        ]
        .map(|wanted| equal_to(metadata.parquet_schema(), wanted));
        let present: Vec<usize> = self.columns.iter().filter_map(|name| root(name)).collect();
        let projection = ProjectionMask::roots(metadata.parquet_schema(), present);
        let batches: Vec<RecordBatch> =
            ParquetRecordBatchStreamBuilder::new_with_metadata(reader, metadata)
                .with_row_groups(row_groups)
                .with_row_selection(selection)
                .with_row_filter(RowFilter::new(predicates.into()))
                .with_projection(projection)
                .build()
                .map_err(DataFusionError::from)?
                .try_collect()
                .await
                .map_err(DataFusionError::from)?;
        let batches = batches
            .into_iter()
            .filter(|batch| batch.num_rows() > 0)
            .map(|batch| self.with_requested_columns(&batch))
            .collect::<Result<_>>()?;
        let bytes_read = metrics
            .clone_inner()
            .sum_by_name("bytes_scanned")
            .map_or(0, |bytes| bytes.as_usize()) as u64;
        Ok(SessionRows {
            batches,
            rows_read,
            bytes_read,
        })
    }

    /// `batch` (the columns the file has, in file order) as the requested columns in their
    /// order, with nulls for those the file lacks (written before the column existed).
    fn with_requested_columns(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let mut fields = Vec::with_capacity(self.columns.len());
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        for name in self.columns {
            match batch.schema().column_with_name(name) {
                Some((index, field)) => {
                    fields.push(field.clone());
                    arrays.push(batch.column(index).clone());
                }
                None => {
                    let data_type = self.table_schema.field_with_name(name)?.data_type();
                    fields.push(Field::new(*name, data_type.clone(), true));
                    arrays.push(arrow::array::new_null_array(data_type, batch.num_rows()));
                }
            }
        }
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
    }
}

/// A predicate keeping the rows whose columns (by root) hold the wanted texts.
fn equal_to(
    schema: &parquet::schema::types::SchemaDescriptor,
    mut wanted: Vec<(String, usize)>,
) -> Box<dyn ArrowPredicate> {
    let mask = ProjectionMask::roots(schema, wanted.iter().map(|(_, root)| *root));
    // The predicate's batch holds its columns in file order.
    wanted.sort_by_key(|(_, root)| *root);
    Box::new(ArrowPredicateFn::new(mask, move |batch: RecordBatch| {
        let mut kept = BooleanArray::from(vec![true; batch.num_rows()]);
        for (index, (value, _)) in wanted.iter().enumerate() {
            let column = batch.column(index);
            let value =
                arrow::compute::cast(&StringArray::from(vec![value.as_str()]), column.data_type())?;
            kept = arrow::compute::and(&kept, &eq(column, &Scalar::new(value))?)?;
        }
        Ok(kept)
    }))
}

/// The row groups, and the rows of their pages, whose `session_code` bounds hold `code`;
/// `None` when no row group may hold it. Bounds a file does not carry hold anything.
fn pages_of(metadata: &ParquetMetaData, code: &str) -> Option<(Vec<usize>, RowSelection)> {
    let code_bytes = code.as_bytes();
    let holds = |min: Option<&[u8]>, max: Option<&[u8]>| match (min, max) {
        (Some(min), Some(max)) => min <= code_bytes && code_bytes <= max,
        _ => true,
    };
    let leaf = metadata
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .position(|column| column.path().string() == SESSION_CODE)?;
    let mut row_groups = Vec::new();
    let mut ranges: Vec<Range<usize>> = Vec::new();
    let mut first_row = 0;
    for (index, group) in metadata.row_groups().iter().enumerate() {
        let rows = group.num_rows() as usize;
        let statistics = group.column(leaf).statistics();
        if !holds(
            statistics.and_then(|s| s.min_bytes_opt()),
            statistics.and_then(|s| s.max_bytes_opt()),
        ) {
            continue;
        }
        row_groups.push(index);
        let page_index = metadata
            .column_index()
            .and_then(|groups| groups.get(index)?.get(leaf))
            .zip(
                metadata
                    .offset_index()
                    .and_then(|groups| groups.get(index)?.get(leaf)),
            );
        match page_index {
            Some((ColumnIndexMetaData::BYTE_ARRAY(bounds), offsets)) => {
                let pages = offsets.page_locations();
                for (page, location) in pages.iter().enumerate() {
                    if bounds.is_null_page(page)
                        || !holds(bounds.min_value(page), bounds.max_value(page))
                    {
                        continue;
                    }
                    let start = location.first_row_index as usize;
                    let end = pages
                        .get(page + 1)
                        .map_or(rows, |next| next.first_row_index as usize);
                    ranges.push(first_row + start..first_row + end);
                }
            }
            _ => ranges.push(first_row..first_row + rows),
        }
        first_row += rows;
    }
    if ranges.is_empty() {
        return None;
    }
    Some((
        row_groups,
        RowSelection::from_consecutive_ranges(ranges.into_iter(), first_row),
    ))
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;
    use talkhouse_core::generate::{GenerateConfig, Generator};
    use talkhouse_core::{Event, Tenant};
    use uuid::Uuid;

    use crate::schema::{KIND_CONVERSATION, KIND_MESSAGE};
    use crate::{DataLocation, EventTable};

    /// The same events under another organization, with message ids of their own.
    fn under(org_id: Uuid, day: &[Event]) -> Vec<Event> {
        day.iter()
            .cloned()
            .map(|event| match event {
                Event::Message(mut m) => {
                    m.tenant.org_id = org_id;
                    m.message_id = Uuid::from_u128(m.message_id.as_u128() ^ 1);
                    Event::Message(m)
                }
                Event::Conversation(mut c) => {
                    c.tenant.org_id = org_id;
                    Event::Conversation(c)
                }
            })
            .collect()
    }

    #[tokio::test]
    async fn a_session_is_read_from_the_pages_that_hold_it_and_of_its_tenant_only() {
        let folder = tempfile::tempdir().unwrap();
        let table = EventTable::open(&DataLocation::local(folder.path()).unwrap())
            .await
            .unwrap();
        let generator = Generator::new(GenerateConfig {
            seed: 5,
            bots: 1,
            days: 3,
            until: chrono::NaiveDate::from_ymd_opt(2024, 3, 20).unwrap(),
            conversations_per_day: 1500,
        });
        let tenant = generator.bots()[0].tenant;
        // The same bot id and session codes under another organization.
        let other = Tenant {
            org_id: Uuid::from_u128(7),
            ..tenant
        };
        let days: Vec<Vec<Event>> = generator.events().collect();
        for day in &days {
            table.write(day.clone(), None).await.unwrap();
            table.write(under(other.org_id, day), None).await.unwrap();
        }
        let messages_per_day = days[1]
            .iter()
            .filter(|e| matches!(e, Event::Message(_)))
            .count();
        assert!(
            messages_per_day > 8 * 1024,
            "{messages_per_day} messages a day"
        );
        let session = days[1]
            .iter()
            .filter_map(|event| match event {
                Event::Message(m) => Some(m.session_code.clone()),
                Event::Conversation(_) => None,
            })
            .nth(messages_per_day / 2)
            .unwrap();
        let expected = |kind: &str| {
            days.iter()
                .flatten()
                .filter(|event| match (event, kind) {
                    (Event::Message(m), KIND_MESSAGE) => m.session_code == session,
                    (Event::Conversation(c), KIND_CONVERSATION) => c.session_code == session,
                    _ => false,
                })
                .count()
        };

        let snapshot = table.snapshot().await.unwrap();
        let runtime = table.runtime();
        for kind in [KIND_MESSAGE, KIND_CONVERSATION] {
            let read = snapshot
                .session_rows(
                    &runtime,
                    &tenant,
                    kind,
                    &session,
                    &["org_id", "session_code"],
                )
                .await
                .unwrap()
                .unwrap();
            let rows: usize = read.batches.iter().map(|b| b.num_rows()).sum();
            assert!(rows > 0);
            assert_eq!(rows, expected(kind), "{kind}");
            for batch in &read.batches {
                let org = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8)
                    .unwrap();
                let code = arrow::compute::cast(batch.column(1), &arrow::datatypes::DataType::Utf8)
                    .unwrap();
                assert!(
                    org.as_string::<i32>()
                        .iter()
                        .all(|org| org == Some(tenant.org_id.to_string().as_str()))
                );
                assert!(
                    code.as_string::<i32>()
                        .iter()
                        .all(|c| c == Some(session.as_str()))
                );
            }
            assert!(read.bytes_read > 0);
        }
        // Both tenants' files of the day hold the session code, but only the pages whose bounds
        // hold it are read: fewer rows than one of the files holds.
        let read = snapshot
            .session_rows(&runtime, &tenant, KIND_MESSAGE, &session, &["org_id"])
            .await
            .unwrap()
            .unwrap();
        assert!(
            read.rows_read < messages_per_day as u64,
            "{} rows read; a day's file holds {messages_per_day}",
            read.rows_read
        );

        let unknown = snapshot
            .session_rows(
                &runtime,
                &tenant,
                KIND_MESSAGE,
                "no-such-session",
                &["org_id"],
            )
            .await
            .unwrap()
            .unwrap();
        assert!(unknown.batches.is_empty());
        assert_eq!(unknown.rows_read, 0);
    }
}
