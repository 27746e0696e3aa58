//! `get_flux_instance`: the state of Flux in a cluster. With the Flux Operator: its
//! FluxInstance and FluxReport (through the objects pipeline: lean, events, diagnosis) with the
//! report's key facts first; without it: the Flux controllers found as Deployments, so plain
//! `flux install` clusters are served too. Then the pod metrics of the Flux namespace when
//! metrics-server answers.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::flux::{self, FLUX_NAMESPACE, Installation};
use super::objects::{Batch, diagnosis, yaml};
use super::pods::pod_table;
use super::{Args, Cluster, Ctx, Tool, ToolError, cluster};
use crate::kube;
use crate::kube::client::PodSelection;

/// Pods whose metrics are shown.
const METRICS_PODS: usize = 100;

pub const TOOL: Tool = Tool {
    name: "get_flux_instance",
    title: "Get the Flux installation",
    description: "Reports how Flux is installed and doing in the cluster; call it first. With the \
        Flux Operator: the key facts (Flux version and distribution, each controller's \
        readiness and image, per kind how many objects are failing or suspended, the sync \
        status), then the FluxInstance and FluxReport objects with their recent events. \
        Without the Flux Operator: the Flux controllers found as Deployments with their \
        versions and readiness. Ends with the CPU (millicores) and memory (MiB) of the pods in \
        the Flux namespace when metrics-server is available.",
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
            cluster::CONTEXT_ARG: cluster::context_property(),
        },
        "required": [],
        "additionalProperties": false
    })
}

fn call(ctx: &Ctx, args: &Args) -> Result<String, ToolError> {
    let cluster = ctx.cluster(args)?;
    let found = flux::detect(&cluster).map_err(|e| cluster.error(e))?;
    let metrics_ns = found.namespace();
    let mut out = if found.instances.is_empty() {
        without_instance(&cluster, found)?
    } else {
        with_instance(&cluster, found)
    };
    out.push_str(&pod_metrics(&cluster, &metrics_ns));
    Ok(out)
}

/// Key facts, then the FluxInstance and FluxReport documents.
fn with_instance(cluster: &Cluster, found: Installation) -> String {
    let mut facts = instance_facts(cluster.context(), &found.instances, &found.reports);
    // Masked whatever --mask-secrets says, as upstream does: nothing here needs a value.
    let mut batch = Batch::new(cluster, true, None);
    for obj in found.instances.into_iter().chain(found.reports) {
        batch.add(obj);
    }
    batch.finish();
    facts.extend(
        found
            .notes
            .iter()
            .chain(&batch.notes())
            .map(|n| format!("note: {n}")),
    );
    let mut out = String::from("---\n");
    out.push_str(&yaml::comment(&facts.join("\n")));
    batch.render_into(&mut out);
    out
}

/// No FluxInstance: say so, then what is there (controllers found as Deployments, a
/// FluxReport if the operator wrote one). No Flux at all is an error that says what to do.
fn without_instance(cluster: &Cluster, found: Installation) -> Result<String, ToolError> {
    let why = if found.operator_served {
        "the Flux Operator API (fluxcd.controlplane.io) is served but there is no FluxInstance"
    } else {
        "the Flux Operator is not installed (the cluster does not serve fluxcd.controlplane.io)"
    };
    if !found.found() {
        return Err(ToolError::Failed(format!(
            "Flux was not found in context {}: {}. Install Flux (flux install, or the Flux \
             Operator with a FluxInstance), or check that this is the right cluster (see \
             get_kubeconfig_contexts).",
            cluster.context(),
            flux::not_found_reason()
        )));
    }
    let mut head = vec![format!(
        "no FluxInstance in context {}: {why}",
        cluster.context()
    )];
    head.extend(controller_facts(&found.controllers));
    head.extend(found.notes.iter().map(|n| format!("note: {n}")));
    let mut out = String::from("---\n");
    out.push_str(&yaml::comment(&head.join("\n")));
    out.push_str(&yaml::value(&json!({ "controllers": found.controllers })));
    if !found.reports.is_empty() {
        let mut batch = Batch::new(cluster, true, None);
        for obj in found.reports {
            batch.add(obj);
        }
        batch.finish();
        batch.render_into(&mut out);
    }
    Ok(out)
}

fn namespace_of(obj: &Value) -> String {
    obj["metadata"]["namespace"]
        .as_str()
        .unwrap_or(FLUX_NAMESPACE)
        .to_string()
}

/// The key facts: the instance's health, the distribution, each component, the reconcilers
/// that have failing or suspended objects, the sync.
fn instance_facts(context: &str, instances: &[Value], reports: &[Value]) -> Vec<String> {
    let mut lines = Vec::new();
    let report = reports.first();
    let spec = report.map(|r| &r["spec"]);
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let version =
        flux::version(instances, reports).unwrap_or_else(|| "version unknown".to_string());
    lines.push(format!("Flux {version} in context {context}"));
    for inst in instances {
        let h = diagnosis::health(inst);
        // The message shortened: the FluxInstance document below carries it verbatim.
        let state = match h.problem_condition() {
            Some(c) => format!("{}: {}", h.state.label(), c.brief()),
            None => h.state.label().to_string(),
        };
        lines.push(format!(
            "FluxInstance {}/{}: {state}",
            namespace_of(inst),
            text(&inst["metadata"]["name"])
        ));
    }
    let Some(spec) = spec else {
        lines.push("no FluxReport yet: the Flux Operator has not reported on this instance".into());
        return lines;
    };
    let d = &spec["distribution"];
    let mut dist = Vec::new();
    for (label, key) in [
        ("status", "status"),
        ("managed by", "managedBy"),
        ("entitlement", "entitlement"),
    ] {
        if let Some(v) = d[key].as_str().filter(|v| !v.is_empty()) {
            dist.push(format!("{label} {v}"));
        }
    }
    if !dist.is_empty() {
        lines.push(format!("distribution: {}", dist.join(", ")));
    }
    let op = &spec["operator"];
    let c = &spec["cluster"];
    let mut platform = Vec::new();
    if let Some(v) = op["version"].as_str() {
        platform.push(format!("operator {v}"));
    }
    if let Some(v) = c["serverVersion"].as_str() {
        platform.push(format!("Kubernetes {v}"));
    }
    if let Some(n) = c["nodes"].as_u64() {
        platform.push(format!("{n} nodes"));
    }
    if let Some(p) = c["platform"].as_str() {
        platform.push(p.to_string());
    }
    if !platform.is_empty() {
        lines.push(platform.join(", "));
    }
    let components = spec["components"].as_array().cloned().unwrap_or_default();
    let ready = components
        .iter()
        .filter(|c| c["ready"].as_bool() == Some(true))
        .count();
    if !components.is_empty() {
        lines.push(format!("components: {ready} of {} ready", components.len()));
    }
    for comp in &components {
        let image = text(&comp["image"]);
        let image = image.split('@').next().unwrap_or("");
        let state = if comp["ready"].as_bool() == Some(true) {
            "ready".to_string()
        } else {
            format!("NOT READY: {}", text(&comp["status"]))
        };
        lines.push(format!("- {}: {state} ({image})", text(&comp["name"])));
    }
    let mut healthy = Vec::new();
    let mut troubled = Vec::new();
    for r in spec["reconcilers"].as_array().into_iter().flatten() {
        let s = &r["stats"];
        let (failing, suspended) = (
            s["failing"].as_u64().unwrap_or(0),
            s["suspended"].as_u64().unwrap_or(0),
        );
        let kind = text(&r["kind"]);
        if failing == 0 && suspended == 0 {
            healthy.push(kind);
        } else {
            troubled.push(format!(
                "- {kind}: {failing} failing, {suspended} suspended, {} running",
                s["running"].as_u64().unwrap_or(0)
            ));
        }
    }
    if !troubled.is_empty() {
        lines.push("reconcilers with failing or suspended objects:".into());
        lines.extend(troubled);
    }
    if !healthy.is_empty() {
        lines.push(format!(
            "reconcilers with none failing or suspended: {}",
            healthy.join(", ")
        ));
    }
    let sync = &spec["sync"];
    if sync.is_object() {
        let state = if sync["ready"].as_bool() == Some(true) {
            "ready"
        } else {
            "NOT READY"
        };
        lines.push(format!(
            "sync {}: {state}: {} (source {}, path {})",
            text(&sync["id"]),
            text(&sync["status"]),
            text(&sync["source"]),
            text(&sync["path"])
        ));
    }
    lines
}

/// The lines about the controllers found as Deployments: how many are ready, which versions.
fn controller_facts(controllers: &[Value]) -> Vec<String> {
    if controllers.is_empty() {
        return vec!["no Flux controller Deployment found".into()];
    }
    let versions: BTreeSet<&str> = controllers
        .iter()
        .filter_map(|c| c["version"].as_str())
        .collect();
    let ready = controllers
        .iter()
        .filter(|c| c["ready"] == json!(true))
        .count();
    let mut lines = vec![format!(
        "Flux controllers found as Deployments: {ready} of {} ready",
        controllers.len()
    )];
    if !versions.is_empty() {
        lines.push(format!(
            "Flux version (app.kubernetes.io/version of the controllers): {}",
            versions.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    lines
}

/// The pods' CPU and memory in `namespace`, in `get_kubernetes_metrics`' table (as comment
/// lines: the answer stays a stream of YAML documents), or one line saying why there are none.
fn pod_metrics(cluster: &Cluster, namespace: &str) -> String {
    let selection = PodSelection::Matching {
        label_selector: None,
        limit: Some(METRICS_PODS),
    };
    let text = match cluster.pod_metrics(Some(namespace), &selection) {
        Ok(pods) if pods.is_empty() => {
            format!("pod metrics: metrics-server reports no pods in namespace {namespace}")
        }
        Ok(mut pods) => {
            pods.sort_by(|a, b| {
                a["metadata"]["name"]
                    .as_str()
                    .cmp(&b["metadata"]["name"].as_str())
            });
            pod_table(namespace, &pods)
        }
        Err(e @ kube::Error::MetricsUnavailable { .. }) => {
            format!("pod metrics: not available: {e}")
        }
        Err(e) => format!("pod metrics: cannot be read: {e}"),
    };
    format!("---\n{}", yaml::comment(text.trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_facts_put_problems_first_and_count_healthy_kinds_once() {
        let instance = json!({"metadata": {"name": "flux", "namespace": "flux-system"},
            "status": {"conditions": [{"type": "Ready", "status": "False",
                "reason": "ReconciliationFailed", "message": "pull failed"}],
                "history": [{"metadata": {"flux": "v2.7.1"}}]}});
        let report = json!({"metadata": {"namespace": "flux-system"}, "spec": {
            "distribution": {"version": "v2.7.2", "status": "Installed"},
            "components": [
                {"name": "source-controller", "ready": true,
                 "image": "ghcr.io/fluxcd/source-controller:v1.7.2@sha256:abc"},
                {"name": "helm-controller", "ready": false, "status": "Failed: crash loop",
                 "image": "ghcr.io/fluxcd/helm-controller:v1.4.2"}],
            "reconcilers": [
                {"kind": "Kustomization", "stats": {"failing": 2, "running": 5, "suspended": 1}},
                {"kind": "Alert", "stats": {"failing": 0, "running": 2, "suspended": 0}},
                {"kind": "Provider", "stats": {"failing": 0, "running": 2, "suspended": 0}}],
            "sync": {"id": "kustomization/flux-system", "ready": false, "status": "not ready",
                     "source": "https://example.com/fleet.git", "path": "clusters/prod"}}});
        assert_eq!(
            instance_facts("dev", std::slice::from_ref(&instance), &[report]),
            [
                "Flux v2.7.2 in context dev",
                "FluxInstance flux-system/flux: failing: ReconciliationFailed: pull failed",
                "distribution: status Installed",
                "components: 1 of 2 ready",
                "- source-controller: ready (ghcr.io/fluxcd/source-controller:v1.7.2)",
                "- helm-controller: NOT READY: Failed: crash loop (ghcr.io/fluxcd/helm-controller:v1.4.2)",
                "reconcilers with failing or suspended objects:",
                "- Kustomization: 2 failing, 1 suspended, 5 running",
                "reconcilers with none failing or suspended: Alert, Provider",
                "sync kustomization/flux-system: NOT READY: not ready (source https://example.com/fleet.git, path clusters/prod)",
            ]
        );
        let without_report = instance_facts("dev", &[instance], &[]);
        assert_eq!(without_report[0], "Flux v2.7.1 in context dev");
        assert!(
            without_report[2].starts_with("no FluxReport yet"),
            "{without_report:?}"
        );
    }
}
