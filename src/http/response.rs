//! Writing HTTP/1.1 responses (RFC 9112): a whole [`Response`] with `Content-Length` (or
//! chunked above a size), or a head followed by chunks written one at a time, and the
//! Server-Sent Events framing (WHATWG HTML §9.2) that streams use. Each chunk or event goes
//! out in one write and is flushed at once: nothing is held back (see deps.md §1.8 on why we do
//! not use a library that buffers events).

use std::io::{self, Write};

/// A response to write whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Empty: no `Content-Type` header (a body-less 202, for example).
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, body: Vec<u8>) -> Response {
        Response {
            status,
            content_type: "application/json".into(),
            headers: Vec::new(),
            body,
        }
    }

    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8".into(),
            headers: Vec::new(),
            body: body.into().into_bytes(),
        }
    }

    /// A response without a body (`202 Accepted`, `204 No Content`).
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            content_type: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// How a response body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// `Content-Length: n`.
    Length(usize),
    /// `Transfer-Encoding: chunked`: the body follows as chunks and a last chunk.
    Chunked,
    /// Neither: the body runs until the connection closes (an HTTP/1.0 client's stream).
    UntilClose,
}

/// Append a response head to `out`: status line, `Content-Type` (unless empty), `headers`,
/// the framing header and `Connection: close` when `close`, then the blank line.
pub fn write_head(
    out: &mut Vec<u8>,
    status: u16,
    content_type: &str,
    headers: &[(String, String)],
    framing: BodyFraming,
    close: bool,
) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    if !content_type.is_empty() {
        let _ = write!(out, "Content-Type: {content_type}\r\n");
    }
    for (name, value) in headers {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    match framing {
        BodyFraming::Length(n) => {
            let _ = write!(out, "Content-Length: {n}\r\n");
        }
        BodyFraming::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        BodyFraming::UntilClose => {}
    }
    if close || framing == BodyFraming::UntilClose {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Append one chunk of a chunked body to `out` (nothing for empty data: an empty chunk would
/// end the body).
pub fn write_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    let _ = write!(out, "{:x}\r\n", data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The last chunk of a chunked body (no trailers).
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Size of the chunks [`write_response`] splits a chunked body into.
const CHUNK: usize = 16 * 1024;

/// Write `resp` and flush. Bodies longer than `chunked_above` go chunked (as Go's server does
/// for bodies it does not buffer whole; `usize::MAX` never chunks); `head_only` writes the
/// head of a HEAD answer. The head and a length-delimited body go out in one write, so a small
/// response is one packet.
pub fn write_response<W: Write>(
    w: &mut W,
    resp: &Response,
    close: bool,
    head_only: bool,
    chunked_above: usize,
) -> io::Result<()> {
    let chunked = resp.body.len() > chunked_above;
    let framing = if chunked {
        BodyFraming::Chunked
    } else {
        BodyFraming::Length(resp.body.len())
    };
    let mut out = Vec::with_capacity(256 + resp.body.len().min(chunked_above));
    write_head(
        &mut out,
        resp.status,
        &resp.content_type,
        &resp.headers,
        framing,
        close,
    );
    if head_only {
        w.write_all(&out)?;
        return w.flush();
    }
    if !chunked {
        out.extend_from_slice(&resp.body);
        w.write_all(&out)?;
        return w.flush();
    }
    w.write_all(&out)?;
    for chunk in resp.body.chunks(CHUNK) {
        out.clear();
        write_chunk(&mut out, chunk);
        w.write_all(&out)?;
    }
    w.write_all(LAST_CHUNK)?;
    w.flush()
}

/// Append one Server-Sent Event to `out`: an optional `event:` line, the data split into
/// `data:` lines (a line break inside the data would otherwise end the field), and the blank
/// line that dispatches it.
pub fn sse_event(out: &mut Vec<u8>, event: Option<&str>, data: &str) {
    if let Some(event) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(event.as_bytes());
        out.push(b'\n');
    }
    for line in data.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.strip_suffix('\r').unwrap_or(line).as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}

/// Append an SSE comment (a line starting with `:`), which clients ignore: a keep-alive that
/// keeps proxies from timing out a quiet stream and tells us when the peer has gone.
pub fn sse_comment(out: &mut Vec<u8>, text: &str) {
    out.push(b':');
    if !text.is_empty() {
        out.push(b' ');
        out.extend_from_slice(text.replace(['\n', '\r'], " ").as_bytes());
    }
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bodies_have_a_length_and_big_ones_are_chunked() {
        let resp = Response::json(200, b"{}".to_vec()).with_header("Mcp-Session-Id", "abc");
        let mut out = Vec::new();
        write_response(&mut out, &resp, false, false, 32 << 10).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nMcp-Session-Id: abc\r\nContent-Length: 2\r\n\r\n{}"
        );
        let resp = Response::json(200, vec![b'x'; 40 << 10]);
        let mut out = Vec::new();
        write_response(&mut out, &resp, true, false, 32 << 10).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n4000\r\n"));
        assert!(text.ends_with("\r\n0\r\n\r\n"));
        // And it reads back whole through our own parser.
        let raw = format!(
            "POST / HTTP/1.1\r\n{}",
            &text[text.find("Transfer-Encoding").unwrap()..]
        );
        let req = crate::http::request::parse_request(raw.as_bytes(), &Default::default());
        assert_eq!(req.unwrap().unwrap().body.len(), 40 << 10);
    }

    #[test]
    fn an_empty_response_has_no_content_type_and_head_writes_no_body() {
        let mut out = Vec::new();
        write_response(&mut out, &Response::empty(202), false, false, usize::MAX).unwrap();
        assert_eq!(out, b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
        let mut out = Vec::new();
        write_response(
            &mut out,
            &Response::text(200, "ok"),
            false,
            true,
            usize::MAX,
        )
        .unwrap();
        assert!(
            String::from_utf8(out)
                .unwrap()
                .ends_with("Content-Length: 2\r\n\r\n")
        );
    }

    #[test]
    fn sse_events_split_data_lines_and_comments_stay_one_line() {
        let mut out = Vec::new();
        sse_event(&mut out, Some("endpoint"), "/message?sessionId=1");
        sse_event(&mut out, None, "a\r\nb");
        sse_comment(&mut out, "keep\nalive");
        sse_comment(&mut out, "");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "event: endpoint\ndata: /message?sessionId=1\n\ndata: a\ndata: b\n\n: keep alive\n\n:\n\n"
        );
        let mut out = Vec::new();
        write_chunk(&mut out, b"");
        assert!(out.is_empty(), "an empty chunk would end the body");
        write_chunk(&mut out, b"hello");
        assert_eq!(out, b"5\r\nhello\r\n");
    }
}
