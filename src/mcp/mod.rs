//! The protocol: JSON-RPC messages, the server and its per-connection sessions, and the
//! transports. Knows nothing of Kubernetes: the tools layer plugs in through
//! [`server::Service`].
//!
//! One process has one [`server::Server`] (the service, shared); each connection has one
//! [`session::Session`] (its protocol state); each incoming message has one
//! [`connection::Reply`] (where its answer goes).

pub mod cancel;
pub mod connection;
pub mod http;
pub mod message;
pub mod server;
pub mod session;
mod signal;
pub mod stdio;
