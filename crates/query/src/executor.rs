//! A runtime of its own for the work of query plans (InfluxDB 3's dedicated executor): DataFusion
//! plans are planned and run on its threads. The runtime that accepts requests, checks tokens,
//! answers health checks and computes index answers is never queued behind a scan: the operating
//! system shares the cores between the two sets of threads, and the request runtime's threads,
//! mostly idle, get a core as soon as they have work (decision 31).

use std::future::Future;
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream, execute_stream};
use futures::StreamExt;
use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinHandle;

/// The query threads, shared by every request of a server.
#[derive(Clone)]
pub struct QueryExecutor {
    handle: Handle,
    _runtime: Arc<OwnedRuntime>,
}

/// Shuts its runtime down without waiting, as a runtime may not be dropped inside another.
struct OwnedRuntime(Mutex<Option<Runtime>>);

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.lock().ok().and_then(|mut r| r.take()) {
            runtime.shutdown_background();
        }
    }
}

impl QueryExecutor {
    /// A runtime with `threads` worker threads (at least one).
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("talkhouse-query")
            .enable_all()
            .build()?;
        Ok(Self {
            handle: runtime.handle().clone(),
            _runtime: Arc::new(OwnedRuntime(Mutex::new(Some(runtime)))),
        })
    }

    /// One worker thread per core.
    pub fn per_core() -> std::io::Result<Self> {
        Self::new(std::thread::available_parallelism().map_or(2, usize::from))
    }

    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs `work` on the query threads; dropping the returned handle cancels it.
    fn spawn<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> AbortOnDrop<T> {
        AbortOnDrop(self.handle.spawn(work))
    }

    /// The batches of `plan`, executed on the query threads (where its operators spawn their
    /// tasks too) and handed over two at a time. Dropping the returned stream cancels the work.
    pub fn stream(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        task: Arc<TaskContext>,
    ) -> SendableRecordBatchStream {
        let schema = plan.schema();
        let (sender, receiver) =
            tokio::sync::mpsc::channel::<Result<RecordBatch, DataFusionError>>(2);
        let task = self.spawn(async move {
            let mut stream = match execute_stream(plan, task) {
                Ok(stream) => stream,
                Err(error) => {
                    let _ = sender.send(Err(error)).await;
                    return;
                }
            };
            while let Some(batch) = stream.next().await {
                if sender.send(batch).await.is_err() {
                    return;
                }
            }
        });
        let batches =
            futures::stream::unfold((receiver, task), |(mut receiver, task)| async move {
                let batch = receiver.recv().await?;
                Some((batch, (receiver, task)))
            });
        Box::pin(RecordBatchStreamAdapter::new(schema, batches))
    }
}

/// A task that is aborted when its handle is dropped.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends on `0` when dropped.
    struct Dropped(Option<tokio::sync::oneshot::Sender<()>>);

    impl Drop for Dropped {
        fn drop(&mut self) {
            if let Some(sender) = self.0.take() {
                let _ = sender.send(());
            }
        }
    }

    #[tokio::test]
    async fn work_runs_on_the_query_threads_and_is_cancelled_with_its_handle() {
        let executor = QueryExecutor::new(1).unwrap();
        let mut task = executor.spawn(async { std::thread::current().name().map(str::to_string) });
        let thread = (&mut task.0).await.unwrap();
        assert_eq!(thread.as_deref(), Some("talkhouse-query"));

        let (running, is_running) = tokio::sync::oneshot::channel::<()>();
        let (dropped, is_dropped) = tokio::sync::oneshot::channel::<()>();
        let work = executor.spawn(async move {
            let _dropped = Dropped(Some(dropped));
            let _ = running.send(());
            std::future::pending::<()>().await;
        });
        is_running.await.unwrap();
        drop(work);
        is_dropped
            .await
            .expect("the work is dropped with its handle");
    }
}
