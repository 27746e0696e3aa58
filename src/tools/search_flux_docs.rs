//! `search_flux_docs`: ranked search of the Flux documentation compiled into the binary (plus
//! `--docs-dir` runbooks). Offline: it reads no cluster and no network.

use serde_json::{Value, json};

use super::{Args, Ctx, Tool, ToolError};
use crate::docs::{self, Format, MAX_LIMIT, MAX_PATH_CHARS};

pub const TOOL: Tool = Tool {
    name: "search_flux_docs",
    title: "Search Flux documentation",
    description: "Searches the Flux documentation embedded in this server (offline, no cluster \
        needed). It covers every Flux API kind — GitRepository, OCIRepository, HelmRepository, \
        HelmChart, Bucket, ExternalArtifact, ArtifactGenerator, Kustomization, HelmRelease, Alert, \
        Provider, Receiver, ImageRepository, ImagePolicy, ImageUpdateAutomation, FluxInstance, \
        FluxReport, ResourceSet, ResourceSetInputProvider — with each spec field (type, default, \
        meaning), status fields, conditions and reasons, and the controllers' failure messages with \
        their causes and fixes; and guides on troubleshooting, installing with the Flux Operator, \
        repository layout, multi-tenancy, SOPS, post-build substitution, dependsOn and health \
        checks, drift detection, Helm remediation, OCI/gitless GitOps, image automation, \
        notifications, sharding and this MCP server. Ask with an error message copied from a \
        condition or event, a field path (spec.install.remediation.retries), a kind, or a \
        question; pass path to search one document. Each hit names its document, section and \
        line range: search, then read_flux_doc that section for the rest. When nothing answers \
        the query well the answer says \"No strong match\" and lists the closest sections \
        instead of showing them. format=complete returns whole documents. Results from the \
        user's own runbooks are marked local.",
    input_schema,
    annotations: super::ToolAnnotations {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
    },
    access: super::Access::Read,
    in_cluster: true,
    call,
};

fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "query": {
                "type": "string",
                "description": "What to look for: a question, an error message as the controller \
                    wrote it, a field path such as spec.install.remediation.retries, or a kind."
            },
            "path": {
                "type": "string",
                "maxLength": MAX_PATH_CHARS,
                "description": "Search only this document: its id (kinds/helmrelease, \
                    guides/troubleshooting), file name, title or kind (HelmRelease), or a local \
                    runbook's path. With an empty query, returns the document's outline."
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_LIMIT,
                "default": 1,
                "description": "How many hits to return (sections for concise, documents for complete)."
            },
            "format": {
                "type": "string",
                "enum": ["concise", "complete"],
                "default": "concise",
                "description": "concise: the best sections within a few KB; complete: each hit's whole document."
            }
        },
        "required": ["query"],
        "additionalProperties": false
    })
}

fn call(ctx: &Ctx, args: &Args) -> Result<String, ToolError> {
    // An empty query is answered with help (what to ask, which documents exist), not an error;
    // only a missing argument is a malformed call.
    if !args.0.contains_key("query") {
        return Err(ToolError::InvalidArgument(
            "query is required: a question, an error message, a field path or a Flux kind"
                .to_string(),
        ));
    }
    let query = args.opt_str("query")?.unwrap_or("");
    // 0 means "the default" to several clients; values above the maximum are capped with a note.
    let limit = match args.opt_u64("limit")? {
        None | Some(0) => 1,
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    let format = match args.opt_str("format")? {
        None => Format::Concise,
        Some(f) => f.parse::<Format>().map_err(ToolError::InvalidArgument)?,
    };
    let docs_dirs = &ctx.settings.docs_dirs;
    match args.opt_str("path")? {
        None => Ok(docs::run_search(query, limit, format, docs_dirs)),
        Some(path) => docs::run_search_in(path, query, limit, format, docs_dirs)
            .map_err(|e| ToolError::InvalidArgument(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::config::Env;
    use crate::tools::{Clusters, Session, Settings};
    use serde_json::Map;

    fn run(arguments: Value) -> Result<String, ToolError> {
        let settings = Settings::default();
        let session = Session::default();
        let clusters = Clusters::new(&settings, Env::default());
        let ctx = Ctx {
            settings: &settings,
            session: &session,
            clusters: &clusters,
            cancel: &crate::mcp::server::Cancel::new(),
        };
        let map: Map<String, Value> = arguments.as_object().cloned().unwrap_or_default();
        (TOOL.call)(&ctx, &Args(&map))
    }

    #[test]
    fn schema_requires_query_and_types_the_rest() {
        let schema = (TOOL.input_schema)();
        assert_eq!(schema["required"], json!(["query"]));
        assert_eq!(schema["properties"]["limit"]["type"], "integer");
        assert_eq!(
            schema["properties"]["format"]["enum"],
            json!(["concise", "complete"])
        );
        let (read_only, in_cluster, open_world) = (
            TOOL.annotations.read_only,
            TOOL.in_cluster,
            TOOL.annotations.open_world,
        );
        assert!(read_only && in_cluster && !open_world);
    }

    #[test]
    fn bad_arguments_are_invalid_argument_errors() {
        assert_eq!(
            run(json!({"query": "x", "format": "full"})),
            Err(ToolError::InvalidArgument(
                "format must be concise or complete, got \"full\"".into()
            ))
        );
        assert!(
            matches!(run(json!({"query": "x", "limit": "many"})), Err(ToolError::InvalidArgument(m)) if m.contains("limit"))
        );
        assert!(
            matches!(run(json!({})), Err(ToolError::InvalidArgument(m)) if m.starts_with("query is required"))
        );
    }

    #[test]
    fn path_searches_one_document_and_names_unknown_ones() {
        let out = run(json!({"query": "retries", "path": "HelmRelease", "limit": 3})).unwrap();
        let documents: Vec<&str> = out
            .lines()
            .filter_map(|l| l.strip_prefix("Document: "))
            .collect();
        assert!(!documents.is_empty(), "{out}");
        assert!(
            documents
                .iter()
                .all(|d| d.starts_with("kinds/helmrelease ")),
            "{out}"
        );
        let outline = run(json!({"query": "", "path": "kinds/helmrelease.md"})).unwrap();
        assert!(outline.contains("Outline (line, heading)"), "{outline}");
        assert!(
            matches!(run(json!({"query": "x", "path": "kinds/helmrelase"})),
                Err(ToolError::InvalidArgument(m)) if m.starts_with("no document \"kinds/helmrelase\"; closest: kinds/helmrelease")),
        );
        let long = "k".repeat(MAX_PATH_CHARS + 1);
        assert!(
            matches!(run(json!({"query": "x", "path": long})), Err(ToolError::InvalidArgument(m)) if m.starts_with("path is 301 characters"))
        );
    }

    #[test]
    fn empty_queries_get_help() {
        let out = run(json!({"query": "  "})).unwrap();
        assert!(out.starts_with("The query is empty."), "{out}");
    }

    #[test]
    fn string_arguments_are_accepted_leniently() {
        let out =
            run(json!({"query": "Kustomization", "limit": "2", "format": "COMPLETE"})).unwrap();
        assert!(out.starts_with("Document: kinds/kustomization"), "{out}");
        assert!(out.contains("\n---\n"), "two documents: {out}");
    }
}
