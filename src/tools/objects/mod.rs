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
//!
//! They are made together, once the objects are in ([`Batch::finish`]): the events, the Helm
//! inventories and the first level of upstream lookups are independent of each other, so they
//! go out at once (bounded by [`cluster::PARALLEL_REQUESTS`]) and a list costs two round trips,
//! not one per side call. The diagnosis then follows chains a level at a time: a dry pass of
//! the walk names what it would read next, that is read at once, and the walk runs again,
//! until it needs nothing more; the last pass is the walk itself, with the same budget and the
//! same order, so the answer is the one a walk reading one object at a time would write.

pub mod diagnosis;
pub mod events;
pub mod fields;
pub mod helm;
pub mod lean;
pub mod mask;
pub mod trace;
pub mod yaml;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::ControlFlow;

use serde_json::{Map, Value, json};

use super::Cluster;
use super::cluster;
use crate::kube;
use crate::kube::discovery::Resource;
use crate::kube::list::ListOptions;
use diagnosis::{Finding, Health, State, Upstream};
use fields::Fields;
use yaml::Layout;

/// Upstream objects (sources, dependencies) fetched per answer to explain failures.
pub const UPSTREAM_LOOKUPS: usize = 16;
/// How far a failing object's chain of sources and dependencies is followed (HelmRelease →
/// HelmChart → HelmRepository is two hops).
pub const CHAIN_HOPS: usize = 4;
/// Objects read when an upstream's collection (its kind in its namespace) is listed at once.
const COLLECTION_MAX: usize = 500;
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
    /// The root cause named in the headline (`Kind ns/name: state`), when it is another object.
    root: Option<String>,
    /// `(type, message)` of each condition, to spot events that repeat one.
    condition_messages: Vec<(String, String)>,
    /// Comment lines above the document: the diagnosis, then notes, then the Flux owner.
    header: Vec<String>,
    notes: Vec<String>,
    managed_by: Vec<String>,
    body: String,
    events: Option<Vec<Value>>,
    /// A failing Flux object (or a suspended one whose last status was a failure): always
    /// shown whole, and first.
    failing: bool,
    /// The one-line form of a Flux object that is not failing (see [`diagnosis::brief`]).
    brief: Option<String>,
    /// Shown as its `brief` line, not as a document (a long list's healthy objects).
    summarised: bool,
    /// A HelmRelease whose body waits for its inventory (see [`Pending`]).
    pending: Option<Box<Pending>>,
}

/// A HelmRelease's document before its inventory is read: the inventory is read in
/// [`Batch::finish`] with the answer's other side calls, and the body rendered then. At most
/// [`HELM_INVENTORIES`] objects wait so.
struct Pending {
    /// The object as far as it was shaped: sanitised, and leaned unless `fields` are asked.
    obj: Value,
    layout: Layout,
    storage: helm::StorageRef,
}

/// One request of the side calls [`Batch::finish`] makes at once.
enum Request {
    /// The events of `kind` in one scope (an object, a namespace, every namespace).
    Events { kind: String, scope: OwnedScope },
    /// A HelmRelease's inventory from Helm storage, for document `doc`.
    Inventory { doc: usize },
    /// An upstream lookup a dry pass of the diagnosis asked for.
    Lookup(Want),
}

/// What a [`Request`] got.
enum Answer {
    Events(Result<events::Events, kube::Error>),
    Inventory(Result<Value, String>),
    Lookup(Got),
}

/// [`events::Scope`] with owned names, for a request made on another thread.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OwnedScope {
    AllNamespaces,
    Namespace(String),
    Object { namespace: String, name: String },
}

impl OwnedScope {
    fn scope(&self) -> events::Scope<'_> {
        match self {
            OwnedScope::AllNamespaces => events::Scope::AllNamespaces,
            OwnedScope::Namespace(ns) => events::Scope::Namespace(ns),
            OwnedScope::Object { namespace, name } => events::Scope::Object { namespace, name },
        }
    }
}

/// An upstream lookup: an upstream's collection (its kind in its namespace) listed whole, or
/// one object.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Want {
    List(Collection, Resource),
    Get(Key, Resource),
}

/// `(group, kind, namespace)` of an upstream's collection.
type Collection = (String, String, String);

/// What an upstream lookup read.
enum Got {
    /// The objects listed (as many as were read) and whether that was the whole collection.
    List(Collection, Listed),
    Get(Key, (Finding, Vec<Upstream>)),
}

/// A collection as listed for lookups: each object's key, finding and upstreams, and whether
/// the list was read whole (so that an object it does not hold does not exist).
#[derive(Clone)]
struct Listed {
    whole: bool,
    items: Vec<(Key, (Finding, Vec<Upstream>))>,
}

/// What the lookups of one answer read, kept so that nothing is read twice, and what a dry
/// pass of the diagnosis would read next.
#[derive(Default)]
struct Lookups {
    lists: HashMap<Collection, Listed>,
    gets: HashMap<Key, (Finding, Vec<Upstream>)>,
    /// Set during a dry pass: the reads it missed, in walk order, and the keys it added to
    /// `known` (taken out again after the pass).
    dry: Option<Dry>,
}

#[derive(Default)]
struct Dry {
    wanted: Vec<Want>,
    added: Vec<Key>,
}

/// Dry passes of the diagnosis at most (each reads one more level of the chains at once); a
/// chain longer than that is read by the last pass itself.
const DRY_PASSES: usize = CHAIN_HOPS + 1;

/// The position of an object in a list: `(namespace, name)`.
pub type ListKey = (String, String);

/// What [`Batch::render_budgeted`] wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Shown {
    /// Failing documents written, and the last one's key.
    pub failing: usize,
    pub last_failing: Option<ListKey>,
    /// Other objects written (whole or as one line), and the last one's key.
    pub others: usize,
    pub last_other: Option<ListKey>,
    /// Objects left out because the byte budget was spent.
    pub cut: usize,
}

/// Counts of a list's Flux objects by state, and the failing ones.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    pub ready: usize,
    pub failing: usize,
    pub progressing: usize,
    pub suspended: usize,
    pub no_status: usize,
    /// `(namespace/name, reasons)` of the first [`FAILURES_LISTED`] failing objects, in list
    /// order (the messages are in the objects' documents).
    pub failures: Vec<(String, String)>,
    /// `namespace/name` of the first [`FAILURES_LISTED`] objects no controller has reconciled
    /// yet (counted in `no_status`).
    pub unreconciled: Vec<String>,
}

/// Failing (and never reconciled) objects named one per line in a list's summary; the others
/// are counted.
pub const FAILURES_LISTED: usize = 30;

impl Tally {
    /// Counts one object: `who` is `namespace/name` (or `name`), `unreconciled` whether no
    /// controller has written its status yet.
    pub fn add(&mut self, who: &str, h: &Health, unreconciled: bool) {
        if unreconciled && self.unreconciled.len() < FAILURES_LISTED {
            self.unreconciled.push(who.to_string());
        }
        match h.state {
            State::Ready => self.ready += 1,
            State::Failing => {
                self.failing += 1;
                if self.failures.len() < FAILURES_LISTED {
                    let reasons = match (&h.ready, &h.stalled) {
                        (Some(r), Some(s)) if r.status != "True" && s.label() != r.label() => {
                            format!("{}; stalled: {}", r.label(), s.label())
                        }
                        _ => h
                            .problem_condition()
                            .map(diagnosis::Condition::label)
                            .unwrap_or_default(),
                    };
                    self.failures.push((who.to_string(), reasons));
                }
            }
            State::Progressing => self.progressing += 1,
            State::Suspended => self.suspended += 1,
            State::NoStatus => self.no_status += 1,
        }
    }

    /// How many objects were counted.
    pub fn total(&self) -> usize {
        self.ready + self.failing + self.progressing + self.suspended + self.no_status
    }

    /// `12 ready, 3 failing, 1 suspended`: the states that have objects (ready and failing
    /// always).
    pub fn counts(&self) -> String {
        let mut out = format!("{} ready, {} failing", self.ready, self.failing);
        for (n, what) in [
            (self.progressing, "progressing"),
            (self.suspended, "suspended"),
            (self.no_status, "without status"),
        ] {
            if n > 0 {
                out.push_str(&format!(", {n} {what}"));
            }
        }
        out
    }
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
    /// Collections `(group, kind, namespace)` listed whole for lookups.
    listed: HashSet<(String, String, String)>,
    lookups: Lookups,
    helm_left: usize,
    helm_skipped: usize,
    notes: Vec<String>,
    /// Above this many documents, Flux objects that are not failing are shown one line each.
    summarise_above: Option<usize>,
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
            listed: HashSet::new(),
            lookups: Lookups::default(),
            helm_left: HELM_INVENTORIES,
            helm_skipped: 0,
            notes: Vec::new(),
            summarise_above: None,
        }
    }

    /// Once the answer holds more than `n` objects, the Flux objects that are not failing are
    /// shown one line each (name, state, revision, age) and failing ones keep their whole
    /// document: a long list stays readable and the failures stand out.
    pub fn summarise_healthy_above(&mut self, n: usize) {
        self.summarise_above = Some(n);
    }

    /// Whether the caller asked for `fields`.
    pub fn has_fields(&self) -> bool {
        self.fields.is_some()
    }

    fn summarising(&self) -> bool {
        self.summarise_above.is_some_and(|n| self.docs.len() > n)
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
        let now = self.cluster.now();
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
        let failing = health
            .as_ref()
            .is_some_and(|h| h.state == State::Failing || diagnosis::status_first(h));
        let brief = match &health {
            Some(h) if !failing => Some(diagnosis::brief(&obj, h, unreconciled.is_some(), now)),
            _ => None,
        };
        // One more document makes this a long list: the objects it summarises are not
        // rendered at all (the ones before it are turned into their line in `finish`).
        if brief.is_some() && self.summarise_above.is_some_and(|n| self.docs.len() >= n) {
            if let Some(h) = &health {
                self.known
                    .insert(key.clone(), (Finding::Seen(h.clone()), upstreams.clone()));
            }
            self.docs.push(Doc {
                key,
                uid,
                flux,
                health,
                unreconciled,
                upstreams,
                root: None,
                condition_messages: Vec::new(),
                header: Vec::new(),
                notes: Vec::new(),
                managed_by: Vec::new(),
                body: String::new(),
                events: None,
                failing,
                brief,
                summarised: true,
                pending: None,
            });
            return;
        }
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
        // The inventory is read in `finish`, with the other side calls; the body waits.
        let storage = if key.group == "helm.toolkit.fluxcd.io"
            && key.kind == "HelmRelease"
            && wants_inventory
        {
            match self.helm_storage(&obj) {
                Ok(storage) => Some(storage),
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
        if self.fields.is_none() {
            managed_by = lean::fold_ownership(&mut obj);
            lean::lean(&mut obj);
        }
        if let Some(storage) = storage {
            self.docs.push(Doc {
                key,
                uid,
                flux,
                health,
                unreconciled,
                upstreams,
                root: None,
                condition_messages,
                header: Vec::new(),
                notes,
                managed_by,
                body: String::new(),
                events: None,
                failing,
                brief,
                summarised: false,
                pending: Some(Box::new(Pending {
                    obj,
                    layout,
                    storage,
                })),
            });
            return;
        }
        let body_value = match self.fields {
            Some(f) => f.select(&obj, &mut self.matched, is_events_path),
            None => obj,
        };
        self.docs.push(Doc {
            key,
            uid,
            flux,
            health,
            unreconciled,
            upstreams,
            root: None,
            condition_messages,
            header: Vec::new(),
            notes,
            managed_by,
            body: yaml::document_with(
                &body_value,
                layout,
                yaml::Style {
                    refer_repeated_messages: self.fields.is_none(),
                },
            ),
            events: None,
            failing,
            brief,
            summarised: false,
            pending: None,
        });
    }

    /// The body of a document that waited for its inventory (`Err`: a note saying why there
    /// is none), rendered as [`Batch::add`] renders the others.
    fn complete(&mut self, i: usize, inventory: Result<Value, String>) {
        let Some(pending) = self.docs[i].pending.take() else {
            return;
        };
        let Pending {
            mut obj, layout, ..
        } = *pending;
        match inventory {
            Ok(inv) => set_status_field(&mut obj, "inventory", inv),
            Err(note) => self.docs[i].notes.push(format!("Helm inventory {note}")),
        }
        let body_value = match self.fields {
            Some(f) => f.select(&obj, &mut self.matched, is_events_path),
            None => obj,
        };
        self.docs[i].body = yaml::document_with(
            &body_value,
            layout,
            yaml::Style {
                refer_repeated_messages: self.fields.is_none(),
            },
        );
    }

    /// Where a HelmRelease's inventory is stored, within the answer's budget of
    /// [`HELM_INVENTORIES`], or a note saying why it will not be read.
    fn helm_storage(&mut self, hr: &Value) -> Result<helm::StorageRef, String> {
        let storage = helm::storage_ref(hr)?;
        if self.helm_left == 0 {
            self.helm_skipped += 1;
            return Err(format!(
                "not read: at most {HELM_INVENTORIES} per answer; get this HelmRelease by name"
            ));
        }
        self.helm_left -= 1;
        Ok(storage)
    }

    /// Makes `requests` at once; answers in their order.
    fn fetch_all(&self, requests: &[Request]) -> Vec<Answer> {
        let cluster = self.cluster;
        let list_max = if self.fields.is_some() {
            usize::MAX
        } else {
            lean::INVENTORY_LIST_MAX
        };
        cluster::each(requests, |r| match r {
            Request::Events { kind, scope } => {
                Answer::Events(events::fetch(cluster, kind, scope.scope()))
            }
            Request::Inventory { doc } => Answer::Inventory(match &self.docs[*doc].pending {
                Some(p) => read_inventory(cluster, &p.storage, list_max),
                None => Err("not read".to_string()),
            }),
            Request::Lookup(want) => Answer::Lookup(read_lookup(cluster, want)),
        })
    }
}

/// The inventory of a HelmRelease from its latest Helm storage Secret (inventories of more
/// than `list_max` objects are summarised), or a note saying why there is none.
fn read_inventory(
    cluster: &Cluster,
    storage: &helm::StorageRef,
    list_max: usize,
) -> Result<Value, String> {
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
    let mut summary = lean::summarise(&release.objects, &release.images, list_max);
    if let Some(n) = release.first_unreadable_document {
        summary["unreadable"] = json!(format!(
            "manifest document {n} and the ones after it are not valid YAML"
        ));
    }
    Ok(summary)
}

impl Batch<'_> {
    /// Completes the documents once every object was added: attaches events, then puts the
    /// diagnosis above each Flux object that needs one.
    ///
    /// The side calls go out together: every events list, every inventory and the first
    /// level of upstream lookups at once, then one more level of lookups at a time (see the
    /// module comment). Which documents get what, and in what order, is decided before any
    /// request and never by which answer comes first.
    pub fn finish(&mut self) {
        if self.summarising() {
            for d in self.docs.iter_mut().filter(|d| d.brief.is_some()) {
                d.summarised = true;
                d.body = String::new();
                // Shown as a line: its inventory is not needed.
                d.pending = None;
            }
        }
        let plan = self.events_plan();
        let mut requests: Vec<Request> = plan
            .iter()
            .flat_map(|(kind, _, scopes)| {
                scopes.iter().map(|scope| Request::Events {
                    kind: kind.clone(),
                    scope: scope.clone(),
                })
            })
            .collect();
        requests.extend(
            (0..self.docs.len())
                .filter(|&i| self.docs[i].pending.is_some())
                .map(|doc| Request::Inventory { doc }),
        );
        requests.extend(self.dry_pass().into_iter().map(Request::Lookup));
        let mut answers = self.fetch_all(&requests).into_iter();
        let mut fetched_events = Vec::new();
        for (request, answer) in requests.iter().zip(answers.by_ref()) {
            match (request, answer) {
                (Request::Events { .. }, Answer::Events(e)) => fetched_events.push(e),
                (Request::Inventory { doc }, Answer::Inventory(inv)) => self.complete(*doc, inv),
                (Request::Lookup(_), Answer::Lookup(got)) => self.lookups.keep(got),
                _ => {}
            }
        }
        self.attach_events(plan, fetched_events);
        // One more level of the chains at a time, until the walk needs nothing more.
        for _ in 0..DRY_PASSES {
            let wanted = self.dry_pass();
            if wanted.is_empty() {
                break;
            }
            let requests: Vec<Request> = wanted.into_iter().map(Request::Lookup).collect();
            for answer in self.fetch_all(&requests) {
                if let Answer::Lookup(got) = answer {
                    self.lookups.keep(got);
                }
            }
        }
        self.diagnose();
    }

    /// Runs the diagnosis without reading anything: returns what it would read next (the
    /// lookups it missed, at most the budget's worth) and leaves the batch as it was.
    fn dry_pass(&mut self) -> Vec<Want> {
        let lookups_left = self.lookups_left;
        let listed = self.listed.clone();
        self.lookups.dry = Some(Dry::default());
        self.diagnose();
        let dry = self.lookups.dry.take().unwrap_or_default();
        for key in dry.added {
            self.known.remove(&key);
        }
        self.lookups_left = lookups_left;
        self.listed = listed;
        for d in &mut self.docs {
            d.root = None;
            d.header.clear();
        }
        let mut wanted: Vec<Want> = Vec::new();
        for w in dry.wanted {
            if !wanted.contains(&w) {
                wanted.push(w);
            }
        }
        wanted
    }

    /// Keeps at most `limit` documents (0: all): every failing one (they come first), then the
    /// others in the order they were added. For a list read further than it is shown, so
    /// that its counts cover every object.
    pub fn trim_to(&mut self, limit: usize) {
        if limit == 0 {
            return;
        }
        let failing = self.docs.iter().filter(|d| d.failing).count();
        let mut others_left = limit.saturating_sub(failing);
        self.docs.retain(|d| {
            if d.failing {
                return true;
            }
            let keep = others_left > 0;
            others_left = others_left.saturating_sub(1);
            keep
        });
    }

    /// The root cause named in the headline of the object `namespace/name`, when it is in
    /// this answer and its root cause is another object.
    pub fn root_of(&self, namespace: &str, name: &str) -> Option<&str> {
        self.docs
            .iter()
            .find(|d| d.key.namespace == namespace && d.key.name == name)
            .and_then(|d| d.root.as_deref())
    }

    /// The events lists to make: for each kind of Flux object shown (in `fields` mode only
    /// when events are asked for), its documents and the scopes to list. For one object its
    /// own events; for up to [`EVENT_NAMESPACES_SEPARATELY`] namespaces one LIST each (the
    /// events of a namespace are far fewer than a cluster's); above that one LIST for the
    /// whole cluster, filtered here.
    fn events_plan(&self) -> Vec<(String, Vec<usize>, Vec<OwnedScope>)> {
        if let Some(f) = self.fields
            && !f.asks_for(is_events_path)
        {
            return Vec::new();
        }
        // A summarised object shows no events: its line says it is fine.
        let wants = |d: &Doc| d.flux && !d.summarised;
        let kinds: BTreeSet<String> = self
            .docs
            .iter()
            .filter(|d| wants(d))
            .map(|d| d.key.kind.clone())
            .collect();
        kinds
            .into_iter()
            .map(|kind| {
                let of_kind: Vec<usize> = (0..self.docs.len())
                    .filter(|&i| wants(&self.docs[i]) && self.docs[i].key.kind == kind)
                    .collect();
                let namespaces: BTreeSet<String> = of_kind
                    .iter()
                    .map(|&i| events_namespace(&self.docs[i].key))
                    .collect();
                let scopes = if let [only] = of_kind.as_slice() {
                    let k = &self.docs[*only].key;
                    vec![OwnedScope::Object {
                        namespace: events_namespace(k),
                        name: k.name.clone(),
                    }]
                } else if namespaces.len() <= EVENT_NAMESPACES_SEPARATELY {
                    namespaces.into_iter().map(OwnedScope::Namespace).collect()
                } else {
                    vec![OwnedScope::AllNamespaces]
                };
                (kind, of_kind, scopes)
            })
            .collect()
    }

    /// Attaches the events `plan` listed (`fetched`: one answer per scope, in plan order) to
    /// the documents. A cluster-wide list RBAC refuses is made again per namespace (at most
    /// [`EVENT_NAMESPACES_MAX`]), those at once.
    fn attach_events(
        &mut self,
        plan: Vec<(String, Vec<usize>, Vec<OwnedScope>)>,
        fetched: Vec<Result<events::Events, kube::Error>>,
    ) {
        let mut fetched = fetched.into_iter();
        for (kind, of_kind, scopes) in plan {
            let answers: Vec<_> = fetched.by_ref().take(scopes.len()).collect();
            let mut result = absorb_all(answers);
            if scopes == [OwnedScope::AllNamespaces]
                && let Err(e) = &result
                && e.is_forbidden()
            {
                let namespaces: BTreeSet<String> = of_kind
                    .iter()
                    .map(|&i| events_namespace(&self.docs[i].key))
                    .collect();
                if namespaces.len() <= EVENT_NAMESPACES_MAX {
                    let namespaces: Vec<String> = namespaces.into_iter().collect();
                    let cluster = self.cluster;
                    let answers = cluster::each(&namespaces, |ns| {
                        events::fetch(cluster, &kind, events::Scope::Namespace(ns))
                    });
                    result = absorb_all(answers);
                }
            }
            match result {
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
    /// reasons and root cause, then the chain of sources and dependencies that leads there,
    /// fetching the objects not already in the answer (at most [`UPSTREAM_LOOKUPS`] GETs per
    /// answer, remembered; at most [`CHAIN_HOPS`] deep).
    fn diagnose(&mut self) {
        for i in 0..self.docs.len() {
            let Some(health) = self.docs[i].health.clone() else {
                continue;
            };
            if self.docs[i].summarised {
                continue;
            }
            let k = self.docs[i].key.clone();
            let unreconciled = self.docs[i].unreconciled.clone();
            let explain = health.state == State::Failing || unreconciled.is_some();
            let mut chain = Vec::new();
            let mut root = None;
            if explain {
                let upstreams = self.docs[i].upstreams.clone();
                let mut visited = HashSet::from([k.clone()]);
                root = self.follow(i, &upstreams, 0, &mut visited, &mut chain).0;
            }
            // A controller that never wrote a status is the problem of an unreconciled
            // object, whatever its sources say: the root is named for failing ones only.
            let root = root.filter(|_| health.state == State::Failing);
            let mut lines: Vec<String> =
                diagnosis::headline(&k.kind, &k.namespace, &k.name, &health, root.as_deref())
                    .into_iter()
                    .chain(unreconciled)
                    .collect();
            lines.extend(chain);
            self.docs[i].root = root;
            self.docs[i].header = lines;
        }
    }

    /// Adds a line for each of `upstreams` (sources always, the others when they are a
    /// problem) and follows each problem down its own sources and dependencies, or, for a
    /// missing object, what its referrer says it would depend on. Returns the root cause: the
    /// first object down a chain of problems whose own upstreams are fine, as `Kind ns/name:
    /// state`, and whether an upstream was left unchecked (the lookup budget was spent). Each
    /// object is visited once per chain, so a dependency cycle ends.
    fn follow(
        &mut self,
        from: usize,
        upstreams: &[Upstream],
        depth: usize,
        visited: &mut HashSet<Key>,
        lines: &mut Vec<String>,
    ) -> (Option<String>, bool) {
        let mut root = None;
        let mut unchecked = false;
        for u in upstreams {
            let key = u.key();
            if !visited.insert(key.clone()) {
                continue;
            }
            let (finding, next) = self.find(u);
            unchecked |= finding == Finding::NotChecked;
            let problem = finding.is_problem(u.must_be_ready);
            if u.role == "source" || problem {
                // Its message is left to its own document when that is written before this
                // one (an answer cut by its budget keeps a prefix of the documents).
                let rank = |d: &Doc, i: usize| (!d.failing, i);
                let listed = self.fields.is_none()
                    && self.docs.iter().enumerate().any(|(i, d)| {
                        d.key == key && !d.summarised && rank(d, i) < rank(&self.docs[from], from)
                    });
                let line = diagnosis::upstream_line(u, &finding, listed);
                lines.push(if depth == 0 {
                    line
                } else {
                    format!("{}its {line}", "  ".repeat(depth))
                });
            }
            if !problem {
                continue;
            }
            let further = match &finding {
                Finding::NotFound => u.then.clone(),
                Finding::Seen(_) => next,
                _ => Vec::new(),
            };
            let (deeper, beyond_unchecked) = if depth + 1 < CHAIN_HOPS {
                self.follow(from, &further, depth + 1, visited, lines)
            } else {
                (None, false)
            };
            if root.is_none() {
                root = Some(deeper.unwrap_or_else(|| {
                    let mut here =
                        format!("{}: {}", u.object(), diagnosis::finding_label(u, &finding));
                    if beyond_unchecked {
                        here.push_str(" (its own sources were not checked: lookup budget spent)");
                    }
                    here
                }));
            }
        }
        (root, unchecked)
    }

    /// What is known of `u`: from this answer, from an earlier lookup, or fetched now. An
    /// answer with several objects lists the upstream's whole collection (its kind in its
    /// namespace) at once: one request then answers for every object of a list that shares
    /// that kind and namespace; a single object GETs it. Each request spends one lookup.
    fn find(&mut self, u: &Upstream) -> (Finding, Vec<Upstream>) {
        let key = u.key();
        if let Some(found) = self.known.get(&key) {
            return found.clone();
        }
        let collection = (key.group.clone(), key.kind.clone(), key.namespace.clone());
        if self.listed.contains(&collection) {
            // Listed whole and not in it: it does not exist.
            return (Finding::NotFound, Vec::new());
        }
        if self.lookups_left == 0 {
            return (Finding::NotChecked, Vec::new());
        }
        self.lookups_left -= 1;
        let cluster = self.cluster;
        let api_version = if u.group.is_empty() { "v1" } else { &u.group };
        let resource = match cluster.resolve(Some(api_version), &u.kind) {
            Ok(r) => r,
            Err(e) => {
                let found = (unreadable(&u.kind, e), Vec::new());
                self.remember(key, found.clone());
                return found;
            }
        };
        if self.docs.len() > 1 {
            // Read ahead by a dry pass, else now (or, in a dry pass, asked for).
            let listed = match self.lookups.lists.get(&collection) {
                Some(listed) => listed.clone(),
                None => match &mut self.lookups.dry {
                    Some(dry) => {
                        dry.wanted.push(Want::List(collection, resource));
                        return (Finding::NotChecked, Vec::new());
                    }
                    None => {
                        let listed = list_collection(cluster, &resource, &u.namespace);
                        self.lookups
                            .lists
                            .insert(collection.clone(), listed.clone());
                        listed
                    }
                },
            };
            for (k, found) in listed.items {
                if !self.known.contains_key(&k) {
                    self.remember(k, found);
                }
            }
            if listed.whole {
                self.listed.insert(collection);
                return self
                    .known
                    .get(&key)
                    .cloned()
                    .unwrap_or((Finding::NotFound, Vec::new()));
            }
        }
        let found = match self.lookups.gets.get(&key) {
            Some(found) => found.clone(),
            None => {
                let want = Want::Get(key.clone(), resource);
                if let Some(dry) = &mut self.lookups.dry {
                    dry.wanted.push(want);
                    return (Finding::NotChecked, Vec::new());
                }
                let Got::Get(_, found) = read_lookup(cluster, &want) else {
                    return (Finding::NotChecked, Vec::new());
                };
                self.lookups.gets.insert(key.clone(), found.clone());
                found
            }
        };
        self.remember(key, found.clone());
        found
    }

    /// Records what a lookup found; a dry pass notes the key, to take it out again.
    fn remember(&mut self, key: Key, found: (Finding, Vec<Upstream>)) {
        if let Some(dry) = &mut self.lookups.dry
            && !self.known.contains_key(&key)
        {
            dry.added.push(key.clone());
        }
        self.known.insert(key, found);
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
    /// comments: failing ones first, then the others in the order they were added, then the
    /// summarised ones as one comment line each.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_budgeted(&mut out, usize::MAX);
        out
    }

    /// [`Batch::render`] appended to `out` until `out` would grow past `budget` bytes (at
    /// least one object is written, so an answer always moves on); says what was written.
    /// A list of thousands of objects is then held once as documents and once as the answer,
    /// not a third time as an intermediate string.
    pub fn render_budgeted(&self, out: &mut String, budget: usize) -> Shown {
        let mut shown = Shown::default();
        let order = self
            .docs
            .iter()
            .filter(|d| d.failing)
            .chain(self.docs.iter().filter(|d| !d.failing && !d.summarised));
        let mut full = true;
        for d in order {
            let mut text = String::with_capacity(d.body.len() + 64);
            text.push_str("---\n");
            for line in d.header.iter().chain(&d.notes).chain(&d.managed_by) {
                text.push_str(&yaml::comment(line));
            }
            text.push_str(&d.body);
            if let Some(events) = d.events.as_ref().filter(|e| !e.is_empty()) {
                text.push_str(&yaml::root_entry("events", events));
            }
            if !fits(out.len() + text.len(), budget, &shown) {
                full = false;
                break;
            }
            out.push_str(&text);
            shown.note(d);
        }
        let lines: Vec<&Doc> = self.docs.iter().filter(|d| d.summarised).collect();
        if full && !lines.is_empty() {
            // The heading is written once the lines that fit are known; it takes < 200 bytes.
            const HEADING: usize = 200;
            let mut section = String::new();
            let mut count = 0;
            for d in lines {
                let line = format!("# - {}\n", d.brief.as_deref().unwrap_or(""));
                let len = out.len() + HEADING + section.len() + line.len();
                if !fits(len, budget, &shown) {
                    break;
                }
                section.push_str(&line);
                shown.note(d);
                count += 1;
            }
            if count > 0 {
                out.push_str(&format!(
                    "---\n# {count} not failing, one line each (namespace/name: state, revision, \
                     age); get one by name for its YAML, or pass fields to choose paths for \
                     every object:\n"
                ));
                out.push_str(&section);
            }
        }
        let written = shown.failing + shown.others;
        shown.cut = self.docs.len().saturating_sub(written);
        shown
    }
}

/// Whether an answer may grow to `len` bytes within `budget`; the first object always may.
fn fits(len: usize, budget: usize, shown: &Shown) -> bool {
    shown.failing + shown.others == 0 || len <= budget
}

impl Shown {
    fn note(&mut self, d: &Doc) {
        let key = Some((d.key.namespace.clone(), d.key.name.clone()));
        if d.failing {
            self.failing += 1;
            self.last_failing = key;
        } else {
            self.others += 1;
            self.last_other = key;
        }
    }
}

/// A lookup that failed: not found, a kind the server does not serve, or the server's error.
fn unreadable(kind: &str, e: kube::Error) -> Finding {
    match e {
        e if e.is_not_found() => Finding::NotFound,
        kube::Error::UnknownKind { .. } => {
            Finding::Unreadable(format!("the server does not serve {kind}"))
        }
        e => Finding::Unreadable(e.to_string()),
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

/// The events of several lists as one; the first failure (in the lists' order) if any failed.
fn absorb_all(
    answers: Vec<Result<events::Events, kube::Error>>,
) -> Result<events::Events, kube::Error> {
    let mut all = events::Events::default();
    for answer in answers {
        all.absorb(&mut answer?);
    }
    Ok(all)
}

/// Makes one upstream lookup.
fn read_lookup(cluster: &Cluster, want: &Want) -> Got {
    match want {
        Want::List(collection, resource) => Got::List(
            collection.clone(),
            list_collection(cluster, resource, &collection.2),
        ),
        Want::Get(key, resource) => {
            let found = match cluster.get(resource, &key.namespace, &key.name) {
                Ok(obj) => (
                    Finding::Seen(diagnosis::health(&obj)),
                    diagnosis::upstreams(&obj),
                ),
                Err(e) => (unreadable(&key.kind, e), Vec::new()),
            };
            Got::Get(key.clone(), found)
        }
    }
}

/// Lists `resource` in `namespace` (at most [`COLLECTION_MAX`] objects): the health and
/// upstreams of each, and whether the list was read whole.
fn list_collection(cluster: &Cluster, resource: &Resource, namespace: &str) -> Listed {
    let options = ListOptions {
        namespace: Some(namespace.to_string()).filter(|_| resource.namespaced),
        limit: Some(COLLECTION_MAX),
        ..ListOptions::default()
    };
    let mut items = Vec::new();
    let group = resource.group.clone();
    let result = cluster.list(resource, &options, |obj| {
        let key = Key {
            group: group.clone(),
            kind: obj["kind"].as_str().unwrap_or("").to_string(),
            namespace: obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            name: obj["metadata"]["name"].as_str().unwrap_or("").to_string(),
        };
        items.push((
            key,
            (
                Finding::Seen(diagnosis::health(&obj)),
                diagnosis::upstreams(&obj),
            ),
        ));
        ControlFlow::Continue(())
    });
    Listed {
        whole: matches!(result, Ok(info) if !info.more),
        items,
    }
}

impl Lookups {
    /// Keeps what a lookup read, for the walk.
    fn keep(&mut self, got: Got) {
        match got {
            Got::List(collection, listed) => {
                self.lists.insert(collection, listed);
            }
            Got::Get(key, found) => {
                self.gets.insert(key, found);
            }
        }
    }
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
