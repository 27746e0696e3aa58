//! What every returned object goes through: the security pass (managed fields and full-object
//! annotation copies removed, Secret values masked) that always runs, and the lean pass that
//! saves tokens (no null/empty fields, latest `status.history` entry only, inventories
//! summarised, up-to-date `observedGeneration`s dropped). Condition messages are never touched.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::kube::SecretBytes;

/// Annotations that hold a whole copy of the object as it was applied. kubectl's holds a
/// Secret's `data`/`stringData` in clear (kubectl apply stores the input manifest), kapp's and
/// Banzai Cloud's k8s-objectmatcher's do the same, so they go whatever the masking setting.
const FULL_COPY_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "kapp.k14s.io/original",
    "banzaicloud.com/last-applied",
];

/// Inventories up to this many entries are listed; bigger ones are counted per kind only.
pub const INVENTORY_LIST_MAX: usize = 20;

/// Decoded Secret values shorter than this are not searched for in annotations: a value such
/// as `true` or `admin` would match unrelated text.
const MIN_LEAK_LEN: usize = 8;

/// The security pass: runs on every object returned, in every mode.
///
/// - `metadata.managedFields` goes (noise, and it names every field a manager owns);
/// - annotations that copy the whole applied object go (they hold Secret data in clear);
/// - with `mask`, a Secret's `data` and `stringData` values become `<masked: N bytes>`, keys
///   kept (`kubectl describe secret` shows sizes the same way), and any annotation of the Secret
///   that contains one of its values is masked too. Helm storage Secrets are Secrets.
pub fn sanitize(obj: &mut Value, mask: bool) {
    let is_secret = is_core(obj, "Secret");
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            for key in FULL_COPY_ANNOTATIONS {
                ann.remove(*key);
            }
        }
    }
    if !(is_secret && mask) {
        return;
    }
    let values = secret_values(map);
    if let Some(ann) = map
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
    {
        for v in ann.values_mut() {
            if let Value::String(text) = v
                && values.iter().any(|s| leaks(text, s))
            {
                *v = Value::String(masked(text.len()));
            }
        }
    }
    if let Some(data) = map.get_mut("data").and_then(Value::as_object_mut) {
        for v in data.values_mut() {
            let size = v.as_str().map_or(0, base64_decoded_len);
            *v = Value::String(masked(size));
        }
    }
    if let Some(data) = map.get_mut("stringData").and_then(Value::as_object_mut) {
        for v in data.values_mut() {
            let size = v.as_str().map_or(0, str::len);
            *v = Value::String(masked(size));
        }
    }
}

/// True when `obj` is the core (`v1`) kind `kind`.
fn is_core(obj: &Value, kind: &str) -> bool {
    obj.get("kind").and_then(Value::as_str) == Some(kind)
        && obj.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

fn masked(size: usize) -> String {
    format!("<masked: {size} bytes>")
}

/// Every value of a Secret worth looking for elsewhere: each `data` value both as sent (base64)
/// and decoded, each `stringData` value. Held as [`SecretBytes`] so a debug print cannot show
/// them.
fn secret_values(secret: &Map<String, Value>) -> Vec<SecretBytes> {
    let mut out = Vec::new();
    let mut add = |bytes: Vec<u8>| {
        if bytes.len() >= MIN_LEAK_LEN {
            out.push(SecretBytes::new(bytes));
        }
    };
    if let Some(data) = secret.get("data").and_then(Value::as_object) {
        for v in data.values().filter_map(Value::as_str) {
            add(v.as_bytes().to_vec());
            if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(v) {
                add(decoded);
            }
        }
    }
    if let Some(data) = secret.get("stringData").and_then(Value::as_object) {
        for v in data.values().filter_map(Value::as_str) {
            add(v.as_bytes().to_vec());
        }
    }
    out
}

fn leaks(text: &str, secret: &SecretBytes) -> bool {
    let needle = secret.expose();
    text.as_bytes().windows(needle.len()).any(|w| w == needle)
}

/// The length of what a standard, padded base64 text decodes to, without decoding it.
fn base64_decoded_len(s: &str) -> usize {
    let s = s.trim_end();
    let pad = s.bytes().rev().take_while(|&b| b == b'=').count();
    (s.len() / 4 * 3 + (s.len() % 4).saturating_sub(1)).saturating_sub(pad)
}

/// The lean pass, for objects returned whole (not through `fields`).
pub fn lean(obj: &mut Value) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    let generation = map
        .get("metadata")
        .and_then(|m| m.get("generation"))
        .and_then(Value::as_u64);
    if let Some(status) = map.get_mut("status").and_then(Value::as_object_mut) {
        // Flux keeps releases/snapshots newest first; the latest is what explains the present.
        if let Some(Value::Array(history)) = status.get_mut("history") {
            history.truncate(1);
        }
        if let Some(inventory) = status.get_mut("inventory")
            && let Some(summary) = summarise_entries(inventory)
        {
            *inventory = summary;
        }
    }
    let lagging = generation.is_none_or(|g| drop_current_generations(map, g));
    if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
        lean_metadata(meta, lagging);
    }
    prune(obj, &mut Vec::new());
}

/// Removes every `observedGeneration` equal to `generation` (status and conditions): the
/// controller has seen the latest spec, which is the normal case. Returns true when one that
/// lags remains, so the reader needs `metadata.generation` to compare.
fn drop_current_generations(map: &mut Map<String, Value>, generation: u64) -> bool {
    let mut lagging = false;
    let mut check = |holder: &mut Map<String, Value>| {
        match holder.get("observedGeneration").and_then(Value::as_u64) {
            Some(g) if g == generation => {
                holder.remove("observedGeneration");
            }
            Some(_) => lagging = true,
            None => {}
        }
    };
    if let Some(status) = map.get_mut("status").and_then(Value::as_object_mut) {
        check(status);
        if let Some(Value::Array(conditions)) = status.get_mut("conditions") {
            for c in conditions.iter_mut().filter_map(Value::as_object_mut) {
                check(c);
            }
        }
    }
    lagging
}

fn lean_metadata(meta: &mut Map<String, Value>, keep_generation: bool) {
    for key in ["uid", "resourceVersion", "selfLink"] {
        meta.remove(key);
    }
    if !keep_generation {
        meta.remove("generation");
    }
    // Finalizers explain something only while the object is being deleted (they hold it).
    if !meta.contains_key("deletionTimestamp") {
        meta.remove("finalizers");
    }
    if let Some(Value::Array(owners)) = meta.get_mut("ownerReferences") {
        for o in owners.iter_mut().filter_map(Value::as_object_mut) {
            o.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "name"));
        }
    }
}

/// Removes nulls, empty strings, empty maps and empty lists, except inside values that are the
/// user's data (a Helm chart's `spec.values`, ConfigMap and Secret data, label and annotation
/// values), where an empty value means something.
fn prune(v: &mut Value, path: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                path.push(k.clone());
                if is_user_data(path) {
                    path.pop();
                    continue;
                }
                if let Some(child) = map.get_mut(&k) {
                    prune(child, path);
                    if is_empty(child) {
                        map.remove(&k);
                    }
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            path.push("[]".into());
            for item in items.iter_mut() {
                prune(item, path);
            }
            path.pop();
            items.retain(|i| !matches!(i, Value::Null));
        }
        _ => {}
    }
}

fn is_user_data(path: &[String]) -> bool {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    matches!(
        p.as_slice(),
        ["spec", "values", ..]
            | ["data" | "stringData" | "binaryData", _, ..]
            | ["metadata", "labels" | "annotations", _, ..]
    )
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// One object an inventory lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryEntry {
    /// `""` for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    /// `""` for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
}

impl InventoryEntry {
    /// Parses a Flux inventory id, `<namespace>_<name>_<group>_<kind>` (kustomize-controller
    /// and the Flux Operator write it; namespace and group may be empty). Names may contain
    /// `_` (RBAC names can), namespaces, groups and kinds cannot: split from both ends.
    pub fn from_flux_id(id: &str, version: &str) -> Option<InventoryEntry> {
        let (namespace, rest) = id.split_once('_')?;
        let (rest, kind) = rest.rsplit_once('_')?;
        let (name, group) = rest.rsplit_once('_')?;
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        Some(InventoryEntry {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }

    /// `Kind namespace/name`, or `Kind name` for a cluster-scoped object.
    pub fn label(&self) -> String {
        if self.namespace.is_empty() {
            format!("{} {}", self.kind, self.name)
        } else {
            format!("{} {}/{}", self.kind, self.namespace, self.name)
        }
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// `status.inventory` as Flux writes it (`entries: [{id, v}]`) → its summary; `None` when the
/// value has another shape (left as it is).
fn summarise_entries(inventory: &Value) -> Option<Value> {
    let entries = inventory.get("entries")?.as_array()?;
    let parsed: Vec<InventoryEntry> = entries
        .iter()
        .filter_map(|e| {
            let id = e.get("id")?.as_str()?;
            let v = e.get("v").and_then(Value::as_str).unwrap_or("");
            InventoryEntry::from_flux_id(id, v)
        })
        .collect();
    if parsed.len() != entries.len() {
        return None;
    }
    Some(summarise(&parsed, &[], INVENTORY_LIST_MAX))
}

/// An inventory summary: the total, a count per kind, the entries when there are at most
/// `list_max`, and the container images (Helm releases).
pub fn summarise(entries: &[InventoryEntry], images: &[String], list_max: usize) -> Value {
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    for e in entries {
        *kinds.entry(e.kind.as_str()).or_default() += 1;
    }
    let mut out = Map::new();
    out.insert("total".into(), json!(entries.len()));
    out.insert("kinds".into(), json!(kinds));
    if entries.len() <= list_max {
        let labels: Vec<String> = entries.iter().map(InventoryEntry::label).collect();
        out.insert("entries".into(), json!(labels));
    } else {
        out.insert(
            "entries".into(),
            json!(format!(
                "{} entries, not listed (more than {list_max}); pass fields \
                 [\"status.inventory\"] to list them",
                entries.len()
            )),
        );
    }
    if !images.is_empty() {
        out.insert("images".into(), json!(images));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "ns",
                "managedFields": [{"manager": "kubectl"}],
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": "{\"stringData\":{\"password\":\"hunter2-long\"}}",
                    "note": "copy: hunter2-long",
                    "owner": "team-a",
                }},
            "data": {"password": "aHVudGVyMi1sb25n", "empty": ""},
            "stringData": {"token": "abc"},
            "type": "Opaque",
        })
    }

    #[test]
    fn secrets_are_masked_keys_kept_sizes_shown() {
        let mut s = secret();
        sanitize(&mut s, true);
        assert_eq!(s["data"]["password"], "<masked: 12 bytes>");
        assert_eq!(s["data"]["empty"], "<masked: 0 bytes>");
        assert_eq!(s["stringData"]["token"], "<masked: 3 bytes>");
        let ann = &s["metadata"]["annotations"];
        assert!(ann.get("kubectl.kubernetes.io/last-applied-configuration").is_none());
        assert_eq!(ann["note"], "<masked: 18 bytes>");
        assert_eq!(ann["owner"], "team-a");
        assert!(s["metadata"].get("managedFields").is_none());
        let text = s.to_string();
        assert!(!text.contains("hunter2") && !text.contains("aHVudGVy"), "{text}");
    }

    #[test]
    fn unmasked_secrets_keep_values_but_never_the_last_applied_copy() {
        let mut s = secret();
        sanitize(&mut s, false);
        assert_eq!(s["data"]["password"], "aHVudGVyMi1sb25n");
        assert_eq!(s["stringData"]["token"], "abc");
        assert!(
            s["metadata"]["annotations"]
                .get("kubectl.kubernetes.io/last-applied-configuration")
                .is_none()
        );
    }

    #[test]
    fn only_core_secrets_are_masked() {
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}});
        sanitize(&mut cm, true);
        assert_eq!(cm["data"]["k"], "v");
        let mut other = json!({"apiVersion": "example.com/v1", "kind": "Secret", "data": {"k": "v"}});
        sanitize(&mut other, true);
        assert_eq!(other["data"]["k"], "v");
    }

    #[test]
    fn base64_sizes() {
        for raw in ["", "a", "ab", "abc", "abcd", "hello world!"] {
            let enc = base64::engine::general_purpose::STANDARD.encode(raw);
            assert_eq!(base64_decoded_len(&enc), raw.len(), "{enc}");
        }
    }

    #[test]
    fn lean_drops_noise_and_keeps_meaning() {
        let mut o = json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "a", "namespace": "ns", "uid": "u", "resourceVersion": "9",
                         "generation": 2, "finalizers": ["finalizers.fluxcd.io"],
                         "annotations": {}, "labels": {"empty": ""}},
            "spec": {"healthChecks": [], "path": "./", "suspend": false, "postBuild": null},
            "status": {
                "observedGeneration": 2,
                "conditions": [{"type": "Ready", "status": "False", "reason": "R",
                                "message": "", "observedGeneration": 2}],
                "history": [{"digest": "new"}, {"digest": "old"}],
            },
        });
        lean(&mut o);
        assert_eq!(
            o,
            json!({
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                "metadata": {"name": "a", "namespace": "ns", "labels": {"empty": ""}},
                "spec": {"path": "./", "suspend": false},
                "status": {
                    "conditions": [{"type": "Ready", "status": "False", "reason": "R"}],
                    "history": [{"digest": "new"}],
                },
            })
        );
    }

    #[test]
    fn a_lagging_observed_generation_keeps_both_numbers() {
        let mut o = json!({
            "metadata": {"name": "a", "generation": 3, "deletionTimestamp": "t",
                         "finalizers": ["f"]},
            "status": {"observedGeneration": 2,
                       "conditions": [{"type": "Ready", "observedGeneration": 3}]},
        });
        lean(&mut o);
        assert_eq!(o["metadata"]["generation"], 3);
        assert_eq!(o["metadata"]["finalizers"], json!(["f"]));
        assert_eq!(o["status"]["observedGeneration"], 2);
        assert!(o["status"]["conditions"][0].get("observedGeneration").is_none());
    }

    #[test]
    fn helm_values_and_data_keep_empty_values() {
        let mut o = json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "r"},
            "spec": {"values": {"auth": {"existingSecret": "", "list": []}}},
            "data": {"k": ""},
        });
        lean(&mut o);
        assert_eq!(o["spec"]["values"]["auth"]["existingSecret"], "");
        assert_eq!(o["spec"]["values"]["auth"]["list"], json!([]));
        assert_eq!(o["data"]["k"], "");
    }

    #[test]
    fn flux_inventory_ids_parse_from_both_ends() {
        let e = InventoryEntry::from_flux_id("apps_podinfo_apps_Deployment", "v1").unwrap();
        assert_eq!(e.label(), "Deployment apps/podinfo");
        assert_eq!(e.api_version(), "apps/v1");
        let e = InventoryEntry::from_flux_id("_apps__Namespace", "v1").unwrap();
        assert_eq!((e.label(), e.api_version()), ("Namespace apps".into(), "v1".into()));
        let e = InventoryEntry::from_flux_id("_system:a_b_rbac.authorization.k8s.io_ClusterRole", "v1")
            .unwrap();
        assert_eq!(e.name, "system:a_b");
        assert!(InventoryEntry::from_flux_id("nonsense", "v1").is_none());
    }

    #[test]
    fn inventories_are_summarised_and_listed_when_small() {
        let entries: Vec<Value> = (0..3)
            .map(|i| json!({"id": format!("apps_cm{i}__ConfigMap"), "v": "v1"}))
            .chain([json!({"id": "apps_web_apps_Deployment", "v": "v1"})])
            .collect();
        let mut o = json!({"status": {"inventory": {"entries": entries}}});
        lean(&mut o);
        assert_eq!(
            o["status"]["inventory"],
            json!({"total": 4, "kinds": {"ConfigMap": 3, "Deployment": 1},
                   "entries": ["ConfigMap apps/cm0", "ConfigMap apps/cm1", "ConfigMap apps/cm2",
                               "Deployment apps/web"]})
        );
        let many: Vec<Value> = (0..25)
            .map(|i| json!({"id": format!("apps_cm{i}__ConfigMap"), "v": "v1"}))
            .collect();
        let mut o = json!({"status": {"inventory": {"entries": many}}});
        lean(&mut o);
        assert_eq!(o["status"]["inventory"]["total"], 25);
        let note = o["status"]["inventory"]["entries"].as_str().unwrap();
        assert!(note.starts_with("25 entries, not listed"), "{note}");
    }
}
