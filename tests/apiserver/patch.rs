//! The patch formats the test server applies: JSON merge patch (RFC 7386), JSON patch (RFC 6902,
//! all six operations, applied atomically), and strategic merge patch for built-in types (lists
//! merged by their `patchMergeKey`, set-like scalar lists unioned, the `$patch`, `$retainKeys`,
//! `$deleteFromPrimitiveList` and `$setElementOrder` directives). Server-side apply lives in
//! `managed_fields.rs`.

use serde_json::{Map, Value};

use super::schema::{Node, Smp};

/// RFC 7386: objects merge recursively, `null` deletes, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in patch {
            if v.is_null() {
                t.remove(k);
            } else {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// Why a JSON patch was refused; the API server answers the first with 400 and the second with
/// 422.
#[derive(Debug, PartialEq)]
pub enum JsonPatchError {
    /// The body is not a list of operations (what decoding the patch reports).
    Decode(String),
    /// An operation does not apply to the object (a failed `test` among them).
    Apply(String),
}

fn unescape_token(t: &str) -> String {
    t.replace("~1", "/").replace("~0", "~")
}

/// Split a JSON pointer into its parent pointer and last token.
fn parent_and_last(path: &str) -> Result<(String, String), String> {
    if !path.starts_with('/') {
        return Err(format!("invalid JSON pointer {path:?}"));
    }
    let idx = path.rfind('/').unwrap_or(0);
    Ok((path[..idx].to_string(), unescape_token(&path[idx + 1..])))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, last) = parent_and_last(path)?;
    match doc.pointer_mut(&parent) {
        Some(Value::Object(m)) => {
            m.insert(last, value);
            Ok(())
        }
        Some(Value::Array(a)) => {
            let i = if last == "-" {
                a.len()
            } else {
                last.parse::<usize>()
                    .ok()
                    .filter(|i| *i <= a.len())
                    .ok_or_else(|| {
                        format!(
                            "add operation does not apply: index {last:?} out of range in {path:?}"
                        )
                    })?
            };
            a.insert(i, value);
            Ok(())
        }
        _ => Err(format!(
            "add operation does not apply: doc is missing path: {path:?}"
        )),
    }
}

fn remove(doc: &mut Value, path: &str, op: &str) -> Result<Value, String> {
    let (parent, last) = parent_and_last(path)?;
    match doc.pointer_mut(&parent) {
        Some(Value::Object(m)) => m.remove(&last).ok_or_else(|| {
            format!("{op} operation does not apply: doc is missing key: {path}: missing value")
        }),
        Some(Value::Array(a)) => {
            let i = last
                .parse::<usize>()
                .ok()
                .filter(|i| *i < a.len())
                .ok_or_else(|| {
                    format!(
                        "{op} operation does not apply: index {last:?} out of range in {path:?}"
                    )
                })?;
            Ok(a.remove(i))
        }
        _ => Err(format!(
            "{op} operation does not apply: doc is missing path: {path:?}"
        )),
    }
}

/// RFC 6902: add, remove, replace, move, copy, test. All or nothing: `doc` is only changed when
/// every operation applies.
pub fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), JsonPatchError> {
    let ops = match ops {
        Value::Array(ops) => ops,
        other => {
            let what = match other {
                Value::Object(_) => "object",
                Value::String(_) => "string",
                Value::Number(_) => "number",
                Value::Bool(_) => "bool",
                _ => "null",
            };
            return Err(JsonPatchError::Decode(format!(
                "json: cannot unmarshal {what} into Go value of type jsonpatch.Patch"
            )));
        }
    };
    if ops.iter().any(|o| !o.is_object()) {
        return Err(JsonPatchError::Decode(
            "json: cannot unmarshal non-object into Go value of type jsonpatch.Operation".into(),
        ));
    }
    let mut work = doc.clone();
    for op in ops {
        apply_op(&mut work, op).map_err(JsonPatchError::Apply)?;
    }
    *doc = work;
    Ok(())
}

fn apply_op(doc: &mut Value, op: &Value) -> Result<(), String> {
    let kind = op["op"].as_str().unwrap_or("unknown");
    let path = op["path"]
        .as_str()
        .ok_or_else(|| format!("{kind} operation missing path field"))?;
    let value = || {
        op.get("value")
            .cloned()
            .ok_or_else(|| format!("{kind} operation missing value field"))
    };
    match kind {
        "add" => add(doc, path, value()?),
        "remove" => remove(doc, path, "remove").map(drop),
        "replace" => {
            remove(doc, path, "replace")?;
            add(doc, path, value()?)
        }
        "move" | "copy" => {
            let from = op["from"]
                .as_str()
                .ok_or_else(|| format!("{kind} operation missing from field"))?;
            let moved = if kind == "move" {
                remove(doc, from, "move")?
            } else {
                doc.pointer(from).cloned().ok_or_else(|| {
                    format!("copy operation does not apply: doc is missing from path: {from:?}")
                })?
            };
            add(doc, path, moved)
        }
        "test" => {
            let want = value()?;
            if doc.pointer(path) == Some(&want) || (want.is_null() && doc.pointer(path).is_none()) {
                Ok(())
            } else {
                Err(format!("testing value {path} failed: test failed"))
            }
        }
        other => Err(format!("Unexpected kind: {other}")),
    }
}

// ---- strategic merge patch -----------------------------------------------------------------

/// Why a strategic merge patch was refused, with the status class the API server answers.
#[derive(Debug, PartialEq)]
pub enum SmpError {
    /// 400: the patch is malformed.
    BadRequest(String),
    /// 500: what the API server reports for a list item without its merge key (an error it
    /// does not classify).
    Internal(String),
}

/// Go's `%v` of a map, the way strategic-merge-patch errors quote one.
fn go_map(m: &Map<String, Value>) -> String {
    let parts: Vec<String> = m
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}:{s}"),
            Value::Object(o) => format!("{k}:{}", go_map(o)),
            other => format!("{k}:{other}"),
        })
        .collect();
    format!("map[{}]", parts.join(" "))
}

/// A patch value stored as is (no live value to merge with): its directives go, list items
/// marked for deletion are dropped.
fn clean(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), clean(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .filter(|i| i.get("$patch").and_then(Value::as_str) != Some("delete"))
                .filter(|i| {
                    !(i.get("$patch").is_some() && i.as_object().is_some_and(|m| m.len() == 1))
                })
                .map(clean)
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Strategic merge patch of a built-in object.
pub fn strategic(schema: &Node, target: &mut Value, patch: &Value) -> Result<(), SmpError> {
    let Value::Object(p) = patch else {
        return Err(SmpError::BadRequest(
            "json: cannot unmarshal array into Go value of type map[string]interface {}".into(),
        ));
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target
        && merge_map(schema, t, p)?
    {
        *target = Value::Object(Map::new());
    }
    Ok(())
}

/// Merge `patch` into the map `target`; `Ok(true)` when the patch deletes the map itself.
fn merge_map(
    schema: &Node,
    target: &mut Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<bool, SmpError> {
    match patch.get("$patch").map(|v| v.as_str().unwrap_or("")) {
        Some("replace") => {
            *target = match clean(&Value::Object(patch.clone())) {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            return Ok(false);
        }
        Some("delete") => return Ok(true),
        Some("merge") | None => {}
        Some(other) => {
            return Err(SmpError::BadRequest(format!(
                "Unknown patch type: {other} in map: {}",
                go_map(patch)
            )));
        }
    }
    let retain = match patch.get("$retainKeys") {
        None => None,
        Some(Value::Array(keys)) if keys.iter().all(Value::is_string) => Some(
            keys.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect::<Vec<_>>(),
        ),
        Some(_) => {
            return Err(SmpError::BadRequest(
                "invalid patch: $retainKeys must be a list of strings".into(),
            ));
        }
    };
    let mut orders = Vec::new();
    for (k, v) in patch {
        if k == "$patch" || k == "$retainKeys" {
            continue;
        }
        if let Some(field) = k.strip_prefix("$setElementOrder/") {
            orders.push((field.to_string(), v.clone()));
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            let drop: Vec<Value> = v.as_array().cloned().unwrap_or_default();
            if let Some(Value::Array(list)) = target.get_mut(field) {
                list.retain(|x| !drop.contains(x));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        let child = schema.field(k);
        match v {
            Value::Null => {
                target.remove(k);
            }
            Value::Object(pm) => match target.get_mut(k) {
                Some(Value::Object(tm)) => {
                    if merge_map(child, tm, pm)? {
                        target.remove(k);
                    }
                }
                _ if pm.get("$patch").and_then(Value::as_str) == Some("delete") => {
                    target.remove(k);
                }
                _ => {
                    target.insert(k.clone(), clean(v));
                }
            },
            Value::Array(items) => match child {
                Node::List {
                    smp:
                        Smp {
                            merge: true,
                            merge_key: Some(key),
                        },
                    item,
                    ..
                } => {
                    let entry = target.entry(k.clone()).or_insert(Value::Array(Vec::new()));
                    if !entry.is_array() {
                        *entry = Value::Array(Vec::new());
                    }
                    if let Value::Array(list) = entry {
                        merge_keyed(item, list, items, key)?;
                    }
                }
                Node::List {
                    smp:
                        Smp {
                            merge: true,
                            merge_key: None,
                        },
                    ..
                } => {
                    let entry = target.entry(k.clone()).or_insert(Value::Array(Vec::new()));
                    if let Value::Array(list) = entry {
                        for x in items {
                            if !list.contains(x) {
                                list.push(x.clone());
                            }
                        }
                    } else {
                        *entry = clean(v);
                    }
                }
                _ => {
                    target.insert(k.clone(), clean(v));
                }
            },
            scalar => {
                target.insert(k.clone(), scalar.clone());
            }
        }
    }
    for (field, order) in orders {
        if let (Some(Value::Array(list)), Some(order)) = (target.get_mut(&field), order.as_array())
        {
            let key = match schema.field(&field) {
                Node::List {
                    smp: Smp {
                        merge_key: Some(k), ..
                    },
                    ..
                } => Some(k.clone()),
                _ => None,
            };
            let rank = |item: &Value| {
                order
                    .iter()
                    .position(|o| match &key {
                        Some(k) => o.get(k).is_some() && o.get(k) == item.get(k),
                        None => o == item,
                    })
                    .unwrap_or(usize::MAX)
            };
            list.sort_by_key(rank);
        }
    }
    if let Some(keep) = retain {
        target.retain(|k, _| keep.iter().any(|r| r == k));
    }
    Ok(false)
}

/// Merge a list of objects by `key`: matching items merge, `$patch: delete` items remove theirs,
/// new items are appended; a `{"$patch": "replace"}` element replaces the list with the others.
fn merge_keyed(
    item_schema: &Node,
    target: &mut Vec<Value>,
    patch: &[Value],
    key: &str,
) -> Result<(), SmpError> {
    let is_replace = |v: &Value| {
        v.get("$patch").and_then(Value::as_str) == Some("replace")
            && v.as_object().is_some_and(|m| m.len() == 1)
    };
    if patch.iter().any(is_replace) {
        *target = patch.iter().filter(|v| !is_replace(v)).map(clean).collect();
        return Ok(());
    }
    for p in patch {
        let Value::Object(pm) = p else {
            return Err(SmpError::BadRequest(format!(
                "unable to merge {p} into a list of objects keyed by {key}"
            )));
        };
        let Some(kv) = pm.get(key) else {
            return Err(SmpError::Internal(format!(
                "map: {} does not contain declared merge key: {key}",
                go_map(pm)
            )));
        };
        if pm.get("$patch").and_then(Value::as_str) == Some("delete") {
            target.retain(|t| t.get(key) != Some(kv));
            continue;
        }
        match target.iter_mut().position(|t| t.get(key) == Some(kv)) {
            Some(i) => {
                let delete = match &mut target[i] {
                    Value::Object(tm) => merge_map(item_schema, tm, pm)?,
                    other => {
                        *other = clean(p);
                        false
                    }
                };
                if delete {
                    target.remove(i);
                }
            }
            None => target.push(clean(p)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    // The bench target compiles this module with cfg(test) but without the test harness, which
    // drops the #[test] functions and leaves their imports and helpers unused there.
    #![allow(unused_imports, dead_code)]

    use super::super::schema::builtin;
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386() {
        let mut doc = json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        merge(&mut doc, &json!({"a": {"b": null, "d": 3}, "l": [3]}));
        assert_eq!(doc, json!({"a": {"c": 2, "d": 3}, "l": [3]}));
    }

    #[test]
    fn json_patch_rfc6902() {
        let mut doc = json!({"metadata": {"annotations": {"x": "1"}}, "spec": {"l": [1, 2]}});
        json_patch(
            &mut doc,
            &json!([
                {"op": "add", "path": "/metadata/annotations/a~1b", "value": "v"},
                {"op": "replace", "path": "/spec/l/0", "value": 9},
                {"op": "remove", "path": "/metadata/annotations/x"},
                {"op": "add", "path": "/spec/l/-", "value": 3},
                {"op": "test", "path": "/spec/l/1", "value": 2},
                {"op": "copy", "from": "/spec/l", "path": "/spec/m"},
                {"op": "move", "from": "/spec/m", "path": "/spec/n"},
            ]),
        )
        .unwrap();
        assert_eq!(
            doc,
            json!({"metadata": {"annotations": {"a/b": "v"}}, "spec": {"l": [9, 2, 3], "n": [9, 2, 3]}})
        );
    }

    #[test]
    fn json_patch_is_all_or_nothing() {
        let before = json!({"spec": {"a": 1}});
        let mut doc = before.clone();
        let err = json_patch(
            &mut doc,
            &json!([
                {"op": "replace", "path": "/spec/a", "value": 2},
                {"op": "test", "path": "/spec/a", "value": 1},
            ]),
        )
        .unwrap_err();
        assert_eq!(
            err,
            JsonPatchError::Apply("testing value /spec/a failed: test failed".into())
        );
        assert_eq!(doc, before);
        assert!(matches!(
            json_patch(&mut doc, &json!([{"op": "remove", "path": "/nope"}])),
            Err(JsonPatchError::Apply(_))
        ));
        assert!(matches!(
            json_patch(&mut doc, &json!({"op": "remove"})),
            Err(JsonPatchError::Decode(_))
        ));
    }

    fn deployment() -> Value {
        json!({"metadata": {"finalizers": ["a"]}, "spec": {"template": {"spec": {
            "containers": [
                {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                {"name": "side", "image": "side:1"}
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
            "tolerations": [{"key": "x"}]
        }}}})
    }

    #[test]
    fn strategic_merge_by_patch_merge_key() {
        let s = builtin("apps", "Deployment");
        let mut d = deployment();
        strategic(
            &s,
            &mut d,
            &json!({"metadata": {"finalizers": ["b"]}, "spec": {"template": {"spec": {
                "containers": [{"name": "app", "image": "app:2", "env": [{"name": "B", "value": "3"}]}],
                "tolerations": [{"key": "y"}]
            }}}}),
        )
        .unwrap();
        let spec = &d["spec"]["template"]["spec"];
        assert_eq!(spec["containers"][0]["image"], "app:2");
        assert_eq!(
            spec["containers"][0]["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "3"}])
        );
        assert_eq!(spec["containers"][1]["name"], "side");
        // No merge strategy: replaced.
        assert_eq!(spec["tolerations"], json!([{"key": "y"}]));
        assert_eq!(d["metadata"]["finalizers"], json!(["a", "b"]));
    }

    #[test]
    fn strategic_directives() {
        let s = builtin("apps", "Deployment");
        let mut d = deployment();
        strategic(
            &s,
            &mut d,
            &json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}, "spec": {"template": {"spec": {
                "containers": [{"name": "side", "$patch": "delete"}],
                "volumes": [{"name": "data", "configMap": {"name": "c"}, "$retainKeys": ["name", "configMap"]}],
                "$setElementOrder/containers": [{"name": "app"}]
            }}}}),
        )
        .unwrap();
        let spec = &d["spec"]["template"]["spec"];
        assert_eq!(spec["containers"].as_array().unwrap().len(), 1);
        assert_eq!(
            spec["volumes"],
            json!([{"name": "data", "configMap": {"name": "c"}}])
        );
        assert_eq!(d["metadata"]["finalizers"], json!([]));
        strategic(
            &s,
            &mut d,
            &json!({"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "o"}]}}}}),
        )
        .unwrap();
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"],
            json!([{"name": "only", "image": "o"}])
        );
        assert_eq!(
            strategic(
                &s,
                &mut d,
                &json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}})
            ),
            Err(SmpError::Internal(
                "map: map[image:x] does not contain declared merge key: name".into()
            ))
        );
    }
}
