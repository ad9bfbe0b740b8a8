//! Answers from the rollup rows: sums per window label and channel, when the request allows.

use std::collections::HashMap;

use datafusion::functions_aggregate::expr_fn::sum;
use datafusion::prelude::{Expr, col};
use talkhouse_core::request::Filter;
use talkhouse_core::window::Classifier;
use talkhouse_storage::rollup::BUCKET_MICROS;

use super::classify::classify;
use super::predicates::{channels, months, tenant, within};
use super::{Run, ServedBy, columns};
use crate::Result;

/// What a rollup row counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Measure {
    Conversations,
    UserMessages,
    BotMessages,
    Found,
    NotFound,
}

impl Measure {
    fn column(self) -> &'static str {
        match self {
            Measure::Conversations => "conversations",
            Measure::UserMessages => "user_messages",
            Measure::BotMessages => "bot_messages",
            Measure::Found => "found",
            Measure::NotFound => "not_found",
        }
    }
}

/// Sums per (label, channel), one value per measure asked, in the order asked.
pub(super) type Sums = HashMap<(i64, String), Vec<i64>>;

/// The sums of `measures` over the rollup rows the classifier labels, when the request can be
/// answered from rollups: the table carries them, the filter names no tags (a rollup row knows
/// only whether its items were untagged), and every range of the classifier starts and ends on
/// a bucket boundary (true of every real zone's days and hours; not of an offset such as
/// `+05:07`). `None` otherwise: the caller reads the event tables.
pub(super) async fn sums(
    run: &mut Run,
    filter: &Filter,
    classifier: &Classifier,
    measures: &[Measure],
) -> Result<Option<Sums>> {
    if !run.rollups || !filter.tags.is_empty() || !classifier.aligned_to(BUCKET_MICROS) {
        return Ok(None);
    }
    let mut rows = run
        .ctx
        .table("rollups")
        .await?
        .filter(tenant(&run.tenant))?
        .filter(within(classifier, "bucket_start").and(channels(filter)))?;
    if let Some(bounds) = classifier.bounds() {
        rows = rows.filter(months(bounds))?;
    }
    if filter.untagged {
        rows = rows.filter(col("untagged").is_true())?;
    }
    let aggregates: Vec<Expr> = measures
        .iter()
        .map(|m| sum(col(m.column())).alias(m.column()))
        .collect();
    let df = rows.aggregate(
        vec![
            classify(classifier.clone(), col("bucket_start")).alias("label"),
            col("channel_uuid"),
        ],
        aggregates,
    )?;
    let mut sums = Sums::new();
    for batch in run.collect(df).await? {
        let labels = columns::int64s(&batch, "label")?;
        let channels = columns::strings(&batch, "channel_uuid")?;
        let values = measures
            .iter()
            .map(|m| columns::int64s(&batch, m.column()))
            .collect::<Result<Vec<_>>>()?;
        for (row, (label, channel)) in labels.into_iter().zip(channels).enumerate() {
            let (Some(label), Some(channel)) = (label, channel) else {
                continue;
            };
            let entry = sums
                .entry((label, channel))
                .or_insert_with(|| vec![0; measures.len()]);
            for (total, column) in entry.iter_mut().zip(&values) {
                *total += column[row].unwrap_or(0);
            }
        }
    }
    run.served_by = ServedBy::Rollups;
    Ok(Some(sums))
}

/// Per (label, key) counts from sums: each measure's total under its key.
pub(super) fn by_key(sums: &Sums, keys: &[&str]) -> HashMap<(i64, String), i64> {
    let mut counts = HashMap::new();
    for ((label, _channel), values) in sums {
        for (key, value) in keys.iter().zip(values) {
            *counts.entry((*label, key.to_string())).or_insert(0) += value;
        }
    }
    counts
}

/// Per (label, channel) counts from sums: all measures added.
pub(super) fn by_channel(sums: &Sums) -> HashMap<(i64, String), i64> {
    sums.iter()
        .map(|(key, values)| (key.clone(), values.iter().sum()))
        .collect()
}
