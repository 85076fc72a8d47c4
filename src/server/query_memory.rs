//! One client query's share of the server's memory pool: every reservation counts against both
//! the query's own limit and the process-wide pool, so one query cannot take all the memory the
//! others need. Operators that can spill do so when either says no; others fail with a
//! ResourcesExhausted error naming the per-query limit.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::common::{Result, resources_datafusion_err};
use datafusion::execution::memory_pool::{
    MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};

#[derive(Debug)]
pub struct QueryMemoryPool {
    parent: Arc<dyn MemoryPool>,
    limit: usize,
    used: AtomicUsize,
}

impl QueryMemoryPool {
    pub fn new(parent: Arc<dyn MemoryPool>, limit: usize) -> Self {
        Self {
            parent,
            limit,
            used: AtomicUsize::new(0),
        }
    }
}

impl fmt::Display for QueryMemoryPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "query pool (used {} of {} bytes) in {}",
            self.used.load(Ordering::Relaxed),
            self.limit,
            self.parent
        )
    }
}

impl MemoryPool for QueryMemoryPool {
    fn name(&self) -> &str {
        "query"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        self.parent.register(consumer);
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.parent.unregister(consumer);
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.used.fetch_add(additional, Ordering::Relaxed);
        self.parent.grow(reservation, additional);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.used.fetch_sub(shrink, Ordering::Relaxed);
        self.parent.shrink(reservation, shrink);
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                let new = used + additional;
                (new <= self.limit).then_some(new)
            })
            .map_err(|used| {
                resources_datafusion_err!(
                    "the query needs more than its memory limit of {} MiB ({} wanted {} more bytes with {} in use); add filters or aggregate more, or ask for a larger --query-memory-limit",
                    self.limit >> 20,
                    reservation.consumer().name(),
                    additional,
                    used
                )
            })?;
        if let Err(e) = self.parent.try_grow(reservation, additional) {
            self.used.fetch_sub(additional, Ordering::Relaxed);
            return Err(e);
        }
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.limit)
    }
}

#[cfg(test)]
mod tests {
    use datafusion::execution::memory_pool::GreedyMemoryPool;

    use super::*;

    #[test]
    fn both_limits_hold_and_freed_memory_returns_to_both() {
        let parent: Arc<dyn MemoryPool> = Arc::new(GreedyMemoryPool::new(1000));
        let a: Arc<dyn MemoryPool> = Arc::new(QueryMemoryPool::new(parent.clone(), 600));
        let b: Arc<dyn MemoryPool> = Arc::new(QueryMemoryPool::new(parent.clone(), 600));
        let ra = MemoryConsumer::new("sort").register(&a);
        let rb = MemoryConsumer::new("join").register(&b);
        ra.try_grow(500).unwrap();
        let over = ra.try_grow(200).unwrap_err().to_string();
        assert!(over.contains("memory limit of 0 MiB"), "{over}");
        assert_eq!((a.reserved(), parent.reserved()), (500, 500));
        // b is under its own limit but the process pool has only 500 left.
        assert!(rb.try_grow(550).is_err());
        assert_eq!((b.reserved(), parent.reserved()), (0, 500));
        rb.try_grow(400).unwrap();
        drop(ra);
        assert_eq!((a.reserved(), parent.reserved()), (0, 400));
    }
}
