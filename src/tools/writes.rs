//! What the tools that change a cluster share: naming an object (`Kind/namespace/name`), the
//! namespace a write goes to, the live object a write checks first, the Flux-owner guard (an
//! object a Flux controller manages is changed only with `overwrite`, because the controller
//! would revert the change), errors worded per verb (RBAC refusals name the verb, conflicts
//! quote fields and managers), Secret values kept out of messages, and a small worker pool for
//! many objects at once. Compiled only into the `mutations` build.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use serde_json::Value;

use super::{Cluster, ToolError};
use crate::kube::discovery::{Resource, close_matches};
use crate::kube::{self, SecretBytes};

/// Names read to suggest close matches for an object that is not found.
const NAMES_SCANNED: usize = 500;
/// Close names suggested.
const SIMILAR_NAMES: usize = 5;
/// Secret values shorter than this are not searched for in messages: `true`, `admin` or `apps`
/// would mask unrelated words.
const MIN_SECRET_LEN: usize = 6;
/// Requests in flight at once when many objects are read or written.
pub const WORKERS: usize = 8;

/// `Kind/namespace/name`, or `Kind/name` for a cluster-scoped object: how outputs, errors and
/// the call log name an object (kubectl's `kind/name` with the namespace in between).
pub fn object_name(kind: &str, namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        format!("{kind}/{name}")
    } else {
        format!("{kind}/{namespace}/{name}")
    }
}

/// The namespace a write of `resource` goes to: none for a cluster-scoped kind, the given one,
/// else the context's default namespace (as kubectl does).
pub fn namespace_of(resource: &Resource, given: Option<&str>, cluster: &Cluster) -> String {
    if !resource.namespaced {
        return String::new();
    }
    match given.map(str::trim).filter(|n| !n.is_empty()) {
        Some(ns) => ns.to_string(),
        None => cluster.default_namespace().to_string(),
    }
}

/// The live object, or an error that says it is not there (with close names) or why it
/// cannot be read.
pub fn get_live(
    cluster: &Cluster,
    resource: &Resource,
    namespace: &str,
    name: &str,
) -> Result<Value, ToolError> {
    match cluster.get(resource, namespace, name) {
        Ok(v) => Ok(v),
        Err(e) if e.is_not_found() => Err(not_found(cluster, resource, namespace, name)),
        Err(e) => Err(cluster.error(e)),
    }
}

/// The live object, or `None` when it does not exist.
pub fn find_live(
    cluster: &Cluster,
    resource: &Resource,
    namespace: &str,
    name: &str,
) -> Result<Option<Value>, kube::Error> {
    match cluster.get(resource, namespace, name) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// "Kind ns/name not found in context C; similar names in ns: ..." (from one metadata-only
/// LIST; a failure of that just means no suggestions).
pub fn not_found(cluster: &Cluster, resource: &Resource, namespace: &str, name: &str) -> ToolError {
    let kind = &resource.kind;
    let context = cluster.context();
    let mut msg = if namespace.is_empty() {
        format!("{kind} {name} not found in context {context}")
    } else {
        format!("{kind} {namespace}/{name} not found in context {context}")
    };
    let scope = (!namespace.is_empty()).then_some(namespace);
    if let Ok((found, _)) = cluster.names(resource, scope, NAMES_SCANNED) {
        let names: BTreeSet<&str> = found.iter().map(|(_, n)| n.as_str()).collect();
        let close = close_matches(name, names, SIMILAR_NAMES);
        if !close.is_empty() {
            let place = scope.map(|ns| format!(" in {ns}")).unwrap_or_default();
            msg.push_str(&format!("; similar names{place}: {}", close.join(", ")));
        }
    }
    ToolError::Failed(msg)
}

// ---- the Flux-owner guard ---------------------------------------------------------------------

/// The label prefixes with which Flux marks what it applied, the kind of the owner, and the
/// controller that would undo a change: `<prefix>/name` and `<prefix>/namespace` name the
/// owner.
const OWNER_LABELS: &[(&str, &str, &str)] = &[
    (
        "kustomize.toolkit.fluxcd.io",
        "Kustomization",
        "kustomize-controller",
    ),
    ("helm.toolkit.fluxcd.io", "HelmRelease", "helm-controller"),
    (
        "resourceset.fluxcd.controlplane.io",
        "ResourceSet",
        "flux-operator",
    ),
    ("resourceset.fluxcd.io", "ResourceSet", "flux-operator"),
    ("fluxcd.controlplane.io", "FluxInstance", "flux-operator"),
];

/// The Flux object that manages another one, from the live object's labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// `Kustomization`, `HelmRelease`, `ResourceSet`, `FluxInstance`.
    pub kind: &'static str,
    /// `namespace/name`, or what the labels leave unknown.
    pub id: String,
    /// The controller that applies the owner's objects.
    pub controller: &'static str,
    /// The label that gave it away.
    pub label: String,
}

impl Owner {
    /// What that controller does to a change made behind its back.
    fn reverts(&self) -> String {
        match self.kind {
            "HelmRelease" => format!(
                "{} will overwrite the change at the release's next upgrade, or at once when \
                 drift detection is enabled",
                self.controller
            ),
            kind => format!(
                "{} will revert the change at the {kind}'s next reconcile",
                self.controller
            ),
        }
    }
}

/// The Flux owner of `live`, from its labels (`None`: Flux did not apply it). A label in an
/// owner prefix without the `name` label still counts: the object is Flux's, whose exactly
/// is unknown.
pub fn flux_owner(live: &Value) -> Option<Owner> {
    let labels = live
        .pointer("/metadata/labels")
        .and_then(Value::as_object)?;
    for (prefix, kind, controller) in OWNER_LABELS {
        let with_prefix = |suffix: &str| {
            labels
                .get(&format!("{prefix}/{suffix}"))
                .and_then(Value::as_str)
        };
        let any = labels
            .keys()
            .find(|k| k.split_once('/').is_some_and(|(p, _)| p == *prefix));
        let Some(any) = any else { continue };
        let (label, id) = match (with_prefix("name"), with_prefix("namespace")) {
            (Some(n), Some(ns)) => (format!("{prefix}/name"), format!("{ns}/{n}")),
            (Some(n), None) => (format!("{prefix}/name"), n.to_string()),
            _ => (any.clone(), "(name not in its labels)".to_string()),
        };
        return Some(Owner {
            kind,
            id,
            controller,
            label,
        });
    }
    None
}

/// What a write does, for the guard's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// apply or patch: the owner would revert it.
    Modify,
    /// delete: the owner would recreate it.
    Delete,
}

/// An annotation (or label) that makes the owner leave an object alone, and what it means.
fn owner_skips(live: &Value) -> Option<String> {
    let find = |key: &'static str| -> Option<(&'static str, &str)> {
        ["annotations", "labels"].iter().find_map(|place| {
            live.pointer(&format!("/metadata/{place}"))
                .and_then(|m| m.get(key))
                .and_then(Value::as_str)
                .map(|v| (key, v))
        })
    };
    let checks = [
        find("kustomize.toolkit.fluxcd.io/reconcile").filter(|(_, v)| *v == "disabled"),
        find("fluxcd.controlplane.io/reconcile").filter(|(_, v)| *v == "disabled"),
        find("kustomize.toolkit.fluxcd.io/ssa")
            .filter(|(_, v)| v.eq_ignore_ascii_case("ignore") || *v == "IfNotPresent"),
    ];
    checks
        .into_iter()
        .flatten()
        .next()
        .map(|(k, v)| format!("{k}: {v}"))
}

/// The guard every write to an existing object passes: an object a Flux controller applied
/// is refused unless `overwrite`, with the owner named and what the controller will do about
/// the change. `Ok(Some(note))`: allowed, and the answer should say why it is safe or what to
/// expect; `Ok(None)`: not Flux's.
pub fn guard(
    target: &str,
    live: &Value,
    change: Change,
    overwrite: bool,
) -> Result<Option<String>, ToolError> {
    let Some(owner) = flux_owner(live) else {
        return Ok(None);
    };
    let managed = format!(
        "{target} is managed by {} {} (label {})",
        owner.kind, owner.id, owner.label
    );
    let consequence = match change {
        Change::Modify => owner.reverts(),
        Change::Delete => format!(
            "the owning {} {} will recreate it at its next reconcile",
            owner.kind, owner.id
        ),
    };
    if change == Change::Modify
        && let Some(skip) = owner_skips(live)
    {
        return Ok(Some(format!(
            "{managed}, but it carries {skip}, so {} leaves it alone",
            owner.controller
        )));
    }
    if overwrite {
        return Ok(Some(format!(
            "{managed}: done anyway (overwrite); {consequence} unless the change is made in \
             its source too"
        )));
    }
    let verb = match change {
        Change::Modify => "change",
        Change::Delete => "delete",
    };
    Err(ToolError::Failed(format!(
        "refused: {managed}; {consequence}. Make the change where the {} gets it from (its \
         source, e.g. Git), or suspend it first (suspend_flux_reconciliation), or pass \
         overwrite=true to {verb} it anyway.",
        owner.kind
    )))
}

// ---- errors -----------------------------------------------------------------------------------

/// A failed write as the agent reads it: `target` and the refused verb first, then the API
/// server's words; for RBAC the verb this identity lacks, for a field-manager conflict each
/// field with its manager, for a 422 each invalid field. Secret `values` are masked out of
/// the text (an invalid-value message can quote one).
pub fn write_error(
    cluster: &Cluster,
    e: kube::Error,
    target: &str,
    verb: &str,
    values: &[SecretBytes],
) -> ToolError {
    let context = cluster.context();
    let causes = e
        .status()
        .and_then(|s| s.details.as_ref())
        .map(|d| d.causes.clone())
        .unwrap_or_default();
    let text = if e.is_forbidden() {
        // The API server names the verb it checked (`cannot create resource ...`): a
        // server-side apply of a new object needs `create` as well as `patch`.
        let message = e.status().map(|s| s.message.as_str()).unwrap_or_default();
        let verb = refused_verb(message).unwrap_or(verb);
        format!(
            "context {context}: {target}: this identity may not {verb} it (RBAC): {e}; grant \
             the {verb} verb on this resource, or use a context that has it"
        )
    } else if e.is_conflict() && !causes.is_empty() {
        let fields: Vec<String> = causes
            .iter()
            .map(|c| format!("  {}: {}", c.field, c.message))
            .collect();
        format!(
            "context {context}: {target}: {verb} refused, fields owned by other managers:\n{}\n\
             ({e}). Apply never takes fields from another manager: change them where that \
             manager gets them (a Flux controller: its source), or use \
             patch_kubernetes_resource, which does not claim ownership.",
            fields.join("\n")
        )
    } else if e.status_code() == Some(422) && !causes.is_empty() {
        let fields: Vec<String> = causes
            .iter()
            .map(|c| format!("  {}: {}", c.field, c.message))
            .collect();
        format!(
            "context {context}: {target}: {verb} refused as invalid: {e}\n{}",
            fields.join("\n")
        )
    } else if e.is_not_found() {
        format!("context {context}: {target}: {verb} failed, not found: {e}")
    } else {
        cluster
            .error_about(&format!("{target}: {verb} failed"), e)
            .to_string()
    };
    ToolError::Failed(mask_values(&text, values))
}

/// The verb of an RBAC refusal: `User "u" cannot patch resource "kustomizations" ...`.
fn refused_verb(message: &str) -> Option<&str> {
    let (_, rest) = message.split_once(" cannot ")?;
    let verb = rest.split_whitespace().next()?;
    verb.chars().all(|c| c.is_ascii_lowercase()).then_some(verb)
}

/// The values of every Secret in `obj` (itself, or a `kind: List` of them), each as written
/// and base64-decoded, to keep out of messages.
pub fn secret_values(obj: &Value) -> Vec<SecretBytes> {
    let mut out = Vec::new();
    collect_secret_values(obj, &mut out);
    out
}

fn collect_secret_values(v: &Value, out: &mut Vec<SecretBytes>) {
    let Some(map) = v.as_object() else {
        if let Some(items) = v.as_array() {
            items.iter().for_each(|i| collect_secret_values(i, out));
        }
        return;
    };
    let is_secret = map.get("kind").and_then(Value::as_str) == Some("Secret")
        && map.get("apiVersion").and_then(Value::as_str) == Some("v1");
    if is_secret {
        let mut add = |bytes: Vec<u8>| {
            if bytes.len() >= MIN_SECRET_LEN {
                out.push(SecretBytes::new(bytes));
            }
        };
        for field in ["data", "stringData"] {
            let values = map.get(field).and_then(Value::as_object);
            for text in values
                .into_iter()
                .flat_map(|m| m.values())
                .filter_map(Value::as_str)
            {
                add(text.as_bytes().to_vec());
                if field == "data"
                    && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(text)
                {
                    add(decoded);
                }
            }
        }
    }
    if let Some(items) = map.get("items") {
        collect_secret_values(items, out);
    }
}

/// Every string in a patch of a Secret (merge or strategic: its `data`/`stringData` values;
/// JSON patch: each operation's `value`), as written and base64-decoded: the values the patch
/// would store, to keep out of messages.
pub fn patch_values(patch: &Value) -> Vec<SecretBytes> {
    let mut out = Vec::new();
    let mut strings = Vec::new();
    collect_strings(patch, &mut strings);
    for text in strings {
        if text.len() >= MIN_SECRET_LEN {
            out.push(SecretBytes::new(text.as_bytes().to_vec()));
        }
        if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(text)
            && decoded.len() >= MIN_SECRET_LEN
        {
            out.push(SecretBytes::new(decoded));
        }
    }
    out
}

fn collect_strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Value::Object(m) => m.values().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}

/// `text` with every occurrence of a Secret value replaced by `<masked>`.
pub fn mask_values(text: &str, values: &[SecretBytes]) -> String {
    let mut out = text.to_string();
    for v in values {
        if let Ok(needle) = std::str::from_utf8(v.expose())
            && !needle.is_empty()
            && out.contains(needle)
        {
            out = out.replace(needle, "<masked>");
        }
    }
    out
}

// ---- many objects -----------------------------------------------------------------------------

/// `work` on every item, at most [`WORKERS`] at a time on scoped threads (a `Cluster` is
/// shared across threads and its client reuses connections), results in the items' order.
/// Small batches run on the calling thread.
pub fn each<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if items.len() <= 1 {
        return items.iter().map(&work).collect();
    }
    let next = AtomicUsize::new(0);
    let workers = items.len().min(WORKERS);
    let mut slots: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    let finished: Vec<Vec<(usize, R)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        done.push((i, work(item)));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(done) => done,
                // A panicking worker is a bug: let the call's panic handling answer it.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    for (i, r) in finished.into_iter().flatten() {
        slots[i] = Some(r);
    }
    slots.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labelled(labels: Value) -> Value {
        json!({"metadata": {"name": "podinfo", "namespace": "apps", "labels": labels}})
    }

    #[test]
    fn objects_are_named_kind_namespace_name() {
        assert_eq!(
            object_name("Deployment", "apps", "web"),
            "Deployment/apps/web"
        );
        assert_eq!(object_name("ClusterRole", "", "view"), "ClusterRole/view");
    }

    #[test]
    fn owners_come_from_the_flux_labels() {
        let ks = labelled(json!({
            "kustomize.toolkit.fluxcd.io/name": "apps",
            "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
        }));
        let owner = flux_owner(&ks).expect("owned");
        assert_eq!(
            (owner.kind, owner.id.as_str(), owner.controller),
            ("Kustomization", "flux-system/apps", "kustomize-controller")
        );
        let hr = labelled(json!({"helm.toolkit.fluxcd.io/name": "podinfo",
                                 "helm.toolkit.fluxcd.io/namespace": "apps"}));
        assert_eq!(flux_owner(&hr).map(|o| o.kind), Some("HelmRelease"));
        let rset = labelled(json!({"resourceset.fluxcd.controlplane.io/name": "tenants",
                                   "resourceset.fluxcd.controlplane.io/namespace": "flux-system"}));
        let o = flux_owner(&rset).expect("owned");
        assert_eq!(
            (o.kind, o.id.as_str()),
            ("ResourceSet", "flux-system/tenants")
        );
        let instance = labelled(json!({"fluxcd.controlplane.io/name": "flux",
                                       "fluxcd.controlplane.io/namespace": "flux-system"}));
        assert_eq!(flux_owner(&instance).map(|o| o.kind), Some("FluxInstance"));
        let partial = labelled(json!({"resourceset.fluxcd.io/tenant": "a"}));
        let o = flux_owner(&partial).expect("owned");
        assert_eq!(o.label, "resourceset.fluxcd.io/tenant");
        assert_eq!(flux_owner(&labelled(json!({"app": "web"}))), None);
        // `app.kubernetes.io/part-of: flux` is not an owner label.
        assert_eq!(
            flux_owner(&labelled(json!({"app.kubernetes.io/part-of": "flux"}))),
            None
        );
    }

    #[test]
    fn the_guard_refuses_without_overwrite_and_says_what_the_owner_does() {
        let ks = labelled(json!({
            "kustomize.toolkit.fluxcd.io/name": "apps",
            "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
        }));
        let err = guard("Deployment/apps/podinfo", &ks, Change::Modify, false)
            .expect_err("refused")
            .to_string();
        assert!(
            err.starts_with(
                "refused: Deployment/apps/podinfo is managed by Kustomization flux-system/apps \
                 (label kustomize.toolkit.fluxcd.io/name); kustomize-controller will revert \
                 the change at the Kustomization's next reconcile."
            ),
            "{err}"
        );
        assert!(err.contains("overwrite=true to change it anyway"), "{err}");
        let err = guard("Deployment/apps/podinfo", &ks, Change::Delete, false)
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("the owning Kustomization flux-system/apps will recreate it"),
            "{err}"
        );
        assert!(err.contains("overwrite=true to delete it anyway"), "{err}");
        let note = guard("Deployment/apps/podinfo", &ks, Change::Modify, true)
            .expect("allowed")
            .expect("a note");
        assert!(note.contains("done anyway (overwrite)"), "{note}");
        assert_eq!(
            guard(
                "X/y",
                &labelled(json!({"app": "web"})),
                Change::Delete,
                false
            ),
            Ok(None)
        );
        let hr = labelled(json!({"helm.toolkit.fluxcd.io/name": "podinfo",
                                 "helm.toolkit.fluxcd.io/namespace": "apps"}));
        let err = guard("Service/apps/podinfo", &hr, Change::Modify, false)
            .expect_err("refused")
            .to_string();
        assert!(err.contains("at the release's next upgrade"), "{err}");
    }

    #[test]
    fn an_object_the_owner_leaves_alone_may_change_but_not_go() {
        let mut ks = labelled(json!({
            "kustomize.toolkit.fluxcd.io/name": "apps",
            "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
        }));
        ks["metadata"]["annotations"] =
            json!({"kustomize.toolkit.fluxcd.io/reconcile": "disabled"});
        let note = guard("ConfigMap/apps/x", &ks, Change::Modify, false)
            .expect("allowed")
            .expect("note");
        assert!(
            note.ends_with(
                "but it carries kustomize.toolkit.fluxcd.io/reconcile: disabled, so \
                 kustomize-controller leaves it alone"
            ),
            "{note}"
        );
        assert!(guard("ConfigMap/apps/x", &ks, Change::Delete, false).is_err());
    }

    #[test]
    fn the_refused_verb_is_read_from_the_server_message() {
        assert_eq!(
            refused_verb(
                "configmaps \"x\" is forbidden: User \"u\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"apps\""
            ),
            Some("create")
        );
        assert_eq!(refused_verb("forbidden"), None);
        assert_eq!(refused_verb("x cannot Do it"), None);
    }

    #[test]
    fn secret_values_are_masked_out_of_messages() {
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "data": {"password": "aHVudGVyMjI="}, "stringData": {"token": "s3cr3t-token", "x": "ab"}});
        let values = secret_values(&secret);
        assert_eq!(
            values.len(),
            3,
            "base64, decoded, stringData; `ab` is too short"
        );
        let text = "Invalid value: \"hunter22\" and aHVudGVyMjI= and s3cr3t-token, ab";
        assert_eq!(
            mask_values(text, &values),
            "Invalid value: \"<masked>\" and <masked> and <masked>, ab"
        );
        let list = json!({"apiVersion": "v1", "kind": "List", "items": [secret]});
        assert_eq!(secret_values(&list).len(), 3);
        assert!(
            secret_values(&json!({"apiVersion": "v1", "kind": "ConfigMap",
                                      "data": {"a": "hunter22"}}))
            .is_empty()
        );
        assert!(!format!("{values:?}").contains("hunter22"));
    }

    #[test]
    fn the_values_of_a_secret_patch_are_masked_too() {
        let patch = json!({"data": {"password": "aHVudGVyMjI="}});
        let values = patch_values(&patch);
        assert_eq!(
            mask_values("Invalid value: \"hunter22\"", &values),
            "Invalid value: \"<masked>\""
        );
        let ops = json!([{"op": "replace", "path": "/stringData/token", "value": "s3cr3t-token"}]);
        assert_eq!(
            mask_values("got s3cr3t-token", &patch_values(&ops)),
            "got <masked>"
        );
    }

    #[test]
    fn each_keeps_the_order_of_the_items() {
        let items: Vec<u64> = (0..100).collect();
        let doubled = each(&items, |i| i * 2);
        assert_eq!(doubled, (0..100).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(each(&[7u64], |i| i + 1), [8]);
        assert!(each(&[] as &[u64], |i| *i).is_empty());
    }
}
