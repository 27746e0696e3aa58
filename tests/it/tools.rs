//! The cluster tools of this area through the real binary (`serve`, MCP over pipes) against the
//! test API server: golden outputs, every error path, session-scoped contexts, `--read-only`,
//! in-cluster hiding and the tool-call log.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::apiserver::{ApiServer, Deny, Identity, Options};
use crate::support::{Mcp, Session, command, copy_dir, golden, scratch_dir};

/// The tools this module covers, with the arguments of one successful call each.
const TOOLS: [&str; 5] = [
    "get_kubeconfig_contexts",
    "get_kubernetes_api_versions",
    "get_kubernetes_logs",
    "get_kubernetes_metrics",
    "set_kubeconfig_context",
];

/// The answers of this area carry the run's URL and kubeconfig folder: made stable for goldens.
impl Session {
    /// The text of a successful call, with the run's URL and folder made stable.
    #[track_caller]
    fn stable_ok(&mut self, tool: &str, args: Value) -> String {
        let text = self.ok(tool, args);
        self.stable(&text)
    }

    /// The text of a failed call, made stable, with a final newline (for golden files).
    #[track_caller]
    fn stable_err(&mut self, tool: &str, args: Value) -> String {
        let text = self.err(tool, args);
        self.stable(&text) + "\n"
    }

    fn stable(&self, text: &str) -> String {
        text.replace(&self.server.url(), "https://127.0.0.1:PORT")
            .replace(&self.dir.display().to_string(), "<dir>")
    }
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

// ---- get_kubernetes_logs -----------------------------------------------------------------

#[test]
fn logs_of_pods_and_workloads() {
    let mut s = Session::start("tools-logs", Options::default(), Identity::ClientCert, &[]);
    let cases = [
        (
            "pod",
            json!({"pod_name": "kustomize-controller-dh7rk62ks-2dwjq", "pod_namespace": "flux-system", "limit": 4}),
        ),
        (
            "plain-name-is-a-deployment",
            json!({"pod_name": "podinfo", "pod_namespace": "apps", "limit": "2"}),
        ),
        (
            "default-container",
            json!({"pod_name": "deploy/api", "pod_namespace": "apps", "limit": 3}),
        ),
        (
            "named-container",
            json!({"pod_name": "frontend-t9gs75xc2-2lb5r", "container_name": "nginx", "pod_namespace": "apps", "limit": 2}),
        ),
        (
            "init-container",
            json!({"pod_name": "deployment/frontend", "container_name": "migrate", "pod_namespace": "apps"}),
        ),
        (
            "previous",
            json!({"pod_name": "sts/redis-master", "pod_namespace": "apps", "previous": "true"}),
        ),
        (
            "daemonset",
            json!({"pod_name": "ds/node-exporter", "pod_namespace": "monitoring", "limit": 1}),
        ),
        (
            "job",
            json!({"pod_name": "job/db-migrate", "pod_namespace": "apps"}),
        ),
        (
            "cronjob-latest-job",
            json!({"pod_name": "cronjob/backup", "pod_namespace": "apps"}),
        ),
        (
            "no-log-lines",
            json!({"pod_name": "kube-prometheus-stack-operator-2w8cc7v8j-5622t", "pod_namespace": "monitoring"}),
        ),
    ];
    for (case, args) in cases {
        let out = s.stable_ok("get_kubernetes_logs", args);
        golden(&format!("get_kubernetes_logs.{case}.txt"), &out);
    }
}

#[test]
fn logs_errors_say_what_to_do() {
    let mut s = Session::start(
        "tools-logs-errors",
        Options::default(),
        Identity::ClientCert,
        &[],
    );
    let cases = [
        (
            "pod-not-found",
            json!({"pod_name": "podinfo-28pwq49wq-rcszx", "pod_namespace": "apps"}),
        ),
        (
            "namespace-without-pods",
            json!({"pod_name": "web", "pod_namespace": "default"}),
        ),
        (
            "workload-not-found",
            json!({"pod_name": "deploy/podinf", "pod_namespace": "apps"}),
        ),
        (
            "unknown-workload-kind",
            json!({"pod_name": "svc/podinfo", "pod_namespace": "apps"}),
        ),
        (
            "container-ambiguous",
            json!({"pod_name": "frontend-t9gs75xc2-2lb5r", "pod_namespace": "apps"}),
        ),
        (
            "container-not-found",
            json!({"pod_name": "deploy/podinfo", "container_name": "app", "pod_namespace": "apps"}),
        ),
        (
            "previous-missing",
            json!({"pod_name": "podinfo-28pwq49wq-rcszv", "pod_namespace": "apps", "previous": true}),
        ),
        (
            "unknown-context",
            json!({"pod_name": "podinfo", "pod_namespace": "apps", "context": "prod"}),
        ),
        ("missing-name", json!({"pod_namespace": "apps"})),
    ];
    for (case, args) in cases {
        let out = s.stable_err("get_kubernetes_logs", args);
        golden(&format!("get_kubernetes_logs.error.{case}.txt"), &out);
    }
}

#[test]
fn logs_refused_by_rbac_quote_the_server() {
    let options = Options {
        deny: vec![Deny::new("get", "", "pods/log").in_namespace("apps")],
        ..Options::default()
    };
    let mut s = Session::start("tools-logs-rbac", options, Identity::ClientCert, &[]);
    let out = s.stable_err(
        "get_kubernetes_logs",
        json!({"pod_name": "redis-master-0", "pod_namespace": "apps"}),
    );
    golden("get_kubernetes_logs.error.forbidden.txt", &out);
    // Other namespaces are still readable.
    s.stable_ok(
        "get_kubernetes_logs",
        json!({"pod_name": "ds/node-exporter", "pod_namespace": "monitoring"}),
    );
    // Every request was a read.
    assert!(s.server.requests().iter().all(|r| r.method == "GET"));
}

/// The logs of a container whose log has `count` lines of 100 bytes, asked for all of them:
/// the answer, and the `limitBytes` of each log request the server saw.
fn logs_of_lines(tag: &str, count: usize) -> (String, Vec<String>) {
    let dir = scratch_dir(tag);
    let data = dir.join("cluster");
    copy_dir(&crate::apiserver::default_data_dir(), &data);
    let log = (0..count)
        .map(|i| format!("2026-11-21T05:00:00Z line {i:05} {}\n", "x".repeat(78)))
        .collect::<String>();
    std::fs::write(data.join("logs/apps/redis-master-0/redis.log"), log).expect("write log");
    let options = Options {
        data_dir: data,
        ..Options::default()
    };
    let mut s = Session::start(
        &format!("tools-{tag}-session"),
        options,
        Identity::ClientCert,
        &[],
    );
    let out = s.stable_ok(
        "get_kubernetes_logs",
        json!({"pod_name": "redis-master-0", "pod_namespace": "apps", "limit": count}),
    );
    assert!(out.len() <= 256 * 1024 + 1024, "{} bytes", out.len());
    let newest = format!("line {:05}", count - 1);
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("line ")).collect();
    assert!(lines.len() > 2000, "{} lines", lines.len());
    assert_eq!(
        lines.last().map(|l| &l[..10]),
        Some(newest.as_str()),
        "the newest line is kept"
    );
    let limits = s
        .server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/log"))
        .map(|r| r.param("limitBytes").unwrap_or_default().to_string())
        .collect();
    (out, limits)
}

#[test]
fn logs_are_capped_and_keep_the_newest_lines() {
    // 4000 lines of 100 bytes: 400 KB, more than the 256 KiB cap, in one bounded request
    // (at most 4 × 256 KiB) whose newest lines are kept.
    let (out, limits) = logs_of_lines("tools-logs-cap", 4000);
    let note = out.lines().last().unwrap_or_default();
    assert!(
        note.starts_with("(output capped at 256 KiB: these are the last ")
            && note.ends_with(" of the 4000 lines asked for)"),
        "{note}"
    );
    assert_eq!(limits, ["1048576"]);
    // 2 MB: more than one read may take; fewer, newest lines are asked for the second time.
    let (_, limits) = logs_of_lines("tools-logs-cap-big", 20_000);
    assert_eq!(limits.len(), 2, "one read cut short, then one that fits");
}

/// A pod with a sidecar (an init container that keeps running), an ephemeral debug container
/// and a log that real containers write: one line far longer than the cap, bytes that are not
/// UTF-8, then the newest lines, which are the ones an incident needs.
#[test]
fn logs_keep_the_newest_lines_past_a_huge_line_and_reach_ephemeral_containers() {
    let dir = scratch_dir("tools-logs-odd");
    let data = dir.join("cluster");
    copy_dir(&crate::apiserver::default_data_dir(), &data);
    let pod_dir = data.join("logs/apps/debug-me");
    std::fs::create_dir_all(&pod_dir).expect("mkdir");
    let mut log = b"2026-11-21T05:00:00Z starting\n".to_vec();
    log.extend_from_slice(b"2026-11-21T05:00:01Z {\"dump\":\"");
    log.extend(std::iter::repeat_n(b'A', 400 << 10));
    log.extend_from_slice(b"\"}\n2026-11-21T05:00:02Z bad bytes \xff\xfe here\n");
    log.extend_from_slice(b"2026-11-21T05:00:03Z newest line\n");
    std::fs::write(pod_dir.join("app.log"), &log).expect("write log");
    std::fs::write(
        pod_dir.join("debugger.log"),
        "2026-11-21T05:10:00Z debug shell ready\n",
    )
    .expect("write log");
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "debug-me", "namespace": "apps"},
        "spec": {
            "initContainers": [{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}],
            "containers": [{"name": "app", "image": "app:1"}],
            "ephemeralContainers": [{"name": "debugger", "image": "busybox",
                                     "targetContainerName": "app"}]
        },
        "status": {"phase": "Running",
            "containerStatuses": [{"name": "app", "restartCount": 0,
                                   "state": {"running": {"startedAt": "2026-11-21T05:00:00Z"}}}],
            "ephemeralContainerStatuses": [{"name": "debugger", "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}
    });
    let options = Options {
        data_dir: data,
        extra_objects: vec![pod],
        ..Options::default()
    };
    let mut s = Session::start("tools-logs-odd-session", options, Identity::ClientCert, &[]);
    let out = s.stable_ok(
        "get_kubernetes_logs",
        json!({"pod_name": "debug-me", "pod_namespace": "apps"}),
    );
    assert!(out.len() <= 256 * 1024 + 1024, "{} bytes", out.len());
    assert!(
        out.contains("\nnewest line\n"),
        "the newest line is kept:\n{out:.300}"
    );
    assert!(
        out.contains("\nbad bytes \u{fffd}\u{fffd} here\n"),
        "invalid UTF-8 is replaced, not fatal"
    );
    assert!(out.contains("\nstarting\n"), "{out:.300}");
    // The huge line is cut and says so, instead of pushing everything else out.
    let huge = out
        .lines()
        .find(|l| l.starts_with("{\"dump\""))
        .expect("the long line, cut");
    assert!(huge.len() < 20 << 10, "{} bytes", huge.len());
    assert!(huge.ends_with("bytes]"), "{}", &huge[huge.len() - 80..]);

    let out = s.stable_ok(
        "get_kubernetes_logs",
        json!({"pod_name": "debug-me", "pod_namespace": "apps", "container_name": "debugger"}),
    );
    assert!(
        out.starts_with("==> pod apps/debug-me, container debugger (terminated: exit 0 (Completed)) <==\ndebug shell ready\n"),
        "{out}"
    );
    let err = s.stable_err(
        "get_kubernetes_logs",
        json!({"pod_name": "debug-me", "pod_namespace": "apps", "container_name": "nope"}),
    );
    assert_eq!(
        err,
        "container \"nope\" not found in pod apps/debug-me; containers: app; init containers: \
         proxy; ephemeral containers: debugger\n"
    );
}

// ---- get_kubernetes_metrics ---------------------------------------------------------------

#[test]
fn metrics_in_millicores_and_mib() {
    let mut s = Session::start(
        "tools-metrics",
        Options::default(),
        Identity::ClientCert,
        &[],
    );
    let cases = [
        ("namespace", json!({"pod_namespace": "flux-system"})),
        (
            "selector",
            json!({"pod_namespace": "apps", "pod_selector": "app.kubernetes.io/name in (api,frontend)"}),
        ),
        (
            "pod",
            json!({"pod_namespace": "apps", "pod_name": "api-cxdc8ng5m-qjzsj"}),
        ),
        (
            "truncated",
            json!({"pod_namespace": "flux-system", "limit": 2}),
        ),
        (
            "nothing-matches",
            json!({"pod_namespace": "apps", "pod_selector": "app=nothing"}),
        ),
    ];
    for (case, args) in cases {
        let out = s.stable_ok("get_kubernetes_metrics", args);
        golden(&format!("get_kubernetes_metrics.{case}.txt"), &out);
    }
    let cases = [
        (
            "pod-not-running",
            json!({"pod_namespace": "apps", "pod_name": "redis-master-0"}),
        ),
        (
            "pod-not-found",
            json!({"pod_namespace": "apps", "pod_name": "api-cxdc8ng5m-qjzsk"}),
        ),
        (
            "name-and-selector",
            json!({"pod_namespace": "apps", "pod_name": "a", "pod_selector": "b=c"}),
        ),
    ];
    for (case, args) in cases {
        let out = s.stable_err("get_kubernetes_metrics", args);
        golden(&format!("get_kubernetes_metrics.error.{case}.txt"), &out);
    }
}

#[test]
fn metrics_without_metrics_server_say_how_to_check() {
    let options = Options {
        no_metrics: true,
        ..Options::default()
    };
    let mut s = Session::start("tools-metrics-absent", options, Identity::ClientCert, &[]);
    let out = s.stable_err("get_kubernetes_metrics", json!({"pod_namespace": "apps"}));
    golden(
        "get_kubernetes_metrics.error.metrics-server-absent.txt",
        &out,
    );
}

/// metrics-server installed but down (its APIService unavailable): the metrics tool says so
/// without waiting on the dead backend, and the API versions name the stale group.
#[test]
fn metrics_server_down_is_told_apart_from_absent() {
    let options = Options {
        metrics_unavailable: true,
        ..Options::default()
    };
    let mut s = Session::start("tools-metrics-down", options, Identity::ClientCert, &[]);
    let out = s.stable_err("get_kubernetes_metrics", json!({"pod_namespace": "apps"}));
    assert!(
        out.contains("metrics.k8s.io/v1beta1 is registered but not answering"),
        "{out}"
    );
    assert!(
        !s.server
            .requests()
            .iter()
            .any(|r| r.path.starts_with("/apis/metrics.k8s.io")),
        "no request to the dead backend"
    );
    let out = s.stable_ok("get_kubernetes_api_versions", json!({}));
    assert!(
        out.contains("\nDiscovery failed for these group versions; their kinds are missing above:\n- metrics.k8s.io/v1beta1: stale"),
        "{out}"
    );
    assert!(!out.contains("PodMetrics"), "{out}");
}

// ---- get_kubernetes_api_versions ----------------------------------------------------------

#[test]
fn api_versions_from_discovery() {
    let mut s = Session::start(
        "tools-api-versions",
        Options::default(),
        Identity::ClientCert,
        &[],
    );
    let out = s.stable_ok("get_kubernetes_api_versions", json!({}));
    golden("get_kubernetes_api_versions.txt", &out);
}

#[test]
fn api_versions_with_revoked_credentials() {
    // A kubeconfig whose token the server no longer accepts: 401, named as such.
    let mut s = Session::start(
        "tools-api-versions-bad-token",
        Options::default(),
        Identity::Token,
        &[],
    );
    s.server.revoke_token(s.server.token());
    let (text, is_error) = s.call("get_kubernetes_api_versions", json!({}));
    assert!(is_error, "{text}");
    assert!(
        text.starts_with("context flux-test: ") && text.contains("Unauthorized"),
        "{text}"
    );
    assert!(text.contains("refresh them"), "{text}");
    assert!(!text.contains(s.server.token()), "{text}");
}

/// What the 401 message asks for works: after `oc login` (or any tool) writes a fresh token
/// into the kubeconfig, the next call uses it, without restarting the server. Likewise a
/// `kubectl config use-context` is followed, as every kubectl invocation would.
#[test]
fn a_kubeconfig_edited_mid_session_is_read_again() {
    let mut s = Session::start(
        "tools-kubeconfig-edited",
        Options::default(),
        Identity::Token,
        &[],
    );
    let kubeconfig = s.dir.join("kubeconfig");
    let (text, is_error) = s.call("get_kubernetes_resources", json!({"kind": "Namespace"}));
    assert!(!is_error, "{text}");

    s.server.revoke_token(s.server.token());
    let (text, is_error) = s.call("get_kubernetes_resources", json!({"kind": "Namespace"}));
    assert!(is_error && text.contains("Unauthorized"), "{text}");

    let fresh = s.server.add_token("kubernetes-admin", &["system:masters"]);
    let config = std::fs::read_to_string(&kubeconfig)
        .expect("read")
        .replace(s.server.token(), &fresh);
    std::fs::write(&kubeconfig, config).expect("write");
    let (text, is_error) = s.call("get_kubernetes_resources", json!({"kind": "Namespace"}));
    assert!(!is_error, "the fresh token is used: {text}");

    // The current context changes in the file (kubectl config use-context).
    let config = std::fs::read_to_string(&kubeconfig).expect("read").replace(
        "contexts:\n",
        "contexts:\n- name: other\n  context:\n    cluster: flux-test\n    user: flux-test\n    namespace: apps\n",
    );
    let config = config.replace("current-context: flux-test", "current-context: other");
    std::fs::write(&kubeconfig, config).expect("write");
    let (text, _) = s.call("get_kubeconfig_contexts", json!({}));
    assert!(text.starts_with("current: other\n"), "{text}");
    let (text, is_error) = s.call(
        "get_kubernetes_logs",
        json!({"pod_name": "nope", "pod_namespace": "apps"}),
    );
    assert!(is_error && text.starts_with("context other: "), "{text}");
}

// ---- kubeconfig contexts --------------------------------------------------------------------

/// A kubeconfig with contexts `blue` (current) and `green`, one per API server.
fn two_clusters(blue: &ApiServer, green: &ApiServer, dir: &Path) -> PathBuf {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let cluster = |name: &str, s: &ApiServer| {
        format!(
            "- name: {name}-cluster\n  cluster:\n    server: {}\n    certificate-authority-data: {}\n",
            s.url(),
            b64(s.ca_pem())
        )
    };
    let user = |name: &str, s: &ApiServer| {
        format!(
            "- name: {name}-admin\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
            b64(s.client_cert_pem()),
            b64(s.client_key_pem())
        )
    };
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: blue\nclusters:\n{}{}users:\n{}{}\
         contexts:\n- name: blue\n  context:\n    cluster: blue-cluster\n    user: blue-admin\n\
         - name: green\n  context:\n    cluster: green-cluster\n    user: green-admin\n    namespace: apps\n",
        cluster("blue", blue),
        cluster("green", green),
        user("blue", blue),
        user("green", green),
    );
    let path = dir.join("kubeconfig");
    std::fs::write(&path, text).expect("write kubeconfig");
    path
}

fn discovery_requests(server: &ApiServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.path == "/api" || r.path == "/apis")
        .count()
}

#[test]
fn set_kubeconfig_context_switches_this_session_only() {
    let blue = ApiServer::start(Options::default());
    let green = ApiServer::start(Options::default());
    let dir = scratch_dir("tools-contexts");
    let kubeconfig = two_clusters(&blue, &green, &dir);
    let original = std::fs::read_to_string(&kubeconfig).expect("read");
    let path = kubeconfig.display().to_string();
    let stable = |text: &str| {
        text.replace(&blue.url(), "https://127.0.0.1:BLUE")
            .replace(&green.url(), "https://127.0.0.1:GREEN")
            .replace(&dir.display().to_string(), "<dir>")
    };
    let mut one = Mcp::serve(&["--kubeconfig", &path]);
    one.handshake("2025-06-18");
    let mut other = Mcp::serve(&["--kubeconfig", &path]);
    other.handshake("2025-06-18");

    let (text, err) = one.call("get_kubeconfig_contexts", json!({}));
    assert!(!err, "{text}");
    golden("get_kubeconfig_contexts.txt", &stable(&text));

    let (text, err) = one.call("set_kubeconfig_context", json!({"name": "green"}));
    assert!(!err, "{text}");
    golden("set_kubeconfig_context.txt", &stable(&text));

    // A call without a context argument now goes to green, from this session only.
    let (text, err) = one.call("get_kubernetes_api_versions", json!({}));
    assert!(!err, "{text}");
    assert_eq!(discovery_requests(&blue), 0);
    assert!(discovery_requests(&green) > 0);
    let (text, err) = other.call("get_kubernetes_api_versions", json!({}));
    assert!(!err, "{text}");
    assert!(
        discovery_requests(&blue) > 0,
        "the other session stays on blue"
    );

    // The context argument targets a cluster for one call without changing the session.
    blue.clear_requests();
    green.clear_requests();
    let (text, err) = one.call("get_kubernetes_logs",
        json!({"pod_name": "redis-master-0", "pod_namespace": "apps", "context": "blue", "limit": 1}),
    );
    assert!(!err, "{text}");
    assert!(blue.requests().iter().any(|r| r.path.ends_with("/log")));
    assert!(green.requests().is_empty());
    let (text, _) = one.call("get_kubeconfig_contexts", json!({}));
    assert!(
        text.starts_with("current: green\ncurrent_from: set_kubeconfig_context in this session\n"),
        "{text}"
    );
    let (text, _) = other.call("get_kubeconfig_contexts", json!({}));
    assert!(text.starts_with("current: blue\n"), "{text}");

    // Unknown names are refused with suggestions, and nothing changes.
    let (text, err) = one.call("set_kubeconfig_context", json!({"name": "gren"}));
    assert!(err);
    assert_eq!(
        text,
        "context \"gren\" does not exist (did you mean green?); the kubeconfig defines: blue, green"
    );
    let (text, _) = one.call("get_kubeconfig_contexts", json!({}));
    assert!(text.starts_with("current: green\n"), "{text}");

    // Credentials never reach the agent, and the file is never written.
    for secret in [blue.client_key_pem(), green.client_key_pem()] {
        let key_line = secret.lines().nth(1).unwrap_or_default();
        assert!(!text.contains(key_line));
    }
    assert_eq!(
        std::fs::read_to_string(&kubeconfig).expect("read"),
        original
    );
}

#[test]
fn contexts_added_to_the_file_show_up_without_a_restart() {
    let mut s = Session::start(
        "tools-contexts-reload",
        Options::default(),
        Identity::ClientCert,
        &[],
    );
    let kubeconfig = s.dir.join("kubeconfig");
    let (text, _) = s.call("set_kubeconfig_context", json!({"name": "late"}));
    assert!(
        text.starts_with("context \"late\" does not exist"),
        "{text}"
    );
    let mut config = std::fs::read_to_string(&kubeconfig).expect("read");
    config = config.replace(
        "contexts:\n",
        "contexts:\n- name: late\n  context:\n    cluster: flux-test\n    user: flux-test\n    namespace: flux-system\n",
    );
    std::fs::write(&kubeconfig, config).expect("write");
    let (text, err) = s.call("set_kubeconfig_context", json!({"name": "late"}));
    assert!(!err, "{text}");
    assert!(text.contains("default namespace flux-system"), "{text}");
}

// ---- the toolbox: read-only, in-cluster, call log -------------------------------------------

#[test]
fn read_only_keeps_every_tool_of_this_area() {
    let mut mcp = Mcp::serve(&["--read-only"]);
    mcp.handshake("2025-06-18");
    let r = mcp.request(json!(1), "tools/list", json!({}));
    let tools = r["result"]["tools"].as_array().expect("tools").clone();
    for name in TOOLS {
        let tool = tools
            .iter()
            .find(|t| t["name"] == json!(name))
            .unwrap_or_else(|| panic!("{name} is hidden by --read-only"));
        assert_eq!(tool["annotations"]["readOnlyHint"], json!(true), "{name}");
        assert_eq!(
            tool["annotations"]["destructiveHint"],
            json!(false),
            "{name}"
        );
        let cluster_tool = name.starts_with("get_kubernetes_");
        assert_eq!(
            tool["annotations"]["openWorldHint"],
            json!(cluster_tool),
            "{name}"
        );
        if cluster_tool {
            assert!(
                tool["inputSchema"]["properties"]["context"].is_object(),
                "{name} takes a context"
            );
        }
    }
}

#[test]
fn in_a_cluster_the_context_tools_are_not_offered() {
    let mut cmd = command();
    cmd.arg("serve").env("KUBERNETES_SERVICE_HOST", "10.96.0.1");
    let mut mcp = Mcp::spawn(&mut cmd);
    mcp.handshake("2025-06-18");
    let names = tool_names(&mut mcp);
    for name in TOOLS {
        let offered = names.iter().any(|n| n == name);
        assert_eq!(
            offered,
            !name.ends_with("_context") && !name.ends_with("_contexts"),
            "{name}"
        );
    }
    let r = mcp.request(
        json!(2),
        "tools/call",
        json!({"name": "set_kubeconfig_context", "arguments": {"name": "x"}}),
    );
    assert_eq!(r["error"]["code"], json!(-32602), "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("inside a cluster"),
        "{r}"
    );
}

#[test]
fn the_call_log_records_cluster_calls_without_secrets() {
    let log = scratch_dir("tools-call-log-file").join("calls.jsonl");
    let log_arg = format!("--tool-call-log-file={}", log.display());
    let mut s = Session::start(
        "tools-call-log",
        Options::default(),
        Identity::ClientCert,
        &[&log_arg],
    );
    s.ok(
        "get_kubernetes_logs",
        json!({"pod_name": "deploy/api", "pod_namespace": "apps", "limit": 1}),
    );
    s.err(
        "get_kubernetes_logs",
        json!({"pod_name": "nope", "pod_namespace": "apps"}),
    );
    let (status, _, _) = s.mcp.finish();
    assert!(status.success());
    let text = std::fs::read_to_string(&log).expect("log written");
    let entries: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(entries.len(), 2, "{text}");
    assert_eq!(entries[0]["tool"], json!("get_kubernetes_logs"));
    assert_eq!(
        entries[0]["arguments"],
        json!({"pod_name": "deploy/api", "pod_namespace": "apps", "limit": 1})
    );
    assert_eq!(entries[0]["is_error"], json!(false));
    assert!(entries[0]["result_bytes"].as_u64().unwrap_or(0) > 100);
    assert_eq!(entries[1]["is_error"], json!(true));
    assert_eq!(entries[1]["outcome"], json!("failed"));
    // The error's text is the agent's, not the log's.
    assert!(!text.contains("not found"), "{text}");
    // No log line of the pod (outputs are not logged), no credential.
    assert!(!text.contains("payment provider timeout"), "{text}");
    let key_line = s.server.client_key_pem().lines().nth(1).unwrap_or_default();
    assert!(!text.contains(key_line));
    assert!(!text.contains(s.server.token()));
}

/// The bearer token of the kubeconfig and the value of a Secret in the cluster never reach
/// the agent, the tool call log or stderr, whatever the call: outputs, RBAC refusals, broken
/// connections, server errors, rejected credentials.
#[test]
fn no_output_error_or_log_line_carries_a_credential() {
    use crate::apiserver::{Fault, FaultKind};
    use base64::Engine as _;

    const VALUE: &str = "s3cr3t-value-of-a-secret";
    let encoded = base64::engine::general_purpose::STANDARD.encode(VALUE);
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "leak-probe", "namespace": "apps",
                     "annotations": {"copied-by-a-tool": format!("password={VALUE}")}},
        "data": {"password": encoded}, "stringData": {"again": VALUE}});
    // A ResourceSet that templates a Secret carries its value in its own spec.
    let resource_set = json!({"apiVersion": "fluxcd.controlplane.io/v1", "kind": "ResourceSet",
        "metadata": {"name": "leak-probe", "namespace": "apps"},
        "spec": {"resources": [{"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "apps"}, "stringData": {"password": VALUE}}]}});
    let log = scratch_dir("tools-no-credential-log").join("calls.jsonl");
    let log_arg = format!("--tool-call-log-file={}", log.display());
    let Session {
        server, mut mcp, ..
    } = Session::start(
        "tools-no-credential",
        Options {
            extra_objects: vec![secret, resource_set],
            deny: vec![Deny::new("get", "", "pods/log").in_namespace("monitoring")],
            ..Options::default()
        },
        Identity::Token,
        // Generous: every fault here answers at once, and a loaded machine must not turn a
        // masked answer into a timeout.
        &[&log_arg, "--timeout=30s"],
    );
    let mut outputs = Vec::new();
    let mut run = |mcp: &mut Mcp, tool: &str, args: Value| {
        let (text, _) = mcp.call(tool, args);
        outputs.push(text);
    };
    let calls = [
        ("get_kubernetes_resources", json!({"kind": "Secret"})),
        (
            "get_kubernetes_resources",
            json!({"kind": "Secret", "name": "leak-probe", "namespace": "apps"}),
        ),
        (
            "get_kubernetes_resources",
            json!({"kind": "Secret", "namespace": "apps", "fields": ["data", "stringData", "metadata.annotations"]}),
        ),
        (
            "get_kubernetes_resources",
            json!({"kind": "ResourceSet", "name": "leak-probe", "namespace": "apps"}),
        ),
        ("get_flux_instance", json!({})),
        ("get_kubernetes_api_versions", json!({})),
        ("get_kubeconfig_contexts", json!({})),
        (
            "get_kubernetes_logs",
            json!({"pod_name": "ds/node-exporter", "pod_namespace": "monitoring"}),
        ),
        (
            "get_kubernetes_metrics",
            json!({"pod_namespace": "flux-system"}),
        ),
    ];
    for (tool, args) in calls.iter().cloned() {
        run(&mut mcp, tool, args);
    }
    for fault in [
        FaultKind::Status(500),
        FaultKind::ConnectionReset,
        FaultKind::TruncatedBody,
    ] {
        server.inject(Fault::new("/", fault).always());
        run(
            &mut mcp,
            "get_kubernetes_resources",
            json!({"kind": "Secret", "namespace": "apps"}),
        );
        server.clear_faults();
    }
    server.revoke_token(server.token());
    for (tool, args) in calls.iter().cloned() {
        run(&mut mcp, tool, args);
    }
    let (status, _, stderr) = mcp.finish();
    assert!(status.success());
    let log_text = std::fs::read_to_string(&log).expect("call log");
    assert_eq!(log_text.lines().count(), calls.len() * 2 + 3, "{log_text}");
    assert!(
        outputs.iter().any(|o| o.contains("Unauthorized")),
        "the revoked token was refused: {outputs:#?}"
    );
    assert!(outputs.iter().any(|o| o.contains("<masked: 24 bytes>")));
    for (what, text) in outputs
        .iter()
        .map(|o| ("tool output", o.as_str()))
        .chain([("call log", log_text.as_str()), ("stderr", stderr.as_str())])
    {
        for needle in [server.token(), VALUE, encoded.as_str()] {
            assert!(!text.contains(needle), "{needle} in the {what}:\n{text}");
        }
    }
}
