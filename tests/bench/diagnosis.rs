//! `make bench`, diagnosis section (issue 14): what an agent reads.
//!
//! 1. Bytes per answer: `get_flux_instance` on the test cluster (default and `full`), and lists
//!    of 100 and 2,000 Kustomizations (default arguments, `limit: 0`, `limit: 0` with
//!    `fields`), with the time of the default 2,000-object list (it reads every object to
//!    count them).
//! 2. The share of failing objects whose root-cause message is verbatim within the first 2 KB
//!    of the answer, by name and in their kind's list (tests/it/verbatim.rs: the test data's
//!    failing objects, and broken variants of every Flux kind with awkward messages and chains).
//!
//! `BENCH_DIAGNOSIS_BIN=<binary>` measures another build instead (a before figure).

use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};

use crate::apiserver::{self, ApiServer, Identity, Options, Synthetic};
use crate::support::{self, Mcp};
use crate::verbatim;
use crate::{median, ms};

const RUNS: usize = 5;

pub fn run() {
    println!("\n== diagnosis: what an agent reads");
    let dir = std::env::temp_dir().join(format!(
        "flux-operator-mcp-bench-diagnosis-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("bench dir {}: {e}", dir.display());
    }
    answer_bytes(&dir);
    root_messages(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

fn serve(dir: &Path, tag: &str, options: Options) -> (ApiServer, Mcp) {
    let server = ApiServer::start(options);
    let kubeconfig = dir.join(format!("{tag}.kubeconfig"));
    if let Err(e) = server.write_kubeconfig(&kubeconfig, Identity::ClientCert) {
        panic!("write {}: {e}", kubeconfig.display());
    }
    // `BENCH_DIAGNOSIS_BIN=<binary>` measures another build (an older one, for a before
    // figure) with the same hermetic environment.
    let mut cmd = support::command();
    if let Some(other) = std::env::var_os("BENCH_DIAGNOSIS_BIN") {
        let mut replaced = std::process::Command::new(other);
        replaced.env_clear();
        for (k, v) in cmd.get_envs() {
            if let Some(v) = v {
                replaced.env(k, v);
            }
        }
        cmd = replaced;
    }
    let mut mcp = Mcp::spawn(cmd.arg("serve").env("KUBECONFIG", &kubeconfig));
    mcp.handshake("2025-06-18");
    (server, mcp)
}

fn text(mcp: &mut Mcp, tool: &str, args: Value) -> String {
    let (text, is_error) = mcp.call(tool, args);
    assert!(!is_error, "{tool} failed: {text}");
    text
}

fn answer_bytes(dir: &Path) {
    let kustomizations = |namespace: &str, count| {
        Synthetic::new(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            namespace,
            count,
        )
    };
    let (_server, mut mcp) = serve(
        dir,
        "bytes",
        Options {
            synthetic: vec![
                kustomizations("hundred", 100),
                kustomizations("bench", 2_000),
            ],
            ..Options::default()
        },
    );
    println!(
        "1. bytes per answer (the answer budget is 48 KB; a cut answer ends its summary with a continue value)"
    );
    let instance = text(&mut mcp, "get_flux_instance", json!({}));
    // An older build has no `full` argument.
    let full = match mcp.call("get_flux_instance", json!({"full": true})) {
        (text, false) => format!("{} bytes", text.len()),
        (_, true) => "not offered".to_string(),
    };
    println!(
        "  get_flux_instance: {} bytes (goal <= 4096), full: true {full}",
        instance.len()
    );
    for (namespace, n) in [("hundred", 100), ("bench", 2_000)] {
        let base = json!({"kind": "Kustomization", "namespace": namespace});
        let mut with = |extra: Value| {
            let mut args = base.clone();
            for (k, v) in extra.as_object().into_iter().flatten() {
                args[k] = v.clone();
            }
            text(&mut mcp, "get_kubernetes_resources", args).len()
        };
        let default = with(json!({}));
        let all = with(json!({"limit": 0}));
        let fields = with(json!({"limit": 0, "fields": ["status.conditions", "spec.interval"]}));
        println!(
            "  {n:>5} Kustomizations: default {default:>6} bytes, limit 0 {all:>6}, limit 0 with fields {fields:>6}"
        );
    }
    let args = json!({"kind": "Kustomization", "namespace": "bench"});
    let mut times = Vec::new();
    for _ in 0..=RUNS {
        let t = Instant::now();
        text(&mut mcp, "get_kubernetes_resources", args.clone());
        times.push(t.elapsed());
    }
    times.remove(0);
    println!(
        "  the default 2000-object list reads all 2000 to count them: {:.1} ms (median of {RUNS})",
        ms(median(&mut times))
    );
}

fn root_messages(dir: &Path) {
    let data = apiserver::data_objects(&support::testdata().join("cluster"))
        .unwrap_or_else(|e| panic!("testdata/cluster: {e}"));
    let extra = verbatim::variants(&data);
    let all: Vec<Value> = data.iter().chain(&extra).cloned().collect();
    let cases = verbatim::cases(&all);
    let from_data = verbatim::cases(&data);
    let (_server, mut mcp) = serve(
        dir,
        "verbatim",
        Options {
            extra_objects: extra,
            ..Options::default()
        },
    );
    let mut call = |args: Value| text(&mut mcp, "get_kubernetes_resources", args);
    let share = |cases: &[verbatim::Case], call: &mut dyn FnMut(Value) -> String| {
        let failures = verbatim::check_all(call, cases);
        let checks = cases.len() * 2;
        (checks - failures.len(), checks, failures)
    };
    let (ok_data, n_data, _) = share(&from_data, &mut call);
    let (ok, n, failures) = share(&cases, &mut call);
    println!(
        "2. root-cause message verbatim within the first {} bytes, by name and in the kind's list (goal 100%):",
        verbatim::WITHIN
    );
    println!(
        "  test data: {ok_data} of {n_data} ({:.0}%); with the broken variants ({} failing objects of every Flux kind): {ok} of {n} ({:.0}%)",
        100.0 * ok_data as f64 / n_data.max(1) as f64,
        cases.len(),
        100.0 * ok as f64 / n.max(1) as f64
    );
    for f in failures.iter().take(5) {
        println!("    MISSED: {}", f.lines().next().unwrap_or(""));
    }
}
