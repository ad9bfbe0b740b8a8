//! A request's own memory pool.

use std::num::NonZeroUsize;
use std::sync::Arc;

use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::Result;

/// A request's memory pool, and the session settings that fit it; built once per request.
pub(crate) struct MemoryBudget {
    pub(crate) runtime: Arc<RuntimeEnv>,
    pub(crate) config: SessionConfig,
}

impl MemoryBudget {
    pub(crate) fn new(ctx: &SessionContext, bytes: usize) -> Result<Self> {
        let pool = TrackConsumersPool::new(
            FairSpillPool::new(bytes),
            NonZeroUsize::new(3).expect("3 is not zero"),
        );
        let runtime = RuntimeEnvBuilder::from_runtime_env(&ctx.runtime_env())
            .with_memory_pool(Arc::new(pool))
            .build_arc()?;
        // A sort sets this much aside per partition for merging its spills; with a small budget
        // the default (10 MB) alone would exhaust it.
        let mut config = ctx.copied_config();
        let execution = &mut config.options_mut().execution;
        execution.sort_spill_reservation_bytes =
            execution.sort_spill_reservation_bytes.min(bytes / 16);
        Ok(Self { runtime, config })
    }
}
