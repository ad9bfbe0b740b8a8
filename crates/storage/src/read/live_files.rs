//! One table version as a DataFusion table whose file list is read from the Delta log once.
//!
//! deltalake's own provider replays the snapshot's file actions on every scan and parses each
//! file's JSON statistics to skip files: about 55 ms per query on the 1,866 files of the medium
//! benchmark (`benches/RESULTS.md`), paid by every query of a dashboard. Here the live files are
//! listed once per version, and each file's entry (partition values and statistics) is built once
//! per process (`file_statistics`: files are never rewritten in place), so a version with a few
//! new files costs a lookup per old file, which compaction's commit per partition relies on. A
//! scan keeps the files whose partition values pass the query's partition filters, then those
//! whose statistics may hold matching rows (both one vectorized
//! evaluation over all files), and lets DataFusion's Parquet reader prune row groups with footers
//! from the shared metadata cache.
//!
//! Tables whose features change how files are read (deletion vectors, column mapping) keep
//! deltalake's provider; `talkhouse` never enables them.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch, new_empty_array};
use arrow::datatypes::{FieldRef, Schema, SchemaRef};
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
use deltalake_core::DeltaTable;
use object_store::path::Path;

pub(crate) use super::file_statistics::{FileStatistics, LoggedFile};
use crate::read::page_index_cache::PageIndexCachingFactory;
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
