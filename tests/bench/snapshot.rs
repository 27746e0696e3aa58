//! `make bench`, snapshot section: for the test cluster scaled to 1,000 and 10,000 Flux
//! objects (synthetic Kustomizations added to its own), the time `snapshot create` takes and
//! the file it writes; then `serve --snapshot` on it: start-up (spawn to the `initialize`
//! answer, the snapshot read and checked before it), the first call (one object by name), a
//! call listing every synthetic object, and the server's peak RSS (`VmHWM`) after the first
//! call and after the list.
//! Goal: serving the 10,000-object snapshot stays under 64 MB.

use std::path::Path;
use std::time::Instant;

use serde_json::json;

use crate::apiserver::{ApiServer, Identity, Options, Synthetic};
use crate::support::Mcp;
use crate::{median, ms};

const SIZES: [usize; 2] = [1_000, 10_000];
const NAMESPACE: &str = "bench";
const RUNS: usize = 3;
const RSS_GOAL_MB: f64 = 64.0;

pub fn run() {
    println!("\n== snapshot: create and serve --snapshot");
    let dir = std::env::temp_dir().join(format!(
        "flux-operator-mcp-bench-snapshot-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("bench dir {}: {e}", dir.display());
    }
    let bin = crate::shipped_binary();
    println!("binary: {}", bin.display());
    println!(
        "{:>7} {:>8} {:>10} {:>10} {:>9} {:>11} {:>12} {:>10} {:>10}",
        "objects",
        "create",
        "file",
        "inflated",
        "start-up",
        "first call",
        "list all",
        "RSS served",
        "peak RSS"
    );
    for n in SIZES {
        one(&dir, &bin, n);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn one(dir: &Path, bin: &Path, n: usize) {
    let server = ApiServer::start(Options {
        synthetic: vec![Synthetic::new(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            NAMESPACE,
            n,
        )],
        ..Options::default()
    });
    let kubeconfig = dir.join(format!("kubeconfig-{n}"));
    server
        .write_kubeconfig(&kubeconfig, Identity::ClientCert)
        .unwrap_or_else(|e| panic!("kubeconfig: {e}"));
    let path = dir.join(format!("bench-{n}.snapshot"));
    let mut create = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let out = std::process::Command::new(bin)
            .args(["snapshot", "create", "-o"])
            .arg(&path)
            .env_clear()
            .env("HOME", "/nonexistent")
            .env("KUBECONFIG", &kubeconfig)
            .output()
            .unwrap_or_else(|e| panic!("snapshot create: {e}"));
        create.push(t.elapsed());
        assert!(
            out.status.success(),
            "snapshot create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    drop(server);
    let file = std::fs::read(&path).unwrap_or_else(|e| panic!("read snapshot: {e}"));
    let inflated = flux_operator_mcp::snapshot::format::inflate(&file)
        .unwrap_or_else(|e| panic!("inflate: {e}"))
        .len();
    let (mut startup, mut first, mut all) = (Vec::new(), Vec::new(), Vec::new());
    let mut peak_kb = 0;
    // Peak after start-up and the first call: the snapshot held and indexed, one object read.
    let mut served_kb = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        let mut cmd = std::process::Command::new(bin);
        cmd.env_clear()
            .env("HOME", "/nonexistent")
            .arg("serve")
            .arg("--snapshot")
            .arg(&path);
        let mut mcp = Mcp::spawn(&mut cmd);
        mcp.handshake("2025-06-18");
        startup.push(t.elapsed());
        let t = Instant::now();
        let (text, is_error) = mcp.call(
            "get_kubernetes_resources",
            json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system"}),
        );
        first.push(t.elapsed());
        assert!(!is_error, "{text}");
        served_kb = served_kb.max(vm_hwm_kb(mcp.pid()));
        let t = Instant::now();
        let (text, is_error) = mcp.call(
            "get_kubernetes_resources",
            json!({"kind": "Kustomization", "namespace": NAMESPACE, "limit": 0}),
        );
        all.push(t.elapsed());
        assert!(!is_error, "{text}");
        assert_eq!(text.matches("\nkind: Kustomization\n").count(), n);
        peak_kb = peak_kb.max(vm_hwm_kb(mcp.pid()));
        let _ = mcp.finish();
    }
    let peak_mb = peak_kb as f64 / 1024.0;
    println!(
        "{n:>7} {:>6.0}ms {:>8.1}MB {:>8.1}MB {:>7.1}ms {:>9.1}ms {:>10.0}ms {:>8.1}MB {:>8.1}MB",
        ms(median(&mut create)),
        file.len() as f64 / 1e6,
        inflated as f64 / 1e6,
        ms(median(&mut startup)),
        ms(median(&mut first)),
        ms(median(&mut all)),
        served_kb as f64 / 1024.0,
        peak_mb,
    );
    let served = served_kb as f64 / 1024.0;
    let verdict = |mb: f64| {
        if mb < RSS_GOAL_MB {
            "(met)"
        } else {
            "(NOT met)"
        }
    };
    if n == 10_000 {
        println!(
            "  goal: serving {n} objects under {RSS_GOAL_MB:.0} MB peak RSS: {served:.1} MB after \
             the first call {}; {peak_mb:.1} MB after one answer listing all {n} {}",
            verdict(served),
            verdict(peak_mb),
        );
    }
}

/// The peak resident set (`VmHWM`) of process `pid`, in kB; 0 where /proc has none.
fn vm_hwm_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
