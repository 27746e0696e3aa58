//! `flux-operator-mcp check` against the test API server: what it prints when all is well, and
//! the actionable message and exit code for each way a connection fails. Its output never holds
//! a credential.

use std::path::Path;
use std::process::Output;

use crate::apiserver::{ApiServer, Deny, Identity, Options};
use crate::support::{command, golden, scratch_dir};

/// Runs `check` with `args`; returns stdout, stderr and whether it exited 0.
fn check(args: &[&str]) -> (String, String, bool) {
    let Output {
        status,
        stdout,
        stderr,
    } = command()
        .arg("check")
        .args(args)
        .output()
        .expect("run check");
    (
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
        status.success(),
    )
}

fn kubeconfig(server: &ApiServer, dir: &Path, identity: Identity) -> String {
    let path = dir.join("kubeconfig");
    server
        .write_kubeconfig(&path, identity)
        .expect("write kubeconfig");
    path.display().to_string()
}

/// No credential of `server` appears in `text`.
#[track_caller]
fn assert_no_secret(server: &ApiServer, text: &str) {
    assert!(!text.contains(server.token()), "the token leaked:\n{text}");
    for pem in [server.client_key_pem(), server.client_key_rsa_pkcs8_pem()] {
        for line in pem.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!text.contains(line), "key material leaked:\n{text}");
        }
    }
}

/// The report with the run's URL, folder and discovery time made stable.
fn stable(text: &str, server: &ApiServer, dir: &Path) -> String {
    let text = text
        .replace(&server.url(), "https://127.0.0.1:PORT")
        .replace(&dir.display().to_string(), "<dir>");
    text.lines()
        .map(|l| match l.split_once(" ok in ") {
            Some((head, rest)) => match rest.split_once(" ms:") {
                Some((_, tail)) => format!("{head} ok in N ms:{tail}"),
                None => l.to_string(),
            },
            None => l.to_string(),
        })
        .map(|l| l.replace(env!("CARGO_PKG_VERSION"), "VERSION"))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn a_working_cluster_is_described_and_exits_0() {
    let server = ApiServer::start(Options::default());
    let dir = scratch_dir("check-ok");
    let path = kubeconfig(&server, &dir, Identity::Token);
    let (out, err, ok) = check(&["--kubeconfig", &path]);
    assert!(ok, "{out}{err}");
    golden("check.ok.txt", &stable(&out, &server, &dir));
    assert_no_secret(&server, &out);
    assert_no_secret(&server, &err);
}

#[test]
fn kube_flags_are_honoured_like_serve() {
    let server = ApiServer::start(Options::default());
    let dir = scratch_dir("check-flags");
    let path = kubeconfig(&server, &dir, Identity::ClientCert);
    let (out, err, ok) = check(&[
        "--kubeconfig",
        &path,
        "-n",
        "apps",
        "--kube-as",
        "system:serviceaccount:apps:viewer",
        "--kube-as-group",
        "viewers",
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("\nnamespace:   apps\n"), "{out}");
    assert!(
        out.contains("\nimpersonate: system:serviceaccount:apps:viewer (groups: viewers)\n"),
        "{out}"
    );
    assert!(out.contains("\nauth:        client certificate\n"), "{out}");
    let impersonated = server
        .requests()
        .iter()
        .filter(|r| r.header("impersonate-user") == Some("system:serviceaccount:apps:viewer"))
        .count();
    assert!(impersonated > 0, "the requests impersonate");
    assert_no_secret(&server, &out);
}

#[test]
fn user_extras_from_the_kubeconfig_are_shown_and_sent() {
    let server = ApiServer::start(Options::default());
    let dir = scratch_dir("check-user-extra");
    let path = dir.join("kubeconfig");
    let text = server.kubeconfig(Identity::ClientCert).replace(
        "  user:\n",
        "  user:\n    as: jane\n    as-user-extra:\n      acme.com/ticket: [INC-42]\n",
    );
    std::fs::write(&path, text).expect("write kubeconfig");
    let (out, err, ok) = check(&["--kubeconfig", &path.display().to_string()]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("\nimpersonate: jane (extra: acme.com/ticket=INC-42)\n"),
        "{out}"
    );
    let sent = server
        .requests()
        .iter()
        .filter(|r| r.header("impersonate-extra-acme.com%2fticket") == Some("INC-42"))
        .count();
    assert!(
        sent > 0,
        "the extra travels as Impersonate-Extra-acme.com%2Fticket"
    );
}

#[test]
fn flux_without_the_operator_is_found_by_its_controllers() {
    let dir = scratch_dir("check-plain-flux");
    let data = crate::support::cluster_without_operator(&dir, true);
    let server = ApiServer::start(Options {
        data_dir: data,
        ..Options::default()
    });
    let path = kubeconfig(&server, &dir, Identity::ClientCert);
    let (out, err, ok) = check(&["--kubeconfig", &path]);
    assert!(ok, "{out}{err}");
    let flux = out
        .lines()
        .find(|l| l.starts_with("flux:"))
        .unwrap_or_default();
    assert_eq!(
        flux,
        "flux:        installed without the Flux Operator: helm-controller v1.4.2, \
         image-automation-controller v1.0.2, image-reflector-controller v1.0.2, \
         kustomize-controller v1.7.1, notification-controller v1.7.3, source-controller v1.7.2"
    );
}

#[test]
fn a_cluster_without_metrics_server_still_passes() {
    let server = ApiServer::start(Options {
        no_metrics: true,
        ..Options::default()
    });
    let dir = scratch_dir("check-no-metrics");
    let path = kubeconfig(&server, &dir, Identity::ClientCert);
    let (out, err, ok) = check(&["--kubeconfig", &path]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("\nmetrics:     not available, get_kubernetes_metrics will fail: "),
        "{out}"
    );
}

/// The problem and fix lines of a failed check.
#[track_caller]
fn failure(args: &[&str]) -> (String, String) {
    let (out, err, ok) = check(args);
    assert!(!ok, "check should fail:\n{out}{err}");
    let problem = out
        .lines()
        .find_map(|l| l.strip_prefix("PROBLEM: "))
        .unwrap_or_else(|| panic!("no PROBLEM line:\n{out}"))
        .to_string();
    let fix = out
        .lines()
        .find_map(|l| l.strip_prefix("FIX: "))
        .unwrap_or_default()
        .to_string();
    (problem, fix)
}

#[test]
fn an_untrusted_server_certificate_points_at_the_ca() {
    let server = ApiServer::start(Options {
        wrong_ca: true,
        ..Options::default()
    });
    let dir = scratch_dir("check-wrong-ca");
    let path = kubeconfig(&server, &dir, Identity::Token);
    let (problem, fix) = failure(&["--kubeconfig", &path]);
    assert!(
        problem.starts_with("TLS handshake with https://127.0.0.1:"),
        "{problem}"
    );
    assert!(
        fix.contains("certificate-authority-data of cluster flux-test"),
        "{fix}"
    );
    assert!(fix.contains("tls-server-name"), "{fix}");
}

#[test]
fn rejected_credentials_ask_for_fresh_ones() {
    let server = ApiServer::start(Options::default());
    let dir = scratch_dir("check-401");
    let path = kubeconfig(&server, &dir, Identity::Token);
    server.revoke_token(server.token());
    let (out, _, ok) = check(&["--kubeconfig", &path]);
    assert!(!ok);
    assert!(out.contains("\nauth:        bearer token\n"), "{out}");
    assert!(
        out.contains("PROBLEM: error from server (Unauthorized)"),
        "{out}"
    );
    assert!(
        out.contains("FIX: the API server rejected the credentials of user \"flux-test\""),
        "{out}"
    );
    assert_no_secret(&server, &out);
}

#[test]
fn an_rbac_refusal_names_what_to_grant() {
    // FluxInstances are what Flux is found by when the operator's API is served: without
    // them neither check nor get_flux_instance can say how Flux is installed.
    let server = ApiServer::start(Options {
        deny: vec![Deny::new("list", "fluxcd.controlplane.io", "fluxinstances")],
        ..Options::default()
    });
    let dir = scratch_dir("check-403");
    let path = kubeconfig(&server, &dir, Identity::Token);
    let (problem, fix) = failure(&["--kubeconfig", &path]);
    assert!(
        problem.starts_with("error from server (Forbidden): "),
        "{problem}"
    );
    assert!(problem.contains("fluxinstances"), "{problem}");
    assert!(fix.starts_with("RBAC refused this identity"), "{fix}");
}

/// A refused FluxReport only takes facts away, as in get_flux_instance (a note there): the
/// tools still work, so check passes and says what it could not read.
#[test]
fn a_refused_flux_report_is_a_note_as_in_get_flux_instance() {
    let server = ApiServer::start(Options {
        deny: vec![Deny::new("list", "fluxcd.controlplane.io", "fluxreports")],
        ..Options::default()
    });
    let dir = scratch_dir("check-403-report");
    let path = kubeconfig(&server, &dir, Identity::Token);
    let (out, err, ok) = check(&["--kubeconfig", &path]);
    assert!(ok, "{out}{err}");
    let flux = out
        .lines()
        .find(|l| l.starts_with("flux:"))
        .unwrap_or_default();
    // The version from the FluxInstance's history, its state, then the note.
    assert!(
        flux.starts_with("flux:        v2.7.2 (FluxInstance flux-system/flux Ready); note: the FluxReport cannot be read: error from server (Forbidden): "),
        "{out}"
    );
    assert!(flux.contains("fluxreports"), "{flux}");
}

#[test]
fn a_cluster_without_flux_passes_and_says_where_flux_was_looked_for() {
    let dir = scratch_dir("check-no-flux");
    let data = crate::support::cluster_without_operator(&dir, false);
    let server = ApiServer::start(Options {
        data_dir: data,
        ..Options::default()
    });
    let path = kubeconfig(&server, &dir, Identity::ClientCert);
    let (out, err, ok) = check(&["--kubeconfig", &path]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(
            "\nflux:        not found: no FluxInstance, no Deployment in namespace flux-system \
             and none labelled app.kubernetes.io/part-of=flux in any namespace \
             (get_flux_instance will say so; the docs search works)\n"
        ),
        "{out}"
    );
}

#[test]
fn an_unreachable_server_suggests_network_checks() {
    // A port that was free a moment ago: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let server = ApiServer::start(Options::default());
    let dir = scratch_dir("check-unreachable");
    let path = kubeconfig(&server, &dir, Identity::Token);
    let text = std::fs::read_to_string(&path)
        .expect("read")
        .replace(&server.url(), &format!("https://127.0.0.1:{port}"));
    std::fs::write(&path, text).expect("write");
    let (problem, fix) = failure(&["--kubeconfig", &path, "--timeout=10s"]);
    assert!(
        problem.starts_with(&format!("cannot connect to https://127.0.0.1:{port}")),
        "{problem}"
    );
    assert!(fix.starts_with("the API server cannot be reached"), "{fix}");
}

#[test]
fn kubeconfig_problems_name_the_file_and_what_to_do() {
    let server = ApiServer::start(Options::default());
    let dir = scratch_dir("check-kubeconfig");
    let path = kubeconfig(&server, &dir, Identity::Token);
    let (problem, fix) = failure(&["--kubeconfig", &path, "--kube-context", "prod"]);
    assert_eq!(
        problem,
        format!("kubeconfig: context \"prod\" not found in {path} (contexts: flux-test)")
    );
    assert!(
        fix.starts_with("pass --kube-context with one of the contexts listed"),
        "{fix}"
    );

    let missing = dir.join("nope").display().to_string();
    let (problem, _) = failure(&["--kubeconfig", &missing]);
    assert_eq!(
        problem,
        format!("kubeconfig: --kubeconfig {missing}: no such file")
    );

    // No kubeconfig at all (the hermetic HOME has none): where we looked, and the MCP hint.
    let (problem, fix) = failure(&[]);
    assert!(
        problem.starts_with("kubeconfig: no kubeconfig found"),
        "{problem}"
    );
    assert!(fix.contains("set KUBECONFIG in its server config"), "{fix}");
}

/// check and get_flux_instance find Flux by one rule: controllers installed in another
/// namespace (`flux install --namespace`) are found by their part-of label by both.
#[test]
fn check_and_get_flux_instance_find_the_same_controllers() {
    let data_dir = scratch_dir("check-agree-data");
    let data = crate::support::cluster_without_operator(&data_dir, false);
    let deployment = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "source-controller", "namespace": "gitops",
            "labels": {"app.kubernetes.io/part-of": "flux",
                       "app.kubernetes.io/version": "v2.7.2"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "source-controller"}},
            "template": {"metadata": {"labels": {"app": "source-controller"}},
                "spec": {"containers": [{"name": "manager",
                    "image": "ghcr.io/fluxcd/source-controller:v1.7.2"}]}}},
        "status": {"replicas": 1, "readyReplicas": 1}
    });
    let mut s = crate::support::Session::start(
        "check-agree",
        Options {
            data_dir: data,
            extra_objects: vec![deployment],
            ..Options::default()
        },
        Identity::ClientCert,
        &[],
    );
    let path = s.dir.join("kubeconfig").display().to_string();
    let (out, err, ok) = check(&["--kubeconfig", &path]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(
            "\nflux:        installed without the Flux Operator: gitops/source-controller v1.7.2\n"
        ),
        "{out}"
    );
    let instance = s.ok("get_flux_instance", serde_json::json!({}));
    assert!(
        instance.contains("# Flux controllers found as Deployments: 1 of 1 ready\n"),
        "{instance}"
    );
    assert!(
        instance.contains("- name: source-controller\n  namespace: gitops\n"),
        "{instance}"
    );
}
