//! The JSON shapes of the REST answers: the gRPC answers' fields in the seed's camelCase, instants
//! in its `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`, enumerations by name.

use chrono::{DateTime, Utc};
use serde::Serialize;
use talkhouse_proto::v1;
use utoipa::ToSchema;

#[macro_use]
mod lists;
mod analytics;
mod reports;

pub(crate) use analytics::{Accuracy, Series, Traffic};
pub(crate) use lists::{Conversations, Messages, Transcript};
pub(crate) use reports::{Erasure, Report, ReportCreated, ReportPreview, Reports};

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
