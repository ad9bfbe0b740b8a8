//! The OpenAPI document is valid OpenAPI 3.1 (checked by openapi-spec-validator) and describes
//! exactly the routes the server serves, with the parameters they read; the bot list offers
//! exactly the granted bots with data.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use talkhouse_core::access::Scope;
use talkhouse_proto::v1;
use talkhouse_server::auth::TokenClaims;

use super::{Rest, token_for, with_http};
use crate::auth::{authed, hs256_config, mint};
use crate::reports::fixtures::generated_in;
use crate::support::*;

/// An example value of a documented parameter's schema.
fn example(name: &str, schema: &Value) -> String {
    if let Some(first) = schema["enum"].get(0).or(schema["items"]["enum"].get(0)) {
        return first.as_str().unwrap().to_string();
    }
    match (name, schema["type"].as_str().unwrap()) {
        ("startDate" | "endDate", _) => "2024-03-10".into(),
        ("timezone", _) => "Europe/Paris".into(),
        ("channelUuids" | "orgUUID", _) => ORG.into(),
        (_, "integer") => "1".into(),
        (_, "number") => "0.5".into(),
        (_, "boolean") => "true".into(),
        _ => "x".into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_is_valid_and_describes_every_route_served() {
    let (_data, table, bot, _) = generated_in(DataDir::new(), 5, 10).await;
    let server = RunningServer::start_with(with_http(hs256_config()), table).await;
    let rest = Rest::of(&server);
    let bot = bot.unwrap();
    let token = token_for(&bot, &[Scope::Admin]);

    // Served without a token, as tools fetch it.
    let (status, document) = rest.get(talkhouse_server::OPENAPI_PATH, None).await;
    assert_eq!(status, 200);
    assert_eq!(document["openapi"], "3.1.0");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), document.to_string()).unwrap();
    let site = python::site("openapi");
    let verdict = python::run(
        &site,
        &format!(
            "import json\nfrom openapi_spec_validator import validate\n\
             validate(json.load(open({:?})))\nprint('valid')",
            file.path()
        ),
    );
    assert_eq!(verdict.trim(), "valid");

    // The same (method, path) pairs as the router's routes.
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let served: BTreeSet<(String, String)> = talkhouse_server::rest_routes()
        .into_iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    assert_eq!(documented, served);
    assert!(served.len() >= 22, "{served:?}");

    // Each documented operation is served, and takes every parameter it documents: no answer is
    // "no such path", 405, or a parameter refused as unknown.
    for (method, path) in &documented {
        let operation = &document["paths"][path][method.to_lowercase()];
        let concrete = path
            .replace("{orgUUID}", &bot.org_id)
            .replace("{envUUID}", &bot.env_id)
            .replace("{botUUID}", &bot.bot_id)
            .replace("{sessionCode}", "no-such-session")
            .replace("{reportId}", "no-such-report");
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        let mut body = serde_json::Map::new();
        for parameter in operation["parameters"].as_array().unwrap() {
            if parameter["in"] == "query" {
                let name = parameter["name"].as_str().unwrap();
                query.append_pair(name, &example(name, &parameter["schema"]));
            }
        }
        let properties =
            &operation["requestBody"]["content"]["application/json"]["schema"]["properties"];
        for (name, schema) in properties.as_object().into_iter().flatten() {
            let value = example(name, schema);
            let value = match schema["type"].as_str() {
                Some("array") => json!([value]),
                Some("integer" | "number") => json!(value.parse::<f64>().unwrap()),
                Some("boolean") => json!(true),
                _ => json!(value),
            };
            body.insert(name.clone(), value);
        }
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let body = (method == reqwest::Method::POST).then_some(Value::Object(body));
        let (status, _, answer) = rest
            .send(
                method,
                &format!("{concrete}?{}", query.finish()),
                &token,
                body,
            )
            .await;
        let answer = String::from_utf8_lossy(&answer);
        assert_ne!(status, 405, "{path}: {answer}");
        assert!(!answer.contains("no such path"), "{path}: {answer}");
        assert!(!answer.contains("is not a parameter"), "{path}: {answer}");
        let documented_status = operation["responses"]
            .as_object()
            .unwrap()
            .contains_key(&status.to_string());
        assert!(documented_status, "{path} answered {status}: {answer}");
    }
    server.stop().await;
}

const OTHER_ORG: &str = "00000000-0000-4000-8000-0000000000a1";
const OTHER_BOT: &str = "00000000-0000-4000-8000-0000000000b3";

#[tokio::test(flavor = "multi_thread")]
async fn the_bot_list_offers_the_granted_bots_with_data() {
    let data = DataDir::new();
    let first = message(1, "s-1", "2024-03-10T10:00:00Z");
    // Two bots of one organization, and another organization's bot with the same UUID as one.
    let file = data.file(
        "tenants.jsonl",
        &jsonl(&[
            first.clone(),
            in_tenant(first.clone(), ORG, ENV, OTHER_BOT),
            in_tenant(first.clone(), OTHER_ORG, ENV, BOT),
        ]),
    );
    run_ok(talkhouse(&data).arg("ingest").arg(&file));
    let server = RunningServer::start_with(with_http(hs256_config()), data.table().await).await;
    let rest = Rest::of(&server);
    let mut grpc = Clients::connect(&server).await;
    let listed = |answer: &Value| -> Vec<(String, String, String)> {
        answer["bots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|bot| {
                let id = |name: &str| bot[name].as_str().unwrap().to_string();
                (id("orgUUID"), id("envUUID"), id("botUUID"))
            })
            .collect()
    };
    let tenant = |org: &str, bot: &str| (org.to_string(), ENV.to_string(), bot.to_string());

    let every_bot_of_org = mint(&TokenClaims::new(ORG, 3600));
    let one_bot = token_for(
        bot_ref(ORG, ENV, OTHER_BOT).as_ref().unwrap(),
        &[Scope::Read],
    );
    let other_org = mint(&TokenClaims::new(OTHER_ORG, 3600));
    let (low, high) = (BOT.min(OTHER_BOT), BOT.max(OTHER_BOT));
    for (token, query, expected) in [
        (
            &every_bot_of_org,
            "",
            vec![tenant(ORG, low), tenant(ORG, high)],
        ),
        (&one_bot, "", vec![tenant(ORG, OTHER_BOT)]),
        (&other_org, "", vec![tenant(OTHER_ORG, BOT)]),
        (
            &every_bot_of_org,
            "?orgUUID=",
            vec![tenant(ORG, low), tenant(ORG, high)],
        ),
        (&every_bot_of_org, &format!("?orgUUID={OTHER_ORG}"), vec![]),
        (
            &other_org,
            &format!("?orgUUID={OTHER_ORG}"),
            vec![tenant(OTHER_ORG, BOT)],
        ),
    ] {
        let (status, answer) = rest.get(&format!("/bots{query}"), Some(token)).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(listed(&answer), expected, "/bots{query}");
        let org_id = query.strip_prefix("?orgUUID=").unwrap_or_default();
        let from_grpc = grpc
            .dashboard
            .list_bots(authed(
                v1::ListBotsRequest {
                    org_id: org_id.into(),
                },
                Some(token),
            ))
            .await
            .unwrap()
            .into_inner();
        let from_grpc: Vec<_> = from_grpc
            .bots
            .into_iter()
            .map(|b| (b.org_id, b.env_id, b.bot_id))
            .collect();
        assert_eq!(from_grpc, expected, "ListBots {org_id:?}");
    }

    let (status, answer) = rest
        .get("/bots?orgUUID=not-a-uuid", Some(&every_bot_of_org))
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["violations"][0]["field"], "orgUUID", "{answer}");
    let (status, _) = rest.get("/bots", None).await;
    assert_eq!(status, 401);
    server.stop().await;

    // Without tokens (--dev-no-auth), every bot with data.
    let server = RunningServer::start_with(
        with_http(talkhouse_server::ServerConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            talkhouse_server::Authentication::DisabledForDevelopment,
        )),
        data.table().await,
    )
    .await;
    let (status, answer) = Rest::of(&server).get("/bots", None).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(listed(&answer).len(), 3, "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_http_listener_speaks_http_1_1_and_http_2() {
    let (_data, table, _, _) = generated_in(DataDir::new(), 2, 5).await;
    let server = RunningServer::start_with(with_http(hs256_config()), table).await;
    let url = format!(
        "http://{}{}",
        server.http_address.unwrap(),
        talkhouse_server::OPENAPI_PATH
    );
    for (flag, version) in [("--http1.1", "1.1"), ("--http2-prior-knowledge", "2")] {
        let out = std::process::Command::new("curl")
            .args([
                "-sS",
                flag,
                "-o",
                "/dev/null",
                "-w",
                "%{http_version} %{http_code}",
            ])
            .arg(&url)
            .output()
            .expect("curl runs (.ci/run installs it)");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{version} 200"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    server.stop().await;
}
