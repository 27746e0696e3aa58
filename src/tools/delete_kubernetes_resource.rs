//! `delete_kubernetes_resource`: deletes one object. Unlike upstream, an object a Flux
//! controller manages is refused unless `overwrite` (its owner would recreate it). The delete
//! carries the uid that was checked as a precondition, so an object recreated under the same
//! name in between is not the one deleted. An object held by finalizers is reported as
//! "deletion pending, finalizers: ...".

use serde_json::{Value, json};

use super::writes::{self, Change, object_name};
use super::{Args, Ctx, Tool, ToolError, cluster, record_write};
use crate::kube::client::DeleteOptions;

pub const TOOL: Tool = Tool {
    name: "delete_kubernetes_resource",
    title: "Delete a Kubernetes resource",
    description: "Deletes one Kubernetes object (default propagation: dependents are garbage \
        collected). namespace is required for namespaced kinds; omit it for cluster-scoped \
        ones. Objects managed by Flux are refused unless overwrite is true (the owning \
        Kustomization or HelmRelease would recreate them: remove them from the source \
        instead, or suspend the owner first). An object held by finalizers is reported as \
        deletion pending with its finalizers. dry_run checks without deleting.",
    input_schema,
    // Destructive: the object and its dependents are gone. Idempotent: deleting it again
    // finds nothing and changes nothing.
    annotations: super::ToolAnnotations {
        read_only: false,
        destructive: true,
        idempotent: true,
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
                "description": "API version, e.g. v1, apps/v1, kustomize.toolkit.fluxcd.io/v1."
            },
            "kind": {"type": "string", "description": "Kind, e.g. ConfigMap, Deployment."},
            "name": {"type": "string", "description": "Object name."},
            "namespace": {
                "type": "string",
                "description": "Namespace (required for namespaced kinds; omit for \
                    cluster-scoped ones)."
            },
            "dry_run": {
                "type": "boolean",
                "default": false,
                "description": "Server-side dry run: checked, nothing deleted."
            },
            "overwrite": {
                "type": "boolean",
                "default": false,
                "description": "Delete an object that a Flux controller manages anyway (it will \
                    be recreated unless removed from its source)."
            },
            cluster::CONTEXT_ARG: cluster::context_property(),
        },
        "required": ["apiVersion", "kind", "name"],
        "additionalProperties": false
    })
}

fn call(ctx: &Ctx, args: &Args) -> Result<String, ToolError> {
    let kind = args.str("kind")?;
    let name = args.str("name")?.trim();
    let dry_run = args.opt_bool("dry_run")?.unwrap_or(false);
    let overwrite = args.opt_bool("overwrite")?.unwrap_or(false);
    let cluster = ctx.cluster(args)?;
    let resource = cluster
        .resolve(args.opt_str("apiVersion")?, kind)
        .map_err(|e| cluster.error(e))?;
    let given = args.opt_str("namespace")?.map(str::trim);
    let namespace = match (resource.namespaced, given) {
        (false, _) => String::new(),
        (true, Some(ns)) => ns.to_string(),
        // A delete does not guess: the context's namespace may not be the one meant.
        (true, None) => {
            return Err(ToolError::InvalidArgument(format!(
                "{} is namespaced: pass namespace (the context's default namespace is {})",
                resource.kind,
                cluster.default_namespace()
            )));
        }
    };
    let label = object_name(&resource.kind, &namespace, name);
    let live = writes::get_live(&cluster, &resource, &namespace, name)?;
    let note = writes::guard(&label, &live, Change::Delete, overwrite)?;
    let options = DeleteOptions {
        dry_run,
        uid: live["metadata"]["uid"].as_str().map(str::to_string),
        ..DeleteOptions::default()
    };
    let values = writes::secret_values(&live);
    let answer = cluster
        .delete(&resource, &namespace, name, &options)
        .map_err(|e| writes::write_error(&cluster, e, &label, "delete", &values))?;
    let suffix = if dry_run { " (dry run)" } else { "" };
    // The server answers with the object while finalizers hold it (deletionTimestamp set),
    // else with a Success Status (or, for some kinds, the object as it was).
    let finalizers: Vec<&str> = answer
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let deleting = answer.pointer("/metadata/deletionTimestamp").is_some();
    let grace = answer
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let mut out = if deleting && !finalizers.is_empty() {
        record_write(&label, format!("deletion pending{suffix}"));
        format!(
            "{label} deletion pending{suffix}, finalizers: {}. Their controllers remove them \
             once they have cleaned up; if one is stuck (its controller is gone), \
             patch_kubernetes_resource can remove it.\n",
            finalizers.join(", ")
        )
    } else if deleting && grace > 0 {
        // A pod (or any object with a grace period) terminates before it goes.
        record_write(&label, format!("terminating{suffix}"));
        format!("{label} deleted{suffix}: terminating within its grace period of {grace}s\n")
    } else {
        record_write(&label, format!("deleted{suffix}"));
        format!("{label} deleted{suffix}\n")
    };
    if let Some(note) = note {
        out.push_str(&format!("note: {note}\n"));
    }
    Ok(out)
}
