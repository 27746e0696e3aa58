//! `search_flux_docs`: ranked search of the Flux documentation compiled into the binary (plus
//! `--docs-dir` runbooks). Offline: it reads no cluster and no network.

use serde_json::{Value, json};

use super::{Args, Ctx, Tool, ToolError};
use crate::docs::{self, Format, MAX_LIMIT};

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
        question. Returns the best matching sections with their document and section path; \
        format=complete returns whole documents. Results from the user's own runbooks are marked \
        local.",
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
    Ok(docs::run_search(
        query,
        limit,
        format,
        &ctx.settings.docs_dirs,
    ))
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
