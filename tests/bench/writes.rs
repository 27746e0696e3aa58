//! `make bench`, writes section: what the write tools cost.
//!
//! 1. Reconcile and wait: `reconcile_flux_resource` through the real binary against the test
//!    API server whose simulated controller answers after 300 ms and after 2 s. The overhead
//!    is the call's time beyond the controller's delay; the goal is at most one poll interval
//!    (the wait polls at 100 ms, then half as long again each time up to 2 s: never a fixed
//!    2 s sleep when the controller answers in 300 ms).
//! 2. Apply of a 50-object multi-document manifest (ConfigMaps, each new), ours (one tool call
//!    on a warm server, and the first call of a fresh server, which also reads discovery)
//!    against `kubectl apply --server-side --validate=false` (a process per apply, as a user
//!    runs it; the test API server serves no OpenAPI, hence `--validate=false`), in the same
//!    run. The kubectl row is skipped, with a note, when /usr/bin/kubectl is absent.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::apiserver::{ApiServer, Controller, Identity, Options};
use crate::support::{self, Mcp};
use crate::{median, ms};

const RECONCILE_RUNS: usize = 7;
const SLOW_RECONCILE_RUNS: usize = 3;
const APPLY_OBJECTS: usize = 50;
const APPLY_RUNS: usize = 5;
const KUBECTL: &str = "/usr/bin/kubectl";

pub fn run() {
    println!("\n== writes: reconcile and wait, apply");
    if !cfg!(feature = "mutations") {
        println!("(the read-only build has no write tool: nothing to measure)");
        return;
    }
    let dir = std::env::temp_dir().join(format!(
        "flux-operator-mcp-bench-writes-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("bench dir {}: {e}", dir.display());
    }
    reconcile_overhead(&dir);
    apply_manifest(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

fn serve(dir: &Path, tag: &str, options: Options) -> (ApiServer, PathBuf) {
    let server = ApiServer::start(options);
    let kubeconfig = dir.join(format!("{tag}.kubeconfig"));
    if let Err(e) = server.write_kubeconfig(&kubeconfig, Identity::ClientCert) {
        panic!("write {}: {e}", kubeconfig.display());
    }
    (server, kubeconfig)
}

fn start_mcp(kubeconfig: &Path) -> Mcp {
    let mut mcp = Mcp::spawn(
        support::command()
            .arg("serve")
            .env("KUBECONFIG", kubeconfig),
    );
    mcp.handshake("2025-06-18");
    mcp
}

fn tool(mcp: &mut Mcp, name: &str, arguments: serde_json::Value) -> String {
    let (text, is_error) = mcp.call(name, arguments);
    assert!(!is_error, "{name} failed: {text}");
    text
}

/// The wait between two polls after `polls` polls (the schedule of `tools::reconcile`).
fn poll_interval_after(elapsed: Duration) -> Duration {
    let (mut at, mut interval) = (Duration::ZERO, Duration::from_millis(100));
    while at + interval < elapsed {
        at += interval;
        interval = (interval * 3 / 2).min(Duration::from_secs(2));
    }
    interval
}

// ---- 1. reconcile and wait -------------------------------------------------------------------

fn reconcile_overhead(dir: &Path) {
    println!(
        "\n-- reconcile_flux_resource (wait) against a controller that answers after a delay \
         ({RECONCILE_RUNS} runs at 300 ms, {SLOW_RECONCILE_RUNS} at 2 s; medians)"
    );
    println!(
        "{:>10} {:>12} {:>12} {:>22}  goal",
        "delay", "call", "overhead", "poll interval then"
    );
    for (delay, runs) in [
        (Duration::from_millis(300), RECONCILE_RUNS),
        (Duration::from_secs(2), SLOW_RECONCILE_RUNS),
    ] {
        let options = Options {
            controller: Some(Controller::with_delay(delay)),
            ..Options::default()
        };
        let tag = format!("reconcile-{}", delay.as_millis());
        let (_server, kubeconfig) = serve(dir, &tag, options);
        let mut mcp = start_mcp(&kubeconfig);
        // Discovery and the connection are warm before the first timed call.
        tool(
            &mut mcp,
            "get_kubernetes_resources",
            json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system"}),
        );
        let mut calls = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            let text = tool(
                &mut mcp,
                "reconcile_flux_resource",
                json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system"}),
            );
            calls.push(started.elapsed());
            assert!(text.contains("result: reconciled"), "{text}");
        }
        let call = median(&mut calls);
        let overhead = call.saturating_sub(delay);
        let interval = poll_interval_after(delay);
        println!(
            "{:>8.0}ms {:>10.1}ms {:>10.1}ms {:>20.1}ms  {}",
            ms(delay),
            ms(call),
            ms(overhead),
            ms(interval),
            if overhead <= interval {
                "met (<= 1 interval)"
            } else {
                "MISSED"
            }
        );
    }
}

// ---- 2. apply --------------------------------------------------------------------------------

/// 50 ConfigMaps named `<prefix>-NN` in `default`, as one multi-document manifest.
fn manifest(prefix: &str) -> String {
    (0..APPLY_OBJECTS)
        .map(|i| {
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {prefix}-{i:02}\n  \
                 namespace: default\n  labels: {{app: bench}}\ndata:\n  index: \"{i}\"\n  \
                 text: {}\n",
                "x".repeat(200)
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

fn apply_manifest(dir: &Path) {
    println!(
        "\n-- apply of {APPLY_OBJECTS} new ConfigMaps in one manifest ({APPLY_RUNS} runs each, \
         median; the same test API server)"
    );
    let (_server, kubeconfig) = serve(dir, "apply", Options::default());
    // Ours, warm: one server, discovery read by an earlier call.
    let mut mcp = start_mcp(&kubeconfig);
    tool(&mut mcp, "get_kubernetes_api_versions", json!({}));
    let mut warm = Vec::new();
    for run in 0..APPLY_RUNS {
        let text = manifest(&format!("ours-{run}"));
        let started = Instant::now();
        let out = tool(
            &mut mcp,
            "apply_kubernetes_manifest",
            json!({"yaml_content": text}),
        );
        warm.push(started.elapsed());
        assert_eq!(out.matches(" created\n").count(), APPLY_OBJECTS, "{out}");
    }
    // The same objects again: every one unchanged.
    let mut unchanged = Vec::new();
    for run in 0..APPLY_RUNS {
        let text = manifest(&format!("ours-{run}"));
        let started = Instant::now();
        let out = tool(
            &mut mcp,
            "apply_kubernetes_manifest",
            json!({"yaml_content": text}),
        );
        unchanged.push(started.elapsed());
        assert_eq!(out.matches(" unchanged\n").count(), APPLY_OBJECTS, "{out}");
    }
    // Ours, cold: a fresh server per apply (its first call reads discovery).
    let mut cold = Vec::new();
    for run in 0..APPLY_RUNS {
        let text = manifest(&format!("cold-{run}"));
        let mut fresh = start_mcp(&kubeconfig);
        let started = Instant::now();
        tool(
            &mut fresh,
            "apply_kubernetes_manifest",
            json!({"yaml_content": text}),
        );
        cold.push(started.elapsed());
    }
    println!("{:<58} {:>10}", "", "median");
    println!(
        "{:<58} {:>8.1}ms",
        "ours: apply_kubernetes_manifest, warm server, create",
        ms(median(&mut warm))
    );
    println!(
        "{:<58} {:>8.1}ms",
        "ours: apply_kubernetes_manifest, warm server, unchanged",
        ms(median(&mut unchanged))
    );
    println!(
        "{:<58} {:>8.1}ms",
        "ours: first call of a fresh server, create",
        ms(median(&mut cold))
    );
    if !Path::new(KUBECTL).is_file() {
        println!("(kubectl row skipped: {KUBECTL} is not installed)");
        return;
    }
    let home = dir.join("kubectl-home");
    let _ = std::fs::create_dir_all(&home);
    let kubectl = |file: &Path| {
        let out = Command::new(KUBECTL)
            .env_clear()
            .env("HOME", &home)
            .env("KUBECONFIG", &kubeconfig)
            .args(["apply", "--server-side", "--validate=false", "-f"])
            .arg(file)
            .output()
            .unwrap_or_else(|e| panic!("run kubectl: {e}"));
        assert!(
            out.status.success(),
            "kubectl apply failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let mut create = Vec::new();
    let mut again = Vec::new();
    for run in 0..APPLY_RUNS {
        let file = dir.join(format!("kubectl-{run}.yaml"));
        if let Err(e) = std::fs::write(&file, manifest(&format!("kubectl-{run}"))) {
            panic!("write {}: {e}", file.display());
        }
        let started = Instant::now();
        let out = kubectl(&file);
        create.push(started.elapsed());
        assert_eq!(
            out.matches("serverside-applied").count(),
            APPLY_OBJECTS,
            "{out}"
        );
        let started = Instant::now();
        kubectl(&file);
        again.push(started.elapsed());
    }
    println!(
        "{:<58} {:>8.1}ms",
        "kubectl apply --server-side --validate=false, create",
        ms(median(&mut create))
    );
    println!(
        "{:<58} {:>8.1}ms",
        "kubectl apply --server-side --validate=false, unchanged",
        ms(median(&mut again))
    );
}
