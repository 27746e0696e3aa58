//! `trace_kubernetes_resource`: `flux trace` for the agent, in one call. From any object up
//! the delivery chain: its owners (a Pod's ReplicaSet and Deployment), the Flux object that
//! manages it, what manages that, up to the root, and each Flux object's sources and failing
//! dependencies; then the first failure named at the top with its message verbatim. The walk
//! itself (which labels and annotations name a manager, how a hop is read) lives in
//! `objects/trace.rs`; this file is the tool: arguments, the first object, the answer's text.

use serde_json::{Value, json};

use super::cluster;
use super::objects::trace::{self, Trace};
use super::{Args, Ctx, Tool, ToolError, flux, pods};

pub const TOOL: Tool = Tool {
    name: "trace_kubernetes_resource",
    title: "Trace a resource up its Flux delivery chain",
    description: "Traces any object (a Pod, Deployment, ConfigMap, HelmRelease, GitRepository, \
        ...) up the Flux delivery chain in one call, like flux trace: its owners (Pod to \
        Deployment), the Kustomization or HelmRelease that manages it (Flux owner labels, Helm \
        release annotations), what manages that up to the root (FluxInstance, ResourceSet), \
        and each one's source (GitRepository, OCIRepository, HelmChart and its repository). \
        For every object: Ready status, reason and message verbatim, suspension, the last \
        applied and attempted revisions, a source's URL and artifact revision. The first \
        failure (the failing object furthest upstream) comes first, with its message. Says so \
        plainly when Flux does not manage the object. Start here for a broken workload.",
    input_schema,
    annotations: super::ToolAnnotations {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: true,
    },
    access: super::Access::Read,
    in_cluster: true,
    call,
};

fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "apiVersion": {
                "type": "string",
                "description": "API version or group, e.g. apps/v1; optional, the kind is \
                    looked up."
            },
            "kind": {
                "type": "string",
                "description": "Kind, e.g. Deployment, Pod, HelmRelease, GitRepository (plural \
                    and short names work too)."
            },
            "name": {
                "type": "string",
                "description": "Object name."
            },
            "namespace": {
                "type": "string",
                "description": "Namespace; default: the context's namespace."
            },
            cluster::CONTEXT_ARG: cluster::context_property(),
        },
        "required": ["kind", "name"],
        "additionalProperties": false
    })
}

fn call(ctx: &Ctx, args: &Args) -> Result<String, ToolError> {
    let kind = args.str("kind")?.trim();
    let name = args.str("name")?.trim();
    let api_version = args.opt_str("apiVersion")?.map(str::trim);
    let namespace = args.opt_str("namespace")?.map(str::trim);
    let cluster = ctx.cluster(args)?;
    let resource = flux::resolve_kind(&cluster, api_version, kind).map_err(|e| cluster.error(e))?;
    let namespace = match (resource.namespaced, namespace) {
        (false, _) => "",
        (true, Some(ns)) => ns,
        (true, None) => cluster.default_namespace(),
    };
    let start = match cluster.get(&resource, namespace, name) {
        Ok(obj) => obj,
        Err(e) if e.is_not_found() => {
            return Err(ToolError::Failed(pods::object_not_found(
                &cluster, &resource, namespace, name,
            )));
        }
        Err(e) => return Err(cluster.error(e)),
    };
    let walked = Trace::walk(&cluster, start);
    Ok(trace::render(&walked, cluster.context()))
}
