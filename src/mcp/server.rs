//! The process-wide half of the MCP server: the [`Service`] trait the tools layer implements,
//! the types it speaks in, and [`Server`], which holds the one service (`Arc<S>`), what is
//! computed once from it (server info, the tool and prompt lists) and the cap on tool calls
//! running at once across every connection. Each connection gets its own protocol state from
//! [`Server::session`]. Knows nothing of Kubernetes and never touches stdout.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Map, Value, json};

pub use super::cancel::Cancel;
use super::session::Session;

/// Revisions reached through the `initialize` handshake, oldest first.
pub const HANDSHAKE_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/// The stateless revision: no handshake, the version rides in each request's `_meta`.
pub const STATELESS_VERSION: &str = "2026-07-28";

/// Every revision we speak, newest first: what `server/discover` advertises and what a request
/// with an unsupported version is told.
pub fn supported_versions() -> Vec<&'static str> {
    let mut versions = vec![STATELESS_VERSION];
    versions.extend(HANDSHAKE_VERSIONS.iter().rev());
    versions
}

/// Whether `version` is one of [`supported_versions`].
pub fn is_supported(version: &str) -> bool {
    version == STATELESS_VERSION || HANDSHAKE_VERSIONS.contains(&version)
}

/// More concurrent tool calls than this are refused: each runs on its own thread, and a client
/// that floods us must not exhaust the process. Counted across every connection: the threads
/// are the process', whoever asked for them.
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

/// What the protocol needs from the tools layer. One value serves the whole process (every
/// connection shares it through an `Arc`); what belongs to one connection lives in its
/// [`Service::Session`].
pub trait Service: Send + Sync + 'static {
    /// Per-connection state (for example the cluster context chosen by a tool). Tool calls of
    /// one connection run concurrently, so it is shared by reference between their threads.
    type Session: Send + Sync + 'static;

    fn info(&self) -> ServerInfo;
    /// Server `instructions`: guidance an assistant may add to its system prompt.
    fn instructions(&self) -> &str;
    fn tools(&self) -> Vec<ToolInfo>;
    fn prompts(&self) -> Vec<PromptInfo>;
    /// The state of a new connection.
    fn new_session(&self) -> Self::Session;
    /// Run one tool. An unknown name is `InvalidParams`; a failing tool is
    /// `Ok(ToolOutput { is_error: true, .. })`. `cancel` is set when the client cancels the
    /// call or its session ends: its answer is then never sent, so work that watches the
    /// flag can stop early.
    fn call_tool(
        &self,
        session: &Self::Session,
        name: &str,
        args: &Map<String, Value>,
        cancel: &Cancel,
    ) -> Result<ToolOutput, InvalidParams>;
    fn get_prompt(
        &self,
        name: &str,
        args: &Map<String, Value>,
    ) -> Result<PromptReply, InvalidParams>;
}

/// Sizes the server keeps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Items per `tools/list` / `prompts/list` page. Default 100: one page for all our tools.
    pub page_size: usize,
    /// Tool calls running at once across every session; more are answered "server busy".
    /// Default [`MAX_IN_FLIGHT`].
    pub max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            page_size: 100,
            max_in_flight: MAX_IN_FLIGHT,
        }
    }
}

/// The server of one process: the service and what every connection shares. Cheap to clone
/// (one `Arc`); a transport keeps one and calls [`Server::session`] for each connection.
pub struct Server<S: Service> {
    shared: Arc<Shared<S>>,
}

struct Shared<S: Service> {
    service: Arc<S>,
    /// `serverInfo` as JSON, stamped into every 2026-07-28 result.
    info: Value,
    tools: Vec<Value>,
    prompts: Vec<Value>,
    limits: Limits,
    /// Tool calls holding a [`Slot`], across every session.
    running: Arc<AtomicUsize>,
}

impl<S: Service> Clone for Server<S> {
    fn clone(&self) -> Server<S> {
        Server {
            shared: self.shared.clone(),
        }
    }
}

impl<S: Service> Server<S> {
    pub fn new(service: Arc<S>) -> Server<S> {
        Server::with_limits(service, Limits::default())
    }

    pub fn with_limits(service: Arc<S>, limits: Limits) -> Server<S> {
        let info = service.info();
        let info = json!({"name": info.name, "title": info.title, "version": info.version});
        let tools = service.tools().iter().map(tool_json).collect();
        let prompts = service.prompts().iter().map(prompt_json).collect();
        Server {
            shared: Arc::new(Shared {
                service,
                info,
                tools,
                prompts,
                limits,
                running: Arc::new(AtomicUsize::new(0)),
            }),
        }
    }

    /// Protocol state for a new connection, with a fresh [`Service::Session`].
    pub fn session(&self) -> Session<S> {
        Session::new(self.clone(), self.shared.service.new_session())
    }

    pub fn service(&self) -> &Arc<S> {
        &self.shared.service
    }

    /// Tool calls counted against [`Limits::max_in_flight`] right now, across every session.
    /// A cancelled call no longer counts, even while its thread winds down.
    pub fn running(&self) -> usize {
        self.shared.running.load(Ordering::SeqCst)
    }

    pub(super) fn info_json(&self) -> &Value {
        &self.shared.info
    }

    pub(super) fn tools_json(&self) -> &[Value] {
        &self.shared.tools
    }

    pub(super) fn prompts_json(&self) -> &[Value] {
        &self.shared.prompts
    }

    pub(super) fn limits(&self) -> Limits {
        self.shared.limits
    }

    /// What `initialize` and `server/discover` advertise.
    pub(super) fn capabilities(&self) -> Value {
        // listChanged is false: the lists are fixed for the life of the process. `logging`:
        // tool calls report their outcome as `notifications/message` to a client that asks
        // for it (see session.rs, "Logging").
        let mut caps = json!({"logging": {}, "tools": {"listChanged": false}});
        if !self.shared.prompts.is_empty() {
            caps["prompts"] = json!({"listChanged": false});
        }
        caps
    }

    /// A place among the running tool calls, or `None` when all are taken.
    pub(super) fn take_slot(&self) -> Option<Slot> {
        let max = self.shared.limits.max_in_flight;
        let running = &self.shared.running;
        running
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(running.clone()))
    }
}

/// One running tool call's place under [`Limits::max_in_flight`]; given back when dropped,
/// which happens when the call is answered or cancelled, whichever comes first.
#[derive(Debug)]
pub(super) struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
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
