//! The object-shaping pipeline shared by `get_kubernetes_resources` and `get_flux_instance`:
//! a [`Batch`] takes the objects of one answer as they stream in, runs the security pass on
//! each, reads a HelmRelease's inventory from Helm storage, reduces each object (lean, or to
//! the caller's `fields`) and renders it at once, a failing object's status before its spec;
//! then attaches events (bulk lists, not one per object, one line each) and puts the root
//! cause of each failing Flux object (reasons, state of its source and dependencies) above
//! its document. Condition messages are never shortened, replaced or referred to: each
//! condition carries its own, verbatim.
//!
//! Extra cluster calls are bounded per answer: events are one LIST per kind and namespace (or
//! one for the cluster), Helm inventories at most [`HELM_INVENTORIES`] GETs, upstream checks at
//! most [`UPSTREAM_LOOKUPS`] GETs. Their failures become notes, never a failed call.

pub mod diagnosis;
pub mod events;
pub mod fields;
pub mod helm;
pub mod lean;
pub mod mask;
pub mod trace;
pub mod yaml;

use std::collections::{BTreeSet, HashMap};
use std::ops::ControlFlow;

use serde_json::{Map, Value, json};

use super::Cluster;
use crate::kube;
use crate::kube::discovery::Resource;
use crate::kube::list::ListOptions;
use diagnosis::{Finding, Health, State, Upstream};
use fields::Fields;
use yaml::Layout;

/// Upstream objects (sources, dependencies) fetched per answer to explain failures.
pub const UPSTREAM_LOOKUPS: usize = 6;
/// HelmRelease inventories read from Helm storage per answer (one Secret GET each).
pub const HELM_INVENTORIES: usize = 20;
/// Namespaces listed one by one for events when a cluster-wide events list is refused.
const EVENT_NAMESPACES_MAX: usize = 20;
/// Above this many namespaces, one cluster-wide events list replaces per-namespace lists.
const EVENT_NAMESPACES_SEPARATELY: usize = 3;

/// True for the Flux API groups, whose objects are listed first by
/// `get_kubernetes_api_versions` and get events and a diagnosis: the toolkit controllers
/// (`*.toolkit.fluxcd.io`), source-watcher (`source.extensions.fluxcd.io`) and the Flux
/// Operator (`fluxcd.controlplane.io` and its subgroups, such as `web.fluxcd.controlplane.io`).
pub fn is_flux_group(group: &str) -> bool {
    group.ends_with(".fluxcd.io")
        || group == "fluxcd.controlplane.io"
        || group.ends_with(".fluxcd.controlplane.io")
}

/// An object's identity within one answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    group: String,
    kind: String,
    namespace: String,
    name: String,
}

impl Upstream {
    fn key(&self) -> Key {
        Key {
            group: self.group.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

/// One rendered document and what the later steps need to know about it.
struct Doc {
    key: Key,
    uid: Option<String>,
    flux: bool,
    health: Option<Health>,
    /// The line saying no controller has reconciled this Flux object yet, if so (see
    /// [`diagnosis::unreconciled_line`]): its diagnosis, and counted by [`Batch::tally`].
    unreconciled: Option<String>,
    upstreams: Vec<Upstream>,
    /// `(type, message)` of each condition, to spot events that repeat one.
    condition_messages: Vec<(String, String)>,
    /// Comment lines above the document: the diagnosis, then notes, then the Flux owner.
    header: Vec<String>,
    notes: Vec<String>,
    managed_by: Vec<String>,
    body: String,
    events: Option<Vec<Value>>,
}

/// Counts of a list's Flux objects by state, and the failing ones.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    pub ready: usize,
    pub failing: usize,
    pub progressing: usize,
    pub suspended: usize,
    pub no_status: usize,
    /// `namespace/name: Reason: message` for each failing object, in list order, the message
    /// shortened (see [`diagnosis::shortened`]).
    pub failures: Vec<String>,
    /// `namespace/name` of each object no controller has reconciled yet (counted in
    /// `no_status`).
    pub unreconciled: Vec<String>,
}

/// The documents of one answer.
pub struct Batch<'a> {
    cluster: &'a Cluster,
    mask_secrets: bool,
    fields: Option<&'a Fields>,
    matched: Vec<bool>,
    docs: Vec<Doc>,
    /// Health of every Flux object met, from the answer itself or from a lookup.
    known: HashMap<Key, (Finding, Vec<Upstream>)>,
    lookups_left: usize,
    helm_left: usize,
    helm_skipped: usize,
    notes: Vec<String>,
}

impl<'a> Batch<'a> {
    pub fn new(cluster: &'a Cluster, mask_secrets: bool, fields: Option<&'a Fields>) -> Batch<'a> {
        Batch {
            cluster,
            mask_secrets,
            fields,
            matched: vec![false; fields.map_or(0, Fields::len)],
            docs: Vec::new(),
            known: HashMap::new(),
            lookups_left: UPSTREAM_LOOKUPS,
            helm_left: HELM_INVENTORIES,
            helm_skipped: 0,
            notes: Vec::new(),
        }
    }

    /// Adds a note for the whole answer (shown with the notes of [`Batch::notes`]).
    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    /// How many documents were added.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Shapes one object and renders it. Only the rendered text and a few facts are kept.
    pub fn add(&mut self, mut obj: Value) {
        lean::sanitize(&mut obj, self.mask_secrets);
        let api_version = obj["apiVersion"].as_str().unwrap_or("");
        let group = api_version.split_once('/').map_or("", |(g, _)| g);
        let key = Key {
            group: group.to_string(),
            kind: obj["kind"].as_str().unwrap_or("").to_string(),
            namespace: obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            name: obj["metadata"]["name"].as_str().unwrap_or("").to_string(),
        };
        let flux = is_flux_group(group);
        let uid = obj["metadata"]["uid"].as_str().map(str::to_string);
        let (health, upstreams) = if flux {
            (Some(diagnosis::health(&obj)), diagnosis::upstreams(&obj))
        } else {
            (None, Vec::new())
        };
        if let Some(h) = &health {
            self.known
                .insert(key.clone(), (Finding::Seen(h.clone()), upstreams.clone()));
        }
        let unreconciled = health.as_ref().and_then(|h| {
            diagnosis::unreconciled_line(&key.group, &key.kind, &key.namespace, &key.name, h)
        });
        let condition_messages: Vec<(String, String)> = obj["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                let message = c["message"].as_str().filter(|m| !m.is_empty())?;
                Some((
                    c["type"].as_str().unwrap_or("").to_string(),
                    message.to_string(),
                ))
            })
            .collect();
        let mut notes = Vec::new();
        let wants_inventory = self
            .fields
            .is_none_or(|f| f.asks_for(|keys| keys.starts_with(&["status", "inventory"])));
        let inventory = if key.group == "helm.toolkit.fluxcd.io"
            && key.kind == "HelmRelease"
            && wants_inventory
        {
            match self.helm_inventory(&obj) {
                Ok(inv) => Some(inv),
                Err(note) => {
                    notes.push(format!("Helm inventory {note}"));
                    None
                }
            }
        } else {
            None
        };
        // What is wrong with a failing object is in its conditions: they come first.
        let layout = if health.as_ref().is_some_and(diagnosis::status_first) {
            Layout::StatusFirst
        } else {
            Layout::SpecFirst
        };
        let mut managed_by = Vec::new();
        let body_value = match self.fields {
            Some(f) => {
                if let Some(inv) = inventory {
                    set_status_field(&mut obj, "inventory", inv);
                }
                f.select(&obj, &mut self.matched, is_events_path)
            }
            None => {
                managed_by = lean::fold_ownership(&mut obj);
                lean::lean(&mut obj);
                if let Some(inv) = inventory {
                    set_status_field(&mut obj, "inventory", inv);
                }
                obj
            }
        };
        self.docs.push(Doc {
            key,
            uid,
            flux,
            health,
            unreconciled,
            upstreams,
            condition_messages,
            header: Vec::new(),
            notes,
            managed_by,
            body: yaml::document(&body_value, layout),
            events: None,
        });
    }

    /// The inventory of a HelmRelease from its latest Helm storage Secret, or a note saying
    /// why there is none.
    fn helm_inventory(&mut self, hr: &Value) -> Result<Value, String> {
        let storage = helm::storage_ref(hr)?;
        if self.helm_left == 0 {
            self.helm_skipped += 1;
            return Err(format!(
                "not read: at most {HELM_INVENTORIES} per answer; get this HelmRelease by name"
            ));
        }
        self.helm_left -= 1;
        let cluster = self.cluster;
        let secrets = Resource::new("v1", "Secret", "secrets", true);
        let secret = match storage.version {
            Some(v) => {
                let name = storage.secret_name(v);
                cluster
                    .get(&secrets, &storage.namespace, &name)
                    .map_err(|e| {
                        if e.is_not_found() {
                            format!(
                                "not read: Helm storage Secret {}/{name} not found",
                                storage.namespace
                            )
                        } else {
                            format!("not read: {e}")
                        }
                    })?
            }
            None => newest_release_secret(cluster, &secrets, &storage.namespace, &storage.release)
                .map_err(|e| format!("not read: {e}"))?
                .ok_or_else(|| {
                    format!(
                        "not read: no Helm release {} stored in namespace {} yet",
                        storage.release, storage.namespace
                    )
                })?,
        };
        let payload = secret["data"]["release"]
            .as_str()
            .ok_or_else(|| format!("not read: {}", helm::Error::NoPayload))?;
        let discovery = cluster.discovery().ok();
        let namespaced = |api_version: &str, kind: &str| {
            let (group, _) = api_version.split_once('/').unwrap_or(("", api_version));
            discovery.as_ref().and_then(|d| {
                d.resources()
                    .find(|r| r.group == group && r.kind == kind)
                    .map(|r| r.namespaced)
            })
        };
        let release = helm::decode_release(payload, namespaced).map_err(|e| {
            format!(
                "not read from Secret {}/{}: {e}",
                storage.namespace,
                secret["metadata"]["name"].as_str().unwrap_or("")
            )
        })?;
        let list_max = if self.fields.is_some() {
            usize::MAX
        } else {
            lean::INVENTORY_LIST_MAX
        };
        let mut summary = lean::summarise(&release.objects, &release.images, list_max);
        if let Some(n) = release.first_unreadable_document {
            summary["unreadable"] = json!(format!(
                "manifest document {n} and the ones after it are not valid YAML"
            ));
        }
        Ok(summary)
    }

    /// Completes the documents once every object was added: attaches events, then puts the
    /// diagnosis above each Flux object that needs one.
    pub fn finish(&mut self) {
        self.attach_events();
        self.diagnose();
    }

    /// Attaches recent events to the Flux objects (in `fields` mode only when asked for).
    /// One LIST per kind: for one object its own events, for a few namespaces one LIST each,
    /// else one for the whole cluster.
    fn attach_events(&mut self) {
        if let Some(f) = self.fields
            && !f.asks_for(is_events_path)
        {
            return;
        }
        let kinds: BTreeSet<String> = self
            .docs
            .iter()
            .filter(|d| d.flux)
            .map(|d| d.key.kind.clone())
            .collect();
        for kind in kinds {
            let of_kind: Vec<usize> = (0..self.docs.len())
                .filter(|&i| self.docs[i].flux && self.docs[i].key.kind == kind)
                .collect();
            let namespaces: BTreeSet<String> = of_kind
                .iter()
                .map(|&i| events_namespace(&self.docs[i].key))
                .collect();
            let cluster = self.cluster;
            let fetched = if let [only] = of_kind.as_slice() {
                let k = &self.docs[*only].key;
                events::fetch(
                    cluster,
                    &kind,
                    events::Scope::Object {
                        namespace: &events_namespace(k),
                        name: &k.name,
                    },
                )
            } else if namespaces.len() <= EVENT_NAMESPACES_SEPARATELY {
                fetch_per_namespace(cluster, &kind, &namespaces)
            } else {
                match events::fetch(cluster, &kind, events::Scope::AllNamespaces) {
                    Err(e) if e.is_forbidden() && namespaces.len() <= EVENT_NAMESPACES_MAX => {
                        fetch_per_namespace(cluster, &kind, &namespaces)
                    }
                    other => other,
                }
            };
            match fetched {
                Ok(mut found) => {
                    for i in of_kind {
                        let d = &mut self.docs[i];
                        let mut list =
                            found.take(&events_namespace(&d.key), &d.key.name, d.uid.as_deref());
                        if self.mask_secrets {
                            mask::mask_event_messages(&mut list);
                        }
                        d.events = Some(if self.fields.is_none() {
                            let healthy =
                                d.health.as_ref().is_some_and(|h| h.state == State::Ready);
                            event_lines(list, &d.condition_messages, healthy)
                        } else {
                            list
                        });
                    }
                }
                Err(e) => self
                    .notes
                    .push(format!("events of {kind} objects not shown: {e}")),
            }
        }
    }

    /// Puts the diagnosis above each failing, suspended or never reconciled Flux object: its
    /// reasons, then the state of its source and of any dependency that is not ready, fetching
    /// those not already in the answer (at most [`UPSTREAM_LOOKUPS`] GETs per answer,
    /// remembered).
    fn diagnose(&mut self) {
        for i in 0..self.docs.len() {
            let Some(health) = self.docs[i].health.clone() else {
                continue;
            };
            let k = &self.docs[i].key;
            let unreconciled = self.docs[i].unreconciled.clone();
            let explain = health.state == State::Failing || unreconciled.is_some();
            let mut lines: Vec<String> =
                diagnosis::headline(&k.kind, &k.namespace, &k.name, &health)
                    .into_iter()
                    .chain(unreconciled)
                    .collect();
            if explain {
                let upstreams = self.docs[i].upstreams.clone();
                for u in &upstreams {
                    self.explain_upstream(u, 0, &mut lines);
                }
            }
            self.docs[i].header = lines;
        }
    }

    /// Adds the line for `u` (sources always, dependencies when they are a problem) and, for
    /// a failing source, one more hop (a HelmChart's HelmRepository).
    fn explain_upstream(&mut self, u: &Upstream, depth: usize, lines: &mut Vec<String>) {
        let (finding, next) = self.find(u);
        if u.role == "source" || finding.is_problem(u.must_be_ready) {
            // An upstream object listed whole in this same answer carries its message
            // verbatim in its own document: here it is shortened.
            let listed = self.fields.is_none() && self.docs.iter().any(|d| d.key == u.key());
            let line = diagnosis::upstream_line(u, &finding, listed);
            lines.push(if depth == 0 {
                line
            } else {
                format!("  via {line}")
            });
        }
        if depth == 0 && u.role == "source" && finding.is_problem(u.must_be_ready) {
            for n in next.iter().filter(|n| n.role == "source") {
                self.explain_upstream(n, depth + 1, lines);
            }
        }
    }

    fn find(&mut self, u: &Upstream) -> (Finding, Vec<Upstream>) {
        let key = u.key();
        if let Some(found) = self.known.get(&key) {
            return found.clone();
        }
        if self.lookups_left == 0 {
            return (Finding::NotChecked, Vec::new());
        }
        self.lookups_left -= 1;
        let cluster = self.cluster;
        let api_version = if u.group.is_empty() { "v1" } else { &u.group };
        let result = cluster
            .resolve(Some(api_version), &u.kind)
            .and_then(|r| cluster.get(&r, &u.namespace, &u.name));
        let found = match result {
            Ok(obj) => (
                Finding::Seen(diagnosis::health(&obj)),
                diagnosis::upstreams(&obj),
            ),
            Err(e) if e.is_not_found() => (Finding::NotFound, Vec::new()),
            Err(kube::Error::UnknownKind { .. }) => (
                Finding::Unreadable(format!("the server does not serve {}", u.kind)),
                Vec::new(),
            ),
            Err(e) => (Finding::Unreadable(e.to_string()), Vec::new()),
        };
        self.known.insert(key, found.clone());
        found
    }

    /// Counts of the Flux objects by state, with a line per failing one.
    pub fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for d in &self.docs {
            let Some(h) = &d.health else { continue };
            let who = if d.key.namespace.is_empty() {
                d.key.name.clone()
            } else {
                format!("{}/{}", d.key.namespace, d.key.name)
            };
            if d.unreconciled.is_some() {
                t.unreconciled.push(who.clone());
            }
            match h.state {
                State::Ready => t.ready += 1,
                State::Failing => {
                    t.failing += 1;
                    let problem = h
                        .problem_condition()
                        .map(diagnosis::Condition::brief)
                        .unwrap_or_default();
                    t.failures.push(format!("{who}: {problem}"));
                }
                State::Progressing => t.progressing += 1,
                State::Suspended => t.suspended += 1,
                State::NoStatus => t.no_status += 1,
            }
        }
        t
    }

    /// Notes for the whole answer: events that could not be read, `fields` paths that
    /// matched nothing, inventories skipped.
    pub fn notes(&self) -> Vec<String> {
        let mut out = self.notes.clone();
        if let Some(f) = self.fields {
            let about_events = f.each_asks_for(is_events_path);
            for ((spec, matched), about_events) in f.specs().zip(&self.matched).zip(about_events) {
                if !matched && !about_events && !self.docs.is_empty() {
                    out.push(format!("fields: {spec:?} matched nothing in any object"));
                }
            }
        }
        if self.helm_skipped > 0 {
            out.push(format!(
                "Helm inventories: {} HelmReleases not read (at most {HELM_INVENTORIES} per answer)",
                self.helm_skipped
            ));
        }
        out
    }

    /// Every document, each starting with `---`, its diagnosis, notes and Flux owner as
    /// comments.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    /// [`Batch::render`] appended to `out`: a list of thousands of objects is then held once
    /// as documents and once as the answer, not a third time as an intermediate string.
    pub fn render_into(&self, out: &mut String) {
        out.reserve(self.docs.iter().map(|d| d.body.len() + 64).sum());
        for d in &self.docs {
            out.push_str("---\n");
            for line in d.header.iter().chain(&d.notes).chain(&d.managed_by) {
                out.push_str(&yaml::comment(line));
            }
            out.push_str(&d.body);
            if let Some(events) = d.events.as_ref().filter(|e| !e.is_empty()) {
                out.push_str(&yaml::root_entry("events", events));
            }
        }
    }
}

/// Events as the lean output shows them, one line each (see [`events::line`]). An event
/// that repeats a condition's message word for word says so instead of repeating it (Ready
/// named first when several match); for a healthy object such an event says nothing the
/// condition does not, and goes: healthy objects stay short.
fn event_lines(events: Vec<Value>, conditions: &[(String, String)], healthy: bool) -> Vec<Value> {
    events
        .into_iter()
        .filter_map(|e| {
            let same = e["message"].as_str().and_then(|message| {
                conditions
                    .iter()
                    .filter(|(_, m)| m == message)
                    .min_by_key(|(t, _)| t != "Ready")
                    .map(|(t, _)| t.as_str())
            });
            if healthy && same.is_some() {
                return None;
            }
            Some(Value::String(events::line(&e, same)))
        })
        .collect()
}

/// Paths answered by the events step rather than by the object (by their leading keys): not
/// applied to the object, attaching events when present, never reported as unmatched.
fn is_events_path(keys: &[&str]) -> bool {
    matches!(keys, ["events", ..] | ["status", "events", ..])
}

/// Events of cluster-scoped objects are recorded in `default` (client-go's event recorder).
fn events_namespace(k: &Key) -> String {
    if k.namespace.is_empty() {
        "default".to_string()
    } else {
        k.namespace.clone()
    }
}

fn fetch_per_namespace(
    cluster: &Cluster,
    kind: &str,
    namespaces: &BTreeSet<String>,
) -> Result<events::Events, kube::Error> {
    let mut all = events::Events::default();
    for ns in namespaces {
        let mut one = events::fetch(cluster, kind, events::Scope::Namespace(ns))?;
        all.absorb(&mut one);
    }
    Ok(all)
}

fn set_status_field(obj: &mut Value, key: &str, v: Value) {
    if !obj["status"].is_object() {
        obj["status"] = Value::Object(Map::new());
    }
    obj["status"][key] = v;
}

/// The highest-version Helm storage Secret of `release` (Helm's labels `owner=helm`,
/// `name=<release>`), for a HelmRelease that records no release. Streams the list and keeps
/// one Secret.
fn newest_release_secret(
    cluster: &Cluster,
    secrets: &Resource,
    namespace: &str,
    release: &str,
) -> Result<Option<Value>, kube::Error> {
    let options = ListOptions {
        namespace: Some(namespace.to_string()),
        label_selector: Some(format!("owner=helm,name={release}")),
        ..ListOptions::default()
    };
    let mut best: Option<(u64, Value)> = None;
    cluster.list(secrets, &options, |s| {
        let version = s["metadata"]["labels"]["version"]
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        if best.as_ref().is_none_or(|(v, _)| version > *v) {
            best = Some((version, s));
        }
        ControlFlow::Continue(())
    })?;
    Ok(best.map(|(_, s)| s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flux_groups() {
        for g in [
            "source.toolkit.fluxcd.io",
            "helm.toolkit.fluxcd.io",
            "source.extensions.fluxcd.io",
            "fluxcd.controlplane.io",
            "web.fluxcd.controlplane.io",
        ] {
            assert!(is_flux_group(g), "{g}");
        }
        for g in [
            "",
            "apps",
            "fluxcd.io",
            "fluxcd.io.example.com",
            "notfluxcd.io",
            "notfluxcd.controlplane.io",
            "controlplane.io",
        ] {
            assert!(!is_flux_group(g), "{g}");
        }
    }
}
