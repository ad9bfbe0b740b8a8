//! The session maintenance reads in: over a table's live files, spilling to disk, with the
//! rollup rows summed in memory.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::{Expr, SessionContext, cast, ident};
use deltalake_core::DeltaTable;
use deltalake_core::delta_datafusion::create_session_state_with_spill_config;
use futures::TryStreamExt;

use crate::Result;
use crate::read::live_files::{self, FileStatistics};
use crate::read::scan;
use crate::rollup::{ROLLUP_COUNTS, ROLLUP_UNTAGGED, RollupCounts, UserRollupKey};
use crate::schema::EVENTS_TABLE;

/// Memory the rewrite of one commit's partitions may hold before its sort spills to disk.
const MEMORY_BUDGET: usize = 512 * 1024 * 1024;

/// The rows [`summed_rollups`] reads, as its query names them.
const SUMMED: &str = "summed";

/// A session over `table`'s live files as [`EVENTS_TABLE`] whose sorts, windows and groups
/// spill to disk beyond [`MEMORY_BUDGET`]: maintenance reads whole partitions or tables.
///
/// Its string columns are plain strings, not views. A view points into the page it was read
/// from, and the batches a window over many files yields keep the pages of every file they drew
/// rows from, and are accounted for them: the sort after the window then asked the pool for more
/// than its share for a single batch (82.7 MB for a commit of 1,003 small files, 11.6 MB on
/// disk). Casting copies the strings, so a batch is accounted for its own rows.
pub(crate) async fn spilling_session(
    table: &DeltaTable,
    file_statistics: &FileStatistics,
) -> Result<SessionContext> {
    let ctx = SessionContext::new_with_state(create_session_state_with_spill_config(
        Some(MEMORY_BUDGET),
        None,
    ));
    table.update_datafusion_session(&ctx.state())?;
    let events = ctx.read_table(live_files::provider(table, file_statistics).await?)?;
    let columns: Vec<Expr> = events
        .schema()
        .fields()
        .iter()
        .map(|field| {
            let column = ident(field.name());
            match without_views(field.data_type()) {
                Some(plain) => cast(column, plain).alias(field.name()),
                None => column,
            }
        })
        .collect();
    ctx.register_table(EVENTS_TABLE, events.select(columns)?.into_view())?;
    Ok(ctx)
}

/// The type holding the same values as `data_type` without string or binary views, when it has
/// any.
pub(super) fn without_views(data_type: &DataType) -> Option<DataType> {
    match data_type {
        DataType::Utf8View => Some(DataType::Utf8),
        DataType::BinaryView => Some(DataType::Binary),
        DataType::List(item) => without_views(item.data_type())
            .map(|plain| DataType::List(Arc::new(item.as_ref().clone().with_data_type(plain)))),
        _ => None,
    }
}

/// The rollup rows (or user rollup rows) among `rows` with equal dimensions summed, zero rows
/// dropped; a rollup row's user is empty.
///
/// Summed here rather than by a `GROUP BY`: the rewrite holds every sum anyway, and DataFusion's
/// hash aggregate failed after spilling ("Decreasing allocation after spilling should succeed")
/// on 64 partitions of the benchmark's user rollups, 26 MB on disk.
pub(crate) async fn summed_rollups(
    ctx: &SessionContext,
    rows: DataFrame,
) -> Result<Vec<(UserRollupKey, RollupCounts)>> {
    let counts = ROLLUP_COUNTS
        .iter()
        .map(|c| format!("COALESCE({c}, 0)"))
        .collect::<Vec<_>>()
        .join(", ");
    ctx.register_table(SUMMED, rows.into_view())?;
    let mut stream = ctx
        .sql(&format!(
            "SELECT org_id, env_id, bot_id, sent_at, channel_uuid,
                    COALESCE({ROLLUP_UNTAGGED}, false), user_id, {counts}
             FROM {SUMMED}"
        ))
        .await?
        .execute_stream()
        .await?;
    ctx.deregister_table(SUMMED)?;
    let mut sums: HashMap<UserRollupKey, RollupCounts> = HashMap::new();
    while let Some(batch) = stream.try_next().await? {
        let keys = scan::user_rollup_keys(&batch)?;
        let counts = (0..ROLLUP_COUNTS.len())
            .map(|i| scan::int64s(&batch, 7 + i))
            .collect::<Result<Vec<_>>>()?;
        for (row, key) in keys.into_iter().enumerate() {
            let Some(key) = key else { continue };
            let sum = sums.entry(key).or_default();
            for (total, count) in sum.0.iter_mut().zip(&counts) {
                *total += count.value(row);
            }
        }
    }
    let mut rows: Vec<_> = sums.into_iter().filter(|(_, sum)| !sum.is_zero()).collect();
    rows.sort_by(|(a, _), (b, _)| a.cmp(b));
    Ok(rows)
}

/// A maintenance session over the latest version of `table` and its rows of `kind`.
#[cfg(test)]
pub(crate) async fn rows_of_kind(
    table: &crate::EventTable,
    kind: &str,
) -> (SessionContext, DataFrame) {
    let state = table.fresh_table().await.unwrap();
    let ctx = spilling_session(&state, table.file_statistics())
        .await
        .unwrap();
    let rows = ctx
        .table(EVENTS_TABLE)
        .await
        .unwrap()
        .filter(datafusion::prelude::col("kind").eq(datafusion::prelude::lit(kind)))
        .unwrap();
    (ctx, rows)
}
