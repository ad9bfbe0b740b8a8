//! The rows the user index keeps: one per user rollup row, with the bot's user and channel
//! numbers.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type};
use datafusion::prelude::{Expr, col};
use talkhouse_storage::schema::KIND_USER_ROLLUP;

use super::bucketed::{Bucketed, Slot};
use super::file_rows::FileRow;
use super::numbers::{Numbers, internal};
use crate::Result;

/// One user rollup row, with the bot's user and channel numbers.
#[derive(Debug, Clone, Copy)]
pub(super) struct UserRow {
    pub(super) slot: Slot,
    pub(super) user: u32,
    /// Summed with wrapping: a sum that fits is exact whatever its terms did.
    pub(super) conversations: i32,
}

const _: () = assert!(std::mem::size_of::<UserRow>() == 16);

impl Bucketed for UserRow {
    type Key = (i32, u16, u32, bool);

    fn key(&self) -> Self::Key {
        (
            self.slot.number,
            self.slot.channel,
            self.user,
            self.slot.untagged,
        )
    }

    fn slot(&self) -> &Slot {
        &self.slot
    }

    fn add(&mut self, other: &Self) {
        self.conversations = self.conversations.wrapping_add(other.conversations);
    }

    fn negated(&self) -> Self {
        Self {
            conversations: self.conversations.wrapping_neg(),
            ..*self
        }
    }

    /// A user counts in a bucket while one of their latest versions starts there (a snapshot's
    /// sum is never negative: a retraction follows the row it retracts).
    fn counts_something(&self) -> bool {
        self.conversations > 0
    }
}

impl FileRow for UserRow {
    const KIND: &'static str = KIND_USER_ROLLUP;

    fn columns() -> Vec<Expr> {
        Slot::COLUMNS
            .into_iter()
            .chain(["user_id", "rollup_conversations"])
            .map(col)
            .collect()
    }

    fn read(batch: &RecordBatch, numbers: &mut Numbers, rows: &mut Vec<Self>) -> Result<()> {
        let slots = Slot::read(batch, numbers)?;
        let users = arrow::compute::cast(batch.column(3), &DataType::Utf8)?;
        let users = users.as_string::<i32>();
        let counts = arrow::compute::cast(batch.column(4), &DataType::Int64)?;
        let counts = counts.as_primitive::<Int64Type>();
        for (row, slot) in slots.into_iter().enumerate() {
            let Some(slot) = slot.filter(|_| users.is_valid(row) && counts.is_valid(row)) else {
                continue;
            };
            let conversations = i32::try_from(counts.value(row))
                .map_err(|_| internal("a user rollup row counts more than 2^31 conversations"))?;
            rows.push(Self {
                slot,
                user: numbers.user(users.value(row))?,
                conversations,
            });
        }
        Ok(())
    }
}
