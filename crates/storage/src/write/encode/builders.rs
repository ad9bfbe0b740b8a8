//! The Arrow builders' helpers the encoder shares between its columns.

use arrow::array::{ListBuilder, StringBuilder};
use arrow::datatypes::{DataType, FieldRef, SchemaRef};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A list-of-strings builder whose item field is the schema's (its name and nullability).
pub(super) fn list_builder(
    schema: &SchemaRef,
    name: &str,
    rows: usize,
) -> ListBuilder<StringBuilder> {
    let builder = ListBuilder::with_capacity(StringBuilder::new(), rows);
    match schema.field_with_name(name).map(|f| f.data_type().clone()) {
        Ok(DataType::List(item)) => builder.with_field(FieldRef::clone(&item)),
        _ => builder,
    }
}

/// UUIDs in canonical lower-case text, formatted without an allocation.
pub(super) fn append_uuid(builder: &mut StringBuilder, buffer: &mut [u8; 45], uuid: Option<Uuid>) {
    match uuid {
        Some(uuid) => builder.append_value(uuid.hyphenated().encode_lower(buffer)),
        None => builder.append_null(),
    }
}

/// A list of the `items`.
pub(super) fn append_list(builder: &mut ListBuilder<StringBuilder>, items: &[String]) {
    for item in items {
        builder.values().append_value(item);
    }
    builder.append(true);
}

pub(super) fn micros(instant: DateTime<Utc>) -> i64 {
    instant.timestamp_micros()
}
