//! How the table's Parquet files are laid out: compression, data pages and their statistics.

use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;

/// Rows per data page. Compaction sorts a bot's messages by time and its conversations by start,
/// so one session's rows lie within a page or two of each column: with the Parquet default of
/// 20,000 rows, a transcript decompressed and decoded 20,000 rows of every column to return ten.
const PAGE_ROWS: usize = 1024;

/// The columns whose page statistics let a scan skip pages: those the dashboard filters and
/// orders by. The others keep per-file statistics only, so the column index a cached footer
/// carries holds bounds for these columns' pages alone.
const PAGE_STATISTICS_COLUMNS: [&str; 8] = [
    "session_code",
    "sent_at",
    "started_at",
    "updated_at",
    "channel_uuid",
    "user_id",
    "message_id",
    "business_key",
];

/// The columns compressed with zstd: identifiers that look random, on which LZ4 saves little
/// (`message_id` alone is half of a compacted message file).
const ZSTD_COLUMNS: [&str; 4] = ["message_id", "user_id", "session_code", "business_key"];

/// The false positive rate of the bloom filter of each row group's `message_id`.
const MESSAGE_ID_BLOOM_FPP: f64 = 0.01;

/// The properties of every file the table writes: ingest batches, compacted partitions and
/// added rollups. LZ4 (the raw block format) except for [`ZSTD_COLUMNS`]: the `parquet` crate
/// creates a zstd compressor and decompressor for every column chunk it writes or reads, which
/// took a fifth of ingest's time and a tenth of a transcript's when every column was zstd
/// (decision 23).
pub(crate) fn writer_properties() -> WriterPropertiesBuilder {
    let builder = WriterProperties::builder()
        .set_compression(Compression::LZ4_RAW)
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_statistics_enabled(EnabledStatistics::Chunk);
    let builder = ZSTD_COLUMNS.iter().fold(builder, |builder, column| {
        builder.set_column_compression(
            ColumnPath::from(*column),
            Compression::ZSTD(ZstdLevel::default()),
        )
    });
    // The duplicate check confirms a batch's ids with it (decision 29).
    let builder = builder
        .set_column_bloom_filter_enabled(ColumnPath::from("message_id"), true)
        .set_column_bloom_filter_fpp(ColumnPath::from("message_id"), MESSAGE_ID_BLOOM_FPP);
    PAGE_STATISTICS_COLUMNS
        .iter()
        .fold(builder, |builder, column| {
            builder
                .set_column_statistics_enabled(ColumnPath::from(*column), EnabledStatistics::Page)
        })
}
