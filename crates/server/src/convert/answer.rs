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
    // From the request's arrival when the guard admitted it; the dashboard's own time otherwise.
    let (elapsed, waited) = crate::guard::ADMITTED
        .try_with(|admitted| {
            admitted.metrics.answer(match p.served_by {
                ServedBy::EventTables => "event_tables",
                ServedBy::Rollups => "rollups",
            });
            (admitted.arrived.elapsed(), admitted.waited)
        })
        .unwrap_or((p.elapsed, std::time::Duration::ZERO));
    Some(v1::Provenance {
        snapshot: p.snapshot,
        data_as_of: p.data_as_of.map(timestamp),
        served_by: match p.served_by {
            ServedBy::EventTables => v1::ServedBy::EventTables as i32,
            ServedBy::Rollups => v1::ServedBy::Rollups as i32,
        },
        rows_scanned: p.rows_scanned,
        bytes_scanned: p.bytes_scanned,
        elapsed: prost_types::Duration::try_from(elapsed).ok(),
        waited: prost_types::Duration::try_from(waited).ok(),
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

pub fn report(record: talkhouse_reports::ReportRecord) -> v1::Report {
    use talkhouse_core::report::{ReportKind, ReportStatus};
    v1::Report {
        report_id: record.id.to_string(),
        kind: match record.kind() {
            ReportKind::Conversations => v1::ReportKind::Conversations,
            ReportKind::Messages => v1::ReportKind::Messages,
            ReportKind::Transcript => v1::ReportKind::Transcript,
        } as i32,
        status: match record.status {
            ReportStatus::Pending => v1::ReportStatus::Pending,
            ReportStatus::Running => v1::ReportStatus::Running,
            ReportStatus::Ready => v1::ReportStatus::Ready,
            ReportStatus::Failed => v1::ReportStatus::Failed,
            ReportStatus::Expired => v1::ReportStatus::Expired,
        } as i32,
        export_type: export_type(record.export_type) as i32,
        parameters: record.parameters(),
        file_name: record.file_name(),
        requested_at: Some(timestamp(record.requested_at)),
        started_at: record.started_at.map(timestamp),
        finished_at: record.finished_at.map(timestamp),
        expires_at: record.expires_at.map(timestamp),
        row_count: record.row_count,
        byte_size: record.byte_size,
        error: record.error.unwrap_or_default(),
        snapshot: record.snapshot,
    }
}

pub fn export_type(export_type: talkhouse_core::report::ExportType) -> v1::ExportType {
    use talkhouse_core::report::ExportType;
    match export_type {
        ExportType::Csv => v1::ExportType::Csv,
        ExportType::Xlsx => v1::ExportType::Xlsx,
        ExportType::Jsonl => v1::ExportType::Jsonl,
        ExportType::Parquet => v1::ExportType::Parquet,
    }
}
