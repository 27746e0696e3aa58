//! A blocking HTTP/1.1 server on `std::net`: one thread per connection up to a cap, keep-alive,
//! and the limits that keep a client from holding a thread or memory: an idle timeout between
//! requests, a deadline for the head and one for the body (a client that sends a byte a second
//! is cut off; the deadline is set before every read, so trickling does not extend it), a write
//! timeout (a client that stops reading), a per-request body limit and a budget for the bodies
//! of all connections together. [`Control`] stops it: no new connections, idle keep-alive
//! connections closed at once, busy ones after their exchange.
//!
//! A [`Handler`] gets each request with its [`Exchange`], through which it answers whole or as a
//! chunked stream, and can ask whether the peer has gone (a closed connection cancels work).

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::request::{self, Framing, Limits, Request};
use super::response::{self, BodyFraming, Response};
use crate::sync::{lock, unpoisoned};

/// Sizes and times the server keeps to. Every field's default is in [`Options::default`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Connections served at once, each on its own thread; one more is answered 503 and
    /// closed. Default 1024.
    pub max_connections: usize,
    /// From the first byte of a request to the end of its head. Default 10 s.
    pub header_timeout: Duration,
    /// From the end of the head to the end of the body. Default 30 s.
    pub body_timeout: Duration,
    /// How long a connection may wait for its next request (and a new one for its first).
    /// Default 60 s.
    pub idle_timeout: Duration,
    /// How long one write may block on a client that does not read. Default 30 s.
    pub write_timeout: Duration,
    /// Head and body limits of one request. Default [`Limits::default`].
    pub limits: Limits,
    /// Bytes of request bodies held by all connections together; a request whose body would go
    /// over it is answered 503 without being read. Default 64 MiB.
    pub body_budget: usize,
    /// The name of connection threads (shown by `ps -T` and debuggers). Default "http".
    pub thread_name: String,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            limits: Limits::default(),
            body_budget: 64 << 20,
            thread_name: "http".into(),
        }
    }
}

/// Stack of a connection thread: it parses and answers requests; work that needs more runs on
/// threads of its own (tool calls do).
const STACK_SIZE: usize = 1 << 20;

/// After refusing a request we close the connection; first we read what the client is still
/// sending for this long (at most [`LINGER_BYTES`]), so that closing with unread data does not
/// reset the connection before the client has read our answer (RFC 9112 §9.6).
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: u64 = 64 << 20;

/// What answers requests.
pub trait Handler: Send + Sync + 'static {
    /// Answer `request` through `exchange`. A handler that writes nothing gets the connection
    /// closed.
    fn handle(&self, request: Request, exchange: &mut Exchange<'_>);

    /// The answer to a request refused before it reached [`Handler::handle`]: malformed, over
    /// a limit, too slow, or the server is full. Plain text unless the handler says otherwise.
    fn refusal(&self, status: u16, message: &str) -> Response {
        Response::text(status, format!("{message}\n"))
    }
}

/// Stops a running server and tells how many connections are open. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Control {
    inner: Arc<ControlState>,
}

#[derive(Debug)]
struct ControlState {
    stopping: AtomicBool,
    local: SocketAddr,
    connections: Mutex<Connections>,
    closed: Condvar,
    /// Body bytes still free under [`Options::body_budget`].
    budget: AtomicUsize,
}

#[derive(Debug, Default)]
struct Connections {
    next: u64,
    /// Each open connection: a handle on its socket (to close it when the server stops while it
    /// waits for a request) and whether it is waiting.
    open: HashMap<u64, (TcpStream, Arc<AtomicBool>)>,
}

impl Control {
    /// Stop: accept nothing more, close connections that wait for a request; connections in
    /// the middle of an exchange finish it, then close. Idempotent.
    pub fn stop(&self) {
        if self.inner.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // Wake the accept loop, blocked in accept(2), with a connection of our own.
        let mut wake = self.inner.local;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        for (stream, idle) in lock(&self.inner.connections).open.values() {
            if idle.load(Ordering::SeqCst) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }

    pub fn stopping(&self) -> bool {
        self.inner.stopping.load(Ordering::SeqCst)
    }

    /// Connections open now (each has a thread).
    pub fn connections(&self) -> usize {
        lock(&self.inner.connections).open.len()
    }

    /// Wait until no connection is open, at most `timeout`; returns how many still are.
    pub fn wait_closed(&self, timeout: Duration) -> usize {
        let conns = lock(&self.inner.connections);
        let (conns, _) = unpoisoned(
            self.inner
                .closed
                .wait_timeout_while(conns, timeout, |c| !c.open.is_empty()),
        );
        conns.open.len()
    }

    /// The address the server listens on (with the port the system chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    fn register(&self, stream: &TcpStream) -> Option<(u64, Arc<AtomicBool>)> {
        let clone = stream.try_clone().ok()?;
        let idle = Arc::new(AtomicBool::new(true));
        let mut conns = lock(&self.inner.connections);
        let id = conns.next;
        conns.next += 1;
        conns.open.insert(id, (clone, idle.clone()));
        Some((id, idle))
    }

    fn forget(&self, id: u64) {
        lock(&self.inner.connections).open.remove(&id);
        self.inner.closed.notify_all();
    }

    /// Take `n` bytes of the body budget, or `None` when that would go over it.
    fn reserve(&self, n: usize) -> Option<Reservation<'_>> {
        self.inner
            .budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |free| {
                free.checked_sub(n)
            })
            .ok()
            .map(|_| Reservation { control: self, n })
    }
}

/// Body bytes taken from the budget, given back when dropped.
struct Reservation<'a> {
    control: &'a Control,
    n: usize,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.control
            .inner
            .budget
            .fetch_add(self.n, Ordering::SeqCst);
    }
}

/// A bound listener with its handler; [`Server::run`] serves until [`Control::stop`].
pub struct Server<H: Handler> {
    listener: TcpListener,
    handler: Arc<H>,
    options: Arc<Options>,
    control: Control,
}

impl<H: Handler> Server<H> {
    /// Listen on `addr` (port 0: one the system picks; see [`Server::local_addr`]).
    pub fn bind(addr: SocketAddr, handler: Arc<H>, options: Options) -> io::Result<Server<H>> {
        Server::from_listener(TcpListener::bind(addr)?, handler, options)
    }

    pub fn from_listener(
        listener: TcpListener,
        handler: Arc<H>,
        options: Options,
    ) -> io::Result<Server<H>> {
        let local = listener.local_addr()?;
        let control = Control {
            inner: Arc::new(ControlState {
                stopping: AtomicBool::new(false),
                local,
                connections: Mutex::new(Connections::default()),
                closed: Condvar::new(),
                budget: AtomicUsize::new(options.body_budget),
            }),
        };
        Ok(Server {
            listener,
            handler,
            options: Arc::new(options),
            control,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.control.local_addr()
    }

    pub fn control(&self) -> Control {
        self.control.clone()
    }

    /// Accept and serve connections until [`Control::stop`]; then the listener is closed (new
    /// connections are refused) while open connections finish on their threads.
    pub fn run(self) {
        for stream in self.listener.incoming() {
            if self.control.stopping() {
                break;
            }
            let stream = match stream {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors: wait for connections to close instead of
                    // spinning on an accept that fails at once.
                    if matches!(e.raw_os_error(), Some(23 | 24)) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    continue;
                }
            };
            self.spawn(stream);
        }
    }

    fn spawn(&self, stream: TcpStream) {
        if self.control.connections() >= self.options.max_connections {
            let msg = format!(
                "server busy: {} connections are open",
                self.options.max_connections
            );
            let resp = self
                .handler
                .refusal(503, &msg)
                .with_header("Retry-After", "1");
            let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = response::write_response(&mut &stream, &resp, true, false, usize::MAX);
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        let Some((id, idle)) = self.control.register(&stream) else {
            return;
        };
        let handler = self.handler.clone();
        let options = self.options.clone();
        let control = self.control.clone();
        let spawned = std::thread::Builder::new()
            .name(self.options.thread_name.clone())
            .stack_size(STACK_SIZE)
            .spawn(move || {
                serve_connection(&stream, &idle, &*handler, &options, &control);
                let _ = stream.shutdown(Shutdown::Both);
                control.forget(id);
            });
        if spawned.is_err() {
            // The closure (and the stream in it) is gone: the client sees the connection close.
            self.control.forget(id);
        }
    }
}

/// A socket read that fails with `TimedOut` once `deadline` has passed. The socket's timeout
/// is set to what is left before every read, so a client trickling bytes cannot push the
/// deadline back.
struct Timed<'a> {
    stream: &'a TcpStream,
    deadline: Instant,
}

impl Read for Timed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self
            .deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "deadline passed"))?;
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

fn serve_connection<H: Handler>(
    stream: &TcpStream,
    idle: &AtomicBool,
    handler: &H,
    options: &Options,
    control: &Control,
) {
    // Small answers and SSE events must leave at once, not wait for an ACK (Nagle).
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(options.write_timeout));
    let limits = &options.limits;
    let mut reader = BufReader::with_capacity(
        8 << 10,
        Timed {
            stream,
            deadline: Instant::now(),
        },
    );
    loop {
        idle.store(true, Ordering::SeqCst);
        if control.stopping() {
            return;
        }
        reader.get_mut().deadline = Instant::now() + options.idle_timeout;
        match reader.fill_buf() {
            Ok([]) | Err(_) => return,
            Ok(_) => {}
        }
        idle.store(false, Ordering::SeqCst);
        let refuse = |reader: &mut BufReader<Timed<'_>>, status: u16, message: &str| {
            let resp = handler.refusal(status, message);
            let _ = response::write_response(&mut &*stream, &resp, true, false, usize::MAX);
            linger(reader);
        };
        reader.get_mut().deadline = Instant::now() + options.header_timeout;
        let head = match request::read_head(&mut reader, limits) {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(e) => {
                if e.is_timeout() {
                    refuse(&mut reader, 408, "request head not received in time");
                } else if let Some(status) = e.status() {
                    refuse(&mut reader, status, &e.to_string());
                }
                return;
            }
        };
        let framing = match head.framing(limits) {
            Ok(f) => f,
            Err(e) => {
                refuse(&mut reader, e.status().unwrap_or(400), &e.to_string());
                return;
            }
        };
        let wanted = match framing {
            Framing::None => 0,
            // Bounded by limits.max_body in `framing`.
            Framing::Length(n) => n as usize,
            Framing::Chunked => limits.max_body,
        };
        let Some(reservation) = control.reserve(wanted) else {
            refuse(
                &mut reader,
                503,
                "server busy: too many request bodies in flight",
            );
            return;
        };
        if framing != Framing::None && head.expects_continue() {
            let _ = (&*stream).write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        reader.get_mut().deadline = Instant::now() + options.body_timeout;
        let body = match request::read_body(&mut reader, framing, limits) {
            Ok(body) => body,
            Err(e) => {
                if e.is_timeout() {
                    refuse(&mut reader, 408, "request body not received in time");
                } else if let Some(status) = e.status() {
                    refuse(&mut reader, status, &e.to_string());
                }
                return;
            }
        };
        let request = Request::new(head, body);
        let mut exchange = Exchange {
            stream,
            minor: request.minor,
            close: request.wants_close() || control.stopping(),
            state: State::Fresh,
            pipelined: !reader.buffer().is_empty(),
            control,
            out: Vec::new(),
        };
        handler.handle(request, &mut exchange);
        drop(reservation);
        if exchange.state == State::Streaming {
            // A stream the handler left open cannot be followed by another response.
            let _ = exchange.finish();
            exchange.close = true;
        }
        if exchange.close || exchange.state != State::Done {
            return;
        }
    }
}

/// Read and drop what the client still sends, within [`LINGER`] and [`LINGER_BYTES`], after
/// shutting down our side.
fn linger(reader: &mut BufReader<Timed<'_>>) {
    let _ = reader.get_ref().stream.shutdown(Shutdown::Write);
    reader.get_mut().deadline = Instant::now() + LINGER;
    let _ = io::copy(&mut reader.take(LINGER_BYTES), &mut io::sink());
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Fresh,
    Streaming,
    Done,
    /// A write failed: the connection is unusable.
    Broken,
}

/// One request's side of the connection: how its handler answers.
pub struct Exchange<'a> {
    stream: &'a TcpStream,
    minor: u8,
    close: bool,
    state: State,
    /// Bytes of a next request already arrived: the peer is there, whatever `peek` would say.
    pipelined: bool,
    control: &'a Control,
    out: Vec<u8>,
}

impl Exchange<'_> {
    /// Close the connection after this exchange (`Connection: close` is sent with the answer).
    pub fn close_after(&mut self) {
        self.close = true;
    }

    /// Whether the server is stopping (a long stream should wind down).
    pub fn stopping(&self) -> bool {
        self.control.stopping()
    }

    /// Answer with a whole response.
    pub fn respond(&mut self, resp: &Response) -> io::Result<()> {
        if self.state != State::Fresh {
            return Err(io::Error::other("this exchange has already answered"));
        }
        let result =
            response::write_response(&mut &*self.stream, resp, self.close, false, usize::MAX);
        self.state = if result.is_ok() {
            State::Done
        } else {
            State::Broken
        };
        result
    }

    /// Start a streamed answer: the head now, the body in [`Exchange::send`]s, ended by
    /// [`Exchange::finish`]. Chunked for HTTP/1.1; for an HTTP/1.0 client the body runs
    /// until the connection closes.
    pub fn start_stream(
        &mut self,
        status: u16,
        content_type: &str,
        headers: &[(String, String)],
    ) -> io::Result<()> {
        if self.state != State::Fresh {
            return Err(io::Error::other("this exchange has already answered"));
        }
        let framing = if self.minor >= 1 {
            BodyFraming::Chunked
        } else {
            self.close = true;
            BodyFraming::UntilClose
        };
        self.out.clear();
        response::write_head(
            &mut self.out,
            status,
            content_type,
            headers,
            framing,
            self.close,
        );
        self.state = State::Streaming;
        self.write_out()
    }

    /// Send one piece of a streamed answer, flushed at once.
    pub fn send(&mut self, data: &[u8]) -> io::Result<()> {
        if self.state != State::Streaming {
            return Err(io::Error::other("no stream is open"));
        }
        self.out.clear();
        if self.minor >= 1 {
            response::write_chunk(&mut self.out, data);
        } else {
            self.out.extend_from_slice(data);
        }
        self.write_out()
    }

    /// End a streamed answer.
    pub fn finish(&mut self) -> io::Result<()> {
        if self.state != State::Streaming {
            return Ok(());
        }
        if self.minor >= 1 {
            self.out.clear();
            self.out.extend_from_slice(response::LAST_CHUNK);
            self.write_out()?;
        }
        self.state = State::Done;
        Ok(())
    }

    fn write_out(&mut self) -> io::Result<()> {
        let result = (&*self.stream)
            .write_all(&self.out)
            .and_then(|()| (&*self.stream).flush());
        if result.is_err() {
            self.state = State::Broken;
        }
        // One large answer must not keep its buffer for the rest of the connection.
        if self.out.capacity() > 1 << 20 {
            self.out = Vec::new();
        }
        result
    }

    /// Whether the client has closed the connection (or a write to it failed): nobody is
    /// waiting for the answer any more. Does not block.
    pub fn peer_gone(&self) -> bool {
        if self.state == State::Broken {
            return true;
        }
        if self.pipelined || self.stream.set_nonblocking(true).is_err() {
            return false;
        }
        let mut byte = [0u8; 1];
        let gone = match self.stream.peek(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ),
        };
        let _ = self.stream.set_nonblocking(false);
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, Read};
    use std::sync::mpsc;

    /// Echoes the body; `/stream` sends three chunks; `/wait` answers once the test says so,
    /// or reports that the peer went away.
    struct Echo {
        release: Mutex<Option<mpsc::Receiver<()>>>,
        gone: mpsc::Sender<bool>,
    }

    impl Handler for Echo {
        fn handle(&self, request: Request, exchange: &mut Exchange<'_>) {
            match request.path.as_str() {
                "/stream" => {
                    let _ = exchange.start_stream(200, "text/event-stream", &[]);
                    for i in 0..3 {
                        let _ = exchange.send(format!("data: {i}\n\n").as_bytes());
                    }
                    let _ = exchange.finish();
                }
                "/wait" => {
                    let rx = lock(&self.release).take();
                    let mut gone = false;
                    if let Some(rx) = rx {
                        loop {
                            if rx.recv_timeout(Duration::from_millis(20)).is_ok() {
                                break;
                            }
                            if exchange.peer_gone() {
                                gone = true;
                                break;
                            }
                        }
                    }
                    let _ = self.gone.send(gone);
                    let _ = exchange.respond(&Response::text(200, "waited"));
                }
                "/silent" => {}
                _ => {
                    let _ = exchange
                        .respond(&Response::text(200, String::from_utf8_lossy(&request.body)));
                }
            }
        }
    }

    fn start(
        options: Options,
    ) -> (
        Control,
        std::thread::JoinHandle<()>,
        mpsc::Sender<()>,
        mpsc::Receiver<bool>,
    ) {
        let (release_tx, release_rx) = mpsc::channel();
        let (gone_tx, gone_rx) = mpsc::channel();
        let handler = Arc::new(Echo {
            release: Mutex::new(Some(release_rx)),
            gone: gone_tx,
        });
        let server = Server::bind("127.0.0.1:0".parse().unwrap(), handler, options).unwrap();
        let control = server.control();
        let thread = std::thread::spawn(move || server.run());
        (control, thread, release_tx, gone_rx)
    }

    fn connect(control: &Control) -> TcpStream {
        let s = TcpStream::connect(control.local_addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// One response off `r`: status and body (by Content-Length or chunked).
    fn read_response(r: &mut impl BufRead) -> (u16, String) {
        let mut status_line = String::new();
        r.read_line(&mut status_line).unwrap();
        let status = status_line
            .split(' ')
            .nth(1)
            .unwrap_or("0")
            .parse()
            .unwrap();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            headers.push(line.to_ascii_lowercase());
        }
        let raw = format!("POST / HTTP/1.1\r\n{}\r\n", headers.concat());
        let head = request::parse_head(raw.as_bytes(), &Limits::default()).unwrap();
        let framing = head
            .framing(&Limits {
                max_body: usize::MAX,
                ..Limits::default()
            })
            .unwrap();
        let body = request::read_body(
            r,
            framing,
            &Limits {
                max_body: usize::MAX,
                ..Limits::default()
            },
        )
        .unwrap();
        (status, String::from_utf8(body).unwrap())
    }

    fn stop(control: Control, thread: std::thread::JoinHandle<()>) {
        control.stop();
        thread.join().unwrap();
        assert_eq!(control.wait_closed(Duration::from_secs(10)), 0);
    }

    #[test]
    fn keep_alive_serves_requests_in_turn_and_streams_chunks() {
        let (control, thread, _release, _gone) = start(Options::default());
        let s = connect(&control);
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        w.write_all(
            b"POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /stream HTTP/1.1\r\n\r\n",
        )
        .unwrap();
        assert_eq!(read_response(&mut r), (200, "hello".into()));
        assert_eq!(
            read_response(&mut r),
            (200, "data: 0\n\ndata: 1\n\ndata: 2\n\n".into())
        );
        // curl asks before sending a body: it gets 100 Continue first.
        w.write_all(b"POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
            .unwrap();
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "HTTP/1.1 100 Continue\r\n");
        r.read_line(&mut line).unwrap();
        w.write_all(b"ok").unwrap();
        assert_eq!(read_response(&mut r), (200, "ok".into()));
        assert_eq!(control.connections(), 1);
        stop(control, thread);
    }

    #[test]
    fn refusals_name_the_problem_and_close_the_connection() {
        let options = Options {
            limits: Limits {
                max_body: 16,
                ..Limits::default()
            },
            ..Options::default()
        };
        let (control, thread, _release, _gone) = start(options);
        for (raw, status, says) in [
            (
                &b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n"[..],
                400,
                "header name",
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 10485760\r\n\r\nxxxx",
                413,
                "10485760 bytes over the 16 bytes limit",
            ),
            (b"GET / HTTP/3\r\n\r\n", 505, "HTTP/3"),
        ] {
            let mut s = connect(&control);
            s.write_all(raw).unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let (got, body) = read_response(&mut r);
            assert_eq!(got, status, "{body}");
            assert!(body.contains(says), "{body}");
            let mut rest = Vec::new();
            assert_eq!(
                r.read_to_end(&mut rest).unwrap(),
                0,
                "the connection is closed"
            );
        }
        stop(control, thread);
    }

    #[test]
    fn a_slow_head_is_cut_off_at_its_deadline() {
        let options = Options {
            header_timeout: Duration::from_millis(300),
            ..Options::default()
        };
        let (control, thread, _release, _gone) = start(options);
        let mut s = connect(&control);
        let started = Instant::now();
        // Bytes keep coming, but the deadline does not move.
        for b in b"GET / HTTP/1.1\r\n" {
            if s.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut r = BufReader::new(s.try_clone().unwrap());
        let (status, _) = read_response(&mut r);
        assert_eq!(status, 408);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(control.wait_closed(Duration::from_secs(10)), 0);
        stop(control, thread);
    }

    #[test]
    fn connections_over_the_cap_are_answered_busy() {
        let options = Options {
            max_connections: 1,
            ..Options::default()
        };
        let (control, thread, _release, _gone) = start(options);
        let mut first = connect(&control);
        first
            .write_all(b"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx")
            .unwrap();
        let mut r = BufReader::new(first.try_clone().unwrap());
        assert_eq!(read_response(&mut r), (200, "x".into()));
        let second = connect(&control);
        let mut r2 = BufReader::new(second);
        let (status, body) = read_response(&mut r2);
        assert_eq!(status, 503);
        assert!(body.contains("1 connections are open"), "{body}");
        drop(first);
        drop(r);
        assert_eq!(control.wait_closed(Duration::from_secs(10)), 0);
        stop(control, thread);
    }

    #[test]
    fn a_handler_sees_the_peer_go_and_stop_closes_idle_connections() {
        let (control, thread, _release, gone) = start(Options::default());
        let mut s = connect(&control);
        s.write_all(b"GET /wait HTTP/1.1\r\n\r\n").unwrap();
        // Wait until the request is being handled, then hang up.
        while control.connections() == 0 {
            std::thread::yield_now();
        }
        s.shutdown(Shutdown::Both).unwrap();
        assert_eq!(gone.recv_timeout(Duration::from_secs(10)), Ok(true));
        // An idle keep-alive connection is closed by stop at once.
        let mut idle = connect(&control);
        idle.write_all(b"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx")
            .unwrap();
        let mut r = BufReader::new(idle.try_clone().unwrap());
        assert_eq!(read_response(&mut r), (200, "x".into()));
        control.stop();
        let mut rest = Vec::new();
        assert_eq!(r.read_to_end(&mut rest).unwrap_or(0), 0);
        thread.join().unwrap();
        assert_eq!(control.wait_closed(Duration::from_secs(10)), 0);
        assert!(
            TcpStream::connect(control.local_addr()).is_err(),
            "the listener is closed"
        );
    }

    #[test]
    fn a_handler_that_answers_nothing_gets_the_connection_closed() {
        let (control, thread, _release, _gone) = start(Options::default());
        let mut s = connect(&control);
        s.write_all(b"GET /silent HTTP/1.1\r\n\r\n").unwrap();
        let mut rest = Vec::new();
        assert_eq!(s.read_to_end(&mut rest).unwrap(), 0);
        stop(control, thread);
    }

    #[test]
    fn the_body_budget_is_shared_and_given_back() {
        let control = Control {
            inner: Arc::new(ControlState {
                stopping: AtomicBool::new(false),
                local: "127.0.0.1:1".parse().unwrap(),
                connections: Mutex::new(Connections::default()),
                closed: Condvar::new(),
                budget: AtomicUsize::new(10),
            }),
        };
        let a = control.reserve(6).unwrap();
        assert!(control.reserve(5).is_none());
        let b = control.reserve(4).unwrap();
        drop(a);
        assert!(control.reserve(6).is_some());
        drop(b);
        assert!(control.reserve(10).is_some());
    }
}
