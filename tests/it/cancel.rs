//! A cancelled tool call stops its work at once: a request to a slow API server is abandoned
//! and a reconcile stops waiting for the controller. The hook that shows the call's thread
//! has ended is the call log, whose line is written when the call returns: it must say
//! `cancelled` long before the slow server or the controller would have answered.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::apiserver::{Fault, FaultKind, Identity, Options};
use crate::support::{DEADLINE, Session, scratch_dir};

/// Wait (polling, up to [`DEADLINE`]) for `done`; false if it never held.
fn await_condition(mut done: impl FnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + DEADLINE;
    while std::time::Instant::now() < until {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

fn log_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Send `tools/call` `tool` as request `id` without waiting for an answer, wait until the
/// API server holds the request the one counted fault delays, then cancel the call.
fn call_then_cancel(s: &mut Session, id: &str, tool: &str, args: Value) {
    s.mcp
        .send(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": tool, "arguments": args}}));
    assert!(
        await_condition(|| s.server.faults_left() == 0),
        "the call never reached the slow path"
    );
    s.mcp.send(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": id, "reason": "test"}}),
    );
}

#[test]
fn a_cancelled_call_abandons_a_slow_request_at_once() {
    let dir = scratch_dir("cancel-slow-log");
    let log = dir.join("calls.jsonl");
    let log_arg = format!("--tool-call-log-file={}", log.display());
    // The server would answer after 10 minutes; the call's budget is longer still.
    let mut s = Session::start(
        "cancel-slow",
        Options::default(),
        Identity::ClientCert,
        &[&log_arg, "--timeout=20m"],
    );
    s.server
        .inject(Fault::new("/configmaps", FaultKind::Delay(Duration::from_secs(600))).times(1));
    call_then_cancel(
        &mut s,
        "slow",
        "get_kubernetes_resources",
        json!({"kind": "ConfigMap", "namespace": "apps"}),
    );
    assert!(
        await_condition(|| log_lines(&log).iter().any(|l| l["outcome"] == "cancelled")),
        "the cancelled call did not end: {:?}",
        log_lines(&log)
    );
    let line = &log_lines(&log)[0];
    assert_eq!(line["tool"], "get_kubernetes_resources");
    assert!(line["duration_ms"].as_f64().unwrap_or(f64::MAX) < 600_000.0);
    // The server goes on serving, and the id is free again.
    let (text, is_error) = s.mcp.call("get_kubernetes_api_versions", json!({}));
    assert!(!is_error, "{text}");
}

#[cfg(feature = "mutations")]
#[test]
fn a_cancelled_reconcile_stops_waiting_for_the_controller() {
    use crate::apiserver::Controller;
    let dir = scratch_dir("cancel-reconcile-log");
    let log = dir.join("calls.jsonl");
    let log_arg = format!("--tool-call-log-file={}", log.display());
    // The controller answers after 10 minutes.
    let options = Options {
        controller: Some(Controller::with_delay(Duration::from_secs(600))),
        ..Options::default()
    };
    let mut s = Session::start(
        "cancel-reconcile",
        options,
        Identity::ClientCert,
        &[&log_arg, "--timeout=20m"],
    );
    s.mcp.send(&json!({"jsonrpc": "2.0", "id": "wait", "method": "tools/call",
        "params": {"name": "reconcile_flux_resource",
                   "arguments": {"kind": "Kustomization", "name": "apps", "namespace": "flux-system"}}}));
    // The reconcile request (a PATCH) went out: the call now waits for the controller.
    assert!(
        await_condition(|| s
            .server
            .requests()
            .iter()
            .any(|r| r.method == "PATCH" && r.path.contains("/kustomizations/apps"))),
        "no reconcile request"
    );
    s.mcp.send(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": "wait"}}),
    );
    assert!(
        await_condition(|| log_lines(&log).iter().any(|l| l["outcome"] == "cancelled")),
        "the reconcile wait did not end: {:?}",
        log_lines(&log)
    );
}
