//! The domain of talkhouse: what a message and a conversation are, how an ingest line is read and
//! validated, how requests and time windows are checked, what a token's grant allows, and how the
//! demo dataset is generated.
//!
//! This crate does no IO and knows nothing of Arrow, DataFusion, prost or tonic; every other crate
//! depends on it, it depends on none of them.

pub mod access;
pub mod event;
pub mod generate;
pub mod ingest;
pub mod instant;
pub mod latest;
pub mod measure;
pub mod report;
pub mod request;
pub mod retention;
pub mod window;

#[cfg(test)]
mod fuzz_tests;

pub use event::{
    ContentType, Conversation, Event, Message, NlpResponse, NlpResponseType, Sender, Tenant,
};
pub use ingest::{BatchError, EventInput, FieldViolation, LineViolation};
