//! Kubeconfig loading, merging and context resolution, the way kubectl does it. Pure: reads
//! files, never the network. OWNER: issue 3 (kubeconfig). The public types below are the
//! contract the REST client and the tools code against: add fields and methods freely,
//! do not rename or remove.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use super::{Secret, SecretBytes};

/// Command-line overrides (`--kubeconfig`, `--kube-context`, `--kube-*`, `-n`), applied on top of
/// the kubeconfig the way kubectl applies `--server`, `--token`, `--as`, ...
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--kubeconfig`: one file; replaces the KUBECONFIG list.
    pub kubeconfig: Option<PathBuf>,
    /// `--kube-context`: used instead of `current-context`.
    pub context: Option<String>,
    /// `-n/--namespace`: the default namespace instead of the context's.
    pub namespace: Option<String>,
    pub server: Option<String>,
    pub tls_server_name: Option<String>,
    pub token: Option<Secret>,
    pub client_certificate: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub certificate_authority: Option<PathBuf>,
    pub insecure_skip_tls_verify: bool,
    /// `--kube-as`
    pub impersonate_user: Option<String>,
    /// `--kube-as-group` (repeatable)
    pub impersonate_groups: Vec<String>,
    /// `--kube-as-uid`
    pub impersonate_uid: Option<String>,
}

/// The parts of the process environment the loader reads. Passed in, never read behind the
/// caller's back, so tests stay hermetic (no `~/.kube`, no stray `KUBECONFIG`).
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `$KUBECONFIG`, a path list.
    pub kubeconfig: Option<OsString>,
    /// `$HOME`, for `~/.kube/config`.
    pub home: Option<PathBuf>,
    /// `$KUBERNETES_SERVICE_HOST` / `$KUBERNETES_SERVICE_PORT`: set inside a pod.
    pub service_host: Option<String>,
    pub service_port: Option<String>,
    /// Where the service-account token, CA and namespace live
    /// (`/var/run/secrets/kubernetes.io/serviceaccount` in a pod).
    pub service_account_dir: PathBuf,
}

impl Env {
    /// The real environment of this process.
    pub fn from_process() -> Env {
        Env {
            kubeconfig: std::env::var_os("KUBECONFIG"),
            home: std::env::var_os("HOME").map(PathBuf::from),
            service_host: std::env::var("KUBERNETES_SERVICE_HOST")
                .ok()
                .filter(|s| !s.is_empty()),
            service_port: std::env::var("KUBERNETES_SERVICE_PORT")
                .ok()
                .filter(|s| !s.is_empty()),
            service_account_dir: PathBuf::from("/var/run/secrets/kubernetes.io/serviceaccount"),
        }
    }
}

/// A loaded (merged) kubeconfig, or the in-cluster configuration.
#[derive(Debug, Clone)]
pub struct Kubeconfig {
    // filled in by the implementation
}

/// One context as `get_kubeconfig_contexts` shows it: never a server secret or credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextInfo {
    pub name: String,
    pub cluster: String,
    pub user: String,
    /// The context's namespace, `None` when it sets none.
    pub namespace: Option<String>,
}

/// Everything the REST client needs to reach one cluster as one identity.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Context name (`in-cluster` for the in-cluster configuration).
    pub context: String,
    pub cluster: String,
    pub user: String,
    /// API server URL, e.g. `https://127.0.0.1:6443` or `https://[::1]:6443`.
    pub server: String,
    /// The default namespace: `-n`, else the context's, else `default`.
    pub namespace: String,
    pub tls: TlsSettings,
    /// `proxy-url`; when `None` the client honours `HTTPS_PROXY`/`NO_PROXY` like client-go.
    pub proxy_url: Option<String>,
    pub auth: AuthConfig,
    pub impersonate: Impersonation,
}

#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    /// PEM bundle from `certificate-authority-data` or `certificate-authority`.
    pub ca_pem: Option<Vec<u8>>,
    pub insecure_skip_verify: bool,
    /// `tls-server-name`: the name used for SNI and certificate verification.
    pub server_name: Option<String>,
}

/// How the user authenticates, as written in the kubeconfig (after overrides). `auth.rs` turns
/// this into headers and a client identity at request time.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    pub client_cert: Option<ClientCert>,
    pub token: Option<Secret>,
    /// Re-read when it changes (projected service-account tokens rotate).
    pub token_file: Option<PathBuf>,
    pub basic: Option<BasicAuth>,
    pub exec: Option<ExecConfig>,
    /// The `auth-provider` name: not supported, answered with a "use an exec plugin" error.
    pub auth_provider: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ClientCert {
    pub cert_pem: Vec<u8>,
    pub key_pem: SecretBytes,
}

#[derive(Debug, Clone)]
pub struct BasicAuth {
    pub username: String,
    pub password: Secret,
}

/// A `client.authentication.k8s.io` exec credential plugin.
#[derive(Debug, Clone, Default)]
pub struct ExecConfig {
    pub api_version: String,
    pub command: String,
    pub args: Vec<String>,
    /// Extra environment; values may be secret-ish, so `Debug` must not print them (see impl).
    pub env: Vec<(String, Secret)>,
    pub install_hint: Option<String>,
    pub provide_cluster_info: bool,
    pub interactive_mode: Option<String>,
    /// The kubeconfig file's folder: a relative `command` path is resolved against it.
    pub base_dir: Option<PathBuf>,
    /// `cluster.extensions["client.authentication.k8s.io/exec"]` passed in `KUBERNETES_EXEC_INFO`.
    pub cluster_config: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Impersonation {
    pub user: Option<String>,
    pub groups: Vec<String>,
    pub uid: Option<String>,
}

/// Kubeconfig errors name the file and the field.
#[derive(Debug)]
pub enum Error {
    /// Placeholder until the loader lands.
    NotImplemented,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotImplemented => f.write_str("kubeconfig loading is not implemented yet"),
        }
    }
}

impl std::error::Error for Error {}

/// Load the kubeconfig as kubectl would: `--kubeconfig`, else the `KUBECONFIG` list (merged,
/// first wins), else `~/.kube/config`, else the in-cluster configuration.
pub fn load(_overrides: &Overrides, _env: &Env) -> Result<Kubeconfig, Error> {
    Err(Error::NotImplemented)
}

impl Kubeconfig {
    /// The files that were merged, in order (empty in a cluster).
    pub fn files(&self) -> &[PathBuf] {
        &[]
    }

    /// True when this is the in-cluster (service account) configuration.
    pub fn in_cluster(&self) -> bool {
        false
    }

    /// Every context, sorted by name.
    pub fn contexts(&self) -> Vec<ContextInfo> {
        Vec::new()
    }

    /// `--kube-context` if given, else `current-context`.
    pub fn current_context(&self) -> Option<&str> {
        None
    }

    /// Resolve a context (`None`: the current one) into a `Connection`.
    pub fn resolve(&self, _context: Option<&str>) -> Result<Connection, Error> {
        Err(Error::NotImplemented)
    }
}
