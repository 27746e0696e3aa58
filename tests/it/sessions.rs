//! One service behind many connections: sessions of one in-process `Toolbox` driven over the
//! in-memory transport, each with its own kubeconfig context; and, over the real binary,
//! cancellation that frees a running call's slot and id at once.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Value, json};

use flux_operator_mcp::kube::config::Overrides;
use flux_operator_mcp::mcp::connection::{self, Client, Connection};
use flux_operator_mcp::mcp::message::Message;
use flux_operator_mcp::mcp::server::Server;
use flux_operator_mcp::tools::{Mode, Settings, Source, Toolbox};

use crate::apiserver::{ApiServer, Fault, FaultKind, Identity, Options};
use crate::support::{DEADLINE, Mcp, scratch_dir};

/// A kubeconfig with one context per `(name, server)`, each with its own cluster and user;
/// the first is the current context.
pub(crate) fn kubeconfig(servers: &[(&str, &ApiServer)], dir: &Path) -> PathBuf {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let (mut clusters, mut users, mut contexts) = (String::new(), String::new(), String::new());
    for (name, s) in servers {
        clusters += &format!(
            "- name: {name}\n  cluster:\n    server: {}\n    certificate-authority-data: {}\n",
            s.url(),
            b64(s.ca_pem())
        );
        users += &format!(
            "- name: {name}\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
            b64(s.client_cert_pem()),
            b64(s.client_key_pem())
        );
        contexts += &format!("- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n");
    }
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: {}\nclusters:\n{clusters}users:\n{users}contexts:\n{contexts}",
        servers[0].0
    );
    let path = dir.join("kubeconfig");
    std::fs::write(&path, text).expect("write kubeconfig");
    path
}

/// One connection to `server` over the in-memory transport, its protocol loop on a thread.
struct InMemory {
    client: Client,
    next_id: i64,
    serving: Option<JoinHandle<()>>,
}

impl InMemory {
    fn connect(server: &Server<Toolbox>) -> InMemory {
        let session = server.session();
        let (conn, client) = Connection::memory();
        let serving =
            std::thread::spawn(move || connection::run(&session, &conn.receiver, &conn.sender));
        InMemory {
            client,
            next_id: 1,
            serving: Some(serving),
        }
    }

    #[track_caller]
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.client.send_line(
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
        );
        let answer = match self.client.recv_timeout(DEADLINE) {
            Some(Message::Response(r)) => r,
            other => panic!("{method}: expected a response, got {other:?}"),
        };
        let answer: Value =
            serde_json::from_slice(&Message::Response(answer).to_line()).expect("JSON");
        assert_eq!(answer["id"], json!(id), "{answer}");
        answer
    }

    /// The text of a tool result and whether it is an error.
    #[track_caller]
    fn call(&mut self, tool: &str, args: Value) -> (String, bool) {
        let r = self.request("tools/call", json!({"name": tool, "arguments": args}));
        let text = r["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("{tool}: no text: {r}"))
            .to_string();
        (text, r["result"]["isError"] == json!(true))
    }

    /// End the input as stdin EOF does; the protocol loop returns.
    fn close(mut self) {
        self.client.close();
        if let Some(serving) = self.serving.take() {
            serving.join().expect("the protocol loop");
        }
    }
}

/// ConfigMap GETs by name that reached `server`: the probes a session sent there.
fn probes(server: &ApiServer) -> Vec<String> {
    let mut names: Vec<String> = server
        .requests()
        .iter()
        .filter_map(|r| r.path.rsplit_once("/configmaps/"))
        .map(|(_, name)| name.to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn two_sessions_of_one_service_each_keep_their_own_context() {
    let blue = ApiServer::start(Options::default());
    let green = ApiServer::start(Options::default());
    let dir = scratch_dir("sessions-contexts");
    let path = kubeconfig(&[("blue", &blue), ("green", &green)], &dir);
    let settings = Settings {
        kube: Overrides {
            kubeconfig: Some(path),
            ..Overrides::default()
        },
        ..Settings::default()
    };
    let mode = Mode {
        in_cluster: false,
        source: Source::Live,
    };
    let server = Server::new(Arc::new(Toolbox::new(settings, mode)));

    // Both sessions choose their context before either calls a cluster tool, so shared
    // session state would send every probe to whichever context was chosen last.
    const PROBES: usize = 12;
    let chosen = Arc::new(Barrier::new(2));
    let sessions: Vec<JoinHandle<()>> = ["green", "blue"]
        .into_iter()
        .map(|context| {
            let server = server.clone();
            let chosen = chosen.clone();
            std::thread::spawn(move || {
                let mut mcp = InMemory::connect(&server);
                let r = mcp.request(
                    "initialize",
                    json!({"protocolVersion": "2025-11-25", "capabilities": {},
                           "clientInfo": {"name": "it", "version": "1"}}),
                );
                assert_eq!(r["result"]["protocolVersion"], json!("2025-11-25"));
                let (text, err) = mcp.call("set_kubeconfig_context", json!({"name": context}));
                assert!(!err, "{text}");
                chosen.wait();
                for i in 0..PROBES {
                    let (text, _) = mcp.call("get_kubeconfig_contexts", json!({}));
                    let mine = format!(
                        "current: {context}\ncurrent_from: set_kubeconfig_context in this session\n"
                    );
                    assert!(text.starts_with(&mine), "{context}: {text}");
                    let name = format!("probe-{context}-{i:02}");
                    let (text, err) = mcp.call(
                        "get_kubernetes_resources",
                        json!({"apiVersion": "v1", "kind": "ConfigMap",
                               "name": name, "namespace": "default"}),
                    );
                    assert!(err && text.contains(&name), "{context}: {text}");
                }
                mcp.close();
            })
        })
        .collect();
    for s in sessions {
        s.join().expect("a session thread");
    }

    let expect = |context: &str| -> Vec<String> {
        (0..PROBES)
            .map(|i| format!("probe-{context}-{i:02}"))
            .collect()
    };
    assert_eq!(probes(&green), expect("green"));
    assert_eq!(probes(&blue), expect("blue"));

    // A third session starts on the kubeconfig's current context, untouched by the others.
    let mut third = InMemory::connect(&server);
    let (text, _) = third.call("get_kubeconfig_contexts", json!({}));
    assert!(
        text.starts_with("current: blue\ncurrent_from: current-context of the kubeconfig\n"),
        "{text}"
    );
    third.close();
}

#[test]
fn cancelled_calls_give_back_their_slots_and_ids_at_once() {
    // Every cluster call hangs far beyond the test: only cancellation can free the slots.
    let api = ApiServer::start(Options::default());
    api.inject(Fault::new("/api", FaultKind::Delay(Duration::from_secs(60))).always());
    let dir = scratch_dir("sessions-cancel-frees");
    let path = dir.join("kubeconfig");
    api.write_kubeconfig(&path, Identity::ClientCert)
        .expect("write kubeconfig");
    let path = path.display().to_string();
    let mut mcp = Mcp::serve(&["--kubeconfig", &path, "--timeout", "120s"]);
    mcp.handshake("2025-11-25");

    // MAX_IN_FLIGHT of the server: 64 slow calls take every slot.
    const SLOTS: usize = 64;
    let slow = |id: &str| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
               "params": {"name": "get_kubernetes_api_versions", "arguments": {}}})
    };
    for i in 0..SLOTS {
        mcp.send(&slow(&format!("slow-{i}")));
    }
    let docs = json!({"name": "search_flux_docs", "arguments": {"query": "dependsOn"}});
    let r = mcp.request(json!("busy"), "tools/call", docs.clone());
    assert_eq!(r["error"]["code"], json!(-32603), "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("server busy"),
        "{r}"
    );

    for i in 0..SLOTS {
        mcp.send(
            &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                         "params": {"requestId": format!("slow-{i}")}}),
        );
    }
    // At once, not after --timeout: the next call runs, even under a cancelled call's id.
    let r = mcp.request(json!("slow-0"), "tools/call", docs.clone());
    assert_eq!(r["result"]["isError"], json!(false), "{r}");
    let r = mcp.request(json!("after"), "tools/call", docs);
    assert_eq!(r["result"]["isError"], json!(false), "{r}");

    // EOF: nothing is pending, so the server exits without waiting for the hung calls, and
    // none of them is ever answered.
    let (status, rest, _) = mcp.finish();
    assert!(status.success());
    assert!(rest.is_empty(), "cancelled calls were answered: {rest:?}");
}
