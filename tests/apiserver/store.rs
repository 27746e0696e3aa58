//! The objects the test server holds: loaded from YAML/JSON files under the data directory (plus
//! extra and synthetic objects), completed the way the API server completes stored objects (uid,
//! resourceVersion, generation, managedFields, CRD status), kept per type in etcd key order
//! (`kube::paging::ObjectKey`) with each type's merge schema, and stored, replaced or removed by
//! the write path (`writes.rs`), which bumps the resourceVersion on every change. Also the pod
//! logs under `<data>/logs/`.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use flux_operator_mcp::kube::paging::ObjectKey;
use serde::Deserialize;
use serde_json::{Value, json};

use super::managed_fields;
use super::resources::{self, Registry, ResourceType};
use super::schema::{self, Node};

/// `creationTimestamp` given to loaded objects that have none.
const DEFAULT_CREATION: &str = "2026-11-12T09:30:00Z";

/// N copies of one kind, made from the first object of that kind in the data (or a minimal one),
/// for big-list tests and benchmarks.
#[derive(Clone, Debug)]
pub struct Synthetic {
    /// `group/version` or `v1`.
    pub api_version: String,
    pub kind: String,
    /// Namespace of the copies (ignored for cluster-scoped kinds).
    pub namespace: String,
    pub count: usize,
}

impl Synthetic {
    pub fn new(api_version: &str, kind: &str, namespace: &str, count: usize) -> Synthetic {
        Synthetic {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            count,
        }
    }
}

/// Why the data could not be loaded. Names the file and the document.
#[derive(Debug)]
pub enum LoadError {
    Io(PathBuf, std::io::Error),
    Parse(PathBuf, usize, String),
    Object(String, String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            LoadError::Parse(p, doc, e) => write!(f, "{}: document {doc}: {e}", p.display()),
            LoadError::Object(origin, e) => write!(f, "{origin}: {e}"),
        }
    }
}

/// Objects are kept under their etcd key, which orders them as lists come back.
pub type Key = ObjectKey;

/// One container's log, lines prefixed with an RFC 3339 timestamp and a space (as the kubelet's
/// CRI log files hold them). Bytes, not text: a container may write anything, and the kubelet
/// serves it as written (invalid UTF-8 included).
#[derive(Clone, Debug, Default)]
pub struct Logs(BTreeMap<(String, String, String, bool), Vec<u8>>);

impl Logs {
    pub fn get(&self, ns: &str, pod: &str, container: &str, previous: bool) -> Option<&[u8]> {
        self.0
            .get(&(ns.into(), pod.into(), container.into(), previous))
            .map(Vec::as_slice)
    }

    fn load(dir: &Path) -> Result<Logs, LoadError> {
        let mut logs = BTreeMap::new();
        if !dir.is_dir() {
            return Ok(Logs(logs));
        }
        for ns in read_dir_sorted(dir)? {
            for pod in read_dir_sorted(&ns)? {
                for file in read_dir_sorted(&pod)? {
                    let Some(file_name) = file.file_name().and_then(|n| n.to_str()) else {
                        continue;
                    };
                    let (container, previous) =
                        if let Some(c) = file_name.strip_suffix(".previous.log") {
                            (c, true)
                        } else if let Some(c) = file_name.strip_suffix(".log") {
                            (c, false)
                        } else {
                            continue;
                        };
                    let text = std::fs::read(&file).map_err(|e| LoadError::Io(file.clone(), e))?;
                    let name = |p: &Path| {
                        p.file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default()
                    };
                    logs.insert(
                        (name(&ns), name(&pod), container.to_string(), previous),
                        text,
                    );
                }
            }
        }
        Ok(Logs(logs))
    }
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| LoadError::Io(dir.to_path_buf(), e))? {
        paths.push(
            entry
                .map_err(|e| LoadError::Io(dir.to_path_buf(), e))?
                .path(),
        );
    }
    paths.sort();
    Ok(paths)
}

/// Every object, per type.
pub struct Store {
    pub registry: Registry,
    objects: Vec<BTreeMap<Key, Value>>,
    /// How each type's fields merge (apply, strategic merge patch, managedFields).
    schemas: Vec<Node>,
    resource_version: u64,
    pub logs: Logs,
}

/// An object read from a file, with where it came from.
struct Loaded {
    origin: String,
    object: Value,
}

fn read_documents(path: &Path, out: &mut Vec<Loaded>) -> Result<(), LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::Io(path.to_path_buf(), e))?;
    let mut docs = Vec::new();
    if path.extension().is_some_and(|e| e == "json") {
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| LoadError::Parse(path.to_path_buf(), 1, e.to_string()))?;
        docs.push(v);
    } else {
        for (i, doc) in serde_norway::Deserializer::from_str(&text).enumerate() {
            let v = Value::deserialize(doc)
                .map_err(|e| LoadError::Parse(path.to_path_buf(), i + 1, e.to_string()))?;
            docs.push(v);
        }
    }
    for (i, doc) in docs.into_iter().enumerate() {
        let origin = format!("{}: document {}", path.display(), i + 1);
        match doc {
            Value::Null => {}
            // `kind: List` files (kubectl get -o yaml output) hold their objects in items.
            Value::Object(ref m) if m.get("kind").and_then(Value::as_str) == Some("List") => {
                for item in m
                    .get("items")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    out.push(Loaded {
                        origin: origin.clone(),
                        object: item.clone(),
                    });
                }
            }
            Value::Object(_) => out.push(Loaded {
                origin,
                object: doc,
            }),
            _ => {
                return Err(LoadError::Parse(
                    path.to_path_buf(),
                    i + 1,
                    "not a mapping".into(),
                ));
            }
        }
    }
    Ok(())
}

/// The objects of the data files under `dir`, as the server loads them (`kind: List` files
/// unpacked, `logs/` skipped), before it completes them: for tests that compare the server's
/// answers with the data.
pub fn data_objects(dir: &Path) -> Result<Vec<Value>, LoadError> {
    Ok(read_data(dir)?.into_iter().map(|l| l.object).collect())
}

/// Every document of the data files under `dir`, in path order, with where it came from.
fn read_data(dir: &Path) -> Result<Vec<Loaded>, LoadError> {
    let mut files = Vec::new();
    collect_files(dir, &mut files)?;
    let mut loaded = Vec::new();
    for f in &files {
        read_documents(f, &mut loaded)?;
    }
    Ok(loaded)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    for path in read_dir_sorted(dir)? {
        if path.is_dir() {
            // Pod logs live under logs/ and are not API objects.
            if path.file_name().is_some_and(|n| n == "logs") {
                continue;
            }
            collect_files(&path, out)?;
        } else if path
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            out.push(path);
        }
    }
    Ok(())
}

/// `source.toolkit.fluxcd.io/v1` → (group, version); `v1` → ("", "v1").
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

/// A uid that looks like the API server's (UUID v4 layout) and is stable for a given object.
fn stable_uid(seed: &str) -> String {
    let a = resources::fnv1a(seed.as_bytes());
    let b = resources::fnv1a(format!("{seed}#uid").as_bytes());
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-4{}-{}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        ["8", "9", "a", "b"][(b & 3) as usize],
        &hex[17..20],
        &hex[20..32]
    )
}

/// The status the API server gives an established CRD.
fn complete_crd_status(crd: &mut Value) {
    if crd.get("status").is_some() {
        return;
    }
    let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let stored: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v["storage"].as_bool() == Some(true))
        .map(|v| v["name"].clone())
        .collect();
    let created = crd
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_CREATION)
        .to_string();
    crd["status"] = json!({
        "acceptedNames": names,
        "conditions": [
            {"lastTransitionTime": created, "message": "no conflicts found", "reason": "NoConflicts", "status": "True", "type": "NamesAccepted"},
            {"lastTransitionTime": created, "message": "the initial names have been accepted", "reason": "InitialNamesAccepted", "status": "True", "type": "Established"},
        ],
        "storedVersions": stored,
    });
}

impl Store {
    /// Load every `*.yaml`, `*.yml` and `*.json` under `data_dir` (except `logs/`), then `extra`
    /// objects, then the synthetic copies. CRDs among them define the custom types.
    pub fn load(
        data_dir: &Path,
        extra: &[Value],
        synthetic: &[Synthetic],
        no_metrics: bool,
    ) -> Result<Store, LoadError> {
        if !data_dir.is_dir() {
            return Err(LoadError::Io(
                data_dir.to_path_buf(),
                std::io::Error::new(std::io::ErrorKind::NotFound, "data directory not found"),
            ));
        }
        let mut loaded = read_data(data_dir)?;
        for (i, o) in extra.iter().enumerate() {
            loaded.push(Loaded {
                origin: format!("extra object {}", i + 1),
                object: o.clone(),
            });
        }
        let mut crd_types = Vec::new();
        let mut crd_schemas = Vec::new();
        for l in &loaded {
            if l.object["kind"] == "CustomResourceDefinition" {
                let t = resources::type_from_crd(&l.object).map_err(|e| {
                    LoadError::Object(l.origin.clone(), format!("CustomResourceDefinition: {e}"))
                })?;
                crd_schemas.push((
                    (t.group.clone(), t.kind.clone()),
                    schema::for_crd(&l.object),
                ));
                crd_types.push(t);
            }
        }
        let registry = Registry::new(no_metrics, crd_types);
        let schemas = registry
            .types
            .iter()
            .map(|t| {
                crd_schemas
                    .iter()
                    .find(|((g, k), _)| *g == t.group && *k == t.kind)
                    .map(|(_, s)| s.clone())
                    .unwrap_or_else(|| schema::builtin(&t.group, &t.kind))
            })
            .collect();
        let mut store = Store {
            objects: vec![BTreeMap::new(); registry.types.len()],
            schemas,
            registry,
            resource_version: 1000,
            logs: Logs::load(&data_dir.join("logs"))?,
        };
        for l in loaded {
            // Without metrics-server its objects do not exist: drop them rather than fail.
            if no_metrics
                && l.object["apiVersion"]
                    .as_str()
                    .is_some_and(|v| split_api_version(v).0 == resources::METRICS_GROUP)
            {
                continue;
            }
            store
                .admit(l.object)
                .map_err(|e| LoadError::Object(l.origin, e))?;
        }
        for s in synthetic {
            store.add_synthetic(s).map_err(|e| {
                LoadError::Object(format!("synthetic {}/{}", s.api_version, s.kind), e)
            })?;
        }
        store.copy_pod_labels_to_metrics();
        Ok(store)
    }

    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    fn next_resource_version(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    /// How type `t`'s fields merge.
    pub fn schema(&self, t: usize) -> &Node {
        &self.schemas[t]
    }

    /// A uid for an object created through the API: unique in this run, even for a name that
    /// is deleted and created again.
    pub fn fresh_uid(&self, seed: &str) -> String {
        stable_uid(&format!("{seed}#{}", self.resource_version))
    }

    /// Type index of an object by its apiVersion and kind.
    pub fn type_of(&self, obj: &Value) -> Result<usize, String> {
        let api_version = obj["apiVersion"]
            .as_str()
            .ok_or("object has no apiVersion")?;
        let kind = obj["kind"].as_str().ok_or("object has no kind")?;
        let (group, version) = split_api_version(api_version);
        let t = self.registry.by_kind(group, kind).ok_or_else(|| {
            if group == resources::METRICS_GROUP {
                format!("kind {kind:?} of {api_version} is not served (no_metrics)")
            } else {
                format!("no resource type for kind {kind:?} in {api_version:?} (is its CRD in the data?)")
            }
        })?;
        if !self.registry.types[t].serves(version) {
            return Err(format!("{api_version} is not a served version of {kind}"));
        }
        Ok(t)
    }

    /// Complete and store an object read from the data (or generated): uid, creationTimestamp,
    /// generation, managedFields and a CRD's status when it has none. Returns the stored object.
    fn admit(&mut self, mut obj: Value) -> Result<Value, String> {
        let t = self.type_of(&obj)?;
        let ty = self.registry.types[t].clone();
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        let name = obj["metadata"]["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("{} has no metadata.name", ty.kind))?
            .to_string();
        let meta = obj["metadata"]
            .as_object_mut()
            .ok_or("metadata is not a mapping")?;
        let namespace = if ty.namespaced {
            let ns = meta
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_string();
            meta.insert("namespace".into(), json!(ns));
            ns
        } else {
            if meta.contains_key("namespace") {
                return Err(format!(
                    "{} {name:?} is cluster-scoped but has metadata.namespace",
                    ty.kind
                ));
            }
            String::new()
        };
        let key = ObjectKey::new(&namespace, &name);
        if self.objects[t].contains_key(&key) {
            return Err(format!(
                "duplicate {} {}{name}",
                ty.kind,
                if namespace.is_empty() {
                    String::new()
                } else {
                    format!("{namespace}/")
                }
            ));
        }
        // metrics-server's objects are computed, not stored: they carry no uid.
        if ty.group != resources::METRICS_GROUP {
            let seed = format!("{}/{}/{namespace}/{name}", ty.group, ty.kind);
            meta.entry("uid")
                .or_insert_with(|| json!(stable_uid(&seed)));
        }
        if !meta.contains_key("creationTimestamp") {
            meta.insert("creationTimestamp".into(), json!(DEFAULT_CREATION));
        }
        if tracks_generation(&ty) {
            meta.entry("generation").or_insert(json!(1));
        }
        meta.remove("resourceVersion");
        if ty.kind == "CustomResourceDefinition" {
            complete_crd_status(&mut obj);
        }
        if obj["metadata"].get("managedFields").is_none() && ty.group != resources::METRICS_GROUP {
            let created = obj["metadata"]["creationTimestamp"]
                .as_str()
                .unwrap_or(DEFAULT_CREATION)
                .to_string();
            obj["metadata"]["managedFields"] =
                managed_fields::synthesize(&self.schemas[t], &ty, &obj, &created);
        }
        obj["metadata"]["resourceVersion"] = json!(self.next_resource_version());
        self.objects[t].insert(key, obj.clone());
        Ok(obj)
    }

    fn add_synthetic(&mut self, s: &Synthetic) -> Result<(), String> {
        let template = json!({"apiVersion": s.api_version, "kind": s.kind, "metadata": {}});
        let t = self.type_of(&template)?;
        let ty = self.registry.types[t].clone();
        let mut base = self.objects[t].values().next().cloned().unwrap_or(template);
        base["apiVersion"] = json!(s.api_version);
        if let Some(meta) = base["metadata"].as_object_mut() {
            for k in [
                "uid",
                "resourceVersion",
                "managedFields",
                "name",
                "namespace",
            ] {
                meta.remove(k);
            }
        }
        for i in 0..s.count {
            let mut obj = base.clone();
            obj["metadata"]["name"] = json!(format!("{}-{i:05}", ty.singular));
            if ty.namespaced {
                obj["metadata"]["namespace"] = json!(s.namespace);
            }
            obj["metadata"]["labels"]["test.fluxcd.io/synthetic"] = json!("true");
            self.admit(obj)?;
        }
        Ok(())
    }

    /// metrics-server copies a pod's labels onto its PodMetrics (so label selectors work there).
    fn copy_pod_labels_to_metrics(&mut self) {
        let (Some(pods), Some(metrics)) = (
            self.registry.by_kind("", "Pod"),
            self.registry
                .by_kind(resources::METRICS_GROUP, "PodMetrics"),
        ) else {
            return;
        };
        let labels: Vec<(Key, Value)> = self.objects[metrics]
            .keys()
            .filter_map(|k| {
                let l = self.objects[pods].get(k)?.pointer("/metadata/labels")?;
                Some((k.clone(), l.clone()))
            })
            .collect();
        for (k, l) in labels {
            if let Some(m) = self.objects[metrics].get_mut(&k)
                && m.pointer("/metadata/labels").is_none()
            {
                m["metadata"]["labels"] = l;
            }
        }
    }

    pub fn get(&self, t: usize, namespace: &str, name: &str) -> Option<&Value> {
        self.objects[t].get(&ObjectKey::new(namespace, name))
    }

    /// Objects of type `t` in key order from `start` (a page's start, inclusive) to the end.
    pub fn range_from<'a>(
        &'a self,
        t: usize,
        start: Option<&Key>,
    ) -> impl Iterator<Item = (&'a Key, &'a Value)> + 'a {
        let lower = match start {
            Some(k) => Bound::Included(k.clone()),
            None => Bound::Unbounded,
        };
        self.objects[t].range((lower, Bound::Unbounded))
    }

    pub fn count(&self, t: usize) -> usize {
        self.objects[t].len()
    }

    /// Every object of type `t`, in key order.
    pub fn objects(&self, t: usize) -> impl Iterator<Item = (&Key, &Value)> {
        self.objects[t].iter()
    }

    /// Store a new object of type `t` under its name and namespace with the next
    /// resourceVersion; returns it as stored.
    pub fn insert(&mut self, t: usize, mut obj: Value) -> Value {
        let key = ObjectKey::of(&obj);
        obj["metadata"]["resourceVersion"] = json!(self.next_resource_version());
        self.objects[t].insert(key, obj.clone());
        obj
    }

    /// Store a new version of the object at `key` with the next resourceVersion; returns it.
    pub fn put(&mut self, t: usize, key: &Key, mut obj: Value) -> Value {
        obj["metadata"]["resourceVersion"] = json!(self.next_resource_version());
        self.objects[t].insert(key.clone(), obj.clone());
        obj
    }

    /// Remove the object at `key`; the removal is a change, so the resourceVersion moves on, and
    /// the removed object carries the resourceVersion of its deletion.
    pub fn remove(&mut self, t: usize, key: &Key) -> Option<Value> {
        let mut removed = self.objects[t].remove(key)?;
        removed["metadata"]["resourceVersion"] = json!(self.next_resource_version());
        Some(removed)
    }
}

/// Whether objects of `t` carry a `metadata.generation` that moves when their spec changes:
/// custom resources, workloads and CRDs (ConfigMaps, Secrets, Pods, ... have none).
pub fn tracks_generation(t: &ResourceType) -> bool {
    !t.builtin || matches!(t.group.as_str(), "apps" | "batch" | "apiextensions.k8s.io")
}

#[cfg(test)]
mod tests {
    #[test]
    fn uids_are_stable_and_uuid_shaped() {
        use super::*;
        let a = stable_uid("x/Kind/ns/name");
        assert_eq!(a, stable_uid("x/Kind/ns/name"));
        assert_ne!(a, stable_uid("x/Kind/ns/other"));
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
    }
}
