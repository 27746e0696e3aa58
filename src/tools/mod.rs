//! The tool registry: one file per tool (file stem == tool name) plus one line in [`REGISTRY`].
//! The only layer that sees both MCP and Kubernetes.
//!
//! A tool file exports `pub const TOOL: Tool` and a `call` function; it returns the text the
//! agent reads (usually YAML) or a [`ToolError`] whose message the agent can act on.

use std::cell::RefCell;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::kube;
use crate::mcp::message::json_type;
use crate::mcp::server::{
    Cancel, InvalidParams, PromptInfo, PromptReply, ServerInfo, Service, ToolAnnotations, ToolInfo,
    ToolOutput,
};
use call_log::{CallLog, Ending, Outcome};
pub use cluster::{Cluster, Clusters, Served};

pub mod call_log;
pub mod capture;
pub mod cluster;
#[cfg(feature = "mutations")]
mod diff;
pub mod flux;
mod grep;
#[cfg(feature = "mutations")]
mod manifest;
pub mod objects;
mod pods;
pub mod prompts;
#[cfg(feature = "mutations")]
mod reconcile;
#[cfg(feature = "mutations")]
pub mod writes;

/// Every tool, in the order `tools/list` shows them (sorted by name; a test checks).
///
/// A tool that sends anything but GET ([`Access::Write`], and [`Access::DryRun`]) is compiled
/// only into the `mutations` build: its entry here and its `mod` line below both carry
/// `#[cfg(feature = "mutations")]`, so the read-only build (`--no-default-features`) holds no
/// code of it (a test checks the registry of that build; clippy's dead-code lint catches a
/// module left in without its entry).
pub const REGISTRY: &[Tool] = &[
    #[cfg(feature = "mutations")]
    apply_kubernetes_manifest::TOOL,
    #[cfg(feature = "mutations")]
    delete_kubernetes_resource::TOOL,
    #[cfg(feature = "mutations")]
    diff_kubernetes_manifest::TOOL,
    get_flux_instance::TOOL,
    get_kubeconfig_contexts::TOOL,
    get_kubernetes_api_versions::TOOL,
    get_kubernetes_events::TOOL,
    get_kubernetes_logs::TOOL,
    get_kubernetes_metrics::TOOL,
    get_kubernetes_resources::TOOL,
    #[cfg(feature = "mutations")]
    patch_kubernetes_resource::TOOL,
    read_flux_doc::TOOL,
    #[cfg(feature = "mutations")]
    reconcile_flux_resource::TOOL,
    #[cfg(feature = "mutations")]
    resume_flux_reconciliation::TOOL,
    search_flux_docs::TOOL,
    set_kubeconfig_context::TOOL,
    #[cfg(feature = "mutations")]
    suspend_flux_reconciliation::TOOL,
    trace_kubernetes_resource::TOOL,
];
#[cfg(feature = "mutations")]
mod apply_kubernetes_manifest;
#[cfg(feature = "mutations")]
mod delete_kubernetes_resource;
#[cfg(feature = "mutations")]
mod diff_kubernetes_manifest;
mod get_flux_instance;
mod get_kubeconfig_contexts;
mod get_kubernetes_api_versions;
mod get_kubernetes_events;
mod get_kubernetes_logs;
mod get_kubernetes_metrics;
mod get_kubernetes_resources;
#[cfg(feature = "mutations")]
mod patch_kubernetes_resource;
mod read_flux_doc;
#[cfg(feature = "mutations")]
mod reconcile_flux_resource;
#[cfg(feature = "mutations")]
mod resume_flux_reconciliation;
mod search_flux_docs;
mod set_kubeconfig_context;
#[cfg(feature = "mutations")]
mod suspend_flux_reconciliation;
mod trace_kubernetes_resource;

/// A tool's static description and entry point: what `tools/list` shows and what decides
/// which builds and modes offer it, side by side in the tool's own file.
pub struct Tool {
    /// snake_case, equal to the file stem.
    pub name: &'static str,
    /// Human title (MCP 2025-06-18 `title`).
    pub title: &'static str,
    /// What the agent reads to decide when to call it.
    pub description: &'static str,
    /// JSON Schema of the arguments: `type: object` with `properties` and `required`.
    pub input_schema: fn() -> Value,
    /// The MCP hints (readOnlyHint, destructiveHint, idempotentHint, openWorldHint), written
    /// out per tool because they differ between write tools (a reconcile is idempotent and not
    /// destructive, a delete is destructive). A client decides from them whether to ask the user
    /// first. A registry test keeps them consistent with `access`.
    pub annotations: ToolAnnotations,
    /// Whether the tool changes a cluster; decides which builds and modes offer it.
    pub access: Access,
    /// Offered when the server runs inside a cluster; the kubeconfig-context tools are not (a pod
    /// has its service account, not a kubeconfig), as upstream does.
    pub in_cluster: bool,
    pub call: fn(&Ctx, &Args) -> Result<String, ToolError>,
}

/// What a tool does to a cluster and which requests that takes: with the build and the
/// [`Mode`], whether it is offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Only reads, with GET requests: offered by every build, in every mode.
    Read,
    /// Changes nothing, but asks the API server to work out a write without making it
    /// (`dryRun=All`, which is a PATCH on the wire): offered under `--read-only`, since the
    /// cluster stays as it was; compiled only into the `mutations` build, since the read-only
    /// build sends nothing but GET; not offered from a snapshot, which has no API server to
    /// work anything out.
    DryRun,
    /// Changes a cluster: only in the `mutations` build (see [`REGISTRY`]), hidden by
    /// `--read-only`, and offered only against a live cluster (a snapshot cannot be changed).
    Write,
}

impl Access {
    /// Whether the tool sends anything but GET (and so exists only in the `mutations` build).
    pub fn sends_writes(self) -> bool {
        !matches!(self, Access::Read)
    }
}

/// Where the server runs and what its cluster tools read: with [`Settings`], it decides which
/// tools this process offers. The default is a workstation against a live cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mode {
    /// Inside a pod (`KUBERNETES_SERVICE_HOST` is set): the kubeconfig tools are hidden.
    pub in_cluster: bool,
    pub source: Source,
}

/// What the cluster tools read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Source {
    /// A live API server.
    #[default]
    Live,
    /// A saved cluster snapshot (`serve --snapshot`): only tools that read are offered.
    Snapshot,
}

impl Tool {
    /// Why this process does not offer the tool, in the words a caller is told; `None` when it
    /// is offered. Each rule of the `Access` and `in_cluster` docs is one line here.
    fn withheld(&self, settings: &Settings, mode: Mode) -> Option<&'static str> {
        let writes = self.access == Access::Write;
        let listed = |names: &[String]| names.iter().any(|n| n == self.name);
        if writes && settings.read_only {
            Some("the server runs with --read-only")
        } else if writes && mode.source == Source::Snapshot {
            Some("the server answers from a snapshot, which cannot be changed")
        } else if self.access == Access::DryRun && mode.source == Source::Snapshot {
            Some("the server answers from a snapshot, which cannot run a server-side dry run")
        } else if mode.in_cluster && !self.in_cluster {
            Some("the server runs inside a cluster")
        } else if settings
            .enabled_tools
            .as_deref()
            .is_some_and(|n| !listed(n))
        {
            Some("the server runs with --tools, which does not name it")
        } else if listed(&settings.disabled_tools) {
            Some("the server runs with --disable-tools, which names it")
        } else {
            None
        }
    }
}

/// Server-wide settings from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--read-only`: hide the tools that change a cluster. Default false, and true in the
    /// read-only build, which has no such tool and refuses `--read-only=false`.
    pub read_only: bool,
    /// `--tools`: offer only these (registry names, checked when the flags are read); `None`
    /// offers every tool the other settings allow.
    pub enabled_tools: Option<Vec<String>>,
    /// `--disable-tools`: never offer these.
    pub disabled_tools: Vec<String>,
    /// `--mask-secrets` (default true).
    pub mask_secrets: bool,
    /// `--timeout`: per Kubernetes call.
    pub timeout: Duration,
    /// `--tool-call-log-file`
    pub tool_call_log_file: Option<PathBuf>,
    /// `--docs-dir` (repeatable): extra markdown indexed with the embedded corpus.
    pub docs_dirs: Vec<PathBuf>,
    /// `--kubeconfig`, `--kube-*`, `-n`.
    pub kube: kube::config::Overrides,
    /// `--snapshot` (repeatable): serve these snapshot files instead of the kubeconfig's
    /// clusters (the command line loads them and builds the toolbox with
    /// [`Toolbox::from_snapshots`]).
    pub snapshots: Vec<PathBuf>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            read_only: !cfg!(feature = "mutations"),
            enabled_tools: None,
            disabled_tools: Vec::new(),
            mask_secrets: true,
            timeout: Duration::from_secs(60),
            tool_call_log_file: None,
            docs_dirs: Vec::new(),
            kube: kube::config::Overrides::default(),
            snapshots: Vec::new(),
        }
    }
}

/// Per-MCP-session state: the context chosen with `set_kubeconfig_context`. Never written to disk.
#[derive(Debug, Default)]
pub struct Session {
    pub context: Mutex<Option<String>>,
}

/// What a tool call can reach.
pub struct Ctx<'a> {
    pub settings: &'a Settings,
    pub session: &'a Session,
    /// The kubeconfig and per-context clients; reach a cluster with [`Ctx::cluster`].
    pub clusters: &'a Clusters,
    /// Set when the client cancelled the call: the cluster calls of [`Ctx::cluster`] end at
    /// once, and a tool's own waits use [`Cancel::wait_timeout`] instead of sleeping.
    pub cancel: &'a Cancel,
}

/// A tool failure: becomes an `isError: true` result, never a JSON-RPC error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolError {
    /// The arguments are wrong: say which and what would be right.
    InvalidArgument(String),
    /// The call was well-formed but failed (cluster error, not found, ...).
    Failed(String),
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToolError::InvalidArgument(m) | ToolError::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ToolError {}

/// Tool arguments with lenient parsing: clients such as MCP Inspector send every value as a
/// string, so `"5"` is a number and `"true"` a boolean.
pub struct Args<'a>(pub &'a Map<String, Value>);

impl<'a> Args<'a> {
    /// A required, non-empty string.
    pub fn str(&self, name: &str) -> Result<&'a str, ToolError> {
        match self.opt_str(name)? {
            Some(s) => Ok(s),
            None => Err(ToolError::InvalidArgument(format!("{name} is required"))),
        }
    }

    /// An optional string; empty counts as absent.
    pub fn opt_str(&self, name: &str) -> Result<Option<&'a str>, ToolError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(ToolError::InvalidArgument(format!(
                "{name} must be a string, got {}",
                json_type(other)
            ))),
        }
    }

    /// An optional non-negative integer: `5`, `5.0` and `"5"` all read as 5.
    pub fn opt_u64(&self, name: &str) -> Result<Option<u64>, ToolError> {
        let bad = |v: &Value| {
            ToolError::InvalidArgument(format!("{name} must be a non-negative integer, got {v}"))
        };
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(v @ Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
                (Some(u), _) => Ok(Some(u)),
                (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64 => {
                    Ok(Some(f as u64))
                }
                _ => Err(bad(v)),
            },
            Some(v @ Value::String(s)) => s.trim().parse::<u64>().map(Some).map_err(|_| bad(v)),
            Some(v) => Err(bad(v)),
        }
    }

    /// An optional boolean: `true` and `"true"` (any case) read as true.
    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, ToolError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(v @ Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(ToolError::InvalidArgument(format!(
                    "{name} must be true or false, got {v}"
                ))),
            },
            Some(v) => Err(ToolError::InvalidArgument(format!(
                "{name} must be true or false, got {v}"
            ))),
        }
    }

    /// An optional Go duration such as `30m`, `1h` or `2h30m` (a `since`); zero is refused.
    pub fn opt_duration(&self, name: &str) -> Result<Option<Duration>, ToolError> {
        let Some(text) = self.opt_str(name)?.map(str::trim) else {
            return Ok(None);
        };
        match crate::text::parse_duration(text) {
            Ok(d) if !d.is_zero() => Ok(Some(d)),
            Ok(_) => Err(ToolError::InvalidArgument(format!(
                "{name} must be longer than 0, e.g. 30m or 1h"
            ))),
            Err(reason) if reason.contains("examples") => Err(ToolError::InvalidArgument(format!(
                "{name} {text:?} is not a Go duration: {reason}"
            ))),
            Err(reason) => Err(ToolError::InvalidArgument(format!(
                "{name} {text:?} is not a Go duration: {reason} (examples: 30m, 1h, 2h30m)"
            ))),
        }
    }

    /// An optional list of strings: a JSON array, a JSON array sent as a string (some clients
    /// stringify array arguments), or one string split on commas.
    pub fn opt_str_list(&self, name: &str) -> Result<Vec<String>, ToolError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) => {
                if s.trim_start().starts_with('[')
                    && let Ok(list) = serde_json::from_str::<Vec<String>>(s)
                {
                    return Ok(list);
                }
                Ok(s.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(String::from)
                    .collect())
            }
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s.trim().to_string()),
                    other => Err(ToolError::InvalidArgument(format!(
                        "{name} must be a list of strings, found {}",
                        json_type(other)
                    ))),
                })
                .filter(|r| !matches!(r, Ok(s) if s.is_empty()))
                .collect(),
            Some(other) => Err(ToolError::InvalidArgument(format!(
                "{name} must be a list of strings, got {}",
                json_type(other)
            ))),
        }
    }
}

/// The first line of the server `instructions` (initialize and server/discover).
const INSTRUCTIONS_HEAD: &str = "Inspect Kubernetes clusters that run Flux.";

/// The shortest path through an investigation, one step per tool, in order: trace the broken
/// object, read its events and logs, look its message up in the docs. A step is sent when its
/// tool is offered. Adding a tool to the path is one row here.
const INVESTIGATION: &[(&str, &str)] = &[
    (
        "trace_kubernetes_resource",
        "trace_kubernetes_resource first (it names the first failure up the delivery chain, \
         message verbatim)",
    ),
    ("get_kubernetes_events", "get_kubernetes_events"),
    (
        "get_kubernetes_logs",
        "get_kubernetes_logs (a pod, a workload or a Flux object; grep and since narrow it)",
    ),
    (
        "search_flux_docs",
        "search_flux_docs for what the message means",
    ),
    ("read_flux_doc", "read_flux_doc the section a hit names"),
];

/// One line of guidance per tool beyond the investigation path, in the order sent, each only
/// when its tool is offered (so the instructions name only tools this process has). Adding a
/// tool's guidance is one row here.
const GUIDANCE: &[(&str, &str)] = &[
    (
        "get_flux_instance",
        "The overall picture (Flux version, controllers, health): get_flux_instance.",
    ),
    (
        "get_kubernetes_resources",
        "Read any object with get_kubernetes_resources; pass fields to get only the parts \
         you need.",
    ),
    (
        "get_kubernetes_api_versions",
        "Call get_kubernetes_api_versions rather than guessing an apiVersion.",
    ),
    (
        "get_kubeconfig_contexts",
        "To look at another cluster, pass one of the contexts get_kubeconfig_contexts lists \
         as the context argument.",
    ),
    // The write tools' rows exist only in the build that has them: the read-only binary holds
    // no write tool's name.
    #[cfg(feature = "mutations")]
    (
        "diff_kubernetes_manifest",
        "Before changing anything, diff_kubernetes_manifest shows what applying a manifest \
         would change.",
    ),
    #[cfg(feature = "mutations")]
    (
        "reconcile_flux_resource",
        "After a fix, reconcile_flux_resource makes Flux act now and reports the outcome in \
         one call.",
    ),
    #[cfg(feature = "mutations")]
    (
        "apply_kubernetes_manifest",
        "Change what Flux manages in its source (Git), not with apply_kubernetes_manifest: \
         its controller reverts a direct change.",
    ),
];

/// The server instructions for the tools `offered`: short on purpose, every token of them is
/// in every conversation.
fn instructions(offered: &[&str]) -> String {
    let has = |tool: &str| offered.contains(&tool);
    let mut out = String::from(INSTRUCTIONS_HEAD);
    let steps: Vec<&str> = INVESTIGATION
        .iter()
        .filter(|(tool, _)| has(tool))
        .map(|(_, step)| *step)
        .collect();
    if !steps.is_empty() {
        out.push_str("\n- A workload or Flux object is broken: ");
        out.push_str(&steps.join(", then "));
        out.push('.');
    }
    for (_, line) in GUIDANCE.iter().filter(|(tool, _)| has(tool)) {
        out.push_str("\n- ");
        out.push_str(line);
    }
    out
}

/// The tools this process offers, with the MCP glue: argument checks, the call log, and the
/// [`Service`] implementation the protocol layer drives.
pub struct Toolbox {
    settings: Settings,
    clusters: Clusters,
    /// Offered tools with their input schemas, built once.
    offered: Vec<(&'static Tool, Value)>,
    /// Registry tools left out, with the reason a caller is told.
    hidden: Vec<(&'static str, &'static str)>,
    /// The server instructions, for the offered tools.
    instructions: String,
    log: Option<CallLog>,
}

impl Toolbox {
    /// Offer the [`REGISTRY`] of this build as `settings` and `mode` allow (see
    /// [`Tool::withheld`]).
    pub fn new(settings: Settings, mode: Mode) -> Toolbox {
        Toolbox::from_registry(REGISTRY, settings, mode)
    }

    /// A toolbox whose cluster tools answer from snapshots (`serve --snapshot`), each a
    /// context named after the one it was captured through; tools that write are not offered.
    /// Answers read from a snapshot start with its provenance line ([`Served::provenance`]).
    pub fn from_snapshots(
        settings: Settings,
        snapshots: Vec<(PathBuf, crate::snapshot::Snapshot)>,
    ) -> Toolbox {
        let clusters = Clusters::from_snapshots(&settings, snapshots);
        let mode = Mode {
            in_cluster: false,
            source: Source::Snapshot,
        };
        Toolbox::assemble(REGISTRY, settings, mode, clusters)
    }

    fn from_registry(registry: &'static [Tool], settings: Settings, mode: Mode) -> Toolbox {
        let clusters = Clusters::new(&settings, kube::config::Env::from_process());
        Toolbox::assemble(registry, settings, mode, clusters)
    }

    fn assemble(
        registry: &'static [Tool],
        settings: Settings,
        mode: Mode,
        clusters: Clusters,
    ) -> Toolbox {
        let mut offered = Vec::new();
        let mut hidden = Vec::new();
        for tool in registry {
            match tool.withheld(&settings, mode) {
                Some(why) => hidden.push((tool.name, why)),
                None => offered.push((tool, (tool.input_schema)())),
            }
        }
        let log = settings.tool_call_log_file.clone().map(CallLog::new);
        let names: Vec<&str> = offered.iter().map(|(t, _)| t.name).collect();
        Toolbox {
            clusters,
            instructions: instructions(&names),
            settings,
            offered,
            hidden,
            log,
        }
    }

    /// Names of the offered tools, in `tools/list` order.
    pub fn tool_names(&self) -> Vec<&'static str> {
        self.offered.iter().map(|(t, _)| t.name).collect()
    }

    fn run(
        &self,
        session: &Session,
        name: &str,
        args: &Map<String, Value>,
        cancel: &Cancel,
    ) -> Result<(ToolOutput, Outcome), InvalidParams> {
        let Some((tool, schema)) = self.offered.iter().find(|(t, _)| t.name == name) else {
            if let Some((_, why)) = self.hidden.iter().find(|(n, _)| *n == name) {
                return Err(InvalidParams(format!(
                    "tool {name} is not available: {why}"
                )));
            }
            // The name comes from the client: echo enough to recognise it, not a megabyte.
            let name = truncate(name, 80);
            let names = self.tool_names();
            return Err(InvalidParams(if names.is_empty() {
                format!("unknown tool {name:?}: this server offers no tools")
            } else {
                format!(
                    "unknown tool {name:?}; available tools: {}",
                    names.join(", ")
                )
            }));
        };
        if let Err(message) = check_arguments(tool.name, schema, args) {
            let out = ToolOutput {
                text: message,
                is_error: true,
            };
            return Ok((out, Outcome::InvalidArgument));
        }
        let ctx = Ctx {
            settings: &self.settings,
            session,
            clusters: &self.clusters,
            cancel,
        };
        // Nothing left over from a call that panicked on this thread.
        cluster::take_snapshots_read();
        let result = (tool.call)(&ctx, &Args(args));
        let outcome = match &result {
            Ok(_) => Outcome::Ok,
            Err(ToolError::InvalidArgument(_)) => Outcome::InvalidArgument,
            Err(ToolError::Failed(_)) => Outcome::Failed,
        };
        let (mut text, is_error) = match result {
            Ok(text) => (text, false),
            Err(e) => (e.to_string(), true),
        };
        let read = cluster::take_snapshots_read();
        if !read.is_empty() {
            let mut lines: Vec<String> = read.iter().map(|s| s.provenance()).collect();
            lines.push(text);
            text = lines.join("\n");
        }
        Ok((ToolOutput { text, is_error }, outcome))
    }
}

/// Refuse arguments the schema does not declare (a hallucinated `namespace_name`) and required
/// ones that are missing, naming them, so the model can correct the call.
fn check_arguments(tool: &str, schema: &Value, args: &Map<String, Value>) -> Result<(), String> {
    let properties = schema.get("properties").and_then(Value::as_object);
    let valid: Vec<&str> = properties
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let listing = || {
        if valid.is_empty() {
            "it takes no arguments".to_string()
        } else {
            format!("valid arguments: {}", valid.join(", "))
        }
    };
    let mut unknown: Vec<&str> = args
        .keys()
        .map(String::as_str)
        .filter(|k| !valid.contains(k))
        .collect();
    unknown.sort_unstable();
    if !unknown.is_empty() {
        let s = if unknown.len() == 1 { "" } else { "s" };
        return Err(format!(
            "{tool}: unknown argument{s} {}; {}",
            unknown.join(", "),
            listing()
        ));
    }
    let required = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect::<Vec<_>>())
        .unwrap_or_default();
    let missing: Vec<&str> = required
        .into_iter()
        .filter(|r| matches!(args.get(*r), None | Some(Value::Null)))
        .collect();
    if !missing.is_empty() {
        let s = if missing.len() == 1 { "" } else { "s" };
        return Err(format!(
            "{tool}: missing required argument{s} {}",
            missing.join(", ")
        ));
    }
    Ok(())
}

impl Service for Toolbox {
    type Session = Session;

    fn info(&self) -> ServerInfo {
        ServerInfo {
            name: "flux-operator-mcp",
            title: "Flux Operator MCP",
            version: crate::VERSION,
        }
    }

    fn instructions(&self) -> &str {
        &self.instructions
    }

    fn tools(&self) -> Vec<ToolInfo> {
        self.offered
            .iter()
            .map(|(t, schema)| ToolInfo {
                name: t.name,
                title: t.title,
                description: t.description,
                input_schema: schema.clone(),
                annotations: t.annotations,
            })
            .collect()
    }

    fn prompts(&self) -> Vec<PromptInfo> {
        prompts::PROMPTS.to_vec()
    }

    fn new_session(&self) -> Session {
        Session::default()
    }

    fn call_tool(
        &self,
        session: &Session,
        name: &str,
        args: &Map<String, Value>,
        cancel: &Cancel,
    ) -> Result<ToolOutput, InvalidParams> {
        let started = Instant::now();
        WRITES.with(|w| w.borrow_mut().clear());
        let outcome = catch_unwind(AssertUnwindSafe(|| self.run(session, name, args, cancel)));
        let writes = WRITES.with(|w| std::mem::take(&mut *w.borrow_mut()));
        if let Some(log) = &self.log {
            let (outcome, result_bytes) = match &outcome {
                _ if cancel.is_cancelled() => (Outcome::Cancelled, 0),
                Ok(Ok((out, outcome))) => (*outcome, out.text.len()),
                Ok(Err(InvalidParams(_))) => (Outcome::InvalidParams, 0),
                Err(_) => (Outcome::Panicked, 0),
            };
            let ending = Ending {
                outcome,
                result_bytes,
                duration: started.elapsed(),
                writes,
            };
            log.record(name, args, &ending);
        }
        match outcome {
            Ok(result) => result.map(|(out, _)| out),
            // The protocol layer answers -32603 and keeps serving.
            Err(panic) => resume_unwind(panic),
        }
    }

    fn get_prompt(
        &self,
        name: &str,
        args: &Map<String, Value>,
    ) -> Result<PromptReply, InvalidParams> {
        prompts::get(name, args)
    }
}

/// One change a write tool made (or, with `dry_run`, checked), for the call log: the object
/// as `Kind/namespace/name` and what became of it in a few words (`configured`, `deleted
/// (dry run)`, `reconcile requested: Ready=True`). Never a value: no field of the object, no
/// line of the manifest or patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteRecord {
    pub target: String,
    pub outcome: String,
}

thread_local! {
    /// The writes of the tool call running on this thread. A call runs on one thread from its
    /// start to its answer (`call_tool` clears this before and takes it after), so what a tool
    /// records here is its own call's.
    static WRITES: RefCell<Vec<WriteRecord>> = const { RefCell::new(Vec::new()) };
}

/// Records a write of the current tool call for the call log (`--tool-call-log-file`). Call
/// it from the tool call's own thread.
pub fn record_write(target: impl Into<String>, outcome: impl Into<String>) {
    let record = WriteRecord {
        target: target.into(),
        outcome: outcome.into(),
    };
    WRITES.with(|w| w.borrow_mut().push(record));
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let end = crate::text::floor_char_boundary(s, max);
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn numbers_and_booleans_parse_leniently() {
        let m = args(json!({"a": 5, "b": "7", "c": 3.0, "d": "true", "e": false, "f": "FALSE"}));
        let a = Args(&m);
        assert_eq!(a.opt_u64("a"), Ok(Some(5)));
        assert_eq!(a.opt_u64("b"), Ok(Some(7)));
        assert_eq!(a.opt_u64("c"), Ok(Some(3)));
        assert_eq!(a.opt_u64("missing"), Ok(None));
        assert_eq!(a.opt_bool("d"), Ok(Some(true)));
        assert_eq!(a.opt_bool("e"), Ok(Some(false)));
        assert_eq!(a.opt_bool("f"), Ok(Some(false)));
    }

    #[test]
    fn durations_are_go_durations_above_zero() {
        let m = args(json!({"a": "1h30m", "b": "0", "c": "an hour", "d": "5x", "e": " "}));
        let a = Args(&m);
        assert_eq!(a.opt_duration("a"), Ok(Some(Duration::from_secs(5400))));
        assert_eq!(a.opt_duration("e"), Ok(None));
        assert_eq!(a.opt_duration("missing"), Ok(None));
        assert_eq!(
            a.opt_duration("b").unwrap_err().to_string(),
            "b must be longer than 0, e.g. 30m or 1h"
        );
        assert_eq!(
            a.opt_duration("c").unwrap_err().to_string(),
            "c \"an hour\" is not a Go duration: expected a number at \"an hour\" (examples: 30s, 1m, 1m30s)"
        );
        assert_eq!(
            a.opt_duration("d").unwrap_err().to_string(),
            "d \"5x\" is not a Go duration: unknown unit \"x\" (ns, us, ms, s, m, h) (examples: 30m, 1h, 2h30m)"
        );
    }

    #[test]
    fn bad_values_name_the_argument() {
        let m = args(json!({"limit": -1, "n": "five", "flag": "yes", "name": 3}));
        let a = Args(&m);
        assert!(
            a.opt_u64("limit")
                .unwrap_err()
                .to_string()
                .contains("limit")
        );
        assert!(a.opt_u64("n").unwrap_err().to_string().contains("\"five\""));
        assert!(a.opt_bool("flag").unwrap_err().to_string().contains("flag"));
        assert_eq!(
            a.str("name").unwrap_err().to_string(),
            "name must be a string, got a number"
        );
        assert_eq!(a.str("other").unwrap_err().to_string(), "other is required");
    }

    #[test]
    fn string_lists_accept_arrays_and_commas() {
        let m = args(json!({"a": ["x", " y ", ""], "b": "p, q,,r"}));
        let a = Args(&m);
        assert_eq!(a.opt_str_list("a").unwrap(), vec!["x", "y"]);
        assert_eq!(a.opt_str_list("b").unwrap(), vec!["p", "q", "r"]);
    }

    #[test]
    fn string_lists_accept_an_array_sent_as_a_string() {
        let m = args(json!({"a": "[\"x.y\", \"z\"]", "b": " [\"p\"]", "c": "[p, q"}));
        let a = Args(&m);
        assert_eq!(a.opt_str_list("a").unwrap(), vec!["x.y", "z"]);
        assert_eq!(a.opt_str_list("b").unwrap(), vec!["p"]);
        // Not a JSON array after all: split on commas like any other string.
        assert_eq!(a.opt_str_list("c").unwrap(), vec!["[p", "q"]);
    }

    // ---- registry invariants -------------------------------------------------------------

    /// Everything that can be wrong with one registry entry, as readable sentences.
    fn problems(tool: &Tool) -> Vec<String> {
        let mut out = Vec::new();
        let n = tool.name;
        let snake = !n.is_empty()
            && n.starts_with(|c: char| c.is_ascii_lowercase())
            && n.split('_').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            });
        if !snake {
            out.push(format!("{n:?} is not snake_case"));
        }
        if tool.title.trim().is_empty() {
            out.push(format!("{n}: empty title"));
        }
        if tool.description.trim().is_empty() {
            out.push(format!("{n}: empty description"));
        }
        // The hints a client trusts must not contradict what decides where the tool is
        // offered: a writer that claims to be read-only would skip the user's confirmation.
        let a = tool.annotations;
        match tool.access {
            Access::Read | Access::DryRun if !(a.read_only && !a.destructive && a.idempotent) => {
                out.push(format!(
                    "{n}: reads only, so readOnlyHint true, destructiveHint false, \
                     idempotentHint true"
                ))
            }
            Access::Write if a.read_only => {
                out.push(format!("{n}: writes, but its readOnlyHint is true"))
            }
            _ => {}
        }
        let schema = (tool.input_schema)();
        if schema.get("type") != Some(&json!("object")) {
            out.push(format!("{n}: schema type is not object"));
        }
        let Some(props) = schema.get("properties").and_then(Value::as_object) else {
            out.push(format!("{n}: schema has no properties object"));
            return out;
        };
        match schema.get("required").and_then(Value::as_array) {
            None => out.push(format!("{n}: schema has no required list")),
            Some(req) => {
                for r in req {
                    match r.as_str() {
                        Some(r) if props.contains_key(r) => {}
                        _ => out.push(format!("{n}: required {r} is not a property")),
                    }
                }
            }
        }
        for (p, spec) in props {
            let ty = spec.get("type").and_then(Value::as_str).unwrap_or("");
            if ty.is_empty() {
                out.push(format!("{n}.{p}: no type"));
            }
            // Counts are integers: `number` lets a model send 2.5 lines (upstream's mistake).
            if ty == "number" {
                out.push(format!("{n}.{p}: type number; use integer"));
            }
            let count = p == "limit" || p.starts_with("max_") || p.ends_with("_lines");
            if count && ty != "integer" {
                out.push(format!("{n}.{p}: a count must be an integer"));
            }
            let described = spec
                .get("description")
                .and_then(Value::as_str)
                .is_some_and(|d| !d.trim().is_empty());
            if !described {
                out.push(format!("{n}.{p}: no description"));
            }
        }
        out
    }

    #[test]
    fn every_registered_tool_is_well_formed() {
        let all: Vec<String> = REGISTRY.iter().flat_map(problems).collect();
        assert!(all.is_empty(), "{all:#?}");
    }

    #[test]
    fn registry_names_are_unique_sorted_and_file_stems() {
        let names: Vec<&str> = REGISTRY.iter().map(|t| t.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            names, sorted,
            "REGISTRY must be sorted by name, without duplicates"
        );
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tools");
        for n in names {
            assert!(
                dir.join(format!("{n}.rs")).is_file(),
                "tool {n} must live in src/tools/{n}.rs"
            );
        }
    }

    fn schema_ok() -> Value {
        json!({"type": "object", "properties": {
            "name": {"type": "string", "description": "object name"},
            "limit": {"type": "integer", "description": "at most this many"},
        }, "required": ["name"]})
    }
    fn schema_bad() -> Value {
        json!({"type": "object", "properties": {
            "limit": {"type": "number", "description": "at most"},
            "tail_lines": {"type": "string", "description": ""},
        }, "required": ["name"]})
    }
    fn schema_bare() -> Value {
        json!({"type": "object"})
    }

    const READS: ToolAnnotations = ToolAnnotations {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: true,
    };
    const DELETES: ToolAnnotations = ToolAnnotations {
        read_only: false,
        destructive: true,
        idempotent: false,
        open_world: true,
    };

    fn call_fake(ctx: &Ctx, args: &Args) -> Result<String, ToolError> {
        let name = args.str("name")?;
        match name {
            "boom" => panic!("fake tool panicked"),
            "bad" => Err(ToolError::Failed("it broke".into())),
            "writer" => {
                record_write("ConfigMap/apps/settings", "configured");
                record_write("Secret/apps/creds", "unchanged (dry run)");
                Ok("written".into())
            }
            _ => Ok(format!(
                "{name} limit={:?} read_only={}",
                args.opt_u64("limit")?,
                ctx.settings.read_only
            )),
        }
    }

    const fn fake(name: &'static str, access: Access, in_cluster: bool) -> Tool {
        Tool {
            name,
            title: "Fake",
            description: "A fake tool.",
            input_schema: schema_ok,
            annotations: match access {
                Access::Read | Access::DryRun => READS,
                Access::Write => DELETES,
            },
            access,
            in_cluster,
            call: call_fake,
        }
    }

    static FAKES: &[Tool] = &[
        fake("delete_fake", Access::Write, true),
        fake("get_fake", Access::Read, true),
        fake("set_fake_context", Access::Read, false),
    ];

    #[test]
    fn the_checker_catches_malformed_tools() {
        assert!(problems(&fake("get_fake", Access::Read, true)).is_empty());
        assert!(problems(&fake("delete_fake", Access::Write, true)).is_empty());
        let mut t = fake("Get-Fake", Access::Read, true);
        t.description = " ";
        t.input_schema = schema_bad;
        let found = problems(&t).join("\n");
        for expected in [
            "not snake_case",
            "empty description",
            "required \"name\" is not a property",
            "limit: type number",
            "tail_lines: a count must be an integer",
            "tail_lines: no description",
        ] {
            assert!(found.contains(expected), "{expected} not in:\n{found}");
        }
        t.input_schema = schema_bare;
        assert!(problems(&t).join("\n").contains("no properties object"));

        let mut reader = fake("get_fake", Access::Read, true);
        reader.annotations.destructive = true;
        assert!(problems(&reader).join("\n").contains("reads only, so"));
        let mut writer = fake("delete_fake", Access::Write, true);
        writer.annotations = READS;
        assert!(
            problems(&writer)
                .join("\n")
                .contains("writes, but its readOnlyHint is true")
        );
    }

    /// The read-only build must not even contain a write tool: their registry entries are
    /// behind the `mutations` feature (`make test` runs this build too).
    #[cfg(not(feature = "mutations"))]
    #[test]
    fn the_read_only_build_registers_no_write_tool() {
        let writers: Vec<&str> = REGISTRY
            .iter()
            .filter(|t| t.access.sends_writes())
            .map(|t| t.name)
            .collect();
        assert!(
            writers.is_empty(),
            "write tools in the read-only build: {writers:?}"
        );
    }

    /// The pattern a write tool follows, on a fake: its module and its registry entry are
    /// compiled only with the `mutations` feature, so the read-only build offers nothing and
    /// answers a call for it as an unknown tool.
    #[cfg(feature = "mutations")]
    mod delete_fake {
        use super::*;
        pub const TOOL: Tool = fake("delete_fake", Access::Write, true);
    }

    static BUILD_REGISTRY: &[Tool] = &[
        #[cfg(feature = "mutations")]
        delete_fake::TOOL,
        fake("get_fake", Access::Read, true),
    ];

    #[test]
    fn write_tools_are_compiled_only_into_the_mutations_build() {
        let tb = Toolbox::from_registry(BUILD_REGISTRY, Settings::default(), Mode::default());
        let reply = call(&tb, "delete_fake", json!({"name": "x"}));
        if cfg!(feature = "mutations") {
            assert_eq!(tb.tool_names(), ["delete_fake", "get_fake"]);
            assert_eq!(
                reply.map(|o| o.text).ok().as_deref(),
                Some("x limit=None read_only=false")
            );
        } else {
            assert_eq!(tb.tool_names(), ["get_fake"]);
            let err = reply.unwrap_err().0;
            assert!(err.starts_with("unknown tool \"delete_fake\""), "{err}");
        }
    }

    // ---- the toolbox ---------------------------------------------------------------------

    fn toolbox(read_only: bool, in_cluster: bool, log: Option<PathBuf>) -> Toolbox {
        let settings = Settings {
            read_only,
            tool_call_log_file: log,
            ..Settings::default()
        };
        let mode = Mode {
            in_cluster,
            source: Source::Live,
        };
        Toolbox::from_registry(FAKES, settings, mode)
    }

    fn call(tb: &Toolbox, name: &str, args: Value) -> Result<ToolOutput, InvalidParams> {
        tb.call_tool(
            &Session::default(),
            name,
            &args.as_object().cloned().unwrap_or_default(),
            &crate::mcp::server::Cancel::new(),
        )
    }

    #[test]
    fn read_only_and_in_cluster_hide_tools_and_say_why() {
        let all = toolbox(false, false, None);
        assert_eq!(
            all.tool_names(),
            ["delete_fake", "get_fake", "set_fake_context"]
        );
        let ro = toolbox(true, false, None);
        assert_eq!(ro.tool_names(), ["get_fake", "set_fake_context"]);
        let err = call(&ro, "delete_fake", json!({"name": "x"})).unwrap_err();
        assert!(err.0.contains("--read-only"), "{}", err.0);
        let pod = toolbox(false, true, None);
        assert_eq!(pod.tool_names(), ["delete_fake", "get_fake"]);
        let err = call(&pod, "set_fake_context", json!({})).unwrap_err();
        assert!(err.0.contains("inside a cluster"), "{}", err.0);
        let err = call(&pod, "get_fak", json!({})).unwrap_err();
        assert!(err.0.contains("\"get_fak\"") && err.0.contains("delete_fake, get_fake"));
    }

    /// The mutations build's registry: every tool that sends anything but GET is there, and
    /// each tool's annotations say what it does (a client asks the user before a destructive
    /// call on the strength of them).
    #[cfg(feature = "mutations")]
    #[test]
    fn the_mutations_build_registers_the_write_tools_with_their_hints() {
        let hints = |name: &str| {
            let t = REGISTRY.iter().find(|t| t.name == name);
            t.map(|t| {
                let a = t.annotations;
                (t.access, a.read_only, a.destructive, a.idempotent)
            })
        };
        use Access::{DryRun, Write};
        // (access, readOnly, destructive, idempotent)
        for (name, expected) in [
            ("apply_kubernetes_manifest", (Write, false, true, true)),
            ("delete_kubernetes_resource", (Write, false, true, true)),
            ("diff_kubernetes_manifest", (DryRun, true, false, true)),
            ("patch_kubernetes_resource", (Write, false, false, false)),
            ("reconcile_flux_resource", (Write, false, false, true)),
            ("resume_flux_reconciliation", (Write, false, false, true)),
            ("suspend_flux_reconciliation", (Write, false, false, true)),
        ] {
            assert_eq!(hints(name), Some(expected), "{name}");
        }
    }

    #[test]
    fn a_dry_run_tool_stays_under_read_only_but_not_in_a_snapshot() {
        static TOOLS: &[Tool] = &[
            fake("diff_fake", Access::DryRun, true),
            fake("get_fake", Access::Read, true),
        ];
        let ro = Settings {
            read_only: true,
            ..Settings::default()
        };
        let tb = Toolbox::from_registry(TOOLS, ro, Mode::default());
        assert_eq!(tb.tool_names(), ["diff_fake", "get_fake"]);
        let snapshot = Mode {
            in_cluster: false,
            source: Source::Snapshot,
        };
        let tb = Toolbox::from_registry(TOOLS, Settings::default(), snapshot);
        assert_eq!(tb.tool_names(), ["get_fake"]);
        let err = call(&tb, "diff_fake", json!({"name": "x"})).unwrap_err();
        assert!(err.0.contains("server-side dry run"), "{}", err.0);
    }

    #[test]
    fn tools_and_disable_tools_allow_exactly_what_they_name() {
        let settings = Settings {
            read_only: false,
            enabled_tools: Some(vec!["get_fake".into(), "delete_fake".into()]),
            ..Settings::default()
        };
        let tb = Toolbox::from_registry(FAKES, settings, Mode::default());
        assert_eq!(tb.tool_names(), ["delete_fake", "get_fake"]);
        let err = call(&tb, "set_fake_context", json!({})).unwrap_err();
        assert_eq!(
            err.0,
            "tool set_fake_context is not available: the server runs with --tools, which does \
             not name it"
        );
        let settings = Settings {
            read_only: false,
            disabled_tools: vec!["delete_fake".into()],
            ..Settings::default()
        };
        let tb = Toolbox::from_registry(FAKES, settings, Mode::default());
        assert_eq!(tb.tool_names(), ["get_fake", "set_fake_context"]);
        let err = call(&tb, "delete_fake", json!({"name": "x"})).unwrap_err();
        assert!(err.0.contains("--disable-tools"), "{}", err.0);
        // Both: the allow-list minus the deny-list; --read-only still hides writers first.
        let settings = Settings {
            read_only: true,
            enabled_tools: Some(vec!["get_fake".into(), "delete_fake".into()]),
            disabled_tools: vec!["get_fake".into()],
            ..Settings::default()
        };
        let tb = Toolbox::from_registry(FAKES, settings, Mode::default());
        assert!(tb.tool_names().is_empty());
        let err = call(&tb, "delete_fake", json!({"name": "x"})).unwrap_err();
        assert!(err.0.contains("--read-only"), "{}", err.0);
    }

    #[test]
    fn a_snapshot_offers_only_tools_that_read() {
        let mode = Mode {
            in_cluster: false,
            source: Source::Snapshot,
        };
        let writable = Settings {
            read_only: false,
            ..Settings::default()
        };
        let tb = Toolbox::from_registry(FAKES, writable, mode);
        assert_eq!(tb.tool_names(), ["get_fake", "set_fake_context"]);
        let err = call(&tb, "delete_fake", json!({"name": "x"})).unwrap_err();
        assert!(err.0.contains("from a snapshot"), "{}", err.0);
        // --read-only is the first reason given when both apply.
        let settings = Settings {
            read_only: true,
            ..Settings::default()
        };
        let tb = Toolbox::from_registry(FAKES, settings, mode);
        let err = call(&tb, "delete_fake", json!({"name": "x"})).unwrap_err();
        assert!(err.0.contains("--read-only"), "{}", err.0);
    }

    #[test]
    fn annotations_are_the_registry_entries_own() {
        let mut tools = vec![fake("a_fake", Access::Write, true)];
        // A reconcile: writes, yet neither destructive nor different when repeated.
        tools[0].annotations = ToolAnnotations {
            read_only: false,
            destructive: false,
            idempotent: true,
            open_world: false,
        };
        tools.push(fake("b_fake", Access::Read, true));
        let registry: &'static [Tool] = Vec::leak(tools);
        let settings = Settings {
            read_only: false,
            ..Settings::default()
        };
        let tb = Toolbox::from_registry(registry, settings, Mode::default());
        let listed = tb.tools();
        let a = listed[0].annotations;
        assert!(!a.read_only && !a.destructive && a.idempotent && !a.open_world);
        let b = listed[1].annotations;
        assert!(b.read_only && !b.destructive && b.idempotent && b.open_world);
    }

    #[test]
    fn arguments_are_checked_before_the_tool_runs() {
        let tb = toolbox(false, false, None);
        let out = call(&tb, "get_fake", json!({"name": "a", "namespace_name": "x"})).unwrap();
        assert!(out.is_error);
        assert_eq!(
            out.text,
            "get_fake: unknown argument namespace_name; valid arguments: limit, name"
        );
        let out = call(&tb, "get_fake", json!({"limit": 3})).unwrap();
        assert!(out.is_error);
        assert_eq!(out.text, "get_fake: missing required argument name");
        let out = call(&tb, "get_fake", json!({"name": "a", "limit": "5"})).unwrap();
        assert_eq!(
            out,
            ToolOutput {
                text: "a limit=Some(5) read_only=false".into(),
                is_error: false
            }
        );
        let out = call(&tb, "get_fake", json!({"name": "bad"})).unwrap();
        assert_eq!(
            out,
            ToolOutput {
                text: "it broke".into(),
                is_error: true
            }
        );
    }

    fn temp_path(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "flux-operator-mcp-test-{}-{tag}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_call_log_has_one_private_line_per_call_and_no_output() {
        let dir = temp_path("calllog");
        let path = dir.join("calls.jsonl");
        let tb = toolbox(false, false, Some(path.clone()));
        let manifest = "apiVersion: v1\nkind: Secret\nstringData:\n  password: hunter2\n";
        call(&tb, "get_fake", json!({"name": "a", "limit": 2})).unwrap();
        call(&tb, "get_fake", json!({"name": manifest})).unwrap();
        call(&tb, "get_fake", json!({"name": "bad"})).unwrap();
        call(&tb, "nope", json!({})).unwrap_err();
        call(&tb, "get_fake", json!({"name": "writer"})).unwrap();
        // The next call starts with no writes of its own.
        call(&tb, "get_fake", json!({"name": "a"})).unwrap();
        // A one-line patch is short, yet it can carry a value: it is never logged.
        let patch = r#"{"data":{"password":"aHVudGVyMw=="}}"#;
        call(&tb, "get_fake", json!({"name": "a", "patch": patch})).unwrap();
        let panicked = std::panic::catch_unwind(AssertUnwindSafe(|| {
            call(&tb, "get_fake", json!({"name": "boom"}))
        }));
        assert!(panicked.is_err(), "the panic must reach the protocol layer");

        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 8, "{text}");
        let first = &lines[0];
        assert_eq!(first["tool"], json!("get_fake"));
        assert_eq!(first["arguments"], json!({"name": "a", "limit": 2}));
        assert_eq!(first["is_error"], json!(false));
        assert_eq!(
            first["result_bytes"],
            json!("a limit=Some(2) read_only=false".len())
        );
        assert!(first["duration_ms"].is_number());
        assert!(first.get("error").is_none());
        assert_eq!(first["outcome"], json!("ok"));
        let time = first["time"].as_str().unwrap();
        assert!(time.len() == 24 && time.ends_with('Z'), "{time}");
        assert!(
            !text.contains("read_only=false"),
            "the output must not be logged"
        );
        assert_eq!(
            lines[1]["arguments"]["name"],
            json!(format!("<{} bytes elided>", manifest.len()))
        );
        // How it ended, never the error's text (it can quote cluster data).
        assert_eq!(lines[2]["outcome"], json!("failed"));
        assert!(!text.contains("it broke"), "{text}");
        assert_eq!(lines[3]["tool"], json!("nope"));
        assert_eq!(lines[3]["is_error"], json!(true));
        assert_eq!(lines[3]["outcome"], json!("invalid_params"));
        assert_eq!(
            lines[4]["writes"],
            json!([{"target": "ConfigMap/apps/settings", "outcome": "configured"},
                   {"target": "Secret/apps/creds", "outcome": "unchanged (dry run)"}])
        );
        assert!(lines[5].get("writes").is_none(), "{}", lines[5]);
        assert!(lines[0].get("writes").is_none(), "{}", lines[0]);
        assert_eq!(
            lines[6]["arguments"]["patch"],
            json!(format!("<{} bytes elided>", patch.len()))
        );
        assert!(!text.contains("aHVudGVyMw"), "{text}");
        assert_eq!(lines[7]["outcome"], json!("panicked"));
        assert!(text.lines().all(|l| !l.contains("\"error\"")), "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_cancelled_call_is_logged_as_cancelled() {
        let dir = temp_path("calllog-cancel");
        let path = dir.join("calls.jsonl");
        let tb = toolbox(false, false, Some(path.clone()));
        let cancel = crate::mcp::server::Cancel::new();
        cancel.cancel();
        let args = json!({"name": "a"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        tb.call_tool(&Session::default(), "get_fake", &args, &cancel)
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let line: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["outcome"], json!("cancelled"), "{text}");
        assert_eq!(line["result_bytes"], json!(0));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_call_log_that_cannot_be_written_does_not_fail_the_call() {
        let path = PathBuf::from("/nonexistent-dir-for-flux-operator-mcp/calls.jsonl");
        let tb = toolbox(false, false, Some(path));
        let out = call(&tb, "get_fake", json!({"name": "a"})).unwrap();
        assert!(!out.is_error);
    }

    #[test]
    fn server_identity_and_instructions() {
        let tb = toolbox(false, false, None);
        assert_eq!(tb.info().name, "flux-operator-mcp");
        assert_eq!(tb.info().version, crate::VERSION);
        assert_eq!(tb.prompts().len(), 2);
        // The fakes have no guidance: the instructions are the head alone.
        assert_eq!(tb.instructions(), INSTRUCTIONS_HEAD);
    }

    /// Every tool name the instructions mention is offered, in every mode, and every offered
    /// tool with guidance is mentioned: a tool hidden in a pod (the kubeconfig tools) is not.
    #[test]
    fn instructions_name_only_offered_tools() {
        let modes = [
            Mode::default(),
            Mode {
                in_cluster: true,
                source: Source::Live,
            },
            Mode {
                in_cluster: false,
                source: Source::Snapshot,
            },
        ];
        for mode in modes {
            for read_only in [false, true] {
                let settings = Settings {
                    read_only,
                    ..Settings::default()
                };
                let tb = Toolbox::new(settings, mode);
                let offered = tb.tool_names();
                let text = tb.instructions();
                for tool in REGISTRY {
                    let mentioned = text
                        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .any(|w| w == tool.name);
                    let guided = INVESTIGATION
                        .iter()
                        .chain(GUIDANCE)
                        .any(|(t, _)| *t == tool.name);
                    let shown = offered.contains(&tool.name);
                    assert_eq!(
                        mentioned,
                        shown && guided,
                        "{} in {mode:?}, read_only {read_only}:\n{text}",
                        tool.name
                    );
                }
            }
        }
        let pod = Toolbox::new(
            Settings::default(),
            Mode {
                in_cluster: true,
                source: Source::Live,
            },
        );
        assert!(
            !pod.instructions().contains("context"),
            "{}",
            pod.instructions()
        );
    }

    /// Every row names a tool of the registry (a renamed or removed tool leaves none behind),
    /// and the path reads in its order: trace, events, logs, docs.
    #[test]
    fn guidance_rows_name_registered_tools() {
        for (tool, _) in INVESTIGATION.iter().chain(GUIDANCE) {
            assert!(
                REGISTRY.iter().any(|t| t.name == *tool),
                "{tool} has guidance but is not registered"
            );
        }
        let all: Vec<&str> = REGISTRY.iter().map(|t| t.name).collect();
        let text = instructions(&all);
        let at = |w: &str| text.find(w).unwrap_or(usize::MAX);
        assert!(
            at("trace_kubernetes_resource") < at("get_kubernetes_events"),
            "{text}"
        );
        assert!(
            at("get_kubernetes_events") < at("get_kubernetes_logs"),
            "{text}"
        );
        assert!(at("get_kubernetes_logs") < at("search_flux_docs"), "{text}");
        let without_trace = instructions(&["get_kubernetes_events", "search_flux_docs"]);
        assert_eq!(
            without_trace,
            "Inspect Kubernetes clusters that run Flux.\n- A workload or Flux object is broken: \
             get_kubernetes_events, then search_flux_docs for what the message means."
        );
        assert!(text.len() < 1200, "{} bytes:\n{text}", text.len());
    }
}
