//! Parquet: typed columns, zstd, row groups small enough to keep the writer's memory bounded.

use std::fs::File;
use std::path::Path;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::{ExportWriter, normalize};
use crate::Result;

/// Rows buffered before a row group is written out.
const ROW_GROUP_ROWS: usize = 64 * 1024;

pub struct ParquetWriter {
    out: ArrowWriter<File>,
    schema: SchemaRef,
}

impl ParquetWriter {
    pub fn create(schema: SchemaRef, path: &Path) -> Result<Self> {
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        let out = ArrowWriter::try_new(File::create(path)?, schema.clone(), Some(properties))?;
        Ok(Self { out, schema })
    }
}

impl ExportWriter for ParquetWriter {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.out.write(&normalize(batch, &self.schema)?)?;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<()> {
        let file = self.out.into_inner()?;
        file.sync_all()?;
        Ok(())
    }
}
