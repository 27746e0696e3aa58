//! Fuzz target `jsonrpc_parse`: one stdio line through `Message::parse`, and what we write
//! back read again.
//!
//! Properties beyond "no panic": a message we accept is written by `write_line` as one line
//! (no raw newline: the stdio framing depends on it) that parses back to the same message;
//! an error answer is one line of JSON with a JSON-RPC error code and a message.
#![no_main]
use flux_operator_mcp::mcp::message::{Message, code};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    match Message::parse(line) {
        Ok(Some(message)) => {
            let mut written = Vec::new();
            message.write_line(&mut written);
            assert!(!written.contains(&b'\n'), "a written message spans lines");
            let again = Message::parse(&written);
            assert_eq!(
                again,
                Ok(Some(message)),
                "a message does not survive write_line and parse"
            );
        }
        Ok(None) => {}
        Err(answer) => {
            let err = answer
                .result
                .as_ref()
                .expect_err("an error answer carries an error");
            assert!(
                [code::PARSE_ERROR, code::INVALID_REQUEST].contains(&err.code),
                "unexpected code {} for an unreadable line",
                err.code
            );
            let written = Message::Response(answer.clone()).to_line();
            assert!(!written.contains(&b'\n'), "an error answer spans lines");
            // Read as plain JSON: the answer to an unreadable line has `"id": null`, which
            // `Message::parse` refuses as a client message.
            let value: serde_json::Value =
                serde_json::from_slice(&written).expect("an error answer is JSON");
            assert_eq!(value["jsonrpc"], "2.0");
            assert_eq!(value["error"]["code"], err.code);
            assert!(value["error"]["message"].is_string());
        }
    }
});
