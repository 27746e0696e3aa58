//! `make bench`: start-up, latency, memory and size figures. Stub.
fn main() {}
