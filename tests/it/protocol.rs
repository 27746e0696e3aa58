//! The protocol over real pipes: handshake and stateless forms, every error path, hostile
//! input (garbage, invalid UTF-8, huge lines, deep nesting, EOF mid-line), notifications,
//! shutdown on EOF and on signals. The server must answer every request and never die.

use serde_json::{Value, json};

use std::time::Duration;

use crate::apiserver::{ApiServer, Fault, FaultKind, Identity, Options};
use crate::support::{Mcp, Rng, command, scratch_dir};

const HANDSHAKE_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";

fn error_code(r: &Value) -> i64 {
    r["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("not an error response: {r}"))
}

#[test]
fn initialize_negotiates_every_handshake_revision() {
    let mut mcp = Mcp::serve(&[]);
    for version in HANDSHAKE_VERSIONS {
        let result = mcp.handshake(version);
        assert_eq!(result["protocolVersion"], json!(version));
        assert_eq!(result["serverInfo"]["name"], json!("flux-operator-mcp"));
        assert!(
            result["instructions"]
                .as_str()
                .unwrap()
                .contains("get_flux_instance")
        );
        assert!(result["capabilities"]["tools"].is_object());
        assert!(result["capabilities"]["prompts"].is_object());
        assert!(result["capabilities"]["logging"].is_object());
    }
    // Unknown and stateless-era versions get the newest handshake revision.
    for version in ["1999-01-01", "2026-07-28"] {
        assert_eq!(
            mcp.handshake(version)["protocolVersion"],
            json!("2025-11-25")
        );
    }
    let (status, rest, _) = mcp.finish();
    assert!(status.success());
    assert!(
        rest.is_empty(),
        "notifications must not be answered: {rest:?}"
    );
}

#[test]
fn the_stateless_form_needs_no_handshake() {
    let mut mcp = Mcp::serve(&[]);
    let meta = json!({"_meta": {META_VERSION: "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}});
    let r = mcp.request(json!("d"), "server/discover", meta.clone());
    let result = &r["result"];
    assert_eq!(result["supportedVersions"][0], json!("2026-07-28"));
    for v in HANDSHAKE_VERSIONS {
        assert!(
            result["supportedVersions"]
                .as_array()
                .unwrap()
                .contains(&json!(v))
        );
    }
    assert_eq!(result["resultType"], json!("complete"));
    assert!(result["instructions"].is_string());
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        json!("flux-operator-mcp")
    );
    let r = mcp.request(json!(1), "tools/list", meta.clone());
    assert!(r["result"]["tools"].is_array(), "{r}");
    assert_eq!(r["result"]["resultType"], json!("complete"));
    let mut get = meta.clone();
    get["name"] = json!("debug_flux_kustomization");
    get["arguments"] = json!({"name": "apps", "namespace": "flux-system"});
    let r = mcp.request(json!(2), "prompts/get", get);
    assert_eq!(r["result"]["resultType"], json!("complete"));
    let r = mcp.request(
        json!(3),
        "tools/list",
        json!({"_meta": {META_VERSION: "2031-01-01"}}),
    );
    assert_eq!(error_code(&r), -32022);
    assert_eq!(r["error"]["data"]["requested"], json!("2031-01-01"));
    // Removed in 2026-07-28: ping, initialize, logging/setLevel.
    let r = mcp.request(json!(5), "ping", meta.clone());
    assert_eq!(error_code(&r), -32601);
    // Old clients that skip the handshake are served too.
    let r = mcp.request(json!(4), "ping", json!(null));
    assert_eq!(r["result"], json!({}));
}

#[test]
fn ping_set_level_lists_and_prompts() {
    let mut mcp = Mcp::serve(&[]);
    mcp.handshake("2025-06-18");
    assert_eq!(
        mcp.request(json!(1), "ping", json!({}))["result"],
        json!({})
    );
    let r = mcp.request(json!(2), "logging/setLevel", json!({"level": "warning"}));
    assert_eq!(r["result"], json!({}));
    let r = mcp.request(json!(3), "tools/list", json!({}));
    assert!(r["result"]["tools"].is_array());
    assert!(r["result"].get("nextCursor").is_none());
    let r = mcp.request(json!(4), "prompts/list", json!({}));
    let names: Vec<&str> = r["result"]["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["debug_flux_helmrelease", "debug_flux_kustomization"]
    );
    let r = mcp.request(
        json!(5),
        "prompts/get",
        json!({"name": "debug_flux_helmrelease", "arguments": {"name": "podinfo", "namespace": "apps", "cluster": "staging"}}),
    );
    let text = r["result"]["messages"][0]["content"]["text"]
        .as_str()
        .unwrap();
    assert!(
        text.contains("apps/podinfo") && text.contains("context=\"staging\""),
        "{text}"
    );
}

#[test]
fn every_error_path_has_its_code_and_keeps_the_id() {
    let mut mcp = Mcp::serve(&[]);
    mcp.handshake("2025-11-25");
    let cases = [
        ("no/such/method", json!({}), -32601),
        ("resources/list", json!({}), -32601),
        (
            "tools/call",
            json!({"name": "no_such_tool", "arguments": {}}),
            -32602,
        ),
        ("tools/call", json!({"arguments": {}}), -32602),
        (
            "tools/call",
            json!({"name": "x", "arguments": "a=b"}),
            -32602,
        ),
        ("tools/list", json!({"cursor": "not-a-cursor"}), -32602),
        (
            "prompts/get",
            json!({"name": "debug_flux_kustomization", "arguments": {"name": "a"}}),
            -32602,
        ),
        ("prompts/get", json!({"name": "no_such_prompt"}), -32602),
        ("logging/setLevel", json!({"level": "chatty"}), -32602),
        ("ping", json!("params must be an object"), -32602),
    ];
    for (i, (method, params, code)) in cases.into_iter().enumerate() {
        let id = if i % 2 == 0 {
            json!(i)
        } else {
            json!(format!("id-{i}"))
        };
        let r = mcp.request(id, method, params.clone());
        assert_eq!(error_code(&r), code, "{method} {params}: {r}");
        assert!(!r["error"]["message"].as_str().unwrap().is_empty());
    }
    // A client's unknown tool name is echoed clipped, with the names that exist.
    let long_name = format!("get_{}", "x".repeat(100_000));
    let r = mcp.request(
        json!(19),
        "tools/call",
        json!({"name": long_name, "arguments": {}}),
    );
    let message = r["error"]["message"].as_str().unwrap();
    assert!(message.len() < 1_000, "{} bytes", message.len());
    assert!(message.contains("unknown tool \"get_xxx"), "{message}");
    assert!(message.contains("search_flux_docs"), "{message}");
    let r = mcp.request(
        json!(20),
        "prompts/get",
        json!({"name": "debug_flux_kustomization", "arguments": {"namespace": "a"}}),
    );
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing required argument name")
    );

    // Invalid requests: answered with their id when it can be read, else null.
    let raw: [(&str, Value, i64); 7] = [
        (r#"{"jsonrpc":"2.0","id":31}"#, json!(31), -32600),
        (
            r#"{"jsonrpc":"1.0","id":32,"method":"ping"}"#,
            json!(32),
            -32600,
        ),
        (r#"{"id":33,"method":"ping"}"#, json!(33), -32600),
        (r#"{"jsonrpc":"2.0","id":34,"method":7}"#, json!(34), -32600),
        (
            r#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#,
            Value::Null,
            -32600,
        ),
        (
            r#"[{"jsonrpc":"2.0","id":35,"method":"ping"}]"#,
            Value::Null,
            -32600,
        ),
        (r#""just a string""#, Value::Null, -32600),
    ];
    for (line, id, code) in raw {
        mcp.write(format!("{line}\n").as_bytes());
        let r = mcp.recv();
        assert_eq!(r["id"], id, "{line}: {r}");
        assert_eq!(error_code(&r), code, "{line}");
        assert_eq!(r["jsonrpc"], json!("2.0"));
    }
    assert_eq!(
        mcp.request(json!(99), "ping", json!({}))["result"],
        json!({})
    );
}

#[test]
fn hostile_input_is_answered_and_survived() {
    let mut mcp = Mcp::serve(&[]);
    // Blank lines and CRLF line ends.
    mcp.write(b"\n\n   \n\r\n");
    mcp.write(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n");
    assert_eq!(mcp.recv()["id"], json!(1));
    // Garbage.
    mcp.write(b"this is not json\n");
    let r = mcp.recv();
    assert_eq!((r["id"].clone(), error_code(&r)), (Value::Null, -32700));
    // Invalid UTF-8, inside a string and on its own.
    mcp.write(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"p\xffing\"}\n");
    assert_eq!(error_code(&mcp.recv()), -32700);
    mcp.write(b"\xc3\x28\xa0\xa1\n");
    assert_eq!(error_code(&mcp.recv()), -32700);
    // 10k-deep nesting, as an array and inside params.
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    mcp.write(format!("{deep}\n").as_bytes());
    assert_eq!(error_code(&mcp.recv()), -32700);
    let deep_params = format!(
        r#"{{"jsonrpc":"2.0","id":3,"method":"ping","params":{{"x":{}1{}}}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    mcp.write(format!("{deep_params}\n").as_bytes());
    assert_eq!(error_code(&mcp.recv()), -32700);
    // A 10 MB line: a valid request carrying a 10 MB string, then 10 MB of garbage.
    let big = "x".repeat(10 << 20);
    mcp.send(&json!({"jsonrpc": "2.0", "id": 4, "method": "ping", "params": {"padding": big}}));
    let r = mcp.recv();
    assert_eq!(
        (r["id"].clone(), r["result"].clone()),
        (json!(4), json!({}))
    );
    let mut junk = vec![b'z'; 10 << 20];
    junk.push(b'\n');
    mcp.write(&junk);
    assert_eq!(error_code(&mcp.recv()), -32700);
    // Still serving.
    assert_eq!(
        mcp.request(json!(5), "ping", json!({}))["result"],
        json!({})
    );
    let (status, rest, _) = mcp.finish();
    assert!(status.success());
    assert!(rest.is_empty(), "{rest:?}");
}

#[test]
fn notifications_and_responses_interleaved_with_requests_are_never_answered() {
    let mut mcp = Mcp::serve(&[]);
    let script = [
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": "a", "method": "ping"}),
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "zzz"}}),
        json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": 1, "progress": 1}}),
        json!({"jsonrpc": "2.0", "method": "no/such/notification"}),
        json!({"jsonrpc": "2.0", "id": "b", "method": "tools/list"}),
        json!({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"}),
        json!({"jsonrpc": "1.0", "method": "broken/notification"}),
        json!({"jsonrpc": "2.0", "id": 7, "result": {}}),
        json!({"jsonrpc": "2.0", "id": null, "result": {}}),
        json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "parse error"}}),
        json!({"jsonrpc": "2.0", "id": "never-sent", "error": {"code": 1, "message": "x"}}),
        json!({"jsonrpc": "2.0", "id": 2.5, "result": 1}),
        json!({"jsonrpc": "2.0", "id": 8, "result": 1, "error": {"code": 1, "message": "x"}}),
        json!({"jsonrpc": "2.0", "id": "c", "method": "ping"}),
    ];
    let mut batch = Vec::new();
    for m in &script {
        batch.extend(serde_json::to_vec(m).unwrap());
        batch.push(b'\n');
    }
    mcp.write(&batch);
    let (status, rest, _) = mcp.finish();
    assert!(status.success());
    let ids: Vec<Value> = rest
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].clone())
        .collect();
    assert_eq!(ids, [json!("a"), json!("b"), json!("c")]);
}

#[test]
fn eof_mid_line_still_answers_and_exits_zero() {
    // A complete request without its newline is still a request.
    let mut mcp = Mcp::serve(&[]);
    mcp.write(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#);
    let (status, rest, _) = mcp.finish();
    assert!(status.success());
    assert_eq!(rest.len(), 1);
    assert_eq!(
        serde_json::from_str::<Value>(&rest[0]).unwrap()["id"],
        json!(1)
    );
    // Half a message: a parse error, then a clean exit.
    let mut mcp = Mcp::serve(&[]);
    mcp.write(br#"{"jsonrpc":"2.0","id":2,"meth"#);
    let (status, rest, _) = mcp.finish();
    assert!(status.success());
    assert_eq!(rest.len(), 1);
    assert_eq!(
        serde_json::from_str::<Value>(&rest[0]).unwrap()["error"]["code"],
        json!(-32700)
    );
}

#[test]
fn stdout_carries_only_protocol_lines() {
    let mut mcp = Mcp::serve(&["--read-only", "--timeout=30s"]);
    mcp.handshake("2025-03-26");
    mcp.write(b"nonsense\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}\n");
    let (status, rest, _) = mcp.finish();
    assert!(status.success());
    assert_eq!(rest.len(), 2);
    for line in rest {
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["jsonrpc"], json!("2.0"), "{line}");
    }
}

#[test]
fn serve_starts_without_any_cluster_configuration() {
    // Upstream exits when KUBECONFIG is empty; we start and report kube problems per call.
    let mut cmd = command();
    cmd.args(["serve"]).env("KUBECONFIG", "");
    let mut mcp = Mcp::spawn(&mut cmd);
    assert_eq!(
        mcp.handshake("2025-06-18")["protocolVersion"],
        json!("2025-06-18")
    );
    let (status, _, _) = mcp.finish();
    assert!(status.success());
}

#[test]
fn sigterm_and_sigint_end_the_server_cleanly() {
    for signal in ["-TERM", "-INT"] {
        let mut mcp = Mcp::serve(&[]);
        assert_eq!(
            mcp.request(json!(1), "ping", json!({}))["result"],
            json!({})
        );
        let killed = std::process::Command::new("kill")
            .args([signal, &mcp.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(killed.success());
        // stdin stays open: the signal alone must end the process.
        let (status, rest, _) = mcp.finish();
        assert_eq!(status.code(), Some(0), "{signal}: {status:?}");
        assert!(rest.is_empty());
    }
}

#[test]
fn the_tool_call_log_records_calls_in_a_private_file() {
    let dir = scratch_dir("protocol-call-log");
    let log = dir.join("calls.jsonl");
    let mut mcp = Mcp::serve(&["--tool-call-log-file", log.to_str().unwrap()]);
    mcp.handshake("2025-06-18");
    let r = mcp.request(
        json!(1),
        "tools/call",
        json!({"name": "get_everything", "arguments": {"namespace": "default"}}),
    );
    assert_eq!(error_code(&r), -32602);
    let (status, _, _) = mcp.finish();
    assert!(status.success());
    let text = std::fs::read_to_string(&log).expect("the log file exists");
    let entry: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(entry["tool"], json!("get_everything"));
    assert_eq!(entry["arguments"], json!({"namespace": "default"}));
    assert_eq!(entry["is_error"], json!(true));
    assert_eq!(entry["outcome"], json!("invalid_params"));
    assert!(entry.get("error").is_none(), "{entry}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&log).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_byte_order_mark_before_the_first_message_is_ignored() {
    let mut mcp = Mcp::serve(&[]);
    mcp.write(b"\xef\xbb\xbf{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n");
    assert_eq!(mcp.recv()["result"], json!({}));
    // Only at the start of the stream: later it is a stray character, a parse error.
    mcp.write(b"\xef\xbb\xbf{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n");
    assert_eq!(error_code(&mcp.recv()), -32700);
}

/// Fuzz values on the shared generator.
impl Rng {
    /// A JSON value of any type, sometimes nested, sometimes of an awkward size.
    fn value(&mut self, depth: usize) -> Value {
        match self.below(if depth > 3 { 8 } else { 10 }) {
            0 => Value::Null,
            1 => json!(self.below(2) == 0),
            2 => json!(self.next() as i64),
            3 => json!(u64::MAX),
            4 => json!(-0.5e300),
            5 => json!("x".repeat(self.below(3) * 4000)),
            6 => json!(["ping", "tools/call", "", "\u{0}", "é🦀"][self.below(5)]),
            7 => json!(format!("{:x}", self.next())),
            8 => Value::Array((0..self.below(4)).map(|_| self.value(depth + 1)).collect()),
            _ => {
                let keys = [
                    "name",
                    "arguments",
                    "cursor",
                    "level",
                    "query",
                    "_meta",
                    "id",
                ];
                let mut map = serde_json::Map::new();
                for _ in 0..self.below(4) {
                    map.insert(self.pick(&keys).to_string(), self.value(depth + 1));
                }
                Value::Object(map)
            }
        }
    }
}

/// Well-formed messages the fuzzer starts from.
fn fuzz_seeds() -> Vec<Value> {
    let docs = json!({"name": "search_flux_docs", "arguments": {"query": "drift detection"}});
    let prompt =
        json!({"name": "debug_flux_kustomization", "arguments": {"name": "a", "namespace": "b"}});
    let meta = json!({"_meta": {META_VERSION: "2026-07-28"}});
    [
        ("initialize", json!({"protocolVersion": "2025-06-18", "capabilities": {}})),
        ("ping", json!({})),
        ("tools/list", json!({})),
        ("tools/list", meta.clone()),
        ("prompts/list", json!({})),
        ("prompts/get", prompt),
        ("logging/setLevel", json!({"level": "info"})),
        ("server/discover", meta),
        ("tools/call", docs),
        ("notifications/cancelled", json!({"requestId": 7})),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (method, params))| {
        json!({"jsonrpc": "2.0", "id": i, "method": method, "params": params})
    })
    .collect()
}

/// One hostile line: random bytes, a damaged message, a message with a field replaced by a
/// value of the wrong type, or deep nesting.
fn fuzz_line(rng: &mut Rng, seeds: &[Value]) -> Vec<u8> {
    let seed = rng.pick(seeds).clone();
    let mut bytes = serde_json::to_vec(&seed).unwrap();
    match rng.below(6) {
        0 => (0..rng.below(300)).map(|_| rng.next() as u8).collect(),
        1 => {
            for _ in 0..=rng.below(4) {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next() as u8;
            }
            bytes
        }
        2 => {
            bytes.truncate(rng.below(bytes.len()));
            bytes
        }
        3 => {
            let mut message = seed;
            let field = *rng.pick(&["id", "method", "params", "jsonrpc", "result", "error"]);
            match rng.below(3) {
                0 => message[field] = rng.value(0),
                1 => {
                    message["params"]
                        [*rng.pick(&["name", "arguments", "cursor", "level", "_meta"])] =
                        rng.value(0)
                }
                _ => {
                    if let Some(m) = message.as_object_mut() {
                        m.remove(field);
                    }
                }
            }
            serde_json::to_vec(&message).unwrap()
        }
        4 => {
            let depth = 1 + rng.below(400);
            let (open, close) = if rng.below(2) == 0 {
                ("[", "]")
            } else {
                ("{\"a\":", "}")
            };
            format!(
                r#"{{"jsonrpc":"2.0","id":"deep","method":"ping","params":{{"x":{}1{}}}}}"#,
                open.repeat(depth),
                close.repeat(depth)
            )
            .into_bytes()
        }
        _ => {
            // Two messages glued together, or one split by a stray newline.
            let other = serde_json::to_vec(rng.pick(seeds)).unwrap();
            let at = rng.below(bytes.len());
            let glue: &[u8] = if rng.below(2) == 0 { b"" } else { b"\n" };
            [&bytes[..at], glue, &other[..], &bytes[at..]].concat()
        }
    }
}

#[test]
fn malformed_lines_never_stop_the_server() {
    const ROUNDS: usize = 400;
    let seeds = fuzz_seeds();
    let mut rng = Rng(0x5eed_f1ed_cafe_0001);
    let mut mcp = Mcp::serve(&[]);
    let check = |r: &Value| {
        assert_eq!(r["jsonrpc"], json!("2.0"), "{r}");
        let (result, error) = (r.get("result"), r.get("error"));
        assert!(
            result.is_some() != error.is_some(),
            "one of result and error: {r}"
        );
        if let Some(e) = error {
            assert!(e["code"].is_i64() && e["message"].is_string(), "{r}");
            // -32603 would mean a handler panicked.
            assert_ne!(e["code"], json!(-32603), "{r}");
        }
    };
    for round in 0..ROUNDS {
        let mut line = fuzz_line(&mut rng, &seeds);
        line.push(b'\n');
        mcp.write(&line);
        // The server must still answer a ping after every line; whatever came before it must
        // be a well-formed response.
        let ping = json!(format!("ping-{round}"));
        mcp.send(&json!({"jsonrpc": "2.0", "id": ping, "method": "ping"}));
        loop {
            let r = mcp.recv();
            check(&r);
            if r["id"] == ping {
                assert_eq!(r["result"], json!({}), "round {round}: {r}");
                break;
            }
            let id = r["id"].as_str().unwrap_or_default();
            assert!(
                !id.starts_with("ping-"),
                "round {round}: stale ping answer {r}"
            );
        }
    }
    let (status, rest, stderr) = mcp.finish();
    assert!(status.success(), "{status:?}: {stderr}");
    for line in rest {
        check(&serde_json::from_str(&line).unwrap());
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn concurrent_tool_calls_are_answered_on_their_own_and_cancelled_ones_never() {
    // Discovery answers only after 20 s; with --timeout 2s both cluster calls end in a timeout.
    let server = ApiServer::start(Options::default());
    server.inject(Fault::new("/api", FaultKind::Delay(Duration::from_secs(20))).always());
    let dir = scratch_dir("protocol-concurrent-cancel");
    let kubeconfig = dir.join("kubeconfig");
    server
        .write_kubeconfig(&kubeconfig, Identity::ClientCert)
        .expect("write kubeconfig");
    let kubeconfig = kubeconfig.display().to_string();
    let mut mcp = Mcp::serve(&["--kubeconfig", &kubeconfig, "--timeout", "2s"]);
    mcp.handshake("2025-11-25");
    let slow = |id: &str| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
               "params": {"name": "get_kubernetes_api_versions", "arguments": {}}})
    };
    mcp.send(&slow("cancelled"));
    mcp.send(&slow("kept"));
    // While both wait on the cluster, other requests are served at once.
    let r = mcp.request(json!(1), "ping", json!({}));
    assert_eq!(r["result"], json!({}));
    mcp.send(
        &json!({"jsonrpc": "2.0", "id": "docs", "method": "tools/call",
                     "params": {"name": "search_flux_docs", "arguments": {"query": "dependsOn"}}}),
    );
    mcp.send(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                     "params": {"requestId": "cancelled", "reason": "user pressed stop"}}),
    );
    let mut answered = Vec::new();
    while !answered.contains(&json!("kept")) {
        let r = mcp.recv();
        if r["id"] == json!("kept") {
            assert_eq!(r["result"]["isError"], json!(true), "{r}");
            let text = r["result"]["content"][0]["text"]
                .as_str()
                .unwrap_or_default();
            assert!(text.contains("timeout"), "{text}");
        }
        if r["id"] == json!("docs") {
            assert_eq!(r["result"]["isError"], json!(false), "{r}");
        }
        answered.push(r["id"].clone());
    }
    // Closing stdin: nothing is pending (a cancelled call is not waited for), so the server exits.
    let (status, rest, _) = mcp.finish();
    assert!(status.success());
    for line in rest {
        answered.push(serde_json::from_str::<Value>(&line).unwrap()["id"].clone());
    }
    assert!(answered.contains(&json!("docs")), "{answered:?}");
    assert!(
        !answered.contains(&json!("cancelled")),
        "a cancelled call must not be answered: {answered:?}"
    );
}

#[test]
fn a_stderr_nobody_reads_never_costs_an_answer() {
    // A client may close its end of our stderr. The warning about a tool-call log that cannot
    // be written then fails to print; the call's answer must not be lost to that.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let log = scratch_dir("protocol-closed-stderr").join("no-such-dir/calls.jsonl");
    let mut child = command()
        .args(["serve", "--tool-call-log-file"])
        .arg(&log)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(writer)
        .spawn()
        .expect("spawn flux-operator-mcp");
    let mut stdin = child.stdin.take().expect("stdin");
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "search_flux_docs", "arguments": {"query": "dependsOn"}}});
    std::io::Write::write_all(&mut stdin, format!("{call}\n").as_bytes()).expect("write");
    drop(stdin);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = rx
        .recv_timeout(crate::support::DEADLINE)
        .expect("the server exits after stdin EOF")
        .expect("wait for the server");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let answer: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(answer["id"], json!(1));
    assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
}
