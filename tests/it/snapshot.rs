//! Snapshots through the real binary: `snapshot create` against the test API server, then
//! `serve --snapshot`. The fidelity test asks every read tool the same questions live and
//! from the snapshot and wants the same answers apart from the provenance line; the others
//! check what a snapshot holds (no Secret value, masked logs, what it did not capture), the
//! snapshot contexts, and that damaged or hostile files get a clear error and nothing worse.

use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::apiserver::{ApiServer, Identity, Options};
use crate::support::{self, Mcp, Session};

/// The first line of every answer read from a snapshot.
const PROVENANCE: &str = "# from snapshot ";

/// `snapshot create` against `server` (through a kubeconfig, as a user runs it), into `dir`.
fn create(server: &ApiServer, dir: &Path, name: &str, extra: &[&str]) -> (PathBuf, Output) {
    let kubeconfig = dir.join("kubeconfig");
    server
        .write_kubeconfig(&kubeconfig, Identity::ClientCert)
        .expect("kubeconfig");
    let path = dir.join(name);
    let out = support::command()
        .args(["snapshot", "create", "-o"])
        .arg(&path)
        .args(extra)
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .expect("run snapshot create");
    assert!(
        out.status.success(),
        "snapshot create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (path, out)
}

/// `serve --snapshot` for each of `paths`, handshake done.
fn serve(paths: &[&Path], flags: &[&str]) -> Mcp {
    let mut cmd = support::command();
    cmd.arg("serve");
    for p in paths {
        cmd.arg("--snapshot").arg(p);
    }
    cmd.args(flags);
    let mut mcp = Mcp::spawn(&mut cmd);
    mcp.handshake("2025-06-18");
    mcp
}

/// An answer without its provenance line, and that line.
fn split(text: &str) -> (Option<&str>, &str) {
    match text.split_once('\n') {
        Some((first, rest)) if first.starts_with(PROVENANCE) => (Some(first), rest),
        _ if text.starts_with(PROVENANCE) => (Some(text), ""),
        _ => (None, text),
    }
}

/// Questions for every read tool: the scripted failures, lists with selectors and limits,
/// fields, Secrets, errors of every kind a cluster gives.
fn questions() -> Vec<(&'static str, Value)> {
    vec![
        ("get_flux_instance", json!({})),
        ("get_kubernetes_api_versions", json!({})),
        ("get_kubernetes_resources", json!({"kind": "Kustomization"})),
        (
            "get_kubernetes_resources",
            json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "name": "apps", "namespace": "flux-system"}),
        ),
        (
            "get_kubernetes_resources",
            json!({"kind": "HelmRelease", "namespace": "apps"}),
        ),
        (
            "get_kubernetes_resources",
            json!({"kind": "HelmRelease", "name": "redis", "namespace": "apps"}),
        ),
        (
            "get_kubernetes_resources",
            json!({"kind": "HelmRelease", "namespace": "apps", "fields": ["status.conditions", "status.inventory"]}),
        ),
        (
            "get_kubernetes_resources",
            json!({"kind": "GitRepository", "limit": 2}),
        ),
        (
            "get_kubernetes_resources",
            json!({"kind": "Deployment", "selector": "app.kubernetes.io/part-of=flux"}),
        ),
        (
            "get_kubernetes_resources",
            json!({"kind": "Pod", "namespace": "apps", "selector": "app.kubernetes.io/name!=podinfo"}),
        ),
        (
            "get_kubernetes_resources",
            json!({"kind": "Secret", "namespace": "flux-system"}),
        ),
        (
            "get_kubernetes_resources",
            json!({"kind": "Secret", "name": "sh.helm.release.v1.podinfo.v3", "namespace": "apps"}),
        ),
        (
            "get_kubernetes_resources",
            json!({"kind": "ConfigMap", "name": "podinfo-config", "namespace": "apps"}),
        ),
        (
            "get_kubernetes_resources",
            json!({"kind": "ConfigMap", "name": "webapp-config", "namespace": "apps"}),
        ),
        ("get_kubernetes_resources", json!({"kind": "Namespace"})),
        (
            "get_kubernetes_resources",
            json!({"kind": "crd", "name": "helmreleases.helm.toolkit.fluxcd.io"}),
        ),
        ("get_kubernetes_resources", json!({"kind": "FluxReport"})),
        (
            "get_kubernetes_resources",
            json!({"kind": "HelmRelease", "name": "podinf", "namespace": "apps"}),
        ),
        ("get_kubernetes_resources", json!({"kind": "HelmRelase"})),
        (
            "get_kubernetes_resources",
            json!({"kind": "Pod", "selector": "app in (a,"}),
        ),
        (
            "get_kubernetes_events",
            json!({"kind": "HelmRelease", "name": "redis", "namespace": "apps"}),
        ),
        (
            "get_kubernetes_events",
            json!({"kind": "Pod", "name": "redis-master-0", "namespace": "apps"}),
        ),
        (
            "get_kubernetes_events",
            json!({"namespace": "flux-system", "type": "warning"}),
        ),
        ("get_kubernetes_events", json!({"kind": "ks", "limit": 3})),
        (
            "get_kubernetes_events",
            json!({"namespace": "apps", "grep": "deadline|not found$", "limit": 2}),
        ),
        (
            "get_kubernetes_events",
            json!({"grep": "GitRepository/flux-system/"}),
        ),
        (
            "get_kubernetes_events",
            json!({"kind": "HelmRelease", "name": "podinf", "namespace": "apps"}),
        ),
        (
            "get_kubernetes_logs",
            json!({"kind": "Deployment", "name": "podinfo", "namespace": "apps", "limit": 2}),
        ),
        (
            "get_kubernetes_logs",
            json!({"kind": "HelmRelease", "name": "metrics-exporter", "namespace": "apps", "limit": 2}),
        ),
        (
            "get_kubernetes_logs",
            json!({"kind": "ks", "name": "monitoring-controllers", "namespace": "flux-system", "grep": "health check"}),
        ),
        (
            "get_kubernetes_logs",
            json!({"name": "deploy/podinfo", "namespace": "apps", "grep": "panic"}),
        ),
        (
            "get_kubernetes_logs",
            json!({"name": "redis-master-0", "namespace": "apps", "previous": true}),
        ),
        (
            "get_kubernetes_logs",
            json!({"name": "redis-master-0", "namespace": "apps", "since": "1h"}),
        ),
        (
            "get_kubernetes_logs",
            json!({"name": "frontend-t9gs75xc2-2lb5r", "namespace": "apps"}),
        ),
        (
            "get_kubernetes_logs",
            json!({"name": "frontend-t9gs75xc2-2lb5r", "namespace": "apps", "container": "migrate"}),
        ),
        (
            "get_kubernetes_logs",
            json!({"kind": "CronJob", "name": "backup", "namespace": "apps"}),
        ),
        (
            "get_kubernetes_logs",
            json!({"kind": "DaemonSet", "name": "node-exporter", "namespace": "monitoring", "limit": 1}),
        ),
        (
            "get_kubernetes_logs",
            json!({"name": "podinfo-28pwq49wq-vztw5", "namespace": "apps", "previous": true}),
        ),
        (
            "get_kubernetes_logs",
            json!({"name": "no-such-pod", "namespace": "apps"}),
        ),
        (
            "get_kubernetes_metrics",
            json!({"pod_namespace": "flux-system"}),
        ),
        (
            "get_kubernetes_metrics",
            json!({"pod_namespace": "apps", "pod_name": "redis-master-0"}),
        ),
        (
            "get_kubernetes_metrics",
            json!({"pod_namespace": "apps", "pod_selector": "app.kubernetes.io/name=podinfo"}),
        ),
        (
            "get_kubernetes_metrics",
            json!({"pod_namespace": "apps", "pod_name": "nope"}),
        ),
        (
            "trace_kubernetes_resource",
            json!({"kind": "Deployment", "name": "blackbox-exporter", "namespace": "monitoring"}),
        ),
        (
            "trace_kubernetes_resource",
            json!({"kind": "HelmRelease", "name": "metrics-exporter", "namespace": "apps"}),
        ),
        (
            "trace_kubernetes_resource",
            json!({"kind": "ImagePolicy", "name": "webapp-api", "namespace": "flux-system"}),
        ),
        (
            "trace_kubernetes_resource",
            json!({"kind": "Pod", "name": "redis-master-0", "namespace": "apps"}),
        ),
        (
            "trace_kubernetes_resource",
            json!({"apiVersion": "apps/v1", "kind": "deploy", "name": "kube-prometheus-stack-operator", "namespace": "monitoring"}),
        ),
        (
            "trace_kubernetes_resource",
            json!({"kind": "ConfigMap", "name": "podinfo-config", "namespace": "apps"}),
        ),
        (
            "trace_kubernetes_resource",
            json!({"kind": "Pod", "name": "api-cxdc8ng5m-qjzsj", "namespace": "apps"}),
        ),
        (
            "trace_kubernetes_resource",
            json!({"kind": "GitRepository", "name": "infra-private", "namespace": "flux-system"}),
        ),
        (
            "trace_kubernetes_resource",
            json!({"kind": "HelmRelease", "name": "podinf", "namespace": "apps"}),
        ),
        (
            "search_flux_docs",
            json!({"query": "HelmRelease install retries exhausted"}),
        ),
        (
            "read_flux_doc",
            json!({"path": "kinds/kustomization", "heading": "spec.dependsOn"}),
        ),
    ]
}

/// Tools whose answers describe the server itself and so differ by design: checked on their
/// own below.
const ABOUT_THE_SERVER: &[&str] = &["get_kubeconfig_contexts", "set_kubeconfig_context"];

#[test]
fn every_read_tool_answers_from_a_snapshot_as_it_did_live() {
    let dir = support::scratch_dir("snapshot-fidelity");
    // The real clock: the test API server filters logs by `sinceSeconds` against the real
    // clock whatever its fixed `Date` says, while a snapshot, like a real cluster, uses one
    // clock (the cluster's, at capture) for both.
    let mut live = Session::start(
        "snapshot-fidelity-live",
        Options {
            now: None,
            ..Options::default()
        },
        Identity::ClientCert,
        &[],
    );
    let (path, out) = create(&live.server, &dir, "fidelity.snapshot", &[]);
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("objects:") && summary.contains("size:"),
        "{summary}"
    );
    assert!(!out.stderr.is_empty(), "no progress line on stderr");
    let mut snap = serve(&[&path], &[]);
    // Every tool the snapshot server offers is asked something (or checked on its own).
    let listed = snap.request(json!("list"), "tools/list", json!({}));
    let questions = questions();
    for tool in listed["result"]["tools"].as_array().expect("tools") {
        let name = tool["name"].as_str().expect("name");
        assert!(
            ABOUT_THE_SERVER.contains(&name) || questions.iter().any(|(t, _)| *t == name),
            "no fidelity question for {name}"
        );
    }
    let mut different = Vec::new();
    for (tool, args) in questions {
        let (want, want_error) = live.call(tool, args.clone());
        let (got, got_error) = snap.call(tool, args.clone());
        let (provenance, body) = split(&got);
        let reads_cluster = !matches!(tool, "search_flux_docs" | "read_flux_doc");
        match provenance {
            Some(line) => {
                assert!(reads_cluster, "{tool}: a docs answer has a provenance line");
                assert!(
                    line.starts_with("# from snapshot \"flux-test\" of https://127.0.0.1:")
                        && line.contains(" captured 20")
                        && line.ends_with("not live"),
                    "{line}"
                );
            }
            None => assert!(!reads_cluster, "{tool} {args}: no provenance line:\n{got}"),
        }
        if body != want || want_error != got_error {
            different.push(format!(
                "{tool} {args} (live error: {want_error}, snapshot error: {got_error})\n--- live\n{want}\n--- snapshot\n{body}"
            ));
        }
    }
    assert!(different.is_empty(), "{}", different.join("\n\n"));
}

/// What is not in a snapshot is said to be missing from it, never reported absent from the
/// cluster; a write is not offered; the context tools list the snapshots.
#[test]
fn a_snapshot_says_what_it_does_not_hold_and_lists_itself() {
    let dir = support::scratch_dir("snapshot-limits");
    let server = ApiServer::start(Options::default());
    let (path, _) = create(&server, &dir, "one.snapshot", &[]);
    let mut snap = serve(&[&path], &[]);
    // Not named by any inventory: not captured (live, it exists).
    let (text, is_error) = snap.call(
        "get_kubernetes_resources",
        json!({"kind": "ConfigMap", "name": "cluster-settings", "namespace": "flux-system"}),
    );
    assert!(is_error, "{text}");
    assert!(
        text.contains("not in the snapshot") && !text.contains("not found"),
        "{text}"
    );
    // A kind saved in part cannot be listed.
    let (text, is_error) = snap.call("get_kubernetes_resources", json!({"kind": "ConfigMap"}));
    assert!(is_error && text.contains("not in the snapshot"), "{text}");
    // Served but not captured at all.
    let (text, is_error) = snap.call("get_kubernetes_resources", json!({"kind": "Node"}));
    assert!(is_error && text.contains("not in the snapshot"), "{text}");
    // The context tools.
    let list = snap.call("get_kubeconfig_contexts", json!({})).0;
    assert!(
        list.contains("name: flux-test") && list.contains("captured_at: 20"),
        "{list}"
    );
    assert!(
        list.contains(&format!("file: {}", path.display())),
        "{list}"
    );
    assert!(list.contains("server: https://127.0.0.1:"), "{list}");
    // Every tool offered only reads.
    let listed = snap.request(json!("tools"), "tools/list", json!({}));
    for tool in listed["result"]["tools"].as_array().expect("tools") {
        assert_eq!(tool["annotations"]["readOnlyHint"], json!(true), "{tool}");
    }
    // A write or dry-run tool called anyway is refused (invalid params), saying why.
    #[cfg(feature = "mutations")]
    for (tool, why) in [
        (
            "reconcile_flux_resource",
            "snapshot, which cannot be changed",
        ),
        (
            "suspend_flux_reconciliation",
            "snapshot, which cannot be changed",
        ),
        (
            "resume_flux_reconciliation",
            "snapshot, which cannot be changed",
        ),
        (
            "apply_kubernetes_manifest",
            "snapshot, which cannot be changed",
        ),
        (
            "patch_kubernetes_resource",
            "snapshot, which cannot be changed",
        ),
        (
            "delete_kubernetes_resource",
            "snapshot, which cannot be changed",
        ),
        (
            "diff_kubernetes_manifest",
            "cannot run a server-side dry run",
        ),
    ] {
        let args = json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system"});
        let answer = snap.request(
            json!(tool),
            "tools/call",
            json!({"name": tool, "arguments": args}),
        );
        let message = answer["error"]["message"].as_str().unwrap_or("");
        assert!(
            message.contains(&format!("tool {tool} is not available")) && message.contains(why),
            "{tool}: {answer}"
        );
    }
}

/// Two snapshots of the same context are two contexts, told apart by their capture time; the
/// context argument and set_kubeconfig_context pick one.
#[test]
fn several_snapshots_are_several_contexts() {
    let dir = support::scratch_dir("snapshot-contexts");
    let server = ApiServer::start(Options::default());
    let (first, _) = create(&server, &dir, "first.snapshot", &[]);
    let (second, _) = create(&server, &dir, "second.snapshot", &["-n", "apps"]);
    let mut snap = serve(&[&first, &second], &[]);
    let list = snap.call("get_kubeconfig_contexts", json!({})).0;
    let names: Vec<String> = list
        .lines()
        .filter_map(|l| l.strip_prefix("- name: "))
        .map(|n| n.trim_matches('\'').to_string())
        .collect();
    assert_eq!(names.len(), 2, "{list}");
    assert!(
        names.iter().all(|n| n.starts_with("flux-test@20")),
        "{names:?}"
    );
    assert_ne!(names[0], names[1]);
    let (answer, _) = snap.call(
        "get_kubernetes_resources",
        json!({"kind": "Kustomization", "context": names[1], "limit": 1}),
    );
    assert!(
        answer.starts_with(&format!("# from snapshot {:?}", names[1])),
        "{answer}"
    );
    let switched = snap
        .call("set_kubeconfig_context", json!({"name": names[1]}))
        .0;
    assert!(switched.contains("now uses the snapshot"), "{switched}");
    let (answer, _) = snap.call("get_kubernetes_resources", json!({"kind": "Namespace"}));
    assert!(
        answer.starts_with(&format!("# from snapshot {:?}", names[1])),
        "{answer}"
    );
    // The second was narrowed to apps (and flux-system): other namespaces are not in it.
    let (answer, is_error) = snap.call(
        "get_kubernetes_resources",
        json!({"kind": "Deployment", "namespace": "monitoring"}),
    );
    assert!(!is_error, "{answer}");
    assert!(!answer.contains("blackbox-exporter"), "{answer}");
    let (text, is_error) = snap.call("set_kubeconfig_context", json!({"name": "flux-tset"}));
    assert!(
        is_error && text.contains("the snapshots served are:"),
        "{text}"
    );
    let (text, is_error) = snap.call("get_flux_instance", json!({"context": "prod"}));
    assert!(
        is_error && text.contains("answers from snapshots of"),
        "{text}"
    );
}

/// No Secret value, decoded or not, is anywhere in the file; credential-shaped log text is
/// masked.
#[test]
fn a_snapshot_holds_no_secret_value() {
    let dir = support::scratch_dir("snapshot-secrets");
    let data = dir.join("cluster");
    support::copy_dir(&support::testdata().join("cluster"), &data);
    let log = data.join("logs/apps/podinfo-28pwq49wq-vztw5/podinfo.log");
    let mut text = std::fs::read_to_string(&log).expect("log");
    text.push_str("2026-11-21T05:30:00.000000123Z calling api with Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlLXZhbHVl\n");
    std::fs::write(&log, text).expect("write log");
    let server = ApiServer::start(Options {
        data_dir: data,
        ..Options::default()
    });
    let (path, _) = create(&server, &dir, "secrets.snapshot", &[]);
    let file = std::fs::read(&path).expect("snapshot");
    let body = flux_operator_mcp::snapshot::format::inflate(&file).expect("inflate");
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut values = Vec::new();
    let objects =
        crate::apiserver::data_objects(&support::testdata().join("cluster")).expect("data");
    for obj in objects {
        if obj["kind"] != "Secret" || obj["type"] == "helm.sh/release.v1" {
            continue;
        }
        for v in obj["data"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(_, v)| v.as_str())
        {
            values.push(v.as_bytes().to_vec());
            if let Ok(decoded) = b64.decode(v) {
                values.push(decoded);
            }
        }
    }
    assert!(!values.is_empty());
    for v in values.iter().filter(|v| v.len() >= 8) {
        assert!(
            !body.windows(v.len()).any(|w| w == v.as_slice()),
            "a Secret value is in the snapshot: {}",
            String::from_utf8_lossy(v)
        );
    }
    let jwt = b"eyJhbGciOiJIUzI1NiJ9";
    assert!(
        !body.windows(jwt.len()).any(|w| w == jwt),
        "the bearer token reached the file"
    );
    let mut snap = serve(&[&path], &[]);
    let logs = snap
        .call(
            "get_kubernetes_logs",
            json!({"name": "podinfo-28pwq49wq-vztw5", "namespace": "apps", "grep": "Authorization"}),
        )
        .0;
    assert!(logs.contains("<masked: "), "{logs}");
}

/// Damaged and hostile files: one clear error on stderr and exit 1, fast, never a crash.
#[test]
fn damaged_snapshots_are_refused_with_a_clear_error() {
    let dir = support::scratch_dir("snapshot-damaged");
    let server = ApiServer::start(Options::default());
    let (good, _) = create(&server, &dir, "good.snapshot", &[]);
    let bytes = std::fs::read(&good).expect("snapshot");
    let write = |name: &str, data: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, data).expect("write");
        p
    };
    let mut future = bytes.clone();
    future[8] = 9;
    let mut flipped = bytes.clone();
    let middle = bytes.len() / 2;
    flipped[middle] ^= 0xff;
    // A zlib stream of 300 MiB of zeros (about 300 KiB) whose header says 1 KiB.
    let mut bomb = bytes[..12].to_vec();
    bomb.extend_from_slice(&1024u64.to_le_bytes());
    bomb.extend_from_slice(&miniz_oxide::deflate::compress_to_vec_zlib(
        &vec![0u8; 300 << 20],
        1,
    ));
    let cases: Vec<(PathBuf, &str)> = vec![
        (
            write("kubeconfig.snapshot", b"apiVersion: v1\nkind: Config\n"),
            "not a flux-operator-mcp snapshot",
        ),
        (
            write("truncated.snapshot", &bytes[..bytes.len() * 2 / 3]),
            "truncated or damaged",
        ),
        (
            write("future.snapshot", &future),
            "snapshot format 9 is newer",
        ),
        (write("flipped.snapshot", &flipped), "truncated or damaged"),
        (
            write("bomb.snapshot", &bomb),
            "inflates to more than the 1024 bytes",
        ),
        (dir.clone(), "not a regular file but a directory"),
        (dir.join("missing.snapshot"), "No such file"),
    ];
    for (path, expected) in cases {
        let started = std::time::Instant::now();
        let out = support::command()
            .args(["serve", "--snapshot"])
            .arg(&path)
            .output()
            .expect("run serve");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {stderr}", path.display());
        assert!(
            stderr.starts_with("flux-operator-mcp: cannot read snapshot ")
                && stderr.contains(expected),
            "{}: {stderr}",
            path.display()
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{}",
            path.display()
        );
    }
}

/// `snapshot serve-api` as a cluster: the product's own client, given the kubeconfig it
/// writes, reads the snapshot over HTTPS (the CA and token in it) and every read tool answers
/// as it does from the snapshot file (every fidelity question), apart from the context's name.
/// kubectl itself is `make conformance-snapshot`.
#[test]
fn serve_api_serves_the_snapshot_as_a_cluster() {
    use std::io::BufRead;
    use std::os::unix::fs::PermissionsExt;
    let dir = support::scratch_dir("snapshot-serve-api");
    let server = ApiServer::start(Options::default());
    let (path, _) = create(&server, &dir, "api.snapshot", &[]);
    drop(server);
    let kubeconfig = dir.join("serve-api.kubeconfig");
    let mut child = support::command()
        .args(["snapshot", "serve-api"])
        .arg(&path)
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn serve-api");
    // The first line is printed once the kubeconfig is written and the port bound.
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut url = String::new();
    stdout.read_line(&mut url).expect("read the URL line");
    let url = url.trim().to_string();
    let mut rest = String::new();
    for _ in 0..4 {
        stdout.read_line(&mut rest).expect("read the banner");
    }
    assert!(url.starts_with("https://127.0.0.1:"), "{url:?}");
    assert!(
        rest.contains("context flux-test") && rest.contains("kubectl --kubeconfig"),
        "{rest}"
    );
    let mode = std::fs::metadata(&kubeconfig)
        .expect("kubeconfig")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the kubeconfig holds a token");
    let written = std::fs::read_to_string(&kubeconfig).expect("kubeconfig");
    let token = written
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .expect("a token in the kubeconfig");
    assert!(
        token.len() >= 32 && !rest.contains(token),
        "the token is not printed"
    );
    assert!(written.contains(&format!("server: {url}")), "{written}");

    let mut snap = serve(&[&path], &[]);
    let mut through_api = Mcp::spawn(
        support::command()
            .env("KUBECONFIG", &kubeconfig)
            .args(["serve"]),
    );
    through_api.handshake("2025-06-18");
    let mut different = Vec::new();
    for (tool, args) in questions() {
        let (want, want_error) = snap.call(tool, args.clone());
        let (_, want) = split(&want);
        let (got, got_error) = through_api.call(tool, args.clone());
        // The kubeconfig's context is `snapshot-<context>` by design; nothing else may differ.
        let got = got.replace("snapshot-flux-test", "flux-test");
        if got != want || got_error != want_error {
            different.push(format!(
                "{tool} {args}\n--- snapshot\n{want}\n--- serve-api\n{got}"
            ));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(different.is_empty(), "{}", different.join("\n\n"));
}
