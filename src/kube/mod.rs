//! The Kubernetes side: kubeconfig loading (pure), credentials, the HTTPS REST client,
//! discovery and kind→resource mapping. Knows nothing of MCP.

pub mod auth;
pub mod client;
pub mod config;
pub mod discovery;
mod error;
pub mod list;
mod proxy;
mod secret;
pub mod time;
pub mod tls;

pub use error::{Error, Status, StatusDetails};
pub use proxy::NetworkEnv;
pub use secret::{Secret, SecretBytes};
