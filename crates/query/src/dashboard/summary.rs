//! `GetSummary`: whether the bot has data, where it starts and ends, and its channels.

use chrono::{DateTime, Utc};
use datafusion::functions_aggregate::expr_fn::{max, min};
use datafusion::prelude::col;

use arrow::array::RecordBatch;
use talkhouse_storage::rollup::BUCKET_MICROS;

use super::predicates::instant;
use super::run::Run;
use crate::Result;
use crate::columns;
use crate::index::BotFacts;
use crate::model::Summary;

pub(super) async fn summary(run: &mut Run) -> Result<Summary> {
    let (first, last) = match run.bot_facts().await? {
        Some(facts) => span_from_facts(run, &facts).await?,
        None => span_from_events(run).await?,
    };
    Ok(Summary {
        has_data: first.is_some(),
        first_data_set: first,
        last_data_set: last,
        channels: run.channels().await?,
    })
}

type Span = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The first and last `sent_at` or `started_at` from the bot's facts: the messages' span is
/// known, and the conversations' first and last instants are in the first and last buckets the
/// rollups count, which two small plans read.
async fn span_from_facts(run: &mut Run, facts: &BotFacts) -> Result<Span> {
    let (mut first, mut last) = (facts.messages.map(|m| m.0), facts.messages.map(|m| m.1));
    let Some((first_bucket, last_bucket)) = facts.conversation_buckets else {
        return Ok((first, last));
    };
    let in_bucket = |bucket: i64| {
        col("started_at")
            .gt_eq(instant(bucket))
            .and(col("started_at").lt(instant(bucket + BUCKET_MICROS)))
    };
    let earliest = run
        .conversations()
        .await?
        .filter(in_bucket(first_bucket))?
        .aggregate(vec![], vec![min(col("started_at")).alias("instant")])?;
    let latest = run
        .conversations()
        .await?
        .filter(in_bucket(last_bucket))?
        .aggregate(vec![], vec![max(col("started_at")).alias("instant")])?;
    let [earliest, latest]: [Vec<RecordBatch>; 2] = run
        .collect_all(vec![earliest, latest])
        .await?
        .try_into()
        .expect("two plans, two answers");
    for value in instants_of(&earliest)? {
        first = Some(first.map_or(value, |f| f.min(value)));
    }
    for value in instants_of(&latest)? {
        last = Some(last.map_or(value, |l| l.max(value)));
    }
    Ok((first, last))
}

fn instants_of(batches: &[RecordBatch]) -> Result<Vec<DateTime<Utc>>> {
    let mut values = Vec::new();
    for batch in batches {
        values.extend(columns::instants(batch, "instant")?.into_iter().flatten());
    }
    Ok(values)
}

/// The first and last `sent_at` or `started_at` from all of the bot's events.
async fn span_from_events(run: &mut Run) -> Result<Span> {
    let messages = run.messages().await?.aggregate(
        vec![],
        vec![
            min(col("sent_at")).alias("first"),
            max(col("sent_at")).alias("last"),
        ],
    )?;
    let conversations = run.conversations().await?.aggregate(
        vec![],
        vec![
            min(col("started_at")).alias("first"),
            max(col("started_at")).alias("last"),
        ],
    )?;
    let mut first: Option<DateTime<Utc>> = None;
    let mut last: Option<DateTime<Utc>> = None;
    for df in [messages, conversations] {
        for batch in run.collect(df).await? {
            for value in columns::instants(&batch, "first")?.into_iter().flatten() {
                first = Some(first.map_or(value, |f| f.min(value)));
            }
            for value in columns::instants(&batch, "last")?.into_iter().flatten() {
                last = Some(last.map_or(value, |l| l.max(value)));
            }
        }
    }
    Ok((first, last))
}
