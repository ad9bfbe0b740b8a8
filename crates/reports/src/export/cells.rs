//! The cells of a normalized batch, for the row-by-row formats.

use arrow::array::{
    Array, AsArray, BooleanArray, Float64Array, Int64Array, ListArray, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampMicrosecondType};
use talkhouse_core::window::Zone;

/// One cell, borrowed from its batch.
pub enum Cell<'a> {
    Null,
    Text(&'a str),
    /// An instant as a local RFC 3339 date-time with its offset.
    Instant(String),
    Int(i64),
    Real(f64),
    Bool(bool),
    List(Vec<&'a str>),
}

enum Column<'a> {
    Text(&'a StringArray),
    Instant(&'a TimestampMicrosecondArray),
    Int(&'a Int64Array),
    Real(&'a Float64Array),
    Bool(&'a BooleanArray),
    List(&'a ListArray),
}

/// The columns of one normalized batch.
pub struct Rows<'a> {
    columns: Vec<Column<'a>>,
    zone: Zone,
    len: usize,
}

impl<'a> Rows<'a> {
    pub fn new(batch: &'a RecordBatch, zone: Zone) -> Self {
        let columns = batch
            .columns()
            .iter()
            .map(|array| match array.data_type() {
                DataType::Timestamp(_, _) => {
                    Column::Instant(array.as_primitive::<TimestampMicrosecondType>())
                }
                DataType::Int64 => Column::Int(array.as_primitive::<Int64Type>()),
                DataType::Float64 => Column::Real(array.as_primitive::<Float64Type>()),
                DataType::Boolean => Column::Bool(array.as_boolean()),
                DataType::List(_) => Column::List(array.as_list::<i32>()),
                _ => Column::Text(array.as_string::<i32>()),
            })
            .collect();
        Self {
            columns,
            zone,
            len: batch.num_rows(),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The cells of row `row`, in column order.
    pub fn row(&self, row: usize) -> impl Iterator<Item = Cell<'a>> + '_ {
        self.columns
            .iter()
            .map(move |column| self.cell(column, row))
    }

    fn cell(&self, column: &Column<'a>, row: usize) -> Cell<'a> {
        let is_null = match column {
            Column::Text(a) => a.is_null(row),
            Column::Instant(a) => a.is_null(row),
            Column::Int(a) => a.is_null(row),
            Column::Real(a) => a.is_null(row),
            Column::Bool(a) => a.is_null(row),
            Column::List(a) => a.is_null(row),
        };
        if is_null {
            return Cell::Null;
        }
        match column {
            Column::Text(a) => Cell::Text(a.value(row)),
            Column::Instant(a) => Cell::Instant(self.zone.rfc3339(a.value(row))),
            Column::Int(a) => Cell::Int(a.value(row)),
            Column::Real(a) => Cell::Real(a.value(row)),
            Column::Bool(a) => Cell::Bool(a.value(row)),
            Column::List(a) => {
                let (start, end) = (a.value_offsets()[row], a.value_offsets()[row + 1]);
                let values = a.values().as_string::<i32>();
                Cell::List(
                    (start..end)
                        .filter(|i| !values.is_null(*i as usize))
                        .map(|i| values.value(i as usize))
                        .collect(),
                )
            }
        }
    }
}

/// A list as one text cell: a JSON array, so that items holding commas stay apart.
pub fn list_text(items: &[&str]) -> String {
    serde_json::to_string(items).expect("strings serialize")
}
