//! `cargo bench --bench bench -- http`: Streamable HTTP under load. Requests per second and
//! p50/p99 latency for `tools/list` and for a list tool call (the Kustomizations of the test
//! API server) at 1, 8 and 64 concurrent clients, each a 2025 session on its own keep-alive
//! connection sending its next request as soon as the last is answered; then the peak RSS of a
//! fresh server holding 200 open sessions. The load generator is this file (std threads, one
//! blocking client per connection: tests/it/http_client.rs), not wrk: a session needs its
//! `initialize` and `Mcp-Session-Id` first.
//!
//! With `BENCH_HTTP_PEER=BINARY` (set by `make bench-peer`: the Go `kubernetes-mcp-server`,
//! pinned there) the peer runs the same load over its own Streamable HTTP endpoint in the same
//! run, with its list tool `resources_list`, and the table shows both.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::apiserver::{ApiServer, Identity, Options};
use crate::http_client::Conn;

/// How long each load runs (after every client has its session).
const LOAD: Duration = Duration::from_secs(2);
const CONCURRENCY: [usize; 3] = [1, 8, 64];
const SESSIONS: usize = 200;
/// Both servers negotiate it.
const VERSION: &str = "2025-06-18";

pub fn run() {
    println!("\n== http: Streamable HTTP, 2025 sessions on keep-alive connections");
    let dir = std::env::temp_dir().join(format!(
        "flux-operator-mcp-bench-http-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("bench dir {}: {e}", dir.display());
    }
    let api = ApiServer::start(Options::default());
    let kubeconfig = dir.join("kubeconfig");
    if let Err(e) = api.write_kubeconfig(&kubeconfig, Identity::ClientCert) {
        panic!("write {}: {e}", kubeconfig.display());
    }
    let mut servers = vec![Kind::Ours];
    match std::env::var_os("BENCH_HTTP_PEER") {
        Some(peer) => servers.push(Kind::Peer(peer.into())),
        None => println!("(BENCH_HTTP_PEER unset: `make bench-peer` adds kubernetes-mcp-server)"),
    }
    println!(
        "{:<24} {:<12} {:>7} {:>10} {:>9} {:>9}",
        "server", "request", "clients", "req/s", "p50 ms", "p99 ms"
    );
    for kind in &servers {
        let server = Server::start(kind, &kubeconfig);
        for op in [Op::ToolsList, Op::ListCall] {
            for clients in CONCURRENCY {
                let r = load(&server, op, clients);
                println!(
                    "{:<24} {:<12} {:>7} {:>10.0} {:>9.2} {:>9.2}{}",
                    server.label,
                    op.name(),
                    clients,
                    r.rps,
                    r.p50,
                    r.p99,
                    if r.errors > 0 {
                        format!("  ({} errors: {})", r.errors, r.first_error)
                    } else {
                        String::new()
                    }
                );
            }
        }
    }
    println!("{:<24} {:>26}", "server", "peak RSS, 200 sessions");
    for kind in &servers {
        // A fresh process, so that the load above does not count.
        let server = Server::start(kind, &kubeconfig);
        let held: Vec<_> = (0..SESSIONS)
            .map(|_| {
                let mut s = Session::open(server.addr);
                if let Err(e) = s.call(&Op::ToolsList.message(&server, 1)) {
                    panic!("{}: tools/list: {e}", server.label);
                }
                s
            })
            .collect();
        let hwm = status_kib(server.child.id(), "VmHWM");
        println!("{:<24} {:>22.1} MiB", server.label, hwm as f64 / 1024.0);
        drop(held);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

enum Kind {
    Ours,
    Peer(std::path::PathBuf),
}

struct Server {
    label: String,
    child: Child,
    addr: SocketAddr,
    /// The list tool and its arguments.
    tool: &'static str,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(kind: &Kind, kubeconfig: &Path) -> Server {
        match kind {
            Kind::Ours => {
                let bin = crate::shipped_binary();
                let mut child = Command::new(&bin)
                    .args(["serve", "--transport=http", "--port=0", "--read-only"])
                    .env_clear()
                    .env("KUBECONFIG", kubeconfig)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
                let Some(stderr) = child.stderr.take() else {
                    panic!("no stderr");
                };
                let mut lines = BufReader::new(stderr).lines();
                let addr = loop {
                    let Some(Ok(line)) = lines.next() else {
                        panic!("the server ended before listening");
                    };
                    if let Some(rest) = line.split(" at http://").nth(1) {
                        let addr = rest.split('/').next().unwrap_or_default();
                        break addr.parse().unwrap_or_else(|e| panic!("{addr}: {e}"));
                    }
                };
                // Keep draining its log so that it never blocks on a full pipe.
                std::thread::spawn(move || lines.for_each(drop));
                Server {
                    label: "flux-operator-mcp".into(),
                    child,
                    addr,
                    tool: "get_kubernetes_resources",
                }
            }
            Kind::Peer(bin) => {
                let port = TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .map(|a| a.port())
                    .unwrap_or_else(|e| panic!("a free port: {e}"));
                let child = Command::new(bin)
                    .args(["--port", &port.to_string(), "--read-only", "--kubeconfig"])
                    .arg(kubeconfig)
                    .env_clear()
                    .env("HOME", std::env::temp_dir())
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
                let addr = SocketAddr::from(([127, 0, 0, 1], port));
                let deadline = Instant::now() + Duration::from_secs(20);
                while TcpStream::connect(addr).is_err() {
                    assert!(
                        Instant::now() < deadline,
                        "the peer never listened on {addr}"
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
                Server {
                    label: "kubernetes-mcp-server".into(),
                    child,
                    addr,
                    tool: "resources_list",
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Op {
    ToolsList,
    ListCall,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::ToolsList => "tools/list",
            Op::ListCall => "list call",
        }
    }

    fn message(self, server: &Server, id: u64) -> Value {
        match self {
            Op::ToolsList => json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"}),
            Op::ListCall => json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                "params": {"name": server.tool, "arguments": {
                    "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization"}}}),
        }
    }
}

/// One client: a keep-alive connection and the session it opened.
struct Session {
    conn: Conn,
    id: String,
}

impl Session {
    fn open(addr: SocketAddr) -> Session {
        let mut conn = Conn::open(addr);
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": VERSION, "capabilities": {},
                       "clientInfo": {"name": "bench", "version": "1"}}});
        let headers = [
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ];
        let r = conn.request("POST", "/mcp", &headers, init.to_string().as_bytes());
        assert_eq!(r.status, 200, "initialize: {}", r.text());
        let Some(id) = r.header("mcp-session-id").map(str::to_string) else {
            panic!("initialize: no Mcp-Session-Id: {}", r.text());
        };
        let mut s = Session { conn, id };
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let r = s.post(&note);
        assert!(r.status < 300, "notifications/initialized: {}", r.text());
        s
    }

    fn post(&mut self, message: &Value) -> crate::http_client::Reply {
        let headers = [
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
            ("MCP-Protocol-Version", VERSION),
            ("Mcp-Session-Id", self.id.as_str()),
        ];
        self.conn
            .request("POST", "/mcp", &headers, message.to_string().as_bytes())
    }

    /// Send a request and wait for its answer; an error says what went wrong.
    fn call(&mut self, message: &Value) -> Result<(), String> {
        let r = self.post(message);
        if r.status != 200 {
            return Err(format!("status {}", r.status));
        }
        let answer = r
            .messages()
            .into_iter()
            .find(|m| m.get("id") == message.get("id"));
        match answer {
            Some(m) if m["result"]["isError"] == json!(true) => Err(format!(
                "isError: {:.80}",
                m["result"]["content"][0]["text"]
            )),
            Some(m) if m.get("result").is_some() => Ok(()),
            Some(m) => Err(format!("{:.80}", m["error"].to_string())),
            None => Err("no answer".into()),
        }
    }
}

struct LoadResult {
    rps: f64,
    p50: f64,
    p99: f64,
    errors: usize,
    first_error: String,
}

fn load(server: &Server, op: Op, clients: usize) -> LoadResult {
    let ready = Arc::new(Barrier::new(clients + 1));
    let messages: Vec<Value> = (0..4).map(|i| op.message(server, 10 + i)).collect();
    let addr = server.addr;
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let ready = ready.clone();
            let messages = messages.clone();
            std::thread::spawn(move || {
                let mut s = Session::open(addr);
                ready.wait();
                let start = Instant::now();
                let mut latencies = Vec::new();
                let mut errors = Vec::new();
                let mut n = 0;
                while start.elapsed() < LOAD {
                    let t = Instant::now();
                    let r = s.call(&messages[n % messages.len()]);
                    latencies.push(t.elapsed());
                    if let Err(e) = r {
                        errors.push(e);
                    }
                    n += 1;
                }
                (latencies, errors, start.elapsed())
            })
        })
        .collect();
    ready.wait();
    let mut all = Vec::new();
    let mut errors = Vec::new();
    let mut longest = Duration::ZERO;
    for h in handles {
        let Ok((l, e, took)) = h.join() else {
            panic!("a load client panicked");
        };
        all.extend(l);
        errors.extend(e);
        longest = longest.max(took);
    }
    all.sort();
    let at = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| crate::ms(*d))
    };
    LoadResult {
        rps: all.len() as f64 / longest.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
        errors: errors.len(),
        first_error: errors.first().cloned().unwrap_or_default(),
    }
}

/// A field of `/proc/PID/status`, in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
