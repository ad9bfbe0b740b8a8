//! The dashboard page in real headless Chromium against the real server: it loads, every number
//! and chart it shows equals the API's answer (in another zone and channel set too), a click on a
//! conversation opens its transcript, and a report is requested and downloaded. A screenshot is
//! written to `target/test-artifacts/dashboard.png`.

use serde_json::{Value, json};
use talkhouse_core::access::Scope;
use talkhouse_server::auth::TokenClaims;

use crate::auth::{hs256_config, mint};
use crate::reports::fixtures::generated_in;
use crate::support::browser::Browser;
use crate::support::*;

/// What the page shows: its filter, box values, list counts and chart data.
const SHOWN: &str = r##"
const value = (selector) => {
  const text = document.querySelector(selector).dataset.value;
  return text === undefined || text === "" ? null : Number(text);
};
const chart = (id) => Chart.getChart(id).data.datasets.map((d) => d.data);
return {
  startDate: document.querySelector("#start-date").value,
  endDate: document.querySelector("#end-date").value,
  timezone: document.querySelector("#timezone").value,
  channels: [...document.querySelectorAll("#channels input:checked")].map((i) => i.value),
  conversations: value('[data-box="conversations"] .total'),
  messages: value('[data-box="messages"] .total'),
  users: value('[data-box="users"] .total'),
  accuracy: value('[data-box="accuracy"] .total'),
  conversationRows: value("#conversations .count"),
  messageRows: value("#messages .count"),
  charts: {
    conversations: chart("chart-conversations"),
    messages: chart("chart-messages"),
    users: chart("chart-users"),
  },
};
"##;

/// Waits until the page has finished its `count`th refresh.
async fn refreshed(browser: &Browser, count: u32) {
    browser
        .wait_for(
            &format!("refresh {count}"),
            "return Number(document.body.dataset.refreshed || 0) >= arguments[0]",
            json!([count]),
        )
        .await;
}

struct Api {
    base: String,
    token: String,
    client: reqwest::Client,
}

impl Api {
    async fn get(&self, path: &str) -> Value {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
    }
}

/// The page's numbers equal the API's for the filter it shows.
async fn shows_what_the_api_answers(browser: &Browser, api: &Api, prefix: &str) -> Value {
    let shown = browser.run(SHOWN, json!([])).await;
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("startDate", shown["startDate"].as_str().unwrap());
    query.append_pair("endDate", shown["endDate"].as_str().unwrap());
    query.append_pair("timezone", shown["timezone"].as_str().unwrap());
    let all_channels = browser
        .run(
            "return document.querySelectorAll('#channels input').length",
            json!([]),
        )
        .await;
    let channels: Vec<&str> = shown["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    if channels.len() != all_channels {
        query.append_pair("channelUuids", &channels.join(","));
    }
    let query = query.finish();
    for resource in ["conversations", "messages", "users"] {
        let traffic = api
            .get(&format!("{prefix}/dashboard/{resource}?{query}"))
            .await;
        assert_eq!(
            shown[resource], traffic["overview"]["total"],
            "{resource} box, {query}"
        );
        let series = api
            .get(&format!("{prefix}/dashboard/{resource}/series?{query}"))
            .await;
        let data: Vec<&Value> = series["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| &d["data"])
            .collect();
        assert_eq!(
            shown["charts"][resource]
                .as_array()
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            data,
            "{resource} chart, {query}"
        );
    }
    let accuracy = api
        .get(&format!("{prefix}/dashboard/accuracy?{query}"))
        .await;
    assert_eq!(shown["accuracy"], accuracy["accuracy"], "accuracy, {query}");
    for (list, rows) in [
        ("conversations", "conversationRows"),
        ("messages", "messageRows"),
    ] {
        let page = api.get(&format!("{prefix}/{list}?{query}")).await;
        assert_eq!(shown[rows], page["totalElements"], "{list}, {query}");
    }
    shown
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_page_shows_the_apis_numbers_opens_transcripts_and_makes_reports() {
    let (_data, table, bot, _) = generated_in(DataDir::new(), 40, 30).await;
    let mut config = hs256_config();
    config.http_listen = Some("127.0.0.1:0".parse().unwrap());
    let server = RunningServer::start_with(config, table).await;
    let bot = bot.unwrap();
    let mut claims = TokenClaims::new(&bot.org_id, 3600);
    claims.scopes = vec![Scope::Read, Scope::Report];
    let api = Api {
        base: format!("http://{}", server.http_address.unwrap()),
        token: mint(&claims),
        client: reqwest::Client::new(),
    };
    let prefix = format!("/org/{}/env/{}/bot/{}", bot.org_id, bot.env_id, bot.bot_id);

    let browser = Browser::start().await;
    browser.open(&format!("{}/", api.base)).await;
    // Without a token the page says why it shows nothing.
    let refusal = browser
        .wait_for(
            "the refusal",
            "const s = document.querySelector('#status'); \
             return s.classList.contains('error') && s.textContent",
            json!([]),
        )
        .await;
    assert!(refusal.as_str().unwrap().contains("token"), "{refusal}");

    browser
        .run(
            "document.querySelector('#token').value = arguments[0]; \
             document.querySelector('#connect').requestSubmit();",
            json!([api.token]),
        )
        .await;
    refreshed(&browser, 1).await;
    let bots = browser
        .run(
            "return document.querySelectorAll('#bot option').length",
            json!([]),
        )
        .await;
    let granted = api.get("/bots").await;
    assert_eq!(bots, json!(granted["bots"].as_array().unwrap().len()));
    // The fixture's bot, picked from the list.
    let picked = browser
        .run(
            "const select = document.querySelector('#bot');              const option = [...select.options].find((o) => o.title.endsWith(arguments[0]));              if (!option) return null;              select.value = option.value; select.dispatchEvent(new Event('change'));              return option.title;",
            json!([bot.bot_id]),
        )
        .await;
    assert!(
        picked.is_string(),
        "the fixture's bot is offered: {granted}"
    );
    refreshed(&browser, 2).await;
    let shown = shows_what_the_api_answers(&browser, &api, &prefix).await;
    assert!(shown["conversations"].as_i64().unwrap() > 0, "{shown}");

    // Another zone and one channel fewer.
    browser
        .run(
            "document.querySelector('#timezone').value = 'Asia/Kolkata'; \
             const boxes = document.querySelectorAll('#channels input'); \
             if (boxes.length > 1) boxes[0].checked = false; \
             document.querySelector('#filters').requestSubmit();",
            json!([]),
        )
        .await;
    refreshed(&browser, 3).await;
    let shown = shows_what_the_api_answers(&browser, &api, &prefix).await;
    assert_eq!(shown["timezone"], "Asia/Kolkata");

    // A click on a conversation opens its transcript.
    let session = browser
        .run(
            "const row = document.querySelector('#conversations tbody tr'); \
             row.click(); return row.dataset.session;",
            json!([]),
        )
        .await;
    let session = session.as_str().unwrap().to_string();
    let lines = browser
        .wait_for(
            "the transcript",
            "const t = document.querySelector('#transcript'); \
             return !t.hidden && t.querySelector('.session').textContent === arguments[0] \
               && t.querySelectorAll('li').length",
            json!([session]),
        )
        .await;
    let transcript = api
        .get(&format!(
            "{prefix}/conversations/{session}?timezone=Asia/Kolkata"
        ))
        .await;
    assert_eq!(
        lines,
        json!(transcript["messages"].as_array().unwrap().len())
    );

    // A report: previewed, requested, made, listed and downloaded.
    browser
        .run(
            "document.querySelector('#report-form .preview').click()",
            json!([]),
        )
        .await;
    let estimate = browser
        .wait_for(
            "the preview",
            "return document.querySelector('.preview-result').dataset.value",
            json!([]),
        )
        .await;
    assert_eq!(
        estimate.as_str().unwrap().parse::<i64>().unwrap(),
        shown["conversationRows"].as_i64().unwrap()
    );
    browser
        .run(
            "document.querySelector('#report-form').requestSubmit()",
            json!([]),
        )
        .await;
    let report_id = browser
        .wait_for(
            "a READY report",
            "return document.querySelector('#reports tr[data-status=READY]')?.dataset.report",
            json!([]),
        )
        .await;
    let report_id = report_id.as_str().unwrap().to_string();
    browser
        .run(
            "document.querySelector('#reports tr[data-status=READY] button').click()",
            json!([]),
        )
        .await;
    let bytes = browser
        .wait_for(
            "the download",
            "return document.querySelector('.download-result').dataset.bytes",
            json!([]),
        )
        .await;
    let file = api
        .client
        .get(format!("{}{prefix}/reports/{report_id}/download", api.base))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(!file.is_empty());
    assert_eq!(bytes.as_str().unwrap(), file.len().to_string());
    let report = api.get(&format!("{prefix}/reports/{report_id}")).await;
    assert_eq!(report["kind"], "CONVERSATIONS", "{report}");
    assert_eq!(
        report["rowCount"].as_i64().unwrap(),
        shown["conversationRows"].as_i64().unwrap()
    );

    browser.run("window.scrollTo(0, 0)", json!([])).await;
    browser
        .screenshot(&repository().join("target/test-artifacts/dashboard.png"))
        .await;
    browser.close().await;
    server.stop().await;
}
