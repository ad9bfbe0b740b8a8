//! Dashboard requests to validated domain values. Every violation names the proto field path.

use talkhouse_core::report::{ExportType, ReportRules, ReportSort};
use talkhouse_core::request::{
    Checker, ConfidenceRule, ConversationSearch, ConversationSelection, ConversationSort, Filter,
    FilterInput, Limits, MessageSearch, MessageSelection, MessageSort, NlpFilter, Order, Page,
    SearchBy, SearchTerm, TenantInput,
};
use talkhouse_core::window::{Granularity, Zone};
use talkhouse_core::{NlpResponse, Tenant};
use talkhouse_proto::v1;

pub fn tenant(bot: Option<&v1::BotRef>, checker: &mut Checker) -> Option<Tenant> {
    let Some(bot) = bot else {
        checker.violation("bot", "is required: org_id, env_id and bot_id");
        return None;
    };
    TenantInput {
        org_id: bot.org_id.clone(),
        env_id: bot.env_id.clone(),
        bot_id: bot.bot_id.clone(),
    }
    .check("bot", checker)
}

pub fn filter(
    filter: Option<&v1::Filter>,
    limits: &Limits,
    checker: &mut Checker,
) -> Option<Filter> {
    let Some(filter) = filter else {
        checker.violation("filter", "is required: at least start_date and end_date");
        return None;
    };
    FilterInput {
        start_date: filter.start_date.clone(),
        end_date: filter.end_date.clone(),
        start_hour: filter.start_hour,
        end_hour: filter.end_hour,
        timezone: filter.timezone.clone(),
        channel_uuids: filter.channel_uuids.clone(),
        tags_name: filter.tags_name.clone(),
        untagged: filter.untagged,
    }
    .check("filter", limits, checker)
}

pub fn zone(text: &str, field: &str, checker: &mut Checker) -> Option<Zone> {
    talkhouse_core::request::check_zone(field, text, checker)
}

/// A known enum value; `UNSPECIFIED` gives `default`.
fn known<E: TryFrom<i32>, T>(
    value: i32,
    field: &str,
    checker: &mut Checker,
    map: impl Fn(E) -> Option<T>,
    default: T,
) -> Option<T> {
    match E::try_from(value).ok() {
        Some(known) => Some(map(known).unwrap_or(default)),
        None => {
            checker.violation(field, format!("unknown value {value}"));
            None
        }
    }
}

pub fn order(value: i32, checker: &mut Checker) -> Option<Order> {
    known(
        value,
        "order",
        checker,
        |o: v1::SortOrder| match o {
            v1::SortOrder::Unspecified => None,
            v1::SortOrder::Asc => Some(Order::Asc),
            v1::SortOrder::Desc => Some(Order::Desc),
        },
        Order::Desc,
    )
}

fn search_by(value: i32, field: &str, checker: &mut Checker) -> Option<Option<SearchBy>> {
    known(
        value,
        field,
        checker,
        |s: v1::SearchBy| {
            Some(match s {
                v1::SearchBy::Unspecified => None,
                v1::SearchBy::SessionCode => Some(SearchBy::SessionCode),
                v1::SearchBy::BusinessKey => Some(SearchBy::BusinessKey),
                v1::SearchBy::Flow => Some(SearchBy::Flow),
            })
        },
        None,
    )
}

fn search(
    by: i32,
    term: &str,
    by_field: &str,
    term_field: &str,
    checker: &mut Checker,
) -> Option<Option<SearchTerm>> {
    let by = search_by(by, by_field, checker)?;
    SearchTerm::check(by, term, by_field, term_field, checker)
}

pub fn granularity(value: i32, checker: &mut Checker) -> Option<Option<Granularity>> {
    known(
        value,
        "granularity",
        checker,
        |g: v1::Granularity| {
            Some(match g {
                v1::Granularity::Unspecified => None,
                v1::Granularity::Hour => Some(Granularity::Hour),
                v1::Granularity::Day => Some(Granularity::Day),
                v1::Granularity::Week => Some(Granularity::Week),
                v1::Granularity::Month => Some(Granularity::Month),
            })
        },
        None,
    )
}

fn nlp_filter(values: &[i32], checker: &mut Checker) -> Option<NlpFilter> {
    let mut responses = Vec::new();
    let mut any = values.is_empty();
    let mut valid = true;
    for (index, value) in values.iter().enumerate() {
        match v1::NlpResponseFilter::try_from(*value) {
            Ok(v1::NlpResponseFilter::All) => any = true,
            Ok(v1::NlpResponseFilter::Found) => responses.push(NlpResponse::Found),
            Ok(v1::NlpResponseFilter::None) => responses.push(NlpResponse::None),
            Ok(v1::NlpResponseFilter::Unspecified) | Err(_) => {
                valid = false;
                checker.violation(
                    format!("nlp_response_filters[{index}]"),
                    format!("must be FOUND, NONE or ALL, got {value}"),
                );
            }
        }
    }
    valid.then(|| {
        if any {
            NlpFilter::Any
        } else {
            responses.dedup();
            NlpFilter::OneOf(responses)
        }
    })
}

pub fn conversation_search(
    request: &v1::SearchConversationsRequest,
    limits: &Limits,
    checker: &mut Checker,
) -> Option<ConversationSearch> {
    let filter = filter(request.filter.as_ref(), limits, checker);
    let search = search(
        request.search_by,
        &request.search_term,
        "search_by",
        "search_term",
        checker,
    );
    let page = Page::check_search(request.page, request.size, limits, checker);
    let sort = known(
        request.sort,
        "sort",
        checker,
        |s: v1::ConversationSort| match s {
            v1::ConversationSort::Unspecified => None,
            v1::ConversationSort::ConversationStartedAt => Some(ConversationSort::StartedAt),
            v1::ConversationSort::Satisfaction => Some(ConversationSort::Satisfaction),
            v1::ConversationSort::UserMessages => Some(ConversationSort::UserMessages),
            v1::ConversationSort::FlowsTravelled => Some(ConversationSort::FlowsTravelled),
            v1::ConversationSort::Duration => Some(ConversationSort::Duration),
        },
        ConversationSort::StartedAt,
    );
    let order = order(request.order, checker);
    Some(ConversationSearch {
        filter: filter?,
        search: search?,
        sort: sort?,
        order: order?,
        page: page?,
    })
}

pub fn message_search(
    request: &v1::SearchMessagesRequest,
    limits: &Limits,
    checker: &mut Checker,
) -> Option<MessageSearch> {
    let filter = filter(request.filter.as_ref(), limits, checker);
    let search = search(
        request.search_by,
        &request.search_term,
        "search_by",
        "search_term",
        checker,
    );
    let page = Page::check_search(request.page, request.size, limits, checker);
    let sort = known(
        request.sort,
        "sort",
        checker,
        |s: v1::MessageSort| match s {
            v1::MessageSort::Unspecified => None,
            v1::MessageSort::MessageSentAt => Some(MessageSort::SentAt),
            v1::MessageSort::Confidence => Some(MessageSort::Confidence),
            v1::MessageSort::ConversationStartedAt => Some(MessageSort::ConversationStartedAt),
        },
        MessageSort::SentAt,
    );
    let order = order(request.order, checker);
    let nlp = nlp_filter(&request.nlp_response_filters, checker);
    Some(MessageSearch {
        filter: filter?,
        search: search?,
        nlp: nlp?,
        sort: sort?,
        order: order?,
        page: page?,
    })
}

pub fn report_sort(value: i32, checker: &mut Checker) -> Option<ReportSort> {
    known(
        value,
        "sort",
        checker,
        |s: v1::ReportSort| match s {
            v1::ReportSort::Unspecified => None,
            v1::ReportSort::NewestFirst => Some(ReportSort::NewestFirst),
            v1::ReportSort::OldestFirst => Some(ReportSort::OldestFirst),
            v1::ReportSort::RandomSample => Some(ReportSort::RandomSample),
        },
        ReportSort::NewestFirst,
    )
}

/// One of the export types the bot's rules offer.
pub fn export_type(value: i32, rules: &ReportRules, checker: &mut Checker) -> Option<ExportType> {
    let asked = known(
        value,
        "export_type",
        checker,
        |t: v1::ExportType| {
            Some(match t {
                v1::ExportType::Unspecified => None,
                v1::ExportType::Csv => Some(ExportType::Csv),
                v1::ExportType::Xlsx => Some(ExportType::Xlsx),
                v1::ExportType::Jsonl => Some(ExportType::Jsonl),
                v1::ExportType::Parquet => Some(ExportType::Parquet),
            })
        },
        None,
    )?;
    rules.check_export_type(asked, checker)
}

pub fn conversation_selection(
    request: &v1::ConversationsReportRequest,
    limits: &Limits,
    checker: &mut Checker,
) -> Option<ConversationSelection> {
    let filter = filter(request.filter.as_ref(), limits, checker);
    let search = search(
        request.filter_field,
        &request.filter_value,
        "filter_field",
        "filter_value",
        checker,
    );
    let confidence = ConfidenceRule::check(request.min_confidence, request.error_margin, checker);
    Some(ConversationSelection {
        filter: filter?,
        search: search?,
        confidence: confidence?,
    })
}

pub fn message_selection(
    request: &v1::MessagesReportRequest,
    limits: &Limits,
    checker: &mut Checker,
) -> Option<MessageSelection> {
    let filter = filter(request.filter.as_ref(), limits, checker);
    let search = search(
        request.filter_field,
        &request.filter_value,
        "filter_field",
        "filter_value",
        checker,
    );
    let confidence = ConfidenceRule::check(request.min_confidence, request.error_margin, checker);
    let nlp = nlp_filter(&request.nlp_response_filters, checker);
    Some(MessageSelection {
        filter: filter?,
        search: search?,
        nlp: nlp?,
        confidence: confidence?,
    })
}

/// 1..128 characters, as at ingest.
pub fn session_code(text: &str, checker: &mut Checker) -> Option<String> {
    let chars = text.chars().count();
    if chars == 0 || chars > talkhouse_core::ingest::MAX_SESSION_CODE_CHARS {
        checker.violation(
            "session_code",
            format!(
                "must be 1..{} characters",
                talkhouse_core::ingest::MAX_SESSION_CODE_CHARS
            ),
        );
        return None;
    }
    Some(text.to_string())
}
