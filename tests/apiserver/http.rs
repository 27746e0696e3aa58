//! HTTP/1.1 for the test server: the product's reader and writer (`flux_operator_mcp::http`,
//! one implementation of the protocol), with the test server's limits and the one thing a
//! product never does: cut a response's body short (fault injection).

use std::io::{self, BufRead, Write};

pub use flux_operator_mcp::http::Response;
pub use flux_operator_mcp::http::request::{
    Error as HttpError, Limits, Request, first_param, first_value, values,
};
use flux_operator_mcp::http::response::{self, BodyFraming};

/// Request limits: a head of 64 KiB (Go's default is 1 MiB; no test sends more) and bodies up
/// to 16 MiB (the API server's own limit is 3 MiB for most writes).
const LIMITS: Limits = Limits {
    max_head: 64 * 1024,
    max_headers: 200,
    max_body: 16 * 1024 * 1024,
};

/// Bodies larger than this are sent chunked, as the API server's Go HTTP stack does for
/// responses it does not buffer entirely.
pub const CHUNKED_ABOVE: usize = 32 * 1024;

/// Read one request; `Ok(None)` when the peer closed the connection between requests.
pub fn read_request<R: BufRead>(r: &mut R) -> Result<Option<Request>, HttpError> {
    flux_operator_mcp::http::request::read_request(r, &LIMITS)
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
    if cut == Cut::None || head {
        return response::write_response(w, resp, close, head, CHUNKED_ABOVE);
    }
    let chunked = resp.body.len() > CHUNKED_ABOVE;
    let framing = if chunked {
        BodyFraming::Chunked
    } else {
        BodyFraming::Length(resp.body.len())
    };
    let mut out = Vec::new();
    response::write_head(
        &mut out,
        resp.status,
        &resp.content_type,
        &resp.headers,
        framing,
        close,
    );
    let half = &resp.body[..resp.body.len() / 2];
    if chunked {
        for chunk in half.chunks(16 * 1024) {
            response::write_chunk(&mut out, chunk);
        }
    } else {
        out.extend_from_slice(half);
    }
    w.write_all(&out)?;
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
    fn a_cut_response_announces_the_whole_body_and_sends_half() {
        use super::*;
        let resp = Response::json(200, vec![b'x'; CHUNKED_ABOVE + 10]);
        let mut whole = Vec::new();
        write_response(&mut whole, &resp, false, false, Cut::None).unwrap();
        let text = String::from_utf8(whole).unwrap();
        assert!(text.contains("Transfer-Encoding: chunked"));
        assert!(text.ends_with("0\r\n\r\n"));
        let mut cut = Vec::new();
        write_response(&mut cut, &resp, false, false, Cut::Half).unwrap();
        let cut = String::from_utf8(cut).unwrap();
        assert!(!cut.ends_with("0\r\n\r\n"));
        let small = Response::json(200, b"0123456789".to_vec());
        let mut cut = Vec::new();
        write_response(&mut cut, &small, true, false, Cut::Half).unwrap();
        let cut = String::from_utf8(cut).unwrap();
        assert!(cut.contains("Content-Length: 10\r\n") && cut.ends_with("\r\n\r\n01234"));
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
