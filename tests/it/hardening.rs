//! Hostile files and stuck plugins through the real binary (issue 15): a `--docs-dir` link out
//! of its folder never reaches the output, a FIFO or a device never hangs or fills memory, an
//! exec plugin that hangs is killed with everything it started and leaves no thread behind,
//! and what a failing plugin prints is masked before the agent sees it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{DEADLINE, Mcp, command, scratch_dir, testdata};

/// Run `cmd` to the end, failing the test (and killing the process) after [`DEADLINE`]: the
/// regressions here are hangs, which must fail, not stall the suite.
#[track_caller]
fn output_within_deadline(cmd: &mut Command) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn flux-operator-mcp");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(output) => output.expect("output"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("pid {pid} did not finish within {DEADLINE:?}: it hangs");
        }
    }
}

/// The text a process printed, both streams.
fn printed(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

// ---- --docs-dir ------------------------------------------------------------------------------

const CANARY_FILE: &str = "CANARY-token-in-a-kubeconfig-3b9d";
const CANARY_ENV: &str = "CANARY-environment-secret-77ac";

/// A docs folder whose `runbook.md` links to a kubeconfig-like file outside it and whose
/// `environ.md` links to `/proc/self/environ`, next to one real runbook.
fn escaping_docs_dir(name: &str) -> PathBuf {
    let dir = scratch_dir(name);
    let docs = dir.join("runbooks");
    std::fs::create_dir_all(&docs).expect("mkdir");
    std::fs::write(
        dir.join("config"),
        format!("users:\n- name: admin\n  user:\n    token: {CANARY_FILE}\n"),
    )
    .expect("write");
    std::fs::write(
        docs.join("ledger.md"),
        "# Ledger failover\n\nPage the payments on-call before any token rotation.\n",
    )
    .expect("write");
    std::os::unix::fs::symlink(dir.join("config"), docs.join("runbook.md")).expect("symlink");
    std::os::unix::fs::symlink("/proc/self/environ", docs.join("environ.md")).expect("symlink");
    docs
}

#[test]
fn docs_dir_links_out_of_the_folder_never_reach_the_output() {
    let docs = escaping_docs_dir("hardening-docs-escape");
    for query in [
        "token admin users",
        "CANARY environment",
        "payments on-call token",
    ] {
        let out = output_within_deadline(
            command()
                .env("FOMCP_CANARY", CANARY_ENV)
                .args([
                    "docs",
                    "search",
                    query,
                    "--format",
                    "complete",
                    "--docs-dir",
                ])
                .arg(&docs),
        );
        let text = printed(&out);
        assert!(out.status.success(), "{text}");
        for canary in [CANARY_FILE, CANARY_ENV] {
            assert!(
                !text.contains(canary),
                "{canary} leaked for {query:?}:\n{text}"
            );
        }
        assert!(
            text.contains("runbook.md: skipped, a link to")
                && text.contains("environ.md: skipped, a link to /proc/"),
            "{text}"
        );
    }

    // The same through the tool, and the server's stderr.
    let mut mcp = Mcp::spawn(
        command()
            .env("FOMCP_CANARY", CANARY_ENV)
            .arg("serve")
            .arg("--docs-dir")
            .arg(&docs),
    );
    mcp.handshake("2025-06-18");
    let (text, is_error) = mcp.call(
        "search_flux_docs",
        json!({"query": "token users admin environment", "format": "complete"}),
    );
    assert!(!is_error, "{text}");
    let (_, _, stderr) = mcp.finish();
    for canary in [CANARY_FILE, CANARY_ENV] {
        assert!(!text.contains(canary), "{canary} in the answer:\n{text}");
        assert!(!stderr.contains(canary), "{canary} on stderr:\n{stderr}");
    }
    assert!(text.contains("runbook.md: skipped"), "{text}");
}

#[test]
fn a_fifo_in_the_docs_dir_does_not_hang_a_search() {
    let dir = scratch_dir("hardening-docs-fifo");
    let made = Command::new("mkfifo")
        .arg(dir.join("x.md"))
        .status()
        .expect("mkfifo");
    assert!(made.success());
    std::fs::write(
        dir.join("ok.md"),
        "# Rollback\n\nHow to roll back a HelmRelease.\n",
    )
    .expect("write");
    let out = output_within_deadline(
        command()
            .args(["docs", "search", "roll back helmrelease", "--docs-dir"])
            .arg(&dir),
    );
    let text = printed(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("x.md: skipped, not a regular file but a FIFO (named pipe)"),
        "{text}"
    );
    // Every search of a server: the first builds the index, the later ones reuse it.
    let mut mcp = Mcp::serve(&["--docs-dir", &dir.display().to_string()]);
    mcp.handshake("2025-06-18");
    for _ in 0..3 {
        let (text, is_error) = mcp.call("search_flux_docs", json!({"query": "rollback"}));
        assert!(!is_error, "{text}");
    }
}

// ---- kubeconfig files ------------------------------------------------------------------------

/// The server's peak resident memory (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
fn special_and_huge_kubeconfigs_fail_fast_in_bounded_memory() {
    let dir = scratch_dir("hardening-kubeconfig");
    let fifo = dir.join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let huge = dir.join("huge");
    std::fs::File::create(&huge)
        .and_then(|f| f.set_len(2 << 30))
        .expect("sparse 2 GiB file");
    for (path, expected) in [
        (
            PathBuf::from("/dev/zero"),
            "cannot read /dev/zero: not a regular file but a character device".to_string(),
        ),
        (
            fifo.clone(),
            format!(
                "cannot read {}: not a regular file but a FIFO (named pipe)",
                fifo.display()
            ),
        ),
        (
            huge.clone(),
            format!(
                "cannot read {}: 2 GiB is over the 16 MiB limit for a kubeconfig",
                huge.display()
            ),
        ),
    ] {
        let mut mcp = Mcp::spawn(command().arg("serve").env("KUBECONFIG", &path));
        mcp.handshake("2025-06-18");
        let started = Instant::now();
        let (text, is_error) = mcp.call("get_kubeconfig_contexts", json!({}));
        assert!(is_error, "{text}");
        assert!(text.contains(&expected), "{}: {text}", path.display());
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{}: {:?}",
            path.display(),
            started.elapsed()
        );
        // Reading /dev/zero whole grew memory by 1.5 GB a second.
        let peak = peak_rss_kib(mcp.pid());
        assert!(peak < 64 * 1024, "{}: peak RSS {peak} KiB", path.display());
        let (status, _, _) = mcp.finish();
        assert!(status.success());
    }
}

// ---- exec credential plugins -----------------------------------------------------------------

fn plugin() -> PathBuf {
    testdata().join("kubeconfig/plugin/fake-credential-plugin.sh")
}

/// A kubeconfig whose only user is the fake exec plugin with `env`. The server is never
/// reached: the plugin gives no credential.
fn exec_kubeconfig(path: &Path, env: &[(&str, &str)]) {
    let env: Vec<String> = env
        .iter()
        .map(|(k, v)| format!("      - name: {k}\n        value: {}\n", json!(v)))
        .collect();
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: plugin\n\
         clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:9\n    \
         insecure-skip-tls-verify: true\n\
         users:\n- name: u\n  user:\n    exec:\n      apiVersion: \
         client.authentication.k8s.io/v1\n      command: {}\n      env:\n{}\
         contexts:\n- name: plugin\n  context: {{cluster: c, user: u}}\n",
        plugin().display(),
        env.concat()
    );
    std::fs::write(path, text).expect("write kubeconfig");
}

/// The threads of process `pid`.
fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("task dir")
        .count()
}

/// Whether `pid` still runs as a member of process group `pgid` (a zombie nobody reaped yet,
/// or a reused pid in another group, does not count).
fn runs_in_group(pid: u32, pgid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some((_, rest)) = stat.rsplit_once(") ") else {
        return false;
    };
    let fields: Vec<&str> = rest.split(' ').collect();
    // state ppid pgrp ...
    !matches!(fields.first(), Some(&"Z" | &"X"))
        && fields.get(2) == Some(&pgid.to_string().as_str())
}

/// Wait, up to [`DEADLINE`], for `done`; false if it never held. Polls: the conditions here
/// (a thread finishing, a killed process exiting) have no event to wait on.
fn await_condition(mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + DEADLINE;
    while Instant::now() < until {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

/// A wrapper-script plugin whose `sleep` children keep its pipes open hangs; ten calls time
/// out, and afterwards the server has no extra thread and the plugins no process left.
#[test]
fn ten_hanging_plugins_leave_no_process_and_no_thread() {
    let dir = scratch_dir("hardening-exec-group");
    let pid_file = dir.join("pids");
    let kubeconfig = dir.join("kubeconfig");
    exec_kubeconfig(
        &kubeconfig,
        &[
            ("FAKE_MODE", "sleep-children"),
            ("FAKE_PID_FILE", &pid_file.display().to_string()),
        ],
    );
    let mut mcp = Mcp::spawn(
        command()
            .args(["serve", "--timeout", "1s"])
            .env("KUBECONFIG", &kubeconfig),
    );
    mcp.handshake("2025-06-18");
    // Warm up without the plugin, then count. A warm-up thread still exiting only makes the
    // baseline one higher; a leak was two threads per call.
    let (text, is_error) = mcp.call("get_kubeconfig_contexts", json!({}));
    assert!(!is_error, "{text}");
    let baseline = threads(mcp.pid());

    for _ in 0..10 {
        let (text, is_error) = mcp.call(
            "get_kubernetes_resources",
            json!({"apiVersion": "v1", "kind": "ConfigMap"}),
        );
        assert!(is_error, "{text}");
        assert!(
            text.contains("exec plugin") && text.contains("killed"),
            "{text}"
        );
    }
    let server = mcp.pid();
    assert!(
        await_condition(|| threads(server) <= baseline),
        "threads: {} after the calls, {baseline} before",
        threads(server)
    );

    let pids: Vec<u32> = std::fs::read_to_string(&pid_file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    // Each run writes its two children, then itself (the group leader).
    assert!(pids.len() >= 3, "no run recorded its processes: {pids:?}");
    let groups: Vec<(u32, u32)> = pids
        .chunks(3)
        .filter(|run| run.len() == 3)
        .flat_map(|run| run.iter().map(move |&p| (p, run[2])))
        .collect();
    assert!(
        await_condition(|| groups.iter().all(|&(p, g)| !runs_in_group(p, g))),
        "plugin processes still run: {:?}",
        groups
            .iter()
            .filter(|&&(p, g)| runs_in_group(p, g))
            .collect::<Vec<_>>()
    );
    let (status, _, _) = mcp.finish();
    assert!(status.success());
}

/// A failing plugin's stderr reaches the agent only with credential-shaped values masked,
/// and the server's own stderr does not carry them either.
#[test]
fn plugin_stderr_is_masked_in_tool_errors() {
    let dir = scratch_dir("hardening-exec-stderr");
    let kubeconfig = dir.join("kubeconfig");
    let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.Q0FOQVJZLXNpZ25hdHVyZQ";
    let stderr = format!(
        "error: token refresh failed: refresh_token={}; server said Authorization: Bearer {} \
         (id token {jwt})",
        "CANARY-refresh-1c2d", "CANARY-bearer-5e6f"
    );
    exec_kubeconfig(
        &kubeconfig,
        &[("FAKE_MODE", "fail-stderr"), ("FAKE_STDERR", &stderr)],
    );
    let mut mcp = Mcp::spawn(command().arg("serve").env("KUBECONFIG", &kubeconfig));
    mcp.handshake("2025-06-18");
    let (text, is_error) = mcp.call(
        "get_kubernetes_resources",
        json!({"apiVersion": "v1", "kind": "ConfigMap"}),
    );
    assert!(is_error, "{text}");
    let (_, _, server_stderr) = mcp.finish();
    for canary in ["CANARY-refresh-1c2d", "CANARY-bearer-5e6f", jwt] {
        assert!(
            !text.contains(canary),
            "{canary} in the tool error:\n{text}"
        );
        assert!(
            !server_stderr.contains(canary),
            "{canary} on stderr:\n{server_stderr}"
        );
    }
    assert!(
        text.contains("token refresh failed") && text.contains("<masked: "),
        "{text}"
    );
}
