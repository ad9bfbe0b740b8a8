//! The JSON shapes of the REST answers: the gRPC answers' fields in the seed's camelCase, instants
//! in its `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`, enumerations by name.

use chrono::{DateTime, Utc};
use serde::Serialize;
use talkhouse_proto::v1;
use utoipa::ToSchema;

/// An instant as the seed writes it: UTC, milliseconds, `Z`.
pub(crate) fn instant(timestamp: Option<prost_types::Timestamp>) -> Option<String> {
    let timestamp = timestamp?;
    let instant = DateTime::<Utc>::from_timestamp(timestamp.seconds, timestamp.nanos as u32)?;
    Some(instant.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

/// An enumeration value's name without its type's prefix: `RESOURCE_USERS` → `USERS`.
fn name(full: &str, prefix: &str) -> String {
    full.strip_prefix(prefix).unwrap_or(full).to_string()
}

fn millis(duration: Option<prost_types::Duration>) -> f64 {
    duration.map_or(0.0, |d| {
        d.seconds as f64 * 1000.0 + f64::from(d.nanos) / 1e6
    })
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Provenance {
    snapshot: u64,
    data_as_of: Option<String>,
    served_by: String,
    rows_scanned: u64,
    bytes_scanned: u64,
    elapsed_ms: f64,
    waited_ms: f64,
}

impl From<Option<v1::Provenance>> for Provenance {
    fn from(provenance: Option<v1::Provenance>) -> Self {
        let p = provenance.unwrap_or_default();
        Self {
            snapshot: p.snapshot,
            data_as_of: instant(p.data_as_of),
            served_by: name(p.served_by().as_str_name(), "SERVED_BY_"),
            rows_scanned: p.rows_scanned,
            bytes_scanned: p.bytes_scanned,
            elapsed_ms: millis(p.elapsed),
            waited_ms: millis(p.waited),
        }
    }
}

/// A bot, by the ids its paths take.
#[derive(Serialize, ToSchema)]
pub(crate) struct Bot {
    #[serde(rename = "orgUUID")]
    org_uuid: String,
    #[serde(rename = "envUUID")]
    env_uuid: String,
    #[serde(rename = "botUUID")]
    bot_uuid: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Bots {
    bots: Vec<Bot>,
}

impl From<v1::ListBotsResponse> for Bots {
    fn from(list: v1::ListBotsResponse) -> Self {
        Self {
            bots: list
                .bots
                .into_iter()
                .map(|bot| Bot {
                    org_uuid: bot.org_id,
                    env_uuid: bot.env_id,
                    bot_uuid: bot.bot_id,
                })
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Channel {
    uuid: String,
    name: String,
    r#type: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Summary {
    has_data: bool,
    first_data_set: Option<String>,
    last_data_set: Option<String>,
    channels: Vec<Channel>,
    provenance: Provenance,
}

impl From<v1::GetSummaryResponse> for Summary {
    fn from(s: v1::GetSummaryResponse) -> Self {
        Self {
            has_data: s.has_data,
            first_data_set: instant(s.first_data_set),
            last_data_set: instant(s.last_data_set),
            channels: s
                .channels
                .into_iter()
                .map(|c| Channel {
                    uuid: c.uuid,
                    name: c.name,
                    r#type: c.r#type,
                })
                .collect(),
            provenance: s.provenance.into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReportConfig {
    max_sample: u64,
    available_export_types: Vec<String>,
}

impl From<v1::ReportConfig> for ReportConfig {
    fn from(c: v1::ReportConfig) -> Self {
        Self {
            max_sample: c.max_sample,
            available_export_types: c
                .available_export_types()
                .map(|t| name(t.as_str_name(), "EXPORT_TYPE_"))
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Overview {
    total: i64,
    previous_total: i64,
    increased: bool,
    increase_percentage: Option<f64>,
    compared_start: Option<String>,
    compared_end: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BreakdownItem {
    key: String,
    label: String,
    value: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Traffic {
    resource: String,
    overview: Overview,
    breakdown: Vec<BreakdownItem>,
    provenance: Provenance,
}

impl From<v1::TrafficResponse> for Traffic {
    fn from(t: v1::TrafficResponse) -> Self {
        let o = t.overview.unwrap_or_default();
        Self {
            resource: name(t.resource().as_str_name(), "RESOURCE_"),
            overview: Overview {
                total: o.total,
                previous_total: o.previous_total,
                increased: o.increased,
                increase_percentage: o.increase_percentage,
                compared_start: instant(o.compared_start),
                compared_end: instant(o.compared_end),
            },
            breakdown: t
                .breakdown
                .into_iter()
                .map(|b| BreakdownItem {
                    key: b.key,
                    label: b.label,
                    value: b.value,
                })
                .collect(),
            provenance: t.provenance.into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Accuracy {
    accuracy: Option<f64>,
    previous_accuracy: Option<f64>,
    increased: bool,
    increase_percentage: Option<f64>,
    compared_start: Option<String>,
    compared_end: Option<String>,
    found: i64,
    not_found: i64,
    previous_found: i64,
    previous_not_found: i64,
    provenance: Provenance,
}

impl From<v1::AccuracyResponse> for Accuracy {
    fn from(a: v1::AccuracyResponse) -> Self {
        Self {
            accuracy: a.accuracy,
            previous_accuracy: a.previous_accuracy,
            increased: a.increased,
            increase_percentage: a.increase_percentage,
            compared_start: instant(a.compared_start),
            compared_end: instant(a.compared_end),
            found: a.found,
            not_found: a.not_found,
            previous_found: a.previous_found,
            previous_not_found: a.previous_not_found,
            provenance: a.provenance.into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SeriesBucket {
    start: Option<String>,
    label: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Dataset {
    channel_uuid: String,
    channel_name: String,
    data: Vec<i64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Series {
    resource: String,
    granularity: String,
    buckets: Vec<SeriesBucket>,
    datasets: Vec<Dataset>,
    provenance: Provenance,
}

impl From<v1::SeriesResponse> for Series {
    fn from(s: v1::SeriesResponse) -> Self {
        Self {
            resource: name(s.resource().as_str_name(), "RESOURCE_"),
            granularity: name(s.granularity().as_str_name(), "GRANULARITY_"),
            buckets: s
                .buckets
                .into_iter()
                .map(|b| SeriesBucket {
                    start: instant(b.start),
                    label: b.label,
                })
                .collect(),
            datasets: s
                .datasets
                .into_iter()
                .map(|d| Dataset {
                    channel_uuid: d.channel_uuid,
                    channel_name: d.channel_name,
                    data: d.data,
                })
                .collect(),
            provenance: s.provenance.into(),
        }
    }
}

/// A page as the platform's sibling APIs (Spring) give it; `number` counts from 0 as Spring's
/// does, while the request's `page` counts from 1. One type per item, so that each has a schema of
/// its own name.
macro_rules! page {
    ($page:ident of $item:ty) => {
        #[derive(Serialize, ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub(crate) struct $page {
            content: Vec<$item>,
            total_elements: u64,
            total_pages: u64,
            number: u32,
            size: u32,
            first: bool,
            last: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            provenance: Option<Provenance>,
        }

        impl $page {
            fn new(
                content: Vec<$item>,
                page: Option<v1::PageInfo>,
                provenance: Option<Provenance>,
            ) -> Self {
                let page = page.unwrap_or_default();
                let number = page.page.saturating_sub(1);
                Self {
                    content,
                    total_elements: page.total_elements,
                    total_pages: page.total_pages,
                    number,
                    size: page.size,
                    first: number == 0,
                    last: u64::from(page.page) >= page.total_pages,
                    provenance,
                }
            }
        }
    };
}

page!(Conversations of Conversation);
page!(Messages of Message);
page!(Reports of Report);

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Conversation {
    session_code: String,
    user_id: String,
    business_key: Option<String>,
    channel_uuid: String,
    started_at: Option<String>,
    ended_at: Option<String>,
    updated_at: Option<String>,
    satisfaction: Option<i32>,
    flows: Vec<String>,
    flows_travelled: i64,
    tags: Vec<String>,
    user_messages: i64,
    bot_messages: i64,
    duration_seconds: f64,
    started_at_local: String,
}

impl From<v1::ConversationSummary> for Conversation {
    fn from(c: v1::ConversationSummary) -> Self {
        Self {
            session_code: c.session_code,
            user_id: c.user_id,
            business_key: c.business_key,
            channel_uuid: c.channel_uuid,
            started_at: instant(c.started_at),
            ended_at: instant(c.ended_at),
            updated_at: instant(c.updated_at),
            satisfaction: c.satisfaction,
            flows: c.flows,
            flows_travelled: c.flows_travelled,
            tags: c.tags,
            user_messages: c.user_messages,
            bot_messages: c.bot_messages,
            duration_seconds: c.duration_seconds,
            started_at_local: c.started_at_local,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Message {
    message_id: String,
    session_code: String,
    user_id: String,
    business_key: Option<String>,
    channel_uuid: String,
    channel_name: Option<String>,
    sent_at: Option<String>,
    sent_at_local: String,
    sender: String,
    content_type: String,
    text: String,
    nlp_response: Option<String>,
    nlp_response_type: Option<String>,
    nlp_response_name: Option<String>,
    confidence: Option<f64>,
    answer_name: Option<String>,
    answer_text: Option<String>,
    flow: Option<String>,
    tags: Vec<String>,
}

impl From<v1::MessageSummary> for Message {
    fn from(m: v1::MessageSummary) -> Self {
        Self {
            message_id: m.message_id,
            session_code: m.session_code,
            user_id: m.user_id,
            business_key: m.business_key,
            channel_uuid: m.channel_uuid,
            channel_name: m.channel_name,
            sent_at: instant(m.sent_at),
            sent_at_local: m.sent_at_local,
            sender: m.sender,
            content_type: m.content_type,
            text: m.text,
            nlp_response: m.nlp_response,
            nlp_response_type: m.nlp_response_type,
            nlp_response_name: m.nlp_response_name,
            confidence: m.confidence,
            answer_name: m.answer_name,
            answer_text: m.answer_text,
            flow: m.flow,
            tags: m.tags,
        }
    }
}

impl From<v1::SearchConversationsResponse> for Conversations {
    fn from(r: v1::SearchConversationsResponse) -> Self {
        let content = r.content.into_iter().map(Conversation::from).collect();
        Self::new(content, r.page, Some(r.provenance.into()))
    }
}

impl From<v1::SearchMessagesResponse> for Messages {
    fn from(r: v1::SearchMessagesResponse) -> Self {
        let content = r.content.into_iter().map(Message::from).collect();
        Self::new(content, r.page, Some(r.provenance.into()))
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Transcript {
    conversation: Option<Conversation>,
    /// True when the conversation record is derived from the messages (none was stored).
    derived: bool,
    messages: Vec<Message>,
    provenance: Provenance,
}

impl From<v1::GetConversationResponse> for Transcript {
    fn from(t: v1::GetConversationResponse) -> Self {
        Self {
            conversation: t.conversation.map(Conversation::from),
            derived: t.derived,
            messages: t.messages.into_iter().map(Message::from).collect(),
            provenance: t.provenance.into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Report {
    report_id: String,
    kind: String,
    status: String,
    export_type: String,
    /// The request's parameters, as JSON.
    #[schema(value_type = Object)]
    parameters: serde_json::Value,
    requested_at: Option<String>,
    started_at: Option<String>,
    finished_at: Option<String>,
    expires_at: Option<String>,
    row_count: u64,
    byte_size: u64,
    error: Option<String>,
    snapshot: u64,
    file_name: String,
}

impl From<v1::Report> for Report {
    fn from(r: v1::Report) -> Self {
        Self {
            kind: name(r.kind().as_str_name(), "REPORT_KIND_"),
            status: name(r.status().as_str_name(), "REPORT_STATUS_"),
            export_type: name(r.export_type().as_str_name(), "EXPORT_TYPE_"),
            parameters: serde_json::from_str(&r.parameters).unwrap_or(serde_json::Value::Null),
            requested_at: instant(r.requested_at),
            started_at: instant(r.started_at),
            finished_at: instant(r.finished_at),
            expires_at: instant(r.expires_at),
            row_count: r.row_count,
            byte_size: r.byte_size,
            error: Some(r.error).filter(|e| !e.is_empty()),
            snapshot: r.snapshot,
            file_name: r.file_name,
            report_id: r.report_id,
        }
    }
}

impl From<v1::ListReportsResponse> for Reports {
    fn from(r: v1::ListReportsResponse) -> Self {
        let content = r.content.into_iter().map(Report::from).collect();
        Self::new(content, r.page, None)
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReportCreated {
    report_id: String,
}

impl From<v1::ReportCreated> for ReportCreated {
    fn from(r: v1::ReportCreated) -> Self {
        Self {
            report_id: r.report_id,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReportPreview {
    estimate: i64,
    provenance: Provenance,
}

impl From<v1::ReportPreview> for ReportPreview {
    fn from(r: v1::ReportPreview) -> Self {
        Self {
            estimate: r.estimate,
            provenance: r.provenance.into(),
        }
    }
}
