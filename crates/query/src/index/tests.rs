//! The wing through its one input: a [`Source`] over a real table written to disk.

use std::sync::Arc;

use arrow::array::RecordBatch;
use chrono::NaiveDate;
use datafusion::prelude::{DataFrame, col, lit};
use object_store::path::Path;
use talkhouse_core::generate::{GenerateConfig, Generator};
use talkhouse_core::measure::Measure;
use talkhouse_core::request::{Checker, Filter, FilterInput, Limits};
use talkhouse_core::{Event, Tenant};
use talkhouse_storage::{DataLocation, EventTable, Snapshot};

use super::{Indexes, Source};
use crate::{QueryEngine, Result, SnapshotSession};

/// A source over one snapshot that counts the files it was asked to read.
struct CountingSource {
    session: SnapshotSession,
    tenant: Tenant,
    files_read: usize,
}

impl Source for CountingSource {
    fn snapshot(&self) -> &Snapshot {
        &self.session.snapshot
    }

    fn tenant(&self) -> Tenant {
        self.tenant
    }

    fn file_rows(&self, location: &Path) -> Result<Option<DataFrame>> {
        let Some(table) = self.session.snapshot.file_table(location) else {
            return Ok(None);
        };
        let t = self.tenant;
        let of_tenant = col("org_id")
            .eq(lit(t.org_id.to_string()))
            .and(col("env_id").eq(lit(t.env_id.to_string())))
            .and(col("bot_id").eq(lit(t.bot_id.to_string())));
        Ok(Some(
            self.session.ctx.read_table(table?)?.filter(of_tenant)?,
        ))
    }

    async fn collect_each(&mut self, plans: Vec<DataFrame>) -> Result<Vec<Vec<RecordBatch>>> {
        self.files_read += plans.len();
        let mut answers = Vec::new();
        for plan in plans {
            answers.push(plan.collect().await?);
        }
        Ok(answers)
    }
}

/// The bot's live rollup files in the source's snapshot.
fn rollup_files(source: &CountingSource) -> std::collections::HashSet<Path> {
    let bot = source.tenant.bot_id.to_string();
    let files = source.session.snapshot.files_of_bot(&bot).unwrap();
    files
        .into_iter()
        .filter(|(_, kind)| kind == talkhouse_storage::schema::KIND_ROLLUP)
        .map(|(location, _)| location)
        .collect()
}

fn generator(days: u32) -> Generator {
    Generator::new(GenerateConfig {
        seed: 5,
        bots: 2,
        days,
        until: NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(),
        conversations_per_day: 20,
    })
}

/// Every day of March 2026 in UTC.
fn march() -> Filter {
    let input = FilterInput {
        start_date: "2026-03-01".into(),
        end_date: "2026-03-31".into(),
        ..Default::default()
    };
    input
        .check("filter", &Limits::default(), &mut Checker::new())
        .expect("a valid filter")
}

async fn conversations_in_sql(session: &SnapshotSession, tenant: Tenant) -> i64 {
    let sql = format!(
        "SELECT count(*) FROM conversations WHERE org_id = '{}' AND env_id = '{}' AND \
         bot_id = '{}' AND started_at >= TIMESTAMP '2026-03-01T00:00:00Z' AND \
         started_at < TIMESTAMP '2026-04-01T00:00:00Z'",
        tenant.org_id, tenant.env_id, tenant.bot_id
    );
    let batches = session
        .ctx
        .sql(&sql)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    crate::columns::int64s(&batches[0], "count(*)").unwrap()[0].unwrap()
}

#[tokio::test]
async fn the_rollup_index_counts_what_the_views_count_and_a_commit_costs_its_new_files_only() {
    let folder = tempfile::tempdir().unwrap();
    let table = Arc::new(
        EventTable::open(&DataLocation::local(folder.path()).unwrap())
            .await
            .unwrap(),
    );
    let days: Vec<Vec<Event>> = generator(10).events().collect();
    let tenant = generator(10).bots()[0].tenant;
    // A commit a day: each adds a rollup file of the bot.
    let (first, last) = days.split_at(days.len() - 1);
    for day in first {
        table.write(day.clone(), None).await.unwrap();
    }
    let engine = QueryEngine::new(table.clone());
    let indexes = Indexes::new(64 * 1024 * 1024);
    let filter = march();
    let periods = filter.window.periods();
    let measures = [Measure::Conversations];

    let mut source = CountingSource {
        session: engine.session().await.unwrap(),
        tenant,
        files_read: 0,
    };
    let index = indexes
        .rollups(&mut source)
        .await
        .unwrap()
        .expect("read file by file");
    let counted: i64 = index
        .sums(&filter, &periods, &measures)
        .values()
        .flatten()
        .sum();
    assert!(counted > 0);
    assert_eq!(counted, conversations_in_sql(&source.session, tenant).await);
    let cold = source.files_read;
    assert_eq!(cold, rollup_files(&source).len());

    // The same snapshot again: nothing read.
    indexes.rollups(&mut source).await.unwrap().unwrap();
    assert_eq!(source.files_read, cold);

    // After one more commit, only the files it added are read.
    let before = rollup_files(&source);
    table.write(last[0].clone(), None).await.unwrap();
    let mut source = CountingSource {
        session: engine.session().await.unwrap(),
        tenant,
        files_read: 0,
    };
    let index = indexes.rollups(&mut source).await.unwrap().unwrap();
    let counted: i64 = index
        .sums(&filter, &periods, &measures)
        .values()
        .flatten()
        .sum();
    assert_eq!(counted, conversations_in_sql(&source.session, tenant).await);
    let added = rollup_files(&source).difference(&before).count();
    assert!(
        added > 0 && added < cold,
        "{added} files added, {cold} before"
    );
    assert_eq!(source.files_read, added);
}
