//! Cooperative cancellation for CPU-bound work: a flag that the owner of a request sets when
//! the client goes away or the request times out, and a deadline, both checked by the render
//! and scan loops between features.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// A request's cancellation: cheap to clone and to check.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    flag: Arc<AtomicBool>,
    deadline: Option<Instant>,
}

/// Work stopped because its request was cancelled or ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the work was stopped: its request was cancelled or timed out")]
pub struct Cancelled;

impl Cancel {
    /// A token that is never cancelled unless [`Cancel::cancel`] is called.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A token that also expires at `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use terril::cancel::Cancel;
    /// let c = Cancel::until(Instant::now() + Duration::from_secs(60));
    /// assert!(c.check().is_ok());
    /// c.cancel();
    /// assert!(c.check().is_err());
    /// assert!(Cancel::until(Instant::now()).is_cancelled());
    /// ```
    #[must_use]
    pub fn until(deadline: Instant) -> Self {
        Self {
            flag: Arc::default(),
            deadline: Some(deadline),
        }
    }

    /// Cancels the work (and every clone of this token).
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    /// Whether the work should stop.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// `Err(Cancelled)` when the work should stop.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }

    /// The deadline, if any.
    #[must_use]
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
}

/// Cancels its token when dropped before [`CancelOnDrop::disarm`]: held by a future waiting
/// for work, so that an abandoned or timed-out request stops the work it started.
#[derive(Debug)]
pub struct CancelOnDrop(Option<Cancel>);

impl CancelOnDrop {
    /// A guard over `cancel`.
    #[must_use]
    pub fn new(cancel: Cancel) -> Self {
        Self(Some(cancel))
    }

    /// The wait ended normally: dropping the guard no longer cancels.
    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(c) = &self.0 {
            c.cancel();
        }
    }
}
