//! Every tool sends only the HTTP methods it may: each tool of `tools/list` runs its
//! successful call, its error paths (from `every_tool.rs`) and its calls under faults that make
//! the client retry or give up, against the test API server, whose request log must then hold
//! nothing but the tool's verbs (only GET for a tool whose annotations say readOnlyHint, or a
//! server-side dry run for one that the table says only dry-runs).

use serde_json::Value;

use crate::apiserver::{Fault, FaultKind, Identity};
use crate::every_tool;
use crate::support::Session;

/// Faults on the way that make a client retry, refresh credentials or give up half-way.
fn faults() -> Vec<Fault> {
    vec![
        // Once each: the retry that follows is the code path under test.
        Fault::new("/", FaultKind::Status(401)),
        Fault::new("/", FaultKind::ConnectionReset),
        Fault::new("/", FaultKind::TruncatedBody),
        Fault::new(
            "/",
            FaultKind::TooManyRequests {
                retry_after_secs: 0,
            },
        ),
        // Always: every request of the call fails.
        Fault::new("/", FaultKind::Status(500)).always(),
        Fault::new("/", FaultKind::Status(404)).always(),
        Fault::new("/", FaultKind::Status(403)).always(),
        Fault::new("/", FaultKind::NotJson).always(),
    ]
}

#[test]
fn every_tool_sends_only_its_verbs_on_every_path() {
    let start = |tag: &str| {
        Session::start(
            &format!("verbs-{tag}"),
            every_tool::options(),
            Identity::ClientCert,
            &["--timeout", "5s"],
        )
    };
    let tools = every_tool::listed(&mut start("list").mcp);
    let mut report = Vec::new();
    for tool in &tools {
        let entry = every_tool::entry(&tool.name);
        // A server process of its own: nothing cached, so discovery is part of what it sends.
        let mut s = start(&tool.name);
        let mut calls: Vec<(String, Value)> = vec![("ok".into(), (entry.ok)())];
        calls.extend((entry.more)().into_iter().map(|args| ("ok".into(), args)));
        calls.extend(
            (entry.errors)()
                .into_iter()
                .map(|args| ("error path".into(), args)),
        );
        for (what, args) in &calls {
            let (text, is_error) = s.call(&tool.name, args.clone());
            assert_eq!(
                is_error,
                what != "ok",
                "{} {args} ({what}): {text}",
                tool.name
            );
        }
        for fault in faults() {
            s.server.inject(fault);
            s.call(&tool.name, (entry.ok)());
            s.server.clear_faults();
        }
        let requests = s.server.requests();
        if !entry.verbs.is_empty() {
            assert!(
                !requests.is_empty(),
                "{} reached no cluster: the check would prove nothing",
                tool.name
            );
        }
        for r in &requests {
            if !every_tool::allowed(entry, tool.read_only, r) {
                report.push(format!(
                    "{} (readOnlyHint {}) sent {} {}",
                    tool.name, tool.read_only, r.method, r.path
                ));
            }
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
}
