//! The stacked line charts: counts per bucket and channel.

use std::collections::HashMap;

use datafusion::functions_aggregate::expr_fn::{count, count_distinct};
use datafusion::prelude::{col, lit};
use talkhouse_core::measure::Measure;
use talkhouse_core::request::Filter;
use talkhouse_core::window::{Granularity, Series};

use super::classify::classify;
use super::predicates::{channels_and_tags, months, within};
use super::run::Run;
use crate::Result;
use crate::columns;
use crate::index;
use crate::model::{Dataset, SeriesAnswer};

/// What a series counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesResource {
    /// Conversations by `started_at`.
    Conversations,
    /// Messages by `sent_at`.
    Messages,
    /// Distinct users of the conversations started in each bucket.
    Users,
}

pub(super) async fn series(
    run: &mut Run,
    resource: SeriesResource,
    filter: &Filter,
    granularity: Option<Granularity>,
) -> Result<SeriesAnswer> {
    let granularity = granularity.unwrap_or_else(|| Granularity::auto(&filter.window));
    let series = Series::new(&filter.window, granularity);
    let measures: &[Measure] = match resource {
        SeriesResource::Conversations => &[Measure::Conversations],
        SeriesResource::Messages => &[Measure::UserMessages, Measure::BotMessages],
        SeriesResource::Users => &[],
    };
    let classifier = &series.classifier;
    let counts = match resource {
        SeriesResource::Users => match run.user_index(filter, classifier, None).await? {
            Some(index) => run.answered_by_index(index.by_label_and_channel(filter, classifier)),
            None => from_events(run, resource, filter, &series).await?,
        },
        _ => match run.rollup_index(filter, classifier).await? {
            Some(index) => {
                run.answered_by_index(index::by_channel(&index.sums(filter, classifier, measures)))
            }
            None => from_events(run, resource, filter, &series).await?,
        },
    };
    let mut by_channel: HashMap<String, HashMap<i64, i64>> = HashMap::new();
    for ((bucket, channel), n) in counts {
        *by_channel
            .entry(channel)
            .or_default()
            .entry(bucket)
            .or_insert(0) += n;
    }
    let counts = by_channel;
    let datasets = run
        .listed_channels(filter)
        .await?
        .into_iter()
        .map(|channel| {
            let by_bucket = counts.get(&channel.uuid);
            let data = (0..series.buckets.len() as i64)
                .map(|b| by_bucket.and_then(|c| c.get(&b)).copied().unwrap_or(0))
                .collect();
            Dataset {
                channel_uuid: channel.uuid,
                channel_name: channel.name,
                data,
            }
        })
        .collect();
    Ok(SeriesAnswer {
        granularity,
        buckets: series.buckets,
        datasets,
    })
}

/// Counts per (bucket, channel) from the event tables.
async fn from_events(
    run: &mut Run,
    resource: SeriesResource,
    filter: &Filter,
    series: &Series,
) -> Result<HashMap<(i64, String), i64>> {
    let (df, instant_column) = match resource {
        SeriesResource::Messages => {
            let df = run.messages().await?;
            match series.classifier.bounds() {
                Some(bounds) => (df.filter(months(bounds))?, "sent_at"),
                None => (df, "sent_at"),
            }
        }
        SeriesResource::Conversations | SeriesResource::Users => {
            (run.conversations().await?, "started_at")
        }
    };
    let measure = match resource {
        SeriesResource::Users => count_distinct(col("user_id")),
        _ => count(lit(1)),
    };
    let df = df
        .filter(within(&series.classifier, instant_column).and(channels_and_tags(filter)))?
        .aggregate(
            vec![
                classify(series.classifier.clone(), col(instant_column)).alias("bucket"),
                col("channel_uuid"),
            ],
            vec![measure.alias("n")],
        )?;
    let mut counts = HashMap::new();
    for batch in run.collect(df).await? {
        let buckets = columns::int64s(&batch, "bucket")?;
        let channels = columns::strings(&batch, "channel_uuid")?;
        let ns = columns::int64s(&batch, "n")?;
        for ((bucket, channel), n) in buckets.into_iter().zip(channels).zip(ns) {
            if let (Some(bucket), Some(channel)) = (bucket, channel) {
                *counts.entry((bucket, channel)).or_insert(0) += n.unwrap_or(0);
            }
        }
    }
    Ok(counts)
}
