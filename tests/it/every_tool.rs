//! The table every tool the server lists must have an entry in: arguments of a call that
//! succeeds on `testdata/cluster`, arguments that take its error paths, and the HTTP methods it
//! may send. The fault matrix (`faults.rs`) and the verbs test (`verbs.rs`) iterate `tools/list`
//! and look each tool up here, so a new tool fails both until it is described: a write tool
//! declares here which verbs it sends.

use serde_json::{Value, json};

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
}

/// One entry per tool of either build, sorted by name.
pub const TABLE: &[Entry] = &[
    Entry {
        name: "get_flux_instance",
        ok: || json!({}),
        more: Vec::new,
        errors: || vec![json!({"context": "no-such-context"})],
        verbs: &["GET"],
    },
    Entry {
        name: "get_kubeconfig_contexts",
        ok: || json!({}),
        more: Vec::new,
        errors: Vec::new,
        verbs: &[],
    },
    Entry {
        name: "get_kubernetes_api_versions",
        ok: || json!({}),
        more: Vec::new,
        errors: || vec![json!({"context": "no-such-context"})],
        verbs: &["GET"],
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
    },
    Entry {
        name: "read_flux_doc",
        ok: || json!({"path": "kinds/kustomization"}),
        more: Vec::new,
        errors: || vec![json!({"path": "kinds/no-such-document"})],
        verbs: &[],
    },
    Entry {
        name: "search_flux_docs",
        ok: || json!({"query": "dependsOn"}),
        more: Vec::new,
        errors: || vec![json!({"query": "dependsOn", "path": "kinds/no-such-document"})],
        verbs: &[],
    },
    Entry {
        name: "set_kubeconfig_context",
        ok: || json!({"name": "flux-test"}),
        more: Vec::new,
        errors: || vec![json!({"name": "no-such-context"})],
        verbs: &[],
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
                e.verbs.iter().all(|v| *v == "GET"),
                "{}: readOnlyHint, yet the table lets it send {:?}",
                tool.name,
                e.verbs
            );
        }
    }
}
