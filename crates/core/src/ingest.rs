//! Reading and validating ingest batches.
//!
//! Both surfaces, JSONL files and gRPC `WriteEvents`, produce [`EventInput`]s: loosely typed
//! records that hold what the client sent. [`validate`] turns one into an [`Event`] or names every
//! field that is wrong. A batch is accepted whole or rejected whole with a [`BatchError`].

mod input;
mod jsonl;
mod validate;

pub use input::{ConversationInput, EventInput, InstantInput, MessageInput};
pub use jsonl::{parse_jsonl, parse_jsonl_line, to_jsonl_line};
pub use validate::{
    MAX_NAME_CHARS, MAX_SESSION_CODE_CHARS, MAX_TAGS, MAX_TEXT_CHARS, parse_uuid, validate,
};

use crate::event::Event;

/// What is wrong with one field of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field as named in the ingest format (`sent_at`, `tags[2]`).
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// A field violation placed in its batch: the 1-based line of a file, or the 1-based position of
/// an event in a gRPC batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineViolation {
    pub line: usize,
    pub violation: FieldViolation,
}

impl std::fmt::Display for LineViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, field {}: {}",
            self.line, self.violation.field, self.violation.description
        )
    }
}

/// Most violations reported for one batch; the rest are summarised.
pub const MAX_REPORTED_VIOLATIONS: usize = 100;

/// Why a batch was rejected: every violation found, up to [`MAX_REPORTED_VIOLATIONS`].
#[derive(Debug, Clone, PartialEq, Eq, Default, thiserror::Error)]
pub struct BatchError {
    pub violations: Vec<LineViolation>,
    /// Violations found beyond those listed.
    pub more: usize,
}

impl std::fmt::Display for BatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "batch rejected, nothing stored")?;
        for violation in &self.violations {
            write!(f, "\n  {violation}")?;
        }
        if self.more > 0 {
            write!(f, "\n  … and {} more", self.more)?;
        }
        Ok(())
    }
}

/// Collects violations over a batch, keeping the first [`MAX_REPORTED_VIOLATIONS`].
#[derive(Debug, Default)]
pub struct ViolationCollector {
    error: BatchError,
}

impl ViolationCollector {
    pub fn add(&mut self, line: usize, violations: Vec<FieldViolation>) {
        for violation in violations {
            if self.error.violations.len() < MAX_REPORTED_VIOLATIONS {
                self.error
                    .violations
                    .push(LineViolation { line, violation });
            } else {
                self.error.more += 1;
            }
        }
    }

    pub fn merge(&mut self, other: BatchError) {
        for v in other.violations {
            self.add(v.line, vec![v.violation]);
        }
        self.error.more += other.more;
    }

    pub fn is_empty(&self) -> bool {
        self.error.violations.is_empty()
    }

    pub fn finish(self) -> Result<(), BatchError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.error)
        }
    }
}

/// Validates a whole batch of inputs; `Ok` only when every one is valid.
pub fn validate_batch(inputs: Vec<EventInput<'_>>) -> Result<Vec<Event>, BatchError> {
    let mut events = Vec::with_capacity(inputs.len());
    let mut collector = ViolationCollector::default();
    for (index, input) in inputs.into_iter().enumerate() {
        match validate(input) {
            Ok(event) => events.push(event),
            Err(violations) => collector.add(index + 1, violations),
        }
    }
    collector.finish().map(|()| events)
}
