//! The OpenAPI 3.1 document of the REST surface, made from the routes the router serves: each
//! route's parameters are those its request builder reads, its answer's schema is derived from
//! the JSON type it is shaped as, and its errors are the one error body.

use talkhouse_proto::v1;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, ParameterStyle,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathItem,
    PathsBuilder, Ref, RefOr, Required, ResponseBuilder, Schema,
};
use utoipa::{PartialSchema, ToSchema};

use super::endpoint::{Answer, Description, Verb};
use super::error::ErrorBody;
use super::params::Kind;
use super::reports::content_type;

const ERROR: &str = "Error";

/// The document of `routes`.
pub(crate) fn document(routes: &[Description]) -> OpenApi {
    let mut components = ComponentsBuilder::new()
        .schema(ERROR, ErrorBody::schema())
        .security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    let mut dependencies = Vec::new();
    ErrorBody::schemas(&mut dependencies);
    let mut paths = PathsBuilder::new();
    let mut services = Vec::new();
    for description in routes {
        if let Answer::Json { schemas, .. } = &description.answer {
            dependencies.extend(schemas.iter().cloned());
        }
        if !services.contains(&description.grpc.0) {
            services.push(description.grpc.0);
        }
        let method = match description.verb {
            Verb::Get => HttpMethod::Get,
            Verb::Post => HttpMethod::Post,
        };
        paths = paths.path(
            description.path,
            PathItem::new(method, operation(description)),
        );
    }
    for (name, schema) in dependencies {
        components = components.schema(name, schema);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("talkhouse dashboard API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The chatbot usage dashboard as JSON over HTTP: the same calls, grants, \
                     limits and answers as the gRPC services named by each operation's tag and \
                     operationId. Instants are UTC, written yyyy-MM-dd'T'HH:mm:ss.SSS'Z'.",
                )),
        )
        .paths(paths.build())
        .components(Some(components.build()))
        .security(Some([SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]))
        .tags(Some(
            services
                .into_iter()
                .map(|service| TagBuilder::new().name(service).build()),
        ))
        .build()
}

fn operation(description: &Description) -> utoipa::openapi::path::Operation {
    let (service, method) = description.grpc;
    let mut operation = OperationBuilder::new()
        .operation_id(Some(method))
        .tag(service)
        .summary(Some(description.summary));
    for name in path_parameters(description.path) {
        operation = operation.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(about(name)))
                .schema(Some(schema(Kind::Text, about(name)))),
        );
    }
    match description.verb {
        Verb::Get => {
            for &(name, kind) in &description.parameters {
                let mut parameter = ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some(about(name)))
                    .schema(Some(schema(kind, about(name))));
                if matches!(kind, Kind::List | Kind::Choices(_)) {
                    parameter = parameter
                        .style(Some(ParameterStyle::Form))
                        .explode(Some(false));
                }
                operation = operation.parameter(parameter);
            }
        }
        Verb::Post => {
            let mut body = ObjectBuilder::new().schema_type(Type::Object);
            for &(name, kind) in &description.parameters {
                body = body.property(name, schema(kind, about(name)));
            }
            operation = operation.request_body(Some(
                RequestBodyBuilder::new()
                    .description(Some(
                        "The parameters as a JSON object; each may be given in the query instead.",
                    ))
                    .required(Some(Required::False))
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(Some(body)).build(),
                    )
                    .build(),
            ));
        }
    }
    let success = match &description.answer {
        Answer::Json { name, .. } => ResponseBuilder::new()
            .description(description.summary)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(name)))
                    .build(),
            ),
        Answer::File => {
            let mut response = ResponseBuilder::new().description(
                "The file, with a Content-Disposition naming it; its content type is the \
                 report's export type.",
            );
            for export_type in [
                v1::ExportType::Csv,
                v1::ExportType::Xlsx,
                v1::ExportType::Jsonl,
                v1::ExportType::Parquet,
            ] {
                response = response.content(
                    content_type(export_type),
                    ContentBuilder::new()
                        .schema(Some(
                            ObjectBuilder::new()
                                .schema_type(Type::String)
                                .content_media_type(content_type(export_type)),
                        ))
                        .build(),
                );
            }
            response
        }
    };
    operation = operation.response(description.status.as_str(), success);
    for (status, meaning) in errors(description) {
        operation = operation.response(
            status,
            ResponseBuilder::new().description(meaning).content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(ERROR)))
                    .build(),
            ),
        );
    }
    operation.build()
}

/// The refusals a route can answer, each with the one error body.
fn errors(description: &Description) -> Vec<(&'static str, &'static str)> {
    let mut errors = vec![
        (
            "400",
            "A parameter is malformed, unknown or out of range: each is named",
        ),
        (
            "401",
            "The bearer token is missing, malformed, expired or not signed by a known key",
        ),
        (
            "403",
            "The token does not grant this bot or the scope this call needs",
        ),
        ("404", "No such bot data, session or report for this bot"),
    ];
    let makes_or_reads_a_report =
        description.verb == Verb::Post || matches!(description.answer, Answer::File);
    if makes_or_reads_a_report {
        errors.push((
            "422",
            "Well-formed but not possible now: a report not ready, or over a limit of the prompt",
        ));
    }
    errors.extend([
        (
            "429",
            "A limit: the request's size, or the organization's share of the server",
        ),
        (
            "500",
            "An internal error, with a request id to quote; nothing internal is shown",
        ),
        (
            "504",
            "The query did not finish before its deadline and was cancelled",
        ),
    ]);
    errors
}

/// The `{name}` segments of a path template.
fn path_parameters(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

/// The schema of a parameter of `kind`; a list is an array (comma-separated in a query).
fn schema(kind: Kind, description: &str) -> RefOr<Schema> {
    let text = || ObjectBuilder::new().schema_type(Type::String);
    let one_of = |names: &'static [&'static str]| text().enum_values(Some(names.iter().copied()));
    let described = |item: ObjectBuilder| item.description(Some(description)).into();
    let list = |item: ObjectBuilder| {
        ArrayBuilder::new()
            .items(item)
            .description(Some(description))
            .into()
    };
    match kind {
        Kind::Text => described(text()),
        Kind::Integer => described(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64))),
        ),
        Kind::Number => described(ObjectBuilder::new().schema_type(Type::Number)),
        Kind::Flag => described(ObjectBuilder::new().schema_type(Type::Boolean)),
        Kind::Choice(names) => described(one_of(names)),
        Kind::List => list(text()),
        Kind::Choices(names) => list(one_of(names)),
    }
}

/// What a parameter means; one description per name, whichever route reads it.
fn about(name: &str) -> &'static str {
    match name {
        "orgUUID" => "The organization's UUID",
        "envUUID" => "The environment's UUID",
        "botUUID" => "The bot's UUID",
        "sessionCode" => "The conversation's session code",
        "reportId" => "The report's id",
        "startDate" => "First day of the window, yyyy-MM-dd, in `timezone`",
        "endDate" => "Last day of the window (included), yyyy-MM-dd, in `timezone`",
        "startHour" => {
            "First hour of each day counted, 0-23; with endHour below it, the window wraps midnight"
        }
        "endHour" => "Last hour of each day counted (included), 0-23",
        "timezone" => "An IANA zone (Europe/Paris) or a fixed offset (-03:30); UTC when absent",
        "channelUuids" => "Only these channels, comma-separated UUIDs",
        "tagsName" => "Only conversations with one of these tags, comma-separated",
        "untagged" => "Also conversations without any tag",
        "granularity" => "Bucket size; chosen from the window's length when absent",
        "searchBy" => "What `search` is matched against",
        "search" => "The text searched for",
        "page" => "Page number, from 1",
        "size" => "Rows per page",
        "sort" => "Sort key",
        "order" => "Sort order",
        "snapshot" => "Read this table version (from an earlier page's provenance) so pages agree",
        "nlpResponseFilters" => "Only messages with these NLP outcomes, comma-separated",
        "cap" => "The most rows the report holds",
        "filterField" => "What `filterValue` is matched against",
        "filterValue" => "Only rows matching this value",
        "minConfidence" => "Only messages with at least this NLP confidence, 0-1",
        "errorMargin" => "For a random sample: the error margin the sample size is chosen for",
        "exportType" => "The report's file format",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_schema_is_a_component_of_its_own_name() {
        let routes: Vec<Description> = super::super::routes::routes()
            .iter()
            .map(|route| route.description())
            .collect();
        let document = document(&routes);
        let json = serde_json::to_value(&document).unwrap();
        if std::env::var_os("TALKHOUSE_PRINT_OPENAPI").is_some() {
            println!("{}", serde_json::to_string_pretty(&json).unwrap());
        }
        let schemas = json["components"]["schemas"].as_object().unwrap();
        for route in &routes {
            if let Answer::Json { name, .. } = &route.answer {
                assert!(schemas.contains_key(name), "{name} is not a component");
            }
        }
    }
}
