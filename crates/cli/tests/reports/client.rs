//! Requesting, polling and downloading reports, and reading every page of a search.

use super::*;

/// Polls until the report is READY; panics when it FAILED.
pub(crate) async fn ready(c: &mut Clients, bot: &Option<v1::BotRef>, id: &str) -> v1::Report {
    for _ in 0..1200 {
        let report = get(c, bot, id).await;
        match v1::ReportStatus::try_from(report.status).unwrap() {
            v1::ReportStatus::Ready => return report,
            v1::ReportStatus::Failed => panic!("report {id} failed: {}", report.error),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("report {id} did not finish within a minute");
}

pub(crate) async fn get(c: &mut Clients, bot: &Option<v1::BotRef>, id: &str) -> v1::Report {
    c.reports
        .get_report(v1::GetReportRequest {
            bot: bot.clone(),
            report_id: id.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// Why the server refuses to start the download.
pub(super) async fn download_refused(
    c: &mut Clients,
    bot: &Option<v1::BotRef>,
    id: &str,
) -> tonic::Status {
    c.reports
        .download_report(v1::GetReportRequest {
            bot: bot.clone(),
            report_id: id.into(),
        })
        .await
        .expect_err("the download is refused")
}

/// The whole file; every chunk is at most 64 KiB.
pub(crate) async fn download(c: &mut Clients, bot: &Option<v1::BotRef>, id: &str) -> Vec<u8> {
    let mut stream = c
        .reports
        .download_report(v1::GetReportRequest {
            bot: bot.clone(),
            report_id: id.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.message().await.unwrap() {
        assert!(
            chunk.data.len() <= 64 * 1024,
            "a chunk of {}",
            chunk.data.len()
        );
        bytes.extend_from_slice(&chunk.data);
    }
    bytes
}

pub(crate) async fn request_conversations(
    c: &mut Clients,
    request: v1::ConversationsReportRequest,
) -> String {
    c.conversations
        .request_conversations_report(request)
        .await
        .unwrap()
        .into_inner()
        .report_id
}

pub(crate) async fn request_messages(
    c: &mut Clients,
    request: v1::MessagesReportRequest,
) -> String {
    c.messages
        .request_messages_report(request)
        .await
        .unwrap()
        .into_inner()
        .report_id
}

/// The items of every page, from page 1 to the first empty one.
async fn every_page(mut page: impl AsyncFnMut(i32) -> Vec<Row>) -> Vec<Row> {
    let mut rows = Vec::new();
    for number in 1.. {
        let items = page(number).await;
        if items.is_empty() {
            break;
        }
        rows.extend(items);
    }
    rows
}

/// Every page of the conversation search, newest first.
pub(super) async fn searched_conversations(
    c: &mut Clients,
    bot: &Option<v1::BotRef>,
    filter: &Option<v1::Filter>,
) -> Vec<Row> {
    every_page(async |page| {
        let request = v1::SearchConversationsRequest {
            bot: bot.clone(),
            filter: filter.clone(),
            page: Some(page),
            size: Some(100),
            ..Default::default()
        };
        let answer = c.conversations.search_conversations(request).await.unwrap();
        answer
            .into_inner()
            .content
            .into_iter()
            .map(conversation_row)
            .collect()
    })
    .await
}

/// Every page of the message search, newest first.
pub(super) async fn searched_messages(
    c: &mut Clients,
    bot: &Option<v1::BotRef>,
    filter: &Option<v1::Filter>,
) -> Vec<Row> {
    every_page(async |page| {
        let request = v1::SearchMessagesRequest {
            bot: bot.clone(),
            filter: filter.clone(),
            page: Some(page),
            size: Some(100),
            ..Default::default()
        };
        let answer = c.messages.search_messages(request).await.unwrap();
        answer
            .into_inner()
            .content
            .into_iter()
            .map(message_row)
            .collect()
    })
    .await
}
