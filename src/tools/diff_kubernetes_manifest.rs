//! `diff_kubernetes_manifest`: what applying a manifest would change, object by object, without
//! changing anything: a server-side apply dry run (`dryRun=All`), forced as `flux diff` forces
//! it so that fields of other managers do not block the preview, with the field manager of the
//! Flux controller that applies the object (named by `owner_*`, or read from the live object's
//! Flux labels), else ours. The owner's own changes are made first (its labels, its
//! `commonMetadata`, a Kustomization's `targetNamespace` and inline `postBuild.substitute`).
//! Each object reads `created`, `unchanged` or `changed` with a unified diff of the YAML
//! (server-set fields and status left out, Secret values masked). A read in effect, but the
//! dry run is a PATCH on the wire, so the read-only build leaves this tool out.

use serde_json::{Map, Value, json};

use super::diff;
use super::manifest::{self, Object};
use super::objects::yaml;
use super::reconcile;
use super::writes::{self, object_name};
use super::{Args, Cluster, Ctx, Tool, ToolError, cluster};
use crate::kube::client::{APPLY_FIELD_MANAGER, ApplyOptions};
use crate::kube::discovery::Resource;

pub const TOOL: Tool = Tool {
    name: "diff_kubernetes_manifest",
    title: "Diff a Kubernetes manifest",
    description: "Shows what applying a multi-document YAML manifest would change, without \
        changing anything: a server-side apply dry run per object (forced, with the field \
        manager of the Flux controller that owns the object, as flux diff does), answered \
        per object as created, unchanged, or changed with a unified diff of the YAML \
        (managedFields, status and server-set fields left out, Secret values masked). Pass \
        owner_kind/owner_name/owner_namespace (a Kustomization, HelmRelease, ResourceSet or \
        FluxInstance) to preview objects as that owner would apply them (its labels, \
        commonMetadata, targetNamespace, inline postBuild.substitute); without them the \
        owner is read from each live object's Flux labels.",
    input_schema,
    annotations: super::ToolAnnotations {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: true,
    },
    access: super::Access::DryRun,
    in_cluster: true,
    call,
};

fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "yaml_content": {
                "type": "string",
                "description": "The manifest: one or more YAML documents separated by ---, or JSON."
            },
            "owner_kind": {
                "type": "string",
                "description": "The Flux object that would apply the manifest: Kustomization, \
                    HelmRelease, ResourceSet or FluxInstance (with owner_name)."
            },
            "owner_name": {"type": "string", "description": "Name of the owner."},
            "owner_namespace": {
                "type": "string",
                "description": "Namespace of the owner; default: the context's namespace."
            },
            cluster::CONTEXT_ARG: cluster::context_property(),
        },
        "required": ["yaml_content"],
        "additionalProperties": false
    })
}

/// The Flux object a manifest is previewed through, and what it does to every object it
/// applies.
struct Owner {
    label: String,
    manager: &'static str,
    /// Its ownership labels and `commonMetadata.labels`.
    labels: Map<String, Value>,
    /// `commonMetadata.annotations`.
    annotations: Map<String, Value>,
    target_namespace: Option<String>,
    /// A Kustomization's inline `postBuild.substitute`.
    substitute: Option<Map<String, Value>>,
    /// `substituteFrom` is set: variables may come from ConfigMaps or Secrets not read here,
    /// so unknown ones are left as written rather than emptied.
    substitute_from: bool,
    /// What the owner does that the preview does not, for the answer's header.
    not_applied: Vec<&'static str>,
}

/// The label prefix and field manager of each owner kind.
fn owner_kind(kind: &str) -> Option<(&'static str, &'static str)> {
    match kind {
        "Kustomization" => Some(("kustomize.toolkit.fluxcd.io", "kustomize-controller")),
        "HelmRelease" => Some(("helm.toolkit.fluxcd.io", "helm-controller")),
        "ResourceSet" => Some(("resourceset.fluxcd.controlplane.io", "flux-operator")),
        "FluxInstance" => Some(("fluxcd.controlplane.io", "flux-operator")),
        _ => None,
    }
}

fn call(ctx: &Ctx, args: &Args) -> Result<String, ToolError> {
    let text = args.str("yaml_content")?;
    let objects = manifest::parse(text).map_err(ToolError::InvalidArgument)?;
    let cluster = ctx.cluster(args)?;
    let owner = match (args.opt_str("owner_kind")?, args.opt_str("owner_name")?) {
        (None, None) if args.opt_str("owner_namespace")?.is_none() => None,
        (Some(kind), Some(name)) => Some(read_owner(&cluster, args, kind, name.trim())?),
        _ => {
            return Err(ToolError::InvalidArgument(
                "owner_kind and owner_name go together (owner_namespace defaults to the \
                 context's namespace)"
                    .into(),
            ));
        }
    };
    let results = writes::each(&objects, |o| diff_one(&cluster, o, owner.as_ref()));
    let mut out = String::new();
    let header = match &owner {
        Some(o) => format!(
            "server-side dry run in context {}, forced, as {} applies it (field manager {})",
            cluster.context(),
            o.label,
            o.manager
        ),
        None => format!(
            "server-side dry run in context {}, forced; field manager: the Flux controller \
             that owns each object (from its labels), else {APPLY_FIELD_MANAGER}",
            cluster.context()
        ),
    };
    out.push_str(&yaml::comment(&header));
    if let Some(o) = &owner
        && !o.not_applied.is_empty()
    {
        out.push_str(&yaml::comment(&format!(
            "not applied in this preview: {}",
            o.not_applied.join(", ")
        )));
    }
    let mut counts = [0usize; 4];
    for r in &results {
        let (i, text) = match r {
            Outcome::Created(t) => (0, t),
            Outcome::Changed(t) => (1, t),
            Outcome::Unchanged(t) => (2, t),
            Outcome::Failed(t) => (3, t),
        };
        counts[i] += 1;
        out.push_str(text);
    }
    out.push_str(&format!(
        "# {} to create, {} to change, {} unchanged{}\n",
        counts[0],
        counts[1],
        counts[2],
        if counts[3] > 0 {
            format!(", {} could not be compared", counts[3])
        } else {
            String::new()
        }
    ));
    if counts[3] == results.len() {
        return Err(ToolError::Failed(out));
    }
    Ok(out)
}

/// The owner named by the arguments, read from the cluster.
fn read_owner(cluster: &Cluster, args: &Args, kind: &str, name: &str) -> Result<Owner, ToolError> {
    let resource = reconcile::resolve_flux(cluster, None, kind, TOOL.name)?;
    let Some((prefix, manager)) = owner_kind(&resource.kind) else {
        return Err(ToolError::InvalidArgument(format!(
            "owner_kind {kind:?}: a {} does not apply manifests; owners are Kustomization, \
             HelmRelease, ResourceSet and FluxInstance",
            resource.kind
        )));
    };
    let namespace = writes::namespace_of(&resource, args.opt_str("owner_namespace")?, cluster);
    let live = writes::get_live(cluster, &resource, &namespace, name)?;
    let mut labels = Map::new();
    labels.insert(format!("{prefix}/name"), json!(name));
    labels.insert(format!("{prefix}/namespace"), json!(namespace));
    let common = |k: &str| {
        live.pointer(&format!("/spec/commonMetadata/{k}"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    labels.extend(common("labels"));
    let spec_text = |p: &str| {
        live.pointer(p)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let mut not_applied = Vec::new();
    let (target_namespace, substitute, substitute_from) = match resource.kind.as_str() {
        "Kustomization" => {
            if live.pointer("/spec/patches").is_some() || live.pointer("/spec/images").is_some() {
                not_applied.push("spec.patches and spec.images (kustomize build)");
            }
            let from = live
                .pointer("/spec/postBuild/substituteFrom")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
            if from {
                not_applied.push("postBuild.substituteFrom (its variables are left as written)");
            }
            (
                spec_text("/spec/targetNamespace"),
                live.pointer("/spec/postBuild/substitute")
                    .and_then(Value::as_object)
                    .cloned(),
                from,
            )
        }
        "HelmRelease" => {
            if live.pointer("/spec/postRenderers").is_some() {
                not_applied.push("spec.postRenderers");
            }
            (spec_text("/spec/targetNamespace"), None, false)
        }
        _ => (None, None, false),
    };
    Ok(Owner {
        label: object_name(&resource.kind, &namespace, name),
        manager,
        labels,
        annotations: common("annotations"),
        target_namespace,
        substitute,
        substitute_from,
        not_applied,
    })
}

enum Outcome {
    Created(String),
    Changed(String),
    Unchanged(String),
    Failed(String),
}

fn diff_one(cluster: &Cluster, object: &Object, owner: Option<&Owner>) -> Outcome {
    let values = writes::secret_values(&object.value);
    let resource = match cluster.resolve(Some(&object.api_version), &object.kind) {
        Ok(r) => r,
        Err(e) => {
            let name = object_name(
                &object.kind,
                object.namespace.as_deref().unwrap_or_default(),
                &object.name,
            );
            return Outcome::Failed(format!(
                "{name} cannot be compared ({}): {e}\n",
                object.place
            ));
        }
    };
    let mut body = object.value.clone();
    if let Some(o) = owner {
        transform(&mut body, o, &resource);
    }
    let namespace = if !resource.namespaced {
        String::new()
    } else {
        body.pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map_or_else(|| cluster.default_namespace().to_string(), str::to_string)
    };
    if let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        if resource.namespaced {
            meta.insert("namespace".into(), json!(namespace));
        } else {
            meta.remove("namespace");
        }
    }
    let label = object_name(&resource.kind, &namespace, &object.name);
    let live = match writes::find_live(cluster, &resource, &namespace, &object.name) {
        Ok(v) => v,
        Err(e) => return failed(cluster, e, &label, &values),
    };
    let manager = match (owner, live.as_ref().and_then(writes::flux_owner)) {
        (Some(o), _) => o.manager,
        (None, Some(found)) => {
            // The controller applies its ownership labels: keep them in the configuration, or
            // the preview would show them removed.
            if let Some(live) = &live {
                keep_owner_labels(&mut body, live, found.label.split('/').next().unwrap_or(""));
            }
            found.controller
        }
        (None, None) => APPLY_FIELD_MANAGER,
    };
    let options = ApplyOptions {
        field_manager: manager.to_string(),
        force: true,
        dry_run: true,
    };
    let after = match cluster.apply(&resource, &namespace, &object.name, &body, &options) {
        Ok(v) => v,
        Err(e) => return failed(cluster, e, &label, &values),
    };
    let Some(live) = live else {
        return Outcome::Created(format!("{label} would be created\n"));
    };
    let mut old = diff::comparable(&live);
    let mut new = diff::comparable(&after);
    diff::mask_secret_pair(&mut old, &mut new);
    // Credentials outside Secrets (env literals, Helm values): masked on both sides, so a
    // change shows only when their length changes.
    super::objects::mask::mask_object(&mut old);
    super::objects::mask::mask_object(&mut new);
    let text = diff::unified(
        &diff::render(&old),
        &diff::render(&new),
        "live",
        "after apply",
    );
    if text.is_empty() {
        Outcome::Unchanged(format!("{label} unchanged\n"))
    } else {
        Outcome::Changed(format!(
            "{label} would change (field manager {manager}):\n{}",
            writes::mask_values(&text, &values)
        ))
    }
}

fn failed(
    cluster: &Cluster,
    e: crate::kube::Error,
    label: &str,
    values: &[crate::kube::SecretBytes],
) -> Outcome {
    let hint = if e.is_forbidden() {
        " (a server-side dry run needs the patch verb, and create for a new object, although \
         it changes nothing)"
    } else {
        ""
    };
    let err = writes::write_error(cluster, e, label, "dry-run apply", values);
    Outcome::Failed(format!("{err}{hint}\n"))
}

/// Copies the live object's labels of one owner prefix into the configuration.
fn keep_owner_labels(body: &mut Value, live: &Value, prefix: &str) {
    let Some(labels) = live.pointer("/metadata/labels").and_then(Value::as_object) else {
        return;
    };
    for (k, v) in labels {
        if k.split_once('/').is_some_and(|(p, _)| p == prefix) {
            set_metadata(body, "labels", k, v.clone());
        }
    }
}

/// Sets `metadata.<section>.<key>` (labels, annotations), making the section a map if it is
/// missing; the manifest is the agent's, so nothing here may assume its shape.
fn set_metadata(body: &mut Value, section: &str, key: &str, value: Value) {
    let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let entry = meta.entry(section).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    if let Some(map) = entry.as_object_mut() {
        map.insert(key.to_string(), value);
    }
}

/// What the owner does to an object before applying it: substitution (unless the object opts
/// out), the target namespace, the common metadata and the ownership labels.
fn transform(body: &mut Value, owner: &Owner, resource: &Resource) {
    let opted_out = ["annotations", "labels"].iter().any(|place| {
        body.pointer(&format!(
            "/metadata/{place}/kustomize.toolkit.fluxcd.io~1substitute"
        )) == Some(&json!("disabled"))
    });
    if let Some(vars) = &owner.substitute
        && !opted_out
    {
        substitute(body, vars, owner.substitute_from);
    }
    if let (Some(ns), true) = (&owner.target_namespace, resource.namespaced)
        && let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut)
    {
        meta.insert("namespace".into(), json!(ns));
    }
    for (k, v) in &owner.annotations {
        set_metadata(body, "annotations", k, v.clone());
    }
    for (k, v) in &owner.labels {
        set_metadata(body, "labels", k, v.clone());
    }
}

/// Flux's post-build substitution on every string of `v`: `${var}`, `${var:=default}` and
/// `${var:-default}`; `$${var}` stays as `${var}`. A variable with no value and no default
/// becomes empty, as in Flux, unless `keep_unknown` (its value may come from elsewhere).
fn substitute(v: &mut Value, vars: &Map<String, Value>, keep_unknown: bool) {
    match v {
        Value::String(s) if s.contains("${") => *s = substitute_text(s, vars, keep_unknown),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| substitute(i, vars, keep_unknown)),
        Value::Object(m) => m
            .values_mut()
            .for_each(|i| substitute(i, vars, keep_unknown)),
        _ => {}
    }
}

fn substitute_text(s: &str, vars: &Map<String, Value>, keep_unknown: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("${") {
        let escaped = at > 0 && rest.as_bytes()[at - 1] == b'$';
        let Some(close) = rest[at..].find('}') else {
            break;
        };
        let inner = &rest[at + 2..at + close];
        if escaped {
            out.push_str(&rest[..at - 1]);
            out.push_str(&rest[at..at + close + 1]);
        } else {
            out.push_str(&rest[..at]);
            let (name, default) = match inner.split_once(":=").or_else(|| inner.split_once(":-")) {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            let value = vars.get(name).map(|v| match v {
                Value::String(t) => t.clone(),
                other => other.to_string(),
            });
            match (value, default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) if keep_unknown => out.push_str(&rest[at..at + close + 1]),
                (None, None) => {}
            }
        }
        rest = &rest[at + close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn substitution_follows_flux() {
        let v = vars(json!({"cluster": "prod", "replicas": 3}));
        assert_eq!(substitute_text("env-${cluster}", &v, false), "env-prod");
        assert_eq!(substitute_text("${replicas}", &v, false), "3");
        assert_eq!(
            substitute_text("${region:=eu-west-1}", &v, false),
            "eu-west-1"
        );
        assert_eq!(
            substitute_text("${region:-eu}/${cluster}", &v, false),
            "eu/prod"
        );
        assert_eq!(substitute_text("a${missing}b", &v, false), "ab");
        assert_eq!(substitute_text("a${missing}b", &v, true), "a${missing}b");
        assert_eq!(
            substitute_text("keep $${cluster}", &v, false),
            "keep ${cluster}"
        );
        assert_eq!(
            substitute_text("open ${cluster", &v, false),
            "open ${cluster"
        );
        let mut obj = json!({"spec": {"host": "${cluster}.example.com", "n": [ "${replicas}" ]}});
        substitute(&mut obj, &v, false);
        assert_eq!(
            obj,
            json!({"spec": {"host": "prod.example.com", "n": ["3"]}})
        );
    }

    #[test]
    fn owners_add_their_labels_metadata_and_namespace() {
        let mut labels = Map::new();
        labels.insert("kustomize.toolkit.fluxcd.io/name".into(), json!("apps"));
        labels.insert("team".into(), json!("a"));
        let owner = Owner {
            label: "Kustomization/flux-system/apps".into(),
            manager: "kustomize-controller",
            labels,
            annotations: vars(json!({"note": "x"})),
            target_namespace: Some("prod".into()),
            substitute: Some(vars(json!({"v": "1"}))),
            substitute_from: false,
            not_applied: Vec::new(),
        };
        let cm = Resource::new("v1", "ConfigMap", "configmaps", true);
        let mut body = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "dev"}, "data": {"v": "${v}"}});
        transform(&mut body, &owner, &cm);
        assert_eq!(
            body,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "c", "namespace": "prod",
                    "labels": {"kustomize.toolkit.fluxcd.io/name": "apps", "team": "a"},
                    "annotations": {"note": "x"}},
                "data": {"v": "1"}})
        );
        let ns = Resource::new("v1", "Namespace", "namespaces", false);
        let mut body = json!({"metadata": {"name": "n",
            "annotations": {"kustomize.toolkit.fluxcd.io/substitute": "disabled"}}, "data": "${v}"});
        transform(&mut body, &owner, &ns);
        assert_eq!(body["data"], "${v}");
        assert!(body["metadata"].get("namespace").is_none());
        // Labels that are not a map in the agent's manifest do not break the preview.
        let mut odd = json!({"metadata": {"name": "n", "labels": "oops"}});
        transform(&mut odd, &owner, &ns);
        assert_eq!(odd["metadata"]["labels"]["team"], "a");
    }
}
