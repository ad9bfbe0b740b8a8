//! The writer's work on a large batch, shared out to the machine's cores.

/// Batches of fewer events are worked on in the calling thread alone: starting threads would cost
/// more than they save.
const PARALLEL_EVENTS: usize = 10_000;

/// The machine's cores (one when unknown).
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The number of parts to cut `events` events into: one per core for a large batch, else one.
fn parts(events: usize) -> usize {
    match events < PARALLEL_EVENTS {
        true => 1,
        false => cores(),
    }
}

/// `work` on each of one part per core of a large batch's `items`, on a thread each, the results
/// in order; on all of a small batch's items in the calling thread.
pub(crate) fn in_parts<T: Sync, R: Send>(items: &[T], work: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    let parts = parts(items.len());
    if parts == 1 {
        return vec![work(items)];
    }
    let work = &work;
    std::thread::scope(|scope| {
        let parts: Vec<_> = items
            .chunks(items.len().div_ceil(parts))
            .map(|part| scope.spawn(move || work(part)))
            .collect();
        parts
            .into_iter()
            .map(|part| part.join().expect("a writer's thread does not panic"))
            .collect()
    })
}

/// `a()` on another thread while `b()` runs on this one for a batch of `events` events; one after
/// the other for a small batch.
pub(crate) fn join<A: Send, B>(
    events: usize,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B,
) -> (A, B) {
    if parts(events) == 1 {
        let a = a();
        return (a, b());
    }
    std::thread::scope(|scope| {
        let a = scope.spawn(a);
        let b = b();
        (a.join().expect("a writer's thread does not panic"), b)
    })
}
