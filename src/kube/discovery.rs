//! API discovery built from the documents given to it (`/api`, `/apis` and every group
//! version, or the aggregated v2 documents) and the kind → resource mapping kubectl does:
//! case-insensitive kind, plural, singular and short names, `resource.group` forms, the group's
//! preferred version when none is given, and close-match suggestions for a kind the server
//! does not serve. Pure: the client fetches the documents (`Client::discovery`); a saved copy
//! can be read back the same way.

use std::time::Instant;

use serde::Deserialize;
use serde_json::Value;

use super::{Error, percent_encode_into};
use crate::text::edit_distance;

/// One resource type the server serves, in one group version: what a request needs to build its
/// URL, plus what a user may call it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// `""` for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    /// The URL segment: `kustomizations`, `pods`.
    pub plural: String,
    /// `kustomization`; may be empty when the server does not say.
    pub singular: String,
    pub namespaced: bool,
    /// `get`, `list`, `watch`, `patch`, ... as discovery reports them (empty when unknown).
    pub verbs: Vec<String>,
    /// `ks`, `hr`, `gitrepo`, ...
    pub short_names: Vec<String>,
}

impl Resource {
    /// A resource known without discovery (for the few fixed ones the tools need, e.g. Pods,
    /// Events, Secrets). `api_version` is `v1` or `group/version`.
    pub fn new(api_version: &str, kind: &str, plural: &str, namespaced: bool) -> Resource {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version.to_string()),
        };
        Resource {
            group,
            version,
            kind: kind.to_string(),
            plural: plural.to_string(),
            singular: kind.to_ascii_lowercase(),
            namespaced,
            verbs: Vec::new(),
            short_names: Vec::new(),
        }
    }

    /// `v1` for the core group, else `group/version`.
    pub fn api_version(&self) -> String {
        api_version(&self.group, &self.version)
    }

    /// Whether discovery lists `verb` for it; true when discovery gave no verbs at all.
    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.is_empty() || self.verbs.iter().any(|v| v == verb)
    }

    /// `/api/v1` or `/apis/group/version`.
    fn group_version_path(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }

    /// The collection URL path: in `namespace` when namespaced and given, else cluster-wide.
    pub(crate) fn collection_path(&self, namespace: Option<&str>) -> Result<String, Error> {
        let mut path = self.group_version_path();
        if let (true, Some(ns)) = (self.namespaced, namespace) {
            path.push_str("/namespaces/");
            push_segment(&mut path, ns, "namespace")?;
        }
        path.push('/');
        path.push_str(&self.plural);
        Ok(path)
    }

    /// One object's URL path. `namespace` is required for namespaced resources and ignored
    /// for cluster-scoped ones.
    pub(crate) fn object_path(&self, namespace: &str, name: &str) -> Result<String, Error> {
        if self.namespaced && namespace.is_empty() {
            return Err(Error::InvalidRequest(format!(
                "{} is namespaced: a namespace is required to address {name:?}",
                self.kind
            )));
        }
        let mut path = self.collection_path(Some(namespace))?;
        path.push('/');
        push_segment(&mut path, name, "name")?;
        Ok(path)
    }
}

/// Appends one path segment. Names in Kubernetes never contain `/` or `%`; refusing them
/// (rather than escaping) keeps a hostile name from addressing another URL. Other characters
/// outside the unreserved set are percent-encoded.
fn push_segment(path: &mut String, value: &str, what: &str) -> Result<(), Error> {
    if value.is_empty() || value == "." || value == ".." || value.contains(['/', '%']) {
        return Err(Error::InvalidRequest(format!(
            "{what} {value:?} is not valid"
        )));
    }
    // Unreserved bytes plus the `pchar` extras `:` and `@`.
    percent_encode_into(path, value, b"-._~:@");
    Ok(())
}

/// A kind as `get_kubernetes_api_versions` lists it: one entry per group and kind, at the
/// group's preferred version (or the best version that serves the kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindInfo {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespaced: bool,
}

impl KindInfo {
    pub fn api_version(&self) -> String {
        api_version(&self.group, &self.version)
    }
}

/// An `apiVersion` as objects carry it: the bare version for the core group (`v1`), else
/// `group/version`.
pub fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// A group version whose discovery document could not be fetched (kubectl warns
/// "unable to retrieve the complete list of server APIs" and carries on; so do we).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryFailure {
    pub group_version: String,
    pub error: String,
}

#[derive(Debug, Clone)]
struct Group {
    name: String,
    /// Server order of preference: the preferred version first.
    versions: Vec<Version>,
}

#[derive(Debug, Clone)]
struct Version {
    name: String,
    resources: Vec<Resource>,
}

/// What the server serves. Built once per client and shared; cheap to query.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// The core group first, then `/apis` order: kubectl's priority for ambiguous names.
    groups: Vec<Group>,
    failures: Vec<DiscoveryFailure>,
    fetched: Instant,
}

/// Which group versions a lookup may pick from.
enum Scope<'a> {
    Any,
    Group(&'a str),
    GroupVersion(&'a str, &'a str),
}

impl Discovery {
    /// When this was fetched (the client refetches a stale one when a kind is not found).
    pub fn fetched(&self) -> Instant {
        self.fetched
    }

    /// Group versions that failed to load (e.g. `metrics.k8s.io/v1beta1` with metrics-server
    /// down); their kinds are missing.
    pub fn failures(&self) -> &[DiscoveryFailure] {
        &self.failures
    }

    /// True when the server serves `group` (`""`: the core group).
    pub fn has_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g.name == group)
    }

    /// The group's preferred version.
    pub fn preferred_version(&self, group: &str) -> Option<&str> {
        self.groups
            .iter()
            .find(|g| g.name == group)
            .and_then(|g| g.versions.first())
            .map(|v| v.name.as_str())
    }

    /// Every resource in every served version (subresources excluded).
    pub fn resources(&self) -> impl Iterator<Item = &Resource> {
        self.groups
            .iter()
            .flat_map(|g| &g.versions)
            .flat_map(|v| &v.resources)
    }

    /// Every kind with its preferred apiVersion, sorted by group then kind.
    pub fn kinds(&self) -> Vec<KindInfo> {
        let mut out: Vec<KindInfo> = Vec::new();
        for group in &self.groups {
            let mut seen: Vec<&str> = Vec::new();
            for version in ordered_versions(group) {
                for r in &version.resources {
                    if seen.contains(&r.kind.as_str()) {
                        continue;
                    }
                    seen.push(&r.kind);
                    out.push(KindInfo {
                        group: group.name.clone(),
                        version: version.name.clone(),
                        kind: r.kind.clone(),
                        namespaced: r.namespaced,
                    });
                }
            }
        }
        out.sort_by(|a, b| (&a.group, &a.kind).cmp(&(&b.group, &b.kind)));
        out
    }

    /// The resource for a kind as a user or an assistant writes it.
    ///
    /// `kind` matches, case-insensitively and in this order of precedence, a kind
    /// (`Kustomization`), a plural (`kustomizations`), a singular (`kustomization`) or a short
    /// name (`ks`); with no `api_version` it may also be `plural.group`
    /// (`kustomizations.kustomize.toolkit.fluxcd.io`). `api_version` may be `group/version`,
    /// a bare version (`v1`, the core group), a bare group (its preferred version), or `None`
    /// (any group, preferred version). Ties go to the core group, then to `/apis` order, like
    /// kubectl. An unknown kind is `Error::UnknownKind` with close matches.
    pub fn resolve(&self, api_version: Option<&str>, kind: &str) -> Result<Resource, Error> {
        let api_version = api_version.map(str::trim).filter(|v| !v.is_empty());
        let kind = kind.trim();
        if kind.is_empty() {
            return Err(Error::InvalidRequest("kind is empty".into()));
        }
        let scope = match api_version {
            None => Scope::Any,
            Some(av) => match av.split_once('/') {
                Some((g, v)) => Scope::GroupVersion(g, v),
                None if is_version(av) => Scope::GroupVersion("", av),
                None => Scope::Group(av),
            },
        };
        if let Some(found) = self.find(&scope, kind) {
            return Ok(found.clone());
        }
        if let (Scope::Any, Some((name, group))) = (&scope, kind.split_once('.'))
            && let Some(found) = self.find(&Scope::Group(group), name)
        {
            return Ok(found.clone());
        }
        Err(Error::UnknownKind {
            kind: kind.to_string(),
            api_version: api_version.map(str::to_string),
            suggestions: self.suggest(&scope, kind),
        })
    }

    /// Every group's resource for `kind` (a kind, plural, singular or short name, as
    /// [`Discovery::resolve`] matches them), at the best kind of match any group offers, in
    /// the order `resolve` prefers them: for telling a caller that a name is ambiguous (k3s's
    /// `HelmChart` in helm.cattle.io next to Flux's, Crossplane's `Provider`).
    pub fn matches(&self, kind: &str) -> Vec<Resource> {
        let kind = kind.trim();
        let per_group: Vec<(u8, &Resource)> = self
            .groups
            .iter()
            .filter_map(|group| {
                ordered_versions(group)
                    .into_iter()
                    .flat_map(|v| &v.resources)
                    .filter_map(|r| match_tier(r, kind).map(|t| (t, r)))
                    .min_by_key(|(t, _)| *t)
            })
            .collect();
        let Some(best) = per_group.iter().map(|(t, _)| *t).min() else {
            return Vec::new();
        };
        per_group
            .into_iter()
            .filter(|(t, _)| *t == best)
            .map(|(_, r)| r.clone())
            .collect()
    }

    fn find(&self, scope: &Scope, kind: &str) -> Option<&Resource> {
        let mut best: Option<(u8, &Resource)> = None;
        for group in &self.groups {
            let versions: Vec<&Version> = match scope {
                Scope::Any => ordered_versions(group),
                Scope::Group(g) if *g == group.name => ordered_versions(group),
                Scope::GroupVersion(g, v) if *g == group.name => {
                    group.versions.iter().filter(|x| x.name == *v).collect()
                }
                _ => continue,
            };
            for version in versions {
                for r in &version.resources {
                    if let Some(tier) = match_tier(r, kind)
                        && best.is_none_or(|(t, _)| tier < t)
                    {
                        best = Some((tier, r));
                    }
                }
            }
        }
        best.map(|(_, r)| r)
    }

    /// Up to three close matches, each `Kind (apiVersion)`: first the same kind served in
    /// another group version, then names within a small edit distance or sharing a prefix.
    fn suggest(&self, scope: &Scope, kind: &str) -> Vec<String> {
        if !matches!(scope, Scope::Any)
            && let Some(r) = self.find(&Scope::Any, kind)
        {
            // Prefer the group's preferred version for the suggestion.
            let best = self.find(&Scope::Group(&r.group), kind).unwrap_or(r);
            return vec![format!("{} ({})", best.kind, best.api_version())];
        }
        let wanted = kind.to_ascii_lowercase();
        let mut scored: Vec<(usize, String, String)> = Vec::new();
        for info in self.kinds() {
            let Some(r) = self.find(&Scope::GroupVersion(&info.group, &info.version), &info.kind)
            else {
                continue;
            };
            let names = std::iter::once(r.kind.to_ascii_lowercase())
                .chain(std::iter::once(r.plural.clone()))
                .chain(r.short_names.iter().cloned());
            let score = names
                .filter_map(|n| closeness(&wanted, &n.to_ascii_lowercase()))
                .min();
            if let Some(score) = score {
                scored.push((score, r.kind.clone(), r.api_version()));
            }
        }
        scored.sort();
        scored.dedup();
        scored
            .into_iter()
            .take(3)
            .map(|(_, kind, av)| format!("{kind} ({av})"))
            .collect()
    }
}

/// Up to `max` of `names` close to `wanted` (case-insensitive), closest first, ties in the
/// given order: for "did you mean" hints on pods, contexts and other names a user types.
pub fn close_matches<'a>(
    wanted: &str,
    names: impl IntoIterator<Item = &'a str>,
    max: usize,
) -> Vec<&'a str> {
    let wanted = wanted.to_ascii_lowercase();
    let mut scored: Vec<(usize, usize, &str)> = names
        .into_iter()
        .enumerate()
        .filter_map(|(i, n)| closeness(&wanted, &n.to_ascii_lowercase()).map(|s| (s, i, n)))
        .collect();
    scored.sort_unstable();
    scored.into_iter().take(max).map(|(_, _, n)| n).collect()
}

/// `None` when `name` is not close to `wanted`; else a score, lower is closer. Close means an
/// edit distance of at most a third of the length (between 1 and 3), or one being a prefix of
/// the other (`gitrepo` → `gitrepositories`).
fn closeness(wanted: &str, name: &str) -> Option<usize> {
    let d = edit_distance(wanted, name);
    let allowed = (wanted.len() / 3).clamp(1, 3);
    if d <= allowed {
        return Some(d);
    }
    let (short, long) = if wanted.len() <= name.len() {
        (wanted, name)
    } else {
        (name, wanted)
    };
    if short.len() >= 3 && long.starts_with(short) {
        // Ranked after every real typo match.
        return Some(10 + long.len() - short.len());
    }
    None
}

/// 0: kind, 1: plural, 2: singular, 3: short name; `None`: no match.
fn match_tier(r: &Resource, name: &str) -> Option<u8> {
    if r.kind.eq_ignore_ascii_case(name) {
        Some(0)
    } else if r.plural.eq_ignore_ascii_case(name) {
        Some(1)
    } else if !r.singular.is_empty() && r.singular.eq_ignore_ascii_case(name) {
        Some(2)
    } else if r.short_names.iter().any(|s| s.eq_ignore_ascii_case(name)) {
        Some(3)
    } else {
        None
    }
}

/// The preferred version first, then the others from most to least stable (Kubernetes version
/// priority: GA > beta > alpha, higher numbers first).
fn ordered_versions(group: &Group) -> Vec<&Version> {
    let mut rest: Vec<&Version> = group.versions.iter().skip(1).collect();
    rest.sort_by_key(|v| std::cmp::Reverse(version_priority(&v.name)));
    group.versions.iter().take(1).chain(rest).collect()
}

/// `v1` > `v1beta2` > `v1beta1` > `v1alpha1`; anything else sorts last.
fn version_priority(v: &str) -> (u8, u32, u32) {
    let Some(rest) = v.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let Ok(major) = rest[..digits].parse::<u32>() else {
        return (0, 0, 0);
    };
    let tail = &rest[digits..];
    let (stability, minor) = if tail.is_empty() {
        (3, 0)
    } else if let Some(n) = tail.strip_prefix("beta") {
        (2, n.parse().unwrap_or(0))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n.parse().unwrap_or(0))
    } else {
        return (0, 0, 0);
    };
    (stability, major, minor)
}

/// `v1`, `v2beta1`, `v1alpha3`: a version, not a group.
fn is_version(s: &str) -> bool {
    version_priority(s).0 > 0
}

// ---- building from documents ----------------------------------------------------------------

/// Accept header that asks for aggregated discovery (one document for all groups, Kubernetes
/// 1.26+) and falls back to the legacy documents on older servers.
pub const AGGREGATED_ACCEPT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

/// The two root documents, fetched with [`AGGREGATED_ACCEPT`].
pub const ROOT_PATHS: [&str; 2] = ["/api", "/apis"];

/// The first half of a [`Discovery`]: the root documents read. An aggregated server's roots
/// hold everything; a legacy server's name the group-version documents still to be fetched
/// ([`Roots::pending_paths`]), which [`Roots::finish`] takes in the same order.
#[derive(Debug)]
pub struct Roots {
    groups: Vec<Group>,
    failures: Vec<DiscoveryFailure>,
    /// (group index, version, path) for each group-version document a legacy server needs.
    pending: Vec<(usize, String, String)>,
}

impl Roots {
    /// Read the `/api` and `/apis` documents (aggregated or legacy, each on its own). A root
    /// document that is neither fails the whole discovery, as kubectl's does.
    pub fn parse(core: &Value, apis: &Value) -> Result<Roots, Error> {
        let mut groups = Vec::new();
        let mut failures = Vec::new();
        let mut pending = Vec::new();
        for (doc, is_core) in [(core, true), (apis, false)] {
            if doc.get("kind").and_then(Value::as_str) == Some("APIGroupDiscoveryList") {
                let (found, stale) = parse_aggregated(doc, doc_path(is_core))?;
                groups.extend(found);
                failures.extend(stale);
            } else if is_core {
                let versions: ApiVersions = from_value(doc, "/api")?;
                let index = groups.len();
                groups.push(Group {
                    name: String::new(),
                    versions: Vec::new(),
                });
                for v in versions.versions {
                    pending.push((index, v.clone(), format!("/api/{v}")));
                }
            } else {
                let list: ApiGroupList = from_value(doc, "/apis")?;
                for g in list.groups {
                    let index = groups.len();
                    // Preferred version first, then the server's order.
                    let mut names: Vec<String> = Vec::new();
                    if let Some(p) = g.preferred_version.filter(|p| !p.version.is_empty()) {
                        names.push(p.version);
                    }
                    for v in g.versions {
                        if !names.contains(&v.version) {
                            names.push(v.version);
                        }
                    }
                    for v in &names {
                        pending.push((index, v.clone(), format!("/apis/{}/{v}", g.name)));
                    }
                    groups.push(Group {
                        name: g.name,
                        versions: Vec::new(),
                    });
                }
            }
        }
        Ok(Roots {
            groups,
            failures,
            pending,
        })
    }

    /// The group-version documents still needed (`/api/v1`, `/apis/apps/v1`, ...); none for
    /// an aggregated server.
    pub fn pending_paths(&self) -> impl ExactSizeIterator<Item = &str> {
        self.pending.iter().map(|(_, _, path)| path.as_str())
    }

    /// The finished discovery. `documents` answers [`Roots::pending_paths`] one for one, in
    /// order; a group version whose document failed, is missing or is not a resource list is
    /// recorded in [`Discovery::failures`] and its kinds are left out (kubectl warns "unable to
    /// retrieve the complete list of server APIs" and carries on).
    pub fn finish(self, documents: Vec<Result<Value, Error>>) -> Discovery {
        let Roots {
            mut groups,
            mut failures,
            pending,
        } = self;
        let mut documents = documents.into_iter();
        for (index, version, path) in pending {
            let group_version = path
                .trim_start_matches("/apis/")
                .trim_start_matches("/api/")
                .to_string();
            let parsed = documents
                .next()
                .unwrap_or_else(|| Err(Error::InvalidRequest("not fetched".into())))
                .and_then(|doc| from_value::<ApiResourceList>(&doc, &path));
            match parsed {
                Ok(list) => {
                    let Some(group) = groups.get_mut(index) else {
                        continue;
                    };
                    let resources = list
                        .resources
                        .into_iter()
                        .filter(|r| !r.name.contains('/'))
                        .map(|r| Resource {
                            group: group.name.clone(),
                            version: version.clone(),
                            kind: r.kind,
                            plural: r.name,
                            singular: r.singular_name,
                            namespaced: r.namespaced,
                            verbs: r.verbs,
                            short_names: r.short_names,
                        })
                        .collect();
                    group.versions.push(Version {
                        name: version,
                        resources,
                    });
                }
                Err(e) => failures.push(DiscoveryFailure {
                    group_version,
                    error: e.to_string(),
                }),
            }
        }
        groups.retain(|g| !g.versions.is_empty());
        Discovery {
            groups,
            failures,
            fetched: Instant::now(),
        }
    }
}

impl Discovery {
    /// The two root documents (`/api`, `/apis`) in the aggregated `apidiscovery.k8s.io/v2`
    /// form that [`Roots::parse`] reads back into the same discovery: groups in the same
    /// order, versions preferred first, each resource with its kind, scope, singular name,
    /// verbs and short names. A group version that failed to load is written as a `Stale`
    /// version (which reads back as a failure, with the stale wording). For a saved copy of
    /// discovery (a snapshot) and for serving it again.
    pub fn to_aggregated(&self) -> (Value, Value) {
        let mut core = Vec::new();
        let mut apis = Vec::new();
        let mut stale: Vec<(&str, &str)> = self
            .failures
            .iter()
            .map(|f| match f.group_version.rsplit_once('/') {
                Some((g, v)) => (g, v),
                None => ("", f.group_version.as_str()),
            })
            .collect();
        let stale_version = |version: &str| serde_json::json!({"version": version, "resources": [], "freshness": "Stale"});
        for group in &self.groups {
            let mut versions: Vec<Value> = group
                .versions
                .iter()
                .map(|v| {
                    let resources: Vec<Value> = v
                        .resources
                        .iter()
                        .map(|r| {
                            serde_json::json!({
                                "resource": r.plural,
                                "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                                "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                                "singularResource": r.singular,
                                "verbs": r.verbs,
                                "shortNames": r.short_names,
                            })
                        })
                        .collect();
                    serde_json::json!({"version": v.name, "resources": resources, "freshness": "Current"})
                })
                .collect();
            stale.retain(|(g, v)| {
                let mine = *g == group.name;
                if mine {
                    versions.push(stale_version(v));
                }
                !mine
            });
            let item = serde_json::json!({"metadata": {"name": group.name}, "versions": versions});
            if group.name.is_empty() {
                core.push(item);
            } else {
                apis.push(item);
            }
        }
        // Groups whose every version failed have no resources left to hold them.
        for (g, v) in stale {
            let item = serde_json::json!({"metadata": {"name": g}, "versions": [stale_version(v)]});
            if g.is_empty() {
                core.push(item);
            } else {
                apis.push(item);
            }
        }
        let list = |items: Vec<Value>| {
            serde_json::json!({
                "kind": "APIGroupDiscoveryList",
                "apiVersion": "apidiscovery.k8s.io/v2",
                "metadata": {},
                "items": items,
            })
        };
        (list(core), list(apis))
    }
}

fn doc_path(is_core: bool) -> &'static str {
    if is_core { "/api" } else { "/apis" }
}

fn from_value<T: serde::de::DeserializeOwned>(doc: &Value, path: &str) -> Result<T, Error> {
    T::deserialize(doc).map_err(|e| Error::Decode {
        method: "GET",
        path: path.to_string(),
        detail: format!("not a discovery document: {e}"),
    })
}

/// `apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`: every group with its versions (preferred
/// first) and their resources in one document. A version marked `Stale` (an aggregated
/// APIService whose backend does not answer, typically metrics-server) is a failure and its
/// resources are left out, as client-go does ("stale GroupVersion discovery").
fn parse_aggregated(doc: &Value, path: &str) -> Result<(Vec<Group>, Vec<DiscoveryFailure>), Error> {
    let list: AggregatedList = from_value(doc, path)?;
    let mut stale = Vec::new();
    let groups = list
        .items
        .into_iter()
        .map(|g| {
            let name = g.metadata.name;
            let versions = g
                .versions
                .into_iter()
                .filter(|v| {
                    if v.freshness != "Stale" {
                        return true;
                    }
                    stale.push(DiscoveryFailure {
                        group_version: api_version(&name, &v.version),
                        error: "stale: the API server cannot reach the service behind this \
                                API (its APIService is not available)"
                            .to_string(),
                    });
                    false
                })
                .map(|v| Version {
                    resources: v
                        .resources
                        .into_iter()
                        .filter(|r| !r.resource.contains('/'))
                        .map(|r| Resource {
                            group: name.clone(),
                            version: v.version.clone(),
                            kind: r.response_kind.kind,
                            plural: r.resource,
                            singular: r.singular_resource,
                            namespaced: r.scope == "Namespaced",
                            verbs: r.verbs,
                            short_names: r.short_names,
                        })
                        .collect(),
                    name: v.version,
                })
                .collect();
            Group { name, versions }
        })
        .filter(|g| !g.versions.is_empty())
        .collect();
    Ok((groups, stale))
}

#[derive(Deserialize)]
struct ApiVersions {
    #[serde(default)]
    versions: Vec<String>,
}

#[derive(Deserialize)]
struct ApiGroupList {
    #[serde(default)]
    groups: Vec<ApiGroup>,
}

#[derive(Deserialize)]
struct ApiGroup {
    name: String,
    #[serde(default)]
    versions: Vec<GroupVersionRef>,
    #[serde(rename = "preferredVersion")]
    preferred_version: Option<GroupVersionRef>,
}

#[derive(Deserialize)]
struct GroupVersionRef {
    #[serde(default)]
    version: String,
}

#[derive(Deserialize)]
struct ApiResourceList {
    #[serde(default)]
    resources: Vec<ApiResource>,
}

#[derive(Deserialize)]
struct ApiResource {
    name: String,
    #[serde(default, rename = "singularName")]
    singular_name: String,
    #[serde(default)]
    namespaced: bool,
    kind: String,
    #[serde(default)]
    verbs: Vec<String>,
    #[serde(default, rename = "shortNames")]
    short_names: Vec<String>,
}

#[derive(Deserialize)]
struct AggregatedList {
    #[serde(default)]
    items: Vec<AggregatedGroup>,
}

#[derive(Deserialize)]
struct AggregatedGroup {
    #[serde(default)]
    metadata: AggregatedMeta,
    #[serde(default)]
    versions: Vec<AggregatedVersion>,
}

#[derive(Deserialize, Default)]
struct AggregatedMeta {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct AggregatedVersion {
    version: String,
    #[serde(default)]
    resources: Vec<AggregatedResource>,
    /// `Current` or `Stale`; absent means current.
    #[serde(default)]
    freshness: String,
}

#[derive(Deserialize)]
struct AggregatedResource {
    resource: String,
    #[serde(rename = "responseKind", default)]
    response_kind: AggregatedKind,
    #[serde(default)]
    scope: String,
    #[serde(default, rename = "singularResource")]
    singular_resource: String,
    #[serde(default)]
    verbs: Vec<String>,
    #[serde(default, rename = "shortNames")]
    short_names: Vec<String>,
}

#[derive(Deserialize, Default)]
struct AggregatedKind {
    #[serde(default)]
    kind: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every ASCII byte but the refused `/` and `%`, and two multibyte characters: path
    /// segments keep the unreserved bytes plus `:` and `@`.
    #[test]
    fn segment_encoding_of_every_ascii_byte() {
        let all: String = (0u8..128)
            .map(char::from)
            .filter(|c| !matches!(c, '/' | '%'))
            .chain("é日".chars())
            .collect();
        let encoded = "%00%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D%0E%0F%10%11%12%13%14%15%16%17%18%19%1A%1B%1C%1D%1E%1F%20%21%22%23%24%26%27%28%29%2A%2B%2C-.0123456789:%3B%3C%3D%3E%3F@ABCDEFGHIJKLMNOPQRSTUVWXYZ%5B%5C%5D%5E_%60abcdefghijklmnopqrstuvwxyz%7B%7C%7D~%7F%C3%A9%E6%97%A5";
        let r = Resource::new("v1", "ConfigMap", "configmaps", true);
        assert_eq!(
            r.object_path(&all, &all).expect("valid"),
            format!("/api/v1/namespaces/{encoded}/configmaps/{encoded}")
        );
    }

    fn res(group: &str, version: &str, kind: &str, plural: &str, short: &[&str]) -> Resource {
        Resource {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            singular: kind.to_ascii_lowercase(),
            namespaced: true,
            verbs: vec!["get".into(), "list".into()],
            short_names: short.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn group(name: &str, versions: Vec<(&str, Vec<Resource>)>) -> Group {
        Group {
            name: name.into(),
            versions: versions
                .into_iter()
                .map(|(v, resources)| Version {
                    name: v.into(),
                    resources,
                })
                .collect(),
        }
    }

    fn sample() -> Discovery {
        const HELM: &str = "helm.toolkit.fluxcd.io";
        const SRC: &str = "source.toolkit.fluxcd.io";
        const KS: &str = "kustomize.toolkit.fluxcd.io";
        Discovery {
            groups: vec![
                group(
                    "",
                    vec![(
                        "v1",
                        vec![
                            res("", "v1", "Pod", "pods", &["po"]),
                            res("", "v1", "Event", "events", &["ev"]),
                        ],
                    )],
                ),
                group(
                    "events.k8s.io",
                    vec![(
                        "v1",
                        vec![res("events.k8s.io", "v1", "Event", "events", &["ev"])],
                    )],
                ),
                group(
                    HELM,
                    vec![
                        (
                            "v2",
                            vec![res(HELM, "v2", "HelmRelease", "helmreleases", &["hr"])],
                        ),
                        (
                            "v2beta2",
                            vec![res(HELM, "v2beta2", "HelmRelease", "helmreleases", &["hr"])],
                        ),
                    ],
                ),
                group(
                    SRC,
                    vec![
                        (
                            "v1",
                            vec![res(
                                SRC,
                                "v1",
                                "GitRepository",
                                "gitrepositories",
                                &["gitrepo"],
                            )],
                        ),
                        (
                            "v1beta2",
                            vec![
                                res(
                                    SRC,
                                    "v1beta2",
                                    "GitRepository",
                                    "gitrepositories",
                                    &["gitrepo"],
                                ),
                                res(
                                    SRC,
                                    "v1beta2",
                                    "OCIRepository",
                                    "ocirepositories",
                                    &["ocirepo"],
                                ),
                            ],
                        ),
                    ],
                ),
                group(
                    KS,
                    vec![(
                        "v1",
                        vec![res(KS, "v1", "Kustomization", "kustomizations", &["ks"])],
                    )],
                ),
            ],
            failures: Vec::new(),
            fetched: Instant::now(),
        }
    }

    fn resolved(av: Option<&str>, kind: &str) -> String {
        match sample().resolve(av, kind) {
            Ok(r) => format!("{} {}", r.api_version(), r.kind),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn kinds_plurals_singulars_and_short_names_resolve_case_insensitively() {
        for name in [
            "Kustomization",
            "kustomization",
            "KUSTOMIZATIONS",
            "ks",
            "Ks",
        ] {
            assert_eq!(
                resolved(None, name),
                "kustomize.toolkit.fluxcd.io/v1 Kustomization"
            );
        }
        assert_eq!(
            resolved(None, "hr"),
            "helm.toolkit.fluxcd.io/v2 HelmRelease"
        );
        assert_eq!(
            resolved(None, "gitrepo"),
            "source.toolkit.fluxcd.io/v1 GitRepository"
        );
        assert_eq!(resolved(None, "po"), "v1 Pod");
    }

    #[test]
    fn api_version_forms() {
        assert_eq!(
            resolved(Some("helm.toolkit.fluxcd.io/v2beta2"), "HelmRelease"),
            "helm.toolkit.fluxcd.io/v2beta2 HelmRelease"
        );
        assert_eq!(
            resolved(Some("helm.toolkit.fluxcd.io"), "HelmRelease"),
            "helm.toolkit.fluxcd.io/v2 HelmRelease"
        );
        assert_eq!(resolved(Some("v1"), "Event"), "v1 Event");
        assert_eq!(
            resolved(Some("events.k8s.io/v1"), "Event"),
            "events.k8s.io/v1 Event"
        );
        assert_eq!(
            resolved(Some(""), "ks"),
            "kustomize.toolkit.fluxcd.io/v1 Kustomization"
        );
    }

    #[test]
    fn ambiguous_names_go_to_the_core_group_first() {
        assert_eq!(resolved(None, "events"), "v1 Event");
    }

    #[test]
    fn a_kind_missing_from_the_preferred_version_comes_from_the_best_other_one() {
        assert_eq!(
            resolved(None, "OCIRepository"),
            "source.toolkit.fluxcd.io/v1beta2 OCIRepository"
        );
    }

    #[test]
    fn matches_lists_every_group_at_the_best_tier() {
        let names = |kind: &str| -> Vec<String> {
            sample()
                .matches(kind)
                .iter()
                .map(|r| format!("{} {}", r.api_version(), r.kind))
                .collect()
        };
        assert_eq!(names("Event"), ["v1 Event", "events.k8s.io/v1 Event"]);
        assert_eq!(
            names("ks"),
            ["kustomize.toolkit.fluxcd.io/v1 Kustomization"]
        );
        assert!(names("Frobnicator").is_empty());
    }

    #[test]
    fn plural_dot_group_resolves() {
        assert_eq!(
            resolved(None, "helmreleases.helm.toolkit.fluxcd.io"),
            "helm.toolkit.fluxcd.io/v2 HelmRelease"
        );
    }

    #[test]
    fn unknown_kinds_get_suggestions() {
        assert_eq!(
            resolved(None, "HelmRelase"),
            r#"error: the server has no kind "HelmRelase"; did you mean HelmRelease (helm.toolkit.fluxcd.io/v2)?"#
        );
        assert_eq!(
            resolved(None, "kustomisation"),
            r#"error: the server has no kind "kustomisation"; did you mean Kustomization (kustomize.toolkit.fluxcd.io/v1)?"#
        );
        assert!(resolved(None, "gitrepos").contains("GitRepository"));
        assert_eq!(
            resolved(None, "Frobnicator"),
            r#"error: the server has no kind "Frobnicator""#
        );
    }

    #[test]
    fn a_kind_in_the_wrong_version_points_at_the_served_one() {
        assert_eq!(
            resolved(Some("helm.toolkit.fluxcd.io/v2beta1"), "HelmRelease"),
            r#"error: the server has no kind "HelmRelease" in "helm.toolkit.fluxcd.io/v2beta1"; did you mean HelmRelease (helm.toolkit.fluxcd.io/v2)?"#
        );
        assert!(
            resolved(Some("apps/v1"), "ks")
                .contains("Kustomization (kustomize.toolkit.fluxcd.io/v1)")
        );
    }

    #[test]
    fn kinds_lists_each_kind_once_at_its_preferred_version() {
        let kinds = sample().kinds();
        let names: Vec<String> = kinds
            .iter()
            .map(|k| format!("{} {}", k.api_version(), k.kind))
            .collect();
        assert_eq!(
            names,
            [
                "v1 Event",
                "v1 Pod",
                "events.k8s.io/v1 Event",
                "helm.toolkit.fluxcd.io/v2 HelmRelease",
                "kustomize.toolkit.fluxcd.io/v1 Kustomization",
                "source.toolkit.fluxcd.io/v1 GitRepository",
                "source.toolkit.fluxcd.io/v1beta2 OCIRepository",
            ]
        );
    }

    #[test]
    fn version_priority_orders_like_kubernetes() {
        let mut v = vec!["v1alpha1", "v2", "v1beta1", "foo", "v1", "v1beta2", "v10"];
        v.sort_by_key(|x| std::cmp::Reverse(version_priority(x)));
        assert_eq!(
            v,
            ["v10", "v2", "v1", "v1beta2", "v1beta1", "v1alpha1", "foo"]
        );
        assert!(is_version("v1"));
        assert!(!is_version("apps"));
        assert!(!is_version("velero.io"));
    }

    #[test]
    fn paths_are_built_and_hostile_names_refused() {
        let pods = Resource::new("v1", "Pod", "pods", true);
        assert_eq!(
            pods.object_path("flux-system", "source-controller-1")
                .expect("valid"),
            "/api/v1/namespaces/flux-system/pods/source-controller-1"
        );
        assert_eq!(pods.collection_path(None).expect("valid"), "/api/v1/pods");
        let crb = Resource::new(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            "clusterroles",
            false,
        );
        assert_eq!(
            crb.object_path("ignored", "system:controller:x")
                .expect("valid"),
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:controller:x"
        );
        assert!(pods.object_path("default", "../secrets").is_err());
        assert!(pods.object_path("default", "").is_err());
        assert!(pods.object_path("", "x").is_err());
        assert!(pods.object_path("a%2F", "x").is_err());
        assert_eq!(
            pods.object_path("default", "a b").expect("encoded"),
            "/api/v1/namespaces/default/pods/a%20b"
        );
    }

    #[test]
    fn aggregated_documents_parse() {
        let doc = serde_json::json!({
            "kind": "APIGroupDiscoveryList",
            "apiVersion": "apidiscovery.k8s.io/v2",
            "items": [{
                "metadata": {"name": "kustomize.toolkit.fluxcd.io"},
                "versions": [{
                    "version": "v1",
                    "resources": [
                        {"resource": "kustomizations", "responseKind": {"group": "kustomize.toolkit.fluxcd.io", "version": "v1", "kind": "Kustomization"},
                         "scope": "Namespaced", "singularResource": "kustomization", "verbs": ["get", "list"], "shortNames": ["ks"]},
                        {"resource": "kustomizations/status", "responseKind": {"kind": "Kustomization"}, "scope": "Namespaced"}
                    ]
                }]
            }]
        });
        let (groups, stale) = parse_aggregated(&doc, "/apis").expect("parses");
        assert!(stale.is_empty());
        let d = Discovery {
            groups,
            failures: Vec::new(),
            fetched: Instant::now(),
        };
        let r = d.resolve(None, "ks").expect("found");
        assert_eq!(r.api_version(), "kustomize.toolkit.fluxcd.io/v1");
        assert!(r.namespaced);
        assert_eq!(d.resources().count(), 1, "subresources are not kinds");
    }

    #[test]
    fn legacy_roots_name_the_group_versions_and_finish_with_their_documents() {
        use serde_json::json;
        let core = json!({"kind": "APIVersions", "versions": ["v1"]});
        let apis = json!({"kind": "APIGroupList", "groups": [
            {"name": "helm.toolkit.fluxcd.io",
             "versions": [{"groupVersion": "helm.toolkit.fluxcd.io/v2beta2", "version": "v2beta2"},
                          {"groupVersion": "helm.toolkit.fluxcd.io/v2", "version": "v2"}],
             "preferredVersion": {"groupVersion": "helm.toolkit.fluxcd.io/v2", "version": "v2"}},
            {"name": "metrics.k8s.io", "versions": [{"version": "v1beta1"}]}
        ]});
        let roots = Roots::parse(&core, &apis).expect("parses");
        assert_eq!(
            roots.pending_paths().collect::<Vec<_>>(),
            [
                "/api/v1",
                "/apis/helm.toolkit.fluxcd.io/v2",
                "/apis/helm.toolkit.fluxcd.io/v2beta2",
                "/apis/metrics.k8s.io/v1beta1"
            ],
            "preferred version first"
        );
        let list = |kind: &str, plural: &str| {
            Ok(json!({"kind": "APIResourceList", "resources": [
                {"name": plural, "singularName": "", "namespaced": true, "kind": kind, "verbs": ["get"]},
                {"name": format!("{plural}/status"), "namespaced": true, "kind": kind}
            ]}))
        };
        let d = roots.finish(vec![
            list("Pod", "pods"),
            list("HelmRelease", "helmreleases"),
            Ok(json!({"resources": "not a list"})),
            Err(Error::InvalidRequest("service unavailable".into())),
        ]);
        assert_eq!(
            d.resolve(None, "hr").map(|r| r.api_version()).ok(),
            None,
            "no short names in this document"
        );
        assert_eq!(
            d.resolve(None, "helmreleases")
                .expect("found")
                .api_version(),
            "helm.toolkit.fluxcd.io/v2"
        );
        assert_eq!(d.resolve(Some("v1"), "Pod").expect("found").plural, "pods");
        assert_eq!(d.resources().count(), 2, "subresources are not kinds");
        let failed: Vec<&str> = d
            .failures()
            .iter()
            .map(|f| f.group_version.as_str())
            .collect();
        assert_eq!(
            failed,
            ["helm.toolkit.fluxcd.io/v2beta2", "metrics.k8s.io/v1beta1"]
        );
        assert!(d.failures()[1].error.contains("service unavailable"));
        assert!(
            !d.has_group("metrics.k8s.io"),
            "a group with no version left is gone"
        );
    }

    #[test]
    fn aggregated_roots_need_nothing_more_and_a_bad_root_fails() {
        use serde_json::json;
        let core = json!({"kind": "APIGroupDiscoveryList", "items": [{"metadata": {"name": ""},
            "versions": [{"version": "v1", "resources": [
                {"resource": "pods", "responseKind": {"kind": "Pod"}, "scope": "Namespaced"}]}]}]});
        let apis = json!({"kind": "APIGroupDiscoveryList", "items": [
            {"metadata": {"name": "metrics.k8s.io"}, "versions": [{"version": "v1beta1", "freshness": "Stale"}]}]});
        let roots = Roots::parse(&core, &apis).expect("parses");
        assert_eq!(roots.pending_paths().len(), 0);
        let d = roots.finish(Vec::new());
        assert!(d.resolve(None, "pods").is_ok());
        assert_eq!(d.failures().len(), 1, "the stale version is a failure");
        let err = Roots::parse(&json!({"versions": "v1"}), &apis).unwrap_err();
        assert!(err.to_string().contains("/api"), "{err}");
    }

    #[test]
    fn close_matches_rank_typos_then_prefixes() {
        let names = ["flux-prod", "flux-staging", "kind-dev", "prod"];
        assert_eq!(close_matches("flux-prd", names, 3), ["flux-prod"]);
        assert_eq!(
            close_matches("FLUX", names, 3),
            ["flux-prod", "flux-staging"]
        );
        assert_eq!(close_matches("prod", names, 1), ["prod"]);
        assert!(close_matches("zzz", names, 3).is_empty());
    }

    /// A saved discovery reads back as the same discovery: groups, versions in order, every
    /// resource's fields, and the failures (as stale versions).
    #[test]
    fn aggregated_documents_read_back_the_same() {
        let mut d = sample();
        d.failures = vec![
            DiscoveryFailure {
                group_version: "metrics.k8s.io/v1beta1".into(),
                error: "down".into(),
            },
            DiscoveryFailure {
                group_version: "source.toolkit.fluxcd.io/v1beta1".into(),
                error: "down".into(),
            },
        ];
        let (core, apis) = d.to_aggregated();
        let back = Roots::parse(&core, &apis)
            .expect("parse")
            .finish(Vec::new());
        let all = |d: &Discovery| d.resources().cloned().collect::<Vec<_>>();
        assert_eq!(all(&back), all(&d));
        assert_eq!(back.kinds(), d.kinds());
        let failed: Vec<&str> = back
            .failures()
            .iter()
            .map(|f| f.group_version.as_str())
            .collect();
        assert_eq!(
            failed,
            ["source.toolkit.fluxcd.io/v1beta1", "metrics.k8s.io/v1beta1"]
        );
        assert!(!back.has_group("metrics.k8s.io"));
        assert_eq!(
            back.preferred_version("source.toolkit.fluxcd.io"),
            Some("v1")
        );
    }
}
