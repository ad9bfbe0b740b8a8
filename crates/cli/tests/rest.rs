//! The dashboard API as JSON over HTTP on the seed's paths, called with a real HTTP client, one
//! idea a file: `analytics` (the auxiliary and analytics routes answer what gRPC answers, field by
//! field, for a random sample of requests), `lists` (searches, transcripts and reports, the same),
//! `document` (the OpenAPI document and the bot list), `refusals` (every refusal has its HTTP status and the one JSON error body).

mod analytics;
mod document;
mod lists;
mod refusals;

use serde_json::Value;
use talkhouse_core::access::Scope;
use talkhouse_proto::v1;
use talkhouse_server::ServerConfig;
use talkhouse_server::auth::TokenClaims;

use crate::auth::mint;
use crate::support::*;

/// The REST surface of a running server, with a bearer token.
struct Rest {
    base: String,
    client: reqwest::Client,
}

impl Rest {
    fn of(server: &RunningServer) -> Self {
        Self {
            base: format!("http://{}", server.http_address.expect("an HTTP listener")),
            client: reqwest::Client::new(),
        }
    }

    /// The status and JSON body of `GET path` with `token`.
    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = request.send().await.expect("the HTTP call");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = response.bytes().await.unwrap();
        assert!(
            content_type.starts_with("application/json"),
            "{path}: {status} {content_type:?} {}",
            String::from_utf8_lossy(&body)
        );
        (status, serde_json::from_slice(&body).unwrap())
    }
}

fn with_http(mut config: ServerConfig) -> ServerConfig {
    config.http_listen = Some("127.0.0.1:0".parse().unwrap());
    config
}

fn token_for(bot: &v1::BotRef, scopes: &[Scope]) -> String {
    let mut claims = TokenClaims::new(&bot.org_id, 3600);
    claims.environments = vec![bot.env_id.clone()];
    claims.bots = vec![bot.bot_id.clone()];
    claims.scopes = scopes.to_vec();
    mint(&claims)
}

/// An instant of a gRPC answer as the REST answer writes it.
fn instant(timestamp: &Option<prost_types::Timestamp>) -> Value {
    match timestamp {
        Some(t) => {
            let instant = chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32).unwrap();
            Value::from(instant.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        }
        None => Value::Null,
    }
}

fn optional(value: Option<f64>) -> Value {
    value.map_or(Value::Null, Value::from)
}

impl Rest {
    /// The status, headers and body of `method path` with `token` and a JSON `body`.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {token}"));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("the HTTP call");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.bytes().await.unwrap().to_vec())
    }
}
