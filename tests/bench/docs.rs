//! Benchmarks: docs. Stub.
pub fn run() {}
