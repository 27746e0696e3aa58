//! The HTTP transports: Streamable HTTP (stateless 2026-07-28 and 2025 sessions), the legacy
//! HTTP+SSE transport, the guard (Host/Origin, bearer token) and shutdown. Protocol details run
//! in-process against a fake service whose tools block, count and report cancellation; the
//! real binary is checked for its flags, logs, signals and tool calls against the test API
//! server.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_json::{Map, Value, json};

use flux_operator_mcp::mcp::http::{self, Endpoints, Options, Running, Token};
use flux_operator_mcp::mcp::server::{
    Cancel, InvalidParams, PromptInfo, PromptReply, ServerInfo, Service, ToolAnnotations, ToolInfo,
    ToolOutput,
};

use crate::apiserver::{ApiServer, Identity, Options as ApiOptions};
use crate::http_client::{Conn, MODERN, borrowed, eventually, meta, modern};
use crate::support::{self, scratch_dir};

// ---- a fake service ----------------------------------------------------------------------

/// Tools: `echo` (its arguments), `count` (per session), `fail` (an error result), `slow`
/// (blocks until cancelled, or until the gate opens), `gated` (waits for the gate).
pub struct Fake {
    /// Calls of `slow` and `gated` running now.
    pub running: AtomicUsize,
    /// Calls that saw their cancellation.
    pub cancelled: AtomicUsize,
    gate: Mutex<bool>,
    changed: Condvar,
}

impl Fake {
    pub fn new() -> Arc<Fake> {
        Arc::new(Fake {
            running: AtomicUsize::new(0),
            cancelled: AtomicUsize::new(0),
            gate: Mutex::new(false),
            changed: Condvar::new(),
        })
    }

    pub fn open_gate(&self) {
        *self.gate.lock().unwrap() = true;
        self.changed.notify_all();
    }

    /// Wait until `cond` holds of (running, cancelled), at most 20 s.
    pub fn wait_for(&self, cond: impl Fn(usize, usize) -> bool) -> bool {
        let guard = self.gate.lock().unwrap();
        let (_g, timeout) = self
            .changed
            .wait_timeout_while(guard, Duration::from_secs(20), |_| {
                !cond(
                    self.running.load(Ordering::SeqCst),
                    self.cancelled.load(Ordering::SeqCst),
                )
            })
            .unwrap();
        !timeout.timed_out()
    }

    fn bump(&self, counter: &AtomicUsize, up: bool) {
        let _g = self.gate.lock().unwrap();
        if up {
            counter.fetch_add(1, Ordering::SeqCst);
        } else {
            counter.fetch_sub(1, Ordering::SeqCst);
        }
        self.changed.notify_all();
    }
}

const TOOLS: [&str; 5] = ["echo", "count", "fail", "slow", "gated"];

impl Service for Fake {
    type Session = Mutex<u32>;
    fn info(&self) -> ServerInfo {
        ServerInfo {
            name: "fake",
            title: "Fake",
            version: "1",
        }
    }
    fn instructions(&self) -> &str {
        "fake"
    }
    fn tools(&self) -> Vec<ToolInfo> {
        TOOLS
            .iter()
            .map(|name| ToolInfo {
                name,
                title: name,
                description: "a fake tool",
                input_schema: json!({"type": "object", "properties": {}}),
                annotations: ToolAnnotations {
                    read_only: true,
                    destructive: false,
                    idempotent: true,
                    open_world: false,
                },
            })
            .collect()
    }
    fn prompts(&self) -> Vec<PromptInfo> {
        Vec::new()
    }
    fn new_session(&self) -> Mutex<u32> {
        Mutex::new(0)
    }
    fn call_tool(
        &self,
        session: &Mutex<u32>,
        name: &str,
        args: &Map<String, Value>,
        cancel: &Cancel,
    ) -> Result<ToolOutput, InvalidParams> {
        let text = |text: String, is_error| Ok(ToolOutput { text, is_error });
        match name {
            "echo" => text(Value::Object(args.clone()).to_string(), false),
            "count" => {
                let mut n = session.lock().unwrap();
                *n += 1;
                text(n.to_string(), false)
            }
            "fail" => text("it failed".into(), true),
            "slow" | "gated" => {
                self.bump(&self.running, true);
                let mut done = false;
                for _ in 0..2000 {
                    if *self.gate.lock().unwrap() {
                        done = true;
                        break;
                    }
                    if name == "slow" && cancel.wait_timeout(Duration::from_millis(10)) {
                        self.bump(&self.cancelled, true);
                        break;
                    }
                    if name == "gated" {
                        let g = self.gate.lock().unwrap();
                        let _ =
                            self.changed
                                .wait_timeout_while(g, Duration::from_millis(10), |open| !*open);
                    }
                }
                self.bump(&self.running, false);
                text(if done { "done" } else { "cancelled" }.into(), false)
            }
            other => Err(InvalidParams(format!("unknown tool {other:?}"))),
        }
    }
    fn get_prompt(&self, name: &str, _: &Map<String, Value>) -> Result<PromptReply, InvalidParams> {
        Err(InvalidParams(format!("unknown prompt {name:?}")))
    }
}

/// Options on 127.0.0.1, a port of the system's choosing, short keep-alives and idle limits.
pub fn options(endpoints: Endpoints) -> Options {
    let mut o = Options::new("127.0.0.1:0".parse().unwrap(), endpoints);
    o.keepalive = Duration::from_millis(300);
    o.drain_timeout = Duration::from_secs(5);
    o
}

pub fn start(fake: &Arc<Fake>, options: Options) -> Running {
    http::bind(fake.clone(), options)
        .expect("bind")
        .spawn()
        .expect("spawn")
}

fn call(name: &str) -> Value {
    json!({"name": name, "arguments": {}})
}

fn rpc(id: i64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

// ---- 2026-07-28: stateless ---------------------------------------------------------------

#[test]
fn stateless_requests_are_answered_without_a_session() {
    let fake = Fake::new();
    let server = start(&fake, options(Endpoints::Streamable));
    let mut c = Conn::open(server.addr);

    let r = c.modern(1, "server/discover", json!({}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("mcp-session-id"),
        None,
        "stateless: no session id is minted"
    );
    let d = r.json()["result"].clone();
    assert_eq!(d["supportedVersions"][0], json!(MODERN));
    assert_eq!(d["resultType"], json!("complete"));
    assert_eq!(
        d["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        json!("fake")
    );

    let r = c.modern(2, "tools/list", json!({})).json();
    assert_eq!(
        r["result"]["tools"].as_array().map(Vec::len),
        Some(TOOLS.len())
    );
    assert_eq!(r["result"]["ttlMs"], json!(0));
    assert_eq!(r["result"]["cacheScope"], json!("private"));

    // Each request is its own session: a per-session counter starts over every time, and an
    // Mcp-Session-Id sent along is ignored.
    for id in 3..5 {
        let (body, mut headers) = modern(id, "tools/call", call("count"));
        headers.push(("Mcp-Session-Id".into(), "made-up".into()));
        let r = c.request("POST", "/mcp", &borrowed(&headers), &body);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["result"]["content"][0]["text"], json!("1"));
    }

    // A notification is accepted with 202 and no body; GET and DELETE do not exist.
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized",
                      "params": {"_meta": meta()}});
    let h = [
        ("Content-Type", "application/json"),
        ("MCP-Protocol-Version", MODERN),
    ];
    let r = c.request("POST", "/mcp", &h, note.to_string().as_bytes());
    assert_eq!((r.status, r.body.len()), (202, 0));
    for method in ["GET", "DELETE"] {
        let r = c.request(
            method,
            "/mcp",
            &[
                ("MCP-Protocol-Version", MODERN),
                ("Accept", "text/event-stream"),
            ],
            b"",
        );
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("POST"));
        assert_eq!(r.json()["error"]["code"], json!(-32600));
    }
    assert_eq!(server.sessions(), 0);
    server.stop();
}

#[test]
fn stateless_requests_must_agree_with_their_headers() {
    let fake = Fake::new();
    let server = start(&fake, options(Endpoints::Streamable));
    let mut c = Conn::open(server.addr);
    let post = |c: &mut Conn, body: Value, headers: &[(&str, &str)]| {
        let mut h = vec![("Content-Type", "application/json")];
        h.extend_from_slice(headers);
        c.request("POST", "/mcp", &h, body.to_string().as_bytes())
    };
    let expect = |r: &crate::http_client::Reply, status: u16, code: i64, says: &str| {
        assert_eq!(r.status, status, "{}", r.text());
        let j = r.json();
        assert_eq!(j["error"]["code"], json!(code), "{j}");
        assert!(
            j["error"]["message"].as_str().unwrap().contains(says),
            "{j}"
        );
    };
    let list_headers = [
        ("MCP-Protocol-Version", MODERN),
        ("Mcp-Method", "tools/list"),
    ];

    // _meta must carry the version and the client's capabilities.
    let r = post(&mut c, rpc(101, "tools/list", json!({})), &list_headers);
    expect(&r, 400, -32602, "needs params._meta");
    assert_eq!(r.json()["id"], json!(101), "errors carry the request's id");
    let mut m = meta();
    m.as_object_mut()
        .unwrap()
        .remove("io.modelcontextprotocol/clientCapabilities");
    let r = post(
        &mut c,
        rpc(102, "tools/list", json!({"_meta": m})),
        &list_headers,
    );
    expect(&r, 400, -32602, "clientCapabilities");
    // clientInfo is optional.
    let mut m = meta();
    m.as_object_mut()
        .unwrap()
        .remove("io.modelcontextprotocol/clientInfo");
    let r = post(
        &mut c,
        rpc(103, "tools/list", json!({"_meta": m})),
        &list_headers,
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // The version header must match _meta and be one we speak.
    let mut m = meta();
    m["io.modelcontextprotocol/protocolVersion"] = json!("v999.0.0");
    let r = post(
        &mut c,
        rpc(104, "server/discover", json!({"_meta": m.clone()})),
        &[
            ("MCP-Protocol-Version", MODERN),
            ("Mcp-Method", "server/discover"),
        ],
    );
    expect(&r, 400, -32020, "header mismatch");
    let r = post(
        &mut c,
        rpc(105, "server/discover", json!({"_meta": m})),
        &[
            ("MCP-Protocol-Version", "v999.0.0"),
            ("Mcp-Method", "server/discover"),
        ],
    );
    expect(&r, 400, -32022, "unsupported protocol version");
    let data = &r.json()["error"]["data"];
    assert_eq!(data["requested"], json!("v999.0.0"));
    assert_eq!(data["supported"][0], json!(MODERN));
    let r = post(
        &mut c,
        rpc(106, "tools/list", json!({"_meta": meta()})),
        &[("Mcp-Method", "tools/list")],
    );
    expect(&r, 400, -32020, "MCP-Protocol-Version header is required");

    // Mcp-Method and Mcp-Name say what the body says, byte for byte.
    let r = post(
        &mut c,
        rpc(107, "tools/list", json!({"_meta": meta()})),
        &[("MCP-Protocol-Version", MODERN)],
    );
    expect(&r, 400, -32020, "Mcp-Method header is required");
    let r = post(
        &mut c,
        rpc(108, "tools/list", json!({"_meta": meta()})),
        &[
            ("MCP-Protocol-Version", MODERN),
            ("Mcp-Method", "TOOLS/LIST"),
        ],
    );
    expect(&r, 400, -32020, "\"TOOLS/LIST\"");
    let body = rpc(109, "tools/call", json!({"name": "echo", "_meta": meta()}));
    let r = post(
        &mut c,
        body.clone(),
        &[
            ("MCP-Protocol-Version", MODERN),
            ("Mcp-Method", "tools/call"),
        ],
    );
    expect(&r, 400, -32020, "Mcp-Name header is required");
    let r = post(
        &mut c,
        body.clone(),
        &[
            ("MCP-Protocol-Version", MODERN),
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", "count"),
        ],
    );
    expect(&r, 400, -32020, "Mcp-Name is \"count\"");
    let r = post(
        &mut c,
        body,
        &[
            ("MCP-Protocol-Version", MODERN),
            ("mcp-method", "tools/call"),
            ("MCP-NAME", "  echo  "),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // Unknown and removed methods: 404 with -32601.
    for method in ["no/such", "initialize", "ping", "logging/setLevel"] {
        let r = post(
            &mut c,
            rpc(110, method, json!({"_meta": meta()})),
            &[("MCP-Protocol-Version", MODERN), ("Mcp-Method", method)],
        );
        expect(&r, 404, -32601, method);
        assert_eq!(r.json()["id"], json!(110));
    }
    // Not JSON-RPC at all.
    let r = c.request(
        "POST",
        "/mcp",
        &[("Content-Type", "application/json")],
        b"{oops",
    );
    expect(&r, 400, -32700, "parse error");
    let r = c.request("POST", "/mcp", &[("Content-Type", "text/plain")], b"{}");
    expect(&r, 415, -32600, "text/plain");
    let r = c.request("POST", "/mcp", &[("Accept", "text/html")], b"{}");
    expect(&r, 406, -32600, "not acceptable");
    server.stop();
}

// ---- 2025 revisions: sessions -------------------------------------------------------------

#[test]
fn sessions_keep_their_own_state_and_end_with_delete() {
    let fake = Fake::new();
    let server = start(&fake, options(Endpoints::Streamable));
    let mut c = Conn::open(server.addr);
    let one = c.initialize();
    let two = c.initialize();
    assert_ne!(one, two);
    assert!(
        one.len() >= 32 && one.bytes().all(|b| b.is_ascii_graphic()),
        "{one}"
    );
    for expected in ["1", "2", "3"] {
        let r = c
            .in_session(&one, rpc(1, "tools/call", call("count")))
            .json();
        assert_eq!(r["result"]["content"][0]["text"], json!(expected), "{r}");
    }
    let r = c
        .in_session(&two, rpc(1, "tools/call", call("count")))
        .json();
    assert_eq!(
        r["result"]["content"][0]["text"],
        json!("1"),
        "sessions do not share state"
    );
    // A handshake-era answer: no resultType, and ping works.
    let r = c.in_session(&one, rpc(2, "tools/list", json!({}))).json();
    assert!(r["result"].get("resultType").is_none(), "{r}");
    let r = c.in_session(&one, rpc(3, "ping", json!({}))).json();
    assert_eq!(r["result"], json!({}));

    // Without a session, or with an unknown one.
    let h = [("Content-Type", "application/json")];
    let r = c.request(
        "POST",
        "/mcp",
        &h,
        rpc(4, "tools/list", json!({})).to_string().as_bytes(),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("initialize")
    );
    let r = c.in_session("0123", rpc(5, "tools/list", json!({})));
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["id"], json!(5));

    // The GET stream: keep-alives until the session is deleted.
    let mut stream = Conn::open(server.addr);
    stream.send(
        "GET",
        "/mcp",
        &[("Accept", "text/event-stream"), ("Mcp-Session-Id", &one)],
        b"",
    );
    let (status, headers) = stream.read_head();
    assert_eq!(status, 200);
    let h = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(h("content-type"), Some("text/event-stream"));
    assert_eq!(h("x-accel-buffering"), Some("no"));
    assert_eq!(
        stream.next_event(),
        Some((String::new(), ": keep-alive".to_string()))
    );
    // One stream per session.
    let r = c.request(
        "GET",
        "/mcp",
        &[("Accept", "text/event-stream"), ("Mcp-Session-Id", &one)],
        b"",
    );
    assert_eq!(r.status, 409);
    let r = c.request("DELETE", "/mcp", &[("Mcp-Session-Id", &one)], b"");
    assert_eq!(r.status, 200);
    // The stream ends with the session (only keep-alives came before).
    while let Some((name, _)) = stream.next_event() {
        assert_eq!(name, "", "only keep-alives");
    }
    let r = c.in_session(&one, rpc(6, "tools/list", json!({})));
    assert_eq!(r.status, 404, "a deleted session is gone");
    let r = c.request("DELETE", "/mcp", &[("Mcp-Session-Id", &one)], b"");
    assert_eq!(r.status, 404);
    assert_eq!(server.sessions(), 1);
    server.stop();
}

#[test]
fn idle_sessions_are_dropped() {
    let fake = Fake::new();
    let mut o = options(Endpoints::Streamable);
    // Idle at once: the next sweep (a new session forces one) drops every session not in use.
    o.sessions.idle = Duration::ZERO;
    let server = start(&fake, o);
    let mut c = Conn::open(server.addr);
    let sid = c.initialize();
    let r = c.in_session(&sid, rpc(1, "tools/list", json!({})));
    assert_eq!(r.status, 200);
    let other = c.initialize();
    let r = c.in_session(&sid, rpc(2, "tools/list", json!({})));
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("idle too long")
    );
    assert_eq!(
        c.in_session(&other, rpc(3, "tools/list", json!({}))).status,
        200
    );
    server.stop();
}

// ---- answers: JSON, SSE, cancellation ------------------------------------------------------

#[test]
fn a_closed_exchange_cancels_its_call() {
    let fake = Fake::new();
    let server = start(&fake, options(Endpoints::Streamable));
    // Stateless.
    let mut c = Conn::open(server.addr);
    let (body, headers) = modern(1, "tools/call", call("slow"));
    c.send("POST", "/mcp", &borrowed(&headers), &body);
    assert!(fake.wait_for(|running, _| running == 1));
    drop(c);
    assert!(fake.wait_for(|running, cancelled| running == 0 && cancelled == 1));

    // In a session: the call is cancelled, the session lives on.
    let mut c = Conn::open(server.addr);
    let sid = c.initialize();
    let mut d = Conn::open(server.addr);
    d.send(
        "POST",
        "/mcp",
        &[
            ("Content-Type", "application/json"),
            ("Mcp-Session-Id", &sid),
        ],
        rpc(9, "tools/call", call("slow")).to_string().as_bytes(),
    );
    assert!(fake.wait_for(|running, _| running == 1));
    drop(d);
    assert!(fake.wait_for(|running, cancelled| running == 0 && cancelled == 2));
    let r = c
        .in_session(&sid, rpc(9, "tools/call", call("count")))
        .json();
    assert_eq!(r["result"]["content"][0]["text"], json!("1"), "{r}");
    server.stop();
}

#[test]
fn long_answers_and_notifications_travel_as_sse() {
    let fake = Fake::new();
    let server = start(&fake, options(Endpoints::Streamable));
    let mut c = Conn::open(server.addr);
    // A call longer than the keep-alive interval turns into a stream of keep-alives.
    let (body, headers) = modern(1, "tools/call", call("gated"));
    c.send("POST", "/mcp", &borrowed(&headers), &body);
    let (status, headers) = c.read_head();
    assert_eq!(status, 200);
    assert!(
        headers.contains(&("content-type".into(), "text/event-stream".into())),
        "{headers:?}"
    );
    assert_eq!(c.next_event(), Some((String::new(), ": keep-alive".into())));
    fake.open_gate();
    let answer = c.next_message().expect("the answer");
    assert_eq!(answer["id"], json!(1));
    assert_eq!(answer["result"]["content"][0]["text"], json!("done"));
    assert_eq!(c.next_event(), None, "the answer ends the stream");

    // Log notifications come before the answer, on a stream, when the request asks for them.
    let mut params = call("fail");
    params["_meta"] = meta();
    params["_meta"]["io.modelcontextprotocol/logLevel"] = json!("info");
    let body = rpc(2, "tools/call", params);
    let (_, headers) = modern(2, "tools/call", call("fail"));
    c.send(
        "POST",
        "/mcp",
        &borrowed(&headers),
        body.to_string().as_bytes(),
    );
    let (status, _) = c.read_head();
    assert_eq!(status, 200);
    let log = c.next_message().expect("a log notification");
    assert_eq!(log["method"], json!("notifications/message"), "{log}");
    assert_eq!(log["params"]["level"], json!("warning"));
    let answer = c.next_message().expect("the answer");
    assert_eq!(answer["result"]["isError"], json!(true));
    assert_eq!(c.next_event(), None);

    // A client that takes only JSON gets the answer alone, on the same connection.
    let accept_json = headers
        .iter()
        .map(|(n, v)| {
            if n == "Accept" {
                (n.clone(), "application/json".to_string())
            } else {
                (n.clone(), v.clone())
            }
        })
        .collect::<Vec<_>>();
    let r = c.request(
        "POST",
        "/mcp",
        &borrowed(&accept_json),
        body.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["result"]["isError"], json!(true));
    server.stop();
}

// ---- the legacy HTTP+SSE transport --------------------------------------------------------

#[test]
fn legacy_sse_answers_on_the_stream_and_ends_with_it() {
    let fake = Fake::new();
    let server = start(&fake, options(Endpoints::LegacySse));
    let mut stream = Conn::open(server.addr);
    stream.send("GET", "/sse", &[("Accept", "text/event-stream")], b"");
    let (status, _) = stream.read_head();
    assert_eq!(status, 200);
    let (name, endpoint) = stream.next_event().expect("endpoint event");
    assert_eq!(name, "endpoint");
    assert!(endpoint.starts_with("/message?sessionId="), "{endpoint}");
    assert_eq!(server.sessions(), 1);

    let mut c = Conn::open(server.addr);
    let post = |c: &mut Conn, body: &[u8]| {
        c.request(
            "POST",
            &endpoint,
            &[("Content-Type", "application/json")],
            body,
        )
    };
    let init = rpc(
        0,
        "initialize",
        json!({"protocolVersion": "2024-11-05", "capabilities": {},
        "clientInfo": {"name": "it", "version": "1"}}),
    );
    let r = post(&mut c, init.to_string().as_bytes());
    assert_eq!(r.status, 202);
    let m = stream.next_message().expect("initialize answer");
    assert_eq!(m["result"]["protocolVersion"], json!("2024-11-05"));
    for n in 1..=2 {
        let r = post(
            &mut c,
            rpc(n, "tools/call", call("count")).to_string().as_bytes(),
        );
        assert_eq!(r.status, 202);
        let m = stream.next_message().expect("count answer");
        assert_eq!(m["result"]["content"][0]["text"], json!(n.to_string()));
    }
    // A parse error is answered on the stream, as on stdio.
    assert_eq!(post(&mut c, b"{nope").status, 202);
    assert_eq!(
        stream.next_message().unwrap()["error"]["code"],
        json!(-32700)
    );
    // The stream closing ends the session and cancels its calls.
    assert_eq!(
        post(
            &mut c,
            rpc(3, "tools/call", call("slow")).to_string().as_bytes()
        )
        .status,
        202
    );
    assert!(fake.wait_for(|running, _| running == 1));
    drop(stream);
    assert!(fake.wait_for(|running, cancelled| running == 0 && cancelled == 1));
    assert!(eventually(Duration::from_secs(10), || server.sessions() == 0));
    let r = post(&mut c, rpc(4, "ping", json!({})).to_string().as_bytes());
    assert_eq!(r.status, 404);
    // Streamable HTTP stays available beside it.
    assert_eq!(c.modern(5, "tools/list", json!({})).status, 200);
    let r = c.request("GET", "/message", &[], b"");
    assert_eq!(r.status, 405);
    server.stop();

    // Without the legacy transport there is no /sse.
    let server = start(&fake, options(Endpoints::Streamable));
    let r = Conn::open(server.addr).request("GET", "/sse", &[("Accept", "text/event-stream")], b"");
    assert_eq!(r.status, 404);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/mcp")
    );
    server.stop();
}

// ---- the guard ---------------------------------------------------------------------------

#[test]
fn foreign_hosts_and_origins_are_refused_and_tokens_are_required() {
    let fake = Fake::new();
    let mut o = options(Endpoints::LegacySse);
    o.token = Some(Token::new(b"t0k3n-for-tests\n").unwrap());
    let server = start(&fake, o);
    let mut c = Conn::open(server.addr);
    let bearer = [("Authorization", "Bearer t0k3n-for-tests")];

    // DNS rebinding: another name for 127.0.0.1, or a foreign page.
    let r = c.request("GET", "/healthz", &[("Host", "evil.example.com:80")], b"");
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["id"], json!(null));
    let r = c.request(
        "POST",
        "/mcp",
        &[("Origin", "http://evil.example.com"), bearer[0]],
        b"{}",
    );
    assert_eq!(r.status, 403);
    assert!(r.text().contains("evil.example.com"));
    let r = c.request(
        "GET",
        "/healthz",
        &[("Host", "localhost:1"), ("Origin", "http://localhost:6274")],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // /healthz needs no token (probes), everything else does.
    assert_eq!(c.request("GET", "/healthz", &[], b"").text(), "ok\n");
    for (path, method) in [
        ("/mcp", "POST"),
        ("/sse", "GET"),
        ("/message?sessionId=x", "POST"),
    ] {
        let r = c.request(method, path, &[], b"{}");
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Bearer realm=\"flux-operator-mcp\"")
        );
        let r = c.request(method, path, &[("Authorization", "Bearer wrong")], b"{}");
        assert_eq!(r.status, 401, "{path}");
        assert!(
            r.header("www-authenticate")
                .unwrap()
                .contains("invalid_token")
        );
        assert!(!r.text().contains("t0k3n"));
    }
    let (body, mut headers) = modern(1, "tools/list", json!({}));
    headers.push(("Authorization".into(), "Bearer t0k3n-for-tests".into()));
    assert_eq!(
        c.request("POST", "/mcp", &borrowed(&headers), &body).status,
        200
    );
    server.stop();
}

// ---- shutdown ----------------------------------------------------------------------------

#[test]
fn stopping_lets_pending_answers_out_then_closes() {
    let fake = Fake::new();
    let server = start(&fake, options(Endpoints::LegacySse));
    let addr = server.addr;
    // A streamed session and an idle keep-alive connection.
    let mut stream = Conn::open(addr);
    stream.send("GET", "/sse", &[], b"");
    stream.read_head();
    let (_, endpoint) = stream.next_event().unwrap();
    let mut idle = Conn::open(addr);
    assert_eq!(idle.request("GET", "/healthz", &[], b"").status, 200);
    // A call that is still running when the stop comes.
    let mut c = Conn::open(addr);
    let (body, headers) = modern(1, "tools/call", call("gated"));
    c.send("POST", "/mcp", &borrowed(&headers), &body);
    assert!(fake.wait_for(|running, _| running == 1));

    let stopping = std::thread::spawn(move || server.stop());
    assert!(
        eventually(Duration::from_secs(10), || std::net::TcpStream::connect(
            addr
        )
        .is_err()),
        "no new connections once stopping"
    );
    assert!(
        idle.closed(),
        "an idle keep-alive connection is closed at once"
    );
    fake.open_gate();
    let r = c.read_reply();
    assert_eq!(r.status, 200, "the pending call is answered");
    assert_eq!(
        r.messages()[0]["result"]["content"][0]["text"],
        json!("done")
    );
    let stopped = stopping.join().unwrap();
    assert_eq!(stopped.pending, 0);
    assert_eq!(stopped.open, 0);
    assert!(stream.next_event().is_none(), "streams are closed");
    drop(endpoint);
}

#[test]
fn an_answer_that_misses_the_drain_is_abandoned() {
    let fake = Fake::new();
    let mut o = options(Endpoints::Streamable);
    o.drain_timeout = Duration::from_millis(300);
    let server = start(&fake, o);
    let mut c = Conn::open(server.addr);
    let (body, headers) = modern(1, "tools/call", call("slow"));
    c.send("POST", "/mcp", &borrowed(&headers), &body);
    assert!(fake.wait_for(|running, _| running == 1));
    let stopped = server.stop();
    assert_eq!(stopped.pending, 1);
    drop(c);
    assert!(fake.wait_for(|running, _| running == 0));
}

// ---- the binary --------------------------------------------------------------------------

/// `flux-operator-mcp serve` with `args`, environment `env`; its URL from the startup log.
pub struct Binary {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    stderr: std::sync::mpsc::Receiver<String>,
    pub log: Vec<String>,
}

impl Binary {
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Binary {
        use std::io::BufRead;
        let mut cmd = support::command();
        cmd.arg("serve").args(args).envs(env.iter().copied());
        let mut child = cmd
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut log = Vec::new();
        let addr = loop {
            let line = rx.recv_timeout(support::DEADLINE).unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("no startup line; log so far: {log:?}")
            });
            log.push(line.clone());
            if let Some(rest) = line.split(" at http://").nth(1) {
                let host = rest.split('/').next().unwrap_or_default();
                break host.parse().unwrap_or_else(|e| panic!("{host}: {e}"));
            }
        };
        Binary {
            child,
            addr,
            stderr: rx,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next log line that contains `text` (lines before it are kept in `log`).
    #[track_caller]
    pub fn wait_line(&mut self, text: &str) -> String {
        if let Some(l) = self.log.iter().find(|l| l.contains(text)) {
            return l.clone();
        }
        loop {
            match self.stderr.recv_timeout(support::DEADLINE) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!("no log line with {text:?}: {:?}", self.log),
            }
        }
    }

    /// A connection to the server, by its loopback address when it listens on all of them.
    pub fn conn(&self) -> Conn {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        Conn::open(addr)
    }

    /// SIGTERM, then the exit status and the whole log.
    pub fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().expect("wait");
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(5)) {
            self.log.push(line);
        }
        (status, std::mem::take(&mut self.log))
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A kubeconfig for `api` in `dir`.
fn kubeconfig(api: &ApiServer, dir: &Path) -> String {
    let path = dir.join("kubeconfig");
    api.write_kubeconfig(&path, Identity::ClientCert)
        .expect("kubeconfig");
    path.display().to_string()
}

#[test]
fn the_binary_serves_tool_calls_over_http_and_exits_0_on_sigterm() {
    let api = ApiServer::start(ApiOptions::default());
    let dir = scratch_dir("http-binary");
    let kc = kubeconfig(&api, &dir);
    let bin = Binary::start(
        &["--transport", "http", "--port", "0"],
        &[("KUBECONFIG", &kc)],
    );
    assert!(
        bin.addr.ip().is_loopback(),
        "loopback by default: {}",
        bin.addr
    );
    assert!(
        !bin.log.iter().any(|l| l.contains("warning")),
        "{:?}",
        bin.log
    );
    let mut c = bin.conn();
    let list = json!({"name": "get_kubernetes_resources",
        "arguments": {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "namespace": "flux-system"}});
    let r = c.modern(1, "tools/call", list.clone());
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.json()["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(text.contains("tenants"), "{text}");
    let sid = c.initialize();
    let r = c.in_session(&sid, rpc(2, "tools/call", list)).json();
    assert_eq!(r["result"]["isError"], json!(false), "{r}");
    assert_eq!(c.request("GET", "/healthz", &[], b"").status, 200);
    let (status, log) = bin.terminate();
    assert!(status.success(), "{status:?}: {log:?}");
    assert!(log.iter().any(|l| l.contains("signal 15")), "{log:?}");
}

#[test]
fn each_http_session_chooses_its_own_context() {
    let blue = ApiServer::start(ApiOptions::default());
    let green = ApiServer::start(ApiOptions::default());
    let dir = scratch_dir("http-contexts");
    let path = crate::sessions::kubeconfig(&[("blue", &blue), ("green", &green)], &dir);
    let path = path.display().to_string();
    let bin = Binary::start(
        &["--transport=http", "--port=0", "--kubeconfig", &path],
        &[],
    );
    let mut c = bin.conn();
    let one = c.initialize();
    let two = c.initialize();
    let r = c.in_session(
        &one,
        rpc(
            1,
            "tools/call",
            json!({"name": "set_kubeconfig_context", "arguments": {"name": "green"}}),
        ),
    );
    assert_eq!(r.json()["result"]["isError"], json!(false), "{}", r.text());
    let current = |c: &mut Conn, sid: &str| {
        let r = c.in_session(
            sid,
            rpc(
                2,
                "tools/call",
                json!({"name": "get_kubeconfig_contexts", "arguments": {}}),
            ),
        );
        r.json()["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(current(&mut c, &one), "current: green");
    assert_eq!(
        current(&mut c, &two),
        "current: blue",
        "another session keeps its context"
    );
    // A stateless request starts from the kubeconfig's, whatever sessions chose.
    let r = c.modern(
        3,
        "tools/call",
        json!({"name": "get_kubeconfig_contexts", "arguments": {}}),
    );
    assert!(
        r.json()["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("current: blue\n")
    );
}

#[test]
fn the_listen_address_and_token_flags() {
    let dir = scratch_dir("http-flags");
    // Every interface without a token: a warning.
    let mut bin = Binary::start(&["--transport", "http", "--listen", "0.0.0.0:0"], &[]);
    assert!(bin.addr.ip().is_unspecified(), "{}", bin.addr);
    let warning = bin.wait_line("warning");
    assert!(
        warning.contains("listening on 0.0.0.0:") && warning.contains("without authentication"),
        "{warning}"
    );
    drop(bin);
    // In a pod, every interface is the default (the Helm chart's Service must reach it).
    let bin = Binary::start(
        &["--transport=http", "--port=0"],
        &[
            ("KUBERNETES_SERVICE_HOST", "10.0.0.1"),
            ("KUBERNETES_SERVICE_PORT", "443"),
        ],
    );
    assert!(bin.addr.ip().is_unspecified(), "{}", bin.addr);
    drop(bin);
    // With a token: no warning, the token is needed and never logged.
    let token = dir.join("token");
    std::fs::write(&token, "s3cr3t-t0ken\n").unwrap();
    let token_arg = token.display().to_string();
    let mut bin = Binary::start(
        &[
            "--transport",
            "sse",
            "--listen",
            "0.0.0.0:0",
            "--auth-token-file",
            &token_arg,
        ],
        &[],
    );
    let deprecated = bin.wait_line("deprecated");
    assert!(deprecated.contains("--transport http"), "{deprecated}");
    let mut c = bin.conn();
    assert_eq!(c.request("GET", "/sse", &[], b"").status, 401);
    let mut s = bin.conn();
    s.send(
        "GET",
        "/sse",
        &[("Authorization", "Bearer s3cr3t-t0ken")],
        b"",
    );
    assert_eq!(s.read_head().0, 200);
    drop(s);
    let (status, log) = bin.terminate();
    assert!(status.success());
    assert!(!log.iter().any(|l| l.contains("warning")), "{log:?}");
    assert!(!log.iter().any(|l| l.contains("s3cr3t")), "{log:?}");
    // An unreadable or empty token file stops the server before it listens.
    for (content, says) in [(None, "No such file"), (Some(" \n"), "the token is empty")] {
        let path = dir.join(format!("t-{}", content.is_some()));
        if let Some(c) = content {
            std::fs::write(&path, c).unwrap();
        }
        let out = support::command()
            .args(["serve", "--transport=http", "--auth-token-file"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--auth-token-file") && err.contains(says),
            "{err}"
        );
    }
}
