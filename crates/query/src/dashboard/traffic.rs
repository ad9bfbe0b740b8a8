//! The traffic boxes and accuracy: the window against the previous period, from one scan each.

use std::collections::HashMap;

use arrow::array::RecordBatch;
use datafusion::common::JoinType;
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::prelude::{DataFrame, Expr, col, lit};
use talkhouse_core::NlpResponse;
use talkhouse_core::measure::Measure;
use talkhouse_core::measure::{EVALUATED_CONTENT_TYPE, EVALUATED_SENDER};
use talkhouse_core::request::Filter;

use super::classify::classify;
use super::predicates::{channels_and_tags, instant, months, within};
use super::run::Run;
use crate::Result;
use crate::columns;
use crate::index;
use crate::model::{Accuracy, BreakdownItem, Overview, Traffic};

const CURRENT: i64 = 0;
const PREVIOUS: i64 = 1;

/// Counts per (period, key) of the rows of `df` in the window or the previous period.
async fn counts_by_period(
    run: &mut Run,
    df: DataFrame,
    filter: &Filter,
    instant_column: &str,
    key: Expr,
) -> Result<HashMap<(i64, String), i64>> {
    let periods = filter.window.periods();
    let df = df
        .filter(within(&periods, instant_column).and(channels_and_tags(filter)))?
        .aggregate(
            vec![
                classify(periods, col(instant_column)).alias("period"),
                key.alias("key"),
            ],
            vec![count(lit(1)).alias("n")],
        )?;
    let batches = run.collect(df).await?;
    grouped(&batches)
}

fn grouped(batches: &[RecordBatch]) -> Result<HashMap<(i64, String), i64>> {
    let mut counts = HashMap::new();
    for batch in batches {
        let periods = columns::int64s(batch, "period")?;
        let keys = columns::strings(batch, "key")?;
        let ns = columns::int64s(batch, "n")?;
        for ((period, key), n) in periods.into_iter().zip(keys).zip(ns) {
            if let Some(period) = period {
                *counts.entry((period, key.unwrap_or_default())).or_insert(0) += n.unwrap_or(0);
            }
        }
    }
    Ok(counts)
}

fn overview(counts: &HashMap<(i64, String), i64>, filter: &Filter) -> Overview {
    let total = |period: i64| -> i64 {
        counts
            .iter()
            .filter(|((p, _), _)| *p == period)
            .map(|(_, n)| n)
            .sum()
    };
    Overview {
        total: total(CURRENT),
        previous_total: total(PREVIOUS),
        compared_start: filter.window.compared_start(),
        compared_end: filter.window.compared_end(),
    }
}

/// Traffic broken down by fixed keys, each its own label.
fn keyed_traffic(counts: &HashMap<(i64, String), i64>, filter: &Filter, keys: &[&str]) -> Traffic {
    let breakdown = keys
        .iter()
        .map(|key| BreakdownItem {
            key: key.to_string(),
            label: key.to_string(),
            value: value(counts, key),
        })
        .collect();
    Traffic {
        overview: overview(counts, filter),
        breakdown,
    }
}

fn value(counts: &HashMap<(i64, String), i64>, key: &str) -> i64 {
    counts
        .get(&(CURRENT, key.to_string()))
        .copied()
        .unwrap_or(0)
}

/// Messages are partitioned by UTC month; only the months of the two periods are opened.
async fn messages_in_periods(run: &Run, filter: &Filter) -> Result<DataFrame> {
    let df = run.messages().await?;
    Ok(match filter.window.periods().bounds() {
        Some(bounds) => df.filter(months(bounds))?,
        None => df,
    })
}

pub(super) async fn conversations(run: &mut Run, filter: &Filter) -> Result<Traffic> {
    let periods = filter.window.periods();
    let counts = match run.rollup_index(filter, &periods).await? {
        Some(index) => run.answered_by_index(index::by_channel(&index.sums(
            filter,
            &periods,
            &[Measure::Conversations],
        ))),
        None => {
            let df = run.conversations().await?;
            counts_by_period(run, df, filter, "started_at", col("channel_uuid")).await?
        }
    };
    let breakdown = run
        .listed_channels(filter)
        .await?
        .into_iter()
        .map(|channel| BreakdownItem {
            value: value(&counts, &channel.uuid),
            key: channel.uuid,
            label: channel.name,
        })
        .collect();
    Ok(Traffic {
        overview: overview(&counts, filter),
        breakdown,
    })
}

pub(super) async fn messages(run: &mut Run, filter: &Filter) -> Result<Traffic> {
    let periods = filter.window.periods();
    let measures = [Measure::UserMessages, Measure::BotMessages];
    let counts = match run.rollup_index(filter, &periods).await? {
        Some(index) => run.answered_by_index(index::by_key(
            &index.sums(filter, &periods, &measures),
            &["USER", "BOT"],
        )),
        None => {
            let df = messages_in_periods(run, filter).await?;
            counts_by_period(run, df, filter, "sent_at", col("sender")).await?
        }
    };
    Ok(keyed_traffic(&counts, filter, &["USER", "BOT"]))
}

/// Distinct users with a conversation in each period; in the window, NEW when their first
/// conversation with the bot (any channel, any hour) started on or after `start_date`.
pub(super) async fn users(run: &mut Run, filter: &Filter) -> Result<Traffic> {
    let periods = filter.window.periods();
    let new_from = filter.window.first_instant().timestamp_micros();
    let counts = match run.user_index(filter, &periods, Some(new_from)).await? {
        Some(index) => {
            let users = run.answered_by_index(index.traffic(filter, &periods, new_from));
            HashMap::from([
                ((CURRENT, "NEW".to_string()), users.new),
                ((CURRENT, "RETURNING".to_string()), users.returning),
                ((PREVIOUS, "RETURNING".to_string()), users.previous),
            ])
        }
        None => users_from_events(run, filter, new_from).await?,
    };
    Ok(keyed_traffic(&counts, filter, &["NEW", "RETURNING"]))
}

/// Distinct users per (period, NEW or RETURNING) from the conversations.
async fn users_from_events(
    run: &mut Run,
    filter: &Filter,
    new_from: i64,
) -> Result<HashMap<(i64, String), i64>> {
    let periods = filter.window.periods();
    let in_periods = run
        .conversations()
        .await?
        .filter(within(&periods, "started_at").and(channels_and_tags(filter)))?
        .select(vec![
            classify(periods, col("started_at")).alias("period"),
            col("user_id"),
        ])?
        .distinct()?;
    // RETURNING when an earlier conversation exists: a mark join probes the earlier conversations
    // for the window's users instead of grouping the bot's whole history by user.
    let earlier = run
        .conversations()
        .await?
        .filter(col("started_at").lt(instant(new_from)))?
        .select(vec![col("user_id").alias("earlier_user")])?;
    let df = in_periods
        .join(
            earlier,
            JoinType::LeftMark,
            &["user_id"],
            &["earlier_user"],
            None,
        )?
        .aggregate(
            vec![
                col("period"),
                datafusion::prelude::when(col("mark"), lit("RETURNING"))
                    .otherwise(lit("NEW"))?
                    .alias("key"),
            ],
            vec![count(lit(1)).alias("n")],
        )?;
    let batches = run.collect(df).await?;
    grouped(&batches)
}

/// FOUND and NONE among TEXT user messages, in the window and the previous period.
pub(super) async fn accuracy(run: &mut Run, filter: &Filter) -> Result<Accuracy> {
    const FOUND: &str = NlpResponse::Found.as_str();
    const NONE: &str = NlpResponse::None.as_str();
    let periods = filter.window.periods();
    let measures = [Measure::Found, Measure::NotFound];
    let counts = match run.rollup_index(filter, &periods).await? {
        Some(index) => run.answered_by_index(index::by_key(
            &index.sums(filter, &periods, &measures),
            &[FOUND, NONE],
        )),
        None => {
            let df = messages_in_periods(run, filter).await?.filter(
                col("sender")
                    .eq(lit(EVALUATED_SENDER.as_str()))
                    .and(col("content_type").eq(lit(EVALUATED_CONTENT_TYPE.as_str())))
                    .and(col("nlp_response").is_not_null()),
            )?;
            counts_by_period(run, df, filter, "sent_at", col("nlp_response")).await?
        }
    };
    let get = |period: i64, key: &str| counts.get(&(period, key.to_string())).copied().unwrap_or(0);
    Ok(Accuracy {
        found: get(CURRENT, FOUND),
        not_found: get(CURRENT, NONE),
        previous_found: get(PREVIOUS, FOUND),
        previous_not_found: get(PREVIOUS, NONE),
        compared_start: filter.window.compared_start(),
        compared_end: filter.window.compared_end(),
    })
}
