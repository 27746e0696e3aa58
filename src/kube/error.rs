//! `kube::Error`: what can go wrong talking to a cluster. OWNER: issue 3 (REST client). Stub.

use std::fmt;

#[derive(Debug)]
pub enum Error {
    Config(super::config::Error),
    Auth(super::auth::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => write!(f, "{e}"),
            Error::Auth(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}
