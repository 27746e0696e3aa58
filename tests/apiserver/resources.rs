//! The resource types the test server serves (built-in ones declared here, custom ones derived from
//! the CRD objects in the data) and the discovery documents built from them: `/api`, `/api/v1`,
//! `/apis`, `/apis/<group>`, `/apis/<group>/<version>` and aggregated discovery (apidiscovery v2).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::{Value, json};

/// Verbs of a normal read-write resource, as the API server lists them.
const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const READ_VERBS: &[&str] = &["get", "list"];
const NAMESPACE_VERBS: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];

/// One printer column of a CRD version (`additionalPrinterColumns`).
#[derive(Clone, Debug)]
pub struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    pub json_path: String,
}

/// One served resource type.
#[derive(Clone, Debug)]
pub struct ResourceType {
    pub group: String,
    pub kind: String,
    pub list_kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub verbs: Vec<String>,
    /// Served versions, highest priority first.
    pub versions: Vec<String>,
    /// Subresources (`status`, `log`, `scale`).
    pub subresources: Vec<String>,
    /// Field-selector labels beyond `metadata.name` and `metadata.namespace`.
    pub field_labels: Vec<String>,
    /// Built into the API server (typed): list items carry no `kind`/`apiVersion`.
    pub builtin: bool,
    /// Printer columns per version (CRDs only).
    pub columns: BTreeMap<String, Vec<PrinterColumn>>,
}

impl ResourceType {
    /// `gitrepositories.source.toolkit.fluxcd.io`, or `pods` for the core group: how Status
    /// messages name the resource.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{version}", self.group)
        }
    }

    pub fn serves(&self, version: &str) -> bool {
        self.versions.iter().any(|v| v == version)
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    categories: &'static [&'static str],
    verbs: &'static [&'static str],
    subresources: &'static [&'static str],
    fields: &'static [&'static str],
}

const ALL: &[&str] = &["all"];

/// The built-in types served, with the short names, categories and field labels of a current
/// Kubernetes release (`kubectl api-resources` on 1.32).
const BUILTINS: &[Builtin] = &[
    Builtin {
        group: "",
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        namespaced: true,
        short: &["cm"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        fields: &[],
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Event",
        plural: "events",
        namespaced: true,
        short: &["ev"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        fields: &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        namespaced: false,
        short: &["ns"],
        categories: &[],
        verbs: NAMESPACE_VERBS,
        subresources: &["finalize", "status"],
        fields: &["status.phase"],
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Node",
        plural: "nodes",
        namespaced: false,
        short: &["no"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &["status"],
        fields: &["spec.unschedulable"],
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        namespaced: true,
        short: &["po"],
        categories: ALL,
        verbs: ALL_VERBS,
        subresources: &["log", "status"],
        fields: &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Secret",
        plural: "secrets",
        namespaced: true,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        fields: &["type"],
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Service",
        plural: "services",
        namespaced: true,
        short: &["svc"],
        categories: ALL,
        verbs: &[
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ],
        subresources: &["status"],
        fields: &[],
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        namespaced: true,
        short: &["sa"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        fields: &[],
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "DaemonSet",
        plural: "daemonsets",
        namespaced: true,
        short: &["ds"],
        categories: ALL,
        verbs: ALL_VERBS,
        subresources: &["status"],
        fields: &[],
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
        namespaced: true,
        short: &["deploy"],
        categories: ALL,
        verbs: ALL_VERBS,
        subresources: &["scale", "status"],
        fields: &[],
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "ReplicaSet",
        plural: "replicasets",
        namespaced: true,
        short: &["rs"],
        categories: ALL,
        verbs: ALL_VERBS,
        subresources: &["scale", "status"],
        fields: &["status.replicas"],
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "StatefulSet",
        plural: "statefulsets",
        namespaced: true,
        short: &["sts"],
        categories: ALL,
        verbs: ALL_VERBS,
        subresources: &["scale", "status"],
        fields: &[],
    },
    Builtin {
        group: "batch",
        version: "v1",
        kind: "CronJob",
        plural: "cronjobs",
        namespaced: true,
        short: &["cj"],
        categories: ALL,
        verbs: ALL_VERBS,
        subresources: &["status"],
        fields: &[],
    },
    Builtin {
        group: "batch",
        version: "v1",
        kind: "Job",
        plural: "jobs",
        namespaced: true,
        short: &[],
        categories: ALL,
        verbs: ALL_VERBS,
        subresources: &["status"],
        fields: &["status.successful"],
    },
    Builtin {
        group: "apiextensions.k8s.io",
        version: "v1",
        kind: "CustomResourceDefinition",
        plural: "customresourcedefinitions",
        namespaced: false,
        short: &["crd", "crds"],
        categories: &["api-extensions"],
        verbs: ALL_VERBS,
        subresources: &["status"],
        fields: &[],
    },
];

/// metrics-server's API (an aggregated APIService in a real cluster): read-only.
const METRICS: &[Builtin] = &[
    Builtin {
        group: "metrics.k8s.io",
        version: "v1beta1",
        kind: "NodeMetrics",
        plural: "nodes",
        namespaced: false,
        short: &[],
        categories: &[],
        verbs: READ_VERBS,
        subresources: &[],
        fields: &[],
    },
    Builtin {
        group: "metrics.k8s.io",
        version: "v1beta1",
        kind: "PodMetrics",
        plural: "pods",
        namespaced: true,
        short: &[],
        categories: &[],
        verbs: READ_VERBS,
        subresources: &[],
        fields: &[],
    },
];

pub const METRICS_GROUP: &str = "metrics.k8s.io";

/// Built-in groups in the order the API server lists them; CRD groups follow, then metrics.
const BUILTIN_GROUP_ORDER: &[&str] = &["apps", "batch", "apiextensions.k8s.io"];

fn builtin_type(b: &Builtin) -> ResourceType {
    ResourceType {
        group: b.group.into(),
        kind: b.kind.into(),
        list_kind: format!("{}List", b.kind),
        plural: b.plural.into(),
        singular: b.kind.to_ascii_lowercase(),
        namespaced: b.namespaced,
        short_names: b.short.iter().map(|s| s.to_string()).collect(),
        categories: b.categories.iter().map(|s| s.to_string()).collect(),
        verbs: b.verbs.iter().map(|s| s.to_string()).collect(),
        versions: vec![b.version.into()],
        subresources: b.subresources.iter().map(|s| s.to_string()).collect(),
        field_labels: b.fields.iter().map(|s| s.to_string()).collect(),
        builtin: true,
        columns: BTreeMap::new(),
    }
}

/// Kubernetes version priority (`k8s.io/apimachinery/pkg/version.CompareKubeAwareVersionStrings`):
/// GA before beta before alpha, higher major first, then higher minor; versions that do not look
/// like `vN[alpha|betaM]` come last, in name order.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn parse(v: &str) -> Option<(u64, u8, u64)> {
        let rest = v.strip_prefix('v')?;
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let major: u64 = rest[..digits].parse().ok()?;
        let tail = &rest[digits..];
        if tail.is_empty() {
            return Some((major, 2, 0));
        }
        let (level, num) = if let Some(n) = tail.strip_prefix("beta") {
            (1, n)
        } else if let Some(n) = tail.strip_prefix("alpha") {
            (0, n)
        } else {
            return None;
        };
        Some((major, level, num.parse().ok()?))
    }
    match (parse(a), parse(b)) {
        (Some((ma, la, na)), Some((mb, lb, nb))) => lb.cmp(&la).then(mb.cmp(&ma)).then(nb.cmp(&na)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

fn str_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The resource type a CRD object defines, or why it cannot be read.
pub fn type_from_crd(crd: &Value) -> Result<ResourceType, String> {
    let spec = crd.get("spec").ok_or("no spec")?;
    let text = |v: &Value, field: &str| -> Result<String, String> {
        v.get(field)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("spec field {field:?} missing"))
    };
    let names = spec.get("names").ok_or("spec.names missing")?;
    let group = text(spec, "group")?;
    let kind = text(names, "kind")?;
    let plural = text(names, "plural")?;
    let singular = names
        .get("singular")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| kind.to_ascii_lowercase());
    let list_kind = names
        .get("listKind")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{kind}List"));
    let namespaced = match spec.get("scope").and_then(Value::as_str) {
        Some("Namespaced") => true,
        Some("Cluster") => false,
        other => {
            return Err(format!(
                "spec.scope {other:?} is neither Namespaced nor Cluster"
            ));
        }
    };
    let mut versions = Vec::new();
    let mut columns = BTreeMap::new();
    let mut status = false;
    for v in spec
        .get("versions")
        .and_then(Value::as_array)
        .ok_or("spec.versions missing")?
    {
        let name = text(v, "name")?;
        if v.get("served").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        status |= v.pointer("/subresources/status").is_some();
        let cols = v
            .get("additionalPrinterColumns")
            .and_then(Value::as_array)
            .map(|cols| {
                cols.iter()
                    .map(|c| PrinterColumn {
                        name: c["name"].as_str().unwrap_or_default().to_string(),
                        type_: c["type"].as_str().unwrap_or("string").to_string(),
                        format: c["format"].as_str().unwrap_or_default().to_string(),
                        description: c["description"].as_str().unwrap_or_default().to_string(),
                        priority: c["priority"].as_i64().unwrap_or(0),
                        json_path: c["jsonPath"].as_str().unwrap_or_default().to_string(),
                    })
                    .collect()
            })
            .unwrap_or_else(|| {
                // Without printer columns a CRD shows an Age column (apiextensions-apiserver).
                vec![PrinterColumn {
                    name: "Age".into(),
                    type_: "date".into(),
                    format: String::new(),
                    description: String::new(),
                    priority: 0,
                    json_path: ".metadata.creationTimestamp".into(),
                }]
            });
        columns.insert(name.clone(), cols);
        versions.push(name);
    }
    if versions.is_empty() {
        return Err("no served version".into());
    }
    versions.sort_by(|a, b| compare_versions(a, b));
    Ok(ResourceType {
        group,
        kind,
        list_kind,
        plural,
        singular,
        namespaced,
        short_names: str_list(&names["shortNames"]),
        categories: str_list(&names["categories"]),
        verbs: ALL_VERBS.iter().map(|s| s.to_string()).collect(),
        versions,
        subresources: if status {
            vec!["status".into()]
        } else {
            vec![]
        },
        field_labels: Vec::new(),
        builtin: false,
        columns,
    })
}

/// Every served type, and the documents describing them.
#[derive(Clone, Debug)]
pub struct Registry {
    pub types: Vec<ResourceType>,
}

/// A group with its served versions, preferred first.
pub struct Group {
    pub name: String,
    pub versions: Vec<String>,
}

impl Registry {
    /// The built-in types, plus metrics.k8s.io unless `no_metrics`, plus the given CRD types.
    pub fn new(no_metrics: bool, crd_types: Vec<ResourceType>) -> Registry {
        let mut types: Vec<ResourceType> = BUILTINS.iter().map(builtin_type).collect();
        types.extend(crd_types);
        if !no_metrics {
            types.extend(METRICS.iter().map(builtin_type));
        }
        Registry { types }
    }

    /// The type served at `/apis/<group>/<version>/<plural>`.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<usize> {
        self.types
            .iter()
            .position(|t| t.group == group && t.plural == plural && t.serves(version))
    }

    /// The type of objects of `kind` in `group` (any served version).
    pub fn by_kind(&self, group: &str, kind: &str) -> Option<usize> {
        self.types
            .iter()
            .position(|t| t.group == group && t.kind == kind)
    }

    /// Groups other than core, in discovery order, with versions preferred first.
    pub fn groups(&self) -> Vec<Group> {
        let mut names: Vec<&str> = Vec::new();
        for g in BUILTIN_GROUP_ORDER {
            if self.types.iter().any(|t| t.group == *g) {
                names.push(g);
            }
        }
        let mut custom: Vec<&str> = self
            .types
            .iter()
            .filter(|t| !t.builtin)
            .map(|t| t.group.as_str())
            .collect();
        custom.sort_unstable();
        custom.dedup();
        custom.retain(|g| !names.contains(g));
        names.extend(custom);
        if self.types.iter().any(|t| t.group == METRICS_GROUP) {
            names.push(METRICS_GROUP);
        }
        names
            .into_iter()
            .map(|name| {
                let mut versions: Vec<String> = self
                    .types
                    .iter()
                    .filter(|t| t.group == name)
                    .flat_map(|t| t.versions.iter().cloned())
                    .collect();
                versions.sort_by(|a, b| compare_versions(a, b));
                versions.dedup();
                Group {
                    name: name.to_string(),
                    versions,
                }
            })
            .collect()
    }

    fn group_json(group: &Group) -> Value {
        let versions: Vec<Value> = group
            .versions
            .iter()
            .map(|v| json!({"groupVersion": format!("{}/{v}", group.name), "version": v}))
            .collect();
        json!({
            "name": group.name,
            "versions": versions,
            "preferredVersion": versions[0],
        })
    }

    /// `GET /api`: the core group's versions.
    pub fn api_versions(&self, server_address: &str) -> Value {
        json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
        })
    }

    /// `GET /apis`.
    pub fn api_group_list(&self) -> Value {
        let groups: Vec<Value> = self.groups().iter().map(Self::group_json).collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    /// `GET /apis/<group>`.
    pub fn api_group(&self, name: &str) -> Option<Value> {
        let group = self.groups().into_iter().find(|g| g.name == name)?;
        let mut doc = Self::group_json(&group);
        doc["kind"] = json!("APIGroup");
        doc["apiVersion"] = json!("v1");
        Some(doc)
    }

    fn types_of<'a>(
        &'a self,
        group: &'a str,
        version: &'a str,
    ) -> impl Iterator<Item = &'a ResourceType> {
        self.types
            .iter()
            .filter(move |t| t.group == group && t.serves(version))
    }

    /// `GET /api/v1` or `/apis/<group>/<version>`: an APIResourceList, subresources as
    /// `plural/sub` entries.
    pub fn resource_list(&self, group: &str, version: &str) -> Option<Value> {
        let mut resources = Vec::new();
        let mut types: Vec<&ResourceType> = self.types_of(group, version).collect();
        if types.is_empty() {
            return None;
        }
        types.sort_by(|a, b| a.plural.cmp(&b.plural));
        for t in types {
            let mut entry = json!({
                "name": t.plural,
                "singularName": t.singular,
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": t.verbs,
                "storageVersionHash": storage_version_hash(t),
            });
            if !t.short_names.is_empty() {
                entry["shortNames"] = json!(t.short_names);
            }
            if !t.categories.is_empty() {
                entry["categories"] = json!(t.categories);
            }
            resources.push(entry);
            for sub in &t.subresources {
                resources.push(json!({
                    "name": format!("{}/{sub}", t.plural),
                    "singularName": "",
                    "namespaced": t.namespaced,
                    "kind": subresource_kind(t, sub),
                    "verbs": subresource_verbs(sub),
                }));
            }
        }
        Some(json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": if group.is_empty() { version.to_string() } else { format!("{group}/{version}") },
            "resources": resources,
        }))
    }

    /// Aggregated discovery (`apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`) for `/api`
    /// (`core` true) or `/apis`.
    pub fn aggregated(&self, core: bool) -> Value {
        let groups: Vec<Group> = if core {
            vec![Group {
                name: String::new(),
                versions: vec!["v1".into()],
            }]
        } else {
            self.groups()
        };
        let items: Vec<Value> = groups
            .iter()
            .map(|g| {
                let versions: Vec<Value> = g
                    .versions
                    .iter()
                    .map(|v| {
                        let mut types: Vec<&ResourceType> = self.types_of(&g.name, v).collect();
                        types.sort_by(|a, b| a.plural.cmp(&b.plural));
                        let resources: Vec<Value> = types
                            .iter()
                            .map(|t| {
                                let mut r = json!({
                                    "resource": t.plural,
                                    "responseKind": {"group": t.group, "version": v, "kind": t.kind},
                                    "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
                                    "singularResource": t.singular,
                                    "verbs": t.verbs,
                                });
                                if !t.short_names.is_empty() {
                                    r["shortNames"] = json!(t.short_names);
                                }
                                if !t.categories.is_empty() {
                                    r["categories"] = json!(t.categories);
                                }
                                if !t.subresources.is_empty() {
                                    r["subresources"] = t
                                        .subresources
                                        .iter()
                                        .map(|sub| {
                                            json!({
                                                "subresource": sub,
                                                "responseKind": {"group": t.group, "version": v, "kind": subresource_kind(t, sub)},
                                                "verbs": subresource_verbs(sub),
                                            })
                                        })
                                        .collect();
                                }
                                r
                            })
                            .collect();
                        json!({"version": v, "resources": resources, "freshness": "Current"})
                    })
                    .collect();
                let mut metadata = json!({"creationTimestamp": null});
                if !g.name.is_empty() {
                    metadata["name"] = json!(g.name);
                }
                json!({"metadata": metadata, "versions": versions})
            })
            .collect();
        json!({
            "kind": "APIGroupDiscoveryList",
            "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {},
            "items": items,
        })
    }
}

fn subresource_kind(t: &ResourceType, sub: &str) -> String {
    match sub {
        "scale" => "Scale".into(),
        _ => t.kind.clone(),
    }
}

fn subresource_verbs(sub: &str) -> Vec<&'static str> {
    match sub {
        "log" => vec!["get"],
        "finalize" => vec!["update"],
        _ => vec!["get", "patch", "update"],
    }
}

/// A stable 8-byte hash, base64 like the API server's `storageVersionHash` (clients only compare
/// it for equality).
fn storage_version_hash(t: &ResourceType) -> String {
    use base64::Engine as _;
    let key = format!("{}/{}/{}", t.group, t.versions[0], t.kind);
    let hash = fnv1a(key.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hash.to_be_bytes())
}

/// FNV-1a 64: stable hashes for generated uids and hashes (no randomness, no dependency).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_priority_matches_kubernetes() {
        use super::*;
        let mut v = vec![
            "v1beta1",
            "foo",
            "v1alpha1",
            "v2",
            "v1",
            "v1beta2",
            "v10",
            "v11alpha2",
        ];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            v,
            [
                "v10",
                "v2",
                "v1",
                "v1beta2",
                "v1beta1",
                "v11alpha2",
                "v1alpha1",
                "foo"
            ]
        );
    }
}
