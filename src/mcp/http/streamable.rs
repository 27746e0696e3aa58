//! Streamable HTTP at `/mcp`, both generations on one endpoint, told apart per request:
//!
//! - **MCP 2026-07-28** (`MCP-Protocol-Version: 2026-07-28`): stateless. Every POST is answered
//!   by a fresh session; `_meta` must carry the protocol version and client capabilities
//!   (-32602), `Mcp-Method` and `Mcp-Name` must match the body (-32020), the header must match
//!   `_meta` (-32020) and name a version we speak (-32022); an unknown method is 404 with
//!   -32601. GET and DELETE are 405; an `Mcp-Session-Id` is ignored.
//! - **MCP 2025-03-26 … 2025-11-25**: `initialize` makes a session whose id travels in
//!   `Mcp-Session-Id`; later POSTs name it (unknown: 404), `GET` opens its stream (keep-alive
//!   only: we send no server-initiated messages), `DELETE` ends it.
//!
//! Each request's answer is JSON, or an SSE stream when notifications come before it or it
//! takes longer than the keep-alive interval (spec: the server chooses per request). A client
//! that closes the exchange cancels the call.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::super::connection::{Outgoing, Reply};
use super::super::message::{self, Message, RequestId, Response, code};
use super::super::server::{STATELESS_VERSION, Service, is_supported, supported_versions};
use super::super::session::Session;
use super::sessions::{Kind, OpenError};
use super::{
    POLL, Transport, accepts, not_allowed, rpc_error, rpc_error_with, sse_headers, sse_keepalive,
    sse_message,
};
use crate::http::server::Exchange;
use crate::http::{Request, Response as HttpResponse};

const VERSION_HEADER: &str = "mcp-protocol-version";
const SESSION_HEADER: &str = "mcp-session-id";
const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";

pub(super) fn handle<S: Service>(
    t: &Transport<S>,
    request: Request,
    exchange: &mut Exchange<'_>,
) -> Option<HttpResponse> {
    match request.method.as_str() {
        "POST" => post(t, request, exchange),
        "GET" => get(t, &request, exchange),
        "DELETE" => Some(delete(t, &request)),
        _ => Some(not_allowed("GET, POST, DELETE")),
    }
}

/// A client-sent value in a message, cut to a readable length.
fn shown(s: &str) -> String {
    let end = crate::text::floor_char_boundary(s, 100);
    let cut = if end < s.len() { "…" } else { "" };
    format!("{:?}{cut}", &s[..end])
}

fn is_modern(request: &Request) -> bool {
    request.header(VERSION_HEADER) == Some(STATELESS_VERSION)
}

fn post<S: Service>(
    t: &Transport<S>,
    request: Request,
    exchange: &mut Exchange<'_>,
) -> Option<HttpResponse> {
    if let Some(refusal) = media_refusal(&request) {
        return Some(refusal);
    }
    let sse_ok = accepts(&request, "text/event-stream");
    let message = match Message::parse(&request.body) {
        Ok(Some(m)) => m,
        // An invalid notification: JSON-RPC says to drop it without an answer.
        Ok(None) => return Some(HttpResponse::empty(202)),
        Err(response) => return Some(rpc_error_with(400, response)),
    };
    let (id, params) = match &message {
        Message::Request(r) => (Some(r.id.clone()), r.params.as_ref()),
        Message::Notification(n) => (None, n.params.as_ref()),
        Message::Response(_) => (None, None),
    };
    let header_version = request.header(VERSION_HEADER);
    let meta_version = params
        .and_then(|p| p.get("_meta"))
        .and_then(|m| m.get(META_PROTOCOL_VERSION));
    if let Some(v) = header_version
        && !is_supported(v)
    {
        let response = Response {
            id,
            result: Err(message::ResponseError {
                code: code::UNSUPPORTED_PROTOCOL_VERSION,
                message: format!("unsupported protocol version {}", shown(v)),
                data: Some(json!({"supported": supported_versions(), "requested": v})),
            }),
        };
        return Some(rpc_error_with(400, response));
    }
    if let (Some(h), Some(m)) = (header_version, meta_version)
        && m.as_str() != Some(h)
    {
        return Some(rpc_error(
            400,
            id,
            code::HEADER_MISMATCH,
            format!(
                "header mismatch: MCP-Protocol-Version is {} but _meta[\"{META_PROTOCOL_VERSION}\"] is {m}",
                shown(h)
            ),
        ));
    }
    let modern = header_version == Some(STATELESS_VERSION)
        || (header_version.is_none() && meta_version == Some(&json!(STATELESS_VERSION)));
    if modern {
        if header_version.is_none() {
            return Some(rpc_error(
                400,
                id,
                code::HEADER_MISMATCH,
                format!("the MCP-Protocol-Version header is required with MCP {STATELESS_VERSION}"),
            ));
        }
        return match message {
            Message::Request(r) => {
                if let Err(e) = check_meta(&r).and_then(|()| check_headers(&request, &r)) {
                    return Some(rpc_error_with(400, e));
                }
                // Stateless: a session of its own, gone with the answer.
                let session = t.server.session();
                answer(t, &session, r, exchange, true, sse_ok, true)
            }
            // 2026-07-28 defines no client notification over HTTP (closing the stream is the
            // cancellation); accepted and dropped.
            _ => Some(HttpResponse::empty(202)),
        };
    }
    if let Message::Request(r) = &message
        && r.method == "initialize"
    {
        let Message::Request(r) = message else {
            return None;
        };
        return Some(initialize(t, r));
    }
    let Some(sid) = request.header(SESSION_HEADER) else {
        return Some(rpc_error(
            400,
            id,
            code::INVALID_REQUEST,
            format!(
                "bad request: no Mcp-Session-Id: start a session with initialize, or send MCP-Protocol-Version: {STATELESS_VERSION} for stateless requests"
            ),
        ));
    };
    let Some(lease) = t.sessions.lease(sid, Kind::Streamable) else {
        return Some(unknown_session(sid, id));
    };
    match message {
        Message::Request(r) => answer(t, &lease.session, r, exchange, false, sse_ok, false),
        other => {
            // A notification (initialized, cancelled) or a client's response: never answered.
            let (reply, _) = Reply::channel();
            lease.session.handle(other, reply);
            Some(HttpResponse::empty(202))
        }
    }
}

/// 415 for a body that says it is not JSON; 406 for a client that takes neither JSON nor SSE.
fn media_refusal(request: &Request) -> Option<HttpResponse> {
    if let Some(ct) = request.header("content-type") {
        let media = ct.split(';').next().unwrap_or_default().trim();
        if !media.eq_ignore_ascii_case("application/json") {
            return Some(rpc_error(
                415,
                None,
                code::INVALID_REQUEST,
                format!(
                    "unsupported media type {}: send application/json",
                    shown(ct)
                ),
            ));
        }
    }
    if request.header("accept").is_some()
        && !accepts(request, "application/json")
        && !accepts(request, "text/event-stream")
    {
        return Some(rpc_error(
            406,
            None,
            code::INVALID_REQUEST,
            "not acceptable: accept application/json and text/event-stream".into(),
        ));
    }
    None
}

fn unknown_session(sid: &str, id: Option<RequestId>) -> HttpResponse {
    rpc_error(
        404,
        id,
        code::INVALID_REQUEST,
        format!(
            "session {} not found (ended, or idle too long): start a new one with initialize",
            shown(sid)
        ),
    )
}

/// A new 2025-era session: its id goes out in `Mcp-Session-Id` with the `initialize` result.
fn initialize<S: Service>(t: &Transport<S>, request: message::Request) -> HttpResponse {
    let id = request.id.clone();
    let lease = match t.sessions.open(Kind::Streamable, None) {
        Ok(lease) => lease,
        Err(e) => {
            let status = match e {
                OpenError::Full(_) => 503,
                OpenError::NoRandom => 500,
            };
            return rpc_error(status, Some(id), code::INTERNAL_ERROR, e.to_string());
        }
    };
    let (reply, rx) = Reply::channel();
    lease.session.handle(Message::Request(request), reply);
    // `initialize` is answered before `handle` returns.
    match rx.try_recv() {
        Ok(Outgoing::Message(Message::Response(r))) if r.result.is_ok() => {
            HttpResponse::json(200, Message::Response(r).to_line())
                .with_header("Mcp-Session-Id", lease.id())
        }
        other => {
            let sid = lease.id().to_string();
            drop(lease);
            t.sessions.end(&sid, Kind::Streamable);
            match other {
                Ok(Outgoing::Message(Message::Response(r))) => {
                    let status = status_for(&r, false);
                    rpc_error_with(status, r)
                }
                _ => rpc_error(
                    500,
                    Some(id),
                    code::INTERNAL_ERROR,
                    "initialize was not answered".into(),
                ),
            }
        }
    }
}

/// The HTTP status of a JSON-RPC answer. MCP 2026-07-28: an unknown method is 404, version and
/// header problems 400; malformed requests are 400 in every revision; everything else is a
/// normal answer (a failed tool call is a result, not an error).
fn status_for(response: &Response, modern: bool) -> u16 {
    let Err(e) = &response.result else {
        return 200;
    };
    match e.code {
        code::PARSE_ERROR | code::INVALID_REQUEST => 400,
        code::METHOD_NOT_FOUND if modern => 404,
        code::UNSUPPORTED_PROTOCOL_VERSION
        | code::HEADER_MISMATCH
        | code::MISSING_REQUIRED_CLIENT_CAPABILITY => 400,
        _ => 200,
    }
}

/// 2026-07-28: every request's `_meta` names the protocol version and the client's
/// capabilities (clientInfo is optional).
fn check_meta(r: &message::Request) -> Result<(), Response> {
    let invalid = |what: String| {
        Response::err(
            Some(r.id.clone()),
            code::INVALID_PARAMS,
            format!("invalid params: a {STATELESS_VERSION} request needs {what}"),
        )
    };
    let meta = r
        .params
        .as_ref()
        .and_then(|p| p.get("_meta"))
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("params._meta".into()))?;
    if !meta
        .get(META_PROTOCOL_VERSION)
        .is_some_and(Value::is_string)
    {
        return Err(invalid(format!("_meta[\"{META_PROTOCOL_VERSION}\"]")));
    }
    if !meta
        .get(META_CLIENT_CAPABILITIES)
        .is_some_and(Value::is_object)
    {
        return Err(invalid(format!("_meta[\"{META_CLIENT_CAPABILITIES}\"]")));
    }
    Ok(())
}

/// 2026-07-28 request headers (SEP-2243): `Mcp-Method` always, `Mcp-Name` for the methods
/// that name a tool, prompt or resource; both must say what the body says.
fn check_headers(request: &Request, r: &message::Request) -> Result<(), Response> {
    let mismatch = |m: String| Response::err(Some(r.id.clone()), code::HEADER_MISMATCH, m);
    match request.header("mcp-method") {
        None => return Err(mismatch("the Mcp-Method header is required".into())),
        Some(m) if m != r.method => {
            return Err(mismatch(format!(
                "header mismatch: Mcp-Method is {} but the body's method is {}",
                shown(m),
                shown(&r.method)
            )));
        }
        Some(_) => {}
    }
    let field = match r.method.as_str() {
        "tools/call" | "prompts/get" => "name",
        "resources/read" => "uri",
        _ => return Ok(()),
    };
    let empty = Map::new();
    let params = r
        .params
        .as_ref()
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    // Without a name in the body the request is invalid anyway; the session says why.
    let Some(body) = params.get(field).and_then(Value::as_str) else {
        return Ok(());
    };
    let Some(header) = request.header("mcp-name") else {
        return Err(mismatch(format!(
            "the Mcp-Name header is required for {}",
            r.method
        )));
    };
    let decoded = decode_header_value(header).ok_or_else(|| {
        mismatch(format!(
            "Mcp-Name {} is not valid base64 UTF-8",
            shown(header)
        ))
    })?;
    if decoded != body {
        return Err(mismatch(format!(
            "header mismatch: Mcp-Name is {} but params.{field} is {}",
            shown(&decoded),
            shown(body)
        )));
    }
    Ok(())
}

/// A header value as SEP-2243 encodes it: `=?base64?…?=` holds base64 of UTF-8, anything else
/// is the value itself.
fn decode_header_value(value: &str) -> Option<String> {
    let Some(encoded) = value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    else {
        return Some(value.to_string());
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// Hand `request` to `session` and answer the exchange with what comes back: JSON when the
/// answer is all there is, an SSE stream when notifications come first or the answer takes
/// longer than the keep-alive interval. A client that hangs up cancels the call
/// (`stateless`: the whole per-request session).
fn answer<S: Service>(
    t: &Transport<S>,
    session: &Session<S>,
    request: message::Request,
    exchange: &mut Exchange<'_>,
    modern: bool,
    sse_ok: bool,
    stateless: bool,
) -> Option<HttpResponse> {
    let _answering = t.answering.hold();
    let id = request.id.clone();
    let (reply, rx) = Reply::channel();
    session.handle(Message::Request(request), reply);
    let cancel = || {
        if stateless {
            session.cancel_all();
        } else {
            session.cancel(&id);
        }
    };
    let mut streaming = false;
    let mut last_write = Instant::now();
    loop {
        match rx.recv_timeout(POLL) {
            Ok(Outgoing::Message(Message::Response(r))) => {
                if !streaming {
                    let status = status_for(&r, modern);
                    return Some(rpc_error_with(status, r));
                }
                let _ = exchange.send(&sse_message(&Message::Response(r)));
                let _ = exchange.finish();
                return None;
            }
            Ok(Outgoing::Message(notification)) => {
                // JSON carries one message: without SSE, notifications are dropped.
                if !sse_ok {
                    continue;
                }
                if (!streaming && !start(exchange, &mut streaming))
                    || exchange.send(&sse_message(&notification)).is_err()
                {
                    cancel();
                    return None;
                }
                last_write = Instant::now();
            }
            Ok(Outgoing::Close) => {}
            Err(RecvTimeoutError::Disconnected) => {
                // No answer will come: the call was cancelled (a notifications/cancelled).
                if streaming {
                    let _ = exchange.finish();
                    return None;
                }
                return Some(HttpResponse::empty(202));
            }
            Err(RecvTimeoutError::Timeout) => {
                if exchange.peer_gone() {
                    cancel();
                    exchange.close_after();
                    return None;
                }
                if sse_ok && last_write.elapsed() >= t.keepalive {
                    if (!streaming && !start(exchange, &mut streaming))
                        || exchange.send(&sse_keepalive()).is_err()
                    {
                        cancel();
                        return None;
                    }
                    last_write = Instant::now();
                }
            }
        }
    }
}

fn start(exchange: &mut Exchange<'_>, streaming: &mut bool) -> bool {
    *streaming = exchange
        .start_stream(200, "text/event-stream", &sse_headers())
        .is_ok();
    *streaming
}

/// `GET /mcp`: a 2025 session's stream for server-initiated messages. We send none, so it
/// carries keep-alive comments until the session ends, the client leaves or we stop.
fn get<S: Service>(
    t: &Transport<S>,
    request: &Request,
    exchange: &mut Exchange<'_>,
) -> Option<HttpResponse> {
    if is_modern(request) {
        return Some(not_allowed_modern("GET"));
    }
    let Some(sid) = request.header(SESSION_HEADER) else {
        return Some(
            rpc_error(
                405,
                None,
                code::INVALID_REQUEST,
                format!("method not allowed: GET opens a session's stream and needs Mcp-Session-Id; MCP {STATELESS_VERSION} has no GET stream"),
            )
            .with_header("Allow", "POST"),
        );
    };
    if !accepts(request, "text/event-stream") {
        return Some(rpc_error(
            406,
            None,
            code::INVALID_REQUEST,
            "not acceptable: the GET stream is text/event-stream".into(),
        ));
    }
    let Some(lease) = t.sessions.lease(sid, Kind::Streamable) else {
        return Some(unknown_session(sid, None));
    };
    let (tx, rx) = mpsc::channel();
    if !t.sessions.attach_stream(lease.id(), tx) {
        return Some(rpc_error(
            409,
            None,
            code::INVALID_REQUEST,
            "conflict: this session's GET stream is already open".into(),
        ));
    }
    if exchange
        .start_stream(200, "text/event-stream", &sse_headers())
        .is_ok()
    {
        pump(t, exchange, &rx);
        let _ = exchange.finish();
    }
    t.sessions.detach_stream(lease.id());
    None
}

/// Write what arrives for a stream until it is closed (`Close`, the session ended), the client
/// leaves, or a write fails; keep-alive comments in quiet times.
pub(super) fn pump<S: Service>(
    t: &Transport<S>,
    exchange: &mut Exchange<'_>,
    rx: &Receiver<Outgoing>,
) {
    // Check on the client at least every second, and as often as keep-alives are due.
    let tick = t.keepalive.min(Duration::from_secs(1));
    let mut last_write = Instant::now();
    loop {
        match rx.recv_timeout(tick) {
            Ok(Outgoing::Message(m)) => {
                if exchange.send(&sse_message(&m)).is_err() {
                    return;
                }
                last_write = Instant::now();
            }
            Ok(Outgoing::Close) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {
                if exchange.peer_gone() {
                    return;
                }
                if last_write.elapsed() >= t.keepalive {
                    if exchange.send(&sse_keepalive()).is_err() {
                        return;
                    }
                    last_write = Instant::now();
                }
            }
        }
    }
}

fn not_allowed_modern(method: &str) -> HttpResponse {
    rpc_error(
        405,
        None,
        code::INVALID_REQUEST,
        format!("method not allowed: MCP {STATELESS_VERSION} has no {method} on the MCP endpoint; send each message as a POST"),
    )
    .with_header("Allow", "POST")
}

/// `DELETE /mcp`: end a 2025 session.
fn delete<S: Service>(t: &Transport<S>, request: &Request) -> HttpResponse {
    if is_modern(request) {
        return not_allowed_modern("DELETE");
    }
    let Some(sid) = request.header(SESSION_HEADER) else {
        return rpc_error(
            405,
            None,
            code::INVALID_REQUEST,
            "method not allowed: DELETE ends a session and needs Mcp-Session-Id".into(),
        )
        .with_header("Allow", "POST");
    };
    if t.sessions.end(sid, Kind::Streamable) {
        HttpResponse::empty(200)
    } else {
        unknown_session(sid, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(raw: &str) -> Request {
        crate::http::request::parse_request(raw.as_bytes(), &Default::default())
            .unwrap()
            .unwrap()
    }

    fn rpc(method: &str, params: Value) -> message::Request {
        message::Request {
            id: RequestId::from(7),
            method: method.into(),
            params: Some(params),
        }
    }

    fn code_of(r: Result<(), Response>) -> Option<i64> {
        r.err().and_then(|e| e.result.err()).map(|e| e.code)
    }

    #[test]
    fn meta_must_name_the_version_and_the_client_capabilities() {
        let ok =
            json!({"_meta": {META_PROTOCOL_VERSION: "2026-07-28", META_CLIENT_CAPABILITIES: {}}});
        assert_eq!(check_meta(&rpc("tools/list", ok)), Ok(()));
        for bad in [
            json!({}),
            json!({"_meta": {META_CLIENT_CAPABILITIES: {}}}),
            json!({"_meta": {META_PROTOCOL_VERSION: "2026-07-28"}}),
            json!({"_meta": {META_PROTOCOL_VERSION: "2026-07-28", META_CLIENT_CAPABILITIES: []}}),
        ] {
            assert_eq!(
                code_of(check_meta(&rpc("tools/list", bad.clone()))),
                Some(-32602),
                "{bad}"
            );
        }
        let none = message::Request {
            id: 1.into(),
            method: "x".into(),
            params: None,
        };
        assert_eq!(code_of(check_meta(&none)), Some(-32602));
    }

    #[test]
    fn method_and_name_headers_must_match_the_body() {
        let call = rpc("tools/call", json!({"name": "get_flux_instance"}));
        let headers = |h: &str| req(&format!("POST /mcp HTTP/1.1\r\n{h}\r\n"));
        assert_eq!(
            check_headers(
                &headers("Mcp-Method: tools/call\r\nMcp-Name: get_flux_instance\r\n"),
                &call
            ),
            Ok(())
        );
        assert_eq!(
            check_headers(
                &headers("mcp-method: tools/call\r\nMCP-NAME:  get_flux_instance \r\n"),
                &call
            ),
            Ok(())
        );
        let encoded = base64::engine::general_purpose::STANDARD.encode("get_flux_instance");
        assert_eq!(
            check_headers(
                &headers(&format!(
                    "Mcp-Method: tools/call\r\nMcp-Name: =?base64?{encoded}?=\r\n"
                )),
                &call
            ),
            Ok(())
        );
        for bad in [
            "Mcp-Name: get_flux_instance\r\n",
            "Mcp-Method: TOOLS/CALL\r\nMcp-Name: get_flux_instance\r\n",
            "Mcp-Method: tools/call\r\n",
            "Mcp-Method: tools/call\r\nMcp-Name: other\r\n",
            "Mcp-Method: tools/call\r\nMcp-Name: =?base64?!!?=\r\n",
        ] {
            assert_eq!(
                code_of(check_headers(&headers(bad), &call)),
                Some(-32020),
                "{bad}"
            );
        }
        let list = rpc("tools/list", json!({}));
        assert_eq!(
            check_headers(&headers("Mcp-Method: tools/list\r\n"), &list),
            Ok(())
        );
        let resource = rpc("resources/read", json!({"uri": "file:///x"}));
        assert_eq!(
            code_of(check_headers(
                &headers("Mcp-Method: resources/read\r\nMcp-Name: file:///y\r\n"),
                &resource
            )),
            Some(-32020)
        );
    }

    #[test]
    fn error_statuses_follow_the_era() {
        let err = |c: i64| Response::err(Some(1.into()), c, "x");
        assert_eq!(status_for(&Response::ok(1.into(), json!({})), true), 200);
        assert_eq!(status_for(&err(-32601), true), 404);
        assert_eq!(status_for(&err(-32601), false), 200);
        assert_eq!(status_for(&err(-32022), true), 400);
        assert_eq!(status_for(&err(-32700), false), 400);
        assert_eq!(status_for(&err(-32602), true), 200);
        assert_eq!(status_for(&err(-32603), true), 200);
    }

    #[test]
    fn long_client_values_are_cut_in_messages() {
        assert_eq!(shown("abc"), "\"abc\"");
        let long = "é".repeat(200);
        let s = shown(&long);
        assert!(s.ends_with('…') && s.len() < 120, "{s}");
    }
}
