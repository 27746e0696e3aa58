//! The test API server as a standalone process. OWNER: issue 3 (test API server). Stub.
#[path = "mod.rs"]
#[allow(dead_code)]
mod apiserver;

fn main() {}
