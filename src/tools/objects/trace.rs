//! The delivery chain of one object, walked up (`trace_kubernetes_resource`): its owners by
//! controller reference (Pod → ReplicaSet → Deployment, Pod → Job → CronJob), the Flux object
//! that manages it, found the way Flux marks what it applies (the owner labels of
//! kustomize-controller, helm-controller, ResourceSets and the FluxInstance; Helm's release
//! annotations, matched to the HelmRelease whose release it is), what manages that, up to the
//! root; and for each Flux object its sources (a HelmRelease's HelmChart and the chart's
//! repository, an ImagePolicy's ImageRepository) and the dependencies that are not ready.
//!
//! Every hop is one GET (a Helm release named by annotations alone may need one LIST), and a
//! walk makes at most [`MAX_CALLS`]: a loop of managers, a deep owner chain or a cluster that
//! answers slowly cannot make it run on. The first failure is the first failing object met
//! walking up, followed down its failing sources and dependencies to the one furthest
//! upstream: the object whose own message says what to fix.
//!
//! The walk is written in the order a reader follows it, but what a step will read is often
//! known before the step: the sources and dependencies of a Flux object, its manager named by
//! labels, the sources of those sources. Those are read ahead at once (one round trip per
//! level instead of one per object) into the walk's memo, which the walk then reads in its
//! own order; an object is read once per walk, and the count of calls is that of requests
//! sent.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use serde_json::Value;

use super::diagnosis::{self, Health, State, Upstream};
use super::{is_flux_group, yaml};
use crate::kube;
use crate::kube::list::ListOptions;
use crate::tools::Cluster;
use crate::tools::cluster;
use crate::tools::pods::{container_status, text};

/// API calls (GET or LIST) one trace may make.
pub const MAX_CALLS: usize = 20;
/// Owner references followed up from the first object.
const MAX_OWNERS: usize = 4;
/// Managers followed up (Kustomization → Kustomization → ... → FluxInstance).
const MAX_MANAGERS: usize = 8;
/// Sources followed down from a Flux object (HelmRelease → HelmChart → HelmRepository).
const SOURCE_DEPTH: usize = 2;

const HELM_GROUP: &str = "helm.toolkit.fluxcd.io";
const KUSTOMIZE_GROUP: &str = "kustomize.toolkit.fluxcd.io";
const OPERATOR_GROUP: &str = "fluxcd.controlplane.io";

/// The labels and annotations that name the Flux object an object was applied by, in the
/// order they are tried: helm-controller's (closest: a chart's objects), Helm's own release
/// annotations, kustomize-controller's, a ResourceSet's, the FluxInstance's.
const OWNER_LABELS: [(&str, &str, &str, &str); 4] = [
    (
        "helm.toolkit.fluxcd.io/name",
        "helm.toolkit.fluxcd.io/namespace",
        HELM_GROUP,
        "HelmRelease",
    ),
    (
        "kustomize.toolkit.fluxcd.io/name",
        "kustomize.toolkit.fluxcd.io/namespace",
        KUSTOMIZE_GROUP,
        "Kustomization",
    ),
    (
        "resourceset.fluxcd.controlplane.io/name",
        "resourceset.fluxcd.controlplane.io/namespace",
        OPERATOR_GROUP,
        "ResourceSet",
    ),
    (
        "fluxcd.controlplane.io/name",
        "fluxcd.controlplane.io/namespace",
        OPERATOR_GROUP,
        "FluxInstance",
    ),
];
const HELM_RELEASE_NAME: &str = "meta.helm.sh/release-name";
const HELM_RELEASE_NAMESPACE: &str = "meta.helm.sh/release-namespace";

/// An object's identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    group: String,
    kind: String,
    namespace: String,
    name: String,
}

impl Key {
    fn of(obj: &Value) -> Key {
        let api_version = text(obj, "/apiVersion");
        Key {
            group: api_version
                .split_once('/')
                .map_or("", |(g, _)| g)
                .to_string(),
            kind: text(obj, "/kind").to_string(),
            namespace: text(obj, "/metadata/namespace").to_string(),
            name: text(obj, "/metadata/name").to_string(),
        }
    }

    /// `Kind ns/name`, or `Kind name` for a cluster-scoped object.
    fn label(&self) -> String {
        if self.namespace.is_empty() {
            format!("{} {}", self.kind, self.name)
        } else {
            format!("{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// What was found at a hop.
#[derive(Debug, Clone)]
enum Fetched {
    Object(Box<Value>),
    Missing,
    /// The read failed (RBAC, a kind the server does not serve, a timeout): the error.
    Unreadable(String),
    /// Not read: the walk's call budget was spent.
    NotChecked,
}

/// Where an object stands, for one hop's lines and the first-failure search.
#[derive(Debug, Clone, Default)]
struct Status {
    /// `ready: True (Succeeded)`, `replicas: 0/1 ready`: the line that says where it stands.
    summary: Option<(&'static str, String)>,
    failing: bool,
    suspended: bool,
    reason: String,
    /// Verbatim.
    message: String,
    /// A Stalled condition's reason and message when they add to Ready's.
    stalled: Option<(String, String)>,
    /// The reason and message were made up here from counts (a StatefulSet has no
    /// conditions): the summary already says it, so the hop does not repeat them.
    derived: bool,
}

/// How one hop links to another (indices into [`Trace::hops`]).
#[derive(Debug, Clone)]
struct Link {
    /// `ownedBy`, `managedBy`, `source`, `imageRepository`, `dependsOn`, `provider`.
    key: &'static str,
    to: usize,
    /// What named it, when it is not the obvious (a manager's own owner labels, an owner
    /// reference, a spec reference): Helm's release annotations.
    how: Option<String>,
}

/// One object of the chain.
#[derive(Debug, Clone)]
struct Hop {
    key: Key,
    found: Fetched,
    status: Status,
    links: Vec<Link>,
    /// Ready dependencies, each `Kind ns/name`, listed on one line (not walked).
    ready_dependencies: Vec<String>,
}

/// A walked chain.
#[derive(Debug)]
pub struct Trace {
    hops: Vec<Hop>,
    calls: usize,
    /// What the walk could not do (a cycle, the budget, a manager that is gone).
    notes: Vec<String>,
    /// Set when no object of the owner chain names a manager and the first object is not a
    /// Flux object: the objects that were checked.
    unmanaged: Option<Vec<String>>,
    /// A Helm release no HelmRelease manages: `namespace/name`.
    plain_helm_release: Option<String>,
    /// Every object read, by key (read ahead or by the walk itself): none is read twice.
    read: HashMap<Key, Result<Value, Fetched>>,
}

impl Trace {
    /// Walks up from `start` (already read: the tool's one GET).
    pub fn walk(cluster: &Cluster, start: Value) -> Trace {
        let mut t = Trace {
            hops: Vec::new(),
            calls: 1,
            notes: Vec::new(),
            unmanaged: None,
            plain_helm_release: None,
            read: HashMap::new(),
        };
        let first = t.push_object(start);
        let mut owners = vec![first];
        // Owners, by controller reference.
        let mut current = first;
        for _ in 0..MAX_OWNERS {
            let Some(owner) = t.owner_ref(current) else {
                break;
            };
            let next = t.fetch(cluster, owner);
            t.hops[current].links.push(Link {
                key: "ownedBy",
                to: next,
                how: None,
            });
            // An owner that cannot be read ends the owner chain; the ones read may still name
            // a manager.
            if !matches!(t.hops[next].found, Fetched::Object(_)) {
                break;
            }
            owners.push(next);
            current = next;
        }
        // The manager of the owner chain, from its top down: Flux labels the objects it
        // applies, and their ReplicaSets and Pods do not carry them.
        let mut managed = None;
        for &i in owners.iter().rev() {
            if let Some(found) = t.manager(cluster, i) {
                managed = Some((i, found));
                break;
            }
        }
        let top = *owners.last().unwrap_or(&first);
        let mut current = match managed {
            Some((i, (manager, how))) => {
                t.read_ahead(cluster, i, Some(manager.clone()));
                t.add_upstreams(cluster, i, 0);
                let next = t.fetch(cluster, manager);
                t.hops[i].links.push(Link {
                    key: "managedBy",
                    to: next,
                    how,
                });
                next
            }
            None => {
                if !t.hops[top].is_flux() && t.plain_helm_release.is_none() {
                    t.unmanaged = Some(owners.iter().map(|&i| t.hops[i].key.label()).collect());
                }
                t.read_ahead(cluster, top, None);
                t.add_upstreams(cluster, top, 0);
                return t;
            }
        };
        // Managers, up to the root.
        let mut seen: HashSet<Key> = t.hops.iter().map(|h| h.key.clone()).collect();
        for round in 0..=MAX_MANAGERS {
            if !matches!(t.hops[current].found, Fetched::Object(_)) {
                break;
            }
            // Its manager (when labels name it) is read with its sources.
            let next_manager = if round < MAX_MANAGERS {
                t.manager_ahead(current).filter(|m| !seen.contains(m))
            } else {
                None
            };
            t.read_ahead(cluster, current, next_manager);
            t.add_upstreams(cluster, current, 0);
            if round == MAX_MANAGERS {
                t.notes.push(format!(
                    "stopped after {MAX_MANAGERS} managers; trace {} to go on",
                    t.hops[current].key.label()
                ));
                break;
            }
            let Some((manager, how)) = t.manager(cluster, current) else {
                break;
            };
            if !seen.insert(manager.clone()) {
                t.notes.push(format!(
                    "{} names {} as its manager, which is already in the chain: stopped there",
                    t.hops[current].key.label(),
                    manager.label()
                ));
                break;
            }
            let next = t.fetch(cluster, manager);
            t.hops[current].links.push(Link {
                key: "managedBy",
                to: next,
                how,
            });
            current = next;
        }
        if t.hops
            .iter()
            .any(|h| matches!(h.found, Fetched::NotChecked))
        {
            t.notes.push(format!(
                "stopped at {MAX_CALLS} API calls; trace the last object read to go on"
            ));
        }
        t
    }

    /// Adds a hop for an object already read.
    fn push_object(&mut self, obj: Value) -> usize {
        let key = Key::of(&obj);
        let status = status(&key, &obj);
        self.hops.push(Hop {
            key,
            found: Fetched::Object(Box::new(obj)),
            status,
            links: Vec::new(),
            ready_dependencies: Vec::new(),
        });
        self.hops.len() - 1
    }

    /// The hop for `key`: one already in the chain, else one GET (or a hop saying why not).
    fn fetch(&mut self, cluster: &Cluster, key: Key) -> usize {
        if let Some(i) = self.hops.iter().position(|h| h.key == key) {
            return i;
        }
        let found = match self.get(cluster, &key) {
            Ok(obj) => return self.push_object(obj),
            Err(f) => f,
        };
        let status = Status {
            failing: matches!(found, Fetched::Missing),
            ..Status::default()
        };
        self.hops.push(Hop {
            key,
            found,
            status,
            links: Vec::new(),
            ready_dependencies: Vec::new(),
        });
        self.hops.len() - 1
    }

    /// The object `key`: read already (ahead, or earlier in the walk), else one GET if the
    /// budget allows.
    fn get(&mut self, cluster: &Cluster, key: &Key) -> Result<Value, Fetched> {
        if let Some(read) = self.read.get(key) {
            return read.clone();
        }
        if self.calls >= MAX_CALLS {
            return Err(Fetched::NotChecked);
        }
        self.calls += 1;
        let read = read_one(cluster, key);
        self.read.insert(key.clone(), read.clone());
        read
    }

    /// Reads `keys` at once (those not read yet, as many as the budget allows, in order).
    fn read_all(&mut self, cluster: &Cluster, keys: Vec<Key>) {
        let mut wanted: Vec<Key> = Vec::new();
        for k in keys {
            if !self.read.contains_key(&k)
                && !self.hops.iter().any(|h| h.key == k)
                && !wanted.contains(&k)
            {
                wanted.push(k);
            }
        }
        wanted.truncate(MAX_CALLS.saturating_sub(self.calls));
        self.calls += wanted.len();
        let read = cluster::each(&wanted, |k| read_one(cluster, k));
        self.read.extend(wanted.into_iter().zip(read));
    }

    /// Reads ahead what [`Trace::add_upstreams`] of hop `i` will read, level by level (its
    /// sources and dependencies, then the sources of those, to [`SOURCE_DEPTH`]), and `also`
    /// (its manager) with the first level.
    fn read_ahead(&mut self, cluster: &Cluster, i: usize, also: Option<Key>) {
        let Fetched::Object(obj) = &self.hops[i].found else {
            return;
        };
        let mut level: Vec<(Key, bool)> = if self.hops[i].is_flux() {
            upstream_keys(&self.hops[i].key, obj)
        } else {
            Vec::new()
        };
        let mut first = true;
        for _ in 0..SOURCE_DEPTH {
            let mut keys: Vec<Key> = level.iter().map(|(k, _)| k.clone()).collect();
            if first {
                keys.extend(also.clone());
                first = false;
            }
            if keys.is_empty() {
                break;
            }
            self.read_all(cluster, keys);
            // The walk goes down sources (not dependencies) of Flux objects.
            level = level
                .iter()
                .filter(|(k, followed)| *followed && is_flux_group(&k.group))
                .filter_map(|(k, _)| match self.read.get(k) {
                    Some(Ok(obj)) => Some(upstream_keys(k, obj)),
                    _ => None,
                })
                .flatten()
                .collect();
        }
    }

    /// The manager of hop `i` when its labels (or the HelmRelease its Helm annotations name)
    /// say which, without a request: what [`Trace::manager`] reads first.
    fn manager_ahead(&self, i: usize) -> Option<Key> {
        let Fetched::Object(obj) = &self.hops[i].found else {
            return None;
        };
        let me = &self.hops[i].key;
        let labels = &obj["metadata"]["labels"];
        let candidate = |(name_label, ns_label, group, kind): &(&str, &str, &str, &str)| {
            let name = labels[*name_label].as_str().filter(|n| !n.is_empty())?;
            let namespace = labels[*ns_label]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or(&me.namespace);
            let key = Key {
                group: group.to_string(),
                kind: kind.to_string(),
                namespace: namespace.to_string(),
                name: name.to_string(),
            };
            (key != *me).then_some(key)
        };
        if let Some(k) = candidate(&OWNER_LABELS[0]) {
            return Some(k);
        }
        let annotations = &obj["metadata"]["annotations"];
        if let Some(release) = annotations[HELM_RELEASE_NAME]
            .as_str()
            .filter(|r| !r.is_empty())
        {
            let namespace = annotations[HELM_RELEASE_NAMESPACE]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or(&me.namespace);
            return Some(Key {
                group: HELM_GROUP.to_string(),
                kind: "HelmRelease".to_string(),
                namespace: namespace.to_string(),
                name: release.to_string(),
            });
        }
        OWNER_LABELS[1..].iter().find_map(candidate)
    }

    /// The controller owner reference of a hop (else its first one).
    fn owner_ref(&self, i: usize) -> Option<Key> {
        let Fetched::Object(obj) = &self.hops[i].found else {
            return None;
        };
        let refs = obj["metadata"]["ownerReferences"].as_array()?;
        let r = refs
            .iter()
            .find(|r| r["controller"].as_bool() == Some(true))
            .or(refs.first())?;
        let api_version = text(r, "/apiVersion");
        let key = Key {
            group: api_version
                .split_once('/')
                .map_or("", |(g, _)| g)
                .to_string(),
            kind: text(r, "/kind").to_string(),
            // Owners live in their dependent's namespace (or are cluster-scoped, which a
            // namespaced GET of a cluster-scoped kind ignores).
            namespace: self.hops[i].key.namespace.clone(),
            name: text(r, "/name").to_string(),
        };
        (!key.kind.is_empty() && !key.name.is_empty()).then_some(key)
    }

    /// The Flux object that applied hop `i`, and what named it when that is not the owner
    /// labels of the manager's own kind; `None` for an object no Flux marker names (other
    /// than itself: a bootstrap's flux-system Kustomization labels itself, and is then
    /// managed by the next marker, if any).
    fn manager(&mut self, cluster: &Cluster, i: usize) -> Option<(Key, Option<String>)> {
        let Fetched::Object(obj) = &self.hops[i].found else {
            return None;
        };
        let obj = (**obj).clone();
        let me = self.hops[i].key.clone();
        let labels = &obj["metadata"]["labels"];
        let own_namespace = me.namespace.clone();
        let candidate = |name_label: &str, ns_label: &str, group: &str, kind: &str| {
            let name = labels[name_label].as_str().filter(|n| !n.is_empty())?;
            let namespace = labels[ns_label]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or(&own_namespace);
            let key = Key {
                group: group.to_string(),
                kind: kind.to_string(),
                namespace: namespace.to_string(),
                name: name.to_string(),
            };
            (key != me).then_some((key, None))
        };
        let (helm_name, helm_ns, helm_group, helm_kind) = OWNER_LABELS[0];
        if let Some(found) = candidate(helm_name, helm_ns, helm_group, helm_kind) {
            return Some(found);
        }
        let annotations = &obj["metadata"]["annotations"];
        if let Some(release) = annotations[HELM_RELEASE_NAME]
            .as_str()
            .filter(|r| !r.is_empty())
        {
            let namespace = annotations[HELM_RELEASE_NAMESPACE]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or(&own_namespace)
                .to_string();
            match self.helm_release_of(cluster, release, &namespace) {
                Some(key) if key != self.hops[i].key => {
                    let how = format!("Helm release {namespace}/{release}, by its annotations");
                    return Some((key, Some(how)));
                }
                Some(_) => {}
                None => self.plain_helm_release = Some(format!("{namespace}/{release}")),
            }
        }
        OWNER_LABELS[1..]
            .iter()
            .find_map(|(n, ns, g, k)| candidate(n, ns, g, k))
    }

    /// The HelmRelease whose Helm release is `namespace/release`: first the one named like
    /// the release in its namespace (the usual case), else any whose status records that
    /// release (a `releaseName`, a `targetNamespace`), from one LIST.
    fn helm_release_of(
        &mut self,
        cluster: &Cluster,
        release: &str,
        namespace: &str,
    ) -> Option<Key> {
        let key = Key {
            group: HELM_GROUP.to_string(),
            kind: "HelmRelease".to_string(),
            namespace: namespace.to_string(),
            name: release.to_string(),
        };
        if let Ok(hr) = self.get(cluster, &key)
            && releases(&hr, release, namespace)
        {
            return Some(key);
        }
        if self.calls >= MAX_CALLS {
            return None;
        }
        self.calls += 1;
        let resource = cluster.resolve(Some(HELM_GROUP), "HelmRelease").ok()?;
        let all = cluster.list_all(&resource, &ListOptions::default()).ok()?;
        all.iter()
            .find(|hr| releases(hr, release, namespace))
            .map(Key::of)
    }

    /// Adds the sources and failing dependencies of Flux hop `i` (and their sources, down to
    /// [`SOURCE_DEPTH`]).
    fn add_upstreams(&mut self, cluster: &Cluster, i: usize, depth: usize) {
        if depth >= SOURCE_DEPTH || !self.hops[i].is_flux() {
            return;
        }
        let Fetched::Object(obj) = &self.hops[i].found else {
            return;
        };
        for (key, link_key) in upstream_links(&self.hops[i].key, obj) {
            let before = self.hops.len();
            let j = self.fetch(cluster, key);
            let fresh = j >= before && j + 1 == self.hops.len();
            let fine =
                matches!(self.hops[j].found, Fetched::Object(_)) && !self.hops[j].status.failing;
            if link_key == "dependsOn" && fresh && fine {
                // A dependency that is fine is a fact about `i`, not a hop of the chain.
                let dep = self.hops.pop().map(|h| h.key.label()).unwrap_or_default();
                self.hops[i].ready_dependencies.push(dep);
                continue;
            }
            self.hops[i].links.push(Link {
                key: link_key,
                to: j,
                how: None,
            });
            if j >= before && link_key != "dependsOn" {
                self.add_upstreams(cluster, j, depth + 1);
            }
        }
    }

    /// The first failure: the first failing hop in walk order, followed down its failing
    /// sources and dependencies to the one furthest upstream.
    fn first_failure(&self) -> Option<usize> {
        let mut current = self.hops.iter().position(|h| h.status.failing)?;
        let mut visited = HashSet::new();
        while visited.insert(current) {
            let next = self.hops[current]
                .links
                .iter()
                .filter(|l| {
                    matches!(
                        l.key,
                        "source"
                            | "imageRepository"
                            | "dependsOn"
                            | "provider"
                            | "inputsFrom"
                            | "include"
                    )
                })
                .map(|l| l.to)
                .find(|&to| self.hops[to].status.failing);
            match next {
                Some(n) => current = n,
                None => break,
            }
        }
        Some(current)
    }
}

impl Hop {
    fn is_flux(&self) -> bool {
        is_flux_group(&self.key.group)
    }
}

/// What [`Trace::add_upstreams`] follows from a Flux object: each upstream's key and the link
/// it makes.
fn upstream_links(key: &Key, obj: &Value) -> Vec<(Key, &'static str)> {
    let mut ups: Vec<Upstream> = diagnosis::upstreams(obj);
    ups.extend(more_upstreams(key, obj));
    ups.into_iter()
        .map(|u| {
            let link_key = match u.role {
                "source" => "source",
                "image repository" => "imageRepository",
                "provider" => "provider",
                "input provider" => "inputsFrom",
                // A GitRepository's include: another source its artifact is built from.
                "include" => "include",
                _ => "dependsOn",
            };
            let key = Key {
                group: u.group,
                kind: u.kind,
                namespace: u.namespace,
                name: u.name,
            };
            (key, link_key)
        })
        .collect()
}

/// The upstreams of a Flux object, each with whether the walk goes on down it (a dependency
/// is not followed further).
fn upstream_keys(key: &Key, obj: &Value) -> Vec<(Key, bool)> {
    upstream_links(key, obj)
        .into_iter()
        .map(|(k, link)| (k, link != "dependsOn"))
        .collect()
}

/// One GET of `key`, as a hop records it.
fn read_one(cluster: &Cluster, key: &Key) -> Result<Value, Fetched> {
    let group = if key.group.is_empty() {
        "v1"
    } else {
        &key.group
    };
    let read = cluster
        .resolve(Some(group), &key.kind)
        .and_then(|r| cluster.get(&r, &key.namespace, &key.name));
    match read {
        Ok(obj) => Ok(obj),
        Err(e) if e.is_not_found() => Err(Fetched::Missing),
        Err(kube::Error::UnknownKind { .. }) => Err(Fetched::Unreadable(format!(
            "the server does not serve {} ({group})",
            key.kind
        ))),
        Err(e) => Err(Fetched::Unreadable(e.to_string())),
    }
}

/// What a trace follows beyond what a diagnosis checks: an ExternalArtifact's generator
/// (source-watcher's ArtifactGenerator). A ResourceSet's input providers and a
/// GitRepository's includes come from [`diagnosis::upstreams`].
fn more_upstreams(key: &Key, obj: &Value) -> Vec<Upstream> {
    let up = |role, group: &str, kind: &str, r: &Value| {
        let name = r["name"].as_str().filter(|n| !n.is_empty())?;
        Some(Upstream {
            role,
            group: group.to_string(),
            kind: r["kind"].as_str().unwrap_or(kind).to_string(),
            namespace: r["namespace"]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or(&key.namespace)
                .to_string(),
            name: name.to_string(),
            must_be_ready: true,
            then: Vec::new(),
        })
    };
    match (key.group.as_str(), key.kind.as_str()) {
        ("source.toolkit.fluxcd.io", "ExternalArtifact") => {
            let r = &obj["spec"]["sourceRef"];
            let group = r["apiVersion"]
                .as_str()
                .and_then(|v| v.split_once('/'))
                .map_or("source.extensions.fluxcd.io", |(g, _)| g);
            up("source", group, "ArtifactGenerator", r)
                .into_iter()
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Whether HelmRelease `hr` manages Helm release `namespace/release`: its latest history
/// entry names it, else its release name (spec.releaseName, else `<targetNamespace>-<name>`
/// with a targetNamespace, else its name) in its release namespace (targetNamespace, else its
/// own; or its storageNamespace).
fn releases(hr: &Value, release: &str, namespace: &str) -> bool {
    let latest = &hr["status"]["history"][0];
    if let (Some(n), Some(ns)) = (latest["name"].as_str(), latest["namespace"].as_str()) {
        return n == release && ns == namespace;
    }
    let own = text(hr, "/metadata/namespace");
    let target = hr["spec"]["targetNamespace"]
        .as_str()
        .filter(|t| !t.is_empty());
    let name = text(hr, "/metadata/name");
    let computed = match (
        hr["spec"]["releaseName"].as_str().filter(|r| !r.is_empty()),
        target,
    ) {
        (Some(r), _) => r.to_string(),
        (None, Some(t)) => format!("{t}-{name}"),
        (None, None) => name.to_string(),
    };
    let storage = hr["status"]["storageNamespace"].as_str();
    computed == release && (target.unwrap_or(own) == namespace || storage == Some(namespace))
}

/// Where an object stands: a Flux object by its conditions, a workload by its replicas, a
/// Pod by its containers, a Job by its conditions; nothing for other kinds.
fn status(key: &Key, obj: &Value) -> Status {
    if is_flux_group(&key.group) {
        return flux_status(key, obj);
    }
    match (key.group.as_str(), key.kind.as_str()) {
        ("apps", "Deployment" | "StatefulSet" | "ReplicaSet") => replicas_status(obj),
        ("apps", "DaemonSet") => {
            let want = obj["status"]["desiredNumberScheduled"]
                .as_u64()
                .unwrap_or(0);
            let ready = obj["status"]["numberReady"].as_u64().unwrap_or(0);
            Status {
                summary: Some(("pods", format!("{ready}/{want} ready"))),
                failing: ready < want,
                reason: if ready < want {
                    "NotReady".into()
                } else {
                    String::new()
                },
                message: if ready < want {
                    format!("{ready} of {want} scheduled pods are ready")
                } else {
                    String::new()
                },
                derived: true,
                ..Status::default()
            }
        }
        ("", "Pod") => pod_status(obj),
        ("batch", "Job") => {
            let failed = diagnosis::condition(obj, "Failed").filter(|c| c.status == "True");
            let complete =
                diagnosis::condition(obj, "Complete").is_some_and(|c| c.status == "True");
            match failed {
                Some(c) => Status {
                    summary: Some(("job", "failed".into())),
                    failing: true,
                    reason: c.reason,
                    message: c.message,
                    ..Status::default()
                },
                None => Status {
                    summary: Some(("job", if complete { "complete" } else { "running" }.into())),
                    ..Status::default()
                },
            }
        }
        _ => Status::default(),
    }
}

fn flux_status(key: &Key, obj: &Value) -> Status {
    let h: Health = diagnosis::health(obj);
    if key.kind == "HelmRepository"
        && obj["spec"]["type"].as_str() == Some("oci")
        && h.ready.is_none()
    {
        // source-controller does not reconcile an OCI HelmRepository: it has no status.
        return Status {
            summary: Some((
                "ready",
                "no status (an OCI HelmRepository is never reconciled)".to_string(),
            )),
            ..Status::default()
        };
    }
    let ready = h.ready.as_ref();
    let summary = match ready {
        Some(c) if c.reason.is_empty() => c.status.clone(),
        Some(c) => format!("{} ({})", c.status, c.reason),
        None if diagnosis::unreconciled_line(
            &key.group,
            &key.kind,
            &key.namespace,
            &key.name,
            &h,
        )
        .is_some() =>
        {
            format!(
                "no status yet (is {} running and watching this namespace?)",
                diagnosis::controller(&key.group, &key.kind)
            )
        }
        None => "no Ready condition".to_string(),
    };
    let problem = h.problem_condition();
    let stalled = h
        .stalled
        .as_ref()
        .filter(|s| ready.is_none_or(|r| r.status == "True" || r.message != s.message))
        .map(|s| (s.reason.clone(), s.message.clone()));
    Status {
        summary: Some(("ready", summary)),
        failing: h.state == State::Failing,
        suspended: h.state == State::Suspended,
        reason: problem
            .or(ready)
            .map(|c| c.reason.clone())
            .unwrap_or_default(),
        message: ready.map(|c| c.message.clone()).unwrap_or_default(),
        stalled,
        derived: false,
    }
}

fn replicas_status(obj: &Value) -> Status {
    let want = obj["spec"]["replicas"].as_u64().unwrap_or(1);
    let ready = obj["status"]["readyReplicas"].as_u64().unwrap_or(0);
    let mut s = Status {
        summary: Some(("replicas", format!("{ready}/{want} ready"))),
        ..Status::default()
    };
    // A Deployment says why in its conditions; a StatefulSet or ReplicaSet only counts.
    let available = diagnosis::condition(obj, "Available").filter(|c| c.status == "False");
    let stuck = diagnosis::condition(obj, "Progressing")
        .filter(|c| c.status == "False" && c.reason == "ProgressDeadlineExceeded");
    if let Some(c) = stuck.or(available) {
        s.failing = true;
        s.reason = c.reason;
        s.message = c.message;
    } else if ready < want {
        s.failing = true;
        s.reason = "NotReady".into();
        s.message = format!("{ready} of {want} replicas are ready");
        s.derived = true;
    }
    s
}

/// A Pod: its phase, and the first container that is not running well (waiting with a
/// reason, or terminated with an error), its message verbatim.
fn pod_status(obj: &Value) -> Status {
    let phase = text(obj, "/status/phase");
    let mut s = Status {
        summary: Some((
            "phase",
            if phase.is_empty() { "unknown" } else { phase }.to_string(),
        )),
        ..Status::default()
    };
    let statuses = ["/status/initContainerStatuses", "/status/containerStatuses"]
        .iter()
        .filter_map(|p| obj.pointer(p).and_then(Value::as_array))
        .flatten();
    for c in statuses {
        let name = text(c, "/name");
        let waiting = &c["state"]["waiting"];
        let terminated = &c["state"]["terminated"];
        let (reason, message) = if waiting.is_object() {
            let reason = text(waiting, "/reason");
            if matches!(reason, "" | "ContainerCreating" | "PodInitializing") {
                continue;
            }
            (reason, text(waiting, "/message"))
        } else if terminated.is_object() && terminated["exitCode"].as_i64().unwrap_or(0) != 0 {
            (text(terminated, "/reason"), text(terminated, "/message"))
        } else {
            continue;
        };
        let state = container_status(obj, name)
            .and_then(|st| st.summary())
            .unwrap_or_else(|| reason.to_string());
        s.failing = true;
        s.reason = reason.to_string();
        s.message = message.to_string();
        s.summary = Some(("phase", format!("{phase}; container {name}: {state}")));
        return s;
    }
    if phase == "Failed" {
        s.failing = true;
        s.reason = text(obj, "/status/reason").to_string();
        s.message = text(obj, "/status/message").to_string();
    }
    s
}

/// The facts of a Flux object worth a line each: where its source points, the artifact
/// revision, the chart, and the last applied and attempted revisions.
fn facts(key: &Key, obj: &Value) -> Vec<(&'static str, String)> {
    let spec = &obj["spec"];
    let st = &obj["status"];
    let s = |v: &Value| v.as_str().filter(|x| !x.is_empty()).map(str::to_string);
    let mut out = Vec::new();
    match key.kind.as_str() {
        "Bucket" => {
            if let (Some(e), Some(b)) = (s(&spec["endpoint"]), s(&spec["bucketName"])) {
                out.push(("url", format!("{e}/{b}")));
            }
        }
        "HelmChart" => {
            if let Some(c) = s(&spec["chart"]) {
                let v = s(&spec["version"]).unwrap_or_else(|| "*".into());
                out.push(("chart", format!("{c}@{v}")));
            }
        }
        "HelmRelease" => {
            let chart = &spec["chart"]["spec"];
            if let Some(c) = s(&chart["chart"]) {
                let v = s(&chart["version"]).unwrap_or_else(|| "*".into());
                out.push(("chart", format!("{c}@{v}")));
            }
        }
        "ImageRepository" => {
            if let Some(i) = s(&spec["image"]) {
                out.push(("image", i));
            }
        }
        "ImagePolicy" => {
            if let (Some(n), Some(t)) = (s(&st["latestRef"]["name"]), s(&st["latestRef"]["tag"])) {
                out.push(("latestImage", format!("{n}:{t}")));
            }
        }
        "Kustomization" => {
            if let Some(p) = s(&spec["path"]) {
                out.push(("path", p));
            }
        }
        "FluxInstance" => {
            if let Some(v) = s(&spec["distribution"]["version"]) {
                out.push(("distribution", v));
            }
        }
        _ => {
            if let Some(u) = s(&spec["url"]) {
                out.push(("url", u));
            }
        }
    }
    if let Some(r) = s(&st["artifact"]["revision"]) {
        out.push(("artifactRevision", r));
    }
    // helm-controller records releases in its history, newest first.
    let applied = s(&st["lastAppliedRevision"]).or_else(|| {
        let latest = &st["history"][0];
        (key.kind == "HelmRelease")
            .then(|| s(&latest["chartVersion"]))
            .flatten()
            .map(|v| match s(&latest["status"]) {
                Some(status) => format!("{v} ({status})"),
                None => v,
            })
    });
    let attempted = s(&st["lastAttemptedRevision"]);
    let applied_version = applied
        .as_deref()
        .map(|a| a.split(" (").next().unwrap_or(a).to_string());
    match (applied, attempted) {
        (Some(a), Some(t)) if applied_version.as_deref() == Some(t.as_str()) => {
            out.push(("revision", format!("{a}, applied = attempted")));
        }
        (Some(a), Some(t)) => {
            out.push(("appliedRevision", a));
            out.push(("attemptedRevision", t));
        }
        (Some(a), None) => out.push(("appliedRevision", a)),
        (None, Some(t)) => {
            out.push(("appliedRevision", "none".into()));
            out.push(("attemptedRevision", t));
        }
        (None, None) => {}
    }
    out
}

/// The answer: a first line saying what was traced, the first failure (or that there is
/// none), then one entry per object of the chain, each with its links to the others.
pub fn render(t: &Trace, context: &str) -> String {
    let mut out = String::new();
    let start = &t.hops[0].key;
    let _ = writeln!(
        out,
        "# Trace of {} in context {}: {}, {}.",
        start.label(),
        context,
        count(t.hops.len(), "object"),
        count(t.calls, "API call")
    );
    match t.first_failure() {
        Some(i) => {
            let h = &t.hops[i];
            yaml::field(&mut out, "", "firstFailure", &failure_title(t, i));
            match &h.found {
                Fetched::Missing => {
                    yaml::field(&mut out, "", "reason", "NotFound");
                    yaml::field(
                        &mut out,
                        "",
                        "message",
                        &format!("{} does not exist", h.key.label()),
                    );
                }
                _ => {
                    if !h.status.reason.is_empty() {
                        yaml::field(&mut out, "", "reason", &h.status.reason);
                    }
                    if !h.status.message.is_empty() {
                        yaml::field(&mut out, "", "message", &h.status.message);
                    }
                }
            }
            yaml::field(&mut out, "", "next", &next_step(h));
        }
        None => {
            let suspended: Vec<String> = t
                .hops
                .iter()
                .filter(|h| h.status.suspended)
                .map(|h| h.key.label())
                .collect();
            let unread = t
                .hops
                .iter()
                .filter(|h| matches!(h.found, Fetched::Unreadable(_) | Fetched::NotChecked))
                .count();
            yaml::field(&mut out, "", "firstFailure", "none");
            let mut said = if unread > 0 {
                format!(
                    "No failure among the objects read; {} could not be read (see below).",
                    count(unread, "object")
                )
            } else {
                "Every object of the chain is ready.".to_string()
            };
            if !suspended.is_empty() {
                said.push_str(&format!(
                    " Suspended (changes are not applied): {}.",
                    suspended.join(", ")
                ));
            }
            out.push_str(&yaml::comment(&said));
        }
    }
    if let Some(checked) = &t.unmanaged {
        out.push_str("managedBy: none\n");
        out.push_str(&yaml::comment(&format!(
            "Flux does not manage {}: no owner labels (kustomize.toolkit.fluxcd.io/*, \
             helm.toolkit.fluxcd.io/*, resourceset.fluxcd.controlplane.io/*, \
             fluxcd.controlplane.io/*) and no Helm release annotations (meta.helm.sh/release-*) \
             on {}.",
            start.label(),
            checked.join(", ")
        )));
    }
    if let Some(release) = &t.plain_helm_release {
        yaml::field(
            &mut out,
            "",
            "managedBy",
            &format!("Helm release {release}"),
        );
        out.push_str(&yaml::comment(
            "No HelmRelease records this release (meta.helm.sh annotations): it was \
             installed by helm outside Flux.",
        ));
    }
    for n in &t.notes {
        out.push_str(&yaml::comment(&format!("note: {n}")));
    }
    out.push_str("chain:\n");
    for h in &t.hops {
        hop_lines(t, h, &mut out);
    }
    out
}

fn count(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `GitRepository flux-system/x, source of Kustomization flux-system/y`.
fn failure_title(t: &Trace, i: usize) -> String {
    let label = t.hops[i].key.label();
    let why = t.hops.iter().find_map(|h| {
        h.links
            .iter()
            .find(|l| l.to == i && l.key != "managedBy" && l.key != "ownedBy")
            .map(|l| {
                let role = match l.key {
                    "source" => "source",
                    "imageRepository" => "image repository",
                    "dependsOn" => "dependency",
                    "inputsFrom" => "input provider",
                    other => other,
                };
                format!("{role} of {}", h.key.label())
            })
    });
    match why {
        Some(w) => format!("{label}, {w}"),
        None => label,
    }
}

/// The call that shows more about the first failure.
fn next_step(h: &Hop) -> String {
    let k = &h.key;
    let ns = if k.namespace.is_empty() {
        String::new()
    } else {
        format!(", namespace {}", k.namespace)
    };
    match (h.is_flux(), k.kind.as_str()) {
        (_, _) if matches!(h.found, Fetched::Missing) => {
            format!("create {} or fix the reference to it", k.label())
        }
        (true, _) => format!(
            "get_kubernetes_events and get_kubernetes_logs with kind {}, name {}{ns}",
            k.kind, k.name
        ),
        (false, "Pod" | "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job") => {
            format!(
                "get_kubernetes_logs and get_kubernetes_events with kind {}, name {}{ns}",
                k.kind, k.name
            )
        }
        _ => format!(
            "get_kubernetes_events with kind {}, name {}{ns}",
            k.kind, k.name
        ),
    }
}

fn hop_lines(t: &Trace, h: &Hop, out: &mut String) {
    yaml::field(out, "- ", "object", &h.key.label());
    match &h.found {
        Fetched::Object(obj) => {
            let s = &h.status;
            if let Some((key, value)) = &s.summary {
                yaml::field(out, "  ", key, value);
            }
            if s.suspended {
                out.push_str("  suspended: true\n");
            }
            if h.is_flux() && !s.message.is_empty() {
                yaml::field(out, "  ", "message", &s.message);
            } else if s.failing && !s.message.is_empty() && !s.derived {
                yaml::field(out, "  ", "reason", &s.reason);
                yaml::field(out, "  ", "message", &s.message);
            }
            if let Some((reason, message)) = &s.stalled {
                yaml::field(out, "  ", "stalled", reason);
                yaml::field(out, "  ", "stalledMessage", message);
            }
            if h.is_flux() {
                for (key, value) in facts(&h.key, obj) {
                    yaml::field(out, "  ", key, &value);
                }
            }
        }
        Fetched::Missing => out.push_str("  found: false\n"),
        Fetched::Unreadable(e) => yaml::field(out, "  ", "unreadable", e),
        Fetched::NotChecked => yaml::field(
            out,
            "  ",
            "notChecked",
            &format!("at most {MAX_CALLS} API calls per trace"),
        ),
    }
    for l in &h.links {
        let target = t.hops[l.to].key.label();
        let value = match &l.how {
            Some(how) => format!("{target} ({how})"),
            None => target,
        };
        yaml::field(out, "  ", l.key, &value);
    }
    if !h.ready_dependencies.is_empty() {
        yaml::field(
            out,
            "  ",
            "readyDependencies",
            &h.ready_dependencies.join(", "),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn helm_releases_match_by_history_or_computed_name() {
        let hr = |spec: Value, status: Value| {
            json!({"metadata": {"name": "webapp-frontend", "namespace": "apps"}, "spec": spec,
                   "status": status})
        };
        let history = hr(
            json!({}),
            json!({"history": [{"name": "frontend", "namespace": "apps"}]}),
        );
        assert!(releases(&history, "frontend", "apps"));
        assert!(!releases(&history, "webapp-frontend", "apps"));
        let named = hr(json!({"releaseName": "frontend"}), json!({}));
        assert!(releases(&named, "frontend", "apps"));
        assert!(!releases(&named, "frontend", "other"));
        let targeted = hr(json!({"targetNamespace": "web"}), json!({}));
        assert!(releases(&targeted, "web-webapp-frontend", "web"));
        assert!(!releases(&targeted, "webapp-frontend", "apps"));
        let plain = hr(json!({}), json!({"storageNamespace": "apps"}));
        assert!(releases(&plain, "webapp-frontend", "apps"));
    }

    #[test]
    fn workloads_and_pods_say_what_is_wrong() {
        let pod = json!({"status": {"phase": "Running", "containerStatuses": [
            {"name": "ok", "restartCount": 0, "state": {"running": {}}},
            {"name": "redis", "restartCount": 7, "state": {"waiting": {"reason": "CrashLoopBackOff",
                "message": "back-off 5m0s restarting failed container=redis"}}}]}});
        let s = pod_status(&pod);
        assert!(s.failing);
        assert_eq!(s.reason, "CrashLoopBackOff");
        assert_eq!(s.message, "back-off 5m0s restarting failed container=redis");
        assert_eq!(
            s.summary.map(|(_, v)| v).as_deref(),
            Some("Running; container redis: waiting: CrashLoopBackOff; 7 restarts")
        );
        let creating = json!({"status": {"phase": "Pending", "containerStatuses": [
            {"name": "a", "state": {"waiting": {"reason": "ContainerCreating"}}}]}});
        assert!(!pod_status(&creating).failing);
        let deployment = json!({"spec": {"replicas": 2}, "status": {"readyReplicas": 1,
            "conditions": [{"type": "Available", "status": "False",
                "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability."}]}});
        let s = replicas_status(&deployment);
        assert!(s.failing);
        assert_eq!(s.reason, "MinimumReplicasUnavailable");
        assert_eq!(s.summary.map(|(_, v)| v).as_deref(), Some("1/2 ready"));
        let sts = json!({"spec": {"replicas": 1}, "status": {"readyReplicas": 1}});
        assert!(!replicas_status(&sts).failing);
    }

    #[test]
    fn revisions_say_applied_and_attempted() {
        let key = |kind: &str| Key {
            group: "kustomize.toolkit.fluxcd.io".into(),
            kind: kind.into(),
            namespace: "ns".into(),
            name: "n".into(),
        };
        let same = json!({"spec": {"path": "./apps"}, "status": {"lastAppliedRevision": "main@sha1:a",
            "lastAttemptedRevision": "main@sha1:a"}});
        assert_eq!(
            facts(&key("Kustomization"), &same),
            [
                ("path", "./apps".to_string()),
                ("revision", "main@sha1:a, applied = attempted".to_string())
            ]
        );
        let behind = json!({"status": {"lastAppliedRevision": "main@sha1:a",
            "lastAttemptedRevision": "main@sha1:b"}});
        assert_eq!(
            facts(&key("Kustomization"), &behind),
            [
                ("appliedRevision", "main@sha1:a".to_string()),
                ("attemptedRevision", "main@sha1:b".to_string())
            ]
        );
        let hr = json!({"spec": {"chart": {"spec": {"chart": "redis", "version": "20.1.4"}}},
            "status": {"history": [{"chartVersion": "20.1.4", "status": "failed"}],
                       "lastAttemptedRevision": "20.1.4"}});
        assert_eq!(
            facts(&key("HelmRelease"), &hr),
            [
                ("chart", "redis@20.1.4".to_string()),
                (
                    "revision",
                    "20.1.4 (failed), applied = attempted".to_string()
                )
            ]
        );
    }
}
