//! Which rows every commit of a table carries, as the table properties it was created with say.

use deltalake_core::DeltaTable;

use crate::Result;
use crate::rollup::{ROLLUPS_FORMAT, ROLLUPS_PROPERTY, USER_ROLLUPS_FORMAT, USER_ROLLUPS_PROPERTY};
use crate::versions::{SUPERSESSIONS_FORMAT, SUPERSESSIONS_PROPERTY};

/// The kinds of derived rows every commit of a table carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TableFormat {
    /// Rollup rows (see [`crate::rollup`]).
    pub rollups: bool,
    /// User rollup rows; only with rollups.
    pub user_rollups: bool,
    /// Rows naming the versions a commit supersedes (see [`crate::versions`]).
    pub supersessions: bool,
}

impl TableFormat {
    pub fn of(table: &DeltaTable) -> Result<Self> {
        let rollups = has_property(table, ROLLUPS_PROPERTY, ROLLUPS_FORMAT)?;
        Ok(Self {
            rollups,
            user_rollups: rollups
                && has_property(table, USER_ROLLUPS_PROPERTY, USER_ROLLUPS_FORMAT)?,
            supersessions: has_property(table, SUPERSESSIONS_PROPERTY, SUPERSESSIONS_FORMAT)?,
        })
    }
}

/// Whether `table` was created with `property` set to `format`.
pub(crate) fn has_property(table: &DeltaTable, property: &str, format: &str) -> Result<bool> {
    Ok(table
        .snapshot()?
        .metadata()
        .configuration()
        .get(property)
        .is_some_and(|value| value == format))
}
