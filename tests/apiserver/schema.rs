//! How each served type's fields merge, as the API server knows from its OpenAPI schemas: which
//! lists are associative (by which keys) or sets for server-side apply, which are merged by a
//! `patchMergeKey` for strategic merge patch, and which maps and structs are atomic. Built-in
//! types get the markers of their Go types (`+listType`, `+listMapKey`, `patchMergeKey`,
//! `patchStrategy`, `+structType=atomic`) for the fields people actually patch; custom resources
//! get the markers of their CRD's `openAPIV3Schema` (`x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`). Everything not described is
//! "deduced" like structured-merge-diff does for schemaless data: maps are merged field by field,
//! lists are atomic.

use std::collections::BTreeMap;

use serde_json::Value;

/// One node of a type's schema.
#[derive(Clone, Debug)]
pub enum Node {
    /// Typed by its value: objects are granular maps whose fields are deduced too, anything else
    /// (lists included) is one atomic value.
    Deduced,
    /// Owned and replaced as a whole (`+structType=atomic`, `x-kubernetes-map-type: atomic`).
    Atomic,
    /// A granular map: known fields, and the schema of every other field.
    Map {
        fields: BTreeMap<String, Node>,
        other: Box<Node>,
    },
    /// A list: how server-side apply sees it, how strategic merge patch merges it, its items.
    List {
        kind: ListKind,
        smp: Smp,
        item: Box<Node>,
    },
}

/// `+listType` / `x-kubernetes-list-type`.
#[derive(Clone, Debug, PartialEq)]
pub enum ListKind {
    Atomic,
    /// Scalars, each owned on its own (`v:"value"` in fieldsV1).
    Set,
    /// Objects identified by these key fields (`k:{"name":"x"}` in fieldsV1).
    Map(Vec<KeyField>),
}

/// A key field of an associative list, with the default the API server fills in when an item
/// omits it (a container port's `protocol` is `TCP`).
#[derive(Clone, Debug, PartialEq)]
pub struct KeyField {
    pub name: String,
    pub default: Option<Value>,
}

/// Strategic merge patch markers of a list (`patchStrategy`, `patchMergeKey`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Smp {
    /// `patchStrategy: merge`; without it a patch replaces the list.
    pub merge: bool,
    /// `patchMergeKey` of a list of objects; `None` with `merge` means a list of scalars merged
    /// as a set (finalizers).
    pub merge_key: Option<String>,
}

static DEDUCED: Node = Node::Deduced;

impl Node {
    /// The schema of field `name` of this map.
    pub fn field(&self, name: &str) -> &Node {
        match self {
            Node::Map { fields, other } => fields.get(name).unwrap_or(other),
            _ => &DEDUCED,
        }
    }

    /// The schema of this list's items.
    pub fn item(&self) -> &Node {
        match self {
            Node::List { item, .. } => item,
            _ => &DEDUCED,
        }
    }

    /// The key fields when this is an associative list of objects.
    pub fn keys(&self) -> Option<&[KeyField]> {
        match self {
            Node::List {
                kind: ListKind::Map(keys),
                ..
            } => Some(keys),
            _ => None,
        }
    }
}

// ---- building schemas ----------------------------------------------------------------------

fn map(fields: Vec<(&str, Node)>) -> Node {
    Node::Map {
        fields: fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        other: Box::new(Node::Deduced),
    }
}

/// `+listType=atomic` without a patch strategy: replaced whole by both apply and patches.
fn atomic_list() -> Node {
    Node::List {
        kind: ListKind::Atomic,
        smp: Smp::default(),
        item: Box::new(Node::Deduced),
    }
}

/// `+listType=map` with these keys and `patchStrategy=merge` on `smp_key`.
fn keyed(keys: &[&str], smp_key: &str, item: Node) -> Node {
    Node::List {
        kind: ListKind::Map(
            keys.iter()
                .map(|k| KeyField {
                    name: k.to_string(),
                    default: None,
                })
                .collect(),
        ),
        smp: Smp {
            merge: true,
            merge_key: Some(smp_key.to_string()),
        },
        item: Box::new(item),
    }
}

/// `+listType=set` of scalars with `patchStrategy=merge` (finalizers).
fn merged_set() -> Node {
    Node::List {
        kind: ListKind::Set,
        smp: Smp {
            merge: true,
            merge_key: None,
        },
        item: Box::new(Node::Deduced),
    }
}

/// A port list: keyed by port number and protocol (defaulted to TCP) for apply, by the port
/// number alone for strategic merge patch.
fn ports(port: &str) -> Node {
    Node::List {
        kind: ListKind::Map(vec![
            KeyField {
                name: port.to_string(),
                default: None,
            },
            KeyField {
                name: "protocol".into(),
                default: Some(Value::String("TCP".into())),
            },
        ]),
        smp: Smp {
            merge: true,
            merge_key: Some(port.to_string()),
        },
        item: Box::new(Node::Deduced),
    }
}

fn conditions() -> Node {
    keyed(&["type"], "type", Node::Deduced)
}

/// `metav1.ObjectMeta`: labels and annotations are granular maps (deduced), finalizers a set,
/// owner references keyed by uid.
pub fn object_meta() -> Node {
    map(vec![
        ("finalizers", merged_set()),
        ("ownerReferences", keyed(&["uid"], "uid", Node::Deduced)),
        ("managedFields", atomic_list()),
    ])
}

fn container() -> Node {
    map(vec![
        ("args", atomic_list()),
        ("command", atomic_list()),
        ("env", keyed(&["name"], "name", Node::Deduced)),
        ("envFrom", atomic_list()),
        ("ports", ports("containerPort")),
        ("resizePolicy", atomic_list()),
        (
            "volumeDevices",
            keyed(&["devicePath"], "devicePath", Node::Deduced),
        ),
        (
            "volumeMounts",
            keyed(&["mountPath"], "mountPath", Node::Deduced),
        ),
    ])
}

fn pod_spec() -> Node {
    let topology = Node::List {
        kind: ListKind::Map(vec![
            KeyField {
                name: "topologyKey".into(),
                default: None,
            },
            KeyField {
                name: "whenUnsatisfiable".into(),
                default: None,
            },
        ]),
        smp: Smp {
            merge: true,
            merge_key: Some("topologyKey".into()),
        },
        item: Box::new(Node::Deduced),
    };
    map(vec![
        ("containers", keyed(&["name"], "name", container())),
        ("ephemeralContainers", keyed(&["name"], "name", container())),
        (
            "hostAliases",
            keyed(&["ip"], "ip", map(vec![("hostnames", atomic_list())])),
        ),
        ("imagePullSecrets", keyed(&["name"], "name", Node::Deduced)),
        ("initContainers", keyed(&["name"], "name", container())),
        ("readinessGates", atomic_list()),
        ("resourceClaims", keyed(&["name"], "name", Node::Deduced)),
        ("schedulingGates", keyed(&["name"], "name", Node::Deduced)),
        ("tolerations", atomic_list()),
        ("topologySpreadConstraints", topology),
        ("volumes", keyed(&["name"], "name", Node::Deduced)),
    ])
}

fn pod_template() -> Node {
    map(vec![("metadata", object_meta()), ("spec", pod_spec())])
}

/// A workload's spec: an atomic label selector (`+structType=atomic`) and a pod template.
fn workload_spec(extra: Vec<(&str, Node)>) -> Node {
    let mut fields = vec![("selector", Node::Atomic), ("template", pod_template())];
    fields.extend(extra);
    map(fields)
}

fn with_meta(fields: Vec<(&str, Node)>) -> Node {
    let mut all = vec![("metadata", object_meta())];
    all.extend(fields);
    map(all)
}

fn status_with_conditions() -> Node {
    map(vec![("conditions", conditions())])
}

/// The schema of a built-in kind (group "" is core).
pub fn builtin(group: &str, kind: &str) -> Node {
    match (group, kind) {
        ("", "Pod") => with_meta(vec![
            ("spec", pod_spec()),
            (
                "status",
                map(vec![
                    ("conditions", conditions()),
                    ("containerStatuses", atomic_list()),
                    ("initContainerStatuses", atomic_list()),
                    ("podIPs", keyed(&["ip"], "ip", Node::Deduced)),
                ]),
            ),
        ]),
        ("", "Service") => with_meta(vec![
            (
                "spec",
                map(vec![
                    ("clusterIPs", atomic_list()),
                    ("externalIPs", atomic_list()),
                    ("ipFamilies", atomic_list()),
                    ("ports", ports("port")),
                ]),
            ),
            ("status", status_with_conditions()),
        ]),
        ("", "ServiceAccount") => with_meta(vec![
            ("secrets", keyed(&["name"], "name", Node::Deduced)),
            ("imagePullSecrets", atomic_list()),
        ]),
        ("", "Namespace") => with_meta(vec![
            ("spec", map(vec![("finalizers", atomic_list())])),
            ("status", status_with_conditions()),
        ]),
        ("", "Node") => with_meta(vec![(
            "status",
            map(vec![
                ("conditions", conditions()),
                ("addresses", keyed(&["type"], "type", Node::Deduced)),
            ]),
        )]),
        ("apps", "Deployment" | "ReplicaSet" | "DaemonSet") => with_meta(vec![
            ("spec", workload_spec(Vec::new())),
            ("status", status_with_conditions()),
        ]),
        ("apps", "StatefulSet") => with_meta(vec![
            (
                "spec",
                workload_spec(vec![("volumeClaimTemplates", atomic_list())]),
            ),
            ("status", status_with_conditions()),
        ]),
        ("batch", "Job") => with_meta(vec![
            ("spec", workload_spec(Vec::new())),
            ("status", map(vec![("conditions", atomic_list())])),
        ]),
        ("batch", "CronJob") => with_meta(vec![
            (
                "spec",
                map(vec![(
                    "jobTemplate",
                    map(vec![
                        ("metadata", object_meta()),
                        ("spec", workload_spec(Vec::new())),
                    ]),
                )]),
            ),
            ("status", map(vec![("active", atomic_list())])),
        ]),
        _ => with_meta(Vec::new()),
    }
}

/// The schema of a custom resource from its CRD: the storage version's `openAPIV3Schema` (the
/// first version with one when none is marked for storage), with `metadata` as ObjectMeta.
pub fn for_crd(crd: &Value) -> Node {
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let schema = versions
        .iter()
        .find(|v| v["storage"] == true && v.pointer("/schema/openAPIV3Schema").is_some())
        .or_else(|| {
            versions
                .iter()
                .find(|v| v.pointer("/schema/openAPIV3Schema").is_some())
        })
        .and_then(|v| v.pointer("/schema/openAPIV3Schema"));
    let mut root = schema.map(from_openapi).unwrap_or(Node::Deduced);
    match &mut root {
        Node::Map { fields, .. } => {
            fields.insert("metadata".into(), object_meta());
        }
        other => *other = with_meta(Vec::new()),
    }
    root
}

/// One OpenAPI v3 (structural) schema node.
fn from_openapi(s: &Value) -> Node {
    let ty = s["type"].as_str().unwrap_or("");
    let has_props = s.get("properties").is_some_and(Value::is_object);
    if ty == "object" || has_props {
        if s["x-kubernetes-map-type"] == "atomic" {
            return Node::Atomic;
        }
        let fields = s["properties"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), from_openapi(v)))
            .collect();
        let other = match s.get("additionalProperties") {
            Some(a) if a.is_object() => from_openapi(a),
            _ => Node::Deduced,
        };
        return Node::Map {
            fields,
            other: Box::new(other),
        };
    }
    if ty == "array" {
        let item = s.get("items").map(from_openapi).unwrap_or(Node::Deduced);
        let kind = match s["x-kubernetes-list-type"].as_str() {
            Some("set") => ListKind::Set,
            Some("map") => ListKind::Map(
                s["x-kubernetes-list-map-keys"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(|k| KeyField {
                        name: k.to_string(),
                        default: s
                            .pointer(&format!("/items/properties/{k}/default"))
                            .cloned(),
                    })
                    .collect(),
            ),
            _ => ListKind::Atomic,
        };
        // Custom resources do not support strategic merge patch: no SMP markers.
        return Node::List {
            kind,
            smp: Smp::default(),
            item: Box::new(item),
        };
    }
    Node::Deduced
}

#[cfg(test)]
mod tests {
    // The bench target compiles this module with cfg(test) but without the test harness, which
    // drops the #[test] functions and leaves their imports and helpers unused there.
    #![allow(unused_imports, dead_code)]

    use super::*;
    use serde_json::json;

    #[test]
    fn containers_are_keyed_by_name_in_every_pod_template() {
        let d = builtin("apps", "Deployment");
        let containers = d
            .field("spec")
            .field("template")
            .field("spec")
            .field("containers");
        assert_eq!(containers.keys().unwrap()[0].name, "name");
        let ports = containers.item().field("ports");
        assert_eq!(ports.keys().unwrap().len(), 2);
        assert!(matches!(d.field("spec").field("selector"), Node::Atomic));
        let cron = builtin("batch", "CronJob");
        let env = cron
            .field("spec")
            .field("jobTemplate")
            .field("spec")
            .field("template")
            .field("spec")
            .field("initContainers")
            .item()
            .field("env");
        assert_eq!(env.keys().unwrap()[0].name, "name");
    }

    #[test]
    fn crd_markers_become_list_kinds() {
        let crd = json!({"spec": {"versions": [{"name": "v1", "storage": true, "schema": {"openAPIV3Schema": {
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {
                    "items": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"],
                              "items": {"type": "object", "properties": {"id": {"type": "string"}}}},
                    "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                    "plain": {"type": "array", "items": {"type": "string"}},
                    "sel": {"type": "object", "x-kubernetes-map-type": "atomic"}
                }}
            }
        }}}]}});
        let s = for_crd(&crd);
        let spec = s.field("spec");
        assert_eq!(spec.field("items").keys().unwrap()[0].name, "id");
        assert!(matches!(
            spec.field("tags"),
            Node::List {
                kind: ListKind::Set,
                ..
            }
        ));
        assert!(matches!(
            spec.field("plain"),
            Node::List {
                kind: ListKind::Atomic,
                ..
            }
        ));
        assert!(matches!(spec.field("sel"), Node::Atomic));
        // ObjectMeta whatever the CRD says; an abbreviated schema deduces the rest.
        assert!(s.field("metadata").field("finalizers").keys().is_none());
        assert!(matches!(
            for_crd(&json!({"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}})).field("spec"),
            Node::Deduced
        ));
    }
}
