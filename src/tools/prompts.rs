//! The MCP prompts: step-by-step plans an assistant follows to find why a Flux Kustomization or
//! HelmRelease fails, written against our tools (with the per-call `context` argument when the
//! user names a cluster).

use serde_json::{Map, Value};

use crate::mcp::server::{InvalidParams, PromptArgument, PromptInfo, PromptReply};

const CLUSTER: &str =
    "Kubeconfig context of the cluster to inspect; the current context when omitted";

/// The arguments both prompts take, described for the object kind.
macro_rules! arguments_for {
    ($kind:literal) => {
        &[
            PromptArgument {
                name: "name",
                description: concat!("Name of the ", $kind),
                required: true,
            },
            PromptArgument {
                name: "namespace",
                description: concat!("Namespace of the ", $kind),
                required: true,
            },
            PromptArgument {
                name: "cluster",
                description: CLUSTER,
                required: false,
            },
        ]
    };
}

/// Every prompt, sorted by name.
pub const PROMPTS: &[PromptInfo] = &[
    PromptInfo {
        name: "debug_flux_helmrelease",
        title: "Debug a Flux HelmRelease",
        description: "A step-by-step plan to find why a Flux HelmRelease is failing or stuck: \
                      controllers, the release, its chart source, values, installed objects and logs.",
        arguments: arguments_for!("HelmRelease"),
    },
    PromptInfo {
        name: "debug_flux_kustomization",
        title: "Debug a Flux Kustomization",
        description: "A step-by-step plan to find why a Flux Kustomization is failing or stuck: \
                      controllers, the Kustomization, its source, dependencies, inventory and logs.",
        arguments: arguments_for!("Kustomization"),
    },
];

/// Render a prompt for `prompts/get`.
pub fn get(name: &str, args: &Map<String, Value>) -> Result<PromptReply, InvalidParams> {
    let Some(prompt) = PROMPTS.iter().find(|p| p.name == name) else {
        let known: Vec<&str> = PROMPTS.iter().map(|p| p.name).collect();
        return Err(InvalidParams(format!(
            "unknown prompt {name:?}; available prompts: {}",
            known.join(", ")
        )));
    };
    let read = |arg: &PromptArgument| -> Result<Option<String>, InvalidParams> {
        match args.get(arg.name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(other) => Err(InvalidParams(format!(
                "prompt {name}: argument {} must be a string, got {other}",
                arg.name
            ))),
        }
    };
    for key in args.keys() {
        if !prompt.arguments.iter().any(|a| a.name == key) {
            let valid: Vec<&str> = prompt.arguments.iter().map(|a| a.name).collect();
            return Err(InvalidParams(format!(
                "prompt {name}: unknown argument {key:?}; valid arguments: {}",
                valid.join(", ")
            )));
        }
    }
    let mut values = Vec::new();
    for arg in prompt.arguments {
        let value = read(arg)?;
        if arg.required && value.is_none() {
            return Err(InvalidParams(format!(
                "prompt {name}: missing required argument {} ({})",
                arg.name,
                arg.description.to_lowercase()
            )));
        }
        values.push(value);
    }
    let object = values[0].as_deref().unwrap_or_default();
    let namespace = values[1].as_deref().unwrap_or_default();
    let cluster = values[2].as_deref();
    let text = if prompt.name == "debug_flux_kustomization" {
        kustomization_plan(object, namespace, cluster)
    } else {
        helmrelease_plan(object, namespace, cluster)
    };
    Ok(PromptReply {
        description: prompt.description.to_string(),
        messages: vec![text],
    })
}

/// The words that point every cluster call at the chosen context.
fn target(cluster: Option<&str>) -> (String, String) {
    match cluster {
        Some(c) => (
            format!("the cluster of kubeconfig context {c:?}"),
            format!(" Pass context={c:?} to every cluster tool call below."),
        ),
        None => ("the current cluster".to_string(), String::new()),
    }
}

fn kustomization_plan(name: &str, namespace: &str, cluster: Option<&str>) -> String {
    let (on, hint) = target(cluster);
    format!(
        "Find out why the Flux Kustomization {namespace}/{name} on {on} is not healthy, and say how to fix it.{hint}

1. Call get_flux_instance. Note the Flux version and check that kustomize-controller and \
source-controller are running and ready; if they are not, that is the first problem to report.
2. Fetch the Kustomization with get_kubernetes_resources (apiVersion \
kustomize.toolkit.fluxcd.io/v1, kind Kustomization, name {name}, namespace {namespace}). Read \
status.conditions (Ready, Reconciling, Stalled, Healthy), the last applied and last attempted \
revisions, spec.suspend, and the events attached to the object. When it is failing, the first \
lines of the answer already give the state of its source and dependencies.
3. Follow spec.sourceRef to its source (a GitRepository, OCIRepository or Bucket; its namespace \
is the Kustomization's unless the reference names one) and fetch it the same way. A source that \
is not ready holds back everything built from it.
4. If spec.dependsOn lists other Kustomizations, fetch them: each must be ready before this one \
is reconciled.
5. Look at status.inventory. Fetch the objects named in the error, or a sample of the inventory, \
and check their own status (pods not ready, failing jobs, missing CRDs).
6. If the cause is still unclear, read the kustomize-controller logs with get_kubernetes_logs \
(pod_name deploy/kustomize-controller in the namespace get_flux_instance reported) and look for \
lines naming {namespace}/{name}.
7. Report what is wrong, the evidence (conditions, events, log lines) and the change that would \
fix it. Check field names with search_flux_docs before suggesting an edit to the manifest."
    )
}

fn helmrelease_plan(name: &str, namespace: &str, cluster: Option<&str>) -> String {
    let (on, hint) = target(cluster);
    format!(
        "Find out why the Flux HelmRelease {namespace}/{name} on {on} is not healthy, and say how to fix it.{hint}

1. Call get_flux_instance. Note the Flux version and check that helm-controller and \
source-controller are running and ready; if they are not, that is the first problem to report.
2. Fetch the HelmRelease with get_kubernetes_resources (apiVersion helm.toolkit.fluxcd.io/v2, \
kind HelmRelease, name {name}, namespace {namespace}). Read status.conditions (Ready, Released, \
TestSuccess, Remediated, Stalled), the latest entry of status.history (pass fields \
[\"status.history\"] to see every past release), the failure counters, spec.suspend, and the \
events attached to the object. When it is failing, the first lines of the answer already give the \
state of its chart source and dependencies.
3. Find the chart source: spec.chartRef points at an OCIRepository or a HelmChart; spec.chart \
makes Flux create a HelmChart named {namespace}-{name} in the namespace of \
spec.chart.spec.sourceRef (a HelmRepository, GitRepository or Bucket). Fetch the chart object and \
its source and check that both are ready.
4. If spec.valuesFrom names ConfigMaps or Secrets, check that they exist and hold the keys it \
asks for (Secret values are masked; do not try to read them).
5. If spec.dependsOn lists other HelmReleases, fetch them: each must be ready first.
6. Look at status.inventory: the objects the release installed. Fetch the failing ones (pods not \
ready, jobs that failed, pending volumes) and read their events; for crashing pods, read their \
logs with get_kubernetes_logs.
7. If the cause is still unclear, read the helm-controller logs with get_kubernetes_logs \
(pod_name deploy/helm-controller in the namespace get_flux_instance reported) and look for lines \
naming {namespace}/{name}.
8. Report what is wrong, the evidence (conditions, history, events, log lines) and the change \
that would fix it. Check field names with search_flux_docs before suggesting an edit to the \
manifest."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn prompts_are_sorted_and_described() {
        let names: Vec<&str> = PROMPTS.iter().map(|p| p.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        for p in PROMPTS {
            assert!(!p.description.is_empty(), "{}", p.name);
            assert!(p.arguments.iter().all(|a| !a.description.is_empty()));
        }
    }

    #[test]
    fn the_plan_names_the_object_and_walks_through_the_tools() {
        let reply = get(
            "debug_flux_kustomization",
            &args(json!({"name": "apps", "namespace": "flux-system"})),
        )
        .unwrap();
        let text = &reply.messages[0];
        assert!(
            text.contains("flux-system/apps on the current cluster"),
            "{text}"
        );
        for tool in [
            "get_flux_instance",
            "get_kubernetes_resources",
            "get_kubernetes_logs",
            "kustomize-controller",
            "sourceRef",
            "inventory",
        ] {
            assert!(text.contains(tool), "{tool} missing");
        }
        assert!(!text.contains("context="));

        let reply = get(
            "debug_flux_helmrelease",
            &args(json!({"name": "podinfo", "namespace": "apps", "cluster": "prod"})),
        )
        .unwrap();
        let text = &reply.messages[0];
        assert!(text.contains("Pass context=\"prod\""), "{text}");
        assert!(text.contains("HelmChart named apps-podinfo"), "{text}");
        assert!(text.contains("helm-controller"));
    }

    #[test]
    fn missing_unknown_and_mistyped_arguments_are_refused_by_name() {
        let err = get("debug_flux_helmrelease", &args(json!({"name": "x"}))).unwrap_err();
        assert!(
            err.0.contains("missing required argument namespace"),
            "{}",
            err.0
        );
        let err = get(
            "debug_flux_helmrelease",
            &args(json!({"name": "x", "namespace": "  "})),
        )
        .unwrap_err();
        assert!(err.0.contains("namespace"), "{}", err.0);
        let err = get(
            "debug_flux_helmrelease",
            &args(json!({"name": "x", "namespace": "y", "ns": "z"})),
        )
        .unwrap_err();
        assert!(err.0.contains("\"ns\"") && err.0.contains("name, namespace, cluster"));
        let err = get(
            "debug_flux_kustomization",
            &args(json!({"name": 3, "namespace": "y"})),
        )
        .unwrap_err();
        assert!(err.0.contains("name must be a string"), "{}", err.0);
        let err = get("debug_everything", &Map::new()).unwrap_err();
        assert!(
            err.0
                .contains("debug_flux_helmrelease, debug_flux_kustomization")
        );
    }
}
