//! A test Kubernetes API server speaking the real wire format over HTTPS on 127.0.0.1: the public
//! API tests use (`ApiServer::start(Options)`, credentials, kubeconfig writer, request log, fault
//! injection) and the accept/connection loop. Test support only; never used by `src/`.
//!
//! ```ignore
//! let server = ApiServer::start(Options::default());
//! server.write_kubeconfig(&path, Identity::ClientCert)?;       // or use url()/ca_pem()/token()
//! server.inject(Fault::new("/gitrepositories", FaultKind::TooManyRequests { retry_after_secs: 1 }));
//! // ... run the client ...
//! assert!(server.requests().iter().all(|r| r.method == "GET"));
//! ```
//!
//! What it serves is documented on [`Options`] and in `tests/apiserver/README.md`.

mod api;
mod clock;
mod controller;
mod fieldpath;
mod http;
mod managed_fields;
mod patch;
mod pki;
mod resources;
mod schema;
mod status;
mod store;
mod table;
mod timing;
mod writes;

use std::collections::HashMap;
use std::fmt;
use std::io::{BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

pub use controller::{Controller, Outcome, Target};
pub use pki::{ClientCredentials, DNS_ONLY_NAME, KeyType};
pub use store::Synthetic;
// For the round-trip budgets (tests) and the latency bench; the example does not count.
#[allow(unused_imports)]
pub use timing::RoundTrips;
// For the integration tests; the example and the bench, which include this module too, do not
// read the data files themselves.
#[allow(unused_imports)]
pub use store::data_objects;

/// The user of the default client certificate (kind's and kubeadm's admin).
pub const ADMIN_USER: &str = "kubernetes-admin";
/// The group of the default client certificate.
pub const ADMIN_GROUP: &str = "system:masters";
/// The user the default bearer token authenticates as.
pub const TOKEN_USER: &str = "system:serviceaccount:flux-system:flux-operator-mcp";

/// The 19 Flux API kinds (source, kustomize, helm, notification, image automation, the Flux
/// Operator's own, the source watcher): each has objects in testdata/cluster, a CRD the test
/// server serves, and a document in the docs corpus. The benchmark table prints them in this
/// order.
pub const FLUX_KINDS: &[&str] = &[
    "GitRepository",
    "OCIRepository",
    "HelmRepository",
    "HelmChart",
    "Bucket",
    "ExternalArtifact",
    "Kustomization",
    "HelmRelease",
    "Alert",
    "Provider",
    "Receiver",
    "ImageRepository",
    "ImagePolicy",
    "ImageUpdateAutomation",
    "FluxInstance",
    "FluxReport",
    "ResourceSet",
    "ResourceSetInputProvider",
    "ArtifactGenerator",
];

/// Which credentials the server accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Auth {
    /// Client certificates signed by the run's CA only.
    ClientCert,
    /// Bearer tokens only (a presented client certificate is ignored).
    Token,
    /// Either, like a real API server with both authenticators. The default.
    #[default]
    Both,
}

/// An authorization rule that refuses a request with a real 403 Status.
/// Empty `verb`/`resource` or `"*"` match anything; `group` matches exactly (`""` is core) unless
/// it is `"*"`; `namespace: None` matches every namespace and cluster-scoped requests.
#[derive(Clone, Debug)]
pub struct Deny {
    /// `get`, `list`, `watch`, `create`, `patch`, `update`, `delete`, `impersonate`.
    pub verb: String,
    pub group: String,
    /// Plural, with the subresource if any: `secrets`, `pods/log`.
    pub resource: String,
    pub namespace: Option<String>,
    /// Only this user (after impersonation); `None` = everyone.
    pub user: Option<String>,
}

impl Deny {
    pub fn new(verb: &str, group: &str, resource: &str) -> Deny {
        Deny {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            namespace: None,
            user: None,
        }
    }

    pub fn in_namespace(mut self, namespace: &str) -> Deny {
        self.namespace = Some(namespace.into());
        self
    }

    pub fn for_user(mut self, user: &str) -> Deny {
        self.user = Some(user.into());
        self
    }
}

/// What an injected fault does to a matching request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Wait, then answer normally.
    Delay(Duration),
    /// Answer a Status with this code (500: InternalError, 504: Timeout, ...).
    Status(u16),
    /// 429 TooManyRequests with `Retry-After`.
    TooManyRequests { retry_after_secs: u64 },
    /// 503 ServiceUnavailable, with `Retry-After` when given.
    ServiceUnavailable { retry_after: Option<u64> },
    /// Announce the whole body, send half, close the connection.
    TruncatedBody,
    /// Read the request, then reset the TCP connection (RST) without answering.
    ConnectionReset,
}

/// A fault for the next `times` requests whose path contains `path_contains`.
#[derive(Clone, Debug)]
pub struct Fault {
    pub path_contains: String,
    pub kind: FaultKind,
    /// How many matching requests it affects; `usize::MAX` for all.
    pub times: usize,
}

impl Fault {
    /// A fault for the next matching request only.
    pub fn new(path_contains: &str, kind: FaultKind) -> Fault {
        Fault {
            path_contains: path_contains.into(),
            kind,
            times: 1,
        }
    }

    pub fn times(mut self, times: usize) -> Fault {
        self.times = times;
        self
    }

    pub fn always(self) -> Fault {
        self.times(usize::MAX)
    }
}

/// How to start the server. `Options::default()` serves `testdata/cluster` with both auth methods.
#[derive(Clone, Debug)]
pub struct Options {
    /// Folder of YAML/JSON objects (and `logs/`). Default: `testdata/cluster` of this repository.
    pub data_dir: PathBuf,
    pub auth: Auth,
    /// Accept `Authorization: Basic` for this user and password (Kubernetes dropped basic auth,
    /// but kubeconfigs still carry it). Default: none.
    pub basic_auth: Option<(String, String)>,
    /// Objects added after the data (CRDs among them define types).
    pub extra_objects: Vec<Value>,
    /// Generated copies of a kind, for big lists.
    pub synthetic: Vec<Synthetic>,
    /// Authorization refusals.
    pub deny: Vec<Deny>,
    /// Serve no `metrics.k8s.io` (metrics-server not installed).
    pub no_metrics: bool,
    /// `metrics.k8s.io` is registered but its backend does not answer (metrics-server down,
    /// the most common broken APIService): aggregated discovery marks it `Stale` and every
    /// request under `/apis/metrics.k8s.io` gets the aggregator's plain-text 503.
    pub metrics_unavailable: bool,
    /// Key algorithm of the CA, server and default client certificates. Default EC P-256.
    pub key_type: KeyType,
    /// Listen on `[::1]` instead of 127.0.0.1 (the certificate then also names ::1).
    pub ipv6: bool,
    /// The server certificate names only [`DNS_ONLY_NAME`], no IP: clients need tls-server-name.
    pub dns_only_san: bool,
    /// The server certificate is signed by a CA other than `ca_pem()`.
    pub wrong_ca: bool,
    /// Offer only TLS 1.2.
    pub tls12_only: bool,
    /// Serve at most this many items per list page even when `limit` asks for more (a server may
    /// return fewer items than asked, with a continue token). Default: no cap.
    pub max_page_size: Option<usize>,
    /// Port to listen on; 0 picks a free one. Default 0.
    pub port: u16,
    /// Run the simulated Flux controller (reconcile requests answered after a delay, Ready
    /// condition, events, finalizers). Default: none, nothing answers.
    pub controller: Option<Controller>,
    /// Hold every response this long before writing it, like an API server behind a VPN or a
    /// cloud load balancer (each connection waits on its own, so parallel requests overlap).
    /// Default: zero.
    pub latency: Duration,
    /// The time every response's `Date` header gives (Unix seconds), fixed; `None`: the real
    /// clock. Default: [`clock::DATA_NOW`], when the test data was written, so that ages
    /// computed against the server's clock (a report 41 minutes old) read the same on every run.
    pub now: Option<i64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            data_dir: default_data_dir(),
            auth: Auth::Both,
            basic_auth: None,
            extra_objects: Vec::new(),
            synthetic: Vec::new(),
            deny: Vec::new(),
            no_metrics: false,
            metrics_unavailable: false,
            key_type: KeyType::EcP256,
            ipv6: false,
            dns_only_san: false,
            wrong_ca: false,
            tls12_only: false,
            max_page_size: None,
            port: 0,
            controller: None,
            latency: Duration::ZERO,
            now: clock::parse_rfc3339(clock::DATA_NOW),
        }
    }
}

/// `testdata/cluster` in this repository.
pub fn default_data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join("cluster")
}

/// Who a kubeconfig written by [`ApiServer::write_kubeconfig`] authenticates as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// The default client certificate ([`ADMIN_USER`]), key of the server's key type, PKCS#8.
    ClientCert,
    /// An RSA client certificate with a PKCS#1 key (`BEGIN RSA PRIVATE KEY`), like kind writes.
    ClientCertRsa,
    /// The default bearer token ([`TOKEN_USER`]).
    Token,
    /// No credentials at all.
    Anonymous,
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// Percent-decoded path.
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// Header names lowercased. The Authorization value is reduced to its scheme
    /// (`Bearer <redacted>`), so logs of the log never hold a credential.
    pub headers: Vec<(String, String)>,
    /// The authenticated user (before impersonation), if any.
    pub user: Option<String>,
    /// The status code answered; 0 when the connection was reset instead.
    pub status: u16,
    /// The request body, for writes.
    pub body: Option<String>,
    /// When the server had read the whole request.
    pub received: Instant,
    /// When it began to write the response (after [`Options::latency`] and any `Delay` fault),
    /// or reset the connection. A request the client sent only after reading this response
    /// was received later than this, so [`RoundTrips`] never mistakes it for a parallel one.
    pub answered: Instant,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        http::first_value(&self.headers, name)
    }

    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        http::values(&self.headers, name)
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        http::first_param(&self.query, name)
    }

    pub fn has_authorization(&self) -> bool {
        self.header("authorization").is_some()
    }
}

/// Why the server could not start.
#[derive(Debug)]
pub enum StartError {
    Data(store::LoadError),
    Pki(pki::PkiError),
    Bind(SocketAddr, std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Data(e) => write!(f, "test API server data: {e}"),
            StartError::Pki(e) => write!(f, "test API server certificates: {e}"),
            StartError::Bind(addr, e) => write!(f, "test API server cannot listen on {addr}: {e}"),
        }
    }
}

/// An authenticated identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

/// Mutable server state behind one lock.
pub struct State {
    pub store: store::Store,
    pub requests: Vec<RecordedRequest>,
    pub faults: Vec<Fault>,
    pub tokens: HashMap<String, User>,
    /// What the simulated controller has scheduled.
    pub pending: Vec<controller::Pending>,
    /// Outcomes set while running (`ApiServer::set_outcome`); the latest for a target wins.
    pub outcomes: Vec<(Target, Outcome)>,
    /// The Events the simulated controller wrote (namespace, name), which it counts again.
    pub events: Vec<store::Key>,
}

/// What connection threads share.
pub struct Shared {
    pub options: Options,
    pub state: Mutex<State>,
    /// Signalled on every stored change and on new controller work (waiters and the controller
    /// thread wait on it with the state lock).
    pub changed: Condvar,
    /// `host:port` as clients reach it (for `/api`'s serverAddressByClientCIDRs).
    pub server_address: String,
    tls: Arc<rustls::ServerConfig>,
    stopping: AtomicBool,
    connections: Mutex<HashMap<u64, TcpStream>>,
    next_connection: AtomicU64,
    audit_seed: u64,
    next_audit: AtomicU64,
}

/// A UUID-shaped audit id, unique per response of a run.
fn audit_id(seed: u64, n: u64) -> String {
    let a = resources::fnv1a(format!("{seed}/{n}").as_bytes());
    let b = resources::fnv1a(format!("{seed}/{n}/audit").as_bytes());
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

impl Shared {
    /// The state; a panic in another connection thread does not poison the server for the test.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running server; shuts down on drop.
pub struct ApiServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    pki: pki::Pki,
    admin: ClientCredentials,
    admin_rsa: ClientCredentials,
    token: String,
    accept: Option<JoinHandle<()>>,
    controller: Option<JoinHandle<()>>,
}

impl fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiServer")
            .field("url", &self.url())
            .finish()
    }
}

/// A token unique to this process and run, never the same twice.
fn new_token(tag: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seed = format!("{tag}/{}/{n}/{nanos}", std::process::id());
    format!(
        "{tag}.{:016x}{:016x}",
        resources::fnv1a(seed.as_bytes()),
        resources::fnv1a(format!("{seed}!").as_bytes())
    )
}

impl ApiServer {
    /// Start a server; panics with a readable message when the data or certificates are broken
    /// (test support: the panic is the test failure).
    pub fn start(options: Options) -> ApiServer {
        match ApiServer::try_start(options) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    pub fn try_start(options: Options) -> Result<ApiServer, StartError> {
        let store = store::Store::load(
            &options.data_dir,
            &options.extra_objects,
            &options.synthetic,
            options.no_metrics,
        )
        .map_err(StartError::Data)?;
        let pki = pki::Pki::new(&pki::ServerCertSpec {
            key: options.key_type,
            ipv6: options.ipv6,
            dns_only_san: options.dns_only_san,
            wrong_ca: options.wrong_ca,
            tls12_only: options.tls12_only,
        })
        .map_err(StartError::Pki)?;
        let admin = pki
            .client_cert(ADMIN_USER, &[ADMIN_GROUP], options.key_type)
            .map_err(StartError::Pki)?;
        let admin_rsa = pki
            .client_cert(ADMIN_USER, &[ADMIN_GROUP], KeyType::Rsa)
            .map_err(StartError::Pki)?;
        let ip: std::net::IpAddr = if options.ipv6 {
            std::net::Ipv6Addr::LOCALHOST.into()
        } else {
            std::net::Ipv4Addr::LOCALHOST.into()
        };
        let bind = SocketAddr::new(ip, options.port);
        let listener = TcpListener::bind(bind).map_err(|e| StartError::Bind(bind, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError::Bind(bind, e))?;
        let token = new_token("flux-test");
        let mut tokens = HashMap::new();
        tokens.insert(
            token.clone(),
            User {
                name: TOKEN_USER.into(),
                groups: vec![
                    "system:serviceaccounts".into(),
                    "system:serviceaccounts:flux-system".into(),
                ],
            },
        );
        let shared = Arc::new(Shared {
            server_address: addr.to_string(),
            options,
            state: Mutex::new(State {
                store,
                requests: Vec::new(),
                faults: Vec::new(),
                tokens,
                pending: Vec::new(),
                outcomes: Vec::new(),
                events: Vec::new(),
            }),
            changed: Condvar::new(),
            tls: pki.server_config.clone(),
            stopping: AtomicBool::new(false),
            connections: Mutex::new(HashMap::new()),
            next_connection: AtomicU64::new(0),
            audit_seed: resources::fnv1a(new_token("audit").as_bytes()),
            next_audit: AtomicU64::new(0),
        });
        let accept_shared = shared.clone();
        let accept = std::thread::Builder::new()
            .name("apiserver-accept".into())
            .spawn(move || accept_loop(listener, accept_shared))
            .map_err(|e| StartError::Bind(addr, e))?;
        let controller = match shared.options.controller {
            Some(_) => {
                let controller_shared = shared.clone();
                Some(
                    std::thread::Builder::new()
                        .name("apiserver-controller".into())
                        .spawn(move || controller::run(controller_shared))
                        .map_err(|e| StartError::Bind(addr, e))?,
                )
            }
            None => None,
        };
        Ok(ApiServer {
            addr,
            shared,
            pki,
            admin,
            admin_rsa,
            token,
            accept: Some(accept),
            controller,
        })
    }

    /// `https://127.0.0.1:PORT` (or `https://[::1]:PORT`).
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The CA clients should trust (PEM).
    pub fn ca_pem(&self) -> &str {
        &self.pki.ca_pem
    }

    /// The name to verify the server certificate against when `dns_only_san` is set.
    pub fn tls_server_name(&self) -> Option<&'static str> {
        self.shared.options.dns_only_san.then_some(DNS_ONLY_NAME)
    }

    /// Certificate of [`ADMIN_USER`] in group [`ADMIN_GROUP`] (PEM).
    pub fn client_cert_pem(&self) -> &str {
        &self.admin.cert_pem
    }

    /// Its key (PKCS#8 PEM, of the server's key type).
    pub fn client_key_pem(&self) -> &str {
        &self.admin.key_pem
    }

    /// An RSA certificate for [`ADMIN_USER`] (PEM).
    pub fn client_cert_rsa_pem(&self) -> &str {
        &self.admin_rsa.cert_pem
    }

    /// Its key as PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    pub fn client_key_rsa_pkcs1_pem(&self) -> &'static str {
        pki::rsa_client_key_pkcs1_pem()
    }

    /// Its key as PKCS#8 (`BEGIN PRIVATE KEY`).
    pub fn client_key_rsa_pkcs8_pem(&self) -> &str {
        &self.admin_rsa.key_pem
    }

    /// A new client certificate for `user` in `groups` (at most two), signed by the CA clients
    /// trust.
    pub fn issue_client_cert(
        &self,
        user: &str,
        groups: &[&str],
        key: KeyType,
    ) -> ClientCredentials {
        match self.pki.client_cert(user, groups, key) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    /// The default bearer token ([`TOKEN_USER`]).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A new valid bearer token for `user` in `groups`.
    pub fn add_token(&self, user: &str, groups: &[&str]) -> String {
        let token = new_token("flux-test-extra");
        self.shared.lock().tokens.insert(
            token.clone(),
            User {
                name: user.into(),
                groups: groups.iter().map(|g| g.to_string()).collect(),
            },
        );
        token
    }

    /// Make `token` invalid from now on (its next use gets 401), e.g. to test refresh after 401.
    pub fn revoke_token(&self, token: &str) {
        self.shared.lock().tokens.remove(token);
    }

    /// A kubeconfig for this server (context, cluster and user all named `flux-test`), with the
    /// CA and credentials inline (`*-data`).
    pub fn kubeconfig(&self, identity: Identity) -> String {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let mut cluster = format!(
            "    certificate-authority-data: {}\n    server: {}\n",
            b64(self.ca_pem()),
            self.url()
        );
        if let Some(name) = self.tls_server_name() {
            cluster.push_str(&format!("    tls-server-name: {name}\n"));
        }
        let user = match identity {
            Identity::ClientCert => format!(
                "    client-certificate-data: {}\n    client-key-data: {}\n",
                b64(self.client_cert_pem()),
                b64(self.client_key_pem())
            ),
            Identity::ClientCertRsa => format!(
                "    client-certificate-data: {}\n    client-key-data: {}\n",
                b64(self.client_cert_rsa_pem()),
                b64(self.client_key_rsa_pkcs1_pem())
            ),
            Identity::Token => format!("    token: {}\n", self.token()),
            Identity::Anonymous => String::new(),
        };
        let user = if user.is_empty() {
            "- name: flux-test\n  user: {}\n".to_string()
        } else {
            format!("- name: flux-test\n  user:\n{user}")
        };
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: flux-test\n  cluster:\n{cluster}contexts:\n- name: flux-test\n  context:\n    cluster: flux-test\n    user: flux-test\ncurrent-context: flux-test\nusers:\n{user}preferences: {{}}\n"
        )
    }

    /// Write [`ApiServer::kubeconfig`] to `path`.
    pub fn write_kubeconfig(&self, path: &Path, identity: Identity) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig(identity))
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Add a fault; faults are tried in the order added, the first match applies.
    pub fn inject(&self, fault: Fault) {
        self.shared.lock().faults.push(fault);
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// The stored object (as it would be served at its stored apiVersion), if any; for asserting
    /// what mutations did. `namespace` is ignored for cluster-scoped kinds.
    pub fn object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        let state = self.shared.lock();
        let probe = serde_json::json!({"apiVersion": api_version, "kind": kind});
        let t = state.store.type_of(&probe).ok()?;
        let ns = if state.store.registry.types[t].namespaced {
            namespace
        } else {
            ""
        };
        state.store.get(t, ns, name).cloned()
    }

    /// Wait until the object (`None` when absent) satisfies `done`, or `timeout` passes; returns
    /// whether it did. Wakes on every stored change, so tests need no sleeps.
    pub fn wait_for(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        timeout: Duration,
        done: impl Fn(Option<&Value>) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        let probe = serde_json::json!({"apiVersion": api_version, "kind": kind});
        let mut state = self.shared.lock();
        loop {
            let current = state.store.type_of(&probe).ok().and_then(|t| {
                let ns = if state.store.registry.types[t].namespaced {
                    namespace
                } else {
                    ""
                };
                state.store.get(t, ns, name)
            });
            if done(current) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = match self.shared.changed.wait_timeout(state, deadline - now) {
                Ok((s, _)) => s,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Set what the simulated controller makes of `target` from now on.
    pub fn set_outcome(&self, target: Target, outcome: Outcome) {
        self.shared.lock().outcomes.push((target, outcome));
    }

    /// How many objects of `kind` the server holds.
    pub fn count(&self, api_version: &str, kind: &str) -> usize {
        let state = self.shared.lock();
        let probe = serde_json::json!({"apiVersion": api_version, "kind": kind});
        state
            .store
            .type_of(&probe)
            .map(|t| state.store.count(t))
            .unwrap_or(0)
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop, then close every open connection so their threads end.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
        {
            // Take the lock so the controller is either waiting (and gets the signal) or will
            // see `stopping` before it waits again.
            let _state = self.shared.lock();
            self.shared.changed.notify_all();
        }
        if let Some(handle) = self.controller.take() {
            let _ = handle.join();
        }
        let connections = std::mem::take(
            &mut *self
                .shared
                .connections
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        for (_, c) in connections {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let id = shared.next_connection.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = stream.try_clone() {
            shared
                .connections
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id, clone);
        }
        let conn_shared = shared.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("apiserver-conn-{id}"))
            .spawn(move || {
                serve_connection(stream, &conn_shared);
                conn_shared
                    .connections
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
            });
        if spawned.is_err() {
            shared
                .connections
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
        }
    }
}

/// Send a TCP RST instead of a FIN when the socket closes: SO_LINGER with a zero timeout.
#[cfg(target_os = "linux")]
fn reset_on_close(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    #[repr(C)]
    struct Linger {
        l_onoff: i32,
        l_linger: i32,
    }
    unsafe extern "C" {
        fn setsockopt(fd: i32, level: i32, name: i32, value: *const Linger, len: u32) -> i32;
    }
    const SOL_SOCKET: i32 = 1;
    const SO_LINGER: i32 = 13;
    let linger = Linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid open socket descriptor and a pointer to a live, correctly sized linger
    // struct; the call only sets a socket option.
    unsafe {
        setsockopt(
            stream.as_raw_fd(),
            SOL_SOCKET,
            SO_LINGER,
            &linger,
            std::mem::size_of::<Linger>() as u32,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn reset_on_close(_stream: &TcpStream) {}

fn redact_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            if n == "authorization" {
                let scheme = v.split_whitespace().next().unwrap_or("");
                (n.clone(), format!("{scheme} <redacted>"))
            } else {
                (n.clone(), v.clone())
            }
        })
        .collect()
}

fn serve_connection(tcp: TcpStream, shared: &Shared) {
    let _ = tcp.set_nodelay(true);
    let Ok(conn) = rustls::ServerConnection::new(shared.tls.clone()) else {
        return;
    };
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        if stream.conn.complete_io(&mut stream.sock).is_err() {
            return;
        }
    }
    let cert_user = stream
        .conn
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|c| pki::subject_identity(c))
        .map(|(name, groups)| User { name, groups });
    let mut reader = BufReader::new(stream);
    loop {
        let req = match http::read_request(&mut reader) {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(http::HttpError::Io(_)) => return,
            Err(e) => {
                let resp = match e {
                    http::HttpError::TooLarge(_) => {
                        status::failure(413, "RequestEntityTooLarge", &e.to_string(), None)
                    }
                    _ => status::bad_request(&e.to_string()),
                };
                let _ = http::write_response(reader.get_mut(), &resp, true, false, http::Cut::None);
                break;
            }
        };
        let received = Instant::now();
        let outcome = api::handle(shared, &req, cert_user.as_ref());
        let status_code = match &outcome.reply {
            api::Reply::Respond(resp, _) => resp.status,
            api::Reply::Reset => 0,
        };
        if !shared.options.latency.is_zero() {
            std::thread::sleep(shared.options.latency);
        }
        // Recorded before the response goes out: a client that has the answer finds its
        // request in the log, and `answered` precedes anything the client sends next.
        let answered = Instant::now();
        shared.lock().requests.push(RecordedRequest {
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            headers: redact_headers(&req.headers),
            user: outcome.user,
            status: status_code,
            body: (!req.body.is_empty()).then(|| String::from_utf8_lossy(&req.body).into_owned()),
            received,
            answered,
        });
        match outcome.reply {
            api::Reply::Reset => {
                reset_on_close(&reader.get_ref().sock);
                return;
            }
            api::Reply::Respond(resp, cut) => {
                // Every API server response names its audit event; clients log it on errors.
                let n = shared.next_audit.fetch_add(1, Ordering::Relaxed);
                let now = shared.options.now.unwrap_or_else(clock::now_unix);
                let resp = resp
                    .with_header("Audit-Id", audit_id(shared.audit_seed, n))
                    .with_header("Date", clock::format_http_date(now));
                let close = req.wants_close() || cut != http::Cut::None;
                let head = req.method == "HEAD";
                if http::write_response(reader.get_mut(), &resp, close, head, cut).is_err() {
                    return;
                }
                if cut != http::Cut::None {
                    // Drop the TCP connection without a TLS close_notify: the client sees the
                    // body end early, as when a proxy or the server dies mid-response.
                    let _ = reader.get_ref().sock.shutdown(Shutdown::Both);
                    return;
                }
                if close {
                    break;
                }
            }
        }
    }
    let stream = reader.get_mut();
    stream.conn.send_close_notify();
    let _ = stream.flush();
}
