//! The request filter as DataFusion expressions over the `messages` and `conversations` views.

use chrono::{DateTime, Datelike, Utc};
use datafusion::functions_nested::expr_fn::{array_has, array_has_any, cardinality, make_array};
use datafusion::prelude::{Expr, col, lit};
use datafusion::scalar::ScalarValue;
use talkhouse_core::Tenant;
use talkhouse_core::request::{Filter, SearchBy, SearchTerm};
use talkhouse_core::window::{Classifier, InstantRange};

use super::classify::classify;

/// The rows of one bot: org, env and bot must all match.
pub fn tenant(tenant: &Tenant) -> Expr {
    col("org_id")
        .eq(lit(tenant.org_id.to_string()))
        .and(col("env_id").eq(lit(tenant.env_id.to_string())))
        .and(col("bot_id").eq(lit(tenant.bot_id.to_string())))
}

pub fn instant(micros: i64) -> Expr {
    lit(ScalarValue::TimestampMicrosecond(
        Some(micros),
        Some("UTC".into()),
    ))
}

/// `column` within the classifier's bounds (prunes files by statistics) and labelled by it.
/// False when the classifier is empty.
pub fn within(classifier: &Classifier, column: &str) -> Expr {
    match classifier.bounds() {
        None => lit(false),
        Some(bounds) => col(column)
            .gt_eq(instant(bounds.start))
            .and(col(column).lt(instant(bounds.end)))
            .and(classify(classifier.clone(), col(column)).is_not_null()),
    }
}

/// The `month` partitions (UTC `YYYY-MM`) a range of instants touches.
pub fn months(range: InstantRange) -> Expr {
    let month_of = |micros: i64| {
        let t: DateTime<Utc> = DateTime::from_timestamp_micros(micros).unwrap_or_default();
        t.year() * 12 + t.month0() as i32
    };
    let (first, last) = (month_of(range.start), month_of(range.end - 1));
    let names: Vec<Expr> = (first..=last)
        .map(|m| {
            lit(format!(
                "{:04}-{:02}",
                m.div_euclid(12),
                m.rem_euclid(12) + 1
            ))
        })
        .collect();
    col("month").in_list(names, false)
}

/// The channel condition of the filter (true when it names none).
pub fn channels(filter: &Filter) -> Expr {
    if filter.channels.is_empty() {
        return lit(true);
    }
    let channels = filter.channels.iter().map(|c| lit(c.to_string())).collect();
    col("channel_uuid").in_list(channels, false)
}

/// Channel and tag conditions of the filter, on the item's own fields.
pub fn channels_and_tags(filter: &Filter) -> Expr {
    let mut predicate = channels(filter);
    if !filter.tags.is_empty() {
        let tags = filter.tags.iter().map(|t| lit(t.clone())).collect();
        predicate = predicate.and(array_has_any(col("tags"), make_array(tags)));
    }
    if filter.untagged {
        predicate = predicate.and(cardinality(col("tags")).eq(lit(0u64)));
    }
    predicate
}

/// An exact-match search on a conversation record.
pub fn conversation_search(term: &SearchTerm) -> Expr {
    match term.by {
        SearchBy::SessionCode => col("session_code").eq(lit(term.term.clone())),
        SearchBy::BusinessKey => col("business_key").eq(lit(term.term.clone())),
        SearchBy::Flow => array_has(col("flows"), lit(term.term.clone())),
    }
}

/// An exact-match search on a message's own fields.
pub fn message_search(term: &SearchTerm) -> Expr {
    let column = match term.by {
        SearchBy::SessionCode => "session_code",
        SearchBy::BusinessKey => "business_key",
        SearchBy::Flow => "flow",
    };
    col(column).eq(lit(term.term.clone()))
}

/// An evaluated user message: the inputs of accuracy and of the confidence rule.
pub fn evaluated_user_message() -> Expr {
    col("sender")
        .eq(lit("USER"))
        .and(col("nlp_response").is_not_null())
}
