//! The interactive SQL shell, driven through a pipe, and `talkhouse serve` as the README runs it.

use std::process::Stdio;

use super::support::*;

#[test]
fn the_shell_reads_multi_line_statements_lists_tables_and_keeps_history() {
    let data = with_fixture();
    let home = data.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let output = run_with_stdin(
        talkhouse(&data)
            .args(["sql", "--interactive", "--format", "csv"])
            .env("HOME", &home),
        b"SELECT count(*)\n  AS n FROM\n  conversations;\nSELECT nope;\n\\d\n\\d channels\n\\q\n",
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("n\n3\n"), "{stdout}");
    assert!(
        stderr.contains("error: ") && stderr.contains("nope"),
        "{stderr}"
    );
    assert!(stdout.contains("conversation_versions,VIEW"), "{stdout}");
    assert!(stdout.contains("channel_name,"), "{stdout}");
    let history = std::fs::read_to_string(home.join(".talkhouse_history")).unwrap();
    assert!(history.contains("AS n FROM"), "{history}");
}

#[test]
fn serve_creates_the_demo_in_an_empty_folder_and_stops_on_sigterm() {
    let data = DataDir::new();
    let (child, address) = spawn_serve(
        talkhouse(&data)
            .args(["serve", "--dev-no-auth", "--listen", "127.0.0.1:0"])
            .stderr(Stdio::piped()),
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let status = runtime.block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
        health
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .unwrap()
            .into_inner()
            .status
    });
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    // The demo is there: four bots over two organizations, with traffic up to yesterday (local
    // days in the bots' zones, so the newest UTC date is yesterday or today).
    let bots = sql_rows(
        &data,
        "SELECT count(DISTINCT bot_id), count(DISTINCT org_id) FROM messages",
    );
    assert_eq!(bots, ["4,2"]);
    let newest = sql_rows(
        &data,
        "SELECT CAST(CAST(max(sent_at) AS DATE) AS VARCHAR) FROM messages",
    );
    let today = chrono::Utc::now().date_naive();
    let newest = chrono::NaiveDate::parse_from_str(&newest[0], "%Y-%m-%d").unwrap();
    assert!(
        (0..=1).contains(&(today - newest).num_days()),
        "newest message on {newest}, today is {today}"
    );

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "serve exited with {}",
        output.status
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("WARNING: authentication is DISABLED"),
        "development mode says so loudly: {stderr}"
    );
}
