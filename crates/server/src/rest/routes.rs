//! Every REST route: the seed's paths, the gRPC method behind each, and how each reads its
//! parameters. The router and the OpenAPI document are both made from [`routes`].

use http::StatusCode;
use talkhouse_proto::v1;

use super::endpoint::{Ids, Route, get_route, post_route};
use super::params::{
    CONVERSATION_SORTS, EXPORT_TYPES, GRANULARITIES, MESSAGE_SORTS, NLP_RESPONSES, ORDER, Params,
    REPORT_SORTS, SEARCH_BY,
};
use super::{json, reports};

/// A path under one bot.
macro_rules! bot {
    ($route:literal) => {
        concat!("/org/{orgUUID}/env/{envUUID}/bot/{botUUID}", $route)
    };
}

const DASHBOARD: &str = "DashboardService";
const ANALYTICS: &str = "AnalyticsService";
const CONVERSATIONS: &str = "ConversationService";
const MESSAGES: &str = "MessageService";
const REPORTS: &str = "ReportService";
const ADMIN: &str = "AdminService";

pub(crate) fn routes() -> Vec<Box<dyn Route>> {
    use json::*;
    vec![
        get_route::<_, v1::ListBotsResponse, Bots>(
            "/bots",
            (DASHBOARD, "ListBots"),
            "The bots with data that the token grants",
            |_, p| v1::ListBotsRequest {
                org_id: p.text("orgUUID").unwrap_or_default(),
            },
        ),
        get_route::<_, v1::GetSummaryResponse, Summary>(
            bot!("/dashboard/summary"),
            (DASHBOARD, "GetSummary"),
            "Whether the bot has data, its first and last instants and its channels",
            |ids, _| v1::GetSummaryRequest { bot: ids.bot() },
        ),
        get_route::<_, v1::ReportConfig, ReportConfig>(
            bot!("/conversations/report_configurations"),
            (DASHBOARD, "GetConversationReportConfig"),
            "Limits of the conversation report prompt",
            |ids, _| v1::GetReportConfigRequest { bot: ids.bot() },
        ),
        get_route::<_, v1::ReportConfig, ReportConfig>(
            bot!("/messages/report_configurations"),
            (DASHBOARD, "GetMessageReportConfig"),
            "Limits of the message report prompt",
            |ids, _| v1::GetReportConfigRequest { bot: ids.bot() },
        ),
        get_route::<_, v1::TrafficResponse, Traffic>(
            bot!("/dashboard/conversations"),
            (ANALYTICS, "GetConversationTraffic"),
            "Conversations in the window against the previous period, by channel",
            analytics,
        ),
        get_route::<_, v1::TrafficResponse, Traffic>(
            bot!("/dashboard/messages"),
            (ANALYTICS, "GetMessageTraffic"),
            "User and bot messages in the window against the previous period",
            analytics,
        ),
        get_route::<_, v1::TrafficResponse, Traffic>(
            bot!("/dashboard/users"),
            (ANALYTICS, "GetUserTraffic"),
            "Distinct users in the window against the previous period, new and returning",
            analytics,
        ),
        get_route::<_, v1::AccuracyResponse, Accuracy>(
            bot!("/dashboard/accuracy"),
            (ANALYTICS, "GetAccuracy"),
            "NLP accuracy in the window against the previous period",
            analytics,
        ),
        get_route::<_, v1::SeriesResponse, Series>(
            bot!("/dashboard/conversations/series"),
            (ANALYTICS, "GetConversationSeries"),
            "Conversations per bucket and channel, for a stacked line chart",
            series,
        ),
        get_route::<_, v1::SeriesResponse, Series>(
            bot!("/dashboard/messages/series"),
            (ANALYTICS, "GetMessageSeries"),
            "Messages per bucket and channel, for a stacked line chart",
            series,
        ),
        get_route::<_, v1::SeriesResponse, Series>(
            bot!("/dashboard/users/series"),
            (ANALYTICS, "GetUserSeries"),
            "Distinct users per bucket and channel, for a stacked line chart",
            series,
        ),
        get_route::<_, v1::SearchConversationsResponse, Conversations>(
            bot!("/conversations"),
            (CONVERSATIONS, "SearchConversations"),
            "A page of the conversations in the window, searched and sorted",
            |ids, p| v1::SearchConversationsRequest {
                bot: ids.bot(),
                filter: Some(p.filter()),
                search_by: p.choice("searchBy", &SEARCH_BY),
                search_term: p.text("search").unwrap_or_default(),
                page: p.number("page"),
                size: p.number("size"),
                sort: p.choice("sort", &CONVERSATION_SORTS),
                order: p.choice("order", &ORDER),
                snapshot: p.number("snapshot"),
            },
        ),
        get_route::<_, v1::GetConversationResponse, Transcript>(
            bot!("/conversations/{sessionCode}"),
            (CONVERSATIONS, "GetConversation"),
            "One conversation and its messages in order",
            |ids, p| v1::GetConversationRequest {
                bot: ids.bot(),
                session_code: ids.item.clone(),
                timezone: p.text("timezone").unwrap_or_default(),
            },
        ),
        post_route::<_, v1::ReportCreated, ReportCreated>(
            bot!("/conversations/report"),
            (CONVERSATIONS, "RequestConversationsReport"),
            "Requests a report of the conversations selected; it is made in the background",
            StatusCode::ACCEPTED,
            conversations_report,
        ),
        post_route::<_, v1::ReportPreview, ReportPreview>(
            bot!("/conversations/report/preview"),
            (CONVERSATIONS, "PreviewConversationsReport"),
            "How many conversations a report would hold, and its first rows",
            StatusCode::OK,
            conversations_report,
        ),
        post_route::<_, v1::ReportCreated, ReportCreated>(
            bot!("/conversations/{sessionCode}/report"),
            (CONVERSATIONS, "RequestTranscriptReport"),
            "Requests a report of one conversation's transcript",
            StatusCode::ACCEPTED,
            |ids, p| v1::TranscriptReportRequest {
                bot: ids.bot(),
                session_code: ids.item.clone(),
                timezone: p.text("timezone").unwrap_or_default(),
                export_type: p.choice("exportType", &EXPORT_TYPES),
            },
        ),
        get_route::<_, v1::SearchMessagesResponse, Messages>(
            bot!("/messages"),
            (MESSAGES, "SearchMessages"),
            "A page of the messages in the window, searched and sorted",
            |ids, p| v1::SearchMessagesRequest {
                bot: ids.bot(),
                filter: Some(p.filter()),
                search_by: p.choice("searchBy", &SEARCH_BY),
                search_term: p.text("search").unwrap_or_default(),
                page: p.number("page"),
                size: p.number("size"),
                sort: p.choice("sort", &MESSAGE_SORTS),
                order: p.choice("order", &ORDER),
                nlp_response_filters: p.choices("nlpResponseFilters", &NLP_RESPONSES),
                snapshot: p.number("snapshot"),
            },
        ),
        post_route::<_, v1::ReportCreated, ReportCreated>(
            bot!("/messages/report"),
            (MESSAGES, "RequestMessagesReport"),
            "Requests a report of the messages selected; it is made in the background",
            StatusCode::ACCEPTED,
            messages_report,
        ),
        post_route::<_, v1::ReportPreview, ReportPreview>(
            bot!("/messages/report/preview"),
            (MESSAGES, "PreviewMessagesReport"),
            "How many messages a report would hold, and its first rows",
            StatusCode::OK,
            messages_report,
        ),
        get_route::<_, v1::ListReportsResponse, Reports>(
            bot!("/reports"),
            (REPORTS, "ListReports"),
            "A page of the bot's reports, newest first",
            |ids, p| v1::ListReportsRequest {
                bot: ids.bot(),
                page: p.number("page"),
                size: p.number("size"),
            },
        ),
        get_route::<_, v1::Report, Report>(
            bot!("/reports/{reportId}"),
            (REPORTS, "GetReport"),
            "One report: its state, size and parameters",
            reports::report_request,
        ),
        Box::new(reports::Download {
            path: bot!("/reports/{reportId}/download"),
        }),
        post_route::<_, v1::Erasure, Erasure>(
            bot!("/erasures"),
            (ADMIN, "ErasePerson"),
            "Erases a person (scope admin): every session of the bot in which their userId or \
             businessKey appears, in one commit, and the bot's earlier reports",
            StatusCode::OK,
            |ids, p| v1::ErasePersonRequest {
                bot: ids.bot(),
                user_id: p.text("userId").unwrap_or_default(),
                business_key: p.text("businessKey").unwrap_or_default(),
            },
        ),
    ]
}

fn analytics(ids: &Ids, p: &mut Params) -> v1::AnalyticsRequest {
    v1::AnalyticsRequest {
        bot: ids.bot(),
        filter: Some(p.filter()),
    }
}

fn series(ids: &Ids, p: &mut Params) -> v1::SeriesRequest {
    v1::SeriesRequest {
        bot: ids.bot(),
        filter: Some(p.filter()),
        granularity: p.choice("granularity", &GRANULARITIES),
    }
}

fn conversations_report(ids: &Ids, p: &mut Params) -> v1::ConversationsReportRequest {
    v1::ConversationsReportRequest {
        bot: ids.bot(),
        filter: Some(p.filter()),
        cap: p.number("cap"),
        sort: p.choice("sort", &REPORT_SORTS),
        filter_field: p.choice("filterField", &SEARCH_BY),
        filter_value: p.text("filterValue").unwrap_or_default(),
        min_confidence: p.number("minConfidence"),
        error_margin: p.number("errorMargin"),
        export_type: p.choice("exportType", &EXPORT_TYPES),
    }
}

fn messages_report(ids: &Ids, p: &mut Params) -> v1::MessagesReportRequest {
    v1::MessagesReportRequest {
        bot: ids.bot(),
        filter: Some(p.filter()),
        cap: p.number("cap"),
        sort: p.choice("sort", &REPORT_SORTS),
        filter_field: p.choice("filterField", &SEARCH_BY),
        filter_value: p.text("filterValue").unwrap_or_default(),
        min_confidence: p.number("minConfidence"),
        error_margin: p.number("errorMargin"),
        nlp_response_filters: p.choices("nlpResponseFilters", &NLP_RESPONSES),
        export_type: p.choice("exportType", &EXPORT_TYPES),
    }
}
