//! The seam between the protocol and its transports: [`Reply`] (where the answer to one
//! incoming message goes), [`run`] (the one protocol loop, over any stream of [`Incoming`]),
//! and [`Connection`] (a message stream as two channels) with [`Connection::memory`], the
//! in-memory transport tests drive without a process.
//!
//! Two kinds of transport use it. A *stream* transport (stdio; legacy SSE) has one input and
//! one writer: `run` gives every incoming message a `Reply` onto that writer. A *request*
//! transport (Streamable HTTP) calls [`Session::handle`] itself with a `Reply` of its own per
//! POST ([`Reply::channel`]), and answers that POST with what arrives on it.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use super::message::{Message, Notification, Response};
use super::server::Service;
use super::session::Session;

/// One item on its way to a transport's writer.
#[derive(Debug)]
pub enum Outgoing {
    Message(Message),
    /// Write what came before, then stop. Only a stream transport's owner sends it (at
    /// shutdown); a [`Reply`] never does.
    Close,
}

/// Where the answer to one incoming message goes. Each incoming message gets its own, so an
/// answer always reaches whoever is waiting for it: on stdio every `Reply` feeds the one
/// writer, over HTTP each POST has its own.
///
/// What a `Reply` carries, in order: zero or more notifications that belong to the request
/// (log messages), then at most one [`Response`], after which it is gone (`respond` takes
/// `self`). Dropped without a response means "no answer will come": the message was a
/// notification or a client's response, or the call was cancelled. A request transport
/// sees this as the end of its channel and can close the HTTP exchange at once (202 for a
/// notification).
#[derive(Debug)]
pub struct Reply {
    tx: Sender<Outgoing>,
}

impl Reply {
    /// A reply onto an existing writer queue (a stream transport's one writer).
    pub fn new(tx: Sender<Outgoing>) -> Reply {
        Reply { tx }
    }

    /// A reply with a queue of its own, for a transport that answers each request on its own
    /// exchange: read the receiver until a response arrives or it disconnects.
    pub fn channel() -> (Reply, Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel();
        (Reply { tx }, rx)
    }

    /// A notification that belongs to this request; it reaches the client before the response.
    pub fn notify(&self, notification: Notification) {
        // A writer that is gone has nobody left to read: the client disconnected.
        let _ = self
            .tx
            .send(Outgoing::Message(Message::Notification(notification)));
    }

    /// The answer; the last thing this reply carries.
    pub fn respond(self, response: Response) {
        let _ = self.tx.send(Outgoing::Message(Message::Response(response)));
    }
}

/// What a transport hands the protocol loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// The bytes of one message (a stdio line without its newline). Blank input is ignored.
    Line(Vec<u8>),
    /// Input the transport dropped without reading it all (over its size limit): answered
    /// with -32600, a null id and this text.
    Unreadable(String),
}

/// A message stream as two channels: what the transport read, and the queue of its writer.
/// The protocol loop ([`run`]) reads `receiver` until the transport side hangs up.
#[derive(Debug)]
pub struct Connection {
    pub receiver: Receiver<Incoming>,
    pub sender: Sender<Outgoing>,
}

impl Connection {
    /// An in-memory transport: the server's end, and the [`Client`] end a test drives from
    /// another thread. Nothing is framed or written: lines go in, messages come out.
    pub fn memory() -> (Connection, Client) {
        let (in_tx, in_rx) = mpsc::channel();
        let (out_tx, out_rx) = mpsc::channel();
        (
            Connection {
                receiver: in_rx,
                sender: out_tx,
            },
            Client {
                sender: Some(in_tx),
                receiver: out_rx,
            },
        )
    }
}

/// The protocol loop, the same for every stream transport: hand each incoming message to
/// `session` with a [`Reply`] onto `writer`, until `incoming` ends (stdin EOF, a closed
/// connection). stdio feeds it the lines it reads; a [`Connection`] feeds it its receiver
/// (`run(&session, &conn.receiver, &conn.sender)`). Tool calls may still be running when it
/// returns; the caller decides how long to wait for them ([`Session::drain`]).
pub fn run<S: Service>(
    session: &Session<S>,
    incoming: impl IntoIterator<Item = Incoming>,
    writer: &Sender<Outgoing>,
) {
    for item in incoming {
        let reply = Reply::new(writer.clone());
        match item {
            Incoming::Line(line) => session.handle_line(&line, reply),
            Incoming::Unreadable(why) => session.refuse(why, reply),
        }
    }
}

/// The client end of [`Connection::memory`].
#[derive(Debug)]
pub struct Client {
    sender: Option<Sender<Incoming>>,
    receiver: Receiver<Outgoing>,
}

impl Client {
    /// Send one message's bytes, as a stdio client writes one line.
    pub fn send_line(&self, line: impl Into<Vec<u8>>) {
        if let Some(tx) = &self.sender {
            let _ = tx.send(Incoming::Line(line.into()));
        }
    }

    pub fn send(&self, message: &Message) {
        self.send_line(message.to_line());
    }

    /// The next message from the server; `None` after `timeout`, or once the server's loop
    /// has ended and every running call is done (nothing more can come).
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Message> {
        match self.receiver.recv_timeout(timeout) {
            Ok(Outgoing::Message(m)) => Some(m),
            Ok(Outgoing::Close)
            | Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
        }
    }

    /// A message already waiting, without blocking.
    pub fn try_recv(&self) -> Option<Message> {
        match self.receiver.try_recv() {
            Ok(Outgoing::Message(m)) => Some(m),
            _ => None,
        }
    }

    /// End the input, as stdin EOF does: the server's loop returns.
    pub fn close(&mut self) {
        self.sender = None;
    }
}
