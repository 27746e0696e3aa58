//! The investigation tools through the real binary against the test API server:
//! `get_kubernetes_events`, `trace_kubernetes_resource` and `get_kubernetes_logs` in its
//! current-generation form (`kind`/`name`/`namespace`/`container`, `since`, `grep`). Golden
//! answers on the test cluster, every error path, and the cases the test data cannot hold
//! (fresh events and log lines for `since`, chains built for one test) as extra objects.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::apiserver::{Deny, Identity, Options};
use crate::support::{Session, copy_dir, golden, scratch_dir};

fn stable(s: &Session, text: &str) -> String {
    text.replace(&s.server.url(), "https://127.0.0.1:PORT")
        .replace(&s.dir.display().to_string(), "<dir>")
}

#[track_caller]
fn ok(s: &mut Session, tool: &str, args: Value) -> String {
    let text = s.ok(tool, args);
    stable(s, &text)
}

/// A failed call's text with a final newline, for golden files.
#[track_caller]
fn err(s: &mut Session, tool: &str, args: Value) -> String {
    let text = s.err(tool, args);
    stable(s, &text) + "\n"
}

fn start(tag: &str, options: Options) -> Session {
    Session::start(tag, options, Identity::ClientCert, &[])
}

/// RFC 3339 for `ago` before now: for objects whose age matters (`since`).
fn ago(ago: Duration) -> String {
    let t = SystemTime::now() - ago;
    flux_operator_mcp::kube::time::rfc3339_utc(t)
}

/// Requests that read objects (not discovery: `/api`, `/apis`, `/apis/g/v`).
fn object_requests(s: &Session) -> usize {
    s.server
        .requests()
        .iter()
        .filter(|r| r.path.split('/').filter(|p| !p.is_empty()).count() >= 4)
        .count()
}

// ---- get_kubernetes_events -------------------------------------------------------------------

#[test]
fn events_of_objects_kinds_and_namespaces() {
    let mut s = start("read-events", Options::default());
    let cases = [
        (
            "object",
            json!({"kind": "HelmRelease", "name": "redis", "namespace": "apps"}),
        ),
        (
            "object-series",
            json!({"kind": "Pod", "name": "redis-master-0", "namespace": "apps"}),
        ),
        (
            "namespace-warnings",
            json!({"namespace": "flux-system", "type": "warning"}),
        ),
        ("kind-in-all-namespaces", json!({"kind": "ks", "limit": 3})),
        (
            "grep-regex",
            json!({"namespace": "apps", "grep": "deadline|not found$", "limit": 2}),
        ),
        ("grep-object", json!({"grep": "GitRepository/flux-system/"})),
        ("none-since", json!({"namespace": "apps", "since": "1h"})),
    ];
    for (case, args) in cases {
        let out = ok(&mut s, "get_kubernetes_events", args);
        golden(&format!("get_kubernetes_events.{case}.txt"), &out);
    }
    // The type goes to the API server as a field selector; the kind too.
    let selectors: Vec<String> = s
        .server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/events"))
        .filter_map(|r| r.param("fieldSelector").map(str::to_string))
        .collect();
    assert!(
        selectors.iter().any(|f| f == "type=Warning"),
        "{selectors:?}"
    );
    assert!(
        selectors
            .iter()
            .any(|f| f == "involvedObject.kind=Kustomization"),
        "{selectors:?}"
    );
}

/// Messages come out byte for byte, whatever they hold: every event message of the test
/// cluster is found, line by line, in the answer that lists them all.
#[test]
fn event_messages_are_verbatim() {
    let mut s = start("read-events-verbatim", Options::default());
    let out = ok(&mut s, "get_kubernetes_events", json!({"limit": 1000}));
    let data = std::fs::read_to_string(crate::apiserver::default_data_dir().join("events.yaml"))
        .expect("events.yaml");
    let mut checked = 0;
    for doc in data.split("\n---\n") {
        let event: Value = serde_norway::from_str(doc).expect("event");
        let Some(message) = event["message"].as_str() else {
            continue;
        };
        for line in message.lines().filter(|l| !l.is_empty()) {
            assert!(out.contains(line), "{line:?} missing");
        }
        checked += 1;
    }
    assert!(checked > 30, "{checked}");
    let back: Value = serde_norway::from_str(&out).expect("the answer is YAML");
    assert_eq!(back["truncated"], json!(false));
    let redis = back["events"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["reason"] == "InstallFailed")
        .expect("InstallFailed");
    assert!(
        redis["message"]
            .as_str()
            .unwrap_or_default()
            .ends_with("0 out of 1 expected pods are ready"),
        "{redis}"
    );
}

fn event(name: &str, uid: &str, reason: &str, message: &str, last: &str, count: u64) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": "apps", "creationTimestamp": last},
        "involvedObject": {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                           "name": "podinfo", "namespace": "apps", "uid": uid},
        "reason": reason, "message": message, "type": "Warning",
        "firstTimestamp": last, "lastTimestamp": last, "count": count,
        "source": {"component": "helm-controller"}
    })
}

/// Fresh events (made at test time, so `since` has something to keep), repeated events in
/// two Event objects folded into one entry, and an event of an earlier HelmRelease of the
/// same name (another uid) left out.
#[test]
fn events_since_fold_and_skip_earlier_objects() {
    let uid = "bb3f7a34-4f0a-5a29-a9f5-7e7b2f8f9f11";
    let current = {
        // The HelmRelease's real uid, as the generator derives it.
        let data =
            std::fs::read_to_string(crate::apiserver::default_data_dir().join("helmreleases.yaml"))
                .expect("helmreleases.yaml");
        data.split("\n---\n")
            .map(|d| serde_norway::from_str::<Value>(d).expect("doc"))
            .find(|o| o["metadata"]["name"] == "podinfo")
            .and_then(|o| o["metadata"]["uid"].as_str().map(str::to_string))
            .expect("podinfo uid")
    };
    let recent = ago(Duration::from_secs(5 * 60));
    let older = ago(Duration::from_secs(3 * 3600));
    let options = Options {
        extra_objects: vec![
            event(
                "podinfo.a",
                &current,
                "UpgradeFailed",
                "timed out",
                &recent,
                3,
            ),
            event(
                "podinfo.b",
                &current,
                "UpgradeFailed",
                "timed out",
                &recent,
                2,
            ),
            event(
                "podinfo.c",
                &current,
                "UpgradeFailed",
                "an older try",
                &older,
                1,
            ),
            event(
                "podinfo.d",
                uid,
                "UpgradeFailed",
                "from a deleted HelmRelease",
                &recent,
                1,
            ),
        ],
        ..Options::default()
    };
    let mut s = start("read-events-since", options);
    let out = ok(
        &mut s,
        "get_kubernetes_events",
        json!({"kind": "HelmRelease", "name": "podinfo", "namespace": "apps", "since": "1h"}),
    );
    let back: Value = serde_norway::from_str(&out).expect("YAML");
    assert_eq!(back["total"], json!(1), "{out}");
    let e = &back["events"][0];
    assert_eq!(e["message"], "timed out", "{out}");
    assert_eq!(e["count"], json!(5), "two Event objects folded: {out}");
    assert!(!out.contains("deleted HelmRelease"), "{out}");
    let all = ok(
        &mut s,
        "get_kubernetes_events",
        json!({"kind": "HelmRelease", "name": "podinfo", "namespace": "apps", "type": "Warning"}),
    );
    assert!(all.contains("an older try"), "{all}");
    assert!(!all.contains("deleted HelmRelease"), "{all}");
    // Newest last.
    assert!(all.find("an older try") < all.find("timed out"), "{all}");
}

#[test]
fn events_errors_say_what_to_do() {
    let mut s = start("read-events-errors", Options::default());
    let cases = [
        ("unknown-kind", json!({"kind": "HelmRelase"})),
        (
            "not-found",
            json!({"kind": "HelmRelease", "name": "podinf", "namespace": "apps"}),
        ),
        ("bad-since", json!({"since": "an hour"})),
        ("bad-regex", json!({"grep": "failed (to"})),
        ("bad-type", json!({"type": "Error"})),
        ("api-version-without-kind", json!({"apiVersion": "v1"})),
    ];
    for (case, args) in cases {
        let out = err(&mut s, "get_kubernetes_events", args);
        golden(&format!("get_kubernetes_events.error.{case}.txt"), &out);
    }
}

#[test]
fn events_refused_by_rbac_quote_the_server() {
    let options = Options {
        deny: vec![Deny::new("list", "", "events").in_namespace("apps")],
        ..Options::default()
    };
    let mut s = start("read-events-rbac", options);
    let out = err(
        &mut s,
        "get_kubernetes_events",
        json!({"namespace": "apps"}),
    );
    golden("get_kubernetes_events.error.forbidden.txt", &out);
    ok(
        &mut s,
        "get_kubernetes_events",
        json!({"namespace": "flux-system"}),
    );
}

// ---- trace_kubernetes_resource -----------------------------------------------------------------

/// The three scripted investigations of `make bench` and the other shapes of chain the test
/// cluster holds.
#[test]
fn traces_of_the_test_cluster() {
    let mut s = start("read-trace", Options::default());
    let cases = [
        (
            "deployment-source-failing",
            json!({"kind": "Deployment", "name": "blackbox-exporter", "namespace": "monitoring"}),
        ),
        (
            "helmrelease-chart-missing",
            json!({"kind": "HelmRelease", "name": "metrics-exporter", "namespace": "apps"}),
        ),
        (
            "imagepolicy-repository-failing",
            json!({"kind": "ImagePolicy", "name": "webapp-api", "namespace": "flux-system"}),
        ),
        (
            "pod-crashloop",
            json!({"kind": "Pod", "name": "redis-master-0", "namespace": "apps"}),
        ),
        (
            "helm-annotations",
            json!({"apiVersion": "apps/v1", "kind": "deploy", "name": "kube-prometheus-stack-operator", "namespace": "monitoring"}),
        ),
        (
            "configmap-nested-kustomization",
            json!({"kind": "ConfigMap", "name": "podinfo-config", "namespace": "apps"}),
        ),
        (
            "unmanaged",
            json!({"kind": "Pod", "name": "api-cxdc8ng5m-qjzsj", "namespace": "apps"}),
        ),
        (
            "source",
            json!({"kind": "GitRepository", "name": "infra-private", "namespace": "flux-system"}),
        ),
    ];
    for (case, args) in cases {
        s.server.clear_requests();
        let out = ok(&mut s, "trace_kubernetes_resource", args.clone());
        golden(&format!("trace_kubernetes_resource.{case}.txt"), &out);
        // The answer counts the reads it made, and they are all GETs or LISTs.
        let said: usize = out
            .lines()
            .next()
            .and_then(|l| l.rsplit_once(", ")?.1.split(' ').next()?.parse().ok())
            .unwrap_or(usize::MAX);
        assert_eq!(said, object_requests(&s), "{case}: {out}");
        assert!(s.server.requests().iter().all(|r| r.method == "GET"));
    }
}

/// The goal of the figures: one call, at most 3 KB, the root-cause message in it.
#[test]
fn the_scripted_investigations_need_one_small_call() {
    let mut s = start("read-trace-small", Options::default());
    let cases = [
        (
            json!({"kind": "Deployment", "name": "blackbox-exporter", "namespace": "monitoring"}),
            "ssh: handshake failed: ssh: unable to authenticate",
        ),
        (
            json!({"kind": "HelmRelease", "name": "metrics-exporter", "namespace": "apps"}),
            "no 'metrics-exporter' chart with version matching '2.x' found",
        ),
        (
            json!({"kind": "ImagePolicy", "name": "webapp-api", "namespace": "flux-system"}),
            "UNAUTHORIZED: unauthorized to access repository: webapp/api",
        ),
    ];
    for (args, cause) in cases {
        let out = ok(&mut s, "trace_kubernetes_resource", args.clone());
        assert!(out.len() <= 3 * 1024, "{} bytes for {args}", out.len());
        // The root cause is named in the first lines, before the chain.
        let head = &out[..out.find("\nchain:\n").expect("chain")];
        assert!(head.contains(cause), "{args}:\n{out}");
        let back: Value = serde_norway::from_str(&out).expect("YAML");
        assert!(
            back["chain"].as_array().is_some_and(|c| c.len() >= 3),
            "{out}"
        );
    }
}

fn object(api_version: &str, kind: &str, ns: &str, name: &str, labels: Value) -> Value {
    json!({"apiVersion": api_version, "kind": kind,
           "metadata": {"name": name, "namespace": ns, "labels": labels}})
}

fn ks_labels(name: &str) -> Value {
    json!({"kustomize.toolkit.fluxcd.io/name": name, "kustomize.toolkit.fluxcd.io/namespace": "flux-system"})
}

/// Chains the test cluster does not hold: a ResourceSet's object, a Helm release named by
/// annotations only (its HelmRelease sets releaseName), a plain helm install, a manager that
/// is gone, managers that name each other, and a chain longer than the call budget.
#[test]
fn traces_of_unusual_chains_end_where_they_must() {
    let mut extra = vec![
        object(
            "helm.toolkit.fluxcd.io/v2",
            "HelmRelease",
            "apps",
            "preview-1187",
            json!({"resourceset.fluxcd.controlplane.io/name": "preview-envs",
                   "resourceset.fluxcd.controlplane.io/namespace": "flux-system"}),
        ),
        object(
            "v1",
            "ConfigMap",
            "apps",
            "orphan",
            ks_labels("deleted-long-ago"),
        ),
        object(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "flux-system",
            "loop-a",
            ks_labels("loop-b"),
        ),
        object(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "flux-system",
            "loop-b",
            ks_labels("loop-a"),
        ),
        object("v1", "ConfigMap", "apps", "deep", ks_labels("deep-0")),
        object("v1", "ConfigMap", "apps", "paused", ks_labels("on-hold")),
    ];
    let mut on_hold = object(
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        "flux-system",
        "on-hold",
        json!({}),
    );
    on_hold["spec"] =
        json!({"suspend": true, "sourceRef": {"kind": "GitRepository", "name": "flux-system"}});
    on_hold["status"] = json!({"conditions": [{"type": "Ready", "status": "True",
        "reason": "ReconciliationSucceeded", "message": "Applied revision: main@sha1:1"}]});
    extra.push(on_hold);
    let mut annotated = object("v1", "ConfigMap", "apps", "frontend-nginx", json!({}));
    annotated["metadata"]["annotations"] =
        json!({"meta.helm.sh/release-name": "frontend", "meta.helm.sh/release-namespace": "apps"});
    extra.push(annotated);
    let mut plain = object("v1", "ConfigMap", "apps", "by-hand", json!({}));
    plain["metadata"]["annotations"] =
        json!({"meta.helm.sh/release-name": "mine", "meta.helm.sh/release-namespace": "apps"});
    extra.push(plain);
    for i in 0..30 {
        extra.push(object(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "flux-system",
            &format!("deep-{i}"),
            ks_labels(&format!("deep-{}", i + 1)),
        ));
    }
    let mut s = start(
        "read-trace-unusual",
        Options {
            extra_objects: extra,
            ..Options::default()
        },
    );
    let trace = |s: &mut Session, kind: &str, name: &str, ns: &str| {
        ok(
            s,
            "trace_kubernetes_resource",
            json!({"kind": kind, "name": name, "namespace": ns}),
        )
    };
    let out = trace(&mut s, "HelmRelease", "preview-1187", "apps");
    assert!(
        out.contains("  managedBy: ResourceSet flux-system/preview-envs\n"),
        "{out}"
    );
    assert!(
        out.contains("  inputsFrom: ResourceSetInputProvider flux-system/preview-prs\n"),
        "{out}"
    );
    let out = trace(&mut s, "ConfigMap", "frontend-nginx", "apps");
    assert!(
        out.contains("  managedBy: HelmRelease apps/webapp-frontend (Helm release apps/frontend, by its annotations)\n"),
        "{out}"
    );
    let out = trace(&mut s, "ConfigMap", "by-hand", "apps");
    assert!(out.contains("managedBy: Helm release apps/mine\n"), "{out}");
    assert!(out.contains("installed by helm outside Flux"), "{out}");
    let out = trace(&mut s, "ConfigMap", "orphan", "apps");
    assert!(
        out.contains(
            "firstFailure: Kustomization flux-system/deleted-long-ago\nreason: NotFound\n"
        ),
        "{out}"
    );
    assert!(out.contains("  found: false\n"), "{out}");
    let out = trace(&mut s, "ConfigMap", "paused", "apps");
    assert!(
        out.contains("# Every object of the chain is ready. Suspended (changes are not applied): Kustomization flux-system/on-hold.\n"),
        "{out}"
    );
    assert!(out.contains("  suspended: true\n"), "{out}");
    let out = trace(&mut s, "Kustomization", "loop-a", "flux-system");
    assert!(out.contains("already in the chain: stopped there"), "{out}");
    s.server.clear_requests();
    let out = trace(&mut s, "ConfigMap", "deep", "apps");
    assert!(
        object_requests(&s) <= 20,
        "{} requests",
        object_requests(&s)
    );
    assert!(out.len() < 8 * 1024, "{} bytes", out.len());
    assert!(out.contains("deep-7"), "{out}");
    assert!(
        out.contains(
            "# note: stopped after 8 managers; trace Kustomization flux-system/deep-8 to go on\n"
        ),
        "{out}"
    );
    assert!(!out.contains("deep-9 "), "bounded: {out}");
}

#[test]
fn trace_errors_say_what_to_do() {
    let options = Options {
        deny: vec![
            Deny::new("get", "apps", "deployments").in_namespace("apps"),
            Deny::new("get", "source.toolkit.fluxcd.io", "gitrepositories"),
        ],
        ..Options::default()
    };
    let mut s = start("read-trace-errors", options);
    let cases = [
        ("unknown-kind", json!({"kind": "Deploymnet", "name": "x"})),
        (
            "not-found",
            json!({"kind": "HelmRelease", "name": "podinf", "namespace": "apps"}),
        ),
        (
            "forbidden",
            json!({"kind": "Deployment", "name": "api", "namespace": "apps"}),
        ),
        ("missing-name", json!({"kind": "Deployment"})),
    ];
    for (case, args) in cases {
        let out = err(&mut s, "trace_kubernetes_resource", args);
        golden(&format!("trace_kubernetes_resource.error.{case}.txt"), &out);
    }
    // A hop this identity may not read says so, quoting the server, and the walk goes on.
    let out = ok(
        &mut s,
        "trace_kubernetes_resource",
        json!({"kind": "Kustomization", "name": "platform-addons", "namespace": "flux-system"}),
    );
    assert!(
        out.contains("- object: GitRepository flux-system/infra-private\n  unreadable: "),
        "{out}"
    );
    assert!(out.contains("forbidden"), "{out}");
    assert!(out.contains("FluxInstance flux-system/flux"), "{out}");
    assert!(
        out.contains(
            "firstFailure: none\n# No failure among the objects read; 2 objects could not be read"
        ),
        "an unread source is not called ready: {out}"
    );
}

// ---- get_kubernetes_logs, current generation ---------------------------------------------------

#[test]
fn logs_by_kind_and_name_with_grep() {
    let mut s = start("read-logs", Options::default());
    let cases = [
        (
            "kind-deployment",
            json!({"kind": "Deployment", "name": "podinfo", "namespace": "apps", "limit": 2}),
        ),
        (
            "flux-helmrelease",
            json!({"kind": "HelmRelease", "name": "metrics-exporter", "namespace": "apps", "limit": 2}),
        ),
        (
            "flux-kustomization-grep",
            json!({"kind": "ks", "name": "monitoring-controllers", "namespace": "flux-system", "grep": "health check"}),
        ),
        (
            "grep-panic-keeps-stack",
            json!({"name": "deploy/podinfo", "namespace": "apps", "grep": "panic"}),
        ),
        (
            "grep-nothing",
            json!({"kind": "StatefulSet", "name": "redis-master", "namespace": "apps", "grep": "^ok$"}),
        ),
        (
            "generations-agree",
            json!({"name": "redis-master-0", "pod_name": "redis-master-0", "pod_namespace": "apps", "container": "redis", "limit": 2}),
        ),
    ];
    for (case, args) in cases {
        let out = ok(&mut s, "get_kubernetes_logs", args);
        golden(&format!("get_kubernetes_logs.{case}.txt"), &out);
    }
    let out = ok(
        &mut s,
        "get_kubernetes_logs",
        json!({"name": "deploy/podinfo", "namespace": "apps", "grep": "echo\\.go"}),
    );
    assert!(
        out.contains("http: panic serving") && out.contains("created by net/http"),
        "a frame matches: the whole entry comes: {out}"
    );
}

/// `since` is the kubelet's (`sinceSeconds`), so fresh lines are written at test time.
#[test]
fn logs_since_asks_the_kubelet() {
    let dir = scratch_dir("read-logs-since");
    let data = dir.join("cluster");
    copy_dir(&crate::apiserver::default_data_dir(), &data);
    let log: String = [(180, "old line"), (30, "recent line"), (2, "newest line")]
        .iter()
        .map(|(minutes, text)| format!("{} {text}\n", ago(Duration::from_secs(minutes * 60))))
        .collect();
    std::fs::write(data.join("logs/apps/redis-master-0/redis.log"), log).expect("write log");
    let mut s = start(
        "read-logs-since-session",
        Options {
            data_dir: data,
            ..Options::default()
        },
    );
    let out = ok(
        &mut s,
        "get_kubernetes_logs",
        json!({"name": "redis-master-0", "namespace": "apps", "since": "1h"}),
    );
    assert!(
        out.contains("recent line\nnewest line\n") && !out.contains("old line"),
        "{out}"
    );
    let asked = s
        .server
        .requests()
        .iter()
        .rev()
        .find(|r| r.path.ends_with("/log"))
        .and_then(|r| r.param("sinceSeconds").map(str::to_string));
    assert_eq!(asked.as_deref(), Some("3600"));
    let out = ok(
        &mut s,
        "get_kubernetes_logs",
        json!({"name": "redis-master-0", "namespace": "apps", "since": "1m"}),
    );
    assert!(
        out.contains(
            "(no log lines for container redis of pod apps/redis-master-0 within the last 1m)"
        ),
        "{out}"
    );
}

/// No namespace: the context's (here `-n apps`), as kubectl does, instead of an error.
#[test]
fn logs_namespace_defaults_to_the_context() {
    let mut s = Session::start(
        "read-logs-namespace",
        Options::default(),
        Identity::ClientCert,
        &["-n", "apps"],
    );
    let out = ok(
        &mut s,
        "get_kubernetes_logs",
        json!({"name": "redis-master-0", "limit": 1}),
    );
    assert!(out.starts_with("==> pod apps/redis-master-0"), "{out}");
    let out = ok(
        &mut s,
        "get_kubernetes_logs",
        json!({"pod_name": "deploy/api", "limit": 1}),
    );
    assert!(out.contains("==> pod apps/api-"), "{out}");
}

#[test]
fn logs_errors_of_the_current_generation() {
    let mut s = start("read-logs-errors", Options::default());
    let cases = [
        (
            "generations-disagree",
            json!({"name": "podinfo", "pod_name": "redis-master-0", "namespace": "apps"}),
        ),
        (
            "kind-and-prefix-disagree",
            json!({"kind": "StatefulSet", "name": "deploy/podinfo", "namespace": "apps"}),
        ),
        (
            "kind-without-logs",
            json!({"kind": "ConfigMap", "name": "podinfo-config", "namespace": "apps"}),
        ),
        (
            "flux-object-not-found",
            json!({"kind": "HelmRelease", "name": "podinf", "namespace": "apps"}),
        ),
        ("missing-name", json!({"namespace": "apps"})),
        (
            "unknown-kind",
            json!({"kind": "HelmReleas", "name": "podinfo", "namespace": "apps"}),
        ),
        (
            "bad-since",
            json!({"name": "redis-master-0", "namespace": "apps", "since": "5 minutes"}),
        ),
        (
            "bad-regex",
            json!({"name": "redis-master-0", "namespace": "apps", "grep": "[a-"}),
        ),
    ];
    for (case, args) in cases {
        let out = err(&mut s, "get_kubernetes_logs", args);
        golden(&format!("get_kubernetes_logs.error.{case}.txt"), &out);
    }
}

// ---- offered everywhere a read tool is ---------------------------------------------------------

/// The three tools only read: `--read-only` and a pod offer them, with the hints a client
/// trusts and the per-call context, and the instructions name them.
#[test]
fn read_only_and_in_cluster_offer_the_investigation_tools() {
    for in_pod in [false, true] {
        let mut cmd = crate::support::command();
        cmd.arg("serve").arg("--read-only");
        if in_pod {
            cmd.env("KUBERNETES_SERVICE_HOST", "10.96.0.1");
        }
        let mut mcp = crate::support::Mcp::spawn(&mut cmd);
        let init = mcp.handshake("2025-06-18");
        let instructions = init["instructions"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let r = mcp.request(json!("list"), "tools/list", json!({}));
        let tools = r["result"]["tools"].as_array().cloned().unwrap_or_default();
        for name in [
            "get_kubernetes_events",
            "get_kubernetes_logs",
            "trace_kubernetes_resource",
        ] {
            let tool = tools
                .iter()
                .find(|t| t["name"] == json!(name))
                .unwrap_or_else(|| panic!("{name} not offered (in a pod: {in_pod})"));
            assert_eq!(tool["annotations"]["readOnlyHint"], json!(true), "{name}");
            assert_eq!(
                tool["annotations"]["destructiveHint"],
                json!(false),
                "{name}"
            );
            assert!(
                tool["inputSchema"]["properties"]["context"].is_object(),
                "{name}"
            );
            assert!(instructions.contains(name), "{name}: {instructions}");
        }
        // The trace comes first on the investigation path.
        let at = |w: &str| instructions.find(w).unwrap_or(usize::MAX);
        assert!(at("trace_kubernetes_resource") < at("get_kubernetes_events"));
        assert_eq!(instructions.contains("get_kubeconfig_contexts"), !in_pod);
    }
}
