//! Going on past a poisoned lock: the one spelling every layer uses.
//!
//! A `Mutex` is poisoned when a thread panicked while holding it. Here that only ever means a
//! tool call panicked (it is caught and answered with -32603, and the server goes on), and every
//! value the crate keeps behind a lock is replaced or updated whole (a cache slot, a client map,
//! the session's context, the in-flight call map, a done flag), so what is inside is still
//! sound. Refusing it would turn one failed call into a server that fails every later call.
//!
//! Crate-level rather than in `kube/` or `mcp/`, because both use it and neither may name the
//! other (the tidy test checks that this module names no layer).

use std::sync::{LockResult, Mutex, MutexGuard};

/// The value of a lock operation, poisoned or not: for `Mutex::lock`, `Condvar::wait*`,
/// `Mutex::into_inner`.
pub fn unpoisoned<T>(result: LockResult<T>) -> T {
    result.unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Lock `mutex`, going on past poisoning (see the module docs for why that is sound here).
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    unpoisoned(mutex.lock())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Condvar};
    use std::time::Duration;

    fn poisoned(value: u32) -> Arc<Mutex<u32>> {
        let m = Arc::new(Mutex::new(value));
        let held = Arc::clone(&m);
        let joined = std::thread::spawn(move || {
            let _guard = held.lock();
            panic!("poison the lock");
        })
        .join();
        assert!(joined.is_err());
        assert!(m.is_poisoned());
        m
    }

    #[test]
    fn a_poisoned_lock_still_hands_out_its_value() {
        let m = poisoned(7);
        assert!(m.lock().is_err(), "std refuses it");
        *lock(&m) += 1;
        assert_eq!(*lock(&m), 8);
    }

    #[test]
    fn a_poisoned_condvar_wait_and_into_inner_go_on_too() {
        let m = poisoned(1);
        let cv = Condvar::new();
        let guard = lock(&m);
        let (guard, timeout) =
            unpoisoned(cv.wait_timeout_while(guard, Duration::ZERO, |v| *v == 1));
        assert!(timeout.timed_out());
        assert_eq!(*guard, 1);
        drop(guard);
        let m = Arc::try_unwrap(m).unwrap_or_else(|_| panic!("one owner left"));
        assert_eq!(unpoisoned(m.into_inner()), 1);
    }
}
