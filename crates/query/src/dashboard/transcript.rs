//! One session's record and messages.
//!
//! Read straight from the files that may hold the session (`Snapshot::session_rows`): no plan,
//! and only the pages whose `session_code` bounds hold it. Snapshots read through deltalake's
//! provider take the views instead, with the same answers.

use arrow::array::RecordBatch;
use datafusion::prelude::{DataFrame, col, lit};
use talkhouse_core::latest::VERSION_ORDER;
use talkhouse_core::request::Order;
use talkhouse_storage::schema::{KIND_CONVERSATION, KIND_MESSAGE};

use super::report::MESSAGE_COLUMNS;
use super::rows::{self, CONVERSATION_ROW_COLUMNS, duration_seconds};
use super::run::Run;
use super::search::ordering;
use crate::Result;
use crate::columns::int64s;
use crate::model::{ConversationRow, MessageRow, Transcript};

/// The session's record and messages; a record derived from the messages when it has none.
pub(super) async fn transcript(run: &mut Run, session_code: &str) -> Result<Option<Transcript>> {
    let version_columns = version_columns();
    let (versions, messages) = futures::try_join!(
        run.session_rows(KIND_CONVERSATION, session_code, &version_columns),
        run.session_rows(KIND_MESSAGE, session_code, MESSAGE_COLUMNS),
    )?;
    let (versions, messages) = match (versions, messages) {
        (Some(versions), Some(messages)) => (run.add_read(versions), run.add_read(messages)),
        _ => planned(run, session_code).await?,
    };
    let record = latest_version(&versions)?;
    let mut messages = rows::messages(&messages)?;
    messages.sort_by(|a, b| (a.sent_at, &a.message_id).cmp(&(b.sent_at, &b.message_id)));
    Ok(match record {
        Some(conversation) => Some(Transcript {
            conversation,
            derived: false,
            messages,
        }),
        None => derive(&messages).map(|conversation| Transcript {
            conversation,
            derived: true,
            messages,
        }),
    })
}

/// Whether the bot has a record or a message of the session.
pub(super) async fn has_session(run: &mut Run, session_code: &str) -> Result<bool> {
    for kind in [KIND_CONVERSATION, KIND_MESSAGE] {
        let found = match run
            .session_rows(kind, session_code, &["session_code"])
            .await?
        {
            Some(read) => !run.add_read(read).is_empty(),
            None => {
                let df = of_kind(run, kind, session_code).await?.limit(0, Some(1))?;
                run.count(df).await? > 0
            }
        };
        if found {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The columns a record is read with: those of a row, and the order of versions.
fn version_columns() -> Vec<&'static str> {
    CONVERSATION_ROW_COLUMNS
        .iter()
        .chain(&VERSION_ORDER[1..])
        .copied()
        .collect()
}

/// The session's versions and messages through the views.
async fn planned(
    run: &mut Run,
    session_code: &str,
) -> Result<(Vec<RecordBatch>, Vec<RecordBatch>)> {
    let versions = of_kind(run, KIND_CONVERSATION, session_code).await?;
    let messages = of_kind(run, KIND_MESSAGE, session_code).await?;
    let [versions, messages]: [Vec<RecordBatch>; 2] = run
        .collect_all(vec![versions, messages])
        .await?
        .try_into()
        .expect("two plans, two answers");
    Ok((versions, messages))
}

/// The session's rows of the view of `kind`: every version of its record, or its messages.
async fn of_kind(run: &Run, kind: &str, session_code: &str) -> Result<DataFrame> {
    let same_session = col("session_code").eq(lit(session_code.to_string()));
    let df = match kind {
        KIND_CONVERSATION => run
            .conversation_versions()
            .await?
            .filter(same_session)?
            .sort(ordering(&VERSION_ORDER, Order::Desc))?
            .limit(0, Some(1))?,
        _ => run.messages().await?.filter(same_session)?,
    };
    Ok(df)
}

/// The record of the session: its latest version, the greatest by [`VERSION_ORDER`].
fn latest_version(batches: &[RecordBatch]) -> Result<Option<ConversationRow>> {
    let mut latest: Option<((i64, i64, i64), &RecordBatch, usize)> = None;
    for batch in batches {
        let [updated, written, line] = VERSION_ORDER.map(|name| int64s(batch, name));
        let (updated, written, line) = (updated?, written?, line?);
        for row in 0..batch.num_rows() {
            let order = (
                updated[row].unwrap_or(i64::MIN),
                written[row].unwrap_or(i64::MIN),
                line[row].unwrap_or(i64::MIN),
            );
            if latest.as_ref().is_none_or(|(best, ..)| order > *best) {
                latest = Some((order, batch, row));
            }
        }
    }
    let Some((_, batch, row)) = latest else {
        return Ok(None);
    };
    Ok(rows::conversations(&[batch.slice(row, 1)])?.pop())
}

/// A session without a record: started at its first message, with that message's user and
/// channel, no end and no rating.
fn derive(messages: &[MessageRow]) -> Option<ConversationRow> {
    let first = messages.first()?;
    let last = messages.last()?;
    let mut flows: Vec<String> = Vec::new();
    for flow in messages.iter().filter_map(|m| m.flow.clone()) {
        if flows.last() != Some(&flow) {
            flows.push(flow);
        }
    }
    let mut tags: Vec<String> = Vec::new();
    for tag in messages.iter().flat_map(|m| m.tags.iter()) {
        if !tags.contains(tag) {
            tags.push(tag.clone());
        }
    }
    let sent_by = |sender: &str| messages.iter().filter(|m| m.sender == sender).count() as i64;
    Some(ConversationRow {
        session_code: first.session_code.clone(),
        user_id: first.user_id.clone(),
        business_key: first.business_key.clone(),
        channel_uuid: first.channel_uuid.clone(),
        started_at: first.sent_at,
        ended_at: None,
        updated_at: last.sent_at,
        satisfaction: None,
        flows,
        tags,
        user_messages: sent_by("USER"),
        bot_messages: sent_by("BOT"),
        duration_seconds: duration_seconds(first.sent_at, last.sent_at),
    })
}
