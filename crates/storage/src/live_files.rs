//! One table version as a DataFusion table whose file list is read from the Delta log once.
//!
//! deltalake's own provider replays the snapshot's file actions on every scan and parses each
//! file's JSON statistics to skip files: about 55 ms per query on the 1,866 files of the medium
//! benchmark (`benches/RESULTS.md`), paid by every query of a dashboard. Here the live files are
//! listed once per version, and each file's entry (partition values and statistics) is built once
//! per process ([`FileStatistics`]: files are never rewritten in place), so a version with a few
//! new files costs a lookup per old file, which compaction's commit per partition relies on. A
//! scan keeps the files whose partition values pass the query's partition filters, then those
//! whose statistics may hold matching rows (both one vectorized
//! evaluation over all files), and lets DataFusion's Parquet reader prune row groups with footers
//! from the shared metadata cache.
//!
//! Tables whose features change how files are read (deletion vectors, column mapping) keep
//! deltalake's provider; `talkhouse` never enables them.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use arrow::array::{Array, AsArray, RecordBatch, new_empty_array};
use arrow::datatypes::{DataType, FieldRef, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::pruning::PrunableStatistics;
use datafusion::common::stats::Precision;
use datafusion::common::{DFSchema, Statistics};
use datafusion::datasource::TableType;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::listing::helpers::expr_applicable_for_cols;
use datafusion::datasource::object_store::ObjectStoreUrl;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::Result as DataFusionResult;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_optimizer::pruning::PruningPredicateBuilder;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::scalar::ScalarValue;
use deltalake_core::kernel::LogicalFileView;
use deltalake_core::{DeltaTable, DeltaTableError};
use object_store::ObjectMeta;
use object_store::path::Path;

use crate::page_index_cache::PageIndexCachingFactory;
use crate::schema::PARTITION_COLUMNS;
use crate::{Error, Result};

/// The provider for one version of `table`: [`LiveFiles`], or deltalake's own where the table
/// uses a feature it does not read.
pub async fn provider(
    table: &DeltaTable,
    statistics: &FileStatistics,
) -> Result<Arc<dyn TableProvider>> {
    Ok(read(table, statistics).await?.0)
}

/// The provider of a table version, and its [`LiveFiles`] when that is what it is.
pub type TableRead = (Arc<dyn TableProvider>, Option<Arc<LiveFiles>>);

/// The provider for one version of `table`, and its [`LiveFiles`] when that is what it is.
pub async fn read(table: &DeltaTable, statistics: &FileStatistics) -> Result<TableRead> {
    let delta = table.table_provider().await?;
    let snapshot = table.snapshot()?;
    let files = snapshot
        .log_data()
        .into_iter()
        .map(|file| (location_in_table(&file.path()), file));
    with_files(table, delta, files, statistics)
}

/// [`read`] of `files`, the live files of a version with the metadata of `table` (whose own
/// files are not read), each with its location under the table root.
pub(crate) async fn read_files<F: LoggedFile>(
    table: &DeltaTable,
    files: impl Iterator<Item = (Path, F)>,
    statistics: &FileStatistics,
) -> Result<TableRead> {
    let delta = table.table_provider().await?;
    with_files(table, delta, files, statistics)
}

/// [`LiveFiles`] of `files`, or deltalake's provider `delta` when they are not read file by file.
fn with_files<F: LoggedFile>(
    table: &DeltaTable,
    delta: Arc<dyn TableProvider>,
    files: impl Iterator<Item = (Path, F)>,
    statistics: &FileStatistics,
) -> Result<TableRead> {
    if !reads_files(table)? {
        return Ok((delta, None));
    }
    let live = Arc::new(LiveFiles::of(table, delta.schema(), files, statistics)?);
    Ok((live.clone(), Some(live)))
}

/// Whether [`LiveFiles`] reads the files of `table`: not when it uses a feature that changes how
/// files are read (deletion vectors, column mapping).
pub(crate) fn reads_files(table: &DeltaTable) -> Result<bool> {
    let snapshot = table.snapshot()?;
    let configuration = snapshot.metadata().configuration();
    let setting = |key: &str| configuration.get(key).map(String::as_str);
    let deletion_vectors = setting("delta.enableDeletionVectors") == Some("true");
    let column_mapping = setting("delta.columnMapping.mode").is_some_and(|mode| mode != "none");
    Ok(!deletion_vectors && !column_mapping)
}

/// The location under the table root of a file whose decoded log path is `path`, as deltalake
/// forms it.
pub(crate) fn location_in_table(path: &str) -> Path {
    Path::parse(path).unwrap_or_else(|_| Path::from(path))
}

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
    fn file(
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
    fn keep_only(&self, live: &HashSet<&Path>) {
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

/// The live files of one table version.
#[derive(Debug)]
pub struct LiveFiles {
    /// The columns as deltalake's provider shows them (partition columns dictionary-encoded,
    /// strings as views), in the table's order.
    pub(crate) schema: SchemaRef,
    /// The scan's columns: the data columns, then the partition columns.
    pub(crate) scan_schema: TableSchema,
    /// For each column of `schema`, its index among the scan's columns.
    scan_index: Vec<usize>,
    pub(crate) store: ObjectStoreUrl,
    /// Each with its partition values, and statistics over the data columns followed by exact
    /// bounds of the partition columns.
    pub(crate) files: Vec<PartitionedFile>,
    /// One row per file: its partition values, typed as in `schema`.
    partitions: RecordBatch,
}

impl LiveFiles {
    fn of<F: LoggedFile>(
        table: &DeltaTable,
        schema: SchemaRef,
        live: impl Iterator<Item = (Path, F)>,
        statistics: &FileStatistics,
    ) -> Result<Self> {
        let partition_fields: Vec<FieldRef> = PARTITION_COLUMNS
            .iter()
            .map(|name| Ok(Arc::new(schema.field_with_name(name)?.clone())))
            .collect::<Result<_>>()?;
        let data_fields: Vec<FieldRef> = schema
            .fields()
            .iter()
            .filter(|field| !PARTITION_COLUMNS.contains(&field.name().as_str()))
            .cloned()
            .collect();
        let data_schema = Schema::new(data_fields.clone());
        let scan_index = schema
            .fields()
            .iter()
            .map(
                |field| match PARTITION_COLUMNS.iter().position(|p| p == field.name()) {
                    Some(partition) => data_fields.len() + partition,
                    None => data_fields
                        .iter()
                        .position(|data| data.name() == field.name())
                        .expect("every column is a data or a partition column"),
                },
            )
            .collect();

        let root = table.table_url();
        let store = ObjectStoreUrl::parse(format!(
            "{}://{}",
            root.scheme(),
            &root[url::Position::BeforeHost..url::Position::AfterPort]
        ))?;
        let root_path =
            Path::from_url_path(root.path()).map_err(|error| Error::InvalidLocation {
                location: root.to_string(),
                reason: error.to_string(),
            })?;
        let mut files = Vec::new();
        for (in_table, file) in live {
            let location = Path::from_iter(root_path.parts().chain(in_table.parts()));
            files.push(statistics.file(location, &file, &data_schema, &partition_fields)?);
        }
        statistics.keep_only(&files.iter().map(|f| &f.object_meta.location).collect());
        let partitions = partition_batch(&partition_fields, &files)?;
        Ok(Self {
            schema,
            scan_schema: TableSchema::builder(Arc::new(Schema::new(data_fields)))
                .with_table_partition_cols(partition_fields)
                .build(),
            scan_index,
            store,
            files,
            partitions,
        })
    }

    /// The location and partition values (`bot_id`, `kind`, `month`, as text) of every file.
    pub fn partitions(&self) -> impl Iterator<Item = (&Path, Vec<Option<String>>)> {
        self.files.iter().map(|file| {
            let values = file.partition_values.iter().map(text).collect();
            (&file.object_meta.location, values)
        })
    }

    /// The location and `kind` of every file of one bot's partitions.
    pub fn of_bot(&self, bot_id: &str) -> Vec<(Path, String)> {
        self.partitions()
            .filter_map(|(location, values)| match values.as_slice() {
                [Some(bot), Some(kind), _] if bot == bot_id => {
                    Some((location.clone(), kind.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// The same table reading only the files at `locations` (those of them that are live).
    pub fn restricted_to(&self, locations: &HashSet<&Path>) -> Result<Self> {
        let files: Vec<PartitionedFile> = self
            .files
            .iter()
            .filter(|file| locations.contains(&file.object_meta.location))
            .cloned()
            .collect();
        let fields = self.partitions.schema().fields().to_vec();
        Ok(Self {
            schema: self.schema.clone(),
            scan_schema: self.scan_schema.clone(),
            scan_index: self.scan_index.clone(),
            store: self.store.clone(),
            partitions: partition_batch(&fields, &files)?,
            files,
        })
    }

    /// The files that may hold rows the filters keep: first by the partition values, with the
    /// filters that read only partition columns; then by the remaining files' statistics.
    fn chosen(
        &self,
        state: &dyn Session,
        filters: &[Expr],
    ) -> DataFusionResult<Vec<&PartitionedFile>> {
        let (on_partitions, on_data): (Vec<Expr>, Vec<Expr>) = filters
            .iter()
            .cloned()
            .partition(|filter| expr_applicable_for_cols(&PARTITION_COLUMNS, filter));
        let mut chosen: Vec<&PartitionedFile> = match conjunction(on_partitions) {
            None => self.files.iter().collect(),
            Some(predicate) => {
                let schema = DFSchema::try_from(self.partitions.schema())?;
                let kept = state
                    .create_physical_expr(predicate, &schema)?
                    .evaluate(&self.partitions)?
                    .into_array(self.files.len())?;
                let kept = kept.as_boolean();
                self.files
                    .iter()
                    .enumerate()
                    .filter(|(row, _)| kept.is_valid(*row) && kept.value(*row))
                    .map(|(_, file)| file)
                    .collect()
            }
        };
        if let Some(predicate) = conjunction(on_data)
            && !chosen.is_empty()
        {
            let table_schema = self.scan_schema.table_schema().clone();
            let physical = state
                .create_physical_expr(predicate, &DFSchema::try_from(table_schema.clone())?)?;
            if let Some(pruning) = PruningPredicateBuilder::new()
                .with_file_schema(table_schema.clone())
                .build(physical)
            {
                let statistics = PrunableStatistics::new(
                    chosen
                        .iter()
                        .map(|file| {
                            file.statistics
                                .clone()
                                .unwrap_or_else(|| Arc::new(Statistics::new_unknown(&table_schema)))
                        })
                        .collect(),
                    table_schema,
                );
                let kept = pruning.prune(&statistics)?;
                chosen = chosen
                    .into_iter()
                    .zip(kept)
                    .filter_map(|(file, kept)| kept.then_some(file))
                    .collect();
            }
        }
        Ok(chosen)
    }
}

/// A partition value as text (partition columns are dictionary-encoded strings).
pub(crate) fn text(value: &ScalarValue) -> Option<String> {
    match value {
        ScalarValue::Dictionary(_, inner) => text(inner),
        ScalarValue::Utf8(text) | ScalarValue::Utf8View(text) | ScalarValue::LargeUtf8(text) => {
            text.clone()
        }
        _ => None,
    }
}

/// The partition values of every file as one batch, typed as the table shows them.
fn partition_batch(fields: &[FieldRef], files: &[PartitionedFile]) -> Result<RecordBatch> {
    let columns = fields
        .iter()
        .enumerate()
        .map(|(index, field)| match files.is_empty() {
            true => Ok(new_empty_array(field.data_type())),
            false => Ok(ScalarValue::iter_to_array(
                files
                    .iter()
                    .map(|file| file.partition_values[index].clone()),
            )?),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields.to_vec())),
        columns,
    )?)
}

#[async_trait]
impl TableProvider for LiveFiles {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Every filter stays above the scan: partition filters choose the files, the others prune
    /// row groups once DataFusion pushes them into the Parquet reader.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DataFusionResult<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DataFusionResult<Arc<dyn ExecutionPlan>> {
        let chosen = self.chosen(state, filters)?;
        if chosen.is_empty() {
            let schema = match projection {
                Some(columns) => Arc::new(self.schema.project(columns)?),
                None => self.schema.clone(),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }

        let groups = state.config().target_partitions().max(1);
        let mut file_groups: Vec<Vec<PartitionedFile>> = vec![Vec::new(); groups];
        let mut statistics = Statistics::new_unknown(self.scan_schema.table_schema());
        let (mut rows, mut bytes) = (Precision::Exact(0), 0usize);
        for (index, file) in chosen.iter().enumerate() {
            bytes += file.object_meta.size as usize;
            rows = match &file.statistics {
                Some(statistics) => rows.add(&statistics.num_rows),
                None => Precision::Absent,
            };
            file_groups[index % groups].push((*file).clone());
        }
        // Filters above the scan keep fewer rows than the files hold.
        statistics.num_rows = rows.to_inexact();
        statistics.total_byte_size = Precision::Inexact(bytes);
        file_groups.retain(|group| !group.is_empty());

        let projection = match projection {
            Some(columns) => columns.iter().map(|&c| self.scan_index[c]).collect(),
            None => self.scan_index.clone(),
        };
        // What `ParquetFormat::create_physical_plan` builds, with readers that cache the page
        // index (see [`PageIndexCachingFactory`]).
        let options = state.table_options().parquet.clone();
        let runtime = state.runtime_env();
        let readers = PageIndexCachingFactory::new(
            runtime.object_store(&self.store)?,
            runtime.cache_manager.get_file_metadata_cache(),
        );
        let mut source = ParquetSource::new(self.scan_schema.clone())
            .with_table_parquet_options(options.clone())
            .with_parquet_file_reader_factory(Arc::new(readers));
        if let Some(hint) = options.global.metadata_size_hint {
            source = source.with_metadata_size_hint(hint);
        }
        let config = FileScanConfigBuilder::new(self.store.clone(), Arc::new(source))
            .with_file_groups(file_groups.into_iter().map(FileGroup::new).collect())
            .with_statistics(statistics)
            .with_projection_indices(Some(projection))?
            .with_limit(limit)
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }
}
