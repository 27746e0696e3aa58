//! SIGINT and SIGTERM as ordinary events: the signals are blocked in every thread and one
//! thread takes them with `sigwait(3)`, so no code runs in signal-handler context.
//!
//! The crate denies `unsafe`; this module is the one exception, because std has no API for
//! signals and the project takes no new crates. The four libc calls below are all it uses.
#![allow(unsafe_code)]

/// Block SIGINT and SIGTERM in the calling thread (and so in every thread it spawns later) and
/// run `on_signal` on a dedicated thread when one arrives. Call it before spawning threads.
/// Returns false when signals cannot be watched here: their default action then applies.
///
/// Child processes inherit the block: a process spawned from a thread starts with that thread's
/// signal mask (fork and exec keep it, and std resets only SIGPIPE's disposition, not the mask),
/// so it would ignore SIGINT and SIGTERM. Whoever spawns a process that must react to them
/// clears the mask in the child: `kube/process_group.rs` does for exec credential plugins.
pub fn watch(on_signal: impl FnOnce(i32) + Send + 'static) -> bool {
    imp::watch(on_signal)
}

#[cfg(target_os = "linux")]
mod imp {
    use std::ffi::{c_int, c_ulong};

    /// `sigset_t`: 1024 bits in both glibc and musl.
    #[repr(C)]
    struct SigSet([c_ulong; 1024 / (8 * std::mem::size_of::<c_ulong>())]);

    unsafe extern "C" {
        fn sigemptyset(set: *mut SigSet) -> c_int;
        fn sigaddset(set: *mut SigSet, signum: c_int) -> c_int;
        fn pthread_sigmask(how: c_int, set: *const SigSet, old: *mut SigSet) -> c_int;
        fn sigwait(set: *const SigSet, sig: *mut c_int) -> c_int;
    }

    // Linux values, identical in glibc and musl on every architecture we build for.
    const SIG_BLOCK: c_int = 0;
    const SIG_UNBLOCK: c_int = 1;
    const SIGINT: c_int = 2;
    const SIGTERM: c_int = 15;

    pub fn watch(on_signal: impl FnOnce(i32) + Send + 'static) -> bool {
        let mut set = SigSet([0; 1024 / (8 * std::mem::size_of::<c_ulong>())]);
        // SAFETY: `set` is a valid, writable sigset_t for the duration of each call, and the
        // calls only read or write it; pthread_sigmask's `old` may be null.
        let blocked = unsafe {
            sigemptyset(&mut set) == 0
                && sigaddset(&mut set, SIGINT) == 0
                && sigaddset(&mut set, SIGTERM) == 0
                && pthread_sigmask(SIG_BLOCK, &set, std::ptr::null_mut()) == 0
        };
        if !blocked {
            return false;
        }
        let watcher = SigSet(set.0);
        let spawned = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                let mut sig: c_int = 0;
                loop {
                    // SAFETY: `set` is owned by this thread and `sig` is a valid out-pointer.
                    let rc = unsafe { sigwait(&watcher, &mut sig) };
                    if rc == 0 {
                        on_signal(sig);
                        return;
                    }
                }
            });
        if spawned.is_err() {
            // Nobody would take the signals: give them back their default action.
            // SAFETY: as above.
            unsafe { pthread_sigmask(SIG_UNBLOCK, &set, std::ptr::null_mut()) };
            return false;
        }
        true
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub fn watch(_on_signal: impl FnOnce(i32) + Send + 'static) -> bool {
        false
    }
}
