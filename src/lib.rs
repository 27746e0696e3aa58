//! flux-operator-mcp: an MCP server for Kubernetes clusters that run Flux.
//!
//! The crate is a library plus a thin binary (`src/main.rs`) so that the integration tests,
//! the benchmarks and the test API server can reach the same code. See ARCHITECTURE.md.
#![deny(unsafe_code)]

pub mod check;
pub mod cli;
pub mod docs;
pub mod files;
pub mod http;
pub mod kube;
pub mod mcp;
pub mod random;
pub mod redact;
pub mod snapshot;
pub mod sync;
pub mod text;
pub mod tools;
pub mod version;

/// The release version: `FLUX_OPERATOR_MCP_VERSION` at build time, else Cargo's.
pub const VERSION: &str = match option_env!("FLUX_OPERATOR_MCP_VERSION") {
    Some(v) => v,
    None => env!("CARGO_PKG_VERSION"),
};
