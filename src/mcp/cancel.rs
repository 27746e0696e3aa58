//! [`Cancel`]: the flag a tool call's work watches to learn that nobody waits for its answer
//! any more (the client sent `notifications/cancelled`, or the transport ended the session).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use crate::sync::{lock, unpoisoned};
use std::time::{Duration, Instant};

/// A cancellation handle, cheap to clone; every clone sees the same flag. The protocol layer
/// sets it, the service reads it: a blocking call can give up early (poll [`is_cancelled`])
/// or sleep on it instead of on a timer ([`wait_timeout`]).
///
/// [`is_cancelled`]: Cancel::is_cancelled
/// [`wait_timeout`]: Cancel::wait_timeout
#[derive(Clone, Default)]
pub struct Cancel(Arc<Flag>);

#[derive(Default)]
struct Flag {
    /// Read without a lock on the hot path (`is_cancelled` between chunks of work).
    set: AtomicBool,
    /// Only for waiters: the condvar needs a mutex, and `cancel` takes it so that a waiter
    /// that has just checked `set` cannot miss the wake-up.
    lock: Mutex<()>,
    changed: Condvar,
}

impl Cancel {
    /// A handle that is not cancelled (yet).
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Mark the work as cancelled and wake every waiter. Idempotent.
    pub fn cancel(&self) {
        let _guard = lock(&self.0.lock);
        self.0.set.store(true, Ordering::SeqCst);
        self.0.changed.notify_all();
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.set.load(Ordering::SeqCst)
    }

    /// Block until cancelled or until `timeout` has passed; true when cancelled. A timer that
    /// a cancellation cuts short (a retry back-off, a poll interval).
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let mut guard = lock(&self.0.lock);
        loop {
            if self.is_cancelled() {
                return true;
            }
            // A timeout too large for the clock is "wait until cancelled".
            let left = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return false,
                },
                None => Duration::from_secs(3600),
            };
            guard = unpoisoned(self.0.changed.wait_timeout(guard, left)).0;
        }
    }
}

impl fmt::Debug for Cancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Cancel").field(&self.is_cancelled()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_clone_sees_the_cancellation() {
        let a = Cancel::new();
        let b = a.clone();
        assert!(!b.is_cancelled());
        assert!(!b.wait_timeout(Duration::from_millis(1)));
        a.cancel();
        a.cancel();
        assert!(b.is_cancelled());
        assert!(b.wait_timeout(Duration::from_secs(3600)));
        assert_eq!(format!("{b:?}"), "Cancel(true)");
    }

    #[test]
    fn a_waiter_is_woken_by_cancel() {
        let cancel = Cancel::new();
        let waiter = {
            let cancel = cancel.clone();
            std::thread::spawn(move || cancel.wait_timeout(Duration::MAX))
        };
        cancel.cancel();
        assert!(waiter.join().unwrap());
    }
}
