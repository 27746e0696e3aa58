//! Reading one HTTP/1.1 request (RFC 9112) off a byte stream: the head within its limits, then
//! the body by `Content-Length` or `Transfer-Encoding: chunked`. Strict where leniency is an
//! attack surface (request smuggling: `Content-Length` with `Transfer-Encoding`, disagreeing
//! lengths, obsolete line folding, control characters in values), lenient where RFC 9112 allows
//! it (bare LF line ends, empty lines before the request line).
//!
//! [`parse_request`] is the pure entry point over bytes (the fuzz target); the server reads
//! from a socket through the same [`read_head`] and [`read_body`].

use std::fmt;
use std::io::{self, BufRead, Read};

/// How much of a request is accepted. The server answers 431 beyond the head limits and 413
/// beyond the body limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of request line and header lines together. Default 64 KiB (Go's is 1 MiB; no
    /// client of ours sends more than a few hundred bytes).
    pub max_head: usize,
    /// Header lines. Default 100.
    pub max_headers: usize,
    /// Bytes of body, after chunked decoding. Default 4 MiB: a tool's arguments may carry a
    /// manifest, and the Kubernetes API server itself refuses writes above 3 MiB.
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_head: 64 << 10,
            max_headers: 100,
            max_body: 4 << 20,
        }
    }
}

/// Why a request could not be read. `Display` names the offending value.
#[derive(Debug)]
pub enum Error {
    /// The stream failed, or a read deadline passed (`TimedOut` / `WouldBlock`).
    Io(io::Error),
    /// The peer closed the connection in the middle of a request: nobody is left to answer.
    Truncated,
    /// Not HTTP/1.x as RFC 9112 writes it; answered with 400.
    Malformed(String),
    /// An HTTP version other than 1.0 and 1.1; answered with 505.
    Version(String),
    /// A transfer coding other than `chunked`; answered with 501.
    UnsupportedEncoding(String),
    /// Request line and headers over [`Limits::max_head`] or [`Limits::max_headers`]; 431.
    HeadTooLarge { limit: usize },
    /// A body over [`Limits::max_body`]; 413. `declared`: the `Content-Length` that said so,
    /// when the request announced its size.
    BodyTooLarge { limit: usize, declared: Option<u64> },
}

impl Error {
    /// The status a server answers with, if an answer is still possible.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Io(_) | Error::Truncated => None,
            Error::Malformed(_) => Some(400),
            Error::Version(_) => Some(505),
            Error::UnsupportedEncoding(_) => Some(501),
            Error::HeadTooLarge { .. } => Some(431),
            Error::BodyTooLarge { .. } => Some(413),
        }
    }

    /// A read deadline passed (the stream's read timeout fired).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Io(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "reading the request: {e}"),
            Error::Truncated => f.write_str("the connection closed inside the request"),
            Error::Malformed(what) => write!(f, "malformed request: {what}"),
            Error::Version(v) => write!(f, "unsupported HTTP version {v:?}: expected HTTP/1.1"),
            Error::UnsupportedEncoding(te) => {
                write!(
                    f,
                    "unsupported transfer coding {te:?}: only chunked is accepted"
                )
            }
            Error::HeadTooLarge { limit } => {
                write!(
                    f,
                    "request head over the {limit}-byte (or header count) limit"
                )
            }
            Error::BodyTooLarge { limit, declared } => {
                match declared {
                    Some(n) => write!(f, "request body of {n} bytes")?,
                    None => f.write_str("request body")?,
                }
                write!(f, " over the {} limit", Size(*limit))
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            Error::Truncated
        } else {
            Error::Io(e)
        }
    }
}

/// A byte count in messages: `4 MiB`, `900 KiB`, `12 bytes`.
struct Size(usize);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
            write!(f, "{} MiB", n >> 20)
        } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
            write!(f, "{} KiB", n >> 10)
        } else {
            write!(f, "{n} bytes")
        }
    }
}

/// The request line and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub method: String,
    /// The request target as sent (origin form `/path?query`, or absolute form).
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// Header names lowercased, values with surrounding whitespace removed, in order.
    pub headers: Vec<(String, String)>,
}

/// How the body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
}

impl Head {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        first_value(&self.headers, name)
    }

    /// How the body is delimited, checked against the limits before anything is read: a
    /// declared length over the limit is refused without reading it.
    pub fn framing(&self, limits: &Limits) -> Result<Framing, Error> {
        let te: Vec<&str> = values(&self.headers, "transfer-encoding").collect();
        let cl: Vec<&str> = values(&self.headers, "content-length").collect();
        if !te.is_empty() {
            // Both present is how requests are smuggled past a proxy that reads the other
            // one (RFC 9112 §6.1: a server MAY reject it); we do.
            if !cl.is_empty() {
                return Err(Error::Malformed(
                    "both Transfer-Encoding and Content-Length".into(),
                ));
            }
            let codings: Vec<&str> = te
                .iter()
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            return match codings.as_slice() {
                [c] if c.eq_ignore_ascii_case("chunked") => Ok(Framing::Chunked),
                _ => Err(Error::UnsupportedEncoding(te.join(", "))),
            };
        }
        let mut length = None;
        for part in cl.iter().flat_map(|v| v.split(',')).map(str::trim) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) || part.len() > 19 {
                return Err(Error::Malformed(format!("Content-Length {part:?}")));
            }
            let n: u64 = part
                .parse()
                .map_err(|_| Error::Malformed(format!("Content-Length {part:?}")))?;
            match length {
                Some(m) if m != n => {
                    return Err(Error::Malformed(format!(
                        "Content-Length values {m} and {n} disagree"
                    )));
                }
                _ => length = Some(n),
            }
        }
        match length {
            None | Some(0) => Ok(Framing::None),
            Some(n) if n > limits.max_body as u64 => Err(Error::BodyTooLarge {
                limit: limits.max_body,
                declared: Some(n),
            }),
            Some(n) => Ok(Framing::Length(n)),
        }
    }

    /// The client asked for `100 Continue` before sending its body (curl does above 1 KiB).
    pub fn expects_continue(&self) -> bool {
        self.minor >= 1
            && self
                .header("expect")
                .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    }
}

/// One request, read whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path, percent-decoded.
    pub path: String,
    /// The raw query string (without `?`), as sent.
    pub raw_query: String,
    /// Query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Header names lowercased, values as sent minus surrounding whitespace, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
}

impl Request {
    /// A request from its head and body.
    pub fn new(head: Head, body: Vec<u8>) -> Request {
        // Absolute form (`http://host/path`, sent to proxies) carries the path after the
        // authority; the authority itself is the Host header's business.
        let target = match head.target.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => head.target.as_str(),
        };
        let (raw_path, raw_query) = target.split_once('?').unwrap_or((target, ""));
        Request {
            path: percent_decode(raw_path, false),
            raw_query: raw_query.to_string(),
            query: parse_query(raw_query),
            method: head.method,
            headers: head.headers,
            body,
            minor: head.minor,
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        first_value(&self.headers, name)
    }

    /// Every value of header `name`, in order (`Impersonate-Group` repeats).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        values(&self.headers, name)
    }

    /// The first value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        first_param(&self.query, name)
    }

    /// Whether the connection ends after this exchange: the client said `Connection: close`,
    /// or spoke HTTP/1.0 without asking for keep-alive (RFC 9112 §9.3).
    pub fn wants_close(&self) -> bool {
        let has = |token: &str| {
            self.header_values("connection")
                .flat_map(|v| v.split(','))
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        };
        has("close") || (self.minor == 0 && !has("keep-alive"))
    }
}

/// Every value of header `name` (case-insensitive) among `headers`, in order.
pub fn values<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The first value of header `name` (case-insensitive) among `headers`.
pub fn first_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The first value of query parameter `name` among `query`.
pub fn first_param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Parse one whole request from `bytes` (head, then a body of the length it declares);
/// `Ok(None)` for input that is empty or only blank lines. What [`read_head`] and
/// [`read_body`] do on a socket, over a slice: the fuzz target.
pub fn parse_request(mut bytes: &[u8], limits: &Limits) -> Result<Option<Request>, Error> {
    read_request(&mut bytes, limits)
}

/// Read one whole request: [`read_head`], [`Head::framing`], [`read_body`]. `Ok(None)` when the
/// peer closed the connection before the request began.
pub fn read_request<R: BufRead>(r: &mut R, limits: &Limits) -> Result<Option<Request>, Error> {
    let Some(head) = read_head(r, limits)? else {
        return Ok(None);
    };
    let framing = head.framing(limits)?;
    let body = read_body(r, framing, limits)?;
    Ok(Some(Request::new(head, body)))
}

/// Read and parse the next request head; `Ok(None)` when the peer closed the connection
/// before sending a byte of it (the normal end of a keep-alive connection).
pub fn read_head<R: BufRead>(r: &mut R, limits: &Limits) -> Result<Option<Head>, Error> {
    let mut head = Vec::with_capacity(512);
    let mut started = false;
    loop {
        let start = head.len();
        let budget = limits.max_head.saturating_sub(start);
        let n = r.take(budget as u64 + 1).read_until(b'\n', &mut head)?;
        if n == 0 {
            return if started || start > 0 {
                Err(Error::Truncated)
            } else {
                Ok(None)
            };
        }
        if n > budget {
            return Err(Error::HeadTooLarge {
                limit: limits.max_head,
            });
        }
        if head.last() != Some(&b'\n') {
            return Err(Error::Truncated);
        }
        let line = &head[start..];
        let blank = line == b"\n" || line == b"\r\n";
        if blank && !started {
            // RFC 9112 §2.2: empty lines before the request line are ignored.
            head.truncate(start);
            continue;
        }
        started = true;
        if blank {
            return parse_head(&head, limits).map(Some);
        }
    }
}

/// Parse a request head: the request line and header lines, each ending in LF or CRLF,
/// optionally followed by the blank line that ends the head. Pure; never reads.
pub fn parse_head(bytes: &[u8], limits: &Limits) -> Result<Head, Error> {
    if bytes.len() > limits.max_head {
        return Err(Error::HeadTooLarge {
            limit: limits.max_head,
        });
    }
    let mut lines = bytes
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let request_line = lines.next().unwrap_or_default();
    let (method, target, minor) = parse_request_line(request_line)?;
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if headers.len() >= limits.max_headers {
            return Err(Error::HeadTooLarge {
                limit: limits.max_head,
            });
        }
        headers.push(parse_header_line(line)?);
    }
    Ok(Head {
        method,
        target,
        minor,
        headers,
    })
}

/// `token` characters (RFC 9110 §5.6.2): what a method and a header name are made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn shown(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(100)];
    format!("{:?}", String::from_utf8_lossy(cut))
}

fn parse_request_line(line: &[u8]) -> Result<(String, String, u8), Error> {
    let mut parts = line.split(|b| *b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Malformed(format!("request line {}", shown(line))));
    };
    if method.is_empty() || !method.iter().copied().all(is_tchar) {
        return Err(Error::Malformed(format!("method {}", shown(method))));
    }
    // A target is printable ASCII without spaces (RFC 9112 §3.2; RFC 3986 characters).
    if target.is_empty() || !target.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(Error::Malformed(format!(
            "request target {}",
            shown(target)
        )));
    }
    let minor = match version {
        b"HTTP/1.1" => 1,
        b"HTTP/1.0" => 0,
        v if v.starts_with(b"HTTP/") => {
            return Err(Error::Version(String::from_utf8_lossy(v).into_owned()));
        }
        v => return Err(Error::Malformed(format!("HTTP version {}", shown(v)))),
    };
    // Both checked above to be ASCII.
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Ok((text(method), text(target), minor))
}

fn parse_header_line(line: &[u8]) -> Result<(String, String), Error> {
    if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
        // Obsolete line folding (RFC 9112 §5.2): a server may reject it, and a proxy that
        // unfolds it differently is a smuggling risk.
        return Err(Error::Malformed(format!(
            "folded header line {}",
            shown(line)
        )));
    }
    let Some(colon) = line.iter().position(|b| *b == b':') else {
        return Err(Error::Malformed(format!("header line {}", shown(line))));
    };
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    // No whitespace between name and colon (RFC 9112 §5.1: MUST reject).
    if name.is_empty() || !name.iter().copied().all(is_tchar) {
        return Err(Error::Malformed(format!("header name {}", shown(name))));
    }
    let value = value.trim_ascii();
    // Field values: visible characters, spaces and tabs; no CR, LF, NUL or other controls.
    if value
        .iter()
        .any(|b| (*b < 0x20 && *b != b'\t') || *b == 0x7f)
    {
        return Err(Error::Malformed(format!(
            "control character in header {}",
            shown(name)
        )));
    }
    let value = std::str::from_utf8(value)
        .map_err(|_| Error::Malformed(format!("header {} is not UTF-8", shown(name))))?;
    Ok((
        String::from_utf8_lossy(name).to_ascii_lowercase(),
        value.to_string(),
    ))
}

/// Read a body delimited by `framing`, never more than [`Limits::max_body`] bytes.
pub fn read_body<R: BufRead>(
    r: &mut R,
    framing: Framing,
    limits: &Limits,
) -> Result<Vec<u8>, Error> {
    match framing {
        Framing::None => Ok(Vec::new()),
        Framing::Length(n) => {
            if n > limits.max_body as u64 {
                return Err(Error::BodyTooLarge {
                    limit: limits.max_body,
                    declared: Some(n),
                });
            }
            // Bounded by max_body just above.
            let mut body = vec![0; n as usize];
            r.read_exact(&mut body)?;
            Ok(body)
        }
        Framing::Chunked => read_chunked(r, limits),
    }
}

fn read_chunked<R: BufRead>(r: &mut R, limits: &Limits) -> Result<Vec<u8>, Error> {
    let mut body = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = r.take(1025).read_until(b'\n', &mut line)?;
        if n == 0 || line.last() != Some(&b'\n') {
            return Err(if n > 1024 {
                Error::Malformed("chunk size line too long".into())
            } else {
                Error::Truncated
            });
        }
        let line = line.trim_ascii_end();
        let size = line.split(|b| *b == b';').next().unwrap_or_default();
        let size = size.trim_ascii();
        if size.is_empty() || size.len() > 15 || !size.iter().all(u8::is_ascii_hexdigit) {
            return Err(Error::Malformed(format!("chunk size {}", shown(size))));
        }
        // At most 15 hex digits: fits in u64 and, checked next, in the body limit.
        let size = size.iter().fold(0u64, |n, b| {
            n * 16 + (*b as char).to_digit(16).unwrap_or(0) as u64
        });
        if body.len() as u64 + size > limits.max_body as u64 {
            return Err(Error::BodyTooLarge {
                limit: limits.max_body,
                declared: None,
            });
        }
        if size == 0 {
            // Trailer fields, then the blank line; read and dropped, within the head limit.
            let mut budget = limits.max_head;
            loop {
                let mut trailer = Vec::new();
                let n = r.take(budget as u64 + 1).read_until(b'\n', &mut trailer)?;
                if n == 0 || trailer.last() != Some(&b'\n') {
                    return Err(Error::Truncated);
                }
                if n > budget {
                    return Err(Error::HeadTooLarge {
                        limit: limits.max_head,
                    });
                }
                budget -= n;
                if trailer == b"\n" || trailer == b"\r\n" {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size as usize, 0);
        r.read_exact(&mut body[start..])?;
        let mut end = [0; 2];
        r.read_exact(&mut end[..1])?;
        if end[0] == b'\r' {
            r.read_exact(&mut end[1..])?;
        } else {
            end = [b'\r', end[0]];
        }
        if end != *b"\r\n" {
            return Err(Error::Malformed("chunk data not followed by CRLF".into()));
        }
    }
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Decode `%XX` escapes (and `+` as space in query strings, as Go's `url.ParseQuery` does).
/// Invalid escapes are kept literally; invalid UTF-8 becomes U+FFFD.
pub fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(h << 4 | l);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `a=1&b=x%20y` → `[("a", "1"), ("b", "x y")]`.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Result<Option<Request>, Error> {
        parse_request(raw, &Limits::default())
    }

    fn malformed(raw: &[u8]) -> String {
        match parse(raw) {
            Err(e @ Error::Malformed(_)) => e.to_string(),
            other => panic!(
                "{:?}: expected malformed, got {other:?}",
                String::from_utf8_lossy(raw)
            ),
        }
    }

    #[test]
    fn parses_a_request_with_query_and_body() {
        let raw = b"PATCH /apis/x/v1/namespaces/a%2Db/things/n?fieldSelector=metadata.name%3Dx&labelSelector=a+in+(b)&limit=2 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nImpersonate-Group: g1\r\nImpersonate-Group:  g2 \r\n\r\n{}";
        let mut r = io::BufReader::new(&raw[..]);
        let head = read_head(&mut r, &Limits::default()).unwrap().unwrap();
        let framing = head.framing(&Limits::default()).unwrap();
        assert_eq!(framing, Framing::Length(2));
        let req = Request::new(
            head,
            read_body(&mut r, framing, &Limits::default()).unwrap(),
        );
        assert_eq!(req.method, "PATCH");
        assert_eq!(req.path, "/apis/x/v1/namespaces/a-b/things/n");
        assert_eq!(req.param("fieldSelector"), Some("metadata.name=x"));
        assert_eq!(req.param("labelSelector"), Some("a in (b)"));
        assert_eq!(req.param("limit"), Some("2"));
        assert_eq!(req.body, b"{}");
        let groups: Vec<_> = req.header_values("impersonate-group").collect();
        assert_eq!(groups, ["g1", "g2"]);
        assert!(!req.wants_close());
        assert!(read_head(&mut r, &Limits::default()).unwrap().is_none());
    }

    #[test]
    fn reads_a_chunked_body_with_extensions_and_trailers() {
        let raw = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n";
        assert_eq!(parse(raw).unwrap().unwrap().body, b"abcde");
        // Bare LF line ends are accepted (RFC 9112 §2.2).
        let raw = b"POST / HTTP/1.1\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n";
        assert_eq!(parse(raw).unwrap().unwrap().body, b"abc");
    }

    #[test]
    fn blank_lines_before_a_request_are_skipped_and_empty_input_is_no_request() {
        assert!(parse(b"").unwrap().is_none());
        assert!(parse(b"\r\n\r\n").unwrap().is_none());
        let req = parse(b"\r\nGET /x HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert_eq!((req.path.as_str(), req.minor), ("/x", 0));
        assert!(
            req.wants_close(),
            "HTTP/1.0 closes unless asked to keep alive"
        );
        let req = parse(b"GET /x HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!req.wants_close());
        let req = parse(b"GET /x HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(req.wants_close());
    }

    #[test]
    fn the_absolute_form_keeps_only_the_path() {
        let req = parse(b"GET http://example.com:8080/mcp?a=1 HTTP/1.1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((req.path.as_str(), req.raw_query.as_str()), ("/mcp", "a=1"));
        let req = parse(b"GET http://example.com HTTP/1.1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(req.path, "/");
    }

    #[test]
    fn malformed_request_lines_and_headers_are_refused_with_what_was_wrong() {
        assert!(malformed(b"GET /\r\n\r\n").contains("request line \"GET /\""));
        assert!(malformed(b"GET  / HTTP/1.1\r\n\r\n").contains("request line"));
        assert!(malformed(b"G(T / HTTP/1.1\r\n\r\n").contains("method \"G(T\""));
        assert!(malformed(b"GET /a\x01b HTTP/1.1\r\n\r\n").contains("request target"));
        assert!(malformed(b"GET /\xc3\xa9 HTTP/1.1\r\n\r\n").contains("request target"));
        assert!(malformed(b"GET / FTP/1.1\r\n\r\n").contains("HTTP version \"FTP/1.1\""));
        assert!(
            malformed(b"GET / HTTP/1.1\r\nNoColon\r\n\r\n").contains("header line \"NoColon\"")
        );
        assert!(malformed(b"GET / HTTP/1.1\r\nHost : x\r\n\r\n").contains("header name \"Host \""));
        assert!(malformed(b"GET / HTTP/1.1\r\n: x\r\n\r\n").contains("header name \"\""));
        assert!(malformed(b"GET / HTTP/1.1\r\nA: 1\r\n  folded\r\n\r\n").contains("folded"));
        assert!(malformed(b"GET / HTTP/1.1\r\nA: x\x00y\r\n\r\n").contains("control character"));
        assert!(malformed(b"GET / HTTP/1.1\r\nA: x\ry\r\n\r\n").contains("control character"));
        assert!(malformed(b"GET / HTTP/1.1\r\nA: \xff\r\n\r\n").contains("not UTF-8"));
        match parse(b"GET / HTTP/2.0\r\n\r\n") {
            Err(e @ Error::Version(_)) => assert_eq!(e.status(), Some(505)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ambiguous_body_framing_is_refused() {
        assert!(
            malformed(
                b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            .contains("both Transfer-Encoding and Content-Length")
        );
        assert!(
            malformed(b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd")
                .contains("disagree")
        );
        assert!(malformed(b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc").contains("\"+3\""));
        assert!(
            malformed(b"POST / HTTP/1.1\r\nContent-Length: 3, 3x\r\n\r\nabc").contains("\"3x\"")
        );
        // Equal repeated values are one length (RFC 9110 §8.6).
        let req = parse(b"POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc").unwrap();
        assert_eq!(req.unwrap().body, b"abc");
        match parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") {
            Err(e @ Error::UnsupportedEncoding(_)) => assert_eq!(e.status(), Some(501)),
            other => panic!("{other:?}"),
        }
        assert!(
            malformed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
                .contains("chunk size \"zz\"")
        );
        assert!(
            malformed(
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n"
            )
            .contains("CRLF")
        );
    }

    #[test]
    fn limits_are_kept_without_reading_past_them() {
        let limits = Limits {
            max_head: 64,
            max_headers: 2,
            max_body: 10,
        };
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(100));
        match parse_request(long.as_bytes(), &limits) {
            Err(e @ Error::HeadTooLarge { .. }) => assert_eq!(e.status(), Some(431)),
            other => panic!("{other:?}"),
        }
        let many = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        assert!(matches!(
            parse_request(many, &limits),
            Err(Error::HeadTooLarge { .. })
        ));
        // A declared length over the limit is refused before a byte of it is read.
        let big = b"POST / HTTP/1.1\r\nContent-Length: 10485760\r\n\r\n";
        match parse_request(big, &limits) {
            Err(e @ Error::BodyTooLarge { .. }) => {
                assert_eq!(e.status(), Some(413));
                assert_eq!(
                    e.to_string(),
                    "request body of 10485760 bytes over the 10 bytes limit"
                );
            }
            other => panic!("{other:?}"),
        }
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n";
        assert!(matches!(
            parse_request(chunked, &limits),
            Err(Error::BodyTooLarge { declared: None, .. })
        ));
        let huge_chunk = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffff\r\n";
        assert!(matches!(
            parse_request(huge_chunk, &limits),
            Err(Error::BodyTooLarge { .. })
        ));
        assert_eq!(
            Error::BodyTooLarge {
                limit: 4 << 20,
                declared: None
            }
            .to_string(),
            "request body over the 4 MiB limit"
        );
    }

    #[test]
    fn a_request_cut_short_is_truncated_not_malformed() {
        for raw in [
            &b"GET / HTTP/1.1\r\nHost: x"[..],
            b"GET / HTTP/1.1\r\nHost: x\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
        ] {
            assert!(
                matches!(parse(raw), Err(Error::Truncated)),
                "{:?}: {:?}",
                String::from_utf8_lossy(raw),
                parse(raw)
            );
        }
        assert_eq!(Error::Truncated.status(), None);
    }

    #[test]
    fn expect_continue_is_seen_on_http_1_1_only() {
        let head = parse_head(
            b"POST / HTTP/1.1\r\nExpect: 100-Continue\r\n",
            &Limits::default(),
        )
        .unwrap();
        assert!(head.expects_continue());
        let head = parse_head(
            b"POST / HTTP/1.0\r\nExpect: 100-continue\r\n",
            &Limits::default(),
        )
        .unwrap();
        assert!(!head.expects_continue());
    }

    #[test]
    fn percent_decoding_keeps_invalid_escapes() {
        assert_eq!(percent_decode("a%3Db%zz%4", false), "a=b%zz%4");
        assert_eq!(percent_decode("%", false), "%");
        assert_eq!(percent_decode("%4", false), "%4");
        assert_eq!(percent_decode("%41", false), "A");
        assert_eq!(percent_decode("a+b", true), "a b");
        assert_eq!(percent_decode("a+b", false), "a+b");
        assert_eq!(
            parse_query("sessionId=ab%20c&&x&y="),
            [
                ("sessionId".to_string(), "ab c".to_string()),
                ("x".into(), "".into()),
                ("y".into(), "".into())
            ]
        );
    }
}
