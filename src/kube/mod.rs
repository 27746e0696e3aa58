//! The Kubernetes side: kubeconfig loading (pure), credentials, the HTTPS REST client,
//! discovery and kind→resource mapping, and the API server's list semantics (selectors,
//! paging) for sources that answer lists themselves. Knows nothing of MCP.

pub mod auth;
pub mod client;
pub mod config;
pub mod discovery;
mod error;
pub mod list;
pub mod paging;
mod process_group;
mod proxy;
mod secret;
pub mod selector;
pub mod stop;
pub mod time;
pub mod tls;

pub use error::{Error, Status, StatusDetails};
pub use proxy::NetworkEnv;
pub use secret::{Secret, SecretBytes};

/// Appends `s` percent-encoded: ASCII letters, digits and the bytes in `keep` as they are,
/// every other byte (each byte of a multibyte character too) as `%XX` in upper-case hex.
/// Callers differ only in `keep`: query values, path segments, impersonation extra keys.
pub(crate) fn percent_encode_into(out: &mut String, s: &str, keep: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
}

#[cfg(test)]
mod layering_tests;
