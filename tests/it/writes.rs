//! The tools that change a cluster, and `diff_kubernetes_manifest`, through the real binary
//! against the test API server with its simulated Flux controller: what each sends (method,
//! content type, field manager, body), what the cluster holds afterwards, every refusal and
//! failure path, `--read-only`, `--tools`/`--disable-tools`, the call log; and the read-only
//! build, which has none of them and sends nothing but GET.

#![cfg_attr(not(feature = "mutations"), allow(unused_imports, dead_code))]

use std::time::Duration;

use serde_json::{Value, json};

use crate::apiserver::{
    ApiServer, Controller, Deny, Identity, Options, Outcome, RecordedRequest, Target,
};
use crate::support::{Mcp, Session, command, scratch_dir};

/// Every tool that changes a cluster. None may be in the read-only build, not even its name.
const WRITE_TOOLS: [&str; 6] = [
    "apply_kubernetes_manifest",
    "delete_kubernetes_resource",
    "patch_kubernetes_resource",
    "reconcile_flux_resource",
    "resume_flux_reconciliation",
    "suspend_flux_reconciliation",
];

/// Strings only code that writes has: the field manager of patches, the query parameters and
/// content types of writes. Tool names and these are searched in the read-only binary.
const WRITE_STRINGS: [&str; 8] = [
    "flux-operator-mcp-patch",
    "fieldManager",
    "dryRun",
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
    "propagationPolicy",
];

const KS: &str = "kustomize.toolkit.fluxcd.io/v1";
const HR: &str = "helm.toolkit.fluxcd.io/v2";

fn with_controller(delay_ms: u64) -> Options {
    Options {
        controller: Some(Controller::with_delay(Duration::from_millis(delay_ms))),
        ..Options::default()
    }
}

fn writes_of(server: &ApiServer) -> Vec<RecordedRequest> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect()
}

fn body(r: &RecordedRequest) -> Value {
    r.body
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null)
}

fn tool_names(mcp: &mut Mcp) -> Vec<String> {
    let r = mcp.request(json!("list"), "tools/list", json!({}));
    r["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn stored(server: &ApiServer, api_version: &str, kind: &str, ns: &str, name: &str) -> Value {
    server
        .object(api_version, kind, ns, name)
        .unwrap_or_else(|| panic!("{kind} {ns}/{name} is not stored"))
}

// ---- reconcile_flux_resource -----------------------------------------------------------------

#[cfg(feature = "mutations")]
#[test]
fn reconcile_waits_for_the_controller_and_reports_its_outcome() {
    let message = "timeout waiting for: [Deployment/apps/web status: 'InProgress']\nhealth check failed after 5m0s";
    let controller = Controller::with_delay(Duration::from_millis(300)).outcome_for(
        Target::new("Kustomization", "flux-system", "apps"),
        Outcome::fail("HealthCheckFailed", message),
    );
    let options = Options {
        controller: Some(controller),
        ..Options::default()
    };
    let mut s = Session::start("writes-reconcile", options, Identity::ClientCert, &[]);
    let out = s.ok(
        "reconcile_flux_resource",
        json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system"}),
    );
    assert!(
        out.starts_with("---\n# Kustomization/flux-system/apps reconciled "),
        "{out}"
    );
    assert!(
        out.contains("after the request: Ready=False (HealthCheckFailed)"),
        "{out}"
    );
    assert!(out.contains("result: reconciled\n"), "{out}");
    // The message reaches the agent byte for byte: the YAML reads back to it.
    let doc: Value = serde_norway::from_str(out.trim_start_matches("---\n")).expect("yaml");
    assert_eq!(doc["ready"]["message"], message, "{out}");
    assert_eq!(doc["ready"]["status"], "False");
    let events = doc["events"].as_array().expect("events since the request");
    assert!(
        events
            .iter()
            .any(|e| e["message"] == message && e["type"] == "Warning"),
        "{out}"
    );
    // One merge patch of the annotation only, as our patch field manager.
    let writes = writes_of(&s.server);
    assert_eq!(writes.len(), 1, "{writes:?}");
    let w = &writes[0];
    assert_eq!(w.method, "PATCH");
    assert_eq!(
        w.header("content-type"),
        Some("application/merge-patch+json")
    );
    assert_eq!(w.param("fieldManager"), Some("flux-operator-mcp-patch"));
    let token = doc["requestedAt"]
        .as_str()
        .expect("requestedAt")
        .to_string();
    assert_eq!(
        body(w),
        json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}})
    );
    let ks = stored(&s.server, KS, "Kustomization", "flux-system", "apps");
    assert_eq!(ks["status"]["lastHandledReconcileAt"], json!(token));
}

#[cfg(feature = "mutations")]
#[test]
fn reconcile_forces_a_helm_release_and_goes_to_the_source_first() {
    let mut s = Session::start(
        "writes-reconcile-hr",
        with_controller(50),
        Identity::ClientCert,
        &[],
    );
    let out = s.ok(
        "reconcile_flux_resource",
        json!({"kind": "hr", "name": "podinfo", "namespace": "apps", "with_source": true}),
    );
    assert_eq!(out.matches("---\n").count(), 2, "{out}");
    let source_at = out
        .find("# HelmRepository/flux-system/podinfo reconciled")
        .expect(&out);
    let object_at = out
        .find("# HelmRelease/apps/podinfo reconciled")
        .expect(&out);
    assert!(source_at < object_at, "{out}");
    let writes = writes_of(&s.server);
    let paths: Vec<&str> = writes.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/helmrepositories/podinfo",
            "/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/podinfo",
        ]
    );
    let annotations = &body(&writes[1])["metadata"]["annotations"];
    assert_eq!(
        annotations["reconcile.fluxcd.io/forceAt"],
        annotations["reconcile.fluxcd.io/requestedAt"]
    );
    // The release was asked only once the source had handled its own request.
    let all = s.server.requests();
    let source_patch = all.iter().position(|r| r.method == "PATCH").expect("patch");
    let release_patch = all
        .iter()
        .rposition(|r| r.method == "PATCH")
        .expect("patch");
    assert!(
        all[source_patch..release_patch]
            .iter()
            .any(|r| r.method == "GET" && r.path.ends_with("/helmrepositories/podinfo")),
        "no wait for the source between the two requests"
    );
    let hr = stored(&s.server, HR, "HelmRelease", "apps", "podinfo");
    assert_eq!(
        hr["status"]["lastHandledForceAt"],
        annotations["reconcile.fluxcd.io/forceAt"]
    );
}

#[cfg(feature = "mutations")]
#[test]
fn reconcile_without_wait_and_with_a_timeout() {
    let controller = Controller::with_delay(Duration::from_millis(50)).outcome_for(
        Target::new("GitRepository", "flux-system", "flux-system"),
        Outcome::Stall,
    );
    let options = Options {
        controller: Some(controller),
        ..Options::default()
    };
    let mut s = Session::start("writes-reconcile-wait", options, Identity::ClientCert, &[]);
    let out = s.ok(
        "reconcile_flux_resource",
        json!({"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system", "wait": false}),
    );
    assert!(out.contains("reconcile requested; not waited for"), "{out}");
    assert!(out.contains("result: requested\n"), "{out}");
    let requests = s.server.requests();
    let patch = requests
        .iter()
        .position(|r| r.method == "PATCH")
        .expect("patch");
    assert_eq!(
        patch,
        requests.len() - 1,
        "nothing is read after the request"
    );

    let out = s.ok(
        "reconcile_flux_resource",
        json!({"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system", "timeout": "700ms"}),
    );
    assert!(
        out.contains("not handled yet after ")
            && out.contains("waiting stopped at the timeout argument (700ms)"),
        "{out}"
    );
    assert!(out.contains("the request stands"), "{out}");
    assert!(out.contains("result: not handled yet\n"), "{out}");
    assert!(
        out.contains("ready:\n  status: 'True'"),
        "what was seen so far: {out}"
    );
    let err = s.err(
        "reconcile_flux_resource",
        json!({"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system", "timeout": "soon"}),
    );
    assert!(err.starts_with("timeout \"soon\": "), "{err}");
}

#[cfg(feature = "mutations")]
#[test]
fn reconcile_refuses_what_it_cannot_reconcile() {
    let external = json!({
        "apiVersion": KS, "kind": "Kustomization",
        "metadata": {"name": "generated", "namespace": "flux-system"},
        "spec": {"interval": "10m", "path": "./", "prune": true,
                 "sourceRef": {"kind": "ExternalArtifact", "name": "podinfo-config"}},
    });
    let options = Options {
        extra_objects: vec![external],
        ..with_controller(20)
    };
    let deny =
        Deny::new("patch", "kustomize.toolkit.fluxcd.io", "kustomizations").in_namespace("apps");
    let options = Options {
        deny: vec![deny],
        ..options
    };
    let mut s = Session::start(
        "writes-reconcile-refusals",
        options,
        Identity::ClientCert,
        &[],
    );
    let err = s.err(
        "reconcile_flux_resource",
        json!({"kind": "Deployment", "name": "api", "namespace": "apps"}),
    );
    assert!(
        err.starts_with("Deployment (apps/v1) is not a Flux kind"),
        "{err}"
    );
    let err = s.err(
        "reconcile_flux_resource",
        json!({"kind": "Alert", "name": "on-call", "namespace": "flux-system"}),
    );
    assert!(err.starts_with("Alert cannot be reconciled: "), "{err}");
    let err = s.err(
        "reconcile_flux_resource",
        json!({"kind": "ExternalArtifact", "name": "podinfo-config", "namespace": "flux-system"}),
    );
    assert!(err.contains("reconcile its producer"), "{err}");
    let err = s.err(
        "reconcile_flux_resource",
        json!({"kind": "Kustomization", "name": "app", "namespace": "flux-system"}),
    );
    assert!(
        err.starts_with("Kustomization flux-system/app not found in context ")
            && err.contains("similar names in flux-system: apps"),
        "{err}"
    );
    let err = s.err(
        "reconcile_flux_resource",
        json!({"kind": "Kustomization", "name": "podinfo", "namespace": "apps"}),
    );
    assert!(
        err.contains("Kustomization/apps/podinfo: this identity may not patch it (RBAC)"),
        "{err}"
    );
    assert!(
        err.contains("cannot patch resource \"kustomizations\""),
        "{err}"
    );
    // An ExternalArtifact source is said to be not reconcilable; the object still is.
    let out = s.ok(
        "reconcile_flux_resource",
        json!({"kind": "Kustomization", "name": "generated", "namespace": "flux-system", "with_source": true}),
    );
    assert!(out.contains("# with_source: the source ExternalArtifact/flux-system/podinfo-config is not reconcilable"), "{out}");
    assert!(
        out.contains("# Kustomization/flux-system/generated reconciled"),
        "{out}"
    );
    assert_eq!(
        writes_of(&s.server)
            .iter()
            .filter(|w| w.status < 300)
            .count(),
        1,
        "one request went through: the Kustomization's"
    );
}

// ---- suspend and resume --------------------------------------------------------------------------

#[cfg(feature = "mutations")]
#[test]
fn suspend_and_resume_a_toolkit_object() {
    let mut s = Session::start(
        "writes-suspend",
        with_controller(50),
        Identity::ClientCert,
        &[],
    );
    let args = json!({"kind": "Kustomization", "name": "podinfo", "namespace": "apps"});
    let out = s.ok("suspend_flux_reconciliation", args.clone());
    assert!(out.starts_with("Kustomization/apps/podinfo suspended (spec.suspend: true): kustomize-controller will not reconcile it"), "{out}");
    assert_eq!(
        stored(&s.server, KS, "Kustomization", "apps", "podinfo")["spec"]["suspend"],
        json!(true)
    );
    let again = s.ok("suspend_flux_reconciliation", args.clone());
    assert!(
        again.starts_with(
            "Kustomization/apps/podinfo is already suspended (spec.suspend: true); nothing changed"
        ),
        "{again}"
    );
    let err = s.err("reconcile_flux_resource", args.clone());
    assert!(
        err.contains("is suspended (spec.suspend: true)") && err.contains("resume it first"),
        "{err}"
    );

    let out = s.ok("resume_flux_reconciliation", args.clone());
    assert!(out.starts_with("---\n# Kustomization/apps/podinfo resumed (was spec.suspend: true)\n# Kustomization/apps/podinfo reconciled "), "{out}");
    let ks = stored(&s.server, KS, "Kustomization", "apps", "podinfo");
    assert!(ks["spec"].get("suspend").is_none(), "{ks}");
    let writes = writes_of(&s.server);
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert_eq!(body(&writes[0]), json!({"spec": {"suspend": true}}));
    let resume = body(&writes[1]);
    assert_eq!(resume["spec"], json!({"suspend": null}));
    assert_eq!(
        ks["status"]["lastHandledReconcileAt"],
        resume["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"]
    );
    let out = s.ok("resume_flux_reconciliation", args);
    assert!(
        out.starts_with("Kustomization/apps/podinfo is not suspended; nothing changed"),
        "{out}"
    );
}

#[cfg(feature = "mutations")]
#[test]
fn suspend_and_resume_a_flux_operator_object_by_annotation() {
    let mut s = Session::start(
        "writes-suspend-operator",
        with_controller(50),
        Identity::ClientCert,
        &[],
    );
    let args = json!({"kind": "ResourceSet", "name": "tenants", "namespace": "flux-system"});
    let out = s.ok("suspend_flux_reconciliation", args.clone());
    assert!(
        out.contains("suspended (fluxcd.controlplane.io/reconcile: disabled): flux-operator"),
        "{out}"
    );
    let rset = stored(
        &s.server,
        "fluxcd.controlplane.io/v1",
        "ResourceSet",
        "flux-system",
        "tenants",
    );
    assert_eq!(
        rset["metadata"]["annotations"]["fluxcd.controlplane.io/reconcile"],
        "disabled"
    );
    assert!(rset["spec"].get("suspend").is_none());
    let out = s.ok("resume_flux_reconciliation", args);
    assert!(
        out.contains("resumed (was fluxcd.controlplane.io/reconcile: disabled)"),
        "{out}"
    );
    assert!(out.contains("result: reconciled"), "{out}");
    let rset = stored(
        &s.server,
        "fluxcd.controlplane.io/v1",
        "ResourceSet",
        "flux-system",
        "tenants",
    );
    assert_eq!(
        rset["metadata"]["annotations"]["fluxcd.controlplane.io/reconcile"],
        "enabled"
    );
}

// ---- apply_kubernetes_manifest ---------------------------------------------------------------

#[cfg(feature = "mutations")]
#[test]
fn apply_creates_configures_and_leaves_unchanged_in_stages() {
    let mut s = Session::start(
        "writes-apply",
        Options::default(),
        Identity::ClientCert,
        &[],
    );
    // The ConfigMap comes first in the manifest; its Namespace is applied first anyway.
    let manifest = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: team-a}
data: {level: info}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: runner, namespace: team-a}
";
    let missing = "not checked (dry run): namespace team-a does not exist yet (error from server \
                   (NotFound): namespaces \"team-a\" not found)";
    let out = s.ok(
        "apply_kubernetes_manifest",
        json!({"yaml_content": manifest, "dry_run": true}),
    );
    assert_eq!(
        out,
        format!(
            "ConfigMap/team-a/settings {missing}\nNamespace/team-a created (dry run)\n\
             ServiceAccount/team-a/runner {missing}\n"
        )
    );
    assert!(
        s.server.object("v1", "Namespace", "", "team-a").is_none(),
        "a dry run stores nothing"
    );
    s.server.clear_requests();
    let out = s.ok(
        "apply_kubernetes_manifest",
        json!({"yaml_content": manifest}),
    );
    assert_eq!(
        out,
        "ConfigMap/team-a/settings created\nNamespace/team-a created\n\
         ServiceAccount/team-a/runner created\n"
    );
    let writes = writes_of(&s.server);
    assert_eq!(writes.len(), 3, "{writes:?}");
    assert!(
        writes[0].path.ends_with("/namespaces/team-a"),
        "the Namespace first: {writes:?}"
    );
    for w in &writes {
        assert_eq!(
            w.header("content-type"),
            Some("application/apply-patch+yaml")
        );
        assert_eq!(w.param("fieldManager"), Some("flux-operator-mcp"));
        assert_eq!(w.param("force"), None, "apply never forces");
    }
    let cm = stored(&s.server, "v1", "ConfigMap", "team-a", "settings");
    assert_eq!(cm["data"], json!({"level": "info"}));
    let out = s.ok(
        "apply_kubernetes_manifest",
        json!({"yaml_content": manifest}),
    );
    assert_eq!(
        out,
        "ConfigMap/team-a/settings unchanged\nNamespace/team-a unchanged\n\
         ServiceAccount/team-a/runner unchanged\n"
    );
    let changed = manifest.replace("level: info", "level: debug");
    let out = s.ok(
        "apply_kubernetes_manifest",
        json!({"yaml_content": changed, "dry_run": "true"}),
    );
    assert!(
        out.starts_with(
            "ConfigMap/team-a/settings configured (dry run)\nNamespace/team-a unchanged (dry run)\n"
        ),
        "{out}"
    );
    assert_eq!(
        stored(&s.server, "v1", "ConfigMap", "team-a", "settings")["data"]["level"],
        "info"
    );
    let out = s.ok(
        "apply_kubernetes_manifest",
        json!({"yaml_content": changed}),
    );
    assert!(
        out.starts_with("ConfigMap/team-a/settings configured\n"),
        "{out}"
    );
    assert_eq!(
        stored(&s.server, "v1", "ConfigMap", "team-a", "settings")["data"]["level"],
        "debug"
    );
    // An object without a namespace goes to the context's namespace.
    let out = s.ok(
        "apply_kubernetes_manifest",
        json!({"yaml_content": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loose}\n"}),
    );
    assert_eq!(out, "ConfigMap/default/loose created\n");
}

#[cfg(feature = "mutations")]
#[test]
fn apply_refuses_flux_managed_objects_and_quotes_conflicts() {
    let log = scratch_dir("writes-apply-guard-log").join("calls.jsonl");
    let log_flag = format!("--tool-call-log-file={}", log.display());
    let mut s = Session::start(
        "writes-apply-guard",
        Options::default(),
        Identity::ClientCert,
        &[&log_flag],
    );
    let manifest = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: fresh, namespace: apps}
data: {a: b}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: podinfo-config, namespace: apps}
data: {PODINFO_UI_COLOR: crimson-7}
";
    let err = s.err(
        "apply_kubernetes_manifest",
        json!({"yaml_content": manifest}),
    );
    assert!(err.starts_with("nothing was applied:\nrefused: ConfigMap/apps/podinfo-config is managed by Kustomization apps/podinfo (label kustomize.toolkit.fluxcd.io/name); kustomize-controller will revert the change"), "{err}");
    assert!(
        writes_of(&s.server).is_empty(),
        "nothing is written when one object is refused"
    );
    // overwrite lets it through to the API server, where kustomize-controller owns the data.
    let err = s.err(
        "apply_kubernetes_manifest",
        json!({"yaml_content": manifest, "overwrite": true}),
    );
    assert!(err.starts_with("1 object failed to apply:\nConfigMap/apps/fresh created\nConfigMap/apps/podinfo-config failed: apply refused, fields owned by other managers:\n"), "{err}");
    assert!(
        err.contains("conflict with \"kustomize-controller\""),
        "{err}"
    );
    assert!(err.contains(".data.PODINFO_UI_COLOR"), "{err}");
    assert!(err.contains("note: ConfigMap/apps/podinfo-config is managed by Kustomization apps/podinfo (label kustomize.toolkit.fluxcd.io/name): done anyway (overwrite)"), "{err}");
    // An unknown kind stops everything before any write.
    s.server.clear_requests();
    let err = s.err(
        "apply_kubernetes_manifest",
        json!({"yaml_content": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"}),
    );
    assert!(
        err.starts_with(
            "nothing was applied; context flux-test: document 1: the server has no kind \"Widget\""
        ),
        "{err}"
    );
    assert!(writes_of(&s.server).is_empty());
    let err = s.err(
        "apply_kubernetes_manifest",
        json!({"yaml_content": "kind: ConfigMap\n"}),
    );
    assert_eq!(err, "document 1 (ConfigMap) has no apiVersion");
    // The call log has each write's target and outcome, never the manifest.
    drop(s);
    let text = std::fs::read_to_string(&log).expect("call log");
    assert!(!text.contains("crimson-7"), "{text}");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(
        lines[1]["writes"],
        json!([{"target": "ConfigMap/apps/fresh", "outcome": "created"},
               {"target": "ConfigMap/apps/podinfo-config", "outcome": "failed"}])
    );
    assert_eq!(
        lines[1]["arguments"]["yaml_content"],
        json!(format!("<{} bytes elided>", manifest.len()))
    );
}

#[cfg(feature = "mutations")]
#[test]
fn apply_never_shows_a_secret_value() {
    let log = scratch_dir("writes-apply-secret-log").join("calls.jsonl");
    let log_flag = format!("--tool-call-log-file={}", log.display());
    let deny = Deny::new("patch", "", "secrets").in_namespace("apps");
    let options = Options {
        deny: vec![deny],
        ..Options::default()
    };
    let mut s = Session::start(
        "writes-apply-secret",
        options,
        Identity::ClientCert,
        &[&log_flag],
    );
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: flux-system}\nstringData: {password: hunter2-correct-horse}\ndata: {token: c2VjcmV0LXRva2VuLXZhbHVl}\n";
    let out = s.ok("apply_kubernetes_manifest", json!({"yaml_content": secret}));
    assert_eq!(out, "Secret/flux-system/db created\n");
    // An invalid Secret: the API server's message may quote what it refused.
    let bad = "apiVersion: v1\nkind: Secret\nmetadata: {name: 'Bad_Name-hunter2-correct-horse', namespace: flux-system}\nstringData: {password: hunter2-correct-horse}\n";
    let err = s.err("apply_kubernetes_manifest", json!({"yaml_content": bad}));
    assert!(!err.contains("hunter2-correct-horse"), "{err}");
    assert!(err.contains("<masked>"), "{err}");
    let err = s.err(
        "apply_kubernetes_manifest",
        json!({"yaml_content": secret.replace("flux-system", "apps")}),
    );
    assert!(
        err.contains("Secret/apps/db failed: this identity may not patch it (RBAC)"),
        "{err}"
    );
    drop(s);
    let text = std::fs::read_to_string(&log).expect("call log");
    for value in [
        "hunter2-correct-horse",
        "c2VjcmV0LXRva2VuLXZhbHVl",
        "secret-token-value",
    ] {
        assert!(!text.contains(value), "{value} in {text}");
    }
}

// ---- patch_kubernetes_resource ----------------------------------------------------------------

#[cfg(feature = "mutations")]
#[test]
fn patch_restarts_a_deployment_and_guards_flux_objects() {
    let mut s = Session::start(
        "writes-patch",
        Options::default(),
        Identity::ClientCert,
        &[],
    );
    let before = stored(&s.server, "apps/v1", "Deployment", "apps", "api");
    let patch = "spec:\n  template:\n    metadata:\n      annotations:\n        kubectl.kubernetes.io/restartedAt: '2026-11-21T06:00:00Z'\n";
    let out = s.ok(
        "patch_kubernetes_resource",
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "api", "namespace": "apps",
               "patch": patch, "type": "strategic"}),
    );
    assert!(
        out.starts_with("Deployment/apps/api patched; changed: "),
        "{out}"
    );
    assert!(
        out.contains("spec.template.metadata.annotations.kubectl.kubernetes.io/restartedAt"),
        "{out}"
    );
    let after = stored(&s.server, "apps/v1", "Deployment", "apps", "api");
    assert_eq!(
        after["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
        "2026-11-21T06:00:00Z"
    );
    assert_eq!(
        after["metadata"]["generation"].as_i64(),
        before["metadata"]["generation"].as_i64().map(|g| g + 1)
    );
    let w = writes_of(&s.server);
    assert_eq!(
        w[0].header("content-type"),
        Some("application/strategic-merge-patch+json")
    );
    assert_eq!(w[0].param("fieldManager"), Some("flux-operator-mcp-patch"));
    let out = s.ok(
        "patch_kubernetes_resource",
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "api", "namespace": "apps",
               "patch": patch, "type": "strategic"}),
    );
    assert_eq!(
        out,
        "Deployment/apps/api unchanged: the patch changed nothing\n"
    );
    // JSON patch, dry run.
    let out = s.ok(
        "patch_kubernetes_resource",
        json!({"kind": "Deployment", "name": "api", "namespace": "apps", "type": "json", "dry_run": true,
               "patch": [{"op": "replace", "path": "/spec/replicas", "value": 5}]}),
    );
    assert_eq!(
        out,
        "Deployment/apps/api patched (dry run); changed: spec.replicas\n"
    );
    assert_ne!(
        stored(&s.server, "apps/v1", "Deployment", "apps", "api")["spec"]["replicas"],
        json!(5)
    );
    // A HelmRelease's Deployment: refused, then done with overwrite.
    let args = json!({"kind": "Deployment", "name": "podinfo", "namespace": "apps", "patch": "{\"spec\":{\"replicas\":3}}"});
    let err = s.err("patch_kubernetes_resource", args.clone());
    assert!(err.starts_with("refused: Deployment/apps/podinfo is managed by HelmRelease apps/podinfo (label helm.toolkit.fluxcd.io/name); helm-controller will overwrite the change at the release's next upgrade"), "{err}");
    let mut forced = args;
    forced["overwrite"] = json!(true);
    let out = s.ok("patch_kubernetes_resource", forced);
    assert!(out.contains("patched; changed: spec.replicas\nnote: Deployment/apps/podinfo is managed by HelmRelease apps/podinfo"), "{out}");
    // Strategic merge on a custom resource: refused before anything is sent.
    s.server.clear_requests();
    let err = s.err(
        "patch_kubernetes_resource",
        json!({"kind": "Kustomization", "name": "podinfo", "namespace": "apps", "type": "strategic",
               "patch": "{\"spec\":{\"suspend\":true}}", "overwrite": true}),
    );
    assert!(err.starts_with("a strategic merge patch cannot be applied to Kustomization/apps/podinfo: Kustomization is a custom resource (CustomResourceDefinition kustomizations.kustomize.toolkit.fluxcd.io)"), "{err}");
    assert!(writes_of(&s.server).is_empty());
    for (args, expected) in [
        (
            json!({"kind": "Deployment", "name": "api", "namespace": "apps", "patch": "{}", "type": "xml"}),
            "type \"xml\" is not a patch type: merge, json or strategic",
        ),
        (
            json!({"kind": "Deployment", "name": "api", "namespace": "apps", "patch": "{}", "subresource": "scale"}),
            "subresource \"scale\" cannot be patched here: only status",
        ),
        (
            json!({"kind": "Deployment", "name": "apx", "namespace": "apps", "patch": "{}"}),
            "Deployment apps/apx not found in context flux-test; similar names in apps: api",
        ),
    ] {
        assert_eq!(s.err("patch_kubernetes_resource", args), expected);
    }
}

#[cfg(feature = "mutations")]
#[test]
fn patch_removes_a_stuck_finalizer_and_clears_a_status() {
    let stuck = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "stuck", "namespace": "apps", "finalizers": ["example.com/cleanup"]},
        "data": {"a": "b"}});
    let options = Options {
        extra_objects: vec![stuck],
        ..Options::default()
    };
    let mut s = Session::start("writes-patch-finalizer", options, Identity::ClientCert, &[]);
    let out = s.ok(
        "delete_kubernetes_resource",
        json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "stuck", "namespace": "apps"}),
    );
    assert!(
        out.starts_with("ConfigMap/apps/stuck deletion pending, finalizers: example.com/cleanup."),
        "{out}"
    );
    assert!(
        s.server
            .object("v1", "ConfigMap", "apps", "stuck")
            .is_some()
    );
    let out = s.ok(
        "patch_kubernetes_resource",
        json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "stuck", "namespace": "apps",
               "patch": "{\"metadata\":{\"finalizers\":null}}"}),
    );
    assert_eq!(
        out,
        "ConfigMap/apps/stuck patched; changed: metadata.finalizers\nIts deletion was pending on finalizers; with none left it is now deleted.\n"
    );
    assert!(
        s.server
            .object("v1", "ConfigMap", "apps", "stuck")
            .is_none()
    );

    // A HelmRelease status cleared through the status subresource: no guard (no owner applies
    // a status), and the spec stays.
    let before = stored(&s.server, HR, "HelmRelease", "apps", "redis");
    let out = s.ok(
        "patch_kubernetes_resource",
        json!({"apiVersion": HR, "kind": "HelmRelease", "name": "redis", "namespace": "apps",
               "subresource": "status", "patch": "{\"status\":{\"history\":null,\"failures\":null,\"conditions\":null}}"}),
    );
    assert!(
        out.starts_with("HelmRelease/apps/redis status patched; changed: "),
        "{out}"
    );
    let after = stored(&s.server, HR, "HelmRelease", "apps", "redis");
    assert!(
        after["status"].get("history").is_none(),
        "{}",
        after["status"]
    );
    assert!(
        after["status"].get("conditions").is_none(),
        "{}",
        after["status"]
    );
    assert_eq!(after["spec"], before["spec"]);
    let w = writes_of(&s.server);
    assert!(
        w.last()
            .is_some_and(|r| r.path.ends_with("/helmreleases/redis/status")),
        "{w:?}"
    );
}

// ---- delete_kubernetes_resource ---------------------------------------------------------------

#[cfg(feature = "mutations")]
#[test]
fn delete_checks_the_owner_the_namespace_and_what_it_deletes() {
    let deny = Deny::new("delete", "", "secrets").in_namespace("apps");
    let options = Options {
        deny: vec![deny],
        ..with_controller(50)
    };
    let mut s = Session::start("writes-delete", options, Identity::ClientCert, &[]);
    let args = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "cluster-settings", "namespace": "flux-system"});
    let mut dry = args.clone();
    dry["dry_run"] = json!(true);
    assert_eq!(
        s.ok("delete_kubernetes_resource", dry),
        "ConfigMap/flux-system/cluster-settings deleted (dry run)\n"
    );
    let live = stored(
        &s.server,
        "v1",
        "ConfigMap",
        "flux-system",
        "cluster-settings",
    );
    assert_eq!(
        s.ok("delete_kubernetes_resource", args.clone()),
        "ConfigMap/flux-system/cluster-settings deleted\n"
    );
    assert!(
        s.server
            .object("v1", "ConfigMap", "flux-system", "cluster-settings")
            .is_none()
    );
    let deletes: Vec<RecordedRequest> = writes_of(&s.server);
    assert_eq!(body(&deletes[0])["dryRun"], json!(["All"]));
    assert_eq!(
        body(&deletes[1])["preconditions"]["uid"],
        live["metadata"]["uid"],
        "the uid checked is the one deleted"
    );
    let err = s.err("delete_kubernetes_resource", args);
    assert!(
        err.starts_with("ConfigMap flux-system/cluster-settings not found in context flux-test"),
        "{err}"
    );

    let err = s.err(
        "delete_kubernetes_resource",
        json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "x"}),
    );
    assert_eq!(
        err,
        "ConfigMap is namespaced: pass namespace (the context's default namespace is default)"
    );
    let err = s.err("delete_kubernetes_resource", json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo", "namespace": "apps"}));
    assert!(err.starts_with("refused: Deployment/apps/podinfo is managed by HelmRelease apps/podinfo (label helm.toolkit.fluxcd.io/name); the owning HelmRelease apps/podinfo will recreate it at its next reconcile."), "{err}");
    assert!(
        err.ends_with("or pass overwrite=true to delete it anyway."),
        "{err}"
    );
    let err = s.err(
        "delete_kubernetes_resource",
        json!({"apiVersion": "v1", "kind": "Secret", "name": "ghcr-auth", "namespace": "apps"}),
    );
    assert!(
        err.contains("Secret/apps/ghcr-auth: this identity may not delete it (RBAC)"),
        "{err}"
    );
    // Cluster-scoped: no namespace.
    let out = s.ok(
        "delete_kubernetes_resource",
        json!({"apiVersion": "v1", "kind": "Node", "name": "prod-eu1-pool-a-9hw3c"}),
    );
    assert_eq!(out, "Node/prod-eu1-pool-a-9hw3c deleted\n");
    // A Flux object with the Flux finalizer, deleted with overwrite: pending until its
    // controller has cleaned up.
    let out = s.ok(
        "delete_kubernetes_resource",
        json!({"apiVersion": KS, "kind": "Kustomization", "name": "webapp", "namespace": "apps", "overwrite": true}),
    );
    assert!(
        out.starts_with(
            "Kustomization/apps/webapp deletion pending, finalizers: finalizers.fluxcd.io."
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "note: Kustomization/apps/webapp is managed by Kustomization flux-system/apps"
        ),
        "{out}"
    );
    assert!(s.server.wait_for(
        KS,
        "Kustomization",
        "apps",
        "webapp",
        Duration::from_secs(10),
        |o| o.is_none()
    ));
}

// ---- diff_kubernetes_manifest --------------------------------------------------------------------

#[cfg(feature = "mutations")]
#[test]
fn diff_shows_what_an_apply_would_change_and_changes_nothing() {
    let mut s = Session::start(
        "writes-diff",
        Options::default(),
        Identity::ClientCert,
        &["--read-only"],
    );
    let live_cm = stored(
        &s.server,
        "v1",
        "ConfigMap",
        "flux-system",
        "cluster-settings",
    );
    let mut data = live_cm["data"].as_object().cloned().unwrap_or_default();
    let (first_key, _) = data
        .iter()
        .next()
        .map(|(k, v)| (k.clone(), v.clone()))
        .expect("data");
    data.insert(first_key.clone(), json!("changed-value"));
    let changed = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cluster-settings", "namespace": "flux-system"}, "data": data});
    let same = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cluster-settings", "namespace": "flux-system"}, "data": live_cm["data"]});
    let fresh = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: brand-new, namespace: apps}\ndata: {a: b}\n";
    let manifest = format!(
        "{}\n---\n{fresh}",
        serde_json::to_string(&changed).expect("json")
    );
    let out = s.ok(
        "diff_kubernetes_manifest",
        json!({"yaml_content": manifest}),
    );
    assert!(
        out.starts_with("# server-side dry run in context flux-test, forced;"),
        "{out}"
    );
    assert!(out.contains("ConfigMap/flux-system/cluster-settings would change (field manager flux-operator-mcp):\n--- live\n+++ after apply\n@@ "), "{out}");
    assert!(
        out.contains(&format!("+  {first_key}: changed-value\n")),
        "{out}"
    );
    assert!(
        out.contains("ConfigMap/apps/brand-new would be created\n"),
        "{out}"
    );
    assert!(
        out.ends_with("# 1 to create, 1 to change, 0 unchanged\n"),
        "{out}"
    );
    let out = s.ok(
        "diff_kubernetes_manifest",
        json!({"yaml_content": serde_json::to_string(&same).expect("json")}),
    );
    assert!(
        out.contains("ConfigMap/flux-system/cluster-settings unchanged\n"),
        "{out}"
    );
    // Nothing was stored: every write was a forced dry run.
    assert_eq!(
        stored(
            &s.server,
            "v1",
            "ConfigMap",
            "flux-system",
            "cluster-settings"
        ),
        live_cm
    );
    assert!(
        s.server
            .object("v1", "ConfigMap", "apps", "brand-new")
            .is_none()
    );
    for w in writes_of(&s.server) {
        assert_eq!(
            (w.method.as_str(), w.param("dryRun"), w.param("force")),
            ("PATCH", Some("All"), Some("true")),
            "{w:?}"
        );
    }
}

#[cfg(feature = "mutations")]
#[test]
fn diff_uses_the_owners_field_manager_and_masks_secrets() {
    let mut s = Session::start(
        "writes-diff-owner",
        Options::default(),
        Identity::ClientCert,
        &[],
    );
    let cm = stored(&s.server, "v1", "ConfigMap", "apps", "podinfo-config");
    let mut data = cm["data"].as_object().cloned().unwrap_or_default();
    data.insert("extra".into(), json!("1"));
    let manifest = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "podinfo-config", "namespace": "apps"}, "data": data})
    .to_string();
    // The owner is read from the live object's labels: kustomize-controller's manager, its
    // labels kept.
    let out = s.ok(
        "diff_kubernetes_manifest",
        json!({"yaml_content": manifest}),
    );
    assert!(
        out.contains(
            "ConfigMap/apps/podinfo-config would change (field manager kustomize-controller):"
        ),
        "{out}"
    );
    assert!(out.contains("+  extra: '1'\n"), "{out}");
    assert!(
        !out.contains("-    kustomize.toolkit.fluxcd.io/name"),
        "the owner's labels stay: {out}"
    );
    let w = writes_of(&s.server);
    assert_eq!(w[0].param("fieldManager"), Some("kustomize-controller"));
    // Named owner: its labels are added to a new object.
    let out = s.ok(
        "diff_kubernetes_manifest",
        json!({"yaml_content": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: added, namespace: apps}\n",
               "owner_kind": "Kustomization", "owner_name": "podinfo", "owner_namespace": "apps"}),
    );
    assert!(out.starts_with("# server-side dry run in context flux-test, forced, as Kustomization/apps/podinfo applies it (field manager kustomize-controller)"), "{out}");
    let last = writes_of(&s.server).pop().expect("dry run");
    assert_eq!(
        body(&last)["metadata"]["labels"],
        json!({"kustomize.toolkit.fluxcd.io/name": "podinfo", "kustomize.toolkit.fluxcd.io/namespace": "apps"})
    );
    let err = s.err(
        "diff_kubernetes_manifest",
        json!({"yaml_content": manifest, "owner_kind": "Kustomization"}),
    );
    assert!(
        err.starts_with("owner_kind and owner_name go together"),
        "{err}"
    );
    let err = s.err("diff_kubernetes_manifest", json!({"yaml_content": manifest, "owner_kind": "GitRepository", "owner_name": "flux-system", "owner_namespace": "flux-system"}));
    assert!(
        err.contains("a GitRepository does not apply manifests"),
        "{err}"
    );
    // A Secret: which keys change, never a value.
    let secret = stored(&s.server, "v1", "Secret", "flux-system", "slack-bot-token");
    let key = secret["data"]
        .as_object()
        .and_then(|d| d.keys().next().cloned())
        .expect("a key");
    let old_value = secret["data"][&key]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let manifest = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "slack-bot-token", "namespace": "flux-system"},
        "data": {key.clone(): "bmV3LXNlY3JldC12YWx1ZS0x"}})
    .to_string();
    let out = s.ok(
        "diff_kubernetes_manifest",
        json!({"yaml_content": manifest}),
    );
    assert!(
        out.contains(&format!("+  {key}: '<masked: 18 bytes, changed>'")),
        "{out}"
    );
    for value in [
        old_value.as_str(),
        "bmV3LXNlY3JldC12YWx1ZS0x",
        "new-secret-value-1",
    ] {
        assert!(!out.contains(value), "{value} in {out}");
    }
}

// ---- read-only, allow-lists -------------------------------------------------------------------

#[cfg(feature = "mutations")]
#[test]
fn read_only_hides_every_write_tool_but_keeps_diff() {
    let mut mcp = Mcp::serve(&["--read-only"]);
    mcp.handshake("2025-06-18");
    let names = tool_names(&mut mcp);
    for tool in WRITE_TOOLS {
        assert!(
            !names.iter().any(|n| n == tool),
            "{tool} offered under --read-only"
        );
        let r = mcp.request(
            json!(tool),
            "tools/call",
            json!({"name": tool, "arguments": {}}),
        );
        assert_eq!(r["error"]["code"], json!(-32602), "{r}");
        let message = r["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(
            message,
            format!("tool {tool} is not available: the server runs with --read-only")
        );
    }
    assert!(
        names.iter().any(|n| n == "diff_kubernetes_manifest"),
        "{names:?}"
    );
    let mut all = Mcp::serve(&[]);
    all.handshake("2025-06-18");
    let names = tool_names(&mut all);
    for tool in WRITE_TOOLS {
        assert!(
            names.iter().any(|n| n == tool),
            "{tool} missing from {names:?}"
        );
    }
}

#[cfg(feature = "mutations")]
#[test]
fn tools_and_disable_tools_allow_read_plus_reconcile() {
    let mut mcp = Mcp::serve(&[
        "--tools",
        "get_flux_instance,get_kubernetes_resources,reconcile_flux_resource",
        "--disable-tools=get_flux_instance",
    ]);
    mcp.handshake("2025-06-18");
    assert_eq!(
        tool_names(&mut mcp),
        ["get_kubernetes_resources", "reconcile_flux_resource"]
    );
    let r = mcp.request(
        json!(1),
        "tools/call",
        json!({"name": "apply_kubernetes_manifest", "arguments": {}}),
    );
    assert_eq!(
        r["error"]["message"],
        "tool apply_kubernetes_manifest is not available: the server runs with --tools, which does not name it"
    );
    let r = mcp.request(
        json!(2),
        "tools/call",
        json!({"name": "get_flux_instance", "arguments": {}}),
    );
    assert_eq!(
        r["error"]["message"],
        "tool get_flux_instance is not available: the server runs with --disable-tools, which names it"
    );
    let out = command()
        .args(["serve", "--tools", "reconcile_flux_resources"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "flux-operator-mcp: invalid value \"reconcile_flux_resources\" for --tools: unknown tool \"reconcile_flux_resources\" (did you mean reconcile_flux_resource?)"
    );
}

/// The binary under test as text: bytes that are not UTF-8 become U+FFFD, which never turns
/// an ASCII needle into something else or makes one up, and `str::contains` (the standard
/// library's, built optimised) searches a debug binary of a hundred megabytes in well under a
/// second where a byte-window loop in a debug test takes a minute.
fn binary_text() -> String {
    let bytes = std::fs::read(crate::support::bin()).expect("read the binary");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The default binary holds what the read-only one must not (so the scan below can fail).
#[cfg(feature = "mutations")]
#[test]
fn the_default_binary_holds_the_write_strings() {
    let binary = binary_text();
    for needle in WRITE_TOOLS.iter().chain(WRITE_STRINGS.iter()) {
        assert!(
            binary.contains(needle),
            "{needle} not found in the default binary"
        );
    }
}

/// The read-only build (`cargo test --no-default-features`, which `make test` runs) is checked
/// on the binary cargo built for this test run: a debug build, so every string and symbol of
/// the code it holds is in it, none of the write tools' names, field manager, write query
/// parameters or patch content types may be.
#[cfg(not(feature = "mutations"))]
#[test]
fn the_read_only_binary_has_no_write_code() {
    let binary = binary_text();
    for needle in WRITE_TOOLS.iter().chain(WRITE_STRINGS.iter()) {
        assert!(
            !binary.contains(needle),
            "the read-only binary contains {needle}"
        );
    }
}

#[cfg(not(feature = "mutations"))]
#[test]
fn the_read_only_build_says_so_and_refuses_to_write() {
    let out = command()
        .args(["serve", "--read-only=false"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--read-only=false is not possible: this is the read-only build"),
        "{stderr}"
    );
    let help = command().arg("--help").output().expect("run");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("Build: read-only."), "{help}");
    assert!(
        help.contains("diff_kubernetes_manifest is left out"),
        "{help}"
    );
    let version = command().arg("version").output().expect("run");
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.trim_end().ends_with(" (read-only build)"),
        "{version}"
    );
}

/// Every tool of the read-only build, called against the test API server with arguments that
/// reach the cluster (and, for tools this list does not know yet, with none): the server saw
/// nothing but GET.
#[cfg(not(feature = "mutations"))]
#[test]
fn every_tool_of_the_read_only_build_sends_only_get() {
    let options = with_controller(20);
    let mut s = Session::start("writes-read-only-build", options, Identity::ClientCert, &[]);
    let names = tool_names(&mut s.mcp);
    for tool in WRITE_TOOLS
        .iter()
        .chain(["diff_kubernetes_manifest"].iter())
    {
        assert!(
            !names.iter().any(|n| n == tool),
            "{tool} in the read-only build"
        );
        let r = s.mcp.request(
            json!(tool),
            "tools/call",
            json!({"name": tool, "arguments": {}}),
        );
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with(&format!("unknown tool \"{tool}\"")),
            "{r}"
        );
    }
    let calls = [
        ("get_flux_instance", json!({})),
        (
            "get_kubernetes_resources",
            json!({"kind": "Kustomization", "namespace": "flux-system"}),
        ),
        (
            "get_kubernetes_resources",
            json!({"kind": "HelmRelease", "name": "podinfo", "namespace": "apps"}),
        ),
        ("get_kubernetes_api_versions", json!({})),
        (
            "get_kubernetes_logs",
            json!({"pod_name": "deploy/podinfo", "pod_namespace": "apps"}),
        ),
        (
            "get_kubernetes_metrics",
            json!({"pod_namespace": "flux-system"}),
        ),
        ("get_kubeconfig_contexts", json!({})),
        ("set_kubeconfig_context", json!({"name": "flux-test"})),
        ("search_flux_docs", json!({"query": "reconcile"})),
    ];
    for name in &names {
        let known: Vec<&Value> = calls
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, a)| a)
            .collect();
        if known.is_empty() {
            let _ = s.mcp.call(name, json!({}));
        }
        for args in known {
            let (text, is_error) = s.mcp.call(name, args.clone());
            assert!(!is_error, "{name} {args}: {text}");
        }
    }
    let requests = s.server.requests();
    assert!(requests.len() > 10, "the tools reached the cluster");
    let other: Vec<String> = requests
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(other.is_empty(), "{other:?}");
}

// ---- more failure paths -------------------------------------------------------------------------

/// The CustomResourceDefinition of a manifest is applied first and waited for (established)
/// before the objects of its kind, whatever the order in the manifest.
#[cfg(feature = "mutations")]
#[test]
fn apply_puts_a_crd_first_and_waits_for_it() {
    let mut s = Session::start(
        "writes-apply-crd",
        Options::default(),
        Identity::ClientCert,
        &[],
    );
    let crds = std::fs::read_to_string(crate::support::testdata().join("cluster/00-crds.yaml"))
        .expect("read CRDs");
    let alerts = crds
        .split("\n---\n")
        .find(|d| d.contains("name: alerts.notification.toolkit.fluxcd.io"))
        .expect("the Alert CRD");
    let manifest = format!(
        "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\n\
         metadata: {{name: e2e, namespace: flux-system}}\n\
         spec: {{providerRef: {{name: slack}}, eventSources: [{{kind: Kustomization, name: '*'}}]}}\n\
         ---\n{alerts}\n"
    );
    let err = s.err(
        "apply_kubernetes_manifest",
        json!({"yaml_content": manifest}),
    );
    assert!(
        err.contains("CustomResourceDefinition/alerts.notification.toolkit.fluxcd.io is managed by FluxInstance flux-system/flux"),
        "{err}"
    );
    let out = s.ok(
        "apply_kubernetes_manifest",
        json!({"yaml_content": manifest, "overwrite": true}),
    );
    assert!(
        out.starts_with("Alert/flux-system/e2e created\nCustomResourceDefinition/alerts.notification.toolkit.fluxcd.io "),
        "{out}"
    );
    let requests = s.server.requests();
    let crd_patch = requests
        .iter()
        .position(|r| {
            r.method == "PATCH" && r.path.ends_with("/alerts.notification.toolkit.fluxcd.io")
        })
        .expect("the CRD applied");
    let alert_patch = requests
        .iter()
        .position(|r| r.method == "PATCH" && r.path.ends_with("/alerts/e2e"))
        .expect("the Alert applied");
    assert!(
        requests[crd_patch..alert_patch].iter().any(
            |r| r.method == "GET" && r.path.ends_with("/alerts.notification.toolkit.fluxcd.io")
        ),
        "the CRD is checked for Established before the Alert is applied"
    );
}

#[cfg(feature = "mutations")]
#[test]
fn more_refusals_say_what_is_wrong() {
    let options = Options {
        deny: vec![
            Deny::new("patch", "apps", "deployments").in_namespace("monitoring"),
            Deny::new("patch", "", "configmaps").in_namespace("monitoring"),
        ],
        ..Options::default()
    };
    let mut s = Session::start("writes-more-refusals", options, Identity::ClientCert, &[]);
    // Unknown kinds get close matches.
    let err = s.err(
        "reconcile_flux_resource",
        json!({"kind": "Kustomisation", "name": "apps", "namespace": "flux-system"}),
    );
    assert!(
        err.contains("the server has no kind \"Kustomisation\"; did you mean Kustomization"),
        "{err}"
    );
    let err = s.err(
        "suspend_flux_reconciliation",
        json!({"kind": "ConfigMap", "name": "x", "namespace": "apps"}),
    );
    assert!(
        err.starts_with("ConfigMap (v1) is not a Flux kind"),
        "{err}"
    );
    let err = s.err(
        "suspend_flux_reconciliation",
        json!({"kind": "HelmRelease", "name": "nope", "namespace": "apps"}),
    );
    assert!(err.starts_with("HelmRelease apps/nope not found"), "{err}");
    // RBAC names the verb for a patch.
    let err = s.err(
        "patch_kubernetes_resource",
        json!({"kind": "Deployment", "name": "kube-prometheus-stack-operator", "namespace": "monitoring",
               "patch": {"spec": {"replicas": 2}}}),
    );
    assert!(
        err.contains("Deployment/monitoring/kube-prometheus-stack-operator: this identity may not patch it (RBAC)"),
        "{err}"
    );
    // A JSON patch whose operation does not apply: the API server's own words.
    let err = s.err(
        "patch_kubernetes_resource",
        json!({"kind": "Deployment", "name": "api", "namespace": "apps", "type": "json",
               "patch": [{"op": "remove", "path": "/spec/nothing-here"}]}),
    );
    assert!(
        err.contains("Deployment/apps/api: patch failed: error from server (Invalid): the server rejected our request"),
        "{err}"
    );
    // Two documents for one object.
    let twice = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: apps}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: apps}\n";
    assert_eq!(
        s.err("apply_kubernetes_manifest", json!({"yaml_content": twice})),
        "document 2 repeats ConfigMap/apps/a of document 1; nothing was applied"
    );
    // diff: an object that cannot be compared is said so; the others still are.
    let manifest = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: apps}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: fresh, namespace: apps}\n";
    let out = s.ok(
        "diff_kubernetes_manifest",
        json!({"yaml_content": manifest}),
    );
    assert!(
        out.contains(
            "Widget/apps/w cannot be compared (document 1): the server has no kind \"Widget\""
        ),
        "{out}"
    );
    assert!(
        out.contains("ConfigMap/apps/fresh would be created\n"),
        "{out}"
    );
    assert!(
        out.ends_with("# 1 to create, 0 to change, 0 unchanged, 1 could not be compared\n"),
        "{out}"
    );
    // A dry run needs the patch verb too, and says so.
    let err = s.err(
        "diff_kubernetes_manifest",
        json!({"yaml_content": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: monitoring}\n"}),
    );
    assert!(
        err.contains("this identity may not patch it (RBAC)"),
        "{err}"
    );
    assert!(
        err.contains("a server-side dry run needs the patch verb"),
        "{err}"
    );
}
