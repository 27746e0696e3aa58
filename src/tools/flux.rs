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
use super::objects::{diagnosis, is_flux_group};
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
        // One round trip for both lists.
        let (instances, reports) = super::cluster::both(
            || list_kind(cluster, "FluxInstance"),
            || list_kind(cluster, "FluxReport"),
        );
        found.instances = instances?;
        // The report adds facts; without it (RBAC, an older operator) the instance still
        // answers the question, so its failure is a note.
        match reports {
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
    // Both lists at once (one round trip), taken in the scopes' order.
    let lists = super::cluster::each(&scopes, |options| {
        let mut summaries = Vec::new();
        cluster
            .list(&deployments, options, |d| {
                let ns = d["metadata"]["namespace"].as_str().unwrap_or("");
                let name = d["metadata"]["name"].as_str().unwrap_or("");
                summaries.push(((ns.to_string(), name.to_string()), controller(&d)));
                ControlFlow::Continue(())
            })
            .map(|_| summaries)
    });
    for result in lists {
        match result {
            Ok(summaries) => {
                for (key, summary) in summaries {
                    if seen.insert(key) {
                        found.controllers.push(summary);
                    }
                }
            }
            Err(e) => failures.push(e),
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

/// The resource for `kind` (any form kubectl accepts: `HelmRelease`, `helmreleases`, `hr`)
/// in `api_version` (a version, a group, or `None`). A kind that several groups serve, asked
/// for without apiVersion, is the Flux group's: this server is about Flux, and kubectl's group
/// order would pick `helm.cattle.io`'s `HelmChart` on k3s.
pub fn resolve_kind(
    cluster: &Cluster,
    api_version: Option<&str>,
    kind: &str,
) -> Result<Resource, kube::Error> {
    let resolved = cluster.resolve(api_version, kind)?;
    if api_version.is_some_and(|v| !v.trim().is_empty()) || is_flux_group(&resolved.group) {
        return Ok(resolved);
    }
    let Ok(discovery) = cluster.discovery() else {
        return Ok(resolved);
    };
    Ok(discovery
        .matches(kind)
        .into_iter()
        .find(|r| is_flux_group(&r.group))
        .unwrap_or(resolved))
}

/// The Deployment of the controller that reconciles a Flux kind (see
/// [`diagnosis::controller`]): the one of that name in `flux-system`, else the first labelled
/// as that Flux component in any namespace (`flux install --namespace` puts the controllers
/// elsewhere). `None` when there is none; errors are the cluster's.
pub fn controller_deployment(
    cluster: &Cluster,
    controller: &str,
) -> Result<Option<Value>, kube::Error> {
    let deployments = Resource::new("apps/v1", "Deployment", "deployments", true);
    match cluster.get(&deployments, FLUX_NAMESPACE, controller) {
        Ok(d) => return Ok(Some(d)),
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e),
    }
    // `flux install` labels each controller as a component of Flux; the operator's own chart
    // names it.
    let selector = if controller == "flux-operator" {
        "app.kubernetes.io/name=flux-operator".to_string()
    } else {
        format!("{PART_OF_FLUX},app.kubernetes.io/component={controller}")
    };
    let options = ListOptions {
        label_selector: Some(selector),
        limit: Some(1),
        ..ListOptions::default()
    };
    Ok(cluster.list_all(&deployments, &options)?.into_iter().next())
}

/// Whether a Flux controller's log line is about `kind` `namespace/name`. The controllers log
/// JSON (`--log-encoding=json`, the default), and controller-runtime puts the object on every
/// reconcile line twice: as `"<Kind>":{"name":..,"namespace":..}` and as `"name"` and
/// `"namespace"` with `"controllerKind"`; notification-controller's event server names it in
/// `eventInvolvedObject`. With `--log-encoding=console` the same fields end the line as a
/// JSON object after a tab.
pub fn log_line_is_about(line: &str, kind: &str, namespace: &str, name: &str) -> bool {
    // Most lines are about other objects: skip them before parsing.
    if !line.contains(name) {
        return false;
    }
    let json = if line.starts_with('{') {
        line
    } else {
        match line.rfind("\t{") {
            Some(i) => &line[i + 1..],
            None => return false,
        }
    };
    let Ok(v) = serde_json::from_str::<Value>(json.trim_end()) else {
        return false;
    };
    let is = |o: &Value| {
        o["name"].as_str() == Some(name)
            && o["namespace"]
                .as_str()
                .is_none_or(|ns| ns.is_empty() || ns == namespace)
    };
    (v[kind].is_object() && is(&v[kind]))
        || (v["controllerKind"].as_str() == Some(kind) && is(&v))
        || (v["eventInvolvedObject"]["kind"].as_str() == Some(kind)
            && is(&v["eventInvolvedObject"]))
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

    #[test]
    fn controller_log_lines_about_one_object() {
        let hr = r#"{"level":"error","msg":"Reconciler error","controller":"helmrelease","controllerKind":"HelmRelease","HelmRelease":{"name":"redis","namespace":"apps"},"namespace":"apps","name":"redis","error":"x"}"#;
        assert!(log_line_is_about(hr, "HelmRelease", "apps", "redis"));
        assert!(!log_line_is_about(hr, "HelmRelease", "other", "redis"));
        assert!(!log_line_is_about(hr, "HelmRelease", "apps", "redi"));
        assert!(!log_line_is_about(hr, "Kustomization", "apps", "redis"));
        let kind_only = r#"{"msg":"m","Kustomization":{"name":"apps","namespace":"flux-system"}}"#;
        assert!(log_line_is_about(
            kind_only,
            "Kustomization",
            "flux-system",
            "apps"
        ));
        let event = r#"{"logger":"event-server","msg":"dispatching event","eventInvolvedObject":{"kind":"HelmRelease","name":"redis"}}"#;
        assert!(log_line_is_about(event, "HelmRelease", "apps", "redis"));
        let console = "2026-11-21T05:00:00.000Z\tERROR\tReconciler error\t{\"controller\": \"kustomization\", \"Kustomization\": {\"name\":\"apps\",\"namespace\":\"flux-system\"}}";
        assert!(log_line_is_about(
            console,
            "Kustomization",
            "flux-system",
            "apps"
        ));
        assert!(!log_line_is_about(
            "apps is mentioned in plain text",
            "Kustomization",
            "flux-system",
            "apps"
        ));
        assert!(!log_line_is_about(
            "{\"name\":\"apps\"",
            "Kustomization",
            "flux-system",
            "apps"
        ));
    }
}
