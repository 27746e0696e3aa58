//! One connection's protocol state and the method dispatch: eras and version checks, lists,
//! prompts, `logging/setLevel`, tool calls on their own threads with cancellation, panics
//! turned into -32603, and log notifications. Every answer goes to the [`Reply`] of the
//! message that asked for it, so a transport can route it (see connection.rs).
//!
//! A [`Session`] is shared by whoever feeds it (a stream loop, HTTP worker threads) and by its
//! tool-call threads; all of its state sits behind locks, and `handle` takes `&self`.
//!
//! There is no "negotiated version" here: nothing in the protocol depends on which handshake
//! revision `initialize` agreed. Every handshake revision gets the same answers (the fields
//! later revisions added are allowed extras in earlier ones), and how a request is answered is
//! decided per request from its `_meta` (a 2026-07-28 request may arrive on any connection).
//! A transport that needs the version reads it from the `initialize` result it forwards.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::cancel::Cancel;
use super::connection::Reply;
use super::message::{
    Message, Notification, Request, RequestId, Response, ResponseError, code, json_type,
};
use super::server::{
    HANDSHAKE_VERSIONS, InvalidParams, STATELESS_VERSION, Server, Service, Slot, ToolOutput,
    supported_versions,
};
use crate::sync::{lock, unpoisoned};

const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
/// 2026-07-28: the level of log notifications the client wants for this one request.
const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";

/// Log levels of `logging/setLevel` (RFC 5424 severities, as the MCP schema lists them),
/// least severe first: a level's index is its rank.
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

/// At most this much of a failed tool's text goes into its log notification: the whole text
/// is in the result already; the log line only has to say what went wrong.
const LOG_TEXT_LIMIT: usize = 1024;

/// One connection's protocol state. Cheap to clone: clones are the same session.
pub struct Session<S: Service> {
    server: Server<S>,
    state: Arc<State<S>>,
}

impl<S: Service> Clone for Session<S> {
    fn clone(&self) -> Session<S> {
        Session {
            server: self.server.clone(),
            state: self.state.clone(),
        }
    }
}

/// What a session's tool-call threads share with it.
struct State<S: Service> {
    /// The tools layer's state for this connection (e.g. the chosen cluster context).
    service_state: S::Session,
    /// Tool calls whose answer is pending, by request id. An entry owns the call's reply
    /// and its slot: removing it (answer or cancellation) frees both at once.
    calls: Mutex<HashMap<RequestId, Call>>,
    /// Notified whenever an entry leaves `calls`.
    idle: Condvar,
    /// Tool-call threads still running, cancelled ones included.
    threads: Mutex<usize>,
    threads_done: Condvar,
    /// Tells a call from an earlier one with the same id (ids can be reused after a cancel).
    next_call: AtomicU64,
    /// Set by `logging/setLevel`: the least severe level of log notification the client
    /// wants for handshake-era requests. `None`: none at all.
    log_level: Mutex<Option<Level>>,
}

struct Call {
    serial: u64,
    cancel: Cancel,
    reply: Reply,
    _slot: Slot,
}

/// An index into [`LOG_LEVELS`]; a larger one is more severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Level(usize);

impl Level {
    const DEBUG: Level = Level(0);
    const WARNING: Level = Level(3);
    const ERROR: Level = Level(4);

    fn parse(name: &str) -> Option<Level> {
        LOG_LEVELS.iter().position(|l| *l == name).map(Level)
    }

    fn name(self) -> &'static str {
        LOG_LEVELS.get(self.0).copied().unwrap_or("emergency")
    }
}

/// How a request is answered: in the reply's era (2026-07-28 results carry `resultType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Era {
    Handshake,
    Stateless,
}

impl<S: Service> Session<S> {
    pub(super) fn new(server: Server<S>, service: S::Session) -> Session<S> {
        Session {
            server,
            state: Arc::new(State {
                service_state: service,
                calls: Mutex::new(HashMap::new()),
                idle: Condvar::new(),
                threads: Mutex::new(0),
                threads_done: Condvar::new(),
                next_call: AtomicU64::new(0),
                log_level: Mutex::new(None),
            }),
        }
    }

    /// The level set by `logging/setLevel`, if any.
    pub fn log_level(&self) -> Option<&'static str> {
        lock(&self.state.log_level).map(Level::name)
    }

    /// Handle the bytes of one message (a stdio line without its newline, an HTTP body).
    /// Blank input is ignored; input that is not a usable message is answered on `reply`
    /// with the JSON-RPC error that says why.
    pub fn handle_line(&self, line: &[u8], reply: Reply) {
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        match Message::parse(line) {
            Ok(Some(m)) => self.handle(m, reply),
            Ok(None) => {}
            Err(response) => reply.respond(response),
        }
    }

    /// Answer input the transport could not read at all (too long): -32600 with a null id.
    pub fn refuse(&self, message: String, reply: Reply) {
        reply.respond(Response::err(None, code::INVALID_REQUEST, message));
    }

    /// Handle one message. A request is answered on `reply`, now or (a tool call) from the
    /// call's thread; a notification or a client's response drops `reply` unanswered.
    pub fn handle(&self, message: Message, reply: Reply) {
        match message {
            Message::Request(r) => self.handle_request(r, reply),
            Message::Notification(n) => self.handle_notification(n),
            // We send no requests, so a response from the client answers nothing of ours.
            Message::Response(_) => {}
        }
    }

    /// Cancel the running tool call `id`: its answer is never sent, its reply is dropped, and
    /// its slot and id are free at once, while its thread winds down on its own. What
    /// `notifications/cancelled` does; also for a transport whose client went away. False
    /// when no call with that id is running.
    pub fn cancel(&self, id: &RequestId) -> bool {
        let call = lock(&self.state.calls).remove(id);
        let Some(call) = call else {
            return false;
        };
        call.cancel.cancel();
        drop(call);
        self.state.idle.notify_all();
        true
    }

    /// Cancel every running tool call (the session ends); returns how many there were.
    pub fn cancel_all(&self) -> usize {
        let calls: Vec<Call> = lock(&self.state.calls).drain().map(|(_, c)| c).collect();
        for call in &calls {
            call.cancel.cancel();
        }
        let n = calls.len();
        drop(calls);
        self.state.idle.notify_all();
        n
    }

    /// Wait until no tool call's answer is pending, at most `timeout`; returns how many still
    /// are. Cancelled calls are not waited for: nobody expects their answer.
    pub fn drain(&self, timeout: Duration) -> usize {
        let calls = lock(&self.state.calls);
        let (calls, _) = unpoisoned(
            self.state
                .idle
                .wait_timeout_while(calls, timeout, |c| !c.is_empty()),
        );
        calls.len()
    }

    /// Wait until every tool-call thread of this session has returned, cancelled ones
    /// included, at most `timeout`; returns how many still run.
    pub fn wait_threads(&self, timeout: Duration) -> usize {
        let threads = lock(&self.state.threads);
        let (threads, _) = unpoisoned(self.state.threads_done.wait_timeout_while(
            threads,
            timeout,
            |n| *n > 0,
        ));
        *threads
    }

    fn handle_notification(&self, n: Notification) {
        if n.method == "notifications/cancelled" {
            let id = n
                .params
                .as_ref()
                .and_then(|p| p.get("requestId"))
                .and_then(RequestId::from_value);
            if let Some(id) = id {
                self.cancel(&id);
            }
        }
        // notifications/initialized and everything else: nothing to do, never answered.
    }

    fn handle_request(&self, req: Request, reply: Reply) {
        let id = req.id.clone();
        // A tool call takes the reply to its thread; otherwise it is still here to answer on.
        let mut reply = Some(reply);
        let answer = catch_unwind(AssertUnwindSafe(|| self.dispatch(req, &mut reply)));
        let response = match answer {
            Ok(Some(response)) => response,
            Ok(None) => return,
            Err(panic) => Response::err(
                Some(id),
                code::INTERNAL_ERROR,
                format!("internal error: {}", panic_message(&*panic)),
            ),
        };
        if let Some(reply) = reply {
            reply.respond(response);
        }
    }

    /// Answer a request, or `None` when a thread took `reply` to answer it later.
    fn dispatch(&self, req: Request, reply: &mut Option<Reply>) -> Option<Response> {
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
        let page_size = self.server.limits().page_size;
        let result = match req.method.as_str() {
            "initialize" => Ok(self.initialize(&params)),
            "server/discover" => Ok(self.discover()),
            "ping" => Ok(json!({})),
            "logging/setLevel" => self.set_level(&params),
            "tools/list" => page(self.server.tools_json(), "tools", &params, page_size),
            "prompts/list" => page(self.server.prompts_json(), "prompts", &params, page_size),
            "prompts/get" => self.get_prompt(&params),
            "tools/call" => {
                let log = self.log_threshold(era, &params);
                return self.call_tool(id, era, log, params, reply);
            }
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
            result: result.map(|r| stamp(r, era, cacheable, self.server.info_json())),
        })
    }

    fn initialize(&self, params: &Map<String, Value>) -> Value {
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
        json!({
            "protocolVersion": version,
            "capabilities": self.server.capabilities(),
            "serverInfo": self.server.info_json(),
            "instructions": self.server.service().instructions(),
        })
    }

    fn discover(&self) -> Value {
        json!({
            "supportedVersions": supported_versions(),
            "capabilities": self.server.capabilities(),
            "instructions": self.server.service().instructions(),
        })
    }

    fn set_level(&self, params: &Map<String, Value>) -> Result<Value, ResponseError> {
        match params.get("level").and_then(Value::as_str) {
            Some(name) => match Level::parse(name) {
                Some(level) => {
                    *lock(&self.state.log_level) = Some(level);
                    Ok(json!({}))
                }
                None => Err(ResponseError::new(
                    code::INVALID_PARAMS,
                    format!(
                        "unknown log level {name:?}: expected one of {}",
                        LOG_LEVELS.join(", ")
                    ),
                )),
            },
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
            .server
            .service()
            .get_prompt(&name, &args)
            .map_err(|InvalidParams(m)| ResponseError::new(code::INVALID_PARAMS, m))?;
        let messages: Vec<Value> = reply
            .messages
            .into_iter()
            .map(|text| json!({"role": "user", "content": {"type": "text", "text": text}}))
            .collect();
        Ok(json!({"description": reply.description, "messages": messages}))
    }

    // ---- Logging ---------------------------------------------------------------------------
    //
    // We advertise the `logging` capability and keep it true: a tool call reports how it
    // ended as a `notifications/message` (debug: answered, with time and size; warning: the
    // tool failed; error: the tool panicked), sent on the call's reply just before its
    // answer, so it reaches the exchange that is waiting for the answer. Only a client that
    // asked gets them: in the handshake era after `logging/setLevel` (a client that never set
    // a level sees no extra messages: clients that do not show logs pay nothing), in
    // 2026-07-28 only for a request whose `_meta` carries `io.modelcontextprotocol/logLevel`
    // (that revision forbids log notifications otherwise and deprecates the feature, so we
    // do nothing beyond what it is asked for). A cancelled call sends nothing.

    /// The least severe level of log notification this request wants, if any.
    fn log_threshold(&self, era: Era, params: &Map<String, Value>) -> Option<Level> {
        match era {
            Era::Handshake => *lock(&self.state.log_level),
            Era::Stateless => params
                .get("_meta")
                .and_then(|m| m.get(META_LOG_LEVEL))
                .and_then(Value::as_str)
                .and_then(Level::parse),
        }
    }

    /// Start a tool call on its own thread so that `ping`, cancellation and other requests are
    /// served while it waits on a cluster.
    fn call_tool(
        &self,
        id: RequestId,
        era: Era,
        log: Option<Level>,
        params: Map<String, Value>,
        reply: &mut Option<Reply>,
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
        let cancel = Cancel::new();
        let serial = self.state.next_call.fetch_add(1, Ordering::Relaxed);
        {
            let mut calls = lock(&self.state.calls);
            if calls.contains_key(&id) {
                return Some(Response::err(
                    Some(id.clone()),
                    code::INVALID_REQUEST,
                    format!("request id {id} is already in use by a running tool call"),
                ));
            }
            let Some(slot) = self.server.take_slot() else {
                return Some(Response::err(
                    Some(id),
                    code::INTERNAL_ERROR,
                    format!(
                        "server busy: {} tool calls are already running",
                        self.server.limits().max_in_flight
                    ),
                ));
            };
            let reply = reply.take()?;
            calls.insert(
                id.clone(),
                Call {
                    serial,
                    cancel: cancel.clone(),
                    reply,
                    _slot: slot,
                },
            );
        }
        *lock(&self.state.threads) += 1;
        // Counts the thread until it returns; if the thread cannot start, the closure that
        // owns it is dropped and the count goes down all the same.
        let running = Running(self.state.clone());
        let server = self.server.clone();
        let thread_id = id.clone();
        let spawned = std::thread::Builder::new()
            .name(thread_name(&name))
            .spawn(move || {
                let state = &running.0;
                let id = thread_id;
                let started = Instant::now();
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    server
                        .service()
                        .call_tool(&state.service_state, &name, &args, &cancel)
                }));
                let elapsed = started.elapsed();
                let (result, event) = match outcome {
                    Ok(Ok(output)) => {
                        let event = outcome_event(&name, &output, elapsed);
                        let v = json!({
                            "content": [{"type": "text", "text": output.text}],
                            "isError": output.is_error,
                        });
                        (Ok(stamp(v, era, false, server.info_json())), Some(event))
                    }
                    Ok(Err(InvalidParams(m))) => {
                        (Err(ResponseError::new(code::INVALID_PARAMS, m)), None)
                    }
                    Err(panic) => {
                        let message = panic_message(&*panic);
                        let event = LogEvent {
                            level: Level::ERROR,
                            tool: name.clone(),
                            elapsed,
                            message: format!("{name} failed: {message}"),
                        };
                        let error = ResponseError::new(
                            code::INTERNAL_ERROR,
                            format!("internal error in tool {name}: {message}"),
                        );
                        (Err(error), Some(event))
                    }
                };
                let note = event
                    .filter(|e| log.is_some_and(|min| e.level >= min))
                    .map(LogEvent::notification);
                state.finish(
                    &id,
                    serial,
                    note,
                    Response {
                        id: Some(id.clone()),
                        result,
                    },
                );
            });
        match spawned {
            Ok(_) => None,
            Err(e) => {
                let call = {
                    let mut calls = lock(&self.state.calls);
                    match calls.get(&id) {
                        Some(c) if c.serial == serial => calls.remove(&id),
                        _ => None,
                    }
                };
                self.state.idle.notify_all();
                // Cancelled in the meantime: nobody wants an answer.
                let call = call?;
                *reply = Some(call.reply);
                Some(Response::err(
                    Some(id),
                    code::INTERNAL_ERROR,
                    format!("cannot start a thread for the tool call: {e}"),
                ))
            }
        }
    }
}

impl<S: Service> State<S> {
    /// Answer call `id` number `serial`, unless it was cancelled (its entry is gone, or
    /// belongs to a newer call that reused the id).
    fn finish(&self, id: &RequestId, serial: u64, note: Option<Notification>, response: Response) {
        let mut calls = lock(&self.calls);
        let call = match calls.get(id) {
            Some(c) if c.serial == serial => calls.remove(id),
            _ => None,
        };
        if let Some(call) = call {
            // Sent while the entry's removal is not yet visible to `drain`, so that a stream
            // transport that drains and then closes its writer has this answer queued first.
            if let Some(note) = note {
                call.reply.notify(note);
            }
            call.reply.respond(response);
        }
        drop(calls);
        self.idle.notify_all();
    }
}

/// Held by a tool-call thread: counts it in `State::threads` until dropped.
struct Running<S: Service>(Arc<State<S>>);

impl<S: Service> Drop for Running<S> {
    fn drop(&mut self) {
        *lock(&self.0.threads) -= 1;
        self.0.threads_done.notify_all();
    }
}

/// The name of a tool call's thread (shown by debuggers and in panic messages). The tool
/// name comes from the client: std refuses a thread name with a NUL byte, so those go, and a
/// long name is cut.
fn thread_name(tool: &str) -> String {
    let tool: String = tool.chars().filter(|c| *c != '\0').take(64).collect();
    format!("tools/call {tool}")
}

/// How a tool call ended, for a log notification.
struct LogEvent {
    level: Level,
    tool: String,
    elapsed: Duration,
    message: String,
}

fn outcome_event(name: &str, output: &ToolOutput, elapsed: Duration) -> LogEvent {
    let ms = elapsed.as_millis();
    let (level, message) = if output.is_error {
        let end = crate::text::floor_char_boundary(&output.text, LOG_TEXT_LIMIT);
        let cut = if end < output.text.len() { " …" } else { "" };
        (
            Level::WARNING,
            format!("{name} failed after {ms} ms: {}{cut}", &output.text[..end]),
        )
    } else {
        (
            Level::DEBUG,
            format!("{name} answered {} bytes in {ms} ms", output.text.len()),
        )
    };
    LogEvent {
        level,
        tool: name.to_string(),
        elapsed,
        message,
    }
}

impl LogEvent {
    fn notification(self) -> Notification {
        let ms = u64::try_from(self.elapsed.as_millis()).unwrap_or(u64::MAX);
        Notification {
            method: "notifications/message".to_string(),
            params: Some(json!({
                "level": self.level.name(),
                "logger": "tools/call",
                "data": {"message": self.message, "tool": self.tool, "durationMs": ms},
            })),
        }
    }
}

/// 2026-07-28 results carry `resultType`, the server's identity (`info`) in `_meta`, and
/// cacheable results a cache hint; older revisions get the result untouched (strict SDKs reject
/// extra keys in the empty `ping` result). A free function so that tool-call threads, which hold
/// the server but not the session, stamp their results the same way.
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
    let end = start.saturating_add(size.max(1)).min(items.len());
    let mut result = Map::new();
    result.insert(key.into(), Value::Array(items[start..end].to_vec()));
    if end < items.len() {
        result.insert("nextCursor".into(), Value::String(end.to_string()));
    }
    Ok(Value::Object(result))
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
    use crate::mcp::connection::{Client, Connection, Outgoing, run};
    use crate::mcp::server::{
        Limits, MAX_IN_FLIGHT, PromptArgument, PromptInfo, PromptReply, ServerInfo,
        ToolAnnotations, ToolInfo,
    };
    use std::sync::mpsc;
    use std::thread::JoinHandle;

    /// A service with tools that answer, fail, panic, wait for a signal, count per session,
    /// or block until cancelled.
    struct Fake {
        release: Mutex<Option<mpsc::Receiver<()>>>,
        tool_count: usize,
    }

    const TOOLS: [&str; 6] = ["echo", "fail", "panic", "wait", "count", "block"];

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
                    name: TOOLS[i % TOOLS.len()],
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
            cancel: &Cancel,
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
                // Returns only once the protocol layer cancels it: proves the handle arrives.
                "block" => {
                    assert!(cancel.wait_timeout(Duration::from_secs(60)));
                    Ok(ToolOutput {
                        text: "cancelled, answered anyway".into(),
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

    fn fake_server(tool_count: usize, limits: Limits) -> (Server<Fake>, mpsc::Sender<()>) {
        let (tx, rx) = mpsc::channel();
        let fake = Fake {
            release: Mutex::new(Some(rx)),
            tool_count,
        };
        (Server::with_limits(Arc::new(fake), limits), tx)
    }

    /// One session served over the in-memory transport by the protocol loop on a thread.
    struct Conn {
        server: Server<Fake>,
        session: Session<Fake>,
        client: Client,
        release: Option<mpsc::Sender<()>>,
        serving: Option<JoinHandle<()>>,
    }

    fn conn(tool_count: usize) -> Conn {
        conn_with(tool_count, Limits::default())
    }

    fn conn_with(tool_count: usize, limits: Limits) -> Conn {
        let (server, release) = fake_server(tool_count, limits);
        let mut c = serve(&server);
        c.release = Some(release);
        c
    }

    /// Another connection to `server`, with a session of its own.
    fn serve(server: &Server<Fake>) -> Conn {
        let session = server.session();
        let (connection, client) = Connection::memory();
        let looping = session.clone();
        let serving =
            std::thread::spawn(move || run(&looping, &connection.receiver, &connection.sender));
        Conn {
            server: server.clone(),
            session,
            client,
            release: None,
            serving: Some(serving),
        }
    }

    fn to_json(m: &Message) -> Value {
        serde_json::from_slice(&m.to_line()).unwrap()
    }

    impl Conn {
        fn send(&mut self, v: Value) {
            self.client.send_line(v.to_string());
        }
        fn recv(&self) -> Value {
            match self.client.recv_timeout(Duration::from_secs(10)) {
                Some(m) => to_json(&m),
                None => panic!("no response"),
            }
        }
        fn request(&mut self, id: i64, method: &str, params: Value) -> Value {
            self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
            let r = self.recv();
            assert_eq!(r["id"], json!(id), "{r}");
            r
        }
        fn request_str(&mut self, id: &str, method: &str, params: Value) -> Value {
            self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
            let r = self.recv();
            assert_eq!(r["id"], json!(id), "{r}");
            r
        }
        /// True when the server sent nothing beyond what was read: the loop handles messages
        /// in order and answers a ping at once, so everything sent before the ping has been
        /// handled once its answer is the next message.
        fn nothing_pending(&mut self) -> bool {
            self.send(json!({"jsonrpc": "2.0", "id": "sync", "method": "ping"}));
            let r = self.recv();
            r["id"] == json!("sync") && r["result"] == json!({})
        }
        fn cancel(&mut self, id: Value) {
            self.send(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": id}}));
        }
        fn call(&mut self, id: &str, tool: &str) {
            self.send(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool}}));
        }
        /// End the input and wait for the loop to return.
        fn close(&mut self) {
            self.client.close();
            if let Some(serving) = self.serving.take() {
                serving.join().unwrap();
            }
        }
    }

    #[test]
    fn responses_from_the_client_are_never_answered_whatever_their_id() {
        let mut c = conn(1);
        for response in [
            json!({"jsonrpc": "2.0", "id": null, "result": {}}),
            json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "x"}}),
            json!({"jsonrpc": "2.0", "id": 12345, "result": {}}),
            json!({"jsonrpc": "2.0", "id": "unknown", "error": {"code": 1, "message": "x"}}),
            json!({"jsonrpc": "2.0", "id": 1.5, "result": 1}),
            json!({"jsonrpc": "2.0", "result": 1}),
            json!({"jsonrpc": "2.0", "id": 3, "result": 1, "error": {}}),
        ] {
            c.send(response.clone());
            assert!(c.nothing_pending(), "{response} was answered");
        }
        // A request with a null id is still a request, answered with the error.
        c.send(json!({"jsonrpc": "2.0", "id": null, "method": "ping"}));
        assert_eq!(c.recv()["error"]["code"], json!(code::INVALID_REQUEST));
        c.close();
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
        assert_eq!(r["result"]["protocolVersion"], json!("2025-06-18"));
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
        assert_eq!(c.session.log_level(), Some("debug"));
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
        // A NUL in the name (std refuses it in a thread name) is the service's to judge too.
        let r = c.request(100, "tools/call", json!({"name": "gh\u{0}ost"}));
        assert_eq!(r["error"]["code"], json!(-32602), "{r}");
        assert_eq!(
            c.request(100, "tools/call", json!({"name": "echo"}))["result"]["isError"],
            json!(false)
        );
    }

    #[test]
    fn unreadable_and_unparsable_input_is_answered_with_a_null_id() {
        let mut c = conn(1);
        c.client.send_line("{not json");
        let r = c.recv();
        assert_eq!(
            (r["id"].clone(), r["error"]["code"].clone()),
            (json!(null), json!(-32700))
        );
        c.client.send_line("   ");
        c.client.send_line(b"\xff".to_vec());
        assert_eq!(c.recv()["error"]["code"], json!(-32700));
        let (reply, rx) = Reply::channel();
        c.session.refuse("too long: 99 bytes".into(), reply);
        let Ok(Outgoing::Message(m)) = rx.recv() else {
            panic!("no answer")
        };
        let r = to_json(&m);
        assert_eq!(r["id"], json!(null));
        assert_eq!(
            r["error"],
            json!({"code": -32600, "message": "too long: 99 bytes"})
        );
        assert!(c.nothing_pending(), "a blank line is not answered");
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
        c.call("slow", "wait");
        assert_eq!(c.request(2, "ping", json!({}))["result"], json!({}));
        // The same id cannot be reused while the call runs.
        let r = c.request_str("slow", "tools/call", json!({"name": "echo"}));
        assert_eq!(r["error"]["code"], json!(-32600));
        c.cancel(json!("slow"));
        assert!(c.nothing_pending());
        // Cancelled: nothing is pending any more, though the tool still runs.
        assert_eq!(c.session.drain(Duration::ZERO), 0);
        assert_eq!(c.session.wait_threads(Duration::ZERO), 1);
        c.release.take().unwrap().send(()).unwrap();
        assert_eq!(c.session.wait_threads(Duration::from_secs(10)), 0);
        assert!(c.nothing_pending(), "a cancelled call must not be answered");
    }

    #[test]
    fn drain_gives_up_after_its_timeout() {
        let mut c = conn(5);
        c.send(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "wait"}}),
        );
        assert!(c.nothing_pending());
        assert_eq!(c.session.drain(Duration::from_millis(20)), 1);
        c.release.take().unwrap().send(()).unwrap();
        assert_eq!(c.session.drain(Duration::from_secs(10)), 0);
        assert_eq!(c.recv()["result"]["content"][0]["text"], json!("waited"));
    }

    #[test]
    fn notifications_are_never_answered() {
        let mut c = conn(1);
        c.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        c.send(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 42}}));
        c.send(json!({"jsonrpc": "2.0", "method": "something/else", "params": 5}));
        c.client.send_line("   ");
        assert!(c.nothing_pending());
    }

    #[test]
    fn lists_paginate_with_an_opaque_cursor() {
        let mut c = conn_with(
            5,
            Limits {
                page_size: 2,
                ..Limits::default()
            },
        );
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

    // ---- cancellation frees the slot ---------------------------------------------------------

    /// Wait until at most `n` tool-call threads of `session` run.
    fn threads_down_to(session: &Session<Fake>, n: usize) {
        let threads = lock(&session.state.threads);
        let (threads, _) = session
            .state
            .threads_done
            .wait_timeout_while(threads, Duration::from_secs(10), |t| *t > n)
            .unwrap();
        assert_eq!(*threads, n);
    }

    #[test]
    fn a_cancelled_call_frees_its_slot_and_id_at_once_and_is_never_answered() {
        let mut c = conn_with(
            6,
            Limits {
                max_in_flight: 2,
                ..Limits::default()
            },
        );
        c.call("a", "wait");
        c.call("b", "block");
        let r = c.request_str("c", "tools/call", json!({"name": "block"}));
        assert_eq!(r["error"]["code"], json!(-32603));
        assert_eq!(
            r["error"]["message"],
            json!("server busy: 2 tool calls are already running")
        );
        assert_eq!(c.server.running(), 2);

        c.cancel(json!("a"));
        assert!(c.nothing_pending());
        // The slot is free while the cancelled tool still runs: the next call runs, and it
        // may reuse the cancelled id.
        assert_eq!(c.server.running(), 1);
        assert_eq!(c.session.wait_threads(Duration::ZERO), 2);
        let r = c.request_str(
            "a",
            "tools/call",
            json!({"name": "echo", "arguments": {"x": 1}}),
        );
        assert_eq!(r["result"]["content"][0]["text"], json!("{\"x\":1}"), "{r}");
        c.call("a", "block");
        assert!(c.nothing_pending());
        assert_eq!(c.server.running(), 2);

        // The cancelled call ends while a newer call holds its id: it answers neither.
        c.release.take().unwrap().send(()).unwrap();
        threads_down_to(&c.session, 2);
        assert!(c.nothing_pending(), "a cancelled call must not be answered");
        assert_eq!(c.session.drain(Duration::ZERO), 2);

        // The cancel handle reached the service: cancelled blocks return, and say nothing.
        c.cancel(json!("a"));
        c.cancel(json!("b"));
        assert!(c.nothing_pending());
        assert_eq!(c.server.running(), 0);
        assert_eq!(c.session.wait_threads(Duration::from_secs(10)), 0);
        assert!(c.nothing_pending(), "a cancelled call must not be answered");
    }

    #[test]
    fn cancel_all_ends_every_running_call_of_the_session() {
        let mut c = conn(6);
        for id in ["x", "y", "z"] {
            c.call(id, "block");
        }
        assert!(c.nothing_pending());
        assert_eq!(c.session.cancel_all(), 3);
        assert_eq!(c.session.drain(Duration::ZERO), 0);
        assert_eq!(c.session.wait_threads(Duration::from_secs(10)), 0);
        assert!(!c.session.cancel(&RequestId::from("x")));
        assert!(c.nothing_pending());
    }

    // ---- sessions, one server ------------------------------------------------------------------

    #[test]
    fn sessions_of_one_server_keep_their_own_state_and_share_the_cap() {
        let (server, _release) = fake_server(
            6,
            Limits {
                max_in_flight: 2,
                ..Limits::default()
            },
        );
        let mut one = serve(&server);
        let mut two = serve(&server);
        // Per-session: the service's state and the log level.
        for _ in 0..3 {
            one.request(1, "tools/call", json!({"name": "count"}));
        }
        let r = two.request(1, "tools/call", json!({"name": "count"}));
        assert_eq!(r["result"]["content"][0]["text"], json!("1"));
        one.request(2, "logging/setLevel", json!({"level": "error"}));
        assert_eq!(one.session.log_level(), Some("error"));
        assert_eq!(two.session.log_level(), None);
        // Per-session ids: both may run a call "same" at once.
        one.call("same", "block");
        two.call("same", "block");
        assert!(one.nothing_pending() && two.nothing_pending());
        // Process-wide: the cap counts both sessions' calls.
        let r = one.request_str("third", "tools/call", json!({"name": "block"}));
        assert_eq!(r["error"]["code"], json!(-32603), "{r}");
        // A session's cancel touches only its own call.
        two.cancel(json!("same"));
        assert!(two.nothing_pending());
        assert_eq!(server.running(), 1);
        assert_eq!(one.session.drain(Duration::ZERO), 1);
        assert_eq!(one.session.cancel_all(), 1);
        assert_eq!(one.session.wait_threads(Duration::from_secs(10)), 0);
        assert_eq!(two.session.wait_threads(Duration::from_secs(10)), 0);
        assert!(one.nothing_pending() && two.nothing_pending());
        one.close();
        two.close();
    }

    // ---- per-request replies -------------------------------------------------------------------

    fn parsed(line: Value) -> Message {
        Message::parse(line.to_string().as_bytes())
            .unwrap()
            .unwrap()
    }

    /// Everything that arrives on a per-request reply until it ends.
    fn collect(rx: &mpsc::Receiver<Outgoing>) -> Vec<Value> {
        let mut got = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(10)) {
                Ok(Outgoing::Message(m)) => got.push(to_json(&m)),
                Ok(Outgoing::Close) => panic!("a reply never carries Close"),
                Err(mpsc::RecvTimeoutError::Disconnected) => return got,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("the reply never ended: {got:?}"),
            }
        }
    }

    #[test]
    fn each_request_is_answered_on_its_own_reply() {
        // How a request transport (one exchange per HTTP POST) uses a session.
        let (server, release) = fake_server(6, Limits::default());
        let session = server.session();
        let call = |id: i64, tool: &str| {
            parsed(
                json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool}}),
            )
        };
        let (slow, slow_rx) = Reply::channel();
        session.handle(call(1, "wait"), slow);
        let (fast, fast_rx) = Reply::channel();
        session.handle(call(2, "echo"), fast);
        let fast = collect(&fast_rx);
        assert_eq!(fast.len(), 1, "{fast:?}");
        assert_eq!(fast[0]["id"], json!(2));
        assert!(
            slow_rx.try_recv().is_err(),
            "the slow call is still running"
        );
        release.send(()).unwrap();
        let slow = collect(&slow_rx);
        assert_eq!(slow.len(), 1, "{slow:?}");
        assert_eq!(slow[0]["result"]["content"][0]["text"], json!("waited"));

        // A notification is never answered: its reply ends empty, at once.
        let (reply, rx) = Reply::channel();
        session.handle(
            parsed(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})),
            reply,
        );
        assert!(collect(&rx).is_empty());

        // A cancelled call's reply ends at once, while the tool still runs.
        let (reply, rx) = Reply::channel();
        session.handle(call(3, "block"), reply);
        let (reply, cancel_rx) = Reply::channel();
        session.handle(
            parsed(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 3}})),
            reply,
        );
        assert!(collect(&cancel_rx).is_empty());
        assert!(collect(&rx).is_empty());
        assert_eq!(session.wait_threads(Duration::from_secs(10)), 0);
    }

    // ---- logging -------------------------------------------------------------------------------

    /// The messages a request brings, up to and including its response.
    fn exchange(c: &mut Conn, request: Value) -> Vec<Value> {
        let id = request["id"].clone();
        c.send(request);
        let mut got = Vec::new();
        loop {
            let m = c.recv();
            let done = m["id"] == id;
            got.push(m);
            if done {
                return got;
            }
        }
    }

    fn tool_call(id: i64, tool: &str, meta: Value) -> Value {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "_meta": meta}})
    }

    #[test]
    fn tool_calls_log_only_to_a_client_that_set_a_level() {
        let mut c = conn(6);
        // No level set: a failing call brings its answer and nothing else.
        let got = exchange(&mut c, tool_call(1, "fail", json!({})));
        assert_eq!(got.len(), 1, "{got:?}");

        c.request(2, "logging/setLevel", json!({"level": "warning"}));
        let got = exchange(&mut c, tool_call(3, "fail", json!({})));
        assert_eq!(got.len(), 2, "{got:?}");
        let log = &got[0];
        assert_eq!(log["method"], json!("notifications/message"));
        assert!(log.get("id").is_none());
        assert_eq!(log["params"]["level"], json!("warning"));
        assert_eq!(log["params"]["logger"], json!("tools/call"));
        assert_eq!(log["params"]["data"]["tool"], json!("fail"));
        assert!(log["params"]["data"]["durationMs"].is_u64());
        let message = log["params"]["data"]["message"].as_str().unwrap();
        assert!(message.starts_with("fail failed after "), "{message}");
        assert!(message.ends_with(" ms: it failed"), "{message}");
        assert_eq!(got[1]["result"]["isError"], json!(true));
        // Below the level: a successful call says nothing.
        assert_eq!(exchange(&mut c, tool_call(4, "echo", json!({}))).len(), 1);
        // A panic is an error.
        let got = exchange(&mut c, tool_call(5, "panic", json!({})));
        assert_eq!(got[0]["params"]["level"], json!("error"), "{got:?}");
        assert!(
            got[0]["params"]["data"]["message"]
                .as_str()
                .unwrap()
                .contains("tool blew up")
        );
        assert_eq!(got[1]["error"]["code"], json!(-32603));

        c.request(6, "logging/setLevel", json!({"level": "debug"}));
        let got = exchange(&mut c, tool_call(7, "echo", json!({})));
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0]["params"]["level"], json!("debug"));
        let message = got[0]["params"]["data"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("echo answered 2 bytes in "),
            "{message}"
        );

        // Raised above warning: a failure is no longer logged.
        c.request(8, "logging/setLevel", json!({"level": "critical"}));
        assert_eq!(exchange(&mut c, tool_call(9, "fail", json!({}))).len(), 1);
    }

    #[test]
    fn stateless_requests_log_only_when_their_meta_asks() {
        let mut c = conn(6);
        // A session level does not apply to 2026-07-28 requests; only their own _meta does.
        c.request(1, "logging/setLevel", json!({"level": "debug"}));
        let stateless = |level: Option<&str>| {
            let mut meta = json!({META_PROTOCOL_VERSION: STATELESS_VERSION});
            if let Some(level) = level {
                meta[META_LOG_LEVEL] = json!(level);
            }
            meta
        };
        assert_eq!(
            exchange(&mut c, tool_call(2, "fail", stateless(None))).len(),
            1
        );
        assert_eq!(
            exchange(&mut c, tool_call(3, "fail", stateless(Some("loud")))).len(),
            1
        );
        assert_eq!(
            exchange(&mut c, tool_call(4, "echo", stateless(Some("info")))).len(),
            1
        );
        let got = exchange(&mut c, tool_call(5, "fail", stateless(Some("info"))));
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0]["params"]["level"], json!("warning"));
        assert_eq!(got[1]["result"]["resultType"], json!("complete"));
    }

    #[test]
    fn a_long_failure_is_cut_in_the_log_but_whole_in_the_result() {
        let name = "x";
        let text = "é".repeat(LOG_TEXT_LIMIT);
        let output = ToolOutput {
            text: text.clone(),
            is_error: true,
        };
        let event = outcome_event(name, &output, Duration::from_millis(7));
        assert_eq!(event.level, Level::WARNING);
        let prefix = "x failed after 7 ms: ";
        assert!(event.message.starts_with(prefix));
        assert!(event.message.ends_with(" …"));
        assert_eq!(
            event.message.len(),
            prefix.len() + LOG_TEXT_LIMIT + " …".len()
        );
    }

    #[test]
    fn a_cancelled_call_logs_nothing() {
        let mut c = conn(6);
        c.request(1, "logging/setLevel", json!({"level": "debug"}));
        c.call("gone", "block");
        c.cancel(json!("gone"));
        assert_eq!(c.session.wait_threads(Duration::from_secs(10)), 0);
        assert!(c.nothing_pending());
    }

    #[test]
    fn the_cap_is_max_in_flight_by_default() {
        let (server, _release) = fake_server(1, Limits::default());
        let slots: Vec<_> = std::iter::from_fn(|| server.take_slot())
            .take(1000)
            .collect();
        assert_eq!(slots.len(), MAX_IN_FLIGHT);
        assert_eq!(server.running(), MAX_IN_FLIGHT);
        drop(slots);
        assert_eq!(server.running(), 0);
    }
}
