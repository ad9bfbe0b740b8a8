//! The data and servers the report tests run on.

use super::*;

pub(super) const ZONE: &str = "Asia/Kolkata";
pub(super) const TYPES: [(v1::ExportType, ExportType); 4] = [
    (v1::ExportType::Csv, ExportType::Csv),
    (v1::ExportType::Xlsx, ExportType::Xlsx),
    (v1::ExportType::Jsonl, ExportType::Jsonl),
    (v1::ExportType::Parquet, ExportType::Parquet),
];

/// Generated traffic of two bots over `days` days.
pub(super) async fn generated(
    days: u32,
    per_day: u32,
) -> (DataDir, Arc<EventTable>, Option<v1::BotRef>, Vec<String>) {
    generated_in(DataDir::new(), days, per_day).await
}

/// [`generated`], in `data` (a folder or a bucket).
pub(crate) async fn generated_in(
    data: DataDir,
    days: u32,
    per_day: u32,
) -> (DataDir, Arc<EventTable>, Option<v1::BotRef>, Vec<String>) {
    let generator = Generator::new(GenerateConfig {
        seed: 7,
        bots: 2,
        days,
        until: NaiveDate::from_ymd_opt(2024, 3, 20).unwrap(),
        conversations_per_day: per_day,
    });
    let table = data.table().await;
    let events: Vec<Event> = generator.events().flatten().collect();
    table.write(events, None).await.unwrap();
    let bot = &generator.bots()[0];
    let channels = bot.channels.iter().map(|c| c.uuid.to_string()).collect();
    let bot = Some(v1::BotRef {
        org_id: bot.tenant.org_id.to_string(),
        env_id: bot.tenant.env_id.to_string(),
        bot_id: bot.tenant.bot_id.to_string(),
    });
    (data, table, bot, channels)
}

/// Ten messages of [`BOT`] in two sessions, some of them text a spreadsheet would run.
pub(super) const HOSTILE_TEXTS: [&str; 5] =
    ["=1+1", "+SUM(A1:A9)", "-2+3", "@cmd", "=HYPERLINK(\"x\")"];

pub(crate) fn small_set(data: &DataDir) {
    let mut lines = Vec::new();
    for n in 0..10u32 {
        let session = if n < 5 { "S-1" } else { "S-2" };
        let mut m = message(n, session, &format!("2024-03-10T0{}:15:00Z", n % 10));
        if let Some(text) = HOSTILE_TEXTS.get(n as usize) {
            m["text"] = json!(text);
        }
        if n == 7 {
            m["business_key"] = json!("=cmd|' /C calc'!A0");
        }
        m["confidence"] = json!(50.0 + f64::from(n) * 5.0);
        lines.push(m);
    }
    let mut first = conversation(
        "S-1",
        "2024-03-10T00:15:00Z",
        "2024-03-10T05:00:00Z",
        Some(5),
    );
    first["business_key"] = json!("@SUM(1)");
    lines.push(first);
    lines.push(conversation(
        "S-2",
        "2024-03-10T05:15:00Z",
        "2024-03-10T10:00:00Z",
        None,
    ));
    let path = data.file("small.jsonl", &jsonl(&lines));
    run_ok(talkhouse(data).arg("ingest").arg(path));
}

pub(crate) fn filter(start: &str, end: &str) -> Option<v1::Filter> {
    Some(v1::Filter {
        start_date: start.into(),
        end_date: end.into(),
        timezone: ZONE.into(),
        ..Default::default()
    })
}

pub(super) fn config(reports: ReportSettings) -> ServerConfig {
    let mut config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        Authentication::DisabledForDevelopment,
    );
    config.reports = reports;
    config
}

/// `talkhouse serve` on 127.0.0.1:0 in its own process, one report worker; its address.
pub(crate) fn spawn_server(data: &DataDir) -> (std::process::Child, String) {
    crate::support::spawn_serve(
        crate::support::serve_on_any_port(data)
            .args(["--report-workers", "1"])
            .args(["--report-lease-seconds", "2"])
            .args(["--report-poll-interval-ms", "100"])
            .stderr(std::process::Stdio::null()),
    )
}
