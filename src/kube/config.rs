//! Kubeconfig loading, merging and context resolution, the way kubectl does it. Pure: reads
//! files, never the network. The public types below are the contract the REST client and the
//! tools code against: add fields and methods freely, do not rename or remove.
//!
//! The semantics follow client-go's `clientcmd` (the loader kubectl uses), checked against the
//! real kubectl by `cargo run --example kubeconfig-oracle`:
//! - `--kubeconfig` names one file that must exist; otherwise `$KUBECONFIG` is a path list
//!   (missing files and empty entries skipped), otherwise `~/.kube/config`.
//! - Merging: the first file that names a cluster, user or context wins, and the first file that
//!   sets `current-context` wins. Two entries with one name in *one* file is an error.
//! - Only the first YAML document of a file counts; UTF-8 (with or without BOM) and UTF-16 with
//!   a BOM are read. Types are strict (`namespace: 123` is an error) except that YAML 1.1
//!   booleans (`yes`, `on`) are booleans, as go-yaml v2 reads them.
//! - Relative paths resolve against the folder of the file that holds them.
//! - The in-cluster service account is used when no kubeconfig file has any content.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize as _;
use serde_norway::{Mapping, Value as Yaml};

use super::{Secret, SecretBytes};
use crate::files;

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
#[derive(Clone)]
pub struct Kubeconfig {
    /// The files that were read, in order (missing ones are not listed).
    files: Vec<PathBuf>,
    clusters: BTreeMap<String, Entry<RawCluster>>,
    users: BTreeMap<String, Entry<RawUser>>,
    contexts: BTreeMap<String, Entry<RawContext>>,
    /// The first `current-context` set by a file.
    file_current_context: Option<String>,
    overrides: Overrides,
    in_cluster: bool,
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
#[derive(Clone)]
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

#[derive(Clone, Default)]
pub struct TlsSettings {
    /// PEM bundle from `certificate-authority-data` or `certificate-authority`.
    pub ca_pem: Option<Vec<u8>>,
    pub insecure_skip_verify: bool,
    /// `tls-server-name`: the name used for SNI and certificate verification.
    pub server_name: Option<String>,
    /// Where `ca_pem` came from, for messages: `certificate-authority-data`,
    /// `certificate-authority` or `--kube-certificate-authority`; `None` without a CA (the
    /// system trust store is used then).
    pub ca_source: Option<&'static str>,
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

#[derive(Clone)]
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
#[derive(Clone, Default)]
pub struct ExecConfig {
    pub api_version: String,
    pub command: String,
    pub args: Vec<String>,
    /// Extra environment; values may be secret-ish, so `Debug` must not print them (see impl).
    pub env: Vec<(String, Secret)>,
    pub install_hint: Option<String>,
    pub provide_cluster_info: bool,
    pub interactive_mode: Option<String>,
    /// The kubeconfig file's folder. The loader has already resolved a relative `command`
    /// path against it; kept for callers and `Debug`, not consulted when the plugin runs.
    pub base_dir: Option<PathBuf>,
    /// `cluster.extensions["client.authentication.k8s.io/exec"]` passed in `KUBERNETES_EXEC_INFO`.
    pub cluster_config: Option<serde_json::Value>,
    /// `spec.cluster` of `KUBERNETES_EXEC_INFO` when `provideClusterInfo` is set: server,
    /// `tls-server-name`, `insecure-skip-tls-verify`, `certificate-authority-data`, `proxy-url`
    /// and `config` (the extension above), with client-go's JSON field names.
    pub cluster_info: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Impersonation {
    pub user: Option<String>,
    pub groups: Vec<String>,
    pub uid: Option<String>,
    /// `as-user-extra`: extra attributes of the impersonated user (`scopes`, `reason`, ...),
    /// sorted by key; each value becomes one `Impersonate-Extra-<key>` header.
    pub extra: Vec<(String, Vec<String>)>,
}

/// The exec plugin API versions client-go still accepts (`v1alpha1` was removed in 1.24).
pub const EXEC_API_VERSIONS: [&str; 2] = [
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
];

/// The context, cluster and user names of the in-cluster configuration.
pub const IN_CLUSTER: &str = "in-cluster";
const IN_CLUSTER_USER: &str = "service-account";

// ---------------------------------------------------------------------------------------------
// Errors

/// Kubeconfig errors name the file and the field. They never hold a credential: values are
/// never quoted, only names, paths and what is wrong.
#[derive(Debug)]
pub enum Error {
    /// No kubeconfig file and not in a pod; says where we looked, and which named files were
    /// missing.
    NotFound {
        looked: Vec<String>,
        missing: Vec<PathBuf>,
    },
    /// `--kubeconfig` names a file that does not exist (kubectl refuses that too).
    Missing { path: PathBuf },
    /// A file could not be read: a kubeconfig, or one a kubeconfig refers to (`what` says which
    /// field of which entry, or which flag, named it).
    Read {
        path: PathBuf,
        what: Option<String>,
        source: files::Error,
    },
    /// Neither UTF-8 nor UTF-16 with a byte-order mark.
    Encoding { path: PathBuf, problem: String },
    /// Not YAML; the message carries the line and column.
    Yaml {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    /// A field with the wrong type or a value that cannot work. `entry` is e.g. `user "alice"`;
    /// `path` is `None` when the value came from a command-line flag.
    Invalid {
        path: Option<PathBuf>,
        entry: String,
        field: String,
        problem: String,
    },
    /// Two entries with one name in one file (client-go refuses to convert such a list).
    DuplicateName {
        path: PathBuf,
        list: &'static str,
        name: String,
    },
    /// No `--kube-context` and no `current-context` in any file.
    NoCurrentContext {
        files: Vec<PathBuf>,
        available: Vec<String>,
    },
    ContextNotFound {
        name: String,
        files: Vec<PathBuf>,
        available: Vec<String>,
    },
    /// The context names a cluster that no file defines.
    ClusterNotFound {
        context: String,
        cluster: String,
        path: Option<PathBuf>,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound { looked, .. } => {
                write!(f, "no kubeconfig found: looked at {}", looked.join(", "))?;
                if let Some(path) = self.unexpanded() {
                    write!(f, "; {}", Unexpanded(path))?;
                }
                Ok(())
            }
            Error::Missing { path } => {
                write!(f, "--kubeconfig {}: no such file", path.display())?;
                if self.unexpanded().is_some() {
                    write!(f, "; {}", Unexpanded(path))?;
                }
                Ok(())
            }
            Error::Read { path, what, source } => {
                write!(f, "cannot read {}", path.display())?;
                if let Some(what) = what {
                    write!(f, " ({what})")?;
                }
                write!(f, ": {source}")
            }
            Error::Encoding { path, problem } => write!(f, "{}: {problem}", path.display()),
            Error::Yaml { path, message, .. } => {
                write!(f, "{}: invalid YAML: {message}", path.display())
            }
            Error::Invalid {
                path,
                entry,
                field,
                problem,
            } => {
                if let Some(path) = path {
                    write!(f, "{}: ", path.display())?;
                }
                if !entry.is_empty() {
                    write!(f, "{entry}: ")?;
                }
                write!(f, "{field}: {problem}")
            }
            Error::DuplicateName { path, list, name } => write!(
                f,
                "{}: {list} has two entries named {name:?} (kubectl refuses this too)",
                path.display()
            ),
            Error::NoCurrentContext { files, available } => write!(
                f,
                "no current-context in {} ({})",
                FileList(files),
                NameList(available)
            ),
            Error::ContextNotFound {
                name,
                files,
                available,
            } => write!(
                f,
                "context {name:?} not found in {} ({})",
                FileList(files),
                NameList(available)
            ),
            Error::ClusterNotFound {
                context,
                cluster,
                path,
            } => {
                write!(f, "context {context:?}")?;
                if let Some(path) = path {
                    write!(f, " in {}", path.display())?;
                }
                write!(
                    f,
                    " refers to cluster {cluster:?}, which no kubeconfig file defines"
                )
            }
        }
    }
}

impl Error {
    /// A kubeconfig path that names no file because it holds a `~` or a `$VARIABLE` nobody
    /// expanded: a shell expands them, and an MCP client that starts the server with
    /// `"env": {"KUBECONFIG": "~/.kube/config"}` (or `--kubeconfig ~/...` in its args) has none.
    pub fn unexpanded(&self) -> Option<&Path> {
        let literal = |p: &Path| {
            let text = p.to_string_lossy();
            text.starts_with('~') || text.contains('$')
        };
        match self {
            Error::NotFound { missing, .. } => {
                missing.iter().map(PathBuf::as_path).find(|p| literal(p))
            }
            Error::Missing { path } => Some(path.as_path()).filter(|p| literal(p)),
            _ => None,
        }
    }
}

/// Why a path with `~` or `$HOME` names no file.
struct Unexpanded<'a>(&'a Path);

impl fmt::Display for Unexpanded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is taken literally: `~` and `$HOME` are expanded by a shell, and the program \
             that started this one (an MCP client) used none",
            self.0.display().to_string()
        )
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

struct FileList<'a>(&'a [PathBuf]);

impl fmt::Display for FileList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("the kubeconfig (no file)");
        }
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", p.display())?;
        }
        Ok(())
    }
}

/// Context names for an error message: enough to pick one, never a wall of text.
struct NameList<'a>(&'a [String]);

impl fmt::Display for NameList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 20;
        if self.0.is_empty() {
            return f.write_str("no contexts defined");
        }
        f.write_str("contexts: ")?;
        for (i, name) in self.0.iter().take(SHOWN).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(name)?;
        }
        if self.0.len() > SHOWN {
            write!(f, ", ... ({} more)", self.0.len() - SHOWN)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The merged kubeconfig, as read from the files (paths already absolute)

#[derive(Debug, Clone)]
struct Entry<T> {
    /// Index into `Kubeconfig::files`; `None` for the in-cluster entries.
    file: Option<usize>,
    value: T,
}

#[derive(Debug, Clone, Default)]
struct RawCluster {
    server: Option<String>,
    tls_server_name: Option<String>,
    insecure: bool,
    ca_file: Option<PathBuf>,
    ca_data: Option<Vec<u8>>,
    proxy_url: Option<String>,
    /// `extensions[name=client.authentication.k8s.io/exec].extension`
    exec_extension: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default)]
struct RawUser {
    cert_file: Option<PathBuf>,
    cert_data: Option<Vec<u8>>,
    key_file: Option<PathBuf>,
    key_data: Option<SecretBytes>,
    token: Option<Secret>,
    token_file: Option<PathBuf>,
    impersonate: Option<String>,
    impersonate_uid: Option<String>,
    impersonate_groups: Vec<String>,
    /// `as-user-extra`, sorted by key.
    impersonate_extra: Vec<(String, Vec<String>)>,
    username: Option<String>,
    password: Option<Secret>,
    auth_provider: Option<String>,
    exec: Option<RawExec>,
    /// The folder of the file that defined this user (exec plugins run relative to it).
    base_dir: Option<PathBuf>,
}

/// `Debug` by hand: arguments can hold secrets (see the impl).
#[derive(Clone, Default)]
struct RawExec {
    api_version: Option<String>,
    command: Option<String>,
    args: Vec<String>,
    env: Vec<(String, Secret)>,
    install_hint: Option<String>,
    provide_cluster_info: bool,
    interactive_mode: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct RawContext {
    cluster: String,
    user: String,
    namespace: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Loading

/// Load the kubeconfig as kubectl would: `--kubeconfig`, else the `KUBECONFIG` list (merged,
/// first wins), else `~/.kube/config`, else the in-cluster configuration.
pub fn load(overrides: &Overrides, env: &Env) -> Result<Kubeconfig, Error> {
    let mut kc = Kubeconfig {
        files: Vec::new(),
        clusters: BTreeMap::new(),
        users: BTreeMap::new(),
        contexts: BTreeMap::new(),
        file_current_context: None,
        overrides: overrides.clone(),
        in_cluster: false,
    };
    let mut looked = Vec::new();
    let (candidates, explicit) = candidate_files(overrides, env, &mut looked)?;
    let mut missing = Vec::new();
    for path in candidates {
        let bytes = match files::read(&path, files::KUBECONFIG) {
            Ok(bytes) => bytes,
            // client-go skips missing files of the list silently (it only warns when all are).
            Err(e) if e.is_not_found() && !explicit => {
                missing.push(path);
                continue;
            }
            Err(source) => {
                return Err(Error::Read {
                    path,
                    what: None,
                    source,
                });
            }
        };
        let doc = parse_first_document(&path, &bytes)?;
        kc.merge_file(path, &doc)?;
    }
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|p| p.display().to_string()).collect();
        looked.push(format!("{} (not found)", names.join(", ")));
    }

    // client-go falls back to the in-cluster configuration when the kubeconfig it merged is
    // empty (DeferredLoadingClientConfig: "the configuration is ... equal to the defaults").
    if kc.has_no_content() {
        if in_cluster_possible(env, &mut looked) {
            kc.add_in_cluster(env)?;
            return Ok(kc);
        }
        // kubectl works with `--server` alone and no file at all.
        if kc.files.is_empty() && server_flag(overrides).is_none() {
            return Err(Error::NotFound { looked, missing });
        }
    }
    Ok(kc)
}

/// The files to read, and whether they were named explicitly (`--kubeconfig`: must exist).
fn candidate_files(
    overrides: &Overrides,
    env: &Env,
    looked: &mut Vec<String>,
) -> Result<(Vec<PathBuf>, bool), Error> {
    if let Some(path) = &overrides.kubeconfig {
        // clientcmd stats the explicit path first and fails when it does not exist.
        if let Err(e) = std::fs::metadata(path)
            && e.kind() == io::ErrorKind::NotFound
        {
            return Err(Error::Missing { path: path.clone() });
        }
        return Ok((vec![path.clone()], true));
    }
    if let Some(list) = env.kubeconfig.as_ref().filter(|l| !l.is_empty()) {
        // filepath.SplitList, empty entries dropped, duplicates removed keeping the first.
        let mut seen = BTreeSet::new();
        let files: Vec<PathBuf> = std::env::split_paths(list)
            .filter(|p| !p.as_os_str().is_empty())
            .filter(|p| seen.insert(p.clone()))
            .collect();
        if files.is_empty() {
            looked.push("$KUBECONFIG (only empty entries)".to_string());
        } else {
            looked.push("$KUBECONFIG".to_string());
        }
        return Ok((files, false));
    }
    looked.push("$KUBECONFIG (not set)".to_string());
    match &env.home {
        Some(home) => Ok((vec![home.join(".kube").join("config")], false)),
        None => {
            looked.push("~/.kube/config ($HOME not set)".to_string());
            Ok((Vec::new(), false))
        }
    }
}

/// Decode a kubeconfig file's text: UTF-8 with an optional BOM, or UTF-16 LE/BE with a BOM
/// (go-yaml detects the encoding from the BOM the same way; without one it reads UTF-8).
fn decode_text(path: &Path, bytes: &[u8]) -> Result<String, Error> {
    let utf16 = |chunks: &[u8], big_endian: bool| -> Result<String, Error> {
        if !chunks.len().is_multiple_of(2) {
            return Err(Error::Encoding {
                path: path.to_path_buf(),
                problem: "UTF-16 text with an odd number of bytes".to_string(),
            });
        }
        let units = chunks.chunks_exact(2).map(|c| {
            if big_endian {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_le_bytes([c[0], c[1]])
            }
        });
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map_err(|_| Error::Encoding {
                path: path.to_path_buf(),
                problem: "invalid UTF-16 text".to_string(),
            })
    };
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => utf8(path, rest),
        [0xFF, 0xFE, rest @ ..] => utf16(rest, false),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, true),
        _ => utf8(path, bytes),
    }
}

fn utf8(path: &Path, bytes: &[u8]) -> Result<String, Error> {
    String::from_utf8(bytes.to_vec()).map_err(|e| Error::Encoding {
        path: path.to_path_buf(),
        problem: format!(
            "not UTF-8 (invalid byte at offset {}), nor UTF-16 with a byte-order mark",
            e.utf8_error().valid_up_to()
        ),
    })
}

/// The first YAML document of a file: kubectl reads only that one (sigs.k8s.io/yaml).
fn parse_first_document(path: &Path, bytes: &[u8]) -> Result<Yaml, Error> {
    let text = decode_text(path, bytes)?;
    let Some(doc) = serde_norway::Deserializer::from_str(&text).next() else {
        return Ok(Yaml::Null);
    };
    let yaml_err = |e: serde_norway::Error| Error::Yaml {
        path: path.to_path_buf(),
        line: e.location().map(|l| l.line()),
        message: e.to_string(),
    };
    let mut value = Yaml::deserialize(doc).map_err(yaml_err)?;
    // go-yaml v2 honours `<<: *anchor` merge keys; serde_norway needs asking.
    value.apply_merge().map_err(yaml_err)?;
    Ok(value)
}

impl Kubeconfig {
    fn has_no_content(&self) -> bool {
        self.clusters.is_empty()
            && self.users.is_empty()
            && self.contexts.is_empty()
            && self.file_current_context.is_none()
    }

    /// Merge one file: entries whose name is already known keep the earlier file's value.
    fn merge_file(&mut self, path: PathBuf, doc: &Yaml) -> Result<(), Error> {
        let index = self.files.len();
        // Relative paths resolve against the folder of the file (client-go ResolveLocalPaths),
        // made absolute against the working directory as filepath.Abs does.
        let dir = std::path::absolute(&path)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        self.files.push(path);
        let path = &self.files[index];
        let top = match doc {
            Yaml::Null => return Ok(()),
            Yaml::Mapping(m) => m,
            _ => {
                return Err(invalid(path, "", "(document)", "expected a mapping"));
            }
        };
        let file = FileFields {
            path,
            dir: &dir,
            entry: String::new(),
            prefix: "",
            map: Some(top),
        };

        if let Some(current) = file.string("current-context")? {
            self.file_current_context.get_or_insert(current);
        }
        for (name, item) in file.named_list("clusters", "cluster")? {
            let cluster = parse_cluster(&item)?;
            self.clusters.entry(name).or_insert(Entry {
                file: Some(index),
                value: cluster,
            });
        }
        for (name, item) in file.named_list("users", "user")? {
            let user = parse_user(&item)?;
            self.users.entry(name).or_insert(Entry {
                file: Some(index),
                value: user,
            });
        }
        for (name, item) in file.named_list("contexts", "context")? {
            let context = RawContext {
                cluster: item.string("cluster")?.unwrap_or_default(),
                user: item.string("user")?.unwrap_or_default(),
                namespace: item.string("namespace")?,
            };
            self.contexts.entry(name).or_insert(Entry {
                file: Some(index),
                value: context,
            });
        }
        Ok(())
    }

    /// The service account of the pod we run in, as one context named `in-cluster`.
    fn add_in_cluster(&mut self, env: &Env) -> Result<(), Error> {
        let dir = &env.service_account_dir;
        let host = env.service_host.as_deref().unwrap_or_default();
        let port = env.service_port.as_deref().unwrap_or_default();
        // rest.InClusterConfig: "https://" + net.JoinHostPort(host, port).
        let server = if host.contains(':') {
            format!("https://[{host}]:{port}")
        } else {
            format!("https://{host}:{port}")
        };
        let ca = dir.join("ca.crt");
        let namespace = match files::read(&dir.join("namespace"), files::NAMESPACE) {
            Ok(ns) => {
                Some(String::from_utf8_lossy(&ns).trim().to_string()).filter(|ns| !ns.is_empty())
            }
            Err(e) if e.is_not_found() => None,
            Err(source) => {
                return Err(Error::Read {
                    path: dir.join("namespace"),
                    what: Some("in-cluster namespace".to_string()),
                    source,
                });
            }
        };
        self.in_cluster = true;
        self.clusters.insert(
            IN_CLUSTER.to_string(),
            Entry {
                file: None,
                value: RawCluster {
                    server: Some(server),
                    // client-go logs and goes on without a CA when ca.crt is missing.
                    ca_file: ca.exists().then_some(ca),
                    ..RawCluster::default()
                },
            },
        );
        self.users.insert(
            IN_CLUSTER_USER.to_string(),
            Entry {
                file: None,
                value: RawUser {
                    token_file: Some(dir.join("token")),
                    ..RawUser::default()
                },
            },
        );
        self.contexts.insert(
            IN_CLUSTER.to_string(),
            Entry {
                file: None,
                value: RawContext {
                    cluster: IN_CLUSTER.to_string(),
                    user: IN_CLUSTER_USER.to_string(),
                    namespace,
                },
            },
        );
        self.file_current_context = Some(IN_CLUSTER.to_string());
        Ok(())
    }
}

/// client-go's `inClusterClientConfig.Possible`: both variables set and a token file present.
fn in_cluster_possible(env: &Env, looked: &mut Vec<String>) -> bool {
    let host = env.service_host.as_deref().filter(|h| !h.is_empty());
    let port = env.service_port.as_deref().filter(|p| !p.is_empty());
    let token = env.service_account_dir.join("token");
    let why_not = match (host, port) {
        (None, _) => "KUBERNETES_SERVICE_HOST not set".to_string(),
        (Some(_), None) => "KUBERNETES_SERVICE_PORT not set".to_string(),
        (Some(_), Some(_)) if !token.is_file() => format!("no token at {}", token.display()),
        _ => return true,
    };
    looked.push(format!("in-cluster ({why_not})"));
    false
}

fn invalid(path: &Path, entry: &str, field: &str, problem: &str) -> Error {
    Error::Invalid {
        path: Some(path.to_path_buf()),
        entry: entry.to_string(),
        field: field.to_string(),
        problem: problem.to_string(),
    }
}

/// Typed access to one mapping of a kubeconfig file, with errors that name the file, the entry
/// and the field but never the value.
struct FileFields<'a> {
    path: &'a Path,
    dir: &'a Path,
    /// e.g. `user "alice"`; empty at the top level.
    entry: String,
    /// Prepended to field names, e.g. `exec.` inside a user's exec block.
    prefix: &'static str,
    map: Option<&'a Mapping>,
}

impl<'a> FileFields<'a> {
    fn get(&self, key: &str) -> Option<&'a Yaml> {
        match self.map?.get(key)? {
            Yaml::Null => None,
            v => Some(v),
        }
    }

    fn err(&self, field: &str, problem: &str) -> Error {
        invalid(
            self.path,
            &self.entry,
            &format!("{}{field}", self.prefix),
            problem,
        )
    }

    fn nested(
        &self,
        key: &str,
        entry: String,
        prefix: &'static str,
    ) -> Result<FileFields<'a>, Error> {
        let map = match self.get(key) {
            None => None,
            Some(Yaml::Mapping(m)) => Some(m),
            Some(_) => return Err(self.err(key, "expected a mapping")),
        };
        Ok(FileFields {
            path: self.path,
            dir: self.dir,
            entry,
            prefix,
            map,
        })
    }

    /// A string field; `""` counts as unset, like Go's `len(s) == 0` checks.
    fn string(&self, key: &str) -> Result<Option<String>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(Yaml::String(s)) => Ok(Some(s.clone()).filter(|s| !s.is_empty())),
            Some(_) => Err(self.err(key, "expected a string")),
        }
    }

    fn secret(&self, key: &str) -> Result<Option<Secret>, Error> {
        Ok(self.string(key)?.map(Secret::new))
    }

    /// go-yaml v2 reads YAML 1.1, where `yes`/`on`/`y` are booleans too.
    fn boolean(&self, key: &str) -> Result<bool, Error> {
        match self.get(key) {
            None => Ok(false),
            Some(Yaml::Bool(b)) => Ok(*b),
            Some(Yaml::String(s)) => match s.as_str() {
                "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True"
                | "TRUE" => Ok(true),
                "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False"
                | "FALSE" => Ok(false),
                _ => Err(self.err(key, "expected a boolean")),
            },
            Some(_) => Err(self.err(key, "expected a boolean")),
        }
    }

    fn strings(&self, key: &str) -> Result<Vec<String>, Error> {
        self.string_list(key, self.get(key))
    }

    /// `value` as a list of strings, errors naming `field`; missing or `null` is empty.
    fn string_list(&self, field: &str, value: Option<&Yaml>) -> Result<Vec<String>, Error> {
        match value {
            None | Some(Yaml::Null) => Ok(Vec::new()),
            Some(Yaml::Sequence(items)) => items
                .iter()
                .map(|item| match item {
                    Yaml::String(s) => Ok(s.clone()),
                    _ => Err(self.err(field, "expected a list of strings")),
                })
                .collect(),
            Some(_) => Err(self.err(field, "expected a list of strings")),
        }
    }

    /// A `*-data` field: base64 as Go's encoding/json decodes `[]byte` (line breaks ignored).
    fn base64(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let Some(text) = self.string(key)? else {
            return Ok(None);
        };
        let compact: Vec<u8> = text.bytes().filter(|b| !b"\r\n".contains(b)).collect();
        match GO_BASE64.decode(&compact) {
            Ok(bytes) => Ok(Some(bytes).filter(|b| !b.is_empty())),
            // The decoder's own message quotes the offending byte: name the offset only.
            Err(e) => {
                let offset = match e {
                    base64::DecodeError::InvalidByte(at, _) => Some(at),
                    _ => None,
                };
                let problem = match offset {
                    Some(at) => format!("invalid base64 at byte {at}"),
                    None => "invalid base64 (wrong length or padding)".to_string(),
                };
                Err(self.err(key, &problem))
            }
        }
    }

    /// A path field, made absolute against the file's folder.
    fn path(&self, key: &str) -> Result<Option<PathBuf>, Error> {
        Ok(self.string(key)?.map(|p| self.dir.join(p)))
    }

    /// A list of `{name, <item>: {...}}` entries (`clusters`, `users`, `contexts`).
    fn named_list(&self, key: &str, item: &str) -> Result<Vec<(String, FileFields<'a>)>, Error> {
        let items = match self.get(key) {
            None => return Ok(Vec::new()),
            Some(Yaml::Sequence(items)) => items,
            Some(_) => return Err(self.err(key, "expected a list")),
        };
        let mut seen = BTreeSet::new();
        let mut out = Vec::with_capacity(items.len());
        for (i, value) in items.iter().enumerate() {
            let label = format!("{key}[{i}]");
            let Yaml::Mapping(map) = value else {
                return Err(self.err(&label, "expected a mapping"));
            };
            let holder = FileFields {
                path: self.path,
                dir: self.dir,
                entry: label,
                prefix: "",
                map: Some(map),
            };
            let name = holder.string("name")?.unwrap_or_default();
            if !seen.insert(name.clone()) {
                return Err(Error::DuplicateName {
                    path: self.path.to_path_buf(),
                    list: match key {
                        "clusters" => "clusters",
                        "users" => "users",
                        _ => "contexts",
                    },
                    name,
                });
            }
            let fields = holder.nested(item, format!("{item} {name:?}"), "")?;
            out.push((name, fields));
        }
        Ok(out)
    }
}

/// Go's `base64.StdEncoding` (what encoding/json uses for `[]byte`): padded, and lenient about
/// the unused bits of the last symbol.
const GO_BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

fn parse_cluster(c: &FileFields<'_>) -> Result<RawCluster, Error> {
    let mut exec_extension = None;
    if let Some(ext) = c.get("extensions") {
        let Yaml::Sequence(items) = ext else {
            return Err(c.err("extensions", "expected a list"));
        };
        for item in items {
            let Yaml::Mapping(map) = item else {
                return Err(c.err("extensions", "expected a list of mappings"));
            };
            if map.get("name").and_then(Yaml::as_str) == Some("client.authentication.k8s.io/exec") {
                let value = map.get("extension").cloned().unwrap_or(Yaml::Null);
                exec_extension = Some(serde_json::to_value(value).map_err(|_| {
                    c.err("extensions", "the exec extension cannot be written as JSON")
                })?);
            }
        }
    }
    Ok(RawCluster {
        server: c.string("server")?,
        tls_server_name: c.string("tls-server-name")?,
        insecure: c.boolean("insecure-skip-tls-verify")?,
        ca_file: c.path("certificate-authority")?,
        ca_data: c.base64("certificate-authority-data")?,
        proxy_url: c.string("proxy-url")?,
        exec_extension,
    })
}

fn parse_user(u: &FileFields<'_>) -> Result<RawUser, Error> {
    let impersonate_extra = user_extra(u)?;
    let auth_provider = match u.get("auth-provider") {
        None => None,
        Some(Yaml::Mapping(m)) => Some(
            m.get("name")
                .and_then(Yaml::as_str)
                .unwrap_or_default()
                .to_string(),
        ),
        Some(_) => return Err(u.err("auth-provider", "expected a mapping")),
    };
    let exec = match u.get("exec") {
        None => None,
        Some(_) => Some(parse_exec(&u.nested("exec", u.entry.clone(), "exec.")?)?),
    };
    Ok(RawUser {
        cert_file: u.path("client-certificate")?,
        cert_data: u.base64("client-certificate-data")?,
        key_file: u.path("client-key")?,
        key_data: u.base64("client-key-data")?.map(SecretBytes::new),
        token: u.secret("token")?,
        token_file: u.path("tokenFile")?,
        impersonate: u.string("as")?,
        impersonate_uid: u.string("as-uid")?,
        impersonate_groups: u.strings("as-groups")?,
        impersonate_extra,
        username: u.string("username")?,
        password: u.secret("password")?,
        auth_provider,
        exec,
        base_dir: Some(u.dir.to_path_buf()),
    })
}

/// `as-user-extra`: client-go's `map[string][]string`. Keys come back sorted (a YAML mapping
/// has no meaningful order and headers should not depend on it); a `null` list is empty, and
/// keys without values are dropped since they would send no header.
fn user_extra(u: &FileFields<'_>) -> Result<Vec<(String, Vec<String>)>, Error> {
    let map = match u.get("as-user-extra") {
        None => return Ok(Vec::new()),
        Some(Yaml::Mapping(m)) => m,
        Some(_) => return Err(u.err("as-user-extra", "expected a mapping")),
    };
    let mut out = BTreeMap::new();
    for (key, values) in map {
        let Yaml::String(key) = key else {
            return Err(u.err("as-user-extra", "keys must be strings"));
        };
        if key.is_empty() {
            return Err(u.err("as-user-extra", "a key is empty"));
        }
        let values = u.string_list(&format!("as-user-extra.{key}"), Some(values))?;
        if !values.is_empty() {
            out.insert(key.clone(), values);
        }
    }
    Ok(out.into_iter().collect())
}

fn parse_exec(e: &FileFields<'_>) -> Result<RawExec, Error> {
    let mut env = Vec::new();
    match e.get("env") {
        None => {}
        Some(Yaml::Sequence(items)) => {
            for (i, item) in items.iter().enumerate() {
                let Yaml::Mapping(map) = item else {
                    return Err(e.err(&format!("env[{i}]"), "expected a mapping"));
                };
                let field = |key: &str| match map.get(key) {
                    None | Some(Yaml::Null) => Ok(String::new()),
                    Some(Yaml::String(s)) => Ok(s.clone()),
                    Some(_) => Err(e.err(&format!("env[{i}].{key}"), "expected a string")),
                };
                env.push((field("name")?, Secret::new(field("value")?)));
            }
        }
        Some(_) => return Err(e.err("env", "expected a list")),
    }
    let command = e.string("command")?.map(|c| {
        // client-go resolves the command against the file's folder only when it holds a path
        // separator; a bare name is looked up in PATH when the plugin runs.
        if c.contains(std::path::MAIN_SEPARATOR) && Path::new(&c).is_relative() {
            e.dir.join(&c).to_string_lossy().into_owned()
        } else {
            c
        }
    });
    Ok(RawExec {
        api_version: e.string("apiVersion")?,
        command,
        args: e.strings("args")?,
        env,
        install_hint: e.string("installHint")?,
        provide_cluster_info: e.boolean("provideClusterInfo")?,
        interactive_mode: e.string("interactiveMode")?,
    })
}

// ---------------------------------------------------------------------------------------------
// Queries and resolution

impl Kubeconfig {
    /// The files that were merged, in order (empty in a cluster).
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// True when this is the in-cluster (service account) configuration.
    pub fn in_cluster(&self) -> bool {
        self.in_cluster
    }

    /// Every context, sorted by name.
    pub fn contexts(&self) -> Vec<ContextInfo> {
        self.contexts
            .iter()
            .map(|(name, e)| ContextInfo {
                name: name.clone(),
                cluster: e.value.cluster.clone(),
                user: e.value.user.clone(),
                namespace: e.value.namespace.clone(),
            })
            .collect()
    }

    /// `--kube-context` if given, else `current-context`.
    pub fn current_context(&self) -> Option<&str> {
        self.overrides
            .context
            .as_deref()
            .filter(|c| !c.is_empty())
            .or(self.file_current_context.as_deref())
    }

    /// The `current-context` the files set (the first file that sets one), ignoring
    /// `--kube-context`: what `kubectl config current-context` prints.
    pub fn file_current_context(&self) -> Option<&str> {
        self.file_current_context.as_deref()
    }

    /// The overrides this kubeconfig was loaded with.
    pub fn overrides(&self) -> &Overrides {
        &self.overrides
    }

    fn context_names(&self) -> Vec<String> {
        self.contexts.keys().cloned().collect()
    }

    /// Resolve a context (`None`: the current one) into a `Connection`.
    pub fn resolve(&self, context: Option<&str>) -> Result<Connection, Error> {
        let ov = &self.overrides;
        let (name, ctx) = self.pick_context(context)?;
        let mut cluster = self.context_cluster(&name, &ctx)?;
        let mut user = self.context_user(&ctx.value);
        let ca_flag = apply_cluster_flags(&mut cluster.value, ov);
        let flags = apply_user_flags(&mut user.value, ov);
        let has_cert = user.value.cert_file.is_some() || user.value.cert_data.is_some();
        let (server, tls) = transport(&cluster, ca_flag, has_cert)?;
        let impersonate = impersonation(&user)?;
        // Credentials only travel over TLS: client-go reads the user's credentials only when
        // the transport is TLS (DirectClientConfig.ClientConfig, IsConfigTransportTLS).
        let auth = if server.starts_with("https://") {
            resolve_auth(&user, flags, &server, &tls, &cluster.value)?
        } else {
            AuthConfig::default()
        };
        let namespace = ov
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .or(ctx.value.namespace)
            .unwrap_or_else(|| "default".to_string());
        Ok(Connection {
            context: name,
            cluster: ctx.value.cluster,
            user: ctx.value.user,
            server,
            namespace,
            tls,
            proxy_url: cluster.value.proxy_url,
            auth,
            impersonate,
        })
    }

    /// The context to use: the one asked for, else `--kube-context`, else `current-context`.
    /// With `--server` and no context at all, an empty one (kubectl runs like that too).
    fn pick_context(&self, asked: Option<&str>) -> Result<(String, Located<RawContext>), Error> {
        let name = asked
            .filter(|c| !c.is_empty())
            .or_else(|| self.current_context());
        let Some(name) = name else {
            if server_flag(&self.overrides).is_some() {
                return Ok((String::new(), Located::anonymous(RawContext::default())));
            }
            return Err(Error::NoCurrentContext {
                files: self.files.clone(),
                available: self.context_names(),
            });
        };
        let entry = self
            .contexts
            .get(name)
            .ok_or_else(|| Error::ContextNotFound {
                name: name.to_string(),
                files: self.files.clone(),
                available: self.context_names(),
            })?;
        Ok((
            name.to_string(),
            self.locate(format!("context {name:?}"), entry),
        ))
    }

    /// The context's cluster. A named cluster must exist unless `--server` says where to go
    /// anyway (client-go does not require it then); we name what is missing instead of
    /// client-go's "no server" for an empty cluster.
    fn context_cluster(
        &self,
        name: &str,
        ctx: &Located<RawContext>,
    ) -> Result<Located<RawCluster>, Error> {
        let cluster = &ctx.value.cluster;
        let server_given = server_flag(&self.overrides).is_some();
        match self.clusters.get(cluster) {
            Some(entry) => {
                let label = if self.in_cluster {
                    "in-cluster configuration".to_string()
                } else {
                    format!("cluster {cluster:?}")
                };
                Ok(self.locate(label, entry))
            }
            None if server_given => Ok(Located::anonymous(RawCluster::default())),
            None if cluster.is_empty() => Err(ctx.err("cluster", "not set")),
            None => Err(Error::ClusterNotFound {
                context: name.to_string(),
                cluster: cluster.clone(),
                path: ctx.file.clone(),
            }),
        }
    }

    /// The context's user; a missing one is anonymous, as in client-go (the user is only
    /// required when a `--user` flag names it, and we have none).
    fn context_user(&self, ctx: &RawContext) -> Located<RawUser> {
        let label = format!("user {:?}", ctx.user);
        match self.users.get(&ctx.user) {
            Some(entry) => self.locate(label, entry),
            None => Located {
                value: RawUser::default(),
                label,
                file: None,
            },
        }
    }

    fn locate<T: Clone>(&self, label: String, entry: &Entry<T>) -> Located<T> {
        Located {
            value: entry.value.clone(),
            label,
            file: entry.file.map(|i| self.files[i].clone()),
        }
    }
}

/// An entry picked for a connection, with what error messages need to point at it.
struct Located<T> {
    value: T,
    /// `cluster "prod"`, `user "alice"`, `context "dev"`.
    label: String,
    /// The kubeconfig file that defined it (`None` in a cluster or when made up from flags).
    file: Option<PathBuf>,
}

impl<T> Located<T> {
    fn anonymous(value: T) -> Located<T> {
        Located {
            value,
            label: String::new(),
            file: None,
        }
    }

    fn err(&self, field: &str, problem: &str) -> Error {
        Error::Invalid {
            path: self.file.clone(),
            entry: self.label.clone(),
            field: field.to_string(),
            problem: problem.to_string(),
        }
    }

    /// `user "alice" in /home/me/.kube/config`, for messages about a file an entry names.
    fn describe(&self) -> String {
        match &self.file {
            Some(file) => format!("{} in {}", self.label, file.display()),
            None => self.label.clone(),
        }
    }
}

fn server_flag(ov: &Overrides) -> Option<&str> {
    ov.server.as_deref().filter(|s| !s.is_empty())
}

/// Apply `--server`, `--tls-server-name`, `--certificate-authority` and
/// `--insecure-skip-tls-verify` the way DirectClientConfig.getCluster does. True when the CA
/// now comes from the flag.
fn apply_cluster_flags(cluster: &mut RawCluster, ov: &Overrides) -> bool {
    if let Some(server) = server_flag(ov) {
        cluster.server = Some(server.to_string());
    }
    // "setting a --server will effectively clear the KUBECONFIG value of tls-server-name".
    let name_flag = ov.tls_server_name.clone().filter(|s| !s.is_empty());
    if server_flag(ov).is_some() || name_flag.is_some() {
        cluster.tls_server_name = name_flag;
    }
    // --insecure-skip-tls-verify or --certificate-authority replace the file's CA settings
    // together, so a kubeconfig CA does not conflict with the insecure flag.
    if ov.insecure_skip_tls_verify || ov.certificate_authority.is_some() {
        cluster.insecure = ov.insecure_skip_tls_verify;
        cluster.ca_file = ov.certificate_authority.clone();
        cluster.ca_data = None;
    }
    ov.certificate_authority.is_some()
}

/// Which of the client certificate and key come from flags (for error messages).
#[derive(Clone, Copy)]
struct CertFlags {
    cert: bool,
    key: bool,
}

/// Merge `--token`, `--client-certificate`, `--client-key` and `--as*` over the user entry
/// (client-go merges the override AuthInfo over the file's). A flag file replaces the entry's
/// `*-data` too, so the flag is what gets used.
fn apply_user_flags(user: &mut RawUser, ov: &Overrides) -> CertFlags {
    if let Some(token) = ov.token.clone().filter(|t| !t.is_empty()) {
        user.token = Some(token);
    }
    if let Some(path) = &ov.client_certificate {
        user.cert_file = Some(path.clone());
        user.cert_data = None;
    }
    if let Some(path) = &ov.client_key {
        user.key_file = Some(path.clone());
        user.key_data = None;
    }
    if let Some(u) = ov.impersonate_user.clone().filter(|u| !u.is_empty()) {
        user.impersonate = Some(u);
    }
    if !ov.impersonate_groups.is_empty() {
        user.impersonate_groups = ov.impersonate_groups.clone();
    }
    if let Some(uid) = ov.impersonate_uid.clone().filter(|u| !u.is_empty()) {
        user.impersonate_uid = Some(uid);
    }
    CertFlags {
        cert: ov.client_certificate.is_some(),
        key: ov.client_key.is_some(),
    }
}

/// The server URL and TLS settings of a cluster (after flags), with the files read.
fn transport(
    cluster: &Located<RawCluster>,
    ca_flag: bool,
    has_cert: bool,
) -> Result<(String, TlsSettings), Error> {
    let c = &cluster.value;
    let Some(raw_server) = &c.server else {
        return Err(cluster.err("server", "not set"));
    };
    let has_ca = c.ca_data.is_some() || c.ca_file.is_some();
    // client-go (transport.TLSConfigFor): "specifying a root certificates file with the
    // insecure flag is not allowed".
    if has_ca && c.insecure {
        return Err(cluster.err(
            "insecure-skip-tls-verify",
            "set together with a certificate authority; kubectl refuses this combination too: remove one",
        ));
    }
    let server = normalize_server(raw_server, has_ca || has_cert || c.insecure)
        .map_err(|problem| cluster.err("server", &problem))?;
    if let Some(proxy) = &c.proxy_url {
        check_proxy_url(proxy).map_err(|problem| cluster.err("proxy-url", &problem))?;
    }
    // `*-data` wins over the file field (client-go's dataFromSliceOrFile); kubectl's
    // validation also complains when both are set, we just take the data.
    let (ca_pem, field) = match (&c.ca_data, &c.ca_file) {
        (Some(data), _) => (Some(data.clone()), "certificate-authority-data"),
        (None, Some(path)) if ca_flag => (
            Some(read_file(path, "--kube-certificate-authority".to_string())?),
            "--kube-certificate-authority",
        ),
        (None, Some(path)) => {
            let what = format!("certificate-authority of {}", cluster.describe());
            (Some(read_file(path, what)?), "certificate-authority")
        }
        (None, None) => (None, ""),
    };
    if let Some(pem) = &ca_pem {
        check_ca(pem).map_err(|problem| cluster.err(field, problem))?;
    }
    let tls = TlsSettings {
        ca_source: ca_pem.is_some().then_some(field),
        ca_pem,
        insecure_skip_verify: c.insecure,
        server_name: c.tls_server_name.clone(),
    };
    Ok((server, tls))
}

/// The `Impersonate-*` identity, validated as kubectl's validateAuthInfo does.
fn impersonation(user: &Located<RawUser>) -> Result<Impersonation, Error> {
    let u = &user.value;
    if u.impersonate.is_none() && (!u.impersonate_groups.is_empty() || u.impersonate_uid.is_some())
    {
        return Err(user.err(
            "as-groups/as-uid",
            "impersonating groups or a uid needs a user to impersonate (as, --kube-as)",
        ));
    }
    // kubectl's validateAuthInfo refuses extras without a user to impersonate as well.
    if u.impersonate.is_none() && !u.impersonate_extra.is_empty() {
        return Err(user.err(
            "as-user-extra",
            "impersonating user extras needs a user to impersonate (as, --kube-as)",
        ));
    }
    Ok(Impersonation {
        user: u.impersonate.clone(),
        groups: u.impersonate_groups.clone(),
        uid: u.impersonate_uid.clone(),
        extra: u.impersonate_extra.clone(),
    })
}

/// The user's credentials after overrides, validated and with certificate files read.
fn resolve_auth(
    located: &Located<RawUser>,
    flags: CertFlags,
    server: &str,
    tls: &TlsSettings,
    cluster: &RawCluster,
) -> Result<AuthConfig, Error> {
    let user = &located.value;
    // A static token wins over a token file (client-go keeps the token when both are set).
    let token = user.token.clone();
    let token_file = if token.is_some() {
        None
    } else {
        user.token_file.clone()
    };
    if let Some(path) = &token_file {
        // client-go reads the file once when it builds the config and fails if it cannot.
        files::read(path, files::TOKEN).map_err(|source| Error::Read {
            path: path.clone(),
            what: Some(format!("tokenFile of {}", located.describe())),
            source,
        })?;
    }
    let basic = match (&user.username, &user.password) {
        (None, None) => None,
        (username, password) => Some(BasicAuth {
            username: username.clone().unwrap_or_default(),
            password: password.clone().unwrap_or_default(),
        }),
    };
    if (token.is_some() || token_file.is_some()) && basic.is_some() {
        return Err(located.err(
            "token/username",
            "more than one authentication method (token and basic auth); kubectl refuses this too",
        ));
    }
    let client_cert = client_cert(located, flags)?;
    let exec = match &user.exec {
        None => None,
        Some(raw) => Some(resolve_exec(raw, located, server, tls, cluster)?),
    };
    Ok(AuthConfig {
        client_cert,
        token,
        token_file,
        basic,
        exec,
        auth_provider: user.auth_provider.clone(),
    })
}

/// The client certificate and key, read and checked to belong together.
fn client_cert(located: &Located<RawUser>, flags: CertFlags) -> Result<Option<ClientCert>, Error> {
    let user = &located.value;
    let what = |flag: bool, flag_name: &str, field: &str| {
        if flag {
            flag_name.to_string()
        } else {
            format!("{field} of {}", located.describe())
        }
    };
    let cert = match (&user.cert_data, &user.cert_file) {
        (Some(data), _) => Some(data.clone()),
        (None, Some(path)) => Some(read_file(
            path,
            what(
                flags.cert,
                "--kube-client-certificate",
                "client-certificate",
            ),
        )?),
        (None, None) => None,
    };
    let key = match (&user.key_data, &user.key_file) {
        (Some(data), _) => Some(data.clone()),
        (None, Some(path)) => Some(SecretBytes::new(read_file(
            path,
            what(flags.key, "--kube-client-key", "client-key"),
        )?)),
        (None, None) => None,
    };
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(located.err("client-key", "not set, but a client certificate is")),
        (None, Some(_)) => Err(located.err("client-certificate", "not set, but a client key is")),
        (Some(cert_pem), Some(key_pem)) => {
            check_client_cert(&cert_pem, key_pem.expose())
                .map_err(|problem| located.err("client-certificate/client-key", &problem))?;
            Ok(Some(ClientCert { cert_pem, key_pem }))
        }
    }
}

fn resolve_exec(
    raw: &RawExec,
    located: &Located<RawUser>,
    server: &str,
    tls: &TlsSettings,
    cluster: &RawCluster,
) -> Result<ExecConfig, Error> {
    let Some(command) = raw.command.clone() else {
        return Err(located.err("exec.command", "not set"));
    };
    let api_version = raw.api_version.clone().unwrap_or_default();
    if !EXEC_API_VERSIONS.contains(&api_version.as_str()) {
        return Err(located.err(
            "exec.apiVersion",
            &format!(
                "{api_version:?} is not supported (use {} or {})",
                EXEC_API_VERSIONS[0], EXEC_API_VERSIONS[1]
            ),
        ));
    }
    // kubectl insists on interactiveMode for v1; a missing one means IfAvailable here, which
    // behaves the same for us since we never have a terminal.
    if let Some(mode) = &raw.interactive_mode
        && !["Never", "IfAvailable", "Always"].contains(&mode.as_str())
    {
        return Err(located.err(
            "exec.interactiveMode",
            "must be Never, IfAvailable or Always",
        ));
    }
    let cluster_info = raw.provide_cluster_info.then(|| {
        // clientauthentication Cluster, with client-go's JSON names and omitempty rules.
        let mut info = serde_json::Map::new();
        info.insert("server".into(), server.into());
        if let Some(name) = &tls.server_name {
            info.insert("tls-server-name".into(), name.as_str().into());
        }
        if tls.insecure_skip_verify {
            info.insert("insecure-skip-tls-verify".into(), true.into());
        }
        if let Some(ca) = &tls.ca_pem {
            let encoded = base64::engine::general_purpose::STANDARD.encode(ca);
            info.insert("certificate-authority-data".into(), encoded.into());
        }
        if let Some(proxy) = &cluster.proxy_url {
            info.insert("proxy-url".into(), proxy.as_str().into());
        }
        if let Some(config) = &cluster.exec_extension {
            info.insert("config".into(), config.clone());
        }
        serde_json::Value::Object(info)
    });
    Ok(ExecConfig {
        api_version,
        command,
        args: raw.args.clone(),
        env: raw.env.clone(),
        install_hint: raw.install_hint.clone().map(|h| strip_controls(&h)),
        provide_cluster_info: raw.provide_cluster_info,
        interactive_mode: raw.interactive_mode.clone(),
        base_dir: located.value.base_dir.clone(),
        cluster_config: cluster.exec_extension.clone(),
        cluster_info,
    })
}

/// A certificate, key or CA file a kubeconfig or flag names.
fn read_file(path: &Path, what: String) -> Result<Vec<u8>, Error> {
    files::read(path, files::CERTIFICATE).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        what: Some(what),
        source,
    })
}

/// client-go's DefaultServerURL: a server without a scheme gets `https://` when TLS settings
/// are present, else `http://`. A trailing slash is dropped so paths can be appended.
fn normalize_server(raw: &str, tls_default: bool) -> Result<String, String> {
    let raw = raw.trim();
    let url = match raw.split_once("://") {
        Some((scheme, _)) => {
            let scheme = scheme.to_ascii_lowercase();
            if scheme != "https" && scheme != "http" {
                return Err(format!("unsupported scheme {scheme:?} (use https://)"));
            }
            format!("{scheme}{}", &raw[scheme.len()..])
        }
        None if tls_default => format!("https://{raw}"),
        None => format!("http://{raw}"),
    };
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or_default();
    let authority = rest.split('/').next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err("has no host".to_string());
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// client-go's parseProxyURL accepts http, https and socks5. The URL may hold a password, so
/// only the scheme is ever quoted.
fn check_proxy_url(url: &str) -> Result<(), String> {
    match url.split_once("://") {
        Some((scheme, rest)) if !rest.is_empty() => match scheme.to_ascii_lowercase().as_str() {
            "http" | "https" | "socks5" => Ok(()),
            other => Err(format!(
                "unsupported scheme {other:?}, must be http, https, or socks5"
            )),
        },
        _ => Err("not a URL (expected e.g. http://proxy:3128)".to_string()),
    }
}

fn check_ca(pem: &[u8]) -> Result<(), &'static str> {
    use rustls::pki_types::{CertificateDer, pem::PemObject as _};
    let mut found = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        if cert.is_err() {
            return Err("holds a malformed PEM certificate");
        }
        found += 1;
    }
    if found == 0 {
        return Err("holds no PEM certificate");
    }
    Ok(())
}

/// Check that a client certificate and key parse and belong together, without any network:
/// rustls parses the key with the ring provider (the one the connection will use) and compares
/// its public key with the certificate's. The problem text never quotes key material.
pub(crate) fn check_client_cert(cert_pem: &[u8], key_pem: &[u8]) -> Result<(), String> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|_| "the client certificate is not valid PEM".to_string())?;
    if chain.is_empty() {
        return Err("the client certificate holds no PEM certificate".to_string());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| {
        "the client key holds no private key (PKCS#1, PKCS#8 or SEC1 PEM; encrypted keys are not supported)"
            .to_string()
    })?;
    let provider = rustls::crypto::ring::default_provider();
    match rustls::sign::CertifiedKey::from_der(chain, key, &provider) {
        Ok(_) => Ok(()),
        Err(rustls::Error::InconsistentKeys(_)) => {
            Err("the client key does not belong to the client certificate".to_string())
        }
        Err(rustls::Error::InvalidCertificate(_)) => {
            Err("the client certificate cannot be parsed".to_string())
        }
        Err(_) => Err(
            "unsupported client key type (supported: RSA, ECDSA P-256 and P-384, Ed25519)"
                .to_string(),
        ),
    }
}

/// Drop terminal escape sequences and control characters (client-go cleans the install hint
/// of ANSI codes); keeps line breaks and tabs.
pub(crate) fn strip_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI sequence: ESC [ parameters final-byte.
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        if c.is_control() && c != '\n' && c != '\t' {
            continue;
        }
        out.push(c);
    }
    out
}

/// `https://user:pass@host:6443/x` → `https://host:6443/x` (with or without a scheme): a
/// server or proxy URL may carry basic-auth credentials, and no message, `Debug` output or
/// tool answer shows them. Everything up to the last `@` before any query is dropped, so a
/// password with an unescaped `/` or `@` does not leak either.
pub fn without_userinfo(url: &str) -> String {
    replace_userinfo(url, "")
}

/// For `Debug`: `http://<redacted>@proxy:3128` says that credentials are set, not what they are.
pub(crate) fn redacted_userinfo(url: &str) -> String {
    replace_userinfo(url, "<redacted>@")
}

fn replace_userinfo(url: &str, marker: &str) -> String {
    let (prefix, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (&url[..scheme.len() + 3], rest),
        None => ("", url),
    };
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{prefix}{marker}{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// Names only: entries hold credentials, and exec arguments can too.
impl fmt::Debug for Kubeconfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kubeconfig")
            .field("files", &self.files)
            .field("contexts", &self.contexts.keys().collect::<Vec<_>>())
            .field("clusters", &self.clusters.keys().collect::<Vec<_>>())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("current_context", &self.current_context())
            .field("in_cluster", &self.in_cluster)
            .finish_non_exhaustive()
    }
}

/// PEM bytes as a size: printing them helps nobody and floods logs.
struct PemSize<'a>(Option<&'a [u8]>);

impl fmt::Debug for PemSize<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(pem) => write!(f, "<{} bytes of PEM>", pem.len()),
            None => f.write_str("None"),
        }
    }
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("ca_pem", &PemSize(self.ca_pem.as_deref()))
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .field("server_name", &self.server_name)
            .field("ca_source", &self.ca_source)
            .finish()
    }
}

impl fmt::Debug for ClientCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCert")
            .field("cert_pem", &PemSize(Some(&self.cert_pem)))
            .field("key_pem", &self.key_pem)
            .finish()
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("context", &self.context)
            .field("cluster", &self.cluster)
            .field("user", &self.user)
            .field("server", &redacted_userinfo(&self.server))
            .field("namespace", &self.namespace)
            .field("tls", &self.tls)
            .field(
                "proxy_url",
                &self.proxy_url.as_deref().map(redacted_userinfo),
            )
            .field("auth", &self.auth)
            .field("impersonate", &self.impersonate)
            .finish()
    }
}

/// Like [`ExecConfig`]'s: argument count and variable names only.
impl fmt::Debug for RawExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env_names: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("RawExec")
            .field("api_version", &self.api_version)
            .field("command", &self.command)
            .field("args", &format_args!("<{} redacted>", self.args.len()))
            .field("env", &env_names)
            .finish_non_exhaustive()
    }
}

/// Arguments can carry secrets (kubelogin takes `--oidc-client-secret=...`), so `Debug` shows
/// how many there are, not what they say.
impl fmt::Debug for ExecConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env_names: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ExecConfig")
            .field("api_version", &self.api_version)
            .field("command", &self.command)
            .field("args", &format_args!("<{} redacted>", self.args.len()))
            .field("env", &env_names)
            .field("install_hint", &self.install_hint)
            .field("provide_cluster_info", &self.provide_cluster_info)
            .field("interactive_mode", &self.interactive_mode)
            .field("base_dir", &self.base_dir)
            .finish_non_exhaustive()
    }
}

impl AuthConfig {
    /// How this identity authenticates, for `check` and logs. Names files and commands, never
    /// a credential.
    pub fn method(&self) -> String {
        if let Some(provider) = &self.auth_provider {
            return format!("auth-provider {provider:?} (unsupported: use an exec plugin)");
        }
        let mut parts = Vec::new();
        if self.token.is_some() {
            parts.push("bearer token".to_string());
        } else if let Some(path) = &self.token_file {
            parts.push(format!("token file {}", path.display()));
        }
        if let Some(basic) = &self.basic {
            parts.push(format!("basic auth as {:?}", basic.username));
        }
        if self.client_cert.is_some() {
            parts.push("client certificate".to_string());
        }
        if let Some(exec) = &self.exec
            && parts.is_empty()
        {
            parts.push(format!(
                "exec plugin {} ({})",
                exec.command, exec.api_version
            ));
        }
        if parts.is_empty() {
            "none (anonymous)".to_string()
        } else {
            parts.join(" + ")
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fresh folder under the system temp dir, removed on drop.
    pub(crate) struct TempDir(PathBuf);

    impl TempDir {
        pub(crate) fn new(tag: &str) -> TempDir {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("fomcp-{tag}-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create temp dir");
            TempDir(dir)
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }

        pub(crate) fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
            let path = self.0.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("create parent");
            }
            std::fs::write(&path, contents).expect("write test file");
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// testdata/kubeconfig/certs/<name>
    pub(crate) fn cert_fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/kubeconfig/certs")
            .join(name)
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn env_list(files: &[&Path]) -> Env {
        let joined = std::env::join_paths(files).expect("join paths");
        Env {
            kubeconfig: Some(joined),
            ..Env::default()
        }
    }

    fn load_list(files: &[&Path]) -> Result<Kubeconfig, Error> {
        load(&Overrides::default(), &env_list(files))
    }

    fn load_one(path: &Path, overrides: Overrides) -> Result<Kubeconfig, Error> {
        let overrides = Overrides {
            kubeconfig: Some(path.to_path_buf()),
            ..overrides
        };
        load(&overrides, &Env::default())
    }

    fn resolve_one(path: &Path, overrides: Overrides) -> Result<Connection, Error> {
        load_one(path, overrides)?.resolve(None)
    }

    fn names(kc: &Kubeconfig) -> Vec<String> {
        kc.contexts().into_iter().map(|c| c.name).collect()
    }

    /// One cluster, one user, one context `ctx`, current.
    fn simple(cluster: &str, user: &str) -> String {
        format!(
            "clusters:\n- name: c\n  cluster:\n{}\nusers:\n- name: u\n  user:\n{}\n\
             contexts:\n- name: ctx\n  context: {{cluster: c, user: u}}\ncurrent-context: ctx\n",
            indent(cluster),
            indent(user)
        )
    }

    fn indent(block: &str) -> String {
        if block.trim().is_empty() {
            return "    {}".to_string();
        }
        block
            .lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The message of an expected error (shared with the auth tests).
    #[track_caller]
    pub(crate) fn err_text(r: Result<impl fmt::Debug, impl fmt::Display>) -> String {
        match r {
            Ok(v) => panic!("expected an error, got {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn merge_first_file_wins_and_missing_or_empty_entries_are_skipped() {
        let dir = TempDir::new("merge");
        let a = dir.write(
            "a.yaml",
            "clusters:\n- name: shared\n  cluster: {server: https://a:1}\n\
             contexts:\n- name: shared\n  context: {cluster: shared, namespace: from-a}\n",
        );
        let b = dir.write(
            "b.yaml",
            "current-context: shared\n\
             clusters:\n- name: shared\n  cluster: {server: https://b:1}\n\
             - name: only-b\n  cluster: {server: https://b:2}\n\
             contexts:\n- name: shared\n  context: {cluster: only-b, namespace: from-b}\n\
             - name: b\n  context: {cluster: only-b}\n",
        );
        let c = dir.write("c.yaml", "current-context: b\n");
        let missing = dir.path().join("missing.yaml");
        let list = format!(
            "{}::{}:{}:{}",
            a.display(),
            missing.display(),
            b.display(),
            c.display()
        );
        let env = Env {
            kubeconfig: Some(list.into()),
            ..Env::default()
        };
        let kc = load(&Overrides::default(), &env).expect("load");
        assert_eq!(kc.files(), &[a.clone(), b.clone(), c.clone()]);
        assert_eq!(names(&kc), ["b", "shared"]);
        // current-context: the first file that sets one (b), not the last (c).
        assert_eq!(kc.current_context(), Some("shared"));
        let conn = kc.resolve(None).expect("resolve");
        assert_eq!(conn.server, "https://a:1");
        assert_eq!(conn.namespace, "from-a");
        assert_eq!(kc.resolve(Some("b")).expect("b").server, "https://b:2");
    }

    #[test]
    fn explicit_kubeconfig_replaces_the_list_and_must_exist() {
        let dir = TempDir::new("explicit");
        let listed = dir.write("listed.yaml", simple("server: https://listed:1", ""));
        let explicit = dir.write("explicit.yaml", simple("server: https://explicit:1", ""));
        let overrides = Overrides {
            kubeconfig: Some(explicit.clone()),
            ..Overrides::default()
        };
        let kc = load(&overrides, &env_list(&[&listed])).expect("load");
        assert_eq!(kc.files(), &[explicit]);
        assert_eq!(
            kc.resolve(None).expect("resolve").server,
            "https://explicit:1"
        );

        let gone = dir.path().join("gone.yaml");
        let overrides = Overrides {
            kubeconfig: Some(gone.clone()),
            ..Overrides::default()
        };
        let e = err_text(load(&overrides, &env_list(&[&listed])));
        assert!(e.contains("--kubeconfig") && e.contains("gone.yaml"), "{e}");
    }

    #[test]
    fn default_is_home_kube_config() {
        let home = TempDir::new("home");
        home.write(".kube/config", simple("server: https://home:1", ""));
        let env = Env {
            home: Some(home.path().to_path_buf()),
            ..Env::default()
        };
        let kc = load(&Overrides::default(), &env).expect("load");
        assert_eq!(kc.files(), &[home.path().join(".kube/config")]);
        assert!(!kc.in_cluster());
    }

    #[test]
    fn nothing_found_says_where_we_looked() {
        let home = TempDir::new("nohome");
        let env = Env {
            home: Some(home.path().to_path_buf()),
            service_account_dir: home.path().join("sa"),
            ..Env::default()
        };
        let e = err_text(load(&Overrides::default(), &env));
        assert!(e.contains("$KUBECONFIG (not set)"), "{e}");
        assert!(e.contains(".kube/config (not found)"), "{e}");
        assert!(
            e.contains("in-cluster (KUBERNETES_SERVICE_HOST not set)"),
            "{e}"
        );

        let missing = home.path().join("nope.yaml");
        let env = Env {
            kubeconfig: Some(missing.clone().into()),
            service_host: Some("10.0.0.1".into()),
            service_account_dir: home.path().join("sa"),
            ..Env::default()
        };
        let e = err_text(load(&Overrides::default(), &env));
        assert!(
            e.contains("$KUBECONFIG") && e.contains("nope.yaml (not found)"),
            "{e}"
        );
        assert!(e.contains("KUBERNETES_SERVICE_PORT not set"), "{e}");

        // `--server` alone is enough, as for kubectl.
        let overrides = Overrides {
            server: Some("https://flag:6443".into()),
            ..Overrides::default()
        };
        let kc = load(&overrides, &env).expect("server flag alone");
        let conn = kc.resolve(None).expect("resolve");
        assert_eq!(conn.server, "https://flag:6443");
        assert_eq!(conn.namespace, "default");
    }

    fn service_account(dir: &TempDir, namespace: Option<&str>) -> Env {
        dir.write("sa/token", "sa-token\n");
        dir.write(
            "sa/ca.crt",
            std::fs::read(cert_fixture("ca.crt")).expect("ca"),
        );
        if let Some(ns) = namespace {
            dir.write("sa/namespace", ns);
        }
        Env {
            service_host: Some("10.96.0.1".into()),
            service_port: Some("443".into()),
            service_account_dir: dir.path().join("sa"),
            home: Some(dir.path().join("home")),
            ..Env::default()
        }
    }

    #[test]
    fn in_cluster_when_no_kubeconfig_applies() {
        let dir = TempDir::new("incluster");
        let env = service_account(&dir, Some("flux-system\n"));
        let kc = load(&Overrides::default(), &env).expect("load");
        assert!(kc.in_cluster());
        assert!(kc.files().is_empty());
        assert_eq!(kc.current_context(), Some(IN_CLUSTER));
        let conn = kc.resolve(None).expect("resolve");
        assert_eq!(conn.context, "in-cluster");
        assert_eq!(conn.server, "https://10.96.0.1:443");
        assert_eq!(conn.namespace, "flux-system");
        assert_eq!(conn.auth.token_file, Some(dir.path().join("sa/token")));
        assert!(conn.tls.ca_pem.is_some());

        // -n and impersonation apply in a cluster too.
        let overrides = Overrides {
            namespace: Some("apps".into()),
            impersonate_user: Some("system:serviceaccount:apps:reader".into()),
            ..Overrides::default()
        };
        let conn = load(&overrides, &env)
            .expect("load")
            .resolve(None)
            .expect("resolve");
        assert_eq!(conn.namespace, "apps");
        assert_eq!(
            conn.impersonate.user.as_deref(),
            Some("system:serviceaccount:apps:reader")
        );
        let e = err_text(load(&overrides, &env).expect("load").resolve(Some("other")));
        assert!(e.contains("\"other\" not found"), "{e}");
    }

    #[test]
    fn in_cluster_ipv6_host_gets_brackets_and_namespace_defaults() {
        let dir = TempDir::new("incluster6");
        let env = Env {
            service_host: Some("fd00:10:96::1".into()),
            ..service_account(&dir, None)
        };
        let conn = load(&Overrides::default(), &env)
            .expect("load")
            .resolve(None)
            .expect("resolve");
        assert_eq!(conn.server, "https://[fd00:10:96::1]:443");
        assert_eq!(conn.namespace, "default");
    }

    #[test]
    fn a_kubeconfig_with_content_beats_in_cluster() {
        let dir = TempDir::new("incluster-kc");
        let env = service_account(&dir, None);
        let file = dir.write("kc.yaml", simple("server: https://file:1", ""));
        let env = Env {
            kubeconfig: Some(file.into()),
            ..env
        };
        let kc = load(&Overrides::default(), &env).expect("load");
        assert!(!kc.in_cluster());
        assert_eq!(kc.resolve(None).expect("resolve").server, "https://file:1");
        // An empty file counts as no kubeconfig, as in client-go.
        let empty = dir.write("empty.yaml", "");
        let env = Env {
            kubeconfig: Some(empty.into()),
            ..env
        };
        assert!(
            load(&Overrides::default(), &env)
                .expect("load")
                .in_cluster()
        );
    }

    #[test]
    fn relative_paths_resolve_against_the_file_folder() {
        let dir = TempDir::new("relative");
        let sub = dir.path().join("nested");
        for name in ["ca.crt", "ec-p256.crt", "ec-p256.sec1.key"] {
            dir.write(
                &format!("nested/pki/{name}"),
                std::fs::read(cert_fixture(name)).expect("fixture"),
            );
        }
        dir.write("nested/token", "t0ken");
        let file = dir.write(
            "nested/config",
            "clusters:\n- name: c\n  cluster: {server: https://x:1, certificate-authority: pki/ca.crt}\n\
             users:\n- name: cert\n  user: {client-certificate: pki/ec-p256.crt, client-key: pki/ec-p256.sec1.key}\n\
             - name: tok\n  user: {tokenFile: token}\n\
             - name: exec-rel\n  user:\n    exec: {apiVersion: client.authentication.k8s.io/v1, command: ./bin/plugin}\n\
             - name: exec-path\n  user:\n    exec: {apiVersion: client.authentication.k8s.io/v1, command: aws}\n\
             contexts:\n- name: cert\n  context: {cluster: c, user: cert}\n\
             - name: tok\n  context: {cluster: c, user: tok}\n\
             - name: exec-rel\n  context: {cluster: c, user: exec-rel}\n\
             - name: exec-path\n  context: {cluster: c, user: exec-path}\n",
        );
        // Loaded from another working directory: only the file's folder matters.
        let kc = load_one(&file, Overrides::default()).expect("load");
        let cert = kc.resolve(Some("cert")).expect("cert");
        assert_eq!(
            cert.tls.ca_pem.as_deref(),
            Some(&std::fs::read(cert_fixture("ca.crt")).expect("ca")[..])
        );
        assert!(cert.auth.client_cert.is_some());
        let tok = kc.resolve(Some("tok")).expect("tok");
        assert_eq!(tok.auth.token_file, Some(sub.join("token")));
        let exec = kc.resolve(Some("exec-rel")).expect("exec-rel");
        let exec = exec.auth.exec.expect("exec");
        assert_eq!(Path::new(&exec.command), sub.join("./bin/plugin"));
        assert_eq!(exec.base_dir.as_deref(), Some(sub.as_path()));
        // A bare command name is looked up in PATH, not in the folder.
        let bare = kc.resolve(Some("exec-path")).expect("exec-path");
        assert_eq!(bare.auth.exec.expect("exec").command, "aws");
    }

    /// client-go expands neither `~` nor `$VAR` in path fields: `~/token` is a relative path,
    /// made absolute against the file's folder like any other (and so is not found at home).
    #[test]
    fn tilde_and_variables_in_paths_are_not_expanded() {
        let dir = TempDir::new("tilde");
        dir.write("~/token", "from-a-folder-named-tilde");
        let file = dir.write(
            "config",
            "clusters:\n- name: c\n  cluster: {server: https://x:1}\n\
             users:\n- name: u\n  user: {tokenFile: ~/token}\n\
             - name: v\n  user: {tokenFile: $HOME/token}\n\
             contexts:\n- name: u\n  context: {cluster: c, user: u}\n\
             - name: v\n  context: {cluster: c, user: v}\n",
        );
        let kc = load_one(&file, Overrides::default()).expect("load");
        let conn = kc.resolve(Some("u")).expect("u");
        assert_eq!(conn.auth.token_file, Some(dir.path().join("~/token")));
        let e = err_text(kc.resolve(Some("v")));
        assert!(e.contains("$HOME/token") && e.contains("tokenFile"), "{e}");
    }

    #[test]
    fn data_fields_win_over_file_fields() {
        let dir = TempDir::new("data");
        let ca = std::fs::read(cert_fixture("ca.crt")).expect("ca");
        let cert = std::fs::read(cert_fixture("rsa.crt")).expect("cert");
        let key = std::fs::read(cert_fixture("rsa.pkcs1.key")).expect("key");
        let file = dir.write(
            "config",
            simple(
                &format!(
                    "server: https://x:1\ncertificate-authority: /nonexistent/ca.crt\ncertificate-authority-data: {}",
                    b64(&ca)
                ),
                &format!(
                    "client-certificate: /nonexistent/c.crt\nclient-certificate-data: {}\n\
                     client-key: /nonexistent/c.key\nclient-key-data: {}",
                    b64(&cert),
                    b64(&key)
                ),
            ),
        );
        let conn = resolve_one(&file, Overrides::default()).expect("resolve");
        assert_eq!(conn.tls.ca_pem, Some(ca));
        let client = conn.auth.client_cert.expect("client cert");
        assert_eq!(client.cert_pem, cert);
        assert_eq!(client.key_pem.expose(), &key[..]);
    }

    #[test]
    fn utf16_bom_and_multi_document_files() {
        let dir = TempDir::new("encoding");
        let text = simple("server: https://enc:1", "token: abc");
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let mut be = vec![0xFE, 0xFF];
        be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend(text.as_bytes());
        for (name, bytes) in [("le", le), ("be", be), ("bom", bom)] {
            let file = dir.write(name, bytes);
            let kc = load_one(&file, Overrides::default()).expect(name);
            assert_eq!(
                kc.resolve(None).expect(name).server,
                "https://enc:1",
                "{name}"
            );
        }
        // UTF-16 without a BOM is not read (kubectl: "control characters are not allowed").
        let raw: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let file = dir.write("nobom", raw);
        assert!(load_one(&file, Overrides::default()).is_err());

        // Only the first document counts, as in kubectl.
        let multi = format!(
            "---\n{}---\n{}",
            simple("server: https://first:1", ""),
            simple("server: https://second:1", "")
        );
        let file = dir.write("multi", multi);
        let kc = load_one(&file, Overrides::default()).expect("multi");
        assert_eq!(kc.resolve(None).expect("first").server, "https://first:1");
        let file = dir.write(
            "empty-first",
            format!("---\n---\n{}", simple("server: https://x:1", "")),
        );
        let kc = load_one(&file, Overrides::default()).expect("empty first");
        assert!(kc.contexts().is_empty());
    }

    #[test]
    fn yaml_and_type_errors_name_file_line_and_field() {
        let dir = TempDir::new("errors");
        let file = dir.write(
            "broken",
            "clusters:\n- name: c\n  cluster: {server: https://x:1\ncontexts: [\n",
        );
        let e = load_one(&file, Overrides::default()).expect_err("broken");
        let Error::Yaml { line: Some(_), .. } = &e else {
            panic!("expected a YAML error with a line, got {e:?}");
        };
        let text = e.to_string();
        assert!(text.contains("broken") && text.contains("line"), "{text}");

        let file = dir.write(
            "types",
            simple("server: https://x:1", "token: [hunter2-secret]"),
        );
        let e = err_text(load_one(&file, Overrides::default()));
        assert!(
            e.contains("types") && e.contains("user \"u\"") && e.contains("token"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");

        let file = dir.write(
            "number",
            "contexts:\n- name: x\n  context: {cluster: c, namespace: 123}\n",
        );
        let e = err_text(load_one(&file, Overrides::default()));
        assert!(
            e.contains("context \"x\": namespace: expected a string"),
            "{e}"
        );

        let file = dir.write(
            "b64",
            simple(
                "server: https://x:1",
                "client-key-data: c2VjcmV0LWtleQ==!!hunter2",
            ),
        );
        let e = err_text(load_one(&file, Overrides::default()));
        assert!(e.contains("client-key-data: invalid base64 at byte"), "{e}");
        assert!(!e.contains("hunter2") && !e.contains("c2VjcmV0"), "{e}");

        let file = dir.write(
            "dup",
            "users:\n- name: u\n  user: {token: a}\n- name: u\n  user: {token: b}\n",
        );
        let e = err_text(load_one(&file, Overrides::default()));
        assert!(e.contains("users has two entries named \"u\""), "{e}");

        let unreadable = dir.path().join("a-directory");
        std::fs::create_dir_all(&unreadable).expect("dir");
        let e = err_text(load_list(&[&unreadable]));
        assert!(
            e.contains("cannot read") && e.contains("a-directory"),
            "{e}"
        );
    }

    /// Runs `f` on another thread and fails if it has not returned within 10 s: what these
    /// tests guard against is a hang, which must fail the test rather than stall the suite.
    fn within_10s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("did not return within 10 s")
    }

    #[test]
    fn special_and_huge_kubeconfigs_fail_fast_with_a_clear_message() {
        // KUBECONFIG=/dev/zero used to grow memory without bound.
        let e = within_10s(|| err_text(load_list(&[Path::new("/dev/zero")])));
        assert_eq!(
            e,
            "cannot read /dev/zero: not a regular file but a character device"
        );
        let e = within_10s(|| err_text(load_one(Path::new("/dev/zero"), Overrides::default())));
        assert!(e.contains("character device"), "{e}");

        let dir = TempDir::new("special");
        let fifo = dir.path().join("fifo-config");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let path = fifo.clone();
        let e = within_10s(move || err_text(load_list(&[&path])));
        assert_eq!(
            e,
            format!(
                "cannot read {}: not a regular file but a FIFO (named pipe)",
                fifo.display()
            )
        );

        // A 2 GiB file (sparse: nothing is written or read).
        let huge = dir.path().join("huge");
        std::fs::File::create(&huge)
            .and_then(|f| f.set_len(2 << 30))
            .expect("sparse file");
        let e = within_10s(move || err_text(load_list(&[&huge])));
        assert!(
            e.ends_with("huge: 2 GiB is over the 16 MiB limit for a kubeconfig"),
            "{e}"
        );
    }

    #[test]
    fn files_a_kubeconfig_names_are_bounded_and_typed() {
        let dir = TempDir::new("named-files");
        let user = |field: &str, path: &str| {
            dir.write(
                &format!("{field}.yaml"),
                simple("server: https://x:1", &format!("{field}: {path}")),
            )
        };
        let e = within_10s({
            let file = user("tokenFile", "/dev/zero");
            move || err_text(resolve_one(&file, Overrides::default()))
        });
        assert!(
            e.contains("cannot read /dev/zero (tokenFile of user \"u\"")
                && e.ends_with("not a regular file but a character device"),
            "{e}"
        );
        let big = dir.write("big.crt", vec![b'A'; 5 << 20]);
        let file = dir.write(
            "ca.yaml",
            simple(
                &format!(
                    "server: https://x:1\ncertificate-authority: {}",
                    big.display()
                ),
                "",
            ),
        );
        let e = err_text(resolve_one(&file, Overrides::default()));
        assert!(
            e.ends_with("5 MiB is over the 4 MiB limit for a certificate, key or CA bundle"),
            "{e}"
        );
    }

    #[test]
    fn yaml_1_1_booleans_and_unknown_fields() {
        let dir = TempDir::new("bools");
        let file = dir.write(
            "config",
            simple(
                "server: https://x:1\ninsecure-skip-tls-verify: yes\nbogus: 1",
                "",
            ),
        );
        let conn = resolve_one(&file, Overrides::default()).expect("resolve");
        assert!(conn.tls.insecure_skip_verify);
    }

    #[test]
    fn context_cluster_and_user_lookups() {
        let dir = TempDir::new("lookups");
        let file = dir.write(
            "config",
            "clusters:\n- name: c\n  cluster: {server: https://c:1}\n\
             - name: noserver\n  cluster: {insecure-skip-tls-verify: true}\n\
             contexts:\n- name: ghost-cluster\n  context: {cluster: ghost}\n\
             - name: ghost-user\n  context: {cluster: c, user: ghost, namespace: team}\n\
             - name: no-user\n  context: {cluster: c}\n\
             - name: no-server\n  context: {cluster: noserver}\n",
        );
        let kc = load_one(&file, Overrides::default()).expect("load");
        assert_eq!(kc.current_context(), None);
        let e = err_text(kc.resolve(None));
        assert!(
            e.contains("no current-context") && e.contains("ghost-cluster, ghost-user"),
            "{e}"
        );
        let e = err_text(kc.resolve(Some("nope")));
        assert!(
            e.contains("context \"nope\" not found") && e.contains("no-user"),
            "{e}"
        );
        let e = err_text(kc.resolve(Some("ghost-cluster")));
        assert!(
            e.contains("refers to cluster \"ghost\"") && e.contains("config"),
            "{e}"
        );
        let e = err_text(kc.resolve(Some("no-server")));
        assert!(e.contains("cluster \"noserver\": server: not set"), "{e}");
        // A user that is missing or not named is anonymous, not an error.
        for name in ["ghost-user", "no-user"] {
            let conn = kc.resolve(Some(name)).expect(name);
            assert_eq!(conn.auth.method(), "none (anonymous)");
        }
        let conn = kc.resolve(Some("ghost-user")).expect("ghost-user");
        assert_eq!(
            (conn.user.as_str(), conn.namespace.as_str()),
            ("ghost", "team")
        );
        let info = kc.contexts();
        assert_eq!(info[1].namespace.as_deref(), Some("team"));
        assert_eq!(info[2].user, "");
    }

    #[test]
    fn namespace_and_context_flags() {
        let dir = TempDir::new("ns");
        let file = dir.write(
            "config",
            "clusters:\n- name: c\n  cluster: {server: https://c:1}\n\
             contexts:\n- name: a\n  context: {cluster: c, namespace: ns-a}\n\
             - name: b\n  context: {cluster: c}\ncurrent-context: a\n",
        );
        let kc = load_one(&file, Overrides::default()).expect("load");
        assert_eq!(kc.resolve(None).expect("a").namespace, "ns-a");
        assert_eq!(kc.resolve(Some("b")).expect("b").namespace, "default");
        let kc = load_one(
            &file,
            Overrides {
                context: Some("b".into()),
                namespace: Some("flag".into()),
                ..Overrides::default()
            },
        )
        .expect("load");
        assert_eq!(kc.current_context(), Some("b"));
        assert_eq!(kc.file_current_context(), Some("a"));
        let conn = kc.resolve(None).expect("b");
        assert_eq!(
            (conn.context.as_str(), conn.namespace.as_str()),
            ("b", "flag")
        );
        assert_eq!(kc.resolve(Some("a")).expect("a").namespace, "flag");
    }

    #[test]
    fn cluster_flags_behave_like_kubectl() {
        let dir = TempDir::new("cluster-flags");
        let ca = std::fs::read(cert_fixture("ca.crt")).expect("ca");
        let file = dir.write(
            "config",
            simple(
                &format!(
                    "server: https://file:1\ntls-server-name: file-name\ncertificate-authority-data: {}",
                    b64(&ca)
                ),
                "token: abc",
            ),
        );
        let conn = |ov: Overrides| {
            load_one(&file, ov)
                .expect("load")
                .resolve(None)
                .expect("resolve")
        };
        let plain = conn(Overrides::default());
        assert_eq!(plain.tls.server_name.as_deref(), Some("file-name"));
        // --server drops the file's tls-server-name unless --tls-server-name is given too.
        let c = conn(Overrides {
            server: Some("https://flag:2".into()),
            ..Overrides::default()
        });
        assert_eq!(
            (c.server.as_str(), c.tls.server_name.as_deref()),
            ("https://flag:2", None)
        );
        let c = conn(Overrides {
            server: Some("https://flag:2".into()),
            tls_server_name: Some("flag-name".into()),
            ..Overrides::default()
        });
        assert_eq!(c.tls.server_name.as_deref(), Some("flag-name"));
        // --insecure-skip-tls-verify clears the file's CA instead of conflicting with it.
        let c = conn(Overrides {
            insecure_skip_tls_verify: true,
            ..Overrides::default()
        });
        assert!(c.tls.insecure_skip_verify && c.tls.ca_pem.is_none());
        // --certificate-authority replaces the CA data.
        let other_ca = dir.write(
            "other-ca.crt",
            std::fs::read(cert_fixture("rsa.crt")).expect("rsa"),
        );
        let c = conn(Overrides {
            certificate_authority: Some(other_ca.clone()),
            ..Overrides::default()
        });
        assert_eq!(c.tls.ca_pem, std::fs::read(&other_ca).ok());
        let e = err_text(resolve_one(
            &file,
            Overrides {
                certificate_authority: Some(dir.path().join("absent.crt")),
                ..Overrides::default()
            },
        ));
        assert!(
            e.contains("absent.crt") && e.contains("--kube-certificate-authority"),
            "{e}"
        );
    }

    #[test]
    fn insecure_with_a_ca_is_refused() {
        let dir = TempDir::new("insecure");
        let ca = std::fs::read(cert_fixture("ca.crt")).expect("ca");
        let file = dir.write(
            "config",
            simple(
                &format!(
                    "server: https://x:1\ninsecure-skip-tls-verify: true\ncertificate-authority-data: {}",
                    b64(&ca)
                ),
                "",
            ),
        );
        let e = err_text(resolve_one(&file, Overrides::default()));
        assert!(
            e.contains("insecure-skip-tls-verify") && e.contains("certificate authority"),
            "{e}"
        );
        let file = dir.write(
            "ok",
            simple("server: https://x:1\ninsecure-skip-tls-verify: true", ""),
        );
        let conn = resolve_one(&file, Overrides::default()).expect("ok");
        assert!(conn.tls.insecure_skip_verify);
    }

    #[test]
    fn user_flags_and_impersonation() {
        let dir = TempDir::new("user-flags");
        let file = dir.write(
            "config",
            simple(
                "server: https://x:1",
                "token: file-token\nas: file-user\nas-groups: [g1, g2]\nas-uid: file-uid",
            ),
        );
        let resolve = |ov: Overrides| load_one(&file, ov).expect("load").resolve(None);
        let c = resolve(Overrides::default()).expect("plain");
        assert_eq!(
            c.auth.token.as_ref().map(Secret::expose),
            Some("file-token")
        );
        assert_eq!(
            c.impersonate,
            Impersonation {
                user: Some("file-user".into()),
                groups: vec!["g1".into(), "g2".into()],
                uid: Some("file-uid".into()),
                extra: Vec::new(),
            }
        );
        let c = resolve(Overrides {
            token: Some(Secret::new("flag-token")),
            impersonate_user: Some("flag-user".into()),
            impersonate_groups: vec!["flag-group".into()],
            ..Overrides::default()
        })
        .expect("flags");
        assert_eq!(
            c.auth.token.as_ref().map(Secret::expose),
            Some("flag-token")
        );
        // Flags replace field by field: the file's uid stays, its groups are replaced.
        assert_eq!(c.impersonate.user.as_deref(), Some("flag-user"));
        assert_eq!(c.impersonate.groups, ["flag-group"]);
        assert_eq!(c.impersonate.uid.as_deref(), Some("file-uid"));

        // Groups or a uid without a user: kubectl refuses, so do we.
        let file2 = dir.write(
            "groups-only",
            simple("server: https://x:1", "as-groups: [g]"),
        );
        let e = err_text(resolve_one(&file2, Overrides::default()));
        assert!(
            e.contains("as-groups/as-uid") && e.contains("user to impersonate"),
            "{e}"
        );
        let file3 = dir.write("plain", simple("server: https://x:1", ""));
        let e = err_text(resolve_one(
            &file3,
            Overrides {
                impersonate_uid: Some("1".into()),
                ..Overrides::default()
            },
        ));
        assert!(e.contains("user to impersonate"), "{e}");
    }

    #[test]
    fn user_extras_are_read_sorted_and_need_a_user() {
        let dir = TempDir::new("user-extra");
        let file = dir.write(
            "config",
            simple(
                "server: https://x:1",
                "as: jane\nas-user-extra:\n  scopes: [view, audit]\n  \
                 acme.com/ticket: [\"INC-42\"]\n  empty: null",
            ),
        );
        let c = resolve_one(&file, Overrides::default()).expect("resolve");
        assert_eq!(
            c.impersonate.extra,
            [
                ("acme.com/ticket".to_string(), vec!["INC-42".to_string()]),
                (
                    "scopes".to_string(),
                    vec!["view".to_string(), "audit".to_string()]
                ),
            ]
        );
        let bad = dir.write(
            "bad",
            simple(
                "server: https://x:1",
                "as: jane\nas-user-extra:\n  scopes: view",
            ),
        );
        let e = err_text(resolve_one(&bad, Overrides::default()));
        assert!(
            e.contains("as-user-extra.scopes: expected a list of strings"),
            "{e}"
        );
        let no_user = dir.write(
            "no-user",
            simple("server: https://x:1", "as-user-extra:\n  scopes: [view]"),
        );
        let e = err_text(resolve_one(&no_user, Overrides::default()));
        assert!(
            e.contains("as-user-extra") && e.contains("user to impersonate"),
            "{e}"
        );
    }

    #[test]
    fn client_certificate_flags_replace_the_files() {
        let dir = TempDir::new("cert-flags");
        let file = dir.write(
            "config",
            simple(
                "server: https://x:1",
                &format!(
                    "client-certificate: {}\nclient-key: {}",
                    cert_fixture("rsa.crt").display(),
                    cert_fixture("rsa.pkcs1.key").display()
                ),
            ),
        );
        let c = resolve_one(
            &file,
            Overrides {
                client_certificate: Some(cert_fixture("ec-p256.crt")),
                client_key: Some(cert_fixture("ec-p256.pkcs8.key")),
                ..Overrides::default()
            },
        )
        .expect("resolve");
        let client = c.auth.client_cert.expect("cert");
        assert_eq!(
            client.cert_pem,
            std::fs::read(cert_fixture("ec-p256.crt")).expect("read")
        );
    }

    fn cert_case(dir: &TempDir, cert: &str, key: &str) -> Result<Connection, Error> {
        let file = dir.write(
            &format!("{cert}-{key}"),
            simple(
                "server: https://x:1",
                &format!(
                    "client-certificate: {}\nclient-key: {}",
                    cert_fixture(cert).display(),
                    cert_fixture(key).display()
                ),
            ),
        );
        load_one(&file, Overrides::default())?.resolve(None)
    }

    #[test]
    fn client_keys_of_every_supported_type_load() {
        let dir = TempDir::new("keys");
        for (cert, key) in [
            ("rsa.crt", "rsa.pkcs1.key"),
            ("rsa.crt", "rsa.pkcs8.key"),
            ("ec-p256.crt", "ec-p256.sec1.key"),
            ("ec-p256.crt", "ec-p256.pkcs8.key"),
            ("ec-p384.crt", "ec-p384.sec1.key"),
            ("ec-p384.crt", "ec-p384.pkcs8.key"),
            ("ed25519.crt", "ed25519.pkcs8.key"),
        ] {
            let conn = cert_case(&dir, cert, key).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(conn.auth.method(), "client certificate");
        }
    }

    #[test]
    fn client_key_problems_are_clear() {
        let dir = TempDir::new("badkeys");
        let e = err_text(cert_case(&dir, "rsa.crt", "ec-p256.sec1.key"));
        assert!(
            e.contains("does not belong to the client certificate"),
            "{e}"
        );
        assert!(e.contains("user \"u\""), "{e}");
        let e = err_text(cert_case(&dir, "ec-p521.crt", "ec-p521.sec1.key"));
        assert!(e.contains("unsupported client key type"), "{e}");
        let e = err_text(cert_case(&dir, "ec-p256.crt", "ec-p256.encrypted.key"));
        assert!(e.contains("encrypted keys are not supported"), "{e}");
        let e = err_text(cert_case(&dir, "ec-p256.sec1.key", "ec-p256.sec1.key"));
        assert!(e.contains("no PEM certificate"), "{e}");
        let file = dir.write(
            "cert-only",
            simple(
                "server: https://x:1",
                &format!("client-certificate: {}", cert_fixture("rsa.crt").display()),
            ),
        );
        let e = err_text(resolve_one(&file, Overrides::default()));
        assert!(e.contains("client-key: not set"), "{e}");
        let file = dir.write(
            "missing-file",
            simple(
                "server: https://x:1",
                "client-certificate: gone.crt\nclient-key: gone.key",
            ),
        );
        let e = err_text(resolve_one(&file, Overrides::default()));
        assert!(
            e.contains("gone.crt") && e.contains("(client-certificate of user \"u\" in "),
            "{e}"
        );
    }

    #[test]
    fn token_rules() {
        let dir = TempDir::new("tokens");
        let both = dir.write(
            "both",
            simple("server: https://x:1", "token: t\nusername: u\npassword: p"),
        );
        let e = err_text(resolve_one(&both, Overrides::default()));
        assert!(e.contains("more than one authentication method"), "{e}");
        // A token beats a token file (which then need not even exist).
        let file = dir.write(
            "token-and-file",
            simple(
                "server: https://x:1",
                "token: t\ntokenFile: /nonexistent/token",
            ),
        );
        let c = resolve_one(&file, Overrides::default()).expect("ok");
        assert_eq!(c.auth.token_file, None);
        assert_eq!(c.auth.method(), "bearer token");
        let file = dir.write(
            "file-missing",
            simple("server: https://x:1", "tokenFile: nope"),
        );
        let e = err_text(resolve_one(&file, Overrides::default()));
        assert!(e.contains("nope") && e.contains("tokenFile"), "{e}");
        let basic = dir.write(
            "basic",
            simple("server: https://x:1", "username: admin\npassword: pw"),
        );
        let c = resolve_one(&basic, Overrides::default()).expect("ok");
        assert_eq!(c.auth.method(), "basic auth as \"admin\"");
    }

    #[test]
    fn credentials_only_over_tls_and_servers_get_a_scheme() {
        let dir = TempDir::new("schemes");
        let file = dir.write("http", simple("server: http://127.0.0.1:8001/", "token: t"));
        let c = resolve_one(&file, Overrides::default()).expect("ok");
        assert_eq!(c.server, "http://127.0.0.1:8001");
        assert!(
            c.auth.token.is_none(),
            "credentials must not go over plain HTTP"
        );
        let file = dir.write("bare", simple("server: 127.0.0.1:6443", "token: t"));
        let c = resolve_one(&file, Overrides::default()).expect("ok");
        assert_eq!(c.server, "http://127.0.0.1:6443");
        let file = dir.write(
            "bare-tls",
            simple(
                "server: localhost:6443\ninsecure-skip-tls-verify: true",
                "token: t",
            ),
        );
        let c = resolve_one(&file, Overrides::default()).expect("ok");
        assert_eq!(c.server, "https://localhost:6443");
        assert!(c.auth.token.is_some());
        let file = dir.write("ftp", simple("server: ftp://x", ""));
        let e = err_text(resolve_one(&file, Overrides::default()));
        assert!(e.contains("server: unsupported scheme \"ftp\""), "{e}");
    }

    #[test]
    fn proxy_url_is_checked_and_redacted() {
        let dir = TempDir::new("proxy");
        let file = dir.write(
            "ok",
            simple(
                "server: https://x:1\nproxy-url: http://user:hunter2@proxy:3128",
                "token: tok-secret",
            ),
        );
        let c = resolve_one(&file, Overrides::default()).expect("ok");
        assert_eq!(
            c.proxy_url.as_deref(),
            Some("http://user:hunter2@proxy:3128")
        );
        let debug = format!("{c:?}");
        assert!(debug.contains("<redacted>@proxy:3128"), "{debug}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("tok-secret"),
            "{debug}"
        );
        let file = dir.write(
            "bad",
            simple(
                "server: https://x:1\nproxy-url: ftp://user:hunter2@proxy",
                "",
            ),
        );
        let e = err_text(resolve_one(&file, Overrides::default()));
        assert!(
            e.contains("proxy-url") && e.contains("\"ftp\"") && !e.contains("hunter2"),
            "{e}"
        );
    }

    #[test]
    fn exec_and_auth_provider_configs() {
        let dir = TempDir::new("exec");
        let ca = std::fs::read(cert_fixture("ca.crt")).expect("ca");
        let file = dir.write(
            "config",
            format!(
                "clusters:\n- name: c\n  cluster:\n    server: https://x:1\n    certificate-authority-data: {}\n\
                 \x20   extensions:\n    - name: client.authentication.k8s.io/exec\n      extension: {{audience: fleet}}\n\
                 users:\n- name: e\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n\
                 \x20     command: plugin\n      args: [--secret=hunter2]\n      env: [{{name: K, value: hunter3}}]\n\
                 \x20     provideClusterInfo: true\n      installHint: \"\\e[1minstall it\\e[0m\"\n\
                 - name: old\n  user:\n    exec: {{apiVersion: client.authentication.k8s.io/v1alpha1, command: x}}\n\
                 - name: gcp\n  user:\n    auth-provider: {{name: gcp, config: {{access-token: hunter4}}}}\n\
                 contexts:\n- name: e\n  context: {{cluster: c, user: e}}\n\
                 - name: old\n  context: {{cluster: c, user: old}}\n\
                 - name: gcp\n  context: {{cluster: c, user: gcp}}\n",
                b64(&ca)
            ),
        );
        let kc = load_one(&file, Overrides::default()).expect("load");
        let c = kc.resolve(Some("e")).expect("e");
        let exec = c.auth.exec.as_ref().expect("exec");
        assert_eq!(exec.args, ["--secret=hunter2"]);
        assert_eq!(exec.install_hint.as_deref(), Some("install it"));
        let info = exec.cluster_info.as_ref().expect("cluster info");
        assert_eq!(info["server"], "https://x:1");
        assert_eq!(info["certificate-authority-data"], b64(&ca));
        assert_eq!(info["config"]["audience"], "fleet");
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("hunter3"),
            "{debug}"
        );
        assert_eq!(
            c.auth.method(),
            "exec plugin plugin (client.authentication.k8s.io/v1beta1)"
        );

        let e = err_text(kc.resolve(Some("old")));
        assert!(
            e.contains("exec.apiVersion") && e.contains("v1alpha1"),
            "{e}"
        );
        let c = kc.resolve(Some("gcp")).expect("gcp");
        assert_eq!(c.auth.auth_provider.as_deref(), Some("gcp"));
        assert!(!format!("{c:?}").contains("hunter4"));
    }

    #[test]
    fn merge_keys_and_a_context_without_cluster() {
        let dir = TempDir::new("merge-keys");
        let file = dir.write(
            "config",
            "base: &base {server: https://anchored:1, insecure-skip-tls-verify: true}\n\
             clusters:\n- name: c\n  cluster:\n    <<: *base\n\
             contexts:\n- name: a\n  context: {cluster: c}\n- name: bare\n  context: {namespace: x}\n",
        );
        let kc = load_one(&file, Overrides::default()).expect("load");
        let conn = kc.resolve(Some("a")).expect("a");
        assert_eq!(conn.server, "https://anchored:1");
        assert!(conn.tls.insecure_skip_verify);
        let e = err_text(kc.resolve(Some("bare")));
        assert!(e.contains("context \"bare\": cluster: not set"), "{e}");
    }

    #[test]
    fn debug_output_names_but_never_credentials() {
        let dir = TempDir::new("debug");
        let key = std::fs::read(cert_fixture("rsa.pkcs1.key")).expect("key");
        let file = dir.write(
            "config",
            simple(
                "server: https://x:1",
                &format!(
                    "client-certificate: {}\nclient-key-data: {}\n\
                     exec: {{apiVersion: client.authentication.k8s.io/v1, command: p, args: [--secret=hunter2]}}",
                    cert_fixture("rsa.crt").display(),
                    b64(&key)
                ),
            ),
        );
        let kc = load_one(&file, Overrides::default()).expect("load");
        let conn = kc.resolve(None).expect("resolve");
        let debug = format!("{kc:?} {conn:?}");
        assert!(debug.contains("contexts: [\"ctx\"]"), "{debug}");
        assert!(debug.contains("bytes of PEM"), "{debug}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("PRIVATE"),
            "{debug}"
        );
    }

    #[test]
    fn userinfo_never_shows() {
        for (url, shown) in [
            ("https://a:b@h:6443/p", "https://h:6443/p"),
            ("https://h", "https://h"),
            ("h:1", "h:1"),
            ("user:pw@proxy:3128", "proxy:3128"),
            ("http://u:pa/ss@proxy:3128", "http://proxy:3128"),
            ("http://u:p@ss@proxy:3128/", "http://proxy:3128/"),
            ("https://h/x?q=a@b", "https://h/x?q=a@b"),
        ] {
            assert_eq!(without_userinfo(url), shown, "{url}");
        }
    }

    #[test]
    fn strip_controls_removes_ansi() {
        assert_eq!(
            strip_controls("\u{1b}[31mred\u{1b}[0m\tok\n\u{7}"),
            "red\tok\n"
        );
    }
}
