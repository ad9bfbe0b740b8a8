//! Paging, searching and sorting of the conversation and message lists.

use super::{Checker, Limits};
use crate::NlpResponse;
use crate::request::filter::shorten;

/// A 1-based page of `size` items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub number: u32,
    pub size: u32,
}

impl Page {
    /// `page` defaults to 1 and `size` to the deployment's default; both are bounded.
    pub fn check(
        page: Option<i32>,
        size: Option<i32>,
        default_size: u32,
        max_size: u32,
        checker: &mut Checker,
    ) -> Option<Page> {
        let number = match page {
            None => Some(1),
            Some(page) if page >= 1 => Some(page as u32),
            Some(page) => {
                checker.violation("page", format!("must be 1 or more, got {page}"));
                None
            }
        };
        let size = match size {
            None => Some(default_size),
            Some(size) if size >= 1 && size as u32 <= max_size => Some(size as u32),
            Some(size) => {
                checker.violation("size", format!("must be 1..{max_size}, got {size}"));
                None
            }
        };
        Some(Page {
            number: number?,
            size: size?,
        })
    }

    /// The page of a search, bounded by the deployment's limits.
    pub fn check_search(
        page: Option<i32>,
        size: Option<i32>,
        limits: &Limits,
        checker: &mut Checker,
    ) -> Option<Page> {
        Self::check(
            page,
            size,
            limits.default_page_size,
            limits.max_page_size,
            checker,
        )
    }

    /// Items before this page.
    pub fn offset(&self) -> u64 {
        u64::from(self.number - 1) * u64::from(self.size)
    }

    /// Pages needed for `total` items.
    pub fn count_for(&self, total: u64) -> u64 {
        total.div_ceil(u64::from(self.size))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SearchBy {
    SessionCode,
    BusinessKey,
    /// A conversation that travelled the flow; a message handled by it.
    Flow,
}

/// An exact-match search.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SearchTerm {
    pub by: SearchBy,
    pub term: String,
}

impl SearchTerm {
    /// Both or neither of `by` and `term` must be given.
    pub fn check(
        by: Option<SearchBy>,
        term: &str,
        by_field: &str,
        term_field: &str,
        checker: &mut Checker,
    ) -> Option<Option<SearchTerm>> {
        let chars = term.chars().count();
        match by {
            _ if chars > crate::ingest::MAX_NAME_CHARS => {
                checker.violation(
                    term_field,
                    format!("at most {} characters", crate::ingest::MAX_NAME_CHARS),
                );
                None
            }
            None if term.is_empty() => Some(None),
            None => {
                checker.violation(
                    by_field,
                    format!("is required with {term_field} {:?}", shorten(term)),
                );
                None
            }
            Some(_) if term.is_empty() => {
                checker.violation(
                    term_field,
                    format!("must not be empty when {by_field} is set"),
                );
                None
            }
            Some(by) => Some(Some(SearchTerm {
                by,
                term: term.to_string(),
            })),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ConversationSort {
    #[default]
    StartedAt,
    Satisfaction,
    UserMessages,
    FlowsTravelled,
    Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MessageSort {
    #[default]
    SentAt,
    Confidence,
    ConversationStartedAt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Order {
    Asc,
    #[default]
    Desc,
}

/// Which evaluated messages a message search keeps; `Any` when empty or holding ALL.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NlpFilter {
    #[default]
    Any,
    OneOf(Vec<NlpResponse>),
}

/// Items with an evaluated user message whose confidence is at least `threshold`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConfidenceRule {
    pub threshold: f64,
}

impl ConfidenceRule {
    /// No rule without `min_confidence`; `min_confidence` must be 0..100 and `error_margin` ≥ 0.
    pub fn check(
        min_confidence: Option<f64>,
        error_margin: Option<f64>,
        checker: &mut Checker,
    ) -> Option<Option<ConfidenceRule>> {
        let margin = match error_margin {
            None => Some(0.0),
            Some(m) if m.is_finite() && m >= 0.0 => Some(m),
            Some(m) => {
                checker.violation("error_margin", format!("must be 0 or more, got {m}"));
                None
            }
        };
        match min_confidence {
            None => margin.map(|_| None),
            Some(c) if c.is_finite() && (0.0..=100.0).contains(&c) => Some(Some(ConfidenceRule {
                threshold: c - margin?,
            })),
            Some(c) => {
                checker.violation("min_confidence", format!("must be 0..100, got {c}"));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_default_and_bound() {
        let limits = Limits::default();
        let mut checker = Checker::new();
        assert_eq!(
            Page::check_search(None, None, &limits, &mut checker),
            Some(Page {
                number: 1,
                size: 20
            })
        );
        assert_eq!(
            Page::check_search(Some(0), Some(101), &limits, &mut checker),
            None
        );
        let fields: Vec<String> = checker
            .finish(Some(()))
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["page", "size"]);
        let page = Page {
            number: 3,
            size: 20,
        };
        assert_eq!(page.offset(), 40);
        assert_eq!(page.count_for(41), 3);
        assert_eq!(page.count_for(0), 0);
    }

    #[test]
    fn a_search_needs_both_field_and_term() {
        let mut checker = Checker::new();
        assert_eq!(
            SearchTerm::check(None, "", "search_by", "search_term", &mut checker),
            Some(None)
        );
        assert!(
            SearchTerm::check(
                Some(SearchBy::Flow),
                "",
                "search_by",
                "search_term",
                &mut checker
            )
            .is_none()
        );
        assert!(SearchTerm::check(None, "x", "search_by", "search_term", &mut checker).is_none());
        let fields: Vec<String> = checker
            .finish(Some(()))
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["search_term", "search_by"]);
    }

    #[test]
    fn the_confidence_rule_subtracts_the_margin() {
        let mut checker = Checker::new();
        assert_eq!(
            ConfidenceRule::check(Some(80.0), Some(5.0), &mut checker),
            Some(Some(ConfidenceRule { threshold: 75.0 }))
        );
        assert_eq!(ConfidenceRule::check(None, None, &mut checker), Some(None));
        assert!(ConfidenceRule::check(Some(101.0), Some(-1.0), &mut checker).is_none());
        assert_eq!(checker.finish(Some(())).unwrap_err().len(), 2);
    }
}
