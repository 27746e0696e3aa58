//! Tests of the test API server itself (tests/apiserver/): TLS and auth, discovery, lists with
//! paging and selectors, Status bodies, logs, metrics, writes, faults. The other suites trust it,
//! so it is held to the wire format of a real API server here.

use crate::apiserver::{ApiServer, Options};

#[test]
fn starts_and_serves_discovery() {
    let server = ApiServer::start(Options::default());
    assert!(server.url().starts_with("https://127.0.0.1:"));
}
