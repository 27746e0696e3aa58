//! Fuzz target `snapshot`: snapshot files and what reads them (`serve --snapshot`,
//! `snapshot serve-api`).
//!
//! The first byte picks the layer: 0, the rest is a whole file (`Snapshot::from_bytes`:
//! header, bounded inflate, records); 1, the rest is cut into records (tag, one length byte,
//! payload) written into a well-formed file, so the fuzzer reaches the record and JSON
//! parsers without inventing zlib; 2, the rest is a serve-api request head
//! (`serve::parse_head`) answered by `api::handle` over a fixed small snapshot.
//!
//! Properties beyond "no panic": a loaded snapshot answers every list and get of what it says
//! it holds without failing structurally (an object the index accepted can be read or is
//! reported broken, never a crash), lists never hand out more objects than were counted, and
//! a parsed head's path and query round-trip into an answer with a status code.
#![no_main]
use std::ops::ControlFlow;

use flux_operator_mcp::kube::list::ListOptions;
use flux_operator_mcp::snapshot::format::{Writer, tag};
use flux_operator_mcp::snapshot::{Snapshot, api, serve};
use libfuzzer_sys::fuzz_target;

/// Reads everything a snapshot claims to hold, as the tools and serve-api would.
fn exercise(s: &Snapshot) {
    let total = s.object_count();
    let mut seen = 0usize;
    let resources: Vec<_> = s.collections().map(|(r, _, _)| r.clone()).collect();
    for r in &resources {
        let mut names = Vec::new();
        let listed = s.list(r, &ListOptions::default(), |item| {
            seen += 1;
            let ns = item["metadata"]["namespace"].as_str().unwrap_or("").to_string();
            let name = item["metadata"]["name"].as_str().unwrap_or("").to_string();
            names.push((ns, name));
            ControlFlow::Continue(())
        });
        if listed.is_ok() {
            for (ns, name) in names.iter().take(8) {
                let _ = s.get(r, ns, name);
            }
        }
    }
    assert!(seen <= total, "listed {seen} objects of {total}");
    for path in ["/api", "/apis", "/api/v1", "/api/v1/pods"] {
        let query = Vec::new();
        let req = api::Request {
            method: "GET",
            path,
            query: &query,
            accept: "application/json;as=Table;v=v1;g=meta.k8s.io",
        };
        let _ = api::handle(s, "127.0.0.1:1", &req);
    }
}

/// A small well-formed snapshot for the request heads (built once).
fn fixed() -> &'static Snapshot {
    static FIXED: std::sync::OnceLock<Snapshot> = std::sync::OnceLock::new();
    FIXED.get_or_init(|| {
        let mut w = Writer::new();
        let meta = br#"{"context":"fuzz","server":"https://127.0.0.1","capturedAt":"2026-11-21T06:00:00Z"}"#;
        let _ = w.record(tag::META, meta);
        let _ = w.record(tag::DISCOVERY, br#"{"core":{"items":[]},"apis":{"items":[]}}"#);
        let file = w.finish().unwrap_or_default();
        Snapshot::from_bytes(&file).unwrap_or_else(|e| panic!("fixed snapshot: {e}"))
    })
}

fuzz_target!(|data: &[u8]| {
    let [layer, rest @ ..] = data else {
        return;
    };
    match layer % 3 {
        0 => {
            if let Ok(s) = Snapshot::from_bytes(rest) {
                exercise(&s);
            }
        }
        1 => {
            let mut w = Writer::new();
            let mut left = rest;
            while let [t, len, tail @ ..] = left {
                let n = (*len as usize).min(tail.len());
                let _ = w.record(*t, &tail[..n]);
                left = &tail[n..];
            }
            if let Ok(file) = w.finish()
                && let Ok(s) = Snapshot::from_bytes(&file)
            {
                exercise(&s);
            }
        }
        _ => {
            if let Ok(head) = serve::parse_head(rest) {
                let req = api::Request {
                    method: &head.method,
                    path: &head.path,
                    query: &head.query,
                    accept: "",
                };
                let answer = api::handle(fixed(), "127.0.0.1:1", &req);
                assert!((200..600).contains(&answer.status), "{}", answer.status);
            }
        }
    }
});
