//! Which of several records is the latest: a conversation's versions, a channel's named messages.
//! Defined here once; the writer, the views, transcripts, compaction and the channel list use
//! these definitions, in Rust and in SQL.

/// A record's place in the order that picks the latest of several: the greatest instant, then
/// the one written last (its commit's `written_at`, then its line in the batch).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Latest {
    /// The record's instant (µs): `updated_at` of a conversation version, `sent_at` of a message.
    pub at: i64,
    /// When its batch was committed (µs).
    pub written_at: i64,
    /// Its event's place in the batch.
    pub batch_line: i64,
}

/// The columns of a conversation version's [`Latest`], in its order.
pub const VERSION_ORDER: [&str; 3] = ["updated_at", "written_at", "batch_line"];

/// The columns of a message's [`Latest`], in its order: a channel is named after its latest
/// message that carries a name.
pub const MESSAGE_ORDER: [&str; 3] = ["sent_at", "written_at", "batch_line"];

/// `columns` latest first, as the body of an SQL `ORDER BY`.
pub fn latest_first_sql(columns: &[&str; 3]) -> String {
    columns.map(|column| format!("{column} DESC")).join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_instant_decides_then_the_commit_then_the_line() {
        let at = |at, written_at, batch_line| Latest {
            at,
            written_at,
            batch_line,
        };
        assert!(at(2, 0, 0) > at(1, 9, 9));
        assert!(at(1, 2, 0) > at(1, 1, 9));
        assert!(at(1, 1, 2) > at(1, 1, 1));
        assert_eq!(
            latest_first_sql(&VERSION_ORDER),
            "updated_at DESC, written_at DESC, batch_line DESC"
        );
    }
}
