//! Fuzz target `jsonrpc_session`: arbitrary bytes as a whole stdio session (many lines, CRLF,
//! a BOM, blank lines) split by `stdio::Lines` and run through `connection::run` into one
//! protocol session, with an in-process service whose tools answer at once.
//!
//! Properties beyond "no panic": every call finishes (drain), everything the server sends is a
//! response or a log notification that fits on one line and reads back, and no request id is
//! answered more often than the session sent it (a client may reuse an id once it was
//! answered).
#![no_main]
use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use flux_operator_mcp::mcp::message::{Message, RequestId};
use flux_operator_mcp::mcp::connection::{self, Outgoing};
use flux_operator_mcp::mcp::server::{
    Cancel, InvalidParams, PromptArgument, PromptInfo, PromptReply, Server, ServerInfo, Service,
    ToolAnnotations, ToolInfo, ToolOutput,
};
use flux_operator_mcp::mcp::stdio::Lines;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

/// Two tools and one prompt; `echo` answers with its arguments, `fail` with an error result.
struct Fake;

impl Service for Fake {
    type Session = ();

    fn info(&self) -> ServerInfo {
        ServerInfo {
            name: "fuzz",
            title: "Fuzz",
            version: "0",
        }
    }

    fn instructions(&self) -> &str {
        "fuzzing"
    }

    fn tools(&self) -> Vec<ToolInfo> {
        ["echo", "fail"]
            .into_iter()
            .map(|name| ToolInfo {
                name,
                title: name,
                description: "a fuzzing tool",
                input_schema: json!({"type": "object", "properties": {"x": {"type": "string"}}}),
                annotations: ToolAnnotations {
                    read_only: true,
                    destructive: false,
                    idempotent: true,
                    open_world: false,
                },
            })
            .collect()
    }

    fn prompts(&self) -> Vec<PromptInfo> {
        vec![PromptInfo {
            name: "p",
            title: "P",
            description: "a fuzzing prompt",
            arguments: &[PromptArgument {
                name: "a",
                description: "an argument",
                required: true,
            }],
        }]
    }

    fn new_session(&self) {}

    fn call_tool(
        &self,
        _session: &(),
        name: &str,
        args: &Map<String, Value>,
        _cancel: &Cancel,
    ) -> Result<ToolOutput, InvalidParams> {
        match name {
            "echo" | "fail" => Ok(ToolOutput {
                text: Value::Object(args.clone()).to_string(),
                is_error: name == "fail",
            }),
            other => Err(InvalidParams(format!("unknown tool {other:?}"))),
        }
    }

    fn get_prompt(
        &self,
        name: &str,
        args: &Map<String, Value>,
    ) -> Result<PromptReply, InvalidParams> {
        match (name, args.get("a")) {
            ("p", Some(a)) => Ok(PromptReply {
                description: "p".into(),
                messages: vec![a.to_string()],
            }),
            _ => Err(InvalidParams(format!("unknown prompt {name:?}"))),
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let (writer, answers) = mpsc::channel();
    let session = Server::new(Arc::new(Fake)).session();
    connection::run(&session, Lines::new(Cursor::new(input)), &writer);
    assert_eq!(
        session.drain(Duration::from_secs(10)),
        0,
        "a tool call still runs"
    );
    drop(session);
    drop(writer);
    let session = input;
    let asked = requests(session);
    let mut answered = HashMap::<RequestId, usize>::new();
    for item in answers.try_iter() {
        let Outgoing::Message(message) = item else {
            continue;
        };
        let response = match &message {
            Message::Response(response) => response,
            // Tool calls log to a session that asked for it (logging/setLevel).
            Message::Notification(n) if n.method == "notifications/message" => continue,
            other => panic!("the server sent something other than a response: {other:?}"),
        };
        let line = message.to_line();
        assert!(!line.contains(&b'\n'), "an answer spans lines");
        match &response.id {
            Some(id) => {
                assert_eq!(
                    Message::parse(&line).ok().flatten().as_ref(),
                    Some(&message),
                    "an answer does not read back"
                );
                let n = answered.entry(id.clone()).or_default();
                *n += 1;
                assert!(
                    *n <= asked.get(id).copied().unwrap_or(0),
                    "request {id} answered more often than asked"
                );
            }
            // The answer to an unreadable line: `"id": null`, which `Message::parse` refuses
            // as a client message, so it is read as plain JSON.
            None => {
                let value: Value = serde_json::from_slice(&line).expect("an answer is JSON");
                assert!(value["id"].is_null() && value["error"]["code"].is_i64());
            }
        }
    }
});

/// How often each request id occurs in the session, line by line as `Lines` splits it:
/// the most answers that id may get.
fn requests(session: &[u8]) -> HashMap<RequestId, usize> {
    let mut out = HashMap::new();
    for (i, line) in session.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = match line.strip_prefix(b"\xef\xbb\xbf") {
            Some(rest) if i == 0 => rest,
            _ => line,
        };
        // A request, or a line refused with the id it carried (say, without a method).
        let id = match Message::parse(line) {
            Ok(Some(Message::Request(r))) => Some(r.id),
            Err(answer) => answer.id,
            _ => None,
        };
        if let Some(id) = id {
            *out.entry(id).or_default() += 1;
        }
    }
    out
}
