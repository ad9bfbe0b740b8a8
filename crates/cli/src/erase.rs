//! `talkhouse erase`: a person's sessions of one bot leave the table in one commit, with the bot's
//! earlier reports; the erasure record is printed as JSON.

use talkhouse_core::request::{Checker, ErasureInput, TenantInput};
use talkhouse_reports::erasure;
use talkhouse_storage::{DataLocation, EventTable};

use crate::CliError;
use crate::args::EraseArgs;

pub async fn run(data: &DataLocation, args: EraseArgs) -> Result<(), CliError> {
    let input = ErasureInput {
        bot: TenantInput {
            org_id: args.org,
            env_id: args.env,
            bot_id: args.bot,
        },
        user_id: args.user.unwrap_or_default(),
        business_key: args.business_key.unwrap_or_default(),
    };
    let mut checker = Checker::new();
    let checked = input.check(&mut checker);
    let (tenant, key) = checker.finish(checked).map_err(|violations| {
        let flags = violations
            .iter()
            .map(|v| format!("{}: {}", flag(&v.field), v.description))
            .collect::<Vec<_>>()
            .join("; ");
        CliError::Usage(flags)
    })?;
    let by = args
        .by
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "the command line".into());
    let table = EventTable::open(data).await?;
    let record = erasure::erase_person(&table, data, tenant, key, &by).await?;
    eprintln!(
        "erased {} sessions ({} messages, {} conversation versions) and {} reports; \
         `talkhouse vacuum` deletes the files that still hold them once the retention window passes",
        record.sessions, record.messages, record.conversation_versions, record.reports_deleted
    );
    println!(
        "{}",
        serde_json::to_string(&record).expect("a record serializes")
    );
    Ok(())
}

/// The flag a request field comes from.
fn flag(field: &str) -> &str {
    match field {
        "bot.org_id" => "--org",
        "bot.env_id" => "--env",
        "bot.bot_id" => "--bot",
        "user_id" => "--user",
        "business_key" => "--business-key",
        other => other,
    }
}
