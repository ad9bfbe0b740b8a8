//! One REST route as data: its method and path, the gRPC method that answers it, how its request
//! is read, and its answer's JSON shape. The router serves exactly the routes of
//! [`super::routes`], and the OpenAPI document describes each from the same value.

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{MethodRouter, get, post};
use http::{HeaderMap, StatusCode};
use serde::Serialize;
use talkhouse_proto::v1;
use utoipa::ToSchema;
use utoipa::openapi::{RefOr, schema::Schema};

use super::params::{Kind, Params};
use super::{Grpc, transcode};

/// The ids in a route's path: the bot's, and the session code or report id after them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ids {
    org: String,
    env: String,
    bot: String,
    /// `{sessionCode}` or `{reportId}`.
    pub(crate) item: String,
}

impl Ids {
    pub(crate) fn from_path(segments: Vec<(String, String)>) -> Self {
        let mut ids = Ids::default();
        for (name, value) in segments {
            match name.as_str() {
                "orgUUID" => ids.org = value,
                "envUUID" => ids.env = value,
                "botUUID" => ids.bot = value,
                _ => ids.item = value,
            }
        }
        ids
    }

    pub(crate) fn bot(&self) -> Option<v1::BotRef> {
        Some(v1::BotRef {
            org_id: self.org.clone(),
            env_id: self.env.clone(),
            bot_id: self.bot.clone(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Get,
    /// Parameters in a JSON object body, in the query, or both.
    Post,
}

impl Verb {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
        }
    }
}

/// What the OpenAPI document says of a route.
pub(crate) struct Description {
    pub(crate) verb: Verb,
    pub(crate) path: &'static str,
    /// The gRPC service and method that answer it.
    pub(crate) grpc: (&'static str, &'static str),
    pub(crate) summary: &'static str,
    /// Every query parameter (or body key) the route reads, in the order read.
    pub(crate) parameters: Vec<(&'static str, Kind)>,
    pub(crate) status: StatusCode,
    pub(crate) answer: Answer,
}

pub(crate) enum Answer {
    /// A JSON document of the named schema; `schemas` holds it and every schema it refers to.
    Json {
        name: String,
        schemas: Vec<(String, RefOr<Schema>)>,
    },
    /// A file, streamed with its own content type.
    File,
}

/// A route the REST surface serves.
pub(crate) trait Route: Send + Sync {
    fn handler(&self) -> MethodRouter<Grpc>;
    fn description(&self) -> Description;
}

/// Reads the request out of the path ids and the parameters.
pub(crate) type Build<Q> = fn(&Ids, &mut Params) -> Q;

/// A route answered by one unary gRPC method, its answer shaped as `J`.
pub(crate) struct Endpoint<Q, A, J> {
    verb: Verb,
    path: &'static str,
    grpc: (&'static str, &'static str),
    summary: &'static str,
    build: Build<Q>,
    status: StatusCode,
    shapes: PhantomData<fn() -> (A, J)>,
}

impl<Q, A, J> Clone for Endpoint<Q, A, J> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Q, A, J> Copy for Endpoint<Q, A, J> {}

/// A `GET` route answered by `grpc` (service, method).
pub(crate) fn get_route<Q, A, J>(
    path: &'static str,
    grpc: (&'static str, &'static str),
    summary: &'static str,
    build: Build<Q>,
) -> Box<dyn Route>
where
    Q: prost::Message + Send + 'static,
    A: prost::Message + Default + Send + 'static,
    J: From<A> + Serialize + ToSchema + 'static,
{
    Endpoint::<Q, A, J>::boxed(Verb::Get, path, grpc, summary, StatusCode::OK, build)
}

/// A `POST` route answered by `grpc`, with `status` on success (202 for a report accepted for
/// production).
pub(crate) fn post_route<Q, A, J>(
    path: &'static str,
    grpc: (&'static str, &'static str),
    summary: &'static str,
    status: StatusCode,
    build: Build<Q>,
) -> Box<dyn Route>
where
    Q: prost::Message + Send + 'static,
    A: prost::Message + Default + Send + 'static,
    J: From<A> + Serialize + ToSchema + 'static,
{
    Endpoint::<Q, A, J>::boxed(Verb::Post, path, grpc, summary, status, build)
}

impl<Q, A, J> Route for Endpoint<Q, A, J>
where
    Q: prost::Message + Send + 'static,
    A: prost::Message + Default + Send + 'static,
    J: From<A> + Serialize + ToSchema + 'static,
{
    fn handler(&self) -> MethodRouter<Grpc> {
        let endpoint = *self;
        let handle = move |State(grpc): State<Grpc>,
                           Path(segments): Path<Vec<(String, String)>>,
                           headers: HeaderMap,
                           RawQuery(query): RawQuery,
                           body: Bytes| async move {
            endpoint
                .answer(&grpc, &headers, Ids::from_path(segments), query, &body)
                .await
        };
        match self.verb {
            Verb::Get => get(handle),
            Verb::Post => post(handle),
        }
    }

    fn description(&self) -> Description {
        let mut params = Params::new(Vec::new());
        let _ = (self.build)(&Ids::default(), &mut params);
        let mut schemas = vec![(J::name().into_owned(), J::schema())];
        J::schemas(&mut schemas);
        Description {
            verb: self.verb,
            path: self.path,
            grpc: self.grpc,
            summary: self.summary,
            parameters: params.read(),
            status: self.status,
            answer: Answer::Json {
                name: J::name().into_owned(),
                schemas,
            },
        }
    }
}

impl<Q, A, J> Endpoint<Q, A, J>
where
    Q: prost::Message + Send + 'static,
    A: prost::Message + Default + Send + 'static,
    J: From<A> + Serialize + ToSchema + 'static,
{
    fn boxed(
        verb: Verb,
        path: &'static str,
        grpc: (&'static str, &'static str),
        summary: &'static str,
        status: StatusCode,
        build: Build<Q>,
    ) -> Box<dyn Route> {
        Box::new(Self {
            verb,
            path,
            grpc,
            summary,
            build,
            status,
            shapes: PhantomData,
        })
    }

    /// Reads the parameters into the gRPC request, checks their form (every malformed or unknown
    /// one named), calls the gRPC method, and shapes its answer as `J`.
    async fn answer(
        &self,
        grpc: &Grpc,
        headers: &HeaderMap,
        ids: Ids,
        query: Option<String>,
        body: &[u8],
    ) -> Response {
        let params = match self.verb {
            Verb::Get => Ok(Params::new(super::pairs(query))),
            Verb::Post => Params::from_json(body).map(|mut params| {
                params.extend(super::pairs(query));
                params
            }),
        };
        let mut params = match params {
            Ok(params) => params,
            Err(error) => return error.into_response(),
        };
        let request = (self.build)(&ids, &mut params);
        if let Err(error) = params.finish() {
            return error.into_response();
        }
        let (service, method) = self.grpc;
        let path = format!("/talkhouse.v1.{service}/{method}");
        match transcode::call::<Q, A>(grpc, &path, headers, request).await {
            Ok(answer) => (self.status, Json(J::from(answer))).into_response(),
            Err(error) => error.into_response(),
        }
    }
}
