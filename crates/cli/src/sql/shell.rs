//! The interactive SQL shell: history, multi-line statements ended by `;`, `\d` to list tables.

use std::time::Instant;

use super::{Output, Source, run_script};
use crate::CliError;
use crate::error::chain;
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

const HELP: &str = "\
End each statement with ;  Statements may span lines.
  \\d            list tables and views
  \\d NAME       columns of a table or view
  \\q            quit (also Ctrl-D)
  EXPLAIN …     the plan of a query";

pub async fn run(source: &mut Source, output: &Output) -> Result<(), CliError> {
    let mut editor = DefaultEditor::new().map_err(|e| CliError::Usage(e.to_string()))?;
    let history =
        std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".talkhouse_history"));
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    println!("talkhouse sql shell. \\? for help, \\q to quit.");
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            "talkhouse> "
        } else {
            "        -> "
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(error) => return Err(CliError::Usage(error.to_string())),
        };
        let trimmed = line.trim();
        if buffer.is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            match meta_command(trimmed) {
                Meta::Quit => break,
                Meta::Help => println!("{HELP}"),
                Meta::Sql(sql) => execute(source, &sql, output).await,
                Meta::Unknown => eprintln!("unknown command {trimmed}; \\? for help"),
            }
            continue;
        }
        if buffer.is_empty() && matches!(trimmed, "quit" | "exit") {
            break;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if trimmed.ends_with(';') {
            let sql = std::mem::take(&mut buffer);
            let _ = editor.add_history_entry(sql.trim());
            execute(source, &sql, output).await;
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    Ok(())
}

enum Meta {
    Quit,
    Help,
    Sql(String),
    Unknown,
}

fn meta_command(command: &str) -> Meta {
    let mut words = command.split_whitespace();
    match (words.next(), words.next()) {
        (Some("\\q"), _) => Meta::Quit,
        (Some("\\?" | "\\h"), _) => Meta::Help,
        (Some("\\d"), None) => Meta::Sql(
            "SELECT table_name, table_type FROM information_schema.tables \
             WHERE table_schema = 'public' ORDER BY table_name;"
                .into(),
        ),
        (Some("\\d"), Some(name)) => Meta::Sql(format!(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = '{}' ORDER BY ordinal_position;",
            name.replace('\'', "''")
        )),
        _ => Meta::Unknown,
    }
}

/// Runs one input (on a fresh snapshot); errors are printed and the shell goes on.
async fn execute(source: &mut Source, sql: &str, output: &Output) {
    let started = Instant::now();
    let result = run_script(source, sql, output).await;
    match result {
        Ok(()) => eprintln!("({:.3} s)", started.elapsed().as_secs_f64()),
        Err(error) => eprintln!("error: {}", chain(&error)),
    }
}
