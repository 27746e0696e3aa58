//! [`Stop`]: how a caller tells the client that nobody waits for a call's answer any more, so
//! that its waits (retry back-offs), its list pages and a request in flight end at once. The
//! client only asks "stopped yet?" and "sleep unless stopped"; what sets the flag (an MCP
//! cancellation) belongs to the caller, which implements [`Signal`] for it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A flag the caller sets and the client watches.
pub trait Signal: Send + Sync {
    fn is_set(&self) -> bool;
    /// Block until set or until `timeout` has passed; true when set.
    fn wait(&self, timeout: Duration) -> bool;
}

/// A call's stop signal, cheap to clone; [`Stop::never`] (the default) is never set.
#[derive(Clone, Default)]
pub struct Stop(Option<Arc<dyn Signal>>);

impl Stop {
    /// A stop that never comes: `check`, the CLI, tests.
    pub fn never() -> Stop {
        Stop(None)
    }

    pub fn new(signal: Arc<dyn Signal>) -> Stop {
        Stop(Some(signal))
    }

    pub fn is_stopped(&self) -> bool {
        self.0.as_ref().is_some_and(|s| s.is_set())
    }

    /// Whether a stop can come at all (a request in flight is only worth handing to another
    /// thread when it can).
    pub fn can_stop(&self) -> bool {
        self.0.is_some()
    }

    /// Sleep for `timeout` unless stopped first; true when stopped.
    pub fn sleep(&self, timeout: Duration) -> bool {
        match &self.0 {
            Some(s) => s.wait(timeout),
            None => {
                std::thread::sleep(timeout);
                false
            }
        }
    }
}

impl fmt::Debug for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Stop").field(&self.is_stopped()).finish()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    /// A test signal: an atomic flag, polled while waiting.
    #[derive(Default)]
    pub(crate) struct Flag(pub AtomicBool);

    impl Signal for Flag {
        fn is_set(&self) -> bool {
            self.0.load(Ordering::SeqCst)
        }
        fn wait(&self, timeout: Duration) -> bool {
            let end = Instant::now() + timeout;
            while Instant::now() < end {
                if self.is_set() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            self.is_set()
        }
    }

    #[test]
    fn never_is_never_stopped_and_sleeps_the_whole_time() {
        let s = Stop::never();
        assert!(!s.is_stopped());
        assert!(!s.can_stop());
        assert!(!s.sleep(Duration::from_millis(1)));
        assert_eq!(format!("{s:?}"), "Stop(false)");
    }

    #[test]
    fn a_set_signal_stops_and_cuts_a_sleep_short() {
        let flag = Arc::new(Flag::default());
        let s = Stop::new(flag.clone());
        assert!(s.can_stop());
        assert!(!s.is_stopped());
        flag.0.store(true, Ordering::SeqCst);
        assert!(s.is_stopped());
        assert!(s.sleep(Duration::from_secs(3600)));
    }
}
