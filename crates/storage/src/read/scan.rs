//! Reads the storage layer makes of its own table: a filtered scan of one table state, and typed
//! values out of the batches it answers.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Int64Type};
use datafusion::catalog::TableProvider;
use datafusion::dataframe::DataFrame;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::{Expr, SessionConfig, SessionContext};
use deltalake_core::DeltaTable;
use talkhouse_core::Tenant;
use uuid::Uuid;

use crate::Result;
use crate::rollup::{RollupKey, UserRollupKey};

/// The rows of `provider` (a state of `table`) that `predicate` keeps. `runtime` is shared by the
/// scans of every state, so a file's Parquet footer is read once: data files never change once
/// written.
pub fn scan(
    table: &DeltaTable,
    runtime: &Arc<RuntimeEnv>,
    provider: Arc<dyn TableProvider>,
    predicate: Expr,
) -> Result<DataFrame> {
    let ctx = SessionContext::new_with_config_rt(SessionConfig::new(), runtime.clone());
    table.update_datafusion_session(&ctx.state())?;
    Ok(ctx.read_table(provider)?.filter(predicate)?)
}

/// The (tenant, message id) of the rows of `provider` that `predicate` keeps.
pub async fn message_ids(
    table: &DeltaTable,
    runtime: &Arc<RuntimeEnv>,
    provider: Arc<dyn TableProvider>,
    predicate: Expr,
) -> Result<Vec<(Tenant, Uuid)>> {
    let batches = scan(table, runtime, provider, predicate)?
        .select_columns(&["org_id", "env_id", "bot_id", "message_id"])?
        .collect()
        .await?;
    let mut found = Vec::new();
    for batch in batches {
        let (tenants, ids) = (tenant_columns(&batch, 0)?, texts(&batch, 3)?);
        for row in 0..batch.num_rows() {
            if let (Some(tenant), Some(id)) = (tenant_at(&tenants, row), uuid_at(&ids, row)) {
                found.push((tenant, id));
            }
        }
    }
    Ok(found)
}

/// The disjunction of `terms` as a balanced tree (`false` when there are none): its depth, which
/// DataFusion's rewrites recurse through, grows with the logarithm of the number of terms.
pub fn any_of(mut terms: Vec<Expr>) -> Expr {
    if terms.len() <= 1 {
        return terms.pop().unwrap_or(datafusion::prelude::lit(false));
    }
    let right = terms.split_off(terms.len() / 2);
    any_of(terms).or(any_of(right))
}

/// Column `index` of a batch as text (partition columns arrive dictionary-encoded).
pub fn texts(batch: &RecordBatch, index: usize) -> Result<StringArray> {
    let array = arrow::compute::cast(batch.column(index), &DataType::Utf8)?;
    Ok(array.as_string::<i32>().clone())
}

/// Column `index` of a batch as 64-bit integers (timestamps as their microseconds).
pub fn int64s(batch: &RecordBatch, index: usize) -> Result<Int64Array> {
    let array: ArrayRef = arrow::compute::cast(batch.column(index), &DataType::Int64)?;
    Ok(array.as_primitive::<Int64Type>().clone())
}

/// The UUID at `row`; `None` when null or not a UUID.
pub fn uuid_at(array: &StringArray, row: usize) -> Option<Uuid> {
    if array.is_null(row) {
        return None;
    }
    Uuid::parse_str(array.value(row)).ok()
}

/// The org, env and bot columns, as text, from `first` on.
pub fn tenant_columns(batch: &RecordBatch, first: usize) -> Result<[StringArray; 3]> {
    Ok([
        texts(batch, first)?,
        texts(batch, first + 1)?,
        texts(batch, first + 2)?,
    ])
}

/// The tenant of `row` from its org, env and bot columns.
pub fn tenant_at([org, env, bot]: &[StringArray; 3], row: usize) -> Option<Tenant> {
    Some(Tenant {
        org_id: uuid_at(org, row)?,
        env_id: uuid_at(env, row)?,
        bot_id: uuid_at(bot, row)?,
    })
}

/// The user rollup key of each row of a batch whose first seven columns are the org, env and bot,
/// the bucket start, the channel, the untagged flag and the user (empty for a rollup row); `None`
/// for a row without a valid tenant or channel.
pub fn user_rollup_keys(batch: &RecordBatch) -> Result<Vec<Option<UserRollupKey>>> {
    let tenants = tenant_columns(batch, 0)?;
    let (bucket, channel) = (int64s(batch, 3)?, texts(batch, 4)?);
    let untagged = batch.column(5).as_boolean();
    let user = texts(batch, 6)?;
    Ok((0..batch.num_rows())
        .map(|row| {
            Some(UserRollupKey {
                rollup: RollupKey {
                    tenant: tenant_at(&tenants, row)?,
                    bucket_start: bucket.value(row),
                    channel_uuid: uuid_at(&channel, row)?,
                    untagged: untagged.value(row),
                },
                user_id: user.value(row).to_string(),
            })
        })
        .collect())
}
