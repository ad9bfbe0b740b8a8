//! Dashboard requests as the domain sees them, and their validation (CONTRACT §3, §5, §6).
//!
//! The server converts each gRPC request into the plain `*Input` records here; [`Checker`] turns
//! them into validated values or names every wrong field by its path in the request
//! (`filter.start_date`, `bot.org_id`), so that one request reports all of its mistakes at once.

mod filter;
mod search;

pub use filter::{Filter, FilterInput, TenantInput};
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
