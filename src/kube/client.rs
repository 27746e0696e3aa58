//! The REST client for one context: one ureq agent (so connections are reused), credentials and
//! impersonation on every request, Kubernetes `Status` errors, bounded retries, and the calls the
//! tools need: get, streaming paged list, pod logs, pod metrics, cached discovery, and (with the
//! `mutations` feature only) patches (merge, JSON, strategic merge), server-side apply and
//! delete, each with `dryRun`, on an object or its `status` subresource.

use std::io::{BufReader, Read};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::de::DeserializeSeed;
use serde_json::Value;
use ureq::http;

use super::auth::{Authenticator, impersonation_headers};
use super::config::{ClientCert, Connection, TlsSettings, without_userinfo};
use super::discovery::{AGGREGATED_ACCEPT, Discovery, ROOT_PATHS, Resource, Roots};
use super::list::{
    DEFAULT_PAGE_SIZE, ListInfo, ListOptions, PageEnd, PageSeed, PageState, meta_ahead,
};
use super::proxy::{self, NetworkEnv};
use super::stop::Stop;
use super::tls::{self, SettingError};
use super::{Error, Secret, percent_encode_into};
use crate::sync::lock;

/// Sent on every request, so cluster admins can tell our traffic apart in audit logs.
pub const USER_AGENT: &str = concat!("flux-operator-mcp/", env!("CARGO_PKG_VERSION"));

/// The field manager of our server-side applies: the owner of the fields a manifest sets.
#[cfg(feature = "mutations")]
pub const APPLY_FIELD_MANAGER: &str = "flux-operator-mcp";

/// The field manager of our patches (a reconcile request, a suspend, an agent's patch). Not
/// the apply manager and not a name Flux's controllers clean up (they take over fields of
/// `kubectl` and of `before-first-apply`), so a field an agent patched on purpose stays owned
/// by this manager instead of being folded into a controller's applied configuration.
#[cfg(feature = "mutations")]
pub const PATCH_FIELD_MANAGER: &str = "flux-operator-mcp-patch";

/// Largest single object or discovery document read into memory (etcd caps objects at 1.5 MiB;
/// this only guards against a misbehaving server).
const MAX_DOCUMENT: u64 = 64 << 20;
/// List pages up to this size are read whole before their items are parsed; bigger ones are
/// parsed from the socket (see `parse_page`). Unit tests use a small size to reach both paths.
const PAGE_BUFFER: u64 = if cfg!(test) { 4 << 10 } else { 16 << 20 };
/// Largest item of a list page read from the socket: a page up to [`PAGE_BUFFER`] is read
/// whole, so no item in it is bigger; a streamed page gets a bound per item, or a server
/// sending one endless object would grow memory without limit (etcd caps objects at 1.5 MiB).
/// Twice the page buffer, because the page's own fields before its first item count towards
/// that item's allowance, and the first [`PAGE_BUFFER`] bytes were read before streaming began.
const MAX_ITEM: u64 = 2 * PAGE_BUFFER;
/// How much of an error body is read to find a `Status` in it.
const MAX_ERROR_BODY: u64 = 64 << 10;
/// Pod logs read when the caller sets no `limit_bytes`: a guard, not a policy.
pub const DEFAULT_LOG_CAP: u64 = 16 << 20;
/// Retries after 429 Too Many Requests / 503 Service Unavailable.
const THROTTLE_RETRIES: u32 = 5;
/// Retries after a 503 that gives no `Retry-After`.
const UNAVAILABLE_RETRIES: u32 = 2;
/// Retries of a GET whose connection broke before anything was handed to the caller.
const RESET_RETRIES: u32 = 2;
/// First backoff when the server gives no `Retry-After`; doubles on each retry.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// How many group-version documents a legacy server's discovery fetches at once.
const PARALLEL_DISCOVERY: usize = 8;

/// Discovery older than this is refetched once when a kind is not found in it (a CRD may have
/// been installed since), like kubectl's deferred discovery mapper.
const DISCOVERY_REFRESH_AFTER: Duration = Duration::from_secs(10);

/// How a client is built. `Default`: a 60 s budget per call and the process environment for
/// proxies and the system CA bundle.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The time budget of one call (a get, a whole paged list, logs), retries and backoff
    /// included: `--timeout`. Default: 60 s, upstream's `1m`.
    pub timeout: Duration,
    /// Proxy variables and `SSL_CERT_FILE`. Default: [`NetworkEnv::from_process`].
    pub env: NetworkEnv,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            timeout: Duration::from_secs(60),
            env: NetworkEnv::from_process(),
        }
    }
}

/// The HTTP methods this client can send. Without the `mutations` feature there is only `Get`:
/// no code that could send anything else is compiled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    #[cfg(feature = "mutations")]
    Patch,
    #[cfg(feature = "mutations")]
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            #[cfg(feature = "mutations")]
            Method::Patch => "PATCH",
            #[cfg(feature = "mutations")]
            Method::Delete => "DELETE",
        }
    }

    fn to_http(self) -> http::Method {
        match self {
            Method::Get => http::Method::GET,
            #[cfg(feature = "mutations")]
            Method::Patch => http::Method::PATCH,
            #[cfg(feature = "mutations")]
            Method::Delete => http::Method::DELETE,
        }
    }
}

/// `GET .../pods/{name}/log` options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Required by the server when the pod has more than one container.
    pub container: Option<String>,
    /// Only the last N lines (`tailLines`).
    pub tail_lines: Option<u64>,
    /// At most N bytes (`limitBytes`), also enforced here; default [`DEFAULT_LOG_CAP`].
    pub limit_bytes: Option<u64>,
    /// The previous (crashed) container instance.
    pub previous: bool,
    /// Only lines newer than this many seconds (`sinceSeconds`, at least 1), counted by the
    /// kubelet's clock rather than ours.
    pub since_seconds: Option<u64>,
}

/// Pod log text. Bytes that are not UTF-8 are replaced (U+FFFD).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logs {
    pub text: String,
    /// True when the byte limit was reached: the end of the requested log may be missing.
    pub truncated: bool,
}

/// Which pods `pod_metrics` reports on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodSelection {
    /// One pod by name.
    Named(String),
    /// Pods matching a label selector (`None`: all), at most `limit` of them.
    Matching {
        label_selector: Option<String>,
        limit: Option<usize>,
    },
}

/// The three patch formats of a `PATCH` request (server-side apply is [`Client::apply`]).
#[cfg(feature = "mutations")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// JSON merge patch (RFC 7386): maps merge, lists are replaced whole, `null` deletes.
    Merge,
    /// JSON patch (RFC 6902): a list of operations (`add`, `remove`, `replace`, `test`, ...).
    Json,
    /// Strategic merge patch: lists merged by their merge key (containers by name, ...). Only
    /// built-in kinds: the API server answers 415 for custom resources, which have no Go
    /// types to read merge keys from.
    Strategic,
}

#[cfg(feature = "mutations")]
impl PatchType {
    /// The `Content-Type` that selects the format.
    pub fn content_type(self) -> &'static str {
        match self {
            PatchType::Merge => "application/merge-patch+json",
            PatchType::Json => "application/json-patch+json",
            PatchType::Strategic => "application/strategic-merge-patch+json",
        }
    }
}

/// A subresource a write may address instead of the object itself. Only `status`: what an
/// agent needs to clear a stuck status, and what controllers write.
#[cfg(feature = "mutations")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subresource {
    Status,
}

/// Patch options; `Default`: [`PATCH_FIELD_MANAGER`], persisted, the object itself.
#[cfg(feature = "mutations")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchOptions {
    /// Recorded in `managedFields` as the owner of the fields the patch sets.
    pub field_manager: String,
    /// Validate and admit, but do not persist (`dryRun=All`).
    pub dry_run: bool,
    pub subresource: Option<Subresource>,
}

#[cfg(feature = "mutations")]
impl Default for PatchOptions {
    fn default() -> PatchOptions {
        PatchOptions {
            field_manager: PATCH_FIELD_MANAGER.to_string(),
            dry_run: false,
            subresource: None,
        }
    }
}

/// Server-side apply options (`PATCH` with `application/apply-patch+yaml`); `Default`:
/// [`APPLY_FIELD_MANAGER`], no force, persisted.
#[cfg(feature = "mutations")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Owner of the applied fields.
    pub field_manager: String,
    /// Take over fields owned by other managers instead of failing with a conflict.
    pub force: bool,
    /// Validate and admit, but do not persist (`dryRun=All`).
    pub dry_run: bool,
}

#[cfg(feature = "mutations")]
impl Default for ApplyOptions {
    fn default() -> ApplyOptions {
        ApplyOptions {
            field_manager: APPLY_FIELD_MANAGER.to_string(),
            force: false,
            dry_run: false,
        }
    }
}

/// How dependents of a deleted object are handled (`propagationPolicy`).
#[cfg(feature = "mutations")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

/// Delete options, sent as a `DeleteOptions` body as kubectl sends them; `Default`: the
/// resource's default propagation, no preconditions, persisted.
#[cfg(feature = "mutations")]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    pub propagation: Option<Propagation>,
    pub dry_run: bool,
    /// Delete only if the stored object still has this uid: the object that was checked, not
    /// one recreated under the same name since (409 otherwise).
    pub uid: Option<String>,
    /// Delete only if the object was not changed since this resourceVersion (409 otherwise).
    pub resource_version: Option<String>,
}

/// A client for one context. Cheap to clone (shared state behind an `Arc`) and safe to use from
/// many threads; connections, credentials and discovery are shared by all clones.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// An outer deadline (a whole tool call) that every call also respects.
    deadline: Option<Instant>,
    /// Set when nobody waits for the answer any more (a cancelled tool call).
    stop: Stop,
}

struct Inner {
    context: String,
    /// Base URL without a trailing slash; may carry a path prefix (Rancher-style proxies).
    base: String,
    /// The server for messages: no user-info.
    server: String,
    namespace: String,
    timeout: Duration,
    auth: Authenticator,
    impersonate: Vec<(String, String)>,
    transport: Mutex<Transport>,
    tls: TlsSettings,
    server_name: Option<rustls::pki_types::ServerName<'static>>,
    ssl_cert_file: Option<String>,
    proxy: Option<ureq::Proxy>,
    discovery: Mutex<Option<Arc<Discovery>>>,
    /// The `Date` of the latest response and when it arrived: the API server's clock, for ages
    /// that do not depend on how well this machine's clock agrees with the cluster's.
    server_clock: Mutex<Option<(SystemTime, Instant)>>,
}

/// The agent and the client identity it was built with: an exec plugin may hand out a new
/// certificate after a refresh, and TLS identities are fixed per agent.
struct Transport {
    identity: Option<ClientCert>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("context", &self.inner.context)
            .field("server", &self.inner.server)
            .field("namespace", &self.inner.namespace)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

/// The time budget of one public call.
#[derive(Clone, Copy)]
struct Budget {
    deadline: Instant,
    /// What `Error::Timeout` reports: the configured per-call timeout.
    total: Duration,
}

/// One request to send (maybe several times).
struct Request<'a> {
    method: Method,
    /// Path and query, e.g. `/api/v1/pods?limit=500`.
    target: String,
    accept: &'a str,
    #[cfg(feature = "mutations")]
    body: Option<(&'a str, &'a [u8])>,
}

impl Request<'_> {
    fn get(target: String, accept: &str) -> Request<'_> {
        Request {
            method: Method::Get,
            target,
            accept,
            #[cfg(feature = "mutations")]
            body: None,
        }
    }
}

/// Why reading a 2xx body failed, and whether the request may be sent again.
enum ReadFailure {
    /// Nothing reached the caller: sending again is safe for a GET.
    Retryable(Error),
    Fatal(Error),
}

impl Client {
    /// A client for `conn`. Checks the TLS material, the server URL and the proxy now, so a bad
    /// kubeconfig fails here with the field at fault; sends nothing.
    pub fn new(conn: &Connection, options: ClientOptions) -> Result<Client, Error> {
        let settings = |e| setting_error(&conn.context, e);
        let base = conn.server.trim_end_matches('/').to_string();
        let uri: http::Uri = base.parse().map_err(|_| {
            settings(SettingError::new(
                "server",
                format!("{:?} is not a URL", without_userinfo(&conn.server)),
            ))
        })?;
        let scheme_ok = matches!(uri.scheme_str(), Some("https" | "http"));
        if !scheme_ok || uri.host().is_none_or(str::is_empty) {
            return Err(settings(SettingError::new(
                "server",
                format!(
                    "{:?} is not an http(s) URL with a host",
                    without_userinfo(&base)
                ),
            )));
        }
        let proxy =
            proxy::choose(&uri, conn.proxy_url.as_deref(), &options.env).map_err(settings)?;
        let server_name = tls::server_name(conn.tls.server_name.as_deref()).map_err(settings)?;
        let auth = Authenticator::new(conn.auth.clone(), &conn.context);
        let identity = auth.client_identity_by(Some(Instant::now() + options.timeout))?;
        let agent = build_agent(
            &conn.tls,
            identity.as_ref(),
            options.env.ssl_cert_file.as_deref(),
            proxy.clone(),
            server_name.clone(),
            options.timeout,
        )
        .map_err(settings)?;
        Ok(Client {
            inner: Arc::new(Inner {
                context: conn.context.clone(),
                server: without_userinfo(&base),
                base,
                namespace: conn.namespace.clone(),
                timeout: options.timeout,
                impersonate: impersonation_headers(&conn.impersonate),
                auth,
                transport: Mutex::new(Transport { identity, agent }),
                tls: conn.tls.clone(),
                server_name,
                ssl_cert_file: options.env.ssl_cert_file,
                proxy,
                discovery: Mutex::new(None),
                server_clock: Mutex::new(None),
            }),
            deadline: None,
            stop: Stop::never(),
        })
    }

    /// A clone whose calls also end by `deadline` (e.g. the end of a tool call), on top of
    /// each call's own timeout.
    pub fn with_deadline(&self, deadline: Instant) -> Client {
        Client {
            inner: self.inner.clone(),
            deadline: Some(self.deadline.map_or(deadline, |d| d.min(deadline))),
            stop: self.stop.clone(),
        }
    }

    /// A clone whose calls end with [`Error::Cancelled`] as soon as `stop` is set: between
    /// retries, between list items and pages, and while a request is in flight (which is then
    /// left to finish on its own thread, its answer dropped).
    pub fn with_stop(&self, stop: Stop) -> Client {
        Client {
            inner: self.inner.clone(),
            deadline: self.deadline,
            stop,
        }
    }

    /// The stop signal of this clone's calls (see [`Client::with_stop`]).
    pub fn stop(&self) -> &Stop {
        &self.stop
    }

    /// The API server's clock now: the `Date` of its latest response plus the time since it
    /// arrived; `None` before any response (or from a server that sends no `Date`).
    pub fn server_time(&self) -> Option<SystemTime> {
        let (date, received) = (*crate::sync::lock(&self.inner.server_clock))?;
        date.checked_add(received.elapsed())
    }

    fn note_server_clock(&self, resp: &http::Response<ureq::Body>) {
        let date = resp
            .headers()
            .get("date")
            .and_then(|v| v.to_str().ok())
            .and_then(super::time::parse_http_date);
        if let Some(date) = date {
            *crate::sync::lock(&self.inner.server_clock) = Some((date, Instant::now()));
        }
    }

    /// The context name this client was built for.
    pub fn context(&self) -> &str {
        &self.inner.context
    }

    /// The API server URL (without any user-info).
    pub fn server(&self) -> &str {
        &self.inner.server
    }

    /// The context's default namespace (`-n`, else the context's, else `default`).
    pub fn default_namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// The outer deadline every call of this clone also ends by (see [`Client::with_deadline`]).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The per-call time budget.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// The HTTP CONNECT proxy requests go through (`http://host:port`, never a password), or
    /// `None` for a direct connection: what `proxy-url` or the proxy variables decided.
    pub fn proxy(&self) -> Option<String> {
        self.inner
            .proxy
            .as_ref()
            .map(|p| format!("http://{}:{}", p.host(), p.port()))
    }

    // ---- reading ------------------------------------------------------------------------------

    /// One object. `namespace` is required for namespaced resources, ignored otherwise.
    pub fn get(&self, resource: &Resource, namespace: &str, name: &str) -> Result<Value, Error> {
        let path = resource.object_path(namespace, name)?;
        self.get_path(&path, &[])
    }

    /// Any JSON document under the server, e.g. `/version` or `/apis`. `query` pairs are
    /// percent-encoded here.
    pub fn get_path(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, Error> {
        let target = with_query(path, query.iter().map(|(k, v)| (*k, Some(*v))));
        self.get_path_accept(&target, "application/json")
    }

    pub(crate) fn get_path_accept(&self, target: &str, accept: &str) -> Result<Value, Error> {
        let budget = self.budget();
        let req = Request::get(target.to_string(), accept);
        self.execute(&req, budget, read_document)
    }

    /// Lists objects page by page (following `continue`), handing each object to `on_item` as
    /// soon as it is parsed. While one page is parsed the next one downloads (its continue
    /// token is read from the head of the page first): at most two pages of raw JSON and the
    /// object being handed over are held, never a page as text *and* as a tree (pages above
    /// 16 MiB are parsed straight off the socket). Stops early when `on_item` returns `Break`
    /// or `limit` objects were handed over; [`ListInfo`] says whether more exist. A `Break`
    /// may leave the next page's request already sent; its answer is dropped. Items of
    /// built-in kinds get the `apiVersion` and `kind` the server leaves out of lists.
    ///
    /// A page whose connection breaks before any of its items went out is fetched again; after
    /// that the error is returned (the caller has already seen some items).
    pub fn list(
        &self,
        resource: &Resource,
        options: &ListOptions,
        mut on_item: impl FnMut(Value) -> ControlFlow<()>,
    ) -> Result<ListInfo, Error> {
        let budget = self.budget();
        let path = resource.collection_path(options.namespace.as_deref())?;
        // 0 means "no limit" / "the default", as the API's own `limit=0` does.
        let page_size = options
            .page_size
            .filter(|&p| p > 0)
            .unwrap_or(DEFAULT_PAGE_SIZE);
        let limit = options.limit.filter(|&l| l > 0);
        let request = |token: Option<&str>, page_limit: usize| {
            let limit_text = page_limit.to_string();
            let target = with_query(
                &path,
                [
                    ("labelSelector", options.label_selector.as_deref()),
                    ("fieldSelector", options.field_selector.as_deref()),
                    ("limit", Some(limit_text.as_str())),
                    ("continue", token),
                ],
            );
            Request::get(target, "application/json")
        };
        let fill = Some((resource.api_version(), resource.kind.clone()));
        let mut info = ListInfo::default();
        let mut token = options.continue_token.clone().filter(|t| !t.is_empty());
        // The stop is checked before each item is handed over: a cancelled call stops
        // parsing (and, below, paging) at once.
        let stopped = std::cell::Cell::new(false);
        let mut each = |item: Value| {
            if self.stop.is_stopped() {
                stopped.set(true);
                return ControlFlow::Break(());
            }
            on_item(item)
        };
        std::thread::scope(|scope| {
            // The page downloading while the current one is parsed, and its request.
            let mut ahead: Option<std::thread::ScopedJoinHandle<'_, (Request, PageFetch)>> = None;
            // The buffer of the page parsed last, for the next download.
            let mut spare = Vec::new();
            loop {
                let wanted = limit.map(|l| l.saturating_sub(info.items));
                let page_limit = wanted.map_or(page_size, |w| w.min(page_size));
                let (req, fetched) = match ahead.take() {
                    Some(handle) => handle.join().unwrap_or_else(|_| {
                        let req = request(token.as_deref(), page_limit);
                        let lost = Err(Error::InvalidRequest("a list page thread panicked".into()));
                        (req, lost)
                    }),
                    None => {
                        let req = request(token.as_deref(), page_limit);
                        let fetched = self.fetch_page(&req, budget, std::mem::take(&mut spare));
                        (req, fetched)
                    }
                };
                let mut fetched = fetched?;
                // Ask for the next page now, unless this one will be the last one wanted.
                let more_wanted = wanted.is_none_or(|w| w > page_limit);
                let next = more_wanted
                    .then(|| meta_ahead(&fetched.head))
                    .flatten()
                    .and_then(|meta| meta.continue_token)
                    .filter(|t| !t.is_empty());
                if let Some(next) = next {
                    // As if this page is full; if it is not, `cap` still counts what arrives.
                    let next_limit = wanted.map_or(page_size, |w| (w - page_limit).min(page_size));
                    let next_req = request(Some(&next), next_limit);
                    let buffer = std::mem::take(&mut spare);
                    ahead = Some(scope.spawn(move || {
                        let fetched = self.fetch_page(&next_req, budget, buffer);
                        (next_req, fetched)
                    }));
                }
                let mut state: PageState;
                let mut resets = 0;
                loop {
                    state = PageState {
                        cap: wanted,
                        fill: fill.clone(),
                        ..PageState::default()
                    };
                    match parse_page(fetched, &req, &mut state, &mut each) {
                        Ok(buffer) => {
                            spare = buffer;
                            break;
                        }
                        // Nothing of the page went out yet: fetching it again is safe.
                        Err(ReadFailure::Retryable(Error::Interrupted { .. }))
                            if resets < RESET_RETRIES =>
                        {
                            resets += 1;
                            fetched = self.fetch_page(&req, budget, Vec::new())?;
                        }
                        Err(ReadFailure::Retryable(e) | ReadFailure::Fatal(e)) => {
                            // A body cut off by the budget reports the budget.
                            return Err(match e {
                                Error::Timeout { .. } => timeout(&req, budget),
                                other => other,
                            });
                        }
                    }
                }
                if stopped.get() {
                    return Err(cancelled(&req));
                }
                let end = PageEnd {
                    delivered: state.delivered,
                    resource_version: std::mem::take(&mut state.meta.resource_version),
                    remaining_item_count: state.meta.remaining_item_count,
                    next: state.meta.continue_token.take().filter(|t| !t.is_empty()),
                    stopped: state.stopped.is_some(),
                    more_in_page: state.more_in_page,
                };
                match info.page_done(end, limit) {
                    Some(next) => token = Some(next),
                    None => return Ok(info),
                }
            }
        })
    }

    /// Collects a list into memory: for small lists (events of one object, a few pods).
    pub fn list_all(
        &self,
        resource: &Resource,
        options: &ListOptions,
    ) -> Result<Vec<Value>, Error> {
        let mut out = Vec::new();
        self.list(resource, options, |item| {
            out.push(item);
            ControlFlow::Continue(())
        })?;
        Ok(out)
    }

    /// A pod's log (not followed). The server applies `tailLines`/`limitBytes`; the byte limit
    /// is enforced here too in case a proxy or old server ignores it.
    pub fn logs(&self, namespace: &str, pod: &str, options: &LogOptions) -> Result<Logs, Error> {
        self.read_logs(namespace, pod, options, false)
    }

    /// [`Client::logs`] with each line prefixed by the kubelet's RFC 3339 timestamp and a
    /// space (`timestamps=true`): what a saved log needs to answer `since` later.
    pub fn logs_with_timestamps(
        &self,
        namespace: &str,
        pod: &str,
        options: &LogOptions,
    ) -> Result<Logs, Error> {
        self.read_logs(namespace, pod, options, true)
    }

    fn read_logs(
        &self,
        namespace: &str,
        pod: &str,
        options: &LogOptions,
        timestamps: bool,
    ) -> Result<Logs, Error> {
        let pods = Resource::new("v1", "Pod", "pods", true);
        let path = format!("{}/log", pods.object_path(namespace, pod)?);
        let tail = options.tail_lines.map(|n| n.to_string());
        let limit = options.limit_bytes.map(|n| n.to_string());
        let since = options.since_seconds.map(|n| n.max(1).to_string());
        let target = with_query(
            &path,
            [
                ("container", options.container.as_deref()),
                ("tailLines", tail.as_deref()),
                ("limitBytes", limit.as_deref()),
                ("previous", options.previous.then_some("true")),
                ("sinceSeconds", since.as_deref()),
                ("timestamps", timestamps.then_some("true")),
            ],
        );
        let cap = options.limit_bytes.unwrap_or(DEFAULT_LOG_CAP);
        // kubectl's Accept for logs: the endpoint answers text/plain, errors as JSON.
        let req = Request::get(target, "application/json, */*");
        self.execute(&req, self.budget(), |resp, req| {
            let mut bytes = Vec::new();
            resp.into_body()
                .into_reader()
                .take(cap.saturating_add(1))
                .read_to_end(&mut bytes)
                .map_err(|e| ReadFailure::Retryable(io_error(req, e)))?;
            let truncated = bytes.len() as u64 > cap
                || options.limit_bytes.is_some_and(|l| bytes.len() as u64 >= l);
            bytes.truncate(cap as usize);
            Ok(Logs {
                text: String::from_utf8_lossy(&bytes).into_owned(),
                truncated,
            })
        })
    }

    /// Pod metrics from `metrics.k8s.io/v1beta1` (metrics-server). `namespace: None` means all
    /// namespaces and needs `PodSelection::Matching`. When the metrics API is not served, or
    /// served but stale (metrics-server down), the error is [`Error::MetricsUnavailable`],
    /// distinct from a pod that has no metrics (404).
    pub fn pod_metrics(
        &self,
        namespace: Option<&str>,
        selection: &PodSelection,
    ) -> Result<Vec<Value>, Error> {
        const GROUP: &str = "metrics.k8s.io";
        let resource = Resource::new("metrics.k8s.io/v1beta1", "PodMetrics", "pods", true);
        // Discovery (cached for the client's life) tells an absent or a down metrics-server
        // without waiting on retries of its 503s; if discovery itself fails, ask anyway.
        if let Ok(d) = self.discovery() {
            let prefix = format!("{GROUP}/");
            if let Some(f) = d
                .failures()
                .iter()
                .find(|f| f.group_version.starts_with(&prefix))
            {
                return Err(Error::MetricsUnavailable {
                    detail: format!(
                        "{} is registered but not answering: {}",
                        f.group_version, f.error
                    ),
                });
            }
            if !d.has_group(GROUP) {
                return Err(Error::MetricsUnavailable {
                    detail: "the server does not list the metrics.k8s.io API group".into(),
                });
            }
        }
        let result = match selection {
            PodSelection::Named(name) => {
                let ns = namespace.ok_or_else(|| {
                    Error::InvalidRequest("a namespace is required to get one pod's metrics".into())
                })?;
                self.get(&resource, ns, name).map(|v| vec![v])
            }
            PodSelection::Matching {
                label_selector,
                limit,
            } => self.list_all(
                &resource,
                &ListOptions {
                    namespace: namespace.map(str::to_string),
                    label_selector: label_selector.clone(),
                    limit: *limit,
                    ..ListOptions::default()
                },
            ),
        };
        result.map_err(|e| match e {
            // 404 with no object named: the group itself is missing (no APIService);
            // 503: the APIService exists but metrics-server is not answering.
            Error::Api { ref status, .. }
                if (status.code == 404
                    && status.details.as_ref().is_none_or(|d| d.name.is_empty()))
                    || status.code == 503 =>
            {
                Error::MetricsUnavailable {
                    detail: status.message.clone(),
                }
            }
            Error::Http {
                code: 404 | 503, ..
            } => Error::MetricsUnavailable {
                detail: e.to_string(),
            },
            other => other,
        })
    }

    // ---- discovery ----------------------------------------------------------------------------

    /// What the server serves, fetched on first use and cached for the client's life (shared
    /// by all clones). Concurrent first callers wait for one fetch.
    pub fn discovery(&self) -> Result<Arc<Discovery>, Error> {
        let mut cached = lock(&self.inner.discovery);
        if let Some(d) = cached.as_ref() {
            return Ok(d.clone());
        }
        self.fetch_discovery_into(&mut cached)
    }

    /// Forget the cached discovery and fetch it again (after installing CRDs).
    pub fn refresh_discovery(&self) -> Result<Arc<Discovery>, Error> {
        self.fetch_discovery_into(&mut lock(&self.inner.discovery))
    }

    /// Fetches discovery into the cache slot, whose lock the caller holds so that concurrent
    /// callers wait for this fetch. On failure the slot keeps what it had.
    fn fetch_discovery_into(
        &self,
        cached: &mut Option<Arc<Discovery>>,
    ) -> Result<Arc<Discovery>, Error> {
        let fresh = Arc::new(self.fetch_discovery()?);
        Ok(cached.insert(fresh).clone())
    }

    /// Fetches what [`Discovery`] is built from: `/api` and `/apis` in parallel; on a legacy
    /// server, then every group version, [`PARALLEL_DISCOVERY`] at a time. A failing root
    /// document fails the whole fetch; a failing group version is recorded in
    /// [`Discovery::failures`].
    fn fetch_discovery(&self) -> Result<Discovery, Error> {
        let [core_path, apis_path] = ROOT_PATHS;
        let (core, apis) = std::thread::scope(|s| {
            let core = s.spawn(|| self.get_path_accept(core_path, AGGREGATED_ACCEPT));
            let apis = self.get_path_accept(apis_path, AGGREGATED_ACCEPT);
            let core = core
                .join()
                .unwrap_or_else(|_| Err(Error::InvalidRequest("discovery thread panicked".into())));
            (core, apis)
        });
        let roots = Roots::parse(&core?, &apis?)?;
        let paths: Vec<&str> = roots.pending_paths().collect();
        let slots: Vec<Mutex<Option<Result<Value, Error>>>> =
            paths.iter().map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..PARALLEL_DISCOVERY.min(paths.len()) {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let (Some(path), Some(slot)) = (paths.get(i), slots.get(i)) else {
                            break;
                        };
                        let got = self.get_path_accept(path, "application/json");
                        *lock(slot) = Some(got);
                    }
                });
            }
        });
        let documents = slots
            .into_iter()
            .map(|slot| {
                crate::sync::unpoisoned(slot.into_inner())
                    .unwrap_or_else(|| Err(Error::InvalidRequest("not fetched".into())))
            })
            .collect();
        Ok(roots.finish(documents))
    }

    /// The resource for `kind` in `api_version` (see [`Discovery::resolve`] for the accepted
    /// forms). A miss in a discovery older than a few seconds refetches it once.
    pub fn resolve(&self, api_version: Option<&str>, kind: &str) -> Result<Resource, Error> {
        let d = self.discovery()?;
        match d.resolve(api_version, kind) {
            Err(Error::UnknownKind { .. }) if d.fetched().elapsed() > DISCOVERY_REFRESH_AFTER => {
                self.refresh_discovery()?.resolve(api_version, kind)
            }
            other => other,
        }
    }

    // ---- writing (feature `mutations`) -------------------------------------------------------

    /// Patches one object (or its subresource) in `patch_type`'s format; returns the object
    /// as stored (or as it would be, with `dry_run`).
    #[cfg(feature = "mutations")]
    pub fn patch(
        &self,
        resource: &Resource,
        namespace: &str,
        name: &str,
        patch_type: PatchType,
        patch: &Value,
        options: &PatchOptions,
    ) -> Result<Value, Error> {
        let path = write_path(resource, namespace, name, options.subresource)?;
        let body = serde_json::to_vec(patch)
            .map_err(|e| Error::InvalidRequest(format!("patch is not serialisable: {e}")))?;
        let target = with_query(
            &path,
            [
                ("fieldManager", Some(options.field_manager.as_str())),
                ("dryRun", options.dry_run.then_some("All")),
            ],
        );
        self.send_mutation(
            Method::Patch,
            target,
            Some((patch_type.content_type(), &body)),
        )
    }

    /// Server-side apply of `object` (its own `metadata.name`/`namespace` must match the
    /// arguments): creates the object when it does not exist; returns the object as stored
    /// (or as it would be, with `dry_run`).
    #[cfg(feature = "mutations")]
    pub fn apply(
        &self,
        resource: &Resource,
        namespace: &str,
        name: &str,
        object: &Value,
        options: &ApplyOptions,
    ) -> Result<Value, Error> {
        let path = resource.object_path(namespace, name)?;
        // JSON is YAML: the apply-patch+yaml content type takes it as is.
        let body = serde_json::to_vec(object)
            .map_err(|e| Error::InvalidRequest(format!("object is not serialisable: {e}")))?;
        let target = with_query(
            &path,
            [
                ("fieldManager", Some(options.field_manager.as_str())),
                ("force", options.force.then_some("true")),
                ("dryRun", options.dry_run.then_some("All")),
            ],
        );
        self.send_mutation(
            Method::Patch,
            target,
            Some(("application/apply-patch+yaml", &body)),
        )
    }

    /// Deletes one object; returns what the server answers (the object, with a deletion
    /// timestamp while finalizers run, or a `Status`).
    #[cfg(feature = "mutations")]
    pub fn delete(
        &self,
        resource: &Resource,
        namespace: &str,
        name: &str,
        options: &DeleteOptions,
    ) -> Result<Value, Error> {
        let path = resource.object_path(namespace, name)?;
        let body = serde_json::to_vec(&delete_options_body(options))
            .map_err(|e| Error::InvalidRequest(format!("delete options: {e}")))?;
        self.send_mutation(Method::Delete, path, Some(("application/json", &body)))
    }

    #[cfg(feature = "mutations")]
    fn send_mutation(
        &self,
        method: Method,
        target: String,
        body: Option<(&str, &[u8])>,
    ) -> Result<Value, Error> {
        let req = Request {
            method,
            target,
            accept: "application/json",
            body,
        };
        self.execute(&req, self.budget(), |resp, req| {
            // The change is made: a broken answer must not cause a second send.
            read_document(resp, req).map_err(|f| match f {
                ReadFailure::Retryable(e) | ReadFailure::Fatal(e) => ReadFailure::Fatal(e),
            })
        })
    }

    // ---- the request loop ---------------------------------------------------------------------

    fn budget(&self) -> Budget {
        let now = Instant::now();
        let own = now + self.inner.timeout;
        let deadline = self.deadline.map_or(own, |d| d.min(own));
        Budget {
            deadline,
            // What the user set (`--timeout`), even when an outer deadline (the tool call's,
            // which started a little earlier) is what ends this call.
            total: self.inner.timeout,
        }
    }

    /// Sends `req` until it succeeds or may not be retried: once more after a 401 (with
    /// refreshed credentials), with backoff after 429/503 (honouring `Retry-After`), and, for a
    /// GET, after a broken connection. Never waits past the budget. `read` consumes a 2xx body.
    fn execute<T>(
        &self,
        req: &Request,
        budget: Budget,
        mut read: impl FnMut(http::Response<ureq::Body>, &Request) -> Result<T, ReadFailure>,
    ) -> Result<T, Error> {
        let mut reauthenticated = false;
        let mut throttled = 0;
        let mut resets = 0;
        // A GET cut off mid-way (reset connection, broken body) changed nothing: send it again,
        // a few times at most.
        let resend = |e: &Error, resets: u32| {
            req.method == Method::Get
                && matches!(e, Error::Interrupted { .. })
                && resets < RESET_RETRIES
        };
        loop {
            if self.stop.is_stopped() {
                return Err(cancelled(req));
            }
            let remaining = budget.deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(timeout(req, budget));
            }
            let (resp, authorization) = match self.send(req, remaining) {
                Ok(sent) => sent,
                Err(SendFailure::Stopped) => return Err(cancelled(req)),
                Err(SendFailure::Other(e)) => return Err(e),
                Err(SendFailure::Transport(e)) => {
                    let err = map_transport(e, req, budget, &self.inner.server, &self.inner.tls);
                    if resend(&err, resets) {
                        resets += 1;
                        continue;
                    }
                    return Err(err);
                }
            };
            self.note_server_clock(&resp);
            let code = resp.status().as_u16();
            if (200..300).contains(&code) {
                match read(resp, req) {
                    Ok(v) => return Ok(v),
                    Err(ReadFailure::Retryable(e)) if resend(&e, resets) => {
                        resets += 1;
                        continue;
                    }
                    Err(ReadFailure::Retryable(e) | ReadFailure::Fatal(e)) => {
                        // A body cut off by the budget reports the budget, not a partial one.
                        return Err(match e {
                            Error::Timeout { .. } => timeout(req, budget),
                            other => other,
                        });
                    }
                }
            }
            let retry_after = retry_after(&resp);
            let err = refusal(resp, req, code, authorization.as_ref());
            if code == 401 && !reauthenticated {
                // Exec-plugin tokens expire early and rotated token files change: refresh once.
                reauthenticated = true;
                self.inner.auth.invalidate();
                continue;
            }
            // 429 always means "not processed, come back": retry it. A 503 without
            // `Retry-After` is often an aggregated API that is down (metrics-server): a couple
            // of quick retries cover a restarting API server without stalling discovery.
            let limit = match (code, retry_after) {
                (429, _) | (503, Some(_)) => THROTTLE_RETRIES,
                (503, None) => UNAVAILABLE_RETRIES,
                _ => 0,
            };
            if throttled < limit {
                let wait = retry_after.unwrap_or(FIRST_BACKOFF * 2u32.pow(throttled));
                if Instant::now() + wait < budget.deadline {
                    throttled += 1;
                    if self.stop.sleep(wait) {
                        return Err(cancelled(req));
                    }
                    continue;
                }
            }
            return Err(err);
        }
    }

    /// One attempt: credentials, headers, per-request timeout; the response for any status.
    fn send(
        &self,
        req: &Request,
        remaining: Duration,
    ) -> Result<(http::Response<ureq::Body>, Option<Secret>), SendFailure> {
        let inner = &self.inner;
        // An exec plugin that must run first gets what is left of the call, no more.
        let deadline = Instant::now() + remaining;
        let agent = self.agent(deadline).map_err(SendFailure::Other)?;
        let authorization = inner
            .auth
            .authorization_by(Some(deadline))
            .map_err(|e| SendFailure::Other(Error::Auth(e)))?;
        let mut builder = http::Request::builder()
            .method(req.method.to_http())
            .uri(format!("{}{}", inner.base, req.target))
            .header("Accept", req.accept)
            .header("User-Agent", USER_AGENT);
        if let Some(value) = &authorization {
            let mut header = http::HeaderValue::from_str(value.expose()).map_err(|_| {
                SendFailure::Other(Error::Settings {
                    context: inner.context.clone(),
                    field: "credentials",
                    detail: "the token contains characters an HTTP header cannot carry".into(),
                })
            })?;
            header.set_sensitive(true);
            builder = builder.header("Authorization", header);
        }
        // The credentials may have taken time (an exec plugin): the request gets what is left.
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(SendFailure::Transport(ureq::Error::Timeout(
                ureq::Timeout::Global,
            )));
        }
        for (name, value) in &inner.impersonate {
            let header = http::HeaderValue::from_str(value).map_err(|_| {
                SendFailure::Other(Error::InvalidRequest(format!(
                    "{name} {value:?} contains characters an HTTP header cannot carry"
                )))
            })?;
            builder = builder.header(name.as_str(), header);
        }
        #[cfg(feature = "mutations")]
        if let Some((content_type, body)) = req.body {
            let request = builder
                .header("Content-Type", content_type)
                .body(body.to_vec())
                .map_err(|e| SendFailure::Other(Error::InvalidRequest(e.to_string())))?;
            return run(&agent, request, remaining, &self.stop).map(|r| (r, authorization));
        }
        let request = builder
            .body(())
            .map_err(|e| SendFailure::Other(Error::InvalidRequest(e.to_string())))?;
        run(&agent, request, remaining, &self.stop).map(|r| (r, authorization))
    }

    /// The agent for the current client identity, rebuilt when an exec plugin hands out a
    /// different certificate.
    fn agent(&self, deadline: Instant) -> Result<ureq::Agent, Error> {
        let inner = &self.inner;
        let identity = inner.auth.client_identity_by(Some(deadline))?;
        let mut transport = lock(&inner.transport);
        if !same_identity(transport.identity.as_ref(), identity.as_ref()) {
            transport.agent = build_agent(
                &inner.tls,
                identity.as_ref(),
                inner.ssl_cert_file.as_deref(),
                inner.proxy.clone(),
                inner.server_name.clone(),
                inner.timeout,
            )
            .map_err(|e| setting_error(&inner.context, e))?;
            transport.identity = identity;
        }
        Ok(transport.agent.clone())
    }
}

enum SendFailure {
    /// ureq failed: connect, TLS, timeout, broken connection.
    Transport(ureq::Error),
    /// Failed before sending (credentials, header values).
    Other(Error),
    /// The stop was set while the request was in flight.
    Stopped,
}

/// How often a caller waiting for a request in flight looks at its stop signal.
const STOP_POLL: Duration = Duration::from_millis(20);

/// Runs one request with what is left of the budget as its overall timeout (connect, send and
/// the whole body).
///
/// When the call can be stopped, the request runs on a thread of its own and this thread
/// waits for its response or the stop, whichever comes first: ureq cannot abandon a blocking
/// request, and a cancelled tool call must return at once, not when a slow server answers
/// (or `--timeout` ends it). An abandoned request finishes or times out on its thread, and
/// its response is dropped there. The response body is read by the caller, item by item for
/// lists, which checks the stop between items. Cost: one short-lived thread per request
/// (tens of microseconds, against a round trip of milliseconds).
fn run<B: ureq::AsSendBody + Send + 'static>(
    agent: &ureq::Agent,
    request: http::Request<B>,
    remaining: Duration,
    stop: &Stop,
) -> Result<http::Response<ureq::Body>, SendFailure> {
    let request = agent
        .configure_request(request)
        .timeout_global(Some(remaining))
        .build();
    if !stop.can_stop() {
        return agent.run(request).map_err(SendFailure::Transport);
    }
    if stop.is_stopped() {
        return Err(SendFailure::Stopped);
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let agent = agent.clone();
    let spawned = std::thread::Builder::new()
        .name("kube-request".into())
        .spawn(move || {
            // The receiver is gone when the caller was stopped: nobody wants the answer.
            let _ = tx.send(agent.run(request));
        });
    if let Err(e) = spawned {
        return Err(SendFailure::Transport(ureq::Error::Io(
            std::io::Error::other(format!("cannot start a request thread: {e}")),
        )));
    }
    loop {
        match rx.recv_timeout(STOP_POLL) {
            Ok(result) => return result.map_err(SendFailure::Transport),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if stop.is_stopped() {
                    return Err(SendFailure::Stopped);
                }
            }
            // The request thread panicked: report it as a broken exchange.
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(SendFailure::Transport(ureq::Error::Io(
                    std::io::Error::other("the request thread ended without an answer"),
                )));
            }
        }
    }
}

/// The error of a call whose stop was set.
fn cancelled(req: &Request) -> Error {
    Error::Cancelled {
        method: req.method.as_str(),
        path: req.target.clone(),
    }
}

/// A bad kubeconfig setting as the error that names the context and the field at fault.
fn setting_error(context: &str, e: SettingError) -> Error {
    Error::Settings {
        context: context.to_string(),
        field: e.field,
        detail: e.detail,
    }
}

/// The agent for the cluster's TLS settings with `identity` as the client certificate: built
/// with the client, and again whenever an exec plugin hands out a different certificate.
fn build_agent(
    tls: &TlsSettings,
    identity: Option<&ClientCert>,
    ssl_cert_file: Option<&str>,
    proxy: Option<ureq::Proxy>,
    server_name: Option<rustls::pki_types::ServerName<'static>>,
    timeout: Duration,
) -> Result<ureq::Agent, SettingError> {
    let tls_config = tls::client_config(tls, identity, ssl_cert_file)?;
    Ok(tls::agent(
        agent_config(proxy, timeout),
        tls_config,
        server_name,
    ))
}

fn agent_config(proxy: Option<ureq::Proxy>, timeout: Duration) -> ureq::config::Config {
    ureq::Agent::config_builder()
        // Non-2xx bodies carry the Kubernetes Status we quote.
        .http_status_as_error(false)
        // The API server does not redirect; following one could send credentials elsewhere.
        .max_redirects(0)
        .max_redirects_will_error(false)
        .user_agent(USER_AGENT)
        // `None` also stops ureq from reading proxies itself: proxy.rs decided, like client-go.
        .proxy(proxy)
        .timeout_global(Some(timeout))
        // A tool call makes up to 24 requests at once (get_flux_instance: a list per Flux
        // kind); discovery 8. Keep as many connections for the next call: a new one costs a
        // TCP and a TLS handshake, two more round trips to a distant server.
        .max_idle_connections(32)
        .max_idle_connections_per_host(24)
        .max_idle_age(Duration::from_secs(60))
        .build()
}

fn same_identity(a: Option<&ClientCert>, b: Option<&ClientCert>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.cert_pem == b.cert_pem && a.key_pem == b.key_pem,
        _ => false,
    }
}

/// The path of an object, or of its subresource.
#[cfg(feature = "mutations")]
fn write_path(
    resource: &Resource,
    namespace: &str,
    name: &str,
    subresource: Option<Subresource>,
) -> Result<String, Error> {
    let mut path = resource.object_path(namespace, name)?;
    if let Some(Subresource::Status) = subresource {
        path.push_str("/status");
    }
    Ok(path)
}

/// The `DeleteOptions` body: kubectl sends the options this way, and preconditions can only
/// travel in a body.
#[cfg(feature = "mutations")]
fn delete_options_body(options: &DeleteOptions) -> Value {
    let mut body = serde_json::json!({"kind": "DeleteOptions", "apiVersion": "v1"});
    if let Some(p) = options.propagation {
        body["propagationPolicy"] = Value::from(match p {
            Propagation::Background => "Background",
            Propagation::Foreground => "Foreground",
            Propagation::Orphan => "Orphan",
        });
    }
    if options.dry_run {
        body["dryRun"] = serde_json::json!(["All"]);
    }
    let mut preconditions = serde_json::Map::new();
    if let Some(uid) = &options.uid {
        preconditions.insert("uid".into(), Value::from(uid.as_str()));
    }
    if let Some(rv) = &options.resource_version {
        preconditions.insert("resourceVersion".into(), Value::from(rv.as_str()));
    }
    if !preconditions.is_empty() {
        body["preconditions"] = Value::Object(preconditions);
    }
    body
}

/// `path?k=v&...` for the pairs that have a value, percent-encoded.
fn with_query<'a>(
    path: &str,
    pairs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> String {
    let mut out = path.to_string();
    let mut sep = if path.contains('?') { '&' } else { '?' };
    for (key, value) in pairs {
        let Some(value) = value else { continue };
        out.push(sep);
        sep = '&';
        percent_encode_into(&mut out, key, UNRESERVED);
        out.push('=');
        percent_encode_into(&mut out, value, UNRESERVED);
    }
    out
}

/// RFC 3986 unreserved bytes besides letters and digits: all a query key or value keeps.
const UNRESERVED: &[u8] = b"-._~";

/// Parse a 2xx body as one JSON document. Read whole first: parsing from a slice is several
/// times faster than serde_json's byte-at-a-time reader, and a single object is small.
fn read_document(resp: http::Response<ureq::Body>, req: &Request) -> Result<Value, ReadFailure> {
    let mut body = resp.into_body();
    let bytes = body
        .with_config()
        .limit(MAX_DOCUMENT)
        .read_to_vec()
        .map_err(|e| ReadFailure::Retryable(body_error(req, e)))?;
    serde_json::from_slice(&bytes).map_err(|e| json_failure(e, req, true))
}

/// A List page as downloaded: its text, or for a page over [`PAGE_BUFFER`] bytes its first
/// bytes and the rest still on the socket.
struct Fetched {
    head: Vec<u8>,
    rest: Option<ureq::BodyReader<'static>>,
}

type PageFetch = Result<Fetched, Error>;

impl Client {
    /// Sends a list request and reads its page: whole up to [`PAGE_BUFFER`] bytes, so that a
    /// broken connection is seen (and the request sent again) before any item goes out.
    /// `buffer` is reused, so a long list allocates its page buffers once.
    fn fetch_page(&self, req: &Request, budget: Budget, mut buffer: Vec<u8>) -> PageFetch {
        self.execute(req, budget, |resp, req| {
            let mut reader = resp.into_body().into_reader();
            let mut head = std::mem::take(&mut buffer);
            head.clear();
            (&mut reader)
                .take(PAGE_BUFFER + 1)
                .read_to_end(&mut head)
                .map_err(|e| ReadFailure::Retryable(io_error(req, e)))?;
            let rest = (head.len() as u64 > PAGE_BUFFER).then_some(reader);
            Ok(Fetched { head, rest })
        })
    }
}

/// Parses one List page through [`PageSeed`], which hands items over one at a time; gives the
/// page buffer back for the next download.
///
/// A page read whole is parsed from the slice: slice parsing is about twice as fast as
/// serde_json's reader (measured by `make bench`). A bigger page (a server that ignores
/// `limit`, or a huge `page_size`) is parsed straight from the socket, so memory stays flat
/// whatever the server sends.
fn parse_page(
    fetched: Fetched,
    req: &Request,
    state: &mut PageState,
    on_item: &mut impl FnMut(Value) -> ControlFlow<()>,
) -> Result<Vec<u8>, ReadFailure> {
    let read = std::cell::Cell::new(0);
    let item_start = std::cell::Cell::new(0);
    let (result, buffer) = match fetched.rest {
        None => {
            let seed = PageSeed {
                state: &mut *state,
                on_item,
            };
            let mut de = serde_json::Deserializer::from_slice(&fetched.head);
            let result = seed.deserialize(&mut de).and_then(|()| de.end());
            (result, fetched.head)
        }
        Some(reader) => {
            let rest = std::io::Cursor::new(fetched.head).chain(reader);
            let bounded = ItemBounded {
                inner: rest,
                read: &read,
                item_start: &item_start,
            };
            // Each item handed over starts the next item's allowance.
            let mut on_item = |item: Value| {
                item_start.set(read.get());
                on_item(item)
            };
            let seed = PageSeed {
                state: &mut *state,
                on_item: &mut on_item,
            };
            let mut de =
                serde_json::Deserializer::from_reader(BufReader::with_capacity(64 << 10, bounded));
            (
                seed.deserialize(&mut de).and_then(|()| de.end()),
                Vec::new(),
            )
        }
    };
    match result {
        Ok(()) => Ok(buffer),
        Err(_) if state.abandoned => Ok(buffer),
        Err(_) if read.get() - item_start.get() > MAX_ITEM => {
            Err(ReadFailure::Fatal(Error::Decode {
                method: req.method.as_str(),
                path: req.target.clone(),
                detail: format!("a list item is larger than {MAX_ITEM} bytes"),
            }))
        }
        Err(e) => Err(json_failure(e, req, state.delivered == 0)),
    }
}

/// A streamed page's reader that fails once more than [`MAX_ITEM`] bytes were read since the
/// last item was handed over (`item_start`). Bytes read ahead into the parser's buffer (64
/// KiB) count towards the item before, so the bound is MAX_ITEM plus at most that buffer.
struct ItemBounded<'a, R> {
    inner: R,
    /// Bytes read so far.
    read: &'a std::cell::Cell<u64>,
    item_start: &'a std::cell::Cell<u64>,
}

impl<R: Read> Read for ItemBounded<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let used = self.read.get() - self.item_start.get();
        if used > MAX_ITEM {
            return Err(std::io::Error::other("list item over the size limit"));
        }
        // Never hand out more than one byte past the allowance, so the check above trips.
        let allowed = usize::try_from(MAX_ITEM + 1 - used).unwrap_or(usize::MAX);
        let end = buf.len().min(allowed);
        let n = self.inner.read(&mut buf[..end])?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// A ureq error while reading a body (the size limit, a timeout, a broken connection).
fn body_error(req: &Request, e: ureq::Error) -> Error {
    io_error(req, e.into_io())
}

/// A body that failed to parse: a broken connection (maybe retryable) or bad JSON (not).
fn json_failure(e: serde_json::Error, req: &Request, nothing_delivered: bool) -> ReadFailure {
    let err = if e.is_io() {
        io_error(req, std::io::Error::from(e))
    } else if e.is_eof() {
        Error::Interrupted {
            method: req.method.as_str(),
            path: req.target.clone(),
            detail: "the response body ended early".into(),
        }
    } else {
        return ReadFailure::Fatal(Error::Decode {
            method: req.method.as_str(),
            path: req.target.clone(),
            detail: format!("invalid JSON: {e}"),
        });
    };
    if nothing_delivered {
        ReadFailure::Retryable(err)
    } else {
        ReadFailure::Fatal(err)
    }
}

/// An I/O error while reading a body: the connection broke, or the budget ran out.
fn io_error(req: &Request, e: std::io::Error) -> Error {
    match ureq::Error::from(e) {
        ureq::Error::Timeout(_) => Error::Timeout {
            method: req.method.as_str(),
            path: req.target.clone(),
            after: Duration::ZERO,
        },
        ureq::Error::BodyExceedsLimit(n) => Error::Decode {
            method: req.method.as_str(),
            path: req.target.clone(),
            detail: format!("the response is larger than {n} bytes"),
        },
        other => Error::Interrupted {
            method: req.method.as_str(),
            path: req.target.clone(),
            detail: transport_detail(&other),
        },
    }
}

fn timeout(req: &Request, budget: Budget) -> Error {
    Error::Timeout {
        method: req.method.as_str(),
        path: req.target.clone(),
        after: budget.total,
    }
}

/// Sort a ureq failure into connect / timeout / interrupted.
fn map_transport(
    e: ureq::Error,
    req: &Request,
    budget: Budget,
    server: &str,
    tls: &TlsSettings,
) -> Error {
    use std::io::ErrorKind as K;
    let connect = |detail: String| Error::Connect {
        server: server.to_string(),
        detail,
    };
    match e {
        ureq::Error::Timeout(_) => timeout(req, budget),
        ureq::Error::Io(ref io) if io.kind() == K::TimedOut || io.kind() == K::WouldBlock => {
            timeout(req, budget)
        }
        ureq::Error::Io(ref io)
            if matches!(
                io.kind(),
                K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof
            ) =>
        {
            Error::Interrupted {
                method: req.method.as_str(),
                path: req.target.clone(),
                detail: transport_detail(&e),
            }
        }
        ureq::Error::Protocol(_) | ureq::Error::LargeResponseHeader(..) => Error::Interrupted {
            method: req.method.as_str(),
            path: req.target.clone(),
            detail: transport_detail(&e),
        },
        ureq::Error::Rustls(ref e) => Error::Tls {
            server: server.to_string(),
            detail: tls::explain(e, tls.ca_source),
        },
        other => connect(transport_detail(&other)),
    }
}

/// Words for a ureq failure. Never includes a proxy URL (it may hold a password).
fn transport_detail(e: &ureq::Error) -> String {
    use std::io::ErrorKind as K;
    match e {
        ureq::Error::Rustls(tls) => format!("TLS: {tls}"),
        ureq::Error::Io(io) => match io.kind() {
            K::ConnectionRefused => "connection refused (is the API server running?)".into(),
            K::ConnectionReset => "connection reset by the server".into(),
            K::ConnectionAborted => "connection aborted".into(),
            K::BrokenPipe => "the server closed the connection".into(),
            K::UnexpectedEof => "the server closed the connection early".into(),
            _ => io.to_string(),
        },
        ureq::Error::HostNotFound => "host not found (DNS)".into(),
        ureq::Error::ConnectProxyFailed(_) => "the proxy refused the CONNECT request".into(),
        ureq::Error::InvalidProxyUrl => "invalid proxy URL".into(),
        ureq::Error::Protocol(p) => format!("invalid HTTP response: {p}"),
        other => other.to_string(),
    }
}

/// `Retry-After` in seconds (what the API server sends); HTTP dates are not used by it.
fn retry_after(resp: &http::Response<ureq::Body>) -> Option<Duration> {
    resp.headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// The error for a non-2xx answer: its `Status` when it has one, else a summary of the body.
/// Anything the server echoes back is scrubbed of the credential we sent.
fn refusal(
    resp: http::Response<ureq::Body>,
    req: &Request,
    code: u16,
    authorization: Option<&Secret>,
) -> Error {
    let canonical = resp.status().canonical_reason().unwrap_or("");
    let mut body = Vec::new();
    // A body that cannot be read still leaves the status code to report.
    let _ = resp
        .into_body()
        .into_reader()
        .take(MAX_ERROR_BODY)
        .read_to_end(&mut body);
    if let Some(mut status) = super::error::Status::parse(&body, code) {
        status.message = scrub(&status.message, authorization);
        return Error::Api {
            method: req.method.as_str(),
            path: req.target.clone(),
            status: Box::new(status),
        };
    }
    let text = String::from_utf8_lossy(&body);
    let mut summary: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if summary.chars().count() > 200 {
        summary = summary.chars().take(200).collect::<String>() + "...";
    }
    let summary = scrub(&summary, authorization);
    Error::Http {
        method: req.method.as_str(),
        path: req.target.clone(),
        code,
        summary: if summary.is_empty() {
            canonical.to_string()
        } else if canonical.is_empty() {
            summary
        } else {
            format!("{canonical}: {summary}")
        },
    }
}

/// Removes the credential (the part after `Bearer `/`Basic `) from server-provided text: a
/// misconfigured proxy may echo request headers in its error page.
fn scrub(text: &str, authorization: Option<&Secret>) -> String {
    let Some(auth) = authorization else {
        return text.to_string();
    };
    let value = auth.expose();
    let credential = value.split_once(' ').map_or(value, |(_, c)| c).trim();
    if credential.len() < 4 {
        return text.to_string();
    }
    text.replace(credential, "<redacted>")
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod scripted_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_percent_encoded_and_empty_values_skipped() {
        assert_eq!(
            with_query(
                "/api/v1/pods",
                [
                    ("labelSelector", Some("app in (a,b),tier!=db")),
                    ("fieldSelector", None),
                    ("limit", Some("500")),
                ]
            ),
            "/api/v1/pods?labelSelector=app%20in%20%28a%2Cb%29%2Ctier%21%3Ddb&limit=500"
        );
        assert_eq!(with_query("/x?a=1", [("b", Some("2"))]), "/x?a=1&b=2");
    }

    /// Every ASCII byte and two multibyte characters: only unreserved bytes stay as they are.
    #[test]
    fn query_encoding_of_every_ascii_byte() {
        let all: String = (0u8..128).map(char::from).chain("é日".chars()).collect();
        let encoded = "%00%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D%0E%0F%10%11%12%13%14%15%16%17%18%19%1A%1B%1C%1D%1E%1F%20%21%22%23%24%25%26%27%28%29%2A%2B%2C-.%2F0123456789%3A%3B%3C%3D%3E%3F%40ABCDEFGHIJKLMNOPQRSTUVWXYZ%5B%5C%5D%5E_%60abcdefghijklmnopqrstuvwxyz%7B%7C%7D~%7F%C3%A9%E6%97%A5";
        assert_eq!(
            with_query("/p", [(all.as_str(), Some(all.as_str()))]),
            format!("/p?{encoded}={encoded}")
        );
    }

    #[test]
    fn scrub_removes_the_credential_we_sent() {
        let auth = Secret::new("Bearer abcdef123456");
        assert_eq!(
            scrub("proxy saw Authorization: Bearer abcdef123456", Some(&auth)),
            "proxy saw Authorization: Bearer <redacted>"
        );
        assert_eq!(scrub("nothing here", Some(&auth)), "nothing here");
        assert_eq!(scrub("abc", None), "abc");
    }

    #[test]
    fn bad_server_urls_name_the_field() {
        let conn = Connection {
            context: "ctx".into(),
            cluster: "c".into(),
            user: "u".into(),
            server: "ftp://example.com".into(),
            namespace: "default".into(),
            tls: TlsSettings::default(),
            proxy_url: None,
            auth: Default::default(),
            impersonate: Default::default(),
        };
        let options = ClientOptions {
            env: NetworkEnv::default(),
            ..ClientOptions::default()
        };
        let errors: Vec<Error> = ["ftp://example.com", "not a url", "https://:6443"]
            .into_iter()
            .filter_map(|server| {
                let conn = Connection {
                    server: server.into(),
                    ..conn.clone()
                };
                Client::new(&conn, options.clone()).err()
            })
            .collect();
        assert_eq!(errors.len(), 3, "every URL is refused");
        for err in &errors {
            assert!(
                matches!(
                    err,
                    Error::Settings {
                        field: "server",
                        ..
                    }
                ),
                "{err}"
            );
        }
        assert_eq!(
            errors[0].to_string(),
            r#"context "ctx": invalid server: "ftp://example.com" is not an http(s) URL with a host"#
        );
        // A server that does not parse is quoted without its credentials.
        for server in ["https://admin:s3cr3t pw@k8s", "ftp://admin:s3cr3t@k8s"] {
            let conn = Connection {
                server: server.into(),
                ..conn.clone()
            };
            let e = Client::new(&conn, options.clone()).expect_err("refused");
            let text = e.to_string();
            assert!(!text.contains("s3cr3t") && text.contains("k8s"), "{text}");
        }
    }

    #[test]
    fn the_proxy_is_reported_without_its_password() {
        let conn = Connection {
            context: "ctx".into(),
            cluster: "c".into(),
            user: "u".into(),
            server: "https://k8s.example.com:6443".into(),
            namespace: "default".into(),
            tls: TlsSettings::default(),
            proxy_url: Some("http://user:s3cret@proxy.example:3128".into()),
            auth: Default::default(),
            impersonate: Default::default(),
        };
        let options = ClientOptions {
            env: NetworkEnv::default(),
            ..ClientOptions::default()
        };
        let client = Client::new(&conn, options.clone()).expect("client");
        assert_eq!(client.proxy().as_deref(), Some("http://proxy.example:3128"));
        let direct = Connection {
            proxy_url: None,
            ..conn
        };
        assert_eq!(Client::new(&direct, options).expect("client").proxy(), None);
    }

    #[cfg(not(feature = "mutations"))]
    #[test]
    fn without_mutations_get_is_the_only_method() {
        // Exhaustive: this match stops compiling if a variant is added without the feature.
        let only = |m: Method| match m {
            Method::Get => "GET",
        };
        assert_eq!(only(Method::Get), Method::Get.as_str());
    }
}
