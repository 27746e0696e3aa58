//! The HTTPS/1.1 server `snapshot serve-api` answers kubectl with: TLS from `pki`'s
//! certificates, a bearer token made at start, one thread per connection, bounded (connections,
//! request head, idle time), GET and HEAD without a body only. `api::handle` decides every
//! answer; this file only moves bytes.
//!
//! It is the smallest server `api` needs, written while the product's HTTP/1.1 module
//! (`src/http`, branch `http`) is not merged: once it is, this file should move onto it and
//! keep only the TLS and token parts. Until then it reads no request body at all (a request
//! that announces one is answered and its connection closed), so it has no body framing to get
//! wrong and no smuggling surface.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;

use super::Snapshot;
use super::api::{self, Response};
use super::pki::{self, PkiError};

/// Connections served at once; one more is closed at once. kubectl opens one or two; `flux`
/// a handful; 64 leaves room for scripts and bounds the threads.
pub const MAX_CONNECTIONS: usize = 64;
/// Bytes of request line and headers (kubectl sends under 1 KB).
pub const MAX_HEAD: usize = 64 << 10;
/// Header lines in one request.
pub const MAX_HEADERS: usize = 100;
/// How long a connection may sit idle, or take to send one request head, before it is closed.
pub const IDLE: Duration = Duration::from_secs(60);

/// Why the server could not start.
#[derive(Debug)]
pub enum ServeError {
    /// The loopback port could not be bound (taken, or privileged).
    Bind {
        port: u16,
        source: io::Error,
    },
    Pki(PkiError),
    /// rustls refused the configuration (the new key, in practice).
    Tls(String),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::Bind { port, source } => {
                write!(f, "cannot listen on 127.0.0.1:{port}: {source}")
            }
            ServeError::Pki(e) => e.fmt(f),
            ServeError::Tls(e) => write!(f, "cannot set up TLS: {e}"),
        }
    }
}

impl std::error::Error for ServeError {}

/// A bound server, not yet serving: its address and kubeconfig are known, so the caller can
/// write the kubeconfig before the first request can arrive.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
    ca_pem: String,
}

/// What every connection thread reads.
struct Shared {
    snapshot: Arc<Snapshot>,
    tls: Arc<rustls::ServerConfig>,
    /// `Bearer <token>`, the whole header value a request must carry.
    authorization: String,
    token: String,
    /// `127.0.0.1:port`, for the legacy `/api` document.
    address: String,
    /// The `Date` of every answer: the capture time. A client that reads the cluster's clock
    /// from it (ours does, for ages) sees the cluster as it was, as `serve --snapshot` does.
    date: String,
    connections: AtomicUsize,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("address", &self.shared.address)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds `127.0.0.1:port` (0: any free port) and makes the certificates and the token.
    pub fn bind(snapshot: Arc<Snapshot>, port: u16) -> Result<Server, ServeError> {
        let certs = pki::generate().map_err(ServeError::Pki)?;
        let snapshot_time = snapshot.captured();
        let token = pki::token().map_err(ServeError::Pki)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ServeError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(certs.server_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certs.server_key_pkcs8.clone())),
            )
            .map_err(|e| ServeError::Tls(e.to_string()))?;
        // kubectl offers h2 first; this server speaks HTTP/1.1 only, and says so in ALPN.
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .map_err(|source| ServeError::Bind { port, source })?;
        let address = listener
            .local_addr()
            .map_err(|source| ServeError::Bind { port, source })?;
        Ok(Server {
            listener,
            shared: Arc::new(Shared {
                snapshot,
                tls: Arc::new(tls),
                authorization: format!("Bearer {token}"),
                token,
                address: address.to_string(),
                date: http_date(snapshot_time),
                connections: AtomicUsize::new(0),
            }),
            ca_pem: certs.ca_pem(),
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.shared.address)
    }

    /// A kubeconfig for this server: its CA, its token, one context named after the
    /// snapshot's (`snapshot-<context>`, so it cannot be mistaken for the live one when
    /// kubeconfigs are merged) with the snapshot's default namespace.
    pub fn kubeconfig(&self) -> String {
        use base64::Engine as _;
        let snapshot = &self.shared.snapshot;
        let name = format!("snapshot-{}", snapshot.context());
        let mut context = json!({"cluster": name, "user": name});
        if !snapshot.default_namespace().is_empty() {
            context["namespace"] = json!(snapshot.default_namespace());
        }
        let doc = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {
                "server": self.url(),
                "certificate-authority-data":
                    base64::engine::general_purpose::STANDARD.encode(&self.ca_pem),
            }}],
            "users": [{"name": name, "user": {"token": self.shared.token}}],
            "contexts": [{"name": name, "context": context}],
            "current-context": name,
        });
        serde_norway::to_string(&doc).unwrap_or_default()
    }

    /// Serves until the process ends. An accept error (out of file descriptors) is waited
    /// out briefly instead of spinning.
    pub fn run(self) {
        for stream in self.listener.incoming() {
            let stream = match stream {
                Ok(s) => s,
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            let shared = Arc::clone(&self.shared);
            if shared.connections.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                shared.connections.fetch_sub(1, Ordering::SeqCst);
                continue;
            }
            let spawned = std::thread::Builder::new()
                .name("serve-api".into())
                .spawn(move || {
                    connection(stream, &shared);
                    shared.connections.fetch_sub(1, Ordering::SeqCst);
                });
            if spawned.is_err() {
                self.shared.connections.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

/// One request head, as read.
#[derive(Debug, PartialEq, Eq)]
pub struct Head {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// `HTTP/1.0`: the connection closes after the answer.
    pub http10: bool,
    pub headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a head was refused: the status to answer with and a message naming the value.
#[derive(Debug, PartialEq, Eq)]
pub struct HeadError {
    pub status: u16,
    pub message: String,
}

fn malformed(message: String) -> HeadError {
    HeadError {
        status: 400,
        message,
    }
}

/// Parses one request head (request line and header lines, without the blank line).
pub fn parse_head(bytes: &[u8]) -> Result<Head, HeadError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| malformed("the request head is not UTF-8".into()))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().unwrap_or("");
    let clip = |s: &str| s[..crate::text::floor_char_boundary(s, 100)].to_string();
    let mut parts = request_line.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) if !m.is_empty() && !t.is_empty() => (m, t, v),
        _ => {
            return Err(malformed(format!(
                "request line {:?} is not METHOD TARGET VERSION",
                clip(request_line)
            )));
        }
    };
    if !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(malformed(format!(
            "method {:?} is not a token",
            clip(method)
        )));
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        other => {
            return Err(HeadError {
                status: 505,
                message: format!("HTTP version {:?}: expected HTTP/1.1", clip(other)),
            });
        }
    };
    if !target.starts_with('/') {
        return Err(malformed(format!(
            "request target {:?} is not a path",
            clip(target)
        )));
    }
    let (raw_path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let path = String::from_utf8(percent_decode(raw_path, false))
        .map_err(|_| malformed(format!("path {:?} is not UTF-8", clip(raw_path))))?;
    let mut query = Vec::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            String::from_utf8(percent_decode(s, true))
                .map_err(|_| malformed(format!("query {:?} is not UTF-8", clip(pair))))
        };
        query.push((decode(k)?, decode(v)?));
    }
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        if headers.len() == MAX_HEADERS {
            return Err(HeadError {
                status: 431,
                message: format!("more than {MAX_HEADERS} header lines"),
            });
        }
        // RFC 9112 §5.2: obsolete line folding is refused, not joined.
        let Some((name, value)) = line
            .split_once(':')
            .filter(|_| !line.starts_with([' ', '\t']))
        else {
            return Err(malformed(format!("header line {:?}", clip(line))));
        };
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if name.is_empty() || !name.bytes().all(token) {
            return Err(malformed(format!("header name {:?}", clip(name))));
        }
        let value = value.trim_matches([' ', '\t']);
        if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(malformed(format!(
                "header {name:?}: a control character in its value"
            )));
        }
        headers.push((name.to_string(), value.to_string()));
    }
    Ok(Head {
        method: method.to_string(),
        path,
        query,
        http10,
        headers,
    })
}

/// `%XX` decoded (an invalid escape is kept as written, as Go's server does for paths);
/// `+` is a space in a query.
fn percent_decode(s: &str, plus_is_space: bool) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| {
            bytes
                .get(j)
                .and_then(|c| (*c as char).to_digit(16))
                .map(|d| d as u8)
        };
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            (b'+', _, _) if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Where the request head ends (the index after its blank line), if it has.
fn head_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut start = 0;
    while let Some(nl) = buf.get(start..)?.iter().position(|b| *b == b'\n') {
        let line = &buf[start..start + nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() && start > 0 {
            return Some((start, start + nl + 1));
        }
        start += nl + 1;
    }
    None
}

/// What reading a head gave.
enum Read1 {
    Head(Result<Head, HeadError>),
    /// The peer closed (or went idle) between requests: nobody to answer.
    Closed,
}

/// Reads the next head from `stream`, keeping bytes after it in `buf` (a pipelined request).
/// The whole head must arrive within [`IDLE`] and [`MAX_HEAD`].
fn read_head<S: Read>(
    stream: &mut S,
    set_timeout: impl Fn(&mut S, Duration) -> io::Result<()>,
    buf: &mut Vec<u8>,
) -> Read1 {
    let started = Instant::now();
    // Blank lines before a request line are ignored (RFC 9112 §2.2).
    loop {
        let leading = buf
            .iter()
            .take_while(|b| **b == b'\r' || **b == b'\n')
            .count();
        buf.drain(..leading);
        if let Some((head_len, consumed)) = head_end(buf) {
            let head = parse_head(&buf[..head_len]);
            buf.drain(..consumed);
            return Read1::Head(head);
        }
        if buf.len() > MAX_HEAD {
            return Read1::Head(Err(HeadError {
                status: 431,
                message: format!("request head over {MAX_HEAD} bytes"),
            }));
        }
        let Some(left) = IDLE.checked_sub(started.elapsed()).filter(|d| !d.is_zero()) else {
            return Read1::Closed;
        };
        if set_timeout(stream, left).is_err() {
            return Read1::Closed;
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Read1::Closed,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_write_timeout(Some(IDLE));
    let Ok(conn) = rustls::ServerConnection::new(Arc::clone(&shared.tls)) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, stream);
    let mut buf = Vec::new();
    loop {
        let head = match read_head(&mut tls, |t, d| t.sock.set_read_timeout(Some(d)), &mut buf) {
            Read1::Closed => return,
            Read1::Head(h) => h,
        };
        let (response, head_only, close) = match head {
            Err(e) => (
                api::status(e.status, reason(e.status), &e.message, None),
                false,
                true,
            ),
            Ok(head) => {
                let (response, close) = answer(&head, shared);
                (
                    response,
                    head.method == "HEAD",
                    close || head.http10 || wants_close(&head),
                )
            }
        };
        if write_response(&mut tls, &response, &shared.date, head_only, close).is_err() || close {
            tls.conn.send_close_notify();
            let _ = tls.flush();
            return;
        }
    }
}

fn wants_close(head: &Head) -> bool {
    head.header("connection")
        .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
}

/// The answer to one head, and whether the connection must close after it (a body was
/// announced and is left unread, so the next bytes are not a request).
fn answer(head: &Head, shared: &Shared) -> (Response, bool) {
    answer_with(
        head,
        &shared.snapshot,
        &shared.authorization,
        &shared.address,
    )
}

fn answer_with(
    head: &Head,
    snapshot: &Snapshot,
    authorization: &str,
    address: &str,
) -> (Response, bool) {
    let has_body = head.header("transfer-encoding").is_some()
        || head
            .header("content-length")
            .is_some_and(|n| n.trim() != "0");
    if !same_secret(head.header("authorization").unwrap_or(""), authorization) {
        // kubectl: "error: You must be logged in to the server (Unauthorized)".
        let message = "Unauthorized: use the kubeconfig snapshot serve-api wrote (its token)";
        return (api::status(401, "Unauthorized", message, None), has_body);
    }
    if has_body && matches!(head.method.as_str(), "GET" | "HEAD") {
        let message = "a request body is not accepted: this API server only reads a snapshot";
        return (api::status(400, "BadRequest", message, None), true);
    }
    let accept = head.header("accept").unwrap_or("");
    let request = api::Request {
        method: &head.method,
        path: &head.path,
        query: &head.query,
        accept,
    };
    (api::handle(snapshot, address, &request), has_body)
}

/// Compares in time independent of where the values differ (the token is a credential).
fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "BadRequest",
        401 => "Unauthorized",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        431 => "RequestHeaderFieldsTooLarge",
        505 => "HTTPVersionNotSupported",
        _ => "InternalError",
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        410 => "Gone",
        422 => "Unprocessable Entity",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// RFC 9110 IMF-fixdate: `Sat, 21 Nov 2026 05:30:00 GMT`.
fn http_date(t: std::time::SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let text = crate::kube::time::rfc3339_utc(std::time::UNIX_EPOCH + Duration::from_secs(secs));
    // `YYYY-MM-DDTHH:MM:SS...`
    let field = |r: std::ops::Range<usize>| text.get(r).unwrap_or("00");
    let month: usize = field(5..7).parse().unwrap_or(1);
    format!(
        "{}, {} {} {} {} GMT",
        DAYS[((secs / 86_400) % 7) as usize],
        field(8..10),
        MONTHS[month.clamp(1, 12) - 1],
        field(0..4),
        field(11..19),
    )
}

/// Writes head and body in one buffer (one TLS record run, no Nagle stall between them).
fn write_response<W: Write>(
    out: &mut W,
    response: &Response,
    date: &str,
    head_only: bool,
    close: bool,
) -> io::Result<()> {
    let mut bytes = format!(
        "HTTP/1.1 {} {}\r\nDate: {date}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-cache, private\r\n",
        response.status,
        reason_phrase(response.status),
        response.content_type,
        response.body.len()
    )
    .into_bytes();
    if let Some(w) = &response.warning {
        // RFC 7234 §5.5 warn-text: a quoted string; kubectl prints it as "Warning: ...".
        let text: String = w
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>()
            .replace('\\', "\\\\")
            .replace('"', "\\\"");
        bytes.extend_from_slice(format!("Warning: 299 - \"{text}\"\r\n").as_bytes());
    }
    if close {
        bytes.extend_from_slice(b"Connection: close\r\n");
    }
    bytes.extend_from_slice(b"\r\n");
    if !head_only {
        bytes.extend_from_slice(&response.body);
    }
    out.write_all(&bytes)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Result<Head, HeadError> {
        parse_head(text.as_bytes())
    }

    #[test]
    fn heads_parse_as_rfc_9112_writes_them() {
        let h = head(
            "GET /apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux%2Dsystem/kustomizations?labelSelector=app%3Dweb+x&limit=5&watch HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept:  application/json \r\n",
        )
        .unwrap();
        assert_eq!(h.method, "GET");
        assert_eq!(
            h.path,
            "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations"
        );
        assert_eq!(
            h.query,
            [
                ("labelSelector".to_string(), "app=web x".to_string()),
                ("limit".into(), "5".into()),
                ("watch".into(), String::new()),
            ]
        );
        assert!(!h.http10);
        assert_eq!(h.header("ACCEPT"), Some("application/json"));
        // An invalid escape stays as written.
        assert_eq!(head("GET /a%zz%4 HTTP/1.0").unwrap().path, "/a%zz%4");
        assert!(head("GET / HTTP/1.0").unwrap().http10);
    }

    #[test]
    fn bad_heads_are_refused_with_the_status_and_the_value() {
        let cases = [
            ("GET /\r\n", 400, "is not METHOD TARGET VERSION"),
            ("GET  / HTTP/1.1", 400, "is not METHOD TARGET VERSION"),
            ("get / HTTP/1.1", 400, "method \"get\""),
            ("GET / HTTP/2.0", 505, "\"HTTP/2.0\""),
            ("GET http://x/ HTTP/1.1", 400, "\"http://x/\" is not a path"),
            ("GET /%ff HTTP/1.1", 400, "path \"/%ff\" is not UTF-8"),
            (
                "GET / HTTP/1.1\r\nA: b\r\n folded",
                400,
                "header line \" folded\"",
            ),
            (
                "GET / HTTP/1.1\r\nno colon",
                400,
                "header line \"no colon\"",
            ),
            (
                "GET / HTTP/1.1\r\nBad Name: x",
                400,
                "header name \"Bad Name\"",
            ),
            ("GET / HTTP/1.1\r\nA: b\x01c", 400, "control character"),
        ];
        for (text, status, wording) in cases {
            let e = head(text).unwrap_err();
            assert_eq!(e.status, status, "{text:?}: {e:?}");
            assert!(e.message.contains(wording), "{text:?}: {}", e.message);
        }
        let many = format!("GET / HTTP/1.1\r\n{}", "A: b\r\n".repeat(MAX_HEADERS + 1));
        assert_eq!(head(&many).unwrap_err().status, 431);
    }

    /// A stream fed in small pieces; reads after its end see EOF.
    struct Pieces(Vec<Vec<u8>>);

    impl Read for Pieces {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Ok(0);
            }
            let n = self.0[0].len().min(out.len());
            out[..n].copy_from_slice(&self.0[0][..n]);
            self.0[0].drain(..n);
            if self.0[0].is_empty() {
                self.0.remove(0);
            }
            Ok(n)
        }
    }

    fn read_all(pieces: &[&[u8]]) -> Vec<Result<Head, HeadError>> {
        let mut src = Pieces(pieces.iter().map(|p| p.to_vec()).collect());
        let mut buf = Vec::new();
        let mut heads = Vec::new();
        while let Read1::Head(h) = read_head(&mut src, |_, _| Ok(()), &mut buf) {
            let stop = h.is_err();
            heads.push(h);
            if stop {
                break;
            }
        }
        heads
    }

    #[test]
    fn heads_are_read_across_pieces_pipelined_and_bounded() {
        let heads = read_all(&[
            b"\r\nGET /version HT",
            b"TP/1.1\r\nHost: x\r\n\r\nGET /api HTTP/1.1\n\nGET /apis",
        ]);
        let paths: Vec<_> = heads
            .iter()
            .map(|h| h.as_ref().unwrap().path.clone())
            .collect();
        assert_eq!(
            paths,
            ["/version", "/api"],
            "a cut-off third request is not answered"
        );
        let big = vec![b'a'; MAX_HEAD + 10];
        let heads = read_all(&[b"GET / HTTP/1.1\r\nX: ", &big]);
        assert_eq!(heads.last().unwrap().as_ref().unwrap_err().status, 431);
    }

    #[test]
    fn answers_need_the_token_and_refuse_bodies_and_writes() {
        let snapshot = super::super::tests::sample();
        let auth = "Bearer s3cret";
        let with = |text: &str| {
            let h = head(&format!("{text}\r\nAuthorization: {auth}")).unwrap();
            answer_with(&h, &snapshot, auth, "127.0.0.1:1")
        };
        let (r, close) = with("GET /apis/kustomize.toolkit.fluxcd.io/v1/kustomizations HTTP/1.1");
        assert_eq!((r.status, close), (200, false));
        let list: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(list["kind"], "KustomizationList");
        let h = head("GET /version HTTP/1.1\r\nAuthorization: Bearer s3creT").unwrap();
        let (r, _) = answer_with(&h, &snapshot, auth, "x");
        assert_eq!(r.status, 401);
        assert!(!String::from_utf8_lossy(&r.body).contains("s3cret"));
        let h = head("GET /version HTTP/1.1").unwrap();
        assert_eq!(answer_with(&h, &snapshot, auth, "x").0.status, 401);
        let (r, close) = with("GET /version HTTP/1.1\r\nContent-Length: 5");
        assert_eq!((r.status, close), (400, true));
        let (r, close) =
            with("DELETE /api/v1/namespaces/apps/pods/x HTTP/1.1\r\nTransfer-Encoding: chunked");
        assert_eq!((r.status, close), (405, true));
        let (r, close) = with("POST /api/v1/namespaces HTTP/1.1\r\nContent-Length: 0");
        assert_eq!((r.status, close), (405, false));
    }

    #[test]
    fn responses_are_framed_and_warnings_quoted() {
        let r = Response {
            status: 200,
            content_type: "application/json".into(),
            body: b"{}".to_vec(),
            warning: Some("partial \"list\"\r\nInjected: yes".into()),
        };
        let mut out = Vec::new();
        write_response(&mut out, &r, "D", false, true).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\nDate: D\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\
             Cache-Control: no-cache, private\r\nWarning: 299 - \"partial \\\"list\\\"  Injected: yes\"\r\n\
             Connection: close\r\n\r\n{}"
        );
        let mut out = Vec::new();
        write_response(&mut out, &r, "D", true, false).unwrap();
        assert!(String::from_utf8(out).unwrap().ends_with("Content-Length: 2\r\nCache-Control: no-cache, private\r\nWarning: 299 - \"partial \\\"list\\\"  Injected: yes\"\r\n\r\n"));
        let t = std::time::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(http_date(t), "Wed, 18 Nov 2026 11:06:40 GMT");
        assert_eq!(
            crate::kube::time::parse_http_date(&http_date(t)),
            Some(t),
            "our client reads it back"
        );
        assert_eq!(
            http_date(std::time::UNIX_EPOCH),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abd", "abc"));
        assert!(!same_secret("abcd", "abc"));
    }
}
