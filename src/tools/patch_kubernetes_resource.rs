//! `patch_kubernetes_resource`: one patch of one object (or its `status`), as `kubectl patch`:
//! JSON merge (default), JSON patch or strategic merge (built-in kinds only: refused for a
//! custom resource before anything is sent, with the reason), with a field manager of its own
//! so Flux controllers do not take the patched fields over. The Flux-owner guard of apply
//! holds (`overwrite`), except for `status`, which no owner applies. The answer names the fields that changed, never their values; a
//! deleting object whose last finalizer the patch removed is reported gone.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::writes::{self, Change, object_name};
use super::{Args, Cluster, Ctx, Tool, ToolError, cluster, record_write};
use crate::kube::client::{PatchOptions, PatchType, Subresource};
use crate::kube::discovery::Resource;

/// Changed field paths listed in an answer.
const CHANGED_PATHS_MAX: usize = 30;

pub const TOOL: Tool = Tool {
    name: "patch_kubernetes_resource",
    title: "Patch a Kubernetes resource",
    description: "Patches one Kubernetes object, as kubectl patch does. type: merge (JSON merge \
        patch, the default: maps merge, lists are replaced, null deletes), json (RFC 6902 \
        operations) or strategic (built-in kinds only: lists merged by key). patch is YAML or \
        JSON. subresource status patches the status (e.g. clear a stuck HelmRelease status). \
        Typical uses: remove a stuck finalizer ({\"metadata\":{\"finalizers\":null}}), restart \
        a Deployment ({\"spec\":{\"template\":{\"metadata\":{\"annotations\":\
        {\"kubectl.kubernetes.io/restartedAt\":\"<now>\"}}}}}). Objects managed by Flux are \
        refused unless overwrite is true (their controller reverts changes). The answer names \
        the fields that changed.",
    input_schema,
    // Not destructive, as upstream classes it: it changes named fields and keeps the object.
    // Not idempotent: a JSON patch that adds to a list (`/-`) adds again on every call.
    annotations: super::ToolAnnotations {
        read_only: false,
        destructive: false,
        idempotent: false,
        open_world: true,
    },
    access: super::Access::Write,
    in_cluster: true,
    call,
};

fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "apiVersion": {
                "type": "string",
                "description": "API version, e.g. apps/v1 or helm.toolkit.fluxcd.io/v2 (a group \
                    alone picks its preferred version)."
            },
            "kind": {"type": "string", "description": "Kind, e.g. Deployment, HelmRelease."},
            "name": {"type": "string", "description": "Object name."},
            "namespace": {
                "type": "string",
                "description": "Namespace; default: the context's namespace (ignored for \
                    cluster-scoped kinds)."
            },
            "patch": {
                "type": "string",
                "description": "The patch, YAML or JSON: a map for merge and strategic, a list \
                    of operations for json."
            },
            "type": {
                "type": "string",
                "enum": ["merge", "json", "strategic"],
                "default": "merge",
                "description": "merge (default), json or strategic (built-in kinds only)."
            },
            "subresource": {
                "type": "string",
                "enum": ["status"],
                "description": "status to patch the status subresource."
            },
            "dry_run": {
                "type": "boolean",
                "default": false,
                "description": "Server-side dry run: validated, nothing persisted."
            },
            "overwrite": {
                "type": "boolean",
                "default": false,
                "description": "Patch an object that a Flux controller manages anyway."
            },
            cluster::CONTEXT_ARG: cluster::context_property(),
        },
        "required": ["kind", "name", "patch"],
        "additionalProperties": false
    })
}

fn call(ctx: &Ctx, args: &Args) -> Result<String, ToolError> {
    let kind = args.str("kind")?;
    let name = args.str("name")?.trim();
    let patch_type = match args.opt_str("type")?.map(str::trim) {
        None | Some("merge") => PatchType::Merge,
        Some("json") => PatchType::Json,
        Some("strategic") => PatchType::Strategic,
        Some(other) => {
            return Err(ToolError::InvalidArgument(format!(
                "type {other:?} is not a patch type: merge, json or strategic"
            )));
        }
    };
    let subresource = match args.opt_str("subresource")?.map(str::trim) {
        None => None,
        Some("status") => Some(Subresource::Status),
        Some(other) => {
            return Err(ToolError::InvalidArgument(format!(
                "subresource {other:?} cannot be patched here: only status"
            )));
        }
    };
    let patch = read_patch(args, patch_type)?;
    let dry_run = args.opt_bool("dry_run")?.unwrap_or(false);
    let overwrite = args.opt_bool("overwrite")?.unwrap_or(false);
    let cluster = ctx.cluster(args)?;
    let resource = cluster
        .resolve(args.opt_str("apiVersion")?, kind)
        .map_err(|e| cluster.error(e))?;
    let namespace = writes::namespace_of(&resource, args.opt_str("namespace")?, &cluster);
    let label = object_name(&resource.kind, &namespace, name);
    if patch_type == PatchType::Strategic
        && let Some(why) = custom_resource(&cluster, &resource)
    {
        return Err(ToolError::InvalidArgument(format!(
            "a strategic merge patch cannot be applied to {label}: {why}; Kubernetes knows \
             the list merge keys of built-in kinds only (from their Go types), and the API \
             server refuses it (415). Use type merge (lists are replaced whole) or json \
             (operations on list items)."
        )));
    }
    let live = writes::get_live(&cluster, &resource, &namespace, name)?;
    // A status is written by the object's own controller, never applied by its owner: the
    // guard is about the fields an owner applies.
    let note = match subresource {
        Some(Subresource::Status) => None,
        None => writes::guard(&label, &live, Change::Modify, overwrite)?,
    };
    let mut values = writes::secret_values(&live);
    if resource.group.is_empty() && resource.kind == "Secret" {
        values.extend(writes::patch_values(&patch));
    }
    let options = PatchOptions {
        dry_run,
        subresource,
        ..PatchOptions::default()
    };
    let after = cluster
        .patch(&resource, &namespace, name, patch_type, &patch, &options)
        .map_err(|e| match e.status_code() {
            // A custom resource our check took for a built-in one (its CRD unreadable).
            Some(415) if patch_type == PatchType::Strategic => ToolError::InvalidArgument(format!(
                "the API server refused a strategic merge patch of {label} ({e}): it is a \
                 custom resource; use type merge or json"
            )),
            _ => writes::write_error(&cluster, e, &label, "patch", &values),
        })?;
    let suffix = if dry_run { " (dry run)" } else { "" };
    let what = match subresource {
        Some(Subresource::Status) => format!("{label} status"),
        None => label.clone(),
    };
    let changed = changed_paths(&live, &after);
    let mut out = if changed.is_empty() {
        record_write(&label, format!("unchanged{suffix}"));
        format!("{what} unchanged{suffix}: the patch changed nothing\n")
    } else {
        record_write(&label, format!("patched{suffix}"));
        let shown: Vec<&str> = changed
            .iter()
            .take(CHANGED_PATHS_MAX)
            .map(String::as_str)
            .collect();
        let more = changed.len().saturating_sub(CHANGED_PATHS_MAX);
        let mut text = format!("{what} patched{suffix}; changed: {}", shown.join(", "));
        if more > 0 {
            text.push_str(&format!(" and {more} more"));
        }
        text.push('\n');
        text
    };
    if !dry_run {
        out.push_str(&finalized(
            &cluster, &resource, &namespace, name, &live, &after,
        ));
    }
    if let Some(note) = note {
        out.push_str(&format!("note: {note}\n"));
    }
    Ok(out)
}

/// The `patch` argument as JSON: a YAML or JSON text (an object or list sent as is is taken
/// too, since some clients send JSON arguments unquoted), of the shape the type needs.
fn read_patch(args: &Args, patch_type: PatchType) -> Result<Value, ToolError> {
    let value = match args.0.get("patch") {
        Some(v @ (Value::Object(_) | Value::Array(_))) => v.clone(),
        _ => {
            let text = args.str("patch")?;
            serde_norway::from_str::<Value>(text).map_err(|e| {
                ToolError::InvalidArgument(format!("patch is neither JSON nor YAML: {e}"))
            })?
        }
    };
    match (patch_type, &value) {
        (PatchType::Json, Value::Array(ops)) => {
            for (i, op) in ops.iter().enumerate() {
                let ok = op["op"].is_string() && op["path"].is_string();
                if !ok {
                    return Err(ToolError::InvalidArgument(format!(
                        "patch operation {} needs op and path, e.g. {{\"op\": \"remove\", \
                         \"path\": \"/metadata/finalizers\"}}",
                        i + 1
                    )));
                }
            }
            Ok(value)
        }
        (PatchType::Json, _) => Err(ToolError::InvalidArgument(
            "a json patch is a list of operations, e.g. [{\"op\": \"remove\", \"path\": \
             \"/metadata/finalizers/0\"}]"
                .into(),
        )),
        (_, Value::Object(_)) => Ok(value),
        (_, _) => Err(ToolError::InvalidArgument(
            "a merge or strategic patch is a map of the fields to change, e.g. \
             {\"spec\": {\"suspend\": true}}; a list of operations needs type json"
                .into(),
        )),
    }
}

/// Why `resource` is a custom resource (`None`: built-in). Its CustomResourceDefinition
/// settles it; when that cannot be read (RBAC), the group does: built-in groups are the core
/// group and `*.k8s.io` names without a CRD, plus the few unsuffixed ones.
fn custom_resource(cluster: &Cluster, resource: &Resource) -> Option<String> {
    let crd_name = format!("{}.{}", resource.plural, resource.group);
    let crds = Resource::new(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
    );
    if !resource.group.is_empty() {
        match cluster.get(&crds, "", &crd_name) {
            Ok(_) => {
                return Some(format!(
                    "{} is a custom resource (CustomResourceDefinition {crd_name})",
                    resource.kind
                ));
            }
            Err(e) if e.is_not_found() => return None,
            Err(_) => {}
        }
    }
    let g = resource.group.as_str();
    let builtin = g.is_empty()
        || matches!(
            g,
            "apps" | "batch" | "policy" | "autoscaling" | "extensions"
        )
        || g.ends_with(".k8s.io");
    (!builtin).then(|| {
        format!(
            "{} ({}) is a custom resource",
            resource.kind,
            resource.api_version()
        )
    })
}

/// Field paths whose value differs between `before` and `after` (`metadata.finalizers`,
/// `spec.template.metadata.annotations.kubectl.kubernetes.io/restartedAt`), leaving out what
/// the server changes on every write. Paths only: a value may be a Secret's.
fn changed_paths(before: &Value, after: &Value) -> Vec<String> {
    let mut out = BTreeSet::new();
    diff_paths(before, after, String::new(), &mut out);
    out.into_iter()
        .filter(|p| {
            !matches!(
                p.as_str(),
                "metadata.resourceVersion" | "metadata.generation" | "metadata.managedFields"
            ) && !p.starts_with("metadata.managedFields")
        })
        .collect()
}

fn diff_paths(a: &Value, b: &Value, path: String, out: &mut BTreeSet<String>) {
    if a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let child = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff_paths(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    child,
                    out,
                );
            }
        }
        _ => {
            out.insert(if path.is_empty() {
                "(the object)".into()
            } else {
                path
            });
        }
    }
}

/// For an object that was being deleted: whether the patch let it go (its last finalizer
/// removed), checked with one read.
fn finalized(
    cluster: &Cluster,
    resource: &Resource,
    namespace: &str,
    name: &str,
    before: &Value,
    after: &Value,
) -> String {
    let deleting = before.pointer("/metadata/deletionTimestamp").is_some();
    let finalizers = |o: &Value| {
        o.pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    };
    if !deleting || finalizers(after) > 0 {
        return String::new();
    }
    match writes::find_live(cluster, resource, namespace, name) {
        Ok(None) => "Its deletion was pending on finalizers; with none left it is now deleted.\n"
            .to_string(),
        Ok(Some(_)) => "Its deletion was pending; no finalizer is left, so the API server \
            removes it next.\n"
            .to_string(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn patches_are_read_as_yaml_or_json_of_the_right_shape() {
        let m = args(json!({"patch": "spec:\n  suspend: true\n"}));
        assert_eq!(
            read_patch(&Args(&m), PatchType::Merge),
            Ok(json!({"spec": {"suspend": true}}))
        );
        let m =
            args(json!({"patch": "[{\"op\": \"remove\", \"path\": \"/metadata/finalizers\"}]"}));
        assert!(read_patch(&Args(&m), PatchType::Json).is_ok());
        assert!(
            read_patch(&Args(&m), PatchType::Merge)
                .unwrap_err()
                .to_string()
                .contains("needs type json")
        );
        let m = args(json!({"patch": {"metadata": {"finalizers": null}}}));
        assert_eq!(
            read_patch(&Args(&m), PatchType::Strategic),
            Ok(json!({"metadata": {"finalizers": null}}))
        );
        let m = args(json!({"patch": "[{\"path\": \"/a\"}]"}));
        assert!(
            read_patch(&Args(&m), PatchType::Json)
                .unwrap_err()
                .to_string()
                .contains("operation 1 needs op and path")
        );
        let m = args(json!({"patch": "{a: [unclosed"}));
        assert!(
            read_patch(&Args(&m), PatchType::Merge)
                .unwrap_err()
                .to_string()
                .starts_with("patch is neither JSON nor YAML")
        );
    }

    #[test]
    fn changed_paths_name_fields_not_values() {
        let before = json!({"metadata": {"name": "a", "resourceVersion": "1",
            "finalizers": ["x"], "annotations": {"a": "1"}}, "data": {"password": "b2xk"}});
        let after = json!({"metadata": {"name": "a", "resourceVersion": "2",
            "annotations": {"a": "1", "kubectl.kubernetes.io/restartedAt": "now"}},
            "data": {"password": "bmV3"}});
        assert_eq!(
            changed_paths(&before, &after),
            [
                "data.password",
                "metadata.annotations.kubectl.kubernetes.io/restartedAt",
                "metadata.finalizers"
            ]
        );
        assert!(changed_paths(&before, &before).is_empty());
    }
}
