//! Benchmarks: tools. Stub.
pub fn run() {}
