//! SQL behaviour in sqllogictest files (`tests/slt/*.slt`), run against our own session over the
//! checked-in fixture `tests/fixtures/small.jsonl`.
//!
//! Regenerate expected results with `TALKHOUSE_SLT_COMPLETE=1 cargo nextest run slt`, never by hand.

use std::path::PathBuf;

use arrow::array::RecordBatch;
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::SessionContext;
use sqllogictest::{DBOutput, DefaultColumnType};
use talkhouse_query::QueryEngine;

use super::support::{DataDir, repository};

struct Talkhouse {
    ctx: SessionContext,
}

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct SltError(#[from] datafusion::error::DataFusionError);

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for Talkhouse {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let frame = self.ctx.sql(sql).await?;
        let schema = frame.schema().as_arrow().clone();
        let batches = frame.collect().await?;
        if schema.fields().is_empty() {
            return Ok(DBOutput::StatementComplete(0));
        }
        let types = schema
            .fields()
            .iter()
            .map(|f| column_type(f.data_type()))
            .collect();
        Ok(DBOutput::Rows {
            types,
            rows: rows(&batches)?,
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "talkhouse"
    }
}

fn column_type(data_type: &DataType) -> DefaultColumnType {
    if data_type.is_integer() {
        DefaultColumnType::Integer
    } else if data_type.is_floating() {
        DefaultColumnType::FloatingPoint
    } else {
        DefaultColumnType::Text
    }
}

fn rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, SltError> {
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(datafusion::error::DataFusionError::from)?;
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|f| {
                        let text = f.value(row).to_string();
                        if text.is_empty() {
                            "(empty)".to_string()
                        } else {
                            text
                        }
                    })
                    .collect(),
            );
        }
    }
    Ok(rows)
}

#[tokio::test]
async fn sqllogictest_files() {
    let data = DataDir::new();
    let table = data.table().await;
    let fixture = std::fs::read_to_string(repository().join("tests/fixtures/small.jsonl")).unwrap();
    let events = talkhouse_core::ingest::parse_jsonl(&fixture, 1).expect("the fixture is valid");
    table.write(events, None).await.unwrap();
    let session = QueryEngine::new(table).session().await.unwrap();

    let mut files: Vec<PathBuf> = std::fs::read_dir(repository().join("tests/slt"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files found");
    let complete = std::env::var_os("TALKHOUSE_SLT_COMPLETE").is_some();
    for file in files {
        let ctx = session.ctx.clone();
        let mut runner = sqllogictest::Runner::new(move || {
            let ctx = ctx.clone();
            async move { Ok::<_, SltError>(Talkhouse { ctx }) }
        });
        if complete {
            runner
                .update_test_file(
                    &file,
                    " ",
                    sqllogictest::default_validator,
                    sqllogictest::default_normalizer,
                    sqllogictest::default_column_validator,
                )
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        } else {
            runner
                .run_file_async(&file)
                .await
                .unwrap_or_else(|e| panic!("{}: {}", file.display(), e.display(false)));
        }
    }
}
