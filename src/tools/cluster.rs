//! The one door to cluster data: the kubeconfig (loaded on first use), one REST client per
//! context (so connections are reused across calls), the context a call targets, and
//! [`Cluster`], the facade every tool, `objects/` and `check` read a cluster through (get,
//! list, logs, pod metrics, discovery, names, errors worded for the agent with the context
//! named, and in the `mutations` build the writes: patch, server-side apply, delete). What
//! sits behind the facade (today a live API server) is invisible to its callers.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::{Args, Ctx, Settings, ToolError};
#[cfg(feature = "mutations")]
use crate::kube::client::{ApplyOptions, DeleteOptions, PatchOptions, PatchType};
use crate::kube::client::{Client, ClientOptions, LogOptions, Logs, PodSelection};
use crate::kube::config::{self, Connection, Env, Kubeconfig, Overrides};
use crate::kube::discovery::{Discovery, Resource};
use crate::kube::list::{ListInfo, ListOptions};
use crate::kube::stop::Stop;
use crate::kube::{self, NetworkEnv};
use crate::mcp::server::Cancel;
use crate::snapshot::Snapshot;

/// The name of the optional argument every cluster tool takes.
pub const CONTEXT_ARG: &str = "context";

/// The JSON schema of the `context` argument, for the tools' `properties`.
pub fn context_property() -> Value {
    json!({
        "type": "string",
        "description": "Kubeconfig context to query for this call only (see get_kubeconfig_contexts); \
                        default: the session's context, else the kubeconfig's current context."
    })
}

/// The kubeconfig and the clients built from it, shared by every session of the process.
pub struct Clusters {
    overrides: Overrides,
    env: Env,
    /// Proxy variables and `SSL_CERT_FILE`, read once when the process starts.
    network: NetworkEnv,
    timeout: Duration,
    kubeconfig: Mutex<Option<Loaded>>,
    clients: Mutex<HashMap<String, Client>>,
    /// `serve --snapshot`: the snapshots served instead of the kubeconfig's clusters, in the
    /// order given (the first is the default context). Empty when serving live clusters.
    snapshots: Vec<Arc<Served>>,
}

/// A snapshot as one context of the server: the name calls use for it, and where it is from.
#[derive(Debug)]
pub struct Served {
    /// Unique among the served snapshots: the captured context's name, with `@<capture time>`
    /// when two snapshots share it.
    pub name: String,
    /// The file it was loaded from.
    pub path: PathBuf,
    /// `-n` when given, else the captured context's default namespace.
    pub namespace: String,
    pub snapshot: Snapshot,
}

impl Served {
    /// The provenance line answers read from this snapshot start with: a YAML comment, so
    /// the answer stays valid YAML, saying what was read and how old it is.
    pub fn provenance(&self) -> String {
        let meta = self.snapshot.meta();
        format!(
            "# from snapshot {:?} of {}, captured {} ({} ago): the cluster as it was then, not live",
            self.name,
            meta.server,
            meta.captured_at,
            crate::text::short_duration(self.snapshot.age())
        )
    }
}

thread_local! {
    /// The snapshots the tool call running on this thread has read (a call runs on one
    /// thread from its start to its answer; `Toolbox` takes the list when the call ends).
    static READ_FROM: RefCell<Vec<Arc<Served>>> = const { RefCell::new(Vec::new()) };
}

/// The snapshots read by the call on this thread since the last take, each once, in the
/// order first read.
pub(super) fn take_snapshots_read() -> Vec<Arc<Served>> {
    READ_FROM.with(|r| std::mem::take(&mut *r.borrow_mut()))
}

fn note_read(served: &Arc<Served>) {
    READ_FROM.with(|r| {
        let mut r = r.borrow_mut();
        if !r.iter().any(|s| Arc::ptr_eq(s, served)) {
            r.push(served.clone());
        }
    });
}

/// The merged kubeconfig and what its files looked like when they were read.
struct Loaded {
    kc: Arc<Kubeconfig>,
    stamps: Vec<Option<FileStamp>>,
}

/// Enough of a file's metadata to notice that it was rewritten or replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

/// The stamp of each file (`None`: it cannot be read any more).
fn stamps(files: &[PathBuf]) -> Vec<Option<FileStamp>> {
    files
        .iter()
        .map(|f| {
            let meta = std::fs::metadata(f).ok()?;
            #[cfg(unix)]
            let inode = std::os::unix::fs::MetadataExt::ino(&meta);
            #[cfg(not(unix))]
            let inode = 0;
            Some(FileStamp {
                modified: meta.modified().ok(),
                len: meta.len(),
                inode,
            })
        })
        .collect()
}

impl Clusters {
    /// Nothing is read until a tool needs a cluster: `serve` starts without one (the docs
    /// search works offline) and kubeconfig problems are reported by the first cluster call.
    pub fn new(settings: &Settings, env: Env) -> Clusters {
        Clusters {
            overrides: settings.kube.clone(),
            env,
            network: NetworkEnv::from_process(),
            timeout: settings.timeout,
            kubeconfig: Mutex::new(None),
            clients: Mutex::new(HashMap::new()),
            snapshots: Vec::new(),
        }
    }

    /// Clusters that are snapshots (`serve --snapshot`), each a context named after the
    /// context it was captured through; two with the same context are told apart by their
    /// capture time. No kubeconfig is read.
    pub fn from_snapshots(settings: &Settings, loaded: Vec<(PathBuf, Snapshot)>) -> Clusters {
        let mut clusters = Clusters::new(settings, Env::default());
        let contexts: Vec<String> = loaded
            .iter()
            .map(|(_, s)| s.context().to_string())
            .collect();
        let mut names: Vec<String> = Vec::new();
        for (i, (path, snapshot)) in loaded.into_iter().enumerate() {
            let context = snapshot.context().to_string();
            let shared = contexts.iter().filter(|c| **c == context).count() > 1;
            let mut name = if shared {
                format!("{context}@{}", snapshot.meta().captured_at)
            } else {
                context
            };
            if names.contains(&name) {
                name = format!("{name}#{}", i + 1);
            }
            names.push(name.clone());
            let namespace = settings
                .kube
                .namespace
                .clone()
                .filter(|n| !n.is_empty())
                .or_else(|| {
                    Some(snapshot.default_namespace().to_string()).filter(|n| !n.is_empty())
                })
                .unwrap_or_else(|| "default".to_string());
            clusters.snapshots.push(Arc::new(Served {
                name,
                path,
                namespace,
                snapshot,
            }));
        }
        clusters
    }

    /// The snapshots served, in order; empty when serving live clusters.
    pub fn snapshots(&self) -> &[Arc<Served>] {
        &self.snapshots
    }

    /// The merged kubeconfig, loaded on first use and read again when one of its files
    /// changed, as kubectl reads it on every run: a token that `oc login` or a refresh script
    /// wrote, a `kubectl config use-context`, a fixed typo all apply to the next call. The
    /// clients built from an outdated kubeconfig are dropped. A failure is not remembered: a
    /// user who fixes the file mid-session recovers without restarting the server.
    pub fn kubeconfig(&self) -> Result<Arc<Kubeconfig>, ToolError> {
        self.load(false).map_err(load_error)
    }

    /// Read the kubeconfig files again even when they look unchanged (the context tools do,
    /// so a context added with `kubectl config` shows up at once).
    pub fn reload(&self) -> Result<Arc<Kubeconfig>, ToolError> {
        self.load(true).map_err(load_error)
    }

    /// [`Clusters::kubeconfig`] with the loader's own error, for `check`, which gives a
    /// different fix for each way a kubeconfig can be wrong.
    pub fn load_kubeconfig(&self) -> Result<Arc<Kubeconfig>, config::Error> {
        self.load(false)
    }

    /// The proxy variables and `SSL_CERT_FILE` the clients are built with.
    pub fn network(&self) -> &NetworkEnv {
        &self.network
    }

    /// The cluster of an already resolved connection, built as the tools' clients are, for
    /// `check`, which prints the connection before it connects and words each failure itself.
    /// Not cached, and with no deadline beyond each request's `--timeout`: `check` is one run
    /// of several steps, each with its own budget.
    pub fn connect(&self, conn: &Connection) -> Result<Cluster, kube::Error> {
        Ok(Cluster::live(
            self.build(conn)?,
            self.overrides.token.is_some(),
        ))
    }

    fn load(&self, force: bool) -> Result<Arc<Kubeconfig>, config::Error> {
        let mut slot = crate::sync::lock(&self.kubeconfig);
        if let Some(loaded) = slot.as_ref()
            && !force
            && stamps(loaded.kc.files()) == loaded.stamps
        {
            return Ok(loaded.kc.clone());
        }
        let kc = config::load(&self.overrides, &self.env)?;
        let stamps = stamps(kc.files());
        let changed = slot.as_ref().is_some_and(|old| old.stamps != stamps);
        if changed {
            crate::sync::lock(&self.clients).clear();
        }
        let kc = Arc::new(kc);
        *slot = Some(Loaded {
            kc: kc.clone(),
            stamps,
        });
        Ok(kc)
    }

    /// The client for context `name` of `kc`, built once.
    fn client(&self, kc: &Kubeconfig, name: &str) -> Result<Client, ToolError> {
        let mut clients = crate::sync::lock(&self.clients);
        if let Some(client) = clients.get(name) {
            return Ok(client.clone());
        }
        let conn = kc
            .resolve(Some(name))
            .map_err(|e| unknown_context(kc, name, e))?;
        let client = self.build(&conn).map_err(|e| {
            ToolError::Failed(if e.names_context() {
                e.to_string()
            } else {
                format!("context {name}: {e}")
            })
        })?;
        clients.insert(name.to_string(), client.clone());
        Ok(client)
    }

    fn build(&self, conn: &Connection) -> Result<Client, kube::Error> {
        let options = ClientOptions {
            timeout: self.timeout,
            env: self.network.clone(),
        };
        Client::new(conn, options)
    }
}

/// A kubeconfig that cannot be loaded, worded for the agent: what is wrong, and what to ask
/// the user, who owns the MCP server's configuration (the agent cannot pass its flags or set
/// its environment).
fn load_error(e: config::Error) -> ToolError {
    let ask = match &e {
        _ if e.unexpanded().is_some() => {
            "ask the user to write the kubeconfig's absolute path (e.g. /home/NAME/.kube/config) \
             in KUBECONFIG in the MCP server's env, or in --kubeconfig in its args: `~` and \
             `$HOME` are not expanded there"
        }
        config::Error::NotFound { .. } | config::Error::Missing { .. } => {
            "ask the user to set KUBECONFIG in the MCP server's env (the `env` block of its entry \
             in the MCP client's configuration) to the kubeconfig's absolute path, or to add \
             --kubeconfig PATH to its args"
        }
        config::Error::NoCurrentContext { .. } => {
            "pass the context argument (get_kubeconfig_contexts lists them), or ask the user to \
             set a current-context (kubectl config use-context NAME) or to add --kube-context \
             NAME to the MCP server's args"
        }
        config::Error::ContextNotFound { .. } => {
            "pass the context argument with one of those, or ask the user to fix --kube-context \
             in the MCP server's args"
        }
        _ => "ask the user to fix the kubeconfig file and field named above",
    };
    ToolError::Failed(format!("cannot load the kubeconfig: {e}; {ask}"))
}

/// A resolve failure; for a context that does not exist, list the ones that do.
fn unknown_context(kc: &Kubeconfig, name: &str, e: config::Error) -> ToolError {
    let names: Vec<String> = kc.contexts().into_iter().map(|c| c.name).collect();
    if names.iter().any(|n| n == name) {
        return ToolError::Failed(format!("context {name}: {e}"));
    }
    ToolError::InvalidArgument(no_such_context(name, &names))
}

/// Contexts named in a "does not exist" message; the others are counted.
const CONTEXTS_LISTED: usize = 20;

/// `context "prd" does not exist (did you mean prod?); the kubeconfig defines: dev, prod`:
/// the one wording of an unknown context, for every tool.
pub fn no_such_context(name: &str, names: &[String]) -> String {
    if names.is_empty() {
        return format!("context {name:?} does not exist: the kubeconfig defines no contexts");
    }
    let mut out = format!("context {name:?} does not exist");
    let close = crate::kube::discovery::close_matches(name, names.iter().map(String::as_str), 3);
    if !close.is_empty() {
        out.push_str(&format!(" (did you mean {}?)", close.join(" or ")));
    }
    let shown: Vec<&str> = names
        .iter()
        .take(CONTEXTS_LISTED)
        .map(String::as_str)
        .collect();
    out.push_str(&format!("; the kubeconfig defines: {}", shown.join(", ")));
    if names.len() > CONTEXTS_LISTED {
        out.push_str(&format!(" and {} more", names.len() - CONTEXTS_LISTED));
    }
    out
}

/// One cluster, as seen by one tool call (or one `check` run): the operations the tools read a
/// cluster with, whatever answers them. Cheap to clone and `Send + Sync`, so a call may issue
/// independent requests from several threads; every clone keeps the call's deadline.
///
/// The write verbs (merge, JSON and strategic merge patch, server-side apply, delete; each
/// with a dry run) are methods under `#[cfg(feature = "mutations")]`, answered by the live
/// client (a source that cannot write will refuse them), so the read-only build has no code
/// that writes.
#[derive(Debug, Clone)]
pub struct Cluster {
    source: Source,
    /// The credentials are the `--kube-token` flag's, not the kubeconfig user's: a refusal is
    /// that token's.
    token_flag: bool,
}

/// Where a cluster's data comes from: a live API server or a saved snapshot. An enum rather
/// than a trait: the set of sources is closed and known here, `list` hands each item to a
/// caller's closure (a trait with such a generic method cannot be a `dyn` object without
/// boxing every callback), and a `match` per operation keeps what differs between sources in
/// one place, beside the operation.
#[derive(Debug, Clone)]
enum Source {
    /// The API server of a kubeconfig context; the client carries the call's deadline.
    Live(Client),
    /// A snapshot (`serve --snapshot`): answers as the API server did at capture time, with
    /// the same errors; what the capture did not save is `kube::Error::NotCaptured`.
    Snapshot(Arc<Served>),
}

impl Cluster {
    fn live(client: Client, token_flag: bool) -> Cluster {
        Cluster {
            source: Source::Live(client),
            token_flag,
        }
    }

    fn snapshot(served: Arc<Served>) -> Cluster {
        note_read(&served);
        Cluster {
            source: Source::Snapshot(served),
            token_flag: false,
        }
    }

    /// Sleep for `wait` unless the call is cancelled first; true when it was (a tool that
    /// polls the cluster waits with this, never `thread::sleep`).
    pub fn pause(&self, wait: Duration) -> bool {
        match &self.source {
            Source::Live(client) => client.stop().sleep(wait),
            // Nothing changes in a snapshot, and its tools never wait on it (the write tools
            // are withheld); a caller that polls anyway is slowed, not spun.
            Source::Snapshot(_) => {
                std::thread::sleep(wait);
                false
            }
        }
    }

    /// The context name, for messages.
    pub fn context(&self) -> &str {
        match &self.source {
            Source::Live(client) => client.context(),
            Source::Snapshot(s) => &s.name,
        }
    }

    /// Where the data comes from, for messages: the API server URL (without user-info).
    pub fn server(&self) -> &str {
        match &self.source {
            Source::Live(client) => client.server(),
            Source::Snapshot(s) => s.snapshot.server(),
        }
    }

    /// The context's default namespace (`-n`, else the context's, else `default`).
    pub fn default_namespace(&self) -> &str {
        match &self.source {
            Source::Live(client) => client.default_namespace(),
            Source::Snapshot(s) => &s.namespace,
        }
    }

    /// The HTTP CONNECT proxy requests go through (`http://host:port`, never a password), or
    /// `None` for a direct connection (and for a source that is not a server).
    pub fn proxy(&self) -> Option<String> {
        match &self.source {
            Source::Live(client) => client.proxy(),
            Source::Snapshot(_) => None,
        }
    }

    /// The cluster's clock: for a live server the `Date` of its latest answer (plus the time
    /// since), else this machine's clock; for a snapshot, its capture time. Ages (a report 41 minutes old, an object 3 days old)
    /// are measured against it, so a laptop whose clock is off does not skew them.
    pub fn now(&self) -> SystemTime {
        match &self.source {
            Source::Live(client) => client.server_time().unwrap_or_else(SystemTime::now),
            // The cluster as it was: ages are those an agent would have read at capture time
            // (serve-api sends the same time as its `Date`).
            Source::Snapshot(s) => s.snapshot.captured(),
        }
    }

    /// When this call's cluster requests stop: the tool call's deadline (`--timeout` from the
    /// start of the call). A tool that waits for something (a reconcile) stops waiting in
    /// time to report what it saw.
    pub fn deadline(&self) -> Option<Instant> {
        match &self.source {
            Source::Live(client) => client.deadline(),
            Source::Snapshot(_) => None,
        }
    }

    /// One object. `namespace` is required for namespaced resources, ignored otherwise.
    pub fn get(
        &self,
        resource: &Resource,
        namespace: &str,
        name: &str,
    ) -> Result<Value, kube::Error> {
        match &self.source {
            Source::Live(client) => client.get(resource, namespace, name),
            Source::Snapshot(s) => s.snapshot.get(resource, namespace, name),
        }
    }

    /// Objects matching `options` (namespace, label and field selectors, limit, page size,
    /// continue token), handed to `on_item` one by one as they arrive; `Break` stops early.
    /// [`ListInfo`] says whether more exist and how to continue.
    pub fn list(
        &self,
        resource: &Resource,
        options: &ListOptions,
        on_item: impl FnMut(Value) -> ControlFlow<()>,
    ) -> Result<ListInfo, kube::Error> {
        match &self.source {
            Source::Live(client) => client.list(resource, options, on_item),
            Source::Snapshot(s) => s.snapshot.list(resource, options, on_item),
        }
    }

    /// [`Cluster::list`] collected into memory: for small lists (events of one object, a few
    /// Deployments).
    pub fn list_all(
        &self,
        resource: &Resource,
        options: &ListOptions,
    ) -> Result<Vec<Value>, kube::Error> {
        let mut out = Vec::new();
        self.list(resource, options, |item| {
            out.push(item);
            ControlFlow::Continue(())
        })?;
        Ok(out)
    }

    /// A container's log (not followed), as [`LogOptions`] asks.
    pub fn logs(
        &self,
        namespace: &str,
        pod: &str,
        options: &LogOptions,
    ) -> Result<Logs, kube::Error> {
        match &self.source {
            Source::Live(client) => client.logs(namespace, pod, options),
            Source::Snapshot(s) => s.snapshot.logs(namespace, pod, options, false),
        }
    }

    /// [`Cluster::logs`] with each line led by its RFC 3339 timestamp (what a snapshot saves,
    /// so that `since` can be answered from it later).
    pub fn logs_with_timestamps(
        &self,
        namespace: &str,
        pod: &str,
        options: &LogOptions,
    ) -> Result<Logs, kube::Error> {
        match &self.source {
            Source::Live(client) => client.logs_with_timestamps(namespace, pod, options),
            Source::Snapshot(s) => s.snapshot.logs(namespace, pod, options, true),
        }
    }

    /// Pod metrics (`metrics.k8s.io`); [`kube::Error::MetricsUnavailable`] when there are none
    /// to be had, distinct from a pod without metrics (404).
    pub fn pod_metrics(
        &self,
        namespace: Option<&str>,
        selection: &PodSelection,
    ) -> Result<Vec<Value>, kube::Error> {
        match &self.source {
            Source::Live(client) => client.pod_metrics(namespace, selection),
            Source::Snapshot(s) => s.snapshot.pod_metrics(namespace, selection),
        }
    }

    /// What the cluster serves (cached per context across calls).
    pub fn discovery(&self) -> Result<Arc<Discovery>, kube::Error> {
        match &self.source {
            Source::Live(client) => client.discovery(),
            Source::Snapshot(s) => Ok(s.snapshot.discovery()),
        }
    }

    /// Discovery fetched again, for an answer about what is served now.
    pub fn refresh_discovery(&self) -> Result<Arc<Discovery>, kube::Error> {
        match &self.source {
            Source::Live(client) => client.refresh_discovery(),
            // A snapshot's discovery is what was served at capture time, for good.
            Source::Snapshot(s) => Ok(s.snapshot.discovery()),
        }
    }

    /// The resource for `kind` in `api_version` (a group, a group/version, or `None`).
    pub fn resolve(&self, api_version: Option<&str>, kind: &str) -> Result<Resource, kube::Error> {
        match &self.source {
            Source::Live(client) => client.resolve(api_version, kind),
            Source::Snapshot(s) => s.snapshot.discovery().resolve(api_version, kind),
        }
    }

    /// The `(namespace, name)` of up to `at_most` objects of `resource` in `namespace` (every
    /// namespace for `None`), and whether there are more, for "not found, did you mean"
    /// answers.
    pub fn names(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        at_most: usize,
    ) -> Result<(Vec<(String, String)>, bool), kube::Error> {
        match &self.source {
            Source::Live(client) => live_names(client, resource, namespace, at_most),
            Source::Snapshot(s) => s.snapshot.names(resource, namespace, at_most),
        }
    }

    /// Patches one object (or its `status`) in `patch_type`'s format; the object as stored (or
    /// as it would be, with a dry run).
    #[cfg(feature = "mutations")]
    pub fn patch(
        &self,
        resource: &Resource,
        namespace: &str,
        name: &str,
        patch_type: PatchType,
        patch: &Value,
        options: &PatchOptions,
    ) -> Result<Value, kube::Error> {
        match &self.source {
            Source::Live(client) => {
                client.patch(resource, namespace, name, patch_type, patch, options)
            }
            Source::Snapshot(s) => Err(s.snapshot.refuse_write("PATCH", resource, namespace, name)),
        }
    }

    /// Server-side apply of one object (created when missing); the object as stored (or as it
    /// would be, with a dry run).
    #[cfg(feature = "mutations")]
    pub fn apply(
        &self,
        resource: &Resource,
        namespace: &str,
        name: &str,
        object: &Value,
        options: &ApplyOptions,
    ) -> Result<Value, kube::Error> {
        match &self.source {
            Source::Live(client) => client.apply(resource, namespace, name, object, options),
            Source::Snapshot(s) => Err(s.snapshot.refuse_write("PATCH", resource, namespace, name)),
        }
    }

    /// Deletes one object; the server's answer (the object while finalizers hold it, or a
    /// `Status`).
    #[cfg(feature = "mutations")]
    pub fn delete(
        &self,
        resource: &Resource,
        namespace: &str,
        name: &str,
        options: &DeleteOptions,
    ) -> Result<Value, kube::Error> {
        match &self.source {
            Source::Live(client) => client.delete(resource, namespace, name, options),
            Source::Snapshot(s) => {
                Err(s.snapshot.refuse_write("DELETE", resource, namespace, name))
            }
        }
    }

    /// A cluster error as the agent reads it: the context named first (once), the API
    /// server's own message kept verbatim, and what to do next where it is not obvious: what
    /// the agent can do itself, or what to ask the user, who owns the server's flags,
    /// environment and credentials. "Retry" only where a retry can help.
    pub fn error(&self, e: kube::Error) -> ToolError {
        let hint = self.hint(&e);
        if e.names_context() {
            return ToolError::Failed(format!("{e}{hint}"));
        }
        ToolError::Failed(format!("context {}: {e}{hint}", self.context()))
    }

    /// [`Cluster::error`] about one thing (`Kustomization/flux-system/apps: patch failed`),
    /// named between the context and the server's words.
    pub fn error_about(&self, subject: &str, e: kube::Error) -> ToolError {
        let hint = self.hint(&e);
        if e.names_context() {
            return ToolError::Failed(format!("{subject}: {e}{hint}"));
        }
        ToolError::Failed(format!("context {}: {subject}: {e}{hint}", self.context()))
    }

    /// The advice that goes with a cluster error, where the next step is not obvious: what
    /// the agent can do itself, or what to ask the user.
    fn hint(&self, e: &kube::Error) -> String {
        if e.is_unauthorized() && self.token_flag {
            " (the API server rejected the bearer token given with --kube-token, which \
             replaces the kubeconfig's credentials: ask the user to put a valid token in the \
             MCP server's args, or to remove --kube-token)"
                .to_string()
        } else if e.is_unauthorized() {
            " (the API server rejected this context's credentials: they may have expired; ask \
             the user to refresh them (log in again for an exec plugin, or get a fresh token or \
             kubeconfig), then retry)"
                .to_string()
        } else if e.is_forbidden() {
            " (RBAC refused this identity; the message names the verb and resource it lacks: \
             ask the user for that access, or use another context)"
                .to_string()
        } else if e.is_not_http() {
            match self.proxy() {
                Some(proxy) => format!(
                    " (the proxy {proxy} did not answer as an HTTP proxy: the proxy setting \
                     (proxy-url, HTTPS_PROXY) may point at a TLS port or at something other than \
                     a proxy; a retry will not help: ask the user to fix it)"
                ),
                None => " (the server did not answer in HTTP: the server URL may point at \
                     another kind of service; a retry will not help: ask the user to check it)"
                    .to_string(),
            }
        } else if e.is_not_tls() {
            " (the server at this address does not speak TLS: the URL may name a plain-HTTP \
             port; a retry will not help: ask the user to check the server URL in the \
             kubeconfig)"
                .to_string()
        } else {
            match e {
                kube::Error::Timeout { .. } => {
                    " (the API server did not answer in time: it may be down, overloaded or \
                     unreachable behind a VPN or proxy; ask the user to check the cluster, or, \
                     if it is only slow, to raise --timeout in the MCP server's args)"
                        .to_string()
                }
                // Through a proxy, a connection closed before any answer is most often a
                // proxy setting that names something other than a proxy (a TLS port).
                kube::Error::Interrupted { .. } if self.proxy().is_some() => format!(
                    " (through the proxy {}: if this repeats, the proxy setting (proxy-url, \
                     HTTPS_PROXY) may point at a TLS port or at something other than a proxy: \
                     ask the user to check it)",
                    self.proxy().unwrap_or_default()
                ),
                kube::Error::Connect { .. } => {
                    " (the API server cannot be reached: ask the user to check the server URL, \
                     the VPN and the proxy settings (HTTPS_PROXY, NO_PROXY, proxy-url); \
                     `flux-operator-mcp check` in a terminal shows what is used)"
                        .to_string()
                }
                _ if e.is_transient() => " (this may be temporary: retry the call)".to_string(),
                _ => String::new(),
            }
        }
    }

    /// [`Cluster::error`] for a list that failed: a timeout on a big list may be helped by a
    /// narrower one.
    pub fn list_error(&self, e: kube::Error) -> ToolError {
        let timeout = matches!(e, kube::Error::Timeout { .. });
        match self.error(e) {
            ToolError::Failed(m) if timeout => ToolError::Failed(format!(
                "{m}; if the API server answers other calls, a narrower list (namespace, \
                 selector, limit) may answer in time"
            )),
            other => other,
        }
    }
}

/// Names from one metadata-only LIST: what kubectl asks for when it needs names, far smaller
/// than the objects.
fn live_names(
    client: &Client,
    resource: &Resource,
    namespace: Option<&str>,
    at_most: usize,
) -> Result<(Vec<(String, String)>, bool), kube::Error> {
    let path = resource.collection_path(namespace)?;
    let target = format!("{path}?limit={at_most}");
    let accept =
        "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json";
    let list = client.get_path_accept(&target, accept)?;
    let items = list["items"].as_array().map_or(&[][..], Vec::as_slice);
    let names = items
        .iter()
        .take(at_most)
        .filter_map(|i| {
            let name = i["metadata"]["name"].as_str()?;
            let namespace = i["metadata"]["namespace"].as_str().unwrap_or("");
            Some((namespace.to_string(), name.to_string()))
        })
        .collect();
    let more = items.len() > at_most
        || list["metadata"]["continue"]
            .as_str()
            .is_some_and(|t| !t.is_empty());
    Ok((names, more))
}

/// A cancelled tool call stops its cluster calls: `kube` knows its own stop signal only, and
/// this is where an MCP cancellation becomes one.
impl kube::stop::Signal for Cancel {
    fn is_set(&self) -> bool {
        self.is_cancelled()
    }
    fn wait(&self, timeout: Duration) -> bool {
        self.wait_timeout(timeout)
    }
}

/// Requests of one call in flight at once, at most: enough to overlap a call's independent
/// requests (a list's events and sources, a few pods' logs) without opening a connection per
/// object of a big list. Each worker is a scoped thread that ends with the call.
pub const PARALLEL_REQUESTS: usize = 8;

/// `work` on every item, at most [`PARALLEL_REQUESTS`] at a time on scoped threads, results
/// in the items' order whatever order they finish in: what a call shows never depends on
/// thread timing. A [`Cluster`] is shared across the threads by reference and its client's
/// connection pool serves them all. One item runs on the calling thread.
pub fn each<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    each_at_most(PARALLEL_REQUESTS, items, work)
}

/// [`each`] with at most `workers` at a time: for a call that knows its requests are one
/// wave of about that many (`get_flux_instance`'s list per Flux kind).
pub fn each_at_most<T: Sync, R: Send>(
    workers: usize,
    items: &[T],
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    if items.len() <= 1 || workers <= 1 {
        return items.iter().map(&work).collect();
    }
    let next = AtomicUsize::new(0);
    let workers = items.len().min(workers);
    let run = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            done.push((i, work(item)));
        }
        done
    };
    let finished: Vec<Vec<(usize, R)>> = std::thread::scope(|scope| {
        // The calling thread is one of the workers.
        let handles: Vec<_> = (1..workers).map(|_| scope.spawn(run)).collect();
        let mut all = vec![run()];
        all.extend(handles.into_iter().map(|h| match h.join() {
            Ok(done) => done,
            // A panicking worker is a bug: let the call's panic handling answer it.
            Err(panic) => std::panic::resume_unwind(panic),
        }));
        all
    });
    let mut slots: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    for (i, r) in finished.into_iter().flatten() {
        slots[i] = Some(r);
    }
    slots.into_iter().flatten().collect()
}

/// `a` and `b` at the same time (`b` on a scoped thread), for two independent requests.
pub fn both<A: Send, B: Send>(
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    std::thread::scope(|scope| {
        let other = scope.spawn(b);
        let first = a();
        match other.join() {
            Ok(second) => (first, second),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// The context later calls of a session go to, and what chose it.
pub struct Current {
    pub name: String,
    pub chosen_by: &'static str,
}

impl Ctx<'_> {
    /// The cluster a call targets: its `context` argument, else [`Ctx::current_context`]. The
    /// client is shared across calls; its deadline is this call's `--timeout`.
    pub fn cluster(&self, args: &Args) -> Result<Cluster, ToolError> {
        let from_args = args.opt_str(CONTEXT_ARG)?.map(str::to_string);
        if !self.clusters.snapshots.is_empty() {
            return self
                .snapshot_cluster(from_args.as_deref())
                .map(Cluster::snapshot);
        }
        let kc = self.clusters.kubeconfig()?;
        let name = match from_args {
            Some(name) => name,
            None => match self.current_context(&kc) {
                Some(current) => current.name,
                None => {
                    return Err(ToolError::Failed(
                        "no kubeconfig context is selected: the kubeconfig has no \
                         current-context; pass the context argument (get_kubeconfig_contexts \
                         lists them), or ask the user to set a current-context or to add \
                         --kube-context NAME to the MCP server's args"
                            .to_string(),
                    ));
                }
            },
        };
        let client = self.clusters.client(&kc, &name)?;
        let deadline = Instant::now() + self.settings.timeout;
        let stop = Stop::new(Arc::new(self.cancel.clone()));
        Ok(Cluster::live(
            client.with_deadline(deadline).with_stop(stop),
            self.settings.kube.token.is_some(),
        ))
    }

    /// The snapshot a call reads when serving snapshots: the one named (by its context name),
    /// else the session's choice, else the first given.
    fn snapshot_cluster(&self, name: Option<&str>) -> Result<Arc<Served>, ToolError> {
        let snapshots = &self.clusters.snapshots;
        let session = crate::sync::lock(&self.session.context).clone();
        let wanted = name.map(str::to_string).or(session);
        let Some(wanted) = wanted else {
            return snapshots
                .first()
                .cloned()
                .ok_or_else(|| ToolError::Failed("no snapshot is served".to_string()));
        };
        snapshots
            .iter()
            .find(|s| s.name == wanted)
            .cloned()
            .ok_or_else(|| {
                let names: Vec<&str> = snapshots.iter().map(|s| s.name.as_str()).collect();
                ToolError::InvalidArgument(format!(
                    "context {wanted:?} does not exist; the server answers from snapshots of: {}",
                    names.join(", ")
                ))
            })
    }

    /// The snapshot calls without a `context` argument read, and what chose it; `None` when
    /// serving live clusters.
    pub fn current_snapshot(&self) -> Option<(Arc<Served>, &'static str)> {
        let first = self.clusters.snapshots.first()?;
        let session = crate::sync::lock(&self.session.context).clone();
        if let Some(name) = session
            && let Some(s) = self.clusters.snapshots.iter().find(|s| s.name == name)
        {
            return Some((s.clone(), "set_kubeconfig_context in this session"));
        }
        Some((first.clone(), "the first --snapshot of the server"))
    }

    /// The context of a call without a `context` argument: the session's choice
    /// (`set_kubeconfig_context`), else `--kube-context`, else the kubeconfig's
    /// `current-context`; `None` when none of them names one.
    pub fn current_context(&self, kc: &Kubeconfig) -> Option<Current> {
        let session = crate::sync::lock(&self.session.context).clone();
        if let Some(name) = session {
            return Some(Current {
                name,
                chosen_by: "set_kubeconfig_context in this session",
            });
        }
        let flag = kc.overrides().context.as_deref().filter(|c| !c.is_empty());
        let (name, chosen_by) = match flag {
            Some(name) => (name, "the server's --kube-context flag"),
            None => (
                kc.file_current_context()?,
                "current-context of the kubeconfig",
            ),
        };
        Some(Current {
            name: name.to_string(),
            chosen_by,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::Session;
    use serde_json::Map;
    use std::path::PathBuf;

    fn kubeconfig_file(dir: &std::path::Path) -> PathBuf {
        let path = dir.join("config");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\ncurrent-context: dev\n\
             clusters:\n- name: c1\n  cluster:\n    server: https://127.0.0.1:1\n\
             contexts:\n- name: dev\n  context:\n    cluster: c1\n- name: prod\n  context:\n    cluster: c1\n",
        )
        .expect("write kubeconfig");
        path
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fomcp-cluster-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    /// Settings pointing at a two-context kubeconfig (dev is current) in a scratch folder.
    fn two_contexts(name: &str) -> (Settings, Clusters, Session) {
        let mut settings = Settings::default();
        settings.kube.kubeconfig = Some(kubeconfig_file(&scratch(name)));
        let clusters = Clusters::new(&settings, Env::default());
        (settings, clusters, Session::default())
    }

    #[test]
    fn context_precedence_is_argument_then_session_then_current() {
        let (settings, clusters, session) = two_contexts("precedence");
        let ctx = Ctx {
            settings: &settings,
            session: &session,
            clusters: &clusters,
            cancel: &crate::mcp::server::Cancel::new(),
        };
        let none = Map::new();
        assert_eq!(ctx.cluster(&Args(&none)).expect("current").context(), "dev");
        *session.context.lock().expect("lock") = Some("prod".to_string());
        assert_eq!(
            ctx.cluster(&Args(&none)).expect("session").context(),
            "prod"
        );
        let mut args = Map::new();
        args.insert("context".into(), json!("dev"));
        assert_eq!(
            ctx.cluster(&Args(&args)).expect("argument").context(),
            "dev"
        );
    }

    #[test]
    fn the_kube_context_flag_comes_between_the_session_and_the_file() {
        let (mut settings, _, session) = two_contexts("flag");
        settings.kube.context = Some("prod".to_string());
        let clusters = Clusters::new(&settings, Env::default());
        let ctx = Ctx {
            settings: &settings,
            session: &session,
            clusters: &clusters,
            cancel: &crate::mcp::server::Cancel::new(),
        };
        let none = Map::new();
        assert_eq!(ctx.cluster(&Args(&none)).expect("flag").context(), "prod");
        let kc = clusters.kubeconfig().expect("kubeconfig");
        let current = ctx.current_context(&kc).expect("current");
        assert_eq!(
            (current.name.as_str(), current.chosen_by),
            ("prod", "the server's --kube-context flag")
        );
        *session.context.lock().expect("lock") = Some("dev".to_string());
        assert_eq!(ctx.cluster(&Args(&none)).expect("session").context(), "dev");
    }

    /// Tools may issue independent requests from scoped threads (issue 17): the facade must
    /// cross threads (this fails to compile otherwise).
    #[test]
    fn a_cluster_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync + Clone>() {}
        shareable::<Cluster>();
    }

    #[test]
    fn each_keeps_the_order_of_the_items() {
        let items: Vec<u64> = (0..50).collect();
        let out = each(&items, |i| i * 2);
        assert_eq!(out, (0..50).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(each(&[7u64], |i| i + 1), [8]);
        assert!(each(&[] as &[u64], |i| *i).is_empty());
    }

    #[test]
    fn each_runs_at_most_the_bound_at_once_and_does_run_in_parallel() {
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let items: Vec<usize> = (0..40).collect();
        each(&items, |_| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            // Wait until the others had a chance to start (bounded, never a fixed sleep).
            let until = Instant::now() + Duration::from_millis(200);
            while running.load(Ordering::SeqCst) < PARALLEL_REQUESTS && Instant::now() < until {
                std::thread::yield_now();
            }
            running.fetch_sub(1, Ordering::SeqCst);
        });
        let peak = peak.load(Ordering::SeqCst);
        assert!(peak <= PARALLEL_REQUESTS, "{peak} at once");
        assert!(peak > 1, "never more than one at once");
    }

    #[test]
    fn both_returns_each_side() {
        let (a, b) = both(|| 1, || "two");
        assert_eq!((a, b), (1, "two"));
    }

    #[test]
    fn an_unknown_context_lists_the_known_ones() {
        let (settings, clusters, session) = two_contexts("unknown");
        let ctx = Ctx {
            settings: &settings,
            session: &session,
            clusters: &clusters,
            cancel: &crate::mcp::server::Cancel::new(),
        };
        let mut args = Map::new();
        args.insert("context".into(), json!("staging"));
        let err = ctx
            .cluster(&Args(&args))
            .expect_err("must fail")
            .to_string();
        assert_eq!(
            err,
            "context \"staging\" does not exist; the kubeconfig defines: dev, prod"
        );
    }

    #[test]
    fn a_missing_kubeconfig_is_a_tool_error_that_says_so() {
        let mut settings = Settings::default();
        settings.kube.kubeconfig = Some(PathBuf::from("/nonexistent/kubeconfig"));
        let clusters = Clusters::new(&settings, Env::default());
        let err = clusters.kubeconfig().expect_err("must fail").to_string();
        assert!(err.starts_with("cannot load the kubeconfig: "), "{err}");
        assert!(err.contains("/nonexistent/kubeconfig"), "{err}");
    }
}
