//! `metadata.managedFields` the way the API server's field manager keeps it: one entry per
//! manager (identified by name, operation, subresource and, for `Update`, apiVersion), updates
//! that take ownership of what they change, server-side apply (merge, conflicts with other
//! managers unless forced, removal of fields the applier dropped and nobody else owns), and the
//! entries a loaded object gets so the data looks like a real cluster's (Flux, Helm or kubectl as
//! the spec manager, the controller for finalizers and status).

use serde_json::{Map, Value, json};

use super::fieldpath::{self, Nodes, Path, Set};
use super::resources::ResourceType;
use super::schema::Node;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One `managedFields` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    /// `""` for the main resource.
    pub subresource: String,
    pub time: Option<String>,
    pub fields: Set,
}

impl Entry {
    /// Whether `self` and `other` are the same manager: appliers are one manager whatever
    /// version they apply at; updaters are distinct per apiVersion (the API server's manager
    /// identifier leaves out the time, and the apiVersion of appliers).
    fn same_manager(&self, other: &Entry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation == Operation::Apply || self.api_version == other.api_version)
    }

    /// How conflicts name the manager: `"kubectl"`, `"kubectl-client-side-apply" using v1`,
    /// `"flux" with subresource "status" using v1`.
    pub fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == Operation::Update {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }

    /// The order the API server keeps entries in: appliers first, then by time, manager,
    /// apiVersion and subresource.
    fn sort_key(&self) -> (Operation, &str, &str, &str, &str) {
        (
            self.operation,
            self.time.as_deref().unwrap_or(""),
            &self.manager,
            &self.api_version,
            &self.subresource,
        )
    }
}

/// The entries of an object; an object without `managedFields` has none.
pub fn decode(obj: &Value) -> Result<Vec<Entry>, String> {
    let Some(list) = obj.pointer("/metadata/managedFields") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or("metadata.managedFields is not a list")?;
    let mut entries = Vec::with_capacity(list.len());
    for (i, e) in list.iter().enumerate() {
        let operation = match e["operation"].as_str() {
            Some("Apply") => Operation::Apply,
            Some("Update") => Operation::Update,
            other => {
                return Err(format!(
                    "metadata.managedFields[{i}].operation: Invalid value: {:?}: must be `Apply` or `Update`",
                    other.unwrap_or("")
                ));
            }
        };
        let fields = match e.get("fieldsV1") {
            Some(v) => fieldpath::from_fields_v1(v)
                .map_err(|err| format!("metadata.managedFields[{i}].fieldsV1: {err}"))?,
            None => Set::new(),
        };
        let text = |k: &str| e[k].as_str().unwrap_or_default().to_string();
        entries.push(Entry {
            manager: text("manager"),
            operation,
            api_version: text("apiVersion"),
            subresource: text("subresource"),
            time: e["time"].as_str().map(str::to_string),
            fields,
        });
    }
    Ok(entries)
}

/// The `managedFields` list of `entries`, sorted as the API server keeps it; entries that own
/// nothing are dropped.
pub fn encode(entries: &[Entry]) -> Value {
    let mut kept: Vec<&Entry> = entries.iter().filter(|e| !e.fields.is_empty()).collect();
    kept.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    Value::Array(
        kept.into_iter()
            .map(|e| {
                let mut m = Map::new();
                m.insert("apiVersion".into(), json!(e.api_version));
                m.insert("fieldsType".into(), json!("FieldsV1"));
                m.insert("fieldsV1".into(), fieldpath::to_fields_v1(&e.fields));
                m.insert("manager".into(), json!(e.manager));
                m.insert("operation".into(), json!(e.operation.as_str()));
                if !e.subresource.is_empty() {
                    m.insert("subresource".into(), json!(e.subresource));
                }
                if let Some(t) = &e.time {
                    m.insert("time".into(), json!(t));
                }
                Value::Object(m)
            })
            .collect(),
    )
}

/// Paths no manager ever owns: identity and system metadata the API server sets itself.
fn stripped(path: &Path) -> bool {
    const STRIP: &[&[&str]] = &[
        &["apiVersion"],
        &["kind"],
        &["metadata"],
        &["metadata", "name"],
        &["metadata", "namespace"],
        &["metadata", "creationTimestamp"],
        &["metadata", "selfLink"],
        &["metadata", "uid"],
        &["metadata", "generation"],
        &["metadata", "managedFields"],
        &["metadata", "resourceVersion"],
    ];
    STRIP.iter().any(|s| {
        s.len() == path.len()
            && s.iter()
                .zip(path)
                .all(|(n, pe)| *pe == fieldpath::Pe::Field(n.to_string()))
    })
}

fn strip(set: Set) -> Set {
    set.into_iter().filter(|p| !stripped(p)).collect()
}

/// Where a write lands and who makes it.
pub struct Writer<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    /// `""` or `"status"`.
    pub subresource: &'a str,
    /// RFC 3339 time to stamp the manager's entry with when its fields change.
    pub now: &'a str,
}

impl Writer<'_> {
    fn entry(&self, operation: Operation, fields: Set) -> Entry {
        Entry {
            manager: self.manager.to_string(),
            operation,
            api_version: self.api_version.to_string(),
            subresource: self.subresource.to_string(),
            time: Some(self.now.to_string()),
            fields,
        }
    }
}

/// An update (create, PUT, merge/JSON/strategic patch) from `old` to `new`: the writer takes
/// ownership of what it added or changed (others lose it, silently), removed fields leave every
/// manager, and the writer's `Update` entry keeps what it owned before. When the writer changed
/// nothing it holds, its entry (time included) stays as it was.
pub fn update(
    schema: &Node,
    old: &Value,
    new: &Value,
    mut entries: Vec<Entry>,
    w: &Writer,
) -> Vec<Entry> {
    let cmp = fieldpath::compare(schema, old, new);
    let changed = strip(cmp.changed());
    let me = w.entry(Operation::Update, Set::new());
    let previous = entries.iter().find(|e| e.same_manager(&me)).cloned();
    entries.retain(|e| !e.same_manager(&me));
    for e in &mut entries {
        e.fields
            .retain(|p| !changed.contains(p) && !cmp.removed.contains(p));
    }
    match previous {
        Some(mut prev) => {
            prev.fields.retain(|p| !cmp.removed.contains(p));
            if !changed.is_empty() {
                prev.fields.extend(changed);
                prev.time = me.time;
            }
            entries.push(prev);
        }
        None => entries.push(Entry {
            fields: changed,
            ..me
        }),
    }
    entries.retain(|e| !e.fields.is_empty());
    entries
}

/// A field owned by another manager that an apply would change.
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict {
    /// [`Entry::describe`] of the owner.
    pub manager: String,
    /// `.spec.replicas`.
    pub field: String,
}

/// The object and entries after a server-side apply.
#[derive(Debug)]
pub struct Applied {
    pub object: Value,
    pub entries: Vec<Entry>,
}

/// Server-side apply of `config` (nulls already dropped, fields the endpoint resets already
/// removed) onto `live` (`None`: the object is created).
pub fn apply(
    schema: &Node,
    live: Option<&Value>,
    config: &Value,
    mut entries: Vec<Entry>,
    w: &Writer,
    force: bool,
) -> Result<Applied, Vec<Conflict>> {
    let empty = Value::Object(Map::new());
    let old = live.unwrap_or(&empty);
    let me = w.entry(Operation::Apply, Set::new());
    if entries.is_empty()
        && let Some(live) = live
    {
        // An object nobody managed yet: what it holds belongs to `before-first-apply`, so an
        // applier cannot silently take over fields it never set.
        let fields = strip(fieldpath::compare(schema, &Value::Object(Map::new()), live).changed());
        entries.push(Entry {
            manager: "before-first-apply".into(),
            operation: Operation::Update,
            api_version: w.api_version.to_string(),
            subresource: w.subresource.to_string(),
            time: Some(w.now.to_string()),
            fields,
        });
    }
    let config_set = strip(fieldpath::collect(schema, config, Nodes::Leaves));
    let mut merged = old.clone();
    fieldpath::merge(schema, &mut merged, config);

    // Fields this manager applied last time but not now go, unless someone else owns them (or
    // something below them).
    let previous = entries.iter().find(|e| e.same_manager(&me)).cloned();
    if let Some(prev) = &previous {
        let others: Vec<&Entry> = entries.iter().filter(|e| !e.same_manager(&me)).collect();
        for p in prev.fields.difference(&config_set) {
            if !others
                .iter()
                .any(|e| fieldpath::holds_at_or_below(&e.fields, p))
            {
                fieldpath::remove(schema, &mut merged, p);
            }
        }
    }

    let cmp = fieldpath::compare(schema, old, &merged);
    let changed = strip(cmp.changed());
    let mut conflicts = Vec::new();
    for e in entries.iter().filter(|e| !e.same_manager(&me)) {
        for p in e.fields.intersection(&changed) {
            conflicts.push((e.describe(), p.clone()));
        }
    }
    if !force && !conflicts.is_empty() {
        conflicts.sort();
        return Err(conflicts
            .into_iter()
            .map(|(manager, p)| Conflict {
                manager,
                field: fieldpath::path_string(&p),
            })
            .collect());
    }
    for e in &mut entries {
        if !e.same_manager(&me) {
            e.fields
                .retain(|p| !changed.contains(p) && !cmp.removed.contains(p));
        }
    }
    entries.retain(|e| !e.same_manager(&me));
    // The applier's entry is exactly what it sent; its time moves only when that or the object
    // changes, so re-applying the same configuration writes nothing.
    let unchanged = previous.as_ref().is_some_and(|p| p.fields == config_set)
        && cmp.added.is_empty()
        && cmp.removed.is_empty()
        && cmp.modified.is_empty();
    let entry = match previous {
        Some(prev) if unchanged => prev,
        _ => w.entry(Operation::Apply, config_set),
    };
    entries.push(entry);
    entries.retain(|e| !e.fields.is_empty());
    Ok(Applied {
        object: merged,
        entries,
    })
}

/// The message of a 409 from apply: `Apply failed with 1 conflict: conflict with "kubectl":
/// .spec.replicas`, or one line per manager and field when there are several.
pub fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [one] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            one.manager, one.field
        );
    }
    let mut lines = Vec::new();
    let mut managers: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
    managers.sort();
    managers.dedup();
    for m in managers {
        lines.push(format!("conflicts with {m}:"));
        for c in conflicts.iter().filter(|c| c.manager == m) {
            lines.push(format!("- {}", c.field));
        }
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

// ---- managedFields of loaded objects -------------------------------------------------------

/// The controller that writes an object's status (and adds its finalizers), as seen in
/// managedFields of real clusters.
pub fn controller_of(t: &ResourceType) -> &'static str {
    match (t.group.as_str(), t.kind.as_str()) {
        ("source.toolkit.fluxcd.io", _) => "source-controller",
        ("kustomize.toolkit.fluxcd.io", _) => "kustomize-controller",
        ("helm.toolkit.fluxcd.io", _) => "helm-controller",
        ("notification.toolkit.fluxcd.io", _) => "notification-controller",
        ("image.toolkit.fluxcd.io", "ImageUpdateAutomation") => "image-automation-controller",
        ("image.toolkit.fluxcd.io", _) => "image-reflector-controller",
        ("fluxcd.controlplane.io", _) => "flux-operator",
        ("source.extensions.fluxcd.io", _) => "source-watcher",
        ("apiextensions.k8s.io", _) => "kube-apiserver",
        ("", "Pod") => "kubelet",
        ("", "Namespace") => "kube-apiserver",
        _ => "kube-controller-manager",
    }
}

/// Whether `t` is a Flux kind, whose controller (not the applier) adds the finalizers.
pub fn is_flux(t: &ResourceType) -> bool {
    t.group.ends_with(".fluxcd.io")
}

/// What an object looked like before its first write, for the `Update` entry of whoever created
/// it: nothing for custom resources; for built-in types, their struct fields (`spec`, `status`)
/// exist even when empty, so the creator does not own those maps themselves.
pub fn creation_base(t: &ResourceType, obj: &Value) -> Value {
    let mut base = Map::new();
    if t.builtin
        && let Some(m) = obj.as_object()
    {
        for (k, v) in m {
            if v.is_object() {
                base.insert(k.clone(), json!({}));
            }
        }
    }
    Value::Object(base)
}

/// managedFields like a real cluster's for an object loaded from the data: who applied the spec
/// (Flux, Helm, kubectl), the controller's finalizers, and who writes the status subresource.
pub fn synthesize(schema: &Node, t: &ResourceType, obj: &Value, created: &str) -> Value {
    let meta = &obj["metadata"];
    let label = |k: &str| meta["labels"][k].as_str();
    let (manager, operation) = if t.kind == "Event" {
        (
            obj.pointer("/source/component")
                .or_else(|| obj.get("reportingComponent"))
                .and_then(Value::as_str)
                .unwrap_or("kube-controller-manager")
                .to_string(),
            Operation::Update,
        )
    } else if label("kustomize.toolkit.fluxcd.io/name").is_some() {
        ("kustomize-controller".into(), Operation::Apply)
    } else if label("helm.toolkit.fluxcd.io/name").is_some()
        || label("app.kubernetes.io/managed-by") == Some("Helm")
    {
        ("helm-controller".into(), Operation::Update)
    } else if label("app.kubernetes.io/managed-by") == Some("flux-operator") {
        ("flux-operator".into(), Operation::Apply)
    } else if t.kind == "Pod" && meta.get("ownerReferences").is_some() {
        ("kube-controller-manager".into(), Operation::Update)
    } else if meta["annotations"]
        .get("kubectl.kubernetes.io/last-applied-configuration")
        .is_some()
    {
        ("kubectl-client-side-apply".into(), Operation::Update)
    } else {
        ("kubectl-create".into(), Operation::Update)
    };
    let controller_finalizers = is_flux(t) && meta.get("finalizers").is_some();
    let status_sub = t.subresources.iter().any(|s| s == "status");
    // The manifest as its manager wrote it: metadata it sets, and everything but the status
    // (which the status subresource's writer owns when there is one).
    let mut spec_part = Map::new();
    let mut spec_meta = Map::new();
    for k in [
        "name",
        "namespace",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
    ] {
        if k == "finalizers" && controller_finalizers {
            continue;
        }
        if let Some(v) = meta.get(k) {
            spec_meta.insert(k.into(), v.clone());
        }
    }
    spec_part.insert("metadata".into(), Value::Object(spec_meta));
    for (k, v) in obj.as_object().into_iter().flatten() {
        if k != "metadata" && !(k == "status" && status_sub) {
            spec_part.insert(k.clone(), v.clone());
        }
    }
    let spec_part = Value::Object(spec_part);
    let api_version = obj["apiVersion"].as_str().unwrap_or_default();
    let fields = match operation {
        Operation::Apply => strip(fieldpath::collect(schema, &spec_part, Nodes::Leaves)),
        Operation::Update => {
            strip(fieldpath::compare(schema, &creation_base(t, &spec_part), &spec_part).changed())
        }
    };
    let entry = |manager: &str, subresource: &str, time: &str, fields: Set| Entry {
        manager: manager.into(),
        operation: Operation::Update,
        api_version: api_version.into(),
        subresource: subresource.into(),
        time: Some(time.into()),
        fields,
    };
    let mut entries = vec![Entry {
        operation,
        ..entry(&manager, "", created, fields)
    }];
    if controller_finalizers {
        let part = json!({"metadata": {"finalizers": meta["finalizers"]}});
        let fields = strip(fieldpath::compare(schema, &json!({"metadata": {}}), &part).changed());
        entries.push(entry(controller_of(t), "", created, fields));
    }
    if let Some(status) = obj.get("status")
        && status_sub
    {
        let latest = status
            .get("conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c["lastTransitionTime"].as_str())
            .max()
            .unwrap_or(created);
        let part = json!({ "status": status });
        let fields = strip(fieldpath::compare(schema, &json!({}), &part).changed());
        entries.push(entry(controller_of(t), "status", latest, fields));
    }
    encode(&entries)
}

#[cfg(test)]
mod tests {
    // The bench target compiles this module with cfg(test) but without the test harness, which
    // drops the #[test] functions and leaves their imports and helpers unused there.
    #![allow(unused_imports, dead_code)]

    use super::super::schema::builtin;
    use super::*;

    fn w<'a>(manager: &'a str) -> Writer<'a> {
        Writer {
            manager,
            api_version: "v1",
            subresource: "",
            now: "2026-11-21T06:00:00Z",
        }
    }

    fn cm(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"}, "data": data})
    }

    #[test]
    fn apply_creates_then_conflicts_then_forces() {
        let s = builtin("", "ConfigMap");
        let first = apply(
            &s,
            None,
            &cm(json!({"a": "1", "b": "2"})),
            Vec::new(),
            &w("alice"),
            false,
        )
        .unwrap();
        assert_eq!(first.entries.len(), 1);
        let live = first.object;
        let entries = first.entries;
        // Same value from another manager: shared ownership, no conflict.
        let shared = apply(
            &s,
            Some(&live),
            &cm(json!({"a": "1"})),
            entries.clone(),
            &w("bob"),
            false,
        )
        .unwrap();
        assert_eq!(shared.entries.len(), 2);
        // A different value: a conflict naming alice and the field.
        let err = apply(
            &s,
            Some(&live),
            &cm(json!({"a": "9"})),
            entries.clone(),
            &w("bob"),
            false,
        )
        .unwrap_err();
        assert_eq!(
            err,
            [Conflict {
                manager: "\"alice\"".into(),
                field: ".data.a".into()
            }]
        );
        assert_eq!(
            conflict_message(&err),
            "Apply failed with 1 conflict: conflict with \"alice\": .data.a"
        );
        let forced = apply(
            &s,
            Some(&live),
            &cm(json!({"a": "9"})),
            entries,
            &w("bob"),
            true,
        )
        .unwrap();
        assert_eq!(forced.object["data"]["a"], "9");
        let alice = forced
            .entries
            .iter()
            .find(|e| e.manager == "alice")
            .unwrap();
        assert!(!alice.fields.contains(&fieldpath::fields(&["data", "a"])));
        assert!(alice.fields.contains(&fieldpath::fields(&["data", "b"])));
    }

    #[test]
    fn dropped_fields_go_unless_someone_else_owns_them() {
        let s = builtin("", "ConfigMap");
        let a = apply(
            &s,
            None,
            &cm(json!({"a": "1", "b": "2", "c": "3"})),
            Vec::new(),
            &w("alice"),
            false,
        )
        .unwrap();
        let b = apply(
            &s,
            Some(&a.object),
            &cm(json!({"b": "2"})),
            a.entries,
            &w("bob"),
            false,
        )
        .unwrap();
        let again = apply(
            &s,
            Some(&b.object),
            &cm(json!({"a": "1"})),
            b.entries,
            &w("alice"),
            false,
        )
        .unwrap();
        assert_eq!(again.object["data"], json!({"a": "1", "b": "2"}));
    }

    #[test]
    fn reapplying_the_same_config_changes_nothing() {
        let s = builtin("", "ConfigMap");
        let a = apply(
            &s,
            None,
            &cm(json!({"a": "1"})),
            Vec::new(),
            &w("alice"),
            false,
        )
        .unwrap();
        let mut later = w("alice");
        later.now = "2027-01-01T00:00:00Z";
        let b = apply(
            &s,
            Some(&a.object),
            &cm(json!({"a": "1"})),
            a.entries.clone(),
            &later,
            false,
        )
        .unwrap();
        assert_eq!(b.object, a.object);
        assert_eq!(b.entries, a.entries);
    }

    #[test]
    fn updates_take_ownership_and_record_new_maps() {
        let s = builtin("", "ConfigMap");
        let a = apply(
            &s,
            None,
            &cm(json!({"a": "1"})),
            Vec::new(),
            &w("alice"),
            false,
        )
        .unwrap();
        let mut new = a.object.clone();
        new["data"]["a"] = json!("2");
        new["metadata"]["labels"] = json!({"x": "y"});
        let entries = update(&s, &a.object, &new, a.entries, &w("kubectl-patch"));
        let patcher = entries
            .iter()
            .find(|e| e.manager == "kubectl-patch")
            .unwrap();
        let v1 = fieldpath::to_fields_v1(&patcher.fields);
        assert_eq!(
            v1,
            json!({"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {".": {}, "f:x": {}}}})
        );
        // alice lost .data.a and, owning nothing else, is gone.
        assert!(entries.iter().all(|e| e.manager != "alice"));
        // A no-op update leaves the entries as they were.
        assert_eq!(
            update(&s, &new, &new, entries.clone(), &w("other")),
            entries
        );
    }

    #[test]
    fn an_object_nobody_managed_is_owned_before_the_first_apply() {
        let s = builtin("", "ConfigMap");
        let live = cm(json!({"a": "1"}));
        let err = apply(
            &s,
            Some(&live),
            &cm(json!({"a": "2"})),
            Vec::new(),
            &w("alice"),
            false,
        )
        .unwrap_err();
        assert_eq!(err[0].manager, "\"before-first-apply\" using v1");
        assert_eq!(err[0].field, ".data.a");
        let same = apply(
            &s,
            Some(&live),
            &cm(json!({"a": "1"})),
            Vec::new(),
            &w("alice"),
            false,
        )
        .unwrap();
        assert!(
            same.entries
                .iter()
                .any(|e| e.manager == "before-first-apply")
        );
    }

    #[test]
    fn entries_round_trip_sorted() {
        let s = builtin("", "ConfigMap");
        let a = apply(
            &s,
            None,
            &cm(json!({"a": "1"})),
            Vec::new(),
            &w("z-applier"),
            false,
        )
        .unwrap();
        let mut new = a.object.clone();
        new["data"]["b"] = json!("2");
        let entries = update(&s, &a.object, &new, a.entries, &w("a-updater"));
        let encoded = encode(&entries);
        assert_eq!(encoded[0]["operation"], "Apply");
        assert_eq!(encoded[1]["manager"], "a-updater");
        let mut obj = new;
        obj["metadata"]["managedFields"] = encoded;
        assert_eq!(decode(&obj).unwrap(), {
            let mut e = entries;
            e.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
            e
        });
    }
}
