//! The row-by-row formats: CSV, JSONL and XLSX.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use rust_xlsxwriter::Workbook;
use talkhouse_core::report::neutralize_formula;
use talkhouse_core::window::Zone;

use super::cells::{Cell, Rows, list_text};
use super::{ExportWriter, normalize};
use crate::{Error, Result};

fn headers(schema: &SchemaRef) -> Vec<String> {
    schema.fields().iter().map(|f| f.name().clone()).collect()
}

/// RFC 4180 CSV with a header line. Text that a spreadsheet would read as a formula gets a
/// leading `'`; lists are JSON arrays; an absent value is an empty field.
pub struct CsvWriter {
    out: csv::Writer<BufWriter<File>>,
    schema: SchemaRef,
    zone: Zone,
}

impl CsvWriter {
    pub fn create(schema: SchemaRef, zone: Zone, path: &Path) -> Result<Self> {
        let mut out = csv::Writer::from_writer(BufWriter::new(File::create(path)?));
        out.write_record(headers(&schema))?;
        Ok(Self { out, schema, zone })
    }
}

impl ExportWriter for CsvWriter {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let batch = normalize(batch, &self.schema)?;
        let rows = Rows::new(&batch, self.zone);
        let mut record = csv::StringRecord::new();
        for row in 0..rows.len() {
            record.clear();
            for cell in rows.row(row) {
                match cell {
                    Cell::Null => record.push_field(""),
                    Cell::Text(text) => record.push_field(&neutralize_formula(text)),
                    Cell::Instant(text) => record.push_field(&text),
                    Cell::Int(n) => record.push_field(&n.to_string()),
                    Cell::Real(x) => record.push_field(&x.to_string()),
                    Cell::Bool(b) => record.push_field(if b { "true" } else { "false" }),
                    Cell::List(items) => record.push_field(&list_text(&items)),
                }
            }
            self.out.write_record(&record)?;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<()> {
        let mut out = self
            .out
            .into_inner()
            .map_err(|e| Error::Io(e.into_error()))?;
        out.flush()?;
        out.get_ref().sync_all()?;
        Ok(())
    }
}

/// One JSON object per line, keys in column order; absent values are `null`, lists arrays,
/// numbers numbers. Text is kept exactly: JSON is not read by spreadsheets.
pub struct JsonlWriter {
    out: BufWriter<File>,
    schema: SchemaRef,
    names: Vec<String>,
    zone: Zone,
}

impl JsonlWriter {
    pub fn create(schema: SchemaRef, zone: Zone, path: &Path) -> Result<Self> {
        Ok(Self {
            out: BufWriter::new(File::create(path)?),
            names: headers(&schema),
            schema,
            zone,
        })
    }
}

impl ExportWriter for JsonlWriter {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        use serde_json::Value;
        let batch = normalize(batch, &self.schema)?;
        let rows = Rows::new(&batch, self.zone);
        for row in 0..rows.len() {
            let mut object = serde_json::Map::with_capacity(self.names.len());
            for (name, cell) in self.names.iter().zip(rows.row(row)) {
                let value = match cell {
                    Cell::Null => Value::Null,
                    Cell::Text(text) => Value::from(text),
                    Cell::Instant(text) => Value::from(text),
                    Cell::Int(n) => Value::from(n),
                    Cell::Real(x) => Value::from(x),
                    Cell::Bool(b) => Value::from(b),
                    Cell::List(items) => Value::from(items),
                };
                object.insert(name.clone(), value);
            }
            serde_json::to_writer(&mut self.out, &object)?;
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_all()?;
        Ok(())
    }
}

/// Rows an XLSX sheet holds under its header (Excel's limit is 1,048,576 rows).
pub const XLSX_ROWS_PER_SHEET: u32 = 1_048_575;

/// Characters an Excel cell holds; a message text may be longer (up to 65,536).
pub const XLSX_CELL_CHARS: usize = 32_767;

/// The text, cut to what an Excel cell holds.
fn xlsx_text(text: &str) -> &str {
    match text.char_indices().nth(XLSX_CELL_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// An Excel workbook written in constant memory, one sheet per 1,048,575 rows, each with the
/// header. Text is written as string cells, which a spreadsheet never evaluates; numbers as
/// numbers; instants and lists as text, like CSV.
pub struct XlsxWriter {
    workbook: Workbook,
    path: PathBuf,
    schema: SchemaRef,
    zone: Zone,
    /// The next row of the current sheet.
    row: u32,
    sheets: usize,
}

impl XlsxWriter {
    pub fn create(schema: SchemaRef, zone: Zone, path: &Path) -> Result<Self> {
        let mut writer = Self {
            workbook: Workbook::new(),
            path: path.to_path_buf(),
            schema,
            zone,
            row: 0,
            sheets: 0,
        };
        writer.add_sheet()?;
        Ok(writer)
    }

    fn add_sheet(&mut self) -> Result<()> {
        let sheet = self.workbook.add_worksheet_with_constant_memory();
        self.sheets += 1;
        let name = if self.sheets == 1 {
            "Report".to_string()
        } else {
            format!("Report {}", self.sheets)
        };
        sheet.set_name(&name)?;
        for (col, header) in headers(&self.schema).iter().enumerate() {
            sheet.write_string(0, col as u16, header)?;
        }
        self.row = 1;
        Ok(())
    }
}

impl ExportWriter for XlsxWriter {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let batch = normalize(batch, &self.schema)?;
        let rows = Rows::new(&batch, self.zone);
        for row in 0..rows.len() {
            if self.row > XLSX_ROWS_PER_SHEET {
                self.add_sheet()?;
            }
            let sheet = self.workbook.worksheet_from_index(self.sheets - 1)?;
            for (col, cell) in rows.row(row).enumerate() {
                let col = col as u16;
                match cell {
                    Cell::Null => {}
                    Cell::Text(text) => {
                        sheet.write_string(self.row, col, xlsx_text(text))?;
                    }
                    Cell::Instant(text) => {
                        sheet.write_string(self.row, col, text)?;
                    }
                    Cell::Int(n) => {
                        sheet.write_number(self.row, col, n as f64)?;
                    }
                    Cell::Real(x) => {
                        sheet.write_number(self.row, col, x)?;
                    }
                    Cell::Bool(b) => {
                        sheet.write_boolean(self.row, col, b)?;
                    }
                    Cell::List(items) => {
                        sheet.write_string(self.row, col, list_text(&items))?;
                    }
                }
            }
            self.row += 1;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        self.workbook.save(&self.path)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xlsx_text_is_cut_to_a_cell_on_a_character_boundary() {
        assert_eq!(xlsx_text("short"), "short");
        let long = "é".repeat(XLSX_CELL_CHARS + 10);
        assert_eq!(xlsx_text(&long).chars().count(), XLSX_CELL_CHARS);
        let exact = "a".repeat(XLSX_CELL_CHARS);
        assert_eq!(xlsx_text(&exact), exact);
    }
}
