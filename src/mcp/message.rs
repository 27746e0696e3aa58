//! JSON-RPC 2.0 messages as MCP uses them: one [`Message`] enum (request, notification,
//! response), parsed from one stdio line and written back as one line.
//!
//! The `"jsonrpc": "2.0"` member is checked on the way in and added on the way out; it is never
//! stored. A response carries one `Result<Value, ResponseError>`, so "both result and error" or
//! "neither" cannot be built (JSON-RPC 2.0 §5).

use std::fmt;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Number, Value};

/// JSON-RPC error codes used by MCP (JSON-RPC 2.0 §5.1 and the MCP schema).
pub mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    /// MCP 2026-07-28: the `_meta` protocol version is not one the server speaks.
    pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
    /// MCP 2026-07-28 Streamable HTTP: a request header (`MCP-Protocol-Version`, `Mcp-Method`,
    /// `Mcp-Name`) is missing or does not match the body.
    pub const HEADER_MISMATCH: i64 = -32020;
    /// MCP 2026-07-28: the request needs a client capability the client did not declare.
    pub const MISSING_REQUIRED_CLIENT_CAPABILITY: i64 = -32021;
}

/// A request id: MCP allows strings and integers and requires them echoed unchanged. An
/// integer keeps its `serde_json::Number` so that `7` is not echoed as `7.0` or re-typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RequestId {
    Int(Number),
    Str(String),
}

impl RequestId {
    /// A JSON id as MCP allows it: a string or an integer.
    pub fn from_value(v: &Value) -> Option<RequestId> {
        match v {
            Value::String(s) => Some(RequestId::Str(s.clone())),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(RequestId::Int(n.clone())),
            _ => None,
        }
    }

    fn to_value(&self) -> Value {
        match self {
            RequestId::Int(n) => Value::Number(n.clone()),
            RequestId::Str(s) => Value::String(s.clone()),
        }
    }
}

impl From<i64> for RequestId {
    fn from(n: i64) -> RequestId {
        RequestId::Int(Number::from(n))
    }
}

impl From<&str> for RequestId {
    fn from(s: &str) -> RequestId {
        RequestId::Str(s.to_string())
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestId::Int(n) => write!(f, "{n}"),
            RequestId::Str(s) => write!(f, "{s:?}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub id: RequestId,
    pub method: String,
    /// `None` when the member is absent; `Some(Value::Null)` when the client sent `null`.
    pub params: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub method: String,
    pub params: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// `None` is written as `"id": null`: the answer to a line whose id could not be read.
    pub id: Option<RequestId>,
    pub result: Result<Value, ResponseError>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResponseError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl ResponseError {
    pub fn new(code: i64, message: impl Into<String>) -> ResponseError {
        ResponseError {
            code,
            message: message.into(),
            data: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Request(Request),
    Notification(Notification),
    Response(Response),
}

impl Response {
    pub fn ok(id: RequestId, result: Value) -> Response {
        Response {
            id: Some(id),
            result: Ok(result),
        }
    }

    pub fn err(id: Option<RequestId>, code: i64, message: impl Into<String>) -> Response {
        Response {
            id,
            result: Err(ResponseError::new(code, message)),
        }
    }
}

impl Message {
    /// Parse one line. A line that is not a usable message yields the error response to send
    /// back (JSON-RPC 2.0 §5: parse error and invalid request answer with the id when it can be
    /// read, else `null`). `Ok(None)` means "nothing to do": a line the protocol says to drop
    /// silently (an invalid notification cannot be answered).
    pub fn parse(line: &[u8]) -> Result<Option<Message>, Response> {
        // serde_json checks UTF-8, caps nesting at 128 levels (no stack overflow on deep input)
        // and rejects trailing garbage.
        let value: Value = serde_json::from_slice(line)
            .map_err(|e| Response::err(None, code::PARSE_ERROR, format!("parse error: {e}")))?;
        Message::from_value(value)
    }

    fn from_value(value: Value) -> Result<Option<Message>, Response> {
        let mut obj = match value {
            Value::Object(obj) => obj,
            // Batches were only part of MCP 2025-03-26 and were removed again; we speak the
            // revisions that have none, so an array is answered as invalid (mcp-notes).
            Value::Array(_) => {
                return Err(Response::err(
                    None,
                    code::INVALID_REQUEST,
                    "invalid request: JSON-RPC batches are not supported",
                ));
            }
            other => {
                return Err(Response::err(
                    None,
                    code::INVALID_REQUEST,
                    format!(
                        "invalid request: expected a JSON object, got {}",
                        json_type(&other)
                    ),
                ));
            }
        };

        // A response (no method; a result or an error) is never answered, whatever else is
        // wrong with it (JSON-RPC 2.0 §5: a response is not a request, and answering it
        // could make two peers answer each other's answers for ever). One we can match to
        // nothing of ours (an id that is null, unknown or not an id at all) is dropped here.
        if !obj.contains_key("method") && (obj.contains_key("result") || obj.contains_key("error"))
        {
            return Ok(response_from(obj));
        }

        let id = match obj.get("id") {
            None => None,
            Some(v) => match RequestId::from_value(v) {
                Some(id) => Some(id),
                None => {
                    return Err(Response::err(
                        None,
                        code::INVALID_REQUEST,
                        format!(
                            "invalid request: id must be a string or an integer, got {}",
                            scalar_or_type(v)
                        ),
                    ));
                }
            },
        };
        let version_ok = obj.get("jsonrpc").and_then(Value::as_str) == Some("2.0");
        let params = obj.remove("params");

        match obj.remove("method") {
            Some(Value::String(method)) => {
                if !version_ok {
                    return match id {
                        Some(id) => Err(Response::err(
                            Some(id),
                            code::INVALID_REQUEST,
                            "invalid request: \"jsonrpc\" must be \"2.0\"",
                        )),
                        None => Ok(None),
                    };
                }
                Ok(Some(match id {
                    Some(id) => Message::Request(Request { id, method, params }),
                    None => Message::Notification(Notification { method, params }),
                }))
            }
            Some(other) => Err(Response::err(
                id,
                code::INVALID_REQUEST,
                format!(
                    "invalid request: method must be a string, got {}",
                    json_type(&other)
                ),
            )),
            None => Err(Response::err(
                id,
                code::INVALID_REQUEST,
                "invalid request: the \"method\" member is missing",
            )),
        }
    }

    /// Serialise as one line of JSON (no trailing newline) with `"jsonrpc": "2.0"` added.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = Vec::new();
        self.write_line(&mut line);
        line
    }

    /// [`Message::to_line`] appended to `buf`, so that the writer reuses one buffer for every
    /// answer instead of allocating a fresh one per message.
    pub fn write_line(&self, buf: &mut Vec<u8>) {
        let start = buf.len();
        // Serialising a `Value` tree into memory cannot fail: every map key is a string.
        if let Err(e) = serde_json::to_writer(&mut *buf, self) {
            buf.truncate(start);
            buf.extend_from_slice(
                format!(
                    r#"{{"jsonrpc":"2.0","id":null,"error":{{"code":-32603,"message":"cannot serialise a response: {e}"}}}}"#
                )
                .as_bytes(),
            );
        }
    }
}

/// The client's response in `obj` (which has no method and a result or an error), or `None`
/// when there is nothing to hand on: no usable id, not JSON-RPC 2.0, or both or neither of
/// result and error. Never an error to send back.
fn response_from(mut obj: Map<String, Value>) -> Option<Message> {
    let id = RequestId::from_value(obj.get("id")?)?;
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return None;
    }
    let result = match (obj.remove("result"), obj.remove("error")) {
        (Some(r), None) => Ok(r),
        (None, Some(e)) => Err(error_from_value(e)),
        _ => return None,
    };
    Some(Message::Response(Response {
        id: Some(id),
        result,
    }))
}

fn error_from_value(e: Value) -> ResponseError {
    let code = e.get("code").and_then(Value::as_i64).unwrap_or(0);
    let message = e
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let data = e.get("data").cloned();
    ResponseError {
        code,
        message,
        data,
    }
}

/// A number, boolean or null as written (`1.5`, `null`): short, and it names the offending
/// value; anything else by its type.
fn scalar_or_type(v: &Value) -> String {
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => v.to_string(),
        other => json_type(other).to_string(),
    }
}

/// "a string", "an array", ...: how error messages name the type of a JSON value.
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("jsonrpc", "2.0")?;
        match self {
            Message::Request(r) => {
                map.serialize_entry("id", &r.id.to_value())?;
                map.serialize_entry("method", &r.method)?;
                if let Some(p) = &r.params {
                    map.serialize_entry("params", p)?;
                }
            }
            Message::Notification(n) => {
                map.serialize_entry("method", &n.method)?;
                if let Some(p) = &n.params {
                    map.serialize_entry("params", p)?;
                }
            }
            Message::Response(r) => {
                map.serialize_entry("id", &r.id.as_ref().map(RequestId::to_value))?;
                match &r.result {
                    Ok(v) => map.serialize_entry("result", v)?,
                    Err(e) => {
                        let mut err = Map::new();
                        err.insert("code".into(), Value::from(e.code));
                        err.insert("message".into(), Value::String(e.message.clone()));
                        if let Some(d) = &e.data {
                            err.insert("data".into(), d.clone());
                        }
                        map.serialize_entry("error", &err)?;
                    }
                }
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(s: &str) -> Result<Option<Message>, Response> {
        Message::parse(s.as_bytes())
    }

    fn line(m: &Message) -> Value {
        serde_json::from_slice(&m.to_line()).unwrap()
    }

    /// Found by the `jsonrpc_parse` fuzz target: a number with 17 significant digits (what Go
    /// writes for a float64, so what the API server sends) was read one unit in the last place
    /// off, so a message or an object did not survive being read and written back. Needs
    /// serde_json's `float_roundtrip` (Cargo.toml).
    #[test]
    fn numbers_survive_parse_and_write() {
        let Ok(Some(Message::Response(r))) = parse(
            r#"{"jsonrpc":"2.0","id":10,"error":{"code":0,"message":"m","data":[1.57776777777777777777777777777777777777777]}}"#,
        ) else {
            panic!("a response")
        };
        let data = r.result.as_ref().expect_err("an error").data.clone();
        assert_eq!(data, Some(json!([1.5777677777777779_f64])));
        let again = Message::parse(&Message::Response(r.clone()).to_line());
        assert_eq!(again, Ok(Some(Message::Response(r))));

        // Every float64 in shortest form reads back as itself (xorshift over all exponents).
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut wrong = Vec::new();
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f64::from_bits(x);
            if !f.is_finite() {
                continue;
            }
            let text = serde_json::to_string(&f).unwrap();
            if serde_json::from_str::<f64>(&text).unwrap() != f {
                wrong.push(text);
            }
        }
        assert!(
            wrong.is_empty(),
            "{} floats read back wrong, e.g. {:?}",
            wrong.len(),
            wrong.first()
        );
    }

    #[test]
    fn ids_are_strings_or_integers_and_echo_unchanged() {
        let Ok(Some(Message::Request(r))) = parse(r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#)
        else {
            panic!("integer id")
        };
        assert_eq!(r.id, RequestId::from(7));
        let out = Message::Response(Response::ok(r.id, json!({})));
        assert_eq!(line(&out), json!({"jsonrpc":"2.0","id":7,"result":{}}));

        let Ok(Some(Message::Request(r))) = parse(r#"{"jsonrpc":"2.0","id":"a-1","method":"x"}"#)
        else {
            panic!("string id")
        };
        assert_eq!(r.id, RequestId::from("a-1"));
        let out = Message::Response(Response::ok(r.id, json!(1)));
        assert_eq!(line(&out)["id"], json!("a-1"));

        // Large unsigned and negative integers survive the round trip.
        for raw in ["18446744073709551615", "-3"] {
            let text = format!(r#"{{"jsonrpc":"2.0","id":{raw},"method":"ping"}}"#);
            let Ok(Some(Message::Request(r))) = parse(&text) else {
                panic!("{raw}")
            };
            let out = String::from_utf8(Message::Response(Response::ok(r.id, json!({}))).to_line())
                .unwrap();
            assert!(out.contains(&format!(r#""id":{raw}"#)), "{out}");
        }
    }

    #[test]
    fn bad_ids_are_invalid_requests_answered_with_null_id() {
        for (id, named) in [
            ("1.5", "got 1.5"),
            ("null", "got null"),
            ("true", "got true"),
            ("{}", "got an object"),
            ("[1]", "got an array"),
        ] {
            let text = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#);
            let err = parse(&text).unwrap_err();
            assert_eq!(err.id, None, "{id}");
            let err = err.result.unwrap_err();
            assert_eq!(err.code, code::INVALID_REQUEST, "{id}");
            assert!(err.message.ends_with(named), "{id}: {}", err.message);
        }
    }

    #[test]
    fn absent_and_null_params_are_told_apart() {
        let Ok(Some(Message::Request(r))) = parse(r#"{"jsonrpc":"2.0","id":1,"method":"a"}"#)
        else {
            panic!()
        };
        assert_eq!(r.params, None);
        assert!(
            !String::from_utf8(Message::Request(r).to_line())
                .unwrap()
                .contains("params")
        );

        let Ok(Some(Message::Request(r))) =
            parse(r#"{"jsonrpc":"2.0","id":1,"method":"a","params":null}"#)
        else {
            panic!()
        };
        assert_eq!(r.params, Some(Value::Null));
        assert_eq!(line(&Message::Request(r))["params"], Value::Null);
    }

    #[test]
    fn notifications_have_no_id() {
        let m = parse(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert_eq!(
            m,
            Some(Message::Notification(Notification {
                method: "notifications/initialized".into(),
                params: None
            }))
        );
        let out = line(&m.unwrap());
        assert_eq!(
            out,
            json!({"jsonrpc":"2.0","method":"notifications/initialized"})
        );
    }

    #[test]
    fn garbage_is_a_parse_error_with_null_id() {
        for bad in ["", "{", "hello", "{\"a\":1} trailing", "\u{0}"] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.id, None);
            assert_eq!(err.result.unwrap_err().code, code::PARSE_ERROR, "{bad:?}");
        }
        let err =
            Message::parse(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}").unwrap_err();
        assert_eq!(err.result.unwrap_err().code, code::PARSE_ERROR);
    }

    #[test]
    fn deep_nesting_is_rejected_without_overflowing_the_stack() {
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        let err = parse(&deep).unwrap_err();
        assert_eq!(err.result.unwrap_err().code, code::PARSE_ERROR);
    }

    #[test]
    fn malformed_objects_are_invalid_requests_keeping_the_id() {
        let cases = [
            (r#"{"jsonrpc":"2.0","id":3}"#, Some(RequestId::from(3))),
            (
                r#"{"jsonrpc":"1.0","id":4,"method":"ping"}"#,
                Some(RequestId::from(4)),
            ),
            (r#"{"id":5,"method":"ping"}"#, Some(RequestId::from(5))),
            (
                r#"{"jsonrpc":"2.0","id":6,"method":42}"#,
                Some(RequestId::from(6)),
            ),
            (r#"{}"#, None),
            (r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#, None),
            (r#"42"#, None),
        ];
        for (text, id) in cases {
            let err = parse(text).unwrap_err();
            assert_eq!(err.id, id, "{text}");
            assert_eq!(
                err.result.unwrap_err().code,
                code::INVALID_REQUEST,
                "{text}"
            );
        }
    }

    #[test]
    fn an_invalid_notification_is_dropped_not_answered() {
        assert_eq!(
            parse(r#"{"jsonrpc":"1.0","method":"notifications/x"}"#),
            Ok(None)
        );
    }

    #[test]
    fn responses_from_the_client_parse() {
        let m = parse(r#"{"jsonrpc":"2.0","id":1,"result":{"a":1}}"#).unwrap();
        assert_eq!(
            m,
            Some(Message::Response(Response::ok(1.into(), json!({"a":1}))))
        );
        let m = parse(r#"{"jsonrpc":"2.0","id":"x","error":{"code":-1,"message":"no"}}"#).unwrap();
        let Some(Message::Response(r)) = m else {
            panic!()
        };
        assert_eq!(r.result.unwrap_err().code, -1);
    }

    #[test]
    fn ids_display_as_messages_name_them() {
        assert_eq!(RequestId::from(7).to_string(), "7");
        assert_eq!(RequestId::from("a b").to_string(), "\"a b\"");
    }

    #[test]
    fn a_response_is_never_answered_whatever_its_id() {
        for text in [
            r#"{"jsonrpc":"2.0","id":null,"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"x"}}"#,
            r#"{"jsonrpc":"2.0","result":{}}"#,
            r#"{"jsonrpc":"2.0","error":{"code":1,"message":"x"}}"#,
            r#"{"jsonrpc":"2.0","id":1.5,"result":1}"#,
            r#"{"jsonrpc":"2.0","id":true,"error":{}}"#,
            r#"{"jsonrpc":"2.0","id":{},"result":1}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":1,"error":{}}"#,
            r#"{"jsonrpc":"1.0","id":1,"result":1}"#,
            r#"{"id":"x","result":1}"#,
        ] {
            assert_eq!(parse(text), Ok(None), "{text}");
        }
        // An id we never sent still parses as a response (the session drops it).
        for (text, id) in [
            (
                r#"{"jsonrpc":"2.0","id":99,"result":null}"#,
                RequestId::from(99),
            ),
            (
                r#"{"jsonrpc":"2.0","id":"zz","error":{"code":1,"message":"m"}}"#,
                RequestId::from("zz"),
            ),
        ] {
            let Ok(Some(Message::Response(r))) = parse(text) else {
                panic!("{text} is a response")
            };
            assert_eq!(r.id, Some(id));
        }
        // With a method it is a request, and a bad id is still answered.
        assert!(parse(r#"{"jsonrpc":"2.0","id":null,"method":"ping","result":1}"#).is_err());
    }

    #[test]
    fn error_responses_serialise_code_message_and_data() {
        let mut e = ResponseError::new(code::INVALID_PARAMS, "unknown tool: x");
        e.data = Some(json!({"tools": []}));
        let m = Message::Response(Response {
            id: None,
            result: Err(e),
        });
        assert_eq!(
            line(&m),
            json!({"jsonrpc":"2.0","id":null,"error":{"code":-32602,"message":"unknown tool: x","data":{"tools":[]}}})
        );
        // One line: serde_json escapes newlines inside strings.
        let m = Message::Response(Response::ok(1.into(), json!("a\nb")));
        assert!(!m.to_line().contains(&b'\n'));
    }
}
