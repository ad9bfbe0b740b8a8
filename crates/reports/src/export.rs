//! Report files: batches of a report's rows written, one batch at a time, as CSV, XLSX, JSONL or
//! Parquet. Every format receives the same normalized columns (see [`normalize`]); instants are
//! written in the report's zone.

mod cells;
mod parquet;
mod text;

use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use talkhouse_core::report::ExportType;
use talkhouse_core::window::Zone;

use crate::Result;

/// Writes a report's batches into one file.
pub trait ExportWriter: Send {
    fn write(&mut self, batch: &RecordBatch) -> Result<()>;
    /// Completes the file.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// A writer of `export_type` into a new file at `path`, for batches of `schema`.
pub fn writer(
    export_type: ExportType,
    schema: &SchemaRef,
    zone: Zone,
    path: &Path,
) -> Result<Box<dyn ExportWriter>> {
    let schema = normalized_schema(schema, zone);
    Ok(match export_type {
        ExportType::Csv => Box::new(text::CsvWriter::create(schema, zone, path)?),
        ExportType::Jsonl => Box::new(text::JsonlWriter::create(schema, zone, path)?),
        ExportType::Xlsx => Box::new(text::XlsxWriter::create(schema, zone, path)?),
        ExportType::Parquet => Box::new(parquet::ParquetWriter::create(schema, path)?),
    })
}

/// The one type each kind of column is written from: strings as `Utf8`, whole numbers as
/// `Int64`, reals as `Float64`, lists as lists of `Utf8`, instants as microseconds carrying the
/// report's zone (so that Parquet readers show local times).
fn normalized_type(data_type: &DataType, zone: Zone) -> DataType {
    match data_type {
        DataType::Timestamp(_, _) => {
            DataType::Timestamp(TimeUnit::Microsecond, Some(zone.to_string().into()))
        }
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => DataType::Int64,
        DataType::Float16 | DataType::Float32 | DataType::Float64 => DataType::Float64,
        DataType::List(_) | DataType::LargeList(_) | DataType::ListView(_) => {
            DataType::List(Arc::new(Field::new("element", DataType::Utf8, true)))
        }
        DataType::Boolean => DataType::Boolean,
        _ => DataType::Utf8,
    }
}

fn normalized_schema(schema: &SchemaRef, zone: Zone) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), normalized_type(f.data_type(), zone), true))
            .collect::<Vec<_>>(),
    ))
}

/// The batch with every column cast to its normalized type.
fn normalize(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| arrow::compute::cast(column, field.data_type()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}
