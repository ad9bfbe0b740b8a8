//! The rows of one kind that each live file holds of a bot, read once per process.
//!
//! Data files never change once written, so a snapshot's rows are those of its live files: a new
//! snapshot reads only the files its commits added, and the rows of files no longer live are
//! dropped. Channels and users are numbered per bot, so rows are small and copyable. The rows are
//! summed per key (see [`bucketed`]); the sums of the last snapshot asked for are kept, and the
//! next snapshot's are merged from them and the rows of the files added (plus) and removed
//! (minus) in between, so a commit costs a pass over the sums instead of a sort of every row.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use datafusion::prelude::Expr;
use object_store::path::Path;
use talkhouse_core::Tenant;

use super::bucketed::{self, Bucketed};
use super::numbers::{Numbers, internal};
use super::snapshot_cache::SnapshotCache;
use super::source::Source;
use crate::Result;

/// A row of a file of kind [`FileRow::KIND`], as kept in memory.
pub(super) trait FileRow: Sized + Send + Sync + 'static {
    const KIND: &'static str;
    /// The columns [`FileRow::read`] expects, in order.
    fn columns() -> Vec<Expr>;
    fn read(batch: &RecordBatch, numbers: &mut Numbers, rows: &mut Vec<Self>) -> Result<()>;
}

/// The rows of every live file read so far, per bot, within a memory budget: the bots asked about
/// longest ago are forgotten first, and read again when next asked about.
pub(super) struct FileRows<R> {
    bots: Mutex<Bots<R>>,
    budget_bytes: usize,
    /// Bots forgotten to make room, so far.
    evictions: std::sync::atomic::AtomicU64,
}

struct Bots<R> {
    by_tenant: HashMap<Tenant, BotFiles<R>>,
    /// Counts the requests, to tell which bot was asked about last.
    clock: u64,
}

struct BotFiles<R> {
    numbers: Numbers,
    files: HashMap<Path, Arc<Vec<R>>>,
    /// The sums of the last set of live files asked for.
    last: Option<(HashSet<Path>, Arc<Vec<R>>)>,
    /// The clock when the bot was last asked about.
    used: u64,
    /// The clock when this entry was made: a forgotten bot comes back as another.
    generation: u64,
}

impl<R> BotFiles<R> {
    /// About what the bot's rows, sums and user ids hold in memory.
    fn bytes(&self) -> usize {
        let rows: usize = self.files.values().map(|rows| rows.len()).sum();
        let sums = self.last.as_ref().map_or(0, |(_, sums)| sums.len());
        (rows + sums) * std::mem::size_of::<R>() + self.numbers.bytes() + 1024
    }
}

impl<R> Bots<R> {
    /// Forgets the bots asked about longest ago, but never `current`, until the rest fit.
    fn evict_beyond(&mut self, budget_bytes: usize, current: Tenant) -> Vec<Tenant> {
        let mut total: usize = self.by_tenant.values().map(BotFiles::bytes).sum();
        let mut evicted = Vec::new();
        while total > budget_bytes {
            let oldest = self
                .by_tenant
                .iter()
                .filter(|(tenant, _)| **tenant != current)
                .min_by_key(|(_, bot)| bot.used)
                .map(|(tenant, bot)| (*tenant, bot.bytes()));
            let Some((tenant, bytes)) = oldest else { break };
            self.by_tenant.remove(&tenant);
            total -= bytes;
            evicted.push(tenant);
        }
        evicted
    }
}

/// The rows of a snapshot's live files of one bot summed per key, its channel uuids by number,
/// and how many users it has numbered so far.
pub(super) struct LiveRows<R> {
    pub entries: Arc<Vec<R>>,
    pub channels: Vec<String>,
    pub users: usize,
}

impl<R: FileRow + Bucketed> FileRows<R> {
    fn new(budget_bytes: usize) -> Self {
        Self {
            bots: Mutex::new(Bots {
                by_tenant: HashMap::new(),
                clock: 0,
            }),
            budget_bytes,
            evictions: Default::default(),
        }
    }

    /// About the memory the rows hold now, and the bots forgotten so far.
    fn held(&self) -> (usize, u64) {
        let bots = self.bots.lock().expect("not poisoned");
        let bytes = bots.by_tenant.values().map(BotFiles::bytes).sum();
        let evictions = self.evictions.load(std::sync::atomic::Ordering::Relaxed);
        (bytes, evictions)
    }

    /// The rows of the source's bot in its snapshot, and the bots forgotten to make room for
    /// them; `None` when the snapshot is not read file by file.
    pub async fn live(
        &self,
        source: &mut impl Source,
    ) -> Result<Option<(LiveRows<R>, Vec<Tenant>)>> {
        let tenant = source.tenant();
        let Some(files) = source.snapshot().files_of_bot(&tenant.bot_id.to_string()) else {
            return Ok(None);
        };
        let live: HashSet<Path> = files
            .into_iter()
            .filter(|(_, kind)| kind == R::KIND)
            .map(|(location, _)| location)
            .collect();
        // Another request may drop rows this one needs while it reads: it reads them again.
        let (inputs, channels, users, generation) = loop {
            let unread: Vec<Path> = {
                let mut bots = self.bots.lock().expect("not poisoned");
                let bot = bots.bot(tenant);
                let unread: Vec<Path> = live
                    .iter()
                    .filter(|location| !bot.files.contains_key(*location))
                    .cloned()
                    .collect();
                if unread.is_empty() {
                    break (
                        bot.inputs(&live),
                        bot.numbers.channels().to_vec(),
                        bot.numbers.user_count(),
                        bot.generation,
                    );
                }
                unread
            };
            let mut plans = Vec::with_capacity(unread.len());
            for location in &unread {
                let rows = source
                    .file_rows(location)?
                    .ok_or_else(|| internal("a live file outside the snapshot's file list"))?;
                plans.push(rows.select(R::columns())?);
            }
            let answers = source.collect_each(plans).await?;
            let mut bots = self.bots.lock().expect("not poisoned");
            let bot = bots.bot(tenant);
            for (location, batches) in unread.into_iter().zip(answers) {
                let mut rows = Vec::new();
                for batch in &batches {
                    R::read(batch, &mut bot.numbers, &mut rows)?;
                }
                rows.shrink_to_fit();
                bot.files.insert(location, Arc::new(rows));
            }
        };
        let entries = inputs.sums(&live);
        let mut bots = self.bots.lock().expect("not poisoned");
        // A bot forgotten meanwhile numbers its users anew: these sums are not its.
        if let Some(bot) = bots
            .by_tenant
            .get_mut(&tenant)
            .filter(|bot| bot.generation == generation)
        {
            bot.files.retain(|location, _| live.contains(location));
            bot.last = Some((live, entries.clone()));
        }
        let evicted = bots.evict_beyond(self.budget_bytes, tenant);
        self.evictions
            .fetch_add(evicted.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let rows = LiveRows {
            entries,
            channels,
            users,
        };
        Ok(Some((rows, evicted)))
    }
}

impl<R> Bots<R> {
    /// The bot's rows, marked as asked about now.
    fn bot(&mut self, tenant: Tenant) -> &mut BotFiles<R> {
        self.clock += 1;
        let clock = self.clock;
        let bot = self.by_tenant.entry(tenant).or_insert_with(|| BotFiles {
            numbers: Numbers::default(),
            files: HashMap::new(),
            last: None,
            used: clock,
            generation: clock,
        });
        bot.used = clock;
        bot
    }
}

impl<R> BotFiles<R> {
    /// What summing the `live` files needs, every one of which has its rows read.
    fn inputs(&self, live: &HashSet<Path>) -> SumInputs<R> {
        let last = self
            .last
            .clone()
            .filter(|(files, _)| files.iter().all(|f| self.files.contains_key(f)));
        let wanted = live.iter().chain(last.iter().flat_map(|(files, _)| files));
        SumInputs {
            rows: wanted
                .filter_map(|f| Some((f.clone(), self.files.get(f)?.clone())))
                .collect(),
            last,
        }
    }
}

/// The last sums, when all of their files' rows are known, and the rows of every file needed.
struct SumInputs<R> {
    last: Option<(HashSet<Path>, Arc<Vec<R>>)>,
    rows: HashMap<Path, Arc<Vec<R>>>,
}

impl<R: Bucketed> SumInputs<R> {
    /// The rows of the `live` files summed: merged from the last sums where those are known.
    fn sums(&self, live: &HashSet<Path>) -> Arc<Vec<R>> {
        let rows_of = |location: &Path| self.rows.get(location).into_iter().flat_map(|r| r.iter());
        match &self.last {
            Some((files, sums)) if files == live => sums.clone(),
            Some((files, sums)) => {
                let added = live.difference(files).flat_map(rows_of).copied();
                let removed = files.difference(live).flat_map(rows_of).map(R::negated);
                Arc::new(bucketed::merged(sums, added.chain(removed).collect()))
            }
            None => {
                let all = live.iter().flat_map(rows_of).copied().collect();
                Arc::new(bucketed::merged(&[], all))
            }
        }
    }
}

/// An index built from the summed rows of a bot's live files, per (snapshot, bot); a snapshot in
/// which the bot's files did not change shares the last index built for it.
pub(super) struct IndexCache<R, I> {
    files: FileRows<R>,
    built: SnapshotCache<Arc<I>>,
    last: Mutex<HashMap<Tenant, LastBuilt<R, I>>>,
    build: fn(LiveRows<R>) -> I,
}

/// A bot's last index built, and the sums it was built from.
type LastBuilt<R, I> = (Arc<Vec<R>>, Arc<I>);

impl<R: FileRow + Bucketed, I> IndexCache<R, I> {
    /// `budget_bytes` bounds the rows kept across bots (the indexes built from them are
    /// shared or about as large).
    pub fn new(build: fn(LiveRows<R>) -> I, budget_bytes: usize) -> Self {
        Self {
            files: FileRows::new(budget_bytes),
            built: SnapshotCache::new(),
            last: Mutex::new(HashMap::new()),
            build,
        }
    }

    /// About the memory its rows hold now, and the bots forgotten so far.
    pub fn held(&self) -> (usize, u64) {
        self.files.held()
    }

    /// The index of the source's bot and snapshot; `None` when the snapshot is not read file by
    /// file.
    pub async fn get(&self, source: &mut impl Source) -> Result<Option<Arc<I>>> {
        let (version, tenant) = (source.snapshot().version, source.tenant());
        if let Some(known) = self.built.get(version, tenant) {
            return Ok(Some(known));
        }
        let Some((live, evicted)) = self.files.live(source).await? else {
            return Ok(None);
        };
        for tenant in &evicted {
            self.built.forget(*tenant);
        }
        let unchanged = {
            let mut last = self.last.lock().expect("not poisoned");
            for tenant in &evicted {
                last.remove(tenant);
            }
            // The same sums (not merely equal ones): the same files, numbered the same way.
            last.get(&tenant)
                .filter(|(entries, _)| Arc::ptr_eq(entries, &live.entries))
                .map(|(_, index)| index.clone())
        };
        let index = match unchanged {
            Some(index) => index,
            None => {
                let entries = live.entries.clone();
                let index = Arc::new((self.build)(live));
                let mut last = self.last.lock().expect("not poisoned");
                last.insert(tenant, (entries, index.clone()));
                index
            }
        };
        self.built.insert(version, tenant, index.clone());
        Ok(Some(index))
    }
}
