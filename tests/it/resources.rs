//! `get_kubernetes_resources` and `get_flux_instance` through the real binary (`serve` over
//! pipes) against the test API server: golden outputs for the failure shapes an incident
//! brings (install retries exhausted, dependency not ready, Git auth failure), lists with their
//! summary, masking, `fields`, the instance with and without the Flux Operator, and every error
//! path (403, unknown kind, not found, timeout, truncated list, no metrics-server).

use std::time::Duration;

use serde_json::{Value, json};

use crate::apiserver::{self, Deny, FLUX_KINDS, Fault, FaultKind, Identity, Options};
use crate::support::{self, Rng, Session};

/// A server, a kubeconfig for it, and the binary serving MCP with it.
fn setup(tag: &str, options: Options, flags: &[&str]) -> Session {
    Session::start(
        &format!("resources-{tag}"),
        options,
        Identity::ClientCert,
        flags,
    )
}

impl Session {
    fn resources(&mut self, arguments: Value) -> String {
        self.ok("get_kubernetes_resources", arguments)
    }
}

fn default_setup(tag: &str) -> Session {
    setup(tag, Options::default(), &[])
}

/// Every YAML document of an answer parses (comments and all).
#[track_caller]
fn assert_yaml(text: &str) {
    for (i, doc) in serde_norway::Deserializer::from_str(text).enumerate() {
        if let Err(e) = <Value as serde::Deserialize>::deserialize(doc) {
            panic!("document {} is not YAML: {e}\n{text}", i + 1);
        }
    }
}

// ---- goldens ---------------------------------------------------------------------------------

/// The documents of an answer, parsed (the comment-only summary document is `null`).
fn documents(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .filter_map(|d| <Value as serde::Deserialize>::deserialize(d).ok())
        .collect()
}

/// The condition `type` of the object `namespace/name` in an answer.
#[track_caller]
fn condition(text: &str, namespace: &str, name: &str, type_: &str) -> Value {
    documents(text)
        .into_iter()
        .find(|d| {
            d["metadata"]["name"] == json!(name) && d["metadata"]["namespace"] == json!(namespace)
        })
        .and_then(|d| {
            d["status"]["conditions"]
                .as_array()?
                .iter()
                .find(|c| c["type"] == json!(type_))
                .cloned()
        })
        .unwrap_or_else(|| panic!("no {type_} condition for {namespace}/{name} in:\n{text}"))
}

#[test]
fn a_failing_helmrelease_says_why_first() {
    let mut s = default_setup("hr-failing");
    let out = s.resources(
        json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                                 "name": "redis", "namespace": "apps"}),
    );
    // Reasons and the state of the chart first, then the status (every message verbatim)
    // before the spec.
    assert!(
        out.starts_with(
            "---\n# NOT READY HelmRelease apps/redis: InstallFailed; stalled: RetriesExceeded\n\
             # source HelmChart flux-system/apps-redis: ready\n\
             # managed by Kustomization flux-system/apps\n\
             apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: redis\n  namespace: apps\nstatus:\n  conditions:\n"
        ),
        "{out}"
    );
    assert!(out.find("\nstatus:\n") < out.find("\nspec:\n"), "{out}");
    assert_eq!(
        condition(&out, "apps", "redis", "Ready")["message"],
        "Helm install failed for release apps/redis with chart redis@20.1.4: context deadline exceeded"
    );
    assert_eq!(
        condition(&out, "apps", "redis", "Stalled")["message"],
        "Failed to install after 4 attempt(s)"
    );
    assert!(
        !out.contains("quoted in") && !out.contains("(same as"),
        "{out}"
    );
    assert_yaml(&out);
    support::golden("resources/helmrelease-failing.yaml", &out);
}

#[test]
fn a_kustomization_blocked_by_its_dependency_names_it() {
    let mut s = default_setup("ks-dependency");
    let out = s.resources(json!({"kind": "ks", "name": "monitoring-configs",
                                 "namespace": "flux-system"}));
    assert!(out.contains(
        "# dependency Kustomization flux-system/monitoring-controllers: not ready: HealthCheckFailed: health check failed after 5m0.041s: timeout waiting for: [Deployment/monitoring/kube-state-metrics status: 'InProgress']\n"
    ), "{out}");
    assert!(
        out.contains("# source GitRepository flux-system/flux-system: ready\n"),
        "{out}"
    );
    assert!(
        out.starts_with("---\n# NOT READY Kustomization flux-system/monitoring-configs: DependencyNotReady; root cause: Kustomization flux-system/monitoring-controllers: not ready: HealthCheckFailed\n"),
        "{out}"
    );
    assert_yaml(&out);
    support::golden("resources/kustomization-dependency.yaml", &out);
}

/// The chain is followed to the first object that is itself failing or missing, across
/// kinds, and that root is named in the headline; each message on the way is whole.
#[test]
fn the_chain_is_followed_to_the_root_cause() {
    let mut s = default_setup("chains");
    let cases = [
        // HelmRelease -> HelmChart (missing) -> HelmRepository (missing, named by the chart
        // template since the HelmChart that would name it does not exist).
        (
            json!({"kind": "HelmRelease", "name": "grafana", "namespace": "apps"}),
            "# NOT READY HelmRelease apps/grafana: ArtifactFailed; root cause: HelmRepository flux-system/grafana: not found\n\
          # source HelmChart flux-system/apps-grafana: not found\n\
          #   its source HelmRepository flux-system/grafana: not found\n",
        ),
        // HelmRelease -> HelmChart (failing) -> HelmRepository (ready): the chart is the root.
        (
            json!({"kind": "HelmRelease", "name": "metrics-exporter", "namespace": "apps"}),
            "# NOT READY HelmRelease apps/metrics-exporter: ArtifactFailed; root cause: HelmChart flux-system/apps-metrics-exporter: not ready: InvalidChartReference\n",
        ),
        // Kustomization -> dependsOn Kustomization -> its OCIRepository.
        (
            json!({"kind": "Kustomization", "name": "observability", "namespace": "flux-system"}),
            "# NOT READY Kustomization flux-system/observability: DependencyNotReady; root cause: OCIRepository apps/webapp-config: not ready: OCIOperationFailed\n\
          # source GitRepository flux-system/flux-system: ready\n\
          # dependency Kustomization apps/webapp: not ready: ArtifactFailed: Source artifact not found, retrying in 30s\n\
          #   its source OCIRepository apps/webapp-config: not ready: OCIOperationFailed: failed to pull artifact from 'oci://ghcr.io/acme-corp/manifests/webapp': couldn't find tag \"v2.4.0\"\n",
        ),
        // ImagePolicy -> ImageRepository.
        (
            json!({"kind": "ImagePolicy", "name": "webapp-api", "namespace": "flux-system"}),
            "# NOT READY ImagePolicy flux-system/webapp-api: DependencyNotReady; root cause: ImageRepository flux-system/webapp-api: not ready: AuthenticationFailed\n",
        ),
        // ResourceSet -> its input provider.
        (
            json!({"kind": "ResourceSet", "name": "team-envs", "namespace": "flux-system"}),
            "# NOT READY ResourceSet flux-system/team-envs: ReconciliationFailed; root cause: ResourceSetInputProvider flux-system/team-onboarding: not ready: ReconciliationFailed\n\
          # input provider ResourceSetInputProvider flux-system/team-onboarding: not ready: ReconciliationFailed: failed to list pull requests: GET https://gitlab.acme.internal/api/v4/projects/platform%2Fteams/merge_requests?state=opened: 401 {message: 401 Unauthorized}\n",
        ),
        // A multi-line message in the chain is kept whole: the cause is on its second line.
        (
            json!({"kind": "Kustomization", "name": "shop-payments", "namespace": "apps"}),
            "# source GitRepository apps/payments: not ready: GitOperationFailed: failed to checkout and determine revision: unable to clone 'https://git.acme.internal/payments/deploy.git':\n\
          # Get \"https://git.acme.internal/payments/deploy.git/info/refs?service=git-upload-pack\": dial tcp: lookup git.acme.internal on 10.96.0.10:53: no such host\n",
        ),
    ];
    for (args, want) in cases {
        let out = s.resources(args.clone());
        assert!(out.contains(want), "{args}: wanted\n{want}\nin\n{out}");
        assert_yaml(&out);
    }
}

#[test]
fn a_git_auth_failure_is_quoted_verbatim() {
    let mut s = default_setup("git-auth");
    let out = s.resources(json!({"kind": "GitRepository", "name": "infra-private",
                                 "namespace": "flux-system"}));
    assert!(
        out.starts_with(
            "---\n# NOT READY GitRepository flux-system/infra-private: GitOperationFailed\n"
        ),
        "{out}"
    );
    let message = "failed to checkout and determine revision: unable to clone 'ssh://git@github.com/acme-corp/infra-private.git': ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain";
    assert_eq!(
        condition(&out, "flux-system", "infra-private", "Ready")["message"],
        message
    );
    // FetchFailed carries the same message: written once, under Ready, and referred to.
    assert!(
        condition(&out, "flux-system", "infra-private", "FetchFailed")
            .get("message")
            .is_none()
    );
    assert!(
        out.contains("  - type: FetchFailed\n    status: 'True'\n    reason: GitOperationFailed\n    # message: same as Ready\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!("    message: \"{message}\"\n")),
        "{out}"
    );
    // The event that repeats the Ready message says so, in one line.
    assert!(
        out.contains("\n- '2026-11-21T05:28:00Z Warning GitOperationFailed (x19): same message as the Ready condition'\n"),
        "{out}"
    );
    assert_yaml(&out);
    support::golden("resources/gitrepository-auth.yaml", &out);
}

#[test]
fn a_list_starts_with_its_summary() {
    let mut s = default_setup("ks-list");
    s.server.clear_requests();
    let out = s.resources(json!({"kind": "Kustomization"}));
    assert!(out.starts_with("---\n# 13 Kustomization (kustomize.toolkit.fluxcd.io/v1) in any namespace of context flux-test: 6 ready, 7 failing\n# failing:\n"), "{out}");
    // The summary names the reasons (and the root cause when it is another object); the
    // messages are in the objects' conditions, whole. An upstream listed after its dependent
    // is quoted in the dependent's chain too: a budget could cut the list between the two.
    assert!(
        out.contains("\n# - flux-system/monitoring-controllers: HealthCheckFailed\n"),
        "{out}"
    );
    assert!(out.contains("\n# - flux-system/monitoring-configs: DependencyNotReady; root cause: Kustomization flux-system/monitoring-controllers: not ready: HealthCheckFailed\n"), "{out}");
    assert_eq!(
        out.matches(
            "timeout waiting for: [Deployment/monitoring/kube-state-metrics status: 'InProgress']"
        )
        .count(),
        2,
        "{out}"
    );
    assert_eq!(
        condition(&out, "flux-system", "monitoring-controllers", "Ready")["message"],
        "health check failed after 5m0.041s: timeout waiting for: [Deployment/monitoring/kube-state-metrics status: 'InProgress']"
    );
    assert_yaml(&out);
    support::golden("resources/kustomizations.yaml", &out);
    // Events in bulk: one list for the kind, not one per object.
    let event_lists: Vec<_> = s
        .server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/events"))
        .collect();
    assert_eq!(
        event_lists.len(),
        2,
        "one events LIST per namespace: {event_lists:?}"
    );
    for r in &event_lists {
        assert_eq!(
            r.param("fieldSelector"),
            Some("involvedObject.kind=Kustomization,reason!=ReconciliationSucceeded")
        );
    }
}

#[test]
fn helmreleases_carry_their_helm_inventory() {
    let mut s = default_setup("hr-inventory");
    let out = s.resources(json!({"kind": "HelmRelease", "namespace": "apps"}));
    assert_yaml(&out);
    support::golden("resources/helmreleases-apps.yaml", &out);
    // The release name, not the chart's: webapp-frontend's release is `frontend`.
    let frontend = out
        .split("\n---\n")
        .find(|d| d.contains("name: webapp-frontend"))
        .expect("webapp-frontend document");
    assert!(frontend.contains("inventory:"), "{frontend}");
    assert!(
        frontend.contains("ghcr.io/acme-corp/webapp-frontend:3.8.1"),
        "{frontend}"
    );
}

#[test]
fn secrets_are_masked_by_default_and_never_leak_the_last_applied_copy() {
    let mut s = default_setup("secret-masked");
    let masked = s.resources(json!({"kind": "Secret", "name": "slack-bot-token",
                                    "namespace": "flux-system"}));
    assert!(masked.contains("token: '<masked: "), "{masked}");
    assert!(
        !masked.contains("xoxb-") && !masked.contains("last-applied"),
        "{masked}"
    );
    support::golden("resources/secret-masked.yaml", &masked);
    let helm = s.resources(
        json!({"kind": "Secret", "name": "sh.helm.release.v1.podinfo.v3",
                                  "namespace": "apps"}),
    );
    assert!(helm.contains("release: '<masked: "), "{helm}");

    let mut plain = setup(
        "secret-unmasked",
        Options::default(),
        &["--mask-secrets=false"],
    );
    let out = plain.resources(json!({"kind": "Secret", "name": "slack-bot-token",
                                     "namespace": "flux-system"}));
    assert!(
        !out.contains("masked") && !out.contains("last-applied"),
        "{out}"
    );
    assert!(
        !out.contains("xoxb-"),
        "values stay base64 as the API sends them: {out}"
    );
    support::golden("resources/secret-unmasked.yaml", &out);
}

#[test]
fn flux_ownership_labels_read_as_one_line_except_when_labels_are_asked_for() {
    let mut s = default_setup("ownership");
    let out = s.resources(json!({"kind": "Deployment", "name": "podinfo", "namespace": "apps"}));
    assert!(
        out.starts_with("---\n# managed by HelmRelease apps/podinfo\napiVersion: apps/v1\n"),
        "{out}"
    );
    assert!(!out.contains("helm.toolkit.fluxcd.io/"), "{out}");
    assert!(
        out.contains("app.kubernetes.io/name: podinfo"),
        "other labels stay: {out}"
    );
    let labels = s.resources(
        json!({"kind": "Deployment", "name": "podinfo", "namespace": "apps",
                                    "fields": ["metadata.labels"]}),
    );
    assert!(!labels.contains("managed by"), "{labels}");
    assert!(
        labels.contains("helm.toolkit.fluxcd.io/name: podinfo")
            && labels.contains("helm.toolkit.fluxcd.io/namespace: apps"),
        "{labels}"
    );
}

#[test]
fn fields_reduce_each_object_to_the_paths_asked_for() {
    let mut s = default_setup("fields");
    let out = s.resources(json!({
        "kind": "HelmRelease",
        "fields": [".spec.interval", "{.status.conditions[?(@.type==\"Ready\")].message}",
                   "status.history[*].version", "status.nothing"],
    }));
    assert_yaml(&out);
    assert!(
        out.contains("# note: fields: \"status.nothing\" matched nothing in any object"),
        "{out}"
    );
    assert!(
        !out.contains("events:") && !out.contains("inventory"),
        "{out}"
    );
    support::golden("resources/helmreleases-fields.yaml", &out);
    let with_events = s.resources(
        json!({"kind": "HelmRelease", "name": "redis", "namespace": "apps",
                                         "fields": ["events", "status.inventory"]}),
    );
    assert!(with_events.contains("events:\n- time:"), "{with_events}");
    assert!(with_events.contains("inventory:"), "{with_events}");
}

#[test]
fn the_flux_instance_with_the_operator() {
    let mut s = default_setup("instance");
    let out = s.ok("get_flux_instance", json!({}));
    assert!(
        out.starts_with("---\n# Flux v2.7.2 in context flux-test\n# FluxInstance flux-system/flux: ready for 27m (Reconciliation finished in 4s); "),
        "{out}"
    );
    // The report's age, and each of its facts that live state contradicts (the test data's
    // report is stale: helm-controller not ready, kustomize-controller v1.7.0, counts).
    for want in [
        "\n# FluxReport flux-system/flux: written 41m ago (2026-11-21T04:49:00Z); facts from it are marked (report), the others are live\n",
        "\n# - the FluxReport, 41m old, says helm-controller is NOT READY (Failed: Deployment does not have minimum availability.); live: its Deployment is available 1/1\n",
        "\n# - the FluxReport, 41m old, says kustomize-controller runs ghcr.io/fluxcd/kustomize-controller:v1.7.0; live: its pods run ghcr.io/fluxcd/kustomize-controller:v1.7.1\n",
        "ImagePolicy 0 (live 1)",
        "Receiver 0 (live 1)",
        "OCIRepository 0 (live 1)",
        "ResourceSetInputProvider 0 (live 1)",
        // Live facts: the controllers and the counts, failing objects named.
        "\n# - helm-controller v1.4.2: available 1/1, 15.9m CPU, 166MiB\n",
        "\n# - Kustomization: 7 of 13 failing (apps/shop-payments, apps/storefront, apps/webapp, 4 more)\n",
        "\n# - ImagePolicy: 1 of 2 failing (flux-system/webapp-api)\n",
        "\n# FluxInstance inventory: 28 objects: CustomResourceDefinition 14, Deployment 6, ServiceAccount 6, GitRepository 1, Kustomization 1\n",
        "\n# (report) sync kustomization/flux-system: ready: ",
    ] {
        assert!(out.contains(want), "{want:?} not in\n{out}");
    }
    // The live lines say NOT READY nowhere: the report's claim is marked as the report's.
    assert_eq!(out.matches("NOT READY").count(), 1, "{out}");
    assert!(out.len() <= 4096, "{} bytes:\n{out}", out.len());
    assert_yaml(&out);
    support::golden("resources/flux-instance.yaml", &out);
    // full: both objects whole, the inventory listed.
    let full = s.ok("get_flux_instance", json!({"full": true}));
    assert!(
        full.contains("\nkind: FluxInstance\n") && full.contains("\nkind: FluxReport\n"),
        "{full}"
    );
    assert!(full.contains("flux-system/source-controller"), "{full}");
    assert_yaml(&full);
}

/// A FluxInstance that is not ready shows its conditions (messages verbatim, once) and events
/// as a document; a report without status says every fact is live.
#[test]
fn a_failing_flux_instance_shows_its_conditions() {
    let data = cluster_objects();
    let mut instance = data
        .iter()
        .find(|o| o["kind"] == "FluxInstance")
        .cloned()
        .expect("a FluxInstance");
    let message = "failed to pull oci://ghcr.io/controlplaneio-fluxcd/flux-operator-manifests:\n\
                   dial tcp: lookup ghcr.io: no such host";
    instance["status"]["conditions"] = json!([{"type": "Ready", "status": "False",
        "reason": "ArtifactFailed", "message": message,
        "lastTransitionTime": "2026-11-21T05:20:00Z"}]);
    instance["metadata"]["name"] = json!("flux-broken");
    let mut s = setup(
        "instance-failing",
        Options {
            extra_objects: vec![instance],
            ..Options::default()
        },
        &[],
    );
    let out = s.ok("get_flux_instance", json!({}));
    assert!(
        out.contains("\n# FluxInstance flux-system/flux-broken: failing for 10m: ArtifactFailed (its conditions and events follow)"),
        "{out}"
    );
    assert_eq!(
        condition(&out, "flux-system", "flux-broken", "Ready")["message"],
        message
    );
    assert_eq!(out.matches("no such host").count(), 1, "{out}");
    assert_yaml(&out);
}

#[test]
fn the_flux_instance_without_the_operator_lists_the_controllers() {
    let dir = support::scratch_dir("resources-no-operator-data");
    let data = support::cluster_without_operator(&dir, true);
    let mut s = setup(
        "no-operator",
        Options {
            data_dir: data,
            ..Options::default()
        },
        &[],
    );
    let out = s.ok("get_flux_instance", json!({}));
    assert!(
        out.starts_with(
            "---\n# no FluxInstance in context flux-test: the Flux Operator is not installed"
        ),
        "{out}"
    );
    assert!(
        out.contains("# Flux version (app.kubernetes.io/version of the controllers): v2.7.2"),
        "{out}"
    );
    assert!(!out.contains("flux-operator:"), "{out}");
    assert_yaml(&out);
    support::golden("resources/flux-instance-no-operator.yaml", &out);
}

#[test]
fn no_flux_at_all_is_a_clear_error() {
    let dir = support::scratch_dir("resources-no-flux-data");
    let data = support::cluster_without_operator(&dir, false);
    let mut s = setup(
        "no-flux",
        Options {
            data_dir: data,
            ..Options::default()
        },
        &[],
    );
    let err = s.err("get_flux_instance", json!({}));
    assert!(
        err.starts_with("Flux was not found in context flux-test"),
        "{err}"
    );
    assert!(err.contains("Install Flux"), "{err}");
}

#[test]
fn without_metrics_server_the_instance_says_so_in_one_line() {
    let mut s = setup(
        "instance-no-metrics",
        Options {
            no_metrics: true,
            ..Options::default()
        },
        &[],
    );
    let out = s.ok("get_flux_instance", json!({}));
    let last = out.lines().last().unwrap_or("");
    assert!(
        last.starts_with(
            "# pod metrics: not available: the metrics API (metrics.k8s.io) is not available"
        ),
        "{out}"
    );
    assert!(!out.contains("# POD "), "no metrics table: {out}");
}

#[test]
fn suspended_and_remote_objects_say_so() {
    let suspended = json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "frozen", "namespace": "apps", "generation": 3},
        "spec": {"suspend": true, "interval": "10m", "path": "./frozen", "prune": true,
                 "sourceRef": {"kind": "GitRepository", "name": "webapp"}},
        "status": {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "False",
            "reason": "BuildFailed", "message": "kustomize build failed: missing resource",
            "lastTransitionTime": "2026-11-20T10:00:00Z", "observedGeneration": 2}]},
    });
    let remote = json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "edge", "namespace": "apps"},
        "spec": {"interval": "10m", "kubeConfig": {"secretRef": {"name": "edge-kubeconfig"}},
                 "chartRef": {"kind": "OCIRepository", "name": "podinfo"}},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "InstallSucceeded",
            "message": "Helm install succeeded"}],
            "history": [{"name": "edge", "namespace": "apps", "version": 1, "status": "deployed"}]},
    });
    let mut s = setup(
        "suspended-remote",
        Options {
            extra_objects: vec![suspended, remote],
            ..Options::default()
        },
        &[],
    );
    let out = s.resources(json!({"kind": "Kustomization", "name": "frozen", "namespace": "apps"}));
    assert!(
        out.starts_with(
            "---\n# SUSPENDED Kustomization apps/frozen: reconciliation is suspended; last status: BuildFailed\n"
        ),
        "{out}"
    );
    assert_eq!(
        condition(&out, "apps", "frozen", "Ready")["message"],
        "kustomize build failed: missing resource"
    );
    assert!(out.find("\nstatus:\n") < out.find("\nspec:\n"), "{out}");
    // The spec changed after the last reconciliation: both generations are shown.
    assert!(
        out.contains("\n  generation: 3\n") && out.contains("\n  observedGeneration: 2\n"),
        "{out}"
    );
    let out = s.resources(json!({"kind": "HelmRelease", "name": "edge", "namespace": "apps"}));
    assert!(out.starts_with("---\n# Helm inventory not read: the release is installed in a remote cluster (spec.kubeConfig)\n"), "{out}");
    assert!(
        !s.server
            .requests()
            .iter()
            .any(|r| r.path.contains("sh.helm.release.v1.edge"))
    );
}

// ---- error paths -----------------------------------------------------------------------------

#[test]
fn an_rbac_refusal_is_an_error_quoting_the_server() {
    let mut s = setup(
        "forbidden",
        Options {
            deny: vec![Deny::new("list", "helm.toolkit.fluxcd.io", "helmreleases")],
            ..Options::default()
        },
        &[],
    );
    let err = s.err("get_kubernetes_resources", json!({"kind": "HelmRelease"}));
    assert!(
        err.starts_with("context flux-test: error from server (Forbidden): "),
        "{err}"
    );
    assert!(
        err.contains(r#"cannot list resource "helmreleases" in API group "helm.toolkit.fluxcd.io" at the cluster scope"#),
        "{err}"
    );
    assert!(!err.contains("no HelmRelease"), "{err}");
}

#[test]
fn side_lookups_that_are_refused_become_notes() {
    let mut s = setup(
        "forbidden-side",
        Options {
            deny: vec![
                Deny::new("list", "", "events"),
                Deny::new("get", "", "secrets"),
                Deny::new("get", "source.toolkit.fluxcd.io", "helmcharts"),
            ],
            ..Options::default()
        },
        &[],
    );
    let out = s.resources(json!({"kind": "HelmRelease", "name": "redis", "namespace": "apps"}));
    assert!(
        out.contains(
            "# note: events of HelmRelease objects not shown: error from server (Forbidden)"
        ),
        "{out}"
    );
    assert!(
        out.contains("# Helm inventory not read: error from server (Forbidden)"),
        "{out}"
    );
    assert!(out.contains("# source HelmChart flux-system/apps-redis: cannot be read: error from server (Forbidden)"), "{out}");
    assert!(out.contains("kind: HelmRelease"), "{out}");
}

#[test]
fn an_unknown_kind_suggests_close_ones() {
    let mut s = default_setup("unknown-kind");
    let err = s.err("get_kubernetes_resources", json!({"kind": "Kustomisation"}));
    assert!(
        err.contains(r#"the server has no kind "Kustomisation""#),
        "{err}"
    );
    assert!(
        err.contains("did you mean Kustomization (kustomize.toolkit.fluxcd.io/v1)"),
        "{err}"
    );
}

/// An agent that asks for the apiVersion it knows (Flux's latest) on a cluster that serves
/// the kind in another version of the same group gets the objects, with a note, not an error
/// that costs a round trip; a kind the group does not serve at all is still an error.
#[test]
fn a_version_the_cluster_does_not_serve_falls_back_within_the_group() {
    let mut s = default_setup("version-fallback");
    let out = s.resources(json!({"apiVersion": "notification.toolkit.fluxcd.io/v1",
                                 "kind": "Alert", "namespace": "flux-system"}));
    assert!(
        out.contains("\napiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "# note: notification.toolkit.fluxcd.io/v1 is not served by this cluster; \
                      showing notification.toolkit.fluxcd.io/v1beta3\n"
        ),
        "{out}"
    );
    let one = s.resources(json!({"apiVersion": "source.toolkit.fluxcd.io/v1beta1",
        "kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"}));
    assert!(
        one.contains("\napiVersion: source.toolkit.fluxcd.io/v1\n"),
        "{one}"
    );
    assert!(
        one.contains("# note: source.toolkit.fluxcd.io/v1beta1 is not served"),
        "{one}"
    );
    let err = s.err(
        "get_kubernetes_resources",
        json!({"apiVersion": "apps/v1", "kind": "Kustomization"}),
    );
    assert!(
        err.contains("did you mean Kustomization (kustomize.toolkit.fluxcd.io/v1)"),
        "{err}"
    );
}

/// A Flux object no controller has reconciled (no conditions at all: the controller is down,
/// or does not watch that namespace or shard) says so first, with the state of its source;
/// Alerts and Providers, which have no status in their current API, do not.
#[test]
fn a_never_reconciled_object_says_so_first() {
    let ks = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "fresh", "namespace": "apps"},
        "spec": {"interval": "5m", "path": "./fresh", "prune": true,
                 "sourceRef": {"kind": "GitRepository", "name": "not-there"}}});
    let options = Options {
        extra_objects: vec![ks],
        ..Options::default()
    };
    let mut s = setup("never-reconciled", options, &[]);
    let out = s.resources(json!({"kind": "Kustomization", "name": "fresh", "namespace": "apps"}));
    assert!(
        out.starts_with(
            "---\n# NOT RECONCILED Kustomization apps/fresh: no status yet; is \
             kustomize-controller running and watching this namespace? (get_flux_instance)\n\
             # source GitRepository apps/not-there: not found\n"
        ),
        "{out}"
    );
    let list = s.resources(json!({"kind": "Kustomization", "namespace": "apps"}));
    assert!(
        list.contains("\n# not reconciled yet:\n# - apps/fresh\n"),
        "{list}"
    );
    let alerts = s.resources(json!({"kind": "Alert"}));
    assert!(!alerts.contains("NOT RECONCILED"), "{alerts}");
}

/// k3s serves its own HelmChart (helm.cattle.io), which sorts before Flux's group: a kind
/// without apiVersion goes to the Flux kind, and the answer names the other one.
#[test]
fn an_ambiguous_kind_prefers_flux_and_names_the_other() {
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "helmcharts.helm.cattle.io"},
        "spec": {"group": "helm.cattle.io", "scope": "Namespaced",
            "names": {"kind": "HelmChart", "listKind": "HelmChartList", "plural": "helmcharts",
                      "singular": "helmchart"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object",
                           "x-kubernetes-preserve-unknown-fields": true}}}]}});
    let k3s = json!({"apiVersion": "helm.cattle.io/v1", "kind": "HelmChart",
        "metadata": {"name": "traefik", "namespace": "kube-system"},
        "spec": {"chart": "traefik"}});
    let options = Options {
        extra_objects: vec![crd, k3s],
        ..Options::default()
    };
    let mut s = setup("ambiguous-kind", options, &[]);
    let out = s.resources(json!({"kind": "HelmChart"}));
    assert!(
        out.contains("HelmChart (source.toolkit.fluxcd.io/v1)"),
        "{out}"
    );
    assert!(!out.contains("traefik"), "{out}");
    assert!(
        out.contains(
            "# note: HelmChart is also served as helm.cattle.io/v1; pass apiVersion to get those\n"
        ),
        "{out}"
    );
    let k3s = s.resources(json!({"apiVersion": "helm.cattle.io/v1", "kind": "HelmChart"}));
    assert!(k3s.contains("name: traefik"), "{k3s}");
    assert!(!k3s.contains("also served"), "{k3s}");
}

#[test]
fn a_missing_object_is_an_error_with_close_names() {
    let mut s = default_setup("not-found");
    let err = s.err(
        "get_kubernetes_resources",
        json!({"kind": "HelmRelease", "name": "podinfoo", "namespace": "apps"}),
    );
    assert_eq!(
        err,
        "HelmRelease apps/podinfoo not found in context flux-test; similar names in apps: podinfo"
    );
    let err = s.err(
        "get_kubernetes_resources",
        json!({"kind": "HelmRelease", "name": "nope-at-all"}),
    );
    assert_eq!(
        err,
        "HelmRelease nope-at-all not found in any namespace of context flux-test"
    );
}

#[test]
fn an_empty_list_is_an_answer_that_says_where_it_looked() {
    let mut s = default_setup("empty");
    let out = s.resources(json!({"kind": "HelmRelease", "namespace": "default"}));
    assert_eq!(
        out,
        "no HelmRelease (helm.toolkit.fluxcd.io/v2) in namespace default of context flux-test\n"
    );
    let out = s.resources(json!({"kind": "Kustomization", "selector": "team=none owner=nobody"}));
    assert_eq!(
        out,
        "no Kustomization (kustomize.toolkit.fluxcd.io/v1) matching selector team=none,owner=nobody in any namespace of context flux-test\n"
    );
}

#[test]
fn a_cut_list_says_how_much_is_missing() {
    let mut s = default_setup("truncated");
    let out = s.resources(json!({"kind": "Kustomization", "limit": 2}));
    // The counts cover every Kustomization, not the two shown, and the two shown fail.
    assert!(
        out.starts_with("---\n# 13 Kustomization (kustomize.toolkit.fluxcd.io/v1) in any namespace of context flux-test: 6 ready, 7 failing\n# showing 2 of 13, failing first (limit 2); for the next ones call again with the same arguments and continue: \""),
        "{out}"
    );
    assert_eq!(out.matches("\nkind: Kustomization\n").count(), 2, "{out}");
    assert_eq!(
        out.matches("\n# NOT READY Kustomization ").count(),
        2,
        "{out}"
    );
    let all = s.resources(json!({"kind": "Kustomization", "limit": 0}));
    assert!(
        !all.contains("showing") && !all.contains("continue"),
        "{all}"
    );
    assert_eq!(all.matches("\nkind: Kustomization\n").count(), 13);
    // Failing objects first, whatever the list order.
    assert!(
        failing_first(&all),
        "a failing object after a ready one:\n{all}"
    );
}

/// Whether no object whose Ready condition is False follows one whose Ready is True.
fn failing_first(text: &str) -> bool {
    let ready: Vec<bool> = documents(text)
        .iter()
        .filter_map(|d| {
            let c = d["status"]["conditions"].as_array()?;
            let r = c.iter().find(|c| c["type"] == "Ready")?;
            Some(r["status"] == "True")
        })
        .collect();
    ready.windows(2).all(|w| !w[0] || w[1])
}

/// Following each answer's continue value shows every object once, failing ones first,
/// whatever limit cuts the pages; a value from another list is refused.
#[test]
fn continue_walks_the_whole_list_once() {
    let mut s = default_setup("continue");
    for limit in [1, 3, 5] {
        let mut args = json!({"kind": "Kustomization", "limit": limit});
        let mut names = Vec::new();
        let mut failing_seen_after_ready = false;
        for _ in 0..20 {
            let out = s.resources(args.clone());
            for doc in documents(&out)
                .iter()
                .filter(|d| d["kind"] == "Kustomization")
            {
                names.push(format!(
                    "{}/{}",
                    doc["metadata"]["namespace"].as_str().unwrap(),
                    doc["metadata"]["name"].as_str().unwrap()
                ));
            }
            failing_seen_after_ready |= !failing_first(&out);
            let Some(at) = out.find("continue: \"") else {
                break;
            };
            let token = out[at + 11..].split('"').next().unwrap().to_string();
            args["continue"] = json!(token);
        }
        let unique: std::collections::BTreeSet<&String> = names.iter().collect();
        assert_eq!(
            (names.len(), unique.len()),
            (13, 13),
            "limit {limit}: {names:?}"
        );
        assert!(!failing_seen_after_ready, "limit {limit}");
        let failing_first: Vec<&String> = names.iter().take(7).collect();
        assert!(
            failing_first.iter().all(|n| [
                "apps/shop-payments",
                "apps/storefront",
                "apps/webapp",
                "flux-system/monitoring-configs",
                "flux-system/monitoring-controllers",
                "flux-system/observability",
                "flux-system/tenants"
            ]
            .contains(&n.as_str())),
            "{names:?}"
        );
    }
    let out = s.resources(json!({"kind": "Kustomization", "limit": 1}));
    let at = out.find("continue: \"").expect("a continue value");
    let token = out[at + 11..].split('"').next().unwrap();
    let err = s.err(
        "get_kubernetes_resources",
        json!({"kind": "HelmRelease", "limit": 1, "continue": token}),
    );
    assert!(err.starts_with("continue: this value continues another list (Kustomization.kustomize.toolkit.fluxcd.io)"), "{err}");
    let err = s.err(
        "get_kubernetes_resources",
        json!({"kind": "Kustomization", "continue": "nope"}),
    );
    assert!(
        err.starts_with("continue: \"nope\" is not a value this tool gave"),
        "{err}"
    );
}

/// `limit: 0` on thousands of objects pages through them (500 per request, following
/// `continue`) rather than asking for one giant page, and every object arrives.
#[test]
fn everything_is_listed_page_by_page() {
    use crate::apiserver::Synthetic;
    let options = Options {
        synthetic: vec![Synthetic::new(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "bench",
            2_600,
        )],
        ..Options::default()
    };
    let mut s = setup("paged", options, &[]);
    let out = s.resources(
        json!({"kind": "Kustomization", "namespace": "bench", "limit": 0,
                                 "fields": ["metadata.name"]}),
    );
    assert!(
        out.starts_with(
            "---\n# 2600 Kustomization (kustomize.toolkit.fluxcd.io/v1) in namespace bench"
        ),
        "{}",
        &out[..200.min(out.len())]
    );
    let pages: Vec<_> = s
        .server
        .requests()
        .into_iter()
        .filter(|r| {
            r.path == "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/bench/kustomizations"
        })
        .collect();
    assert_eq!(pages.len(), 6, "2600 objects in pages of 500");
    assert!(pages.iter().all(|r| r.param("limit") == Some("500")));
    assert!(pages[1..].iter().all(|r| r.param("continue").is_some()));
}

#[test]
fn a_slow_server_times_out_within_the_budget() {
    let mut s = setup("timeout", Options::default(), &["--timeout", "1s"]);
    s.server
        .inject(Fault::new("/helmreleases", FaultKind::Delay(Duration::from_secs(4))).always());
    let started = std::time::Instant::now();
    let err = s.err("get_kubernetes_resources", json!({"kind": "HelmRelease"}));
    assert!(
        err.starts_with("context flux-test: GET /apis/helm.toolkit.fluxcd.io/v2/helmreleases"),
        "{err}"
    );
    assert!(err.contains("no answer within the 1s timeout"), "{err}");
    assert!(err.contains("raise --timeout"), "says what to do: {err}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn names_selectors_and_api_versions_are_read_leniently() {
    let mut s = default_setup("lenient");
    let out = s.resources(json!({"kind": "kustomizations", "name": "apps"}));
    assert!(
        out.contains("\n  name: apps\n  namespace: flux-system\n"),
        "{out}"
    );
    let out = s.resources(json!({"apiVersion": "helm.toolkit.fluxcd.io", "kind": "hr",
                                 "selector": "kustomize.toolkit.fluxcd.io/name=apps kustomize.toolkit.fluxcd.io/namespace=flux-system",
                                 "limit": "3"}));
    assert!(out.starts_with("---\n# 5 HelmRelease (helm.toolkit.fluxcd.io/v2) in any namespace of context flux-test, selector kustomize.toolkit.fluxcd.io/name=apps,kustomize.toolkit.fluxcd.io/namespace=flux-system: 2 ready, 3 failing\n# showing 3 of 5"), "{out}");
    let err = s.err(
        "get_kubernetes_resources",
        json!({"kind": "HelmRelease", "fields": ["status.conditions["]}),
    );
    assert!(err.starts_with("fields: \"status.conditions[\": "), "{err}");
}

#[test]
fn every_condition_survives_the_lean_output_verbatim_in_its_own_object() {
    let mut s = default_setup("messages");
    let cluster = cluster_objects();
    for kind in FLUX_KINDS {
        let objects: Vec<&Value> = cluster
            .iter()
            .filter(|v| v["kind"] == json!(kind))
            .collect();
        assert!(!objects.is_empty(), "no {kind} in testdata");
        let list = s.resources(json!({"kind": kind, "limit": 0}));
        let mut answers = vec![list];
        for obj in &objects {
            answers.push(
                s.resources(json!({"kind": kind, "name": obj["metadata"]["name"],
                                            "namespace": obj["metadata"]["namespace"]})),
            );
        }
        for answer in &answers {
            let docs = documents(answer);
            for obj in &objects {
                let meta = &obj["metadata"];
                let doc = docs.iter().find(|d| {
                    d["metadata"]["name"] == meta["name"]
                        && d["metadata"]["namespace"] == meta["namespace"]
                });
                let Some(doc) = doc else {
                    // A get by name answers with one object only.
                    continue;
                };
                // Type, status, reason and message of each condition, compared in that
                // condition: a message quoted anywhere else does not count.
                for c in obj["status"]["conditions"].as_array().into_iter().flatten() {
                    let ours = doc["status"]["conditions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|x| x["type"] == c["type"]);
                    let Some(ours) = ours else {
                        panic!(
                            "{kind} {}: condition {} lost:\n{answer}",
                            meta["name"], c["type"]
                        );
                    };
                    for key in ["status", "reason", "message"] {
                        // A message that repeats Ready's (or ends with it after a prefix) is
                        // written once, under Ready.
                        let ready = obj["status"]["conditions"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .find(|r| r["type"] == "Ready");
                        let referred = key == "message"
                            && ours.get("message").is_none()
                            && c["type"] != "Ready"
                            && ready.is_some_and(|r| {
                                let (Some(ready), Some(own)) =
                                    (r["message"].as_str(), c["message"].as_str())
                                else {
                                    return false;
                                };
                                own.ends_with(ready)
                            });
                        if referred {
                            continue;
                        }
                        assert_eq!(
                            ours[key], c[key],
                            "{kind} {}: condition {} {key} changed:\n{answer}",
                            meta["name"], c["type"]
                        );
                    }
                }
            }
        }
    }
}

/// The objects of testdata/cluster, read as the test API server reads them.
fn cluster_objects() -> Vec<Value> {
    apiserver::data_objects(&support::testdata().join("cluster"))
        .unwrap_or_else(|e| panic!("testdata/cluster: {e}"))
}

// ---- objects of any shape --------------------------------------------------------------------

/// Values on the shared generator.
impl Rng {
    /// A value of a shape the field is unlikely to expect.
    fn odd_value(&mut self) -> Value {
        match self.below(14) {
            0 => Value::Null,
            1 => json!(0),
            2 => json!(-1),
            3 => json!(1e300),
            4 => json!(""),
            5 => json!("x"),
            6 => json!([]),
            7 => json!({}),
            8 => json!([null, 3, "a", {}]),
            9 => json!({"type": null, "status": 7, "message": ["a"]}),
            10 => json!(true),
            11 => json!("é🦀\u{0}\u{1b}[31m\nline two\r\n".repeat(3)),
            12 => json!("m".repeat(20_000)),
            _ => {
                let mut v = json!("deep");
                for i in 0..40 {
                    v = if i % 2 == 0 {
                        json!([v])
                    } else {
                        json!({"k": v})
                    };
                }
                v
            }
        }
    }
}

/// The Flux objects of the test cluster.
fn flux_objects() -> Vec<Value> {
    cluster_objects()
        .into_iter()
        .filter(|v| {
            v["apiVersion"]
                .as_str()
                .unwrap_or_default()
                .contains("fluxcd")
        })
        .collect()
}

/// Four broken copies of each object, named `odd-<i>-<round>` in namespace `odd`, with the
/// (apiVersion, kind) pairs they cover.
fn shaken(objects: Vec<Value>, seed: u64) -> (Vec<Value>, Vec<(String, String)>) {
    let mut rng = Rng(seed);
    let mut variants = Vec::new();
    let mut kinds: Vec<(String, String)> = Vec::new();
    for (i, base) in objects.into_iter().enumerate() {
        for round in 0..4 {
            let mut obj = base.clone();
            // metadata.name, namespace and uid are the API server's, not the object's to break.
            let breakable = [
                "/spec",
                "/status",
                "/metadata/annotations",
                "/metadata/labels",
                "/metadata/ownerReferences",
                "/metadata/finalizers",
            ];
            let all: Vec<String> = support::json_pointers(&obj)
                .into_iter()
                .filter(|p| {
                    breakable.iter().any(|b| {
                        p.strip_prefix(b)
                            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
                    })
                })
                .collect();
            for _ in 0..1 + rng.below(3) {
                if all.is_empty() {
                    break;
                }
                let path = rng.pick(&all).clone();
                let value = rng.odd_value();
                if let Some(place) = obj.pointer_mut(&path) {
                    if rng.below(5) == 0 {
                        *place = Value::Null;
                    } else {
                        *place = value;
                    }
                }
            }
            let name = format!("odd-{i}-{round}");
            obj["metadata"] = json!({
                "name": name,
                "namespace": "odd",
                "annotations": obj["metadata"]["annotations"].clone(),
                "labels": obj["metadata"]["labels"].clone(),
            });
            for key in ["annotations", "labels"] {
                if !obj["metadata"][key].is_object() {
                    obj["metadata"].as_object_mut().unwrap().remove(key);
                }
            }
            let api_version = obj["apiVersion"].as_str().unwrap().to_string();
            let kind = obj["kind"].as_str().unwrap().to_string();
            if !kinds.contains(&(api_version.clone(), kind.clone())) {
                kinds.push((api_version, kind));
            }
            variants.push(obj);
        }
    }
    (variants, kinds)
}

/// Real clusters hold objects our test data never thought of: old API versions, fields a newer
/// controller added, half-written status, wrong types under `x-kubernetes-preserve-unknown-fields`.
/// Whatever the shape, every object is answered (by name and in its list), named, and never
/// turned into a crash or an internal error.
#[test]
fn objects_of_any_shape_are_answered() {
    let (variants, kinds) = shaken(flux_objects(), 0x5eed_f1a5);
    assert!(variants.len() >= 100, "only {} variants", variants.len());
    let options = Options {
        extra_objects: variants.clone(),
        ..Options::default()
    };
    let mut s = setup("odd-shapes", options, &[]);
    let broken = |text: &str| {
        let t = text.to_lowercase();
        t.contains("panick") || t.contains("internal error")
    };
    for (api_version, kind) in &kinds {
        // Big odd values fill the answer's budget: the rest comes with continue.
        let mut args =
            json!({"apiVersion": api_version, "kind": kind, "namespace": "odd", "limit": 500});
        let mut text = String::new();
        for _ in 0..50 {
            let page = s.resources(args.clone());
            assert!(!broken(&page), "{kind} list: {page}");
            text.push_str(&page);
            let Some(at) = page.find("continue: \"") else {
                break;
            };
            args["continue"] = json!(page[at + 11..].split('"').next().unwrap());
        }
        for v in variants.iter().filter(|v| v["kind"] == json!(kind)) {
            let name = v["metadata"]["name"].as_str().unwrap();
            assert!(text.contains(name), "{kind} list lacks {name}: {text}");
        }
    }
    for v in &variants {
        let name = v["metadata"]["name"].as_str().unwrap();
        let (text, is_error) = s.call(
            "get_kubernetes_resources",
            json!({"apiVersion": v["apiVersion"], "kind": v["kind"], "name": name, "namespace": "odd"}),
        );
        assert!(!is_error && !broken(&text), "{name}: {text}\nobject: {v}");
        assert!(text.contains(name), "{name}: {text}");
    }
}

/// The same for `get_flux_instance`: broken FluxInstance and FluxReport copies beside the real
/// ones still give an answer about Flux, not a crash.
#[test]
fn a_flux_instance_of_any_shape_is_answered() {
    let operator: Vec<Value> = flux_objects()
        .into_iter()
        .filter(|v| {
            v["apiVersion"]
                .as_str()
                .unwrap_or_default()
                .starts_with("fluxcd.controlplane.io/")
        })
        .filter(|v| v["kind"] == json!("FluxInstance") || v["kind"] == json!("FluxReport"))
        .collect();
    assert!(
        operator.len() >= 2,
        "testdata has no FluxInstance and FluxReport"
    );
    for seed in [1_u64, 2, 3, 4, 5, 6] {
        let (variants, _) = shaken(operator.clone(), seed);
        let options = Options {
            extra_objects: variants,
            ..Options::default()
        };
        let mut s = setup(&format!("odd-instance-{seed}"), options, &[]);
        let (text, is_error) = s.call("get_flux_instance", json!({}));
        let lower = text.to_lowercase();
        assert!(
            !is_error && !lower.contains("panick") && !lower.contains("internal error"),
            "seed {seed}: {text}"
        );
        assert!(text.contains("FluxInstance"), "seed {seed}: {text}");
        assert!(
            text.contains("odd-"),
            "seed {seed}: the broken copies are not reported: {text}"
        );
    }
}
