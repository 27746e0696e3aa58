//! Canary credentials in every place a cluster keeps one (a container's env literal, Helm
//! values deep in a tree, a Secret copied into an annotation, a log line, an event message,
//! a Secret, the kubeconfig's token, an exec plugin's stderr): every offered read tool is
//! called and none of them appears in any answer, on the server's stderr or in the call log.
//! With `--mask-secrets=false` the env and values canaries do appear (so the canaries are
//! really in the answers, and the test can fail).

use std::path::Path;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::apiserver::{Identity, Options};
use crate::support::{Mcp, Session, command, copy_dir, scratch_dir, testdata};

const ENV: &str = "CANARY-env-literal-3f9a";
const INIT_ENV: &str = "CANARY-init-env-77c1";
const JOB_ENV: &str = "CANARY-cronjob-env-9e02";
const VALUES: &str = "CANARY-values-deep-1b4d";
const VALUES_NUMBER: u64 = 918_273_645_546_372;
const ANNOTATED: &str = "CANARY-annotated-secret-6a0e";
const LOG_TOKEN: &str = "CANARYlogbearer0123456789abcdef";
const EVENT_PW: &str = "CANARY-event-pw-5d1e";
const SECRET: &str = "CANARY-secret-data-2c8f";
const STRING_DATA: &str = "CANARY-secret-string-4e7b";
/// Only in a call's arguments: the call log must mask it.
const ARGUMENT: &str = "CANARY-argument-pw-0d3c";

fn env(name: &str, value: &str) -> Value {
    json!({"name": name, "value": value})
}

fn objects() -> Vec<Value> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let embedded = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "copied", "namespace": "apps"},
        "stringData": {"password": ANNOTATED}});
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "canary-pod", "namespace": "apps", "uid": "c0000000-0000-0000-0000-000000000001",
            "labels": {"app": "canary"},
            "annotations": {"example.com/seed": embedded.to_string()}},
        "spec": {
            "initContainers": [{"name": "init", "image": "busybox", "env": [env("API_KEY", INIT_ENV)]}],
            "containers": [{"name": "app", "image": "busybox",
                "env": [env("DB_PASSWORD", ENV), env("LOG_LEVEL", "debug")]}]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "app", "ready": true,
            "restartCount": 0, "image": "busybox", "imageID": "", "state": {"running": {"startedAt": "2026-11-21T00:00:00Z"}}}]}});
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "canary-deploy", "namespace": "apps", "uid": "c0000000-0000-0000-0000-000000000002"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "canary"}},
            "template": {"metadata": {"labels": {"app": "canary"}},
                "spec": {"containers": [{"name": "app", "image": "busybox",
                    "env": [env("DB_PASSWORD", ENV)]}]}}},
        "status": {"replicas": 1, "readyReplicas": 1}});
    let cronjob = json!({"apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "canary-job", "namespace": "apps", "uid": "c0000000-0000-0000-0000-000000000003"},
        "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "job", "image": "busybox",
                "env": [env("ADMIN_TOKEN", JOB_ENV)]}]}}}}}});
    let helm_release = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "canary-hr", "namespace": "apps", "uid": "c0000000-0000-0000-0000-000000000004",
            "generation": 1},
        "spec": {"interval": "10m", "chart": {"spec": {"chart": "podinfo",
                "sourceRef": {"kind": "HelmRepository", "name": "podinfo", "namespace": "flux-system"}}},
            "values": {"replicaCount": 1, "database": {"auth": {"rootPassword": VALUES},
                "clients": [{"name": "a", "apiKey": VALUES_NUMBER}]}}},
        "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "False",
            "reason": "UpgradeFailed", "message": "upgrade failed", "lastTransitionTime": "2026-11-21T05:00:00Z"}]}});
    let event = json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "canary-hr.1", "namespace": "apps", "creationTimestamp": "2026-11-21T05:00:00Z"},
        "involvedObject": {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "name": "canary-hr", "namespace": "apps", "uid": "c0000000-0000-0000-0000-000000000004"},
        "type": "Warning", "reason": "UpgradeFailed", "count": 1,
        "firstTimestamp": "2026-11-21T05:00:00Z", "lastTimestamp": "2026-11-21T05:00:00Z",
        "message": format!("database login failed: password={EVENT_PW} was rejected"),
        "source": {"component": "helm-controller"}});
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "canary-secret", "namespace": "apps"},
        "data": {"password": b64(SECRET)}, "stringData": {"token": STRING_DATA}});
    let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "canary-cm", "namespace": "apps",
            "annotations": {"example.com/applied": embedded.to_string()}},
        "data": {"mode": "on"}});
    vec![
        pod,
        deployment,
        cronjob,
        helm_release,
        event,
        secret,
        config_map,
    ]
}

/// `testdata/cluster` plus the canary pod's log, in the test's own folder.
fn cluster_data(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("cluster");
    copy_dir(&testdata().join("cluster"), &data);
    let logs = data.join("logs/apps/canary-pod");
    std::fs::create_dir_all(&logs).expect("mkdir");
    std::fs::write(
        logs.join("app.log"),
        format!(
            "2026-11-21T05:00:00Z starting\n2026-11-21T05:00:01Z calling api with \
             Authorization: Bearer {LOG_TOKEN}\n2026-11-21T05:00:02Z ready\n"
        ),
    )
    .expect("write log");
    data
}

/// The calls made of each tool (the canaries' objects, lists, every flavour); a tool this
/// table does not know is called with no arguments.
fn calls_for(tool: &str) -> Vec<Value> {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "name": "canary-pod", "namespace": "apps"});
    let hr = json!({"kind": "HelmRelease", "name": "canary-hr", "namespace": "apps"});
    match tool {
        "get_kubernetes_resources" => vec![
            pod.clone(),
            json!({"kind": "Pod", "namespace": "apps"}),
            json!({"kind": "Deployment", "name": "canary-deploy", "namespace": "apps"}),
            json!({"kind": "CronJob", "namespace": "apps"}),
            hr.clone(),
            json!({"kind": "HelmRelease"}),
            json!({"kind": "Secret", "namespace": "apps"}),
            json!({"kind": "Secret", "name": "canary-secret", "namespace": "apps"}),
            json!({"kind": "ConfigMap", "name": "canary-cm", "namespace": "apps"}),
            json!({"kind": "Event", "namespace": "apps"}),
        ],
        "trace_kubernetes_resource" => vec![
            hr.clone(),
            json!({"kind": "Deployment", "name": "canary-deploy", "namespace": "apps"}),
            json!({"kind": "Pod", "name": "canary-pod", "namespace": "apps"}),
        ],
        "get_kubernetes_events" => vec![json!({"namespace": "apps"}), hr.clone(), json!({})],
        "get_kubernetes_logs" => vec![
            json!({"pod_name": "canary-pod", "pod_namespace": "apps"}),
            json!({"name": "canary-pod", "namespace": "apps", "grep": "api"}),
            json!({"name": "canary-pod", "namespace": "apps",
                   "grep": format!("password={ARGUMENT}|api")}),
        ],
        "search_flux_docs" => vec![json!({"query": "helm release values"})],
        "read_flux_doc" => vec![json!({"path": "kinds/helmrelease"})],
        "diff_kubernetes_manifest" => vec![json!({"yaml_content": serde_norway::to_string(&json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "canary-hr", "namespace": "apps"},
            "spec": {"interval": "11m", "chart": {"spec": {"chart": "podinfo",
                "sourceRef": {"kind": "HelmRepository", "name": "podinfo", "namespace": "flux-system"}}},
                "values": {"replicaCount": 2, "database": {"auth": {"rootPassword": VALUES}}}}}))
            .unwrap_or_default()})],
        _ => vec![json!({})],
    }
}

/// Every tool `tools/list` offers with `readOnlyHint`.
fn read_tools(mcp: &mut Mcp) -> Vec<String> {
    let list = mcp.request(json!("list"), "tools/list", json!({}));
    list["result"]["tools"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|t| t["annotations"]["readOnlyHint"] == json!(true))
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect()
}

/// All the answers of every read tool, as `(tool, arguments, text)`.
fn call_every_read_tool(mcp: &mut Mcp) -> Vec<(String, Value, String)> {
    let mut answers = Vec::new();
    for tool in read_tools(mcp) {
        for args in calls_for(&tool) {
            let (text, _) = mcp.call(&tool, args.clone());
            answers.push((tool.clone(), args, text));
        }
    }
    answers
}

fn canaries() -> Vec<String> {
    let mut all: Vec<String> = [
        ENV,
        INIT_ENV,
        JOB_ENV,
        VALUES,
        ANNOTATED,
        LOG_TOKEN,
        EVENT_PW,
        SECRET,
        STRING_DATA,
    ]
    .map(str::to_string)
    .to_vec();
    all.push(VALUES_NUMBER.to_string());
    all.push(base64::engine::general_purpose::STANDARD.encode(SECRET));
    all
}

#[test]
fn no_canary_reaches_an_answer_stderr_or_the_call_log() {
    let dir = scratch_dir("canary-masked");
    let log = dir.join("calls.jsonl");
    let log_arg = format!("--tool-call-log-file={}", log.display());
    let options = Options {
        data_dir: cluster_data(&dir),
        extra_objects: objects(),
        ..Options::default()
    };
    let mut s = Session::start(
        "canary-masked-session",
        options,
        Identity::Token,
        &[&log_arg],
    );
    let token = s.server.token().to_string();
    let answers = call_every_read_tool(&mut s.mcp);
    let (status, _, stderr) = s.mcp.finish();
    assert!(status.success());
    let log_text = std::fs::read_to_string(&log).expect("call log");

    let mut canaries = canaries();
    canaries.push(token);
    let mut cases = 0;
    for (tool, args, text) in &answers {
        for canary in &canaries {
            cases += 1;
            assert!(
                !text.contains(canary.as_str()),
                "{canary} in {tool} {args}:\n{text}"
            );
        }
    }
    canaries.push(ARGUMENT.to_string());
    for canary in &canaries {
        cases += 2;
        assert!(
            !stderr.contains(canary.as_str()),
            "{canary} on stderr:\n{stderr}"
        );
        assert!(
            !log_text.contains(canary.as_str()),
            "{canary} in the call log:\n{log_text}"
        );
    }
    // Each place was shown, masked: the answers say a value is set and how long it is.
    let all: String = answers.iter().map(|(_, _, t)| t.as_str()).collect();
    for placeholder in [
        format!("<masked: {} bytes>", ENV.len()),
        format!("<masked: {} bytes>", VALUES.len()),
        format!("<masked: {} bytes>", VALUES_NUMBER.to_string().len()),
        format!("<masked: {} bytes>", LOG_TOKEN.len()),
        format!("<masked: {} bytes>", EVENT_PW.len()),
        format!("<masked: {} bytes>", JOB_ENV.len()),
        format!("<masked: {} bytes>", INIT_ENV.len()),
    ] {
        assert!(all.contains(&placeholder), "no {placeholder} in any answer");
    }
    assert!(log_text.contains("password=<masked: "), "{log_text}");
    // The key calls did reach the canaries (not an error answer that shows nothing).
    for (tool, args, text) in &answers {
        let key = matches!(
            tool.as_str(),
            "get_kubernetes_resources" | "get_kubernetes_logs" | "get_kubernetes_events"
        );
        if key {
            assert!(
                !text.starts_with("context "),
                "{tool} {args} failed:\n{text}"
            );
        }
    }
    eprintln!(
        "canary: {} calls of {} tools, {cases} (answer, canary) cases and {} stderr/log cases, all masked",
        answers.len(),
        answers
            .iter()
            .map(|(t, _, _)| t)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        canaries.len() * 2
    );
}

#[test]
fn without_masking_the_env_and_values_canaries_do_appear() {
    let dir = scratch_dir("canary-unmasked");
    let options = Options {
        data_dir: cluster_data(&dir),
        extra_objects: objects(),
        ..Options::default()
    };
    let mut s = Session::start(
        "canary-unmasked-session",
        options,
        Identity::ClientCert,
        &["--mask-secrets=false"],
    );
    let pod = s.ok(
        "get_kubernetes_resources",
        json!({"kind": "Pod", "name": "canary-pod", "namespace": "apps"}),
    );
    assert!(pod.contains(ENV) && pod.contains(INIT_ENV), "{pod}");
    let hr = s.ok(
        "get_kubernetes_resources",
        json!({"kind": "HelmRelease", "name": "canary-hr", "namespace": "apps"}),
    );
    assert!(hr.contains(VALUES), "{hr}");
    assert!(hr.contains(&VALUES_NUMBER.to_string()), "{hr}");
    let logs = s.ok(
        "get_kubernetes_logs",
        json!({"pod_name": "canary-pod", "pod_namespace": "apps"}),
    );
    assert!(logs.contains(LOG_TOKEN), "{logs}");
    let events = s.ok("get_kubernetes_events", json!({"namespace": "apps"}));
    assert!(events.contains(EVENT_PW), "{events}");
}

/// A kubeconfig whose user is the fake exec plugin failing with `stderr`.
fn failing_plugin_kubeconfig(path: &Path, stderr: &str) {
    let plugin = testdata().join("kubeconfig/plugin/fake-credential-plugin.sh");
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: plugin\n\
         clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:9\n    \
         insecure-skip-tls-verify: true\n\
         users:\n- name: u\n  user:\n    exec:\n      apiVersion: \
         client.authentication.k8s.io/v1\n      command: {}\n      env:\n      \
         - name: FAKE_MODE\n        value: fail-stderr\n      - name: FAKE_STDERR\n        \
         value: {}\n\
         contexts:\n- name: plugin\n  context: {{cluster: c, user: u}}\n",
        plugin.display(),
        json!(stderr)
    );
    std::fs::write(path, text).expect("write kubeconfig");
}

#[test]
fn an_exec_plugins_stderr_canary_reaches_no_answer_stderr_or_log() {
    const PLUGIN: &str = "CANARY-plugin-token-8b2a";
    let dir = scratch_dir("canary-plugin");
    let kubeconfig = dir.join("kubeconfig");
    failing_plugin_kubeconfig(
        &kubeconfig,
        &format!("login expired; token={PLUGIN} refused"),
    );
    let log = dir.join("calls.jsonl");
    let mut mcp = Mcp::spawn(
        command()
            .arg("serve")
            .arg(format!("--tool-call-log-file={}", log.display()))
            .env("KUBECONFIG", &kubeconfig),
    );
    mcp.handshake("2025-06-18");
    let answers = call_every_read_tool(&mut mcp);
    let (_, _, stderr) = mcp.finish();
    let log_text = std::fs::read_to_string(&log).expect("call log");
    let mut quoted = 0;
    for (tool, args, text) in &answers {
        assert!(!text.contains(PLUGIN), "{tool} {args}:\n{text}");
        quoted += usize::from(text.contains("login expired; token=<masked: "));
    }
    assert!(quoted > 0, "no answer quoted the plugin's (masked) stderr");
    assert!(!stderr.contains(PLUGIN), "{stderr}");
    assert!(!log_text.contains(PLUGIN), "{log_text}");
}
