//! Reports through the real server: every kind in every format read back and compared row by row
//! with the search answers; previews against row counts; the random sample recomputed and tested
//! for uniformity; formula injection; restarts while reports run; expiry; the command line.
//!
//! `fixtures` builds the data and servers, `client` requests, polls and downloads reports,
//! `files` reads report files back and `expected` turns search answers into the rows a report
//! must hold. The tests: `contents` (what a report holds) and `lifecycle` (restarts, expiry,
//! listing, the command line).

pub(crate) mod client;
mod contents;
mod expected;
mod files;
pub(crate) mod fixtures;
mod lifecycle;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use talkhouse_core::Event;
use talkhouse_core::generate::{GenerateConfig, Generator};
use talkhouse_core::report::{ExportType, ReportPolicy, RulesOverride, sample_rank, sample_seed};
use talkhouse_proto::v1;
use talkhouse_reports::ReportStore;
use talkhouse_server::{Authentication, ReportSettings, ServerConfig};
use talkhouse_storage::EventTable;
use tonic::Code;

use self::client::*;
use self::expected::*;
use self::files::{Row, read_rows};
use self::fixtures::*;
use crate::support::{
    BOT, Clients, DataDir, ENV, ORG, OTHER_BOT, RunningServer, bot_ref, conversation, jsonl,
    message, run_ok, talkhouse,
};
