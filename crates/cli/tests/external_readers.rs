//! The views of `docs/external-readers.md`, run by DuckDB over the live files deltalake-python
//! lists, count what `talkhouse sql` counts.

use crate::support::{DataDir, python, repository, run_ok, sql_rows, talkhouse};

/// Per bot: messages, conversations and their user messages, in one CSV line each.
const PER_BOT: &str = "
SELECT m.org_id, m.env_id, m.bot_id, m.messages, c.conversations, c.user_messages
FROM (SELECT org_id, env_id, bot_id, count(*) AS messages FROM messages
      GROUP BY org_id, env_id, bot_id) AS m
JOIN (SELECT org_id, env_id, bot_id, count(*) AS conversations,
             sum(user_messages) AS user_messages
      FROM conversations GROUP BY org_id, env_id, bot_id) AS c
  ON m.org_id = c.org_id AND m.env_id = c.env_id AND m.bot_id = c.bot_id
ORDER BY m.org_id, m.env_id, m.bot_id";

/// The first ```sql block of the page.
fn documented_views() -> String {
    let page = std::fs::read_to_string(repository().join("docs/external-readers.md")).unwrap();
    let start = page.find("```sql\n").expect("the page has a SQL block") + 7;
    let end = start + page[start..].find("```").unwrap();
    page[start..end].to_string()
}

#[test]
fn duckdb_over_the_live_files_counts_what_talkhouse_counts() {
    let data = DataDir::new();
    run_ok(talkhouse(&data).args(["generate", "--bots", "3", "--days", "4"]));
    // Newer versions of every conversation of the fixture, and compaction, which drops some
    // of the versions and markers but not all.
    let fixture = repository().join("tests/fixtures/small.jsonl");
    run_ok(talkhouse(&data).arg("ingest").arg(&fixture));
    run_ok(talkhouse(&data).args(["compact", "--min-files", "2"]));
    run_ok(talkhouse(&data).arg("ingest").arg(&fixture));
    let versions = sql_rows(&data, "SELECT count(*) FROM conversation_versions");
    let conversations = sql_rows(&data, "SELECT count(*) FROM conversations");
    assert_ne!(
        versions, conversations,
        "the data holds superseded versions"
    );

    let expected = sql_rows(&data, PER_BOT);
    assert!(expected.len() >= 3, "{expected:?}");

    let site = python::site("readers");
    let table = std::path::Path::new(&data.data()).join("events");
    let script = format!(
        r#"
import duckdb
from deltalake import DeltaTable
files = DeltaTable({table:?}).file_uris()
con = duckdb.connect()
con.read_parquet(files, hive_partitioning=True).create_view("events")
for statement in {views:?}.split(";"):
    if statement.strip():
        con.execute(statement)
for row in con.execute({query:?}).fetchall():
    print(",".join(str(value) for value in row))
"#,
        table = table.display().to_string(),
        views = documented_views(),
        query = PER_BOT,
    );
    let printed = python::run(&site, &script);
    let actual: Vec<String> = printed.lines().map(str::to_string).collect();
    assert_eq!(actual, expected);
}
