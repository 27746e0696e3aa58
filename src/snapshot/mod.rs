//! A cluster snapshot: what `snapshot create` saved (Flux objects and what the read tools look
//! at, events, log tails, pod metrics, discovery, capture time and context), read back and
//! answered the way an API server answers (get, list with selectors and paging, logs, pod
//! metrics, discovery). Knows Kubernetes, not MCP or the tools: `tools::Cluster` puts it behind
//! the same door as a live API server, and `snapshot serve-api` serves it to kubectl.
//!
//! Memory: the inflated body is kept whole and *is* the store. Objects stay the compact JSON
//! bytes they were saved as and are parsed when asked for; the index holds a key and a byte
//! range per object. A 10,000-object snapshot is served in well under 64 MB (`make bench`).

pub mod api;
pub mod format;
pub mod pki;
mod read;
pub mod serve;
pub mod table;

pub use read::{ListPage, PageQuery, field_labels};

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::files;
use crate::kube::discovery::{Discovery, Resource, Roots};
use crate::kube::paging::ObjectKey;
use format::{FormatError, OBJECT_HAS_SECRETS, Records, Writer, tag};

/// The largest snapshot file read (compressed). Ten times the largest snapshot measured
/// (`make bench`); the inflated body has its own cap ([`format::MAX_BODY`]).
pub const MAX_FILE: u64 = 256 << 20;

/// What a snapshot file is read as (`files::read` refuses anything else or bigger).
pub const FILE: files::Purpose = files::Purpose {
    what: "a snapshot",
    max_bytes: MAX_FILE,
};

/// Where and when a snapshot was taken, and what its capture left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Meta {
    /// The kubeconfig context it was captured through.
    pub context: String,
    /// The API server URL (never user-info).
    pub server: String,
    /// The context's default namespace at capture time.
    pub namespace: String,
    /// RFC 3339, UTC: when the capture started.
    pub captured_at: String,
    /// How long the capture took, in milliseconds.
    pub capture_millis: u64,
    /// `flux-operator-mcp <version>`.
    pub producer: String,
    /// The namespaces captured, when the capture was narrowed (`--namespace`); empty: all.
    pub namespaces: Vec<String>,
    /// Lines of log kept per container (the tail).
    pub log_tail_lines: u64,
    /// What was left out or cut short, for the reader.
    pub notes: Vec<String>,
}

/// One resource type as saved: which objects, and whether they are all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CollectionHeader {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
    /// The list's `metadata.resourceVersion` at capture (continue tokens carry it).
    pub resource_version: String,
    /// Every object of the type (in the captured namespaces) is saved; otherwise only those
    /// a Flux inventory names, and `absent` lists the named ones the cluster did not have.
    pub complete: bool,
    /// Keys (`namespace/name`, or `name`) known not to exist at capture time.
    pub absent: Vec<String>,
}

/// One saved log: a container's current or previous log tail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LogHeader {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub previous: bool,
    /// The log had fewer lines than the tail kept: it is whole.
    pub complete: bool,
    /// The API server refused this log at capture time with this message (a previous
    /// container that never ran, a container still being created); no text then.
    pub refused: String,
}

/// Why a snapshot could not be loaded. Names the file and what is wrong with it.
#[derive(Debug)]
pub enum LoadError {
    File(files::Error),
    Format(FormatError),
    /// The records are readable but do not form a snapshot (a missing discovery, an object
    /// before any collection, bad JSON in a header, a duplicate key).
    Invalid(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::File(e) => write!(f, "{e}"),
            LoadError::Format(e) => write!(f, "{e}"),
            LoadError::Invalid(why) => write!(f, "not a valid snapshot: {why}"),
        }
    }
}

impl std::error::Error for LoadError {}

impl From<FormatError> for LoadError {
    fn from(e: FormatError) -> LoadError {
        LoadError::Format(e)
    }
}

/// A loaded snapshot. Immutable; shared as `Arc<Snapshot>` by every call that reads it.
pub struct Snapshot {
    /// The inflated body: every object's JSON and every log's text live here.
    body: Vec<u8>,
    meta: Meta,
    captured: SystemTime,
    discovery: Arc<Discovery>,
    collections: Vec<Collection>,
    logs: Vec<LogEntry>,
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("context", &self.meta.context)
            .field("captured_at", &self.meta.captured_at)
            .field("objects", &self.object_count())
            .finish_non_exhaustive()
    }
}

struct Collection {
    resource: Resource,
    resource_version: u64,
    complete: bool,
    absent: Vec<ObjectKey>,
    /// Sorted by key, no duplicates.
    items: Vec<Item>,
}

struct Item {
    key: ObjectKey,
    start: u32,
    len: u32,
    secrets: bool,
}

struct LogEntry {
    header: LogHeader,
    start: u32,
    len: u32,
}

/// The most OBJECT records a snapshot may hold: far above any real cluster's Flux objects
/// and what they manage, and a bound on the index a hostile file can make us build.
pub const MAX_OBJECTS: usize = 2_000_000;

impl Snapshot {
    /// Reads and checks the snapshot at `path` (through `files::read`, capped at [`FILE`]).
    pub fn load(path: &Path) -> Result<Snapshot, LoadError> {
        let bytes = files::read(path, FILE).map_err(LoadError::File)?;
        Snapshot::from_bytes(&bytes)
    }

    /// A snapshot from a file's bytes.
    pub fn from_bytes(file: &[u8]) -> Result<Snapshot, LoadError> {
        let body = format::inflate(file)?;
        Snapshot::from_body(body)
    }

    fn from_body(body: Vec<u8>) -> Result<Snapshot, LoadError> {
        let invalid = |why: String| LoadError::Invalid(why);
        let mut meta: Option<Meta> = None;
        let mut discovery: Option<Discovery> = None;
        let mut collections: Vec<Collection> = Vec::new();
        let mut logs = Vec::new();
        let mut objects = 0usize;
        for record in Records::new(&body) {
            let record = record?;
            let at = record.offset;
            let offset_u32 = |start: usize| {
                u32::try_from(start)
                    .map_err(|_| invalid(format!("offset {start} beyond the body limit")))
            };
            match record.tag {
                tag::META => {
                    if meta.is_some() {
                        return Err(invalid("two META records".into()));
                    }
                    meta = Some(json(record.payload, "the snapshot header", at)?);
                }
                tag::DISCOVERY => {
                    if discovery.is_some() {
                        return Err(invalid("two DISCOVERY records".into()));
                    }
                    let docs: DiscoveryDocs = json(record.payload, "the discovery", at)?;
                    let roots = Roots::parse(&docs.core, &docs.apis)
                        .map_err(|e| invalid(format!("the saved discovery: {e}")))?;
                    discovery = Some(roots.finish(Vec::new()));
                }
                tag::COLLECTION => {
                    let h: CollectionHeader = json(record.payload, "a collection header", at)?;
                    collections.push(Collection::from_header(h)?);
                }
                tag::OBJECT => {
                    objects += 1;
                    if objects > MAX_OBJECTS {
                        return Err(invalid(format!("more than {MAX_OBJECTS} objects")));
                    }
                    let Some(collection) = collections.last_mut() else {
                        return Err(invalid(format!(
                            "an object at body offset {at} before any collection"
                        )));
                    };
                    let (flags, key, json_at) = object_prefix(record.payload)
                        .ok_or_else(|| invalid(format!("a damaged object at body offset {at}")))?;
                    let key = checked_key(key, collection.resource.namespaced)
                        .map_err(|why| invalid(format!("object at body offset {at}: {why}")))?;
                    let len = record.payload.len() - json_at;
                    collection.items.push(Item {
                        key,
                        start: offset_u32(at + json_at)?,
                        len: offset_u32(len)?,
                        secrets: flags & OBJECT_HAS_SECRETS != 0,
                    });
                }
                tag::LOG => {
                    let (header, text_at) = log_prefix(record.payload)
                        .ok_or_else(|| invalid(format!("a damaged log at body offset {at}")))?;
                    let header: LogHeader = json(header, "a log header", at)?;
                    logs.push(LogEntry {
                        header,
                        start: offset_u32(at + text_at)?,
                        len: offset_u32(record.payload.len() - text_at)?,
                    });
                }
                _ => {}
            }
        }
        let meta = meta.ok_or_else(|| invalid("no META record".into()))?;
        let discovery = discovery.ok_or_else(|| invalid("no DISCOVERY record".into()))?;
        let captured =
            crate::kube::time::parse_system_time(&meta.captured_at).ok_or_else(|| {
                invalid(format!(
                    "capture time {:?} is not an RFC 3339 time",
                    crate::text::floor_char_boundary(&meta.captured_at, 40)
                ))
            })?;
        for c in &mut collections {
            c.items.sort_by(|a, b| a.key.cmp(&b.key));
            if let Some(pair) = c.items.windows(2).find(|w| w[0].key == w[1].key) {
                return Err(invalid(format!(
                    "{} {} is saved twice",
                    c.resource.plural, pair[0].key
                )));
            }
        }
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for c in &collections {
            let id = (c.resource.group.as_str(), c.resource.plural.as_str());
            if seen.contains(&id) {
                return Err(invalid(format!(
                    "two collections of {}",
                    qualified(&c.resource)
                )));
            }
            seen.push(id);
        }
        Ok(Snapshot {
            body,
            meta,
            captured,
            discovery: Arc::new(discovery),
            collections,
            logs,
        })
    }

    /// Where and when it was taken.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The capture time.
    pub fn captured(&self) -> SystemTime {
        self.captured
    }

    /// How old the snapshot is now (zero if its clock was ahead of ours).
    pub fn age(&self) -> Duration {
        SystemTime::now()
            .duration_since(self.captured)
            .unwrap_or_default()
    }

    /// The context name it was captured through.
    pub fn context(&self) -> &str {
        &self.meta.context
    }

    /// The API server it was captured from.
    pub fn server(&self) -> &str {
        &self.meta.server
    }

    /// The default namespace of its context.
    pub fn default_namespace(&self) -> &str {
        &self.meta.namespace
    }

    /// What the cluster served at capture time.
    pub fn discovery(&self) -> Arc<Discovery> {
        self.discovery.clone()
    }

    /// Objects saved.
    pub fn object_count(&self) -> usize {
        self.collections.iter().map(|c| c.items.len()).sum()
    }

    /// Logs saved.
    pub fn log_count(&self) -> usize {
        self.logs.len()
    }

    /// Bytes held in memory for the data (the inflated body).
    pub fn body_len(&self) -> usize {
        self.body.len()
    }

    /// Every saved resource type with its object count and whether it is whole, in saved
    /// order.
    pub fn collections(&self) -> impl Iterator<Item = (&Resource, usize, bool)> {
        self.collections
            .iter()
            .map(|c| (&c.resource, c.items.len(), c.complete))
    }

    fn bytes(&self, start: u32, len: u32) -> &[u8] {
        let start = start as usize;
        self.body
            .get(start..start + len as usize)
            .unwrap_or_default()
    }
}

impl Collection {
    fn from_header(h: CollectionHeader) -> Result<Collection, LoadError> {
        let invalid = |why: String| LoadError::Invalid(why);
        if h.plural.is_empty() || h.kind.is_empty() || h.version.is_empty() {
            return Err(invalid(
                "a collection without plural, kind or version".into(),
            ));
        }
        let mut resource = Resource::new(
            &crate::kube::discovery::api_version(&h.group, &h.version),
            &h.kind,
            &h.plural,
            h.namespaced,
        );
        resource.verbs = vec!["get".into(), "list".into()];
        let absent = h
            .absent
            .iter()
            .map(|k| {
                let (ns, name) = k.split_once('/').unwrap_or(("", k.as_str()));
                checked_key((ns, name), h.namespaced)
                    .map_err(|why| invalid(format!("{}: absent key: {why}", h.plural)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Collection {
            resource,
            // A server that does not count in decimal (none does today) still pages; tokens
            // from it simply carry 1.
            resource_version: h.resource_version.parse().unwrap_or(1).max(1),
            complete: h.complete,
            absent,
            items: Vec::new(),
        })
    }
}

/// `{"core": ..., "apis": ...}`: the two aggregated discovery documents.
#[derive(Serialize, Deserialize)]
struct DiscoveryDocs {
    core: serde_json::Value,
    apis: serde_json::Value,
}

fn json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &str,
    at: usize,
) -> Result<T, LoadError> {
    serde_json::from_slice(bytes).map_err(|e| {
        LoadError::Invalid(format!(
            "{what} at body offset {at} is not valid JSON ({e})"
        ))
    })
}

/// An OBJECT payload: flags, key length (u16), the key as `namespace\0name`, then JSON.
/// Returns the flags, the key parts and where the JSON starts.
fn object_prefix(payload: &[u8]) -> Option<(u8, (&str, &str), usize)> {
    let flags = *payload.first()?;
    let len = usize::from(u16::from_le_bytes([*payload.get(1)?, *payload.get(2)?]));
    let key = std::str::from_utf8(payload.get(3..3 + len)?).ok()?;
    let (ns, name) = key.split_once('\0')?;
    Some((flags, (ns, name), 3 + len))
}

/// A LOG payload: header length (u32), header JSON, then the text.
fn log_prefix(payload: &[u8]) -> Option<(&[u8], usize)> {
    let head = payload.get(..4)?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let header = payload.get(4..4usize.checked_add(len)?)?;
    Some((header, 4 + len))
}

/// A key as the API server would hold it: a name without `/`, a namespace for namespaced
/// types and none for the others.
fn checked_key((namespace, name): (&str, &str), namespaced: bool) -> Result<ObjectKey, String> {
    let bad = |what: &str, v: &str| {
        format!(
            "{what} {:?} is not a valid name",
            &v[..crate::text::floor_char_boundary(v, 80)]
        )
    };
    let valid = |s: &str| !s.is_empty() && s.len() <= 253 && !s.contains(['/', '\0']);
    if !valid(name) {
        return Err(bad("name", name));
    }
    if namespaced == namespace.is_empty() || (namespaced && !valid(namespace)) {
        return Err(bad("namespace", namespace));
    }
    Ok(ObjectKey::new(namespace, name))
}

/// `kustomizations.kustomize.toolkit.fluxcd.io`, `pods`: a resource as API server messages
/// name it.
pub fn qualified(resource: &Resource) -> String {
    if resource.group.is_empty() {
        resource.plural.clone()
    } else {
        format!("{}.{}", resource.plural, resource.group)
    }
}

/// Writes a snapshot file: the header, discovery, collections, logs. Objects are given as
/// their compact JSON; each collection is sorted by key here.
pub struct Builder {
    writer: Writer,
    objects: usize,
    logs: usize,
}

/// One object for [`Builder::collection`].
pub struct SavedObject {
    pub namespace: String,
    pub name: String,
    /// The object is or holds a core Secret whose values were replaced by their sizes.
    pub secrets: bool,
    pub json: Vec<u8>,
}

impl Builder {
    pub fn new(meta: &Meta, discovery: &Discovery) -> Result<Builder, FormatError> {
        let mut writer = Writer::new();
        writer.record(tag::META, &to_json(meta))?;
        let (core, apis) = discovery.to_aggregated();
        writer.record(tag::DISCOVERY, &to_json(&DiscoveryDocs { core, apis }))?;
        Ok(Builder {
            writer,
            objects: 0,
            logs: 0,
        })
    }

    /// One resource type and its objects (any order; sorted here).
    pub fn collection(
        &mut self,
        header: &CollectionHeader,
        mut objects: Vec<SavedObject>,
    ) -> Result<(), FormatError> {
        self.writer.record(tag::COLLECTION, &to_json(header))?;
        objects.sort_by(|a, b| {
            ObjectKey::new(&a.namespace, &a.name).cmp(&ObjectKey::new(&b.namespace, &b.name))
        });
        objects.dedup_by(|a, b| a.namespace == b.namespace && a.name == b.name);
        for o in &objects {
            let key = format!("{}\0{}", o.namespace, o.name);
            let key_len = u16::try_from(key.len()).map_err(|_| FormatError::BadRecord {
                offset: self.writer.body_len(),
                detail: format!("a {}-byte object key", key.len()),
            })?;
            let flags = if o.secrets { OBJECT_HAS_SECRETS } else { 0 };
            self.writer.record_parts(
                tag::OBJECT,
                &[&[flags], &key_len.to_le_bytes(), key.as_bytes(), &o.json],
            )?;
            self.objects += 1;
        }
        Ok(())
    }

    /// One container log (its text as captured, timestamps leading each line).
    pub fn log(&mut self, header: &LogHeader, text: &[u8]) -> Result<(), FormatError> {
        let head = to_json(header);
        let len = u32::try_from(head.len()).unwrap_or(u32::MAX).to_le_bytes();
        self.writer.record_parts(tag::LOG, &[&len, &head, text])?;
        self.logs += 1;
        Ok(())
    }

    /// Objects written so far.
    pub fn objects(&self) -> usize {
        self.objects
    }

    /// Logs written so far.
    pub fn logs(&self) -> usize {
        self.logs
    }

    /// The file's bytes.
    pub fn finish(self) -> Result<Vec<u8>, FormatError> {
        self.writer.finish()
    }
}

/// Serialising our own plain structs and JSON values cannot fail; an empty object stands in
/// should it ever.
fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec())
}

/// Writes a file whole next to its final name, then renames it into place, so a reader never
/// sees half of it; private (0600): a snapshot holds cluster state, serve-api's kubeconfig a
/// token.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = options.open(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;

    use serde_json::{Value, json};

    use super::*;
    use crate::kube::Error;
    use crate::kube::client::{LogOptions, PodSelection};
    use crate::kube::list::ListOptions;

    /// Discovery with pods, secrets, configmaps, and Kustomizations at v1 (v1beta2 also
    /// served), as aggregated documents.
    fn discovery() -> Discovery {
        let r = |plural: &str, kind: &str, ns: bool| {
            json!({"resource": plural, "responseKind": {"kind": kind},
                   "scope": if ns { "Namespaced" } else { "Cluster" }, "verbs": ["get", "list"]})
        };
        let core = json!({"kind": "APIGroupDiscoveryList", "items": [{"metadata": {"name": ""},
            "versions": [{"version": "v1", "resources": [
                r("pods", "Pod", true), r("secrets", "Secret", true),
                r("configmaps", "ConfigMap", true), r("nodes", "Node", false)]}]}]});
        let apis = json!({"kind": "APIGroupDiscoveryList", "items": [
            {"metadata": {"name": "kustomize.toolkit.fluxcd.io"}, "versions": [
                {"version": "v1", "resources": [r("kustomizations", "Kustomization", true)]},
                {"version": "v1beta2", "resources": [r("kustomizations", "Kustomization", true)]}]},
            {"metadata": {"name": "metrics.k8s.io"}, "versions": [
                {"version": "v1beta1", "resources": [r("pods", "PodMetrics", true)]}]}]});
        Roots::parse(&core, &apis).unwrap().finish(Vec::new())
    }

    fn meta() -> Meta {
        Meta {
            context: "prod".into(),
            server: "https://k8s.example.com".into(),
            namespace: "apps".into(),
            captured_at: "2026-11-21T06:00:00Z".into(),
            ..Meta::default()
        }
    }

    fn object(api_version: &str, kind: &str, ns: &str, name: &str, labels: Value) -> SavedObject {
        let v = json!({"apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "namespace": ns, "labels": labels}});
        SavedObject {
            namespace: ns.into(),
            name: name.into(),
            secrets: false,
            json: serde_json::to_vec(&v).unwrap(),
        }
    }

    fn header(
        group: &str,
        version: &str,
        kind: &str,
        plural: &str,
        complete: bool,
    ) -> CollectionHeader {
        CollectionHeader {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            namespaced: true,
            resource_version: "77".into(),
            complete,
            absent: Vec::new(),
        }
    }

    pub(super) fn sample() -> Snapshot {
        let mut b = Builder::new(&meta(), &discovery()).unwrap();
        let ks: Vec<SavedObject> = (0..7)
            .map(|i| {
                let ns = if i % 2 == 0 { "flux-system" } else { "apps" };
                let tier = if i < 3 { "infra" } else { "apps" };
                object(
                    "kustomize.toolkit.fluxcd.io/v1",
                    "Kustomization",
                    ns,
                    &format!("ks-{i}"),
                    json!({"tier": tier}),
                )
            })
            .collect();
        b.collection(
            &header(
                "kustomize.toolkit.fluxcd.io",
                "v1",
                "Kustomization",
                "kustomizations",
                true,
            ),
            ks,
        )
        .unwrap();
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "apps"},
            "spec": {"containers": [{"name": "app"}, {"name": "proxy"}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "app", "restartCount": 1}, {"name": "proxy", "restartCount": 0}]}});
        b.collection(
            &header("", "v1", "Pod", "pods", true),
            vec![SavedObject {
                namespace: "apps".into(),
                name: "web".into(),
                secrets: false,
                json: serde_json::to_vec(&pod).unwrap(),
            }],
        )
        .unwrap();
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "apps"},
            "data": {"password": "<masked: 11 bytes>", "huge": "<masked: 99999999999 bytes>"}});
        b.collection(
            &header("", "v1", "Secret", "secrets", true),
            vec![SavedObject {
                namespace: "apps".into(),
                name: "db".into(),
                secrets: true,
                json: serde_json::to_vec(&secret).unwrap(),
            }],
        )
        .unwrap();
        let mut cm = header("", "v1", "ConfigMap", "configmaps", false);
        cm.absent = vec!["apps/gone".into()];
        b.collection(
            &cm,
            vec![object("v1", "ConfigMap", "apps", "named", json!({}))],
        )
        .unwrap();
        let log = |previous: bool, text: &str| {
            (
                LogHeader {
                    namespace: "apps".into(),
                    pod: "web".into(),
                    container: "app".into(),
                    previous,
                    complete: true,
                    refused: String::new(),
                },
                text.as_bytes().to_vec(),
            )
        };
        let (h, t) = log(
            false,
            "2026-11-21T04:00:00Z old line\n2026-11-21T05:30:00Z new line\n2026-11-21T05:59:00Z last line\n",
        );
        b.log(&h, &t).unwrap();
        Snapshot::from_bytes(&b.finish().unwrap()).unwrap()
    }

    fn names(s: &Snapshot, options: &ListOptions) -> (Vec<String>, crate::kube::list::ListInfo) {
        let r = Resource::new(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "kustomizations",
            true,
        );
        let mut out = Vec::new();
        let info = s
            .list(&r, options, |v| {
                out.push(format!(
                    "{}/{}",
                    v["metadata"]["namespace"].as_str().unwrap(),
                    v["metadata"]["name"].as_str().unwrap()
                ));
                ControlFlow::Continue(())
            })
            .unwrap();
        (out, info)
    }

    #[test]
    fn lists_page_filter_and_continue_like_the_api_server() {
        let s = sample();
        let (all, info) = names(&s, &ListOptions::default());
        assert_eq!(all.len(), 7);
        // etcd key order: apps/... before flux-system/...
        assert_eq!(all[0], "apps/ks-1");
        assert!(!info.more && info.continue_token.is_none());
        assert_eq!(info.resource_version, "77");
        // Pages of 2 followed to the end give the same list.
        let (paged, _) = names(
            &s,
            &ListOptions {
                page_size: Some(2),
                ..ListOptions::default()
            },
        );
        assert_eq!(paged, all);
        // A limit stops with a token that resumes after the last object.
        let (first, info) = names(
            &s,
            &ListOptions {
                limit: Some(3),
                ..ListOptions::default()
            },
        );
        assert_eq!(first, all[..3]);
        assert!(info.more);
        assert_eq!(info.remaining_item_count, Some(4));
        let (rest, _) = names(
            &s,
            &ListOptions {
                continue_token: info.continue_token,
                ..ListOptions::default()
            },
        );
        assert_eq!(rest, all[3..]);
        // Selectors and namespaces.
        let (infra, info) = names(
            &s,
            &ListOptions {
                label_selector: Some("tier=infra".into()),
                namespace: Some("flux-system".into()),
                ..ListOptions::default()
            },
        );
        assert_eq!(infra, ["flux-system/ks-0", "flux-system/ks-2"]);
        assert_eq!(info.remaining_item_count, None);
        let (named, _) = names(
            &s,
            &ListOptions {
                field_selector: Some("metadata.name=ks-4".into()),
                ..ListOptions::default()
            },
        );
        assert_eq!(named, ["flux-system/ks-4"]);
        let r = Resource::new(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "kustomizations",
            true,
        );
        let err = s
            .list(
                &r,
                &ListOptions {
                    field_selector: Some("spec.path=x".into()),
                    ..ListOptions::default()
                },
                |_| ControlFlow::Continue(()),
            )
            .unwrap_err();
        assert_eq!(err.status_code(), Some(400), "{err}");
        let err = s
            .list(
                &r,
                &ListOptions {
                    continue_token: Some("bogus!".into()),
                    ..ListOptions::default()
                },
                |_| ControlFlow::Continue(()),
            )
            .unwrap_err();
        assert!(
            err.to_string().contains("continue key is not valid"),
            "{err}"
        );
        // A break mid-page: more, and no token (it cannot point inside a page).
        let mut seen = 0;
        let info = s
            .list(&r, &ListOptions::default(), |_| {
                seen += 1;
                if seen == 2 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap();
        assert!(info.more && info.continue_token.is_none() && info.remaining_item_count.is_none());
        let (first_names, more) = s.names(&r, None, 2).unwrap();
        assert_eq!(first_names.len(), 2);
        assert!(more);
    }

    #[test]
    fn writes_are_refused_saying_why() {
        let s = sample();
        let cm = Resource::new("v1", "ConfigMap", "configmaps", true);
        let e = s.refuse_write("DELETE", &cm, "apps", "named");
        assert_eq!(
            e.to_string(),
            "error from server (MethodNotAllowed): DELETE is not allowed: context prod answers \
             from a snapshot, which cannot change"
        );
        assert!(!e.is_not_found());
        // The object is still there: nothing was changed.
        assert!(s.get(&cm, "apps", "named").is_ok());
    }

    #[test]
    fn gets_answer_found_absent_or_not_captured() {
        let s = sample();
        let cm = Resource::new("v1", "ConfigMap", "configmaps", true);
        assert_eq!(
            s.get(&cm, "apps", "named").unwrap()["metadata"]["name"],
            "named"
        );
        let gone = s.get(&cm, "apps", "gone").unwrap_err();
        assert!(gone.is_not_found());
        assert_eq!(
            gone.to_string(),
            "error from server (NotFound): configmaps \"gone\" not found"
        );
        let other = s.get(&cm, "apps", "other").unwrap_err();
        assert!(
            matches!(other, Error::NotCaptured(_)) && !other.is_not_found(),
            "{other}"
        );
        assert!(matches!(
            s.list(&cm, &ListOptions::default(), |_| ControlFlow::Continue(())),
            Err(Error::NotCaptured(_))
        ));
        let ks = Resource::new(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "kustomizations",
            true,
        );
        let missing = s.get(&ks, "apps", "nope").unwrap_err();
        assert_eq!(
            missing.to_string(),
            "error from server (NotFound): kustomizations.kustomize.toolkit.fluxcd.io \"nope\" not found"
        );
        // Another served version: the snapshot says which one it has.
        let beta = Resource::new(
            "kustomize.toolkit.fluxcd.io/v1beta2",
            "Kustomization",
            "kustomizations",
            true,
        );
        assert!(
            s.get(&beta, "apps", "ks-1")
                .unwrap_err()
                .to_string()
                .contains("captured at version v1 only")
        );
        // Served, not captured; not served at all.
        let nodes = Resource::new("v1", "Node", "nodes", false);
        assert!(matches!(
            s.get(&nodes, "", "n1"),
            Err(Error::NotCaptured(_))
        ));
        let unknown = Resource::new("example.com/v1", "Widget", "widgets", true);
        assert_eq!(
            s.get(&unknown, "apps", "w").unwrap_err().status_code(),
            Some(404)
        );
        // Names that address nothing are refused as the client refuses them.
        assert!(matches!(s.get(&ks, "", "x"), Err(Error::InvalidRequest(_))));
        assert!(matches!(
            s.get(&ks, "apps", "../x"),
            Err(Error::InvalidRequest(_))
        ));
    }

    #[test]
    fn secret_values_come_back_at_their_size() {
        let s = sample();
        let secrets = Resource::new("v1", "Secret", "secrets", true);
        let db = s.get(&secrets, "apps", "db").unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;
        use base64::Engine as _;
        let password = b64
            .decode(db["data"]["password"].as_str().unwrap())
            .unwrap();
        assert_eq!(password, b"masked-mask");
        // A size no Secret can have stays as written rather than being allocated.
        assert_eq!(db["data"]["huge"], "<masked: 99999999999 bytes>");
    }

    #[test]
    fn logs_are_cut_by_since_tail_and_bytes_from_the_capture_time() {
        let s = sample();
        let opts = |f: fn(&mut LogOptions)| {
            let mut o = LogOptions {
                container: Some("app".into()),
                ..LogOptions::default()
            };
            f(&mut o);
            o
        };
        let all = s.logs("apps", "web", &opts(|_| {}), false).unwrap();
        assert_eq!(all.text, "old line\nnew line\nlast line\n");
        let since = s
            .logs(
                "apps",
                "web",
                &opts(|o| o.since_seconds = Some(3600)),
                false,
            )
            .unwrap();
        assert_eq!(since.text, "new line\nlast line\n");
        let tail = s
            .logs("apps", "web", &opts(|o| o.tail_lines = Some(1)), true)
            .unwrap();
        assert_eq!(tail.text, "2026-11-21T05:59:00Z last line\n");
        let cut = s
            .logs("apps", "web", &opts(|o| o.limit_bytes = Some(5)), false)
            .unwrap();
        assert_eq!((cut.text.as_str(), cut.truncated), ("old l", true));
        // The API server's refusals, from the saved pod.
        let which = s
            .logs("apps", "web", &LogOptions::default(), false)
            .unwrap_err();
        assert!(
            which.to_string().contains(
                "a container name must be specified for pod web, choose one of: [app proxy]"
            ),
            "{which}"
        );
        let bad = s
            .logs(
                "apps",
                "web",
                &opts(|o| o.container = Some("db".into())),
                false,
            )
            .unwrap_err();
        assert!(
            bad.to_string()
                .contains("container db is not valid for pod web"),
            "{bad}"
        );
        let none = s
            .logs(
                "apps",
                "web",
                &LogOptions {
                    container: Some("proxy".into()),
                    previous: true,
                    ..LogOptions::default()
                },
                false,
            )
            .unwrap_err();
        assert!(
            none.to_string()
                .contains("previous terminated container \"proxy\" in pod \"web\" not found"),
            "{none}"
        );
        // Restarted, but its previous log was not saved.
        let unsaved = s
            .logs("apps", "web", &opts(|o| o.previous = true), false)
            .unwrap_err();
        assert!(matches!(unsaved, Error::NotCaptured(_)), "{unsaved}");
        let missing = s.logs("apps", "nope", &opts(|_| {}), false).unwrap_err();
        assert!(missing.is_not_found());
    }

    #[test]
    fn metrics_are_unavailable_when_the_cluster_had_none() {
        let s = sample();
        let got = s.pod_metrics(
            Some("apps"),
            &PodSelection::Matching {
                label_selector: None,
                limit: None,
            },
        );
        // Served, but not captured in this sample.
        assert!(matches!(got, Err(Error::NotCaptured(_))), "{got:?}");
    }

    /// A snapshot built by hand with the given records after a valid header and discovery.
    fn with_records(records: &[(u8, Vec<u8>)]) -> Result<Snapshot, LoadError> {
        let mut w = Writer::new();
        w.record(tag::META, &serde_json::to_vec(&meta()).unwrap())
            .unwrap();
        let (core, apis) = discovery().to_aggregated();
        w.record(
            tag::DISCOVERY,
            &serde_json::to_vec(&json!({"core": core, "apis": apis})).unwrap(),
        )
        .unwrap();
        for (t, payload) in records {
            w.record(*t, payload).unwrap();
        }
        Snapshot::from_bytes(&w.finish().unwrap())
    }

    fn object_record(key: &str, json: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8];
        p.extend_from_slice(&(key.len() as u16).to_le_bytes());
        p.extend_from_slice(key.as_bytes());
        p.extend_from_slice(json);
        p
    }

    #[test]
    fn structurally_broken_snapshots_are_refused_by_name() {
        let collection =
            serde_json::to_vec(&header("", "v1", "ConfigMap", "configmaps", true)).unwrap();
        type Records = Vec<(u8, Vec<u8>)>;
        let cases: Vec<(Records, &str)> = vec![
            (
                vec![(tag::OBJECT, object_record("apps\0a", b"{}"))],
                "before any collection",
            ),
            (
                vec![(tag::COLLECTION, b"{not json".to_vec())],
                "is not valid JSON",
            ),
            (
                vec![
                    (tag::COLLECTION, collection.clone()),
                    (tag::OBJECT, object_record("apps\0a/b", b"{}")),
                ],
                "is not a valid name",
            ),
            (
                vec![
                    (tag::COLLECTION, collection.clone()),
                    (tag::OBJECT, object_record("\0a", b"{}")),
                ],
                "is not a valid name",
            ),
            (
                vec![
                    (tag::COLLECTION, collection.clone()),
                    (tag::OBJECT, vec![0, 200, 0, b'a']),
                ],
                "a damaged object",
            ),
            (
                vec![
                    (tag::COLLECTION, collection.clone()),
                    (tag::OBJECT, object_record("apps\0a", b"{}")),
                    (tag::OBJECT, object_record("apps\0a", b"{}")),
                ],
                "saved twice",
            ),
            (
                vec![
                    (tag::COLLECTION, collection.clone()),
                    (tag::COLLECTION, collection.clone()),
                ],
                "two collections",
            ),
            (vec![(tag::LOG, vec![255, 255, 255, 255])], "a damaged log"),
            (vec![(tag::META, b"{}".to_vec())], "two META records"),
        ];
        for (records, expected) in cases {
            let err = with_records(&records).map(|_| ()).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected}: {err}");
        }
        let mut w = Writer::new();
        w.record(tag::META, &serde_json::to_vec(&meta()).unwrap())
            .unwrap();
        let err = Snapshot::from_bytes(&w.finish().unwrap())
            .map(|_| ())
            .unwrap_err();
        assert!(err.to_string().contains("no DISCOVERY record"), "{err}");
        let mut w = Writer::new();
        w.record(tag::META, br#"{"capturedAt": "yesterday"}"#)
            .unwrap();
        let (core, apis) = discovery().to_aggregated();
        w.record(
            tag::DISCOVERY,
            &serde_json::to_vec(&json!({"core": core, "apis": apis})).unwrap(),
        )
        .unwrap();
        let err = Snapshot::from_bytes(&w.finish().unwrap())
            .map(|_| ())
            .unwrap_err();
        assert!(err.to_string().contains("is not an RFC 3339 time"), "{err}");
    }

    /// Objects are parsed when asked for: one nested beyond reason, or not JSON, is an error
    /// for that object, not a crash and not a failed load.
    #[test]
    fn hostile_objects_fail_alone_when_read() {
        let collection =
            serde_json::to_vec(&header("", "v1", "ConfigMap", "configmaps", true)).unwrap();
        let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
        let s = with_records(&[
            (tag::COLLECTION, collection),
            (tag::OBJECT, object_record("apps\0deep", deep.as_bytes())),
            (tag::OBJECT, object_record("apps\0junk", b"\xff\xfe")),
            (
                tag::OBJECT,
                object_record(
                    "apps\0fine",
                    br#"{"metadata": {"name": "fine", "labels": {"a": "b"}}}"#,
                ),
            ),
        ])
        .unwrap();
        let cm = Resource::new("v1", "ConfigMap", "configmaps", true);
        for name in ["deep", "junk"] {
            let err = s.get(&cm, "apps", name).unwrap_err();
            assert!(matches!(err, Error::Decode { .. }), "{err}");
            assert!(err.to_string().contains("is not valid JSON"), "{err}");
        }
        assert!(s.get(&cm, "apps", "fine").is_ok());
        let err = s
            .list(
                &cm,
                &ListOptions {
                    label_selector: Some("a=b".into()),
                    ..ListOptions::default()
                },
                |_| ControlFlow::Continue(()),
            )
            .unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err}");
    }
}
