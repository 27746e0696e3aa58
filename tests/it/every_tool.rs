//! The table every tool the server lists must have an entry in: arguments of a call that
//! succeeds on `testdata/cluster`, arguments that take its error paths, and the HTTP methods it
//! may send. The fault matrix (`faults.rs`) and the verbs test (`verbs.rs`) iterate `tools/list`
//! and look each tool up here, so a new tool fails both until it is described: a write tool
//! declares here which verbs it sends. Both tests serve the same world ([`options`]): the
//! default test cluster, one suspended Kustomization for the resume tool, and the simulated
//! controller, so that a reconcile is handled at once.

use std::time::Duration;

use serde_json::{Value, json};

use crate::apiserver::{Controller, Options, RecordedRequest};
use crate::support::Mcp;

/// What the tests know about one tool.
pub struct Entry {
    pub name: &'static str,
    /// A call that succeeds against the test API server's default data: the minimal one,
    /// which the fault matrix makes.
    pub ok: fn() -> Value,
    /// More calls that succeed, taking other paths (a get by name beside a list).
    pub more: fn() -> Vec<Value>,
    /// Calls that fail before or after reaching the cluster: unknown names, kinds, pods.
    pub errors: fn() -> Vec<Value>,
    /// The HTTP methods the tool may send. Empty: it never talks to a cluster (and its
    /// `openWorldHint` is false; `verbs.rs` checks the two agree).
    pub verbs: &'static [&'static str],
    /// Every request but a GET must be a server-side dry run (`dryRun=All`): it changes
    /// nothing, so a tool with readOnlyHint may send it (diff_kubernetes_manifest).
    pub dry_run_only: bool,
}

/// The test API server both tests run each tool against.
pub fn options() -> Options {
    Options {
        extra_objects: vec![json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": "paused", "namespace": "apps", "generation": 1},
            "spec": {
                "interval": "10m", "path": "./paused", "prune": true, "suspend": true,
                "sourceRef": {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"}
            },
            "status": {
                "observedGeneration": 1,
                "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                    "message": "Applied revision: main@sha1:0123456789abcdef",
                    "lastTransitionTime": "2026-11-20T10:00:00Z"}]
            }
        })],
        controller: Some(Controller::with_delay(Duration::from_millis(20))),
        ..Options::default()
    }
}

/// Whether a request is a server-side dry run: `dryRun=All` in its query, or in the
/// DeleteOptions of its body.
pub fn is_dry_run(r: &RecordedRequest) -> bool {
    if r.param("dryRun") == Some("All") {
        return true;
    }
    let body: Value = r
        .body
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    body["dryRun"] == json!(["All"])
}

/// Whether the table lets `entry` send `r`, and, for a tool with readOnlyHint, whether the
/// request changes nothing: a GET, or a dry run of a tool that may only dry-run.
pub fn allowed(entry: &Entry, read_only_hint: bool, r: &RecordedRequest) -> bool {
    let declared = entry.verbs.contains(&r.method.as_str());
    let harmless = r.method == "GET" || (entry.dry_run_only && is_dry_run(r));
    declared && (harmless || (!read_only_hint && !entry.dry_run_only))
}

/// One entry per tool of either build, sorted by name.
pub const TABLE: &[Entry] = &[
    Entry {
        name: "apply_kubernetes_manifest",
        // Applying the same object again leaves it unchanged: the call succeeds every time.
        ok: || json!({"yaml_content": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fault-matrix, namespace: apps}\ndata: {level: info}\n"}),
        more: || {
            vec![
                json!({"yaml_content": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fault-matrix, namespace: apps}\ndata: {level: info}\n", "dry_run": true}),
            ]
        },
        errors: || {
            vec![
                json!({"yaml_content": "kind: [unclosed"}),
                json!({"yaml_content": "apiVersion: example.com/v1\nkind: NoSuchKind\nmetadata: {name: x, namespace: apps}\n"}),
                // Managed by the HelmRelease apps/podinfo: refused without overwrite.
                json!({"yaml_content": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: podinfo, namespace: apps}\nspec: {replicas: 9}\n"}),
            ]
        },
        verbs: &["GET", "PATCH"],
        dry_run_only: false,
    },
    Entry {
        name: "delete_kubernetes_resource",
        // A dry run: the object is still there for the next call.
        ok: || json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "cluster-settings", "namespace": "flux-system", "dry_run": true}),
        more: || vec![json!({"apiVersion": "v1", "kind": "Node", "name": "prod-eu1-pool-a-9hw3c"})],
        errors: || {
            vec![
                json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "no-such-object", "namespace": "flux-system"}),
                json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "x"}),
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo", "namespace": "apps"}),
                json!({"apiVersion": "example.com/v1", "kind": "NoSuchKind", "name": "x", "namespace": "apps"}),
            ]
        },
        verbs: &["GET", "DELETE"],
        dry_run_only: false,
    },
    Entry {
        name: "diff_kubernetes_manifest",
        ok: || json!({"yaml_content": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fault-matrix, namespace: apps}\ndata: {level: info}\n"}),
        more: || {
            vec![
                json!({"yaml_content": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cluster-settings, namespace: flux-system}\ndata: {changed: 'yes'}\n"}),
            ]
        },
        errors: || {
            vec![
                json!({"yaml_content": "kind: [unclosed"}),
                json!({"yaml_content": "apiVersion: example.com/v1\nkind: NoSuchKind\nmetadata: {name: x, namespace: apps}\n"}),
            ]
        },
        verbs: &["GET", "PATCH"],
        dry_run_only: true,
    },
    Entry {
        name: "get_flux_instance",
        ok: || json!({}),
        more: Vec::new,
        errors: || vec![json!({"context": "no-such-context"})],
        verbs: &["GET"],
        dry_run_only: false,
    },
    Entry {
        name: "get_kubeconfig_contexts",
        ok: || json!({}),
        more: Vec::new,
        errors: Vec::new,
        verbs: &[],
        dry_run_only: false,
    },
    Entry {
        name: "get_kubernetes_api_versions",
        ok: || json!({}),
        more: Vec::new,
        errors: || vec![json!({"context": "no-such-context"})],
        verbs: &["GET"],
        dry_run_only: false,
    },
    Entry {
        name: "get_kubernetes_events",
        ok: || json!({"namespace": "flux-system", "limit": 5}),
        more: || vec![json!({"kind": "HelmRelease", "name": "redis", "namespace": "apps"})],
        errors: || {
            vec![
                json!({"kind": "HelmRelase"}),
                json!({"kind": "HelmRelease", "name": "podinf", "namespace": "apps"}),
                json!({"since": "an hour"}),
            ]
        },
        verbs: &["GET"],
        dry_run_only: false,
    },
    Entry {
        name: "get_kubernetes_logs",
        ok: || json!({"pod_name": "kustomize-controller-dh7rk62ks-2dwjq", "pod_namespace": "flux-system", "limit": 5}),
        more: || vec![json!({"pod_name": "deploy/api", "pod_namespace": "apps", "limit": 3})],
        errors: || {
            vec![
                json!({"pod_name": "no-such-pod", "pod_namespace": "flux-system"}),
                json!({"pod_name": "deploy/no-such-deployment", "pod_namespace": "apps"}),
                json!({"pod_name": "kustomize-controller-dh7rk62ks-2dwjq", "pod_namespace": "flux-system", "container_name": "no-such-container"}),
                json!({"pod_name": "podinfo", "pod_namespace": "no-such-namespace"}),
            ]
        },
        verbs: &["GET"],
        dry_run_only: false,
    },
    Entry {
        name: "get_kubernetes_metrics",
        ok: || json!({"pod_namespace": "flux-system"}),
        more: || {
            vec![
                json!({"pod_namespace": "flux-system", "pod_name": "kustomize-controller-dh7rk62ks-2dwjq"}),
            ]
        },
        errors: || {
            vec![
                json!({"pod_namespace": "flux-system", "pod_name": "no-such-pod"}),
                json!({"pod_namespace": "flux-system", "pod_selector": "app in (("}),
            ]
        },
        verbs: &["GET"],
        dry_run_only: false,
    },
    Entry {
        name: "get_kubernetes_resources",
        ok: || json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "namespace": "flux-system"}),
        more: || {
            vec![
                json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system"}),
                json!({"kind": "HelmRelease", "namespace": "apps", "fields": ["status.conditions"]}),
                json!({"kind": "Secret", "namespace": "apps"}),
            ]
        },
        errors: || {
            vec![
                json!({"kind": "Kustomization", "name": "no-such-object", "namespace": "flux-system"}),
                json!({"kind": "NoSuchKind"}),
                json!({"kind": "Kustomization", "selector": "app in (("}),
                json!({"kind": "HelmRelease", "name": "podinfo", "namespace": "no-such-namespace"}),
            ]
        },
        verbs: &["GET"],
        dry_run_only: false,
    },
    Entry {
        name: "patch_kubernetes_resource",
        // The same merge patch again changes nothing and still succeeds.
        ok: || json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "cluster-settings", "namespace": "flux-system", "patch": "{\"metadata\":{\"annotations\":{\"example.com/audit\":\"1\"}}}"}),
        more: || {
            vec![
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "api", "namespace": "apps", "type": "strategic",
                "patch": "spec:\n  template:\n    metadata:\n      annotations:\n        kubectl.kubernetes.io/restartedAt: '2026-11-21T06:00:00Z'\n"}),
            ]
        },
        errors: || {
            vec![
                json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "no-such-object", "namespace": "flux-system", "patch": "{}"}),
                json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "cluster-settings", "namespace": "flux-system", "patch": "{not json"}),
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo", "namespace": "apps", "patch": "{\"spec\":{\"replicas\":9}}"}),
            ]
        },
        verbs: &["GET", "PATCH"],
        dry_run_only: false,
    },
    Entry {
        name: "read_flux_doc",
        ok: || json!({"path": "kinds/kustomization"}),
        more: Vec::new,
        errors: || vec![json!({"path": "kinds/no-such-document"})],
        verbs: &[],
        dry_run_only: false,
    },
    Entry {
        name: "reconcile_flux_resource",
        ok: || json!({"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"}),
        more: || {
            vec![
                json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system", "wait": false}),
            ]
        },
        errors: || {
            vec![
                json!({"kind": "NoSuchKind", "name": "x"}),
                json!({"kind": "Kustomization", "name": "no-such-object", "namespace": "flux-system"}),
                json!({"kind": "Kustomization", "name": "paused", "namespace": "apps"}),
            ]
        },
        verbs: &["GET", "PATCH"],
        dry_run_only: false,
    },
    Entry {
        name: "resume_flux_reconciliation",
        // Resumes the suspended Kustomization of `options` (a PATCH) the first time it
        // succeeds, and says it is not suspended after that.
        ok: || json!({"kind": "Kustomization", "name": "paused", "namespace": "apps"}),
        more: Vec::new,
        errors: || {
            vec![
                json!({"kind": "NoSuchKind", "name": "x"}),
                json!({"kind": "Kustomization", "name": "no-such-object", "namespace": "apps"}),
            ]
        },
        verbs: &["GET", "PATCH"],
        dry_run_only: false,
    },
    Entry {
        name: "search_flux_docs",
        ok: || json!({"query": "dependsOn"}),
        more: Vec::new,
        errors: || vec![json!({"query": "dependsOn", "path": "kinds/no-such-document"})],
        verbs: &[],
        dry_run_only: false,
    },
    Entry {
        name: "set_kubeconfig_context",
        ok: || json!({"name": "flux-test"}),
        more: Vec::new,
        errors: || vec![json!({"name": "no-such-context"})],
        verbs: &[],
        dry_run_only: false,
    },
    Entry {
        name: "suspend_flux_reconciliation",
        // Suspending a suspended object changes nothing and still succeeds.
        ok: || json!({"kind": "Kustomization", "name": "podinfo", "namespace": "apps"}),
        more: Vec::new,
        errors: || {
            vec![
                json!({"kind": "NoSuchKind", "name": "x"}),
                json!({"kind": "Kustomization", "name": "no-such-object", "namespace": "apps"}),
            ]
        },
        verbs: &["GET", "PATCH"],
        dry_run_only: false,
    },
    Entry {
        name: "trace_kubernetes_resource",
        ok: || json!({"kind": "GitRepository", "name": "infra-private", "namespace": "flux-system"}),
        more: || vec![json!({"kind": "Pod", "name": "redis-master-0", "namespace": "apps"})],
        errors: || {
            vec![
                json!({"kind": "Deploymnet", "name": "x"}),
                json!({"kind": "HelmRelease", "name": "podinf", "namespace": "apps"}),
            ]
        },
        verbs: &["GET"],
        dry_run_only: false,
    },
];

/// The entry of `name`; fails the test naming the tool when the table lacks it.
#[track_caller]
pub fn entry(name: &str) -> &'static Entry {
    TABLE.iter().find(|e| e.name == name).unwrap_or_else(|| {
        panic!(
            "tool {name:?} is listed by tools/list but has no entry in tests/it/every_tool.rs: \
             give it arguments and the verbs it may send"
        )
    })
}

/// A tool as `tools/list` shows it.
pub struct Listed {
    pub name: String,
    /// `annotations.readOnlyHint`.
    pub read_only: bool,
    /// `annotations.openWorldHint`: the tool reaches something outside the server (a cluster).
    pub open_world: bool,
}

/// Every tool the server lists, in its order.
pub fn listed(mcp: &mut Mcp) -> Vec<Listed> {
    let r = mcp.request(json!("every-tool-list"), "tools/list", json!({}));
    let tools = r["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("tools/list: {r}"));
    assert!(!tools.is_empty(), "tools/list is empty: {r}");
    tools
        .iter()
        .map(|t| {
            let hint = |name: &str| {
                t["annotations"][name]
                    .as_bool()
                    .unwrap_or_else(|| panic!("{} lacks annotations.{name}: {t}", t["name"]))
            };
            Listed {
                name: t["name"].as_str().expect("tool name").to_string(),
                read_only: hint("readOnlyHint"),
                open_world: hint("openWorldHint"),
            }
        })
        .collect()
}

#[test]
fn the_table_is_sorted_and_every_tool_of_this_build_is_in_it() {
    let names: Vec<&str> = TABLE.iter().map(|e| e.name).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(names, sorted, "sorted by name, no duplicates");
    let mut mcp = Mcp::serve(&[]);
    mcp.handshake("2025-06-18");
    for tool in listed(&mut mcp) {
        let e = entry(&tool.name);
        assert_eq!(
            e.verbs.is_empty(),
            !tool.open_world,
            "{}: a tool reaches a cluster exactly when openWorldHint says so",
            tool.name
        );
        if tool.read_only {
            assert!(
                e.dry_run_only || e.verbs.iter().all(|v| *v == "GET"),
                "{}: readOnlyHint, yet the table lets it send {:?}",
                tool.name,
                e.verbs
            );
        } else {
            assert!(
                !e.dry_run_only,
                "{}: dry runs only, yet no readOnlyHint",
                tool.name
            );
        }
    }
}
