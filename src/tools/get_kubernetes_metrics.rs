//! `get_kubernetes_metrics`: CPU and memory of pods from metrics-server (`metrics.k8s.io`),
//! per container with pod totals, in millicores and MiB next to the raw quantities (the table
//! is `pods::pod_table`, shared with `get_flux_instance`).

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::cluster::{Cluster, context_property};
use super::pods::{container_status, not_found, pod_table};
use super::{Args, Ctx, Tool, ToolError};
use crate::kube::Error;
use crate::kube::client::PodSelection;
use crate::kube::discovery::Resource;

pub const TOOL: Tool = Tool {
    name: "get_kubernetes_metrics",
    title: "Get pod CPU and memory",
    description: "Gets the current CPU and memory use of pods from metrics-server: one pod by \
        name, or the pods of a namespace (optionally filtered by a label selector). Shows each \
        container in millicores and MiB next to the raw quantities, with pod totals. Needs \
        metrics-server in the cluster.",
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
            "pod_name": {
                "type": "string",
                "description": "One pod's name; leave empty for every pod of the namespace."
            },
            "pod_namespace": {
                "type": "string",
                "description": "The namespace of the pods."
            },
            "pod_selector": {
                "type": "string",
                "description": "Label selector for the pods, e.g. app=podinfo,tier!=db (comma-separated)."
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "default": DEFAULT_LIMIT,
                "description": "At most this many pods."
            },
            "context": context_property()
        },
        "required": ["pod_namespace"],
        "additionalProperties": false
    })
}

const DEFAULT_LIMIT: u64 = 100;

fn call(ctx: &Ctx, args: &Args) -> Result<String, ToolError> {
    let namespace = args.str("pod_namespace")?;
    let name = args.opt_str("pod_name")?;
    let selector = args.opt_str("pod_selector")?;
    if name.is_some() && selector.is_some() {
        return Err(ToolError::InvalidArgument(
            "pass pod_name or pod_selector, not both".to_string(),
        ));
    }
    let limit = match args.opt_u64("limit")? {
        None | Some(0) => DEFAULT_LIMIT,
        Some(n) => n,
    };
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let cluster = ctx.cluster(args)?;
    let selection = match name {
        Some(n) => PodSelection::Named(n.to_string()),
        // One more than asked, to know whether the list was cut.
        None => PodSelection::Matching {
            label_selector: selector.map(str::to_string),
            limit: Some(limit.saturating_add(1)),
        },
    };
    let mut items = match cluster.pod_metrics(Some(namespace), &selection) {
        Ok(items) => items,
        Err(e @ Error::MetricsUnavailable { .. }) => return Err(unavailable(&cluster, &e)),
        Err(e) if e.is_not_found() && name.is_some() => {
            return Err(no_metrics_for(
                &cluster,
                namespace,
                name.unwrap_or_default(),
                e,
            ));
        }
        Err(e) => return Err(cluster.error(e)),
    };
    let cut = items.len() > limit;
    items.truncate(limit);
    if items.is_empty() {
        let matching = selector
            .map(|s| format!(" matching {s}"))
            .unwrap_or_default();
        return Ok(format!(
            "No pod metrics in namespace {namespace}{matching}: no such pods are running \
             (metrics-server reports running pods only)."
        ));
    }
    let mut out = pod_table(namespace, &items);
    if cut {
        let _ = writeln!(
            out,
            "Showing the first {limit} pods; more exist: narrow with pod_selector or raise limit."
        );
    }
    Ok(out)
}

/// metrics-server is missing or not answering: say so, and how to check.
fn unavailable(cluster: &Cluster, e: &Error) -> ToolError {
    ToolError::Failed(format!(
        "context {}: {e}. Check with `kubectl get apiservice v1beta1.metrics.k8s.io` (Available \
         must be True) and `kubectl -n kube-system get deployment metrics-server`; without it \
         there are no pod metrics, but logs and resources can still be read.",
        cluster.context()
    ))
}

/// A named pod without metrics: either it does not exist (suggest close names) or
/// metrics-server has not sampled it (not running, or started less than a scrape ago).
fn no_metrics_for(cluster: &Cluster, namespace: &str, name: &str, e: Error) -> ToolError {
    let pods = Resource::new("v1", "Pod", "pods", true);
    match cluster.get(&pods, namespace, name) {
        Ok(pod) => {
            let phase = pod
                .pointer("/status/phase")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            // Why it has no metrics is usually a container that is not running.
            let states: Vec<String> = pod
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c.get("name").and_then(Value::as_str))
                .filter_map(|c| {
                    container_status(&pod, c)
                        .and_then(|s| s.summary())
                        .map(|s| format!("container {c} {s}"))
                })
                .collect();
            let detail = if states.is_empty() {
                String::new()
            } else {
                format!("; {}", states.join("; "))
            };
            ToolError::Failed(format!(
                "context {}: metrics-server has no metrics for pod {namespace}/{name} (phase \
                 {phase}{detail}): it reports running containers only, from about a minute \
                 after they start",
                cluster.context()
            ))
        }
        Err(get) if get.is_not_found() => {
            ToolError::Failed(not_found(cluster, &pods, namespace, name))
        }
        Err(_) => cluster.error(e),
    }
}
