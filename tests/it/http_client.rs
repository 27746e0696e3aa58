//! A small blocking HTTP/1.1 client for the tests and benchmarks of the HTTP transports: one
//! keep-alive connection, whole responses or chunked streams read piece by piece, SSE events,
//! and the MCP headers of both generations. Bodies are read with the product's own body
//! reader; the status line and headers are parsed here.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use flux_operator_mcp::http::request::{self, Framing, Head, Limits};
use serde_json::{Value, json};

/// How long any single read may block before a test fails.
pub const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// One response, whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        request::first_value(&self.headers, name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The JSON-RPC messages of the body: the one JSON object, or the `message` events of an
    /// SSE stream.
    #[track_caller]
    pub fn messages(&self) -> Vec<Value> {
        if !self
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/event-stream"))
        {
            return vec![self.json()];
        }
        let text = self.text();
        let mut out = Vec::new();
        for block in text.split("\n\n") {
            let mut name = "";
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            if name == "message" {
                out.push(serde_json::from_str(&data.join("\n")).expect("event data is JSON"));
            }
        }
        out
    }

    /// The body as JSON; panics with the body when it is not.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                self.text()
            )
        })
    }
}

/// A keep-alive connection.
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    host: String,
    /// What is left of the chunk being read by `next_chunk`.
    pending: Vec<u8>,
    /// Text of a stream not yet split into SSE events.
    events: String,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        s.set_read_timeout(Some(READ_TIMEOUT))
            .expect("read timeout");
        let _ = s.set_nodelay(true);
        Conn {
            reader: BufReader::new(s.try_clone().expect("clone")),
            writer: s,
            host: addr.to_string(),
            pending: Vec::new(),
            events: String::new(),
        }
    }

    pub fn stream(&self) -> &TcpStream {
        &self.writer
    }

    /// Write a request: `Host` (unless given) and `Content-Length` are added.
    pub fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) {
        let mut out = format!("{method} {path} HTTP/1.1\r\n");
        if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
            out += &format!("Host: {}\r\n", self.host);
        }
        for (n, v) in headers {
            out += &format!("{n}: {v}\r\n");
        }
        if !body.is_empty() || method == "POST" {
            out += &format!("Content-Length: {}\r\n", body.len());
        }
        out += "\r\n";
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(body);
        self.writer.write_all(&bytes).expect("write request");
    }

    pub fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes)
    }

    /// Status and headers of the next response (a `100 Continue` is skipped).
    pub fn read_head(&mut self) -> (u16, Vec<(String, String)>) {
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("status line");
            let status: u16 = line
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("no status line: {line:?}"));
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                self.reader.read_line(&mut h).expect("header line");
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (n, v) = h.split_once(':').unwrap_or((h, ""));
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
            if status != 100 {
                self.pending.clear();
                self.events.clear();
                return (status, headers);
            }
        }
    }

    fn framing(headers: &[(String, String)]) -> Framing {
        let head = Head {
            method: "GET".into(),
            target: "/".into(),
            minor: 1,
            headers: headers.to_vec(),
        };
        head.framing(&unlimited()).expect("response framing")
    }

    /// The next whole response.
    pub fn read_reply(&mut self) -> Reply {
        let (status, headers) = self.read_head();
        let body = request::read_body(&mut self.reader, Self::framing(&headers), &unlimited())
            .expect("response body");
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        self.send(method, path, headers, body);
        self.read_reply()
    }

    /// The next chunk of a chunked body; `None` at its end.
    pub fn next_chunk(&mut self) -> Option<Vec<u8>> {
        let mut line = String::new();
        self.reader.read_line(&mut line).ok()?;
        let size = usize::from_str_radix(line.trim(), 16).ok()?;
        if size == 0 {
            let mut end = String::new();
            let _ = self.reader.read_line(&mut end);
            return None;
        }
        let mut data = vec![0; size + 2];
        self.reader.read_exact(&mut data).ok()?;
        data.truncate(size);
        Some(data)
    }

    /// The next SSE event of a chunked stream: its `event` name (empty for a comment) and its
    /// data; `None` when the stream ends.
    pub fn next_event(&mut self) -> Option<(String, String)> {
        loop {
            if let Some(end) = self.events.find("\n\n") {
                let block: String = self.events.drain(..end + 2).collect();
                let mut name = String::new();
                let mut data = Vec::new();
                let mut comment = false;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
                    } else if line.starts_with(':') {
                        comment = true;
                    }
                }
                if comment && data.is_empty() {
                    return Some((String::new(), block.trim().to_string()));
                }
                return Some((name, data.join("\n")));
            }
            let chunk = self.next_chunk()?;
            self.events.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next `message` event's JSON, skipping keep-alive comments.
    pub fn next_message(&mut self) -> Option<Value> {
        loop {
            let (name, data) = self.next_event()?;
            if name == "message" {
                return Some(serde_json::from_str(&data).expect("event data is JSON"));
            }
        }
    }

    /// Whether the server has closed the connection (a read returns end of file).
    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.reader.read(&mut b), Ok(0) | Err(_))
    }
}

fn unlimited() -> Limits {
    Limits {
        max_body: usize::MAX,
        ..Limits::default()
    }
}

/// The stateless protocol version.
pub const MODERN: &str = "2026-07-28";

/// The `_meta` a 2026-07-28 request carries.
pub fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "it", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    })
}

/// A 2026-07-28 request: the body (with `_meta` added to `params`) and its headers.
pub fn modern(id: i64, method: &str, mut params: Value) -> (Vec<u8>, Vec<(String, String)>) {
    params["_meta"] = meta();
    let mut headers = vec![
        ("Content-Type".to_string(), "application/json".to_string()),
        (
            "Accept".into(),
            "application/json, text/event-stream".into(),
        ),
        ("MCP-Protocol-Version".into(), MODERN.into()),
        ("Mcp-Method".into(), method.into()),
    ];
    if let Some(name) = params.get("name").and_then(Value::as_str) {
        headers.push(("Mcp-Name".into(), name.into()));
    }
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    (body.to_string().into_bytes(), headers)
}

/// Headers as the `&[(&str, &str)]` that [`Conn::send`] takes.
pub fn borrowed(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

impl Conn {
    /// POST a 2026-07-28 request to `/mcp` and read the whole reply.
    pub fn modern(&mut self, id: i64, method: &str, params: Value) -> Reply {
        let (body, headers) = modern(id, method, params);
        self.request("POST", "/mcp", &borrowed(&headers), &body)
    }

    /// POST a message of a 2025 session (`sid`) to `/mcp`.
    pub fn in_session(&mut self, sid: &str, message: Value) -> Reply {
        let headers = [
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
            ("MCP-Protocol-Version", "2025-11-25"),
            ("Mcp-Session-Id", sid),
        ];
        self.request("POST", "/mcp", &headers, message.to_string().as_bytes())
    }

    /// `initialize` a 2025 session; its id.
    #[track_caller]
    pub fn initialize(&mut self) -> String {
        let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "it", "version": "1"}}});
        let headers = [
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ];
        let r = self.request("POST", "/mcp", &headers, body.to_string().as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["result"]["protocolVersion"], json!("2025-11-25"));
        let sid = r
            .header("mcp-session-id")
            .expect("Mcp-Session-Id")
            .to_string();
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let r = self.in_session(&sid, note);
        assert_eq!(r.status, 202, "{}", r.text());
        sid
    }
}

/// The threads of process `pid` whose name starts with `prefix` (`/proc/PID/task/*/comm`).
pub fn threads_named(pid: u32, prefix: &str) -> usize {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.trim_end().starts_with(prefix))
        })
        .count()
}

/// All threads of process `pid`.
pub fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |t| t.count())
}

/// A `VmHWM`/`VmRSS` figure of process `pid` in KiB.
pub fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Check `done` until it holds or `within` passes; whether it held. For state of another
/// process or of threads that cannot signal us.
pub fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    loop {
        if done() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
