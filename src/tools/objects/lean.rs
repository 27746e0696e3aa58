//! What every returned object goes through: the security pass (managed fields and full-object
//! annotation copies removed, Secret values masked) that always runs, and the lean pass that
//! saves tokens (no null/empty fields, latest `status.history` entry only, inventories
//! summarised, up-to-date `observedGeneration`s dropped, Flux ownership labels folded into one
//! line). A condition's type, status, reason and message are never touched.

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
///   that contains one of its values is masked too. Helm storage Secrets are Secrets, and so
///   are Secret manifests nested in another object (a ResourceSet's resources).
pub fn sanitize(obj: &mut Value, mask: bool) {
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
    if mask {
        mask_secrets(obj);
        super::mask::mask_object(obj);
    }
}

/// Masks every core Secret in `v`: `v` itself and any Secret manifest nested in it (the
/// resources of a ResourceSet, the items of a `kind: List`, a template that embeds one).
fn mask_secrets(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if is_core(map, "Secret") {
                mask_secret(map);
            }
            for child in map.values_mut() {
                mask_secrets(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}

/// A Secret's `data` and `stringData` values become `<masked: N bytes>`; an annotation that
/// holds one of them, or a whole copy of the object, is masked or removed.
fn mask_secret(map: &mut Map<String, Value>) {
    let values = secret_values(map);
    if let Some(ann) = map
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
    {
        for key in FULL_COPY_ANNOTATIONS {
            ann.remove(*key);
        }
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
fn is_core(obj: &Map<String, Value>, kind: &str) -> bool {
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

/// The label prefixes with which Flux marks what it applied, and the kind that applied it:
/// kustomize-controller labels every object of a Kustomization with
/// `kustomize.toolkit.fluxcd.io/name` and `/namespace`, helm-controller every object of a
/// release with `helm.toolkit.fluxcd.io/name` and `/namespace`.
const OWNER_LABELS: &[(&str, &str)] = &[
    ("kustomize.toolkit.fluxcd.io", "Kustomization"),
    ("helm.toolkit.fluxcd.io", "HelmRelease"),
];

/// Takes each Flux ownership label pair (`<prefix>/name` with `<prefix>/namespace`) out of
/// the labels and returns a line per pair, `managed by Kustomization flux-system/apps`: two
/// long labels say in five words which object to look at next. A `name` without its
/// `namespace` (or the reverse) is not Flux's pair and stays a label.
pub fn fold_ownership(obj: &mut Value) -> Vec<String> {
    let Some(labels) = obj
        .get_mut("metadata")
        .and_then(|m| m.get_mut("labels"))
        .and_then(Value::as_object_mut)
    else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    for (prefix, kind) in OWNER_LABELS {
        let (name_key, ns_key) = (format!("{prefix}/name"), format!("{prefix}/namespace"));
        let (Some(Value::String(name)), Some(Value::String(ns))) =
            (labels.get(&name_key), labels.get(&ns_key))
        else {
            continue;
        };
        lines.push(format!("managed by {kind} {ns}/{name}"));
        labels.remove(&name_key);
        labels.remove(&ns_key);
    }
    lines
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
    let flux = map
        .get("apiVersion")
        .and_then(Value::as_str)
        .and_then(|av| av.split_once('/'))
        .is_some_and(|(group, _)| super::is_flux_group(group));
    let kind_is = |map: &Map<String, Value>, kind: &str| {
        map.get("kind").and_then(Value::as_str) == Some(kind)
    };
    // The status is taken out of the object (a Null left in its place, so it keeps its
    // position) to be trimmed against the spec and metadata, borrowed rather than copied.
    let mut taken = map.get_mut("status").map(Value::take);
    if let Some(status) = taken.as_mut().and_then(Value::as_object_mut) {
        // Flux keeps releases/snapshots newest first; the latest is what explains the present.
        if let Some(Value::Array(history)) = status.get_mut("history") {
            history.truncate(1);
        }
        if let Some(inventory) = status.get_mut("inventory")
            && let Some(summary) = summarise_entries(inventory)
        {
            *inventory = summary;
        }
        if flux {
            let spec = map.get("spec").unwrap_or(&Value::Null);
            drop_repeats(status, spec);
            drop_shared_transition_times(status);
            if kind_is(map, "HelmRelease") {
                let meta = map.get("metadata").unwrap_or(&Value::Null);
                drop_release_defaults(status, meta, spec);
            } else if kind_is(map, "ArtifactGenerator") {
                drop_artifact_file_names(status);
            }
        }
    }
    if let (Some(slot), Some(status)) = (map.get_mut("status"), taken) {
        *slot = status;
    }
    if flux
        && kind_is(map, "FluxReport")
        && let Some(Value::Array(reconcilers)) =
            map.get_mut("spec").and_then(|s| s.get_mut("reconcilers"))
    {
        for r in reconcilers.iter_mut() {
            if let Some(line) = reconciler_line(r) {
                *r = Value::String(line);
            }
        }
    }
    // `suspend: false` is what every Flux object that is not suspended says (the API server
    // or the manifest writes the default); a suspended one says `suspend: true` and gets a
    // SUSPENDED headline.
    if flux
        && let Some(spec) = map.get_mut("spec").and_then(Value::as_object_mut)
        && spec.get("suspend") == Some(&Value::Bool(false))
    {
        spec.remove("suspend");
    }
    // A ConfigMap's binaryData (a keystore, a compressed blob) is base64 an agent cannot
    // read: its size says what is there. `fields: ["binaryData"]` returns it as is.
    if let Some(binary) = map.get_mut("binaryData").and_then(Value::as_object_mut) {
        for v in binary.values_mut() {
            let size = v.as_str().map_or(0, base64_decoded_len);
            *v = Value::String(format!("<binary: {size} bytes>"));
        }
    }
    let lagging = generation.is_none_or(|g| drop_current_generations(map, g));
    if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
        lean_metadata(meta, lagging);
        // When a Flux object was created says little about its state: its conditions'
        // transition times and its history say when things changed. (A Pod's age matters,
        // so other kinds keep it.)
        if flux {
            meta.remove("creationTimestamp");
        }
    }
    prune(obj, &mut Vec::new());
}

/// Removes every `observedGeneration` (and helm-controller's `lastAttemptedGeneration`)
/// equal to `generation`, in status and conditions: the controller has seen the latest spec,
/// which is the normal case. Returns true when one that lags remains, so the reader needs
/// `metadata.generation` to compare.
fn drop_current_generations(map: &mut Map<String, Value>, generation: u64) -> bool {
    let mut lagging = false;
    let mut check = |holder: &mut Map<String, Value>, key: &str| match holder
        .get(key)
        .and_then(Value::as_u64)
    {
        Some(g) if g == generation => {
            holder.remove(key);
        }
        Some(_) => lagging = true,
        None => {}
    };
    if let Some(status) = map.get_mut("status").and_then(Value::as_object_mut) {
        check(status, "observedGeneration");
        check(status, "lastAttemptedGeneration");
        if let Some(Value::Array(conditions)) = status.get_mut("conditions") {
            for c in conditions.iter_mut().filter_map(Value::as_object_mut) {
                check(c, "observedGeneration");
            }
        }
    }
    lagging
}

/// Drops Flux status fields that only repeat another one or are internal to the controller:
/// - `lastAttemptedRevision` equal to `lastAppliedRevision` (or, for a HelmRelease, to the
///   latest release's chart version) and `lastAttemptedConfigDigest` equal to the latest
///   release's: the last attempt is what is applied, the normal case;
/// - the artifact's `url` and `path` (and the older `status.url`): where source-controller
///   serves the tarball inside the cluster, derived from kind, namespace and name; and its
///   `digest`, the tarball's checksum consumers verify: the revision says what it holds;
/// - `observed<Field>` equal to `spec.<field>` (`observedExclusionList`, `observedIgnore`):
///   the controller has acted on the spec as written; one that differs is kept;
/// - image-reflector-controller's `canonicalImageName` equal to `spec.image`;
/// - the artifact's `revision` when the ArtifactInStorage (or a True Ready) message quotes it,
///   and `lastAppliedRevision` when the Ready message is `Applied revision: <it>`.
fn drop_repeats(status: &mut Map<String, Value>, spec: &Value) {
    let observed: Vec<String> = status
        .keys()
        .filter(|k| {
            k.strip_prefix("observed").is_some_and(|rest| {
                rest != "Generation" && rest.starts_with(|c: char| c.is_ascii_uppercase())
            })
        })
        .cloned()
        .collect();
    for key in observed {
        let field = key["observed".len()..].to_string();
        let field = field[..1].to_ascii_lowercase() + &field[1..];
        if spec.get(&field).is_some() && spec.get(&field) == status.get(&key) {
            status.remove(&key);
        }
    }
    if spec.get("image").is_some() && spec.get("image") == status.get("canonicalImageName") {
        status.remove("canonicalImageName");
    }
    let latest = status
        .get("history")
        .and_then(|h| h.get(0))
        .cloned()
        .unwrap_or(Value::Null);
    let attempted = status.get("lastAttemptedRevision").cloned();
    if attempted.is_some()
        && (attempted.as_ref() == status.get("lastAppliedRevision")
            || attempted.as_ref() == latest.get("chartVersion"))
    {
        status.remove("lastAttemptedRevision");
    }
    if status.get("lastAttemptedConfigDigest").is_some()
        && status.get("lastAttemptedConfigDigest") == latest.get("configDigest")
    {
        status.remove("lastAttemptedConfigDigest");
    }
    status.remove("url");
    if let Some(artifact) = status.get_mut("artifact").and_then(Value::as_object_mut) {
        for key in ["url", "path", "digest"] {
            artifact.remove(key);
        }
    }
    // helm-controller's fingerprints of the release record and of the values: internal to its
    // drift detection; the chart version, status and times say what was released.
    if let Some(Value::Array(history)) = status.get_mut("history") {
        for entry in history.iter_mut().filter_map(Value::as_object_mut) {
            entry.remove("digest");
            entry.remove("configDigest");
        }
    }
    // source-controller writes the stored artifact's revision, quoted, into the message of
    // ArtifactInStorage (and of Ready while healthy): `stored artifact for revision
    // 'main@sha1:…'`, `pulled 'podinfo' chart with version '6.9.2'`. A revision that no
    // such message quotes (a newer artifact is being built, say) stays.
    let stored_revision = status
        .get("artifact")
        .and_then(|a| a.get("revision"))
        .and_then(Value::as_str)
        .map(|rev| format!("'{rev}'"));
    if let Some(quoted) = stored_revision {
        let quoted_by_a_condition = status
            .get("conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|c| {
                matches!(c["type"].as_str(), Some("ArtifactInStorage" | "Ready"))
                    && c["status"] == "True"
                    && c["message"].as_str().is_some_and(|m| m.contains(&quoted))
            });
        if quoted_by_a_condition
            && let Some(artifact) = status.get_mut("artifact").and_then(Value::as_object_mut)
        {
            artifact.remove("revision");
        }
    }
    // kustomize-controller writes the applied revision into the Ready message too.
    let ready_message = ready_condition(status)
        .and_then(|c| c.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string);
    if let (Some(m), Some(Value::String(rev))) = (ready_message, status.get("lastAppliedRevision"))
        && m == format!("Applied revision: {rev}")
    {
        status.remove("lastAppliedRevision");
    }
}

/// Drops what a HelmRelease's status repeats from its own metadata and spec: the latest
/// release's `name` and `namespace` equal to the HelmRelease's (helm-controller's default
/// release name and target namespace), its `chartName` equal to `spec.chart.spec.chart`, and
/// `storageNamespace` equal to the HelmRelease's namespace (the documented default). A value
/// that differs (`releaseName`, `targetNamespace`, `storageNamespace` set) is kept.
fn drop_release_defaults(status: &mut Map<String, Value>, meta: &Value, spec: &Value) {
    let same =
        |v: Option<&Value>, other: &Value| v.is_some() && v == Some(other) && !other.is_null();
    if same(status.get("storageNamespace"), &meta["namespace"]) {
        status.remove("storageNamespace");
    }
    if let Some(Value::Array(history)) = status.get_mut("history") {
        for entry in history.iter_mut().filter_map(Value::as_object_mut) {
            if same(entry.get("name"), &meta["name"]) {
                entry.remove("name");
            }
            if same(entry.get("namespace"), &meta["namespace"]) {
                entry.remove("namespace");
            }
            if same(entry.get("chartName"), &spec["chart"]["spec"]["chart"]) {
                entry.remove("chartName");
            }
        }
    }
}

/// An ArtifactGenerator's inventory names each stored tarball `<digest hex>.tar.gz` next to
/// its `digest`: the file name says nothing the digest does not.
fn drop_artifact_file_names(status: &mut Map<String, Value>) {
    let Some(Value::Array(inventory)) = status.get_mut("inventory") else {
        return;
    };
    for entry in inventory.iter_mut().filter_map(Value::as_object_mut) {
        let derived = entry
            .get("digest")
            .and_then(Value::as_str)
            .and_then(|d| d.split_once(':'))
            .map(|(_, hex)| format!("{hex}.tar.gz"));
        if derived.is_some() && entry.get("filename").and_then(Value::as_str) == derived.as_deref()
        {
            entry.remove("filename");
        }
    }
}

/// A FluxReport reconciler entry (`{apiVersion, kind, stats: {running, failing, suspended,
/// totalSize?}}`, the operator's statistics for one kind) as one line, every number kept:
/// `GitRepository (source.toolkit.fluxcd.io/v1): 3 running, 1 failing, 0 suspended, 149.6
/// KiB stored`. `None` for an entry of another shape (left as it is).
fn reconciler_line(r: &Value) -> Option<String> {
    let r = r.as_object()?;
    let stats = r.get("stats")?.as_object()?;
    let known = |k: &String, allowed: &[&str]| allowed.contains(&k.as_str());
    if !r.keys().all(|k| known(k, &["apiVersion", "kind", "stats"]))
        || !stats
            .keys()
            .all(|k| known(k, &["running", "failing", "suspended", "totalSize"]))
    {
        return None;
    }
    let mut line = format!(
        "{} ({}):",
        r.get("kind")?.as_str()?,
        r.get("apiVersion")?.as_str()?
    );
    let mut parts = Vec::new();
    for key in ["running", "failing", "suspended"] {
        if let Some(v) = stats.get(key) {
            parts.push(format!("{} {key}", v.as_u64()?));
        }
    }
    if let Some(size) = stats.get("totalSize") {
        parts.push(format!("{} stored", size.as_str()?));
    }
    line.push(' ');
    line.push_str(&parts.join(", "));
    Some(line)
}

fn ready_condition(status: &Map<String, Value>) -> Option<&Map<String, Value>> {
    status
        .get("conditions")?
        .as_array()?
        .iter()
        .filter_map(Value::as_object)
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
}

/// A condition that changed at the same moment as Ready (most do: controllers set them
/// together) drops its `lastTransitionTime`; one that changed at another time keeps it.
fn drop_shared_transition_times(status: &mut Map<String, Value>) {
    let Some(ready_time) = ready_condition(status)
        .and_then(|c| c.get("lastTransitionTime"))
        .cloned()
    else {
        return;
    };
    let Some(Value::Array(conditions)) = status.get_mut("conditions") else {
        return;
    };
    for c in conditions.iter_mut().filter_map(Value::as_object_mut) {
        let is_ready = c.get("type").and_then(Value::as_str) == Some("Ready");
        if !is_ready && c.get("lastTransitionTime") == Some(&ready_time) {
            c.remove("lastTransitionTime");
        }
    }
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
            items.retain(|i| !i.is_null() && (i.is_string() || !is_empty(i)));
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
    pub kind: String,
    /// `""` for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
}

impl InventoryEntry {
    /// Parses a Flux inventory id, `<namespace>_<name>_<group>_<kind>` (kustomize-controller
    /// and the Flux Operator write it; namespace and group may be empty). Names may contain
    /// `_` (RBAC names can), namespaces, groups and kinds cannot: split from both ends. The
    /// group is split off but not kept: summaries name kinds, not API versions.
    pub fn from_flux_id(id: &str) -> Option<InventoryEntry> {
        let (namespace, rest) = id.split_once('_')?;
        let (rest, kind) = rest.rsplit_once('_')?;
        let (name, _group) = rest.rsplit_once('_')?;
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        Some(InventoryEntry {
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
}

/// `status.inventory` as Flux writes it (`entries: [{id, v}]`) → its summary; `None` when the
/// value has another shape (left as it is).
fn summarise_entries(inventory: &Value) -> Option<Value> {
    let entries = inventory.get("entries")?.as_array()?;
    let parsed: Vec<InventoryEntry> = entries
        .iter()
        .filter_map(|e| InventoryEntry::from_flux_id(e.get("id")?.as_str()?))
        .collect();
    if parsed.len() != entries.len() {
        return None;
    }
    Some(summarise(&parsed, &[], INVENTORY_LIST_MAX))
}

/// An inventory summary: the total and the entries when there are at most `list_max`, else
/// a count per kind; the container images (Helm releases).
pub fn summarise(entries: &[InventoryEntry], images: &[String], list_max: usize) -> Value {
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    for e in entries {
        *kinds.entry(e.kind.as_str()).or_default() += 1;
    }
    let mut out = Map::new();
    out.insert("total".into(), json!(entries.len()));
    if entries.len() <= list_max {
        let labels: Vec<String> = entries.iter().map(InventoryEntry::label).collect();
        out.insert("entries".into(), json!(labels));
    } else {
        out.insert("kinds".into(), json!(kinds));
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
        assert!(
            ann.get("kubectl.kubernetes.io/last-applied-configuration")
                .is_none()
        );
        assert_eq!(ann["note"], "<masked: 18 bytes>");
        assert_eq!(ann["owner"], "team-a");
        assert!(s["metadata"].get("managedFields").is_none());
        let text = s.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("aHVudGVy"),
            "{text}"
        );
    }

    /// Secrets embedded in other objects (a ResourceSet's resources, a `kind: List`) are
    /// Secrets too.
    #[test]
    fn nested_secrets_are_masked() {
        let mut rs = json!({
            "apiVersion": "fluxcd.controlplane.io/v1", "kind": "ResourceSet",
            "spec": {"resources": [
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                 "stringData": {"password": "hunter2-long"}},
                {"apiVersion": "v1", "kind": "List", "items": [
                    {"apiVersion": "v1", "kind": "Secret", "data": {"token": "aHVudGVyMi1sb25n"}}
                ]},
                {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}}
            ]}
        });
        sanitize(&mut rs, true);
        let text = rs.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("aHVudGVy"),
            "{text}"
        );
        assert_eq!(
            rs["spec"]["resources"][0]["stringData"]["password"],
            "<masked: 12 bytes>"
        );
        assert_eq!(rs["spec"]["resources"][2]["data"]["k"], "v");
        let mut unmasked = json!({"kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Secret", "data": {"t": "dA=="}}]});
        sanitize(&mut unmasked, false);
        assert_eq!(unmasked["items"][0]["data"]["t"], "dA==");
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
        let mut other =
            json!({"apiVersion": "example.com/v1", "kind": "Secret", "data": {"k": "v"}});
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
            "spec": {"healthChecks": [], "path": "./", "suspend": false, "postBuild": null,
                     "prune": false},
            "status": {
                "observedGeneration": 2,
                "conditions": [{"type": "Ready", "status": "False", "reason": "R",
                                "message": "", "observedGeneration": 2}],
                "history": [{"version": 2, "digest": "d2"}, {"version": 1}],
            },
        });
        lean(&mut o);
        assert_eq!(
            o,
            json!({
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                "metadata": {"name": "a", "namespace": "ns", "labels": {"empty": ""}},
                "spec": {"path": "./", "prune": false},
                "status": {
                    "conditions": [{"type": "Ready", "status": "False", "reason": "R"}],
                    "history": [{"version": 2}],
                },
            })
        );
    }

    #[test]
    fn condition_messages_stay_verbatim_even_when_repeated() {
        let conditions = json!([
            {"type": "Released", "status": "False", "reason": "InstallFailed",
             "message": "install failed"},
            {"type": "Ready", "status": "False", "reason": "InstallFailed",
             "message": "install failed"},
            {"type": "Stalled", "status": "True", "reason": "RetriesExceeded",
             "message": "retries exhausted"},
            {"type": "Remediated", "status": "True", "reason": "UninstallSucceeded",
             "message": "retries exhausted"},
        ]);
        let mut o = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "status": {"conditions": conditions,
            "history": [{"chartVersion": "1.0.0", "configDigest": "sha256:a"}],
            "lastAttemptedRevision": "1.0.0", "lastAttemptedConfigDigest": "sha256:a",
            "artifact": {"revision": "r", "url": "http://x/y.tgz", "path": "y.tgz",
                         "digest": "sha256:0"},
            "url": "http://x/latest.tgz"}});
        lean(&mut o);
        assert_eq!(o["status"]["conditions"], conditions);
        let status = &o["status"];
        assert!(status.get("lastAttemptedRevision").is_none());
        assert!(status.get("lastAttemptedConfigDigest").is_none());
        assert!(status.get("url").is_none());
        assert_eq!(status["artifact"], json!({"revision": "r"}));
    }

    #[test]
    fn a_helm_release_drops_only_what_repeats_its_own_fields() {
        let mut o = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "podinfo", "namespace": "apps"},
            "spec": {"chart": {"spec": {"chart": "podinfo"}}},
            "status": {"storageNamespace": "apps", "history": [
                {"name": "podinfo", "namespace": "apps", "chartName": "podinfo",
                 "chartVersion": "6.9.2", "status": "deployed", "version": 3}]}});
        lean(&mut o);
        assert_eq!(
            o["status"],
            json!({"history": [{"chartVersion": "6.9.2", "status": "deployed", "version": 3}]})
        );
        let mut other = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "webapp-frontend", "namespace": "apps"},
            "spec": {"releaseName": "frontend", "chart": {"spec": {"chart": "./charts/webapp"}}},
            "status": {"storageNamespace": "helm-store", "history": [
                {"name": "frontend", "namespace": "web", "chartName": "webapp"}]}});
        let before = other["status"].clone();
        lean(&mut other);
        assert_eq!(other["status"], before);
    }

    #[test]
    fn an_artifact_revision_goes_only_when_a_true_condition_quotes_it() {
        let source = |condition: Value| {
            let mut o = json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
                "status": {"artifact": {"revision": "main@sha1:a", "size": 1},
                           "conditions": [condition]}});
            lean(&mut o);
            o["status"]["artifact"].clone()
        };
        let stored = json!({"type": "ArtifactInStorage", "status": "True",
                            "message": "stored artifact for revision 'main@sha1:a'"});
        assert_eq!(source(stored), json!({"size": 1}));
        let building = json!({"type": "Reconciling", "status": "True",
                              "message": "building artifact: new revision 'main@sha1:a'"});
        assert_eq!(source(building)["revision"], "main@sha1:a");
        let other = json!({"type": "ArtifactInStorage", "status": "True",
                           "message": "stored artifact for revision 'main@sha1:ab'"});
        assert_eq!(source(other)["revision"], "main@sha1:a");
    }

    #[test]
    fn artifact_file_names_derived_from_the_digest_go() {
        let mut o = json!({"apiVersion": "source.extensions.fluxcd.io/v1beta1",
            "kind": "ArtifactGenerator", "status": {"inventory": [
                {"name": "a", "digest": "sha256:abc", "filename": "abc.tar.gz"},
                {"name": "b", "digest": "sha256:def", "filename": "other.tar.gz"}]}});
        lean(&mut o);
        assert_eq!(
            o["status"]["inventory"],
            json!([{"name": "a", "digest": "sha256:abc"},
                   {"name": "b", "digest": "sha256:def", "filename": "other.tar.gz"}])
        );
    }

    #[test]
    fn report_statistics_read_as_one_line_per_kind_every_number_kept() {
        let mut o = json!({"apiVersion": "fluxcd.controlplane.io/v1", "kind": "FluxReport",
        "spec": {"reconcilers": [
            {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
             "stats": {"failing": 1, "running": 3, "suspended": 0, "totalSize": "149.6 KiB"}},
            {"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
             "stats": {"failing": 0, "running": 2, "suspended": 0}},
            {"apiVersion": "x/v1", "kind": "Future", "stats": {"running": 1, "new": 2}},
        ]}});
        lean(&mut o);
        assert_eq!(
            o["spec"]["reconcilers"],
            json!([
                "GitRepository (source.toolkit.fluxcd.io/v1): 3 running, 1 failing, 0 suspended, 149.6 KiB stored",
                "Alert (notification.toolkit.fluxcd.io/v1beta3): 2 running, 0 failing, 0 suspended",
                {"apiVersion": "x/v1", "kind": "Future", "stats": {"running": 1, "new": 2}},
            ])
        );
    }

    #[test]
    fn flux_ownership_labels_fold_into_one_line_per_owner() {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
            "name": "podinfo", "namespace": "apps", "labels": {
                "app": "podinfo",
                "helm.toolkit.fluxcd.io/name": "podinfo",
                "helm.toolkit.fluxcd.io/namespace": "apps",
                "kustomize.toolkit.fluxcd.io/name": "apps",
                "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}}});
        assert_eq!(
            fold_ownership(&mut d),
            [
                "managed by Kustomization flux-system/apps",
                "managed by HelmRelease apps/podinfo"
            ]
        );
        assert_eq!(d["metadata"]["labels"], json!({"app": "podinfo"}));
        let mut half = json!({"metadata": {"labels": {"kustomize.toolkit.fluxcd.io/name": "x"}}});
        assert!(fold_ownership(&mut half).is_empty());
        assert_eq!(
            half["metadata"]["labels"],
            json!({"kustomize.toolkit.fluxcd.io/name": "x"})
        );
        let mut only = json!({"metadata": {"labels": {
            "kustomize.toolkit.fluxcd.io/name": "apps",
            "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}}});
        assert_eq!(fold_ownership(&mut only).len(), 1);
        lean(&mut only);
        assert_eq!(only, json!({}), "an emptied label map goes");
    }

    #[test]
    fn transition_times_shared_with_ready_and_repeated_revisions_go() {
        let mut o = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "status": {"conditions": [
                {"type": "Ready", "status": "True", "message": "Applied revision: main@sha1:a",
                 "lastTransitionTime": "t1"},
                {"type": "Healthy", "status": "True", "message": "ok", "lastTransitionTime": "t1"},
                {"type": "Reconciling", "status": "True", "message": "x", "lastTransitionTime": "t0"},
            ], "lastAppliedRevision": "main@sha1:a"}});
        lean(&mut o);
        let c = &o["status"]["conditions"];
        assert_eq!(c[0]["lastTransitionTime"], "t1");
        assert!(c[1].get("lastTransitionTime").is_none());
        assert_eq!(c[2]["lastTransitionTime"], "t0");
        assert!(o["status"].get("lastAppliedRevision").is_none());
    }

    #[test]
    fn observed_copies_of_the_spec_go_unless_they_differ() {
        let mut o = json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
            "spec": {"image": "ghcr.io/a/b", "exclusionList": ["x"], "ignore": "a"},
            "status": {"canonicalImageName": "ghcr.io/a/b", "observedExclusionList": ["x"],
                       "observedIgnore": "old", "observedSourcesDigest": "d"}});
        lean(&mut o);
        assert_eq!(
            o["status"],
            json!({"observedIgnore": "old", "observedSourcesDigest": "d"})
        );
    }

    #[test]
    fn attempts_that_differ_from_what_is_applied_are_kept() {
        let mut o = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"generation": 2},
            "status": {"lastAppliedRevision": "main@sha1:a", "lastAttemptedRevision": "main@sha1:b"}});
        lean(&mut o);
        assert_eq!(o["status"]["lastAttemptedRevision"], "main@sha1:b");
        let mut cm = json!({"apiVersion": "v1", "kind": "Thing", "status": {"url": "kept"}});
        lean(&mut cm);
        assert_eq!(
            cm["status"]["url"], "kept",
            "only Flux objects lose their artifact URL"
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
        assert!(
            o["status"]["conditions"][0]
                .get("observedGeneration")
                .is_none()
        );
    }

    #[test]
    fn binary_data_reads_as_its_size() {
        let blob = base64::engine::general_purpose::STANDARD.encode([0u8, 159, 146, 150, 255]);
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "data": {"a": "text"}, "binaryData": {"blob": blob}});
        lean(&mut cm);
        assert_eq!(cm["binaryData"]["blob"], "<binary: 5 bytes>");
        assert_eq!(cm["data"]["a"], "text");
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
        let parts = |e: &InventoryEntry| (e.kind.clone(), e.namespace.clone(), e.name.clone());
        let e = InventoryEntry::from_flux_id("apps_podinfo_apps_Deployment").unwrap();
        assert_eq!(e.label(), "Deployment apps/podinfo");
        assert_eq!(
            parts(&e),
            ("Deployment".into(), "apps".into(), "podinfo".into())
        );
        let e = InventoryEntry::from_flux_id("_apps__Namespace").unwrap();
        assert_eq!(e.label(), "Namespace apps");
        assert_eq!(parts(&e), ("Namespace".into(), "".into(), "apps".into()));
        let e = InventoryEntry::from_flux_id("_system:a_b_rbac.authorization.k8s.io_ClusterRole")
            .unwrap();
        assert_eq!(e.name, "system:a_b");
        assert_eq!(e.label(), "ClusterRole system:a_b");
        assert!(InventoryEntry::from_flux_id("nonsense").is_none());
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
            json!({"total": 4,
                   "entries": ["ConfigMap apps/cm0", "ConfigMap apps/cm1", "ConfigMap apps/cm2",
                               "Deployment apps/web"]})
        );
        let many: Vec<Value> = (0..25)
            .map(|i| json!({"id": format!("apps_cm{i}__ConfigMap"), "v": "v1"}))
            .collect();
        let mut o = json!({"status": {"inventory": {"entries": many}}});
        lean(&mut o);
        assert_eq!(o["status"]["inventory"]["total"], 25);
        assert_eq!(o["status"]["inventory"]["kinds"], json!({"ConfigMap": 25}));
        let note = o["status"]["inventory"]["entries"].as_str().unwrap();
        assert!(note.starts_with("25 entries, not listed"), "{note}");
    }
}
