//! The conversation and message lists, transcripts, and the selections reports count.

use arrow::array::RecordBatch;
use datafusion::common::JoinType;
use datafusion::prelude::{DataFrame, Expr, col, lit};
use talkhouse_core::request::{
    ConfidenceRule, ConversationSearch, ConversationSelection, ConversationSort, Filter,
    MessageSearch, MessageSelection, MessageSort, NlpFilter, Order, Page, SearchTerm,
};
use talkhouse_core::window::Classifier;
use talkhouse_storage::rollup::BUCKET_MICROS;

use super::predicates::{
    channels_and_tags, conversation_search, evaluated_user_message, instant, message_search,
    months, within,
};
use talkhouse_core::measure::Measure;

use super::rows;
use super::run::{Run, count_in, counted};
use crate::Result;
use crate::columns;
use crate::model::{ConversationRow, MessageRow, PageOf};

/// Labels the instants of the filter's window (and nothing of the previous period).
fn window_of(filter: &Filter) -> Classifier {
    Classifier::new(filter.window.ranges().into_iter().map(|r| (r, 0)).collect())
}

/// Conversations started in the window, matching channels, tags and the search.
async fn matching_conversations(
    run: &Run,
    filter: &Filter,
    search: Option<&SearchTerm>,
) -> Result<DataFrame> {
    let mut df = run
        .conversations()
        .await?
        .filter(within(&window_of(filter), "started_at").and(channels_and_tags(filter)))?;
    if let Some(term) = search {
        df = df.filter(conversation_search(term))?;
    }
    Ok(df)
}

/// Messages sent in the window, matching channels, tags, the search and the NLP outcomes.
async fn matching_messages(
    run: &Run,
    filter: &Filter,
    search: Option<&SearchTerm>,
    nlp: &NlpFilter,
) -> Result<DataFrame> {
    let window = window_of(filter);
    let mut df = run.messages().await?;
    if let Some(bounds) = window.bounds() {
        df = df.filter(months(bounds))?;
    }
    df = df.filter(within(&window, "sent_at").and(channels_and_tags(filter)))?;
    if let Some(term) = search {
        df = df.filter(message_search(term))?;
    }
    if let NlpFilter::OneOf(responses) = nlp {
        let responses = responses.iter().map(|r| lit(r.as_str())).collect();
        df = df.filter(col("nlp_response").in_list(responses, false))?;
    }
    Ok(df)
}

/// An evaluated user message at or above the rule's confidence.
fn confident(rule: ConfidenceRule) -> Expr {
    evaluated_user_message().and(col("confidence").gt_eq(lit(rule.threshold)))
}

/// The sort, then the tie-breakers, all in one direction; absent values last either way.
pub(super) fn ordering(keys: &[&str], order: Order) -> Vec<datafusion::logical_expr::SortExpr> {
    let ascending = order == Order::Asc;
    keys.iter()
        .map(|key| col(*key).sort(ascending, false))
        .collect()
}

/// What the rollups tell a list without a search term, tag filter or NLP filter: its rows per
/// 15-minute bucket of its instant (ascending), so its count needs no plan, and a page sorted by
/// that instant reads only the buckets that hold it.
struct Counted {
    buckets: Vec<(i64, i64)>,
    /// The instant column the buckets are of.
    instant: &'static str,
}

impl Counted {
    fn total(&self) -> u64 {
        self.buckets.iter().map(|(_, n)| (*n).max(0) as u64).sum()
    }

    /// Where the rows of `page` lie when sorted by the instant in `order`: the instants
    /// `[from, to)` holding them and how many rows come before those; `None` past the last row.
    fn span(&self, order: Order, page: Page) -> Option<(i64, i64, u64)> {
        let (offset, end) = (page.offset(), page.offset() + u64::from(page.size));
        let buckets: Box<dyn Iterator<Item = &(i64, i64)>> = match order {
            Order::Asc => Box::new(self.buckets.iter()),
            Order::Desc => Box::new(self.buckets.iter().rev()),
        };
        let (mut seen, mut first, mut last) = (0u64, None, None);
        for (bucket, n) in buckets {
            let n = (*n).max(0) as u64;
            if first.is_none() && seen + n > offset {
                first = Some((*bucket, seen));
            }
            seen += n;
            if first.is_some() && n > 0 {
                last = Some(*bucket);
                if seen >= end {
                    break;
                }
            }
        }
        let ((first, before), last) = (first?, last?);
        let (from, to) = match order {
            Order::Asc => (first, last + BUCKET_MICROS),
            Order::Desc => (last, first + BUCKET_MICROS),
        };
        Some((from, to, before))
    }
}

/// One page of `df` in the order of `keys`, whose last key identifies a row. The top-K runs over
/// the key columns alone; only the page's rows are then read in full, found by their identity
/// and bounded by their instants (so statistics prune the files and row groups), where a top-K
/// over every column would decode every text of the window. The count runs beside the top-K,
/// unless the rollups gave it; with them, a page sorted by its instant reads only the buckets
/// that hold its rows.
async fn page<T>(
    run: &mut Run,
    df: DataFrame,
    from_rollups: Option<Counted>,
    keys: &[&str],
    order: Order,
    page: Page,
    read: fn(&[RecordBatch]) -> Result<Vec<T>>,
) -> Result<PageOf<T>> {
    let keys_only = |df: DataFrame, offset: u64| -> Result<DataFrame> {
        Ok(df
            .select(keys.iter().map(|key| col(*key)).collect::<Vec<Expr>>())?
            .sort(ordering(keys, order))?
            .limit(offset as usize, Some(page.size as usize))?)
    };
    let (total, on_page) = match from_rollups {
        Some(counted) if keys.first() == Some(&counted.instant) => {
            let total = counted.total();
            let Some((from, to, before)) = counted.span(order, page) else {
                return Ok(PageOf {
                    items: Vec::new(),
                    page,
                    total,
                });
            };
            let column = || col(counted.instant);
            let within = df
                .clone()
                .filter(column().gt_eq(instant(from)).and(column().lt(instant(to))))?;
            (
                total,
                run.collect(keys_only(within, page.offset() - before)?)
                    .await?,
            )
        }
        Some(counted) => {
            let on_page = keys_only(df.clone(), page.offset())?;
            (counted.total(), run.collect(on_page).await?)
        }
        None => {
            let on_page = keys_only(df.clone(), page.offset())?;
            let [count, on_page]: [Vec<RecordBatch>; 2] = run
                .collect_all(vec![counted(df.clone())?, on_page])
                .await?
                .try_into()
                .expect("two plans, two answers");
            (count_in(&count)?, on_page)
        }
    };
    let rows: usize = on_page.iter().map(RecordBatch::num_rows).sum();
    if rows == 0 {
        return Ok(PageOf {
            items: Vec::new(),
            page,
            total,
        });
    }
    let df = df
        .filter(rows_of(&on_page, keys)?)?
        .sort(ordering(keys, order))?
        .limit(0, Some(rows))?;
    let items = read(&run.collect(df).await?)?;
    Ok(PageOf { items, page, total })
}

/// The rows whose identity (the last key) is among `batches`, within the bounds of their
/// `sent_at` or `started_at` when those are keys.
fn rows_of(batches: &[RecordBatch], keys: &[&str]) -> Result<Expr> {
    let identity = keys.last().copied().unwrap_or("message_id");
    let mut identities = Vec::new();
    for batch in batches {
        identities.extend(columns::strings(batch, identity)?.into_iter().flatten());
    }
    let mut predicate = col(identity).in_list(identities.into_iter().map(lit).collect(), false);
    for key in keys
        .iter()
        .filter(|k| ["sent_at", "started_at"].contains(k))
    {
        let mut instants = Vec::new();
        for batch in batches {
            instants.extend(columns::instants(batch, key)?.into_iter().flatten());
        }
        if let (Some(first), Some(last)) = (instants.iter().min(), instants.iter().max()) {
            predicate = predicate.and(col(*key).between(
                instant(first.timestamp_micros()),
                instant(last.timestamp_micros()),
            ));
        }
    }
    Ok(predicate)
}

pub(super) async fn conversations(
    run: &mut Run,
    search: &ConversationSearch,
) -> Result<PageOf<ConversationRow>> {
    let df = matching_conversations(run, &search.filter, search.search.as_ref()).await?;
    let counted = match search.search {
        None => {
            let window = window_of(&search.filter);
            let measures = [Measure::Conversations];
            run.rollup_index(&search.filter, &window)
                .await?
                .map(|index| Counted {
                    buckets: index.by_bucket(&search.filter, &window, &measures),
                    instant: "started_at",
                })
        }
        Some(_) => None,
    };
    let key = match search.sort {
        ConversationSort::StartedAt => "started_at",
        ConversationSort::Satisfaction => "satisfaction",
        ConversationSort::UserMessages => "user_messages",
        ConversationSort::FlowsTravelled => "flows_travelled",
        ConversationSort::Duration => "duration_seconds",
    };
    page(
        run,
        df,
        counted,
        &[key, "session_code"],
        search.order,
        search.page,
        rows::conversations,
    )
    .await
}

pub(super) async fn messages(run: &mut Run, search: &MessageSearch) -> Result<PageOf<MessageRow>> {
    let mut df =
        matching_messages(run, &search.filter, search.search.as_ref(), &search.nlp).await?;
    let counted = match (&search.search, &search.nlp) {
        (None, NlpFilter::Any) => {
            let window = window_of(&search.filter);
            let measures = [Measure::UserMessages, Measure::BotMessages];
            run.rollup_index(&search.filter, &window)
                .await?
                .map(|index| Counted {
                    buckets: index.by_bucket(&search.filter, &window, &measures),
                    instant: "sent_at",
                })
        }
        _ => None,
    };
    let keys: &[&str] = match search.sort {
        MessageSort::SentAt => &["sent_at", "message_id"],
        MessageSort::Confidence => &["confidence", "sent_at", "message_id"],
        MessageSort::ConversationStartedAt => {
            let started = run.conversations().await?.select(vec![
                col("session_code").alias("conversation_session"),
                col("started_at").alias("conversation_started_at"),
            ])?;
            df = df.join(
                started,
                JoinType::Left,
                &["session_code"],
                &["conversation_session"],
                None,
            )?;
            &["conversation_started_at", "sent_at", "message_id"]
        }
    };
    page(
        run,
        df,
        counted,
        keys,
        search.order,
        search.page,
        rows::messages,
    )
    .await
}

pub(super) async fn selected_conversations(
    run: &Run,
    selection: &ConversationSelection,
) -> Result<DataFrame> {
    let mut df = matching_conversations(run, &selection.filter, selection.search.as_ref()).await?;
    if let Some(rule) = selection.confidence {
        let sessions = run
            .messages()
            .await?
            .filter(confident(rule))?
            .select(vec![col("session_code").alias("confident_session")])?
            .distinct()?;
        df = df.join(
            sessions,
            JoinType::LeftSemi,
            &["session_code"],
            &["confident_session"],
            None,
        )?;
    }
    Ok(df)
}

pub(super) async fn selected_messages(
    run: &Run,
    selection: &MessageSelection,
) -> Result<DataFrame> {
    let mut df = matching_messages(
        run,
        &selection.filter,
        selection.search.as_ref(),
        &selection.nlp,
    )
    .await?;
    if let Some(rule) = selection.confidence {
        df = df.filter(confident(rule))?;
    }
    Ok(df)
}
