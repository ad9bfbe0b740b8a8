//! The JSON shapes of the REST answers: the gRPC answers' fields in the seed's camelCase, instants
//! in its `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`, enumerations by name.

use chrono::{DateTime, Utc};
use serde::Serialize;
use talkhouse_proto::v1;

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

#[derive(Serialize)]
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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Channel {
    uuid: String,
    name: String,
    r#type: String,
}

#[derive(Serialize)]
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

#[derive(Serialize)]
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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Overview {
    total: i64,
    previous_total: i64,
    increased: bool,
    increase_percentage: Option<f64>,
    compared_start: Option<String>,
    compared_end: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BreakdownItem {
    key: String,
    label: String,
    value: i64,
}

#[derive(Serialize)]
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

#[derive(Serialize)]
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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SeriesBucket {
    start: Option<String>,
    label: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Dataset {
    channel_uuid: String,
    channel_name: String,
    data: Vec<i64>,
}

#[derive(Serialize)]
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
