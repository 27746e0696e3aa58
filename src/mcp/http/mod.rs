//! The HTTP transports: Streamable HTTP at `/mcp` (stateless MCP 2026-07-28, and sessions for
//! clients of the 2025 revisions), the legacy HTTP+SSE transport at `/sse` + `/message`
//! (2024-11-05, deprecated), and `GET /healthz`. Served by `crate::http`'s thread-per-connection
//! server; every request first passes the [`guard::Guard`] (Host/Origin, bearer token).
//!
//! Lifetimes as on stdio: one [`Server`] for the process; a [`Session`] per `Mcp-Session-Id`
//! or SSE stream, or a fresh one per stateless request; a [`Reply`] per request, whose answer
//! the waiting exchange writes as JSON, or as an SSE stream when notifications come first or
//! the answer takes long (keep-alive comments). A client that closes its exchange cancels the
//! call it was waiting for. SIGTERM stops accepting, lets pending answers out for up to
//! [`Options::drain_timeout`], closes the streams and returns.
//!
//! [`Session`]: super::session::Session
//! [`Reply`]: super::connection::Reply

pub mod guard;
mod legacy;
pub mod sessions;
mod streamable;

use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::message::{Message, RequestId, Response, code};
use super::server::{Server, Service};
use super::signal;
use crate::http::server::{self as http_server, Control, Exchange, Handler};
use crate::http::{Request, Response as HttpResponse};
use crate::sync::{lock, unpoisoned};
use guard::{Guard, Refusal};
pub use guard::{Token, TokenError};
use sessions::{SessionLimits, Sessions};

/// Which endpoints are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoints {
    /// Streamable HTTP at `/mcp` (`--transport http`).
    Streamable,
    /// The legacy HTTP+SSE transport at `/sse` and `/message`, and Streamable HTTP at `/mcp`
    /// beside it, as the MCP specification advises for servers that keep old clients working
    /// (`--transport sse`).
    LegacySse,
}

/// How the HTTP transports run. Every field's default is in [`Options::new`].
#[derive(Debug, Clone)]
pub struct Options {
    pub listen: SocketAddr,
    pub endpoints: Endpoints,
    /// Clients must send `Authorization: Bearer` with this token. Default none.
    pub token: Option<Token>,
    /// Connections, timeouts and request limits. Default [`http_server::Options::default`]
    /// with thread name `mcp-http`.
    pub http: http_server::Options,
    /// Default [`SessionLimits::default`].
    pub sessions: SessionLimits,
    /// How often a quiet stream gets a keep-alive comment, and how long an answer may take
    /// before its exchange turns into an SSE stream to carry them. Default 15 s.
    pub keepalive: Duration,
    /// After SIGTERM, how long pending answers may take. Default 5 s.
    pub drain_timeout: Duration,
}

impl Options {
    pub fn new(listen: SocketAddr, endpoints: Endpoints) -> Options {
        Options {
            listen,
            endpoints,
            token: None,
            http: http_server::Options {
                thread_name: "mcp-http".into(),
                ..http_server::Options::default()
            },
            sessions: SessionLimits::default(),
            keepalive: Duration::from_secs(15),
            drain_timeout: Duration::from_secs(5),
        }
    }
}

/// How often a waiting exchange checks whether its client is still there.
const POLL: Duration = Duration::from_millis(100);

/// The handler behind the HTTP server: routing, the guard, the sessions.
pub(crate) struct Transport<S: Service> {
    server: Server<S>,
    endpoints: Endpoints,
    guard: Guard,
    sessions: Sessions<S>,
    keepalive: Duration,
    /// Requests whose answer is being waited for (not streams): what shutdown drains.
    answering: Counter,
}

/// A count one can wait to see at zero.
#[derive(Default)]
struct Counter {
    n: Mutex<usize>,
    zero: Condvar,
}

impl Counter {
    fn hold(&self) -> Held<'_> {
        *lock(&self.n) += 1;
        Held(self)
    }

    fn wait_zero(&self, timeout: Duration) -> usize {
        let n = lock(&self.n);
        *unpoisoned(self.zero.wait_timeout_while(n, timeout, |n| *n > 0)).0
    }
}

struct Held<'a>(&'a Counter);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut n = lock(&self.0.n);
        *n = n.saturating_sub(1);
        self.0.zero.notify_all();
    }
}

/// A JSON-RPC error as an HTTP response: how every transport-level refusal reads, so that a
/// dual-era client recognises a modern server's 4xx (MCP 2026-07-28, Backward Compatibility).
fn rpc_error(status: u16, id: Option<RequestId>, code: i64, message: String) -> HttpResponse {
    rpc_error_with(status, Response::err(id, code, message))
}

fn rpc_error_with(status: u16, response: Response) -> HttpResponse {
    HttpResponse::json(status, Message::Response(response).to_line())
}

impl<S: Service> Handler for Transport<S> {
    fn handle(&self, request: Request, exchange: &mut Exchange<'_>) {
        let answer = self.route(request, exchange);
        if let Some(resp) = answer {
            let _ = exchange.respond(&resp);
        }
    }

    fn refusal(&self, status: u16, message: &str) -> HttpResponse {
        // The server failing (busy, broken) is internal; a request it cannot read (an HTTP
        // version or coding it does not speak included) is an invalid request.
        let code = match status {
            500 | 503 => code::INTERNAL_ERROR,
            _ => code::INVALID_REQUEST,
        };
        rpc_error(status, None, code, message.to_string())
    }
}

impl<S: Service> Transport<S> {
    /// Answer `request`, or return the response to write (`None`: already answered).
    fn route(&self, request: Request, exchange: &mut Exchange<'_>) -> Option<HttpResponse> {
        if let Err(refusal) = self.guard.check_origin(&request) {
            return Some(refused(&refusal));
        }
        let path = request.path.as_str();
        if path == "/healthz" {
            return Some(match request.method.as_str() {
                "GET" => HttpResponse::text(200, "ok\n"),
                _ => not_allowed("GET"),
            });
        }
        if let Err(refusal) = self.guard.check_auth(&request) {
            return Some(refused(&refusal));
        }
        let legacy = self.endpoints == Endpoints::LegacySse;
        match path {
            "/mcp" => streamable::handle(self, request, exchange),
            "/sse" if legacy => legacy::open(self, &request, exchange),
            "/message" if legacy => legacy::post(self, &request),
            _ => {
                let hint = match self.endpoints {
                    Endpoints::Streamable => "the MCP endpoint is /mcp",
                    Endpoints::LegacySse => "the MCP endpoints are /sse (legacy SSE) and /mcp",
                };
                Some(rpc_error(
                    404,
                    None,
                    code::INVALID_REQUEST,
                    format!("not found: {path}; {hint}"),
                ))
            }
        }
    }
}

fn refused(refusal: &Refusal) -> HttpResponse {
    let resp = rpc_error(
        refusal.status(),
        None,
        code::INVALID_REQUEST,
        refusal.message(),
    );
    match refusal.challenge() {
        Some(c) => resp.with_header("WWW-Authenticate", c),
        None => resp,
    }
}

fn not_allowed(allow: &str) -> HttpResponse {
    rpc_error(
        405,
        None,
        code::INVALID_REQUEST,
        format!("method not allowed: use {allow}"),
    )
    .with_header("Allow", allow)
}

/// Whether an `Accept` header takes `media` (`*/*` and `type/*` included).
fn accepts(request: &Request, media: &str) -> bool {
    let Some(accept) = request.header("accept") else {
        return false;
    };
    let family = media.split('/').next().unwrap_or_default();
    accept.split(',').any(|part| {
        let m = part.split(';').next().unwrap_or_default().trim();
        m.eq_ignore_ascii_case(media)
            || m == "*/*"
            || m.strip_suffix("/*")
                .is_some_and(|f| f.eq_ignore_ascii_case(family))
    })
}

/// A bound server, ready to run. Binding spawns no thread, so signals can be set up between
/// [`bind`] and [`Listener::run`] (they must be before any thread exists).
pub struct Listener<S: Service> {
    server: http_server::Server<Transport<S>>,
    transport: Arc<Transport<S>>,
    drain_timeout: Duration,
}

/// Bind `options.listen` and prepare the transports for `service`.
pub fn bind<S: Service>(service: Arc<S>, options: Options) -> io::Result<Listener<S>> {
    let server = Server::new(service);
    let transport = Arc::new(Transport {
        sessions: Sessions::new(server.clone(), options.sessions),
        server,
        endpoints: options.endpoints,
        guard: Guard::new(options.listen.ip(), options.token),
        keepalive: options.keepalive,
        answering: Counter::default(),
    });
    let http = http_server::Server::bind(options.listen, transport.clone(), options.http)?;
    Ok(Listener {
        server: http,
        transport,
        drain_timeout: options.drain_timeout,
    })
}

/// What is left after a stop: `pending` answers not sent in time, `open` connections not yet
/// closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    pub pending: usize,
    pub open: usize,
}

impl<S: Service> Listener<S> {
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn control(&self) -> Control {
        self.server.control()
    }

    /// Serve until [`Control::stop`]; then let pending answers out (up to the drain timeout),
    /// close every stream and wait briefly for connections to close.
    pub fn run(self) -> Stopped {
        let control = self.server.control();
        let transport = self.transport.clone();
        let drain = self.drain_timeout;
        self.server.run();
        let deadline = Instant::now() + drain;
        let left = || deadline.saturating_duration_since(Instant::now());
        let mut pending = transport.answering.wait_zero(left());
        // Legacy SSE answers travel on their session's stream: wait for those calls too.
        pending += transport.sessions.drain(left());
        transport.sessions.close_streams();
        let open = control.wait_closed(left().max(Duration::from_millis(500)));
        Stopped { pending, open }
    }

    /// [`Listener::run`] on a thread of its own (tests, benchmarks).
    pub fn spawn(self) -> io::Result<Running> {
        let addr = self.local_addr();
        let control = self.control();
        let sessions: Arc<dyn Fn() -> usize + Send + Sync> = {
            let t = self.transport.clone();
            Arc::new(move || t.sessions.len())
        };
        let thread = std::thread::Builder::new()
            .name("mcp-http-accept".into())
            .spawn(move || self.run())?;
        Ok(Running {
            addr,
            control,
            sessions,
            thread,
        })
    }
}

/// A server running on its own thread.
pub struct Running {
    pub addr: SocketAddr,
    pub control: Control,
    sessions: Arc<dyn Fn() -> usize + Send + Sync>,
    thread: std::thread::JoinHandle<Stopped>,
}

impl Running {
    /// Sessions held now.
    pub fn sessions(&self) -> usize {
        (self.sessions)()
    }

    /// Stop as SIGTERM does and wait for it.
    pub fn stop(self) -> Stopped {
        self.control.stop();
        self.thread.join().unwrap_or(Stopped {
            pending: 0,
            open: self.control.connections(),
        })
    }
}

/// One line on stderr; dropped if stderr is gone (as stdio's log).
fn log(message: std::fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "flux-operator-mcp: {message}");
}

/// `serve --transport http|sse`: bind, say where, serve until SIGINT/SIGTERM, drain, exit 0.
pub fn serve<S: Service>(service: Arc<S>, options: Options) -> ExitCode {
    let endpoints = options.endpoints;
    let authenticated = options.token.is_some();
    let listener = match bind(service, options) {
        Ok(l) => l,
        Err(e) => {
            log(format_args!("cannot listen: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr();
    // Before any thread exists, so that every thread inherits the blocked signals.
    let control = listener.control();
    signal::watch(move |sig| {
        log(format_args!(
            "signal {sig}: no new connections; answering what is pending"
        ));
        control.stop();
    });
    let base = format!("http://{addr}");
    match endpoints {
        Endpoints::Streamable => log(format_args!(
            "serving MCP over Streamable HTTP at {base}/mcp (health: {base}/healthz)"
        )),
        Endpoints::LegacySse => {
            log(format_args!(
                "serving MCP over the legacy HTTP+SSE transport at {base}/sse, and Streamable HTTP at {base}/mcp (health: {base}/healthz)"
            ));
            log(format_args!(
                "the HTTP+SSE transport is deprecated by the MCP specification: move clients to --transport http (Streamable HTTP, {base}/mcp)"
            ));
        }
    }
    if !addr.ip().is_loopback() && !authenticated {
        log(format_args!(
            "warning: listening on {addr} without authentication: anyone who can reach it acts with this server's Kubernetes credentials; set --auth-token-file"
        ));
    }
    let stopped = listener.run();
    if stopped.pending > 0 {
        log(format_args!(
            "stopped with {} answer(s) still pending",
            stopped.pending
        ));
    }
    ExitCode::SUCCESS
}

/// The `data` of an `endpoint` or `message` event, and keep-alive comments, as bytes to send.
fn sse_message(message: &Message) -> Vec<u8> {
    let line = String::from_utf8_lossy(&message.to_line()).into_owned();
    let mut out = Vec::with_capacity(line.len() + 24);
    crate::http::response::sse_event(&mut out, Some("message"), &line);
    out
}

fn sse_keepalive() -> Vec<u8> {
    let mut out = Vec::new();
    crate::http::response::sse_comment(&mut out, "keep-alive");
    out
}

/// Response headers of every SSE stream: no caching, no proxy buffering (MCP 2026-07-28:
/// servers SHOULD send `X-Accel-Buffering: no`).
fn sse_headers() -> Vec<(String, String)> {
    vec![
        ("Cache-Control".into(), "no-cache".into()),
        ("X-Accel-Buffering".into(), "no".into()),
    ]
}
