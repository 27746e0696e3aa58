//! The MCP protocol state machine: version negotiation, method dispatch, tool calls on their
//! own threads, cancellation, panics turned into -32603. Also the [`Service`] trait the tools
//! layer implements. Knows nothing of Kubernetes and never touches stdout: every answer goes
//! through an [`Outbox`] that a transport drains.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::message::{
    Message, Notification, Request, RequestId, Response, ResponseError, code, json_type,
};

/// Revisions reached through the `initialize` handshake, oldest first.
pub const HANDSHAKE_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/// The stateless revision: no handshake, the version rides in each request's `_meta`.
pub const STATELESS_VERSION: &str = "2026-07-28";

const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// Log levels of `logging/setLevel` (RFC 5424 severities, as the MCP schema lists them).
const LOG_LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

/// More concurrent tool calls than this are refused: each runs on its own thread, and a client
/// that floods us must not exhaust the process.
pub const MAX_IN_FLIGHT: usize = 64;

/// Who the server is (`serverInfo`).
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub name: &'static str,
    pub title: &'static str,
    pub version: &'static str,
}

/// A tool as `tools/list` shows it.
#[derive(Debug, Clone)]
pub struct ToolInfo {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub input_schema: Value,
    pub annotations: ToolAnnotations,
}

/// MCP tool annotations (2025-03-26): hints for the client, not guarantees.
#[derive(Debug, Clone, Copy)]
pub struct ToolAnnotations {
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
}

/// What a tool call produced: text for the model, flagged when it reports a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    pub text: String,
    pub is_error: bool,
}

/// A prompt as `prompts/list` shows it.
#[derive(Debug, Clone)]
pub struct PromptInfo {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub arguments: &'static [PromptArgument],
}

#[derive(Debug, Clone)]
pub struct PromptArgument {
    pub name: &'static str,
    pub description: &'static str,
    pub required: bool,
}

/// What `prompts/get` returns: one description and the messages, all from the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptReply {
    pub description: String,
    pub messages: Vec<String>,
}

/// A request the service refuses as malformed: answered with -32602 and this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidParams(pub String);

/// What the protocol needs from the tools layer.
pub trait Service: Send + Sync + 'static {
    /// Per-connection state (for example the cluster context chosen by a tool).
    type Session: Send + Sync + 'static;

    fn info(&self) -> ServerInfo;
    /// Server `instructions`: guidance an assistant may add to its system prompt.
    fn instructions(&self) -> &str;
    fn tools(&self) -> Vec<ToolInfo>;
    fn prompts(&self) -> Vec<PromptInfo>;
    fn new_session(&self) -> Self::Session;
    /// Run one tool. An unknown name is `InvalidParams`; a failing tool is
    /// `Ok(ToolOutput { is_error: true, .. })`.
    fn call_tool(
        &self,
        session: &Self::Session,
        name: &str,
        args: &Map<String, Value>,
    ) -> Result<ToolOutput, InvalidParams>;
    fn get_prompt(
        &self,
        name: &str,
        args: &Map<String, Value>,
    ) -> Result<PromptReply, InvalidParams>;
}

/// One item on its way to the transport's writer.
#[derive(Debug)]
pub enum Outgoing {
    Message(Message),
    /// Write what came before, then stop.
    Close,
}

/// The sending end of the transport's writer queue. Cloned into every tool-call thread.
#[derive(Debug, Clone)]
pub struct Outbox(mpsc::Sender<Outgoing>);

impl Outbox {
    pub fn channel() -> (Outbox, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel();
        (Outbox(tx), rx)
    }

    fn send(&self, response: Response) {
        // The writer is gone only when the process is shutting down: nobody is left to read.
        let _ = self.0.send(Outgoing::Message(Message::Response(response)));
    }

    /// Ask the writer to finish what is queued and stop.
    pub fn close(&self) {
        let _ = self.0.send(Outgoing::Close);
    }
}

/// State shared with tool-call threads.
struct Shared<S: Service> {
    service: S,
    session: S::Session,
    /// Running tool calls by request id; the flag is set by `notifications/cancelled`.
    in_flight: Mutex<HashMap<RequestId, Arc<AtomicBool>>>,
    idle: Condvar,
}

impl<S: Service> Shared<S> {
    fn calls(&self) -> MutexGuard<'_, HashMap<RequestId, Arc<AtomicBool>>> {
        // A poisoned map only means a thread panicked while holding it; the map is still sound.
        crate::sync::lock(&self.in_flight)
    }
}

/// One MCP connection.
pub struct Server<S: Service> {
    shared: Arc<Shared<S>>,
    out: Outbox,
    info: Value,
    tools: Vec<Value>,
    prompts: Vec<Value>,
    /// Items per `tools/list` / `prompts/list` page: 100, one page for all our tools.
    page_size: usize,
    /// The version agreed by `initialize`, if one happened.
    negotiated: Option<&'static str>,
    log_level: Option<String>,
}

/// How a request is answered: in the reply's era (2026-07-28 results carry `resultType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Era {
    Handshake,
    Stateless,
}

impl<S: Service> Server<S> {
    pub fn new(service: S, out: Outbox) -> Server<S> {
        let info = service.info();
        let info = json!({"name": info.name, "title": info.title, "version": info.version});
        let tools = service.tools().iter().map(tool_json).collect();
        let prompts = service.prompts().iter().map(prompt_json).collect();
        let session = service.new_session();
        Server {
            shared: Arc::new(Shared {
                service,
                session,
                in_flight: Mutex::new(HashMap::new()),
                idle: Condvar::new(),
            }),
            out,
            info,
            tools,
            prompts,
            page_size: 100,
            negotiated: None,
            log_level: None,
        }
    }

    /// The level set by `logging/setLevel`, if any.
    pub fn log_level(&self) -> Option<&str> {
        self.log_level.as_deref()
    }

    /// Handle one input line (without its newline). Blank lines are ignored.
    pub fn handle_line(&mut self, line: &[u8]) {
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        match Message::parse(line) {
            Ok(Some(m)) => self.handle(m),
            Ok(None) => {}
            Err(response) => self.out.send(response),
        }
    }

    /// Answer a line the transport could not read at all (too long): -32600 with a null id.
    pub fn refuse_line(&self, message: String) {
        self.out
            .send(Response::err(None, code::INVALID_REQUEST, message));
    }

    pub fn handle(&mut self, message: Message) {
        match message {
            Message::Request(r) => self.handle_request(r),
            Message::Notification(n) => self.handle_notification(n),
            // We send no requests, so a response from the client answers nothing of ours.
            Message::Response(_) => {}
        }
    }

    /// Wait until no tool call is running, at most `timeout`; returns how many still are.
    pub fn drain(&self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let mut calls = self.shared.calls();
        loop {
            let now = Instant::now();
            if calls.is_empty() || now >= deadline {
                return calls.len();
            }
            calls = crate::sync::unpoisoned(self.shared.idle.wait_timeout(calls, deadline - now)).0;
        }
    }

    fn handle_notification(&mut self, n: Notification) {
        if n.method == "notifications/cancelled" {
            let id = n
                .params
                .as_ref()
                .and_then(|p| p.get("requestId"))
                .and_then(RequestId::from_value);
            if let Some(id) = id
                && let Some(flag) = self.shared.calls().get(&id)
            {
                flag.store(true, Ordering::SeqCst);
            }
        }
        // notifications/initialized and everything else: nothing to do, never answered.
    }

    fn handle_request(&mut self, req: Request) {
        let id = req.id.clone();
        let answer = catch_unwind(AssertUnwindSafe(|| self.dispatch(req)));
        match answer {
            Ok(Some(response)) => self.out.send(response),
            Ok(None) => {}
            Err(panic) => self.out.send(Response::err(
                Some(id),
                code::INTERNAL_ERROR,
                format!("internal error: {}", panic_message(&*panic)),
            )),
        }
    }

    /// Answer a request, or `None` when a thread will answer it later.
    fn dispatch(&mut self, req: Request) -> Option<Response> {
        let id = req.id;
        let params = match req.params {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => {
                return Some(invalid_params(id, "params must be an object"));
            }
        };
        let era = match requested_version(&params) {
            // server/discover exists only in 2026-07-28: its answer has that form even when the
            // request carries no version (a probe before the client knows what we speak).
            Ok(_) if req.method == "server/discover" => Era::Stateless,
            Ok(era) => era,
            Err(e) => {
                return Some(Response {
                    id: Some(id),
                    result: Err(e),
                });
            }
        };
        // 2026-07-28 removed the handshake, `ping` and `logging/setLevel`; a request stamped
        // with that revision is answered as by a server that never had them.
        let removed = ["initialize", "ping", "logging/setLevel"];
        if era == Era::Stateless && removed.contains(&req.method.as_str()) {
            return Some(Response::err(
                Some(id),
                code::METHOD_NOT_FOUND,
                format!(
                    "method not found: {} is not part of MCP {STATELESS_VERSION}",
                    req.method
                ),
            ));
        }
        let result = match req.method.as_str() {
            "initialize" => Ok(self.initialize(&params)),
            "server/discover" => Ok(self.discover()),
            "ping" => Ok(json!({})),
            "logging/setLevel" => self.set_level(&params),
            "tools/list" => page(&self.tools, "tools", &params, self.page_size),
            "prompts/list" => page(&self.prompts, "prompts", &params, self.page_size),
            "prompts/get" => self.get_prompt(&params),
            "tools/call" => return self.call_tool(id, era, params),
            other => Err(ResponseError::new(
                code::METHOD_NOT_FOUND,
                format!("method not found: {other}"),
            )),
        };
        let cacheable = matches!(
            req.method.as_str(),
            "server/discover" | "tools/list" | "prompts/list"
        );
        Some(Response {
            id: Some(id),
            result: result.map(|r| stamp(r, era, cacheable, &self.info)),
        })
    }

    fn initialize(&mut self, params: &Map<String, Value>) -> Value {
        // Echo the client's revision when we speak it, else offer our newest handshake revision
        // (MCP lifecycle: the client then decides whether it can continue). A 2026-era client
        // that still sends `initialize` gets the newest handshake revision too.
        let asked = params.get("protocolVersion").and_then(Value::as_str);
        let newest = HANDSHAKE_VERSIONS[HANDSHAKE_VERSIONS.len() - 1];
        let version = HANDSHAKE_VERSIONS
            .iter()
            .find(|v| Some(**v) == asked)
            .copied()
            .unwrap_or(newest);
        self.negotiated = Some(version);
        json!({
            "protocolVersion": version,
            "capabilities": self.capabilities(),
            "serverInfo": self.info,
            "instructions": self.shared.service.instructions(),
        })
    }

    fn discover(&self) -> Value {
        json!({
            "supportedVersions": supported_versions(),
            "capabilities": self.capabilities(),
            "instructions": self.shared.service.instructions(),
        })
    }

    fn capabilities(&self) -> Value {
        // listChanged is false: the lists are fixed for the life of the process.
        let mut caps = json!({"logging": {}, "tools": {"listChanged": false}});
        if !self.prompts.is_empty() {
            caps["prompts"] = json!({"listChanged": false});
        }
        caps
    }

    fn set_level(&mut self, params: &Map<String, Value>) -> Result<Value, ResponseError> {
        match params.get("level").and_then(Value::as_str) {
            Some(level) if LOG_LEVELS.contains(&level) => {
                self.log_level = Some(level.to_string());
                Ok(json!({}))
            }
            Some(other) => Err(ResponseError::new(
                code::INVALID_PARAMS,
                format!(
                    "unknown log level {other:?}: expected one of {}",
                    LOG_LEVELS.join(", ")
                ),
            )),
            None => Err(ResponseError::new(
                code::INVALID_PARAMS,
                match params.get("level") {
                    None | Some(Value::Null) => "logging/setLevel needs params.level".to_string(),
                    Some(other) => format!(
                        "logging/setLevel: params.level must be a string, got {}",
                        json_type(other)
                    ),
                },
            )),
        }
    }

    fn get_prompt(&self, params: &Map<String, Value>) -> Result<Value, ResponseError> {
        let (name, args) = name_and_arguments("prompts/get", params)?;
        let reply = self
            .shared
            .service
            .get_prompt(&name, &args)
            .map_err(|InvalidParams(m)| ResponseError::new(code::INVALID_PARAMS, m))?;
        let messages: Vec<Value> = reply
            .messages
            .into_iter()
            .map(|text| json!({"role": "user", "content": {"type": "text", "text": text}}))
            .collect();
        Ok(json!({"description": reply.description, "messages": messages}))
    }

    /// Start a tool call on its own thread so that `ping`, cancellation and other requests are
    /// served while it waits on a cluster.
    fn call_tool(
        &mut self,
        id: RequestId,
        era: Era,
        params: Map<String, Value>,
    ) -> Option<Response> {
        let (name, args) = match name_and_arguments("tools/call", &params) {
            Ok(parts) => parts,
            Err(e) => {
                return Some(Response {
                    id: Some(id),
                    result: Err(e),
                });
            }
        };
        let cancelled = Arc::new(AtomicBool::new(false));
        {
            let mut calls = self.shared.calls();
            if calls.contains_key(&id) {
                return Some(Response::err(
                    Some(id.clone()),
                    code::INVALID_REQUEST,
                    format!("request id {id} is already in use by a running tool call"),
                ));
            }
            if calls.len() >= MAX_IN_FLIGHT {
                return Some(Response::err(
                    Some(id),
                    code::INTERNAL_ERROR,
                    format!("server busy: {MAX_IN_FLIGHT} tool calls are already running"),
                ));
            }
            calls.insert(id.clone(), cancelled.clone());
        }
        let shared = self.shared.clone();
        let out = self.out.clone();
        let info = self.info.clone();
        let thread_id = id.clone();
        let spawned = std::thread::Builder::new()
            // A NUL in a thread name makes `spawn` panic after the call took its slot (found
            // by the jsonrpc_session fuzz target); the name is only for debuggers.
            .name(format!("tools/call {}", name.replace('\0', "\u{fffd}")))
            .spawn(move || {
                let id = thread_id;
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    shared.service.call_tool(&shared.session, &name, &args)
                }));
                let result = match outcome {
                    Ok(Ok(output)) => {
                        let v = json!({
                            "content": [{"type": "text", "text": output.text}],
                            "isError": output.is_error,
                        });
                        Ok(stamp(v, era, false, &info))
                    }
                    Ok(Err(InvalidParams(m))) => Err(ResponseError::new(code::INVALID_PARAMS, m)),
                    Err(panic) => Err(ResponseError::new(
                        code::INTERNAL_ERROR,
                        format!("internal error in tool {name}: {}", panic_message(&*panic)),
                    )),
                };
                // A cancelled request gets no response (MCP cancellation). Send before leaving
                // the in-flight map so that `drain` never closes the outbox under us.
                if !cancelled.load(Ordering::SeqCst) {
                    out.send(Response {
                        id: Some(id.clone()),
                        result,
                    });
                }
                shared.calls().remove(&id);
                shared.idle.notify_all();
            });
        match spawned {
            Ok(_) => None,
            Err(e) => {
                self.shared.calls().remove(&id);
                Some(Response::err(
                    Some(id),
                    code::INTERNAL_ERROR,
                    format!("cannot start a thread for the tool call: {e}"),
                ))
            }
        }
    }
}

/// 2026-07-28 results carry `resultType`, the server's identity (`info`) in `_meta`, and
/// cacheable results a cache hint; older revisions get the result untouched (strict SDKs reject
/// extra keys in the empty `ping` result). A free function so that tool-call threads, which hold
/// a copy of `info` but not the server, stamp their results the same way.
fn stamp(mut result: Value, era: Era, cacheable: bool, info: &Value) -> Value {
    if era == Era::Stateless
        && let Value::Object(obj) = &mut result
    {
        obj.insert("resultType".into(), json!("complete"));
        if cacheable {
            // Immediately stale and never shared: the lists depend on this process' flags.
            obj.insert("ttlMs".into(), json!(0));
            obj.insert("cacheScope".into(), json!("private"));
        }
        let meta = obj.entry("_meta").or_insert_with(|| json!({}));
        if let Value::Object(meta) = meta {
            meta.insert(META_SERVER_INFO.into(), info.clone());
        }
    }
    result
}

/// Every revision we speak, newest first: what `server/discover` advertises and what a request
/// with an unsupported version is told.
fn supported_versions() -> Vec<&'static str> {
    let mut versions = vec![STATELESS_VERSION];
    versions.extend(HANDSHAKE_VERSIONS.iter().rev());
    versions
}

/// The era a request is answered in, from `_meta["io.modelcontextprotocol/protocolVersion"]`;
/// a version we do not speak is refused with -32022 and the list we do (2026-07-28 schema).
fn requested_version(params: &Map<String, Value>) -> Result<Era, ResponseError> {
    let asked = params
        .get("_meta")
        .and_then(|m| m.get(META_PROTOCOL_VERSION));
    match asked {
        None => Ok(Era::Handshake),
        Some(Value::String(v)) if v == STATELESS_VERSION => Ok(Era::Stateless),
        Some(Value::String(v)) if HANDSHAKE_VERSIONS.contains(&v.as_str()) => Ok(Era::Handshake),
        Some(other) => {
            let requested = other
                .as_str()
                .map(String::from)
                .unwrap_or(other.to_string());
            Err(ResponseError {
                code: code::UNSUPPORTED_PROTOCOL_VERSION,
                message: format!("unsupported protocol version {requested}"),
                data: Some(json!({"supported": supported_versions(), "requested": requested})),
            })
        }
    }
}

/// One page of a list. The cursor is opaque to clients; ours is the offset of the next item.
fn page(
    items: &[Value],
    key: &str,
    params: &Map<String, Value>,
    size: usize,
) -> Result<Value, ResponseError> {
    let start = match params.get("cursor") {
        None | Some(Value::Null) => 0,
        Some(Value::String(c)) => match c.parse::<usize>() {
            Ok(n) if n <= items.len() => n,
            _ => {
                return Err(ResponseError::new(
                    code::INVALID_PARAMS,
                    format!("invalid cursor {c:?}"),
                ));
            }
        },
        Some(other) => {
            return Err(ResponseError::new(
                code::INVALID_PARAMS,
                format!("invalid cursor {other}: cursors are strings"),
            ));
        }
    };
    let end = (start + size).min(items.len());
    let mut result = Map::new();
    result.insert(key.into(), Value::Array(items[start..end].to_vec()));
    if end < items.len() {
        result.insert("nextCursor".into(), Value::String(end.to_string()));
    }
    Ok(Value::Object(result))
}

fn tool_json(t: &ToolInfo) -> Value {
    let a = &t.annotations;
    json!({
        "name": t.name,
        "title": t.title,
        "description": t.description,
        "inputSchema": t.input_schema,
        "annotations": {
            "title": t.title,
            "readOnlyHint": a.read_only,
            "destructiveHint": a.destructive,
            "idempotentHint": a.idempotent,
            "openWorldHint": a.open_world,
        },
    })
}

fn prompt_json(p: &PromptInfo) -> Value {
    let args: Vec<Value> = p
        .arguments
        .iter()
        .map(|a| json!({"name": a.name, "description": a.description, "required": a.required}))
        .collect();
    json!({"name": p.name, "title": p.title, "description": p.description, "arguments": args})
}

/// `params.name` (a string) and `params.arguments` (an object; absent means none) of
/// `tools/call` and `prompts/get`, or the -32602 error that says which is wrong.
fn name_and_arguments(
    method: &str,
    params: &Map<String, Value>,
) -> Result<(String, Map<String, Value>), ResponseError> {
    let invalid = |message: String| ResponseError::new(code::INVALID_PARAMS, message);
    let name = match params.get("name") {
        Some(Value::String(name)) => name.clone(),
        None | Some(Value::Null) => return Err(invalid(format!("{method} needs params.name"))),
        Some(other) => {
            return Err(invalid(format!(
                "{method}: params.name must be a string, got {}",
                json_type(other)
            )));
        }
    };
    let arguments = match params.get("arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            return Err(invalid(format!(
                "{method}: params.arguments must be an object, got {}",
                json_type(other)
            )));
        }
    };
    Ok((name, arguments))
}

fn invalid_params(id: RequestId, message: &str) -> Response {
    Response::err(Some(id), code::INVALID_PARAMS, message)
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        format!("panic: {s}")
    } else if let Some(s) = panic.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::Receiver;

    /// A service with tools that answer, fail, panic, or wait for a signal.
    struct Fake {
        release: Mutex<Option<mpsc::Receiver<()>>>,
        tool_count: usize,
    }

    const ARGS: &[PromptArgument] = &[PromptArgument {
        name: "name",
        description: "object name",
        required: true,
    }];

    impl Service for Fake {
        type Session = Mutex<u32>;
        fn info(&self) -> ServerInfo {
            ServerInfo {
                name: "fake",
                title: "Fake",
                version: "1.2.3",
            }
        }
        fn instructions(&self) -> &str {
            "use the fake"
        }
        fn tools(&self) -> Vec<ToolInfo> {
            (0..self.tool_count)
                .map(|i| ToolInfo {
                    name: ["echo", "fail", "panic", "wait", "count"][i % 5],
                    title: "T",
                    description: "d",
                    input_schema: json!({"type": "object", "properties": {}, "required": []}),
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
                description: "a prompt",
                arguments: ARGS,
            }]
        }
        fn new_session(&self) -> Mutex<u32> {
            Mutex::new(0)
        }
        fn call_tool(
            &self,
            session: &Mutex<u32>,
            name: &str,
            args: &Map<String, Value>,
        ) -> Result<ToolOutput, InvalidParams> {
            match name {
                "echo" => Ok(ToolOutput {
                    text: Value::Object(args.clone()).to_string(),
                    is_error: false,
                }),
                "fail" => Ok(ToolOutput {
                    text: "it failed".into(),
                    is_error: true,
                }),
                "panic" => panic!("tool blew up"),
                "wait" => {
                    let rx = self.release.lock().unwrap().take().unwrap();
                    rx.recv().unwrap();
                    Ok(ToolOutput {
                        text: "waited".into(),
                        is_error: false,
                    })
                }
                "count" => {
                    let mut n = session.lock().unwrap();
                    *n += 1;
                    Ok(ToolOutput {
                        text: n.to_string(),
                        is_error: false,
                    })
                }
                other => Err(InvalidParams(format!("unknown tool {other}"))),
            }
        }
        fn get_prompt(
            &self,
            name: &str,
            args: &Map<String, Value>,
        ) -> Result<PromptReply, InvalidParams> {
            if name != "p" {
                return Err(InvalidParams(format!("unknown prompt {name}")));
            }
            match args.get("name").and_then(Value::as_str) {
                Some(n) => Ok(PromptReply {
                    description: "d".into(),
                    messages: vec![format!("look at {n}")],
                }),
                None => Err(InvalidParams("missing argument name".into())),
            }
        }
    }

    struct Conn {
        server: Server<Fake>,
        rx: Receiver<Outgoing>,
        release: Option<mpsc::Sender<()>>,
    }

    fn conn(tool_count: usize) -> Conn {
        let (tx, rx) = mpsc::channel();
        let (out, orx) = Outbox::channel();
        let fake = Fake {
            release: Mutex::new(Some(rx)),
            tool_count,
        };
        Conn {
            server: Server::new(fake, out),
            rx: orx,
            release: Some(tx),
        }
    }

    impl Conn {
        fn send(&mut self, v: Value) {
            self.server.handle_line(v.to_string().as_bytes());
        }
        fn recv(&self) -> Value {
            match self.rx.recv_timeout(Duration::from_secs(10)) {
                Ok(Outgoing::Message(m)) => serde_json::from_slice(&m.to_line()).unwrap(),
                other => panic!("no response: {other:?}"),
            }
        }
        fn request(&mut self, id: i64, method: &str, params: Value) -> Value {
            self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
            let r = self.recv();
            assert_eq!(r["id"], json!(id), "{r}");
            r
        }
        fn nothing_pending(&self) -> bool {
            self.rx.try_recv().is_err()
        }
    }

    /// Found by the jsonrpc_session fuzz target: a tool name with a NUL byte made the
    /// thread name invalid, `spawn` panicked after the call had taken an in-flight slot, and
    /// the slot was never freed: MAX_IN_FLIGHT such calls locked every tool out, and the id
    /// stayed "in use" for good.
    #[test]
    fn a_tool_name_with_a_nul_byte_is_answered_and_frees_its_slot() {
        let mut c = conn(1);
        for id in 0..=MAX_IN_FLIGHT as i64 {
            let r = c.request(id, "tools/call", json!({"name": "ec\u{0}ho"}));
            assert_eq!(r["error"]["code"], json!(-32602), "{r}");
        }
        assert_eq!(c.server.drain(Duration::from_secs(10)), 0);
        let r = c.request(0, "tools/call", json!({"name": "echo"}));
        assert_eq!(r["result"]["isError"], json!(false), "{r}");
    }

    #[test]
    fn initialize_echoes_known_versions_and_offers_the_newest_otherwise() {
        let mut c = conn(1);
        for v in HANDSHAKE_VERSIONS {
            let r = c.request(1, "initialize", json!({"protocolVersion": v}));
            assert_eq!(r["result"]["protocolVersion"], json!(v));
        }
        for v in ["2099-01-01", STATELESS_VERSION] {
            let r = c.request(2, "initialize", json!({"protocolVersion": v}));
            assert_eq!(r["result"]["protocolVersion"], json!("2025-11-25"));
        }
        let r = c.request(3, "initialize", json!({"protocolVersion": "2025-06-18"}));
        assert_eq!(
            r["result"]["serverInfo"],
            json!({"name": "fake", "title": "Fake", "version": "1.2.3"})
        );
        assert_eq!(r["result"]["instructions"], json!("use the fake"));
        assert_eq!(
            r["result"]["capabilities"],
            json!({"logging": {}, "tools": {"listChanged": false}, "prompts": {"listChanged": false}})
        );
        assert!(r["result"].get("resultType").is_none());
        assert_eq!(c.server.negotiated, Some("2025-06-18"));
    }

    #[test]
    fn discover_and_stateless_requests_need_no_handshake() {
        let mut c = conn(1);
        let meta = json!({"_meta": {META_PROTOCOL_VERSION: STATELESS_VERSION}});
        let r = c.request(1, "server/discover", meta.clone());
        let res = &r["result"];
        assert_eq!(res["supportedVersions"][0], json!(STATELESS_VERSION));
        assert_eq!(res["resultType"], json!("complete"));
        assert_eq!(res["cacheScope"], json!("private"));
        assert_eq!(res["ttlMs"], json!(0));
        assert_eq!(res["_meta"][META_SERVER_INFO]["name"], json!("fake"));
        let r = c.request(2, "tools/list", meta.clone());
        assert_eq!(r["result"]["tools"][0]["name"], json!("echo"));
        assert_eq!(r["result"]["resultType"], json!("complete"));
        for removed in ["ping", "initialize", "logging/setLevel"] {
            let r = c.request(3, removed, meta.clone());
            assert_eq!(r["error"]["code"], json!(-32601), "{removed}");
        }
        let r = c.request(3, "prompts/list", meta.clone());
        assert_eq!(r["result"]["resultType"], json!("complete"));
        let mut call = meta.clone();
        call["name"] = json!("echo");
        let r = c.request(4, "tools/call", call);
        assert_eq!(r["result"]["resultType"], json!("complete"));
        assert_eq!(r["result"]["isError"], json!(false));
    }

    #[test]
    fn discover_is_answered_in_the_stateless_form_even_without_meta() {
        // server/discover exists only in 2026-07-28, whatever the request's _meta says.
        let mut c = conn(1);
        let r = c.request(1, "server/discover", json!(null));
        let res = &r["result"];
        assert_eq!(res["resultType"], json!("complete"), "{r}");
        assert_eq!(res["_meta"][META_SERVER_INFO]["name"], json!("fake"), "{r}");
        assert_eq!(res["ttlMs"], json!(0));
    }

    #[test]
    fn an_unknown_meta_version_is_refused_with_the_supported_list() {
        let mut c = conn(1);
        let r = c.request(
            1,
            "tools/list",
            json!({"_meta": {META_PROTOCOL_VERSION: "2030-01-01"}}),
        );
        assert_eq!(r["error"]["code"], json!(-32022));
        assert_eq!(r["error"]["data"]["requested"], json!("2030-01-01"));
        assert_eq!(r["error"]["data"]["supported"].as_array().unwrap().len(), 5);
    }

    #[test]
    fn handshake_results_stay_plain() {
        let mut c = conn(1);
        assert_eq!(c.request(1, "ping", json!(null))["result"], json!({}));
        let r = c.request(2, "logging/setLevel", json!({"level": "debug"}));
        assert_eq!(r["result"], json!({}));
        assert_eq!(c.server.log_level(), Some("debug"));
    }

    #[test]
    fn protocol_errors_have_their_codes() {
        let mut c = conn(1);
        let cases = [
            ("nope", json!({}), -32601),
            ("logging/setLevel", json!({"level": "loud"}), -32602),
            ("logging/setLevel", json!({}), -32602),
            ("tools/call", json!({}), -32602),
            (
                "tools/call",
                json!({"name": "echo", "arguments": [1]}),
                -32602,
            ),
            ("tools/list", json!({"cursor": "x"}), -32602),
            ("tools/list", json!({"cursor": 3}), -32602),
            ("prompts/get", json!({"name": "p"}), -32602),
            (
                "prompts/get",
                json!({"name": "q", "arguments": {"name": "a"}}),
                -32602,
            ),
            ("ping", json!([1, 2]), -32602),
        ];
        for (i, (method, params, code)) in cases.into_iter().enumerate() {
            let r = c.request(i as i64, method, params.clone());
            assert_eq!(r["error"]["code"], json!(code), "{method} {params}: {r}");
            assert!(!r["error"]["message"].as_str().unwrap().is_empty());
        }
        let r = c.request(40, "tools/call", json!({"name": 5}));
        assert_eq!(
            r["error"]["message"],
            json!("tools/call: params.name must be a string, got a number")
        );
        let r = c.request(41, "prompts/get", json!({"name": "p", "arguments": "x=1"}));
        assert_eq!(
            r["error"]["message"],
            json!("prompts/get: params.arguments must be an object, got a string")
        );
        let r = c.request(42, "logging/setLevel", json!({"level": 3}));
        assert_eq!(
            r["error"]["message"],
            json!("logging/setLevel: params.level must be a string, got a number")
        );
        // Unknown tool: the service says so, the server answers -32602.
        let r = c.request(99, "tools/call", json!({"name": "ghost"}));
        assert_eq!(r["error"]["code"], json!(-32602));
        assert!(r["error"]["message"].as_str().unwrap().contains("ghost"));
    }

    #[test]
    fn tool_results_are_text_with_is_error() {
        let mut c = conn(5);
        let r = c.request(
            1,
            "tools/call",
            json!({"name": "echo", "arguments": {"a": 1}}),
        );
        assert_eq!(
            r["result"],
            json!({"content": [{"type": "text", "text": "{\"a\":1}"}], "isError": false})
        );
        let r = c.request(2, "tools/call", json!({"name": "fail"}));
        assert_eq!(r["result"]["isError"], json!(true));
        assert_eq!(r["result"]["content"][0]["text"], json!("it failed"));
        // The session is shared by every call on the connection.
        c.request(3, "tools/call", json!({"name": "count"}));
        let r = c.request(4, "tools/call", json!({"name": "count"}));
        assert_eq!(r["result"]["content"][0]["text"], json!("2"));
    }

    #[test]
    fn a_panicking_tool_is_answered_with_internal_error_and_the_server_goes_on() {
        let mut c = conn(5);
        let r = c.request(1, "tools/call", json!({"name": "panic"}));
        assert_eq!(r["error"]["code"], json!(-32603));
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .contains("tool blew up")
        );
        assert_eq!(c.request(2, "ping", json!({}))["result"], json!({}));
        let r = c.request(3, "tools/call", json!({"name": "echo"}));
        assert_eq!(r["result"]["isError"], json!(false));
    }

    #[test]
    fn ping_is_answered_while_a_tool_call_waits_and_cancel_drops_its_answer() {
        let mut c = conn(5);
        c.send(json!({"jsonrpc": "2.0", "id": "slow", "method": "tools/call", "params": {"name": "wait"}}));
        assert_eq!(c.request(2, "ping", json!({}))["result"], json!({}));
        // The same id cannot be reused while the call runs.
        let r = c.request_str("slow", "tools/call", json!({"name": "echo"}));
        assert_eq!(r["error"]["code"], json!(-32600));
        c.send(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "slow"}}));
        c.release.take().unwrap().send(()).unwrap();
        assert_eq!(c.server.drain(Duration::from_secs(10)), 0);
        assert!(c.nothing_pending(), "a cancelled call must not be answered");
    }

    #[test]
    fn drain_gives_up_after_its_timeout() {
        let mut c = conn(5);
        c.send(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "wait"}}),
        );
        assert_eq!(c.server.drain(Duration::from_millis(20)), 1);
        c.release.take().unwrap().send(()).unwrap();
        assert_eq!(c.server.drain(Duration::from_secs(10)), 0);
        assert_eq!(c.recv()["result"]["content"][0]["text"], json!("waited"));
    }

    #[test]
    fn notifications_are_never_answered() {
        let mut c = conn(1);
        c.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        c.send(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 42}}));
        c.send(json!({"jsonrpc": "2.0", "method": "something/else", "params": 5}));
        c.server.handle_line(b"   ");
        assert!(c.nothing_pending());
    }

    #[test]
    fn lists_paginate_with_an_opaque_cursor() {
        let mut c = conn(5);
        c.server.page_size = 2;
        let mut names = Vec::new();
        let mut cursor = Value::Null;
        for i in 0..10 {
            let r = c.request(i, "tools/list", json!({"cursor": cursor}));
            for t in r["result"]["tools"].as_array().unwrap() {
                names.push(t["name"].as_str().unwrap().to_string());
            }
            cursor = r["result"]
                .get("nextCursor")
                .cloned()
                .unwrap_or(Value::Null);
            if cursor.is_null() {
                break;
            }
        }
        assert_eq!(names, ["echo", "fail", "panic", "wait", "count"]);
    }

    #[test]
    fn tools_list_shows_title_and_annotations() {
        let mut c = conn(1);
        let r = c.request(1, "tools/list", json!({}));
        let t = &r["result"]["tools"][0];
        assert_eq!(t["title"], json!("T"));
        assert_eq!(
            t["annotations"],
            json!({"title": "T", "readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false})
        );
        assert_eq!(t["inputSchema"]["type"], json!("object"));
    }

    #[test]
    fn prompts_get_returns_user_messages() {
        let mut c = conn(1);
        let r = c.request(1, "prompts/list", json!({}));
        assert_eq!(
            r["result"]["prompts"][0]["arguments"][0]["required"],
            json!(true)
        );
        let r = c.request(
            2,
            "prompts/get",
            json!({"name": "p", "arguments": {"name": "x"}}),
        );
        assert_eq!(
            r["result"]["messages"],
            json!([{"role": "user", "content": {"type": "text", "text": "look at x"}}])
        );
    }

    impl Conn {
        fn request_str(&mut self, id: &str, method: &str, params: Value) -> Value {
            self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
            let r = self.recv();
            assert_eq!(r["id"], json!(id), "{r}");
            r
        }
    }
}
