//! Killing a whole process group: how an exec credential plugin that overran its time is
//! stopped together with everything it started (a wrapper script's `sleep`, a browser-login
//! helper). Killing only the direct child orphaned the rest, and those kept the plugin's
//! output pipes open, so the threads reading them never ended.
//!
//! The crate denies `unsafe`; this module is the second exception (after `mcp/signal.rs`),
//! because std can signal one child but has no `killpg`, the project takes no libc crate, and
//! a scratch image has no `kill` binary to run instead. The one libc call below is all it uses.
#![allow(unsafe_code)]

use std::io;

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
    use std::ffi::c_int;
    use std::io;

    unsafe extern "C" {
        fn kill(pid: c_int, sig: c_int) -> c_int;
    }

    /// SIGKILL is 9 on every Unix (POSIX fixes it).
    const SIGKILL: c_int = 9;

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
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    #[test]
    fn our_own_group_and_every_process_are_never_addressed() {
        for pgid in [0, 1, u32::MAX, 1 << 31] {
            let e = kill(pgid).expect_err("refused");
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{pgid}: {e}");
        }
    }

    #[test]
    fn the_whole_group_dies() {
        // A leader that starts a grandchild and waits: both in one new group.
        let mut leader = Command::new("sh")
            .args(["-c", "sleep 60 & echo $!; wait"])
            .process_group(0)
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
