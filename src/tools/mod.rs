//! The tool registry: one file per tool (file stem == tool name) plus one line in [`REGISTRY`].
//! The only layer that sees both MCP and Kubernetes.
//!
//! A tool file exports `pub const TOOL: Tool` and a `call` function; it returns the text the
//! agent reads (usually YAML) or a [`ToolError`] whose message the agent can act on.

use std::fmt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::kube;

/// Every tool, in the order `tools/list` shows them (sorted by name; a test checks).
pub const REGISTRY: &[Tool] = &[search_flux_docs::TOOL];
mod search_flux_docs;

/// A tool's static description and entry point.
pub struct Tool {
    /// snake_case, equal to the file stem.
    pub name: &'static str,
    /// Human title (MCP 2025-06-18 `title`).
    pub title: &'static str,
    /// What the agent reads to decide when to call it.
    pub description: &'static str,
    /// JSON Schema of the arguments: `type: object` with `properties` and `required`.
    pub input_schema: fn() -> Value,
    /// Only reads (readOnlyHint); non-read tools are hidden by `--read-only`.
    pub read_only: bool,
    /// Offered when the server runs inside a cluster (the kubeconfig-context tools are not).
    pub in_cluster: bool,
    /// Talks to a cluster (openWorldHint); false for the offline docs search.
    pub open_world: bool,
    pub call: fn(&Ctx, &Args) -> Result<String, ToolError>,
}

/// Server-wide settings from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    pub read_only: bool,
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
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            read_only: false,
            mask_secrets: true,
            timeout: Duration::from_secs(60),
            tool_call_log_file: None,
            docs_dirs: Vec::new(),
            kube: kube::config::Overrides::default(),
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
                type_name(other)
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

    /// An optional list of strings: a JSON array, or one string split on commas.
    pub fn opt_str_list(&self, name: &str) -> Result<Vec<String>, ToolError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(s
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(String::from)
                .collect()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s.trim().to_string()),
                    other => Err(ToolError::InvalidArgument(format!(
                        "{name} must be a list of strings, found {}",
                        type_name(other)
                    ))),
                })
                .filter(|r| !matches!(r, Ok(s) if s.is_empty()))
                .collect(),
            Some(other) => Err(ToolError::InvalidArgument(format!(
                "{name} must be a list of strings, got {}",
                type_name(other)
            ))),
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
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
}
