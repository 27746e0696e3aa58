//! Killing a whole process group: how an exec credential plugin that overran its time is
//! stopped together with everything it started (a wrapper script's `sleep`, a browser-login
//! helper). Killing only the direct child orphaned the rest, and those kept the plugin's
//! output pipes open, so the threads reading them never ended.
//!
//! The crate denies `unsafe`; this module is the second exception (after `mcp/signal.rs`),
//! because std can signal one child but has no `killpg` and cannot reset a child's signal
//! mask, the project takes no libc crate, and a scratch image has no `kill` binary to run
//! instead. The two libc calls below are all it uses.
#![allow(unsafe_code)]

use std::io;
use std::process::Command;

/// Make `command` start its process as the leader of a new process group (whose id is then
/// the child's pid, for [`kill`]), with no signal blocked.
///
/// Why the signal mask: the server blocks SIGINT and SIGTERM in every thread (`mcp/signal.rs`)
/// and a spawned process inherits the mask of the thread that spawned it (std resets only
/// SIGPIPE's disposition). A plugin, and everything it starts, would then ignore SIGTERM: a
/// wrapper's `timeout 5 helper` would never stop its helper.
pub(crate) fn isolate(command: &mut Command) {
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(command, 0);
    imp::unblock_signals_in_child(command);
}

/// Send SIGKILL to every process in the group `pgid` (a child spawned with
/// `CommandExt::process_group(0)` leads the group whose id is its pid).
///
/// The caller must not have reaped the leader yet: until then its pid cannot be reused, so
/// the group id still names the plugin's group and no other.
pub(crate) fn kill(pgid: u32) -> io::Result<()> {
    // kill(-0) would signal our own group and kill(-1) every process we may signal: refuse
    // anything that is not a real group id.
    let Some(pgid) = i32::try_from(pgid).ok().filter(|&g| g > 1) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{pgid} is not a process group id that may be killed"),
        ));
    };
    imp::kill_group(pgid)
}

#[cfg(unix)]
mod imp {
    use std::ffi::{c_int, c_ulong};
    use std::io;
    use std::process::Command;

    unsafe extern "C" {
        fn kill(pid: c_int, sig: c_int) -> c_int;
        #[cfg(target_os = "linux")]
        pub(super) fn sigprocmask(how: c_int, set: *const SigSet, old: *mut SigSet) -> c_int;
    }

    /// SIGKILL is 9 on every Unix (POSIX fixes it).
    const SIGKILL: c_int = 9;

    /// `sigset_t`: 1024 bits in both glibc and musl; all zero is the empty set.
    #[cfg(target_os = "linux")]
    #[repr(C)]
    pub(super) struct SigSet(pub(super) [c_ulong; SIGSET_WORDS]);

    #[cfg(target_os = "linux")]
    pub(super) const SIGSET_WORDS: usize = 1024 / (8 * std::mem::size_of::<c_ulong>());

    /// Linux's SIG_SETMASK, on every architecture we build for (mips and sparc differ).
    #[cfg(target_os = "linux")]
    const SIG_SETMASK: c_int = 2;

    #[cfg(all(
        target_os = "linux",
        not(any(
            target_arch = "mips",
            target_arch = "mips64",
            target_arch = "sparc",
            target_arch = "sparc64"
        ))
    ))]
    pub(super) fn unblock_signals_in_child(command: &mut Command) {
        use std::os::unix::process::CommandExt;
        let hook = || {
            let empty = SigSet([0; SIGSET_WORDS]);
            // SAFETY: runs in the forked child before exec, where only async-signal-safe
            // calls are allowed: sigprocmask is one, and it only reads `empty`, a valid
            // sigset_t on this stack frame; `old` may be null.
            let rc = unsafe { sigprocmask(SIG_SETMASK, &empty, std::ptr::null_mut()) };
            if rc == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        };
        // SAFETY: the hook allocates nothing, takes no lock and calls only sigprocmask (and
        // reads errno on failure), so it is sound between fork and exec.
        unsafe {
            command.pre_exec(hook);
        }
    }

    #[cfg(not(all(
        target_os = "linux",
        not(any(
            target_arch = "mips",
            target_arch = "mips64",
            target_arch = "sparc",
            target_arch = "sparc64"
        ))
    )))]
    pub(super) fn unblock_signals_in_child(_command: &mut Command) {}

    pub(super) fn kill_group(pgid: i32) -> io::Result<()> {
        // SAFETY: kill(2) takes two integers and touches no memory of ours; a negative pid
        // addresses the process group `pgid`, which `super::kill` checked is above 1.
        let rc = unsafe { kill(-pgid, SIGKILL) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

#[cfg(not(unix))]
mod imp {
    pub(super) fn kill_group(_pgid: i32) -> std::io::Result<()> {
        Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
    }

    pub(super) fn unblock_signals_in_child(_command: &mut std::process::Command) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    #[test]
    fn our_own_group_and_every_process_are_never_addressed() {
        for pgid in [0, 1, u32::MAX, 1 << 31] {
            let e = kill(pgid).expect_err("refused");
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{pgid}: {e}");
        }
    }

    /// The mask a process spawned from a thread that blocks SIGTERM gets, with and without
    /// [`isolate`].
    #[cfg(target_os = "linux")]
    fn child_mask(isolated: bool) -> String {
        use imp::{SIGSET_WORDS, SigSet, sigprocmask};
        const SIG_BLOCK: std::ffi::c_int = 0;
        std::thread::spawn(move || {
            let mut set = SigSet([0; SIGSET_WORDS]);
            set.0[0] = 1 << (15 - 1); // SIGTERM
            // SAFETY: blocks SIGTERM in this short-lived test thread only; `set` is a valid
            // sigset_t-sized buffer.
            assert_eq!(
                unsafe { sigprocmask(SIG_BLOCK, &set, std::ptr::null_mut()) },
                0
            );
            let mut command = Command::new("grep");
            command.args(["^SigBlk:", "/proc/self/status"]);
            if isolated {
                isolate(&mut command);
            }
            let out = command.output().expect("run grep");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
        .join()
        .expect("thread")
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn isolated_children_start_with_no_signal_blocked() {
        assert_eq!(
            child_mask(false),
            "SigBlk:\t0000000000004000",
            "what std passes on"
        );
        assert_eq!(child_mask(true), "SigBlk:\t0000000000000000");
    }

    #[test]
    fn the_whole_group_dies() {
        // A leader that starts a grandchild and waits: both in one new group.
        let mut command = Command::new("sh");
        isolate(&mut command);
        let mut leader = command
            .args(["-c", "sleep 60 & echo $!; wait"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn sh");
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(leader.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("grandchild pid");
        let grandchild: u32 = line.trim().parse().expect("a pid");
        kill(leader.id()).expect("kill the group");
        let status = leader.wait().expect("reap");
        assert!(!status.success());
        // The grandchild is gone too (or a zombie its new parent has not reaped yet).
        assert!(gone(grandchild), "grandchild {grandchild} still runs");
    }

    /// Whether `pid` has ended within 10 s. SIGKILL is delivered asynchronously: the kernel
    /// may take a moment to finish the exit.
    fn gone(pid: u32) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat.rsplit_once(") ").map(|(_, rest)| &rest[..1]);
            if stat.is_empty() || matches!(state, Some("Z" | "X")) {
                return true;
            }
            std::thread::yield_now();
        }
        false
    }
}
