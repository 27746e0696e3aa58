//! `make bench`, latency section: the test API server 50 ms away (every response held 50 ms, as
//! behind a VPN or a cloud load balancer). Each call of the round-trip table
//! (tests/it/round_trips.rs) that reaches the cluster is timed warm (discovery cached), next to
//! its dependent-chain depth × 50 ms: the wait a client with that many round trips one after
//! another cannot avoid. Fewer serial round trips is what makes a tool fast on a real network.

use std::time::Duration;

use crate::round_trips::calls;
use crate::support::scratch_dir;
use crate::{median, ms};

/// What the server adds to each response.
const LATENCY: Duration = Duration::from_millis(50);
/// Warm calls timed per row (after the cold one).
const RUNS: usize = 3;

pub fn run() {
    println!(
        "\n== latency: each response held {:.0} ms; warm calls, median of {RUNS}",
        ms(LATENCY)
    );
    println!(
        "  {:<28} {:<40} {:>4} {:>5} {:>9} {:>9}",
        "tool", "call", "reqs", "depth", "depth×lat", "wall"
    );
    let dir = scratch_dir("bench-latency");
    for call in calls() {
        let (server, kubeconfig) = crate::round_trips::distant_server(&dir, LATENCY);
        let mut m = call.measure(&server, &kubeconfig, RUNS);
        if m.warm.requests == 0 && m.cold.requests == 0 {
            continue; // never reaches the cluster
        }
        let wall = median(&mut m.warm_times);
        println!(
            "  {:<28} {:<40} {:>4} {:>5} {:>6.0} ms {:>6.0} ms",
            call.tool,
            call.case,
            m.warm.requests,
            m.warm.depth,
            ms(LATENCY) * m.warm.depth as f64,
            ms(wall)
        );
    }
}
