//! `talkhouse reports list|get|download`: the reports stored in the data folder, read directly
//! from storage (like `sql`), so they work with the server stopped.

use std::io::Write;

use chrono::Utc;
use futures::StreamExt;
use talkhouse_core::report::ReportStatus;
use talkhouse_reports::{ReportRecord, ReportStore};
use talkhouse_storage::DataLocation;

use crate::CliError;
use crate::args::{ListFormat, ReportDownloadArgs, ReportListArgs, ReportsCommand};

pub async fn run(data: &DataLocation, command: ReportsCommand) -> Result<(), CliError> {
    let store = ReportStore::at(data)?;
    match command {
        ReportsCommand::List(args) => list(&store, args).await,
        ReportsCommand::Get(args) => {
            let record = find(&store, args.id).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&record).expect("a record serializes")
            );
            Ok(())
        }
        ReportsCommand::Download(args) => download(&store, args).await,
    }
}

async fn list(store: &ReportStore, args: ReportListArgs) -> Result<(), CliError> {
    let now = Utc::now();
    let mut records: Vec<ReportRecord> = store
        .all()
        .await?
        .into_iter()
        .filter(|r| args.org.is_none_or(|org| r.tenant.org_id == org))
        .filter(|r| args.env.is_none_or(|env| r.tenant.env_id == env))
        .filter(|r| args.bot.is_none_or(|bot| r.tenant.bot_id == bot))
        .map(|r| r.as_of(now))
        .collect();
    ReportRecord::sort_newest_first(&mut records);
    let mut out = std::io::stdout().lock();
    match args.format {
        ListFormat::Json => {
            for record in &records {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string(record).expect("a record serializes")
                )?;
            }
        }
        ListFormat::Table => {
            writeln!(
                out,
                "{:<36}  {:<13}  {:<8}  {:<7}  {:>10}  {:>12}  {:<20}  BOT",
                "ID", "KIND", "STATUS", "TYPE", "ROWS", "BYTES", "REQUESTED"
            )?;
            for r in &records {
                writeln!(
                    out,
                    "{:<36}  {:<13}  {:<8}  {:<7}  {:>10}  {:>12}  {:<20}  {}",
                    r.id,
                    format!("{:?}", r.kind()).to_uppercase(),
                    r.status.as_str(),
                    r.export_type.extension().to_uppercase(),
                    r.row_count,
                    r.byte_size,
                    r.requested_at.format("%Y-%m-%dT%H:%M:%SZ"),
                    r.tenant.bot_id
                )?;
            }
            if records.is_empty() {
                eprintln!("no reports");
            }
        }
    }
    Ok(())
}

async fn find(store: &ReportStore, id: uuid::Uuid) -> Result<ReportRecord, CliError> {
    let now = Utc::now();
    store
        .all()
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .map(|r| r.as_of(now))
        .ok_or_else(|| CliError::Usage(format!("no report {id} in this data folder")))
}

async fn download(store: &ReportStore, args: ReportDownloadArgs) -> Result<(), CliError> {
    let record = find(store, args.id).await?;
    if record.status != ReportStatus::Ready {
        return Err(CliError::Usage(format!(
            "report {} is {}, not READY{}",
            record.id,
            record.status.as_str(),
            record
                .error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        )));
    }
    let path = args
        .output
        .unwrap_or_else(|| std::path::PathBuf::from(record.file_name()));
    let to_stdout = path.as_os_str() == "-";
    let mut out: Box<dyn Write> = if to_stdout {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::io::BufWriter::new(std::fs::File::create(&path)?))
    };
    let mut chunks = store.file(&record).await?;
    let mut written = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(talkhouse_reports::Error::from)?;
        out.write_all(&chunk)?;
        written += chunk.len() as u64;
    }
    out.flush()?;
    if !to_stdout {
        eprintln!(
            "wrote {} ({} rows, {written} bytes)",
            path.display(),
            record.row_count
        );
    }
    Ok(())
}
