//! The searchable lists and the transcript: `GET …/conversations`, `GET …/messages` and
//! `GET …/conversations/{sessionCode}`.

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use http::HeaderMap;
use talkhouse_proto::v1;

use super::params::{NLP_RESPONSES, ORDER, SEARCH_BY, bot};
use super::{BotPath, Grpc, json, query_params, respond};

const CONVERSATION_SORTS: [&str; 5] = [
    "CONVERSATION_STARTED_AT",
    "SATISFACTION",
    "USER_MESSAGES",
    "FLOWS_TRAVELLED",
    "DURATION",
];
const MESSAGE_SORTS: [&str; 3] = ["MESSAGE_SENT_AT", "CONFIDENCE", "CONVERSATION_STARTED_AT"];

pub(super) async fn conversations(
    State(grpc): State<Grpc>,
    Path(ids): BotPath,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    respond::<_, v1::SearchConversationsResponse, json::Conversations>(
        &grpc,
        &headers,
        query_params(query),
        ("ConversationService", "SearchConversations"),
        |params| v1::SearchConversationsRequest {
            bot: bot(ids),
            filter: Some(params.filter()),
            search_by: params.choice("searchBy", &SEARCH_BY),
            search_term: params.text("search").unwrap_or_default(),
            page: params.number("page"),
            size: params.number("size"),
            sort: params.choice("sort", &CONVERSATION_SORTS),
            order: params.choice("order", &ORDER),
            snapshot: params.number("snapshot"),
        },
    )
    .await
}

pub(super) async fn messages(
    State(grpc): State<Grpc>,
    Path(ids): BotPath,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    respond::<_, v1::SearchMessagesResponse, json::Messages>(
        &grpc,
        &headers,
        query_params(query),
        ("MessageService", "SearchMessages"),
        |params| v1::SearchMessagesRequest {
            bot: bot(ids),
            filter: Some(params.filter()),
            search_by: params.choice("searchBy", &SEARCH_BY),
            search_term: params.text("search").unwrap_or_default(),
            page: params.number("page"),
            size: params.number("size"),
            sort: params.choice("sort", &MESSAGE_SORTS),
            order: params.choice("order", &ORDER),
            nlp_response_filters: params.choices("nlpResponseFilters", &NLP_RESPONSES),
            snapshot: params.number("snapshot"),
        },
    )
    .await
}

pub(super) async fn transcript(
    State(grpc): State<Grpc>,
    Path((org, env, bot_id, session_code)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    respond::<_, v1::GetConversationResponse, json::Transcript>(
        &grpc,
        &headers,
        query_params(query),
        ("ConversationService", "GetConversation"),
        |params| v1::GetConversationRequest {
            bot: bot((org, env, bot_id)),
            session_code,
            timezone: params.text("timezone").unwrap_or_default(),
        },
    )
    .await
}
