//! Field paths and field sets, the model server-side apply tracks ownership in
//! (sigs.k8s.io/structured-merge-diff): path elements, the set of paths a value holds (its owned
//! leaves, or all its nodes), comparing two values, merging an applied configuration into an
//! object, the `fieldsV1` encoding of `metadata.managedFields` (`f:name`, `k:{"name":"x"}`,
//! `v:"value"`, `i:0`, `.` for a node that is itself a member), and the
//! `.spec.containers[name="x"].image` form the API server reports conflicts in.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::schema::{KeyField, ListKind, Node};

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pe {
    /// A field of a map.
    Field(String),
    /// An item of an associative list: its key fields (sorted by name) and their values as
    /// compact JSON.
    Key(Vec<(String, String)>),
    /// An item of a set, as compact JSON.
    Value(String),
    /// A list item by position (only in fieldsV1 written by others).
    Index(usize),
}

pub type Path = Vec<Pe>;
pub type Set = BTreeSet<Path>;

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Which nodes of a value a set holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nodes {
    /// What an applier owns by sending the value: scalars, atomic values and list items, not the
    /// maps that merely hold them (structured-merge-diff's `ToFieldSet`).
    Leaves,
    /// Every node, maps included: what a comparison sees added or removed.
    All,
}

/// The key of an associative-list item, or `None` when it is not an object or lacks a key field
/// that has no default.
fn item_key(keys: &[KeyField], item: &Value) -> Option<Pe> {
    let obj = item.as_object()?;
    let mut kv = Vec::with_capacity(keys.len());
    for k in keys {
        let v = obj.get(&k.name).or(k.default.as_ref())?;
        kv.push((k.name.clone(), compact(v)));
    }
    kv.sort();
    Some(Pe::Key(kv))
}

/// The keys of every item, when the list really is associative for this value (every item has
/// its key); otherwise it is handled as atomic.
fn item_keys(keys: &[KeyField], items: &[Value]) -> Option<Vec<Pe>> {
    items.iter().map(|i| item_key(keys, i)).collect()
}

/// The paths of `value` (an object) under `schema`.
pub fn collect(schema: &Node, value: &Value, nodes: Nodes) -> Set {
    let mut out = Set::new();
    walk(schema, value, &mut Vec::new(), nodes, &mut out);
    out
}

fn walk(schema: &Node, value: &Value, path: &mut Path, nodes: Nodes, out: &mut Set) {
    let member = |path: &Path, out: &mut Set| {
        if !path.is_empty() {
            out.insert(path.clone());
        }
    };
    match (schema, value) {
        (Node::Map { .. } | Node::Deduced, Value::Object(m)) => {
            if nodes == Nodes::All {
                member(path, out);
            }
            for (k, v) in m {
                path.push(Pe::Field(k.clone()));
                walk(schema.field(k), v, path, nodes, out);
                path.pop();
            }
        }
        (
            Node::List {
                kind: ListKind::Set,
                ..
            },
            Value::Array(items),
        ) => {
            if nodes == Nodes::All {
                member(path, out);
            }
            for item in items {
                path.push(Pe::Value(compact(item)));
                member(path, out);
                path.pop();
            }
        }
        (
            Node::List {
                kind: ListKind::Map(keys),
                item: item_schema,
                ..
            },
            Value::Array(items),
        ) => match item_keys(keys, items) {
            Some(pes) => {
                if nodes == Nodes::All {
                    member(path, out);
                }
                for (pe, item) in pes.into_iter().zip(items) {
                    path.push(pe);
                    member(path, out);
                    walk(item_schema, item, path, nodes, out);
                    path.pop();
                }
            }
            None => member(path, out),
        },
        _ => member(path, out),
    }
}

/// The value at `path` in `value`.
pub fn get<'a>(schema: &Node, value: &'a Value, path: &[Pe]) -> Option<&'a Value> {
    let Some((first, rest)) = path.split_first() else {
        return Some(value);
    };
    match first {
        Pe::Field(name) => get(schema.field(name), value.as_object()?.get(name)?, rest),
        Pe::Key(_) => {
            let keys = schema.keys()?;
            let found = value
                .as_array()?
                .iter()
                .find(|i| item_key(keys, i).as_ref() == Some(first))?;
            get(schema.item(), found, rest)
        }
        Pe::Value(v) => {
            let found = value.as_array()?.iter().find(|i| compact(i) == *v)?;
            get(schema.item(), found, rest)
        }
        Pe::Index(i) => get(schema.item(), value.as_array()?.get(*i)?, rest),
    }
}

fn get_mut<'a>(schema: &Node, value: &'a mut Value, path: &[Pe]) -> Option<&'a mut Value> {
    let Some((first, rest)) = path.split_first() else {
        return Some(value);
    };
    match first {
        Pe::Field(name) => get_mut(
            schema.field(name),
            value.as_object_mut()?.get_mut(name)?,
            rest,
        ),
        Pe::Key(_) => {
            let keys = schema.keys()?;
            let found = value
                .as_array_mut()?
                .iter_mut()
                .find(|i| item_key(keys, i).as_ref() == Some(first))?;
            get_mut(schema.item(), found, rest)
        }
        Pe::Value(v) => {
            let found = value
                .as_array_mut()?
                .iter_mut()
                .find(|i| compact(i) == *v)?;
            get_mut(schema.item(), found, rest)
        }
        Pe::Index(i) => get_mut(schema.item(), value.as_array_mut()?.get_mut(*i)?, rest),
    }
}

/// The schema of the node at `path`.
fn schema_at<'a>(schema: &'a Node, path: &[Pe]) -> &'a Node {
    path.iter().fold(schema, |s, pe| match pe {
        Pe::Field(name) => s.field(name),
        _ => s.item(),
    })
}

/// Remove the value at `path`; maps the removal leaves empty go too (an object that held only
/// what was removed is no longer there, as with typed objects). Returns whether anything was
/// removed.
pub fn remove(schema: &Node, value: &mut Value, path: &[Pe]) -> bool {
    let Some((last, parent_path)) = path.split_last() else {
        return false;
    };
    let parent_schema = schema_at(schema, parent_path);
    let Some(parent) = get_mut(schema, value, parent_path) else {
        return false;
    };
    let removed = match (last, parent) {
        (Pe::Field(name), Value::Object(m)) => m.remove(name).is_some(),
        (Pe::Key(_), Value::Array(items)) => match parent_schema.keys() {
            Some(keys) => {
                let before = items.len();
                items.retain(|i| item_key(keys, i).as_ref() != Some(last));
                items.len() != before
            }
            None => false,
        },
        (Pe::Value(v), Value::Array(items)) => {
            let before = items.len();
            items.retain(|i| compact(i) != *v);
            items.len() != before
        }
        (Pe::Index(i), Value::Array(items)) if *i < items.len() => {
            items.remove(*i);
            true
        }
        _ => false,
    };
    if removed
        && parent_path.len() > 1
        && matches!(parent_path.last(), Some(Pe::Field(_)))
        && get(schema, value, parent_path).is_some_and(|p| p.as_object().is_some_and(Map::is_empty))
    {
        remove(schema, value, parent_path);
    }
    removed
}

/// What changed from `old` to `new`: nodes added, nodes removed, and leaves whose value differs.
pub struct Comparison {
    pub added: Set,
    pub removed: Set,
    pub modified: Set,
}

impl Comparison {
    /// Added or modified: what an update takes ownership of, and what an apply conflicts on.
    pub fn changed(&self) -> Set {
        self.added.union(&self.modified).cloned().collect()
    }
}

pub fn compare(schema: &Node, old: &Value, new: &Value) -> Comparison {
    let all_old = collect(schema, old, Nodes::All);
    let all_new = collect(schema, new, Nodes::All);
    let mut leaves = collect(schema, old, Nodes::Leaves);
    leaves.extend(collect(schema, new, Nodes::Leaves));
    let modified = leaves
        .into_iter()
        .filter(|p| all_old.contains(p) && all_new.contains(p))
        // A list item present on both sides is compared through its fields.
        .filter(|p| !matches!(p.last(), Some(Pe::Key(_) | Pe::Value(_))))
        .filter(|p| get(schema, old, p) != get(schema, new, p))
        .collect();
    Comparison {
        added: all_new.difference(&all_old).cloned().collect(),
        removed: all_old.difference(&all_new).cloned().collect(),
        modified,
    }
}

/// Merge an applied configuration into an object: maps field by field, associative lists item by
/// item (live order kept, new items appended), sets by value, anything atomic replaced.
pub fn merge(schema: &Node, live: &mut Value, config: &Value) {
    match (schema, &mut *live, config) {
        (Node::Map { .. } | Node::Deduced, Value::Object(l), Value::Object(c)) => {
            for (k, v) in c {
                match l.get_mut(k) {
                    Some(lv) => merge(schema.field(k), lv, v),
                    None => {
                        l.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (
            Node::List {
                kind: ListKind::Set,
                ..
            },
            Value::Array(l),
            Value::Array(c),
        ) => {
            for v in c {
                if !l.contains(v) {
                    l.push(v.clone());
                }
            }
        }
        (
            Node::List {
                kind: ListKind::Map(keys),
                item,
                ..
            },
            Value::Array(l),
            Value::Array(c),
        ) if item_keys(keys, l).is_some() && item_keys(keys, c).is_some() => {
            for ci in c {
                let key = item_key(keys, ci);
                match l.iter_mut().find(|li| item_key(keys, li) == key) {
                    Some(li) => merge(item, li, ci),
                    None => l.push(ci.clone()),
                }
            }
        }
        _ => *live = config.clone(),
    }
}

/// `metadata.managedFields[].fieldsV1` of a set.
pub fn to_fields_v1(set: &Set) -> Value {
    #[derive(Default)]
    struct Trie {
        member: bool,
        children: std::collections::BTreeMap<String, Trie>,
    }
    let mut root = Trie::default();
    for path in set {
        let mut node = &mut root;
        for pe in path {
            node = node.children.entry(encode_pe(pe)).or_default();
        }
        node.member = true;
    }
    fn emit(t: &Trie) -> Value {
        let mut m = Map::new();
        if t.member && !t.children.is_empty() {
            m.insert(".".into(), Value::Object(Map::new()));
        }
        for (k, c) in &t.children {
            m.insert(k.clone(), emit(c));
        }
        Value::Object(m)
    }
    emit(&root)
}

fn encode_pe(pe: &Pe) -> String {
    match pe {
        Pe::Field(n) => format!("f:{n}"),
        Pe::Key(kv) => {
            let body: Vec<String> = kv
                .iter()
                .map(|(k, v)| format!("{}:{v}", compact(&Value::String(k.clone()))))
                .collect();
            format!("k:{{{}}}", body.join(","))
        }
        Pe::Value(v) => format!("v:{v}"),
        Pe::Index(i) => format!("i:{i}"),
    }
}

fn decode_pe(s: &str) -> Result<Pe, String> {
    let bad = || format!("invalid path element {s:?}");
    let (prefix, rest) = s.split_once(':').ok_or_else(bad)?;
    match prefix {
        "f" => Ok(Pe::Field(rest.to_string())),
        "v" => {
            let v: Value = serde_json::from_str(rest).map_err(|_| bad())?;
            Ok(Pe::Value(compact(&v)))
        }
        "k" => {
            let v: Value = serde_json::from_str(rest).map_err(|_| bad())?;
            let obj = v.as_object().ok_or_else(bad)?;
            let mut kv: Vec<(String, String)> =
                obj.iter().map(|(k, v)| (k.clone(), compact(v))).collect();
            kv.sort();
            Ok(Pe::Key(kv))
        }
        "i" => rest.parse().map(Pe::Index).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// The set a `fieldsV1` object describes.
pub fn from_fields_v1(v: &Value) -> Result<Set, String> {
    fn parse(node: &Map<String, Value>, path: &mut Path, out: &mut Set) -> Result<(), String> {
        for (k, child) in node {
            if k == "." {
                if !path.is_empty() {
                    out.insert(path.clone());
                }
                continue;
            }
            path.push(decode_pe(k)?);
            let m = child
                .as_object()
                .ok_or_else(|| format!("{k}: not an object"))?;
            if m.is_empty() {
                out.insert(path.clone());
            } else {
                parse(m, path, out)?;
            }
            path.pop();
        }
        Ok(())
    }
    let mut out = Set::new();
    let m = v.as_object().ok_or("fieldsV1 is not an object")?;
    parse(m, &mut Vec::new(), &mut out)?;
    Ok(out)
}

/// `.spec.containers[name="app"].image`, `.metadata.finalizers[="x"]`, `.spec.ports[port=80,protocol="TCP"]`.
pub fn path_string(path: &[Pe]) -> String {
    let mut s = String::new();
    for pe in path {
        match pe {
            Pe::Field(n) => {
                s.push('.');
                s.push_str(n);
            }
            Pe::Key(kv) => {
                let parts: Vec<String> = kv.iter().map(|(k, v)| format!("{k}={v}")).collect();
                s.push_str(&format!("[{}]", parts.join(",")));
            }
            Pe::Value(v) => s.push_str(&format!("[={v}]")),
            Pe::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Whether `set` holds `path` or anything below it.
pub fn holds_at_or_below(set: &Set, path: &Path) -> bool {
    set.range(path.clone()..)
        .next()
        .is_some_and(|p| p.starts_with(path))
}

/// A path from field names (for fixed paths such as `.metadata.name`).
pub fn fields(names: &[&str]) -> Path {
    names.iter().map(|n| Pe::Field(n.to_string())).collect()
}

#[cfg(test)]
mod tests {
    // The bench target compiles this module with cfg(test) but without the test harness, which
    // drops the #[test] functions and leaves their imports and helpers unused there.
    #![allow(unused_imports, dead_code)]

    use super::super::schema::builtin;
    use super::*;
    use serde_json::json;

    fn deploy() -> Value {
        json!({
            "metadata": {"name": "web", "labels": {"app": "web"}, "finalizers": ["a"]},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [
                    {"name": "app", "image": "app:1", "ports": [{"containerPort": 80}]},
                    {"name": "side", "image": "side:1", "args": ["-v"]}
                ]}}
            }
        })
    }

    #[test]
    fn leaves_are_what_an_applier_owns() {
        let s = builtin("apps", "Deployment");
        let set = collect(&s, &deploy(), Nodes::Leaves);
        let strings: Vec<String> = set.iter().map(|p| path_string(p)).collect();
        assert_eq!(
            strings,
            [
                ".metadata.finalizers[=\"a\"]",
                ".metadata.labels.app",
                ".metadata.name",
                ".spec.replicas",
                ".spec.selector",
                ".spec.template.spec.containers[name=\"app\"]",
                ".spec.template.spec.containers[name=\"app\"].image",
                ".spec.template.spec.containers[name=\"app\"].name",
                ".spec.template.spec.containers[name=\"app\"].ports[containerPort=80,protocol=\"TCP\"]",
                ".spec.template.spec.containers[name=\"app\"].ports[containerPort=80,protocol=\"TCP\"].containerPort",
                ".spec.template.spec.containers[name=\"side\"]",
                ".spec.template.spec.containers[name=\"side\"].args",
                ".spec.template.spec.containers[name=\"side\"].image",
                ".spec.template.spec.containers[name=\"side\"].name",
            ]
        );
        // All nodes add the maps and lists that hold them.
        let all = collect(&s, &deploy(), Nodes::All);
        assert!(all.contains(&fields(&["spec", "template"])));
        assert!(!set.contains(&fields(&["spec", "template"])));
    }

    #[test]
    fn fields_v1_round_trips_in_the_real_format() {
        let s = builtin("apps", "Deployment");
        let set = collect(&s, &deploy(), Nodes::Leaves);
        let v1 = to_fields_v1(&set);
        assert_eq!(
            v1["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"]["."],
            json!({})
        );
        assert_eq!(
            v1["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"]["f:ports"]
                ["k:{\"containerPort\":80,\"protocol\":\"TCP\"}"]["f:containerPort"],
            json!({})
        );
        assert_eq!(v1["f:metadata"]["f:finalizers"]["v:\"a\""], json!({}));
        assert_eq!(v1["f:spec"]["f:selector"], json!({}));
        assert_eq!(from_fields_v1(&v1).unwrap(), set);
        assert!(from_fields_v1(&json!({"x:y": {}})).is_err());
    }

    #[test]
    fn compare_sees_added_removed_and_modified_leaves() {
        let s = builtin("apps", "Deployment");
        let old = deploy();
        let mut new = deploy();
        new["spec"]["replicas"] = json!(3);
        new["spec"]["template"]["spec"]["containers"][1] = json!({"name": "extra", "image": "x"});
        new["metadata"]["annotations"] = json!({"a": "b"});
        let c = compare(&s, &old, &new);
        let names = |set: &Set| set.iter().map(|p| path_string(p)).collect::<Vec<_>>();
        assert_eq!(names(&c.modified), [".spec.replicas"]);
        assert!(names(&c.added).contains(&".metadata.annotations".to_string()));
        assert!(
            names(&c.added)
                .contains(&".spec.template.spec.containers[name=\"extra\"].image".to_string())
        );
        assert!(
            names(&c.removed)
                .contains(&".spec.template.spec.containers[name=\"side\"]".to_string())
        );
    }

    #[test]
    fn merge_by_key_and_remove_with_empty_parents() {
        let s = builtin("apps", "Deployment");
        let mut live = deploy();
        merge(
            &s,
            &mut live,
            &json!({"metadata": {"finalizers": ["b", "a"]}, "spec": {"template": {"spec": {"containers": [
                {"name": "side", "image": "side:2"}, {"name": "new", "image": "n"}]}}}}),
        );
        let c = &live["spec"]["template"]["spec"]["containers"];
        assert_eq!(c[0]["image"], "app:1");
        assert_eq!(c[1]["image"], "side:2");
        assert_eq!(c[1]["args"], json!(["-v"]));
        assert_eq!(c[2]["name"], "new");
        assert_eq!(live["metadata"]["finalizers"], json!(["a", "b"]));
        let p = vec![
            Pe::Field("metadata".into()),
            Pe::Field("labels".into()),
            Pe::Field("app".into()),
        ];
        assert!(remove(&s, &mut live, &p));
        assert!(live["metadata"].get("labels").is_none(), "{live}");
        assert!(!remove(&s, &mut live, &p));
    }
}
