//! The table's layout, named by one table property: `talkhouse.format`.
//!
//! Layout [`FORMAT`]: every commit carries its rollup rows in 15-minute buckets and its user
//! rollup rows (see [`crate::rollup`]), and records the conversation versions it supersedes (see
//! [`crate::versions`]). Builds before the property spelled the same layout as three properties;
//! such a table is read as it is, and `talkhouse compact` rewrites the spelling. Tables of any
//! other layout (written before rollups, user rollups or supersessions existed) are refused: their
//! events must be ingested again into a new data folder.

use std::collections::HashMap;

use deltalake_core::DeltaTable;

use crate::{Error, Result};

/// The table property that names the layout.
pub const FORMAT_PROPERTY: &str = "talkhouse.format";
/// The layout this build writes and reads.
pub const FORMAT: &str = "1";

/// Layout [`FORMAT`] as the builds before [`FORMAT_PROPERTY`] spelled it.
pub(crate) const EARLIER_SPELLING: [(&str, &str); 3] = [
    ("talkhouse.rollups", "15m-v1"),
    ("talkhouse.user_rollups", "15m-v1"),
    ("talkhouse.supersessions", "v1"),
];

/// How a table of layout [`FORMAT`] names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spelling {
    /// [`FORMAT_PROPERTY`].
    Current,
    /// [`EARLIER_SPELLING`].
    Earlier,
}

/// How `table` names layout [`FORMAT`]; [`Error::UnsupportedFormat`] when it is of another layout.
pub(crate) fn spelling(table: &DeltaTable) -> Result<Spelling> {
    let snapshot = table.snapshot()?;
    spelling_of(snapshot.metadata().configuration())
}

fn spelling_of(configuration: &HashMap<String, String>) -> Result<Spelling> {
    let value = |key: &str| configuration.get(key).map(String::as_str);
    match value(FORMAT_PROPERTY) {
        Some(FORMAT) => Ok(Spelling::Current),
        Some(other) => Err(Error::UnsupportedFormat {
            found: format!("{FORMAT_PROPERTY} = {other:?}"),
        }),
        None if EARLIER_SPELLING
            .iter()
            .all(|(key, format)| value(key) == Some(format)) =>
        {
            Ok(Spelling::Earlier)
        }
        None => {
            let missing: Vec<_> = EARLIER_SPELLING
                .iter()
                .filter(|(key, format)| value(key) != Some(format))
                .map(|(key, _)| *key)
                .collect();
            Err(Error::UnsupportedFormat {
                found: format!("an earlier layout, without {}", missing.join(", ")),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configuration(entries: &[(&str, &str)]) -> HashMap<String, String> {
        entries
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn one_layout_in_two_spellings_is_read_and_every_other_is_refused() {
        let current = configuration(&[(FORMAT_PROPERTY, FORMAT)]);
        assert_eq!(spelling_of(&current).unwrap(), Spelling::Current);
        let earlier = configuration(&EARLIER_SPELLING);
        assert_eq!(spelling_of(&earlier).unwrap(), Spelling::Earlier);

        let refused = |entries: &[(&str, &str)]| match spelling_of(&configuration(entries)) {
            Err(error) => error.to_string(),
            Ok(spelling) => panic!("{entries:?} read as {spelling:?}"),
        };
        let newer = refused(&[(FORMAT_PROPERTY, "2")]);
        assert!(newer.contains("talkhouse.format = \"2\""), "{newer}");
        let before_user_rollups = refused(&EARLIER_SPELLING[..1]);
        assert!(
            before_user_rollups.contains("without talkhouse.user_rollups, talkhouse.supersessions"),
            "{before_user_rollups}"
        );
        assert!(
            before_user_rollups.contains("ingest"),
            "{before_user_rollups}"
        );
        refused(&[]);
        refused(&[
            ("talkhouse.rollups", "15m-v1"),
            ("talkhouse.user_rollups", "15m-v1"),
            ("talkhouse.supersessions", "v0"),
        ]);
    }
}
