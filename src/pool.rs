//! The bounded CPU pool: rendering, scans, filter compilation and query work run here, off the
//! async runtime's threads, so that cheap requests (health, cached tiles, styles) are answered
//! while expensive ones wait their turn.
//!
//! At most `workers` jobs run at once (one per core by default); at most `queue` more wait
//! for a worker, and beyond that a job is refused at once ([`PoolError::Overloaded`], a 503
//! with `Retry-After` over HTTP). A job whose caller goes away — the client disconnected, or
//! the request timed out and its future was dropped — has its [`Cancel`] token set, which the
//! render and scan loops check between features, so the core is free again within
//! milliseconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::Semaphore;

use crate::cancel::{Cancel, CancelOnDrop, Cancelled};

/// Why a job did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Every worker is busy and the queue is full.
    #[error("the server is busy: every worker is taken and the queue is full")]
    Overloaded,
    /// The job was cancelled or ran out of time.
    #[error("the work was stopped: its request was cancelled or timed out")]
    Cancelled,
    /// The job panicked (a bug; logged).
    #[error("the work failed")]
    Panicked,
}

impl From<Cancelled> for PoolError {
    fn from(_: Cancelled) -> Self {
        Self::Cancelled
    }
}

/// Counters of the pool, for `/metrics`.
#[derive(Debug, Default)]
pub struct PoolStats {
    /// Jobs finished.
    pub completed: AtomicU64,
    /// Jobs refused because the queue was full.
    pub refused: AtomicU64,
    /// Jobs stopped by cancellation or deadline.
    pub cancelled: AtomicU64,
    /// Jobs waiting for a worker now.
    pub waiting: AtomicUsize,
    /// Jobs running now.
    pub running: AtomicUsize,
}

/// A bounded pool of CPU workers over tokio's blocking threads.
#[derive(Debug, Clone)]
pub struct CpuPool {
    permits: Arc<Semaphore>,
    workers: usize,
    queue: usize,
    stats: Arc<PoolStats>,
}

impl CpuPool {
    /// A pool running `workers` jobs at once with `queue` more waiting.
    #[must_use]
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        Self {
            permits: Arc::new(Semaphore::new(workers)),
            workers,
            queue,
            stats: Arc::default(),
        }
    }

    /// One worker per core, and a queue of 64 per worker.
    #[must_use]
    pub fn per_core() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self::new(cores, 64 * cores)
    }

    /// Workers running at once.
    #[must_use]
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> &PoolStats {
        &self.stats
    }

    /// Runs `job` on a worker with `cancel`, waiting for one if all are busy. Dropping the
    /// returned future (the request went away) cancels the job.
    pub async fn run<T, F>(&self, cancel: Cancel, job: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce(&Cancel) -> Result<T, Cancelled> + Send + 'static,
    {
        // Until the job is done, dropping this future (the caller went away) cancels the token.
        let guard = CancelOnDrop::new(cancel.clone());
        let permit = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                let waiting = self.stats.waiting.fetch_add(1, Ordering::Relaxed);
                let _leave = Decrement(&self.stats.waiting);
                if waiting >= self.queue {
                    self.stats.refused.fetch_add(1, Ordering::Relaxed);
                    return Err(PoolError::Overloaded);
                }
                let acquire = Arc::clone(&self.permits).acquire_owned();
                match cancel.deadline() {
                    Some(deadline) => {
                        match tokio::time::timeout_at(deadline.into(), acquire).await {
                            Ok(p) => p.map_err(|_| PoolError::Overloaded)?,
                            Err(_) => {
                                self.stats.cancelled.fetch_add(1, Ordering::Relaxed);
                                return Err(PoolError::Cancelled);
                            }
                        }
                    }
                    None => acquire.await.map_err(|_| PoolError::Overloaded)?,
                }
            }
        };
        if cancel.is_cancelled() {
            self.stats.cancelled.fetch_add(1, Ordering::Relaxed);
            return Err(PoolError::Cancelled);
        }
        let stats = Arc::clone(&self.stats);
        let started = std::time::Instant::now();
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            stats.running.fetch_add(1, Ordering::Relaxed);
            let _leave = Decrement(&stats.running);
            let out = job(&cancel);
            match &out {
                Ok(_) => {
                    stats.completed.fetch_add(1, Ordering::Relaxed);
                }
                Err(Cancelled) => {
                    stats.cancelled.fetch_add(1, Ordering::Relaxed);
                    // Logged here: the caller's future may already be gone.
                    tracing::info!(
                        after_ms = started.elapsed().as_millis() as u64,
                        "work stopped: its request went away or ran out of time"
                    );
                }
            }
            out
        });
        let outcome = task.await;
        guard.disarm();
        match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(Cancelled)) => Err(PoolError::Cancelled),
            Err(e) => {
                tracing::error!(error = %e, "a pool job panicked");
                Err(PoolError::Panicked)
            }
        }
    }
}

struct Decrement<'a>(&'a AtomicUsize);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bounded_queued_and_refused() {
        let pool = CpuPool::new(1, 1);
        let busy = |ms: u64| {
            move |c: &Cancel| {
                let until = Instant::now() + Duration::from_millis(ms);
                while Instant::now() < until {
                    c.check()?;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Ok(ms)
            }
        };
        let (a, b, c) = tokio::join!(
            pool.run(Cancel::new(), busy(200)),
            async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                pool.run(Cancel::new(), busy(10)).await
            },
            async {
                tokio::time::sleep(Duration::from_millis(40)).await;
                pool.run(Cancel::new(), busy(10)).await
            }
        );
        assert_eq!(a, Ok(200));
        assert_eq!(b, Ok(10), "the second waits in the queue");
        assert_eq!(
            c,
            Err(PoolError::Overloaded),
            "the third finds the queue full"
        );
        assert_eq!(pool.stats().refused.load(Ordering::Relaxed), 1);
    }

    /// A dropped caller cancels its job: the worker is free long before the job's own end.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_the_caller_stops_the_job() {
        let pool = CpuPool::new(1, 4);
        let long = |c: &Cancel| {
            for _ in 0..10_000 {
                c.check()?;
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(())
        };
        let abandoned =
            tokio::time::timeout(Duration::from_millis(50), pool.run(Cancel::new(), long)).await;
        assert!(abandoned.is_err());
        let started = Instant::now();
        assert_eq!(pool.run(Cancel::new(), |_| Ok(7)).await, Ok(7));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(pool.stats().cancelled.load(Ordering::Relaxed), 1);
    }
}
