//! The MCP protocol: JSON-RPC messages, the protocol state machine and the transports.
//! Knows nothing of Kubernetes: the tools layer plugs in through [`server::Service`].

pub mod message;
pub mod server;
mod signal;
pub mod stdio;
