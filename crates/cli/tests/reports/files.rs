//! Report files read back into one shape, each with its own reader (csv, calamine, serde_json,
//! parquet): one JSON object per row, numbers as f64, lists as arrays, instants as local text.

use std::io::Cursor;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType};
use calamine::{Data, Reader, Xlsx};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Map, Value, json};
use talkhouse_core::report::ExportType;

pub type Row = Map<String, Value>;

const NUMBERS: [&str; 6] = [
    "satisfaction",
    "flows_travelled",
    "user_messages",
    "bot_messages",
    "duration_seconds",
    "confidence",
];
const LISTS: [&str; 2] = ["flows", "tags"];

/// A text cell as the value its column holds.
fn typed(column: &str, text: &str) -> Value {
    if text.is_empty() && column != "text" {
        Value::Null
    } else if NUMBERS.contains(&column) {
        json!(
            text.parse::<f64>()
                .unwrap_or_else(|_| panic!("{column}: {text:?}"))
        )
    } else if LISTS.contains(&column) {
        serde_json::from_str(text).unwrap_or_else(|_| panic!("{column}: {text:?}"))
    } else {
        json!(text)
    }
}

fn as_f64(value: Value) -> Value {
    match value.as_f64() {
        Some(x) if value.is_number() => json!(x),
        _ => value,
    }
}

pub fn read_rows(export: ExportType, bytes: &[u8], zone: &str) -> Vec<Row> {
    match export {
        ExportType::Csv => csv_rows(bytes),
        ExportType::Jsonl => jsonl_rows(bytes),
        ExportType::Xlsx => xlsx_rows(bytes),
        ExportType::Parquet => parquet_rows(bytes, zone),
    }
}

fn csv_rows(bytes: &[u8]) -> Vec<Row> {
    let mut reader = csv::Reader::from_reader(bytes);
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            headers
                .iter()
                .zip(record.iter())
                .map(|(name, text)| (name.to_string(), typed(name, text)))
                .collect()
        })
        .collect()
}

fn jsonl_rows(bytes: &[u8]) -> Vec<Row> {
    std::str::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|line| {
            let object: Row = serde_json::from_str(line).unwrap();
            object
                .into_iter()
                .map(|(key, value)| {
                    let value = if key == "text" && value.is_null() {
                        json!("")
                    } else {
                        as_f64(value)
                    };
                    (key, value)
                })
                .collect()
        })
        .collect()
}

fn xlsx(bytes: &[u8]) -> Xlsx<Cursor<Vec<u8>>> {
    Xlsx::new(Cursor::new(bytes.to_vec())).expect("a readable workbook")
}

fn xlsx_rows(bytes: &[u8]) -> Vec<Row> {
    let mut workbook = xlsx(bytes);
    let range = workbook.worksheet_range("Report").unwrap();
    let mut rows = range.rows();
    let headers: Vec<String> = rows
        .next()
        .unwrap()
        .iter()
        .map(|cell| cell.to_string())
        .collect();
    rows.map(|cells| {
        headers
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let value = match cells.get(i).unwrap_or(&Data::Empty) {
                    Data::Empty if name == "text" => json!(""),
                    Data::Empty => Value::Null,
                    Data::String(text) => typed(name, text),
                    Data::Float(x) => json!(*x),
                    Data::Int(n) => json!(*n as f64),
                    other => panic!("{name}: unexpected cell {other:?}"),
                };
                (name.clone(), value)
            })
            .collect()
    })
    .collect()
}

/// Every formula of the report sheet, with its place.
pub fn xlsx_formulas(bytes: &[u8]) -> Vec<String> {
    let mut workbook = xlsx(bytes);
    let formulas = workbook.worksheet_formula("Report").unwrap();
    formulas
        .used_cells()
        .filter(|(_, _, f)| !f.is_empty())
        .map(|(row, col, f)| format!("({row},{col}): {f}"))
        .collect()
}

/// Every string cell of the report sheet.
pub fn xlsx_strings(bytes: &[u8]) -> Vec<String> {
    let mut workbook = xlsx(bytes);
    let range = workbook.worksheet_range("Report").unwrap();
    range
        .used_cells()
        .filter_map(|(_, _, cell)| match cell {
            Data::String(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn parquet_rows(bytes: &[u8], zone: &str) -> Vec<Row> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes.to_vec()))
        .unwrap()
        .build()
        .unwrap();
    let tz: chrono_tz::Tz = zone.parse().unwrap();
    let mut rows = Vec::new();
    for batch in reader {
        let batch: RecordBatch = batch.unwrap();
        for i in 0..batch.num_rows() {
            let mut row = Row::new();
            for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                let value = if column.is_null(i) {
                    if field.name() == "text" {
                        json!("")
                    } else {
                        Value::Null
                    }
                } else {
                    match column.data_type() {
                        DataType::Utf8 => json!(column.as_string::<i32>().value(i)),
                        DataType::Int64 => {
                            json!(column.as_primitive::<Int64Type>().value(i) as f64)
                        }
                        DataType::Float64 => json!(column.as_primitive::<Float64Type>().value(i)),
                        DataType::Timestamp(TimeUnit::Microsecond, Some(column_zone)) => {
                            assert_eq!(column_zone.as_ref(), zone, "{}", field.name());
                            let micros = column.as_primitive::<TimestampMicrosecondType>().value(i);
                            let t = chrono::DateTime::from_timestamp_micros(micros)
                                .unwrap()
                                .with_timezone(&tz);
                            json!(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false))
                        }
                        DataType::List(_) => {
                            let list = column.as_list::<i32>().value(i);
                            let items: Vec<&str> =
                                list.as_string::<i32>().iter().flatten().collect();
                            json!(items)
                        }
                        other => panic!("{}: unexpected type {other}", field.name()),
                    }
                };
                row.insert(field.name().clone(), value);
            }
            rows.push(row);
        }
    }
    rows
}
