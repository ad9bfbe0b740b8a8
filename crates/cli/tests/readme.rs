//! The README's examples work as written.

use super::support::*;

fn readme() -> String {
    std::fs::read_to_string(repository().join("README.md")).unwrap()
}

/// The body of the first fenced block of `language`.
fn block(text: &str, language: &str) -> String {
    let start = text
        .find(&format!("```{language}\n"))
        .expect("the block exists")
        + language.len()
        + 4;
    let end = start + text[start..].find("```").unwrap();
    text[start..end].to_string()
}

#[test]
fn the_ingest_example_is_valid_and_means_what_it_says() {
    let data = DataDir::new();
    let file = data.file("example.jsonl", &block(&readme(), "jsonl"));
    let out = run_ok(talkhouse(&data).arg("ingest").arg(&file));
    assert!(out.contains("1 messages, 2 conversation versions"), "{out}");
    let rows = sql_rows(
        &data,
        "SELECT session_code, satisfaction, flows_travelled, duration_seconds, CAST(started_at AS VARCHAR) AS s FROM conversations",
    );
    assert_eq!(rows, ["S-1001,5,2,900.0,2024-03-09T23:50:00Z"]);
}

#[test]
fn the_sql_examples_run() {
    let data = DataDir::new();
    let file = data.file("example.jsonl", &block(&readme(), "jsonl"));
    run_ok(talkhouse(&data).arg("ingest").arg(&file));
    let text = readme();
    let sql_block = block(&text[text.find("### SQL").unwrap()..], "sh");
    let first = sql_block.lines().next().unwrap();
    let query = first.split('"').nth(1).expect("a quoted query");
    let out = run_ok(talkhouse(&data).args(["sql", "--format", "csv", "-c", query]));
    assert_eq!(
        out,
        "bot_id,messages\n9a8b7c6d-1e2f-4a3b-8c4d-5e6f7a8b9c03,1\n"
    );
}

#[test]
fn the_token_example_carries_the_grant_it_describes() {
    let text = readme();
    let section = &text[text.find("### Authentication").unwrap()..];
    let claims: serde_json::Value = serde_json::from_str(&block(section, "json")).unwrap();
    let grant = talkhouse_core::access::ClaimNames::default()
        .grant(&claims)
        .expect("the example's claims are read with the default names");
    assert_eq!(grant.bots, talkhouse_core::access::Allowed::Any);
    assert!(
        matches!(grant.environments, talkhouse_core::access::Allowed::Only(ref e) if e.len() == 1)
    );
    assert_eq!(
        grant.scopes.into_iter().collect::<Vec<_>>(),
        [
            talkhouse_core::access::Scope::Read,
            talkhouse_core::access::Scope::Report
        ]
    );
}

#[test]
fn the_report_rules_example_is_a_valid_config() {
    let text = readme();
    let section = &text[text.find("### Reports").unwrap()..];
    let json = block(section, "json");
    let policy: talkhouse_core::report::ReportPolicy = serde_json::from_str(&json).unwrap();
    policy.validate().unwrap();
    let bot = "9a8b7c6d-1e2f-4a3b-8c4d-5e6f7a8b9c03".parse().unwrap();
    assert_eq!(policy.rules(bot).max_sample, 500);
    assert_eq!(policy.default.max_sample, 10_000);
    // `serve` refuses the file with an unknown export type, naming the flag.
    let data = DataDir::new();
    let bad = data.file("bad.json", &json.replace("[\"CSV\"]", "[\"XLS\"]"));
    let stderr = run_fails(serve_on_any_port(&data).arg("--report-config").arg(&bad));
    assert!(
        stderr.contains("--report-config") && stderr.contains("XLS"),
        "{stderr}"
    );
}

#[test]
fn the_curl_examples_run_against_the_demo_server() {
    let data = DataDir::new();
    let (mut server, _, http) = spawn_serve_with_http(talkhouse(&data).args([
        "serve",
        "--dev-no-auth",
        "--listen",
        "127.0.0.1:0",
    ]));
    let text = readme();
    let script = block(&text[text.find("With `curl`").unwrap()..], "sh");
    assert!(script.contains("http://127.0.0.1:50052"), "{script}");
    let script = script.replace("http://127.0.0.1:50052", &http);
    let folder = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("timeout")
        .args(["120", "bash", "-euo", "pipefail", "-c", &script])
        .current_dir(folder.path())
        .env("TOKEN", "")
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"hasData\": true"), "{stdout}");
    assert!(stdout.contains("\"previousTotal\""), "{stdout}");
    let files: Vec<_> = std::fs::read_dir(folder.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        files[0].extension().is_some_and(|e| e == "csv"),
        "{files:?}"
    );
    let csv = std::fs::read_to_string(&files[0]).unwrap();
    assert!(csv.starts_with("session_code,"), "{csv}");
    assert!(csv.lines().count() > 1, "{csv}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_adbc_example_runs_against_the_server() {
    let data = DataDir::new();
    let file = data.file("example.jsonl", &block(&readme(), "jsonl"));
    run_ok(talkhouse(&data).arg("ingest").arg(&file));
    let server = RunningServer::start(data.table().await).await;
    let text = readme();
    let script = block(
        &text[text.find("### SQL from every data tool").unwrap()..],
        "python",
    );
    let out = std::process::Command::new("python3")
        .env("PYTHONPATH", python::site("adbc"))
        .env("TALKHOUSE_FLIGHT", format!("grpc://{}", server.address))
        .env("TOKEN", "")
        .args(["-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("bot_id: string"), "{stdout}");
    assert!(
        stdout.contains("9a8b7c6d-1e2f-4a3b-8c4d-5e6f7a8b9c03"),
        "{stdout}"
    );
    server.stop().await;
}

#[test]
fn the_retention_example_is_a_valid_config_and_ages_out_the_fixture() {
    let text = readme();
    let section = &text[text.find("### Retention").unwrap()..];
    let json = block(section, "json");
    talkhouse_core::retention::RetentionPolicy::parse(&json).unwrap();
    let data = with_fixture();
    let config = data.file("retention.json", &json);
    let bot = "0b000000-0000-4000-8000-000000000001";
    let messages = |data: &DataDir| {
        sql_rows(
            data,
            &format!("SELECT COUNT(*) FROM messages WHERE bot_id = '{bot}'"),
        )
    };
    assert_ne!(messages(&data), ["0"]);
    let out = run_ok(talkhouse(&data).args(["retain", "--config"]).arg(&config));
    assert!(
        out.contains(&format!("bot {bot}")) && out.contains("30 days"),
        "{out}"
    );
    // The fixture is of March 2024: older than either period.
    assert_eq!(messages(&data), ["0"]);
    assert_eq!(
        sql_rows(&data, "SELECT COUNT(*) FROM rollups"),
        ["0"],
        "no count is left of what went"
    );
}
