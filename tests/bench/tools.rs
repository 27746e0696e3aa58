//! `make bench`, tools section: what the lean pipeline saves and costs.
//!
//! 1. Bytes per Flux object: our `get_kubernetes_resources` answers (each object by name, and
//!    each kind listed) for every Flux kind of the test cluster against the upstream-style
//!    output (the whole object minus managedFields and the last-applied annotation, keys
//!    sorted, plus `status.events` and a HelmRelease's `status.inventory` as upstream attaches
//!    them), per kind and overall, and a strict check that every condition of the input keeps
//!    its message, status and reason verbatim as that condition's fields in our documents.
//!    Goal: at least 30% fewer bytes with none lost.
//!    `BENCH_TOOLS_DUMP=<dir>` writes both answers of each kind there.
//! 2. One `get_kubernetes_resources` call for 1 000 Kustomizations through the real binary
//!    against downloading the same objects raw with the REST client (the floor), as the glibc
//!    build cargo made and as the static musl binary (when `make static` left a current one),
//!    the two measured in turns in one run. Goal: musl within 1.1x of glibc.
//!    `BENCH_TOOLS_ALSO=<binary>[:<binary>...]` measures more builds in the same turns (e.g. a
//!    musl build without the allocator, to see what the allocator is worth).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flux_operator_mcp::kube::client::{Client, ClientOptions};
use flux_operator_mcp::kube::config::{self, Env, Overrides};
use flux_operator_mcp::kube::list::ListOptions;
use flux_operator_mcp::kube::{NetworkEnv, discovery::Resource};
use serde_json::{Value, json};

use crate::apiserver::{ApiServer, FLUX_KINDS, Identity, Options, Synthetic};
use crate::support::{self, Mcp};
use crate::{median, ms};

const SAVING_GOAL: f64 = 0.30;
const BIG_LIST: usize = 1_000;
const BIG_NAMESPACE: &str = "bench";
const RUNS: usize = 5;

pub fn run() {
    println!("\n== tools: get_kubernetes_resources");
    let dir = std::env::temp_dir().join(format!(
        "flux-operator-mcp-bench-tools-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("bench dir {}: {e}", dir.display());
    }
    bytes_per_object(&dir);
    big_list(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- the binary over pipes (the integration tests' client) ----------------------------------

/// `serve` on the binary cargo built for this bench from the current sources (a static binary
/// left by an older `make static` could be stale; output bytes do not depend on the libc), with
/// the kubeconfig, handshake done.
fn start_mcp(kubeconfig: &Path) -> Mcp {
    start_mcp_with(&support::bin(), kubeconfig)
}

/// `serve` on `bin`, with the environment the integration tests give the binary.
fn start_mcp_with(bin: &Path, kubeconfig: &Path) -> Mcp {
    let mut cmd = std::process::Command::new(bin);
    cmd.env_clear()
        .env("HOME", "/nonexistent-home-for-tests")
        .env("KUBECONFIG", kubeconfig)
        .arg("serve");
    let mut mcp = Mcp::spawn(&mut cmd);
    mcp.handshake("2025-06-18");
    mcp
}

/// A tool's text; panics on an error result (the bench data must be served).
fn tool_text(mcp: &mut Mcp, name: &str, arguments: Value) -> String {
    let (text, is_error) = mcp.call(name, arguments);
    assert!(!is_error, "{name} failed: {text}");
    text
}

/// A client for the kubeconfig's current context, as the binary builds it.
fn client(kubeconfig: &Path) -> Client {
    let overrides = Overrides {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        ..Overrides::default()
    };
    let kc =
        config::load(&overrides, &Env::default()).unwrap_or_else(|e| panic!("kubeconfig: {e}"));
    let conn = kc.resolve(None).unwrap_or_else(|e| panic!("context: {e}"));
    let options = ClientOptions {
        timeout: Duration::from_secs(60),
        env: NetworkEnv::default(),
    };
    Client::new(&conn, options).unwrap_or_else(|e| panic!("client: {e}"))
}

fn serve(dir: &Path, tag: &str, options: Options) -> (ApiServer, PathBuf) {
    let server = ApiServer::start(options);
    let kubeconfig = dir.join(format!("{tag}.kubeconfig"));
    if let Err(e) = server.write_kubeconfig(&kubeconfig, Identity::ClientCert) {
        panic!("write {}: {e}", kubeconfig.display());
    }
    (server, kubeconfig)
}

// ---- 1. bytes per object ---------------------------------------------------------------------

/// The upstream server's output for these objects: each object whole except managedFields and
/// the last-applied annotation, with `status.events` (`lastTimestamp`, `type`, `message` of
/// every event but ReconciliationSucceeded, oldest first) and, for a HelmRelease,
/// `status.inventory` (`apiVersion`, `kind`, `name`, `namespace`, `containers[].image` of each
/// object of the latest release), YAML with sorted keys, `---` before each document.
fn upstream_style(client: &Client, objects: &[Value]) -> String {
    let events = Resource::new("v1", "Event", "events", true);
    let mut out = String::new();
    for obj in objects {
        let mut o = obj.clone();
        if let Some(meta) = o["metadata"].as_object_mut() {
            meta.remove("managedFields");
            let empty = meta
                .get_mut("annotations")
                .and_then(Value::as_object_mut)
                .map(|a| {
                    a.remove("kubectl.kubernetes.io/last-applied-configuration");
                    a.is_empty()
                });
            if empty == Some(true) {
                meta.remove("annotations");
            }
        }
        let ns = o["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        let selector = format!(
            "involvedObject.kind={},involvedObject.name={},reason!=ReconciliationSucceeded",
            o["kind"].as_str().unwrap_or(""),
            o["metadata"]["name"].as_str().unwrap_or("")
        );
        let options = ListOptions {
            namespace: Some(ns),
            field_selector: Some(selector),
            limit: Some(100),
            ..ListOptions::default()
        };
        let mut found = client
            .list_all(&events, &options)
            .unwrap_or_else(|e| panic!("events: {e}"));
        let when = |e: &Value| {
            e["lastTimestamp"]
                .as_str()
                .or(e["eventTime"].as_str())
                .unwrap_or("")
                .to_string()
        };
        found.sort_by_key(when);
        if !found.is_empty() {
            let list: Vec<Value> = found
                .iter()
                .map(|e| json!({"lastTimestamp": when(e), "type": e["type"], "message": e["message"]}))
                .collect();
            o["status"]["events"] = Value::Array(list);
        }
        if o["kind"] == "HelmRelease"
            && let Some(inventory) = upstream_helm_inventory(client, &o)
        {
            o["status"]["inventory"] = inventory;
        }
        out.push_str("---\n");
        out.push_str(&serde_norway::to_string(&o).unwrap_or_else(|e| panic!("yaml: {e}")));
    }
    out
}

/// The inventory upstream attaches to a HelmRelease: its latest release's objects, each with
/// the images of its pod template. `None` when the release cannot be read (upstream then
/// attaches nothing either).
fn upstream_helm_inventory(client: &Client, hr: &Value) -> Option<Value> {
    use base64::Engine as _;
    let latest = &hr["status"]["history"][0];
    let ns = hr["status"]["storageNamespace"].as_str()?;
    let name = format!(
        "sh.helm.release.v1.{}.v{}",
        latest["name"].as_str()?,
        latest["version"].as_u64()?
    );
    let secrets = Resource::new("v1", "Secret", "secrets", true);
    let secret = client.get(&secrets, ns, &name).ok()?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let text = b64.decode(secret["data"]["release"].as_str()?).ok()?;
    let gz = b64.decode(text).ok()?;
    let json = flux_operator_mcp::tools::objects::helm::gunzip(&gz, 32 << 20).ok()?;
    let release: Value = serde_json::from_slice(&json).ok()?;
    let release_ns = release["namespace"].as_str().unwrap_or("");
    let mut entries = Vec::new();
    for doc in serde_norway::Deserializer::from_str(release["manifest"].as_str()?) {
        let Ok(obj) = <Value as serde::Deserialize>::deserialize(doc) else {
            break;
        };
        if obj.is_null() {
            continue;
        }
        let mut entry = json!({"apiVersion": obj["apiVersion"], "kind": obj["kind"],
                               "name": obj["metadata"]["name"]});
        let cluster_scoped = matches!(
            obj["kind"].as_str(),
            Some("ClusterRole" | "ClusterRoleBinding" | "Namespace" | "CustomResourceDefinition")
        );
        if !cluster_scoped {
            let ns = obj["metadata"]["namespace"].as_str().unwrap_or(release_ns);
            entry["namespace"] = json!(ns);
        }
        let pod = &obj["spec"]["template"]["spec"];
        let images: Vec<Value> = ["initContainers", "containers"]
            .iter()
            .filter_map(|k| pod[*k].as_array())
            .flatten()
            .map(|c| json!({"image": c["image"]}))
            .collect();
        if !images.is_empty() {
            entry["containers"] = Value::Array(images);
        }
        entries.push(entry);
    }
    Some(Value::Array(entries))
}

/// Every condition of `objects` whose message, status or reason is not, verbatim,
/// the same field of the condition of that type in that object's document of `answer`: the
/// documents are parsed and compared condition by condition, so a message quoted elsewhere
/// (a comment, an event, another condition) does not count. Each as `Kind ns/name type: message`.
fn lost_messages(objects: &[Value], answer: &str) -> Vec<String> {
    let docs: Vec<Value> = serde_norway::Deserializer::from_str(answer)
        .filter_map(|d| <Value as serde::Deserialize>::deserialize(d).ok())
        .collect();
    let id = |o: &Value| {
        (
            o["kind"].as_str().unwrap_or("").to_string(),
            o["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            o["metadata"]["name"].as_str().unwrap_or("").to_string(),
        )
    };
    let mut lost = Vec::new();
    for obj in objects {
        let doc = docs.iter().find(|d| id(d) == id(obj));
        let (kind, ns, name) = id(obj);
        for c in obj["status"]["conditions"].as_array().into_iter().flatten() {
            let m = c["message"].as_str().unwrap_or("");
            let ours = doc.and_then(|d| {
                d["status"]["conditions"]
                    .as_array()?
                    .iter()
                    .find(|x| x["type"] == c["type"])
            });
            let kept = ours.is_some_and(|x| {
                ["message", "status", "reason"]
                    .iter()
                    .all(|k| x[*k] == c[*k] || c[*k].is_null())
            });
            if !kept {
                lost.push(format!("{kind} {ns}/{name} {}: {m}", c["type"]));
            }
        }
    }
    lost
}

fn bytes_per_object(dir: &Path) {
    let (_server, kubeconfig) = serve(dir, "bytes", Options::default());
    let client = client(&kubeconfig);
    let mut mcp = start_mcp(&kubeconfig);
    println!(
        "1. bytes per Flux object on the test cluster: upstream-style vs our answers (diagnosis, events"
    );
    println!(
        "   and Helm inventories included), getting each object by name and listing each kind"
    );
    println!(
        "  {:<26} {:>4} {:>9} {:>9} {:>6} {:>9} {:>6} {:>5}",
        "kind", "objs", "upstream", "get", "saved", "list", "saved", "lost"
    );
    let (mut total_up, mut total_get, mut total_list) = (0usize, 0usize, 0usize);
    let (mut total_objects, mut total_lost) = (0usize, 0usize);
    // (upstream bytes, our bytes) of healthy and of failing objects, got by name.
    let mut by_health = ((0usize, 0usize), (0usize, 0usize));
    for kind in FLUX_KINDS {
        let resource = client
            .resolve(None, kind)
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let objects = client
            .list_all(&resource, &ListOptions::default())
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        if objects.is_empty() {
            continue;
        }
        let upstream = upstream_style(&client, &objects);
        let ours = tool_text(
            &mut mcp,
            "get_kubernetes_resources",
            json!({"kind": kind, "limit": 0}),
        );
        let mut each = String::new();
        for obj in &objects {
            let one = tool_text(
                &mut mcp,
                "get_kubernetes_resources",
                json!({"kind": kind, "name": obj["metadata"]["name"],
                       "namespace": obj["metadata"]["namespace"]}),
            );
            let up = upstream_style(&client, std::slice::from_ref(obj)).len();
            // A failing object's answer starts with its headline (root cause, sources).
            let slot = if one.starts_with("---\n# NOT READY") || one.starts_with("---\n# STALLED") {
                &mut by_health.1
            } else {
                &mut by_health.0
            };
            slot.0 += up;
            slot.1 += one.len();
            each.push_str(&one);
        }
        if let Some(dump) = std::env::var_os("BENCH_TOOLS_DUMP") {
            // Both answers side by side, to see where the bytes go.
            let dump = PathBuf::from(dump);
            let _ = std::fs::create_dir_all(&dump);
            let _ = std::fs::write(dump.join(format!("{kind}.upstream.yaml")), &upstream);
            let _ = std::fs::write(dump.join(format!("{kind}.ours.yaml")), &ours);
            let _ = std::fs::write(dump.join(format!("{kind}.get.yaml")), &each);
        }
        let mut lost = lost_messages(&objects, &ours);
        lost.extend(lost_messages(&objects, &each));
        let n = objects.len();
        println!(
            "  {:<26} {:>4} {:>9} {:>9} {:>5.0}% {:>9} {:>5.0}% {:>5}",
            kind,
            n,
            upstream.len() / n,
            each.len() / n,
            saving(upstream.len(), each.len()) * 100.0,
            ours.len() / n,
            saving(upstream.len(), ours.len()) * 100.0,
            lost.len()
        );
        for m in &lost {
            println!("    LOST: {m}");
        }
        total_up += upstream.len();
        total_get += each.len();
        total_list += ours.len();
        total_objects += n;
        total_lost += lost.len();
    }
    let n = total_objects.max(1);
    let (saved_get, saved_list) = (saving(total_up, total_get), saving(total_up, total_list));
    println!(
        "  {:<26} {:>4} {:>9} {:>9} {:>5.0}% {:>9} {:>5.0}% {:>5}",
        "all Flux objects",
        total_objects,
        total_up / n,
        total_get / n,
        saved_get * 100.0,
        total_list / n,
        saved_list * 100.0,
        total_lost
    );
    let ((hu, ho), (fu, fo)) = by_health;
    println!(
        "  by name, healthy objects: {:.0}% fewer bytes; failing ones: {:.0}% (their answers add the \
         headline and the state of their sources and dependencies)",
        saving(hu, ho) * 100.0,
        saving(fu, fo) * 100.0
    );
    let met = |saved: f64| {
        if saved >= SAVING_GOAL && total_lost == 0 {
            "met"
        } else {
            "NOT MET"
        }
    };
    println!(
        "  goal: at least {:.0}% fewer bytes, no condition message lost: get {}, list {}",
        SAVING_GOAL * 100.0,
        met(saved_get),
        met(saved_list)
    );
}

fn saving(upstream: usize, ours: usize) -> f64 {
    if upstream == 0 {
        return 0.0;
    }
    1.0 - ours as f64 / upstream as f64
}

// ---- 2. a big list ---------------------------------------------------------------------------

fn big_list(dir: &Path) {
    let (_server, kubeconfig) = serve(
        dir,
        "big",
        Options {
            synthetic: vec![Synthetic::new(
                "kustomize.toolkit.fluxcd.io/v1",
                "Kustomization",
                BIG_NAMESPACE,
                BIG_LIST,
            )],
            ..Options::default()
        },
    );
    let client = client(&kubeconfig);
    let resource = client
        .resolve(Some("kustomize.toolkit.fluxcd.io"), "Kustomization")
        .unwrap_or_else(|e| panic!("resolve: {e}"));
    let options = ListOptions {
        namespace: Some(BIG_NAMESPACE.to_string()),
        ..ListOptions::default()
    };
    let mut raw = Vec::new();
    for _ in 0..=RUNS {
        let t = Instant::now();
        let items = client
            .list_all(&resource, &options)
            .unwrap_or_else(|e| panic!("list: {e}"));
        raw.push(t.elapsed());
        assert_eq!(items.len(), BIG_LIST);
    }
    raw.remove(0); // the first one paid the TLS handshake
    // The binary cargo built (glibc) and, when `make static` left a current one, the static
    // musl binary users install, measured in turns so that machine load hits both alike.
    let mut binaries = vec![("glibc (cargo)".to_string(), support::bin())];
    let shipped = crate::shipped_binary();
    if shipped != support::bin() {
        binaries.push(("static musl".to_string(), shipped));
    }
    if let Some(also) = std::env::var_os("BENCH_TOOLS_ALSO") {
        for bin in std::env::split_paths(&also) {
            let name = bin
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            binaries.push((name, bin));
        }
    }
    let args = json!({"kind": "Kustomization", "namespace": BIG_NAMESPACE, "limit": 0});
    let mut servers: Vec<Mcp> = binaries
        .iter()
        .map(|(_, bin)| start_mcp_with(bin, &kubeconfig))
        .collect();
    let mut times = vec![Vec::new(); binaries.len()];
    let mut cpu = vec![Duration::ZERO; binaries.len()];
    let mut answer_bytes = 0;
    for run in 0..=RUNS {
        for (i, mcp) in servers.iter_mut().enumerate() {
            let cpu_before = cpu_time(mcp.pid());
            let t = Instant::now();
            let text = tool_text(mcp, "get_kubernetes_resources", args.clone());
            let took = t.elapsed();
            answer_bytes = text.len();
            // Every object is read and counted; the answer shows what its budget holds.
            assert!(
                text.starts_with(&format!("---\n# {BIG_LIST} Kustomization ")),
                "{}",
                &text[..200.min(text.len())]
            );
            // The first call paid discovery and the handshake.
            if run > 0 {
                times[i].push(took);
                cpu[i] += cpu_time(mcp.pid()).saturating_sub(cpu_before);
            }
        }
    }
    let raw = median(&mut raw);
    println!("2. {BIG_LIST} Kustomizations, median of {RUNS} (after one warm-up)");
    println!(
        "  raw list with the REST client (parsed JSON):      {:>8.1} ms",
        ms(raw)
    );
    let mut glibc = None;
    for ((label, _), (t, cpu)) in binaries.iter().zip(times.iter_mut().zip(&cpu)) {
        let m = median(t);
        // Every build next to the first one (glibc), wall time and CPU.
        let (base, base_cpu) = *glibc.get_or_insert((m, *cpu));
        println!(
            "  get_kubernetes_resources, {:<24} {:>8.1} ms ({:.2}x raw, {:.2}x glibc; CPU {:.0} ms per call, {:.2}x glibc; {} KiB of YAML)",
            format!("{label}:"),
            ms(m),
            m.as_secs_f64() / raw.as_secs_f64().max(1e-9),
            m.as_secs_f64() / base.as_secs_f64().max(1e-9),
            ms(*cpu) / RUNS as f64,
            cpu.as_secs_f64() / base_cpu.as_secs_f64().max(1e-9),
            answer_bytes / 1024
        );
    }
    if binaries.iter().all(|(label, _)| label != "static musl") {
        println!(
            "  (no current static binary: `make static` first for the musl row; goal <= 1.1x glibc)"
        );
    } else {
        println!("  goal: static musl <= 1.1x glibc");
    }
}

/// User + system CPU time of a process so far (its finished threads included), from
/// `/proc/PID/stat` in clock ticks (10 ms): summed over several calls it is precise enough.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}
