//! The legacy HTTP+SSE transport (MCP 2024-11-05, deprecated since 2025-03-26, still what
//! `{"type": "sse", "url": ".../sse"}` client configurations speak): `GET /sse` opens a stream
//! and a session; its first event, `endpoint`, names where to POST (`/message?sessionId=…`);
//! every POST there is answered 202 and its answer travels on the stream. The stream closing
//! ends the session and cancels its calls.

use std::sync::mpsc;

use super::super::connection::Reply;
use super::super::message::code;
use super::super::server::Service;
use super::sessions::{Kind, OpenError};
use super::streamable::pump;
use super::{Transport, accepts, not_allowed, rpc_error, sse_headers};
use crate::http::server::Exchange;
use crate::http::{Request, Response as HttpResponse};

/// `GET /sse`.
pub(super) fn open<S: Service>(
    t: &Transport<S>,
    request: &Request,
    exchange: &mut Exchange<'_>,
) -> Option<HttpResponse> {
    if request.method != "GET" {
        return Some(not_allowed("GET"));
    }
    if request.header("accept").is_some() && !accepts(request, "text/event-stream") {
        return Some(rpc_error(
            406,
            None,
            code::INVALID_REQUEST,
            "not acceptable: /sse is text/event-stream".into(),
        ));
    }
    let (tx, rx) = mpsc::channel();
    let lease = match t.sessions.open(Kind::LegacySse, Some(tx)) {
        Ok(lease) => lease,
        Err(e) => {
            let status = match e {
                OpenError::Full(_) => 503,
                OpenError::NoRandom => 500,
            };
            return Some(rpc_error(status, None, code::INTERNAL_ERROR, e.to_string()));
        }
    };
    let id = lease.id().to_string();
    if exchange
        .start_stream(200, "text/event-stream", &sse_headers())
        .is_ok()
    {
        let mut endpoint = Vec::new();
        crate::http::response::sse_event(
            &mut endpoint,
            Some("endpoint"),
            &format!("/message?sessionId={id}"),
        );
        if exchange.send(&endpoint).is_ok() {
            pump(t, exchange, &rx);
        }
        let _ = exchange.finish();
    }
    drop(lease);
    t.sessions.end(&id, Kind::LegacySse);
    None
}

/// `POST /message?sessionId=…`: the message is handled, its answer goes to the stream.
pub(super) fn post<S: Service>(t: &Transport<S>, request: &Request) -> Option<HttpResponse> {
    if request.method != "POST" {
        return Some(not_allowed("POST"));
    }
    let Some(sid) = request.param("sessionId") else {
        return Some(rpc_error(
            400,
            None,
            code::INVALID_REQUEST,
            "bad request: no sessionId: POST to the URL of the stream's endpoint event".into(),
        ));
    };
    let lease = t.sessions.lease(sid, Kind::LegacySse);
    let Some((lease, stream)) = lease.and_then(|l| l.stream.clone().map(|s| (l, s))) else {
        let end = crate::text::floor_char_boundary(sid, 100);
        return Some(rpc_error(
            404,
            None,
            code::INVALID_REQUEST,
            format!(
                "session {:?} not found: its stream is closed; open a new one with GET /sse",
                &sid[..end]
            ),
        ));
    };
    if let Some(ct) = request.header("content-type") {
        let media = ct.split(';').next().unwrap_or_default().trim();
        if !media.eq_ignore_ascii_case("application/json") {
            return Some(rpc_error(
                415,
                None,
                code::INVALID_REQUEST,
                "unsupported media type: send application/json".into(),
            ));
        }
    }
    // Parse errors are answered on the stream too, as on stdio.
    lease.session.handle_line(&request.body, Reply::new(stream));
    Some(HttpResponse::text(202, "Accepted"))
}
