//! Round trips in the request log: how many requests a client made, and how many of them it made
//! one after another (the dependent chain), from when the server received and answered each.
//!
//! Request B *follows* request A when B was received at or after A was answered: the client
//! sent B only once it could have read A's answer. Two requests neither of which follows the
//! other were in flight at the same time, so neither waited for the other. The *depth* of a set
//! of requests is the length of its longest sequence in which each request follows the one
//! before: the number of round trips a client pays one after another, which on a network with
//! latency L costs at least depth × L. A client that sends a request after another's answer
//! without needing it still pays for that wait, and the depth counts it, as it should.
//!
//! Neither mistake is possible in one direction: the server takes `answered` before writing a
//! response, so a request sent after reading that response is always received later (a real
//! serial round trip is never missed). Requests sent in parallel overlap only if each reaches
//! the server before another is answered; [`super::Options::latency`] makes that window wide.

use std::time::Instant;

use super::RecordedRequest;

/// The requests of one piece of work (e.g. one tool call) and their dependent-chain depth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoundTrips {
    pub requests: usize,
    pub depth: usize,
}

impl RoundTrips {
    /// The round trips of the requests in `log` (all of them, in any order).
    pub fn of(log: &[RecordedRequest]) -> RoundTrips {
        let spans: Vec<(Instant, Instant)> = log.iter().map(|r| (r.received, r.answered)).collect();
        RoundTrips {
            requests: log.len(),
            depth: chain_depth(&spans),
        }
    }
}

/// The length of the longest chain of `(received, answered)` spans in which each span was
/// received at or after the previous one was answered (see the module comment). Zero for none.
pub fn chain_depth(spans: &[(Instant, Instant)]) -> usize {
    let mut order: Vec<(Instant, Instant)> = spans.to_vec();
    // A span another one follows was received no later than it: in this order every span a
    // span follows comes before it.
    order.sort();
    let mut depth = vec![0usize; order.len()];
    for i in 0..order.len() {
        let received = order[i].0;
        let before = (0..i)
            .filter(|&j| order[j].1 <= received)
            .map(|j| depth[j])
            .max()
            .unwrap_or(0);
        depth[i] = before + 1;
    }
    depth.into_iter().max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Spans given in milliseconds after one instant.
    fn depth(ms: &[(u64, u64)]) -> usize {
        let t0 = Instant::now();
        let at = |m: u64| t0 + Duration::from_millis(m);
        let spans: Vec<_> = ms.iter().map(|&(r, a)| (at(r), at(a))).collect();
        chain_depth(&spans)
    }

    #[test]
    fn no_request_is_depth_zero_one_is_one() {
        assert_eq!(depth(&[]), 0);
        assert_eq!(depth(&[(0, 50)]), 1);
    }

    #[test]
    fn overlapping_requests_are_parallel() {
        assert_eq!(depth(&[(0, 50), (1, 51), (3, 49)]), 1);
        // Received a moment before the other was answered: still in flight together.
        assert_eq!(depth(&[(0, 50), (49, 99)]), 1);
    }

    #[test]
    fn a_request_received_after_an_answer_follows_it() {
        assert_eq!(depth(&[(0, 50), (51, 101)]), 2);
        // Received the instant the other was answered: the client cannot have sent it before.
        assert_eq!(depth(&[(0, 50), (50, 100)]), 2);
        assert_eq!(depth(&[(0, 50), (51, 101), (102, 152)]), 3);
    }

    #[test]
    fn a_list_then_its_side_calls_in_parallel_is_two() {
        // The list, then events and a source GET at once.
        assert_eq!(depth(&[(0, 50), (52, 102), (53, 103), (55, 104)]), 2);
    }

    #[test]
    fn the_longest_chain_counts_not_the_number_of_waves() {
        // A and B in parallel; C follows A only (it overlaps B); D follows C.
        let a = (0, 50);
        let b = (10, 200);
        let c = (55, 105);
        let d = (110, 160);
        assert_eq!(depth(&[a, b, c, d]), 3);
        // The order of the log does not matter.
        assert_eq!(depth(&[d, c, b, a]), 3);
        // One slow request alone is one round trip however long it takes.
        assert_eq!(depth(&[(0, 1_000), (1, 2), (3, 4), (5, 6)]), 3);
    }
}
