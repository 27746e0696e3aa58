//! HTTP/1.1 as this crate speaks it, knowing nothing of what it carries: reading requests
//! (`request`), writing responses, chunked streams and Server-Sent Events (`response`), and a
//! blocking thread-per-connection server with caps and timeouts (`server`). The MCP transports
//! (`mcp/http`) serve through it; the test API server (`tests/apiserver`) reads and writes its
//! HTTPS exchanges with the same code. Names no layer of the crate.
//!
//! [`request::parse_request`] is a pure function over bytes, for fuzzing.

pub mod request;
pub mod response;
pub mod server;

pub use request::{Limits, Request};
pub use response::Response;
