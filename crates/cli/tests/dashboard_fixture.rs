//! Every dashboard endpoint against the checked-in fixture, with answers worked out by hand:
//! `analytics` (summary, traffic, accuracy, series), `lists` (searches, transcripts, previews,
//! report configuration) and `paging` (a pinned snapshot while events arrive).
//!
//! Bot …01 of `tests/fixtures/small.jsonl` (UTC instants):
//! - session A, user u1, channel a1: record started 03-09 23:50, ended 03-10 00:10, rated 4,
//!   flows greeting → order-status, tag sales, 2 user messages; messages 01 (USER FOUND 95.5,
//!   03-09 23:50:00), 02 (BOT 23:50:05), 03 (USER NONE 30, 03-10 00:05:00), 04 (BOT 00:05:02).
//! - session B, user u2, channel a2: record started 03-10 14:00, open, last updated 14:02,
//!   flows greeting → billing, untagged, 2 user messages; messages 05 (USER IMAGE 14:00:00),
//!   06 (BOT 14:00:03), 07 (USER FOUND 88, 14:01:00; its copy is a duplicate).
//! - session C, user u1, channel a3: no record; message 08 (USER NONE 12, 03-11 08:00,
//!   tags support, vip).
//!
//! Bot …02 has session A with user u9 on 03-10.

use talkhouse_proto::v1;

use crate::support::{Clients, RunningServer, bot_ref, with_fixture};

const ORG: &str = "0a000000-0000-4000-8000-000000000001";
const ENV: &str = "0e000000-0000-4000-8000-000000000001";
const BOT1: &str = "0b000000-0000-4000-8000-000000000001";
const BOT2: &str = "0b000000-0000-4000-8000-000000000002";
const A1: &str = "c0000000-0000-4000-8000-0000000000a1";
const A2: &str = "c0000000-0000-4000-8000-0000000000a2";
const A3: &str = "c0000000-0000-4000-8000-0000000000a3";

fn request(filter: v1::Filter) -> v1::AnalyticsRequest {
    v1::AnalyticsRequest {
        bot: bot_ref(ORG, ENV, BOT1),
        filter: Some(filter),
    }
}

fn message_ids(content: &[v1::MessageSummary]) -> Vec<String> {
    content
        .iter()
        .map(|m| m.message_id[m.message_id.len() - 2..].to_string())
        .collect()
}

fn sessions(content: &[v1::ConversationSummary]) -> Vec<&str> {
    content.iter().map(|c| c.session_code.as_str()).collect()
}

mod analytics;
mod lists;
mod paging;

/// A server over the fixture and its clients.
async fn serve_fixture() -> (crate::support::DataDir, RunningServer, Clients) {
    let data = with_fixture();
    let server = RunningServer::start(data.table().await).await;
    let c = Clients::connect(&server).await;
    (data, server, c)
}
