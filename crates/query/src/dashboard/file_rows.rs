//! The rows of one kind that each live file holds of a bot, read once per process.
//!
//! Data files never change once written, so a snapshot's rows are those of its live files: a new
//! snapshot reads only the files its commits added, and the rows of files no longer live are
//! dropped. Channels and users are numbered per bot, so rows are small and copyable.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use datafusion::prelude::{DataFrame, Expr};
use object_store::path::Path;
use talkhouse_core::Tenant;

use super::{Run, predicates};
use crate::{Error, Result};

/// Files whose rows are read at the same time.
pub(super) const FILES_AT_ONCE: usize = 4;

/// A row of a file of kind [`FileRow::KIND`], as kept in memory.
pub(super) trait FileRow: Sized + Send + Sync + 'static {
    const KIND: &'static str;
    /// The columns [`FileRow::read`] expects, in order.
    fn columns() -> Vec<Expr>;
    fn read(batch: &RecordBatch, numbers: &mut Numbers, rows: &mut Vec<Self>) -> Result<()>;
}

/// A bot's channels and users by number.
#[derive(Debug, Default, Clone)]
pub(super) struct Numbers {
    /// Channel uuids by number.
    pub channels: Vec<String>,
    channel_numbers: HashMap<String, u16>,
    users: HashMap<Box<str>, u32>,
}

impl Numbers {
    pub fn channel(&mut self, uuid: &str) -> Result<u16> {
        if let Some(number) = self.channel_numbers.get(uuid) {
            return Ok(*number);
        }
        let number = u16::try_from(self.channels.len())
            .map_err(|_| internal("more than 65,536 channels in one bot"))?;
        self.channels.push(uuid.to_string());
        self.channel_numbers.insert(uuid.to_string(), number);
        Ok(number)
    }

    pub fn user(&mut self, user_id: &str) -> Result<u32> {
        if let Some(number) = self.users.get(user_id) {
            return Ok(*number);
        }
        let number = u32::try_from(self.users.len())
            .map_err(|_| internal("more than 2^32 users in one bot"))?;
        self.users.insert(user_id.into(), number);
        Ok(number)
    }

    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// A copy without the users, which can be many.
    fn channels_only(&self) -> Self {
        Self {
            channels: self.channels.clone(),
            channel_numbers: self.channel_numbers.clone(),
            users: HashMap::new(),
        }
    }
}

fn internal(message: &str) -> Error {
    Error::Query(datafusion::error::DataFusionError::Internal(
        message.to_string(),
    ))
}

/// The rows of every live file read so far, per bot.
pub(super) struct FileRows<R> {
    bots: Mutex<HashMap<Tenant, BotFiles<R>>>,
}

impl<R> Default for FileRows<R> {
    fn default() -> Self {
        Self {
            bots: Mutex::default(),
        }
    }
}

struct BotFiles<R> {
    numbers: Numbers,
    files: HashMap<Path, Arc<Vec<R>>>,
}

/// The rows of a snapshot's live files of one bot, and its numbers (channels, and the count of
/// users numbered so far).
pub(super) struct LiveRows<R> {
    pub files: Vec<Arc<Vec<R>>>,
    pub numbers: Numbers,
    pub users: usize,
}

impl<R: FileRow> FileRows<R> {
    /// The rows of the run's bot in the run's snapshot; `None` when the snapshot is not read file
    /// by file.
    pub async fn live(&self, run: &mut Run) -> Result<Option<LiveRows<R>>> {
        let Some(files) = run.snapshot.files_of_bot(&run.tenant.bot_id.to_string()) else {
            return Ok(None);
        };
        let live: Vec<Path> = files
            .into_iter()
            .filter(|(_, kind)| kind == R::KIND)
            .map(|(location, _)| location)
            .collect();
        let unread: Vec<Path> = {
            let bots = self.bots.lock().expect("not poisoned");
            let known = bots.get(&run.tenant);
            live.iter()
                .filter(|location| known.is_none_or(|bot| !bot.files.contains_key(*location)))
                .cloned()
                .collect()
        };
        let mut plans = Vec::with_capacity(unread.len());
        for location in &unread {
            plans.push(file_plan(run, location, R::columns())?);
        }
        let answers = run.collect_few_at_a_time(plans).await?;
        let mut bots = self.bots.lock().expect("not poisoned");
        if bots.len() > 10_000 && !bots.contains_key(&run.tenant) {
            bots.clear();
        }
        let bot = bots.entry(run.tenant).or_insert_with(|| BotFiles {
            numbers: Numbers::default(),
            files: HashMap::new(),
        });
        for (location, batches) in unread.into_iter().zip(answers) {
            let mut rows = Vec::new();
            for batch in &batches {
                R::read(batch, &mut bot.numbers, &mut rows)?;
            }
            bot.files.insert(location, Arc::new(rows));
        }
        let live: HashSet<&Path> = live.iter().collect();
        bot.files.retain(|location, _| live.contains(location));
        Ok(Some(LiveRows {
            files: bot.files.values().cloned().collect(),
            numbers: bot.numbers.channels_only(),
            users: bot.numbers.user_count(),
        }))
    }
}

/// The plan that reads `columns` of the run's bot from the one file at `location`.
fn file_plan(run: &Run, location: &Path, columns: Vec<Expr>) -> Result<DataFrame> {
    let table = run
        .snapshot
        .file_table(location)
        .ok_or_else(|| internal("a live file outside the snapshot's file list"))??;
    Ok(run
        .ctx
        .read_table(table)?
        .filter(predicates::tenant(&run.tenant))?
        .select(columns)?)
}
