//! Domain answers to proto responses.

use chrono::{DateTime, Utc};
use talkhouse_core::window::{Granularity, Zone};
use talkhouse_proto::v1;
use talkhouse_query::dashboard::{
    Answer, BreakdownItem, ConversationRow, MessageRow, Overview, PageOf, Provenance, ServedBy,
};

pub fn timestamp(instant: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: instant.timestamp(),
        nanos: instant.timestamp_subsec_nanos() as i32,
    }
}

pub fn provenance<T>(answer: &Answer<T>) -> Option<v1::Provenance> {
    let p: &Provenance = &answer.provenance;
    Some(v1::Provenance {
        snapshot: p.snapshot,
        data_as_of: p.data_as_of.map(timestamp),
        served_by: match p.served_by {
            ServedBy::EventTables => v1::ServedBy::EventTables as i32,
        },
        rows_scanned: p.rows_scanned,
        bytes_scanned: p.bytes_scanned,
        elapsed: prost_types::Duration::try_from(p.elapsed).ok(),
    })
}

pub fn overview(overview: &Overview) -> v1::Overview {
    v1::Overview {
        total: overview.total,
        previous_total: overview.previous_total,
        increased: overview.increased(),
        increase_percentage: overview.increase_percentage(),
        compared_start: Some(timestamp(overview.compared_start)),
        compared_end: Some(timestamp(overview.compared_end)),
    }
}

pub fn breakdown(items: &[BreakdownItem]) -> Vec<v1::BreakdownItem> {
    items
        .iter()
        .map(|item| v1::BreakdownItem {
            key: item.key.clone(),
            label: item.label.clone(),
            value: item.value,
        })
        .collect()
}

pub fn granularity(granularity: Granularity) -> v1::Granularity {
    match granularity {
        Granularity::Hour => v1::Granularity::Hour,
        Granularity::Day => v1::Granularity::Day,
        Granularity::Week => v1::Granularity::Week,
        Granularity::Month => v1::Granularity::Month,
    }
}

pub fn page_info<T>(page: &PageOf<T>) -> v1::PageInfo {
    v1::PageInfo {
        page: page.page.number,
        size: page.page.size,
        total_elements: page.total,
        total_pages: page.page.count_for(page.total),
    }
}

pub fn conversation(row: ConversationRow, zone: Zone) -> v1::ConversationSummary {
    v1::ConversationSummary {
        started_at_local: zone.rfc3339(row.started_at.timestamp_micros()),
        flows_travelled: row.flows.len() as i64,
        session_code: row.session_code,
        user_id: row.user_id,
        business_key: row.business_key,
        channel_uuid: row.channel_uuid,
        started_at: Some(timestamp(row.started_at)),
        ended_at: row.ended_at.map(timestamp),
        updated_at: Some(timestamp(row.updated_at)),
        satisfaction: row.satisfaction.map(|s| s as i32),
        flows: row.flows,
        tags: row.tags,
        user_messages: row.user_messages,
        bot_messages: row.bot_messages,
        duration_seconds: row.duration_seconds,
    }
}

pub fn message(row: MessageRow, zone: Zone) -> v1::MessageSummary {
    v1::MessageSummary {
        sent_at_local: zone.rfc3339(row.sent_at.timestamp_micros()),
        message_id: row.message_id,
        session_code: row.session_code,
        user_id: row.user_id,
        business_key: row.business_key,
        channel_uuid: row.channel_uuid,
        channel_name: row.channel_name,
        sent_at: Some(timestamp(row.sent_at)),
        sender: row.sender,
        content_type: row.content_type,
        text: row.text,
        nlp_response: row.nlp_response,
        nlp_response_type: row.nlp_response_type,
        nlp_response_name: row.nlp_response_name,
        confidence: row.confidence,
        answer_name: row.answer_name,
        answer_text: row.answer_text,
        flow: row.flow,
        tags: row.tags,
    }
}
