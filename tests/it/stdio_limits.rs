//! The 64 MiB line limit of the stdio transport, end to end: the real binary over pipes gets a
//! line over the limit, answers it with -32600 and a null id, answers the next line, and its
//! memory stays bounded however long the line is (peak RSS read from /proc).

use serde_json::json;

use crate::support::Mcp;

/// The limit the README and `mcp::stdio::MAX_LINE` state.
const LIMIT: usize = 64 << 20;

/// The peak resident set (`VmHWM`) of process `pid`, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in:\n{status}"));
    kib * 1024
}

/// Writes one request line of `len` bytes (a ping whose params carry the bulk) without
/// holding it: the test process stays small too.
fn write_long_line(mcp: &mut Mcp, id: &str, len: usize) {
    let head = format!(r#"{{"jsonrpc":"2.0","id":"{id}","method":"ping","params":{{"pad":""#);
    let tail = "\"}}\n";
    let piece = vec![b'x'; 1 << 20];
    let mut left = len - head.len() - tail.len();
    let mut out = Vec::with_capacity(head.len());
    out.extend_from_slice(head.as_bytes());
    mcp.write(&out);
    while left > 0 {
        let n = left.min(piece.len());
        mcp.write(&piece[..n]);
        left -= n;
    }
    mcp.write(tail.as_bytes());
}

#[track_caller]
fn assert_refused(r: &serde_json::Value) {
    assert_eq!(r["id"], json!(null), "{r}");
    assert_eq!(r["error"]["code"], json!(-32600), "{r}");
    let message = r["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("64 MiB"), "{r}");
}

#[test]
fn a_line_over_64_mib_is_refused_the_next_is_answered_and_memory_stays_bounded() {
    let mut mcp = Mcp::serve(&[]);
    mcp.handshake("2025-06-18");
    let before = peak_rss(mcp.pid());

    // 65 MiB: refused with a null id (the id was never read), then the next line is answered.
    write_long_line(&mut mcp, "over", 65 << 20);
    assert_refused(&mcp.recv());
    let r = mcp.request(json!("after"), "ping", json!({}));
    assert_eq!(r["result"], json!({}), "{r}");
    let after_65 = peak_rss(mcp.pid());

    // Four times the limit: a reader that kept the line would now hold 256 MiB.
    write_long_line(&mut mcp, "far-over", 256 << 20);
    assert_refused(&mcp.recv());
    let r = mcp.request(json!("again"), "ping", json!({}));
    assert_eq!(r["result"], json!({}), "{r}");
    let peak = peak_rss(mcp.pid());

    // The line buffer holds at most the limit before it is dropped; half as much again is a
    // generous allowance for the allocator. Buffering the 256 MiB line would be far over.
    let bound = before + LIMIT as u64 * 3 / 2;
    assert!(
        peak < bound,
        "peak RSS {} MiB (at start {} MiB, after the 65 MiB line {} MiB), bound {} MiB",
        peak >> 20,
        before >> 20,
        after_65 >> 20,
        bound >> 20
    );
    println!(
        "stdio line limit: peak RSS {} MiB after a 65 MiB and a 256 MiB line (at start {} MiB)",
        peak >> 20,
        before >> 20
    );
    let (status, rest, stderr) = mcp.finish();
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(rest.is_empty(), "{rest:?}");
}

#[test]
fn the_largest_accepted_line_is_answered_within_a_bounded_peak() {
    let mut mcp = Mcp::serve(&[]);
    mcp.handshake("2025-06-18");
    let before = peak_rss(mcp.pid());
    // Just under the limit: read and answered (the request is valid).
    write_long_line(&mut mcp, "under", LIMIT - 1024);
    let r = mcp.recv();
    assert_eq!(r["id"], json!("under"), "{r}");
    assert_eq!(r["result"], json!({}), "{r}");
    let peak = peak_rss(mcp.pid());
    // Today the line is held three times at its peak: the line buffer, the copy handed to the
    // protocol loop, and the parsed string. A fourth copy fails this.
    let bound = before + LIMIT as u64 * 7 / 2;
    assert!(
        peak < bound,
        "peak RSS {} MiB (at start {} MiB), bound {} MiB",
        peak >> 20,
        before >> 20,
        bound >> 20
    );
    println!(
        "stdio line limit: peak RSS {} MiB for a line of 64 MiB - 1 KiB (at start {} MiB)",
        peak >> 20,
        before >> 20
    );
    let (status, _, stderr) = mcp.finish();
    assert!(status.success(), "{status:?}: {stderr}");
}
