//! Benchmarks: startup. Stub.
pub fn run() {}
