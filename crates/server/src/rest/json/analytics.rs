//! Traffic boxes, accuracy and the stacked-line series.

use serde::Serialize;
use talkhouse_proto::v1;
use utoipa::ToSchema;

use super::{Provenance, instant, name};

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
