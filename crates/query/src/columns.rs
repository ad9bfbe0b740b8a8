//! Reading typed values out of answer batches.

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType};
use chrono::{DateTime, Utc};

use crate::{Error, Result};

fn column(batch: &RecordBatch, name: &str, to: &DataType) -> Result<ArrayRef> {
    let array = batch
        .column_by_name(name)
        .ok_or_else(|| Error::UnexpectedColumn {
            column: name.to_string(),
            expected: "present",
        })?;
    Ok(arrow::compute::cast(array, to)?)
}

pub fn strings(batch: &RecordBatch, name: &str) -> Result<Vec<Option<String>>> {
    let array = column(batch, name, &DataType::Utf8)?;
    Ok(array
        .as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect())
}

pub fn int64s(batch: &RecordBatch, name: &str) -> Result<Vec<Option<i64>>> {
    let array = column(batch, name, &DataType::Int64)?;
    Ok(array.as_primitive::<Int64Type>().iter().collect())
}

pub fn float64s(batch: &RecordBatch, name: &str) -> Result<Vec<Option<f64>>> {
    let array = column(batch, name, &DataType::Float64)?;
    Ok(array.as_primitive::<Float64Type>().iter().collect())
}

pub fn instants(batch: &RecordBatch, name: &str) -> Result<Vec<Option<DateTime<Utc>>>> {
    let array = column(
        batch,
        name,
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    )?;
    Ok(array
        .as_primitive::<TimestampMicrosecondType>()
        .iter()
        .map(|v| v.and_then(DateTime::from_timestamp_micros))
        .collect())
}

pub fn string_lists(batch: &RecordBatch, name: &str) -> Result<Vec<Vec<String>>> {
    let array = column(
        batch,
        name,
        &DataType::List(std::sync::Arc::new(arrow::datatypes::Field::new(
            "element",
            DataType::Utf8,
            true,
        ))),
    )?;
    let list = array.as_list::<i32>();
    Ok((0..list.len())
        .map(|row| {
            if list.is_null(row) {
                return Vec::new();
            }
            let values = list.value(row);
            values
                .as_string::<i32>()
                .iter()
                .flatten()
                .map(str::to_string)
                .collect()
        })
        .collect())
}
