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

/// Locks a cache, going on past poisoning: a poisoned lock only means another request
/// panicked mid-update, and every value kept behind these locks is replaced whole, so what
/// is inside is still valid (or `None`).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
