//! Finding Flux in a cluster: the one rule `get_flux_instance` and `check` both apply, so the
//! two never disagree about whether and how Flux is installed. With the Flux Operator API
//! served: its FluxInstances (and FluxReports); when there is no FluxInstance: the Flux
//! controllers found as Deployments in `flux-system` or labelled
//! `app.kubernetes.io/part-of=flux` in any namespace (`flux install --namespace` puts them
//! elsewhere), so plain `flux install` clusters are found too.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use serde_json::{Map, Value, json};

use super::cluster::Cluster;
use super::objects::diagnosis;
use crate::kube;
use crate::kube::discovery::Resource;
use crate::kube::list::ListOptions;

/// The Flux Operator's API group.
pub const OPERATOR_GROUP: &str = "fluxcd.controlplane.io";
/// Where `flux install` and the Flux Operator put the controllers by default.
pub const FLUX_NAMESPACE: &str = "flux-system";
/// The label `flux install` and the Flux Operator put on every controller.
pub const PART_OF_FLUX: &str = "app.kubernetes.io/part-of=flux";

/// What was looked at when Flux counts as not found, for messages.
pub fn not_found_reason() -> String {
    format!(
        "no FluxInstance, no Deployment in namespace {FLUX_NAMESPACE} and none labelled \
         {PART_OF_FLUX} in any namespace"
    )
}

/// How Flux is installed in a cluster, as far as this identity can see.
#[derive(Debug, Default)]
pub struct Installation {
    /// The cluster serves the Flux Operator API (`fluxcd.controlplane.io`).
    pub operator_served: bool,
    /// Every FluxInstance, in all namespaces.
    pub instances: Vec<Value>,
    /// Every FluxReport, in all namespaces.
    pub reports: Vec<Value>,
    /// The Flux controllers found as Deployments, each summarised by [`controller`]; looked
    /// for only when there is no FluxInstance.
    pub controllers: Vec<Value>,
    /// What could not be read without making the answer wrong: a FluxReport refused, one of
    /// the two Deployment lists failed.
    pub notes: Vec<String>,
}

impl Installation {
    /// False when there is nothing at all: no FluxInstance, no FluxReport, no controller.
    pub fn found(&self) -> bool {
        !self.instances.is_empty() || !self.reports.is_empty() || !self.controllers.is_empty()
    }

    /// The namespace Flux runs in: the FluxReport's (else the FluxInstance's) namespace, else
    /// the first namespace (by name) with a controller, else `flux-system`.
    pub fn namespace(&self) -> String {
        if let Some(first) = self.reports.first().or(self.instances.first()) {
            return first["metadata"]["namespace"]
                .as_str()
                .unwrap_or(FLUX_NAMESPACE)
                .to_string();
        }
        self.controllers
            .iter()
            .map(|c| c["namespace"].as_str().unwrap_or(""))
            .min()
            .unwrap_or(FLUX_NAMESPACE)
            .to_string()
    }
}

/// The Flux version the operator reports (the FluxReport's distribution), else the one the
/// FluxInstance last applied (its newest history entry).
pub fn version(instances: &[Value], reports: &[Value]) -> Option<String> {
    reports
        .first()
        .and_then(|r| r["spec"]["distribution"]["version"].as_str())
        .filter(|v| !v.is_empty())
        .or_else(|| {
            instances
                .first()
                .and_then(|i| i["status"]["history"][0]["metadata"]["flux"].as_str())
        })
        .map(str::to_string)
}

/// Finds Flux in `cluster`. Errors are the cluster's: discovery failing, the FluxInstance list
/// refused, or both Deployment lists failing ("not found" would then be a lie). A refused
/// FluxReport or one failed Deployment list is a note instead: the rest still answers.
pub fn detect(cluster: &Cluster) -> Result<Installation, kube::Error> {
    let discovery = cluster.discovery()?;
    let mut found = Installation {
        operator_served: discovery.has_group(OPERATOR_GROUP),
        ..Installation::default()
    };
    if found.operator_served {
        found.instances = list_kind(cluster, "FluxInstance")?;
        // The report adds facts; without it (RBAC, an older operator) the instance still
        // answers the question, so its failure is a note.
        match list_kind(cluster, "FluxReport") {
            Ok(r) => found.reports = r,
            Err(e) => found
                .notes
                .push(format!("the FluxReport cannot be read: {e}")),
        }
    }
    if found.instances.is_empty() {
        find_controllers(cluster, &mut found)?;
    }
    Ok(found)
}

/// Every object of a Flux Operator kind, in all namespaces (there is one of each in practice).
fn list_kind(cluster: &Cluster, kind: &str) -> Result<Vec<Value>, kube::Error> {
    let resource = cluster.resolve(Some(OPERATOR_GROUP), kind)?;
    cluster.list_all(&resource, &ListOptions::default())
}

/// Deployments in `flux-system` and those labelled `app.kubernetes.io/part-of=flux` anywhere,
/// each once, in the order found.
fn find_controllers(cluster: &Cluster, found: &mut Installation) -> Result<(), kube::Error> {
    let deployments = Resource::new("apps/v1", "Deployment", "deployments", true);
    let mut seen = BTreeSet::new();
    let mut failures = Vec::new();
    let scopes = [
        ListOptions {
            namespace: Some(FLUX_NAMESPACE.to_string()),
            ..ListOptions::default()
        },
        ListOptions {
            label_selector: Some(PART_OF_FLUX.to_string()),
            ..ListOptions::default()
        },
    ];
    for options in &scopes {
        let result = cluster.list(&deployments, options, |d| {
            let ns = d["metadata"]["namespace"].as_str().unwrap_or("");
            let name = d["metadata"]["name"].as_str().unwrap_or("");
            if seen.insert((ns.to_string(), name.to_string())) {
                found.controllers.push(controller(&d));
            }
            ControlFlow::Continue(())
        });
        if let Err(e) = result {
            failures.push(e);
        }
    }
    if failures.len() == scopes.len() {
        // Both lists failed: nothing can be said, and "not found" would be a lie.
        return Err(failures.swap_remove(0));
    }
    for e in failures {
        found
            .notes
            .push(format!("some Deployments could not be listed: {e}"));
    }
    Ok(())
}

/// One Deployment as a controller summary: name, namespace, readiness, replicas, the
/// `app.kubernetes.io/version` label, images, and why it is not available when it is not.
pub fn controller(d: &Value) -> Value {
    let labels = &d["metadata"]["labels"];
    let containers = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let images: Vec<&str> = containers
        .iter()
        .filter_map(|c| c["image"].as_str())
        .collect();
    let wanted = d["spec"]["replicas"].as_u64().unwrap_or(1);
    let ready = d["status"]["readyReplicas"].as_u64().unwrap_or(0);
    let available = diagnosis::condition(d, "Available");
    let mut out = Map::new();
    out.insert("name".into(), d["metadata"]["name"].clone());
    out.insert("namespace".into(), d["metadata"]["namespace"].clone());
    out.insert("ready".into(), json!(wanted > 0 && ready >= wanted));
    out.insert("replicas".into(), json!(format!("{ready}/{wanted}")));
    if let Some(v) = labels["app.kubernetes.io/version"].as_str() {
        out.insert("version".into(), json!(v));
    }
    out.insert("images".into(), json!(images));
    if let Some(a) = available.filter(|a| a.status != "True") {
        out.insert("available".into(), json!(a.text()));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_controller_not_available_says_why() {
        let deployment = |available: Value| {
            json!({"metadata": {"name": "source-controller", "namespace": "flux-system",
                    "labels": {"app.kubernetes.io/version": "v2.7.2"}},
                "spec": {"replicas": 1, "template": {"spec": {"containers": [
                    {"image": "ghcr.io/fluxcd/source-controller:v1.7.2"}]}}},
                "status": {"readyReplicas": 0, "conditions": [
                    {"type": "Progressing", "status": "False", "reason": "Other"},
                    available]}})
        };
        let down = controller(&deployment(json!({"type": "Available", "status": "False",
            "reason": "MinimumReplicasUnavailable",
            "message": "Deployment does not have minimum availability."})));
        assert_eq!(
            down,
            json!({"name": "source-controller", "namespace": "flux-system", "ready": false,
                "replicas": "0/1", "version": "v2.7.2",
                "images": ["ghcr.io/fluxcd/source-controller:v1.7.2"],
                "available": "MinimumReplicasUnavailable: Deployment does not have minimum availability."})
        );
        let up = controller(&deployment(json!({"type": "Available", "status": "True"})));
        assert!(up.get("available").is_none(), "{up}");
        let unknown = controller(&deployment(
            json!({"type": "Available", "status": "Unknown"}),
        ));
        assert_eq!(unknown["available"], "status Unknown");
    }

    #[test]
    fn the_version_comes_from_the_report_else_the_instance_history() {
        let instance = json!({"status": {"history": [{"metadata": {"flux": "v2.7.1"}}]}});
        let report = json!({"spec": {"distribution": {"version": "v2.7.2"}}});
        let empty_report = json!({"spec": {"distribution": {"version": ""}}});
        let instances = std::slice::from_ref(&instance);
        assert_eq!(
            version(instances, std::slice::from_ref(&report)).as_deref(),
            Some("v2.7.2")
        );
        assert_eq!(
            version(instances, std::slice::from_ref(&empty_report)).as_deref(),
            Some("v2.7.1")
        );
        assert_eq!(version(instances, &[]).as_deref(), Some("v2.7.1"));
        assert_eq!(version(&[], &[]), None);
    }

    #[test]
    fn the_flux_namespace_follows_report_instance_then_controllers() {
        let in_ns = |ns: &str| json!({"metadata": {"namespace": ns}});
        let controller_in = |ns: &str| json!({"name": "c", "namespace": ns});
        let mut flux = Installation::default();
        assert!(!flux.found());
        assert_eq!(flux.namespace(), "flux-system");
        flux.controllers = vec![controller_in("zeta"), controller_in("alpha")];
        assert!(flux.found());
        assert_eq!(flux.namespace(), "alpha");
        flux.instances = vec![in_ns("ops")];
        assert_eq!(flux.namespace(), "ops");
        flux.reports = vec![in_ns("flux")];
        assert_eq!(flux.namespace(), "flux");
    }
}
