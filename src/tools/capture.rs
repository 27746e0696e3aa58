//! `snapshot create`: saves what the read tools look at in one cluster to one file, through
//! the same kubeconfig, client and credentials as `serve` (a live [`Cluster`]): every object
//! of every served Flux kind, the Flux CRDs, namespaces, workloads (Deployments, ReplicaSets,
//! StatefulSets, DaemonSets, Jobs, CronJobs), pods, events, Secrets (keys and sizes only),
//! Helm storage reduced to what the inventory needs, the objects Flux inventories name, log
//! tails (Flux controllers and failing pods first), pod metrics and discovery.
//!
//! What never reaches the file: Secret values (their sizes stand in), the last-applied
//! annotation and `managedFields` (the tools drop both anyway), Helm release values and chart
//! files, and credential-shaped text in logs, env values with credential names, ConfigMap
//! data and HelmRelease values (masked with `redact` as `<masked: N bytes>`).
//!
//! Independent requests run in parallel, [`WORKERS`] at a time; everything is bounded (events,
//! inventory objects, pods with logs, bytes per log, bytes of logs in all) and each bound that
//! cut something is a note in the snapshot.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::cluster::Cluster;
use super::objects::{helm, is_flux_group, lean};
use super::{Clusters, Settings};
use crate::kube;
use crate::kube::client::LogOptions;
use crate::kube::discovery::{Discovery, Resource};
use crate::kube::list::ListOptions;
use crate::redact;
use crate::snapshot::{self, Builder, CollectionHeader, LogHeader, Meta, SavedObject};

/// Requests in flight at once: enough to hide round trips, few enough not to be throttled by
/// the API server's priority and fairness (kubectl's own parallelism is similar).
pub const WORKERS: usize = 6;
/// Events kept (the tools read at most 10,000 per answer).
pub const MAX_EVENTS: usize = 20_000;
/// Objects fetched one by one because an inventory names them.
pub const MAX_INVENTORY_OBJECTS: usize = 20_000;
/// Above this many inventory objects of one kind, the kind is listed (and filtered) instead
/// of fetched object by object.
const LIST_INSTEAD_OF_GETS: usize = 40;
/// Pods whose logs are saved.
pub const MAX_LOG_PODS: usize = 100;
/// Lines and bytes kept of the log of a Flux controller or a failing pod.
pub const LOG_TAIL_LINES: u64 = 1000;
const LOG_BYTES: u64 = 512 << 10;
/// Lines and bytes kept of any other pod's log.
const OTHER_LOG_TAIL_LINES: u64 = 200;
const OTHER_LOG_BYTES: u64 = 64 << 10;
/// Bytes of logs saved in all.
pub const MAX_LOG_TOTAL: usize = 32 << 20;

/// Why a capture failed. The messages name the context, file or step.
#[derive(Debug)]
pub enum CaptureError {
    /// The kubeconfig or the context cannot be used.
    Config(String),
    /// The cluster refused or failed a call the snapshot cannot do without (discovery).
    Cluster(String),
    /// The snapshot cannot be encoded (a record over the format's limits).
    Format(snapshot::format::FormatError),
    /// The file cannot be written.
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Config(m) | CaptureError::Cluster(m) => f.write_str(m),
            CaptureError::Format(e) => write!(f, "cannot encode the snapshot: {e}"),
            CaptureError::Write { path, error } => {
                write!(f, "cannot write {}: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for CaptureError {}

/// What a capture saved.
#[derive(Debug, Clone)]
pub struct Summary {
    pub path: PathBuf,
    pub context: String,
    pub objects: usize,
    pub kinds: usize,
    pub logs: usize,
    /// The file's size, and the body's before compression.
    pub file_bytes: usize,
    pub raw_bytes: usize,
    pub elapsed: std::time::Duration,
    pub notes: Vec<String>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "snapshot: {}", self.path.display())?;
        writeln!(f, "context:  {}", self.context)?;
        writeln!(
            f,
            "objects:  {} of {} kinds, {} logs",
            self.objects, self.kinds, self.logs
        )?;
        writeln!(
            f,
            "size:     {} (compressed; {} inflated)",
            bytes(self.file_bytes),
            bytes(self.raw_bytes)
        )?;
        write!(f, "time:     {:.1}s", self.elapsed.as_secs_f64())?;
        for n in &self.notes {
            write!(f, "\nnote:     {n}")?;
        }
        Ok(())
    }
}

fn bytes(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20))
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

/// Captures the cluster of `settings`' context (`--kube-context`, else current-context) to
/// `output` (default: `<context>-<UTC time>.snapshot` in the working folder). With `-n`, only
/// that namespace and the Flux namespace are captured. `progress` gets one short line at a
/// time (the caller puts it on stderr).
pub fn capture(
    settings: &Settings,
    output: Option<&Path>,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Summary, CaptureError> {
    let started = Instant::now();
    let clusters = Clusters::new(settings, kube::config::Env::from_process());
    let kc = clusters
        .load_kubeconfig()
        .map_err(|e| CaptureError::Config(format!("cannot load the kubeconfig: {e}")))?;
    let conn = kc
        .resolve(None)
        .map_err(|e| CaptureError::Config(format!("cannot use the context: {e}")))?;
    let cluster = clusters
        .connect(&conn)
        .map_err(|e| CaptureError::Config(format!("context {}: {e}", conn.context)))?;
    let context = conn.context.clone();
    progress(&format!(
        "capturing context {context} ({})",
        cluster.server()
    ));
    let discovery = cluster
        .discovery()
        .map_err(|e| CaptureError::Cluster(format!("context {context}: discovery: {e}")))?;
    // This machine's clock, as the capture's notes and the file name read it. (The cluster's
    // clock, `cluster.now()`, would be truer for ages on a skewed laptop; the test API server
    // keeps a fixed `Date` while its Tables and log filters read the real clock, so that
    // choice waits for it to use one clock.)
    let captured_at = std::time::SystemTime::now();
    let namespaces: Vec<String> = settings
        .kube
        .namespace
        .iter()
        .filter(|n| !n.is_empty())
        .flat_map(|n| [n.clone(), super::flux::FLUX_NAMESPACE.to_string()])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let run = Run {
        cluster: &cluster,
        discovery: &discovery,
        namespaces: &namespaces,
        progress,
        notes: Mutex::new(Vec::new()),
        objects: AtomicUsize::new(0),
    };
    let mut collections = run.list_all(plan(&discovery));
    run.complete_inventories(&mut collections);
    let logs = run.logs(&collections);
    let notes = std::mem::take(&mut *crate::sync::lock(&run.notes));
    let meta = Meta {
        context: context.clone(),
        server: cluster.server().to_string(),
        namespace: cluster.default_namespace().to_string(),
        captured_at: kube::time::rfc3339_utc(captured_at),
        capture_millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        producer: format!("flux-operator-mcp {}", crate::VERSION),
        namespaces: namespaces.clone(),
        log_tail_lines: LOG_TAIL_LINES,
        notes: notes.clone(),
    };
    progress("writing the snapshot");
    let mut builder = Builder::new(&meta, &discovery).map_err(CaptureError::Format)?;
    let kinds = collections.len();
    for c in collections.into_values() {
        builder
            .collection(&c.header, c.objects)
            .map_err(CaptureError::Format)?;
    }
    for (header, text) in &logs {
        builder.log(header, text).map_err(CaptureError::Format)?;
    }
    let (objects, log_count) = (builder.objects(), builder.logs());
    let file = builder.finish().map_err(CaptureError::Format)?;
    let raw_bytes = crate::snapshot::format::inflate(&file)
        .map(|b| b.len())
        .unwrap_or(0);
    let path = match output {
        Some(p) => p.to_path_buf(),
        None => PathBuf::from(default_name(&context, &meta.captured_at)),
    };
    crate::snapshot::write_private(&path, &file).map_err(|error| CaptureError::Write {
        path: path.clone(),
        error,
    })?;
    Ok(Summary {
        path,
        context,
        objects,
        kinds,
        logs: log_count,
        file_bytes: file.len(),
        raw_bytes,
        elapsed: started.elapsed(),
        notes,
    })
}

/// `<context>-<YYYYMMDDTHHMMSSZ>.snapshot`, the context reduced to file-name-safe bytes (an
/// EKS context is an ARN full of `:` and `/`).
fn default_name(context: &str, captured_at: &str) -> String {
    let safe: String = context
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    let stamp: String = captured_at
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    format!("{safe}-{stamp}.snapshot")
}

/// One resource type to list whole.
struct Job {
    resource: Resource,
    /// Only the Flux groups' CRDs are kept.
    flux_crds_only: bool,
    /// Stop after this many objects (events).
    cap: Option<usize>,
}

/// The built-in kinds the read tools look at, listed whole when the cluster serves them.
const BUILTINS: &[(&str, &str, &str)] = &[
    ("v1", "Namespace", "namespaces"),
    ("v1", "Pod", "pods"),
    ("v1", "Event", "events"),
    ("v1", "Secret", "secrets"),
    ("apps/v1", "Deployment", "deployments"),
    ("apps/v1", "ReplicaSet", "replicasets"),
    ("apps/v1", "StatefulSet", "statefulsets"),
    ("apps/v1", "DaemonSet", "daemonsets"),
    ("batch/v1", "Job", "jobs"),
    ("batch/v1", "CronJob", "cronjobs"),
    (
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
    ),
    ("metrics.k8s.io/v1beta1", "PodMetrics", "pods"),
];

/// What to list: every served Flux kind at its preferred version, then the built-ins the
/// cluster serves (as discovery names them, so verbs and scope are the server's).
fn plan(discovery: &Discovery) -> Vec<Job> {
    let mut jobs = Vec::new();
    for k in discovery.kinds() {
        if !is_flux_group(&k.group) {
            continue;
        }
        if let Ok(r) = discovery.resolve(Some(&k.api_version()), &k.kind)
            && r.supports("list")
        {
            jobs.push(Job {
                resource: r,
                flux_crds_only: false,
                cap: None,
            });
        }
    }
    for (api_version, kind, plural) in BUILTINS {
        let found = discovery
            .resources()
            .find(|r| r.api_version() == *api_version && r.kind == *kind && r.plural == *plural);
        if let Some(r) = found
            && r.supports("list")
        {
            jobs.push(Job {
                resource: r.clone(),
                flux_crds_only: *kind == "CustomResourceDefinition",
                cap: (*kind == "Event").then_some(MAX_EVENTS),
            });
        }
    }
    jobs
}

/// A collection being built, keyed by `(group, plural)`.
struct Building {
    header: CollectionHeader,
    objects: Vec<SavedObject>,
    /// Inventory references found in these objects: (api version, kind, namespace, name).
    refs: Vec<Ref>,
    /// The pods' parsed status, for choosing logs (pods only).
    pods: Vec<PodInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Ref {
    /// `group/version`, `v1`, or a bare group (Helm manifests name versions; Flux
    /// inventories name both).
    api_version: String,
    kind: String,
    namespace: String,
    name: String,
}

/// What choosing a pod's logs needs to know about it.
struct PodInfo {
    namespace: String,
    name: String,
    flux: bool,
    failing: bool,
    /// Containers (init ones first, as they run first) and whether each has a previous log.
    containers: Vec<(String, bool)>,
    restarts: u64,
}

struct Run<'a> {
    cluster: &'a Cluster,
    discovery: &'a Discovery,
    namespaces: &'a [String],
    progress: &'a (dyn Fn(&str) + Sync),
    notes: Mutex<Vec<String>>,
    objects: AtomicUsize,
}

type Collections = BTreeMap<(String, String), Building>;

impl Run<'_> {
    fn note(&self, text: String) {
        crate::sync::lock(&self.notes).push(text);
    }

    /// Lists every job, [`WORKERS`] at a time.
    fn list_all(&self, jobs: Vec<Job>) -> Collections {
        let total = jobs.len();
        let next = AtomicUsize::new(0);
        let done = AtomicUsize::new(0);
        let results: Mutex<Collections> = Mutex::new(BTreeMap::new());
        std::thread::scope(|s| {
            for _ in 0..WORKERS.min(total) {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        let built = self.list_one(job);
                        let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                        (self.progress)(&format!(
                            "listed {finished}/{total} kinds, {} objects",
                            self.objects.load(Ordering::Relaxed)
                        ));
                        if let Some(b) = built {
                            let key = (job.resource.group.clone(), job.resource.plural.clone());
                            crate::sync::lock(&results).insert(key, b);
                        }
                    }
                });
            }
        });
        crate::sync::unpoisoned(results.into_inner())
    }

    /// One kind, whole (in the captured namespaces); `None` (and a note) when it cannot be
    /// listed: the snapshot then says it was not captured, never that it is empty.
    fn list_one(&self, job: &Job) -> Option<Building> {
        let r = &job.resource;
        let scopes: Vec<Option<String>> = if r.namespaced && !self.namespaces.is_empty() {
            self.namespaces.iter().cloned().map(Some).collect()
        } else {
            vec![None]
        };
        let mut building = Building {
            header: header_of(r, true),
            objects: Vec::new(),
            refs: Vec::new(),
            pods: Vec::new(),
        };
        let mut capped = false;
        for namespace in scopes {
            let options = ListOptions {
                namespace,
                ..ListOptions::default()
            };
            let result = self.cluster.list(r, &options, |item| {
                if job.cap.is_some_and(|cap| building.objects.len() >= cap) {
                    capped = true;
                    return ControlFlow::Break(());
                }
                if job.flux_crds_only
                    && !is_flux_group(item["spec"]["group"].as_str().unwrap_or(""))
                {
                    return ControlFlow::Continue(());
                }
                self.keep(item, &mut building);
                ControlFlow::Continue(())
            });
            match result {
                Ok(info) => building.header.resource_version = info.resource_version,
                Err(e) => {
                    self.note(format!("{} not captured: {e}", snapshot::qualified(r)));
                    return None;
                }
            }
        }
        if capped {
            self.note(format!(
                "{}: only the first {} (in key order) were kept",
                snapshot::qualified(r),
                building.objects.len()
            ));
        }
        Some(building)
    }

    /// Prepares one listed object and adds it (with what it tells about inventories and
    /// logs) to `building`.
    fn keep(&self, mut item: Value, building: &mut Building) {
        let kind = item["kind"].as_str().unwrap_or("").to_string();
        let api_version = item["apiVersion"].as_str().unwrap_or("").to_string();
        if kind == "Pod" && api_version == "v1" {
            building.pods.push(pod_info(&item));
        }
        building.refs.extend(inventory_refs(&item));
        if let Some(refs) = self.reduce_helm_storage(&mut item) {
            building.refs.extend(refs);
        }
        if let Some(saved) = prepare(item) {
            self.objects.fetch_add(1, Ordering::Relaxed);
            building.objects.push(saved);
        }
    }

    /// A Helm storage Secret keeps a release payload reduced to what the inventory reads
    /// (release name, namespace, version, status, and each manifest object's kind, name,
    /// namespace and container images), padded to the original's size. Returns the objects
    /// the release manages.
    fn reduce_helm_storage(&self, secret: &mut Value) -> Option<Vec<Ref>> {
        if secret["kind"] != "Secret"
            || secret["apiVersion"] != "v1"
            || secret["type"] != "helm.sh/release.v1"
        {
            return None;
        }
        let payload = secret["data"]["release"].as_str()?;
        let name = format!(
            "{}/{}",
            secret["metadata"]["namespace"].as_str().unwrap_or(""),
            secret["metadata"]["name"].as_str().unwrap_or("")
        );
        match reduce_release(payload) {
            Ok((reduced, refs)) => {
                secret["data"]["release"] = Value::String(reduced);
                Some(refs)
            }
            Err(why) => {
                // Kept as a Secret like any other: keys and sizes only.
                self.note(format!(
                    "Helm storage Secret {name}: release not reduced ({why}); saved as keys \
                     and sizes only"
                ));
                if let Some(map) = secret.get_mut("data").and_then(Value::as_object_mut) {
                    map.insert("release".into(), Value::String(String::new()));
                }
                None
            }
        }
    }

    /// Fetches the objects Flux inventories (and Helm releases) name that no whole list
    /// holds; a kind with many of them is listed and filtered instead.
    fn complete_inventories(&self, collections: &mut Collections) {
        // (group, plural) → the resource and the (namespace, name) keys wanted of it.
        type Keys = BTreeSet<(String, String)>;
        let mut wanted: BTreeMap<(String, String), (Resource, Keys)> = BTreeMap::new();
        let mut unknown = BTreeSet::new();
        let refs: BTreeSet<Ref> = collections
            .values()
            .flat_map(|b| b.refs.iter().cloned())
            .collect();
        for r in refs {
            if !self.in_scope(&r.namespace) {
                continue;
            }
            let resource = match self.discovery.resolve(Some(&r.api_version), &r.kind) {
                Ok(res) => res,
                Err(_) => {
                    unknown.insert(format!("{} ({})", r.kind, r.api_version));
                    continue;
                }
            };
            let id = (resource.group.clone(), resource.plural.clone());
            if collections.get(&id).is_some_and(|c| c.header.complete) {
                continue;
            }
            let namespace = if resource.namespaced {
                r.namespace
            } else {
                String::new()
            };
            wanted
                .entry(id)
                .or_insert_with(|| (resource, BTreeSet::new()))
                .1
                .insert((namespace, r.name));
        }
        if !unknown.is_empty() {
            let kinds: Vec<String> = unknown.into_iter().collect();
            self.note(format!(
                "inventories name kinds the cluster does not serve: {}",
                kinds.join(", ")
            ));
        }
        let total: usize = wanted.values().map(|(_, keys)| keys.len()).sum();
        if total > MAX_INVENTORY_OBJECTS {
            self.note(format!(
                "inventories name {total} objects of kinds not captured whole; the first \
                 {MAX_INVENTORY_OBJECTS} were fetched"
            ));
        }
        let mut budget = MAX_INVENTORY_OBJECTS;
        let mut tasks: Vec<(Resource, Vec<(String, String)>)> = Vec::new();
        for (resource, keys) in wanted.into_values() {
            let keys: Vec<(String, String)> = keys.into_iter().take(budget).collect();
            budget -= keys.len();
            if !keys.is_empty() {
                tasks.push((resource, keys));
            }
        }
        for (resource, keys) in tasks {
            (self.progress)(&format!(
                "fetching {} {} named by inventories",
                keys.len(),
                snapshot::qualified(&resource)
            ));
            let building = self.fetch_named(&resource, &keys);
            collections.insert((resource.group.clone(), resource.plural.clone()), building);
        }
    }

    /// The objects `keys` names, as a partial collection (absent ones recorded).
    fn fetch_named(&self, resource: &Resource, keys: &[(String, String)]) -> Building {
        let mut building = Building {
            header: header_of(resource, false),
            objects: Vec::new(),
            refs: Vec::new(),
            pods: Vec::new(),
        };
        let mut absent = Vec::new();
        if keys.len() > LIST_INSTEAD_OF_GETS && resource.supports("list") {
            let wanted: BTreeSet<&(String, String)> = keys.iter().collect();
            let mut found = BTreeSet::new();
            let result = self
                .cluster
                .list(resource, &ListOptions::default(), |item| {
                    let key = (
                        item["metadata"]["namespace"]
                            .as_str()
                            .unwrap_or("")
                            .to_string(),
                        item["metadata"]["name"].as_str().unwrap_or("").to_string(),
                    );
                    if wanted.contains(&key) {
                        found.insert(key);
                        self.keep(item, &mut building);
                    }
                    ControlFlow::Continue(())
                });
            match result {
                Ok(info) => {
                    building.header.resource_version = info.resource_version;
                    absent.extend(keys.iter().filter(|k| !found.contains(*k)).cloned());
                }
                Err(e) => self.note(format!(
                    "{} named by inventories not captured: {e}",
                    snapshot::qualified(resource)
                )),
            }
        } else {
            let next = AtomicUsize::new(0);
            let got: Mutex<Vec<(usize, Result<Value, kube::Error>)>> = Mutex::new(Vec::new());
            std::thread::scope(|s| {
                for _ in 0..WORKERS.min(keys.len()) {
                    s.spawn(|| {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some((ns, name)) = keys.get(i) else { break };
                            let one = self.cluster.get(resource, ns, name);
                            crate::sync::lock(&got).push((i, one));
                        }
                    });
                }
            });
            let mut got = crate::sync::unpoisoned(got.into_inner());
            got.sort_by_key(|(i, _)| *i);
            let mut failed = 0;
            for (i, result) in got {
                match result {
                    Ok(item) => self.keep(item, &mut building),
                    Err(e) if e.is_not_found() => absent.push(keys[i].clone()),
                    Err(_) => failed += 1,
                }
            }
            if failed > 0 {
                self.note(format!(
                    "{failed} {} named by inventories could not be read",
                    snapshot::qualified(resource)
                ));
            }
            building.header.resource_version = "1".into();
        }
        building.header.absent = absent
            .into_iter()
            .map(|(ns, name)| {
                if ns.is_empty() {
                    name
                } else {
                    format!("{ns}/{name}")
                }
            })
            .collect();
        building
    }

    fn in_scope(&self, namespace: &str) -> bool {
        self.namespaces.is_empty()
            || namespace.is_empty()
            || self.namespaces.iter().any(|n| n == namespace)
    }

    /// Log tails: Flux controllers first, then failing pods (most restarts first), then the
    /// rest, within [`MAX_LOG_PODS`] pods and [`MAX_LOG_TOTAL`] bytes.
    fn logs(&self, collections: &Collections) -> Vec<(LogHeader, Vec<u8>)> {
        let mut pods: Vec<&PodInfo> = collections.values().flat_map(|b| &b.pods).collect();
        pods.sort_by_key(|p| {
            (
                !p.flux,
                !p.failing,
                std::cmp::Reverse(p.restarts),
                p.namespace.clone(),
                p.name.clone(),
            )
        });
        if pods.len() > MAX_LOG_PODS {
            self.note(format!(
                "logs saved for {MAX_LOG_PODS} of {} pods (Flux controllers and failing pods \
                 first)",
                pods.len()
            ));
            pods.truncate(MAX_LOG_PODS);
        }
        let mut reads: Vec<(LogHeader, u64, u64)> = Vec::new();
        for p in &pods {
            let (lines, limit) = if p.flux || p.failing {
                (LOG_TAIL_LINES, LOG_BYTES)
            } else {
                (OTHER_LOG_TAIL_LINES, OTHER_LOG_BYTES)
            };
            for (container, has_previous) in &p.containers {
                for previous in [false, true] {
                    if previous && !has_previous {
                        continue;
                    }
                    reads.push((
                        LogHeader {
                            namespace: p.namespace.clone(),
                            pod: p.name.clone(),
                            container: container.clone(),
                            previous,
                            complete: false,
                            refused: String::new(),
                        },
                        lines,
                        limit,
                    ));
                }
            }
        }
        let total = reads.len();
        let next = AtomicUsize::new(0);
        let done = AtomicUsize::new(0);
        let saved_bytes = AtomicUsize::new(0);
        let out: Mutex<Vec<(usize, LogHeader, Vec<u8>)>> = Mutex::new(Vec::new());
        let failures = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..WORKERS.min(total) {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((header, lines, limit)) = reads.get(i) else {
                            break;
                        };
                        if saved_bytes.load(Ordering::Relaxed) >= MAX_LOG_TOTAL {
                            break;
                        }
                        if let Some((h, text)) = self.read_log(header, *lines, *limit) {
                            saved_bytes.fetch_add(text.len(), Ordering::Relaxed);
                            crate::sync::lock(&out).push((i, h, text));
                        } else {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                        let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                        (self.progress)(&format!("read {finished}/{total} logs"));
                    }
                });
            }
        });
        if done.load(Ordering::Relaxed) < total {
            self.note(format!(
                "logs stopped at {} MiB in all: {} of {total} container logs saved",
                MAX_LOG_TOTAL >> 20,
                done.load(Ordering::Relaxed)
            ));
        }
        let failed = failures.load(Ordering::Relaxed);
        if failed > 0 {
            self.note(format!("{failed} container logs could not be read"));
        }
        let mut out = crate::sync::unpoisoned(out.into_inner());
        out.sort_by_key(|(i, _, _)| *i);
        out.into_iter().map(|(_, h, t)| (h, t)).collect()
    }

    /// One log tail with timestamps, credential-shaped text masked; an API refusal is saved
    /// as such (it is the answer the server gives); `None` for anything else.
    fn read_log(&self, header: &LogHeader, lines: u64, limit: u64) -> Option<(LogHeader, Vec<u8>)> {
        let options = LogOptions {
            container: Some(header.container.clone()),
            tail_lines: Some(lines),
            limit_bytes: Some(limit),
            previous: header.previous,
            since_seconds: None,
        };
        let mut header = header.clone();
        match self
            .cluster
            .logs_with_timestamps(&header.namespace, &header.pod, &options)
        {
            Ok(logs) => {
                let count = logs.text.lines().count() as u64;
                header.complete = !logs.truncated && count < lines;
                let masked = redact::mask(&logs.text).into_owned();
                Some((header, masked.into_bytes()))
            }
            Err(kube::Error::Api { status, .. }) if status.code == 400 => {
                header.refused = status.message.clone();
                Some((header, Vec::new()))
            }
            Err(_) => None,
        }
    }
}

fn header_of(r: &Resource, complete: bool) -> CollectionHeader {
    CollectionHeader {
        group: r.group.clone(),
        version: r.version.clone(),
        kind: r.kind.clone(),
        plural: r.plural.clone(),
        namespaced: r.namespaced,
        resource_version: String::new(),
        complete,
        absent: Vec::new(),
    }
}

/// The object as saved: the tools' security pass (no `managedFields`, no last-applied copy,
/// Secret values as their sizes), credential-shaped values masked, compact JSON.
fn prepare(mut item: Value) -> Option<SavedObject> {
    let namespace = item["metadata"]["namespace"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let name = item["metadata"]["name"].as_str()?.to_string();
    let secrets = holds_secret(&item);
    // The reduced Helm payload is no secret and must survive the masking.
    let helm_release = if item["type"] == "helm.sh/release.v1" {
        item.get_mut("data")
            .and_then(Value::as_object_mut)
            .and_then(|d| d.remove("release"))
            .filter(|r| r.as_str().is_some_and(|s| !s.is_empty()))
    } else {
        None
    };
    lean::sanitize(&mut item, true);
    if let Some(release) = helm_release
        && let Some(data) = item.get_mut("data").and_then(Value::as_object_mut)
    {
        data.insert("release".into(), release);
    }
    mask_credentials(&mut item);
    let json = serde_json::to_vec(&item).ok()?;
    Some(SavedObject {
        namespace,
        name,
        secrets,
        json,
    })
}

/// Whether `v` is, or holds, a core Secret (a ResourceSet's resources, a List).
fn holds_secret(v: &Value) -> bool {
    match v {
        Value::Object(map) => {
            (map.get("kind").and_then(Value::as_str) == Some("Secret")
                && map.get("apiVersion").and_then(Value::as_str) == Some("v1"))
                || map.values().any(holds_secret)
        }
        Value::Array(items) => items.iter().any(holds_secret),
        _ => false,
    }
}

/// Credential-shaped values the tools would show verbatim, masked for a file that leaves the
/// cluster: env values whose variable name says credential (`DB_PASSWORD`), ConfigMap data
/// (credential-shaped text and values of credential-named keys), and values of credential-
/// named keys in a HelmRelease's `spec.values`.
fn mask_credentials(item: &mut Value) {
    // `get_mut` throughout: indexing a map mutably would add the fields it looks for.
    let kind = item["kind"].as_str().unwrap_or("").to_string();
    if let Some(spec) = item.get_mut("spec") {
        for pointer in ["/template/spec", "/jobTemplate/spec/template/spec", ""] {
            let Some(pod_spec) = spec.pointer_mut(pointer) else {
                continue;
            };
            for list in ["initContainers", "containers", "ephemeralContainers"] {
                let containers = pod_spec.get_mut(list).and_then(Value::as_array_mut);
                for container in containers.into_iter().flatten() {
                    let env = container.get_mut("env").and_then(Value::as_array_mut);
                    for var in env.into_iter().flatten() {
                        let named = var
                            .get("name")
                            .and_then(Value::as_str)
                            .is_some_and(redact::is_credential_name);
                        let Some(value) = var.get_mut("value") else {
                            continue;
                        };
                        if let (true, Some(text)) = (named, value.as_str())
                            && !text.is_empty()
                        {
                            *value = Value::String(redact::placeholder(text.len()));
                        }
                    }
                }
            }
        }
    }
    match kind.as_str() {
        "ConfigMap" => {
            if let Some(data) = item.get_mut("data").and_then(Value::as_object_mut) {
                for (key, value) in data.iter_mut() {
                    let Some(text) = value.as_str() else { continue };
                    let masked = if redact::is_credential_name(key) && !text.is_empty() {
                        redact::placeholder(text.len())
                    } else {
                        redact::mask(text).into_owned()
                    };
                    *value = Value::String(masked);
                }
            }
        }
        "HelmRelease" => {
            if let Some(values) = item.pointer_mut("/spec/values") {
                mask_named_values(values);
            }
        }
        _ => {}
    }
}

/// Every string under a credential-named key, at any depth, becomes its placeholder.
fn mask_named_values(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match value {
                    Value::String(s) if !s.is_empty() && redact::is_credential_name(key) => {
                        *value = Value::String(redact::placeholder(s.len()));
                    }
                    other => mask_named_values(other),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_named_values),
        _ => {}
    }
}

/// What choosing a pod's logs needs: whether it is a Flux controller, whether it is failing,
/// its containers and which have a previous instance.
fn pod_info(pod: &Value) -> PodInfo {
    let labels = &pod["metadata"]["labels"];
    let namespace = pod["metadata"]["namespace"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let flux = labels["app.kubernetes.io/part-of"] == "flux"
        || labels["app.kubernetes.io/name"] == "flux-operator"
        || namespace == super::flux::FLUX_NAMESPACE;
    let status = &pod["status"];
    let phase = status["phase"].as_str().unwrap_or("");
    let statuses: Vec<&Value> = ["initContainerStatuses", "containerStatuses"]
        .iter()
        .filter_map(|k| status[*k].as_array())
        .flatten()
        .collect();
    let status_of = |name: &str| statuses.iter().find(|s| s["name"] == name).copied();
    let mut restarts = 0;
    let mut failing = phase == "Failed" || phase == "Unknown";
    for s in &statuses {
        restarts += s["restartCount"].as_u64().unwrap_or(0);
        let waiting = s["state"]["waiting"]["reason"].as_str().unwrap_or("");
        let exit = s["state"]["terminated"]["exitCode"].as_i64().unwrap_or(0);
        if s["restartCount"].as_u64().unwrap_or(0) > 0
            || (!waiting.is_empty()
                && waiting != "PodInitializing"
                && waiting != "ContainerCreating")
            || exit != 0
        {
            failing = true;
        }
    }
    let mut containers = Vec::new();
    for list in ["initContainers", "containers"] {
        for c in pod["spec"][list].as_array().into_iter().flatten() {
            let Some(name) = c["name"].as_str() else {
                continue;
            };
            let previous = status_of(name).is_some_and(|s| {
                s["restartCount"].as_u64().unwrap_or(0) > 0
                    || s["lastState"]["terminated"].is_object()
            });
            containers.push((name.to_string(), previous));
        }
    }
    PodInfo {
        name: pod["metadata"]["name"].as_str().unwrap_or("").to_string(),
        namespace,
        flux,
        failing,
        containers,
        restarts,
    }
}

/// The objects a Flux object's `status.inventory` names (`entries: [{id, v}]`, id
/// `<namespace>_<name>_<group>_<kind>`).
fn inventory_refs(obj: &Value) -> Vec<Ref> {
    let group = obj["apiVersion"].as_str().unwrap_or("");
    if !is_flux_group(group.split('/').next().unwrap_or("")) {
        return Vec::new();
    }
    let entries = obj["status"]["inventory"]["entries"].as_array();
    entries
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let id = e["id"].as_str()?;
            let version = e["v"].as_str().unwrap_or("");
            let (namespace, rest) = id.split_once('_')?;
            let (rest, kind) = rest.rsplit_once('_')?;
            let (name, group) = rest.rsplit_once('_')?;
            if kind.is_empty() || name.is_empty() {
                return None;
            }
            let api_version = match (group, version) {
                ("", "") => "v1".to_string(),
                ("", v) => v.to_string(),
                (g, "") => g.to_string(),
                (g, v) => format!("{g}/{v}"),
            };
            Some(Ref {
                api_version,
                kind: kind.to_string(),
                namespace: namespace.to_string(),
                name: name.to_string(),
            })
        })
        .collect()
}

/// A Helm secret-driver payload (`data.release` as the API returns it) reduced to the release
/// fields the inventory reads and a manifest of references, then padded so its decoded size
/// is the original's (the tools print Secret values as their size). Returns the new value
/// and the objects the release manages.
fn reduce_release(api_value: &str) -> Result<(String, Vec<Ref>), String> {
    if api_value.len() > helm::MAX_ENCODED {
        return Err("the payload is over the size limit".into());
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let helm_text = b64
        .decode(api_value.trim())
        .map_err(|_| "the Secret value is not base64".to_string())?;
    let payload = b64
        .decode(helm_text.trim_ascii())
        .map_err(|_| "the Helm release text is not base64".to_string())?;
    let json = if payload.starts_with(&[0x1f, 0x8b]) {
        helm::gunzip(&payload, helm::MAX_DECODED).map_err(|e| e.to_string())?
    } else {
        payload
    };
    let release: Value =
        serde_json::from_slice(&json).map_err(|_| "the release is not JSON".to_string())?;
    let manifest = release["manifest"].as_str().unwrap_or("");
    let release_ns = release["namespace"].as_str().unwrap_or("");
    let (reduced_manifest, refs) = reduce_manifest(manifest, release_ns);
    let mut kept = Map::new();
    for key in ["name", "namespace", "version"] {
        if let Some(v) = release.get(key) {
            kept.insert(key.into(), v.clone());
        }
    }
    kept.insert("info".into(), json!({"status": release["info"]["status"]}));
    let chart = &release["chart"]["metadata"];
    kept.insert(
        "chart".into(),
        json!({"metadata": {"name": chart["name"], "version": chart["version"], "appVersion": chart["appVersion"]}}),
    );
    kept.insert("manifest".into(), Value::String(reduced_manifest));
    let body = serde_json::to_vec(&Value::Object(kept)).map_err(|e| e.to_string())?;
    let target = helm_text.trim_ascii().len();
    let gz = gzip_padded(&body, target);
    let new_text = b64.encode(gz);
    Ok((b64.encode(new_text), refs))
}

/// A gzip member of `data` whose base64 text is `target` bytes long when that can be reached
/// by padding the header's comment field (FCOMMENT), else as short as it comes.
fn gzip_padded(data: &[u8], target: usize) -> Vec<u8> {
    const FCOMMENT: u8 = 0x10;
    let deflated = miniz_oxide::deflate::compress_to_vec(data, 6);
    // header (10) + comment + NUL + deflate + CRC and size (8)
    let bare = 10 + 1 + deflated.len() + 8;
    // Standard base64 of n bytes is 4 * ceil(n / 3) long: aim at n = 3 * target / 4.
    let wanted = if target.is_multiple_of(4) {
        target / 4 * 3
    } else {
        0
    };
    let comment = wanted.saturating_sub(bare);
    let mut out = Vec::with_capacity(bare + comment);
    out.extend_from_slice(&[0x1f, 0x8b, 8, FCOMMENT, 0, 0, 0, 0, 0, 255]);
    out.extend(std::iter::repeat_n(b' ', comment));
    out.push(0);
    out.extend_from_slice(&deflated);
    out.extend_from_slice(&helm::crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// A Helm manifest as references: each document's apiVersion, kind, name and namespace, and
/// the container images of a pod spec it carries, written one JSON document per YAML
/// document (JSON is YAML) so document numbers stay the same; a document that does not parse
/// is replaced by one that does not either, and ends the manifest as it ends Helm's reading.
fn reduce_manifest(manifest: &str, release_ns: &str) -> (String, Vec<Ref>) {
    let mut out = String::new();
    let mut refs = Vec::new();
    for doc in serde_norway::Deserializer::from_str(manifest) {
        let Ok(value) = <Value as serde::Deserialize>::deserialize(doc) else {
            out.push_str("---\n\"unreadable\": [\n");
            break;
        };
        let reduced = match value.get("items").and_then(Value::as_array) {
            Some(items) if value["kind"].as_str().is_some_and(|k| k.ends_with("List")) => {
                let items: Vec<Value> = items
                    .iter()
                    .map(|i| reduce_object(i, release_ns, &mut refs))
                    .collect();
                json!({"apiVersion": value["apiVersion"], "kind": value["kind"], "items": items})
            }
            _ if value.is_object() => reduce_object(&value, release_ns, &mut refs),
            _ => Value::Null,
        };
        out.push_str("---\n");
        out.push_str(&reduced.to_string());
        out.push('\n');
    }
    (out, refs)
}

fn reduce_object(obj: &Value, release_ns: &str, refs: &mut Vec<Ref>) -> Value {
    let mut out = Map::new();
    for key in ["apiVersion", "kind"] {
        if let Some(v) = obj.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    let mut meta = Map::new();
    for key in ["name", "namespace"] {
        if let Some(v) = obj["metadata"].get(key) {
            meta.insert(key.into(), v.clone());
        }
    }
    out.insert("metadata".into(), Value::Object(meta));
    let spec = &obj["spec"];
    for (path, pointer) in [
        ("template", "/template/spec"),
        ("jobTemplate", "/jobTemplate/spec/template/spec"),
        ("", ""),
    ] {
        let Some(pod_spec) = spec.pointer(pointer) else {
            continue;
        };
        if pod_spec.get("containers").is_none() {
            continue;
        }
        let mut kept = Map::new();
        for list in ["initContainers", "containers"] {
            if let Some(cs) = pod_spec[list].as_array() {
                let cs: Vec<Value> = cs
                    .iter()
                    .map(|c| json!({"name": c["name"], "image": c["image"]}))
                    .collect();
                kept.insert(list.into(), Value::Array(cs));
            }
        }
        let spec_out = match path {
            "template" => json!({"template": {"spec": kept}}),
            "jobTemplate" => json!({"jobTemplate": {"spec": {"template": {"spec": kept}}}}),
            _ => Value::Object(kept),
        };
        out.insert("spec".into(), spec_out);
        break;
    }
    if let (Some(api_version), Some(kind), Some(name)) = (
        obj["apiVersion"].as_str(),
        obj["kind"].as_str(),
        obj["metadata"]["name"].as_str(),
    ) {
        let namespace = obj["metadata"]["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or(release_ns);
        refs.push(Ref {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            // Resolved against discovery later: a cluster-scoped kind drops it.
            namespace: namespace.to_string(),
            name: name.to_string(),
        });
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_value(release: &Value) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        let gz = gzip_padded(release.to_string().as_bytes(), 0);
        b64.encode(b64.encode(gz))
    }

    const MANIFEST: &str = "---
# Source: web/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: web-creds
stringData:
  password: hunter2-hunter2
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: other
spec:
  template:
    spec:
      initContainers:
      - name: init
        image: busybox:1.36
      containers:
      - name: app
        image: ghcr.io/acme/web:1.2.3
        env:
        - name: TOKEN
          value: s3cr3t-t0ken
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: job
            image: ghcr.io/acme/job:2
";

    fn release(manifest: &str) -> Value {
        json!({
            "name": "web", "namespace": "apps", "version": 3,
            "info": {"status": "deployed", "notes": "admin password: hunter2-hunter2"},
            "chart": {"metadata": {"name": "web", "version": "1.0.0"}, "templates": [{"data": "aGk="}]},
            "config": {"password": "hunter2-hunter2"},
            "manifest": manifest,
        })
    }

    /// The reduced payload reads, through the tools' own decoder, as the same inventory, and
    /// has the original's decoded size; nothing secret is left in it.
    #[test]
    fn a_reduced_release_keeps_the_inventory_and_the_size_but_no_values() {
        let original = api_value(&release(MANIFEST));
        let (reduced, refs) = reduce_release(&original).expect("reduce");
        let namespaced = |_: &str, _: &str| Some(true);
        let before = helm::decode_release(&original, namespaced).expect("original");
        let after = helm::decode_release(&reduced, namespaced).expect("reduced");
        assert_eq!(after, before);
        let b64 = base64::engine::general_purpose::STANDARD;
        let decoded_len = |v: &str| b64.decode(v).expect("base64").len();
        assert_eq!(decoded_len(&reduced), decoded_len(&original));
        let text = String::from_utf8(
            helm::gunzip(&b64.decode(b64.decode(&reduced).unwrap()).unwrap(), 1 << 20).unwrap(),
        )
        .unwrap();
        for secret in ["hunter2", "s3cr3t", "aGk=", "notes"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        let names: Vec<(&str, &str, &str)> = refs
            .iter()
            .map(|r| (r.kind.as_str(), r.namespace.as_str(), r.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("Secret", "apps", "web-creds"),
                ("Deployment", "other", "web"),
                ("CronJob", "apps", "nightly")
            ]
        );
    }

    /// A manifest that stops parsing part-way still stops at the same document.
    #[test]
    fn an_unreadable_document_stays_unreadable_at_the_same_place() {
        let broken = format!(
            "{MANIFEST}---\nkind: [unclosed\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: after\n"
        );
        let original = api_value(&release(&broken));
        let (reduced, _) = reduce_release(&original).expect("reduce");
        let namespaced = |_: &str, _: &str| Some(true);
        let before = helm::decode_release(&original, namespaced).expect("original");
        let after = helm::decode_release(&reduced, namespaced).expect("reduced");
        assert_eq!(before.first_unreadable_document, Some(4));
        assert_eq!(after, before);
    }

    #[test]
    fn secrets_keep_keys_and_sizes_and_are_flagged() {
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "apps",
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"password\":\"aHVudGVyMg==\"}}"},
                "managedFields": [{"manager": "kubectl"}]},
            "data": {"password": "aHVudGVyMg==", "user": "YWRtaW4="}});
        let saved = prepare(secret).expect("saved");
        assert!(saved.secrets);
        let text = String::from_utf8(saved.json).unwrap();
        assert!(
            !text.contains("aHVudGVyMg") && !text.contains("YWRtaW4"),
            "{text}"
        );
        assert!(
            text.contains("<masked: 7 bytes>") && text.contains("<masked: 5 bytes>"),
            "{text}"
        );
        assert!(
            !text.contains("managedFields") && !text.contains("last-applied"),
            "{text}"
        );
        let plain = prepare(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "apps"}, "data": {"a": "b"}}))
        .expect("saved");
        assert!(!plain.secrets);
    }

    #[test]
    fn credential_named_values_are_masked() {
        let mut deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "apps"},
            "spec": {"template": {"spec": {"containers": [{"name": "app", "env": [
                {"name": "DB_PASSWORD", "value": "hunter2"},
                {"name": "LOG_LEVEL", "value": "debug"},
                {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}]}}}});
        mask_credentials(&mut deploy);
        let env = &deploy["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(env[0]["value"], "<masked: 7 bytes>");
        assert_eq!(env[1]["value"], "debug");
        assert!(env[2]["valueFrom"].is_object());
        let mut hr = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "r"}, "spec": {"values": {"auth": {"password": "pw-123",
            "existingSecret": "creds"}, "replicas": 2}}});
        mask_credentials(&mut hr);
        assert_eq!(
            hr["spec"]["values"]["auth"]["password"],
            "<masked: 6 bytes>"
        );
        assert_eq!(hr["spec"]["values"]["auth"]["existingSecret"], "creds");
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"app.conf": "user=a\npassword=hunter22\n", "api_key": "abc123", "mode": "fast"}});
        mask_credentials(&mut cm);
        assert!(
            !cm["data"]["app.conf"]
                .as_str()
                .unwrap()
                .contains("hunter22")
        );
        assert_eq!(cm["data"]["api_key"], "<masked: 6 bytes>");
        assert_eq!(cm["data"]["mode"], "fast");
    }

    /// Masking never adds the fields it looks for.
    #[test]
    fn masking_leaves_other_objects_as_they_were() {
        for original in [
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
            json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                "metadata": {"name": "r"}, "spec": {"interval": "5m"}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                "spec": {"template": {"spec": {"containers": [{"name": "app"}]}}}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}),
        ] {
            let mut v = original.clone();
            mask_credentials(&mut v);
            assert_eq!(v, original);
            let saved = prepare(original.clone()).expect("saved");
            let back: Value = serde_json::from_slice(&saved.json).unwrap();
            assert_eq!(back, original);
        }
    }

    #[test]
    fn inventory_ids_become_references() {
        let ks = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "status": {"inventory": {"entries": [
                {"id": "apps_podinfo_apps_Deployment", "v": "v1"},
                {"id": "_cluster-admin_rbac.authorization.k8s.io_ClusterRole", "v": "v1"},
                {"id": "apps_podinfo__ConfigMap", "v": "v1"},
                {"id": "apps_name_with_underscores__ServiceAccount", "v": "v1"},
                {"id": "broken"}]}}});
        let refs: Vec<(String, String, String, String)> = inventory_refs(&ks)
            .into_iter()
            .map(|r| (r.api_version, r.kind, r.namespace, r.name))
            .collect();
        let s = |a: &str, b: &str, c: &str, d: &str| (a.into(), b.into(), c.into(), d.into());
        assert_eq!(
            refs,
            [
                s("apps/v1", "Deployment", "apps", "podinfo"),
                s(
                    "rbac.authorization.k8s.io/v1",
                    "ClusterRole",
                    "",
                    "cluster-admin"
                ),
                s("v1", "ConfigMap", "apps", "podinfo"),
                s("v1", "ServiceAccount", "apps", "name_with_underscores"),
            ]
        );
        // Not a Flux object: its status is not an inventory.
        let other = json!({"apiVersion": "example.com/v1", "status": ks["status"]});
        assert!(inventory_refs(&other).is_empty());
    }

    #[test]
    fn failing_pods_and_their_previous_logs_are_recognised() {
        let pod = json!({"metadata": {"name": "redis-0", "namespace": "apps"},
            "spec": {"containers": [{"name": "redis"}], "initContainers": [{"name": "init"}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "redis", "restartCount": 7,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1}}}]}});
        let info = pod_info(&pod);
        assert!(info.failing && !info.flux);
        assert_eq!(info.restarts, 7);
        assert_eq!(
            info.containers,
            [("init".to_string(), false), ("redis".to_string(), true)]
        );
        let healthy = json!({"metadata": {"name": "p", "namespace": "flux-system",
            "labels": {"app.kubernetes.io/part-of": "flux"}},
            "spec": {"containers": [{"name": "manager"}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "manager", "restartCount": 0,
                "state": {"running": {}}}]}});
        let info = pod_info(&healthy);
        assert!(info.flux && !info.failing);
    }

    #[test]
    fn default_names_are_file_safe() {
        assert_eq!(
            default_name(
                "arn:aws:eks:eu-west-1:123:cluster/prod",
                "2026-11-21T05:12:00Z"
            ),
            "arn_aws_eks_eu-west-1_123_cluster_prod-20261121T051200Z.snapshot"
        );
    }
}
