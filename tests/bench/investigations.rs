//! `make bench`, investigations section: for three scripted investigations on the test cluster,
//! the tool calls and the bytes of tool output needed to reach the root-cause message, with
//! `trace_kubernetes_resource` and without it (get_kubernetes_resources, events and logs only).
//!
//! The "without" scripts are the fewest calls a careful agent needs with those tools: each call
//! asks only for what an earlier answer named (checked: the object a step reads must appear in
//! the answers before it), and the script stops at the first answer that holds the root-cause
//! message verbatim. Goal: one call and at most 3 KB each with trace.

use std::path::Path;

use serde_json::{Value, json};

use crate::apiserver::{ApiServer, Identity, Options};
use crate::support::{self, Mcp};

const GOAL_BYTES: usize = 3 * 1024;

/// One investigation: the question's object, the root cause's message, and the calls an
/// agent makes without trace, each with the name it must have learned before making it.
struct Investigation {
    title: &'static str,
    start: Value,
    root_cause: &'static str,
    without: Vec<(&'static str, Value, Option<&'static str>)>,
}

fn investigations() -> Vec<Investigation> {
    vec![
        Investigation {
            title: "Deployment whose Kustomization's GitRepository fails",
            start: json!({"kind": "Deployment", "name": "blackbox-exporter", "namespace": "monitoring"}),
            root_cause: "ssh: handshake failed: ssh: unable to authenticate, attempted methods \
                         [none publickey], no supported methods remain",
            without: vec![
                (
                    "get_kubernetes_resources",
                    json!({"kind": "Deployment", "name": "blackbox-exporter", "namespace": "monitoring"}),
                    None,
                ),
                // Healthy, so no diagnosis: its source has to be read.
                (
                    "get_kubernetes_resources",
                    json!({"kind": "Kustomization", "name": "platform-addons", "namespace": "flux-system"}),
                    Some("Kustomization flux-system/platform-addons"),
                ),
                (
                    "get_kubernetes_resources",
                    json!({"kind": "GitRepository", "name": "infra-private", "namespace": "flux-system"}),
                    Some("infra-private"),
                ),
            ],
        },
        Investigation {
            title: "HelmRelease whose chart is missing",
            start: json!({"kind": "HelmRelease", "name": "metrics-exporter", "namespace": "apps"}),
            root_cause: "no 'metrics-exporter' chart with version matching '2.x' found",
            without: vec![(
                "get_kubernetes_resources",
                json!({"kind": "HelmRelease", "name": "metrics-exporter", "namespace": "apps"}),
                None,
            )],
        },
        Investigation {
            title: "ImagePolicy whose ImageRepository fails",
            start: json!({"kind": "ImagePolicy", "name": "webapp-api", "namespace": "flux-system"}),
            root_cause: "UNAUTHORIZED: unauthorized to access repository: webapp/api, action: pull",
            without: vec![(
                "get_kubernetes_resources",
                json!({"kind": "ImagePolicy", "name": "webapp-api", "namespace": "flux-system"}),
                None,
            )],
        },
    ]
}

pub fn run() {
    println!("\n== investigations: tool calls and output bytes to reach the root-cause message");
    let dir = std::env::temp_dir().join(format!(
        "flux-operator-mcp-bench-investigations-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("bench dir {}: {e}", dir.display());
    }
    let server = ApiServer::start(Options::default());
    let kubeconfig = dir.join("kubeconfig");
    if let Err(e) = server.write_kubeconfig(&kubeconfig, Identity::ClientCert) {
        panic!("write {}: {e}", kubeconfig.display());
    }
    let mut mcp = start_mcp(&kubeconfig);
    println!(
        "{:<54} {:>20}  {:>20}",
        "investigation", "with trace", "without trace"
    );
    let mut met = true;
    for inv in investigations() {
        let traced = tool_text(&mut mcp, "trace_kubernetes_resource", inv.start.clone());
        assert!(
            traced.contains(inv.root_cause),
            "{}: the trace does not hold the root cause:\n{traced}",
            inv.title
        );
        let (calls, bytes) = without_trace(&mut mcp, &inv);
        met &= traced.len() <= GOAL_BYTES;
        println!(
            "{:<54} {:>20}  {:>20}",
            inv.title,
            format!("1 call, {} B", traced.len()),
            format!(
                "{calls} call{}, {bytes} B",
                if calls == 1 { "" } else { "s" }
            ),
        );
    }
    println!(
        "goal: one call and at most {GOAL_BYTES} B with trace: {}",
        if met { "met" } else { "NOT met" }
    );
    drop(mcp);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs the scripted calls until an answer holds the root cause: (calls, bytes).
fn without_trace(mcp: &mut Mcp, inv: &Investigation) -> (usize, usize) {
    let mut seen = String::new();
    let mut bytes = 0;
    for (i, (tool, args, learned)) in inv.without.iter().enumerate() {
        if let Some(name) = learned {
            assert!(
                seen.contains(name),
                "{}: step {} asks for {name}, which no earlier answer named",
                inv.title,
                i + 1
            );
        }
        let text = tool_text(mcp, tool, args.clone());
        bytes += text.len();
        seen.push_str(&text);
        if text.contains(inv.root_cause) {
            return (i + 1, bytes);
        }
    }
    panic!(
        "{}: the scripted calls never reach the root cause:\n{seen}",
        inv.title
    );
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

fn tool_text(mcp: &mut Mcp, name: &str, arguments: Value) -> String {
    let (text, is_error) = mcp.call(name, arguments);
    assert!(!is_error, "{name} failed: {text}");
    text
}
