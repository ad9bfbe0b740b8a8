//! Dashboard requests as the domain sees them, and their validation (CONTRACT §3, §5, §6).
//!
//! The server converts each gRPC request into the plain `*Input` records here; [`Checker`] turns
//! them into validated values or names every wrong field by its path in the request
//! (`filter.start_date`, `bot.org_id`), so that one request reports all of its mistakes at once.

mod erasure;
mod filter;
mod search;

pub use erasure::{ErasureInput, PersonKey};
pub use filter::{Filter, FilterInput, TenantInput, check_zone};
pub use search::{
    ConfidenceRule, ConversationSort, MessageSort, NlpFilter, Order, Page, SearchBy, SearchTerm,
};

use crate::FieldViolation;

/// Deployment limits on requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most local days a window may hold, counting both ends.
    pub max_range_days: u64,
    pub default_page_size: u32,
    pub max_page_size: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_range_days: 366,
            default_page_size: 20,
            max_page_size: 100,
        }
    }
}

/// Most channel uuids or tags one filter may list.
pub const MAX_FILTER_ITEMS: usize = 1_000;

/// Collects the violations of one request.
#[derive(Debug, Default)]
pub struct Checker {
    violations: Vec<FieldViolation>,
}

impl Checker {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn violation(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.violations
            .push(FieldViolation::new(field, description));
    }

    pub fn is_empty(&self) -> bool {
        self.violations.is_empty()
    }

    /// `text` as a hyphenated UUID, or a violation on `field`.
    pub fn uuid(&mut self, field: &str, text: &str) -> Option<uuid::Uuid> {
        let parsed = crate::ingest::parse_uuid(text);
        if parsed.is_none() {
            self.violation(
                field,
                format!("must be a hyphenated UUID, got {:?}", filter::shorten(text)),
            );
        }
        parsed
    }

    /// `value` when no violation was recorded, every violation otherwise.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, Vec<FieldViolation>> {
        match value {
            Some(value) if self.violations.is_empty() => Ok(value),
            _ if self.violations.is_empty() => {
                Err(vec![FieldViolation::new("request", "is not valid")])
            }
            _ => Err(self.violations),
        }
    }
}

/// A page of the conversation list.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationSearch {
    pub filter: Filter,
    pub search: Option<SearchTerm>,
    pub sort: ConversationSort,
    pub order: Order,
    pub page: Page,
}

/// A page of the message list.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageSearch {
    pub filter: Filter,
    pub search: Option<SearchTerm>,
    pub nlp: NlpFilter,
    pub sort: MessageSort,
    pub order: Order,
    pub page: Page,
}

/// The conversations a report (or its preview) holds, before the cap.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConversationSelection {
    pub filter: Filter,
    pub search: Option<SearchTerm>,
    pub confidence: Option<ConfidenceRule>,
}

/// The messages a report (or its preview) holds, before the cap.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MessageSelection {
    pub filter: Filter,
    pub search: Option<SearchTerm>,
    pub nlp: NlpFilter,
    pub confidence: Option<ConfidenceRule>,
}

/// (current − previous) / previous × 100; absent when either is absent or previous is 0.
pub fn increase_percentage(current: Option<f64>, previous: Option<f64>) -> Option<f64> {
    match (current, previous) {
        (Some(current), Some(previous)) if previous != 0.0 => {
            Some((current - previous) / previous * 100.0)
        }
        _ => None,
    }
}

/// current > previous; false when either is absent.
pub fn increased(current: Option<f64>, previous: Option<f64>) -> bool {
    matches!((current, previous), (Some(c), Some(p)) if c > p)
}
