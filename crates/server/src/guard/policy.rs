//! What each method needs: its scope, what it costs, and the bots its request names.

use talkhouse_core::Tenant;
use talkhouse_core::access::Scope;
use talkhouse_core::request::{Checker, TenantInput};
use talkhouse_proto::v1;
use tonic::Status;

use crate::ServiceError;

/// How a call is admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// Runs queries: counted against the concurrency caps, bounded by a deadline.
    Query,
    /// Writes a batch: bounded by the client's deadline only, so a commit is not cut short.
    Write,
}

/// Decodes one request message into the bots it names.
type Decode = fn(&[u8]) -> Result<Vec<Tenant>, prost::DecodeError>;

/// One gRPC method as the guard sees it.
pub struct Method {
    pub path: &'static str,
    pub scope: Scope,
    pub cost: Cost,
    /// Decodes the request message and lists the bots it names. A bot whose ids do not parse
    /// is left out: the handler rejects the request for it.
    decode: Option<Decode>,
}

macro_rules! methods {
    ($($service:literal $method:literal: $scope:ident $cost:ident $request:ty => $bots:expr;)*) => {
        /// Every talkhouse method. A method not listed here is never served.
        pub static METHODS: &[Method] = &[$(Method {
            path: concat!("/talkhouse.v1.", $service, "/", $method),
            scope: Scope::$scope,
            cost: Cost::$cost,
            decode: Some(|bytes| {
                let request = <$request as prost::Message>::decode(bytes)?;
                let bots: fn(&$request) -> Vec<Tenant> = $bots;
                Ok(bots(&request))
            }),
        },)*];
    };
}

methods! {
    "DashboardService" "GetSummary": Read Query v1::GetSummaryRequest => |r| bot(&r.bot);
    "DashboardService" "GetConversationReportConfig": Read Query v1::GetReportConfigRequest => |r| bot(&r.bot);
    "DashboardService" "GetMessageReportConfig": Read Query v1::GetReportConfigRequest => |r| bot(&r.bot);
    "DashboardService" "ListBots": Read Query v1::ListBotsRequest => |_| Vec::new();
    "AnalyticsService" "GetConversationTraffic": Read Query v1::AnalyticsRequest => |r| bot(&r.bot);
    "AnalyticsService" "GetMessageTraffic": Read Query v1::AnalyticsRequest => |r| bot(&r.bot);
    "AnalyticsService" "GetUserTraffic": Read Query v1::AnalyticsRequest => |r| bot(&r.bot);
    "AnalyticsService" "GetAccuracy": Read Query v1::AnalyticsRequest => |r| bot(&r.bot);
    "AnalyticsService" "GetConversationSeries": Read Query v1::SeriesRequest => |r| bot(&r.bot);
    "AnalyticsService" "GetMessageSeries": Read Query v1::SeriesRequest => |r| bot(&r.bot);
    "AnalyticsService" "GetUserSeries": Read Query v1::SeriesRequest => |r| bot(&r.bot);
    "ConversationService" "SearchConversations": Read Query v1::SearchConversationsRequest => |r| bot(&r.bot);
    "ConversationService" "GetConversation": Read Query v1::GetConversationRequest => |r| bot(&r.bot);
    "ConversationService" "RequestConversationsReport": Report Query v1::ConversationsReportRequest => |r| bot(&r.bot);
    "ConversationService" "RequestTranscriptReport": Report Query v1::TranscriptReportRequest => |r| bot(&r.bot);
    "ConversationService" "PreviewConversationsReport": Read Query v1::ConversationsReportRequest => |r| bot(&r.bot);
    "MessageService" "SearchMessages": Read Query v1::SearchMessagesRequest => |r| bot(&r.bot);
    "MessageService" "RequestMessagesReport": Report Query v1::MessagesReportRequest => |r| bot(&r.bot);
    "MessageService" "PreviewMessagesReport": Read Query v1::MessagesReportRequest => |r| bot(&r.bot);
    "ReportService" "ListReports": Report Query v1::ListReportsRequest => |r| bot(&r.bot);
    "ReportService" "GetReport": Report Query v1::GetReportRequest => |r| bot(&r.bot);
    "ReportService" "DownloadReport": Report Query v1::GetReportRequest => |r| bot(&r.bot);
    "AdminService" "ErasePerson": Admin Write v1::ErasePersonRequest => |r| bot(&r.bot);
    "IngestService" "WriteEvents": Ingest Write v1::WriteEventsRequest => |r| r.events.iter().filter_map(event_bot).collect();
}

/// The Arrow Flight methods, which carry Flight SQL. They name no bot: a statement reads only the
/// rows its caller's grant covers, whatever it names (see `crate::flight_sql`). Some take a
/// stream of messages, so their body is not decoded here.
macro_rules! flight_methods {
    ($($method:literal)*) => {
        pub static FLIGHT_METHODS: &[Method] = &[$(Method {
            path: concat!("/arrow.flight.protocol.FlightService/", $method),
            scope: Scope::Sql,
            cost: Cost::Query,
            decode: None,
        },)*];
    };
}

flight_methods! {
    "Handshake" "ListFlights" "GetFlightInfo" "PollFlightInfo" "GetSchema" "DoGet" "DoPut"
    "DoExchange" "DoAction" "ListActions"
}

impl Method {
    /// The method's name, without its service: `GetSummary`, `DoGet`.
    pub fn name(&self) -> &'static str {
        self.path.rsplit('/').next().unwrap_or(self.path)
    }
}

pub(super) fn method(path: &str) -> Option<&'static Method> {
    METHODS
        .iter()
        .chain(FLIGHT_METHODS)
        .find(|m| m.path == path)
}

/// The bots named by the one gRPC message in `body`; none for a method whose body is not decoded.
pub(super) fn tenants(method: &Method, body: &[u8]) -> Result<Vec<Tenant>, Status> {
    let Some(decode) = method.decode else {
        return Ok(Vec::new());
    };
    let malformed = |what: &str| {
        Status::from(ServiceError::InvalidArgument(vec![
            talkhouse_core::FieldViolation::new("request", format!("is not {what}")),
        ]))
    };
    let Some((&compressed, rest)) = body.split_first() else {
        return Err(malformed("a gRPC message"));
    };
    if compressed != 0 {
        return Err(Status::unimplemented(
            "compressed requests are not accepted",
        ));
    }
    let Some((length, message)) = rest.split_first_chunk::<4>() else {
        return Err(malformed("a gRPC message"));
    };
    if u32::from_be_bytes(*length) as usize != message.len() {
        return Err(malformed("exactly one gRPC message"));
    }
    decode(message)
        .map_err(|error| Status::from(ServiceError::InvalidArgument(vec![undecodable(&error)])))
}

/// The field a request could not be decoded at, as far as the decoder tells it, and why, in our
/// words. prost names the fields it was inside of: `Outer.field: Inner.field: description`.
fn undecodable(error: &prost::DecodeError) -> talkhouse_core::FieldViolation {
    let text = error.to_string();
    let mut rest = text
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(&text);
    let mut fields = Vec::new();
    while let Some((segment, after)) = rest.split_once(": ")
        && let Some((message, field)) = segment.split_once('.')
        && is_identifier(message)
        && is_identifier(field)
    {
        fields.push(field);
        rest = after;
    }
    let field = match fields.is_empty() {
        true => "request".to_string(),
        false => fields.join("."),
    };
    let description = if rest.contains("UTF-8") {
        "must be valid UTF-8 text"
    } else if fields.is_empty() {
        "is not a valid protobuf message of this method"
    } else {
        "is not a valid protobuf value of this field"
    };
    talkhouse_core::FieldViolation::new(field, description)
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn bot(bot: &Option<v1::BotRef>) -> Vec<Tenant> {
    crate::convert::request::tenant(bot.as_ref(), &mut Checker::new())
        .into_iter()
        .collect()
}

fn event_bot(event: &v1::Event) -> Option<Tenant> {
    match event.kind.as_ref()? {
        v1::event::Kind::Message(m) => tenant(&m.org_id, &m.env_id, &m.bot_id),
        v1::event::Kind::Conversation(c) => tenant(&c.org_id, &c.env_id, &c.bot_id),
    }
}

fn tenant(org_id: &str, env_id: &str, bot_id: &str) -> Option<Tenant> {
    TenantInput {
        org_id: org_id.into(),
        env_id: env_id.into(),
        bot_id: bot_id.into(),
    }
    .check("", &mut Checker::new())
}
