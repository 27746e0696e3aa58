//! The stdio transport, and the only code that writes stdout: newline-delimited JSON-RPC in on
//! stdin, out on stdout (MCP stdio transport). One connection with one session: the protocol
//! loop ([`connection::run`]) takes stdin line by line, a writer thread serialises every answer
//! as one line; stdin EOF and SIGINT/SIGTERM end the process cleanly.

use std::io::{self, BufRead, Write};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::connection::{self, Incoming, Outgoing};
use super::server::{Server, Service};
use super::signal;

/// A longer line is answered with an error and discarded without being buffered. Generous:
/// MCP messages are small, but a tool argument may carry a pasted manifest or a whole log.
pub const MAX_LINE: usize = 64 << 20;

/// After stdin EOF, how long running tool calls may take to finish before we exit anyway.
/// MCP clients close stdin first and send SIGTERM only after a grace period (MCP lifecycle,
/// stdio shutdown), so a short wait lets a nearly finished call still be answered.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// After SIGINT/SIGTERM, how long the writer may take to flush what is queued.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(1);

/// Serve one MCP connection on stdin/stdout until EOF or a signal. Exit code 0 either way.
pub fn serve<S: Service>(service: Arc<S>) -> ExitCode {
    let (out, rx) = mpsc::channel();
    let writer_done = Arc::new((Mutex::new(false), Condvar::new()));

    // Before any other thread exists, so that every thread inherits the blocked signals.
    let on_signal = {
        let out = out.clone();
        let writer_done = writer_done.clone();
        move |_sig: i32| {
            let _ = out.send(Outgoing::Close);
            wait_flag(&writer_done, FLUSH_TIMEOUT);
            std::process::exit(0);
        }
    };
    signal::watch(on_signal);

    let writer = {
        let writer_done = writer_done.clone();
        std::thread::Builder::new()
            .name("stdout".into())
            .spawn(move || {
                write_loop(rx, io::stdout().lock());
                let (lock, cv) = &*writer_done;
                *crate::sync::lock(lock) = true;
                cv.notify_all();
            })
    };
    let writer = match writer {
        Ok(w) => w,
        Err(e) => {
            log(format_args!("cannot start the stdout writer thread: {e}"));
            return ExitCode::FAILURE;
        }
    };

    // The loop reads stdin on this thread, one line at a time: no hand-over between threads
    // on the way in (a thread wake-up per message), and never more than one line held.
    let session = Server::new(service).session();
    let stdin = io::stdin();
    let mut lines = Lines::new(stdin.lock());
    connection::run(&session, &mut lines, &out);
    if let Some(e) = lines.error {
        log(format_args!("reading stdin: {e}"));
    }
    let running = session.drain(DRAIN_TIMEOUT);
    if running > 0 {
        log(format_args!(
            "stdin closed; {running} tool call(s) still running after {}s, exiting",
            DRAIN_TIMEOUT.as_secs()
        ));
    }
    let _ = out.send(Outgoing::Close);
    let _ = writer.join();
    ExitCode::SUCCESS
}

/// One line on stderr. Unlike `eprintln!`, which panics when the client has closed its end of
/// our stderr, a line that cannot be written is dropped: a log line never costs an answer.
fn log(message: std::fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "flux-operator-mcp: {message}");
}

fn wait_flag(flag: &(Mutex<bool>, Condvar), timeout: Duration) {
    let (lock, cv) = flag;
    let guard = crate::sync::lock(lock);
    let _ = crate::sync::unpoisoned(cv.wait_timeout_while(guard, timeout, |done| !*done));
}

/// The lines of `input` as the protocol loop takes them, until EOF or a read error (kept in
/// `error`). A final line without a newline is still a line (the client may close stdin right
/// after writing it).
pub struct Lines<R> {
    input: R,
    line: Vec<u8>,
    first: bool,
    pub error: Option<io::Error>,
}

impl<R: BufRead> Lines<R> {
    pub fn new(input: R) -> Lines<R> {
        Lines {
            input,
            line: Vec::new(),
            first: true,
            error: None,
        }
    }
}

impl<R: BufRead> Iterator for Lines<R> {
    type Item = Incoming;

    fn next(&mut self) -> Option<Incoming> {
        self.line.clear();
        // One huge message must not keep its buffer for the rest of the session.
        if self.line.capacity() > 1 << 20 {
            self.line.shrink_to(64 << 10);
        }
        let incoming = match next_line(&mut self.input, &mut self.line, MAX_LINE) {
            Err(e) => {
                self.error = Some(e);
                return None;
            }
            Ok(Line::Eof) => return None,
            Ok(Line::Complete) => {
                if self.line.last() == Some(&b'\r') {
                    self.line.pop();
                }
                // RFC 8259 §8.1: a parser MAY ignore a byte order mark; some Windows tools put
                // one at the start of a stream.
                let text = match self.line.strip_prefix(UTF8_BOM) {
                    Some(rest) if self.first => rest,
                    _ => &self.line[..],
                };
                Incoming::Line(text.to_vec())
            }
            Ok(Line::TooLong(len)) => Incoming::Unreadable(format!(
                "invalid request: a message of {len} bytes or more exceeds the {} MiB limit",
                MAX_LINE >> 20
            )),
        };
        self.first = false;
        Some(incoming)
    }
}

const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

#[derive(Debug, PartialEq, Eq)]
enum Line {
    Complete,
    /// The line was longer than the limit; it was consumed and dropped. Carries the bytes seen.
    TooLong(usize),
    Eof,
}

/// Read up to the next `\n` (not included) into `buf`, never holding more than `max` bytes.
fn next_line(input: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    let mut seen = 0usize;
    let mut too_long = false;
    loop {
        let chunk = match input.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(match (too_long, seen) {
                (true, _) => Line::TooLong(seen),
                (false, 0) => Line::Eof,
                (false, _) => Line::Complete,
            });
        }
        let (part, used, end) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (&chunk[..i], i + 1, true),
            None => (chunk, chunk.len(), false),
        };
        seen += part.len();
        if !too_long && seen > max {
            too_long = true;
            buf.clear();
            buf.shrink_to_fit();
        }
        if !too_long {
            buf.extend_from_slice(part);
        }
        input.consume(used);
        if end {
            return Ok(if too_long {
                Line::TooLong(seen)
            } else {
                Line::Complete
            });
        }
    }
}

/// Write each message as one line and flush it: the client waits for whole lines.
fn write_loop(rx: Receiver<Outgoing>, mut out: impl Write) {
    let mut line = Vec::with_capacity(4096);
    for item in rx {
        match item {
            Outgoing::Message(m) => {
                line.clear();
                m.write_line(&mut line);
                line.push(b'\n');
                if out.write_all(&line).and_then(|()| out.flush()).is_err() {
                    // The client closed stdout: nobody reads any more; stdin EOF follows.
                    return;
                }
                if line.capacity() > 1 << 20 {
                    line = Vec::with_capacity(4096);
                }
            }
            Outgoing::Close => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::message::Message;
    use crate::mcp::message::Response;

    fn lines(input: &[u8], max: usize) -> Vec<(Line, Vec<u8>)> {
        let mut r = io::BufReader::with_capacity(7, input);
        let mut out = Vec::new();
        loop {
            let mut buf = Vec::new();
            let l = next_line(&mut r, &mut buf, max).unwrap();
            if l == Line::Eof {
                return out;
            }
            out.push((l, buf));
        }
    }

    #[test]
    fn lines_split_on_newlines_across_buffer_boundaries() {
        let got = lines(b"first line\n\nsecond-longer-line\nlast", 100);
        let texts: Vec<&[u8]> = got.iter().map(|(_, b)| b.as_slice()).collect();
        assert_eq!(
            texts,
            [&b"first line"[..], b"", b"second-longer-line", b"last"]
        );
        assert!(got.iter().all(|(l, _)| *l == Line::Complete));
    }

    #[test]
    fn an_overlong_line_is_dropped_and_the_next_one_read() {
        let mut input = vec![b'x'; 50];
        input.extend_from_slice(b"\nok\n");
        let got = lines(&input, 20);
        assert_eq!(got[0], (Line::TooLong(50), Vec::new()));
        assert_eq!(got[1], (Line::Complete, b"ok".to_vec()));
        // Also at EOF without a newline.
        let got = lines(&[b'y'; 30], 20);
        assert_eq!(got, [(Line::TooLong(30), Vec::new())]);
    }

    #[test]
    fn lines_come_without_bom_or_cr_and_overlong_ones_are_refused() {
        let mut input = b"\xef\xbb\xbf{\"a\":1}\r\n\xef\xbb\xbfx\n".to_vec();
        input.extend(std::iter::repeat_n(b'y', MAX_LINE + 1));
        input.extend_from_slice(b"\nlast");
        let mut lines = Lines::new(io::BufReader::new(&input[..]));
        let got: Vec<Incoming> = lines.by_ref().collect();
        assert!(lines.error.is_none());
        assert_eq!(got.len(), 4, "{:?}", &got[..got.len().min(3)]);
        assert_eq!(got[0], Incoming::Line(b"{\"a\":1}".to_vec()));
        // Only a BOM at the start of the stream is dropped.
        assert_eq!(got[1], Incoming::Line(b"\xef\xbb\xbfx".to_vec()));
        let Incoming::Unreadable(why) = &got[2] else {
            panic!("not refused: {:?}", got[2])
        };
        assert!(why.contains("exceeds the 64 MiB limit"), "{why}");
        assert_eq!(got[3], Incoming::Line(b"last".to_vec()));
    }

    #[test]
    fn a_read_error_ends_the_lines_and_is_kept() {
        struct Broken;
        impl io::Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let mut lines = Lines::new(io::BufReader::new(Broken));
        assert_eq!(lines.next(), None);
        assert_eq!(
            lines.error.map(|e| e.to_string()).as_deref(),
            Some("disk on fire")
        );
    }

    #[test]
    fn the_writer_puts_one_message_per_line_and_stops_on_close() {
        let ok =
            |id: i64| Outgoing::Message(Message::Response(Response::ok(id.into(), "a\nb".into())));
        let (tx, rx) = std::sync::mpsc::channel();
        tx.send(ok(1)).unwrap();
        tx.send(ok(2)).unwrap();
        tx.send(Outgoing::Close).unwrap();
        tx.send(ok(3)).unwrap();
        let mut buf = Vec::new();
        write_loop(rx, &mut buf);
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.ends_with('\n'));
    }
}
