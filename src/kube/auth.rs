//! Credentials at request time: bearer tokens, token files, basic auth, client certificates,
//! exec credential plugins and in-cluster service accounts; impersonation headers.
//! OWNER: issue 3 (kubeconfig + auth). The API below is the contract the REST client uses.

use std::fmt;

use super::Secret;
use super::config::{AuthConfig, ClientCert, Impersonation};

/// Produces credentials for one connection. Shared between threads; caches exec-plugin output
/// until it expires and re-reads token files when they change.
#[derive(Debug)]
pub struct Authenticator {
    #[allow(dead_code)]
    config: AuthConfig,
    #[allow(dead_code)]
    context: String,
}

impl Authenticator {
    pub fn new(config: AuthConfig, context: &str) -> Authenticator {
        Authenticator {
            config,
            context: context.to_string(),
        }
    }

    /// The `Authorization` header value for the next request (`Bearer ...` or `Basic ...`),
    /// `None` when the identity is a client certificate only.
    pub fn authorization(&self) -> Result<Option<Secret>, Error> {
        // Stub: static token only; the full version adds token files, basic auth and exec plugins.
        Ok(self
            .config
            .token
            .as_ref()
            .map(|t| Secret::new(format!("Bearer {}", t.expose()))))
    }

    /// The client certificate and key to present (from the kubeconfig or an exec plugin).
    pub fn client_identity(&self) -> Result<Option<ClientCert>, Error> {
        Ok(self.config.client_cert.clone())
    }

    /// Forget cached exec credentials (after a 401) so the next request runs the plugin again.
    pub fn invalidate(&self) {}
}

/// The `Impersonate-*` headers for an impersonation config, in a stable order.
pub fn impersonation_headers(imp: &Impersonation) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(u) = &imp.user {
        out.push(("Impersonate-User", u.clone()));
    }
    for g in &imp.groups {
        out.push(("Impersonate-Group", g.clone()));
    }
    if let Some(uid) = &imp.uid {
        out.push(("Impersonate-Uid", uid.clone()));
    }
    out
}

/// Credential errors. Never carry a token, key or header value.
#[derive(Debug)]
pub enum Error {
    NotImplemented,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotImplemented => f.write_str("not implemented"),
        }
    }
}

impl std::error::Error for Error {}
