//! Load and abuse of the HTTP transports, bounded and on loopback: 200 sessions making tool
//! calls at once against the real binary (memory and threads measured), 100 clients trickling
//! a byte a second, a 10 MB body, malformed requests, and connections dropped mid-request and
//! mid-stream. Throughout, the server keeps answering `/healthz` and new sessions; afterwards
//! no thread is left behind.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use flux_operator_mcp::mcp::http::Endpoints;

use crate::apiserver::{ApiServer, Identity, Options as ApiOptions};
use crate::http::{Binary, Fake, options, start};
use crate::http_client::{Conn, borrowed, eventually, memory_kib, modern, threads, threads_named};
use crate::support::scratch_dir;

/// The server answers a health probe and serves a new session, on fresh connections.
#[track_caller]
fn still_serving(addr: std::net::SocketAddr) {
    let mut c = Conn::open(addr);
    let r = c.request("GET", "/healthz", &[], b"");
    assert_eq!((r.status, r.text().as_str()), (200, "ok\n"));
    let sid = c.initialize();
    let r = c.in_session(
        &sid,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = c.modern(2, "tools/list", json!({}));
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn two_hundred_sessions_make_tool_calls_at_once() {
    const SESSIONS: usize = 200;
    const CALLS: usize = 2;
    let api = ApiServer::start(ApiOptions::default());
    let dir = scratch_dir("http-load");
    let kc = dir.join("kubeconfig");
    api.write_kubeconfig(&kc, Identity::ClientCert)
        .expect("kubeconfig");
    let kc = kc.display().to_string();
    let bin = Binary::start(
        &["--transport=http", "--port=0"],
        &[("KUBECONFIG", kc.as_str())],
    );
    let pid = bin.pid();
    let addr = bin.addr;
    let idle_threads = threads(pid);

    let start = Arc::new(Barrier::new(SESSIONS + 1));
    let clients: Vec<_> = (0..SESSIONS)
        .map(|i| {
            let start = start.clone();
            std::thread::spawn(move || {
                let mut c = Conn::open(addr);
                let sid = c.initialize();
                start.wait();
                let r = c.in_session(
                    &sid,
                    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
                );
                assert_eq!(r.status, 200, "session {i}: {}", r.text());
                let (mut ok, mut busy) = (0, 0);
                for n in 0..CALLS {
                    let call = json!({"jsonrpc": "2.0", "id": 2 + n, "method": "tools/call",
                        "params": {"name": "get_kubernetes_resources", "arguments": {
                            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                            "namespace": "flux-system"}}});
                    // The cap on tool calls running at once (64) answers "server busy" plainly;
                    // a client tries again, as an agent would, until the call is served.
                    let deadline = Instant::now() + Duration::from_secs(90);
                    loop {
                        let r = c.in_session(&sid, call.clone());
                        assert_eq!(r.status, 200, "session {i}: {}", r.text());
                        // A call that outlasts the keep-alive interval is answered as an SSE
                        // stream (keep-alive comments, then the answer): the last message.
                        let j: Value = r.messages().pop().unwrap_or_default();
                        match (&j["result"]["isError"], &j["error"]["message"]) {
                            (Value::Bool(false), _) => {
                                let text = j["result"]["content"][0]["text"]
                                    .as_str()
                                    .unwrap_or_default();
                                assert!(text.contains("tenants"), "session {i}: {text}");
                                ok += 1;
                                break;
                            }
                            (_, Value::String(m)) if m.starts_with("server busy") => {
                                busy += 1;
                                assert!(Instant::now() < deadline, "session {i}: busy for 90 s");
                                // Back off a little, so 136 waiting clients do not spin.
                                std::thread::sleep(Duration::from_millis(5 + (i as u64 % 20)));
                            }
                            _ => panic!("session {i}: {j}"),
                        }
                    }
                }
                let r = c.request("DELETE", "/mcp", &[("Mcp-Session-Id", &sid)], b"");
                assert_eq!(r.status, 200);
                (ok, busy)
            })
        })
        .collect();
    start.wait();
    // While all of them run.
    still_serving(addr);
    let (mut ok, mut busy) = (0, 0);
    for c in clients {
        let (o, b) = c.join().expect("a client");
        ok += o;
        busy += b;
    }
    still_serving(addr);
    let peak_kib = memory_kib(pid, "VmHWM");
    println!(
        "{SESSIONS} sessions, {} calls: {ok} answered, {busy} busy answers retried; server peak RSS {:.1} MiB, {} threads at rest",
        SESSIONS * CALLS,
        peak_kib as f64 / 1024.0,
        idle_threads
    );
    // Every call of every session was served in the end.
    assert_eq!(ok, SESSIONS * CALLS, "{busy} busy answers");
    // Bounded memory: 200 connections with their threads, 64 tool calls at once, and the
    // responses of both, in a debug build.
    assert!(peak_kib < 256 * 1024, "peak RSS {peak_kib} KiB");
    // Every connection thread and tool-call thread ends once the clients are gone.
    assert!(
        eventually(Duration::from_secs(20), || threads(pid) == idle_threads),
        "threads: {} now, {idle_threads} before the load",
        threads(pid)
    );
    let (status, _) = bin.terminate();
    assert!(status.success());
}

#[test]
fn slow_clients_are_cut_off_while_others_are_served() {
    const SLOW: usize = 100;
    let fake = Fake::new();
    let mut o = options(Endpoints::Streamable);
    // Long enough that a loaded machine opens all hundred before the first is cut off.
    o.http.header_timeout = Duration::from_secs(3);
    o.http.thread_name = "it-slowloris".into();
    let server = start(&fake, o);
    let pid = std::process::id();
    let mut slow: Vec<Conn> = (0..SLOW).map(|_| Conn::open(server.addr)).collect();
    let started = Instant::now();
    let request = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    // One byte a second from each, as long as the server lets them.
    let mut sent = 0;
    while started.elapsed() < Duration::from_secs(4) && sent < request.len() {
        let mut alive = 0;
        for c in &mut slow {
            if c.write_raw(&request[sent..=sent]).is_ok() {
                alive += 1;
            }
        }
        sent += 1;
        if sent == 1 {
            assert!(
                eventually(Duration::from_secs(10), || server.control.connections()
                    >= SLOW),
                "{} connections",
                server.control.connections()
            );
            // A connection is counted as it is accepted, its thread named just after.
            assert!(
                eventually(Duration::from_secs(10), || threads_named(
                    pid,
                    "it-slowloris"
                ) == SLOW),
                "{} threads",
                threads_named(pid, "it-slowloris")
            );
            // They hold a hundred connections; others are served all the same.
            still_serving(server.addr);
        }
        if alive == 0 {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    // The head deadline does not move with each byte: every one was cut off after ~3 s, long
    // before its 38 bytes at one a second were sent (the bound leaves room for a loaded machine).
    for c in &mut slow {
        let r = c.read_reply();
        assert_eq!(r.status, 408, "{}", r.text());
        assert!(c.closed());
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(eventually(Duration::from_secs(10), || server
        .control
        .connections()
        == 0));
    assert!(eventually(Duration::from_secs(10), || threads_named(
        pid,
        "it-slowloris"
    ) == 0));
    server.stop();
}

#[test]
fn a_ten_megabyte_body_is_refused_and_the_server_goes_on() {
    let bin = Binary::start(&["--transport=http", "--port=0"], &[]);
    let addr = bin.addr;
    let pid = bin.pid();
    let idle_threads = threads(pid);
    let body = vec![b' '; 10 << 20];
    for chunked in [false, true] {
        let mut c = Conn::open(addr);
        let head = if chunked {
            "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_string()
        } else {
            format!(
                "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
        };
        c.write_raw(head.as_bytes()).unwrap();
        let mut writer = c.stream().try_clone().unwrap();
        let data = body.clone();
        let sending = std::thread::spawn(move || {
            use std::io::Write;
            if chunked {
                for piece in data.chunks(1 << 20) {
                    let _ = write!(writer, "{:x}\r\n", piece.len());
                    if writer
                        .write_all(piece)
                        .and_then(|()| writer.write_all(b"\r\n"))
                        .is_err()
                    {
                        return;
                    }
                }
                let _ = writer.write_all(b"0\r\n\r\n");
            } else {
                let _ = writer.write_all(&data);
            }
        });
        let r = c.read_reply();
        assert_eq!(r.status, 413, "chunked {chunked}: {}", r.text());
        let j = r.json();
        assert_eq!(j["error"]["code"], json!(-32600));
        assert!(
            j["error"]["message"]
                .as_str()
                .unwrap()
                .contains("over the 4 MiB limit"),
            "{j}"
        );
        sending.join().unwrap();
        assert!(c.closed());
    }
    let mut c = Conn::open(addr);
    assert_eq!(c.modern(1, "tools/list", json!({})).status, 200);
    drop(c);
    assert!(eventually(Duration::from_secs(10), || threads(pid) == idle_threads));
    // The refused bodies were never held whole.
    assert!(
        memory_kib(pid, "VmHWM") < 64 * 1024,
        "{} KiB",
        memory_kib(pid, "VmHWM")
    );
}

#[test]
fn malformed_requests_are_refused_and_the_server_goes_on() {
    let fake = Fake::new();
    let mut o = options(Endpoints::Streamable);
    o.http.thread_name = "it-malformed".into();
    let server = start(&fake, o);
    let long_target = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(70_000));
    let many_headers = format!("GET /healthz HTTP/1.1\r\n{}\r\n", "X-A: b\r\n".repeat(150));
    let cases: Vec<(&[u8], u16)> = vec![
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /healthz\r\n\r\n", 400),
        (b"GET  /healthz HTTP/1.1\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nX: a\x00b\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nX: \xff\xfe\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", 400),
        (b"GET /he\x7fz HTTP/1.1\r\n\r\n", 400),
        (b"GET /healthz HTTP/2.0\r\n\r\n", 505),
        (
            b"POST /mcp HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
        ),
        (
            b"POST /mcp HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
            400,
        ),
        (
            b"POST /mcp HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
            400,
        ),
        (b"POST /mcp HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (
            b"POST /mcp HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            400,
        ),
        (long_target.as_bytes(), 431),
        (many_headers.as_bytes(), 431),
    ];
    for (raw, status) in cases {
        let mut c = Conn::open(server.addr);
        c.write_raw(raw).unwrap();
        let r = c.read_reply();
        let shown = String::from_utf8_lossy(&raw[..raw.len().min(60)]);
        assert_eq!(r.status, status, "{shown:?}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], json!(-32600), "{shown:?}");
        assert!(
            c.closed(),
            "{shown:?}: the connection is closed after a refusal"
        );
    }
    // Random bytes: refused or dropped, never a crash or a hang.
    let mut rng = crate::support::Rng(0x5eed);
    for _ in 0..50 {
        let len = 1 + rng.below(300);
        let junk: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let mut c = Conn::open(server.addr);
        let _ = c.write_raw(&junk);
        let _ = c.stream().shutdown(std::net::Shutdown::Write);
        let mut rest = Vec::new();
        use std::io::Read;
        let _ = c.stream().try_clone().unwrap().read_to_end(&mut rest);
    }
    still_serving(server.addr);
    assert!(eventually(Duration::from_secs(10), || server
        .control
        .connections()
        == 0));
    assert_eq!(threads_named(std::process::id(), "it-malformed"), 0);
    server.stop();
}

#[test]
fn dropped_connections_leave_nothing_behind() {
    let fake = Fake::new();
    let mut o = options(Endpoints::LegacySse);
    o.http.thread_name = "it-dropped".into();
    let server = start(&fake, o);
    let addr = server.addr;
    // Mid-request: inside the head, inside the body.
    for raw in [
        &b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty"[..],
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{\"jsonrpc\"",
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"js",
    ] {
        let mut c = Conn::open(addr);
        c.write_raw(raw).unwrap();
        drop(c);
    }
    // Mid-stream: the legacy SSE stream, a session's GET stream, a streamed tool call.
    let mut sse = Conn::open(addr);
    sse.send("GET", "/sse", &[], b"");
    sse.read_head();
    assert_eq!(sse.next_event().unwrap().0, "endpoint");
    assert_eq!(server.sessions(), 1);
    drop(sse);
    let mut c = Conn::open(addr);
    let sid = c.initialize();
    let mut get = Conn::open(addr);
    get.send(
        "GET",
        "/mcp",
        &[("Accept", "text/event-stream"), ("Mcp-Session-Id", &sid)],
        b"",
    );
    assert_eq!(get.read_head().0, 200);
    drop(get);
    let mut call = Conn::open(addr);
    let (body, headers) = modern(1, "tools/call", json!({"name": "slow", "arguments": {}}));
    call.send("POST", "/mcp", &borrowed(&headers), &body);
    assert_eq!(
        call.read_head().0,
        200,
        "the slow call turned into a stream"
    );
    assert_eq!(call.next_event().unwrap().0, "", "a keep-alive");
    drop(call);

    assert!(fake.wait_for(|running, cancelled| running == 0 && cancelled == 1));
    assert!(
        eventually(Duration::from_secs(10), || server.sessions() == 1),
        "the SSE session ended"
    );
    // The GET stream let go of its session: it can be opened again.
    let mut reopened = None;
    assert!(eventually(Duration::from_secs(10), || {
        let mut g = Conn::open(addr);
        g.send(
            "GET",
            "/mcp",
            &[("Accept", "text/event-stream"), ("Mcp-Session-Id", &sid)],
            b"",
        );
        let ok = g.read_head().0 == 200;
        if ok {
            reopened = Some(g);
        }
        ok
    }));
    drop(reopened);
    assert_eq!(
        c.request("DELETE", "/mcp", &[("Mcp-Session-Id", &sid)], b"")
            .status,
        200
    );
    drop(c);
    assert!(eventually(Duration::from_secs(10), || server
        .control
        .connections()
        == 0));
    assert!(eventually(Duration::from_secs(10), || threads_named(
        std::process::id(),
        "it-dropped"
    ) == 0));
    assert_eq!(server.sessions(), 0);
    still_serving(addr);
    server.stop();
}
