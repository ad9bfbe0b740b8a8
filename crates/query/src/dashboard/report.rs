//! The rows of a report, streamed in the report's order: the selection of the preview, ordered
//! newest or oldest first or by sample rank, capped, and projected to the report's columns.

use std::sync::Arc;

use arrow::array::{Array, AsArray, UInt64Array};
use arrow::datatypes::DataType;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::{DataFrame, cast, col, lit};
use talkhouse_core::report::{ReportSort, ReportSpec, sample_rank};
use talkhouse_core::request::Order;

use super::run::Run;
use super::search::{selected_conversations, selected_messages};
use crate::Result;

/// Columns of a conversations report, in file order.
pub const CONVERSATION_COLUMNS: &[&str] = &[
    "session_code",
    "user_id",
    "business_key",
    "channel_uuid",
    "started_at",
    "ended_at",
    "updated_at",
    "satisfaction",
    "flows",
    "flows_travelled",
    "tags",
    "user_messages",
    "bot_messages",
    "duration_seconds",
];

/// Columns of a messages or transcript report, in file order.
pub const MESSAGE_COLUMNS: &[&str] = &[
    "message_id",
    "session_code",
    "user_id",
    "business_key",
    "channel_uuid",
    "channel_name",
    "sent_at",
    "sender",
    "content_type",
    "text",
    "nlp_response",
    "nlp_response_type",
    "nlp_response_name",
    "confidence",
    "answer_name",
    "answer_text",
    "flow",
    "tags",
];

/// A report's rows: how many there will be, and the stream that yields them.
pub struct ReportRows {
    pub rows: u64,
    pub stream: SendableRecordBatchStream,
}

/// `sample_rank(key)` for one report's seed.
fn sample_rank_udf(seed: u64) -> ScalarUDF {
    create_udf(
        "sample_rank",
        vec![DataType::Utf8],
        DataType::UInt64,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let keys = ColumnarValue::values_to_arrays(args)?;
            let keys = keys[0].as_string::<i32>();
            let ranks: UInt64Array = keys
                .iter()
                .map(|key| key.map(|key| sample_rank(seed, key)))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(ranks) as Arc<dyn Array>))
        }),
    )
}

/// The item order of a report: its time and identity keys, or its sample rank then identity.
fn ordered(df: DataFrame, sort: ReportSort, keys: &[&str], seed: u64) -> Result<DataFrame> {
    let by = |order: Order| {
        keys.iter()
            .map(|key| col(*key).sort(order == Order::Asc, false))
            .collect::<Vec<_>>()
    };
    Ok(match sort {
        ReportSort::NewestFirst => df.sort(by(Order::Desc))?,
        ReportSort::OldestFirst => df.sort(by(Order::Asc))?,
        ReportSort::RandomSample => {
            let identity = *keys.last().expect("an identity key");
            let rank = sample_rank_udf(seed).call(vec![cast(col(identity), DataType::Utf8)]);
            df.sort(vec![
                rank.sort(true, false),
                col(identity).sort(true, false),
            ])?
        }
    })
}

/// Keeps at most `cap` items. Without a cap to apply the sort stays a full sort, which may spill
/// to disk, rather than a top-k that holds every kept row in memory.
fn capped(df: DataFrame, matching: u64, cap: u64) -> Result<DataFrame> {
    Ok(if cap < matching {
        df.limit(0, Some(cap as usize))?
    } else {
        df
    })
}

fn project(df: DataFrame, columns: &[&str]) -> Result<DataFrame> {
    Ok(df.select_columns(columns)?)
}

pub(super) async fn rows(run: &mut Run, spec: &ReportSpec, seed: u64) -> Result<ReportRows> {
    let (df, rows) = match spec {
        ReportSpec::Conversations {
            selection,
            cap,
            sort,
        } => {
            let df = selected_conversations(run, selection).await?;
            let matching = run.count(df.clone()).await?;
            let df = ordered(df, *sort, &["started_at", "session_code"], seed)?;
            let df = project(capped(df, matching, *cap)?, CONVERSATION_COLUMNS)?;
            (df, matching.min(*cap))
        }
        ReportSpec::Messages {
            selection,
            cap,
            sort,
        } => {
            let df = selected_messages(run, selection).await?;
            let matching = run.count(df.clone()).await?;
            let df = ordered(df, *sort, &["sent_at", "message_id"], seed)?;
            let df = project(capped(df, matching, *cap)?, MESSAGE_COLUMNS)?;
            (df, matching.min(*cap))
        }
        ReportSpec::Transcript { session_code, .. } => {
            let df = run
                .messages()
                .await?
                .filter(col("session_code").eq(lit(session_code.clone())))?;
            let matching = run.count(df.clone()).await?;
            let df = ordered(
                df,
                ReportSort::OldestFirst,
                &["sent_at", "message_id"],
                seed,
            )?;
            (project(df, MESSAGE_COLUMNS)?, matching)
        }
    };
    let stream = run.stream(df).await?;
    Ok(ReportRows { rows, stream })
}
