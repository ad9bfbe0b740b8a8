//! Result batches to the chosen format: table, CSV with a header, JSON lines, or Parquet.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::CliError;
use crate::args::OutputFormat;

pub struct Output {
    format: OutputFormat,
    path: Option<PathBuf>,
}

impl Output {
    pub fn new(format: OutputFormat, path: Option<PathBuf>) -> Result<Self, CliError> {
        if format == OutputFormat::Parquet && path.is_none() {
            return Err(CliError::Usage(
                "--format parquet needs --output FILE".into(),
            ));
        }
        Ok(Self { format, path })
    }

    pub fn format(&self) -> OutputFormat {
        self.format
    }

    pub fn write(&self, batches: &[RecordBatch]) -> Result<(), CliError> {
        match &self.path {
            Some(path) => {
                let file = File::create(path)
                    .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
                self.write_to(batches, file)
            }
            None => self.write_to(batches, std::io::BufWriter::new(std::io::stdout())),
        }
    }

    fn write_to<W: Write + Send>(
        &self,
        batches: &[RecordBatch],
        mut out: W,
    ) -> Result<(), CliError> {
        match self.format {
            OutputFormat::Table => {
                if batches.iter().all(|b| b.num_rows() == 0) {
                    let columns = batches.first().map_or(0, |b| b.num_columns());
                    if columns > 0 {
                        writeln!(
                            out,
                            "{}",
                            arrow::util::pretty::pretty_format_batches(&batches[..1])?
                        )?;
                    }
                    writeln!(out, "(0 rows)")?;
                } else {
                    writeln!(
                        out,
                        "{}",
                        arrow::util::pretty::pretty_format_batches(batches)?
                    )?;
                }
            }
            OutputFormat::Csv => {
                let mut writer = arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(&mut out);
                for batch in batches {
                    writer.write(&flatten_nested(batch)?)?;
                }
            }
            OutputFormat::Json => {
                // Every column on every line, null or not, so rows have the same keys.
                let mut writer = arrow::json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, arrow::json::writer::LineDelimited>(&mut out);
                for batch in batches {
                    writer.write(batch)?;
                }
                writer.finish()?;
            }
            OutputFormat::Parquet => {
                let schema = batches
                    .first()
                    .map(|b| b.schema())
                    .unwrap_or_else(|| Arc::new(Schema::empty()));
                let mut writer = parquet::arrow::ArrowWriter::try_new(out, schema, None)?;
                for batch in batches {
                    writer.write(batch)?;
                }
                writer.close()?;
                return Ok(());
            }
        }
        out.flush()?;
        Ok(())
    }
}

/// CSV has no lists: nested columns are written as their display text (`[a, b]`).
fn flatten_nested(batch: &RecordBatch) -> Result<RecordBatch, CliError> {
    let options = FormatOptions::default();
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if field.data_type().is_nested() {
            let formatter = ArrayFormatter::try_new(column.as_ref(), &options)?;
            let text: StringArray = (0..column.len())
                .map(|row| {
                    column
                        .is_valid(row)
                        .then(|| formatter.value(row).to_string())
                })
                .collect();
            fields.push(Field::new(field.name(), DataType::Utf8, true));
            columns.push(Arc::new(text));
        } else {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
        }
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}
