//! Flight SQL with the real Python ADBC driver (`adbc-driver-flightsql` from PyPI) against the
//! real server: the tables are listed; an admin's rows equal `talkhouse sql`'s; a token for one
//! bot gets only that bot's rows from every statement crafted to reach others; a token without
//! the `sql` scope is refused; an over-budget query is refused and the server goes on.

use serde_json::{Value, json};
use talkhouse_core::access::Scope;
use talkhouse_proto::v1;
use talkhouse_server::ServerConfig;
use talkhouse_server::auth::TokenClaims;

use crate::auth::{hs256_config, mint};
use crate::reports::fixtures::generated_in;
use crate::support::*;

const OTHER_ORG: &str = "00000000-0000-4000-8000-0000000000a1";

/// Stands for ADBC's catalog call (`GetTables` with schemas) among the statements of [`adbc`]:
/// its rows are `[catalog, schema, table, column count]`.
const GET_OBJECTS: &str = "-- adbc_get_objects";

/// Runs `statements` through ADBC with `token`; for each, `{"rows": [...]}` (each row a list of
/// strings) or `{"error": "..."}`. A statement given as a list is prepared and run with the rest
/// of the list as its parameters.
fn adbc(address: &str, token: &str, statements: &[&str]) -> Vec<Value> {
    let statements: Vec<Value> = statements.iter().map(|s| json!(s)).collect();
    adbc_with(address, token, &statements)
}

fn adbc_with(address: &str, token: &str, statements: &[Value]) -> Vec<Value> {
    let statements = serde_json::to_string(statements).unwrap();
    let script = format!(
        r#"
import json
import adbc_driver_flightsql.dbapi as flight_sql
from adbc_driver_flightsql import DatabaseOptions
connection = flight_sql.connect(
    "grpc://{address}",
    db_kwargs={{DatabaseOptions.AUTHORIZATION_HEADER.value: "Bearer {token}"}},
    autocommit=True,
)
answers = []
for statement in json.loads({statements:?}):
    try:
        if statement == "{GET_OBJECTS}":
            rows = []
            for catalog in connection.adbc_get_objects(depth="all").read_all().to_pylist():
                for schema in catalog["catalog_db_schemas"]:
                    for table in schema["db_schema_tables"]:
                        rows.append([catalog["catalog_name"], schema["db_schema_name"],
                                     table["table_name"], str(len(table["table_columns"]))])
            answers.append({{"rows": rows}})
            continue
        cursor = connection.cursor()
        if isinstance(statement, list):
            cursor.execute(statement[0], parameters=tuple(statement[1:]))
        else:
            cursor.execute(statement)
        answers.append({{"rows": [[str(v) for v in row] for row in cursor.fetchall()]}})
        cursor.close()
    except Exception as error:
        answers.append({{"error": str(error)}})
print(json.dumps(answers))
"#
    );
    serde_json::from_str(&python::run(&python::site("adbc"), &script)).unwrap()
}

fn token(org: &str, bots: &[&str], scopes: &[Scope]) -> String {
    let mut claims = TokenClaims::new(org, 3600);
    claims.bots = bots.iter().map(|b| b.to_string()).collect();
    claims.scopes = scopes.to_vec();
    mint(&claims)
}

/// Statements that try to reach rows beyond a grant; each answers `org_id, bot_id` pairs.
const CRAFTED: [&str; 9] = [
    "SELECT DISTINCT org_id, bot_id FROM events",
    "SELECT DISTINCT org_id, bot_id FROM messages",
    "SELECT org_id, bot_id FROM conversations UNION SELECT org_id, bot_id FROM messages",
    "SELECT DISTINCT m.org_id, c.bot_id FROM messages m JOIN conversation_versions c \
     ON m.session_code = c.session_code",
    "SELECT org_id, bot_id FROM (SELECT * FROM events WHERE 1 = 1 OR org_id <> '') GROUP BY 1, 2",
    "SELECT DISTINCT org_id, bot_id FROM rollups",
    "SELECT DISTINCT org_id, bot_id FROM channels",
    "SELECT org_id, bot_id FROM events WHERE org_id IN (SELECT org_id FROM events) GROUP BY 1, 2",
    "WITH everything AS (SELECT * FROM messages) SELECT DISTINCT org_id, bot_id FROM everything",
];

#[tokio::test(flavor = "multi_thread")]
async fn adbc_reads_only_the_granted_rows() {
    let (data, _, bot, _) = generated_in(DataDir::new(), 5, 10).await;
    let bot = bot.unwrap();
    // Another organization's bot with the same UUID.
    let other = in_tenant(
        message(1, "s-other", "2024-03-18T10:00:00Z"),
        OTHER_ORG,
        &bot.env_id,
        &bot.bot_id,
    );
    let file = data.file("other.jsonl", &jsonl(&[other]));
    run_ok(talkhouse(&data).arg("ingest").arg(&file));
    let server = RunningServer::start_with(hs256_config(), data.table().await).await;
    let address = server.address.to_string();

    // An admin sees every organization, as `talkhouse sql` does.
    let admin = token(&bot.org_id, &["*"], &[Scope::Admin]);
    let query = "SELECT org_id, bot_id, count(*) AS n FROM messages GROUP BY 1, 2 ORDER BY 1, 2";
    let answers = adbc(&address, &admin, &[query, GET_OBJECTS]);
    let rows: Vec<String> = answers[0]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("{answers:?}"))
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    assert_eq!(rows, sql_rows(&data, query));
    assert!(rows.iter().any(|r| r.starts_with(OTHER_ORG)), "{rows:?}");
    // Every table and view, with its columns, under talkhouse.public.
    let tables: Vec<String> = answers[1]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("{answers:?}"))
        .iter()
        .map(|row| {
            assert_eq!(row[0], "talkhouse");
            assert_eq!(row[1], "public");
            assert_ne!(row[3], "0", "{row}");
            row[2].as_str().unwrap().to_string()
        })
        .collect();
    for table in [
        "events",
        "messages",
        "conversations",
        "conversation_versions",
        "channels",
    ] {
        assert!(tables.contains(&table.to_string()), "{table} in {tables:?}");
    }

    // A token for one bot: every statement answers that bot's rows only.
    let one_bot = token(&bot.org_id, &[&bot.bot_id], &[Scope::Sql]);
    let answers = adbc(&address, &one_bot, &CRAFTED);
    for (statement, answer) in CRAFTED.iter().zip(&answers) {
        let rows = answer["rows"]
            .as_array()
            .unwrap_or_else(|| panic!("{statement}: {answer}"));
        assert!(!rows.is_empty(), "{statement}: no rows at all");
        for row in rows {
            assert_eq!(
                row,
                &json!([bot.org_id, bot.bot_id]),
                "{statement} reached another tenant's rows"
            );
        }
    }
    // A prepared statement binds its parameters within the grant too.
    let count = "SELECT count(*) FROM messages WHERE org_id = $1 AND bot_id = $2";
    let answers = adbc_with(
        &address,
        &one_bot,
        &[
            json!([count, bot.org_id, bot.bot_id]),
            json!([count, OTHER_ORG, bot.bot_id]),
        ],
    );
    let granted: u64 = answers[0]["rows"][0][0].as_str().unwrap().parse().unwrap();
    assert!(granted > 0, "{answers:?}");
    assert_eq!(answers[1]["rows"], json!([["0"]]), "{answers:?}");

    // Nor by writing, defining or reading files, and EXPLAIN shows the restriction.
    let escapes = [
        "CREATE EXTERNAL TABLE stolen STORED AS PARQUET LOCATION '/'",
        "INSERT INTO events SELECT * FROM events",
        "SET datafusion.execution.batch_size = 1",
        "SELECT * FROM '/etc/passwd'",
    ];
    for (statement, answer) in escapes.iter().zip(adbc(&address, &one_bot, &escapes)) {
        let error = answer["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{statement} was served: {answer}"));
        assert!(!error.is_empty(), "{statement}");
    }
    let explain = adbc(
        &address,
        &one_bot,
        &["EXPLAIN SELECT count(*) FROM messages"],
    );
    assert!(
        explain[0].to_string().contains(&bot.bot_id),
        "the plan names the granted bot: {explain:?}"
    );

    // Without the scope, refused.
    let read_only = token(&bot.org_id, &["*"], &[Scope::Read, Scope::Report]);
    let answers = adbc(&address, &read_only, &["SELECT 1"]);
    let error = answers[0]["error"].as_str().expect("refused");
    assert!(error.contains("scope `sql`"), "{error}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_over_budget_query_is_refused_and_the_server_goes_on() {
    let (_data, table, bot, _) = generated_in(DataDir::new(), 5, 10).await;
    let bot = bot.unwrap();
    let mut config: ServerConfig = hs256_config();
    config.query_memory_limit = Some(256 * 1024);
    let server = RunningServer::start_with(config, table).await;
    let sql = token(&bot.org_id, &["*"], &[Scope::Sql]);
    let answers = adbc(
        &server.address.to_string(),
        &sql,
        &[
            "SELECT array_agg(m1.text || m2.text) FROM messages m1 CROSS JOIN messages m2",
            "SELECT count(*) FROM messages",
        ],
    );
    let error = answers[0]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{answers:?}"));
    // ADBC names the gRPC code in its message: `(ResourceExhausted; DoGet: …)`.
    assert!(error.contains("(ResourceExhausted;"), "{error}");
    assert!(error.contains("more memory"), "{error}");
    let count: u64 = answers[1]["rows"][0][0].as_str().unwrap().parse().unwrap();
    assert!(count > 0);
    // The dashboard answers as before.
    let mut clients = Clients::connect(&server).await;
    let summary = clients
        .dashboard
        .get_summary(crate::auth::authed(
            v1::GetSummaryRequest {
                bot: Some(bot.clone()),
            },
            Some(&token(&bot.org_id, &["*"], &[Scope::Read])),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(summary.has_data);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn talkhouse_sql_on_a_server_answers_as_on_the_table_in_every_format() {
    let (data, table, bot, _) = generated_in(DataDir::new(), 5, 10).await;
    let bot = bot.unwrap();
    let server = RunningServer::start_with(hs256_config(), table).await;
    let url = format!("http://{}", server.address);
    let admin = token(&bot.org_id, &["*"], &[Scope::Admin]);
    let query = "SELECT bot_id, count(*) AS n, min(sent_at) AS first FROM messages \
                 GROUP BY bot_id ORDER BY bot_id";
    // With --server, --data is not read: here it is an empty folder.
    let empty = DataDir::new();
    let remote = |format: &str| {
        let mut command = talkhouse(&empty);
        command.args(["sql", "--server", &url]);
        command.args(["--token", &admin, "--format", format, "-c", query]);
        command
    };
    for format in ["csv", "json", "table"] {
        let local = run_ok(talkhouse(&data).args(["sql", "--format", format, "-c", query]));
        assert_eq!(run_ok(&mut remote(format)), local, "--format {format}");
    }
    let file = data.path().join("answer.parquet");
    run_ok(remote("parquet").arg("--output").arg(&file));
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&file).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    let rows: usize = reader.map(|batch| batch.unwrap().num_rows()).sum();
    assert_eq!(rows, sql_rows(&data, query).len());

    // The shell, over the server, with a token for one bot: its rows only.
    let one_bot = token(&bot.org_id, &[&bot.bot_id], &[Scope::Sql]);
    let token_file = data.file("token.txt", &format!("{one_bot}\n"));
    let out = run_with_stdin(
        talkhouse(&data)
            .args(["sql", "--server", &url, "--interactive", "--format", "csv"])
            .arg("--token-file")
            .arg(&token_file),
        b"SELECT DISTINCT bot_id FROM messages;\n\\q\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("bot_id\n{}\n", bot.bot_id)),
        "{stdout}"
    );

    // A refusal is the server's, in its words, and fails the command.
    let refused = run_fails(
        talkhouse(&data)
            .args(["sql", "--server", &url, "--token", &one_bot])
            .args(["-c", "DROP TABLE events"]),
    );
    assert!(refused.contains("the server refused"), "{refused}");
    assert!(refused.contains("only queries are served"), "{refused}");
    let without_token =
        run_fails(talkhouse(&data).args(["sql", "--server", &url, "-c", "SELECT 1"]));
    assert!(
        without_token.contains("the server refused"),
        "{without_token}"
    );
    server.stop().await;
}
