//! HTTP/1.1 for the test server: reading one request off a (TLS) stream and writing one response
//! with `Content-Length` or `Transfer-Encoding: chunked`, keep-alive by default (RFC 9112).

use std::fmt;
use std::io::{self, BufRead, Read, Write};

/// Largest request head (request line + headers) accepted; Go's default is 1 MiB, ours is smaller
/// because no test sends more.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted (the API server's own limit is 3 MiB for most writes).
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Bodies larger than this are sent chunked, as the API server's Go HTTP stack does for responses
/// it does not buffer entirely.
pub const CHUNKED_ABOVE: usize = 32 * 1024;
const CHUNK: usize = 16 * 1024;

/// One parsed request.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The path, percent-decoded.
    pub path: String,
    /// The raw query string (without `?`), as sent.
    pub raw_query: String,
    /// Query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Header names lowercased, values as sent, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
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

impl Request {
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

    /// Whether the client asked to close the connection after this exchange.
    pub fn wants_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
    }
}

/// Why a request could not be read.
#[derive(Debug)]
pub enum HttpError {
    Io(io::Error),
    /// Malformed request; answered with 400 then the connection is closed.
    Malformed(String),
    /// Head or body over the limits; answered with 413 or 431.
    TooLarge(&'static str),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Io(e) => write!(f, "reading the request: {e}"),
            HttpError::Malformed(what) => write!(f, "malformed request: {what}"),
            HttpError::TooLarge(what) => write!(f, "request {what} too large"),
        }
    }
}

impl From<io::Error> for HttpError {
    fn from(e: io::Error) -> Self {
        HttpError::Io(e)
    }
}

fn read_line<R: BufRead>(r: &mut R, budget: &mut usize) -> Result<Option<String>, HttpError> {
    let mut line = Vec::new();
    let n = r.take(*budget as u64 + 1).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if n > *budget {
        return Err(HttpError::TooLarge("head"));
    }
    *budget -= n;
    if line.last() != Some(&b'\n') {
        return Err(HttpError::Malformed(
            "connection closed inside the head".into(),
        ));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| HttpError::Malformed("head is not UTF-8".into()))
}

/// Read one request; `Ok(None)` when the peer closed the connection between requests.
pub fn read_request<R: BufRead>(r: &mut R) -> Result<Option<Request>, HttpError> {
    let mut budget = MAX_HEAD;
    let request_line = loop {
        match read_line(r, &mut budget)? {
            None => return Ok(None),
            // RFC 9112 §2.2: ignore empty lines before the request line.
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::Malformed(format!(
            "request line {request_line:?}"
        )));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::Malformed(format!("version {version:?}")));
    }
    let mut headers = Vec::new();
    loop {
        let Some(line) = read_line(r, &mut budget)? else {
            return Err(HttpError::Malformed(
                "connection closed inside the head".into(),
            ));
        };
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(HttpError::Malformed(format!("header line {line:?}")));
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let (raw_path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let mut req = Request {
        method: method.to_string(),
        path: percent_decode(raw_path, false),
        raw_query: raw_query.to_string(),
        query: parse_query(raw_query),
        headers,
        body: Vec::new(),
    };
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        req.body = read_chunked(r)?;
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| HttpError::Malformed(format!("content-length {len:?}")))?;
        if len > MAX_BODY {
            return Err(HttpError::TooLarge("body"));
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body)?;
        req.body = body;
    }
    Ok(Some(req))
}

fn read_chunked<R: BufRead>(r: &mut R) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    loop {
        let mut budget = 1024;
        let Some(size_line) = read_line(r, &mut budget)? else {
            return Err(HttpError::Malformed(
                "connection closed inside a chunk".into(),
            ));
        };
        let size = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| HttpError::Malformed(format!("chunk size {size:?}")))?;
        if body.len() + size > MAX_BODY {
            return Err(HttpError::TooLarge("body"));
        }
        if size == 0 {
            // Trailers, then the empty line.
            let mut budget = MAX_HEAD;
            while let Some(line) = read_line(r, &mut budget)? {
                if line.is_empty() {
                    break;
                }
            }
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        let mut crlf = [0; 2];
        r.read_exact(&mut crlf)?;
        if &crlf != b"\r\n" {
            return Err(HttpError::Malformed("chunk not followed by CRLF".into()));
        }
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decode `%XX` escapes (and `+` as space in query strings, as Go's url.ParseQuery does).
/// Invalid escapes are kept literally.
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

/// `a=1&b=x%20y` → [("a","1"), ("b","x y")].
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

/// A response to write.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
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

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        409 => "Conflict",
        410 => "Gone",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// How to cut a response short (fault injection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Write it all.
    None,
    /// Announce the whole body but send only half of it, then close.
    Half,
}

/// Write `resp`; bodies above [`CHUNKED_ABOVE`] go chunked. `head` suppresses the body (HEAD).
pub fn write_response<W: Write>(
    w: &mut W,
    resp: &Response,
    close: bool,
    head: bool,
    cut: Cut,
) -> io::Result<()> {
    let chunked = resp.body.len() > CHUNKED_ABOVE;
    let mut out = Vec::with_capacity(256 + resp.body.len().min(CHUNKED_ABOVE));
    write!(
        out,
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nCache-Control: no-cache, private\r\n",
        resp.status,
        reason_phrase(resp.status),
        resp.content_type
    )?;
    for (name, value) in &resp.headers {
        write!(out, "{name}: {value}\r\n")?;
    }
    if chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    } else {
        write!(out, "Content-Length: {}\r\n", resp.body.len())?;
    }
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if head {
        w.write_all(&out)?;
        return w.flush();
    }
    let body: &[u8] = match cut {
        Cut::None => &resp.body,
        Cut::Half => &resp.body[..resp.body.len() / 2],
    };
    if !chunked {
        out.extend_from_slice(body);
        w.write_all(&out)?;
        return w.flush();
    }
    // Each chunk goes out in one write (one TLS record or so), framing included.
    w.write_all(&out)?;
    let mut frame = Vec::with_capacity(CHUNK + 16);
    for chunk in body.chunks(CHUNK) {
        frame.clear();
        write!(frame, "{:x}\r\n", chunk.len())?;
        frame.extend_from_slice(chunk);
        frame.extend_from_slice(b"\r\n");
        w.write_all(&frame)?;
    }
    if cut == Cut::None {
        w.write_all(b"0\r\n\r\n")?;
    }
    w.flush()
}

/// A 200 answer whose body is a well-formed JSON List of `bytes` bytes (at least its framing)
/// with one ConfigMap holding the bulk in a data value: every byte is valid, only the size is
/// wrong. Streamed from one 64 KiB piece, so the server never holds it; the connection closes
/// after it (or when the client stops reading).
pub fn write_oversize<W: Write>(w: &mut W, bytes: u64) -> io::Result<()> {
    const HEAD: &str = r#"{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"oversize","namespace":"default"},"data":{"bulk":""#;
    const TAIL: &str = r#""}}]}"#;
    let framing = (HEAD.len() + TAIL.len()) as u64;
    let bulk = bytes.saturating_sub(framing);
    write!(
        w,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{HEAD}",
        bulk + framing
    )?;
    let piece = [b'a'; 64 << 10];
    let mut left = bulk;
    while left > 0 {
        let n = left.min(piece.len() as u64) as usize;
        w.write_all(&piece[..n])?;
        left -= n as u64;
    }
    w.write_all(TAIL.as_bytes())?;
    w.flush()
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_a_request_with_query_and_body() {
        use super::*;
        let raw = b"PATCH /apis/x/v1/namespaces/a%2Db/things/n?fieldSelector=metadata.name%3Dx&labelSelector=a+in+(b)&limit=2 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nImpersonate-Group: g1\r\nImpersonate-Group: g2\r\n\r\n{}";
        let mut r = io::BufReader::new(&raw[..]);
        let req = read_request(&mut r).unwrap().unwrap();
        assert_eq!(req.method, "PATCH");
        assert_eq!(req.path, "/apis/x/v1/namespaces/a-b/things/n");
        assert_eq!(req.param("fieldSelector"), Some("metadata.name=x"));
        assert_eq!(req.param("labelSelector"), Some("a in (b)"));
        assert_eq!(req.param("limit"), Some("2"));
        assert_eq!(req.body, b"{}");
        let groups: Vec<_> = req.header_values("impersonate-group").collect();
        assert_eq!(groups, ["g1", "g2"]);
        assert!(read_request(&mut r).unwrap().is_none());
    }

    #[test]
    fn reads_a_chunked_body() {
        use super::*;
        let raw = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        let req = read_request(&mut io::BufReader::new(&raw[..]))
            .unwrap()
            .unwrap();
        assert_eq!(req.body, b"abcde");
    }

    #[test]
    fn percent_decoding_keeps_invalid_escapes() {
        use super::*;
        assert_eq!(percent_decode("a%3Db%zz%4", false), "a=b%zz%4");
        assert_eq!(percent_decode("a+b", true), "a b");
        assert_eq!(percent_decode("a+b", false), "a+b");
    }

    #[test]
    fn big_bodies_are_chunked_and_can_be_cut() {
        use super::*;
        let resp = Response::json(200, vec![b'x'; CHUNKED_ABOVE + 10]);
        let mut out = Vec::new();
        write_response(&mut out, &resp, false, false, Cut::None).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Transfer-Encoding: chunked"));
        assert!(text.ends_with("0\r\n\r\n"));
        let mut cut = Vec::new();
        write_response(&mut cut, &resp, false, false, Cut::Half).unwrap();
        assert!(!String::from_utf8(cut).unwrap().ends_with("0\r\n\r\n"));
    }

    #[test]
    fn an_oversize_answer_is_valid_json_of_the_announced_size() {
        use super::*;
        let mut big = Vec::new();
        write_oversize(&mut big, 200_000).unwrap();
        let text = String::from_utf8(big).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("Content-Length: 200000"), "{head}");
        assert_eq!(body.len(), 200_000);
        let list: serde_json::Value = serde_json::from_str(body).unwrap();
        let bulk = list["items"][0]["data"]["bulk"].as_str().unwrap();
        assert!(bulk.len() > 199_000, "{}", bulk.len());
    }
}
