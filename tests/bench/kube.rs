//! Benchmarks: kube. Stub.
pub fn run() {}
